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
//! This module holds the quadrature rule and the per-tree tables; the `block` module runs
//! the pass over a block of rows at once.

use crate::ensemble::Tree;

/// Most quadrature points used: exact for paths with up to 2 x 64 distinct features (trees
/// with longer paths go to the classic recursion).
pub(crate) const MAX_POINTS: usize = 64;

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
pub(crate) const POINT_COUNTS: [usize; 13] = [1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 24, 32, MAX_POINTS];

/// The compiled point count used for a tree that needs `needed` points (`None` beyond
/// [`MAX_POINTS`]).
pub(crate) fn point_count(needed: usize) -> Option<usize> {
    POINT_COUNTS.iter().copied().find(|&c| c >= needed)
}

/// What the pass needs about one tree, computed once per call.
pub(crate) struct PreparedTree {
    rule: GaussLegendre,
    /// Per node: its split feature appears again somewhere below it.
    repeats_below: Vec<bool>,
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

    /// The tables of `tree`, or `None` when a path has more than `2 * MAX_POINTS` distinct
    /// features (the quadrature tables stop there).
    pub(crate) fn new(tree: &Tree, n_features: usize) -> Option<PreparedTree> {
        let n = tree.n_nodes();
        let mut repeats_below = vec![false; n];
        // Depth-first over every root-to-node path, keeping the ancestors and how often each
        // feature occurs among them: an ancestor is marked when its feature reappears, and
        // the number of distinct features on a path bounds the degree of its leaves'
        // Shapley integrands.
        let mut path: Vec<usize> = Vec::new();
        let mut count = vec![0u32; n_features];
        let (mut distinct, mut most_distinct) = (0usize, 0usize);
        let mut stack = vec![(0usize, 0usize)];
        while let Some((node, depth)) = stack.pop() {
            for a in path.drain(depth..) {
                let f = tree.feature(a);
                count[f] -= 1;
                if count[f] == 0 {
                    distinct -= 1;
                }
            }
            if tree.is_leaf(node) {
                most_distinct = most_distinct.max(distinct);
                continue;
            }
            let f = tree.feature(node);
            if count[f] > 0 {
                for &a in &path {
                    if tree.feature(a) == f {
                        repeats_below[a] = true;
                    }
                }
            } else {
                distinct += 1;
            }
            count[f] += 1;
            path.push(node);
            let (l, r) = tree.children(node);
            stack.push((r, depth + 1));
            stack.push((l, depth + 1));
        }
        // A leaf with U distinct features has integrands of degree U - 1, which
        // ceil(U / 2) Gauss-Legendre points integrate exactly.
        let points = point_count(most_distinct.div_ceil(2).max(1))?;
        Some(PreparedTree {
            rule: GaussLegendre::new(points),
            repeats_below,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauss_legendre_integrates_polynomials_exactly() {
        for n in 1..=20 {
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
