//! `ferroshap._core.LinearTreeEnsemble`: LightGBM models with linear leaves (`linear_tree`).

use ferroshap::ensemble::LinearTreeEnsemble;
use ferroshap::formats::{lightgbm, lightgbm_dump};
use ferroshap::tree_shap::linear_tree;
use ndarray::ArrayView2;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyArray3};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::compute;
use crate::error::PyFsResult;
use crate::tree::{FloatMatrix, rules_name, with_view};

/// A LightGBM model whose trees may have linear leaves: predictions and exact interventional
/// SHAP values that include the leaves' linear models.
#[pyclass(name = "LinearTreeEnsemble", module = "ferroshap._core", frozen)]
pub(crate) struct PyLinearTreeEnsemble {
    inner: LinearTreeEnsemble,
    /// The model text (or dump) and the trees kept of it, for pickling.
    text: Vec<u8>,
    kept: Option<Vec<usize>>,
    dump: bool,
}

/// Reads a model text or dump and keeps the trees at `kept`.
fn read(text: &[u8], dump: bool, kept: Option<&[usize]>) -> ferroshap::Result<LinearTreeEnsemble> {
    let model = if dump {
        lightgbm_dump::linear_from_dump(text)?
    } else {
        let text = std::str::from_utf8(text).map_err(|e| ferroshap::Error::Format {
            format: "LightGBM text",
            message: format!("not UTF-8: {e}"),
        })?;
        lightgbm::linear_from_text(text)?
    };
    match kept {
        Some(indices) => model.select_trees(indices),
        None => Ok(model),
    }
}

const NO_BACKGROUND: &str = "LightGBM linear_tree models have linear leaves, for which \
    path-dependent Tree SHAP (node covers, no background) is not defined: pass background \
    data (data=...) to explain them interventionally";

impl PyLinearTreeEnsemble {
    fn build(py: Python<'_>, text: &[u8], dump: bool, kept: Option<Vec<usize>>) -> PyResult<Self> {
        let bytes = text.to_vec();
        let keep = kept.clone();
        let inner = compute(py, Some(1), move || read(&bytes, dump, keep.as_deref()))?;
        Ok(PyLinearTreeEnsemble {
            inner,
            text: text.to_vec(),
            kept,
            dump,
        })
    }
}

#[pymethods]
impl PyLinearTreeEnsemble {
    /// Parses a LightGBM text model (linear trees or not).
    #[staticmethod]
    #[pyo3(signature = (text, kept=None))]
    fn from_lightgbm_text(py: Python<'_>, text: &[u8], kept: Option<Vec<usize>>) -> PyResult<Self> {
        Self::build(py, text, false, kept)
    }

    /// Parses `json.dumps(booster.dump_model())` (linear trees or not).
    #[staticmethod]
    #[pyo3(signature = (dump, kept=None))]
    fn from_lightgbm_dump(py: Python<'_>, dump: &[u8], kept: Option<Vec<usize>>) -> PyResult<Self> {
        Self::build(py, dump, true, kept)
    }

    /// Pickles as the model text and the trees kept of it.
    #[allow(clippy::type_complexity)]
    fn __reduce__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>, Option<Vec<usize>>))> {
        let constructor = if self.dump {
            "from_lightgbm_dump"
        } else {
            "from_lightgbm_text"
        };
        let from_text = py.get_type::<PyLinearTreeEnsemble>().getattr(constructor)?;
        Ok((from_text, (PyBytes::new(py, &self.text), self.kept.clone())))
    }

    fn select_trees(&self, indices: Vec<usize>) -> PyFsResult<Self> {
        let kept = match &self.kept {
            Some(before) => indices
                .iter()
                .map(|&i| before.get(i).copied().unwrap_or(usize::MAX))
                .collect(),
            None => indices.clone(),
        };
        Ok(PyLinearTreeEnsemble {
            inner: self.inner.select_trees(&indices)?,
            text: self.text.clone(),
            kept: Some(kept),
            dump: self.dump,
        })
    }

    #[getter]
    fn is_linear(&self) -> bool {
        self.inner.is_linear()
    }
    #[getter]
    fn n_features(&self) -> usize {
        self.inner.trees().n_features()
    }
    #[getter]
    fn n_outputs(&self) -> usize {
        self.inner.trees().n_outputs()
    }
    #[getter]
    fn n_trees(&self) -> usize {
        self.inner.trees().trees().len()
    }
    #[getter]
    fn leaf_width(&self) -> usize {
        1
    }
    #[getter]
    fn max_depth(&self) -> usize {
        self.inner.trees().max_depth()
    }
    #[getter]
    fn objective(&self) -> &str {
        self.inner.trees().objective()
    }
    #[getter]
    fn link(&self) -> &'static str {
        self.inner.trees().link().name()
    }
    #[getter]
    fn rules(&self) -> &'static str {
        rules_name(self.inner.trees().rules())
    }
    #[getter]
    fn base_offset<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.inner.trees().base_offset().to_vec().into_pyarray(py)
    }
    #[getter]
    fn feature_names(&self) -> Option<Vec<String>> {
        self.inner.trees().feature_names().map(<[String]>::to_vec)
    }
    #[getter]
    fn categorical_features(&self) -> Vec<bool> {
        self.inner.trees().categorical_features().to_vec()
    }

    /// Margin prediction `(N, K)`, the leaves' linear models included.
    #[pyo3(signature = (X, n_threads=None))]
    #[allow(non_snake_case)]
    fn predict_margin<'py>(
        &self,
        py: Python<'py>,
        X: &Bound<'py, PyAny>,
        n_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let x = FloatMatrix::extract(X)?;
        let model = &self.inner;
        let out = with_view!(x, |v| compute(py, n_threads, || model.predict_margin(v)))?;
        Ok(out.into_pyarray(py))
    }

    /// Exact interventional SHAP values `(N, M, K)` over the background rows.
    #[pyo3(signature = (X, background, weights=None, n_threads=None))]
    #[allow(non_snake_case)]
    fn interventional_shap_values<'py>(
        &self,
        py: Python<'py>,
        X: &Bound<'py, PyAny>,
        background: &Bound<'py, PyAny>,
        weights: Option<&Bound<'py, PyAny>>,
        n_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray3<f64>>> {
        if weights.is_some_and(|w| !w.is_none()) {
            return Err(PyValueError::new_err(
                "background weights are not supported for linear trees",
            ));
        }
        let x = FloatMatrix::extract(X)?;
        let bg = FloatMatrix::extract_background(background)?;
        let model = &self.inner;
        let out = with_view!(x, |v| with_view!(bg, |b| compute(py, n_threads, || {
            linear_tree::interventional_shap_values(model, v, b)
        })))?;
        Ok(out.values.into_pyarray(py))
    }

    /// The mean margin over `background`.
    #[pyo3(signature = (background, weights=None, n_threads=None))]
    fn interventional_expected_value<'py>(
        &self,
        py: Python<'py>,
        background: &Bound<'py, PyAny>,
        weights: Option<&Bound<'py, PyAny>>,
        n_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        if weights.is_some_and(|w| !w.is_none()) {
            return Err(PyValueError::new_err(
                "background weights are not supported for linear trees",
            ));
        }
        let bg = FloatMatrix::extract_background(background)?;
        let model = &self.inner;
        let out = with_view!(bg, |b| compute(py, n_threads, || {
            linear_tree::expected_value(model, b)
        }))?;
        Ok(out.into_pyarray(py))
    }

    /// Refused: path-dependent values are not defined for linear leaves.
    fn expected_value(&self) -> PyResult<()> {
        Err(PyValueError::new_err(NO_BACKGROUND))
    }

    /// Refused: path-dependent values are not defined for linear leaves.
    #[pyo3(signature = (*_args, **_kwargs))]
    fn shap_values(
        &self,
        _args: &Bound<'_, pyo3::types::PyTuple>,
        _kwargs: Option<&Bound<'_, pyo3::types::PyDict>>,
    ) -> PyResult<()> {
        Err(PyValueError::new_err(NO_BACKGROUND))
    }
}
