//! Exact Shapley values by evaluating every coalition of the features that vary from the
//! background, as shap's `ExactExplainer`: the `2^M` coalitions are visited in Gray-code order
//! (one feature changes between neighbours), and
//! `φ_j = Σ_{S ∌ j} |S|!(M − |S| − 1)!/M! · (v(S ∪ {j}) − v(S))`.

use ndarray::{ArrayView2, Axis};
use rayon::prelude::*;

use super::batch::Problem;
use super::coalitions::{Bits, Coalitions};
use super::engine::{Estimator, GameValues};
use super::kernel::varying_features;
use crate::error::{Error, Result};

/// The most varying features Exact accepts whatever the budget: 2^24 coalitions per row, each
/// evaluated on every background row, is already hours of model calls.
pub const MAX_EXACT_FEATURES: usize = 24;

/// Exact Shapley values as an [`crate::game::Estimator`].
#[derive(Clone, Debug)]
pub struct ExactEstimator {
    max_evals: Option<usize>,
    row_offset: u64,
    varying: Vec<Vec<usize>>,
    sums: Vec<Vec<f64>>,
}

impl ExactEstimator {
    /// At most `max_evals` coalitions per row (`None`: no limit below
    /// [`MAX_EXACT_FEATURES`]); a row needing more (`2^M`) is refused. `row_offset` only
    /// names rows in errors.
    pub fn new(max_evals: Option<usize>, row_offset: u64) -> Self {
        ExactEstimator {
            max_evals,
            row_offset,
            varying: Vec::new(),
            sums: Vec::new(),
        }
    }
}

/// The coalitions of `varying` in Gray-code order: coalition `t` holds the features at the
/// set bits of `t ^ (t >> 1)`; neighbours differ in feature `trailing_zeros(t)`.
fn gray_coalitions(varying: &[usize], n_columns: usize) -> Coalitions {
    let n = 1usize << varying.len();
    let mut out = Coalitions::with_capacity(n_columns, n);
    let mut bits = Bits::empty(n_columns);
    out.push_words(bits.words());
    for t in 1..n {
        bits.toggle(varying[t.trailing_zeros() as usize]);
        out.push_words(bits.words());
    }
    out
}

/// `s!(M − s − 1)!/M! = 1 / (M · C(M − 1, s))` for `s` in `0..M`.
fn shapley_weights(m: usize) -> Vec<f64> {
    let mut binom = 1.0f64; // C(M − 1, s)
    (0..m)
        .map(|s| {
            if s > 0 {
                binom = binom * (m - s) as f64 / s as f64;
            }
            1.0 / (m as f64 * binom)
        })
        .collect()
}

impl Estimator for ExactEstimator {
    fn plan(&mut self, problem: &Problem, round: usize) -> Result<Option<Vec<Coalitions>>> {
        if round > 0 {
            return Ok(None);
        }
        let p = problem.n_columns();
        let (background, _) = problem.background();
        self.varying = (0..problem.n_rows())
            .into_par_iter()
            .map(|i| varying_features(problem.row(i), background, p))
            .collect();
        for (i, v) in self.varying.iter().enumerate() {
            let m = v.len();
            let row = self.row_offset + i as u64;
            if m > MAX_EXACT_FEATURES {
                return Err(Error::Parameter(format!(
                    "the Exact explainer evaluates all 2^M coalitions, and row {row} has M = {m} \
                     features that differ from the background; at most {MAX_EXACT_FEATURES} \
                     are supported (use the Permutation explainer)"
                )));
            }
            if let Some(limit) = self.max_evals
                && (1usize << m) > limit
            {
                return Err(Error::Parameter(format!(
                    "it takes 2^{m} = {} masked evaluations to run the Exact explainer on row \
                     {row}, but max_evals={limit}",
                    1usize << m
                )));
            }
        }
        Ok(Some(
            self.varying
                .par_iter()
                .map(|v| {
                    if v.is_empty() {
                        Coalitions::new(p)
                    } else {
                        gray_coalitions(v, p)
                    }
                })
                .collect(),
        ))
    }

    fn reduce(&mut self, _problem: &Problem, values: Vec<Vec<f64>>) -> Result<()> {
        self.sums = values;
        Ok(())
    }

    fn finish(&self, problem: &Problem, _fx: ArrayView2<'_, f64>) -> Result<GameValues> {
        let (p, k) = (problem.n_columns(), problem.n_outputs());
        let rows: Vec<Vec<f64>> = self
            .varying
            .par_iter()
            .zip(&self.sums)
            .map(|(varying, v)| row_values(varying, v, p, k))
            .collect();
        let mut out = GameValues::zeros(problem);
        for (i, phi) in rows.into_iter().enumerate() {
            for (dst, x) in out.values.index_axis_mut(Axis(0), i).iter_mut().zip(phi) {
                *dst = x;
            }
        }
        Ok(out)
    }
}

/// One row's values (`p × k`) from its coalition values in Gray-code order.
fn row_values(varying: &[usize], v: &[f64], p: usize, k: usize) -> Vec<f64> {
    let m = varying.len();
    let mut phi = vec![0.0; p * k];
    if m == 0 {
        return phi;
    }
    let n = 1usize << m;
    let weights = shapley_weights(m);
    let mut by_mask = vec![0.0; n];
    for o in 0..k {
        for t in 0..n {
            by_mask[t ^ (t >> 1)] = v[t * k + o];
        }
        for (pos, &j) in varying.iter().enumerate() {
            let bit = 1usize << pos;
            let mut acc = 0.0;
            for mask in (0..n).filter(|mask| mask & bit == 0) {
                let w = weights[mask.count_ones() as usize];
                acc += w * (by_mask[mask | bit] - by_mask[mask]);
            }
            phi[j * k + o] = acc;
        }
    }
    phi
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gray_order_changes_one_feature_at_a_time_and_visits_all() {
        let c = gray_coalitions(&[0, 2, 3], 4);
        assert_eq!(c.len(), 8);
        let mut seen = std::collections::HashSet::new();
        for t in 0..8 {
            seen.insert(c.words(t).to_vec());
            if t > 0 {
                let diff = c.words(t)[0] ^ c.words(t - 1)[0];
                assert_eq!(diff.count_ones(), 1);
            }
        }
        assert_eq!(seen.len(), 8);
    }

    #[test]
    fn weights_sum_to_one_over_coalitions() {
        // Σ_s C(M − 1, s) · w(s) = 1 for each feature.
        let m = 9;
        let w = shapley_weights(m);
        let mut binom = 1.0;
        let mut total = 0.0;
        for (s, ws) in w.iter().enumerate() {
            if s > 0 {
                binom = binom * (m - s) as f64 / s as f64;
            }
            total += binom * ws;
        }
        assert!((total - 1.0).abs() < 1e-14);
    }
}
