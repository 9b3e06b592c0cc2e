//! Parameters and results of Kernel SHAP: the link ([`Link`], shared with the models), feature selection (shap's `l1_reg`), the
//! sampling scheme and budget, and the values with their standard errors.

use super::design::Sampling;
use super::lars::Criterion;
use crate::ensemble::Link;

/// Parameters of a Kernel SHAP run.
#[derive(Clone, Debug)]
pub struct KernelOptions {
    /// Coalitions per row; `None` is shap's `"auto"` (2M + 2048, M = varying features),
    /// clipped to 2^M − 2.
    pub nsamples: Option<usize>,
    /// The scale on which values are additive: [`Link::Identity`] (the outputs as they are)
    /// or [`Link::Logistic`] (log-odds, shap's `logit`), applied to the weighted mean output
    /// over background rows.
    pub link: Link,
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
            link: Link::Identity,
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
