//! # ferroshap
//!
//! Exact SHAP values for tree ensembles, in pure Rust and in parallel.
//!
//! ferroshap reads XGBoost (JSON and UBJSON) and LightGBM (text) model files into one
//! [`TreeEnsemble`], routes rows exactly as the source library does, and computes exact
//! path-dependent Tree SHAP values (Lundberg et al. 2020) in f64, in parallel with rayon.
//!
//! ```no_run
//! use ferroshap::{TreeEnsemble, tree_shap::path_dependent};
//! use ndarray::array;
//!
//! # fn main() -> ferroshap::Result<()> {
//! let model = TreeEnsemble::from_file("model.json")?;
//! let x = array![[1.0f64, 2.0, f64::NAN], [0.5, -1.0, 3.0]];
//! let explanation = path_dependent::shap_values(&model, x.view())?;
//! // values[[row, feature, output]] + base_values[output] == margin prediction
//! let margin = model.predict_margin(x.view())?;
//! let total: f64 = explanation.values.slice(ndarray::s![0, .., 0]).sum();
//! assert!((total + explanation.base_values[0] - margin[[0, 0]]).abs() < 1e-9);
//! # Ok(()) }
//! ```

pub mod ensemble;
mod error;
pub mod formats;
pub mod game;
pub mod linalg;
mod parallel;
pub mod rng;
mod simd;
pub mod tree_shap;

pub use ensemble::{EnsembleSpec, Link, RawTree, SplitRules, Tree, TreeEnsemble};
pub use error::{Error, Result};
pub use parallel::{MAX_THREADS, default_threads, kept_pools, run_cancellable, with_threads};

/// Input element types the kernels accept without a copy (f32 and f64).
pub trait Scalar: Copy + Send + Sync + 'static {
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
