//! The estimator protocol and the job that drives it.
//!
//! An [`Estimator`] is a planning rule and a reduction: it plans a round of coalitions for
//! every explained row, reduces the round's coalition values, and plans another round or
//! stops; at the end it turns what it reduced into values. Everything else (masked rows,
//! batches, ordered output sums, checks of the model's outputs) is the [`EngineJob`]'s, written
//! once for every estimator.
//!
//! A caller that evaluates the model drives a job as
//! `loop { for each batch: write_masked_rows, add_outputs; if !next_round() { break } }`
//! and then calls [`EngineJob::finish`]; [`explain`] runs that loop for a Rust closure.

use ndarray::{Array2, Array3, ArrayView2};

use super::batch::{CoalitionBatch, Problem, check_explained_outputs};
use super::coalitions::Coalitions;
use crate::error::{Error, Result};

/// Values of an estimator for a block of explained rows.
#[derive(Clone, Debug)]
pub struct GameValues {
    /// `(n_rows, n_features, n_outputs)`.
    pub values: Array3<f64>,
    /// Estimated standard errors of `values` (0 where a value is exact), same shape.
    pub standard_errors: Array3<f64>,
    /// The value of the empty coalition, per output (after the estimator's link).
    pub base_values: Vec<f64>,
    /// Rows (indices within the block) whose reduction was numerically unreliable (Kernel
    /// SHAP's singular or ill-conditioned regressions).
    pub ill_conditioned_rows: Vec<usize>,
}

impl GameValues {
    /// All-zero values and errors for `problem`'s rows, with the background's mean output as
    /// the expected value.
    pub(crate) fn zeros(problem: &Problem) -> Self {
        let shape = (problem.n_rows(), problem.n_columns(), problem.n_outputs());
        GameValues {
            values: Array3::zeros(shape),
            standard_errors: Array3::zeros(shape),
            base_values: problem.fnull().to_vec(),
            ill_conditioned_rows: Vec::new(),
        }
    }
}

/// A planning rule and a reduction over the coalition game of [`super::batch`].
pub trait Estimator: Send + Sync {
    /// The coalitions to evaluate in round `round` (from 0), one list per explained row
    /// (empty for a row with nothing to evaluate), or `None` when no round is needed.
    fn plan(&mut self, problem: &Problem, round: usize) -> Result<Option<Vec<Coalitions>>>;

    /// Takes the round's coalition values: per row, `Σᵢ wᵢ f(x_S, bᵢ)` for each planned
    /// coalition `S` (`n_coalitions × n_outputs`, in planning order).
    fn reduce(&mut self, problem: &Problem, values: Vec<Vec<f64>>) -> Result<()>;

    /// The values from everything reduced, given the model's outputs at the explained rows
    /// (`n_rows × n_outputs`, already checked).
    fn finish(&self, problem: &Problem, fx: ArrayView2<'_, f64>) -> Result<GameValues>;
}

/// An estimator at work on a block of explained rows: the problem, the estimator, and the
/// batch of the round in progress.
#[derive(Clone, Debug)]
pub struct EngineJob<E> {
    problem: Problem,
    estimator: E,
    batch: Option<CoalitionBatch>,
    round: usize,
}

impl<E: Estimator> EngineJob<E> {
    /// Starts `estimator` on `problem`: plans its first round.
    pub fn start(problem: Problem, mut estimator: E) -> Result<Self> {
        let batch = match estimator.plan(&problem, 0)? {
            Some(coalitions) => Some(CoalitionBatch::new(&problem, coalitions)?),
            None => None,
        };
        Ok(EngineJob {
            problem,
            estimator,
            batch,
            round: 0,
        })
    }

    /// The problem.
    pub fn problem(&self) -> &Problem {
        &self.problem
    }

    /// The estimator.
    pub fn estimator(&self) -> &E {
        &self.estimator
    }

    /// The batch of the round in progress, if any.
    pub fn batch(&self) -> Option<&CoalitionBatch> {
        self.batch.as_ref()
    }

    /// Number of explained rows.
    pub fn n_rows(&self) -> usize {
        self.problem.n_rows()
    }

    /// Masked rows the model must evaluate in this round.
    pub fn n_evaluations(&self) -> usize {
        self.batch.as_ref().map_or(0, CoalitionBatch::n_evaluations)
    }

    /// The round in progress (from 0).
    pub fn round(&self) -> usize {
        self.round
    }

    fn batch_or_err(&self) -> Result<&CoalitionBatch> {
        self.batch
            .as_ref()
            .ok_or_else(|| Error::Parameter("no round is in progress".into()))
    }

    /// This round's masked rows `start..stop`.
    pub fn masked_rows(&self, start: usize, stop: usize) -> Result<Array2<f64>> {
        self.batch_or_err()?.masked_rows(&self.problem, start, stop)
    }

    /// Writes this round's masked rows from `start` on into `out` (whole rows).
    pub fn write_masked_rows(&self, start: usize, out: &mut [f64]) -> Result<()> {
        self.batch_or_err()?
            .write_masked_rows(&self.problem, start, out)
    }

    /// This round's masked rows `start..stop` as (explained row, coalition mask) pairs, for
    /// callers that build the model's input from the masks themselves (text).
    pub fn masks(&self, start: usize, stop: usize) -> Result<(Vec<usize>, Array2<bool>)> {
        self.batch_or_err()?.masks(&self.problem, start, stop)
    }

    /// Takes the model's outputs for this round's masked rows from `start` (in order).
    pub fn add_outputs(&mut self, start: usize, outputs: ArrayView2<'_, f64>) -> Result<()> {
        let batch = self
            .batch
            .as_mut()
            .ok_or_else(|| Error::Parameter("no round is in progress".into()))?;
        batch.add_outputs(&self.problem, start, outputs)
    }

    /// Sets this round's coalition values directly (a value function without masked rows).
    pub fn set_coalition_values(&mut self, values: Vec<Vec<f64>>) -> Result<()> {
        let batch = self
            .batch
            .as_mut()
            .ok_or_else(|| Error::Parameter("no round is in progress".into()))?;
        batch.set_sums(values)
    }

    /// Reduces the finished round and plans the next: `true` when there is one to evaluate.
    pub fn next_round(&mut self) -> Result<bool> {
        let Some(batch) = self.batch.take() else {
            return Ok(false);
        };
        let values = batch.into_sums()?;
        self.estimator.reduce(&self.problem, values)?;
        self.round += 1;
        self.batch = match self.estimator.plan(&self.problem, self.round)? {
            Some(coalitions) => Some(CoalitionBatch::new(&self.problem, coalitions)?),
            None => None,
        };
        Ok(self.batch.is_some())
    }

    /// The values, from the model's outputs at the explained rows (`n_rows × n_outputs`).
    /// Reduces the round in progress first if it is complete; fails if the estimator then
    /// plans another one.
    pub fn finish(&mut self, fx: ArrayView2<'_, f64>) -> Result<GameValues> {
        if self.batch.is_some() && self.next_round()? {
            return Err(Error::Parameter(
                "the estimator planned another round of evaluations; finish it first".into(),
            ));
        }
        check_explained_outputs(fx, self.problem.n_rows(), self.problem.n_outputs())?;
        self.estimator.finish(&self.problem, fx)
    }
}

/// Values of `estimator` for the rows of `x` and a model given as a closure from a batch of
/// rows to its outputs (`rows × n_outputs`). The model is called on the background, on `x`,
/// and then on batches of at most `batch_rows` masked rows (at least one coalition's).
///
/// ```
/// use ferroshap::game::{ExactEstimator, explain};
/// use ndarray::{Array2, array};
///
/// // f(x) = 2 x0 + x1 x2, explained at (1, 2, 3) against a zero background row.
/// let model = |rows: ndarray::ArrayView2<'_, f64>| -> ferroshap::Result<Array2<f64>> {
///     Ok(Array2::from_shape_fn((rows.nrows(), 1), |(i, _)| {
///         2.0 * rows[[i, 0]] + rows[[i, 1]] * rows[[i, 2]]
///     }))
/// };
/// let x = array![[1.0, 2.0, 3.0]];
/// let background = array![[0.0, 0.0, 0.0]];
/// let out = explain(model, x.view(), background.view(), None, ExactEstimator::new(None, 0), 1024)?;
/// for (got, want) in out.values.iter().zip([2.0, 3.0, 3.0]) {
///     assert!((got - want).abs() < 1e-12);
/// }
/// # Ok::<(), ferroshap::Error>(())
/// ```
pub fn explain<F, E>(
    mut model: F,
    x: ArrayView2<'_, f64>,
    background: ArrayView2<'_, f64>,
    weights: Option<&[f64]>,
    estimator: E,
    batch_rows: usize,
) -> Result<GameValues>
where
    F: FnMut(ArrayView2<'_, f64>) -> Result<Array2<f64>>,
    E: Estimator,
{
    let null_out = model(background)?;
    if null_out.nrows() != background.nrows() {
        return Err(Error::Shape(format!(
            "the model returned {} rows for {} background rows",
            null_out.nrows(),
            background.nrows()
        )));
    }
    let w = super::batch::normalised_weights(weights, background.nrows())?;
    let fnull: Vec<f64> = (0..null_out.ncols())
        .map(|o| {
            w.iter()
                .zip(null_out.column(o))
                .map(|(wi, yi)| wi * yi)
                .sum()
        })
        .collect();
    let problem = Problem::new(x, background, Some(&w), &fnull)?;
    let mut job = EngineJob::start(problem, estimator)?;
    let fx = model(x)?;
    let step = batch_rows.max(background.nrows()).max(1);
    loop {
        let total = job.n_evaluations();
        let mut start = 0;
        while start < total {
            let stop = (start + step).min(total);
            let batch = job.masked_rows(start, stop)?;
            let out = model(batch.view())?;
            job.add_outputs(start, out.view())?;
            start = stop;
        }
        if !job.next_round()? {
            break;
        }
    }
    job.finish(fx.view())
}
