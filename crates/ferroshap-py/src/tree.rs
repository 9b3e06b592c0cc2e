//! `ferroshap._core.TreeEnsemble`: the core's tree ensemble as a Python class.

use std::path::PathBuf;
use std::sync::Arc;

use ferroshap::ensemble::{CategoryRule, InputPrecision};
use ferroshap::formats::xgboost_dump::{self, DumpSettings};
use ferroshap::formats::{ModelFormat, lightgbm_dump};
use ferroshap::tree_shap::model_output::{self, OutputOptions, PairMethod};
use ferroshap::tree_shap::{
    InteractionOptions, Interventional, PathDependent, interventional, oblivious, saabas,
};
use ferroshap::{EnsembleSpec, Link, OutputTransform, RawTree, SplitRules, TreeEnsemble};
use ndarray::ArrayView2;
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArray3, PyArray4, PyReadonlyArray1, PyReadonlyArray2,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::error::{PyFsErr, PyFsResult};
use crate::{compute, compute_sized};

/// X as it arrives from numpy: float32 or float64, any memory layout, never copied.
pub(crate) enum FloatMatrix<'py> {
    F32(PyReadonlyArray2<'py, f32>),
    F64(PyReadonlyArray2<'py, f64>),
}

impl<'py> FloatMatrix<'py> {
    pub(crate) fn extract(x: &Bound<'py, PyAny>) -> PyResult<Self> {
        if let Ok(a) = x.extract::<PyReadonlyArray2<'py, f64>>() {
            return Ok(FloatMatrix::F64(a));
        }
        if let Ok(a) = x.extract::<PyReadonlyArray2<'py, f32>>() {
            return Ok(FloatMatrix::F32(a));
        }
        Err(PyTypeError::new_err(
            "X must be a 2-D numpy array of dtype float32 or float64",
        ))
    }
}

impl<'py> FloatMatrix<'py> {
    /// Background data, with an error that names it.
    pub(crate) fn extract_background(x: &Bound<'py, PyAny>) -> PyResult<Self> {
        FloatMatrix::extract(x).map_err(|_| {
            PyTypeError::new_err("background must be a 2-D numpy array of dtype float32 or float64")
        })
    }
}

/// Calls `f` with a view of X in its own dtype.
macro_rules! with_view {
    ($x:expr, |$v:ident| $body:expr) => {
        match &$x {
            FloatMatrix::F32(a) => {
                let $v: ArrayView2<'_, f32> = a.as_array();
                $body
            }
            FloatMatrix::F64(a) => {
                let $v: ArrayView2<'_, f64> = a.as_array();
                $body
            }
        }
    };
}

pub(crate) use with_view;

/// SHAP values `(N, M, K)` with their per-row base values `(N, K)`.
type OutputResult<'py> = (
    Bound<'py, PyArray3<f64>>,
    Bound<'py, PyArray2<f64>>,
    Bound<'py, PyArray3<f64>>,
    usize,
);

/// A tree ensemble in ferroshap's core representation, with its path-dependent explainer
/// (whose tables are built on first use and kept with the object).
#[pyclass(name = "TreeEnsemble", module = "ferroshap._core", frozen)]
pub(crate) struct PyTreeEnsemble {
    pub(crate) inner: Arc<TreeEnsemble>,
    path_dependent: PathDependent<Arc<TreeEnsemble>>,
}

impl PyTreeEnsemble {
    fn wrap(model: TreeEnsemble) -> Self {
        let inner = Arc::new(model);
        PyTreeEnsemble {
            path_dependent: PathDependent::new(Arc::clone(&inner)),
            inner,
        }
    }
}

/// An interventional explainer prepared for one model and one background: the background is
/// read and the base values computed once; the tables that explain one row are kept from the
/// first one-row call on.
#[pyclass(name = "Interventional", module = "ferroshap._core", frozen)]
pub(crate) struct PyInterventional {
    inner: Interventional<Arc<TreeEnsemble>>,
}

#[pymethods]
impl PyInterventional {
    #[new]
    #[pyo3(signature = (ensemble, background, weights=None, n_threads=None))]
    fn new<'py>(
        py: Python<'py>,
        ensemble: PyRef<'py, PyTreeEnsemble>,
        background: &Bound<'py, PyAny>,
        weights: Option<PyReadonlyArray1<'py, f64>>,
        n_threads: Option<usize>,
    ) -> PyResult<Self> {
        let bg = FloatMatrix::extract_background(background)?;
        let w = weights.as_ref().map(|w| w.as_array());
        let model = Arc::clone(&ensemble.inner);
        let inner = with_view!(bg, |b| compute(py, n_threads, || Interventional::new(
            model, b, w
        )))?;
        Ok(PyInterventional { inner })
    }

    /// Interventional SHAP values, shape (N, M, K).
    #[pyo3(signature = (X, n_threads=None))]
    #[allow(non_snake_case)]
    fn shap_values<'py>(
        &self,
        py: Python<'py>,
        X: &Bound<'py, PyAny>,
        n_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray3<f64>>> {
        let x = FloatMatrix::extract(X)?;
        let explainer = &self.inner;
        let out = with_view!(x, |v| compute(py, n_threads, || explainer.shap_values(v)))?;
        Ok(out.values.into_pyarray(py))
    }

    /// The base value per output: the (weighted) mean margin over the background.
    fn expected_value<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.inner.base_values().to_vec().into_pyarray(py)
    }

    /// Bytes held by the prepared background and the kept one-row tables.
    fn table_bytes(&self) -> usize {
        self.inner.table_bytes()
    }

    #[getter]
    fn n_background(&self) -> usize {
        self.inner.n_background()
    }
}

fn parse_format(format: Option<&str>) -> PyResult<Option<ModelFormat>> {
    Ok(match format {
        None => None,
        Some("xgboost_json") => Some(ModelFormat::XGBoostJson),
        Some("xgboost_ubjson") => Some(ModelFormat::XGBoostUbjson),
        Some("lightgbm_text") => Some(ModelFormat::LightGBMText),
        Some("native") => Some(ModelFormat::Native),
        Some(other) => {
            return Err(PyValueError::new_err(format!(
                "unknown model format {other:?}; expected 'xgboost_json', 'xgboost_ubjson', 'lightgbm_text' or 'native'"
            )));
        }
    })
}

fn parse_rules(rules: &str) -> PyResult<SplitRules> {
    Ok(match rules {
        "xgboost" => SplitRules::XGBOOST,
        "lightgbm" => SplitRules::LIGHTGBM,
        "sklearn_tree" => SplitRules::SKLEARN_TREE,
        "sklearn_hist" => SplitRules::SKLEARN_HIST,
        other => {
            return Err(PyValueError::new_err(format!(
                "unknown split rules {other:?}; expected 'xgboost', 'lightgbm', 'sklearn_tree' or 'sklearn_hist'"
            )));
        }
    })
}

pub(crate) fn rules_name(rules: &SplitRules) -> &'static str {
    match (rules.input, rules.category) {
        (_, CategoryRule::XGBoost) => "xgboost",
        (_, CategoryRule::LightGBM) => "lightgbm",
        (InputPrecision::F32, CategoryRule::Sklearn) => "sklearn_tree",
        (InputPrecision::F64, CategoryRule::Sklearn) => "sklearn_hist",
    }
}

/// The core's output transform from its name and margin scale (parsed by the core).
pub(crate) fn parse_output(output: &str, scale: f64) -> PyResult<OutputTransform> {
    Ok(output
        .parse::<OutputTransform>()
        .map_err(PyFsErr)?
        .with_scale(scale))
}

fn required<'py>(tree: &Bound<'py, PyDict>, t: usize, key: &str) -> PyResult<Bound<'py, PyAny>> {
    tree.get_item(key)?
        .ok_or_else(|| PyValueError::new_err(format!("tree {t} has no {key:?} array")))
}

fn vec_of<'py, T: numpy::Element + Copy>(
    tree: &Bound<'py, PyDict>,
    t: usize,
    key: &str,
) -> PyResult<Vec<T>> {
    let item = required(tree, t, key)?;
    let arr: PyReadonlyArray1<'py, T> = item.extract().map_err(|_| {
        PyTypeError::new_err(format!(
            "tree {t}: {key:?} must be a 1-D numpy array of dtype {}",
            std::any::type_name::<T>()
        ))
    })?;
    Ok(arr.as_array().to_vec())
}

/// The spec of `from_arrays` and `from_flat_arrays` from their arguments (no base offset,
/// feature names or categorical features yet).
fn ensemble_spec(
    n_features: usize,
    n_outputs: usize,
    leaf_width: usize,
    rules: &str,
    link: &str,
    objective: &str,
) -> PyResult<EnsembleSpec> {
    Ok(EnsembleSpec {
        n_features,
        n_outputs,
        leaf_width,
        base_offset: Vec::new(),
        rules: parse_rules(rules)?,
        link: link.parse::<Link>().map_err(PyFsErr)?,
        objective: objective.to_string(),
        feature_names: None,
        categorical_features: Vec::new(),
    })
}

fn from_raw_trees(spec: EnsembleSpec, raw: Vec<RawTree>) -> PyResult<PyTreeEnsemble> {
    let inner = TreeEnsemble::new(spec, raw).map_err(PyFsErr)?;
    Ok(PyTreeEnsemble::wrap(inner))
}

fn raw_tree(tree: &Bound<'_, PyDict>, t: usize) -> PyResult<RawTree> {
    let zero_is_missing = match tree.get_item("zero_is_missing")? {
        Some(_) => vec_of::<bool>(tree, t, "zero_is_missing")?,
        None => Vec::new(),
    };
    let categories = match tree.get_item("categories")? {
        Some(c) if !c.is_none() => c.extract::<Vec<Option<Vec<u32>>>>().map_err(|_| {
            PyTypeError::new_err(format!(
                "tree {t}: 'categories' must be a list with None or a list of non-negative ints per node"
            ))
        })?,
        _ => Vec::new(),
    };
    let categories_go_left = match tree.get_item("categories_go_left")? {
        Some(v) => v.extract::<bool>()?,
        None => false,
    };
    Ok(RawTree {
        left: vec_of(tree, t, "left")?,
        right: vec_of(tree, t, "right")?,
        feature: vec_of(tree, t, "feature")?,
        threshold: vec_of(tree, t, "threshold")?,
        default_left: vec_of(tree, t, "default_left")?,
        zero_is_missing,
        categories,
        categories_go_left,
        cover: vec_of(tree, t, "cover")?,
        value: vec_of(tree, t, "value")?,
        output: required(tree, t, "output")?.extract()?,
    })
}

#[pymethods]
impl PyTreeEnsemble {
    #[staticmethod]
    #[pyo3(signature = (data, format=None))]
    fn from_bytes(py: Python<'_>, data: &[u8], format: Option<&str>) -> PyResult<Self> {
        let format = parse_format(format)?;
        let data = data.to_vec();
        let inner = compute(py, Some(1), move || TreeEnsemble::from_bytes(&data, format))?;
        Ok(PyTreeEnsemble::wrap(inner))
    }

    /// The model in ferroshap's compact binary form (`from_bytes` reads it back).
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let bytes = py.detach(|| self.inner.to_bytes());
        PyBytes::new(py, &bytes)
    }

    /// Pickles as the compact binary form: `TreeEnsemble.from_bytes(bytes)` on unpickling.
    fn __reduce__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let from_bytes = py.get_type::<PyTreeEnsemble>().getattr("from_bytes")?;
        Ok((from_bytes, (self.to_bytes(py),)))
    }

    #[staticmethod]
    fn from_file(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let inner = compute(py, Some(1), move || TreeEnsemble::from_file(&path))?;
        Ok(PyTreeEnsemble::wrap(inner))
    }

    /// An XGBoost JSON dump (a JSON array of `get_dump(dump_format="json", with_stats=True)`
    /// trees); what the dump lacks comes from `config` (`save_config()`) or the arguments,
    /// which take precedence.
    #[staticmethod]
    #[pyo3(signature = (dump, *, config=None, objective=None, base_score=None, num_feature=None,
        num_class=None, num_parallel_tree=None, feature_names=None))]
    #[allow(clippy::too_many_arguments)]
    fn from_xgboost_dump(
        py: Python<'_>,
        dump: &[u8],
        config: Option<&[u8]>,
        objective: Option<String>,
        base_score: Option<Vec<f64>>,
        num_feature: Option<usize>,
        num_class: Option<usize>,
        num_parallel_tree: Option<usize>,
        feature_names: Option<Vec<String>>,
    ) -> PyResult<Self> {
        let mut settings = match config {
            Some(c) => DumpSettings::from_config(c).map_err(PyFsErr)?,
            None => DumpSettings::default(),
        };
        settings.objective = objective.or(settings.objective);
        settings.base_score = base_score.or(settings.base_score);
        settings.n_features = num_feature.or(settings.n_features);
        settings.n_outputs = num_class.or(settings.n_outputs);
        settings.parallel_trees = num_parallel_tree.or(settings.parallel_trees);
        settings.feature_names = feature_names.or(settings.feature_names);
        let dump = dump.to_vec();
        let inner = compute(py, Some(1), move || {
            xgboost_dump::from_dump(&dump, &settings)
        })?;
        Ok(PyTreeEnsemble::wrap(inner))
    }

    /// A LightGBM JSON dump: `json.dumps(booster.dump_model())`.
    #[staticmethod]
    fn from_lightgbm_dump(py: Python<'_>, dump: &[u8]) -> PyResult<Self> {
        let dump = dump.to_vec();
        let inner = compute(py, Some(1), move || lightgbm_dump::from_dump(&dump))?;
        Ok(PyTreeEnsemble::wrap(inner))
    }

    #[staticmethod]
    #[pyo3(signature = (trees, *, n_features, n_outputs, leaf_width, base_offset, rules,
        link="identity", objective="", feature_names=None, categorical_features=None))]
    fn from_arrays(
        trees: Vec<Bound<'_, PyDict>>,
        n_features: usize,
        n_outputs: usize,
        leaf_width: usize,
        base_offset: Vec<f64>,
        rules: &str,
        link: &str,
        objective: &str,
        feature_names: Option<Vec<String>>,
        categorical_features: Option<Vec<bool>>,
    ) -> PyResult<Self> {
        let raw = trees
            .iter()
            .enumerate()
            .map(|(t, d)| raw_tree(d, t))
            .collect::<PyResult<Vec<_>>>()?;
        let spec = EnsembleSpec {
            base_offset,
            feature_names,
            categorical_features: categorical_features.unwrap_or_default(),
            ..ensemble_spec(n_features, n_outputs, leaf_width, rules, link, objective)?
        };
        from_raw_trees(spec, raw)
    }

    /// Trees given as one run of node arrays, tree after tree: what `from_arrays` builds
    /// from per-tree dicts, without a Python object per tree and array (a scikit-learn
    /// forest converts in one pass). Numeric splits only.
    #[staticmethod]
    #[pyo3(signature = (n_nodes, outputs, left, right, feature, threshold, default_left, cover,
        value, *, n_features, n_outputs, leaf_width, base_offset, rules, link="identity",
        objective="", feature_names=None))]
    #[allow(clippy::too_many_arguments)]
    fn from_flat_arrays(
        n_nodes: PyReadonlyArray1<'_, i64>,
        outputs: PyReadonlyArray1<'_, i64>,
        left: PyReadonlyArray1<'_, i64>,
        right: PyReadonlyArray1<'_, i64>,
        feature: PyReadonlyArray1<'_, i64>,
        threshold: PyReadonlyArray1<'_, f64>,
        default_left: PyReadonlyArray1<'_, bool>,
        cover: PyReadonlyArray1<'_, f64>,
        value: PyReadonlyArray1<'_, f64>,
        n_features: usize,
        n_outputs: usize,
        leaf_width: usize,
        base_offset: Vec<f64>,
        rules: &str,
        link: &str,
        objective: &str,
        feature_names: Option<Vec<String>>,
    ) -> PyResult<Self> {
        let (n_nodes, outputs) = (n_nodes.as_array(), outputs.as_array());
        let (left, right, feature) = (left.as_array(), right.as_array(), feature.as_array());
        let (threshold, default_left) = (threshold.as_array(), default_left.as_array());
        let (cover, value) = (cover.as_array(), value.as_array());
        if outputs.len() != n_nodes.len() {
            return Err(PyValueError::new_err(format!(
                "{} outputs for {} trees",
                outputs.len(),
                n_nodes.len()
            )));
        }
        let total = n_nodes.iter().try_fold(0usize, |acc, &n| {
            usize::try_from(n).ok().and_then(|n| acc.checked_add(n))
        });
        let Some(total) = total else {
            return Err(PyValueError::new_err(
                "n_nodes must hold non-negative node counts",
            ));
        };
        for (name, len) in [
            ("left", left.len()),
            ("right", right.len()),
            ("feature", feature.len()),
            ("threshold", threshold.len()),
            ("default_left", default_left.len()),
            ("cover", cover.len()),
        ] {
            if len != total {
                return Err(PyValueError::new_err(format!(
                    "{name} has {len} entries for {total} nodes"
                )));
            }
        }
        if Some(value.len()) != total.checked_mul(leaf_width) {
            return Err(PyValueError::new_err(format!(
                "value has {} entries for {total} nodes of {leaf_width} values",
                value.len()
            )));
        }
        let mut raw = Vec::with_capacity(n_nodes.len());
        let mut start = 0usize;
        for (&n, &output) in n_nodes.iter().zip(outputs.iter()) {
            let nodes = start..start + n as usize;
            let output = usize::try_from(output)
                .map_err(|_| PyValueError::new_err(format!("negative output {output}")))?;
            raw.push(RawTree {
                left: left.slice(ndarray::s![nodes.clone()]).to_vec(),
                right: right.slice(ndarray::s![nodes.clone()]).to_vec(),
                feature: feature.slice(ndarray::s![nodes.clone()]).to_vec(),
                threshold: threshold.slice(ndarray::s![nodes.clone()]).to_vec(),
                default_left: default_left.slice(ndarray::s![nodes.clone()]).to_vec(),
                zero_is_missing: Vec::new(),
                categories: Vec::new(),
                categories_go_left: false,
                cover: cover.slice(ndarray::s![nodes.clone()]).to_vec(),
                value: value
                    .slice(ndarray::s![
                        nodes.start * leaf_width..nodes.end * leaf_width
                    ])
                    .to_vec(),
                output,
            });
            start = nodes.end;
        }
        let spec = EnsembleSpec {
            base_offset,
            feature_names,
            ..ensemble_spec(n_features, n_outputs, leaf_width, rules, link, objective)?
        };
        from_raw_trees(spec, raw)
    }

    #[getter]
    fn n_features(&self) -> usize {
        self.inner.n_features()
    }
    #[getter]
    fn n_outputs(&self) -> usize {
        self.inner.n_outputs()
    }
    #[getter]
    fn n_trees(&self) -> usize {
        self.inner.trees().len()
    }
    #[getter]
    fn leaf_width(&self) -> usize {
        self.inner.leaf_width()
    }
    #[getter]
    fn max_depth(&self) -> usize {
        self.inner.max_depth()
    }
    #[getter]
    fn objective(&self) -> &str {
        self.inner.objective()
    }
    #[getter]
    fn link(&self) -> &'static str {
        self.inner.link().name()
    }
    #[getter]
    fn rules(&self) -> &'static str {
        rules_name(self.inner.rules())
    }
    #[getter]
    fn base_offset<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.inner.base_offset().to_vec().into_pyarray(py)
    }
    #[getter]
    fn feature_names(&self) -> Option<Vec<String>> {
        self.inner.feature_names().map(<[String]>::to_vec)
    }
    #[getter]
    fn categorical_features(&self) -> Vec<bool> {
        self.inner.categorical_features().to_vec()
    }

    /// Bytes held by the trees' arrays.
    #[getter]
    fn size_bytes(&self) -> usize {
        self.inner.size_bytes()
    }

    /// Bytes held by path-dependent Tree SHAP's per-model tables (computed on first use).
    fn path_dependent_table_bytes(&self, py: Python<'_>) -> usize {
        py.detach(|| self.path_dependent.table_bytes())
    }

    /// Bytes held by the layout that explaining up to 8 rows walks (computed on first use).
    fn single_row_table_bytes(&self, py: Python<'_>) -> usize {
        py.detach(|| self.path_dependent.single_row_table_bytes())
    }

    fn select_trees(&self, indices: Vec<usize>) -> PyFsResult<Self> {
        Ok(PyTreeEnsemble::wrap(self.inner.select_trees(&indices)?))
    }

    /// A copy whose node covers are counted from the rows of `data`.
    #[pyo3(signature = (data, n_threads=None))]
    fn with_covers_from_data<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
        n_threads: Option<usize>,
    ) -> PyResult<Self> {
        let x = FloatMatrix::extract(data)?;
        let model = &self.inner;
        let inner = with_view!(x, |v| compute(py, n_threads, || model
            .with_covers_from_data(v)))?;
        Ok(PyTreeEnsemble::wrap(inner))
    }

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
        // A few rows (the additivity check of a one-row explanation) are predicted on this
        // thread: the hand-off to the pool would cost more than they do.
        let n_rows = with_view!(x, |v| v.nrows());
        let work = n_rows.saturating_mul(model.trees().len() * model.max_depth().max(1));
        let out = with_view!(x, |v| compute_sized(py, n_threads, work, || model
            .predict_margin(v)))?;
        Ok(out.into_pyarray(py))
    }

    /// The prediction through `output` (default: the model's inverse link), `scale` times
    /// the margins first; shape (N, K'), K' = 2 for `"logistic_pair"`.
    #[pyo3(signature = (X, output=None, *, scale=1.0, n_threads=None))]
    #[allow(non_snake_case)]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        X: &Bound<'py, PyAny>,
        output: Option<&str>,
        scale: f64,
        n_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let output = match output {
            Some(name) => parse_output(name, scale)?,
            None => self.inner.link().output(scale),
        };
        let x = FloatMatrix::extract(X)?;
        let model = &self.inner;
        // As predict_margin: a few rows (the native path's check of the explained rows) are
        // predicted on this thread.
        let n_rows = with_view!(x, |v| v.nrows());
        let work = n_rows.saturating_mul(model.trees().len() * model.max_depth().max(1));
        let out = with_view!(x, |v| compute_sized(py, n_threads, work, || model
            .predict(v, output)))?;
        Ok(out.into_pyarray(py))
    }

    #[pyo3(signature = (X, n_threads=None))]
    #[allow(non_snake_case)]
    fn shap_values<'py>(
        &self,
        py: Python<'py>,
        X: &Bound<'py, PyAny>,
        n_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray3<f64>>> {
        let x = FloatMatrix::extract(X)?;
        let model = &*self.inner;
        let explainer = &self.path_dependent;
        let out = with_view!(x, |v| compute(py, n_threads, || {
            // Oblivious trees (CatBoost) by table lookup when enough rows pay for the tables.
            match oblivious::shap_values(model, v)? {
                Some(values) => Ok(values),
                None => explainer.shap_values(v),
            }
        }))?;
        Ok(out.values.into_pyarray(py))
    }

    /// Saabas values (shap's `approximate=True`), shape (N, M, K), measured from
    /// `expected_value()`.
    #[pyo3(signature = (X, n_threads=None))]
    #[allow(non_snake_case)]
    fn saabas_values<'py>(
        &self,
        py: Python<'py>,
        X: &Bound<'py, PyAny>,
        n_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray3<f64>>> {
        let x = FloatMatrix::extract(X)?;
        let model = &*self.inner;
        let out = with_view!(x, |v| compute(py, n_threads, || {
            saabas::saabas_values(model, v)
        }))?;
        Ok(out.values.into_pyarray(py))
    }

    /// Path-dependent SHAP interaction values, shape (N, F, F, K).
    #[pyo3(signature = (X, features=None, max_bytes=None, n_threads=None))]
    #[allow(non_snake_case)]
    fn shap_interaction_values<'py>(
        &self,
        py: Python<'py>,
        X: &Bound<'py, PyAny>,
        features: Option<Vec<usize>>,
        max_bytes: Option<usize>,
        n_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray4<f64>>> {
        let x = FloatMatrix::extract(X)?;
        let explainer = &self.path_dependent;
        let options = InteractionOptions {
            features,
            max_output_bytes: max_bytes,
        };
        let out = with_view!(x, |v| compute(py, n_threads, || {
            explainer.interaction_values(v, &options)
        }))?;
        Ok(out.values.into_pyarray(py))
    }

    /// Interventional SHAP interaction values against every row of `background`, shape
    /// (N, F, F, K).
    #[pyo3(signature = (X, background, weights=None, features=None, max_bytes=None, n_threads=None))]
    #[allow(non_snake_case, clippy::too_many_arguments)]
    fn interventional_shap_interaction_values<'py>(
        &self,
        py: Python<'py>,
        X: &Bound<'py, PyAny>,
        background: &Bound<'py, PyAny>,
        weights: Option<PyReadonlyArray1<'py, f64>>,
        features: Option<Vec<usize>>,
        max_bytes: Option<usize>,
        n_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray4<f64>>> {
        let x = FloatMatrix::extract(X)?;
        let bg = FloatMatrix::extract_background(background)?;
        let w = weights.as_ref().map(|w| w.as_array());
        let model = &self.inner;
        let options = InteractionOptions {
            features,
            max_output_bytes: max_bytes,
        };
        let out = with_view!(x, |v| with_view!(bg, |b| compute(py, n_threads, || {
            interventional::interaction_values(model, v, b, w, &options)
        })))?;
        Ok(out.values.into_pyarray(py))
    }

    fn expected_value<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.path_dependent.base_values().to_vec().into_pyarray(py)
    }

    /// Interventional SHAP values against every row of `background`, shape (N, M, K).
    #[pyo3(signature = (X, background, weights=None, n_threads=None))]
    #[allow(non_snake_case)]
    fn interventional_shap_values<'py>(
        &self,
        py: Python<'py>,
        X: &Bound<'py, PyAny>,
        background: &Bound<'py, PyAny>,
        weights: Option<PyReadonlyArray1<'py, f64>>,
        n_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray3<f64>>> {
        let x = FloatMatrix::extract(X)?;
        let bg = FloatMatrix::extract_background(background)?;
        let w = weights.as_ref().map(|w| w.as_array());
        let model = &self.inner;
        let out = with_view!(x, |v| with_view!(bg, |b| compute(py, n_threads, || {
            interventional::shap_values_weighted(model, v, b, w)
        })))?;
        Ok(out.values.into_pyarray(py))
    }

    /// Base value of interventional SHAP: the (weighted) mean margin over `background`.
    #[pyo3(signature = (background, weights=None, n_threads=None))]
    fn interventional_expected_value<'py>(
        &self,
        py: Python<'py>,
        background: &Bound<'py, PyAny>,
        weights: Option<PyReadonlyArray1<'py, f64>>,
        n_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let bg = FloatMatrix::extract_background(background)?;
        let w = weights.as_ref().map(|w| w.as_array());
        let model = &self.inner;
        let out = with_view!(bg, |b| compute(py, n_threads, || {
            interventional::expected_value(model, b, w)
        }))?;
        Ok(out.into_pyarray(py))
    }

    /// Interventional SHAP values of a transformed output (see
    /// `ferroshap::tree_shap::model_output`): `(values (N, M, K'), base_values (N, K'),
    /// standard_errors (N, M, K'), n_estimated_pairs)`. `method`: `"auto"` (exact pairs up to
    /// `max_pair_features`, estimated above, to standard error `tolerance`) or
    /// `"shap_rescale"`.
    #[pyo3(signature = (X, background, output, *, scale=1.0, labels=None, weights=None,
                        max_pair_features=model_output::DEFAULT_MAX_PAIR_FEATURES,
                        method="auto", tolerance=model_output::DEFAULT_TOLERANCE, seed=0,
                        max_samples=model_output::DEFAULT_MAX_SAMPLES, n_threads=None))]
    #[allow(non_snake_case, clippy::too_many_arguments)]
    fn interventional_output_values<'py>(
        &self,
        py: Python<'py>,
        X: &Bound<'py, PyAny>,
        background: &Bound<'py, PyAny>,
        output: &str,
        scale: f64,
        labels: Option<PyReadonlyArray1<'py, f64>>,
        weights: Option<PyReadonlyArray1<'py, f64>>,
        max_pair_features: usize,
        method: &str,
        tolerance: f64,
        seed: u64,
        max_samples: usize,
        n_threads: Option<usize>,
    ) -> PyResult<OutputResult<'py>> {
        let transform = parse_output(output, scale)?;
        let x = FloatMatrix::extract(X)?;
        let bg = FloatMatrix::extract_background(background)?;
        let w = weights.as_ref().map(|w| w.as_array());
        let y = labels.as_ref().map(|y| y.as_array());
        let method = match method {
            "auto" => PairMethod::Auto,
            "shap_rescale" => PairMethod::ShapRescale,
            other => {
                return Err(PyValueError::new_err(format!(
                    "method must be 'auto' or 'shap_rescale', got {other:?}"
                )));
            }
        };
        let options = OutputOptions {
            max_pair_features,
            method,
            tolerance,
            seed,
            max_samples,
        };
        let model = &self.inner;
        let out = with_view!(x, |v| with_view!(bg, |b| compute(py, n_threads, || {
            model_output::shap_values(model, v, b, w, transform, y, &options)
        })))?;
        Ok((
            out.values.into_pyarray(py),
            out.base_values.into_pyarray(py),
            out.standard_errors.into_pyarray(py),
            out.n_estimated_pairs,
        ))
    }

    /// Base values of a transformed output: `(n_labels, K')` for losses (one row per label),
    /// `(1, K')` otherwise.
    #[pyo3(signature = (background, output, *, scale=1.0, labels=None, weights=None, n_threads=None))]
    #[allow(clippy::too_many_arguments)]
    fn interventional_output_expected_value<'py>(
        &self,
        py: Python<'py>,
        background: &Bound<'py, PyAny>,
        output: &str,
        scale: f64,
        labels: Option<PyReadonlyArray1<'py, f64>>,
        weights: Option<PyReadonlyArray1<'py, f64>>,
        n_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let transform = parse_output(output, scale)?;
        let bg = FloatMatrix::extract_background(background)?;
        let w = weights.as_ref().map(|w| w.as_array());
        let y = labels.as_ref().map(|y| y.as_array());
        let model = &self.inner;
        let out = with_view!(bg, |b| compute(py, n_threads, || {
            model_output::expected_value(model, b, w, transform, y)
        }))?;
        Ok(out.into_pyarray(py))
    }

    fn __repr__(&self) -> String {
        format!(
            "TreeEnsemble(n_trees={}, n_features={}, n_outputs={}, objective={:?})",
            self.inner.trees().len(),
            self.inner.n_features(),
            self.inner.n_outputs(),
            self.inner.objective()
        )
    }
}
