//! Per-leaf tables of the aggregated background, and how a row's pattern is turned into
//! signed weights per path feature (dense tables by quadrature, or sparse lists).

use super::{Background, DENSE_MAX, Layout, MAX_PATH_FEATURES, Strategy};
use crate::ensemble::{SplitRules, Tree};
use crate::tree_shap::quadrature::GaussLegendre;

/// How one leaf combines explained rows with its background.
enum LeafTable {
    /// Offset in `Tables::dense` of `2^d` records of `d` signed weights, one per pattern,
    /// and offset in `Tables::nonzero` of a bit per pattern: set when its record is not all
    /// zeros (often most are zeros: no background row satisfies what x fails).
    Dense(usize, usize),
    /// Range in `Tables::sparse`: distinct failure sets with their weights (as fractions).
    Sparse(usize, usize),
}

/// The aggregated background of one tree, leaf by leaf.
pub(super) struct Tables {
    leaves: Vec<LeafTable>,
    dense: Vec<f64>,
    nonzero: Vec<u64>,
    sparse: Vec<(u64, f64)>,
    /// Total weight of the background rows reaching each leaf, summed in row order.
    pub(super) reach: Vec<f64>,
}

impl Tables {
    pub(super) fn new(
        tree: &Tree,
        layout: &Layout,
        rules: &SplitRules,
        bg: &Background,
        n_rows: usize,
        strategy: Strategy,
        consts: &Constants,
    ) -> Tables {
        let m = bg.rows.len() / bg.weights.len();
        // Aggregate: weight per failure set, dense for short paths, a list for long ones.
        let mut agg_off = Vec::with_capacity(layout.leaves.len());
        let mut agg_len = 0usize;
        for leaf in &layout.leaves {
            let d = leaf.d as usize;
            agg_off.push(agg_len);
            if d <= DENSE_MAX {
                agg_len += 1 << d;
            }
        }
        let mut agg = vec![0.0; agg_len];
        let mut lists: Vec<Vec<(u64, f64)>> = layout
            .leaves
            .iter()
            .map(|leaf| {
                if leaf.d as usize > DENSE_MAX {
                    Vec::with_capacity(bg.weights.len())
                } else {
                    Vec::new()
                }
            })
            .collect();
        let mut pat = vec![0u64; tree.n_nodes()];
        for (row, &w) in bg.rows.chunks(m.max(1)).zip(&bg.weights) {
            layout.patterns(tree, rules, row, &mut pat);
            for (i, leaf) in layout.leaves.iter().enumerate() {
                let u = !pat[leaf.node as usize] & leaf.mask();
                if leaf.d as usize <= DENSE_MAX {
                    agg[agg_off[i] + u as usize] += w;
                } else {
                    lists[i].push((u, w));
                }
            }
        }

        let inv_total = 1.0 / bg.total;
        let mut tables = Tables {
            leaves: Vec::with_capacity(layout.leaves.len()),
            dense: Vec::new(),
            nonzero: Vec::new(),
            sparse: Vec::new(),
            reach: Vec::with_capacity(layout.leaves.len()),
        };
        let mut dense_len = 0usize;
        for (i, leaf) in layout.leaves.iter().enumerate() {
            let d = leaf.d as usize;
            let mut list = if d <= DENSE_MAX {
                let w = &agg[agg_off[i]..agg_off[i] + (1 << d)];
                tables.reach.push(w[0]);
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
                    // Filled below, once the whole table is allocated (cache-line aligned).
                    dense_len = dense_len.next_multiple_of(8);
                    tables.leaves.push(LeafTable::Dense(dense_len, 0));
                    dense_len += (1 << d) * record_stride(d);
                    continue;
                }
                w.iter()
                    .enumerate()
                    .filter(|(_, w)| **w != 0.0)
                    .map(|(u, &w)| (u as u64, w))
                    .collect()
            } else {
                let mut list = std::mem::take(&mut lists[i]);
                // Stable: equal failure sets keep background-row order, so sums are too.
                list.sort_by_key(|&(u, _)| u);
                let mut merged: Vec<(u64, f64)> = Vec::new();
                for (u, w) in list {
                    match merged.last_mut() {
                        Some(last) if last.0 == u => last.1 += w,
                        _ => merged.push((u, w)),
                    }
                }
                tables
                    .reach
                    .push(merged.first().filter(|e| e.0 == 0).map_or(0.0, |e| e.1));
                merged
            };
            for e in &mut list {
                e.1 *= inv_total;
            }
            let start = tables.sparse.len();
            tables.sparse.extend(list);
            tables
                .leaves
                .push(LeafTable::Sparse(start, tables.sparse.len() - start));
        }
        // Records start on 64-byte lines, so that one row's lookup touches one line; the
        // alignment changes where values live, never what they are.
        tables.dense = Vec::with_capacity(dense_len + 8);
        let skip = tables.dense.as_ptr().align_offset(64).min(8);
        tables.dense.resize(skip + dense_len, 0.0);
        for ((i, leaf), table) in layout.leaves.iter().enumerate().zip(&mut tables.leaves) {
            if let LeafTable::Dense(off, bits) = table {
                *off += skip;
                let d = leaf.d as usize;
                let w = &agg[agg_off[i]..agg_off[i] + (1 << d)];
                let stride = record_stride(d);
                let out = &mut tables.dense[*off..*off + (1 << d) * stride];
                dense_table(w, inv_total, d, consts, out);
                *bits = tables.nonzero.len();
                tables.nonzero.resize(*bits + (1usize << d).div_ceil(64), 0);
                for (c, record) in out.chunks(stride).enumerate() {
                    if record.iter().any(|&v| v != 0.0) {
                        tables.nonzero[*bits + c / 64] |= 1 << (c % 64);
                    }
                }
            }
        }
        tables
    }

    /// Adds the tree's contribution to the SHAP values `phis` (`row_len` = `n_features x k`
    /// per row) of a block of rows, whose leaf patterns are `leaf_pats` (leaf after leaf,
    /// row after row). Leaf by leaf, so that a leaf's table stays in cache for every row;
    /// each row still receives the leaves in the same order.
    #[inline]
    pub(super) fn explain(
        &self,
        tree: &Tree,
        layout: &Layout,
        leaf_pats: &[u64],
        phis: &mut [f64],
        row_len: usize,
        k: usize,
        consts: &Constants,
    ) {
        let n_leaves = layout.leaves.len();
        let mut coef = [0.0f64; MAX_PATH_FEATURES];
        for (i, (leaf, table)) in layout.leaves.iter().zip(&self.leaves).enumerate() {
            let d = leaf.d as usize;
            if d == 0 {
                continue;
            }
            let features = &layout.features[leaf.features as usize..][..d];
            let value = tree.leaf_value(leaf.node as usize);
            for (phi, pats) in phis.chunks_mut(row_len).zip(leaf_pats.chunks(n_leaves)) {
                let c = pats[i];
                let weights: &[f64] = match *table {
                    LeafTable::Dense(off, bits) => {
                        let c = c as usize;
                        if self.nonzero[bits + c / 64] >> (c % 64) & 1 == 0 {
                            continue;
                        }
                        &self.dense[off + c * record_stride(d)..][..d]
                    }
                    LeafTable::Sparse(start, len) => {
                        let list = &self.sparse[start..start + len];
                        sparse_coefficients(list, c, d, consts, &mut coef[..d]);
                        &coef[..d]
                    }
                };
                if let [v] = value {
                    for (&f, &w) in features.iter().zip(weights) {
                        phi[f as usize * k + tree.output()] += w * v;
                    }
                } else {
                    for (&f, &w) in features.iter().zip(weights) {
                        let base = f as usize * k + tree.output();
                        for (p, v) in phi[base..base + value.len()].iter_mut().zip(value) {
                            *p += w * v;
                        }
                    }
                }
            }
        }
    }
}

/// Signed weights of a sparse leaf for the row pattern `c`, one per slot: what each path
/// feature gains (slots x satisfies) or loses (slots x fails), per unit of leaf value.
#[inline]
fn sparse_coefficients(
    list: &[(u64, f64)],
    c: u64,
    d: usize,
    consts: &Constants,
    coef: &mut [f64],
) {
    coef.fill(0.0);
    let n = d - c.count_ones() as usize;
    let mut neg = 0.0;
    for &(u, w) in list {
        if u & !c != 0 {
            continue; // r fails a condition x fails too: no hybrid row reaches the leaf.
        }
        let p = u.count_ones() as usize;
        if p > 0 {
            let a = w * consts.pos(p, n);
            let mut bits = u;
            while bits != 0 {
                coef[bits.trailing_zeros() as usize] += a;
                bits &= bits - 1;
            }
        }
        if n > 0 {
            neg += w * consts.neg(p, n);
        }
    }
    if n > 0 {
        for (s, coef) in coef.iter_mut().enumerate() {
            if c >> s & 1 == 0 {
                *coef = -neg;
            }
        }
    }
}

/// Fills a dense leaf table from the weights `w[u]` of each failure set u: for every pattern c
/// of x, `out[c*d + s]` is the signed weight of slot s (as [`sparse_coefficients`] gives it).
fn dense_table(w: &[f64], inv_total: f64, d: usize, consts: &Constants, out: &mut [f64]) {
    if d == 0 {
        return; // a leaf at the root: nothing to attribute.
    }
    let size = 1usize << d;
    let mut h = vec![0.0; size];
    let mut pow = vec![0.0; d + 1];
    let rule = consts.rule(quadrature_points(d));
    for (&t, &weight) in rule.nodes.iter().zip(&rule.weights) {
        // h[c] = sum over u within c of W(u) t^|u|: the zeta transform of W(u) t^|u|.
        pow[0] = inv_total;
        for i in 1..=d {
            pow[i] = pow[i - 1] * t;
        }
        for (u, (h, &w)) in h.iter_mut().zip(w).enumerate() {
            *h = w * pow[u.count_ones() as usize];
        }
        for bit in 0..d {
            let b = 1usize << bit;
            for c in 0..size {
                if c & b != 0 {
                    h[c] += h[c ^ b];
                }
            }
        }
        // (1-t)^n for every n.
        pow[0] = 1.0;
        for i in 1..=d {
            pow[i] = pow[i - 1] * (1.0 - t);
        }
        for (c, record) in out.chunks_mut(record_stride(d)).enumerate().take(size) {
            let n = d - c.count_ones() as usize;
            // Failed slots lose sum over u of W(u) |u|! (n-1)! / (|u|+n)!
            //   = integral of h_t[c] (1-t)^(n-1).
            let neg = if n > 0 {
                weight * pow[n - 1] * h[c]
            } else {
                0.0
            };
            // Satisfied slots s gain sum over u containing s of W(u) (|u|-1)! n! / (|u|+n)!
            //   = integral of (h_t[c] - h_t[c without s]) (1-t)^n / t.
            let a = weight * pow[n] / t;
            for (s, r) in record[..d].iter_mut().enumerate() {
                if c >> s & 1 == 1 {
                    *r += a * (h[c] - h[c ^ (1 << s)]);
                } else {
                    *r -= neg;
                }
            }
        }
    }
}

/// Values per record of a dense table: d, padded to a power of two up to a cache line, so
/// that no record straddles two lines.
#[inline]
pub(super) fn record_stride(d: usize) -> usize {
    if d <= 8 { d.next_power_of_two() } else { d }
}

/// Gauss-Legendre nodes needed to integrate the leaf coefficients exactly: polynomials of
/// degree at most d-1 need ceil(d/2) nodes.
fn quadrature_points(d: usize) -> usize {
    d.div_ceil(2).max(1)
}

/// Quadrature rules and exact Shapley coefficients, computed once per call.
pub(super) struct Constants {
    /// `rules[q-1]`: the q-node Gauss-Legendre rule on [0, 1].
    rules: Vec<GaussLegendre>,
    /// `1 / C(p+n, n)` for p, n <= 64, row p.
    inv_binom: Vec<f64>,
}

impl Constants {
    pub(super) fn new() -> Constants {
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
        Constants { rules, inv_binom }
    }

    fn rule(&self, q: usize) -> &GaussLegendre {
        &self.rules[q - 1]
    }

    /// (p-1)! n! / (p+n)! for p >= 1.
    #[inline]
    fn pos(&self, p: usize, n: usize) -> f64 {
        self.inv_binom[p * (MAX_PATH_FEATURES + 1) + n] / p as f64
    }

    /// p! (n-1)! / (p+n)! for n >= 1.
    #[inline]
    fn neg(&self, p: usize, n: usize) -> f64 {
        self.inv_binom[p * (MAX_PATH_FEATURES + 1) + n] / n as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
