//! Kernel SHAP of a tree ensemble with the whole loop in Rust: the driver that evaluates the
//! game from the trees ([`super::tree_game`]) for every explained row, in parallel, and hands
//! the coalition values to the regression of [`super::kernel`].

use ndarray::ArrayView2;

use super::kernel::{self, KernelJob, KernelOptions, KernelValues};
use super::tree_game::PairEvaluation;
use super::tree_values::set_tree_values;
use crate::ensemble::{OutputTransform, TreeEnsemble};
use crate::error::Result;

/// Kernel SHAP values of a tree ensemble's `output` with the whole loop in Rust: the game
/// `f(x_S, r)` is evaluated per explained and background row pair as described in the module
/// docs, in parallel over rows and blocks of background rows. Designs, regression and seeds
/// are those of [`kernel::shap_values`], so the values equal that function's with the
/// ensemble's prediction as the model, up to rounding.
pub fn tree_ensemble_shap_values(
    ensemble: &TreeEnsemble,
    output: OutputTransform,
    x: ArrayView2<'_, f64>,
    background: ArrayView2<'_, f64>,
    weights: Option<&[f64]>,
    options: &KernelOptions,
    evaluation: PairEvaluation,
) -> Result<KernelValues> {
    tree_ensemble_shap_values_at(
        ensemble, output, x, background, weights, options, evaluation, 0,
    )
}

/// [`tree_ensemble_shap_values`] for rows that start at `row_offset` of a larger set: each
/// row's random stream is that of its position in the whole set, so explaining the set in
/// blocks gives the same values as explaining it at once.
pub fn tree_ensemble_shap_values_at(
    ensemble: &TreeEnsemble,
    output: OutputTransform,
    x: ArrayView2<'_, f64>,
    background: ArrayView2<'_, f64>,
    weights: Option<&[f64]>,
    options: &KernelOptions,
    evaluation: PairEvaluation,
    row_offset: u64,
) -> Result<KernelValues> {
    let predict = |rows: ArrayView2<'_, f64>| ensemble.predict(rows, output);
    ensemble.check_features(x.ncols())?;
    let null_out = predict(background)?;
    let n_bg = background.nrows();
    let uniform;
    let w = match weights {
        Some(w) => w,
        None => {
            uniform = vec![1.0; n_bg];
            &uniform
        }
    };
    let total: f64 = w.iter().sum();
    let fnull: Vec<f64> = (0..null_out.ncols())
        .map(|o| {
            w.iter()
                .zip(null_out.column(o))
                .map(|(wi, yi)| wi / total * yi)
                .sum()
        })
        .collect();
    let mut job = KernelJob::new(x, background, Some(w), &fnull, options, row_offset)?;
    let fx = predict(x)?;
    if !set_tree_values(&mut job, ensemble, output, evaluation)? {
        return kernel::shap_values(predict, x, background, weights, options, 1 << 16);
    }
    job.finish(fx.view())
}
