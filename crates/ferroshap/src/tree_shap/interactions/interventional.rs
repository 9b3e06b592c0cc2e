//! Interaction values of interventional Tree SHAP: the exact Shapley interaction index of
//! v(S) = mean over background rows r of f(x_S, r_rest).
//!
//! Per leaf and background row the game is a product of indicators (see the interventional
//! module): with c the pattern of x (the path features x satisfies) and u the set r fails,
//! the pair (x, r) counts iff u is within c, and then P = u (x satisfies, r does not) and
//! N = not c (r satisfies, x does not), n = |N|. Its interaction indices, per unit of leaf
//! value and weight W(u), with `B(a, b) = a! b! / (a + b + 1)!`, p = |u|:
//!
//! - i, j in P: `+B(p-2, n)`; i in P, j in N: `-B(p-1, n-1)`; i, j in N: `+B(p, n-2)`;
//! - Shapley values: i in P `+B(p-1, n)`, i in N `-B(p, n-1)`; features in neither are dummies.
//!
//! The background is aggregated once per leaf into the weight of each failure set u, then
//!
//! - *dense* leaves (d <= [`DENSE_MAX`]): for each Gauss–Legendre point t the zeta transform
//!   `h_t[c] = sum over u within c of W(u) t^|u|` over all 2^d patterns; a row reads
//!   `h[c]`, `h[c-i]` and `h[c-i-j]`, since the weight of the u containing i and j is
//!   `h[c] - h[c-i] - h[c-j] + h[c-i-j]` and each B is a Beta integral of t^a (1-t)^b:
//!   O(d^2 Q) per row and leaf;
//! - *sparse* leaves: the distinct failure sets are looped over for each row with the exact
//!   coefficients, O(sets x p^2).

use ndarray::{ArrayView1, ArrayView2};

use super::{
    InteractionOptions, InteractionValues, Kernel, Target, Workspace, finish_block, points,
    prepare, rules, run,
};
use crate::Scalar;
use crate::ensemble::TreeEnsemble;
use crate::error::{Error, Result};
use crate::tree_shap::interventional::{
    Background, DENSE_MAX, Layout, LeafWeights, MAX_PATH_FEATURES, Strategy, Weights,
    expected_value,
};
use crate::tree_shap::quadrature::GaussLegendre;

/// Interventional SHAP interaction values of every row of `x` against every row of
/// `background` (weighted by `weights`, equal weights when `None`): shape `(n_rows, F, F,
/// n_outputs)`, with the base values of
/// [`crate::tree_shap::interventional::shap_values_weighted`].
///
/// Cost per tree grows as rows + background rows; parallel over rows (over trees for fewer
/// than 64 rows); the result does not depend on the number of threads.
pub fn interaction_values<F: Scalar, G: Scalar>(
    model: &TreeEnsemble,
    x: ArrayView2<'_, F>,
    background: ArrayView2<'_, G>,
    weights: Option<ArrayView1<'_, f64>>,
    options: &InteractionOptions,
) -> Result<InteractionValues> {
    interaction_values_with(model, x, background, weights, options, Strategy::Auto)
}

/// [`interaction_values`] with an explicit per-leaf [`Strategy`] (to test both exact methods
/// against each other).
pub fn interaction_values_with<F: Scalar, G: Scalar>(
    model: &TreeEnsemble,
    x: ArrayView2<'_, F>,
    background: ArrayView2<'_, G>,
    weights: Option<ArrayView1<'_, f64>>,
    options: &InteractionOptions,
    strategy: Strategy,
) -> Result<InteractionValues> {
    let bg = Background::new(model, background, weights)?;
    let (target, features, mut values) = prepare(model, &x, options)?;
    let base_values = expected_value(model, background, weights)?;
    let kernel = BackgroundKernel::new(model, &target, &bg, x.nrows(), strategy)?;
    run(model, x, &kernel, &target, &mut values);
    Ok(InteractionValues {
        values,
        base_values,
        features,
    })
}

struct BackgroundKernel<'a> {
    model: &'a TreeEnsemble,
    target: &'a Target,
    bg: &'a Background,
    layouts: Vec<Layout>,
    rules: Vec<GaussLegendre>,
    beta: Beta,
    n_rows: usize,
    strategy: Strategy,
}

enum LeafTable {
    /// No background row can make this leaf's game non-zero, or nothing to attribute.
    Empty,
    /// Offset of `2^d x Q` values `h_t[c]` in `BackgroundTable::dense`, and of one bit per
    /// pattern (set when the pattern's values are not all zero) in `nonzero`.
    Dense(usize, usize),
    /// Range in `BackgroundTable::sparse` of (failure set, weight as a fraction).
    Sparse(usize, usize),
}

struct BackgroundTable {
    leaves: Vec<LeafTable>,
    dense: Vec<f64>,
    nonzero: Vec<u64>,
    sparse: Vec<(u64, f64)>,
}

impl<'a> BackgroundKernel<'a> {
    fn new(
        model: &'a TreeEnsemble,
        target: &'a Target,
        bg: &'a Background,
        n_rows: usize,
        strategy: Strategy,
    ) -> Result<BackgroundKernel<'a>> {
        let layouts = model
            .trees()
            .iter()
            .enumerate()
            .map(|(t, tree)| {
                Layout::new(tree, t).map_err(|_| {
                    Error::Unsupported(format!(
                        "tree {t} has a path that splits on more than {MAX_PATH_FEATURES} \
                         different features; SHAP interaction values support at most \
                         {MAX_PATH_FEATURES}"
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(BackgroundKernel {
            model,
            target,
            bg,
            layouts,
            rules: rules(),
            beta: Beta::new(),
            n_rows,
            strategy,
        })
    }
}

impl Kernel for BackgroundKernel<'_> {
    type Table = BackgroundTable;

    fn table_bytes(&self, t: usize) -> usize {
        let n_background = self.bg.weights.len();
        let values: usize = self.layouts[t]
            .leaves
            .iter()
            .map(|leaf| {
                let d = leaf.d as usize;
                if d <= DENSE_MAX {
                    (1usize << d) * (points(d) + 1)
                } else {
                    2 * n_background
                }
            })
            .sum();
        8 * values
    }

    fn table(&self, t: usize) -> BackgroundTable {
        let tree = &self.model.trees()[t];
        let layout = &self.layouts[t];
        let bg = self.bg;
        let mut weights = LeafWeights::new(tree, layout, self.model.rules(), bg);
        let inv_total = 1.0 / bg.total;
        let mut table = BackgroundTable {
            leaves: Vec::with_capacity(layout.leaves.len()),
            dense: Vec::new(),
            nonzero: Vec::new(),
            sparse: Vec::new(),
        };
        for (i, leaf) in layout.leaves.iter().enumerate() {
            let d = leaf.d as usize;
            let features = &layout.features[leaf.features as usize..][..d];
            if d == 0 || !self.target.wants_any(features) {
                table.leaves.push(LeafTable::Empty);
                continue;
            }
            let start = table.sparse.len();
            match weights.take(i, d) {
                Weights::Dense(w) => {
                    let distinct = w.iter().filter(|&&w| w != 0.0).count();
                    let q = points(d);
                    let dense = match self.strategy {
                        Strategy::Dense => true,
                        Strategy::Sparse => false,
                        Strategy::Auto => {
                            (1usize << d) * d * q
                                <= self.n_rows.saturating_mul(distinct).saturating_mul(d)
                        }
                    };
                    if dense {
                        let off = table.dense.len();
                        let bits = table.nonzero.len();
                        table.dense.resize(off + (1 << d) * q, 0.0);
                        table.nonzero.resize(bits + (1usize << d).div_ceil(64), 0);
                        let h = &mut table.dense[off..];
                        zeta_tables(w, inv_total, d, &self.rules[q - 1], h);
                        for c in 0..1usize << d {
                            if h[c * q..(c + 1) * q].iter().any(|&v| v != 0.0) {
                                table.nonzero[bits + c / 64] |= 1 << (c % 64);
                            }
                        }
                        table.leaves.push(LeafTable::Dense(off, bits));
                        continue;
                    }
                    Weights::Dense(w).extend_scaled(&mut table.sparse, inv_total);
                }
                sparse => sparse.extend_scaled(&mut table.sparse, inv_total),
            }
            table
                .leaves
                .push(LeafTable::Sparse(start, table.sparse.len() - start));
        }
        table
    }

    fn explain(
        &self,
        t: usize,
        table: &BackgroundTable,
        rows: &[f64],
        n: usize,
        out: &mut [f64],
        ws: &mut Workspace,
    ) {
        let tree = &self.model.trees()[t];
        let layout = &self.layouts[t];
        let m = self.model.n_features().max(1);
        ws.load_leaf_patterns(layout, tree, self.model.rules(), rows, n, m);
        let row_len = self.target.row_len();
        for (l, (leaf, leaf_table)) in layout.leaves.iter().zip(&table.leaves).enumerate() {
            let d = leaf.d as usize;
            let features = &layout.features[leaf.features as usize..][..d];
            let value = tree.leaf_value(leaf.node as usize);
            ws.g.resize(d * d, 0.0);
            ws.phi.resize(d, 0.0);
            for r in 0..n {
                let c = ws.leaf_pats[l * n + r];
                let g = &mut ws.g[..d * d];
                let phi = &mut ws.phi[..d];
                let nonzero = match *leaf_table {
                    LeafTable::Empty => false,
                    LeafTable::Dense(off, bits) => {
                        let cu = c as usize;
                        table.nonzero[bits + cu / 64] >> (cu % 64) & 1 == 1 && {
                            let q = points(d);
                            let h = &table.dense[off..off + (q << d)];
                            dense_block(h, c, d, &self.rules[q - 1], g, phi, &mut ws.h);
                            true
                        }
                    }
                    LeafTable::Sparse(start, len) => sparse_block(
                        &table.sparse[start..start + len],
                        c,
                        d,
                        &self.beta,
                        g,
                        phi,
                        &mut ws.h,
                    ),
                };
                if nonzero {
                    finish_block(g, phi, d);
                    self.target.scatter(
                        &mut out[r * row_len..(r + 1) * row_len],
                        features,
                        g,
                        value,
                        tree.output(),
                    );
                }
            }
        }
    }
}

/// `h[c * Q + q] = sum over u within c of w[u] / total * t_q^|u|`, for every pattern c.
fn zeta_tables(w: &[f64], inv_total: f64, d: usize, rule: &GaussLegendre, h: &mut [f64]) {
    let q = rule.nodes.len();
    let size = 1usize << d;
    let mut col = vec![0.0; size];
    let mut pow = vec![0.0; d + 1];
    for (qi, &t) in rule.nodes.iter().enumerate() {
        pow[0] = inv_total;
        for i in 1..=d {
            pow[i] = pow[i - 1] * t;
        }
        for (u, (col, &w)) in col.iter_mut().zip(w).enumerate() {
            *col = w * pow[u.count_ones() as usize];
        }
        for bit in 0..d {
            let b = 1usize << bit;
            for c in 0..size {
                if c & b != 0 {
                    col[c] += col[c ^ b];
                }
            }
        }
        for (c, &v) in col.iter().enumerate() {
            h[c * q + qi] = v;
        }
    }
}

/// One row's block (upper triangle of `g`) and Shapley values from a dense leaf table.
fn dense_block(
    h: &[f64],
    c: u64,
    d: usize,
    rule: &GaussLegendre,
    g: &mut [f64],
    phi: &mut [f64],
    scratch: &mut Vec<f64>,
) {
    let q = rule.nodes.len();
    let c = c as usize;
    let n = d - c.count_ones() as usize;
    // Per point: weights of the Beta integrals (see the module docs), then per slot in c the
    // weight of the failure sets containing it, D_i = h[c] - h[c - i].
    scratch.resize(5 * q + d * q, 0.0);
    let (coef, diff) = scratch.split_at_mut(5 * q);
    let (pp, rest) = coef.split_at_mut(q);
    let (pn, rest) = rest.split_at_mut(q);
    let (nn, rest) = rest.split_at_mut(q);
    let (phi_p, phi_n) = rest.split_at_mut(q);
    for (qi, (&t, &w)) in rule.nodes.iter().zip(&rule.weights).enumerate() {
        let s = 1.0 - t;
        let sn = s.powi(n as i32);
        pp[qi] = 0.5 * w * sn / (t * t);
        phi_p[qi] = w * sn / t;
        pn[qi] = if n >= 1 {
            -0.5 * w * s.powi(n as i32 - 1) / t
        } else {
            0.0
        };
        phi_n[qi] = if n >= 1 {
            -w * s.powi(n as i32 - 1)
        } else {
            0.0
        };
        nn[qi] = if n >= 2 {
            0.5 * w * s.powi(n as i32 - 2)
        } else {
            0.0
        };
    }
    let hc = &h[c * q..(c + 1) * q];
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    for i in 0..d {
        if c >> i & 1 == 1 {
            let hi = &h[(c ^ 1 << i) * q..][..q];
            for ((o, &a), &b) in diff[i * q..(i + 1) * q].iter_mut().zip(hc).zip(hi) {
                *o = a - b;
            }
            phi[i] = dot(phi_p, &diff[i * q..(i + 1) * q]);
        } else {
            phi[i] = dot(phi_n, hc);
        }
    }
    let both_failed = dot(nn, hc);
    for i in 0..d {
        let i_set = c >> i & 1 == 1;
        for j in i + 1..d {
            let j_set = c >> j & 1 == 1;
            g[i * d + j] = match (i_set, j_set) {
                (false, false) => both_failed,
                (true, false) => dot(pn, &diff[i * q..(i + 1) * q]),
                (false, true) => dot(pn, &diff[j * q..(j + 1) * q]),
                (true, true) => {
                    // Sets containing i and j: D_i - (h[c - j] - h[c - i - j]).
                    let hj = &h[(c ^ 1 << j) * q..][..q];
                    let hij = &h[(c ^ 1 << i ^ 1 << j) * q..][..q];
                    let di = &diff[i * q..(i + 1) * q];
                    (0..q).map(|k| pp[k] * (di[k] - (hj[k] - hij[k]))).sum()
                }
            };
        }
    }
}

/// One row's block (upper triangle of `g`) and Shapley values from a list of failure sets;
/// false when no set is within c (the leaf adds nothing).
fn sparse_block(
    list: &[(u64, f64)],
    c: u64,
    d: usize,
    beta: &Beta,
    g: &mut [f64],
    phi: &mut [f64],
    scratch: &mut Vec<f64>,
) -> bool {
    let n = d - c.count_ones() as usize;
    g.fill(0.0);
    phi.fill(0.0);
    scratch.resize(d, 0.0);
    let with_failed = &mut scratch[..d];
    with_failed.fill(0.0);
    let (mut both_failed, mut lose) = (0.0, 0.0);
    let mut any = false;
    for &(u, w) in list {
        if u & !c != 0 {
            continue; // r fails a condition x fails too: no hybrid row reaches the leaf.
        }
        any = true;
        let p = u.count_ones() as usize;
        if p >= 2 {
            let a = 0.5 * w * beta.get(p - 2, n);
            let mut bits = u;
            while bits != 0 {
                let i = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let mut rest = bits;
                while rest != 0 {
                    let j = rest.trailing_zeros() as usize;
                    rest &= rest - 1;
                    g[i * d + j] += a;
                }
            }
        }
        if p >= 1 {
            let gain = w * beta.get(p - 1, n);
            let pair = if n >= 1 {
                -0.5 * w * beta.get(p - 1, n - 1)
            } else {
                0.0
            };
            let mut bits = u;
            while bits != 0 {
                let i = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                phi[i] += gain;
                with_failed[i] += pair;
            }
        }
        if n >= 1 {
            lose += w * beta.get(p, n - 1);
        }
        if n >= 2 {
            both_failed += 0.5 * w * beta.get(p, n - 2);
        }
    }
    if !any {
        return false;
    }
    for i in 0..d {
        let i_set = c >> i & 1 == 1;
        if !i_set {
            phi[i] = -lose;
        }
        for j in i + 1..d {
            let j_set = c >> j & 1 == 1;
            match (i_set, j_set) {
                (true, true) => {}
                (false, false) => g[i * d + j] = both_failed,
                (true, false) => g[i * d + j] = with_failed[i],
                (false, true) => g[i * d + j] = with_failed[j],
            }
        }
    }
    true
}

/// `B(a, b) = a! b! / (a + b + 1)!` for a, b <= 64.
struct Beta {
    table: Vec<f64>,
}

const BETA_SIDE: usize = MAX_PATH_FEATURES + 1;

impl Beta {
    fn new() -> Beta {
        let mut table = vec![0.0; BETA_SIDE * BETA_SIDE];
        for a in 0..BETA_SIDE {
            for b in 0..BETA_SIDE {
                // 1 / ((a+b+1) C(a+b, b)), C by a running product.
                let mut c = 1.0f64;
                for i in 1..=b {
                    c = c * (a + i) as f64 / i as f64;
                }
                table[a * BETA_SIDE + b] = 1.0 / ((a + b + 1) as f64 * c);
            }
        }
        Beta { table }
    }

    #[inline]
    fn get(&self, a: usize, b: usize) -> f64 {
        self.table[a * BETA_SIDE + b]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beta_values() {
        let b = Beta::new();
        // 0! 0! / 1! = 1; 1! 1! / 3! = 1/6; 2! 1! / 4! = 1/12.
        assert_eq!(b.get(0, 0), 1.0);
        assert!((b.get(1, 1) - 1.0 / 6.0).abs() < 1e-16);
        assert!((b.get(2, 1) - 1.0 / 12.0).abs() < 1e-16);
        assert!(b.get(64, 64) > 0.0 && b.get(64, 64).is_finite());
    }
}
