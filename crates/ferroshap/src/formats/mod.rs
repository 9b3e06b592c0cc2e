//! Parsers from model files into a [`TreeEnsemble`].

mod json;
pub mod lightgbm;
pub mod lightgbm_dump;
pub mod native;
mod ubjson;
pub mod xgboost;
pub mod xgboost_dump;

use std::path::Path;

use crate::ensemble::TreeEnsemble;
use crate::error::{Error, Result};

/// The model file formats ferroshap reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelFormat {
    /// XGBoost `save_model("*.json")`.
    XGBoostJson,
    /// XGBoost `save_model("*.ubj")` / `save_raw("ubj")`.
    XGBoostUbjson,
    /// LightGBM `save_model("*.txt")` / `model_to_string()`.
    LightGBMText,
    /// ferroshap's own binary form ([`native`]), as written by [`TreeEnsemble::to_bytes`].
    Native,
}

/// Refuses a count a model file declares when the `bytes` of text that must describe each
/// counted thing (a feature name, a leaf value, a category boundary...) cannot hold that many,
/// before anything is allocated by it: a few edited digits must not make the parser ask for
/// petabytes. `holder` names that text ("the file", "the leaf_value line").
pub(crate) fn check_declared(
    format: &'static str,
    what: &str,
    count: usize,
    bytes: usize,
    holder: &str,
) -> Result<usize> {
    if count > bytes {
        return Err(Error::format(
            format,
            format!("{what} = {count} is more than {holder} ({bytes} bytes) can describe"),
        ));
    }
    Ok(count)
}

/// The most features a model may declare: the boosting libraries index features with 32-bit
/// signed integers.
pub(crate) const MAX_FEATURES: usize = i32::MAX as usize;

impl ModelFormat {
    /// Guesses the format from the first bytes of a model file.
    pub fn sniff(bytes: &[u8]) -> Option<ModelFormat> {
        if bytes.starts_with(native::MAGIC) {
            return Some(ModelFormat::Native);
        }
        let start = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
        let head = &bytes[start..];
        if head.starts_with(b"{") {
            // JSON continues with whitespace or a quoted key; UBJSON with a length marker.
            return match head
                .get(1..)
                .and_then(|r| r.iter().find(|b| !b.is_ascii_whitespace()))
            {
                Some(b'"') | Some(b'}') => Some(ModelFormat::XGBoostJson),
                Some(_) => Some(ModelFormat::XGBoostUbjson),
                None => Some(ModelFormat::XGBoostJson),
            };
        }
        if head.starts_with(b"tree\n")
            || head.starts_with(b"tree\r\n")
            || head.starts_with(b"version=")
        {
            return Some(ModelFormat::LightGBMText);
        }
        None
    }
}

impl TreeEnsemble {
    /// Parses a model from bytes in the given format, or a sniffed one when `format` is `None`.
    /// Example: [loading a model](crate#loading-a-model-and-predicting).
    pub fn from_bytes(bytes: &[u8], format: Option<ModelFormat>) -> Result<TreeEnsemble> {
        let format = match format.or_else(|| ModelFormat::sniff(bytes)) {
            Some(f) => f,
            None => {
                return Err(Error::format(
                    "XGBoost or LightGBM",
                    "unrecognised content: expected XGBoost JSON or UBJSON, LightGBM text, or \
                     ferroshap's own form",
                ));
            }
        };
        match format {
            ModelFormat::XGBoostJson => xgboost::from_json(bytes),
            ModelFormat::XGBoostUbjson => xgboost::from_ubjson(bytes),
            ModelFormat::Native => native::from_bytes(bytes),
            ModelFormat::LightGBMText => {
                let text = std::str::from_utf8(bytes)
                    .map_err(|e| Error::format("LightGBM text", format!("not UTF-8: {e}")))?;
                lightgbm::from_text(text)
            }
        }
    }

    /// The model in ferroshap's own compact binary form, read back by [`TreeEnsemble::from_bytes`]
    /// (for sending a model to another process).
    pub fn to_bytes(&self) -> Vec<u8> {
        native::to_bytes(self)
    }

    /// Reads a model file: `.json` and `.ubj` as XGBoost, `.txt` as LightGBM; other names are
    /// recognised from their content.
    /// Example: [loading a model](crate#loading-a-model-and-predicting).
    pub fn from_file(path: impl AsRef<Path>) -> Result<TreeEnsemble> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let format = match ext.as_deref() {
            Some("json") => Some(ModelFormat::XGBoostJson),
            Some("ubj") | Some("ubjson") => Some(ModelFormat::XGBoostUbjson),
            _ => None,
        };
        TreeEnsemble::from_bytes(&bytes, format)
    }
}
