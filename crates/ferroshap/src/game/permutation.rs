//! Permutation SHAP as shap's `PermutationExplainer` computes it: antithetic permutation
//! walks. Each permutation of the features that vary from the background is walked forward
//! (adding features one at a time, from the empty coalition to the full one) and backward
//! (removing them in the same order, from the full coalition to the empty one); a feature's
//! value is the mean of its marginal contributions over the `2 × n_permutations` walks.
//!
//! The forward and backward walks together are exact for models with at most pairwise
//! interactions, whatever the permutation. The budget follows shap: `max_evals` coalitions
//! per row give `max_evals / (2M + 1)` permutations. shap evaluates the empty and the full
//! coalition again in every permutation; here they are evaluated once per row, so a run costs
//! `2 + n_permutations · 2(M − 1)` coalitions and its values are those of shap's estimator.

use ndarray::{ArrayView2, Axis};
use rayon::prelude::*;

use super::batch::Problem;
use super::coalitions::{Bits, Coalitions};
use super::engine::{Estimator, GameValues};
use super::kernel::varying_features;
use crate::error::{Error, Result};
use crate::rng::Rng;

/// The permutations of one explained row.
#[derive(Clone, Debug, Default)]
struct RowWalks {
    varying: Vec<usize>,
    /// `n_permutations × M` feature indices, one permutation after another.
    orders: Vec<usize>,
}

impl RowWalks {
    fn n_permutations(&self) -> usize {
        self.orders
            .len()
            .checked_div(self.varying.len())
            .unwrap_or(0)
    }

    /// `[∅, full]`, then per permutation its forward prefixes of sizes `1..M` and its
    /// backward coalitions `full − {first t}` for `t` in `1..M`.
    fn coalitions(&self, n_columns: usize) -> Coalitions {
        let m = self.varying.len();
        if m == 0 {
            return Coalitions::new(n_columns);
        }
        let per = 2 * (m - 1);
        let mut out = Coalitions::with_capacity(n_columns, 2 + self.n_permutations() * per);
        out.push_columns([]);
        let full = Bits::full(&self.varying, n_columns);
        out.push_words(full.words());
        for order in self.orders.chunks_exact(m) {
            let mut forward = Bits::empty(n_columns);
            for &j in &order[..m - 1] {
                forward.set(j);
                out.push_words(forward.words());
            }
            let mut backward = full.clone();
            for &j in &order[..m - 1] {
                backward.clear(j);
                out.push_words(backward.words());
            }
        }
        out
    }
}

/// Permutation SHAP as an [`crate::game::Estimator`].
#[derive(Clone, Debug)]
pub struct PermutationEstimator {
    max_evals: usize,
    seed: u64,
    row_offset: u64,
    rows: Vec<RowWalks>,
    sums: Vec<Vec<f64>>,
}

impl PermutationEstimator {
    /// `max_evals` coalitions per row as shap counts them (`max_evals / (2M + 1)`
    /// permutations, M the row's varying features); row `i` of the block draws its
    /// permutations from the random stream `(seed, row_offset + i)`.
    pub fn new(max_evals: usize, seed: u64, row_offset: u64) -> Self {
        PermutationEstimator {
            max_evals,
            seed,
            row_offset,
            rows: Vec::new(),
            sums: Vec::new(),
        }
    }

    /// Permutations walked for each row (known once the first round is planned).
    pub fn n_permutations(&self) -> Vec<usize> {
        self.rows.iter().map(RowWalks::n_permutations).collect()
    }
}

impl Estimator for PermutationEstimator {
    fn plan(&mut self, problem: &Problem, round: usize) -> Result<Option<Vec<Coalitions>>> {
        if round > 0 {
            return Ok(None);
        }
        let p = problem.n_columns();
        let (background, _) = problem.background();
        let (max_evals, seed, offset) = (self.max_evals, self.seed, self.row_offset);
        self.rows = (0..problem.n_rows())
            .into_par_iter()
            .map(|i| {
                let varying = varying_features(problem.row(i), background, p);
                let m = varying.len();
                if m == 0 {
                    return Ok(RowWalks::default());
                }
                let n_permutations = max_evals / (2 * m + 1);
                if n_permutations == 0 {
                    return Err(Error::Parameter(format!(
                        "max_evals={max_evals} is too low for the Permutation explainer: row \
                         {} has {m} features that differ from the background, which needs at \
                         least 2 * {m} + 1 = {} evaluations",
                        offset + i as u64,
                        2 * m + 1
                    )));
                }
                let mut rng = Rng::stream(seed, offset + i as u64);
                let mut order = varying.clone();
                let mut orders = Vec::with_capacity(n_permutations * m);
                for _ in 0..n_permutations {
                    for a in (1..m).rev() {
                        let b = rng.below(a as u64 + 1) as usize;
                        order.swap(a, b);
                    }
                    orders.extend_from_slice(&order);
                }
                Ok(RowWalks { varying, orders })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(
            self.rows.par_iter().map(|r| r.coalitions(p)).collect(),
        ))
    }

    fn reduce(&mut self, _problem: &Problem, values: Vec<Vec<f64>>) -> Result<()> {
        self.sums = values;
        Ok(())
    }

    fn finish(&self, problem: &Problem, _fx: ArrayView2<'_, f64>) -> Result<GameValues> {
        let (p, k) = (problem.n_columns(), problem.n_outputs());
        let rows: Vec<(Vec<f64>, Vec<f64>)> = self
            .rows
            .par_iter()
            .zip(&self.sums)
            .map(|(walks, v)| row_values(walks, v, p, k))
            .collect();
        let mut out = GameValues::zeros(problem);
        for (i, (phi, se)) in rows.into_iter().enumerate() {
            for (dst, x) in out.values.index_axis_mut(Axis(0), i).iter_mut().zip(phi) {
                *dst = x;
            }
            let mut errors = out.standard_errors.index_axis_mut(Axis(0), i);
            for (dst, x) in errors.iter_mut().zip(se) {
                *dst = x;
            }
        }
        Ok(out)
    }
}

/// Values and standard errors (`p × k` each) of one row from its coalition values `v`. The
/// standard error is that of the mean over permutations, each permutation's estimate being
/// the mean of its two walks (which are not independent of each other); 0 with fewer than two
/// permutations.
fn row_values(walks: &RowWalks, v: &[f64], p: usize, k: usize) -> (Vec<f64>, Vec<f64>) {
    let m = walks.varying.len();
    let mut phi = vec![0.0; p * k];
    let mut sq = vec![0.0; p * k];
    let n_perm = walks.n_permutations();
    if m == 0 || n_perm == 0 {
        return (phi, sq);
    }
    let value = |c: usize, o: usize| v[c * k + o];
    let per = 2 * (m - 1);
    let mut estimate = vec![0.0; m * k];
    for (q, order) in walks.orders.chunks_exact(m).enumerate() {
        let base = 2 + q * per;
        for o in 0..k {
            // Forward: ∅ → prefixes → full; backward: full → full − prefixes → ∅.
            let mut prev_f = value(0, o);
            let mut prev_b = value(1, o);
            for t in 0..m {
                let (cur_f, cur_b) = if t + 1 == m {
                    (value(1, o), value(0, o))
                } else {
                    (value(base + t, o), value(base + m - 1 + t, o))
                };
                estimate[t * k + o] = 0.5 * ((cur_f - prev_f) + (prev_b - cur_b));
                prev_f = cur_f;
                prev_b = cur_b;
            }
        }
        for (t, &j) in order.iter().enumerate() {
            for o in 0..k {
                let e = estimate[t * k + o];
                // Welford's running mean and sum of squares, per feature and output.
                let idx = j * k + o;
                let delta = e - phi[idx];
                phi[idx] += delta / (q + 1) as f64;
                sq[idx] += delta * (e - phi[idx]);
            }
        }
    }
    let se = sq
        .iter()
        .map(|&s| {
            if n_perm < 2 {
                0.0
            } else {
                (s / ((n_perm - 1) * n_perm) as f64).sqrt()
            }
        })
        .collect();
    (phi, se)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_cover_every_prefix_of_each_permutation() {
        let walks = RowWalks {
            varying: vec![1, 3, 4],
            orders: vec![4, 1, 3],
        };
        let c = walks.coalitions(5);
        let sets: Vec<Vec<usize>> = (0..c.len()).map(|i| c.columns(i).collect()).collect();
        assert_eq!(
            sets,
            vec![
                vec![],
                vec![1, 3, 4],
                vec![4],
                vec![1, 4],
                vec![1, 3],
                vec![3],
            ]
        );
    }
}
