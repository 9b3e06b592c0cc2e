//! Saabas values (shap's `approximate=True`, XGBoost's `approx_contribs=True`): along the
//! path a row takes through each tree, the change of the tree's expected value at every
//! split is credited to the split's feature. O(depth) per tree and row, and they add up to the
//! margin like SHAP values, but they are not Shapley values: a feature's credit depends on
//! where in the tree it is split.

use ndarray::{Array3, ArrayView2};
use rayon::prelude::*;

use super::ShapValues;
use crate::Scalar;
use crate::ensemble::{Tree, TreeEnsemble};
use crate::error::Result;
use crate::parallel::ROW_BLOCK;

/// Saabas values `(n_rows, n_features, n_outputs)` with the path-dependent base values
/// ([`TreeEnsemble::expected_value`]).
///
/// Each node's expected value is the cover-weighted mean of its leaves (covers as stored:
/// hessian sums for XGBoost, counts for LightGBM); a row moving from node `n` to child `c`
/// adds `E[c] - E[n]` to the value of `n`'s split feature. Parallel over rows; the result
/// does not depend on the thread count.
///
/// ```no_run
/// use ferroshap::{TreeEnsemble, tree_shap::saabas};
///
/// # fn main() -> ferroshap::Result<()> {
/// let model = TreeEnsemble::from_file("model.json")?;
/// let x = ndarray::array![[1.0f64, 2.0, 3.0]];
/// let approx = saabas::saabas_values(&model, x.view())?;
/// let total: f64 = approx.values.sum() + approx.base_values[0];
/// assert!((total - model.predict_margin(x.view())?[[0, 0]]).abs() < 1e-9);
/// # Ok(()) }
/// ```
pub fn saabas_values<F: Scalar>(model: &TreeEnsemble, x: ArrayView2<'_, F>) -> Result<ShapValues> {
    model.check_features(x.ncols())?;
    let (n, m, k) = (x.nrows(), model.n_features(), model.n_outputs());
    let means: Vec<Vec<f64>> = model.trees().par_iter().map(node_means).collect();
    let mut values = Array3::<f64>::zeros((n, m, k));
    let slice = values.as_slice_mut().expect("fresh array is contiguous");
    let block_len = ROW_BLOCK * m * k;
    if block_len > 0 {
        slice
            .par_chunks_mut(block_len)
            .enumerate()
            .for_each(|(block, chunk)| {
                if crate::parallel::cancelled() {
                    return;
                }
                let mut row = vec![0.0; m];
                for (r, phi) in chunk.chunks_mut(m * k).enumerate() {
                    model.prepare_row(&x, block * ROW_BLOCK + r, &mut row);
                    for (tree, mean) in model.trees().iter().zip(&means) {
                        add_tree(model, tree, mean, &row, phi, k);
                    }
                }
            });
    }
    crate::parallel::check_cancelled()?;
    Ok(ShapValues {
        values,
        base_values: model.expected_value(),
    })
}

/// Walks `row`'s path through `tree`, crediting each step's change of expected value.
fn add_tree(
    model: &TreeEnsemble,
    tree: &Tree,
    mean: &[f64],
    row: &[f64],
    phi: &mut [f64],
    k: usize,
) {
    let w = tree.leaf_width();
    let mut node = 0;
    while !tree.is_leaf(node) {
        let feature = tree.feature(node);
        let child = tree.next(node, row[feature], model.rules());
        for c in 0..w {
            phi[feature * k + tree.output() + c] += mean[child * w + c] - mean[node * w + c];
        }
        node = child;
    }
}

/// The expected value of every node (`leaf_width` per node): leaves their values, internal
/// nodes the cover-weighted mean of their children (with the same cover ratios as
/// [`Tree::expected_value`], so the root's mean is the tree's expected value).
fn node_means(tree: &Tree) -> Vec<f64> {
    let w = tree.leaf_width();
    let mut mean = vec![0.0; tree.n_nodes() * w];
    // Parents before children in `order`; filled from the end, children come first.
    let mut order = Vec::with_capacity(tree.n_nodes());
    let mut stack = vec![0usize];
    while let Some(node) = stack.pop() {
        order.push(node);
        if !tree.is_leaf(node) {
            let (l, r) = tree.children(node);
            stack.extend([l, r]);
        }
    }
    for &node in order.iter().rev() {
        if tree.is_leaf(node) {
            mean[node * w..(node + 1) * w].copy_from_slice(tree.leaf_value(node));
        } else {
            let (l, r) = tree.children(node);
            let (rl, rr) = (tree.cover_ratio(l), tree.cover_ratio(r));
            for c in 0..w {
                mean[node * w + c] = rl * mean[l * w + c] + rr * mean[r * w + c];
            }
        }
    }
    mean
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ensemble::{EnsembleSpec, Link, RawTree, SplitRules};
    use ndarray::array;

    /// x0 <= 0.5 ? (x1 <= 0.5 ? 1 : 3) : 10, covers 10 = 6 (4 + 2) + 4.
    fn model() -> TreeEnsemble {
        let raw = RawTree {
            left: vec![1, 3, -1, -1, -1],
            right: vec![2, 4, -1, -1, -1],
            feature: vec![0, 1, 0, 0, 0],
            threshold: vec![0.5, 0.5, 0.0, 0.0, 0.0],
            default_left: vec![true; 5],
            cover: vec![10.0, 6.0, 4.0, 4.0, 2.0],
            value: vec![0.0, 0.0, 10.0, 1.0, 3.0],
            ..RawTree::default()
        };
        TreeEnsemble::new(
            EnsembleSpec {
                n_features: 2,
                n_outputs: 1,
                leaf_width: 1,
                base_offset: vec![0.25],
                rules: SplitRules::LIGHTGBM,
                link: Link::Identity,
                objective: String::new(),
                feature_names: None,
                categorical_features: Vec::new(),
            },
            vec![raw],
        )
        .unwrap()
    }

    #[test]
    fn credits_each_step_of_the_path_and_adds_up() {
        let m = model();
        let x = array![[0.0f64, 1.0], [1.0, 0.0]];
        let s = saabas_values(&m, x.view()).unwrap();
        // E[root] = 0.6 * (4/6 * 1 + 2/6 * 3) + 0.4 * 10 = 5.0; E[node 1] = 5/3.
        assert!((s.base_values[0] - (0.25 + 5.0)).abs() < 1e-12);
        assert!((s.values[[0, 0, 0]] - (5.0 / 3.0 - 5.0)).abs() < 1e-12);
        assert!((s.values[[0, 1, 0]] - (3.0 - 5.0 / 3.0)).abs() < 1e-12);
        assert!((s.values[[1, 0, 0]] - 5.0).abs() < 1e-12);
        assert_eq!(s.values[[1, 1, 0]], 0.0);
        let margin = m.predict_margin(x.view()).unwrap();
        for r in 0..2 {
            let total: f64 = s.values.slice(ndarray::s![r, .., 0]).sum();
            assert!((total + s.base_values[0] - margin[[r, 0]]).abs() < 1e-12);
        }
    }
}
