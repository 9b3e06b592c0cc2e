//! Kernel SHAP (Lundberg & Lee 2017) as shap's `KernelExplainer` computes it: per explained
//! row, detect the features that vary from the background, build the coalition design
//! ([`KernelDesign`]), evaluate the model on the masked rows, and solve the
//! efficiency-constrained weighted least squares.
//!
//! The model is evaluated by the caller: a [`KernelJob`] plans a block of rows, writes their
//! masked rows into batches of any size ([`KernelJob::masked_rows`]), takes the model outputs
//! back in order ([`KernelJob::add_outputs`]) and reduces them ([`KernelJob::finish`]).
//! [`shap_values`] runs the whole loop for a Rust closure.

use ndarray::{Array2, Array3, ArrayView2};
use rayon::prelude::*;

use super::design::KernelDesign;
use super::masking::write_masked_rows;
pub use super::options::{FeatureSelection, KernelLink, KernelOptions, KernelValues};
use super::regression::solve_row;
use crate::error::{Error, Result};
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
    fn n_coalitions(&self) -> usize {
        self.design.as_ref().map_or(0, KernelDesign::n_coalitions)
    }
}

/// A block of explained rows: coalition designs, masked-row batches, and the reduction.
#[derive(Clone, Debug)]
pub struct KernelJob {
    n_columns: usize,
    n_outputs: usize,
    n_background: usize,
    x: Vec<f64>,
    background: Vec<f64>,
    weights: Vec<f64>,
    fnull: Vec<f64>,
    link: KernelLink,
    selection: FeatureSelection,
    plans: Vec<RowPlan>,
    /// `offsets[i]`: index of row i's first masked row; `offsets[n]` = total.
    offsets: Vec<usize>,
    /// Per row: weighted mean model output per coalition, `n_coalitions × n_outputs`.
    ey: Vec<Vec<f64>>,
    added: usize,
}

impl KernelJob {
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
        let (n_rows, n_columns) = x.dim();
        let n_background = background.nrows();
        if background.ncols() != n_columns {
            return Err(Error::Shape(format!(
                "X has {n_columns} columns but the background data has {}",
                background.ncols()
            )));
        }
        if n_background == 0 {
            return Err(Error::Parameter("the background data has no rows".into()));
        }
        if fnull.is_empty() {
            return Err(Error::Parameter("the model has no outputs".into()));
        }
        let weights = normalised_weights(weights, n_background)?;
        let x: Vec<f64> = x.iter().copied().collect();
        let background: Vec<f64> = background.iter().copied().collect();
        let plans = (0..n_rows)
            .into_par_iter()
            .map(|i| {
                let row = &x[i * n_columns..(i + 1) * n_columns];
                let varying = varying_features(row, &background, n_columns);
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
        let mut offsets = Vec::with_capacity(n_rows + 1);
        let mut total = 0usize;
        offsets.push(0);
        for plan in &plans {
            total += plan.n_coalitions() * n_background;
            offsets.push(total);
        }
        let n_outputs = fnull.len();
        let ey = plans
            .iter()
            .map(|p| vec![0.0; p.n_coalitions() * n_outputs])
            .collect();
        Ok(KernelJob {
            n_columns,
            n_outputs,
            n_background,
            x,
            background,
            weights,
            fnull: fnull.to_vec(),
            link: options.link,
            selection: options.selection,
            plans,
            offsets,
            ey,
            added: 0,
        })
    }

    /// Total masked rows the model must evaluate for this block.
    pub fn n_evaluations(&self) -> usize {
        *self.offsets.last().unwrap_or(&0)
    }

    /// Number of explained rows.
    pub fn n_rows(&self) -> usize {
        self.plans.len()
    }

    /// Whether every row's design enumerated all coalitions (rows with fewer than two
    /// varying features count as exhaustive).
    pub fn all_exhaustive(&self) -> bool {
        self.plans
            .iter()
            .all(|p| p.design.as_ref().is_none_or(KernelDesign::is_exhaustive))
    }

    /// The smallest budget fraction (`nsamples / (2^M − 2)`) over rows with a design.
    pub fn min_fraction_evaluated(&self) -> f64 {
        self.plans
            .iter()
            .filter_map(|p| p.design.as_ref().map(KernelDesign::fraction_evaluated))
            .fold(1.0, f64::min)
    }

    /// Number of varying features of each row.
    pub fn n_varying(&self) -> Vec<usize> {
        self.plans.iter().map(|p| p.varying.len()).collect()
    }

    /// The masked rows `start..stop` (`(stop − start) × n_columns`), built in parallel.
    /// Masked row `r` of row `i` is coalition `(r − offset_i) / N` masked onto background
    /// row `(r − offset_i) % N`.
    pub fn masked_rows(&self, start: usize, stop: usize) -> Result<Array2<f64>> {
        if start > stop {
            return Err(Error::Parameter(format!(
                "masked row range {start}..{stop} is empty"
            )));
        }
        let p = self.n_columns;
        let mut out = vec![0.0; (stop - start) * p];
        self.write_masked_rows(start, &mut out)?;
        Array2::from_shape_vec((stop - start, p), out)
            .map_err(|e| Error::Shape(format!("masked rows: {e}")))
    }

    /// Writes the masked rows from `start` on into `out` (whole rows, row-major), so that a
    /// caller can reuse one buffer for every batch.
    pub fn write_masked_rows(&self, start: usize, out: &mut [f64]) -> Result<()> {
        let p = self.n_columns;
        let rows = out.len().checked_div(p).unwrap_or(0);
        if out.len() != rows * p || start + rows > self.n_evaluations() {
            return Err(Error::Parameter(format!(
                "a buffer of {} values from masked row {start} does not fit the {} masked rows \
                 of {p} columns",
                out.len(),
                self.n_evaluations()
            )));
        }
        const CHUNK: usize = 2048;
        if p > 0 {
            out.par_chunks_mut(CHUNK * p)
                .enumerate()
                .for_each(|(chunk, buf)| {
                    if !crate::parallel::cancelled() {
                        self.write_rows(start + chunk * CHUNK, buf);
                    }
                });
        }
        crate::parallel::check_cancelled()
    }

    fn locate(&self, r: usize) -> (usize, usize, usize) {
        let i = self.offsets.partition_point(|&o| o <= r) - 1;
        let local = r - self.offsets[i];
        (i, local / self.n_background, local % self.n_background)
    }

    /// Writes the masked rows from `first` on into `buf` (whole rows of `n_columns`): one
    /// copy of the background rows per coalition, then the coalition's columns from x.
    fn write_rows(&self, first: usize, buf: &mut [f64]) {
        let p = self.n_columns;
        let n_bg = self.n_background;
        let (mut i, mut c, mut b) = self.locate(first);
        let mut columns: Vec<(usize, f64)> = Vec::with_capacity(p);
        let mut rest = buf;
        while !rest.is_empty() {
            let plan = &self.plans[i];
            let design = plan
                .design
                .as_ref()
                .expect("rows with evaluations have a design");
            let rows = (n_bg - b).min(rest.len() / p);
            let (segment, tail) = rest.split_at_mut(rows * p);
            columns.clear();
            let x = &self.x[i * p..(i + 1) * p];
            for (&j, &present) in plan.varying.iter().zip(design.mask(c)) {
                if present == 1 {
                    columns.push((j, x[j]));
                }
            }
            write_masked_rows(
                segment,
                &self.background[b * p..(b + rows) * p],
                p,
                &columns,
            );
            rest = tail;
            b += rows;
            if b == n_bg {
                b = 0;
                c += 1;
                if c == design.n_coalitions() {
                    c = 0;
                    i += 1;
                    // Skip rows that need no evaluations.
                    while i < self.plans.len() && self.plans[i].n_coalitions() == 0 {
                        i += 1;
                    }
                }
            }
        }
    }

    /// Row `i`'s values, varying features and design (`None` with fewer than two varying).
    pub(crate) fn row(&self, i: usize) -> (&[f64], &[usize], Option<&KernelDesign>) {
        let p = self.n_columns;
        let plan = &self.plans[i];
        (
            &self.x[i * p..(i + 1) * p],
            &plan.varying,
            plan.design.as_ref(),
        )
    }

    /// The background rows (row-major) and their normalised weights.
    pub(crate) fn background(&self) -> (&[f64], &[f64]) {
        (&self.background, &self.weights)
    }

    /// Sets every row's weighted mean outputs per coalition (`n_coalitions × n_outputs`
    /// each) at once, for evaluators that compute them without masked rows.
    pub(crate) fn set_coalition_outputs(&mut self, ey: Vec<Vec<f64>>) -> Result<()> {
        if self.added != 0 || ey.len() != self.plans.len() {
            return Err(Error::Parameter(
                "coalition outputs must be set once, for every row".into(),
            ));
        }
        for (plan, e) in self.plans.iter().zip(&ey) {
            if e.len() != plan.n_coalitions() * self.n_outputs {
                return Err(Error::Shape("coalition outputs of the wrong size".into()));
            }
            if e.iter().any(|v| v.is_nan()) {
                return Err(Error::Parameter(
                    "the model returned NaN on masked data (explained values combined with \
                     background rows)"
                        .into(),
                ));
            }
        }
        self.ey = ey;
        self.added = self.n_evaluations();
        Ok(())
    }

    /// Takes the model's outputs (`rows × n_outputs`) for the masked rows starting at
    /// `start`, which must be where the previous call stopped (so sums over background rows
    /// always run in the same order, whatever the batch size).
    pub fn add_outputs(&mut self, start: usize, outputs: ArrayView2<'_, f64>) -> Result<()> {
        if start != self.added {
            return Err(Error::Parameter(format!(
                "outputs must arrive in order: expected masked row {}, got {start}",
                self.added
            )));
        }
        let (n, k) = outputs.dim();
        if k != self.n_outputs {
            return Err(Error::Shape(format!(
                "the model returned {k} outputs per row on the masked data, but {} on the \
                 background data",
                self.n_outputs
            )));
        }
        if start + n > self.n_evaluations() {
            return Err(Error::Shape(format!(
                "{n} outputs from masked row {start} run past the {} masked rows",
                self.n_evaluations()
            )));
        }
        if outputs.iter().any(|v| v.is_nan()) {
            return Err(Error::Parameter(
                "the model returned NaN on masked data (explained values combined with \
                 background rows)"
                    .into(),
            ));
        }
        let contiguous = outputs.as_standard_layout();
        let flat = contiguous
            .as_slice()
            .expect("standard layout arrays are contiguous");
        let n_bg = self.n_background;
        let mut r = start;
        while r < start + n {
            let (i, c, b) = self.locate(r);
            let end = (self.offsets[i + 1]).min(start + n);
            let (mut c, mut b) = (c, b);
            let ey = &mut self.ey[i];
            let mut rest = &flat[(r - start) * k..(end - start) * k];
            // One coalition's run of background rows at a time; each sum still adds its
            // background rows in order, so batch boundaries do not change the rounding.
            while !rest.is_empty() {
                let rows = (n_bg - b).min(rest.len() / k);
                let (segment, tail) = rest.split_at(rows * k);
                let weights = &self.weights[b..b + rows];
                if k == 1 {
                    let mut acc = ey[c];
                    for (w, v) in weights.iter().zip(segment) {
                        acc += w * v;
                    }
                    ey[c] = acc;
                } else {
                    let acc = &mut ey[c * k..(c + 1) * k];
                    for (w, out) in weights.iter().zip(segment.chunks_exact(k)) {
                        for (a, v) in acc.iter_mut().zip(out) {
                            *a += w * v;
                        }
                    }
                }
                rest = tail;
                b += rows;
                if b == n_bg {
                    b = 0;
                    c += 1;
                }
            }
            r = end;
        }
        self.added = start + n;
        Ok(())
    }

    /// Solves every row's regression from the model outputs at the explained rows `fx`
    /// (`n_rows × n_outputs`, before the link).
    pub fn finish(&self, fx: ArrayView2<'_, f64>) -> Result<KernelValues> {
        if self.added != self.n_evaluations() {
            return Err(Error::Parameter(format!(
                "only {} of {} masked rows have model outputs",
                self.added,
                self.n_evaluations()
            )));
        }
        let (n_rows, k) = (self.plans.len(), self.n_outputs);
        if fx.dim() != (n_rows, k) {
            return Err(Error::Shape(format!(
                "model outputs at the explained rows have shape {:?}, expected ({n_rows}, {k})",
                fx.dim()
            )));
        }
        if fx.iter().any(|v| v.is_nan()) {
            return Err(Error::Parameter(
                "the model returned NaN on the explained rows".into(),
            ));
        }
        let link = self.link;
        let rows: Vec<(Vec<f64>, Vec<f64>, bool)> = (0..n_rows)
            .into_par_iter()
            .map(|i| {
                let plan = &self.plans[i];
                let mut phi = vec![0.0; self.n_columns * k];
                let mut se = vec![0.0; self.n_columns * k];
                let mut ill = false;
                if crate::parallel::cancelled() {
                    return (phi, se, ill);
                }
                for o in 0..k {
                    let delta = link.apply(fx[[i, o]]) - link.apply(self.fnull[o]);
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
                                self.fnull[o],
                                delta,
                                self.selection,
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
        let mut values = Array3::zeros((n_rows, self.n_columns, k));
        let mut standard_errors = Array3::zeros((n_rows, self.n_columns, k));
        let mut ill_conditioned_rows = Vec::new();
        for (i, (phi, se, ill)) in rows.into_iter().enumerate() {
            for (dst, v) in values
                .index_axis_mut(ndarray::Axis(0), i)
                .iter_mut()
                .zip(phi)
            {
                *dst = v;
            }
            for (dst, v) in standard_errors
                .index_axis_mut(ndarray::Axis(0), i)
                .iter_mut()
                .zip(se)
            {
                *dst = v;
            }
            if ill {
                ill_conditioned_rows.push(i);
            }
        }
        Ok(KernelValues {
            values,
            standard_errors,
            expected_value: self.fnull.iter().map(|&f| link.apply(f)).collect(),
            ill_conditioned_rows,
        })
    }
}

fn normalised_weights(weights: Option<&[f64]>, n: usize) -> Result<Vec<f64>> {
    let Some(w) = weights else {
        return Ok(vec![1.0 / n as f64; n]);
    };
    if w.len() != n {
        return Err(Error::Shape(format!(
            "{} background weights for {n} background rows",
            w.len()
        )));
    }
    if w.iter().any(|v| !v.is_finite() || *v < 0.0) {
        return Err(Error::Parameter(
            "background weights must be finite and non-negative".into(),
        ));
    }
    let total: f64 = w.iter().sum();
    if total <= 0.0 {
        return Err(Error::Parameter(
            "background weights must not all be zero".into(),
        ));
    }
    Ok(w.iter().map(|v| v / total).collect())
}

/// Kernel SHAP values of the rows of `x` for a model given as a closure from a batch of rows
/// to its outputs (`rows × n_outputs`). The model is called once on the background, once on
/// `x`, and then on batches of at most `batch_rows` masked rows (at least one coalition's).
pub fn shap_values<F>(
    mut model: F,
    x: ArrayView2<'_, f64>,
    background: ArrayView2<'_, f64>,
    weights: Option<&[f64]>,
    options: &KernelOptions,
    batch_rows: usize,
) -> Result<KernelValues>
where
    F: FnMut(ArrayView2<'_, f64>) -> Result<Array2<f64>>,
{
    let null_out = model(background)?;
    if null_out.nrows() != background.nrows() {
        return Err(Error::Shape(format!(
            "the model returned {} rows for {} background rows",
            null_out.nrows(),
            background.nrows()
        )));
    }
    let w = normalised_weights(weights, background.nrows())?;
    let fnull: Vec<f64> = (0..null_out.ncols())
        .map(|o| {
            w.iter()
                .zip(null_out.column(o))
                .map(|(wi, yi)| wi * yi)
                .sum()
        })
        .collect();
    let mut job = KernelJob::new(x, background, Some(&w), &fnull, options, 0)?;
    let fx = model(x)?;
    let step = batch_rows.max(background.nrows()).max(1);
    let total = job.n_evaluations();
    let mut start = 0;
    while start < total {
        let stop = (start + step).min(total);
        let batch = job.masked_rows(start, stop)?;
        let out = model(batch.view())?;
        job.add_outputs(start, out.view())?;
        start = stop;
    }
    job.finish(fx.view())
}
