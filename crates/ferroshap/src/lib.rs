//! # ferroshap
//!
//! Exact SHAP values for tree ensembles, in pure Rust and in parallel, and model-agnostic
//! Kernel SHAP over any value function.
//!
//! ferroshap reads XGBoost (JSON and UBJSON) and LightGBM (text) model files into one
//! [`TreeEnsemble`], routes rows exactly as the source library does, and computes exact
//! Tree SHAP values (Lundberg et al. 2020) in f64, in parallel with rayon. Inputs are
//! [`ndarray`] views of f32 or f64 in any memory layout (see [`Scalar`]); results do not depend
//! on the number of threads.
//!
//! ## The API at a glance
//!
//! | to... | call | returns |
//! | --- | --- | --- |
//! | load a model | [`TreeEnsemble::from_file`], [`TreeEnsemble::from_bytes`] | [`TreeEnsemble`] |
//! | predict | [`TreeEnsemble::predict_margin`] | margins `(rows, outputs)` |
//! | explain, path-dependent | [`tree_shap::path_dependent::shap_values`] | [`ShapValues`] |
//! | explain against a background | [`tree_shap::interventional::shap_values`] | [`ShapValues`] |
//! | interaction values | [`tree_shap::path_dependent::interaction_values`], [`tree_shap::interventional::interaction_values`] | [`InteractionValues`] |
//! | explain a probability or a loss | [`tree_shap::model_output::shap_values`] | [`OutputValues`] |
//! | explain any model (Kernel SHAP) | [`game::kernel::shap_values`] | [`KernelValues`] |
//! | limit the threads | [`with_threads`] | |
//!
//! Every result holds `values` (`(rows, features, outputs)`, interactions
//! `(rows, F, F, outputs)`) and the base values they are measured from: for every row and
//! output, the values sum to the explained output minus the base value. Options are plain
//! structs with a [`Default`] ([`InteractionOptions`], [`OutputOptions`], [`KernelOptions`]).
//! Every fallible call returns [`Result`] with one [`Error`] type.
//!
//! ## Loading a model and predicting
//!
//! A model file is read by its extension (`.json`, `.ubj`) or recognised from its content;
//! [`TreeEnsemble::from_bytes`] reads one already in memory. [`TreeEnsemble::to_bytes`] writes
//! ferroshap's own compact form for sending a model to another process.
//!
//! ```
//! use ferroshap::{ModelFormat, TreeEnsemble};
//!
//! # fn main() -> ferroshap::Result<()> {
//! let model = TreeEnsemble::from_file("tests/fixtures/lgb_regression.txt")?;
//! assert_eq!((model.n_features(), model.n_outputs()), (5, 1));
//!
//! let bytes = std::fs::read("tests/fixtures/lgb_regression.txt").unwrap();
//! let same = TreeEnsemble::from_bytes(&bytes, Some(ModelFormat::LightGBMText))?;
//! let copy = TreeEnsemble::from_bytes(&same.to_bytes(), None)?; // the format is sniffed
//!
//! let x = ndarray::array![[0.5f32, -1.0, 2.0, f32::NAN, 0.0]]; // NaN: missing
//! assert_eq!(model.predict_margin(x.view())?, copy.predict_margin(x.view())?);
//! # Ok(()) }
//! ```
//!
//! ## Path-dependent Tree SHAP
//!
//! The value of a coalition is the model's expected output given its features, with the
//! features outside it integrated out along the training data's split of each node (the
//! trees' covers). The base value is [`TreeEnsemble::expected_value`].
//!
//! ```
//! use ferroshap::{TreeEnsemble, tree_shap::path_dependent};
//! use ndarray::{Array2, s};
//!
//! # fn main() -> ferroshap::Result<()> {
//! let model = TreeEnsemble::from_file("tests/fixtures/xgb34_xgb_binary.ubj")?;
//! let m = model.n_features();
//! let x = Array2::from_shape_fn((3, m), |(r, c)| (r as f64 - c as f64) / 4.0);
//!
//! let explanation = path_dependent::shap_values(&model, x.view())?;
//! assert_eq!(explanation.values.dim(), (3, m, 1));
//! assert_eq!(explanation.base_values, model.expected_value());
//!
//! let margin = model.predict_margin(x.view())?;
//! for row in 0..3 {
//!     let total = explanation.values.slice(s![row, .., 0]).sum() + explanation.base_values[0];
//!     assert!((total - margin[[row, 0]]).abs() < 1e-9); // f64 rounding over a few trees
//! }
//! # Ok(()) }
//! ```
//!
//! ## Interventional Tree SHAP
//!
//! The value of a coalition is the model's mean output over background rows whose features
//! outside the coalition replace the explained row's (optionally weighted, e.g. by the sizes
//! of the clusters a summarised background stands for). The base value is the mean margin
//! over the background ([`tree_shap::interventional::expected_value`]).
//!
//! ```
//! use ferroshap::{TreeEnsemble, tree_shap::interventional};
//! use ndarray::{Array1, Array2, s};
//!
//! # fn main() -> ferroshap::Result<()> {
//! let model = TreeEnsemble::from_file("tests/fixtures/lgb_regression.txt")?;
//! let x = Array2::from_shape_fn((2, 5), |(r, c)| (r + c) as f64 / 3.0 - 1.0);
//! let background = Array2::from_shape_fn((20, 5), |(r, c)| ((r * 7 + c * 3) % 11) as f64 / 5.0 - 1.0);
//!
//! let explanation = interventional::shap_values(&model, x.view(), background.view())?;
//! let margin = model.predict_margin(x.view())?;
//! let mean_bg = model.predict_margin(background.view())?.mean_axis(ndarray::Axis(0)).unwrap();
//! assert!((explanation.base_values[0] - mean_bg[0]).abs() < 1e-9);
//! for row in 0..2 {
//!     let total = explanation.values.slice(s![row, .., 0]).sum() + explanation.base_values[0];
//!     assert!((total - margin[[row, 0]]).abs() < 1e-9);
//! }
//!
//! // Weighted background rows: weight 2 counts a row twice.
//! let weights = Array1::from_shape_fn(20, |r| if r < 10 { 2.0 } else { 1.0 });
//! let weighted =
//!     interventional::shap_values_weighted(&model, x.view(), background.view(), Some(weights.view()))?;
//! assert_eq!(weighted.values.dim(), (2, 5, 1));
//! # Ok(()) }
//! ```
//!
//! ## Interaction values
//!
//! SHAP interaction values split each SHAP value into a main effect (the diagonal) and
//! pairwise interactions; a row of the matrix sums to the feature's SHAP value.
//! [`InteractionOptions`] can ask for a subset of the features and cap the output's size.
//!
//! ```
//! use ferroshap::{InteractionOptions, TreeEnsemble, tree_shap::path_dependent};
//! use ndarray::{Array2, Axis};
//!
//! # fn main() -> ferroshap::Result<()> {
//! let model = TreeEnsemble::from_file("tests/fixtures/lgb_regression.txt")?;
//! let x = Array2::from_shape_fn((2, 5), |(r, c)| (r + c) as f64 / 3.0 - 1.0);
//! let interactions = path_dependent::interaction_values(&model, x.view(), &InteractionOptions::default())?;
//! assert_eq!(interactions.values.dim(), (2, 5, 5, 1));
//!
//! let values = path_dependent::shap_values(&model, x.view())?;
//! let row_sums = interactions.values.sum_axis(Axis(2));
//! for (a, b) in row_sums.iter().zip(values.values.iter()) {
//!     assert!((a - b).abs() < 1e-9); // two exact algorithms, f64 rounding apart
//! }
//! # Ok(()) }
//! ```
//!
//! ## SHAP values of a probability or a loss
//!
//! [`tree_shap::model_output::shap_values`] explains a nonlinear [`OutputTransform`] of the
//! margins (a probability, `exp` of a log-link, a loss given labels) against a background,
//! exactly where a pair of rows differs on few features and by a seeded estimate with a
//! target standard error elsewhere ([`OutputOptions`]).
//!
//! ```
//! use ferroshap::{OutputOptions, OutputTransform, TreeEnsemble, tree_shap::model_output};
//! use ndarray::{Array2, s};
//!
//! # fn main() -> ferroshap::Result<()> {
//! let model = TreeEnsemble::from_file("tests/fixtures/xgb34_xgb_binary.ubj")?;
//! let m = model.n_features();
//! let x = Array2::from_shape_fn((2, m), |(r, c)| (r as f64 - c as f64) / 4.0);
//! let background = Array2::from_shape_fn((10, m), |(r, c)| ((r * 7 + c * 3) % 11) as f64 / 5.0 - 1.0);
//!
//! let probability = OutputTransform::Logistic { scale: 1.0 };
//! let options = OutputOptions::default();
//! let out = model_output::shap_values(&model, x.view(), background.view(), None, probability, None, &options)?;
//!
//! let margin = model.predict_margin(x.view())?;
//! for row in 0..2 {
//!     let p = 1.0 / (1.0 + (-margin[[row, 0]]).exp());
//!     let total = out.values.slice(s![row, .., 0]).sum() + out.base_values[[row, 0]];
//!     // Additive exactly when every pair was exact; else within a few standard errors.
//!     let slack = 1e-9 + 6.0 * out.standard_errors.slice(s![row, .., 0]).sum();
//!     assert!((total - p).abs() < slack);
//! }
//! # Ok(()) }
//! ```
//!
//! ## Kernel SHAP over any value function
//!
//! [`game::kernel::shap_values`] explains any model given as a closure from a batch of rows to
//! its outputs `(rows, outputs)`; it calls the closure on masked rows in large batches.
//! [`game::explain`] runs the other estimators ([`game::ExactEstimator`],
//! [`game::PermutationEstimator`], [`game::SamplingEstimator`], Owen values over a binary
//! [`game::Hierarchy`], Winter values over a [`game::GroupTree`] of any arity) the same way.
//!
//! ```
//! use ferroshap::{KernelOptions, game::kernel};
//! use ndarray::{Array2, ArrayView2, array};
//!
//! # fn main() -> ferroshap::Result<()> {
//! // f(x) = 2 x0 + x1 x2: SHAP values against one background row b are exact by symmetry.
//! let model = |rows: ArrayView2<'_, f64>| -> ferroshap::Result<Array2<f64>> {
//!     Ok(Array2::from_shape_fn((rows.nrows(), 1), |(r, _)| {
//!         2.0 * rows[[r, 0]] + rows[[r, 1]] * rows[[r, 2]]
//!     }))
//! };
//! let x = array![[1.0, 2.0, 3.0]];
//! let background = array![[0.0, 0.0, 0.0]];
//! let out = kernel::shap_values(model, x.view(), background.view(), None, &KernelOptions::default(), 4096)?;
//! // Three features: every coalition is enumerated, so the regression is exact.
//! for (got, want) in out.values.iter().zip([2.0, 3.0, 3.0]) {
//!     assert!((got - want).abs() < 1e-9);
//! }
//! assert_eq!(out.base_values, vec![0.0]);
//! # Ok(()) }
//! ```
//!
//! ## Threads
//!
//! Work runs on rayon's global pool unless wrapped in [`with_threads`], which runs a closure
//! on a pool of the given size (pools are kept and reused):
//!
//! ```
//! # fn main() -> ferroshap::Result<()> {
//! let model = ferroshap::TreeEnsemble::from_file("tests/fixtures/lgb_regression.txt")?;
//! let x = ndarray::Array2::<f64>::zeros((4, 5));
//! let one = ferroshap::with_threads(Some(1), || model.predict_margin(x.view()))??;
//! assert_eq!(one, model.predict_margin(x.view())?); // the thread count never changes results
//! # Ok(()) }
//! ```
//!
//! ## What is public
//!
//! The items above, the model's building blocks in [`ensemble`] (for describing a tree
//! ensemble by hand with [`EnsembleSpec`] and [`RawTree`]), the parsers in [`formats`], and the
//! estimator protocol in [`game`] (for a caller that evaluates models itself, as the Python
//! bindings do). Numeric helpers and reference implementations kept for tests are not part of
//! the API.

// Every public item of the embeddable API is documented (CI's clippy denies warnings).
#![warn(missing_docs)]

// The public modules.
pub mod ensemble;
pub mod formats;
pub mod game;
pub mod tree_shap;

// Internals.
mod error;
mod linalg;
mod parallel;
#[doc(hidden)] // seeded per-row streams; public for the benchmarks only
pub mod rng;
mod simd;

// Models: loading, describing, predicting.
pub use ensemble::{EnsembleSpec, Link, OutputTransform, RawTree, SplitRules, Tree, TreeEnsemble};
pub use formats::ModelFormat;

// Results and options.
pub use game::{FeatureSelection, KernelOptions, KernelValues, Sampling};
pub use tree_shap::model_output::{OutputOptions, OutputValues};
pub use tree_shap::{InteractionOptions, InteractionValues, ShapValues};

// Errors and threads.
pub use error::{Error, Result};
#[doc(hidden)] // for the Python bindings: pools kept across fork, cancellation polls
pub use parallel::{INLINE_WORK, kept_pools, run_cancellable, run_cancellable_sized};
pub use parallel::{MAX_THREADS, default_threads, with_threads};

mod sealed {
    /// Keeps [`Scalar`](super::Scalar) closed: the kernels are written for f32 and f64 only.
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// Input element types the kernels accept without a copy: f32 and f64 (sealed: no other
/// type can implement it).
pub trait Scalar: sealed::Sealed + Copy + Send + Sync + 'static {
    /// Widens to f64.
    fn to_f64(self) -> f64;
}

impl Scalar for f32 {
    #[inline]
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl Scalar for f64 {
    #[inline]
    fn to_f64(self) -> f64 {
        self
    }
}
