//! Parameters and results of Kernel SHAP: the link, feature selection (shap's `l1_reg`), the
//! sampling scheme and budget, and the values with their standard errors.

use super::design::Sampling;
use super::lars::Criterion;

/// The logit link clips probabilities to `[EPS, 1 − EPS]`, as shap does.
const LOGIT_EPS: f64 = 1e-15;

/// The scale on which values are additive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelLink {
    /// Model outputs as they are.
    Identity,
    /// Log-odds of probabilities, clipped to `[1e-15, 1 − 1e-15]`; applied to the weighted
    /// mean probability over background rows (not the mean of the log-odds).
    Logit,
}

impl KernelLink {
    /// Applies the link to one value.
    #[inline]
    pub fn apply(self, p: f64) -> f64 {
        match self {
            KernelLink::Identity => p,
            KernelLink::Logit => {
                let p = p.clamp(LOGIT_EPS, 1.0 - LOGIT_EPS);
                (p / (1.0 - p)).ln()
            }
        }
    }
}

/// Parameters of a Kernel SHAP run.
#[derive(Clone, Debug)]
pub struct KernelOptions {
    /// Coalitions per row; `None` is shap's `"auto"` (2M + 2048, M = varying features),
    /// clipped to 2^M − 2.
    pub nsamples: Option<usize>,
    /// The link.
    pub link: KernelLink,
    /// Seed of the per-row random streams (only sampled designs use them).
    pub seed: u64,
    /// Feature selection before the regression (shap's `l1_reg`); none by default.
    pub selection: FeatureSelection,
    /// How coalitions beyond the enumerated sizes are sampled.
    pub sampling: Sampling,
    /// Whether to estimate the values' standard errors (about as costly as the regression
    /// itself on wide rows; zeros when off).
    pub standard_errors: bool,
}

/// Which features the regression keeps (shap's `l1_reg`); the others get 0.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum FeatureSelection {
    /// All varying features (`l1_reg=False`).
    #[default]
    None,
    /// The first `k` features to enter the LAR path of shap's augmented problem
    /// (`"num_features(k)"`).
    NumFeatures(usize),
    /// Features with nonzero lasso coefficients at this alpha (`l1_reg=<float>`).
    LassoAlpha(f64),
    /// Features with nonzero coefficients at the lasso-LARS knot with the smallest
    /// information criterion, as scikit-learn's `LassoLarsIC` (`"aic"`, `"bic"`).
    InformationCriterion(Criterion),
    /// shap's deprecated `"auto"`: AIC when less than 20% of the coalitions are evaluated,
    /// no selection otherwise.
    Auto,
}

impl Default for KernelOptions {
    fn default() -> Self {
        KernelOptions {
            nsamples: None,
            link: KernelLink::Identity,
            seed: 0,
            selection: FeatureSelection::None,
            sampling: Sampling::default(),
            standard_errors: true,
        }
    }
}

/// SHAP values from Kernel SHAP, with their standard errors (a sandwich estimate over
/// sampled coalition pairs; 0 where every coalition was enumerated, and conditional on the
/// selected features when `l1_reg` selects) and the rows whose regression was singular or
/// ill-conditioned (solved by minimum-norm least squares instead).
pub type KernelValues = super::engine::GameValues;
