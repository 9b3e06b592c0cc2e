//! Exact interventional SHAP values of trees with linear leaves (LightGBM `linear_tree`), after
//! the idea of PLTreeSHAP (Zern et al., AAAI 2023).
//!
//! For an explained row x and a background row r, the game is v(S) = f(z) with z_S = x_S and
//! the rest from r. A leaf is reached iff every feature on its path where only x satisfies the
//! path's conditions is in S (set P) and every feature where only r does is not (set N). Its
//! linear model `c + sum_j w_j z_j` is used iff no leaf feature of z is NaN: with A the leaf
//! features NaN in x only and B those NaN in r only, iff A is outside S and B inside (never if
//! a feature is NaN in both); otherwise the leaf's constant value `v` is. So the leaf adds
//!
//! ```text
//! v U(P, N) + (K - v) U(P+B, N+A) + sum_{j in D} w_j (x_j - r_j) U(P+B+{j}, N+A)
//! ```
//!
//! with `U(I, E)(S) = [I in S][E outside S]`, D the leaf features non-NaN in both rows and K
//! the linear model at z = (r on D and A, x on B). The Shapley value of U(I, E) (p = |I|,
//! n = |E|, I and E disjoint) is `(p-1)! n! / (p+n)!` for each i in I and `-p! (n-1)! / (p+n)!`
//! for each j in E: a closed form, so each pair costs one walk over the leaves the two rows
//! can reach, with work linear in the path and leaf-model lengths. Values are averaged over
//! the background rows.

use ndarray::{Array3, ArrayView2};
use rayon::prelude::*;

use super::ShapValues;
use crate::Scalar;
use crate::ensemble::{LinearLeaves, LinearTreeEnsemble, Tree};
use crate::error::{Error, Result};

/// Interventional SHAP values `(n_rows, n_features, n_outputs)` of `model` (linear or constant
/// leaves), with the mean margin over `background` as base value. Parallel over rows; the
/// result does not depend on the thread count.
///
/// ```no_run
/// use ferroshap::formats::lightgbm;
/// use ferroshap::tree_shap::linear_tree;
///
/// # fn main() -> ferroshap::Result<()> {
/// let text = std::fs::read_to_string("linear_model.txt").unwrap(); // LightGBM, linear_tree=True
/// let model = lightgbm::linear_from_text(&text)?;
/// let (x, background) = (ndarray::array![[0.5f64, f64::NAN]], ndarray::array![[0.0f64, 1.0]]);
/// let explained = linear_tree::interventional_shap_values(&model, x.view(), background.view())?;
/// let total = explained.values.sum() + explained.base_values[0];
/// assert!((total - model.predict_margin(x.view())?[[0, 0]]).abs() < 1e-9);
/// # Ok(()) }
/// ```
pub fn interventional_shap_values<F: Scalar, G: Scalar>(
    model: &LinearTreeEnsemble,
    x: ArrayView2<'_, F>,
    background: ArrayView2<'_, G>,
) -> Result<ShapValues> {
    let trees = model.trees();
    trees.check_features(x.ncols())?;
    trees.check_features(background.ncols())?;
    if background.nrows() == 0 {
        return Err(Error::Shape("background data has no rows".into()));
    }
    let (n, m, k) = (x.nrows(), trees.n_features(), trees.n_outputs());
    let rows = Rows::read(model, background);
    let mut values = Array3::<f64>::zeros((n, m, k));
    let stride = (m * k).max(1);
    let slice = values.as_slice_mut().expect("fresh array is contiguous");
    slice.par_chunks_mut(stride).enumerate().for_each_init(
        || Walk::new(m),
        |walk, (i, phi)| {
            if crate::parallel::cancelled() || m == 0 {
                return;
            }
            let row = Rows::read(model, x.slice(ndarray::s![i..i + 1, ..]));
            for b in 0..rows.n {
                for (t, tree) in trees.trees().iter().enumerate() {
                    walk.pair(
                        tree,
                        model.linear()[t].as_ref(),
                        trees.rules(),
                        (row.prepared(0), row.raw(0)),
                        (rows.prepared(b), rows.raw(b)),
                        &mut phi[..],
                        k,
                        tree.output(),
                    );
                }
            }
            let scale = 1.0 / rows.n as f64;
            phi.iter_mut().for_each(|v| *v *= scale);
        },
    );
    crate::parallel::check_cancelled()?;
    Ok(ShapValues {
        values,
        base_values: expected_value(model, background)?,
    })
}

/// The mean margin over `background`: the base value of interventional explanations.
pub fn expected_value<G: Scalar>(
    model: &LinearTreeEnsemble,
    background: ArrayView2<'_, G>,
) -> Result<Vec<f64>> {
    if background.nrows() == 0 {
        return Err(Error::Shape("background data has no rows".into()));
    }
    let margins = model.predict_margin(background)?;
    Ok(margins
        .mean_axis(ndarray::Axis(0))
        .expect("background has rows")
        .to_vec())
}

/// Rows read twice: prepared for routing and as given for the leaf models.
struct Rows {
    n: usize,
    m: usize,
    prepared: Vec<f64>,
    raw: Vec<f64>,
}

impl Rows {
    fn read<F: Scalar>(model: &LinearTreeEnsemble, x: ArrayView2<'_, F>) -> Rows {
        let (n, m) = (x.nrows(), x.ncols());
        let mut prepared = vec![0.0; n * m];
        let mut raw = vec![0.0; n * m];
        for i in 0..n {
            model
                .trees()
                .prepare_row(&x, i, &mut prepared[i * m..(i + 1) * m]);
            for (v, xv) in raw[i * m..(i + 1) * m].iter_mut().zip(x.row(i)) {
                *v = xv.to_f64();
            }
        }
        Rows {
            n,
            m,
            prepared,
            raw,
        }
    }
    fn prepared(&self, i: usize) -> &[f64] {
        &self.prepared[i * self.m..(i + 1) * self.m]
    }
    fn raw(&self, i: usize) -> &[f64] {
        &self.raw[i * self.m..(i + 1) * self.m]
    }
}

/// Per-thread scratch for one (row, background row) walk.
struct Walk {
    /// Per feature, how many splits on the current path the explained row fails.
    x_fails: Vec<u32>,
    /// The same for the background row.
    r_fails: Vec<u32>,
    /// Features of the splits on the current path (with repeats).
    path: Vec<u32>,
    /// Per feature: 0 none, 1 must be in S, 2 must be out of S (for the leaf being credited).
    role: Vec<u8>,
    include: Vec<u32>,
    exclude: Vec<u32>,
    /// The leaf model's terms `(feature, w_j (x_j - r_j))` that add a feature to I.
    own: Vec<(usize, f64)>,
}

const IN: u8 = 1;
const OUT: u8 = 2;

impl Walk {
    fn new(m: usize) -> Walk {
        Walk {
            x_fails: vec![0; m],
            r_fails: vec![0; m],
            path: Vec::new(),
            role: vec![0; m],
            include: Vec::new(),
            exclude: Vec::new(),
            own: Vec::new(),
        }
    }

    /// Adds one tree's share of the pair's game to `phi` (`m x k`, row-major; output `out`).
    #[allow(clippy::too_many_arguments)]
    fn pair(
        &mut self,
        tree: &Tree,
        leaves: Option<&LinearLeaves>,
        rules: &crate::ensemble::SplitRules,
        x: (&[f64], &[f64]),
        r: (&[f64], &[f64]),
        phi: &mut [f64],
        k: usize,
        out: usize,
    ) {
        self.path.clear();
        self.visit(tree, leaves, rules, 0, x, r, phi, k, out);
    }

    #[allow(clippy::too_many_arguments)]
    fn visit(
        &mut self,
        tree: &Tree,
        leaves: Option<&LinearLeaves>,
        rules: &crate::ensemble::SplitRules,
        node: usize,
        x: (&[f64], &[f64]),
        r: (&[f64], &[f64]),
        phi: &mut [f64],
        k: usize,
        out: usize,
    ) {
        if tree.is_leaf(node) {
            self.leaf(tree, leaves, node, x.1, r.1, phi, k, out);
            return;
        }
        let f = tree.feature(node);
        let x_child = tree.next(node, x.0[f], rules);
        let r_child = tree.next(node, r.0[f], rules);
        let (left, right) = tree.children(node);
        for child in [left, right] {
            let (x_fail, r_fail) = ((x_child != child) as u32, (r_child != child) as u32);
            // A leaf neither row's values lead to is never reached.
            if (x_fail == 1 || self.x_fails[f] > 0) && (r_fail == 1 || self.r_fails[f] > 0) {
                continue;
            }
            self.x_fails[f] += x_fail;
            self.r_fails[f] += r_fail;
            self.path.push(f as u32);
            self.visit(tree, leaves, rules, child, x, r, phi, k, out);
            self.path.pop();
            self.x_fails[f] -= x_fail;
            self.r_fails[f] -= r_fail;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn leaf(
        &mut self,
        tree: &Tree,
        leaves: Option<&LinearLeaves>,
        node: usize,
        x: &[f64],
        r: &[f64],
        phi: &mut [f64],
        k: usize,
        out: usize,
    ) {
        // P (x only satisfies the path) must be in S, N (r only) out of it.
        self.include.clear();
        self.exclude.clear();
        for i in 0..self.path.len() {
            let f = self.path[i] as usize;
            if self.role[f] != 0 {
                continue;
            }
            if self.r_fails[f] > 0 {
                self.role[f] = IN;
                self.include.push(f as u32);
            } else if self.x_fails[f] > 0 {
                self.role[f] = OUT;
                self.exclude.push(f as u32);
            } else {
                self.role[f] = 3; // both satisfy: no condition, but seen
            }
        }
        let v = tree.leaf_value(node)[0];
        let column = |f: usize| f * k + out;
        let terms = leaves.map(|l| (l.constant(node), l.terms(node)));
        match terms {
            // A constant leaf; a linear leaf without features is its constant (never NaN).
            None | Some((_, (&[], _))) => {
                let value = terms.map_or(v, |(c, _)| c);
                credit(&self.include, &self.exclude, value, phi, column);
            }
            Some((c, (features, coeffs))) => {
                // The constant-value game, then the linear model's, which needs A out and B in.
                credit(&self.include, &self.exclude, v, phi, column);
                let (p0, n0) = (self.include.len(), self.exclude.len());
                let mut always_nan = false;
                let mut konst = c;
                for (&f, &w) in features.iter().zip(coeffs) {
                    let f = f as usize;
                    match (x[f].is_nan(), r[f].is_nan()) {
                        (true, true) => always_nan = true,
                        (true, false) => {
                            konst += w * r[f];
                            self.require(f, OUT);
                        }
                        (false, true) => {
                            konst += w * x[f];
                            self.require(f, IN);
                        }
                        (false, false) => konst += w * r[f],
                    }
                }
                if !always_nan && !self.contradicts() {
                    // Terms w_j (x_j - r_j) U(I + {j}, E) for j in D.
                    let mut joined = 0.0;
                    let mut own = std::mem::take(&mut self.own);
                    own.clear();
                    for (&f, &w) in features.iter().zip(coeffs) {
                        let f = f as usize;
                        if x[f].is_nan() || r[f].is_nan() {
                            continue;
                        }
                        let a = w * (x[f] - r[f]);
                        match self.role[f] {
                            IN => konst += a, // already required: the same game as K's
                            OUT => {}         // required out: never adds
                            _ => {
                                joined += a;
                                own.push((f, a));
                            }
                        }
                    }
                    credit(&self.include, &self.exclude, konst - v, phi, column);
                    if joined != 0.0 || !own.is_empty() {
                        let (p, n) = (self.include.len() + 1, self.exclude.len());
                        let (w_in, w_out) = weights(p, n);
                        for &i in &self.include {
                            phi[column(i as usize)] += joined * w_in;
                        }
                        for &e in &self.exclude {
                            phi[column(e as usize)] -= joined * w_out;
                        }
                        for &(f, a) in &own {
                            phi[column(f)] += a * w_in;
                        }
                    }
                    self.own = own;
                }
                // Undo the roles the leaf model added (beyond the path's).
                for &f in &self.include[p0..] {
                    self.role[f as usize] = 0;
                }
                for &e in &self.exclude[n0..] {
                    self.role[e as usize] = 0;
                }
                self.include.truncate(p0);
                self.exclude.truncate(n0);
            }
        }
        for &f in &self.path {
            self.role[f as usize] = 0;
        }
    }

    /// Requires feature `f` in (IN) or out of (OUT) S; a feature asked both ways is marked 4.
    fn require(&mut self, f: usize, want: u8) {
        match self.role[f] {
            0 | 3 => {
                self.role[f] = want;
                if want == IN {
                    self.include.push(f as u32);
                } else {
                    self.exclude.push(f as u32);
                }
            }
            r if r == want => {}
            _ => self.role[f] = 4,
        }
    }

    fn contradicts(&self) -> bool {
        self.include
            .iter()
            .chain(&self.exclude)
            .any(|&f| self.role[f as usize] == 4)
    }
}

/// Adds `value` times the Shapley values of U(I, E) to `phi`.
fn credit(
    include: &[u32],
    exclude: &[u32],
    value: f64,
    phi: &mut [f64],
    column: impl Fn(usize) -> usize,
) {
    let (p, n) = (include.len(), exclude.len());
    if p + n == 0 || value == 0.0 {
        return;
    }
    let (w_in, w_out) = weights(p, n);
    for &i in include {
        phi[column(i as usize)] += value * w_in;
    }
    for &e in exclude {
        phi[column(e as usize)] -= value * w_out;
    }
}

/// `((p-1)! n! / (p+n)!, p! (n-1)! / (p+n)!)`, the Shapley values of U(I, E) for a member of I
/// and (negated) of E: `1 / (p C(p+n, p))` and `1 / (n C(p+n, p))`.
fn weights(p: usize, n: usize) -> (f64, f64) {
    let mut inv_binom = 1.0;
    for i in 1..=p.min(n) {
        inv_binom *= i as f64 / (p.max(n) + i) as f64;
    }
    let w_in = if p > 0 { inv_binom / p as f64 } else { 0.0 };
    let w_out = if n > 0 { inv_binom / n as f64 } else { 0.0 };
    (w_in, w_out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ensemble::{EnsembleSpec, Link, RawTree, SplitRules, TreeEnsemble};
    use crate::rng::Rng;
    use ndarray::Array2;

    const M: usize = 4;

    /// A random full tree of depth 3 over M features, with random linear leaves.
    fn random_model(rng: &mut Rng, linear: bool) -> LinearTreeEnsemble {
        let mut raws = Vec::new();
        let mut leaf_models = Vec::new();
        for t in 0..3 {
            let n = 15;
            let mut raw = RawTree {
                left: vec![-1; n],
                right: vec![-1; n],
                feature: vec![0; n],
                threshold: vec![0.0; n],
                default_left: vec![false; n],
                cover: vec![1.0; n],
                value: vec![0.0; n],
                ..RawTree::default()
            };
            for i in 0..7 {
                raw.left[i] = (2 * i + 1) as i64;
                raw.right[i] = (2 * i + 2) as i64;
                raw.feature[i] = (rng.next_u64() % M as u64) as i64;
                raw.threshold[i] = rng.next_f64() - 0.5;
                raw.default_left[i] = rng.next_u64() % 2 == 0;
            }
            let mut leaves = LinearLeaves::with_nodes(n);
            for node in 7..n {
                raw.value[node] = rng.next_f64() * 4.0 - 2.0;
                let count = (rng.next_u64() % 3) as usize;
                let features: Vec<i64> = (0..count)
                    .map(|_| (rng.next_u64() % M as u64) as i64)
                    .collect();
                let coeffs: Vec<f64> = (0..count).map(|_| rng.next_f64() * 2.0 - 1.0).collect();
                leaves
                    .set_leaf(node, rng.next_f64() - 0.5, &features, &coeffs)
                    .unwrap();
            }
            raws.push(raw);
            leaf_models.push((linear || t == 1).then_some(leaves));
        }
        let trees = TreeEnsemble::new(
            EnsembleSpec {
                n_features: M,
                n_outputs: 1,
                leaf_width: 1,
                base_offset: vec![0.5],
                rules: SplitRules::LIGHTGBM,
                link: Link::Identity,
                objective: String::new(),
                feature_names: None,
                categorical_features: Vec::new(),
            },
            raws,
        )
        .unwrap();
        LinearTreeEnsemble::new(trees, leaf_models).unwrap()
    }

    fn random_rows(rng: &mut Rng, n: usize) -> Array2<f64> {
        Array2::from_shape_fn((n, M), |_| {
            if rng.next_u64() % 5 == 0 {
                f64::NAN
            } else {
                rng.next_f64() - 0.5
            }
        })
    }

    /// Shapley values of v(S) = mean_b f(x_S, b_rest) by subset enumeration.
    fn brute_force(model: &LinearTreeEnsemble, x: &[f64], bg: &Array2<f64>) -> Vec<f64> {
        let n_sets = 1usize << M;
        let mut hybrid = Array2::<f64>::zeros((n_sets * bg.nrows(), M));
        for s in 0..n_sets {
            for b in 0..bg.nrows() {
                for j in 0..M {
                    hybrid[[s * bg.nrows() + b, j]] =
                        if s >> j & 1 == 1 { x[j] } else { bg[[b, j]] };
                }
            }
        }
        let f = model.predict_margin(hybrid.view()).unwrap();
        let v: Vec<f64> = (0..n_sets)
            .map(|s| {
                (0..bg.nrows())
                    .map(|b| f[[s * bg.nrows() + b, 0]])
                    .sum::<f64>()
                    / bg.nrows() as f64
            })
            .collect();
        let fact = |n: usize| (1..=n).map(|i| i as f64).product::<f64>();
        (0..M)
            .map(|j| {
                (0..n_sets)
                    .filter(|s| s >> j & 1 == 0)
                    .map(|s| {
                        let size = (s as u32).count_ones() as usize;
                        fact(size) * fact(M - size - 1) / fact(M) * (v[s | 1 << j] - v[s])
                    })
                    .sum()
            })
            .collect()
    }

    #[test]
    fn matches_brute_force_with_nans_and_repeated_features() {
        let mut rng = Rng::stream(11, 0);
        for trial in 0..20 {
            let model = random_model(&mut rng, trial % 4 != 0);
            let x = random_rows(&mut rng, 3);
            let bg = random_rows(&mut rng, 4);
            let s = interventional_shap_values(&model, x.view(), bg.view()).unwrap();
            let margin = model.predict_margin(x.view()).unwrap();
            for i in 0..x.nrows() {
                let oracle = brute_force(&model, x.row(i).as_slice().unwrap(), &bg);
                for j in 0..M {
                    assert!(
                        (s.values[[i, j, 0]] - oracle[j]).abs() < 1e-10,
                        "trial {trial} row {i} feature {j}: {} vs {}",
                        s.values[[i, j, 0]],
                        oracle[j]
                    );
                }
                let total: f64 = s.values.slice(ndarray::s![i, .., 0]).sum();
                assert!((total + s.base_values[0] - margin[[i, 0]]).abs() < 1e-10);
            }
        }
    }

    #[test]
    fn shapley_weights_of_include_exclude_games() {
        assert_eq!(weights(1, 0), (1.0, 0.0));
        assert_eq!(weights(0, 2), (0.0, 0.5));
        let (a, b) = weights(2, 1); // 1! 1! / 3! and 2! 0! / 3!
        assert!((a - 1.0 / 6.0).abs() < 1e-15 && (b - 1.0 / 3.0).abs() < 1e-15);
    }
}
