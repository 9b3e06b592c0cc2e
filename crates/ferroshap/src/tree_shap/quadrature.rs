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

use crate::ensemble::{SplitRules, Tree};

/// Most quadrature points used: exact for trees up to depth 2 x 64 (deeper trees go to the
/// classic recursion).
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

/// What the pass needs about one tree, computed once per call.
pub(crate) struct PreparedTree {
    rule: GaussLegendre,
    /// Per node: its split feature appears again somewhere below it.
    repeats_below: Vec<bool>,
    depth: usize,
}

impl PreparedTree {
    pub(crate) fn new(tree: &Tree) -> PreparedTree {
        let n = tree.n_nodes();
        let mut repeats_below = vec![false; n];
        // Walk every root-to-node path keeping the ancestors; mark an ancestor when its
        // feature reappears. Paths are at most `max_depth` long.
        let mut path: Vec<usize> = Vec::new();
        let mut stack = vec![(0usize, 0usize)];
        while let Some((node, depth)) = stack.pop() {
            path.truncate(depth);
            if tree.is_leaf(node) {
                continue;
            }
            let f = tree.feature(node);
            for &a in &path {
                if tree.feature(a) == f {
                    repeats_below[a] = true;
                }
            }
            path.push(node);
            let (l, r) = tree.children(node);
            stack.push((r, depth + 1));
            stack.push((l, depth + 1));
        }
        let depth = tree.max_depth();
        let rule = GaussLegendre::new(depth.div_ceil(2).max(1));
        PreparedTree {
            rule,
            repeats_below,
            depth,
        }
    }
}

/// Per-thread scratch space, sized for the largest tree and the model's feature count.
pub(crate) struct Workspace {
    /// Per feature: merged `o` and `z` of the conditions on the current path (1, 1 if none).
    one: Vec<f64>,
    zero: Vec<f64>,
    seen: Vec<u32>,
    /// Per feature, Q x W: leaf sums below later occurrences, to subtract at the earlier one.
    acc: Vec<f64>,
    /// Per depth: P (Q values), w_q / f for the credit (Q), S (Q x W), saved acc (Q x W).
    p: Vec<f64>,
    credit: Vec<f64>,
    s: Vec<f64>,
    saved: Vec<f64>,
    qw_max: usize,
    q_max: usize,
}

impl Workspace {
    pub(crate) fn new(n_features: usize, max_depth: usize, leaf_width: usize) -> Workspace {
        let q_max = max_depth.div_ceil(2).max(1);
        let qw_max = q_max * leaf_width;
        let levels = max_depth + 2;
        Workspace {
            one: vec![1.0; n_features],
            zero: vec![1.0; n_features],
            seen: vec![0; n_features],
            acc: vec![0.0; n_features * qw_max],
            p: vec![0.0; levels * q_max],
            credit: vec![0.0; levels * q_max],
            s: vec![0.0; levels * qw_max],
            saved: vec![0.0; levels * qw_max],
            qw_max,
            q_max,
        }
    }

    /// Adds this tree's SHAP values for one prepared row to `phi` (n_features x k).
    pub(crate) fn explain_tree(
        &mut self,
        tree: &Tree,
        prepared: &PreparedTree,
        rules: &SplitRules,
        row: &[f64],
        phi: &mut [f64],
        k: usize,
    ) {
        debug_assert!(prepared.depth.div_ceil(2).max(1) <= self.q_max);
        let q = prepared.rule.nodes.len();
        self.p[..q].fill(1.0);
        let mut pass = Pass {
            ws: self,
            tree,
            prepared,
            rules,
            row,
            phi,
            k,
            q,
            w: tree.leaf_width,
        };
        pass.visit(0, 0);
    }
}

struct Pass<'a> {
    ws: &'a mut Workspace,
    tree: &'a Tree,
    prepared: &'a PreparedTree,
    rules: &'a SplitRules,
    row: &'a [f64],
    phi: &'a mut [f64],
    k: usize,
    q: usize,
    w: usize,
}

impl Pass<'_> {
    /// On entry the level-`d` P holds the product for `node`; on return the level-`d` S holds
    /// the sum of v * P over the leaves below `node`.
    fn visit(&mut self, node: usize, d: usize) {
        let (q, w) = (self.q, self.w);
        let qw = q * w;
        let (qm, qwm) = (self.ws.q_max, self.ws.qw_max);
        let tree = self.tree;
        let s_at = d * qwm;
        if tree.is_leaf(node) {
            let value = tree.leaf_value(node);
            let p = &self.ws.p[d * qm..d * qm + q];
            let s = &mut self.ws.s[s_at..s_at + qw];
            if w == 1 {
                let v = value[0];
                for (s, p) in s.iter_mut().zip(p) {
                    *s = v * p;
                }
            } else {
                for (s_q, p) in s.chunks_exact_mut(w).zip(p) {
                    for (s, v) in s_q.iter_mut().zip(value) {
                        *s = v * p;
                    }
                }
            }
            return;
        }
        let feature = tree.feature(node);
        let hot = tree.next(node, self.row[feature], self.rules);
        let (o_old, z_old) = (self.ws.one[feature], self.ws.zero[feature]);
        let had = self.ws.seen[feature] > 0;
        let repeats = self.prepared.repeats_below[node];
        let (l, r) = tree.children(node);
        let mut first = true;
        for child in [l, r] {
            let o_c = if child == hot { o_old } else { 0.0 };
            let z_c = z_old * tree.cover_ratio(child);
            if o_c == 0.0 && z_c == 0.0 {
                continue; // no subset reaches this child: it adds nothing
            }
            self.descend(child, d, feature, (o_old, z_old), (o_c, z_c), had, repeats);
            // Fold the child's leaf sums into this node's.
            let (parent_s, child_s) = self.ws.s.split_at_mut(s_at + qwm);
            let (parent_s, child_s) = (&mut parent_s[s_at..s_at + qw], &child_s[..qw]);
            if first {
                // Element-wise: these slices hold a handful of values, too few for memcpy.
                for (a, b) in parent_s.iter_mut().zip(child_s) {
                    *a = *b;
                }
            } else {
                for (a, b) in parent_s.iter_mut().zip(child_s) {
                    *a += b;
                }
            }
            first = false;
        }
        if first {
            self.ws.s[s_at..s_at + qw].fill(0.0);
        }
        if had {
            let acc_at = feature * qwm;
            let (acc, s) = (
                &mut self.ws.acc[acc_at..acc_at + qw],
                &self.ws.s[s_at..s_at + qw],
            );
            for (a, b) in acc.iter_mut().zip(s) {
                *a += b;
            }
        }
    }

    /// Visits `child` of a node at depth `d` splitting on `feature`, whose merged condition
    /// goes from `old` to `new` (o, z), and credits the feature with the child's leaves.
    #[allow(clippy::too_many_arguments)]
    fn descend(
        &mut self,
        child: usize,
        d: usize,
        feature: usize,
        old: (f64, f64),
        new: (f64, f64),
        had: bool,
        repeats: bool,
    ) {
        let (q, w) = (self.q, self.w);
        let qw = q * w;
        let (qm, qwm) = (self.ws.q_max, self.ws.qw_max);
        let nodes = &self.prepared.rule.nodes[..q];
        let weights = &self.prepared.rule.weights[..q];
        let (o_old, z_old) = old;
        let (o_c, z_c) = new;
        {
            // P for the child, and w_q / f(p_q) kept at this level for the credit below.
            let (parent_p, child_p) = self.ws.p.split_at_mut((d + 1) * qm);
            let parent_p = &parent_p[d * qm..d * qm + q];
            let child_p = &mut child_p[..q];
            let credit = &mut self.ws.credit[d * qm..d * qm + q];
            for j in 0..q {
                let p = nodes[j];
                let f_c = p * o_c + (1.0 - p) * z_c;
                let step = if had {
                    f_c / (p * o_old + (1.0 - p) * z_old)
                } else {
                    f_c
                };
                child_p[j] = parent_p[j] * step;
                credit[j] = weights[j] / f_c;
            }
        }
        self.ws.one[feature] = o_c;
        self.ws.zero[feature] = z_c;
        self.ws.seen[feature] += 1;
        let acc_at = feature * qwm;
        let saved_at = d * qwm;
        if repeats {
            let (acc, saved) = (&mut self.ws.acc, &mut self.ws.saved);
            saved[saved_at..saved_at + qw].copy_from_slice(&acc[acc_at..acc_at + qw]);
            acc[acc_at..acc_at + qw].fill(0.0);
        }
        self.visit(child, d + 1);
        let child_s = &self.ws.s[(d + 1) * qwm..(d + 1) * qwm + qw];
        let credit = &self.ws.credit[d * qm..d * qm + q];
        let coef = o_c - z_c;
        let phi_at = feature * self.k + self.tree.output;
        if repeats {
            let acc = &self.ws.acc[acc_at..acc_at + qw];
            for c in 0..w {
                let mut total = 0.0;
                for j in 0..q {
                    total += credit[j] * (child_s[j * w + c] - acc[j * w + c]);
                }
                self.phi[phi_at + c] += coef * total;
            }
            let (acc, saved) = (&mut self.ws.acc, &self.ws.saved);
            acc[acc_at..acc_at + qw].copy_from_slice(&saved[saved_at..saved_at + qw]);
        } else if w == 1 {
            let total: f64 = credit.iter().zip(child_s).map(|(a, b)| a * b).sum();
            self.phi[phi_at] += coef * total;
        } else {
            for c in 0..w {
                let mut total = 0.0;
                for j in 0..q {
                    total += credit[j] * child_s[j * w + c];
                }
                self.phi[phi_at + c] += coef * total;
            }
        }
        self.ws.one[feature] = o_old;
        self.ws.zero[feature] = z_old;
        self.ws.seen[feature] -= 1;
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
