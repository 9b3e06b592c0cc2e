//! Python bindings of ferroshap: conversion, error mapping and GIL release only; every
//! algorithm lives in the `ferroshap` crate.

mod error;
mod kernel;
mod linear;
mod tree;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple, PyType};

use error::{CLASSES, ErrorClasses, FerroshapError};

/// Runs a long computation with the GIL released on `n_threads` threads (the core's default
/// pool when `None`), and converts the core's error once the GIL is held again.
///
/// While it runs, the calling thread takes the GIL every 50 ms to run Python's signal
/// handlers: Ctrl-C (or any handler that raises) cancels the computation within about one
/// block of work and its exception is raised here.
pub(crate) fn compute<T, F>(py: Python<'_>, n_threads: Option<usize>, f: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> ferroshap::Result<T> + Send,
{
    compute_sized(py, n_threads, usize::MAX, f)
}

/// [`compute`] for a call of about `work` values read or written: a short one runs on the
/// calling thread (still with the GIL released), skipping the hand-off to the pool, which
/// costs more than the call itself.
pub(crate) fn compute_sized<T, F>(
    py: Python<'_>,
    n_threads: Option<usize>,
    work: usize,
    f: F,
) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> ferroshap::Result<T> + Send,
{
    let mut raised: Option<PyErr> = None;
    let result = py.detach(|| {
        let poll = || match Python::attach(|py| py.check_signals()) {
            Ok(()) => false,
            Err(e) => {
                raised = Some(e);
                true
            }
        };
        ferroshap::run_cancellable_sized(n_threads, work, f, poll).and_then(|r| r)
    });
    match (result, raised) {
        (Err(ferroshap::Error::Cancelled), Some(e)) => Err(e),
        (result, _) => result.map_err(|e| error::PyFsErr(e).into()),
    }
}

/// The number of idle thread pools this process keeps (at most 2; for tests).
#[pyfunction]
fn _kept_pools() -> usize {
    ferroshap::kept_pools()
}

/// The most threads `n_jobs` may ask for, and the default count (`RAYON_NUM_THREADS` or the
/// cores this process may use).
#[pyfunction]
fn _thread_limits() -> (usize, usize) {
    (ferroshap::MAX_THREADS, ferroshap::default_threads())
}

fn make_class<'py>(
    py: Python<'py>,
    name: &str,
    bases: &[Bound<'py, PyAny>],
    doc: &str,
) -> PyResult<Bound<'py, PyType>> {
    let type_ = py.get_type::<PyType>();
    let dict = PyDict::new(py);
    dict.set_item("__doc__", doc)?;
    dict.set_item("__module__", "ferroshap")?;
    let class = type_.call1((name, PyTuple::new(py, bases)?, dict))?;
    Ok(class.cast_into::<PyType>()?)
}

#[pymodule(gil_used = false)]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    let base = py.get_type::<FerroshapError>();
    m.add("FerroshapError", &base)?;
    let value_error = py.get_type::<pyo3::exceptions::PyValueError>().into_any();
    let not_impl = py
        .get_type::<pyo3::exceptions::PyNotImplementedError>()
        .into_any();
    let model_format = make_class(
        py,
        "ModelFormatError",
        &[base.clone().into_any(), value_error.clone()],
        "A model file or buffer could not be parsed (truncated, corrupt, wrong format).",
    )?;
    let invalid_model = make_class(
        py,
        "InvalidModelError",
        &[base.clone().into_any(), value_error],
        "A model parsed but describes an impossible tree ensemble.",
    )?;
    let unsupported = make_class(
        py,
        "UnsupportedModelError",
        &[base.into_any(), not_impl],
        "A valid model that uses a feature ferroshap does not support yet.",
    )?;
    m.add("ModelFormatError", &model_format)?;
    m.add("InvalidModelError", &invalid_model)?;
    m.add("UnsupportedModelError", &unsupported)?;
    let _ = CLASSES.set(
        py,
        ErrorClasses {
            model_format: model_format.unbind(),
            invalid_model: invalid_model.unbind(),
            unsupported: unsupported.unbind(),
        },
    );
    m.add_class::<tree::PyTreeEnsemble>()?;
    m.add_class::<linear::PyLinearTreeEnsemble>()?;
    m.add_class::<tree::PyInterventional>()?;
    m.add_class::<kernel::PyGameJob>()?;
    m.add_function(wrap_pyfunction!(kernel::linked_expected_value, m)?)?;
    m.add_function(wrap_pyfunction!(kernel::kernel_shap_tree_ensemble, m)?)?;
    m.add_function(wrap_pyfunction!(_kept_pools, m)?)?;
    m.add_function(wrap_pyfunction!(_thread_limits, m)?)?;
    Ok(())
}
