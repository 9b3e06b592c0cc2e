//! `ferroshap._core.GameJob`: a model-agnostic estimator (Kernel, Permutation, Exact) on a
//! block of explained rows. Python calls the user's model on the masked batches this builds;
//! everything else runs here with the GIL released.

use std::sync::Arc;

use ferroshap::game::{
    Criterion, EngineJob, Estimator, ExactEstimator, FeatureSelection, Hierarchy, KernelEstimator,
    KernelJob, KernelOptions, Link, OwenEstimator, PairEvaluation, PartitionEstimator,
    PermutationEstimator, Problem, Sampling, SamplingEstimator,
};
use ferroshap::game::{GroupTree, WinterEstimator};
use ferroshap::game::{set_tree_values, tree_ensemble_shap_values_at};
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArray3, PyReadonlyArray1, PyReadonlyArray2,
    PyReadwriteArray2,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::error::PyFsErr;
use crate::tree::{PyTreeEnsemble, parse_output};
use crate::{compute, compute_sized};

/// `(values, standard errors, base values, ill-conditioned rows)`.
type KernelResult<'py> = (
    Bound<'py, PyArray3<f64>>,
    Bound<'py, PyArray3<f64>>,
    Vec<f64>,
    Vec<usize>,
);

/// `(explained row of each masked row, its coalition mask)`.
type RowsAndMasks<'py> = (Bound<'py, PyArray1<i64>>, Bound<'py, PyArray2<bool>>);

fn parse_link(link: &str) -> PyResult<Link> {
    Ok(link.parse::<Link>().map_err(PyFsErr)?)
}

fn parse_sampling(sampling: &str) -> PyResult<Sampling> {
    match sampling {
        "stratified" => Ok(Sampling::Stratified),
        "shap" => Ok(Sampling::Shap),
        other => Err(PyValueError::new_err(format!(
            "unknown sampling {other:?}; expected 'stratified' or 'shap'"
        ))),
    }
}

fn parse_evaluation(evaluation: &str) -> PyResult<PairEvaluation> {
    Ok(match evaluation {
        "auto" => PairEvaluation::Auto,
        "table" => PairEvaluation::Table,
        "scan" => PairEvaluation::Scan,
        other => {
            return Err(PyValueError::new_err(format!(
                "unknown evaluation {other:?}; expected 'auto', 'table' or 'scan'"
            )));
        }
    })
}

/// One estimator's job on the engine, whichever estimator it is.
enum AnyJob {
    Kernel(KernelJob),
    Permutation(EngineJob<PermutationEstimator>),
    Exact(EngineJob<ExactEstimator>),
    Sampling(EngineJob<SamplingEstimator>),
    Owen(EngineJob<OwenEstimator>),
    Partition(EngineJob<PartitionEstimator>),
    Winter(EngineJob<WinterEstimator>),
}

/// Runs `$body` with `$job` bound to the job inside `$any`, whatever its estimator.
macro_rules! with_job {
    ($any:expr, $job:ident => $body:expr) => {
        match $any {
            AnyJob::Kernel($job) => $body,
            AnyJob::Permutation($job) => $body,
            AnyJob::Exact($job) => $body,
            AnyJob::Sampling($job) => $body,
            AnyJob::Owen($job) => $body,
            AnyJob::Partition($job) => $body,
            AnyJob::Winter($job) => $body,
        }
    };
}

/// An estimator at work on a block of explained rows (Kernel, Permutation or Exact SHAP):
/// it plans rounds of coalitions, builds their masked rows for the model in batches, takes
/// the model's outputs back in order, and reduces them to values.
#[pyclass(name = "GameJob", module = "ferroshap._core")]
pub(crate) struct PyGameJob {
    inner: AnyJob,
}

fn problem_of(
    x: &PyReadonlyArray2<'_, f64>,
    background: &PyReadonlyArray2<'_, f64>,
    weights: &PyReadonlyArray1<'_, f64>,
    fnull: &PyReadonlyArray1<'_, f64>,
) -> PyResult<Problem> {
    let w = weights.as_array().to_vec();
    let f = fnull.as_array().to_vec();
    Problem::new(x.as_array(), background.as_array(), Some(&w), &f)
        .map_err(|e| crate::error::PyFsErr(e).into())
}

/// `problem` with coalition values on `link`'s scale (see `Problem::with_link`), given the
/// model's outputs on the background rows.
fn linked(
    problem: Problem,
    link: &str,
    linearize_link: bool,
    background_outputs: Option<PyReadonlyArray2<'_, f64>>,
) -> PyResult<Problem> {
    let link = parse_link(link)?;
    if link == Link::Identity {
        return Ok(problem);
    }
    let outputs = background_outputs.ok_or_else(|| {
        PyValueError::new_err("a link other than 'identity' needs background_outputs")
    })?;
    problem
        .with_link(link, linearize_link, outputs.as_array())
        .map_err(|e| crate::error::PyFsErr(e).into())
}

/// The expected value on `link`'s scale of a model whose outputs on background rows with
/// `weights` are `background_outputs` (`n_background × n_outputs`), one value per output, as
/// the engine's jobs with that link compute it.
#[pyfunction]
#[pyo3(signature = (background_outputs, weights, link, linearize_link=true))]
pub(crate) fn linked_expected_value(
    background_outputs: PyReadonlyArray2<'_, f64>,
    weights: PyReadonlyArray1<'_, f64>,
    link: &str,
    linearize_link: bool,
) -> PyResult<Vec<f64>> {
    let w = weights.as_array().to_vec();
    ferroshap::game::linked_expected_value(
        background_outputs.as_array(),
        Some(&w),
        parse_link(link)?,
        linearize_link,
    )
    .map_err(|e| crate::error::PyFsErr(e).into())
}

/// The hierarchy of a linkage matrix in scipy's format (`(M − 1) × ≥2`: children, then an
/// optional distance; a negative distance marks a cluster not to be split, as in shap).
fn hierarchy_of(linkage: &PyReadonlyArray2<'_, f64>) -> PyResult<Arc<Hierarchy>> {
    let a = linkage.as_array();
    if a.ncols() < 2 && a.nrows() > 0 {
        return Err(PyValueError::new_err(format!(
            "a clustering needs at least 2 columns (the two children of each merge), got {}",
            a.ncols()
        )));
    }
    let rows: Vec<(f64, f64, f64)> = a
        .rows()
        .into_iter()
        .map(|r| (r[0], r[1], if r.len() >= 3 { r[2] } else { 1.0 }))
        .collect();
    Hierarchy::from_linkage(&rows)
        .map(Arc::new)
        .map_err(|e| crate::error::PyFsErr(e).into())
}

/// Plans the first round of `estimator` on `problem` with the GIL released.
fn start<E: Estimator + Send>(
    py: Python<'_>,
    n_threads: Option<usize>,
    problem: Problem,
    estimator: E,
    wrap: fn(EngineJob<E>) -> AnyJob,
) -> PyResult<PyGameJob> {
    let job = compute(py, n_threads, || EngineJob::start(problem, estimator))?;
    Ok(PyGameJob { inner: wrap(job) })
}

#[pymethods]
impl PyGameJob {
    /// Kernel SHAP (shap's `KernelExplainer` estimator).
    #[staticmethod]
    #[pyo3(signature = (X, background, weights, fnull, *, link="identity", nsamples=None,
        seed=0, row_offset=0, num_features=None, lasso_alpha=None, criterion=None,
        sampling="stratified", n_threads=None, standard_errors=true))]
    #[allow(non_snake_case, clippy::too_many_arguments)]
    fn kernel(
        py: Python<'_>,
        X: PyReadonlyArray2<'_, f64>,
        background: PyReadonlyArray2<'_, f64>,
        weights: PyReadonlyArray1<'_, f64>,
        fnull: PyReadonlyArray1<'_, f64>,
        link: &str,
        nsamples: Option<usize>,
        seed: u64,
        row_offset: u64,
        num_features: Option<usize>,
        lasso_alpha: Option<f64>,
        criterion: Option<&str>,
        sampling: &str,
        n_threads: Option<usize>,
        standard_errors: bool,
    ) -> PyResult<Self> {
        let selection = selection_of(num_features, lasso_alpha, criterion)?;
        let options = KernelOptions {
            nsamples,
            link: parse_link(link)?,
            seed,
            selection,
            sampling: parse_sampling(sampling)?,
            standard_errors,
        };
        let problem = problem_of(&X, &background, &weights, &fnull)?;
        let estimator = KernelEstimator::new(&options, row_offset);
        start(py, n_threads, problem, estimator, AnyJob::Kernel)
    }

    /// Permutation SHAP (shap's `PermutationExplainer` estimator).
    #[staticmethod]
    #[pyo3(signature = (X, background, weights, fnull, *, max_evals, seed=0, row_offset=0,
        n_threads=None, link="identity", linearize_link=true, background_outputs=None))]
    #[allow(non_snake_case, clippy::too_many_arguments)]
    fn permutation(
        py: Python<'_>,
        X: PyReadonlyArray2<'_, f64>,
        background: PyReadonlyArray2<'_, f64>,
        weights: PyReadonlyArray1<'_, f64>,
        fnull: PyReadonlyArray1<'_, f64>,
        max_evals: usize,
        seed: u64,
        row_offset: u64,
        n_threads: Option<usize>,
        link: &str,
        linearize_link: bool,
        background_outputs: Option<PyReadonlyArray2<'_, f64>>,
    ) -> PyResult<Self> {
        let problem = problem_of(&X, &background, &weights, &fnull)?;
        let problem = linked(problem, link, linearize_link, background_outputs)?;
        let estimator = PermutationEstimator::new(max_evals, seed, row_offset);
        start(py, n_threads, problem, estimator, AnyJob::Permutation)
    }

    /// Exact Shapley values over every coalition (shap's `ExactExplainer` estimator).
    #[staticmethod]
    /// With a `clustering` (a linkage matrix), exact Owen values over that hierarchy.
    #[pyo3(signature = (X, background, weights, fnull, *, max_evals=None, row_offset=0,
        n_threads=None, clustering=None, link="identity", linearize_link=true,
        background_outputs=None))]
    #[allow(non_snake_case, clippy::too_many_arguments)]
    fn exact(
        py: Python<'_>,
        X: PyReadonlyArray2<'_, f64>,
        background: PyReadonlyArray2<'_, f64>,
        weights: PyReadonlyArray1<'_, f64>,
        fnull: PyReadonlyArray1<'_, f64>,
        max_evals: Option<usize>,
        row_offset: u64,
        n_threads: Option<usize>,
        clustering: Option<PyReadonlyArray2<'_, f64>>,
        link: &str,
        linearize_link: bool,
        background_outputs: Option<PyReadonlyArray2<'_, f64>>,
    ) -> PyResult<Self> {
        let problem = problem_of(&X, &background, &weights, &fnull)?;
        let problem = linked(problem, link, linearize_link, background_outputs)?;
        if let Some(linkage) = clustering {
            let estimator =
                OwenEstimator::new(vec![hierarchy_of(&linkage)?], max_evals, row_offset);
            return start(py, n_threads, problem, estimator, AnyJob::Owen);
        }
        let estimator = ExactEstimator::new(max_evals, row_offset);
        start(py, n_threads, problem, estimator, AnyJob::Exact)
    }

    /// Partition SHAP (shap's `PartitionExplainer` estimator): Owen values over the
    /// hierarchies of `clustering` (one linkage matrix for every row, or one per row), at most
    /// `max_evals` coalitions per row expanded `batch_size` at a time. With `own_background`,
    /// row `i` is masked onto background row `i` alone.
    #[staticmethod]
    #[pyo3(signature = (X, background, weights, fnull, clustering, *, max_evals=500,
        batch_size=10, own_background=false, fixed_context=None, n_threads=None,
        link="identity", linearize_link=true, background_outputs=None))]
    #[allow(non_snake_case, clippy::too_many_arguments)]
    fn partition(
        py: Python<'_>,
        X: PyReadonlyArray2<'_, f64>,
        background: PyReadonlyArray2<'_, f64>,
        weights: PyReadonlyArray1<'_, f64>,
        fnull: PyReadonlyArray1<'_, f64>,
        clustering: Vec<PyReadonlyArray2<'_, f64>>,
        max_evals: usize,
        batch_size: usize,
        own_background: bool,
        fixed_context: Option<u8>,
        n_threads: Option<usize>,
        link: &str,
        linearize_link: bool,
        background_outputs: Option<PyReadonlyArray2<'_, f64>>,
    ) -> PyResult<Self> {
        let fixed_context = match fixed_context {
            None => None,
            Some(c @ (0 | 1)) => Some(c == 1),
            Some(other) => {
                return Err(PyValueError::new_err(format!(
                    "fixed_context must be 0, 1 or None, got {other}"
                )));
            }
        };
        let problem = problem_of(&X, &background, &weights, &fnull)?;
        let problem = linked(problem, link, linearize_link, background_outputs)?;
        let hierarchies = clustering
            .iter()
            .map(hierarchy_of)
            .collect::<PyResult<Vec<_>>>()?;
        let estimator = PartitionEstimator::new(hierarchies, max_evals, batch_size, own_background)
            .map_err(crate::error::PyFsErr)?
            .with_fixed_context(fixed_context);
        start(py, n_threads, problem, estimator, AnyJob::Partition)
    }

    /// Winter values (shap's `CoalitionExplainer` estimator) over a hierarchy of groups:
    /// `groups[t]` lists the members of group `t` (node `n_features + t`), features or
    /// earlier groups; the last group is the root.
    #[staticmethod]
    #[pyo3(signature = (X, background, weights, fnull, groups, *, n_threads=None,
        link="identity", linearize_link=true, background_outputs=None))]
    #[allow(non_snake_case, clippy::too_many_arguments)]
    fn winter(
        py: Python<'_>,
        X: PyReadonlyArray2<'_, f64>,
        background: PyReadonlyArray2<'_, f64>,
        weights: PyReadonlyArray1<'_, f64>,
        fnull: PyReadonlyArray1<'_, f64>,
        groups: Vec<Vec<usize>>,
        n_threads: Option<usize>,
        link: &str,
        linearize_link: bool,
        background_outputs: Option<PyReadonlyArray2<'_, f64>>,
    ) -> PyResult<Self> {
        let problem = problem_of(&X, &background, &weights, &fnull)?;
        let problem = linked(problem, link, linearize_link, background_outputs)?;
        let tree = GroupTree::new(problem.n_columns(), groups).map_err(PyFsErr)?;
        let estimator = WinterEstimator::new(Arc::new(tree)).map_err(PyFsErr)?;
        start(py, n_threads, problem, estimator, AnyJob::Winter)
    }

    /// `(coalitions, marginal contributions)` per row that Winter values over `groups` (as
    /// for `winter`) take; raises ValueError for a malformed hierarchy or one above the
    /// limit of contributions per row (so that an explainer refuses it when built).
    #[staticmethod]
    fn winter_size(n_features: usize, groups: Vec<Vec<usize>>) -> PyResult<(usize, usize)> {
        let tree = GroupTree::new(n_features, groups).map_err(PyFsErr)?;
        tree.check_size().map_err(PyFsErr)?;
        Ok((tree.n_coalitions(), tree.n_terms()))
    }

    /// Sampling SHAP (shap's `SamplingExplainer` estimator, IME in two rounds).
    #[staticmethod]
    #[pyo3(signature = (X, background, weights, fnull, *, nsamples=None,
        min_samples_per_feature=100, seed=0, row_offset=0, n_threads=None))]
    #[allow(non_snake_case, clippy::too_many_arguments)]
    fn sampling(
        py: Python<'_>,
        X: PyReadonlyArray2<'_, f64>,
        background: PyReadonlyArray2<'_, f64>,
        weights: PyReadonlyArray1<'_, f64>,
        fnull: PyReadonlyArray1<'_, f64>,
        nsamples: Option<usize>,
        min_samples_per_feature: usize,
        seed: u64,
        row_offset: u64,
        n_threads: Option<usize>,
    ) -> PyResult<Self> {
        let problem = problem_of(&X, &background, &weights, &fnull)?;
        let estimator = SamplingEstimator::new(nsamples, min_samples_per_feature, seed, row_offset);
        start(py, n_threads, problem, estimator, AnyJob::Sampling)
    }

    /// Masked rows the model must evaluate in the round in progress.
    #[getter]
    fn n_evaluations(&self) -> usize {
        with_job!(&self.inner, job => job.n_evaluations())
    }

    /// The round in progress (from 0).
    #[getter]
    fn round(&self) -> usize {
        with_job!(&self.inner, job => job.round())
    }

    /// Varying features per row (Kernel jobs only).
    #[getter]
    fn n_varying(&self) -> PyResult<Vec<usize>> {
        match &self.inner {
            AnyJob::Kernel(job) => Ok(job.n_varying()),
            _ => Err(PyValueError::new_err(
                "n_varying is known for Kernel jobs only",
            )),
        }
    }

    /// The masked rows `start..stop` of this round as a float64 array.
    #[pyo3(signature = (start, stop, n_threads=None))]
    fn masked_rows<'py>(
        &self,
        py: Python<'py>,
        start: usize,
        stop: usize,
        n_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let inner = &self.inner;
        let out = compute(
            py,
            n_threads,
            || with_job!(inner, job => job.masked_rows(start, stop)),
        )?;
        Ok(out.into_pyarray(py))
    }

    /// This round's masked rows `start..stop` as `(row, masks)`: the explained row each
    /// belongs to (int64) and its coalition as a boolean mask over the columns, for maskers
    /// that build the model's input themselves (text).
    fn masks<'py>(
        &self,
        py: Python<'py>,
        start: usize,
        stop: usize,
    ) -> PyResult<RowsAndMasks<'py>> {
        let inner = &self.inner;
        let (rows, masks) = compute(py, None, || with_job!(inner, job => job.masks(start, stop)))?;
        let rows: Vec<i64> = rows.into_iter().map(|r| r as i64).collect();
        Ok((rows.into_pyarray(py), masks.into_pyarray(py)))
    }

    /// The value of the empty coalition of each row, `(n_rows, n_outputs)` (Partition jobs,
    /// once the first round is reduced): the base values of maskers whose masked-out input
    /// depends on the row (text, images).
    fn base_values<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        match &self.inner {
            AnyJob::Partition(job) => Ok(job
                .estimator()
                .base_values(job.problem().n_outputs())
                .into_pyarray(py)),
            _ => Err(PyValueError::new_err(
                "base_values are known for Partition jobs only",
            )),
        }
    }

    /// Coalitions evaluated for each row so far, the empty and full ones included
    /// (Partition jobs only).
    #[getter]
    fn n_coalitions(&self) -> PyResult<Vec<usize>> {
        match &self.inner {
            AnyJob::Partition(job) => Ok(job.estimator().n_evaluations()),
            _ => Err(PyValueError::new_err(
                "n_coalitions is known for Partition jobs only",
            )),
        }
    }

    /// Writes this round's masked rows from `start` into `out` (a C-contiguous float64 array
    /// of `n_features` columns), reusing the caller's buffer.
    #[pyo3(signature = (start, out, n_threads=None))]
    fn fill_masked_rows(
        &self,
        py: Python<'_>,
        start: usize,
        mut out: PyReadwriteArray2<'_, f64>,
        n_threads: Option<usize>,
    ) -> PyResult<()> {
        let inner = &self.inner;
        let buf = out
            .as_slice_mut()
            .map_err(|_| PyValueError::new_err("out must be a C-contiguous float64 array"))?;
        compute_sized(
            py,
            n_threads,
            buf.len(),
            || with_job!(inner, job => job.write_masked_rows(start, buf)),
        )
    }

    /// Hands over the model outputs (`rows × n_outputs`, float64) from masked row `start`.
    fn add_outputs(
        &mut self,
        py: Python<'_>,
        start: usize,
        outputs: PyReadonlyArray2<'_, f64>,
    ) -> PyResult<()> {
        let out = outputs.as_array();
        let inner = &mut self.inner;
        // Sequential (sums in background-row order): a pool would add only its hand-off.
        compute_sized(
            py,
            None,
            0,
            || with_job!(inner, job => job.add_outputs(start, out)),
        )
    }

    /// Evaluates the round in progress from a ferroshap tree ensemble's trees (its `output`)
    /// instead of masked rows; `False` (nothing done) when a row's coalitions use more than
    /// 64 features or single background rows, and the caller must evaluate masked rows.
    #[pyo3(signature = (model, output="margin", evaluation="auto", n_threads=None))]
    fn evaluate_tree(
        &mut self,
        py: Python<'_>,
        model: PyRef<'_, PyTreeEnsemble>,
        output: &str,
        evaluation: &str,
        n_threads: Option<usize>,
    ) -> PyResult<bool> {
        let output = parse_output(output, 1.0)?;
        let evaluation = parse_evaluation(evaluation)?;
        let ensemble = &model.inner;
        let inner = &mut self.inner;
        compute(
            py,
            n_threads,
            || with_job!(inner, job => set_tree_values(job, ensemble, output, evaluation)),
        )
    }

    /// Reduces the finished round and plans the next; `True` when there is one to evaluate.
    #[pyo3(signature = (n_threads=None))]
    fn next_round(&mut self, py: Python<'_>, n_threads: Option<usize>) -> PyResult<bool> {
        let inner = &mut self.inner;
        compute(py, n_threads, || with_job!(inner, job => job.next_round()))
    }

    /// The values: `(values (n_rows, n_features, n_outputs), standard errors (same shape),
    /// base_values, ill_conditioned_rows)`.
    #[pyo3(signature = (fx, n_threads=None))]
    #[allow(clippy::type_complexity)]
    fn finish<'py>(
        &mut self,
        py: Python<'py>,
        fx: PyReadonlyArray2<'_, f64>,
        n_threads: Option<usize>,
    ) -> PyResult<KernelResult<'py>> {
        let fx = fx.as_array();
        let inner = &mut self.inner;
        let out = compute(py, n_threads, || with_job!(inner, job => job.finish(fx)))?;
        Ok((
            out.values.into_pyarray(py),
            out.standard_errors.into_pyarray(py),
            out.base_values,
            out.ill_conditioned_rows,
        ))
    }
}

fn selection_of(
    num_features: Option<usize>,
    lasso_alpha: Option<f64>,
    criterion: Option<&str>,
) -> PyResult<FeatureSelection> {
    Ok(match (num_features, lasso_alpha, criterion) {
        (None, None, None) => FeatureSelection::None,
        (Some(k), None, None) => FeatureSelection::NumFeatures(k),
        (None, None, Some("aic")) => FeatureSelection::InformationCriterion(Criterion::Aic),
        (None, None, Some("bic")) => FeatureSelection::InformationCriterion(Criterion::Bic),
        (None, None, Some("auto")) => FeatureSelection::Auto,
        (None, None, Some(other)) => {
            return Err(PyValueError::new_err(format!(
                "unknown criterion {other:?}; expected 'aic', 'bic' or 'auto'"
            )));
        }
        (None, Some(a), None) if a.is_finite() && a > 0.0 => FeatureSelection::LassoAlpha(a),
        (None, Some(a), None) => {
            return Err(PyValueError::new_err(format!(
                "the lasso alpha must be positive and finite, got {a}"
            )));
        }
        _ => {
            return Err(PyValueError::new_err(
                "give at most one of num_features, lasso_alpha and criterion",
            ));
        }
    })
}

/// Kernel SHAP of a ferroshap tree ensemble's `output` (its margin, or the margin through a
/// logistic, two-column logistic, softmax or exp transform) with the whole loop in Rust: the
/// game is evaluated from tree walks over each explained and background row pair, in
/// parallel, with the GIL released.
/// Returns `(values (n_rows, n_features, n_outputs), standard errors, base_values,
/// ill_conditioned_rows)`.
#[pyfunction]
#[pyo3(signature = (model, X, background, weights, *, output="margin", link="identity",
    nsamples=None, seed=0, num_features=None, lasso_alpha=None, criterion=None,
    sampling="stratified", evaluation="auto", n_threads=None, row_offset=0,
    standard_errors=true))]
#[allow(non_snake_case, clippy::type_complexity)]
pub(crate) fn kernel_shap_tree_ensemble<'py>(
    py: Python<'py>,
    model: PyRef<'_, PyTreeEnsemble>,
    X: PyReadonlyArray2<'_, f64>,
    background: PyReadonlyArray2<'_, f64>,
    weights: PyReadonlyArray1<'_, f64>,
    output: &str,
    link: &str,
    nsamples: Option<usize>,
    seed: u64,
    num_features: Option<usize>,
    lasso_alpha: Option<f64>,
    criterion: Option<&str>,
    sampling: &str,
    evaluation: &str,
    n_threads: Option<usize>,
    row_offset: u64,
    standard_errors: bool,
) -> PyResult<KernelResult<'py>> {
    let output = parse_output(output, 1.0)?;
    let evaluation = parse_evaluation(evaluation)?;
    let options = KernelOptions {
        nsamples,
        link: parse_link(link)?,
        seed,
        selection: selection_of(num_features, lasso_alpha, criterion)?,
        sampling: parse_sampling(sampling)?,
        standard_errors,
    };
    let ensemble = &model.inner;
    let (x, bg) = (X.as_array(), background.as_array());
    let w = weights.as_array().to_vec();
    let out = compute(py, n_threads, || {
        tree_ensemble_shap_values_at(
            ensemble,
            output,
            x,
            bg,
            Some(&w),
            &options,
            evaluation,
            row_offset,
        )
    })?;
    Ok((
        out.values.into_pyarray(py),
        out.standard_errors.into_pyarray(py),
        out.base_values,
        out.ill_conditioned_rows,
    ))
}
