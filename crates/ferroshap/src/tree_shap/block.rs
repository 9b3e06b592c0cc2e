//! The quadrature pass (see the `quadrature` module) over a block of rows at once.
//!
//! In path-dependent Tree SHAP every row visits every node of a tree (both children of every
//! split are followed), and everything that depends on the tree's structure (covers, which
//! features repeat along a path) is the same for all rows. Only whether a row goes left or
//! right differs. So one depth-first walk serves a whole block of rows: each node's work is a
//! few loops over (quadrature point x row) that the compiler vectorises, and the walk's own
//! cost is shared by the block.
//!
//! Storage per level of the walk, laid out `[point][output][row]` so that rows are innermost:
//! P (the product of the factors of the path's features), the credit weights `w_q / f(p_q)`,
//! S (the sum of v * P over the leaves below), and A (for a split whose feature appears again
//! below: the leaf sums credited at those deeper splits, which this one must not count again).

use super::quadrature::PreparedTree;
use crate::ensemble::{SplitRules, Tree};

/// Most rows in one block.
pub(crate) const MAX_ROWS: usize = 64;

/// No ancestor split on this feature.
const NONE: usize = usize::MAX;

/// Per-thread scratch space for blocks of up to `rows` rows.
pub(crate) struct BlockWorkspace {
    rows: usize,
    q_max: usize,
    width: usize,
    /// Per feature: level of the deepest ancestor split on it (NONE if none).
    last_level: Vec<usize>,
    /// Per feature: the merged z of its conditions on the current path.
    zero: Vec<f64>,
    /// Per feature x row: the merged o of its conditions on the current path.
    one: Vec<f64>,
    /// Per level x row: o before this level's split (to restore), and o of the child.
    old_one: Vec<f64>,
    child_one: Vec<f64>,
    /// Per level x row: 1 when the row goes left at this level's split.
    left: Vec<bool>,
    p: Vec<f64>,
    credit: Vec<f64>,
    s: Vec<f64>,
    a: Vec<f64>,
}

impl BlockWorkspace {
    pub(crate) fn new(
        n_features: usize,
        max_depth: usize,
        leaf_width: usize,
        rows: usize,
    ) -> BlockWorkspace {
        let q_max = max_depth.div_ceil(2).max(1);
        let levels = max_depth + 2;
        let qr = q_max * rows;
        let qwr = qr * leaf_width;
        BlockWorkspace {
            rows,
            q_max,
            width: leaf_width,
            last_level: vec![NONE; n_features],
            zero: vec![1.0; n_features],
            one: vec![1.0; n_features * rows],
            old_one: vec![0.0; levels * rows],
            child_one: vec![0.0; levels * rows],
            left: vec![false; levels * rows],
            p: vec![0.0; levels * qr],
            credit: vec![0.0; levels * qr],
            s: vec![0.0; levels * qwr],
            a: vec![0.0; levels * qwr],
        }
    }

    /// Adds one tree's SHAP values for a block of prepared rows (`rows` is `n x n_features`,
    /// row-major) to `phi` (`n x n_features x k`, row-major).
    pub(crate) fn explain_tree(
        &mut self,
        tree: &Tree,
        prepared: &PreparedTree,
        rules: &SplitRules,
        rows: &[f64],
        n: usize,
        phi: &mut [f64],
        k: usize,
    ) {
        assert!(n <= self.rows && n <= MAX_ROWS && prepared.points() <= self.q_max);
        let q = prepared.points();
        let m = self.last_level.len();
        self.p[..q * self.rows].fill(1.0);
        let mut walk = Walk {
            ws: self,
            tree,
            prepared,
            rules,
            x: rows,
            n,
            m,
            phi,
            k,
            q,
        };
        walk.visit(0, 0);
    }
}

struct Walk<'a> {
    ws: &'a mut BlockWorkspace,
    tree: &'a Tree,
    prepared: &'a PreparedTree,
    rules: &'a SplitRules,
    x: &'a [f64],
    n: usize,
    m: usize,
    phi: &'a mut [f64],
    k: usize,
    q: usize,
}

impl Walk<'_> {
    /// Strides of one level's P/credit and S/A blocks.
    #[inline]
    fn strides(&self) -> (usize, usize) {
        let qr = self.ws.q_max * self.ws.rows;
        (qr, qr * self.ws.width)
    }

    /// On entry level `d` of P holds the products for `node`; on return level `d` of S holds
    /// the leaf sums below it.
    fn visit(&mut self, node: usize, d: usize) {
        let (q, n, rs) = (self.q, self.n, self.ws.rows);
        let w = self.ws.width;
        let (qr, qwr) = self.strides();
        let tree = self.tree;
        if tree.is_leaf(node) {
            let value = tree.leaf_value(node);
            let p = &self.ws.p[d * qr..(d + 1) * qr];
            let s = &mut self.ws.s[d * qwr..(d + 1) * qwr];
            for j in 0..q {
                let p_j = &p[j * rs..j * rs + n];
                for (c, v) in value.iter().enumerate() {
                    let s_jc = &mut s[(j * w + c) * rs..(j * w + c) * rs + n];
                    for (s, p) in s_jc.iter_mut().zip(p_j) {
                        *s = v * p;
                    }
                }
            }
            return;
        }
        let feature = tree.feature(node);
        for r in 0..n {
            let x = self.x[r * self.m + feature];
            self.ws.left[d * rs + r] = tree.next(node, x, self.rules) == tree.children(node).0;
        }
        let ancestor = self.ws.last_level[feature];
        let repeats = self.prepared.repeats_below(node);
        let z_old = self.ws.zero[feature];
        for r in 0..n {
            self.ws.old_one[d * rs + r] = self.ws.one[feature * rs + r];
        }
        let (l, rc) = tree.children(node);
        let mut first = true;
        for (child, is_left) in [(l, true), (rc, false)] {
            let z_c = z_old * tree.cover_ratio(child);
            let mut any = z_c != 0.0;
            for r in 0..n {
                let goes = self.ws.left[d * rs + r] == is_left;
                let o = if goes {
                    self.ws.old_one[d * rs + r]
                } else {
                    0.0
                };
                self.ws.child_one[d * rs + r] = o;
                any |= o != 0.0;
            }
            if !any {
                continue; // no subset of features reaches this child for any row
            }
            self.step(d, z_old, z_c, ancestor != NONE);
            for r in 0..n {
                self.ws.one[feature * rs + r] = self.ws.child_one[d * rs + r];
            }
            self.ws.zero[feature] = z_c;
            self.ws.last_level[feature] = d;
            if repeats {
                self.ws.a[d * qwr..(d + 1) * qwr].fill(0.0);
            }
            self.visit(child, d + 1);
            self.credit_feature(d, feature, z_c, repeats);
            // Fold the child's leaf sums into this node's.
            let (parent, below) = self.ws.s.split_at_mut((d + 1) * qwr);
            let parent = &mut parent[d * qwr..];
            for jc in 0..q * w {
                let (dst, src) = (
                    &mut parent[jc * rs..jc * rs + n],
                    &below[jc * rs..jc * rs + n],
                );
                if first {
                    // Element-wise: a block row is too short for a memcpy call to pay.
                    for (a, b) in dst.iter_mut().zip(src) {
                        *a = *b;
                    }
                } else {
                    for (a, b) in dst.iter_mut().zip(src) {
                        *a += b;
                    }
                }
            }
            first = false;
            for r in 0..n {
                self.ws.one[feature * rs + r] = self.ws.old_one[d * rs + r];
            }
            self.ws.zero[feature] = z_old;
            self.ws.last_level[feature] = ancestor;
        }
        if first {
            self.ws.s[d * qwr..(d + 1) * qwr].fill(0.0);
        }
        if ancestor != NONE {
            // The nearest ancestor split on this feature must not count these leaves again.
            let above = &mut self.ws.a[..d * qwr];
            let acc = &mut above[ancestor * qwr..(ancestor + 1) * qwr];
            let s = &self.ws.s[d * qwr..(d + 1) * qwr];
            for jc in 0..q * w {
                for r in 0..n {
                    acc[jc * rs + r] += s[jc * rs + r];
                }
            }
        }
    }

    /// P for the child at level d + 1 and the credit weights at level d.
    #[inline]
    fn step(&mut self, d: usize, z_old: f64, z_c: f64, merged: bool) {
        let (q, n, rs) = (self.q, self.n, self.ws.rows);
        let (qr, _) = self.strides();
        let rule = self.prepared.rule();
        let (p_all, p_below) = self.ws.p.split_at_mut((d + 1) * qr);
        let parent = &p_all[d * qr..];
        let credit = &mut self.ws.credit[d * qr..(d + 1) * qr];
        let child_one = &self.ws.child_one[d * rs..d * rs + n];
        let old_one = &self.ws.old_one[d * rs..d * rs + n];
        for j in 0..q {
            let (p, weight) = (rule.nodes[j], rule.weights[j]);
            let (pp, cp, cr) = (
                &parent[j * rs..j * rs + n],
                &mut p_below[j * rs..j * rs + n],
                &mut credit[j * rs..j * rs + n],
            );
            for r in 0..n {
                let f_c = p * child_one[r] + (1.0 - p) * z_c;
                let step = if merged {
                    // f_old = 0: the row already cannot reach here (P is 0); keep it at 0.
                    let f_old = p * old_one[r] + (1.0 - p) * z_old;
                    if f_old != 0.0 { f_c / f_old } else { 0.0 }
                } else {
                    f_c
                };
                cp[r] = pp[r] * step;
                // f = 0 only for a row that cannot reach the child: it has no credit there.
                cr[r] = if f_c != 0.0 { weight / f_c } else { 0.0 };
            }
        }
    }

    /// phi[row, feature] += (o - z) * sum_q credit_q * (S_child - A) for each row.
    #[inline]
    fn credit_feature(&mut self, d: usize, feature: usize, z_c: f64, repeats: bool) {
        let (q, n, rs, w) = (self.q, self.n, self.ws.rows, self.ws.width);
        let (qr, qwr) = self.strides();
        let credit = &self.ws.credit[d * qr..(d + 1) * qr];
        let child_s = &self.ws.s[(d + 1) * qwr..(d + 2) * qwr];
        let a = &self.ws.a[d * qwr..(d + 1) * qwr];
        let child_one = &self.ws.child_one[d * rs..d * rs + n];
        let row_len = self.m * self.k;
        for c in 0..w {
            let mut total = [0.0f64; MAX_ROWS];
            let total = &mut total[..n];
            for j in 0..q {
                let cr = &credit[j * rs..j * rs + n];
                let sv = &child_s[(j * w + c) * rs..(j * w + c) * rs + n];
                if repeats {
                    let av = &a[(j * w + c) * rs..(j * w + c) * rs + n];
                    for r in 0..n {
                        total[r] += cr[r] * (sv[r] - av[r]);
                    }
                } else {
                    for r in 0..n {
                        total[r] += cr[r] * sv[r];
                    }
                }
            }
            let at = feature * self.k + self.tree.output() + c;
            for r in 0..n {
                self.phi[r * row_len + at] += (child_one[r] - z_c) * total[r];
            }
        }
    }
}
