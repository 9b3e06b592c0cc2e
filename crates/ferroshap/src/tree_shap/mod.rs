//! Exact Tree SHAP algorithms over a [`TreeEnsemble`](crate::TreeEnsemble).

mod classic;
mod interactions;
pub mod interventional;
mod lanes;
pub mod linear_tree;
pub mod model_output;
#[doc(hidden)] // used by the bindings; not part of the embeddable API
pub mod oblivious;
#[doc(hidden)] // used by the bindings; not part of the embeddable API
pub mod pair_game;
mod pair_paths;
#[doc(hidden)] // used by the bindings; not part of the embeddable API
pub mod pair_sampling;
pub(crate) mod pair_walk;
pub mod path_dependent;
pub(crate) mod quadrature;
pub mod saabas;
pub(crate) mod single_row;

use ndarray::Array3;

pub use interactions::{InteractionOptions, InteractionValues};
pub use interventional::Interventional;
pub use path_dependent::PathDependent;

/// SHAP values of a batch of rows.
#[derive(Debug, Clone)]
pub struct ShapValues {
    /// Shape `(n_rows, n_features, n_outputs)`.
    pub values: Array3<f64>,
    /// The base value per output: what the values are measured from. For every row and
    /// output, `values[row, .., output].sum() + base_values[output]` is the model's margin.
    pub base_values: Vec<f64>,
}
