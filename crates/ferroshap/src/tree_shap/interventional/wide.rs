//! The fallback for trees with a path on more than [`MAX_PATH_FEATURES`] distinct features,
//! whose leaf patterns do not fit the u64 bitsets of the fast path: every explained row is
//! walked down the tree together with every background row, one pair at a time.
//!
//! Where the two rows go the same way, every hybrid row goes that way too; where they part,
//! the walk branches: the hybrid follows x when the split's feature is taken from x, r
//! otherwise. A feature already decided higher on the path keeps its side. At a leaf reached
//! with the features P taken from x and N taken from r (|P| = p, |N| = n), the pair's game is
//! `v` times the indicator "P in S, N out of S", whose Shapley values are
//! `+(p-1)! n! / (p+n)! v` for i in P and `-p! (n-1)! / (p+n)! v` for j in N.
//! Cost O(rows x background x reachable leaves x depth) for these trees only; each row sums
//! its trees in model order and its background rows in row order, on one thread.
//!
//! [`MAX_PATH_FEATURES`]: super::MAX_PATH_FEATURES

use ndarray::ArrayView2;

use super::Background;
use crate::Scalar;
use crate::ensemble::{SplitRules, Tree, TreeEnsemble};

/// `1 / C(s, p)` for `0 <= p <= s <= max`, row `s` of width `max + 1`.
pub(super) struct InvBinomials {
    width: usize,
    values: Vec<f64>,
}

impl InvBinomials {
    /// Enough for paths with up to `max` distinct features.
    pub(super) fn new(max: usize) -> InvBinomials {
        let width = max + 1;
        // Pascal's triangle in f64: relative error about 1e-16 per level.
        let mut binom = vec![0.0f64; width * width];
        for s in 0..width {
            binom[s * width] = 1.0;
            for p in 1..=s {
                binom[s * width + p] = binom[(s - 1) * width + p - 1] + binom[(s - 1) * width + p];
            }
        }
        InvBinomials {
            width,
            values: binom
                .iter()
                .map(|&b| if b > 0.0 { 1.0 / b } else { 0.0 })
                .collect(),
        }
    }

    fn get(&self, s: usize, p: usize) -> f64 {
        self.values[s * self.width + p]
    }
}

/// Adds the interventional SHAP values of the wide `trees` to `phis`, the values
/// (`n_features x n_outputs` per row) of the rows of `x` from `first` on.
pub(super) fn explain<F: Scalar>(
    model: &TreeEnsemble,
    trees: &[&Tree],
    x: &ArrayView2<'_, F>,
    first: usize,
    phis: &mut [f64],
    bg: &Background,
    inv_binom: &InvBinomials,
) {
    let (m, k) = (model.n_features(), model.n_outputs());
    let row_len = m * k;
    let mut row = vec![0.0; m];
    let mut side = vec![Side::Open; m];
    for (i, phi) in phis.chunks_mut(row_len).enumerate() {
        model.prepare_row(x, first + i, &mut row);
        for tree in trees {
            for (r, &w) in bg.rows.chunks(m.max(1)).zip(&bg.weights) {
                if w == 0.0 {
                    continue;
                }
                let mut walk = Walk {
                    tree,
                    rules: model.rules(),
                    x: &row,
                    r,
                    side: &mut side,
                    from_x: Vec::new(),
                    from_r: Vec::new(),
                    phi,
                    k,
                    share: w / bg.total,
                    inv_binom,
                };
                walk.node(0);
            }
        }
    }
}

/// Adds the wide `tree`'s mean leaf value over the background to `base`, leaf by leaf in node
/// order (the same sums in [`super::shap_values_with`] and [`super::expected_value`]).
pub(super) fn add_base(base: &mut [f64], tree: &Tree, rules: &SplitRules, bg: &Background) {
    let m = bg.rows.len() / bg.weights.len();
    let mut reach = vec![0.0; tree.n_nodes()];
    for (row, &w) in bg.rows.chunks(m.max(1)).zip(&bg.weights) {
        reach[tree.leaf_for(row, rules)] += w;
    }
    for (node, &w) in reach.iter().enumerate() {
        if w == 0.0 {
            continue;
        }
        let share = w / bg.total;
        for (o, v) in base[tree.output()..].iter_mut().zip(tree.leaf_value(node)) {
            *o += share * v;
        }
    }
}

/// Which row a feature's value is taken from on the current path.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Open,
    X,
    R,
}

/// One (explained row, background row) pair walking one tree.
struct Walk<'a> {
    tree: &'a Tree,
    rules: &'a SplitRules,
    x: &'a [f64],
    r: &'a [f64],
    side: &'a mut [Side],
    from_x: Vec<u32>,
    from_r: Vec<u32>,
    phi: &'a mut [f64],
    k: usize,
    /// The background row's weight over the total weight.
    share: f64,
    inv_binom: &'a InvBinomials,
}

impl Walk<'_> {
    fn node(&mut self, node: usize) {
        if self.tree.is_leaf(node) {
            self.leaf(node);
            return;
        }
        let f = self.tree.feature(node);
        let a = self.tree.next(node, self.x[f], self.rules);
        let b = self.tree.next(node, self.r[f], self.rules);
        if a == b {
            return self.node(a);
        }
        match self.side[f] {
            Side::X => self.node(a),
            Side::R => self.node(b),
            Side::Open => {
                self.side[f] = Side::X;
                self.from_x.push(f as u32);
                self.node(a);
                self.from_x.pop();
                self.side[f] = Side::R;
                self.from_r.push(f as u32);
                self.node(b);
                self.from_r.pop();
                self.side[f] = Side::Open;
            }
        }
    }

    fn leaf(&mut self, node: usize) {
        let (p, n) = (self.from_x.len(), self.from_r.len());
        if p + n == 0 {
            // Every hybrid reaches this leaf: the base value accounts for it.
            return;
        }
        let c = self.share * self.inv_binom.get(p + n, p);
        let gain = if p > 0 { c / p as f64 } else { 0.0 };
        let loss = if n > 0 { c / n as f64 } else { 0.0 };
        let out = self.tree.output();
        let value = self.tree.leaf_value(node);
        for (&f, w) in self
            .from_x
            .iter()
            .map(|f| (f, gain))
            .chain(self.from_r.iter().map(|f| (f, -loss)))
        {
            let at = f as usize * self.k + out;
            for (o, v) in self.phi[at..at + value.len()].iter_mut().zip(value) {
                *o += w * v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Layout, MAX_PATH_FEATURES};
    use crate::ensemble::{RawTree, Tree};

    /// A chain of `len` splits, node j on feature j, each with a leaf on its left.
    fn chain(len: usize) -> Tree {
        let n = 2 * len + 1;
        let mut raw = RawTree {
            left: vec![-1; n],
            right: vec![-1; n],
            feature: vec![0; n],
            threshold: vec![0.0; n],
            default_left: vec![true; n],
            cover: vec![1.0; n],
            value: vec![1.0; n],
            ..RawTree::default()
        };
        for j in 0..len {
            raw.feature[2 * j] = j as i64;
            raw.left[2 * j] = 2 * j as i64 + 1;
            raw.right[2 * j] = 2 * j as i64 + 2;
        }
        Tree::from_raw(raw, len.max(1), 1).unwrap()
    }

    #[test]
    fn only_paths_past_the_bitset_width_leave_the_fast_path() {
        assert!(Layout::build(&chain(MAX_PATH_FEATURES)).is_some());
        assert!(Layout::build(&chain(MAX_PATH_FEATURES + 1)).is_none());
        let err = Layout::new(&chain(MAX_PATH_FEATURES + 1), 3).err().unwrap();
        assert!(err.to_string().contains("tree 3"), "{err}");
    }

    #[test]
    fn inverse_binomials_are_exact_for_small_rows() {
        let t = super::InvBinomials::new(70);
        assert_eq!(t.get(4, 2), 1.0 / 6.0);
        assert_eq!(t.get(70, 0), 1.0);
        assert!((t.get(70, 35) * 112186277816662845432.0 - 1.0).abs() < 1e-14);
    }
}
