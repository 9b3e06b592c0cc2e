//! Kernel SHAP (Lundberg & Lee 2017) as shap's `KernelExplainer` computes it: per explained
//! row, detect the features that vary from the background, build the coalition design
//! ([`KernelDesign`]), evaluate the model on the masked rows, and solve the
//! efficiency-constrained weighted least squares.
//!
//! The model is evaluated by the caller: a [`KernelJob`] plans a block of rows, writes their
//! masked rows into batches of any size ([`KernelJob::masked_rows`]), takes the model outputs
//! back in order ([`KernelJob::add_outputs`]) and reduces them ([`KernelJob::finish`]).
//! [`shap_values`] runs the whole loop for a Rust closure.

use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;

use super::batch::Problem;
use super::coalitions::Coalitions;
use super::design::KernelDesign;
use super::engine::{EngineJob, Estimator, GameValues};
pub use super::options::{FeatureSelection, KernelOptions, KernelValues};
use super::regression::solve_row;
pub use crate::ensemble::Link;
use crate::error::Result;
use crate::linalg::SolveKind;
use crate::rng::Rng;

/// Whether `x_j` differs from some background value, as `not np.allclose(x_j, bg_j,
/// equal_nan=True)` decides (rtol 1e-5, atol 1e-8, relative to the background value).
#[inline]
fn differs(x: f64, b: f64) -> bool {
    if x.is_nan() || b.is_nan() {
        return !(x.is_nan() && b.is_nan());
    }
    if x == b {
        return false;
    }
    if x.is_infinite() || b.is_infinite() {
        return true;
    }
    (x - b).abs() > 1e-8 + 1e-5 * b.abs()
}

/// The features of `x` that vary from the background (row-major, `n_columns` wide).
pub fn varying_features(x: &[f64], background: &[f64], n_columns: usize) -> Vec<usize> {
    (0..n_columns)
        .filter(|&j| {
            background
                .chunks_exact(n_columns)
                .any(|row| differs(x[j], row[j]))
        })
        .collect()
}

/// The plan for one explained row.
#[derive(Clone, Debug)]
struct RowPlan {
    varying: Vec<usize>,
    /// `None` when fewer than two features vary (no model evaluations needed).
    design: Option<KernelDesign>,
}

impl RowPlan {
    /// The design's coalitions over the row's columns.
    fn coalitions(&self, n_columns: usize) -> Coalitions {
        let Some(design) = &self.design else {
            return Coalitions::new(n_columns);
        };
        let mut out = Coalitions::with_capacity(n_columns, design.n_coalitions());
        for c in 0..design.n_coalitions() {
            out.push_columns(
                self.varying
                    .iter()
                    .zip(design.mask(c))
                    .filter(|&(_, &z)| z == 1)
                    .map(|(&j, _)| j),
            );
        }
        out
    }
}

/// Kernel SHAP as an [`Estimator`]: one round of coalitions per row (its design over the
/// features that vary from the background), reduced by the constrained regression.
#[derive(Clone, Debug)]
pub struct KernelEstimator {
    options: KernelOptions,
    row_offset: u64,
    plans: Vec<RowPlan>,
    /// Per row: weighted mean model output per coalition, `n_coalitions × n_outputs`.
    ey: Vec<Vec<f64>>,
}

impl KernelEstimator {
    /// Kernel SHAP with `options`; row `i` of the block draws from the random stream
    /// `(options.seed, row_offset + i)`.
    pub fn new(options: &KernelOptions, row_offset: u64) -> Self {
        KernelEstimator {
            options: options.clone(),
            row_offset,
            plans: Vec::new(),
            ey: Vec::new(),
        }
    }
}

impl Estimator for KernelEstimator {
    fn plan(&mut self, problem: &Problem, round: usize) -> Result<Option<Vec<Coalitions>>> {
        if round > 0 {
            return Ok(None);
        }
        let p = problem.n_columns();
        let (background, _) = problem.background();
        let options = &self.options;
        let row_offset = self.row_offset;
        self.plans = (0..problem.n_rows())
            .into_par_iter()
            .map(|i| {
                let varying = varying_features(problem.row(i), background, p);
                let design = if varying.len() >= 2 {
                    let mut rng = Rng::stream(options.seed, row_offset + i as u64);
                    Some(KernelDesign::with_sampling(
                        varying.len(),
                        options.nsamples,
                        options.sampling,
                        &mut rng,
                    )?)
                } else {
                    None
                };
                Ok(RowPlan { varying, design })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(
            self.plans
                .par_iter()
                .map(|plan| plan.coalitions(p))
                .collect(),
        ))
    }

    fn reduce(&mut self, _problem: &Problem, values: Vec<Vec<f64>>) -> Result<()> {
        self.ey = values;
        Ok(())
    }

    fn finish(&self, problem: &Problem, fx: ArrayView2<'_, f64>) -> Result<GameValues> {
        let (n_rows, k) = (problem.n_rows(), problem.n_outputs());
        let p = problem.n_columns();
        let link = self.options.link;
        let fnull = problem.fnull();
        let rows: Vec<(Vec<f64>, Vec<f64>, bool)> = (0..n_rows)
            .into_par_iter()
            .map(|i| {
                let plan = &self.plans[i];
                let mut phi = vec![0.0; p * k];
                let mut se = vec![0.0; p * k];
                let mut ill = false;
                if crate::parallel::cancelled() {
                    return (phi, se, ill);
                }
                for o in 0..k {
                    let delta = link.apply(fx[[i, o]]) - link.apply(fnull[o]);
                    match (&plan.design, plan.varying.as_slice()) {
                        (_, []) => {}
                        (_, [j]) => phi[j * k + o] = delta,
                        (Some(design), varying) => {
                            let (values, errors, kind) = solve_row(
                                design,
                                &self.ey[i],
                                o,
                                k,
                                link,
                                fnull[o],
                                delta,
                                self.options.selection,
                                self.options.standard_errors,
                            );
                            ill |= kind != SolveKind::Cholesky;
                            for ((&j, v), e) in varying.iter().zip(values).zip(errors) {
                                phi[j * k + o] = v;
                                se[j * k + o] = e;
                            }
                        }
                        (None, _) => unreachable!("rows with 2+ varying features have a design"),
                    }
                }
                (phi, se, ill)
            })
            .collect();
        crate::parallel::check_cancelled()?;
        let mut out = GameValues::zeros(problem);
        out.base_values = fnull.iter().map(|&f| link.apply(f)).collect();
        for (i, (phi, se, ill)) in rows.into_iter().enumerate() {
            for (dst, v) in out.values.index_axis_mut(Axis(0), i).iter_mut().zip(phi) {
                *dst = v;
            }
            for (dst, v) in out
                .standard_errors
                .index_axis_mut(Axis(0), i)
                .iter_mut()
                .zip(se)
            {
                *dst = v;
            }
            if ill {
                out.ill_conditioned_rows.push(i);
            }
        }
        Ok(out)
    }
}

/// Kernel SHAP for a block of explained rows on the engine.
pub type KernelJob = EngineJob<KernelEstimator>;

impl EngineJob<KernelEstimator> {
    /// Plans Kernel SHAP for the rows of `x` against `background` (with row `weights`,
    /// normalised here; `None` is uniform) and the background's mean model output `fnull`
    /// (one value per output, before the link). Row `i` draws from the random stream
    /// `(options.seed, row_offset + i)`.
    pub fn new(
        x: ArrayView2<'_, f64>,
        background: ArrayView2<'_, f64>,
        weights: Option<&[f64]>,
        fnull: &[f64],
        options: &KernelOptions,
        row_offset: u64,
    ) -> Result<Self> {
        let problem = Problem::new(x, background, weights, fnull)?;
        EngineJob::start(problem, KernelEstimator::new(options, row_offset))
    }

    fn plans(&self) -> &[RowPlan] {
        &self.estimator().plans
    }

    /// Whether every row's design enumerated all coalitions (rows with fewer than two
    /// varying features count as exhaustive).
    pub fn all_exhaustive(&self) -> bool {
        self.plans()
            .iter()
            .all(|p| p.design.as_ref().is_none_or(KernelDesign::is_exhaustive))
    }

    /// The smallest budget fraction (`nsamples / (2^M − 2)`) over rows with a design.
    pub fn min_fraction_evaluated(&self) -> f64 {
        self.plans()
            .iter()
            .filter_map(|p| p.design.as_ref().map(KernelDesign::fraction_evaluated))
            .fold(1.0, f64::min)
    }

    /// Number of varying features of each row.
    pub fn n_varying(&self) -> Vec<usize> {
        self.plans().iter().map(|p| p.varying.len()).collect()
    }
}

/// Kernel SHAP values of the rows of `x` for a model given as a closure from a batch of rows
/// to its outputs (`rows × n_outputs`). The model is called once on the background, once on
/// `x`, and then on batches of at most `batch_rows` masked rows (at least one coalition's).
/// Example: [Kernel SHAP over any value function](crate#kernel-shap-over-any-value-function).
pub fn shap_values<F>(
    model: F,
    x: ArrayView2<'_, f64>,
    background: ArrayView2<'_, f64>,
    weights: Option<&[f64]>,
    options: &KernelOptions,
    batch_rows: usize,
) -> Result<KernelValues>
where
    F: FnMut(ArrayView2<'_, f64>) -> Result<Array2<f64>>,
{
    super::engine::explain(
        model,
        x,
        background,
        weights,
        KernelEstimator::new(options, 0),
        batch_rows,
    )
}
