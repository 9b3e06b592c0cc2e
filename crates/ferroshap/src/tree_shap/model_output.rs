//! Interventional SHAP values of a transformed model output: a probability, a prediction on
//! the response scale, or the loss of the prediction against a label.
//!
//! The value of a coalition `S` of features is
//! `v(S) = Σ_r w_r g(f(x_S, r_rest)) / Σ_r w_r`: the transform `g` (logistic, softmax, exp, a
//! loss) applied to the model's margins on each hybrid row, then averaged over the background.
//! These are the *exact* Shapley values of that game. shap instead rescales each background
//! row's margin attributions by `(g(f(x)) − g(f(r))) / (f(x) − f(r))`, which satisfies
//! efficiency but is not the Shapley value of any game over `g` (it is off by percents).
//!
//! # Algorithm
//!
//! `g` is not linear, so the background cannot be aggregated as for margins: each explained
//! row is paired with each background row, the pair's margin is tabulated over the subsets of
//! the features where the pair parts ([`pair_game`](super::pair_game)), `g` is applied to every
//! entry, and the pair's Shapley values come from that table; features where the pair does not
//! part get nothing from it. The values are the weighted mean over the background.
//!
//! Cost per pair: one walk of each tree, plus `O(|D| 2^|D| K)` for `|D|` parting features and
//! `K` outputs. The table doubles with each parting feature, so a pair with more than
//! [`OutputOptions::max_pair_features`] of them is *estimated* instead
//! ([`pair_sampling`](super::pair_sampling)): antithetic permutation sampling of the same
//! game with shap's rescaling as control variate. The pairs of an explained row are sampled
//! together, in rounds that go to the pairs with the largest variance, until the standard
//! error of every value of the row (after averaging over the background) is at most
//! [`OutputOptions::tolerance`]. The estimate satisfies efficiency exactly. [`OutputValues::standard_errors`] holds the standard errors
//! (zero where every pair was exact) and [`OutputValues::n_estimated_pairs`] says how many pairs
//! were estimated. [`PairMethod::ShapRescale`] gives shap's approximation for every pair
//! instead. Parallel over explained rows; each row adds its background rows in order and each
//! pair draws from its own random stream keyed by `(seed, row, background row)`, so results do
//! not depend on the number of threads.

use std::sync::atomic::{AtomicUsize, Ordering};

use ndarray::{Array2, Array3, ArrayView1, ArrayView2};
use rayon::prelude::*;

use super::interventional::Background;
use super::pair_game::{MAX_PAIR_FEATURES, PairGame, shapley_values};
pub use super::pair_sampling::PairMethod;
use super::pair_sampling::{EstimateSpec, PairEstimate, SampleBuffers};
use crate::Scalar;
use crate::ensemble::TreeEnsemble;
pub use crate::ensemble::{OutputTransform, PROBABILITY_EPS};
use crate::error::{Error, Result};
use crate::parallel::ROW_BLOCK;
use crate::rng::Rng;

/// Checks that `transform` is a nonlinear output this module explains, for `model`.
fn check_transform(transform: &OutputTransform, model: &TreeEnsemble) -> Result<()> {
    match transform {
        OutputTransform::Margin => Err(Error::Parameter(
            "the margin is linear in the trees: explain it with interventional::shap_values".into(),
        )),
        OutputTransform::LogisticPair { .. } => Err(Error::Parameter(
            "explain the logistic output instead: the two columns' values are (-values, values)"
                .into(),
        )),
        _ => transform.check(model.n_outputs()),
    }
}

/// Options of [`shap_values`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutputOptions {
    /// Most parting features a pair of explained and background rows may have for its exact
    /// table (at most [`MAX_PAIR_FEATURES`]): the table has `2^n` entries per output. Pairs
    /// with more are estimated.
    pub max_pair_features: usize,
    /// Exact-or-estimated (`Auto`) or shap's rescaling for every pair.
    pub method: PairMethod,
    /// Target standard error of every estimated value, in the output's units (after
    /// averaging over the background). Default [`DEFAULT_TOLERANCE`].
    pub tolerance: f64,
    /// Seed of the estimator's random streams.
    pub seed: u64,
    /// Most antithetic pairs of permutations drawn for one pair of rows.
    pub max_samples: usize,
}

impl Default for OutputOptions {
    fn default() -> Self {
        OutputOptions {
            max_pair_features: DEFAULT_MAX_PAIR_FEATURES,
            method: PairMethod::Auto,
            tolerance: DEFAULT_TOLERANCE,
            seed: 0,
            max_samples: DEFAULT_MAX_SAMPLES,
        }
    }
}

/// Default of [`OutputOptions::max_pair_features`]: a pair then costs at most about
/// `12 · 2^12` operations per output (tens of microseconds). Larger tables cost more than
/// estimating the pair (measured on a 50-tree XGBoost model of 30 features: exact pairs of
/// 13 to 20 parting features took ~100x the time of their estimates).
pub const DEFAULT_MAX_PAIR_FEATURES: usize = 12;

/// Default of [`OutputOptions::tolerance`]: a standard error of 5e-4 in the output's units
/// (probabilities: 5e-4 of their scale), so that about 95% of the estimated values are within
/// 1e-3 of the exact ones.
pub const DEFAULT_TOLERANCE: f64 = 5e-4;

/// Default of [`OutputOptions::max_samples`].
pub const DEFAULT_MAX_SAMPLES: usize = 100_000;

/// Antithetic pairs drawn for each estimated pair before the first look at the variances:
/// enough for a variance estimate; the row's total pools many such estimates.
const MIN_SAMPLES: usize = 4;

/// SHAP values of a transformed output, with their base values.
#[derive(Debug, Clone)]
pub struct OutputValues {
    /// Shape `(n_rows, n_features, n_outputs)`; `n_outputs` is 1 for losses.
    pub values: Array3<f64>,
    /// Shape `(n_rows, n_outputs)`: for every row,
    /// `values[row, .., o].sum() + base_values[row, o]` is `g` of the row's margins. The same
    /// for every row except for losses, whose base value depends on the row's label.
    pub base_values: Array2<f64>,
    /// Standard errors of `values`, same shape: zero where every pair was exact.
    pub standard_errors: Array3<f64>,
    /// How many (explained row, background row) pairs were estimated rather than exact.
    pub n_estimated_pairs: usize,
}

/// Exact interventional SHAP values of `transform` applied to the model's margins, for every
/// row of `x` against every row of `background` (weighted by `weights`, if given).
///
/// `labels` (one per row of `x`) are required for losses and rejected otherwise.
pub fn shap_values<F: Scalar, G: Scalar>(
    model: &TreeEnsemble,
    x: ArrayView2<'_, F>,
    background: ArrayView2<'_, G>,
    weights: Option<ArrayView1<'_, f64>>,
    transform: OutputTransform,
    labels: Option<ArrayView1<'_, f64>>,
    options: &OutputOptions,
) -> Result<OutputValues> {
    model.check_features(x.ncols())?;
    check_transform(&transform, model)?;
    let labels = labels_of(model, &transform, labels, x.nrows())?;
    check_options(options, &transform, model.n_outputs())?;
    let bg = Background::new(model, background, weights)?;
    let (n, m, k) = (x.nrows(), model.n_features(), model.n_outputs());
    let ko = transform.n_outputs(k);
    let mut base_values = base_values(model, &bg, &transform, &labels)?;
    if labels.is_empty() {
        base_values = base_values
            .broadcast((n, ko))
            .expect("one row broadcasts")
            .to_owned();
    }
    let mut values = Array3::<f64>::zeros((n, m, ko));
    let mut variances = Array3::<f64>::zeros((n, m, ko));
    let row_len = m * ko;
    let estimated = AtomicUsize::new(0);
    if row_len > 0 && n > 0 {
        let n_bg = bg.weights.len() as u64;
        let tol2 = options.tolerance * options.tolerance;
        let out = values.as_slice_mut().expect("fresh array is contiguous");
        let var_out = variances.as_slice_mut().expect("fresh array is contiguous");
        let results: Vec<Result<()>> = out
            .par_chunks_mut(ROW_BLOCK * row_len)
            .zip(var_out.par_chunks_mut(ROW_BLOCK * row_len))
            .enumerate()
            .map(|(block, (chunk, var_chunk))| {
                crate::parallel::check_cancelled()?;
                let mut game = PairGame::new(model);
                let mut pool: Vec<PairEstimate> = Vec::new();
                let mut buffers = SampleBuffers::default();
                let mut xr = vec![0.0; m];
                let mut g = Vec::new();
                let mut phi = Vec::new();
                let rows = chunk.chunks_mut(row_len).zip(var_chunk.chunks_mut(row_len));
                for (i, (row_out, row_var)) in rows.enumerate() {
                    let row = block * ROW_BLOCK + i;
                    model.prepare_row(&x, row, &mut xr);
                    let spec = EstimateSpec {
                        transform,
                        label: labels.get(row).copied().unwrap_or(0.0),
                        method: options.method,
                    };
                    let mut used = 0;
                    for (b, (r, &w)) in bg.rows.chunks(m.max(1)).zip(&bg.weights).enumerate() {
                        if w == 0.0 {
                            continue;
                        }
                        let share = w / bg.total;
                        let exact = options.method == PairMethod::Auto
                            && game
                                .tabulate(model, &xr, r, options.max_pair_features)
                                .is_ok();
                        if exact {
                            let d = game.features().len();
                            if d == 0 {
                                continue;
                            }
                            g.clear();
                            g.resize(ko << d, 0.0);
                            for (mm, gg) in game.margins().chunks(k).zip(g.chunks_mut(ko)) {
                                transform.apply(mm, spec.label, gg);
                            }
                            phi.clear();
                            phi.resize(d * ko, 0.0);
                            shapley_values(&g, d, ko, share, &mut phi);
                            scatter(game.features(), &phi, ko, row_out);
                            continue;
                        }
                        if used == pool.len() {
                            pool.push(PairEstimate::new(model));
                        }
                        let rng = Rng::stream(options.seed, row as u64 * n_bg + b as u64);
                        pool[used].prepare(model, &xr, r, &spec, rng, share);
                        used += 1;
                    }
                    let pairs = &mut pool[..used];
                    if options.method == PairMethod::Auto {
                        estimated.fetch_add(used, Ordering::Relaxed);
                        sample_row(model, &spec, pairs, &mut buffers, row_var, tol2, options);
                    }
                    row_var.fill(0.0);
                    for pair in pairs.iter() {
                        pair.add_values(row_out);
                        pair.add_variance(row_var);
                    }
                }
                Ok(())
            })
            .collect();
        if let Some(e) = results.into_iter().find_map(|r| r.err()) {
            return Err(e);
        }
    }
    variances.mapv_inplace(f64::sqrt);
    Ok(OutputValues {
        values,
        base_values,
        standard_errors: variances,
        n_estimated_pairs: estimated.into_inner(),
    })
}

/// Adds `values[bit]` to the entries of the bits' features in `row` (`ko` each).
fn scatter(features: &[u32], values: &[f64], ko: usize, row: &mut [f64]) {
    for (&f, p) in features.iter().zip(values.chunks(ko)) {
        let at = f as usize * ko;
        for (o, v) in row[at..at + ko].iter_mut().zip(p) {
            *o += v;
        }
    }
}

/// Samples the estimated pairs of one explained row until the variance of each of the row's
/// values (the pairs' variances, weighted by their squared shares) is at most `tol2`: first
/// [`MIN_SAMPLES`] each, then doubling the samples of every pair whose largest weighted
/// variance exceeds `tol2 / pairs` (if none does, no value can exceed `tol2`). `row_var` is
/// scratch space. Deterministic: each pair has its own stream, and the rounds depend only on
/// the row's own draws.
fn sample_row(
    model: &TreeEnsemble,
    spec: &EstimateSpec,
    pairs: &mut [PairEstimate],
    buffers: &mut SampleBuffers,
    row_var: &mut [f64],
    tol2: f64,
    options: &OutputOptions,
) {
    if pairs.is_empty() {
        return;
    }
    let min = MIN_SAMPLES.min(options.max_samples);
    for pair in pairs.iter_mut() {
        pair.draw(model, spec, min, buffers);
    }
    let per_pair = tol2 / pairs.len() as f64;
    loop {
        row_var.fill(0.0);
        for pair in pairs.iter() {
            pair.add_variance(row_var);
        }
        if row_var.iter().all(|&v| v <= tol2) {
            return;
        }
        let mut drew = false;
        for pair in pairs.iter_mut() {
            let n = pair.n_samples();
            if n < options.max_samples && pair.worst_variance() > per_pair {
                pair.draw(model, spec, n.min(options.max_samples - n), buffers);
                drew = true;
            }
        }
        if !drew {
            return;
        }
    }
}

fn check_options(options: &OutputOptions, transform: &OutputTransform, k: usize) -> Result<()> {
    if options.max_pair_features == 0 || options.max_pair_features > MAX_PAIR_FEATURES {
        return Err(Error::Parameter(format!(
            "max_pair_features must be between 1 and {MAX_PAIR_FEATURES}, got {}",
            options.max_pair_features
        )));
    }
    if !(options.tolerance.is_finite() && options.tolerance > 0.0) {
        return Err(Error::Parameter(format!(
            "the estimator's tolerance must be finite and > 0, got {}",
            options.tolerance
        )));
    }
    if options.max_samples < 2 {
        return Err(Error::Parameter(format!(
            "max_samples must be at least 2 (antithetic pairs), got {}",
            options.max_samples
        )));
    }
    if options.method == PairMethod::ShapRescale && transform.n_outputs(k) != k {
        return Err(Error::Parameter(format!(
            "shap's rescaling needs one margin per explained output; {transform:?} reads {k} \
             margins for one output"
        )));
    }
    Ok(())
}

/// Labels as a vector (empty when the transform takes none), checked.
fn labels_of(
    model: &TreeEnsemble,
    transform: &OutputTransform,
    labels: Option<ArrayView1<'_, f64>>,
    n_rows: usize,
) -> Result<Vec<f64>> {
    match (transform.is_loss(), labels) {
        (true, None) => Err(Error::Parameter(
            "a loss output needs the label of every explained row (y)".into(),
        )),
        (false, Some(_)) => Err(Error::Parameter(
            "labels are only used by loss outputs; this output takes none".into(),
        )),
        (false, None) => Ok(Vec::new()),
        (true, Some(y)) => {
            if y.len() != n_rows {
                return Err(Error::Shape(format!(
                    "{} labels for {n_rows} rows to explain",
                    y.len()
                )));
            }
            let y = y.to_vec();
            transform.check_labels(model.n_outputs(), &y)?;
            Ok(y)
        }
    }
}

/// Weighted mean over the background of `g` of its margins, per label (one row when there
/// are no labels).
fn base_values(
    model: &TreeEnsemble,
    bg: &Background,
    transform: &OutputTransform,
    labels: &[f64],
) -> Result<Array2<f64>> {
    let m = model.n_features();
    let rows = ArrayView2::from_shape((bg.weights.len(), m), &bg.rows)
        .map_err(|e| Error::Shape(e.to_string()))?;
    // The background is already prepared, and preparing is idempotent.
    let margins = model.predict_margin(rows)?;
    let ko = transform.n_outputs(model.n_outputs());
    let ys: &[f64] = if labels.is_empty() { &[0.0] } else { labels };
    let mut base = Array2::<f64>::zeros((ys.len(), ko));
    let mut g = vec![0.0; ko];
    for (y, mut out) in ys.iter().zip(base.outer_iter_mut()) {
        for (mr, &w) in margins.outer_iter().zip(&bg.weights) {
            transform.apply(
                mr.as_slice().expect("fresh array is contiguous"),
                *y,
                &mut g,
            );
            for (o, v) in out.iter_mut().zip(&g) {
                *o += w / bg.total * v;
            }
        }
    }
    Ok(base)
}

/// The base values of [`shap_values`] alone: `(n_labels, n_outputs)`, one row per label for
/// losses (the mean loss over the background if every row had that label), else one row.
/// Equal, bit for bit, to the corresponding rows of [`OutputValues::base_values`].
pub fn expected_value<G: Scalar>(
    model: &TreeEnsemble,
    background: ArrayView2<'_, G>,
    weights: Option<ArrayView1<'_, f64>>,
    transform: OutputTransform,
    labels: Option<ArrayView1<'_, f64>>,
) -> Result<Array2<f64>> {
    check_transform(&transform, model)?;
    let n_labels = labels.map_or(0, |l| l.len());
    let labels = labels_of(model, &transform, labels, n_labels)?;
    let bg = Background::new(model, background, weights)?;
    base_values(model, &bg, &transform, &labels)
}
