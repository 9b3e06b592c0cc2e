//! UBJSON decoding (placeholder).
pub(crate) fn unused() {}
