//! Path-dependent ("tree_path_dependent") Tree SHAP: exact Shapley values of the value
//! function v(S) = E[f(x) | x_S], where the expectation over the features outside S follows
//! the training data's split of each node's cover between its children (Lundberg et al. 2020).
//!
//! [`shap_values`] runs the quadrature pass (see the `quadrature` module: O(nodes x depth/2)
//! per tree and row); [`shap_values_reference`] runs the classic O(leaves x depth^2)
//! recursion, kept as an independent check. Both compute in f64.

use ndarray::{Array3, ArrayView2};
use rayon::prelude::*;

use super::ShapValues;
use super::{block, classic, quadrature};
use crate::Scalar;
use crate::ensemble::{Tree, TreeEnsemble};
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
    if model.max_depth() > 2 * quadrature::MAX_POINTS {
        // Deeper than the quadrature tables go: the classic recursion has no depth limit.
        return shap_values_reference(model, x);
    }
    let prepared: Vec<quadrature::PreparedTree> = model
        .trees()
        .par_iter()
        .map(quadrature::PreparedTree::new)
        .collect();
    let leaf_width = model.leaf_width();
    run(
        model,
        x,
        || block::BlockWorkspace::new(model.n_features(), model.max_depth(), leaf_width, ROW_BLOCK),
        |ws, t, tree, rows, n, phi, k| {
            ws.explain_tree(tree, &prepared[t], model.rules(), rows, n, phi, k)
        },
    )
}

/// The same values by the classic recursion of Lundberg et al. (slower; a reference).
pub fn shap_values_reference<F: Scalar>(
    model: &TreeEnsemble,
    x: ArrayView2<'_, F>,
) -> Result<ShapValues> {
    run(
        model,
        x,
        || classic::Workspace::new(model),
        |ws, _, tree, rows, n, phi, k| {
            let m = model.n_features();
            let row_len = m * k;
            for r in 0..n {
                let phi = &mut phi[r * row_len..(r + 1) * row_len];
                ws.explain_tree(tree, model.rules(), &rows[r * m..(r + 1) * m], phi, k);
            }
        },
    )
}

/// Runs `explain(workspace, tree_index, tree, prepared_rows, n_rows, phi_rows, n_outputs)` over
/// every tree and block of rows; block boundaries depend only on the input sizes.
fn run<F, W, E>(
    model: &TreeEnsemble,
    x: ArrayView2<'_, F>,
    workspace: impl Fn() -> W + Sync,
    explain: E,
) -> Result<ShapValues>
where
    F: Scalar,
    E: Fn(&mut W, usize, &Tree, &[f64], usize, &mut [f64], usize) + Sync,
{
    model.check_features(x.ncols())?;
    let (n, m, k) = (x.nrows(), model.n_features(), model.n_outputs());
    let row_len = (m * k).max(1);
    let mut values = Array3::<f64>::zeros((n, m, k));
    let out = values.as_slice_mut().expect("fresh array is contiguous");
    let trees = model.trees();

    if n >= FEW_ROWS || trees.len() <= TREE_BLOCK {
        // Trees outer, rows inner: a tree's nodes stay in cache for the whole block of rows.
        out.par_chunks_mut(ROW_BLOCK * row_len)
            .enumerate()
            .for_each(|(block, chunk)| {
                let rows = chunk.len() / row_len;
                let buf = prepare_rows(model, &x, block * ROW_BLOCK, rows);
                let mut ws = workspace();
                for (t, tree) in trees.iter().enumerate() {
                    explain(&mut ws, t, tree, &buf, rows, chunk, k);
                }
            });
    } else {
        // Few rows: every block of trees explains all rows, then blocks are added in order.
        let partials: Vec<Vec<f64>> = (0..trees.len().div_ceil(TREE_BLOCK))
            .into_par_iter()
            .map(|b| {
                let first = b * TREE_BLOCK;
                let block = &trees[first..(first + TREE_BLOCK).min(trees.len())];
                let mut part = vec![0.0; n * row_len];
                let mut ws = workspace();
                for (b, chunk) in part.chunks_mut(ROW_BLOCK * row_len).enumerate() {
                    let rows = chunk.len() / row_len;
                    let buf = prepare_rows(model, &x, b * ROW_BLOCK, rows);
                    for (t, tree) in block.iter().enumerate() {
                        explain(&mut ws, first + t, tree, &buf, rows, chunk, k);
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

/// Rows `start..start + n` of `x`, read as the source library reads them, row-major.
fn prepare_rows<F: Scalar>(
    model: &TreeEnsemble,
    x: &ArrayView2<'_, F>,
    start: usize,
    n: usize,
) -> Vec<f64> {
    let m = model.n_features();
    let mut buf = vec![0.0; n * m];
    if m > 0 {
        for (r, row) in buf.chunks_mut(m).enumerate() {
            model.prepare_row(x, start + r, row);
        }
    }
    buf
}
