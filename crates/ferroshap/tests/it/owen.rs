//! Owen values over a hierarchy: the exact estimator and Partition SHAP at a budget that
//! completes the hierarchy against brute-force Owen values, which average each feature's
//! marginal contribution over every ordering of the features in which each cluster is
//! contiguous (the definition, enumerated for M <= 7).
//!
//! Tolerances: the oracle and the estimators sum the same model outputs with the same weights
//! in different orders, so they agree to rounding (1e-10 on values of order 1). Partition is
//! efficient at every budget (its credit telescopes from f(x) − f(∅) down the hierarchy), to
//! the same rounding.

use std::sync::Arc;

use ferroshap::game::owen::owen_coalitions;
use ferroshap::game::{
    EngineJob, GameValues, Hierarchy, OwenEstimator, PartitionEstimator, Problem, explain,
};
use ferroshap::with_threads;
use ndarray::{Array2, ArrayView2};

use crate::engine::values;
use crate::kernel::{nonlinear, random_matrix};
use crate::oracle::Rng;

/// A random binary hierarchy over `m` leaves: merges two random current clusters at a time.
pub(crate) fn random_hierarchy(rng: &mut Rng, m: usize) -> Vec<(f64, f64, f64)> {
    let mut live: Vec<usize> = (0..m).collect();
    let mut rows = Vec::new();
    while live.len() > 1 {
        let a = live.swap_remove(rng.below(live.len()));
        let b = live.swap_remove(rng.below(live.len()));
        rows.push((a as f64, b as f64, rows.len() as f64));
        live.push(m + rows.len() - 1);
    }
    rows
}

pub(crate) fn chain(m: usize) -> Vec<(f64, f64, f64)> {
    (1..m)
        .map(|t| {
            let prev = if t == 1 { 0 } else { m + t - 2 };
            (prev as f64, t as f64, t as f64)
        })
        .collect()
}

/// `v(S) = Σᵢ wᵢ f(x_S, bᵢ)` for every subset `S` of the `m` columns (bit j = column j).
pub(crate) fn game(
    model: impl Fn(ArrayView2<'_, f64>) -> Array2<f64>,
    x: &[f64],
    background: &Array2<f64>,
) -> Vec<Vec<f64>> {
    let (n, m) = background.dim();
    (0..1usize << m)
        .map(|s| {
            let mut rows = background.clone();
            for mut r in rows.rows_mut() {
                for j in (0..m).filter(|j| s >> j & 1 == 1) {
                    r[j] = x[j];
                }
            }
            let out = model(rows.view());
            (0..out.ncols())
                .map(|o| out.column(o).sum() / n as f64)
                .collect()
        })
        .collect()
}

/// Brute-force Owen values `(m, k)`: the mean marginal contribution over all orderings in
/// which every cluster of `h` is contiguous.
fn owen_oracle(v: &[Vec<f64>], h: &Hierarchy) -> Array2<f64> {
    let m = h.n_leaves();
    let clusters: Vec<Vec<usize>> = (m..h.n_nodes()).map(|n| h.leaves(n).to_vec()).collect();
    mean_over_contiguous_orderings(v, m, &clusters)
}

/// The mean marginal contribution `(m, k)` of each of `m` features over all orderings in
/// which the features of every cluster are contiguous (Heap's algorithm over all `m!`).
pub(crate) fn mean_over_contiguous_orderings(
    v: &[Vec<f64>],
    m: usize,
    clusters: &[Vec<usize>],
) -> Array2<f64> {
    let k = v[0].len();
    let mut total = Array2::zeros((m, k));
    let mut count = 0usize;
    let mut order: Vec<usize> = (0..m).collect();
    let mut visit = |order: &[usize]| {
        let pos: Vec<usize> = {
            let mut p = vec![0; m];
            for (t, &j) in order.iter().enumerate() {
                p[j] = t;
            }
            p
        };
        let admissible = clusters.iter().all(|c| {
            let lo = c.iter().map(|&j| pos[j]).min().unwrap();
            let hi = c.iter().map(|&j| pos[j]).max().unwrap();
            hi - lo + 1 == c.len()
        });
        if !admissible {
            return;
        }
        count += 1;
        let mut s = 0usize;
        for &j in order {
            for o in 0..k {
                total[[j, o]] += v[s | 1 << j][o] - v[s][o];
            }
            s |= 1 << j;
        }
    };
    let mut c = vec![0usize; m];
    visit(&order);
    let mut i = 0;
    while i < m {
        if c[i] < i {
            if i % 2 == 0 {
                order.swap(0, i);
            } else {
                order.swap(c[i], i);
            }
            visit(&order);
            c[i] += 1;
            i = 0;
        } else {
            c[i] = 0;
            i += 1;
        }
    }
    total / count as f64
}

fn run<E: ferroshap::game::Estimator>(
    x: &Array2<f64>,
    background: &Array2<f64>,
    estimator: E,
    batch_rows: usize,
) -> GameValues {
    values(nonlinear, x, background, estimator, batch_rows)
}

fn hierarchy(rows: &[(f64, f64, f64)]) -> Arc<Hierarchy> {
    Arc::new(Hierarchy::from_linkage(rows).unwrap())
}

#[test]
fn exact_owen_and_complete_partition_equal_brute_force() {
    let mut rng = Rng::new(21);
    for (case, m) in [(0, 2), (1, 4), (2, 5), (3, 7), (4, 6)] {
        let rows = if case == 4 {
            chain(m)
        } else {
            random_hierarchy(&mut rng, m)
        };
        let h = hierarchy(&rows);
        let background = random_matrix(&mut rng, 4, m);
        let x = random_matrix(&mut rng, 3, m);
        let exact = run(
            &x,
            &background,
            OwenEstimator::new(vec![h.clone()], None, 0),
            53,
        );
        let budget = owen_coalitions(&h);
        let partition = run(
            &x,
            &background,
            PartitionEstimator::new(vec![h.clone()], budget, 10, false).unwrap(),
            1 << 16,
        );
        for i in 0..3 {
            let v = game(nonlinear, &x.row(i).to_vec(), &background);
            let want = owen_oracle(&v, &h);
            for j in 0..m {
                for o in 0..2 {
                    let e = (exact.values[[i, j, o]] - want[[j, o]]).abs();
                    let p = (partition.values[[i, j, o]] - want[[j, o]]).abs();
                    assert!(e < 1e-10, "case {case} exact row {i} feature {j}: {e}");
                    assert!(p < 1e-10, "case {case} partition row {i} feature {j}: {p}");
                }
            }
        }
    }
}

/// A random hierarchy over `m` features, 3 background rows and 2 explained rows.
struct Case {
    h: Arc<Hierarchy>,
    background: Array2<f64>,
    x: Array2<f64>,
}

impl Case {
    fn new(seed: u64, m: usize) -> Self {
        let mut rng = Rng::new(seed);
        let h = hierarchy(&random_hierarchy(&mut rng, m));
        let background = random_matrix(&mut rng, 3, m);
        let x = random_matrix(&mut rng, 2, m);
        Case { h, background, x }
    }

    fn partition(&self, budget: usize, fixed_context: Option<bool>) -> GameValues {
        let estimator = PartitionEstimator::new(vec![self.h.clone()], budget, 4, false)
            .unwrap()
            .with_fixed_context(fixed_context);
        run(&self.x, &self.background, estimator, 100)
    }

    /// Panics unless each row's values add up to f(x) − E f(background).
    fn assert_efficient(&self, got: &GameValues, what: &str) {
        let fx = nonlinear(self.x.view());
        let fnull = nonlinear(self.background.view())
            .mean_axis(ndarray::Axis(0))
            .unwrap();
        for i in 0..self.x.nrows() {
            for o in 0..2 {
                let total: f64 = (0..self.x.ncols()).map(|j| got.values[[i, j, o]]).sum();
                let d = (total - (fx[[i, o]] - fnull[o])).abs();
                assert!(d < 1e-10, "{what}: efficiency off by {d}");
            }
        }
    }
}

fn max_abs_diff(a: &ndarray::Array3<f64>, b: &ndarray::Array3<f64>) -> f64 {
    a.iter()
        .zip(b)
        .fold(0.0, |acc, (x, y)| acc.max((x - y).abs()))
}

#[test]
fn partition_is_efficient_at_every_budget_and_converges() {
    let case = Case::new(22, 7);
    let mut want = ndarray::Array3::zeros(case.partition(4, None).values.dim());
    for i in 0..2 {
        let v = game(nonlinear, &case.x.row(i).to_vec(), &case.background);
        want.index_axis_mut(ndarray::Axis(0), i)
            .assign(&owen_oracle(&v, &case.h));
    }
    let full = owen_coalitions(&case.h);
    let mut errors = Vec::new();
    for budget in [4, 10, 30, full] {
        let got = case.partition(budget, None);
        case.assert_efficient(&got, &format!("budget {budget}"));
        errors.push(max_abs_diff(&got.values, &want));
    }
    assert!(errors[3] < 1e-10, "complete budget error {}", errors[3]);
    assert!(errors[0] > errors[3] && errors[1] > errors[3], "{errors:?}");
}

#[test]
fn fixed_contexts_are_efficient_and_differ_from_owen_values() {
    // shap's fixed_context: one context per cluster, its halves' interaction left on it.
    let case = Case::new(27, 6);
    let full = owen_coalitions(&case.h);
    let owen = case.partition(full, None);
    for present in [false, true] {
        let got = case.partition(full, Some(present));
        case.assert_efficient(&got, &format!("context {present}"));
        let diff = max_abs_diff(&got.values, &owen.values);
        assert!(diff > 1e-6, "context {present} gave the Owen values");
    }
}

#[test]
fn partition_values_do_not_depend_on_batch_rows_or_threads() {
    let mut rng = Rng::new(23);
    let m = 9;
    let h = hierarchy(&random_hierarchy(&mut rng, m));
    let background = random_matrix(&mut rng, 5, m);
    let x = random_matrix(&mut rng, 4, m);
    let estimator = || PartitionEstimator::new(vec![h.clone()], 40, 10, false).unwrap();
    let reference = run(&x, &background, estimator(), 1 << 20);
    for (threads, batch) in [(1, 7), (3, 13)] {
        let got = with_threads(Some(threads), || run(&x, &background, estimator(), batch)).unwrap();
        assert_eq!(got.values, reference.values);
    }
}

#[test]
fn hierarchies_wider_than_a_word_reach_every_feature() {
    // A linear model: every Owen value is β_j (x_j − b_j) once the hierarchy is complete.
    let mut rng = Rng::new(24);
    let m = 150;
    let beta: Vec<f64> = (0..m).map(|_| rng.uniform() - 0.5).collect();
    let linear = |x: ArrayView2<'_, f64>| {
        Array2::from_shape_fn((x.nrows(), 1), |(i, _)| {
            (0..m).map(|j| beta[j] * x[[i, j]]).sum::<f64>()
        })
    };
    let h = hierarchy(&random_hierarchy(&mut rng, m));
    let background = random_matrix(&mut rng, 1, m);
    let x = random_matrix(&mut rng, 1, m);
    let budget = owen_coalitions(&h);
    assert!(budget < 1 << 22, "{budget}");
    let got = explain(
        |b| Ok(linear(b)),
        x.view(),
        background.view(),
        None,
        PartitionEstimator::new(vec![h], budget, 64, false).unwrap(),
        1 << 14,
    )
    .unwrap();
    for j in 0..m {
        let want = beta[j] * (x[[0, j]] - background[[0, j]]);
        assert!((got.values[[0, j, 0]] - want).abs() < 1e-10, "feature {j}");
    }
}

#[test]
fn each_row_can_have_its_own_background_row_and_hierarchy() {
    // Rows of different widths (texts of different lengths) each on their own background row
    // (an image's blurred copy): the values of each row are those of a run on that row alone.
    let mut rng = Rng::new(25);
    let p = 6;
    let x = random_matrix(&mut rng, 2, p);
    let background = random_matrix(&mut rng, 2, p);
    let own = [
        hierarchy(&random_hierarchy(&mut rng, 6)),
        hierarchy(&random_hierarchy(&mut rng, 4)),
    ];
    let problem = Problem::new(x.view(), background.view(), None, &[0.0, 0.0]).unwrap();
    let estimator = PartitionEstimator::new(own.to_vec(), 1000, 10, true).unwrap();
    let mut job = EngineJob::start(problem, estimator).unwrap();
    loop {
        let rows = job.masked_rows(0, job.n_evaluations()).unwrap();
        let out = nonlinear(rows.view());
        job.add_outputs(0, out.view()).unwrap();
        if !job.next_round().unwrap() {
            break;
        }
    }
    let got = job.finish(nonlinear(x.view()).view()).unwrap();
    for i in 0..2 {
        let m = own[i].n_leaves();
        let bg = background.row(i).to_owned().insert_axis(ndarray::Axis(0));
        // The oracle's game over the first m columns, the rest at the background's values.
        let full_game: Vec<Vec<f64>> = (0..1usize << m)
            .map(|s| {
                let mut row = bg.clone();
                for j in (0..m).filter(|j| s >> j & 1 == 1) {
                    row[[0, j]] = x[[i, j]];
                }
                nonlinear(row.view()).row(0).to_vec()
            })
            .collect();
        let want = owen_oracle(&full_game, &own[i]);
        let base = job.estimator().base_values(2);
        for o in 0..2 {
            assert!((base[[i, o]] - nonlinear(bg.view())[[0, o]]).abs() < 1e-12);
            for j in 0..p {
                let w = if j < m { want[[j, o]] } else { 0.0 };
                let d = (got.values[[i, j, o]] - w).abs();
                assert!(d < 1e-10, "row {i} feature {j}: {d}");
            }
        }
    }
}

#[test]
fn malformed_budgets_and_hierarchies_are_refused() {
    let h = hierarchy(&chain(4));
    assert!(PartitionEstimator::new(vec![h.clone()], 3, 10, false).is_err());
    assert!(PartitionEstimator::new(vec![h.clone()], 10, 0, false).is_err());
    let mut rng = Rng::new(26);
    let background = random_matrix(&mut rng, 2, 5);
    let x = random_matrix(&mut rng, 1, 5);
    // A hierarchy over 4 features for data of 5.
    let err = explain(
        |b| Ok(nonlinear(b)),
        x.view(),
        background.view(),
        None,
        OwenEstimator::new(vec![h.clone()], None, 0),
        100,
    )
    .unwrap_err();
    assert!(err.to_string().contains("4 features"), "{err}");
    // A chain of 20 needs 2^20 coalitions: more than max_evals.
    let long = hierarchy(&chain(20));
    let background = random_matrix(&mut rng, 1, 20);
    let x = random_matrix(&mut rng, 1, 20);
    let err = explain(
        |b| Ok(nonlinear(b)),
        x.view(),
        background.view(),
        None,
        OwenEstimator::new(vec![long], Some(100_000), 0),
        100,
    )
    .unwrap_err();
    assert!(err.to_string().contains("coalitions"), "{err}");
}
