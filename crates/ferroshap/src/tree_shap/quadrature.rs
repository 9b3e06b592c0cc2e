//! Path-dependent Tree SHAP in O(nodes x Q) per tree and row, exact by Gauss–Legendre
//! quadrature.
//!
//! For one leaf with value v, let U be the distinct features on its path. For feature j in U,
//! `o_j` is 1 when the row satisfies every condition on j along the path (else 0) and `z_j` is
//! the product of the cover ratios of those conditions. The leaf adds `v * prod_{j in S} o_j *
//! prod_{j in U \ S} z_j` to v(S), a product game whose Shapley values are, by the Beta
//! integral `|S|! (n-|S|-1)! / n! = int_0^1 p^|S| (1-p)^(n-1-|S|) dp`,
//!
//! `phi_i = v (o_i - z_i) int_0^1 prod_{j in U, j != i} (p o_j + (1 - p) z_j) dp`.
//!
//! The integrand is a polynomial of degree |U| - 1 < depth, so Gauss–Legendre quadrature with
//! `ceil(depth / 2)` points is exact. Writing `f_j(p) = p o_j + (1-p) z_j` and `P = prod_j f_j`,
//! the leaf's share for feature i is `v (o_i - z_i) sum_q w_q P(p_q) / f_i(p_q)`, so per split
//! node the contributions of all leaves below one child can be added up first: a single
//! depth-first pass carries `P` down and the leaf sums `S = sum v P` up, and each split adds
//! `(o - z) sum_q w_q S_q / f(p_q)` for its feature. A feature met again deeper on a path
//! merges its conditions (o and z multiply); the leaves below the deeper split are credited
//! there with the merged factor and subtracted from the shallower split's sum.
//!
//! This module holds the quadrature rule and the per-tree tables; the `lanes` module runs
//! the pass over a block of rows at once, the `single_row` module over one row.

use crate::ensemble::Tree;

/// Most quadrature points used: exact for paths with up to 2 x 128 distinct features. Longer
/// paths are refused: the classic recursion, the only alternative, loses all accuracy there
/// (its unwinding divides by path weights that vanish with depth).
pub(crate) const MAX_POINTS: usize = 128;

/// Gauss–Legendre nodes and weights on [0, 1].
#[derive(Debug, Clone)]
pub(crate) struct GaussLegendre {
    pub(crate) nodes: Vec<f64>,
    pub(crate) weights: Vec<f64>,
}

impl GaussLegendre {
    /// The rule with `n` points, exact for polynomials of degree up to `2n - 1`.
    pub(crate) fn new(n: usize) -> GaussLegendre {
        let mut nodes = vec![0.0; n];
        let mut weights = vec![0.0; n];
        for k in 0..n.div_ceil(2) {
            // Newton's method on P_n from the classical initial guess.
            let mut x = (std::f64::consts::PI * (k as f64 + 0.75) / (n as f64 + 0.5)).cos();
            let mut derivative = 1.0;
            for _ in 0..100 {
                let (p, dp) = legendre(n, x);
                derivative = dp;
                let step = p / dp;
                x -= step;
                if step.abs() < 1e-16 {
                    let (_, dp) = legendre(n, x);
                    derivative = dp;
                    break;
                }
            }
            let w = 2.0 / ((1.0 - x * x) * derivative * derivative);
            // Map [-1, 1] to [0, 1]: p = (1 + x) / 2, weight halves.
            nodes[k] = (1.0 - x) / 2.0;
            nodes[n - 1 - k] = (1.0 + x) / 2.0;
            weights[k] = w / 2.0;
            weights[n - 1 - k] = w / 2.0;
        }
        GaussLegendre { nodes, weights }
    }
}

/// P_n(x) and P_n'(x) by the three-term recurrence.
fn legendre(n: usize, x: f64) -> (f64, f64) {
    let (mut p0, mut p1) = (1.0, x);
    if n == 0 {
        return (1.0, 0.0);
    }
    for k in 2..=n {
        let p2 = ((2 * k - 1) as f64 * x * p1 - (k - 1) as f64 * p0) / k as f64;
        p0 = p1;
        p1 = p2;
    }
    let dp = n as f64 * (x * p1 - p0) / (x * x - 1.0);
    (p1, dp)
}

/// Point counts with a compiled kernel (see the `lanes` module). A tree that needs `q` points
/// uses the smallest count `>= q`: a rule with more points than needed is still exact.
pub(crate) const POINT_COUNTS: [usize; 15] =
    [1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 24, 32, 64, 96, MAX_POINTS];

/// Evaluates `$body` with the constant `$q` set to `$points`, which must be one of
/// [`POINT_COUNTS`]: how a walk picks its kernel compiled for a tree's point count.
macro_rules! with_point_count {
    ($points:expr, $q:ident => $body:expr) => {
        match $points {
            1 => {
                const $q: usize = 1;
                $body
            }
            2 => {
                const $q: usize = 2;
                $body
            }
            3 => {
                const $q: usize = 3;
                $body
            }
            4 => {
                const $q: usize = 4;
                $body
            }
            5 => {
                const $q: usize = 5;
                $body
            }
            6 => {
                const $q: usize = 6;
                $body
            }
            7 => {
                const $q: usize = 7;
                $body
            }
            8 => {
                const $q: usize = 8;
                $body
            }
            12 => {
                const $q: usize = 12;
                $body
            }
            16 => {
                const $q: usize = 16;
                $body
            }
            24 => {
                const $q: usize = 24;
                $body
            }
            32 => {
                const $q: usize = 32;
                $body
            }
            64 => {
                const $q: usize = 64;
                $body
            }
            96 => {
                const $q: usize = 96;
                $body
            }
            128 => {
                const $q: usize = 128;
                $body
            }
            q => unreachable!("no kernel for {q} quadrature points"),
        }
    };
}
pub(crate) use with_point_count;

/// The compiled point count used for a tree that needs `needed` points (`None` beyond
/// [`MAX_POINTS`]).
pub(crate) fn point_count(needed: usize) -> Option<usize> {
    POINT_COUNTS.iter().copied().find(|&c| c >= needed)
}

/// What the pass needs about one tree, computed once per model (see
/// `TreeEnsemble::path_dependent_tables`).
///
/// Every node has one path from the root, so the merged cover fraction `z` of the feature
/// split on just above it (the product of the cover ratios of every condition on that feature
/// along the path) is fixed by the tree, and so is everything the pass derives from it per
/// quadrature point. The pass reads these instead of dividing per node and row.
#[derive(Debug)]
pub(crate) struct PreparedTree {
    rule: GaussLegendre,
    /// Per node: its split feature appears again somewhere below it.
    repeats_below: Vec<bool>,
    /// Per node (not the root): `z` of the parent's split feature after the edge into it.
    zero: Vec<f64>,
    /// Per node: `z` after the edge over `z` before it (0 when that is 0).
    zero_ratio: Vec<f64>,
    /// Per node x point: `1 / (p + (1 - p) z)`, the inverse factor of a row with `o = 1`.
    inv_one: Vec<f64>,
}

impl PreparedTree {
    /// Number of quadrature points for this tree.
    #[inline]
    pub(crate) fn points(&self) -> usize {
        self.rule.nodes.len()
    }

    /// The quadrature rule.
    #[inline]
    pub(crate) fn rule(&self) -> &GaussLegendre {
        &self.rule
    }

    /// Whether the split feature of `node` appears again below it.
    #[inline]
    pub(crate) fn repeats_below(&self, node: usize) -> bool {
        self.repeats_below[node]
    }

    /// Merged cover fraction of the parent's split feature on the path into `node`.
    #[inline]
    pub(crate) fn zero(&self, node: usize) -> f64 {
        self.zero[node]
    }

    /// [`Self::zero`] of `node` over its value above the parent's split.
    #[inline]
    pub(crate) fn zero_ratio(&self, node: usize) -> f64 {
        self.zero_ratio[node]
    }

    /// `1 / (p_q + (1 - p_q) z)` for `node`'s `z`, per point (`points()` of them).
    #[inline]
    pub(crate) fn inv_one(&self, node: usize) -> &[f64] {
        let q = self.points();
        &self.inv_one[node * q..(node + 1) * q]
    }

    /// Bytes held by the tables.
    pub(crate) fn size_bytes(&self) -> usize {
        let f = std::mem::size_of::<f64>();
        self.repeats_below.len()
            + (self.zero.len() + self.zero_ratio.len() + self.inv_one.len()) * f
    }

    /// The tables of `tree`, or `None` when a path has more than `2 * MAX_POINTS` distinct
    /// features (the quadrature tables stop there).
    pub(crate) fn new(tree: &Tree, n_features: usize) -> Option<PreparedTree> {
        let n = tree.n_nodes();
        let mut repeats_below = vec![false; n];
        let mut zero = vec![1.0; n];
        let mut zero_ratio = vec![1.0; n];
        // Depth-first over every root-to-node path. `path` holds the ancestors' splits, each
        // with its feature's `z` before the edge taken from it, and `count` how often each
        // feature occurs there: an ancestor is marked when its feature reappears, and the
        // number of distinct features on a path bounds the degree of its leaves' integrands.
        let mut path: Vec<(usize, f64)> = Vec::new();
        let mut current = vec![1.0; n_features];
        let mut count = vec![0u32; n_features];
        let (mut distinct, mut most_distinct) = (0usize, 0usize);
        // (node, depth, parent): the parent's split is pushed on the path on the way down.
        let mut stack: Vec<(usize, usize, Option<usize>)> = vec![(0, 0, None)];
        while let Some((node, depth, parent)) = stack.pop() {
            while path.len() + 1 > depth.max(1) {
                let Some((a, before)) = path.pop() else { break };
                let f = tree.feature(a);
                current[f] = before;
                count[f] -= 1;
                if count[f] == 0 {
                    distinct -= 1;
                }
            }
            if let Some(parent) = parent {
                let f = tree.feature(parent);
                path.push((parent, current[f]));
                current[f] = zero[node];
                if count[f] == 0 {
                    distinct += 1;
                }
                count[f] += 1;
            }
            if tree.is_leaf(node) {
                most_distinct = most_distinct.max(distinct);
                continue;
            }
            let f = tree.feature(node);
            if count[f] > 0 {
                for &(a, _) in &path {
                    if tree.feature(a) == f {
                        repeats_below[a] = true;
                    }
                }
            }
            let (l, r) = tree.children(node);
            for child in [l, r] {
                let z = current[f] * tree.cover_ratio(child);
                zero[child] = z;
                zero_ratio[child] = if current[f] != 0.0 {
                    z / current[f]
                } else {
                    0.0
                };
            }
            stack.push((r, depth + 1, Some(node)));
            stack.push((l, depth + 1, Some(node)));
        }
        // A leaf with U distinct features has integrands of degree U - 1, which
        // ceil(U / 2) Gauss-Legendre points integrate exactly.
        let points = point_count(most_distinct.div_ceil(2).max(1))?;
        let rule = GaussLegendre::new(points);
        let mut inv_one = vec![0.0; n * points];
        for (node, inv) in inv_one.chunks_mut(points).enumerate() {
            for (q, v) in inv.iter_mut().enumerate() {
                let p = rule.nodes[q];
                *v = 1.0 / (p + (1.0 - p) * zero[node]);
            }
        }
        Some(PreparedTree {
            rule,
            repeats_below,
            zero,
            zero_ratio,
            inv_one,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauss_legendre_integrates_polynomials_exactly() {
        for n in (1..=20).chain([24, 32, 64, 96, MAX_POINTS]) {
            let rule = GaussLegendre::new(n);
            assert!((rule.weights.iter().sum::<f64>() - 1.0).abs() < 1e-14);
            for degree in 0..2 * n {
                let got: f64 = rule
                    .nodes
                    .iter()
                    .zip(&rule.weights)
                    .map(|(x, w)| w * x.powi(degree as i32))
                    .sum();
                let want = 1.0 / (degree as f64 + 1.0);
                assert!(
                    (got - want).abs() < 1e-14,
                    "n={n} degree={degree}: {got} vs {want}"
                );
            }
        }
    }
}
