//! The one error type of the core crate.

use thiserror::Error;

/// Everything that can go wrong in ferroshap's core.
///
/// Variants are split by who is at fault: the caller's input (`Shape`, `Parameter`),
/// a model file or model description (`Format`, `InvalidModel`, `Unsupported`), or the
/// environment (`Io`). The Python bindings map the first two groups to `ValueError`.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// An input array has the wrong shape (for example the wrong number of features).
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A parameter is out of range or inconsistent with the model.
    #[error("invalid parameter: {0}")]
    Parameter(String),
    /// A model file could not be parsed: truncated, corrupt, or not the format claimed.
    #[error("cannot parse {format} model: {message}")]
    Format {
        /// Which format was being read ("XGBoost JSON", "LightGBM text", ...).
        format: &'static str,
        /// What was wrong, with a location where one is known.
        message: String,
    },
    /// The model parsed but describes an impossible tree ensemble (child index out of
    /// range, a cycle, a feature index beyond the feature count, a non-finite value, ...).
    #[error("invalid tree model: {0}")]
    InvalidModel(String),
    /// A valid model that uses something ferroshap does not support yet.
    #[error("not supported: {0}")]
    Unsupported(String),
    /// A requested result would not fit in the memory allowed for it; the message says how
    /// large it would be and how to ask for less.
    #[error("result too large: {0}")]
    TooLarge(String),
    /// A computation would exceed a documented limit on its cost; the message names the
    /// limit and what to do instead.
    #[error("limit exceeded: {0}")]
    Limit(String),
    /// The computation was cancelled (Ctrl-C in Python) before it finished.
    #[error("cancelled")]
    Cancelled,
    /// A bug: a panic inside ferroshap, caught before it reached the caller.
    #[error("internal error: {0}")]
    Internal(String),
    /// Reading a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The path that could not be read.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Shorthand for `std::result::Result<T, ferroshap::Error>`.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn format(format: &'static str, message: impl Into<String>) -> Self {
        Error::Format {
            format,
            message: message.into(),
        }
    }
}
