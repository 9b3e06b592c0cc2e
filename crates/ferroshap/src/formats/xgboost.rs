//! XGBoost JSON and UBJSON models (placeholder until the parser lands).

use crate::ensemble::TreeEnsemble;
use crate::error::{Error, Result};

/// Parses an XGBoost JSON model.
pub fn from_json(_bytes: &[u8]) -> Result<TreeEnsemble> {
    Err(Error::Unsupported("XGBoost JSON parser not built yet".into()))
}

/// Parses an XGBoost UBJSON model.
pub fn from_ubjson(_bytes: &[u8]) -> Result<TreeEnsemble> {
    super::ubjson::unused();
    Err(Error::Unsupported("XGBoost UBJSON parser not built yet".into()))
}
