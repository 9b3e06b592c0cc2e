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
//! together, in rounds that allocate draws to the pairs as Neyman's allocation for the row's
//! worst value says (in proportion to each pair's standard deviation over the square root of
//! its cost), until the standard error of every value of the row (after averaging over the
//! background) is at most [`OutputOptions::tolerance`]. The estimate satisfies efficiency
//! exactly. [`OutputValues::standard_errors`] holds the standard errors (zero where every
//! pair was exact) and [`OutputValues::n_estimated_pairs`] says how many pairs were estimated.
//! [`PairMethod::ShapRescale`] gives shap's approximation for every pair
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
    /// Most draws for one pair of rows (each draw is
    /// [`PASSES_PER_DRAW`](super::pair_sampling::PASSES_PER_DRAW) antithetic pairs of
    /// permutations).
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

/// Draws for each estimated pair before the first look at the variances: enough for a
/// variance estimate; the row's total pools many such estimates.
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
        let tol2 = options.tolerance * options.tolerance;
        let out = values.as_slice_mut().expect("fresh array is contiguous");
        let var_out = variances.as_slice_mut().expect("fresh array is contiguous");
        // One row per task: a row with estimated pairs costs thousands of times one without,
        // so blocks of rows would leave a core idle at the end of a small batch. The scratch
        // space is per task and never read before it is written, so results do not depend
        // on which thread ran which row.
        let results: Vec<Result<()>> = out
            .par_chunks_mut(row_len)
            .zip(var_out.par_chunks_mut(row_len))
            .enumerate()
            .map_init(
                || RowScratch::new(model),
                |scratch, (row, (row_out, row_var))| {
                    crate::parallel::check_cancelled()?;
                    let spec = EstimateSpec {
                        transform,
                        label: labels.get(row).copied().unwrap_or(0.0),
                        method: options.method,
                    };
                    model.prepare_row(&x, row, &mut scratch.xr);
                    let used = scratch.pairs_of_row(model, &bg, &spec, row, row_out, options);
                    let pairs = &mut scratch.pool[..used];
                    if options.method == PairMethod::Auto {
                        estimated.fetch_add(used, Ordering::Relaxed);
                        let buffers = &mut scratch.buffers;
                        sample_row(model, &spec, pairs, buffers, row_var, tol2, options);
                    }
                    row_var.fill(0.0);
                    for pair in pairs.iter() {
                        pair.add_values(row_out);
                        pair.add_variance(row_var);
                    }
                    Ok(())
                },
            )
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

/// Reusable buffers of one explained row's pairs.
struct RowScratch {
    game: PairGame,
    pool: Vec<PairEstimate>,
    buffers: SampleBuffers,
    xr: Vec<f64>,
    g: Vec<f64>,
    phi: Vec<f64>,
}

impl RowScratch {
    fn new(model: &TreeEnsemble) -> RowScratch {
        RowScratch {
            game: PairGame::new(model),
            pool: Vec::new(),
            buffers: SampleBuffers::default(),
            xr: vec![0.0; model.n_features()],
            g: Vec::new(),
            phi: Vec::new(),
        }
    }

    /// Adds the exact pairs of the prepared row `self.xr` (explained row `row`) to
    /// `row_out` and prepares the others as the first entries of `self.pool`; returns how
    /// many. With [`PairMethod::ShapRescale`] every pair is prepared.
    fn pairs_of_row(
        &mut self,
        model: &TreeEnsemble,
        bg: &Background,
        spec: &EstimateSpec,
        row: usize,
        row_out: &mut [f64],
        options: &OutputOptions,
    ) -> usize {
        let (m, k) = (model.n_features(), model.n_outputs());
        let ko = spec.transform.n_outputs(k);
        let n_bg = bg.weights.len() as u64;
        let mut used = 0;
        for (b, (r, &w)) in bg.rows.chunks(m.max(1)).zip(&bg.weights).enumerate() {
            if w == 0.0 {
                continue;
            }
            let share = w / bg.total;
            let exact = options.method == PairMethod::Auto
                && self
                    .game
                    .tabulate(model, &self.xr, r, options.max_pair_features)
                    .is_ok();
            if exact {
                let d = self.game.features().len();
                if d == 0 {
                    continue;
                }
                self.g.clear();
                self.g.resize(ko << d, 0.0);
                for (mm, gg) in self.game.margins().chunks(k).zip(self.g.chunks_mut(ko)) {
                    spec.transform.apply(mm, spec.label, gg);
                }
                self.phi.clear();
                self.phi.resize(d * ko, 0.0);
                shapley_values(&mut self.g, d, ko, share, &mut self.phi);
                scatter(self.game.features(), &self.phi, ko, row_out);
                continue;
            }
            if used == self.pool.len() {
                self.pool.push(PairEstimate::new(model));
            }
            let rng = Rng::stream(options.seed, row as u64 * n_bg + b as u64);
            self.pool[used].prepare(model, &self.xr, r, spec, rng, share);
            used += 1;
        }
        used
    }
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
/// [`MIN_SAMPLES`] draws each, then in rounds aimed at the value with the largest variance,
/// giving each pair the draws of the cheapest allocation that meets `tol2` for that value
/// (Neyman's: draws in proportion to the pair's standard deviation over the square root of
/// its cost per draw), at most doubling a pair's draws per round so that the allocation
/// follows the variances as they are learnt. `row_var` is scratch space. Deterministic: each
/// pair has its own stream, and the rounds depend only on the row's own draws.
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
    let (max, ko) = (
        options.max_samples,
        spec.transform.n_outputs(model.n_outputs()),
    );
    for pair in pairs.iter_mut() {
        pair.draw(spec, MIN_SAMPLES.min(max), buffers);
    }
    let costs: Vec<f64> = pairs.iter().map(|p| p.draw_cost().sqrt()).collect();
    loop {
        row_var.fill(0.0);
        for pair in pairs.iter() {
            pair.add_variance(row_var);
        }
        let (worst, &var) = row_var
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .expect("a row has values");
        if var <= tol2 {
            return;
        }
        let (feature, output) = (worst / ko, worst % ko);
        // Σ_p s_p √c_p / tol2 · s_p / √c_p draws give Σ_p s_p² / n_p = tol2 exactly.
        let lambda: f64 = pairs
            .iter()
            .zip(&costs)
            .map(|(p, c)| p.weighted_sd(feature, output) * c)
            .sum::<f64>()
            / tol2;
        let mut drew = false;
        for (pair, c) in pairs.iter_mut().zip(&costs) {
            let n = pair.n_samples();
            let want = (lambda * pair.weighted_sd(feature, output) / c).ceil();
            if n < max && (n as f64) < want {
                let more = (want as usize - n).min(n).min(max - n);
                pair.draw(spec, more, buffers);
                drew = true;
            }
        }
        if !drew {
            // Every pair has its share of this allocation, yet the estimates moved: add to
            // the pair that contributes most to the worst value.
            let top = pairs
                .iter()
                .enumerate()
                .filter(|(_, p)| p.n_samples() < max)
                .map(|(i, p)| {
                    let sd = p.weighted_sd(feature, output);
                    (i, sd * sd / p.n_samples() as f64)
                })
                .max_by(|a, b| a.1.total_cmp(&b.1));
            match top {
                Some((i, v)) if v > 0.0 => {
                    let n = pairs[i].n_samples();
                    pairs[i].draw(spec, n.min(max - n), buffers);
                }
                _ => return,
            }
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
            "max_samples must be at least 2 (draws for a variance), got {}",
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
