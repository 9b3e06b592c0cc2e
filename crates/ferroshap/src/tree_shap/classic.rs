//! The classic path-dependent Tree SHAP recursion (Lundberg et al. 2020, Algorithm 2):
//! O(leaves x depth^2) per tree and row. Kept as an independent reference for the faster
//! quadrature pass, which tests check against it on trees too large for brute force.

use crate::ensemble::{SplitRules, Tree, TreeEnsemble};

#[derive(Clone, Copy, Default)]
struct PathElement {
    feature: u32,
    /// Fraction of the paths through this element when its feature is unknown.
    zero: f64,
    /// 1 when x follows this element's branch, 0 otherwise.
    one: f64,
    /// Weight of the subsets of a given size, as maintained by `extend` / `unwind`.
    pweight: f64,
}

const NO_FEATURE: u32 = u32::MAX;

/// Scratch space for one thread: the stack of unique paths, one segment per depth.
pub(crate) struct Workspace {
    path: Vec<PathElement>,
}

impl Workspace {
    pub(crate) fn new(model: &TreeEnsemble) -> Workspace {
        let d = model.max_depth() + 2;
        Workspace {
            path: vec![PathElement::default(); d * (d + 1) / 2 + 1],
        }
    }

    pub(crate) fn explain_tree(
        &mut self,
        tree: &Tree,
        rules: &SplitRules,
        row: &[f64],
        phi: &mut [f64],
        k: usize,
    ) {
        let mut walk = Walk {
            tree,
            rules,
            row,
            phi,
            k,
            path: &mut self.path,
        };
        walk.recurse(0, 0, 0, 1.0, 1.0, NO_FEATURE);
    }
}

struct Walk<'a> {
    tree: &'a Tree,
    rules: &'a SplitRules,
    row: &'a [f64],
    phi: &'a mut [f64],
    k: usize,
    path: &'a mut [PathElement],
}

impl Walk<'_> {
    /// Visits `node`, whose parent's unique path occupies `path[parent_off..parent_off + parent_len]`.
    fn recurse(
        &mut self,
        node: usize,
        parent_off: usize,
        parent_len: usize,
        zero: f64,
        one: f64,
        feature: u32,
    ) {
        let off = parent_off + parent_len;
        self.path.copy_within(parent_off..off, off);
        let mut len = parent_len + 1;
        extend(&mut self.path[off..off + len], zero, one, feature);

        let tree = self.tree;
        if tree.is_leaf(node) {
            let seg = &self.path[off..off + len];
            let value = tree.leaf_value(node);
            for i in 1..len {
                let el = seg[i];
                let w = unwound_sum(seg, i) * (el.one - el.zero);
                let base = el.feature as usize * self.k + tree.output();
                for (p, v) in self.phi[base..base + value.len()].iter_mut().zip(value) {
                    *p += w * v;
                }
            }
            return;
        }

        let split = tree.feature(node);
        let hot = tree.next(node, self.row[split], self.rules);
        let (l, r) = tree.children(node);
        let cold = if hot == l { r } else { l };

        // A feature met again on the path: undo its earlier element and fold its fractions in.
        let (mut in_zero, mut in_one) = (1.0, 1.0);
        if let Some(i) = (1..len).find(|&i| self.path[off + i].feature == split as u32) {
            in_zero = self.path[off + i].zero;
            in_one = self.path[off + i].one;
            unwind(&mut self.path[off..off + len], i);
            len -= 1;
        }
        let hot_zero = in_zero * tree.cover_ratio(hot);
        let cold_zero = in_zero * tree.cover_ratio(cold);
        // A branch with both fractions zero carries no weight: skip it (and avoid 0/0).
        if hot_zero != 0.0 || in_one != 0.0 {
            self.recurse(hot, off, len, hot_zero, in_one, split as u32);
        }
        if cold_zero != 0.0 {
            self.recurse(cold, off, len, cold_zero, 0.0, split as u32);
        }
    }
}

/// Appends an element to the path `p[..n-1]`, updating the subset-size weights; `p` has
/// length n after the call's element is written at `n-1`.
#[inline]
fn extend(p: &mut [PathElement], zero: f64, one: f64, feature: u32) {
    let d = p.len() - 1;
    p[d] = PathElement {
        feature,
        zero,
        one,
        pweight: if d == 0 { 1.0 } else { 0.0 },
    };
    let scale = 1.0 / (d + 1) as f64;
    for i in (0..d).rev() {
        p[i + 1].pweight += one * p[i].pweight * (i + 1) as f64 * scale;
        p[i].pweight = zero * p[i].pweight * (d - i) as f64 * scale;
    }
}

/// Removes element `i` from the path, undoing its `extend`.
#[inline]
fn unwind(p: &mut [PathElement], i: usize) {
    let d = p.len() - 1;
    let (one, zero) = (p[i].one, p[i].zero);
    let mut next = p[d].pweight;
    for j in (0..d).rev() {
        if one != 0.0 {
            let tmp = p[j].pweight;
            p[j].pweight = next * (d + 1) as f64 / ((j + 1) as f64 * one);
            next = tmp - p[j].pweight * zero * (d - j) as f64 / (d + 1) as f64;
        } else {
            p[j].pweight = p[j].pweight * (d + 1) as f64 / (zero * (d - j) as f64);
        }
    }
    for j in i..d {
        p[j].feature = p[j + 1].feature;
        p[j].zero = p[j + 1].zero;
        p[j].one = p[j + 1].one;
    }
}

/// Total weight of the path with element `i` unwound, without modifying the path.
#[inline]
fn unwound_sum(p: &[PathElement], i: usize) -> f64 {
    let d = p.len() - 1;
    let (one, zero) = (p[i].one, p[i].zero);
    let mut total = 0.0;
    if one != 0.0 {
        let mut next = p[d].pweight;
        for j in (0..d).rev() {
            let tmp = next / ((j + 1) as f64 * one);
            total += tmp;
            next = p[j].pweight - tmp * zero * (d - j) as f64;
        }
    } else {
        for j in (0..d).rev() {
            total += p[j].pweight / (zero * (d - j) as f64);
        }
    }
    total * (d + 1) as f64
}
