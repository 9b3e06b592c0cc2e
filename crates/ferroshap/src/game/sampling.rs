//! Sampling SHAP (IME, Štrumbelj & Kononenko 2014) as shap's `SamplingExplainer` computes it:
//! a sample for feature `j` draws a random order of the features and one background row `b`,
//! and takes `f(x on {before j} ∪ {j}, b elsewhere) − f(x on {before j}, b elsewhere)`; the
//! feature's value is the mean over its samples.
//!
//! Two rounds, as shap: the first gives every feature an even share of
//! `min(nsamples, 100 M)` samples; the second spends the rest in proportion to the variances
//! the first one measured. Finally the values are shifted to add up exactly to
//! `f(x) − E[f]`, each in proportion to its estimated variance (shap adds the same correction
//! through a ridge that leaves a residual of about 1e-6 of the gap).

use ndarray::{ArrayView2, Axis};
use rayon::prelude::*;

use super::batch::Problem;
use super::coalitions::{Bits, Coalitions};
use super::engine::{Estimator, GameValues};
use super::kernel::varying_features;
use crate::error::{Error, Result};
use crate::rng::Rng;

/// One explained row's samples and running estimates.
#[derive(Clone, Debug)]
struct RowState {
    varying: Vec<usize>,
    rng: Rng,
    /// Samples per varying feature in the round being evaluated.
    planned: Vec<usize>,
    /// Per varying feature: samples so far, and per output the mean and variance (population,
    /// as `np.var`) of its differences.
    n: Vec<usize>,
    mean: Vec<f64>,
    var: Vec<f64>,
}

/// Sampling SHAP as an [`crate::game::Estimator`].
#[derive(Clone, Debug)]
pub struct SamplingEstimator {
    nsamples: Option<usize>,
    min_samples_per_feature: usize,
    seed: u64,
    row_offset: u64,
    rows: Vec<RowState>,
    n_outputs: usize,
}

impl SamplingEstimator {
    /// `nsamples` samples per row (`None`: shap's `"auto"`, 1000 per varying feature), at
    /// most `min_samples_per_feature` per feature in the first round; row `i` of the block
    /// draws from the random stream `(seed, row_offset + i)`.
    pub fn new(
        nsamples: Option<usize>,
        min_samples_per_feature: usize,
        seed: u64,
        row_offset: u64,
    ) -> Self {
        SamplingEstimator {
            nsamples,
            min_samples_per_feature,
            seed,
            row_offset,
            rows: Vec::new(),
            n_outputs: 0,
        }
    }

    fn budget(&self, m: usize) -> usize {
        self.nsamples.unwrap_or(1000 * m)
    }
}

/// A background row drawn with probability proportional to its weight.
fn draw_row(rng: &mut Rng, cumulative: &[f64]) -> usize {
    let u = rng.next_f64() * cumulative[cumulative.len() - 1];
    cumulative
        .partition_point(|&c| c <= u)
        .min(cumulative.len() - 1)
}

/// The pairs of coalitions (`with j`, `without j`) of a row's planned samples, each pair on
/// one background row.
fn plan_row(row: &mut RowState, n_columns: usize, cumulative: &[f64]) -> Coalitions {
    let m = row.varying.len();
    let total: usize = row.planned.iter().sum();
    let mut out = Coalitions::on_single_rows(n_columns);
    if total == 0 {
        return out;
    }
    let mut order = row.varying.clone();
    for (pos, &count) in row.planned.iter().enumerate() {
        let j = row.varying[pos];
        for _ in 0..count {
            for a in (1..m).rev() {
                let b = row.rng.below(a as u64 + 1) as usize;
                order.swap(a, b);
            }
            let background_row = draw_row(&mut row.rng, cumulative);
            let mut without = Bits::empty(n_columns);
            for &f in order.iter().take_while(|&&f| f != j) {
                without.set(f);
            }
            let mut with = without.clone();
            with.set(j);
            out.push_on_row(with.words(), background_row);
            out.push_on_row(without.words(), background_row);
        }
    }
    out
}

/// shap's second-round allocation: `round2` samples in proportion to each feature's variance
/// (averaged over outputs after normalising per output), rounded to even counts that add up.
fn second_round(var: &[f64], m: usize, k: usize, round2: usize) -> Vec<usize> {
    let mut share = vec![0.0; m];
    let all_zero = var.iter().all(|&v| v == 0.0);
    for o in 0..k {
        let column: Vec<f64> = (0..m)
            .map(|j| if all_zero { 1.0 } else { var[j * k + o] })
            .collect();
        let total: f64 = column.iter().sum();
        for j in 0..m {
            let normalised = if total > 0.0 { column[j] / total } else { 0.0 };
            share[j] += normalised / k as f64;
        }
    }
    let mut each: Vec<i64> = share
        .iter()
        .map(|s| {
            let n = (s * round2 as f64) as i64;
            n + n % 2
        })
        .collect();
    let target = round2 as i64;
    for j in 0..m {
        let sum: i64 = each.iter().sum();
        if sum > target {
            each[j] -= 2;
        } else if sum < target {
            each[j] += 2;
        } else {
            break;
        }
    }
    each.into_iter().map(|n| n.max(0) as usize).collect()
}

impl Estimator for SamplingEstimator {
    fn plan(&mut self, problem: &Problem, round: usize) -> Result<Option<Vec<Coalitions>>> {
        let p = problem.n_columns();
        let k = problem.n_outputs();
        let (background, weights) = problem.background();
        let cumulative: Vec<f64> = weights
            .iter()
            .scan(0.0, |acc, w| {
                *acc += w;
                Some(*acc)
            })
            .collect();
        match round {
            0 => {
                self.n_outputs = k;
                let mut rows = Vec::with_capacity(problem.n_rows());
                for i in 0..problem.n_rows() {
                    let varying = varying_features(problem.row(i), background, p);
                    let m = varying.len();
                    let mut planned = vec![0; m];
                    if m >= 2 {
                        let budget = self.budget(m);
                        let round1 = budget.min(m * self.min_samples_per_feature);
                        if round1 < 2 * m {
                            return Err(Error::Parameter(format!(
                                "nsamples={budget} is too small for Sampling SHAP: row {} has \
                                 {m} features that differ from the background, which need at \
                                 least 2 * {m} = {} samples",
                                self.row_offset + i as u64,
                                2 * m
                            )));
                        }
                        // shap's first round: even counts, the remainder to the first features.
                        for (pos, n) in planned.iter_mut().enumerate() {
                            *n = 2 * (round1 / (2 * m))
                                + usize::from(pos < (round1 % (2 * m)) / 2) * 2;
                        }
                    }
                    rows.push(RowState {
                        varying,
                        rng: Rng::stream(self.seed, self.row_offset + i as u64),
                        planned,
                        n: vec![0; m],
                        mean: vec![0.0; m * k],
                        var: vec![0.0; m * k],
                    });
                }
                self.rows = rows;
            }
            1 => {
                let mut any = false;
                for row in &mut self.rows {
                    let m = row.varying.len();
                    if m < 2 {
                        row.planned = vec![0; m];
                        continue;
                    }
                    let budget = self.nsamples.unwrap_or(1000 * m);
                    let round1: usize = row.n.iter().sum();
                    let round2 = budget.saturating_sub(round1);
                    row.planned = second_round(&row.var, m, k, round2);
                    any |= row.planned.iter().any(|&n| n > 0);
                }
                if !any {
                    return Ok(None);
                }
            }
            _ => return Ok(None),
        }
        Ok(Some(
            self.rows
                .par_iter_mut()
                .map(|row| plan_row(row, p, &cumulative))
                .collect(),
        ))
    }

    fn reduce(&mut self, problem: &Problem, values: Vec<Vec<f64>>) -> Result<()> {
        let k = problem.n_outputs();
        for (row, v) in self.rows.iter_mut().zip(values) {
            let mut c = 0;
            for (pos, &count) in row.planned.iter().enumerate() {
                if count == 0 {
                    continue;
                }
                for o in 0..k {
                    // This round's mean and variance of the differences, then pooled with
                    // the earlier rounds' as shap does (weighted by sample counts).
                    let d = |s: usize| v[(c + 2 * s) * k + o] - v[(c + 2 * s + 1) * k + o];
                    let mean = (0..count).map(d).sum::<f64>() / count as f64;
                    let var = (0..count).map(|s| (d(s) - mean).powi(2)).sum::<f64>() / count as f64;
                    let (n0, idx) = (row.n[pos], pos * k + o);
                    let total = (n0 + count) as f64;
                    row.mean[idx] = (row.mean[idx] * n0 as f64 + mean * count as f64) / total;
                    row.var[idx] = (row.var[idx] * n0 as f64 + var * count as f64) / total;
                }
                row.n[pos] += count;
                c += 2 * count;
            }
        }
        Ok(())
    }

    fn finish(&self, problem: &Problem, fx: ArrayView2<'_, f64>) -> Result<GameValues> {
        let k = problem.n_outputs();
        let fnull = problem.fnull();
        let mut out = GameValues::zeros(problem);
        for (i, row) in self.rows.iter().enumerate() {
            let m = row.varying.len();
            let mut values = out.values.index_axis_mut(Axis(0), i);
            if m == 1 {
                for o in 0..k {
                    values[[row.varying[0], o]] = fx[[i, o]] - fnull[o];
                }
                continue;
            }
            for o in 0..k {
                let gap =
                    fx[[i, o]] - fnull[o] - (0..m).map(|pos| row.mean[pos * k + o]).sum::<f64>();
                // Variance of each mean; the gap is shared in proportion to it (evenly when
                // every estimate had zero variance).
                let var_of_mean: Vec<f64> = (0..m)
                    .map(|pos| row.var[pos * k + o] / row.n[pos].max(1) as f64)
                    .collect();
                let total: f64 = var_of_mean.iter().sum();
                for (pos, &j) in row.varying.iter().enumerate() {
                    let share = if total > 0.0 {
                        var_of_mean[pos] / total
                    } else {
                        1.0 / m as f64
                    };
                    values[[j, o]] = row.mean[pos * k + o] + gap * share;
                }
            }
            let mut errors = out.standard_errors.index_axis_mut(Axis(0), i);
            for (pos, &j) in row.varying.iter().enumerate() {
                for o in 0..k {
                    errors[[j, o]] = (row.var[pos * k + o] / row.n[pos].max(1) as f64).sqrt();
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_round_follows_the_variances_and_spends_the_budget() {
        let each = second_round(&[1.0, 3.0, 0.0], 3, 1, 400);
        assert_eq!(each.iter().sum::<usize>(), 400);
        assert!(each.iter().all(|n| n % 2 == 0));
        assert_eq!(each[2], 0);
        assert_eq!(each[1], 300);
    }
}
