//! LightGBM text models (placeholder until the parser lands).

use crate::ensemble::TreeEnsemble;
use crate::error::{Error, Result};

/// Parses a LightGBM text model.
pub fn from_text(_text: &str) -> Result<TreeEnsemble> {
    Err(Error::Unsupported("LightGBM parser not built yet".into()))
}
