//! Model-agnostic machinery: coalition designs, masking explained rows with background rows
//! into large model batches, and the estimators that reduce model outputs to SHAP values.
//!
//! The model itself is never called here: an estimator plans its coalitions, the caller
//! evaluates the masked rows it builds (in as few, as large, model calls as memory allows),
//! and hands the outputs back for the reduction. The exception is ferroshap's own tree
//! ensembles, whose game is evaluated from the trees without masked rows (`tree_game`,
//! `tree_kernel`).

pub mod batch;
pub mod coalitions;
#[doc(hidden)]
pub mod design;
pub mod engine;
pub mod exact;
pub mod hierarchy;
pub mod kernel;
#[doc(hidden)]
pub mod lars;
#[doc(hidden)]
pub mod lasso;
mod linked;
#[doc(hidden)]
pub mod masking;
mod options;
pub mod owen;
pub mod partition;
pub mod permutation;
mod regression;
pub mod sampling;
pub mod tree_game;
pub mod tree_kernel;
pub mod tree_values;
pub mod winter;

/// Kernel's link is the models' [`Link`] (re-exported where the options are).
pub use crate::ensemble::Link;
pub use batch::{CoalitionBatch, Problem};
pub use coalitions::Coalitions;
pub use design::{KernelDesign, Sampling};
pub use engine::{EngineJob, Estimator, GameValues, explain};
pub use exact::ExactEstimator;
pub use hierarchy::Hierarchy;
pub use kernel::{FeatureSelection, KernelEstimator, KernelJob, KernelOptions, KernelValues};
pub use lars::Criterion;
pub use linked::linked_expected_value;
pub use owen::OwenEstimator;
pub use partition::PartitionEstimator;
pub use permutation::PermutationEstimator;
pub use sampling::SamplingEstimator;
pub use tree_game::PairEvaluation;
pub use tree_kernel::{tree_ensemble_shap_values, tree_ensemble_shap_values_at};
pub use tree_values::set_tree_values;
pub use winter::{GroupTree, WinterEstimator};
