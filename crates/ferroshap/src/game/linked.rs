//! Coalition values on a link's scale (log-odds), as shap's masked model computes them for
//! its Permutation, Exact and Partition explainers.
//!
//! With `linearize`, a coalition's value is a weighted mean of the link of each background
//! row's output, `v(S) = Σᵢ w'ᵢ link(f(x_S, bᵢ))`, with per-output weights `w'` chosen so that
//! the empty coalition's value is `link(Σᵢ wᵢ f(bᵢ))` (shap's `link_reweighting`: a model
//! additive on the link's scale for one background row stays additive over many). Without it,
//! `v(S) = link(Σᵢ wᵢ f(x_S, bᵢ))`, the link of the mean.

use ndarray::ArrayView2;

use super::options::KernelLink;
use crate::error::{Error, Result};

/// The step of shap's finite-difference slope of the link at the mean output; the same step
/// gives the same weights (an analytic slope differs from it by about 1e-4 relative).
const SLOPE_STEP: f64 = 1e-4;

/// The link's scale of a [`super::Problem`]'s coalition values.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LinkScale {
    pub(crate) link: KernelLink,
    /// `n_background × n_outputs` weights of `link(f)` (summing to one per output) when
    /// linearized; `None`: the link applies to the weighted mean output.
    pub(crate) weights: Option<Vec<f64>>,
    /// The empty coalition's value per output on the link's scale.
    pub(crate) fnull: Vec<f64>,
}

/// The expected value on `link`'s scale that [`super::Problem::with_link`] gives for
/// background rows with `weights` (`None`: uniform; normalised here) whose model outputs are
/// `outputs` (`n_background × n_outputs`): one value per output.
pub fn linked_expected_value(
    outputs: ArrayView2<'_, f64>,
    weights: Option<&[f64]>,
    link: KernelLink,
    linearize: bool,
) -> Result<Vec<f64>> {
    let w = super::batch::normalised_weights(weights, outputs.nrows())?;
    Ok(link_scale(outputs, &w, link, linearize)?.fnull)
}

/// The link's scale for background rows with normalised `weights` whose model outputs are
/// `outputs` (`n_background × n_outputs`).
pub(crate) fn link_scale(
    outputs: ArrayView2<'_, f64>,
    weights: &[f64],
    link: KernelLink,
    linearize: bool,
) -> Result<LinkScale> {
    let (n, k) = outputs.dim();
    if n != weights.len() || k == 0 {
        return Err(Error::Shape(format!(
            "background outputs of shape ({n}, {k}) for {} background rows",
            weights.len()
        )));
    }
    if outputs.iter().any(|v| !v.is_finite()) {
        return Err(Error::Parameter(
            "the model returned NaN or inf on the background data".into(),
        ));
    }
    let means: Vec<f64> = (0..k)
        .map(|o| {
            weights
                .iter()
                .zip(outputs.column(o))
                .map(|(w, p)| w * p)
                .sum()
        })
        .collect();
    if !linearize || link == KernelLink::Identity {
        return Ok(LinkScale {
            link,
            weights: None,
            fnull: means.iter().map(|&m| link.apply(m)).collect(),
        });
    }
    let mut linked = vec![0.0; n * k];
    let mut fnull = vec![0.0; k];
    for (o, &mean) in means.iter().enumerate() {
        let at_mean = link.apply(mean);
        let mut slope = (link.apply(mean + SLOPE_STEP) - at_mean) / SLOPE_STEP;
        if !slope.is_finite() || slope <= 0.0 {
            // The step left the link's domain (a mean within 1e-4 of 1): the slope on the
            // other side.
            slope = (at_mean - link.apply(mean - SLOPE_STEP)) / SLOPE_STEP;
        }
        let mut total = 0.0;
        for (i, &p) in outputs.column(o).iter().enumerate() {
            let rise = link.apply(p) - at_mean;
            // Outputs at the mean contribute nothing either way; weight 1 keeps the sum finite
            // where shap's 0/0 would make it NaN.
            let r = if rise == 0.0 {
                1.0
            } else {
                slope * (p - mean) / rise
            };
            linked[i * k + o] = weights[i] * r;
            total += weights[i] * r;
        }
        if !(total.is_finite() && total > 0.0) {
            return Err(Error::Parameter(format!(
                "cannot linearize the link over the background outputs of output {o}; \
                 use linearize_link=False"
            )));
        }
        let mut value = 0.0;
        for (i, &p) in outputs.column(o).iter().enumerate() {
            linked[i * k + o] /= total;
            value += linked[i * k + o] * link.apply(p);
        }
        fnull[o] = value;
    }
    Ok(LinkScale {
        link,
        weights: Some(linked),
        fnull,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn linearized_weights_give_the_link_of_the_mean_at_the_empty_coalition() {
        let p = array![[0.1, 0.5], [0.4, 0.3], [0.9, 0.2]];
        let w = [0.2, 0.3, 0.5];
        let s = link_scale(p.view(), &w, KernelLink::Logit, true).unwrap();
        for o in 0..2 {
            let mean: f64 = (0..3).map(|i| w[i] * p[[i, o]]).sum();
            // The weights are built for this; only rounding separates the two.
            assert!((s.fnull[o] - KernelLink::Logit.apply(mean)).abs() < 1e-12);
            let lw = s.weights.as_ref().unwrap();
            let total: f64 = (0..3).map(|i| lw[i * 2 + o]).sum();
            assert!((total - 1.0).abs() < 1e-12);
        }
    }

    /// Exact Shapley values of `sigmoid(a · x)` on the logit scale through the engine.
    fn logistic_values(
        background: ndarray::Array2<f64>,
        linearize: bool,
    ) -> super::super::GameValues {
        use super::super::{EngineJob, ExactEstimator, Problem};
        let a = [1.5, -2.0, 0.5];
        let f =
            |row: &[f64]| 1.0 / (1.0 + (-row.iter().zip(a).map(|(v, w)| v * w).sum::<f64>()).exp());
        let x = array![[0.3, 0.8, -1.0]];
        let outputs = ndarray::Array2::from_shape_fn((background.nrows(), 1), |(i, _)| {
            f(background.row(i).as_slice().unwrap())
        });
        let n = background.nrows() as f64;
        let mean = outputs.sum() / n;
        let problem = Problem::new(x.view(), background.view(), None, &[mean])
            .unwrap()
            .with_link(KernelLink::Logit, linearize, outputs.view())
            .unwrap();
        let mut job = EngineJob::start(problem, ExactEstimator::new(None, 0)).unwrap();
        loop {
            let rows = job.masked_rows(0, job.n_evaluations()).unwrap();
            let out = ndarray::Array2::from_shape_fn((rows.nrows(), 1), |(i, _)| {
                f(rows.row(i).as_slice().unwrap())
            });
            job.add_outputs(0, out.view()).unwrap();
            if !job.next_round().unwrap() {
                break;
            }
        }
        let fx = array![[f(x.row(0).as_slice().unwrap())]];
        job.finish(fx.view()).unwrap()
    }

    #[test]
    fn a_logistic_model_is_additive_on_the_logit_scale() {
        // One background row: the game is a · x_S on the logit scale, so φ_j = a_j (x_j − b_j).
        let got = logistic_values(array![[0.1, -0.2, 0.4]], true);
        for (j, want) in [1.5 * 0.2, -2.0 * 1.0, 0.5 * -1.4].iter().enumerate() {
            assert!(
                (got.values[[0, j, 0]] - want).abs() < 1e-12,
                "{:?}",
                got.values
            );
        }
        // Several rows, either way: the values add up to logit(f(x)) − expected value.
        for linearize in [true, false] {
            let got = logistic_values(array![[0.1, -0.2, 0.4], [1.0, 0.5, -0.3]], linearize);
            let logit_fx = 1.5 * 0.3 - 2.0 * 0.8 - 0.5 * 1.0;
            let total = got.values.sum() + got.expected_value[0];
            assert!((total - logit_fx).abs() < 1e-12, "{total} vs {logit_fx}");
        }
    }

    #[test]
    fn without_linearizing_the_link_applies_to_the_mean() {
        let p = array![[0.2], [0.6]];
        let s = link_scale(p.view(), &[0.5, 0.5], KernelLink::Logit, false).unwrap();
        assert_eq!(s.weights, None);
        assert_eq!(s.fnull, vec![KernelLink::Logit.apply(0.4)]);
    }
}
