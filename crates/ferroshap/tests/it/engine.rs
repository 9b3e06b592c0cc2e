//! The estimator engine: Exact and Permutation SHAP against brute-force Shapley values, and
//! the engine's own promises (sums independent of batch size and thread count, coalitions
//! wider than 64 features).
//!
//! Tolerances: Exact and the brute force sum the same model outputs with the same weights in
//! a different order (1e-10 on values of order 1); Permutation is exact only where its theory
//! says so (models with at most pairwise interactions), and always efficient (each walk
//! telescopes), both to the same rounding.

use ferroshap::game::{ExactEstimator, GameValues, Link, PermutationEstimator, explain};
use ferroshap::with_threads;
use ndarray::{Array2, ArrayView2};

use crate::kernel::{brute_force, nonlinear, random_matrix};
use crate::oracle::Rng;

/// Pairwise interactions only, two outputs.
fn pairwise(x: ArrayView2<'_, f64>) -> Array2<f64> {
    let m = x.ncols();
    Array2::from_shape_fn((x.nrows(), 2), |(i, o)| {
        let r = x.row(i);
        let mut v = o as f64;
        for j in 0..m {
            v += (0.3 + 0.2 * j as f64) * (r[j] + o as f64).sin();
            for l in j + 1..m {
                v += 0.1 * ((j + l + o) % 3) as f64 * r[j] * r[l];
            }
        }
        v
    })
}

pub(crate) fn values<E: ferroshap::game::Estimator>(
    model: impl Fn(ArrayView2<'_, f64>) -> Array2<f64>,
    x: &Array2<f64>,
    background: &Array2<f64>,
    estimator: E,
    batch_rows: usize,
) -> GameValues {
    explain(
        |b| Ok(model(b)),
        x.view(),
        background.view(),
        None,
        estimator,
        batch_rows,
    )
    .unwrap()
}

#[test]
fn exact_equals_brute_force() {
    let mut rng = Rng::new(5);
    for m in [1, 2, 5, 9] {
        let background = random_matrix(&mut rng, 4, m);
        let x = random_matrix(&mut rng, 3, m);
        let got = values(nonlinear, &x, &background, ExactEstimator::new(None, 0), 97);
        let w = vec![0.25; 4];
        for i in 0..3 {
            let row = x.row(i).to_vec();
            let want = brute_force(nonlinear, &row, &background, &w, Link::Identity);
            for j in 0..m {
                for o in 0..2 {
                    let d = (got.values[[i, j, o]] - want[[j, o]]).abs();
                    assert!(d < 1e-10, "m={m} row {i} feature {j}: {d}");
                }
            }
        }
    }
}

#[test]
fn one_permutation_is_exact_for_pairwise_models_and_every_run_is_efficient() {
    let mut rng = Rng::new(8);
    let m = 7;
    let background = random_matrix(&mut rng, 5, m);
    let x = random_matrix(&mut rng, 4, m);
    let w = vec![0.2; 5];
    let got = values(
        pairwise,
        &x,
        &background,
        PermutationEstimator::new(2 * m + 1, 3, 0),
        50,
    );
    for i in 0..4 {
        let want = brute_force(
            pairwise,
            &x.row(i).to_vec(),
            &background,
            &w,
            Link::Identity,
        );
        for j in 0..m {
            for o in 0..2 {
                assert!((got.values[[i, j, o]] - want[[j, o]]).abs() < 1e-10);
            }
        }
    }
    // A model with a three-way term: not exact, but efficient.
    let got = values(
        nonlinear,
        &x,
        &background,
        PermutationEstimator::new(60, 3, 0),
        50,
    );
    let fx = nonlinear(x.view());
    for i in 0..4 {
        for o in 0..2 {
            let total: f64 = (0..m).map(|j| got.values[[i, j, o]]).sum();
            let delta = fx[[i, o]] - got.base_values[o];
            assert!((total - delta).abs() < 1e-10, "{total} vs {delta}");
        }
    }
}

#[test]
fn values_do_not_depend_on_batch_size_or_threads() {
    let mut rng = Rng::new(9);
    let m = 6;
    let background = random_matrix(&mut rng, 7, m);
    let x = random_matrix(&mut rng, 5, m);
    let reference = values(
        nonlinear,
        &x,
        &background,
        PermutationEstimator::new(100, 1, 0),
        1 << 20,
    );
    for (threads, batch) in [(1, 7), (3, 13), (2, 1000)] {
        let got = with_threads(Some(threads), || {
            values(
                nonlinear,
                &x,
                &background,
                PermutationEstimator::new(100, 1, 0),
                batch,
            )
        })
        .unwrap();
        assert_eq!(got.values, reference.values);
        assert_eq!(got.standard_errors, reference.standard_errors);
    }
}

#[test]
fn coalitions_wider_than_a_word_reach_every_feature() {
    // A linear model: φ_j = β_j (x_j − mean b_j) exactly, for any permutation.
    let mut rng = Rng::new(10);
    let m = 300;
    let beta: Vec<f64> = (0..m).map(|_| rng.uniform() - 0.5).collect();
    let linear = |x: ArrayView2<'_, f64>| {
        Array2::from_shape_fn((x.nrows(), 1), |(i, _)| {
            (0..m).map(|j| beta[j] * x[[i, j]]).sum::<f64>()
        })
    };
    let background = random_matrix(&mut rng, 3, m);
    let x = random_matrix(&mut rng, 1, m);
    let got = values(
        linear,
        &x,
        &background,
        PermutationEstimator::new(2 * m + 1, 0, 0),
        4096,
    );
    for j in 0..m {
        let mean = (0..3).map(|b| background[[b, j]]).sum::<f64>() / 3.0;
        let want = beta[j] * (x[[0, j]] - mean);
        assert!((got.values[[0, j, 0]] - want).abs() < 1e-10, "feature {j}");
    }
}

#[test]
fn budgets_too_small_and_too_many_features_are_refused() {
    let mut rng = Rng::new(12);
    let background = random_matrix(&mut rng, 2, 6);
    let x = random_matrix(&mut rng, 1, 6);
    let model = |b: ArrayView2<'_, f64>| Ok(nonlinear(b));
    let err = explain(
        model,
        x.view(),
        background.view(),
        None,
        PermutationEstimator::new(12, 0, 0),
        10,
    )
    .unwrap_err();
    assert!(err.to_string().contains("max_evals=12 is too low"), "{err}");
    let err = explain(
        model,
        x.view(),
        background.view(),
        None,
        ExactEstimator::new(Some(63), 0),
        10,
    )
    .unwrap_err();
    assert!(err.to_string().contains("2^6 = 64"), "{err}");
}

#[test]
fn sampling_is_efficient_and_exact_on_additive_games_with_one_background_row() {
    use ferroshap::game::SamplingEstimator;
    let mut rng = Rng::new(13);
    let m = 5;
    let additive = |x: ArrayView2<'_, f64>| {
        Array2::from_shape_fn((x.nrows(), 1), |(i, _)| {
            (0..m).map(|j| (j as f64 + 1.0) * x[[i, j]].sin()).sum()
        })
    };
    let background = random_matrix(&mut rng, 1, m);
    let x = random_matrix(&mut rng, 2, m);
    let got = values(
        additive,
        &x,
        &background,
        SamplingEstimator::new(Some(60), 100, 2, 0),
        17,
    );
    for i in 0..2 {
        for j in 0..m {
            let want = (j as f64 + 1.0) * (x[[i, j]].sin() - background[[0, j]].sin());
            assert!((got.values[[i, j, 0]] - want).abs() < 1e-12);
        }
    }
    // A nonlinear game over several background rows, two rounds: values add up exactly.
    let background = random_matrix(&mut rng, 6, m);
    let got = values(
        nonlinear,
        &x,
        &background,
        SamplingEstimator::new(Some(900), 100, 2, 0),
        33,
    );
    let fx = nonlinear(x.view());
    for i in 0..2 {
        for o in 0..2 {
            let total: f64 = (0..m).map(|j| got.values[[i, j, o]]).sum();
            assert!((total - (fx[[i, o]] - got.base_values[o])).abs() < 1e-10);
        }
    }
}
