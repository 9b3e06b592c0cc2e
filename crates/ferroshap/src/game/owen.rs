//! Exact Owen values over a binary hierarchy, as shap's `ExactExplainer` computes them when
//! its masker has a clustering.
//!
//! The Owen value of a feature is its marginal contribution averaged over the orderings in
//! which every cluster's features are contiguous. On a binary hierarchy that is a recursion:
//! a node is evaluated in a context `m00` (a union of clusters outside it), its two children
//! are each explained twice, once with their sibling absent and once present, with equal
//! weight. Every (node, context) pair costs two coalitions, `m00 ∪ left` and `m00 ∪ right`;
//! a leaf's value is the mean of `v(m00 ∪ leaf) − v(m00)` over its `2^depth` contexts. A
//! balanced hierarchy of `M` features needs about `⅔M²` coalitions, a chain `2^M`.

use std::sync::Arc;

use ndarray::ArrayView2;
use rayon::prelude::*;

use super::batch::Problem;
use super::coalitions::{Bits, Coalitions};
use super::engine::{Estimator, GameValues};
use super::hierarchy::{Hierarchy, leaf_values, per_row};
use crate::error::{Error, Result};

/// The most coalitions per row exact Owen values may take, whatever the budget (as Exact's
/// 2^24 for Shapley values).
pub const MAX_OWEN_COALITIONS: usize = 1 << 24;

/// Coalitions (`[∅, full, …]`) needed for exact Owen values on `h`: two per (internal node,
/// context) pair, a node having twice its parent's contexts. Saturates on overflow.
pub fn owen_coalitions(h: &Hierarchy) -> usize {
    let m = h.n_leaves();
    let mut contexts = vec![0usize; h.n_nodes()];
    contexts[h.root()] = 1;
    let mut total = 2usize;
    for node in (m..h.n_nodes()).rev() {
        let c = contexts[node];
        total = total.saturating_add(c.saturating_mul(2));
        if let Some(pair) = h.children(node) {
            for child in pair {
                contexts[child] = c.saturating_mul(2);
            }
        }
    }
    total
}

/// One row's coalitions and, per leaf, the (context, context ∪ leaf) coalition pairs.
#[derive(Debug)]
struct OwenPlan {
    coalitions: Coalitions,
    pairs: Vec<Vec<(usize, usize)>>,
}

impl OwenPlan {
    fn new(h: &Hierarchy, n_columns: usize) -> Self {
        let mut coalitions = Coalitions::new(n_columns);
        let mut pairs = vec![Vec::new(); h.n_leaves()];
        let empty = Bits::empty(n_columns);
        let mut full = Bits::empty(n_columns);
        h.add_to(&mut full, h.root());
        coalitions.push_words(empty.words());
        coalitions.push_words(full.words());
        // (node, context, index of the context's coalition, index of context ∪ node's).
        let mut stack = vec![(h.root(), empty, 0usize, 1usize)];
        while let Some((node, m00, i00, i11)) = stack.pop() {
            let Some([l, r]) = h.children(node) else {
                pairs[node].push((i00, i11));
                continue;
            };
            let mut m10 = m00.clone();
            h.add_to(&mut m10, l);
            let mut m01 = m00.clone();
            h.add_to(&mut m01, r);
            let i10 = coalitions.len();
            coalitions.push_words(m10.words());
            let i01 = coalitions.len();
            coalitions.push_words(m01.words());
            // Each child with its sibling absent (context m00) and present.
            stack.push((r, m00.clone(), i00, i01));
            stack.push((l, m01, i01, i11));
            stack.push((r, m10, i10, i11));
            stack.push((l, m00, i00, i10));
        }
        OwenPlan { coalitions, pairs }
    }
}

/// Exact Owen values as an [`crate::game::Estimator`].
#[derive(Clone, Debug)]
pub struct OwenEstimator {
    hierarchies: Vec<Arc<Hierarchy>>,
    max_evals: Option<usize>,
    row_offset: u64,
    plans: Vec<Arc<OwenPlan>>,
    sums: Vec<Vec<f64>>,
}

impl OwenEstimator {
    /// Exact Owen values over `hierarchies` (one shared by every row, or one per row). With
    /// `max_evals`, a row is refused when `M² > max_evals` (shap's rule) or when its
    /// hierarchy needs more than `max_evals` coalitions; `row_offset` only names rows in
    /// errors.
    pub fn new(
        hierarchies: Vec<Arc<Hierarchy>>,
        max_evals: Option<usize>,
        row_offset: u64,
    ) -> Self {
        OwenEstimator {
            hierarchies,
            max_evals,
            row_offset,
            plans: Vec::new(),
            sums: Vec::new(),
        }
    }

    fn check(&self, h: &Hierarchy, row: u64) -> Result<()> {
        let m = h.n_leaves();
        let needed = owen_coalitions(h);
        let limit = self.max_evals.unwrap_or(MAX_OWEN_COALITIONS);
        if let Some(max_evals) = self.max_evals
            && m.saturating_mul(m) > max_evals
        {
            return Err(Error::Parameter(format!(
                "it takes M^2 = {} masked evaluations to run the Exact explainer with a \
                 clustering on row {row} (M = {m}), but max_evals={max_evals}",
                m * m
            )));
        }
        if needed > limit.min(MAX_OWEN_COALITIONS) {
            return Err(Error::Parameter(format!(
                "exact Owen values on row {row} need {needed} coalitions for its hierarchy of \
                 {m} features, more than the limit of {} (use the Partition explainer with a \
                 budget)",
                limit.min(MAX_OWEN_COALITIONS)
            )));
        }
        Ok(())
    }
}

impl Estimator for OwenEstimator {
    fn plan(&mut self, problem: &Problem, round: usize) -> Result<Option<Vec<Coalitions>>> {
        if round > 0 {
            return Ok(None);
        }
        let rows = per_row(&self.hierarchies, problem)?;
        let p = problem.n_columns();
        // Rows sharing a hierarchy share its plan.
        let mut plans: Vec<Arc<OwenPlan>> = Vec::with_capacity(rows.len());
        for (i, h) in rows.iter().enumerate() {
            let shared = i > 0 && Arc::ptr_eq(h, &rows[i - 1]);
            if shared {
                plans.push(plans[i - 1].clone());
            } else {
                self.check(h, self.row_offset + i as u64)?;
                plans.push(Arc::new(OwenPlan::new(h, p)));
            }
        }
        let coalitions = plans.iter().map(|plan| plan.coalitions.clone()).collect();
        self.plans = plans;
        Ok(Some(coalitions))
    }

    fn reduce(&mut self, _problem: &Problem, values: Vec<Vec<f64>>) -> Result<()> {
        self.sums = values;
        Ok(())
    }

    fn finish(&self, problem: &Problem, _fx: ArrayView2<'_, f64>) -> Result<GameValues> {
        let k = problem.n_outputs();
        let rows: Vec<Vec<f64>> = self
            .plans
            .par_iter()
            .zip(&self.sums)
            .map(|(plan, v)| {
                let mut phi = vec![0.0; plan.pairs.len() * k];
                for (leaf, pairs) in plan.pairs.iter().enumerate() {
                    let n = pairs.len() as f64;
                    for o in 0..k {
                        let total: f64 = pairs
                            .iter()
                            .map(|&(off, on)| v[on * k + o] - v[off * k + o])
                            .sum();
                        phi[leaf * k + o] = total / n;
                    }
                }
                phi
            })
            .collect();
        Ok(leaf_values(problem, rows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_balanced_hierarchy_needs_two_thirds_m_squared_and_a_chain_two_to_the_m() {
        // 8 leaves, balanced: internal visits 1 + 4 + 16 = 21 -> 2 + 42 coalitions.
        let balanced = Hierarchy::from_linkage(&[
            (0.0, 1.0, 1.0),
            (2.0, 3.0, 1.0),
            (4.0, 5.0, 1.0),
            (6.0, 7.0, 1.0),
            (8.0, 9.0, 2.0),
            (10.0, 11.0, 2.0),
            (12.0, 13.0, 3.0),
        ])
        .unwrap();
        assert_eq!(owen_coalitions(&balanced), 44);
        let plan = OwenPlan::new(&balanced, 8);
        assert_eq!(plan.coalitions.len(), 44);
        assert!(plan.pairs.iter().all(|p| p.len() == 8));
        // A chain of 4: ((((0, 1), 2), 3): visits 1 + 2 + 4 -> 2 + 14.
        let chain =
            Hierarchy::from_linkage(&[(0.0, 1.0, 1.0), (4.0, 2.0, 1.0), (5.0, 3.0, 1.0)]).unwrap();
        assert_eq!(owen_coalitions(&chain), 16);
        assert_eq!(OwenPlan::new(&chain, 4).coalitions.len(), 16);
    }
}
