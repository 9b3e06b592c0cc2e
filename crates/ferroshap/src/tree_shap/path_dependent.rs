//! Path-dependent ("tree_path_dependent") Tree SHAP: exact Shapley values of the value
//! function v(S) = E[f(x) | x_S], where the expectation over the features outside S follows
//! the training data's split of each node's cover between its children (Lundberg et al. 2020,
//! Algorithm 2). Computed in f64; O(leaves x depth^2) per tree and row.

use ndarray::{Array3, ArrayView2};
use rayon::prelude::*;

use super::ShapValues;
use crate::Scalar;
use crate::ensemble::{SplitRules, Tree, TreeEnsemble};
use crate::error::Result;
use crate::parallel::ROW_BLOCK;

/// Below this many rows the work is split over blocks of trees instead of rows.
const FEW_ROWS: usize = 64;
/// Trees per unit of work when splitting over trees.
const TREE_BLOCK: usize = 16;

/// Path-dependent SHAP values of every row of `x` (any memory layout, f32 or f64).
///
/// Returns values of shape `(n_rows, n_features, n_outputs)` and the base value per output.
/// Parallel over rows (or over blocks of trees for small batches); the result does not depend
/// on the number of threads.
pub fn shap_values<F: Scalar>(model: &TreeEnsemble, x: ArrayView2<'_, F>) -> Result<ShapValues> {
    model.check_features(x.ncols())?;
    let (n, m, k) = (x.nrows(), model.n_features(), model.n_outputs());
    let row_len = m * k;
    let mut values = Array3::<f64>::zeros((n, m, k));
    let out = values.as_slice_mut().expect("fresh array is contiguous");
    let trees = model.trees();

    if n >= FEW_ROWS || trees.len() <= TREE_BLOCK {
        out.par_chunks_mut(ROW_BLOCK * row_len.max(1))
            .enumerate()
            .for_each(|(block, chunk)| {
                let mut buf = vec![0.0; m];
                let mut work = Workspace::new(model);
                for (r, phi) in chunk.chunks_mut(row_len.max(1)).enumerate() {
                    model.prepare_row(&x, block * ROW_BLOCK + r, &mut buf);
                    for tree in trees {
                        work.explain_tree(tree, model.rules(), &buf, phi, k);
                    }
                }
            });
    } else {
        // Few rows: every block of trees explains all rows, then blocks are added in order.
        let partials: Vec<Vec<f64>> = trees
            .par_chunks(TREE_BLOCK)
            .map(|block| {
                let mut part = vec![0.0; n * row_len];
                let mut buf = vec![0.0; m];
                let mut work = Workspace::new(model);
                for (r, phi) in part.chunks_mut(row_len.max(1)).enumerate() {
                    model.prepare_row(&x, r, &mut buf);
                    for tree in block {
                        work.explain_tree(tree, model.rules(), &buf, phi, k);
                    }
                }
                part
            })
            .collect();
        for part in partials {
            for (o, p) in out.iter_mut().zip(part) {
                *o += p;
            }
        }
    }
    Ok(ShapValues {
        values,
        base_values: model.expected_value(),
    })
}

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
struct Workspace {
    path: Vec<PathElement>,
}

impl Workspace {
    fn new(model: &TreeEnsemble) -> Workspace {
        let d = model.max_depth() + 2;
        Workspace {
            path: vec![PathElement::default(); d * (d + 1) / 2 + 1],
        }
    }

    fn explain_tree(
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
