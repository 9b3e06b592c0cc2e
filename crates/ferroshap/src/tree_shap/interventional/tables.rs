//! Per-leaf tables of the aggregated background, and how a row's pattern is turned into
//! signed weights per path feature (dense tables by quadrature, or sparse lists).

use super::blocks::{LeafWeights, Weights};
use super::{Background, DENSE_MAX, Layout, MAX_PATH_FEATURES, Strategy};
use crate::ensemble::Tree;
use crate::tree_shap::quadrature::GaussLegendre;

/// How one leaf combines explained rows with its background.
enum LeafTable {
    /// Offset in `Tables::dense` of the leaf's [`dense_table`] (3 x 2^d values), and offset
    /// in `Tables::nonzero` of a bit per pattern: set when the pattern's signed weights are
    /// not all zeros (often most are zeros: no background row satisfies what x fails).
    Dense(usize, usize),
    /// Range in `Tables::sparse`: distinct failure sets with their weights (as fractions),
    /// and for paths of at most [`DENSE_MAX`] features the offset in `Tables::reachable` of a
    /// bit per pattern (see [`reachable_patterns`]; `usize::MAX`: none).
    Sparse(usize, usize, usize),
}

/// The aggregated background of one tree, leaf by leaf.
pub(super) struct Tables {
    leaves: Vec<LeafTable>,
    dense: Vec<f64>,
    nonzero: Vec<u64>,
    sparse: Vec<(u64, f64)>,
    reachable: Vec<u64>,
    /// Total weight of the background rows reaching each leaf, summed in row order.
    pub(super) reach: Vec<f64>,
}

impl Tables {
    /// The tables of one tree from its aggregated background `weights`, for explaining
    /// `n_rows` rows (which decides, per leaf, whether a dense table pays off).
    pub(super) fn new(
        layout: &Layout,
        mut weights: LeafWeights,
        bg: &Background,
        n_rows: usize,
        strategy: Strategy,
        consts: &Constants,
    ) -> Tables {
        let inv_total = 1.0 / bg.total;
        let mut tables = Tables {
            leaves: Vec::with_capacity(layout.leaves.len()),
            dense: Vec::new(),
            nonzero: Vec::new(),
            sparse: Vec::new(),
            reachable: Vec::new(),
            reach: Vec::with_capacity(layout.leaves.len()),
        };
        let mut dense_len = 0usize;
        for (i, leaf) in layout.leaves.iter().enumerate() {
            let d = leaf.d as usize;
            tables.reach.push(weights.reach(i));
            let start = tables.sparse.len();
            match weights.take(i, d) {
                Weights::Dense(w) => {
                    let distinct = w.iter().filter(|&&w| w != 0.0).count();
                    let dense = match strategy {
                        Strategy::Dense => true,
                        Strategy::Sparse => false,
                        Strategy::Auto => {
                            let q = quadrature_points(d);
                            let build = (1usize << d) * d * (2 * q + 1);
                            build <= n_rows.saturating_mul(distinct).saturating_mul(2)
                        }
                    };
                    if dense {
                        // Filled below, once the whole table is allocated.
                        tables.leaves.push(LeafTable::Dense(dense_len, 0));
                        dense_len += 3 << d;
                        continue;
                    }
                    Weights::Dense(w).extend_scaled(&mut tables.sparse, inv_total);
                }
                sparse => sparse.extend_scaled(&mut tables.sparse, inv_total),
            }
            let bits = if d <= DENSE_MAX {
                reachable_patterns(&tables.sparse[start..], d, &mut tables.reachable)
            } else {
                usize::MAX
            };
            tables
                .leaves
                .push(LeafTable::Sparse(start, tables.sparse.len() - start, bits));
        }
        tables.dense = vec![0.0; dense_len];
        let mut coef = [0.0f64; DENSE_MAX];
        for ((i, leaf), table) in layout.leaves.iter().enumerate().zip(&mut tables.leaves) {
            if let LeafTable::Dense(off, bits) = table {
                let d = leaf.d as usize;
                let out = &mut tables.dense[*off..*off + (3 << d)];
                dense_table(weights.dense(i, d), inv_total, d, consts, out);
                *bits = tables.nonzero.len();
                tables.nonzero.resize(*bits + (1usize << d).div_ceil(64), 0);
                for c in 0..1usize << d {
                    // Most patterns lose something: then there is no need to look further.
                    let nonzero = out[2 * c + 1] != 0.0 || {
                        dense_coefficients(out, c, d, &mut coef[..d]);
                        coef[..d].iter().any(|&v| v != 0.0)
                    };
                    if nonzero {
                        tables.nonzero[*bits + c / 64] |= 1 << (c % 64);
                    }
                }
            }
        }
        tables
    }

    /// Adds the tree's contribution to the SHAP values `phis` (`row_len` = `n_features x k`
    /// per row) of `n` rows, whose patterns at every leaf are `leaf_pats` (leaf after leaf, `n`
    /// rows each).
    /// Leaf by leaf, so that a leaf's table stays in cache for every row; each row still
    /// receives the leaves in the same order.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn explain(
        &self,
        tree: &Tree,
        layout: &Layout,
        leaf_pats: &[u64],
        n: usize,
        phis: &mut [f64],
        row_len: usize,
        k: usize,
        consts: &Constants,
    ) {
        let mut coef = [0.0f64; MAX_PATH_FEATURES];
        for ((leaf, table), pats) in layout
            .leaves
            .iter()
            .zip(&self.leaves)
            .zip(leaf_pats.chunks(n))
        {
            let d = leaf.d as usize;
            if d == 0 {
                continue;
            }
            let features = &layout.features[leaf.features as usize..][..d];
            let value = tree.leaf_value(leaf.node as usize);
            let mask = leaf.mask();
            if let (&LeafTable::Dense(off, bits), &[v]) = (table, value) {
                // The common case, written out: a dense leaf with one value.
                let size = 1usize << d;
                let (pairs, lost) = self.dense[off..off + 3 * size].split_at(2 * size);
                let nonzero = &self.nonzero[bits..bits + size.div_ceil(64)];
                let mut at = [0usize; DENSE_MAX];
                for (a, &f) in at.iter_mut().zip(features) {
                    *a = f as usize * k + tree.output();
                }
                for (phi, &p) in phis.chunks_mut(row_len).zip(pats) {
                    let c = (p & mask) as usize;
                    if nonzero[c / 64] >> (c % 64) & 1 == 0 {
                        continue;
                    }
                    let (gain, loss) = (pairs[2 * c], pairs[2 * c + 1]);
                    for (s, &a) in at[..d].iter().enumerate() {
                        // dense_coefficients' choice as arithmetic on sat in {0, 1}: the
                        // same value, without a branch on data.
                        let sat = ((c >> s) & 1) as f64;
                        let w = sat * (gain - lost[c ^ (1 << s)]) - (1.0 - sat) * loss;
                        phi[a] += w * v;
                    }
                }
                continue;
            }
            for (phi, &p) in phis.chunks_mut(row_len).zip(pats) {
                let c = p & mask;
                let weights: &[f64] = match *table {
                    LeafTable::Dense(off, bits) => {
                        let c = c as usize;
                        if self.nonzero[bits + c / 64] >> (c % 64) & 1 == 0 {
                            continue;
                        }
                        dense_coefficients(&self.dense[off..off + (3 << d)], c, d, &mut coef[..d]);
                        &coef[..d]
                    }
                    LeafTable::Sparse(start, len, bits) => {
                        if bits != usize::MAX
                            && self.reachable[bits + (c / 64) as usize] >> (c % 64) & 1 == 0
                        {
                            continue; // no hybrid row of x reaches the leaf
                        }
                        let list = &self.sparse[start..start + len];
                        if !sparse_coefficients(list, c, d, consts, &mut coef[..d]) {
                            continue; // no hybrid row of x reaches the leaf
                        }
                        &coef[..d]
                    }
                };
                add_leaf(phi, features, weights, value, k, tree.output());
            }
        }
    }
}

/// Appends to `out` a bit per pattern c of a leaf with `d <= DENSE_MAX` path features, set
/// when a failure set of `list` is a subset of c (a background row satisfies every condition
/// that c fails, so that a hybrid row reaches the leaf); returns where the bits start.
fn reachable_patterns(list: &[(u64, f64)], d: usize, out: &mut Vec<u64>) -> usize {
    /// Per bit s < 6 of a pattern: the positions in a word whose pattern has bit s clear.
    const CLEAR: [u64; 6] = [
        0x5555_5555_5555_5555,
        0x3333_3333_3333_3333,
        0x0F0F_0F0F_0F0F_0F0F,
        0x00FF_00FF_00FF_00FF,
        0x0000_FFFF_0000_FFFF,
        0x0000_0000_FFFF_FFFF,
    ];
    let start = out.len();
    out.resize(start + (1usize << d).div_ceil(64), 0);
    let bits = &mut out[start..];
    for &(u, _) in list {
        bits[(u / 64) as usize] |= 1 << (u % 64);
    }
    // Every superset of a set pattern, one bit s at a time: c gets the bit of c without s.
    for s in 0..d {
        if s < 6 {
            for w in bits.iter_mut() {
                *w |= (*w & CLEAR[s]) << (1 << s);
            }
        } else {
            let stride = 1usize << (s - 6);
            for i in 0..bits.len() {
                if i & stride != 0 {
                    bits[i] |= bits[i ^ stride];
                }
            }
        }
    }
    start
}

/// Signed weights of a sparse leaf for the row pattern `c`, one per slot: what each path
/// feature gains (slots x satisfies) or loses (slots x fails), per unit of leaf value.
/// `false` (and `coef` untouched) when they are all zero: no background row satisfies every
/// condition x fails, so no hybrid row reaches the leaf (most leaves, for one row).
#[inline]
pub(super) fn sparse_coefficients(
    list: &[(u64, f64)],
    c: u64,
    d: usize,
    consts: &Constants,
    coef: &mut [f64],
) -> bool {
    let Some(first) = list.iter().position(|&(u, _)| u & !c == 0) else {
        return false;
    };
    // r fails a condition x fails too: no hybrid row reaches the leaf.
    let admitted = list[first..].iter().copied().filter(|&(u, _)| u & !c == 0);
    admitted_coefficients(admitted, c, d, consts, coef);
    true
}

/// Paths with at most this many features sum their slots' weights in vector registers.
pub(super) const NARROW_SLOTS: usize = 16;

/// Signed weights, one per slot, of a leaf whose row pattern is `c` from the failure sets u
/// within c with their weights (in list order: the sums, and so the rounding, follow it).
#[inline(always)]
pub(super) fn admitted_coefficients(
    admitted: impl Iterator<Item = (u64, f64)>,
    c: u64,
    d: usize,
    consts: &Constants,
    coef: &mut [f64],
) {
    // A loop over the bits of each set: few sets per leaf and row where the tables are
    // sparse, so that clearing N gains would cost more than it saves.
    if d <= NARROW_SLOTS {
        let mut sums = LeafSums::<NARROW_SLOTS>::new(consts, c, d);
        for (u, w) in admitted {
            sums.add(u, w);
        }
        sums.finish(c, d, coef);
    } else {
        let mut sums = LeafSums::<MAX_PATH_FEATURES>::new(consts, c, d);
        for (u, w) in admitted {
            sums.add(u, w);
        }
        sums.finish(c, d, coef);
    }
}

/// What the failure sets admitted by a row pattern add up to at one leaf of at most `N` path
/// features: per slot x satisfies, the gains; for the slots x fails, the common loss.
pub(super) struct LeafSums<'a, const N: usize> {
    /// `(p-1)! n! / (p+n)!` and `p! (n-1)! / (p+n)!` by p, for the pattern's n failed slots.
    pos: &'a [f64; MAX_PATH_FEATURES + 1],
    neg: &'a [f64; MAX_PATH_FEATURES + 1],
    n: usize,
    gain: [f64; N],
    loss: f64,
}

impl<'a, const N: usize> LeafSums<'a, N> {
    /// Nothing admitted yet, for the pattern `c` of a leaf with `d <= N` path features.
    #[inline(always)]
    pub(super) fn new(consts: &'a Constants, c: u64, d: usize) -> Self {
        let n = d - c.count_ones() as usize;
        LeafSums {
            pos: consts.pos_by_p(n),
            neg: consts.neg_by_p(n),
            n,
            gain: [0.0; N],
            loss: 0.0,
        }
    }

    /// Admits the failure set `u` with weight `w`, adding to the gain of each slot in u.
    #[inline(always)]
    pub(super) fn add(&mut self, u: u64, w: f64) {
        let p = u.count_ones() as usize;
        if p > 0 {
            let a = w * self.pos[p];
            let mut bits = u;
            while bits != 0 {
                self.gain[bits.trailing_zeros() as usize] += a;
                bits &= bits - 1;
            }
        }
        if self.n > 0 {
            self.loss += w * self.neg[p];
        }
    }

    /// [`Self::add`] without a loop over the bits of u, for small `N`: every one of the N
    /// slots takes its share or +0.0 (which leaves a sum of positive shares unchanged, bit
    /// for bit), so the gains stay in vector registers.
    #[inline(always)]
    pub(super) fn add_narrow(&mut self, u: u64, w: f64) {
        let p = u.count_ones() as usize;
        if p > 0 {
            let a = w * self.pos[p];
            for (s, gain) in self.gain.iter_mut().enumerate() {
                *gain += if u >> s & 1 != 0 { a } else { 0.0 };
            }
        }
        if self.n > 0 {
            self.loss += w * self.neg[p];
        }
    }

    /// The signed weights of the `d` slots: the gain of those c satisfies, minus the loss for
    /// the others.
    #[inline(always)]
    pub(super) fn finish(&self, c: u64, d: usize, coef: &mut [f64]) {
        coef[..d].copy_from_slice(&self.gain[..d]);
        if self.n > 0 {
            for (s, coef) in coef[..d].iter_mut().enumerate() {
                if c >> s & 1 == 0 {
                    *coef = -self.loss;
                }
            }
        }
    }
}

/// Adds a leaf's signed weights times its value to the SHAP values `phi` of one row (`k`
/// outputs per feature; the tree adds to outputs `output..`).
#[inline(always)]
pub(super) fn add_leaf(
    phi: &mut [f64],
    features: &[u32],
    weights: &[f64],
    value: &[f64],
    k: usize,
    output: usize,
) {
    if let [v] = value {
        for (&f, &w) in features.iter().zip(weights) {
            phi[f as usize * k + output] += w * v;
        }
    } else {
        for (&f, &w) in features.iter().zip(weights) {
            let base = f as usize * k + output;
            for (p, v) in phi[base..base + value.len()].iter_mut().zip(value) {
                *p += w * v;
            }
        }
    }
}

/// Signed weights of a dense leaf for the row pattern `c`, one per slot, from its
/// [`dense_table`]: `gain[c] - lost[c without s]` for the slots s that c satisfies, `-loss[c]`
/// for the others. As [`sparse_coefficients`] gives them, up to rounding.
#[inline]
fn dense_coefficients(table: &[f64], c: usize, d: usize, coef: &mut [f64]) {
    let size = 1usize << d;
    let (gain, loss) = (table[2 * c], table[2 * c + 1]);
    let lost = &table[2 * size..3 * size];
    for (s, w) in coef.iter_mut().enumerate() {
        let b = 1usize << s;
        let l = lost[c ^ b];
        *w = if c & b != 0 { gain - l } else { -loss };
    }
}

/// Fills a dense leaf table from the weights `w[u]` of each failure set u: `out[2c]` and
/// `out[2c + 1]` are `gain[c]` and `loss[c]` of every pattern c, `out[2^(d+1) + c]` is
/// `lost[c]`, defined below; [`dense_coefficients`] turns them into signed weights per slot.
///
/// With `h_t[c] = sum over u within c of W(u) t^|u|` (a zeta transform per quadrature point t)
/// and n the number of slots c fails:
/// - a failed slot loses `sum over u of W(u) |u|! (n-1)! / (|u|+n)!`, the integral `loss[c]`
///   of `h_t[c] (1-t)^(n-1)`;
/// - a satisfied slot s gains `sum over u containing s of W(u) (|u|-1)! n! / (|u|+n)!`, the
///   integral of `(h_t[c] - h_t[c without s]) (1-t)^n / t`. As c without s fails n+1 slots,
///   that is `gain[c] - lost[c without s]`, with `gain[c]` the integral of
///   `h_t[c] (1-t)^n / t` and `lost[c']` that of `h_t[c'] (1-t)^(n(c')-1) / t`.
///
/// Three values per pattern (not d), so a tree's tables stay in the nearer caches.
fn dense_table(w: &[f64], inv_total: f64, d: usize, consts: &Constants, out: &mut [f64]) {
    if d == 0 {
        return; // a leaf at the root: nothing to attribute.
    }
    let size = 1usize << d;
    let mut h = vec![0.0; size];
    let (pairs, lost) = out.split_at_mut(2 * size);
    let fails: Vec<usize> = (0..size).map(|c| d - c.count_ones() as usize).collect();
    let mut pow = vec![0.0; d + 1];
    let (mut by_gain, mut by_loss, mut by_lost) =
        (vec![0.0; d + 1], vec![0.0; d + 1], vec![0.0; d + 1]);
    let rule = consts.rule(quadrature_points(d));
    for (&t, &weight) in rule.nodes.iter().zip(&rule.weights) {
        // h[c] = sum over u within c of W(u) t^|u|: the zeta transform of W(u) t^|u|.
        pow[0] = inv_total;
        for i in 1..=d {
            pow[i] = pow[i - 1] * t;
        }
        for (u, (h, &w)) in h.iter_mut().zip(w).enumerate() {
            *h = w * pow[d - fails[u]];
        }
        for bit in 0..d {
            let b = 1usize << bit;
            for pair in h.chunks_exact_mut(2 * b) {
                let (without, with) = pair.split_at_mut(b);
                for (hi, &lo) in with.iter_mut().zip(&*without) {
                    *hi += lo;
                }
            }
        }
        // weight (1-t)^n / t, weight (1-t)^(n-1) and weight (1-t)^(n-1) / t for every n
        // (0 for n = 0: no loss).
        let mut p = 1.0;
        for n in 0..=d {
            by_gain[n] = weight * p / t;
            if n < d {
                by_loss[n + 1] = weight * p;
                by_lost[n + 1] = weight * p / t;
            }
            p *= 1.0 - t;
        }
        for (c, (pair, lost)) in pairs.chunks_exact_mut(2).zip(lost.iter_mut()).enumerate() {
            let n = fails[c];
            pair[0] += by_gain[n] * h[c];
            pair[1] += by_loss[n] * h[c];
            *lost += by_lost[n] * h[c];
        }
    }
}

/// Gauss-Legendre nodes needed to integrate the leaf coefficients exactly: polynomials of
/// degree at most d-1 need ceil(d/2) nodes.
fn quadrature_points(d: usize) -> usize {
    d.div_ceil(2).max(1)
}

/// Quadrature rules and exact Shapley coefficients, computed once per process.
pub(super) struct Constants {
    /// `rules[q-1]`: the q-node Gauss-Legendre rule on [0, 1].
    rules: Vec<GaussLegendre>,
    /// `(p-1)! n! / (p+n)!` and `p! (n-1)! / (p+n)!` for p, n <= 64, row n: `1 / C(p+n, n)`
    /// divided by p and by n (looked up, not divided per background entry).
    pos: Vec<f64>,
    neg: Vec<f64>,
}

impl Constants {
    /// The constants, computed once per process.
    pub(super) fn get() -> &'static Constants {
        static CONSTANTS: std::sync::OnceLock<Constants> = std::sync::OnceLock::new();
        CONSTANTS.get_or_init(Constants::new)
    }

    fn new() -> Constants {
        let rules = (1..=quadrature_points(DENSE_MAX))
            .map(GaussLegendre::new)
            .collect();
        let w = MAX_PATH_FEATURES + 1;
        let mut inv_binom = vec![0.0; w * w];
        for p in 0..w {
            for n in 0..w {
                // C(p+n, n) as a running product; exact for small values, 1 ulp-ish beyond 2^53.
                let mut c = 1.0f64;
                for i in 1..=n {
                    c = c * (p + i) as f64 / i as f64;
                }
                inv_binom[p * w + n] = 1.0 / c;
            }
        }
        // Row n, column p (a leaf's row pattern fixes n; its failure sets vary p).
        let divided = |by: fn(usize, usize) -> usize| {
            (0..w * w)
                .map(|i| {
                    let (n, p) = (i / w, i % w);
                    inv_binom[p * w + n] / by(p, n) as f64
                })
                .collect()
        };
        Constants {
            rules,
            pos: divided(|p, _| p),
            neg: divided(|_, n| n),
        }
    }

    fn rule(&self, q: usize) -> &GaussLegendre {
        &self.rules[q - 1]
    }

    /// (p-1)! n! / (p+n)! for p >= 1.
    #[cfg(test)]
    #[inline]
    fn pos(&self, p: usize, n: usize) -> f64 {
        self.pos_by_p(n)[p]
    }

    /// p! (n-1)! / (p+n)! for n >= 1.
    #[cfg(test)]
    #[inline]
    fn neg(&self, p: usize, n: usize) -> f64 {
        self.neg_by_p(n)[p]
    }

    /// [`Self::pos`] for every p, n fixed.
    #[inline(always)]
    fn pos_by_p(&self, n: usize) -> &[f64; MAX_PATH_FEATURES + 1] {
        let w = MAX_PATH_FEATURES + 1;
        self.pos[n * w..(n + 1) * w]
            .try_into()
            .expect("a row is 65 values")
    }

    /// [`Self::neg`] for every p, n fixed.
    #[inline(always)]
    fn neg_by_p(&self, n: usize) -> &[f64; MAX_PATH_FEATURES + 1] {
        let w = MAX_PATH_FEATURES + 1;
        self.neg[n * w..(n + 1) * w]
            .try_into()
            .expect("a row is 65 values")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reachable_patterns_mark_the_supersets_of_the_failure_sets() {
        // Paths of 1 to 10 features (bits within a word and across words), against the
        // definition: c is reachable iff some failure set u has u & !c == 0.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for d in 1..=DENSE_MAX {
            let list: Vec<(u64, f64)> = (0..5)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    // Sparse sets (each bit with probability 1/4) so that few patterns pass.
                    let u = state & (state >> 20) & ((1u64 << d) - 1);
                    (u, 1.0)
                })
                .collect();
            let mut out = vec![7];
            let start = reachable_patterns(&list, d, &mut out);
            assert_eq!(start, 1);
            for c in 0..1u64 << d {
                let want = list.iter().any(|&(u, _)| u & !c == 0);
                let got = out[start + (c / 64) as usize] >> (c % 64) & 1 == 1;
                assert_eq!(got, want, "d {d}, pattern {c:b}");
            }
        }
    }

    #[test]
    fn narrow_sums_are_the_bitwise_sums() {
        // The vector form (every slot adds its share or +0.0) against the loop over the
        // set's bits, bit for bit, for random sets and weights on paths of 1 to 16 features.
        let consts = Constants::get();
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for d in 1..=NARROW_SLOTS {
            let mask = u64::MAX >> (64 - d);
            for _ in 0..20 {
                let c = next() & mask;
                let mut narrow = LeafSums::<NARROW_SLOTS>::new(consts, c, d);
                let mut narrower = LeafSums::<{ NARROW_SLOTS / 2 }>::new(consts, c, d);
                let mut bitwise = LeafSums::<MAX_PATH_FEATURES>::new(consts, c, d);
                for _ in 0..30 {
                    let u = next() & c;
                    let w = (next() % 1000) as f64 / 997.0;
                    narrow.add_narrow(u, w);
                    if d <= NARROW_SLOTS / 2 {
                        narrower.add_narrow(u, w);
                    }
                    bitwise.add(u, w);
                }
                let (mut a, mut b) = ([0.0; NARROW_SLOTS], [0.0; NARROW_SLOTS]);
                narrow.finish(c, d, &mut a);
                bitwise.finish(c, d, &mut b);
                assert_eq!(a.map(f64::to_bits), b.map(f64::to_bits), "d {d}, c {c:b}");
                if d <= NARROW_SLOTS / 2 {
                    narrower.finish(c, d, &mut a);
                    assert_eq!(a.map(f64::to_bits), b.map(f64::to_bits), "d {d}, c {c:b}");
                }
            }
        }
    }

    #[test]
    fn quadrature_integrates_the_coefficients_exactly() {
        // Every (p-1)! n! / (p+n)! with p + n <= DENSE_MAX, by the rule a dense leaf uses.
        let c = Constants::new();
        for d in 1..=DENSE_MAX {
            let rule = c.rule(quadrature_points(d));
            for p in 1..=d {
                let n = d - p;
                let got: f64 = rule
                    .nodes
                    .iter()
                    .zip(&rule.weights)
                    .map(|(&t, &w)| w * t.powi(p as i32 - 1) * (1.0 - t).powi(n as i32))
                    .sum();
                assert!((got - c.pos(p, n)).abs() < 1e-15, "p={p} n={n}");
            }
        }
    }

    #[test]
    fn shapley_coefficients() {
        let c = Constants::new();
        // (p-1)! n! / (p+n)!: p=2, n=1 -> 1! 1! / 3! = 1/6; p=1, n=0 -> 1.
        assert!((c.pos(2, 1) - 1.0 / 6.0).abs() < 1e-16);
        assert_eq!(c.pos(1, 0), 1.0);
        // p! (n-1)! / (p+n)!: p=0, n=3 -> 2!/3! = 1/3.
        assert!((c.neg(0, 3) - 1.0 / 3.0).abs() < 1e-16);
        assert!(c.pos(64, 64).is_finite() && c.pos(64, 64) > 0.0);
    }
}
