//! Kernel SHAP of a tree ensemble with the whole loop in Rust: the model's output (margin, or
//! the margin through the library's sigmoid, softmax or exp) and the driver that evaluates the
//! game from the trees ([`super::tree_game`]) for every explained row, in parallel, and hands
//! the coalition values to the regression of [`super::kernel`].

use ndarray::{Array2, ArrayView2};

use super::kernel::{self, KernelJob, KernelOptions, KernelValues};
use super::tree_game::PairEvaluation;
use super::tree_values::set_tree_values;
use crate::ensemble::TreeEnsemble;
use crate::error::Result;
use crate::tree_shap::model_output::OutputTransform;

/// Which model output the game is over, computed from the ensemble's margins `m`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TreeOutput {
    /// The margins themselves (raw scores, `decision_function`).
    Margin,
    /// `1 / (1 + exp(−m))` for each output (binary probability as one column).
    Logistic,
    /// A single margin as two columns `(1 − p, p)`, `p = 1 / (1 + exp(−m))` (scikit-learn's,
    /// XGBoost's and LightGBM's `predict_proba` for binary classifiers).
    LogisticPair,
    /// Softmax over the outputs (multi-class `predict_proba`).
    Softmax,
    /// `exp(m)` for each output (log-link regression's `predict`).
    Exp,
}

impl TreeOutput {
    /// Number of values per row for an ensemble with `n_margins` outputs.
    pub fn n_outputs(self, n_margins: usize) -> usize {
        match self {
            TreeOutput::LogisticPair => 2,
            _ => n_margins,
        }
    }

    /// Whether the output is a linear function of the margins.
    pub(crate) fn is_linear(self) -> bool {
        self == TreeOutput::Margin
    }

    /// Writes the output for margins `m` into `out` (`n_outputs(m.len())` values): the
    /// transforms of interventional Tree SHAP's model outputs, plus the two-column binary
    /// probabilities.
    #[inline]
    pub fn apply(self, m: &[f64], out: &mut [f64]) {
        let transform = match self {
            TreeOutput::Margin => {
                out.copy_from_slice(m);
                return;
            }
            TreeOutput::LogisticPair => {
                let mut p = [0.0];
                OutputTransform::Logistic { scale: 1.0 }.apply(&m[..1], 0.0, &mut p);
                out[0] = 1.0 - p[0];
                out[1] = p[0];
                return;
            }
            TreeOutput::Logistic => OutputTransform::Logistic { scale: 1.0 },
            TreeOutput::Softmax => OutputTransform::Softmax { scale: 1.0 },
            TreeOutput::Exp => OutputTransform::Exp { scale: 1.0 },
        };
        transform.apply(m, 0.0, out);
    }
}

/// Kernel SHAP values of a tree ensemble's `output` with the whole loop in Rust: the game
/// `f(x_S, r)` is evaluated per explained and background row pair as described in the module
/// docs, in parallel over rows and blocks of background rows. Designs, regression and seeds
/// are those of [`kernel::shap_values`], so the values equal that function's with the
/// ensemble's prediction as the model, up to rounding.
pub fn tree_ensemble_shap_values(
    ensemble: &TreeEnsemble,
    output: TreeOutput,
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
    output: TreeOutput,
    x: ArrayView2<'_, f64>,
    background: ArrayView2<'_, f64>,
    weights: Option<&[f64]>,
    options: &KernelOptions,
    evaluation: PairEvaluation,
    row_offset: u64,
) -> Result<KernelValues> {
    let predict = |rows: ArrayView2<'_, f64>| -> Result<Array2<f64>> {
        let margins = ensemble.predict_margin(rows)?;
        let k = ensemble.n_outputs();
        let ko = output.n_outputs(k);
        let mut out = Array2::zeros((rows.nrows(), ko));
        for (m, mut o) in margins.outer_iter().zip(out.outer_iter_mut()) {
            let m = m.to_vec();
            let mut buf = vec![0.0; ko];
            output.apply(&m, &mut buf);
            for (dst, v) in o.iter_mut().zip(buf) {
                *dst = v;
            }
        }
        Ok(out)
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_transform_margins_as_the_libraries_do() {
        let mut out = [0.0; 3];
        TreeOutput::Softmax.apply(&[1.0, 2.0, 3.0], &mut out);
        let z: f64 = [1.0f64, 2.0, 3.0].iter().map(|v| v.exp()).sum();
        assert!((out[2] - 3.0f64.exp() / z).abs() < 1e-15);
        let mut pair = [0.0; 2];
        TreeOutput::LogisticPair.apply(&[0.3], &mut pair);
        assert!((pair[1] - 1.0 / (1.0 + (-0.3f64).exp())).abs() < 1e-15);
        assert!((pair[0] + pair[1] - 1.0).abs() < 1e-15);
    }
}
