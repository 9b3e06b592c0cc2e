//! The game every model-agnostic estimator plays: `v(S) = Σᵢ wᵢ f(x_S, bᵢ)`, the model's
//! weighted mean output over background rows `bᵢ` with the coalition's columns `S` taken from
//! the explained row `x`.
//!
//! [`Problem`] holds what does not change between rounds (explained rows, background, weights,
//! the background's mean output); a [`CoalitionBatch`] is one round's coalitions for every
//! explained row: it writes their masked rows for the model in batches of any size (in
//! parallel, the caller holding no lock) and sums the model outputs back per coalition, in
//! background-row order whatever the batch boundaries, so the sums never depend on the batch
//! size or the thread count.

use ndarray::{Array2, ArrayView2};

use super::coalitions::Coalitions;
use super::linked::{LinkScale, link_scale};
use super::masking::write_masked_rows;
use super::options::KernelLink;
use crate::error::{Error, Result};

/// Masked rows written per unit of parallel work.
const CHUNK: usize = 2048;

/// The explained rows, the background and the background's mean output.
#[derive(Clone, Debug)]
pub struct Problem {
    n_columns: usize,
    n_outputs: usize,
    x: Vec<f64>,
    background: Vec<f64>,
    weights: Vec<f64>,
    fnull: Vec<f64>,
    /// Coalition values on a link's scale (`None`: the model's own scale).
    scale: Option<LinkScale>,
}

impl Problem {
    /// The rows of `x` against `background` (with row `weights`, normalised here; `None` is
    /// uniform), whose weighted mean model output is `fnull` (one value per output).
    pub fn new(
        x: ArrayView2<'_, f64>,
        background: ArrayView2<'_, f64>,
        weights: Option<&[f64]>,
        fnull: &[f64],
    ) -> Result<Self> {
        let n_columns = x.ncols();
        if background.ncols() != n_columns {
            return Err(Error::Shape(format!(
                "X has {n_columns} columns but the background data has {}",
                background.ncols()
            )));
        }
        if background.nrows() == 0 {
            return Err(Error::Parameter("the background data has no rows".into()));
        }
        if fnull.is_empty() {
            return Err(Error::Parameter("the model has no outputs".into()));
        }
        Ok(Problem {
            n_columns,
            n_outputs: fnull.len(),
            x: x.iter().copied().collect(),
            background: background.iter().copied().collect(),
            weights: normalised_weights(weights, background.nrows())?,
            fnull: fnull.to_vec(),
            scale: None,
        })
    }

    /// The same problem with coalition values on `link`'s scale, as shap's masked model
    /// computes them: with `linearize`, each background row's output goes through the link
    /// and is weighted so that the empty coalition's value is the link of the mean output;
    /// without, the link applies to the weighted mean output. `background_outputs`
    /// (`n_background × n_outputs`) are the model's outputs on the background rows; the
    /// expected value ([`Problem::fnull`]) becomes the empty coalition's value on the link's
    /// scale. Values then add up to `link(f(x)) − fnull`.
    pub fn with_link(
        mut self,
        link: KernelLink,
        linearize: bool,
        background_outputs: ArrayView2<'_, f64>,
    ) -> Result<Self> {
        if background_outputs.ncols() != self.n_outputs {
            return Err(Error::Shape(format!(
                "{} background outputs per row for a model of {} outputs",
                background_outputs.ncols(),
                self.n_outputs
            )));
        }
        if link == KernelLink::Identity {
            self.scale = None;
            return Ok(self);
        }
        let scale = link_scale(background_outputs, &self.weights, link, linearize)?;
        self.fnull.clone_from(&scale.fnull);
        self.scale = Some(scale);
        Ok(self)
    }

    /// The link coalition values are on.
    pub fn link(&self) -> KernelLink {
        self.scale.as_ref().map_or(KernelLink::Identity, |s| s.link)
    }

    /// Number of explained rows.
    pub fn n_rows(&self) -> usize {
        self.x.len().checked_div(self.n_columns).unwrap_or(0)
    }

    /// Number of columns (features).
    pub fn n_columns(&self) -> usize {
        self.n_columns
    }

    /// Number of model outputs.
    pub fn n_outputs(&self) -> usize {
        self.n_outputs
    }

    /// Number of background rows.
    pub fn n_background(&self) -> usize {
        self.weights.len()
    }

    /// Explained row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.x[i * self.n_columns..(i + 1) * self.n_columns]
    }

    /// The background rows (row-major) and their normalised weights.
    pub fn background(&self) -> (&[f64], &[f64]) {
        (&self.background, &self.weights)
    }

    /// The background's weighted mean model output, per output (on the link's scale, see
    /// [`Problem::with_link`]).
    pub fn fnull(&self) -> &[f64] {
        &self.fnull
    }
}

/// One round's coalitions for every explained row, their masked rows and their output sums.
///
/// Masked row `r` of explained row `i` is coalition `(r − offset_i) / N` masked onto
/// background row `(r − offset_i) % N`, rows one after another (for coalitions on single
/// background rows, coalition `r − offset_i` on its own row).
#[derive(Clone, Debug)]
pub struct CoalitionBatch {
    coalitions: Vec<Coalitions>,
    /// `offsets[i]`: index of row i's first masked row; `offsets[n]` = total.
    offsets: Vec<usize>,
    /// Per row: `Σᵢ wᵢ f(x_S, bᵢ)` per coalition, `n_coalitions × n_outputs`.
    sums: Vec<Vec<f64>>,
    added: usize,
    /// The link applied to each finished sum (the link of the mean; identity otherwise).
    link_of_sums: KernelLink,
    /// Whether values are on a link's scale (then they cannot be set from the model's).
    on_link_scale: bool,
}

impl CoalitionBatch {
    /// The batch of `coalitions[i]` for each explained row `i` of `problem`.
    pub fn new(problem: &Problem, coalitions: Vec<Coalitions>) -> Result<Self> {
        if coalitions.len() != problem.n_rows() {
            return Err(Error::Shape(format!(
                "coalitions for {} rows, but {} rows are explained",
                coalitions.len(),
                problem.n_rows()
            )));
        }
        let n_bg = problem.n_background();
        let mut offsets = Vec::with_capacity(coalitions.len() + 1);
        let mut total = 0usize;
        offsets.push(0);
        for c in &coalitions {
            if !c.is_empty() && c.n_columns() != problem.n_columns() {
                return Err(Error::Shape(format!(
                    "coalitions over {} columns for rows of {}",
                    c.n_columns(),
                    problem.n_columns()
                )));
            }
            if c.is_on_single_rows() && (0..c.len()).any(|i| c.background_row(i) >= n_bg) {
                return Err(Error::Shape(
                    "a coalition names a background row that does not exist".into(),
                ));
            }
            total += c.len() * rows_per_coalition(c, n_bg);
            offsets.push(total);
        }
        let k = problem.n_outputs();
        let sums = coalitions.iter().map(|c| vec![0.0; c.len() * k]).collect();
        let link_of_sums = match &problem.scale {
            Some(LinkScale {
                link,
                weights: None,
                ..
            }) => *link,
            _ => KernelLink::Identity,
        };
        Ok(CoalitionBatch {
            coalitions,
            offsets,
            sums,
            added: 0,
            link_of_sums,
            on_link_scale: problem.scale.is_some(),
        })
    }

    /// Total masked rows the model must evaluate.
    pub fn n_evaluations(&self) -> usize {
        *self.offsets.last().unwrap_or(&0)
    }

    /// Whether every masked row has its model output.
    pub fn is_complete(&self) -> bool {
        self.added == self.n_evaluations()
    }

    /// Row `i`'s coalitions.
    pub fn coalitions(&self, i: usize) -> &Coalitions {
        &self.coalitions[i]
    }

    /// The masked rows `start..stop` (`(stop − start) × n_columns`), built in parallel.
    pub fn masked_rows(&self, problem: &Problem, start: usize, stop: usize) -> Result<Array2<f64>> {
        if start > stop {
            return Err(Error::Parameter(format!(
                "masked row range {start}..{stop} is empty"
            )));
        }
        let p = problem.n_columns();
        let mut out = vec![0.0; (stop - start) * p];
        self.write_masked_rows(problem, start, &mut out)?;
        Array2::from_shape_vec((stop - start, p), out)
            .map_err(|e| Error::Shape(format!("masked rows: {e}")))
    }

    /// Writes the masked rows from `start` on into `out` (whole rows, row-major), so that a
    /// caller can reuse one buffer for every batch.
    pub fn write_masked_rows(
        &self,
        problem: &Problem,
        start: usize,
        out: &mut [f64],
    ) -> Result<()> {
        let p = problem.n_columns();
        let rows = out.len().checked_div(p).unwrap_or(0);
        if out.len() != rows * p || start + rows > self.n_evaluations() {
            return Err(Error::Parameter(format!(
                "a buffer of {} values from masked row {start} does not fit the {} masked rows \
                 of {p} columns",
                out.len(),
                self.n_evaluations()
            )));
        }
        if p > 0 {
            crate::parallel::for_each_chunk_mut(out, CHUNK * p, |chunk, buf| {
                self.write_rows(problem, start + chunk * CHUNK, buf);
            });
        }
        crate::parallel::check_cancelled()
    }

    /// For the masked rows `start..stop`: the explained row each belongs to and its
    /// coalition as a mask over the columns (`(stop − start) × n_columns`), for maskers whose
    /// masked input the caller builds itself (text).
    pub fn masks(
        &self,
        problem: &Problem,
        start: usize,
        stop: usize,
    ) -> Result<(Vec<usize>, Array2<bool>)> {
        if start > stop || stop > self.n_evaluations() {
            return Err(Error::Parameter(format!(
                "masked row range {start}..{stop} is outside the {} masked rows",
                self.n_evaluations()
            )));
        }
        let (p, n_bg) = (problem.n_columns(), problem.n_background());
        let mut rows = Vec::with_capacity(stop - start);
        let mut masks = Array2::from_elem((stop - start, p), false);
        for (r, mut mask) in (start..stop).zip(masks.rows_mut()) {
            let (i, c, _) = self.locate(r, n_bg);
            rows.push(i);
            for j in self.coalitions[i].columns(c) {
                mask[j] = true;
            }
        }
        Ok((rows, masks))
    }

    /// `(explained row, coalition, masked row within the coalition)` of masked row `r`.
    fn locate(&self, r: usize, n_bg: usize) -> (usize, usize, usize) {
        let i = self.offsets.partition_point(|&o| o <= r) - 1;
        let local = r - self.offsets[i];
        let per = rows_per_coalition(&self.coalitions[i], n_bg);
        (i, local / per, local % per)
    }

    /// Writes the masked rows from `first` on into `buf` (whole rows): one copy of the
    /// background rows per coalition, then the coalition's columns from x.
    fn write_rows(&self, problem: &Problem, first: usize, buf: &mut [f64]) {
        let p = problem.n_columns();
        let n_bg = problem.n_background();
        let (background, _) = problem.background();
        let (mut i, mut c, mut b) = self.locate(first, n_bg);
        let mut columns: Vec<(usize, f64)> = Vec::with_capacity(p);
        let mut rest = buf;
        while !rest.is_empty() {
            let coalitions = &self.coalitions[i];
            let per = rows_per_coalition(coalitions, n_bg);
            let rows = (per - b).min(rest.len() / p);
            let (segment, tail) = rest.split_at_mut(rows * p);
            let x = problem.row(i);
            columns.clear();
            columns.extend(coalitions.columns(c).map(|j| (j, x[j])));
            let first = if coalitions.is_on_single_rows() {
                coalitions.background_row(c)
            } else {
                b
            };
            write_masked_rows(
                segment,
                &background[first * p..(first + rows) * p],
                p,
                &columns,
            );
            rest = tail;
            b += rows;
            if b == per {
                b = 0;
                c += 1;
                if c == coalitions.len() {
                    c = 0;
                    i += 1;
                    // Skip rows with no coalitions this round.
                    while i < self.coalitions.len() && self.coalitions[i].is_empty() {
                        i += 1;
                    }
                }
            }
        }
    }

    /// Takes the model's outputs (`rows × n_outputs`) for the masked rows starting at
    /// `start`, which must be where the previous call stopped (so sums over background rows
    /// always run in the same order, whatever the batch size).
    pub fn add_outputs(
        &mut self,
        problem: &Problem,
        start: usize,
        outputs: ArrayView2<'_, f64>,
    ) -> Result<()> {
        if start != self.added {
            return Err(Error::Parameter(format!(
                "outputs must arrive in order: expected masked row {}, got {start}",
                self.added
            )));
        }
        let (n, k) = outputs.dim();
        if k != problem.n_outputs() {
            return Err(Error::Shape(format!(
                "the model returned {k} outputs per row on the masked data, but {} on the \
                 background data",
                problem.n_outputs()
            )));
        }
        if start + n > self.n_evaluations() {
            return Err(Error::Shape(format!(
                "{n} outputs from masked row {start} run past the {} masked rows",
                self.n_evaluations()
            )));
        }
        let contiguous = outputs.as_standard_layout();
        let mut flat = contiguous
            .as_slice()
            .expect("standard layout arrays are contiguous");
        // On the slice, not the array: this runs over every model output.
        if flat.iter().any(|v| !v.is_finite()) {
            return Err(non_finite("masked data"));
        }
        let n_bg = problem.n_background();
        let (_, mut all_weights) = problem.background();
        // Linearized: each output through the link, weighted per background row and output.
        let linked: Vec<f64>;
        let mut per_output = false;
        if let Some(LinkScale {
            link,
            weights: Some(w),
            ..
        }) = &problem.scale
        {
            linked = flat.iter().map(|&v| link.apply(v)).collect();
            flat = &linked;
            all_weights = w;
            per_output = true;
        }
        let mut r = start;
        while r < start + n {
            let (i, mut c, mut b) = self.locate(r, n_bg);
            let end = self.offsets[i + 1].min(start + n);
            let sums = &mut self.sums[i];
            let mut rest = &flat[(r - start) * k..(end - start) * k];
            // One coalition's run of background rows at a time; each sum still adds its
            // background rows in order, so batch boundaries do not change the rounding.
            let single = self.coalitions[i].is_on_single_rows();
            let per = rows_per_coalition(&self.coalitions[i], n_bg);
            // A coalition on a single background row keeps that row's output itself.
            let weights_of = |b: usize, rows: usize| {
                if single {
                    &[1.0][..]
                } else if per_output {
                    &all_weights[b * k..(b + rows) * k]
                } else {
                    &all_weights[b..b + rows]
                }
            };
            while !rest.is_empty() {
                let rows = (per - b).min(rest.len() / k);
                let (segment, tail) = rest.split_at(rows * k);
                let weights = weights_of(b, rows);
                if k == 1 {
                    let mut acc = sums[c];
                    for (w, v) in weights.iter().zip(segment) {
                        acc += w * v;
                    }
                    sums[c] = acc;
                } else if per_output && !single {
                    let acc = &mut sums[c * k..(c + 1) * k];
                    for (w, out) in weights.chunks_exact(k).zip(segment.chunks_exact(k)) {
                        for ((a, wo), v) in acc.iter_mut().zip(w).zip(out) {
                            *a += wo * v;
                        }
                    }
                } else {
                    let acc = &mut sums[c * k..(c + 1) * k];
                    for (w, out) in weights.iter().zip(segment.chunks_exact(k)) {
                        for (a, v) in acc.iter_mut().zip(out) {
                            *a += w * v;
                        }
                    }
                }
                rest = tail;
                b += rows;
                if b == per {
                    b = 0;
                    c += 1;
                }
            }
            r = end;
        }
        self.added = start + n;
        Ok(())
    }

    /// Sets every row's coalition values (`n_coalitions × n_outputs` each) at once, for value
    /// functions that compute them without masked rows (the native tree game).
    pub fn set_sums(&mut self, sums: Vec<Vec<f64>>) -> Result<()> {
        if self.on_link_scale {
            return Err(Error::Parameter(
                "coalition values set directly are on the model's scale; this problem has a \
                 link"
                    .into(),
            ));
        }
        if self.added != 0 || sums.len() != self.coalitions.len() {
            return Err(Error::Parameter(
                "coalition values must be set once, for every row".into(),
            ));
        }
        for (old, new) in self.sums.iter().zip(&sums) {
            if old.len() != new.len() {
                return Err(Error::Shape("coalition values of the wrong size".into()));
            }
            if new.iter().any(|v| !v.is_finite()) {
                return Err(non_finite("masked data"));
            }
        }
        self.sums = sums;
        self.added = self.n_evaluations();
        Ok(())
    }

    /// The output sums, once every masked row has its output.
    pub fn into_sums(self) -> Result<Vec<Vec<f64>>> {
        if !self.is_complete() {
            return Err(Error::Parameter(format!(
                "only {} of {} masked rows have model outputs",
                self.added,
                self.n_evaluations()
            )));
        }
        let mut sums = self.sums;
        if self.link_of_sums != KernelLink::Identity {
            for v in sums.iter_mut().flatten() {
                *v = self.link_of_sums.apply(*v);
            }
        }
        Ok(sums)
    }
}

/// Masked rows per coalition: every background row, or one.
#[inline]
fn rows_per_coalition(coalitions: &Coalitions, n_bg: usize) -> usize {
    if coalitions.is_on_single_rows() {
        1
    } else {
        n_bg
    }
}

fn non_finite(what: &str) -> Error {
    Error::Parameter(format!(
        "the model returned NaN or inf on {what} (explained values combined with background \
         rows)"
    ))
}

/// Refuses NaN or infinite model outputs at the explained rows.
pub(crate) fn check_explained_outputs(
    fx: ArrayView2<'_, f64>,
    n_rows: usize,
    k: usize,
) -> Result<()> {
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
    Ok(())
}

/// Weights that sum to one (`None`: uniform), after checking them.
pub(crate) fn normalised_weights(weights: Option<&[f64]>, n: usize) -> Result<Vec<f64>> {
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
