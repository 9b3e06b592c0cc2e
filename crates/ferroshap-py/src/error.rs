//! Maps core errors onto Python exceptions (through a newtype: the orphan rule forbids
//! `From<ferroshap::Error> for PyErr` in this crate).

use pyo3::create_exception;
use pyo3::exceptions::{
    PyException, PyFileNotFoundError, PyKeyboardInterrupt, PyMemoryError, PyOSError, PyValueError,
};
use pyo3::prelude::*;

create_exception!(
    ferroshap,
    FerroshapError,
    PyException,
    "Base class of ferroshap's own errors."
);

pub(crate) struct PyFsErr(pub ferroshap::Error);

impl From<ferroshap::Error> for PyFsErr {
    fn from(e: ferroshap::Error) -> Self {
        PyFsErr(e)
    }
}

/// Exception classes that also derive from a builtin (ValueError, NotImplementedError), built
/// at module initialisation so that `except ValueError` catches bad models.
pub(crate) struct ErrorClasses {
    pub model_format: Py<pyo3::types::PyType>,
    pub invalid_model: Py<pyo3::types::PyType>,
    pub unsupported: Py<pyo3::types::PyType>,
}

pub(crate) static CLASSES: pyo3::sync::PyOnceLock<ErrorClasses> = pyo3::sync::PyOnceLock::new();

impl From<PyFsErr> for PyErr {
    fn from(err: PyFsErr) -> PyErr {
        use ferroshap::Error as E;
        let msg = err.0.to_string();
        match err.0 {
            E::Shape(_) | E::Parameter(_) | E::Limit(_) => PyValueError::new_err(msg),
            E::TooLarge(_) => PyMemoryError::new_err(msg),
            E::Cancelled => PyKeyboardInterrupt::new_err(msg),
            E::Io { source, .. } => match source.kind() {
                std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(msg),
                _ => PyOSError::new_err(msg),
            },
            E::Format { .. } | E::InvalidModel(_) | E::Unsupported(_) => Python::attach(|py| {
                let Some(classes) = CLASSES.get(py) else {
                    return PyValueError::new_err(msg);
                };
                let class = match err.0 {
                    E::Format { .. } => &classes.model_format,
                    E::InvalidModel(_) => &classes.invalid_model,
                    _ => &classes.unsupported,
                };
                PyErr::from_type(class.bind(py).clone(), msg)
            }),
            _ => FerroshapError::new_err(msg),
        }
    }
}

pub(crate) type PyFsResult<T> = Result<T, PyFsErr>;
