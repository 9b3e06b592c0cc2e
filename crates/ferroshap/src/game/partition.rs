//! Partition SHAP (shap's `PartitionExplainer`): Owen values over a binary hierarchy, with
//! the recursion of [`super::owen`] expanded best-first under a budget.
//!
//! A pending node carries its context's value `f00` and the value with the node added, `f11`.
//! Expanding it evaluates its two children alone in the context (`f10`, `f01`) and queues
//! each child twice, with its sibling absent and present, at half the weight. The queue pops
//! the node with the largest `max |f11 − f00| · weight` first, in batches of `batch_size`
//! coalitions per round (shap's batches). When the budget is spent, each node still queued
//! keeps `(f11 − f00) · weight`, and every internal node's value is spread over its leaves in
//! proportion to their number (shap's `lower_credit`). With enough budget every leaf is
//! reached in every context and the values are the exact Owen values.
//!
//! This follows shap's evaluation order, so at any budget the values are shap's, except
//! where two queued nodes have exactly the same priority: shap breaks such ties at random,
//! here the node queued first goes first.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::Arc;

use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;

use super::batch::Problem;
use super::coalitions::{Bits, Coalitions};
use super::engine::{Estimator, GameValues};
use super::hierarchy::{Hierarchy, leaf_values, per_row};
use crate::error::{Error, Result};

/// The smallest `max_evals` that explains anything: the empty and full coalitions, then one
/// split of the root.
pub const MIN_PARTITION_EVALS: usize = 4;

/// A node to expand in a context.
#[derive(Clone, Debug)]
struct Visit {
    node: usize,
    m00: Bits,
    f00: Vec<f64>,
    f11: Vec<f64>,
    weight: f64,
}

/// A queued visit: the smallest `priority` pops first, then the earliest queued.
#[derive(Debug)]
struct Queued {
    priority: f64,
    seq: u64,
    visit: Visit,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    // BinaryHeap pops the greatest: reversed, so the smallest priority is the greatest.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .priority
            .total_cmp(&self.priority)
            .then(other.seq.cmp(&self.seq))
    }
}

/// One explained row's expansion.
#[derive(Debug, Default)]
struct RowState {
    queue: BinaryHeap<Queued>,
    seq: u64,
    evals: usize,
    /// `(2M − 1) × k`: what each node keeps.
    dvalues: Vec<f64>,
    /// The visits expanded in the round in progress with their two coalitions.
    in_flight: Vec<(Visit, Bits, Bits)>,
    f00: Vec<f64>,
    f11: Vec<f64>,
    done: bool,
}

impl RowState {
    fn push(&mut self, visit: Visit) {
        let spread = visit
            .f00
            .iter()
            .zip(&visit.f11)
            .map(|(a, b)| (b - a).abs())
            .fold(f64::NEG_INFINITY, f64::max);
        // shap's priority, -max|Δ| · weight, rounded the same way.
        let priority = -spread * visit.weight;
        self.queue.push(Queued {
            priority,
            seq: self.seq,
            visit,
        });
        self.seq += 1;
    }

    fn keep(&mut self, visit: &Visit, k: usize) {
        let node = visit.node;
        for o in 0..k {
            self.dvalues[node * k + o] += (visit.f11[o] - visit.f00[o]) * visit.weight;
        }
    }
}

/// Partition SHAP as an [`crate::game::Estimator`].
#[derive(Debug)]
pub struct PartitionEstimator {
    hierarchies: Vec<Arc<Hierarchy>>,
    budget: usize,
    batch_size: usize,
    own_background: bool,
    fixed_context: Option<bool>,
    rows: Vec<(Arc<Hierarchy>, RowState)>,
}

impl PartitionEstimator {
    /// Owen values over `hierarchies` (one shared by every row, or one per row) with shap's
    /// budget: `max_evals` coalitions per row, two of them the empty and the full coalition,
    /// expanded `batch_size` coalitions per round (shap's `batch_size`: 10 for tabular data, 5
    /// for text). With `own_background`, explained row `i` is masked onto background row `i`
    /// alone (the image masker's blurred copy of the row).
    pub fn new(
        hierarchies: Vec<Arc<Hierarchy>>,
        max_evals: usize,
        batch_size: usize,
        own_background: bool,
    ) -> Result<Self> {
        if max_evals < MIN_PARTITION_EVALS {
            return Err(Error::Parameter(format!(
                "max_evals={max_evals} is too low for the Partition explainer: it needs at least \
                 {MIN_PARTITION_EVALS} (the empty and full coalitions and one split of the \
                 hierarchy's root)"
            )));
        }
        if batch_size == 0 {
            return Err(Error::Parameter("batch_size must be at least 1".into()));
        }
        Ok(PartitionEstimator {
            hierarchies,
            budget: max_evals - 2,
            batch_size,
            own_background,
            fixed_context: None,
            rows: Vec::new(),
        })
    }

    /// shap's `fixed_context`: `None` (the default) explains each cluster's halves with their
    /// sibling both absent and present (Owen values); `Some(false)` only absent and
    /// `Some(true)` only present, at full weight, leaving each cluster's interaction between
    /// its halves on the cluster (spread over its features by size): half the evaluations
    /// per level, no longer Owen values.
    pub fn with_fixed_context(mut self, fixed_context: Option<bool>) -> Self {
        self.fixed_context = fixed_context;
        self
    }

    /// The value of the empty coalition of each row (`n_rows × n_outputs`): the base value
    /// of maskers whose masked-out input depends on the row (text, images).
    pub fn base_values(&self, k: usize) -> Array2<f64> {
        let mut out = Array2::zeros((self.rows.len(), k));
        for (mut dst, (_, row)) in out.axis_iter_mut(Axis(0)).zip(&self.rows) {
            for (d, v) in dst.iter_mut().zip(&row.f00) {
                *d = *v;
            }
        }
        out
    }

    /// Coalitions evaluated for each row, the empty and full ones included.
    pub fn n_evaluations(&self) -> Vec<usize> {
        self.rows.iter().map(|(_, r)| r.evals + 2).collect()
    }

    fn coalitions(&self, p: usize) -> Coalitions {
        if self.own_background {
            Coalitions::on_single_rows(p)
        } else {
            Coalitions::new(p)
        }
    }

    fn push(&self, c: &mut Coalitions, bits: &Bits, i: usize) {
        if self.own_background {
            c.push_on_row(bits.words(), i);
        } else {
            c.push_words(bits.words());
        }
    }

    /// One row's batch for the next round (shap's inner loop), or nothing once it is done.
    fn plan_row(
        &self,
        i: usize,
        h: &Hierarchy,
        row: &mut RowState,
        p: usize,
        k: usize,
    ) -> Coalitions {
        let mut out = self.coalitions(p);
        if row.done {
            return out;
        }
        if row.evals >= self.budget {
            // Out of budget: every queued node keeps what it has.
            while let Some(q) = row.queue.pop() {
                row.keep(&q.visit, k);
            }
            row.done = true;
            return out;
        }
        while 2 * row.in_flight.len() < self.batch_size
            && row.evals + 2 * row.in_flight.len() < self.budget
        {
            let Some(q) = row.queue.pop() else { break };
            let visit = q.visit;
            if h.is_terminal(visit.node) {
                row.keep(&visit, k);
                continue;
            }
            let [l, r] = h.children(visit.node).expect("internal node");
            let mut m10 = visit.m00.clone();
            h.add_to(&mut m10, l);
            let mut m01 = visit.m00.clone();
            h.add_to(&mut m01, r);
            self.push(&mut out, &m10, i);
            self.push(&mut out, &m01, i);
            row.in_flight.push((visit, m10, m01));
        }
        if row.in_flight.is_empty() {
            // Nothing left to split: shap's queue has emptied.
            while let Some(q) = row.queue.pop() {
                row.keep(&q.visit, k);
            }
            row.done = true;
        }
        out
    }
}

impl Estimator for PartitionEstimator {
    fn plan(&mut self, problem: &Problem, round: usize) -> Result<Option<Vec<Coalitions>>> {
        let (p, k) = (problem.n_columns(), problem.n_outputs());
        if round == 0 {
            if self.own_background && problem.n_background() != problem.n_rows() {
                return Err(Error::Shape(format!(
                    "one background row per explained row is needed: {} for {} rows",
                    problem.n_background(),
                    problem.n_rows()
                )));
            }
            let hierarchies = per_row(&self.hierarchies, problem)?;
            self.rows = hierarchies
                .into_iter()
                .map(|h| {
                    let state = RowState {
                        dvalues: vec![0.0; h.n_nodes() * k],
                        ..RowState::default()
                    };
                    (h, state)
                })
                .collect();
            // The empty and the full coalition of each row: its f00 and f11.
            let plans = self
                .rows
                .iter()
                .enumerate()
                .map(|(i, (h, _))| {
                    let mut c = self.coalitions(p);
                    let empty = Bits::empty(p);
                    let mut full = Bits::empty(p);
                    h.add_to(&mut full, h.root());
                    self.push(&mut c, &empty, i);
                    self.push(&mut c, &full, i);
                    c
                })
                .collect();
            return Ok(Some(plans));
        }
        let mut rows = std::mem::take(&mut self.rows);
        let plans: Vec<Coalitions> = rows
            .par_iter_mut()
            .enumerate()
            .map(|(i, (h, row))| self.plan_row(i, h, row, p, k))
            .collect();
        self.rows = rows;
        if self.rows.iter().all(|(_, r)| r.done) {
            return Ok(None);
        }
        Ok(Some(plans))
    }

    fn reduce(&mut self, problem: &Problem, values: Vec<Vec<f64>>) -> Result<()> {
        let k = problem.n_outputs();
        let p = problem.n_columns();
        let fixed = self.fixed_context;
        self.rows
            .par_iter_mut()
            .zip(values)
            .for_each(|((h, row), v)| {
                if row.f00.is_empty() {
                    // Round 0: the empty and full coalitions; the root waits in the queue.
                    row.f00 = v[..k].to_vec();
                    row.f11 = v[k..2 * k].to_vec();
                    let root = Visit {
                        node: h.root(),
                        m00: Bits::empty(p),
                        f00: row.f00.clone(),
                        f11: row.f11.clone(),
                        weight: 1.0,
                    };
                    // shap queues the root with priority 0.
                    row.queue.push(Queued {
                        priority: 0.0,
                        seq: 0,
                        visit: root,
                    });
                    row.seq = 1;
                    return;
                }
                let in_flight = std::mem::take(&mut row.in_flight);
                row.evals += 2 * in_flight.len();
                for (b, (visit, m10, m01)) in in_flight.into_iter().enumerate() {
                    let [l, r] = h.children(visit.node).expect("internal node");
                    let f10 = &v[2 * b * k..(2 * b + 1) * k];
                    let f01 = &v[(2 * b + 1) * k..(2 * b + 2) * k];
                    let Visit {
                        node: parent,
                        m00,
                        f00,
                        f11,
                        weight,
                    } = visit;
                    if let Some(present) = fixed {
                        // The halves' interaction stays on the cluster (shap's signs).
                        let sign = if present { -1.0 } else { 1.0 };
                        for o in 0..k {
                            let interaction = f11[o] - f10[o] - f01[o] + f00[o];
                            row.dvalues[parent * k + o] += sign * (interaction * weight);
                        }
                    }
                    let weight = if fixed.is_none() {
                        weight / 2.0
                    } else {
                        weight
                    };
                    // Each child with its sibling absent, then present, in shap's order.
                    let children = [
                        (l, m00.clone(), &f00[..], f10),
                        (r, m00, &f00[..], f01),
                        (l, m01, f01, &f11[..]),
                        (r, m10, f10, &f11[..]),
                    ];
                    let (skip, take) = match fixed {
                        None => (0, 4),
                        Some(false) => (0, 2),
                        Some(true) => (2, 2),
                    };
                    for (node, m00, lo, hi) in children.into_iter().skip(skip).take(take) {
                        row.push(Visit {
                            node,
                            m00,
                            f00: lo.to_vec(),
                            f11: hi.to_vec(),
                            weight,
                        });
                    }
                }
            });
        Ok(())
    }

    fn finish(&self, problem: &Problem, _fx: ArrayView2<'_, f64>) -> Result<GameValues> {
        let k = problem.n_outputs();
        let rows: Vec<Vec<f64>> = self
            .rows
            .par_iter()
            .map(|(h, row)| {
                let mut values = row.dvalues.clone();
                h.lower_credit(&mut values, k);
                values.truncate(h.n_leaves() * k);
                values
            })
            .collect();
        Ok(leaf_values(problem, rows))
    }
}
