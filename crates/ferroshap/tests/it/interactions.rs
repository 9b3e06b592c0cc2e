//! Brute-force oracle for SHAP interaction values, both value functions: the Shapley
//! interaction index by enumerating every subset of the game's v(S) (path-dependent: the
//! cover-weighted conditional expectation; interventional: the weighted mean margin over the
//! background of hybrid rows), halved off the diagonal, with the diagonal the rest of the
//! brute-force Shapley value. Random trees with repeated features, missing values,
//! categorical splits, zero covers, several outputs and vector leaves, under every library's
//! split rules.
//!
//! Tolerance 1e-10: both sides are f64 sums of O(2^M) terms of order 1 (leaf values in
//! [-1, 1], at most a few trees) and differ only in summation order and in the quadrature's
//! rounding (about 1e-15 relative; the dense interventional tables divide by t^2 >= 2e-3,
//! which amplifies that to about 1e-13).

use ferroshap::tree_shap::interventional::{self, Strategy};
use ferroshap::tree_shap::{InteractionOptions, InteractionValues, path_dependent};
use ferroshap::{Error, SplitRules, TreeEnsemble};
use ndarray::{Array1, Array2, Array3, ArrayView1, s};

use crate::interventional::interventional_game;
use crate::oracle::{
    ALL_RULES, Rng, TreeShape, mixed_ensemble, path_dependent_game, random_ensemble, random_rows,
    shapley_by_enumeration, vector_leaf_ensemble,
};

const TOL: f64 = 1e-10;

/// Interaction values (M, M, K) from the value of every subset, by enumeration.
fn interactions_by_enumeration(values: &[Vec<f64>], m: usize, k: usize) -> Array3<f64> {
    let fact = |n: usize| (1..=n).product::<usize>() as f64;
    let phi = shapley_by_enumeration(values, m, k);
    let mut out = Array3::<f64>::zeros((m, m, k));
    for i in 0..m {
        for j in 0..m {
            if i == j {
                continue;
            }
            let (bi, bj) = (1usize << i, 1usize << j);
            for set in 0..1usize << m {
                if set & (bi | bj) != 0 {
                    continue;
                }
                let size = set.count_ones() as usize;
                // Shapley interaction index weight |S|! (M-|S|-2)! / (M-1)!, halved.
                let w = 0.5 * fact(size) * fact(m - size - 2) / fact(m - 1);
                for o in 0..k {
                    let delta =
                        values[set | bi | bj][o] - values[set | bi][o] - values[set | bj][o]
                            + values[set][o];
                    out[[i, j, o]] += w * delta;
                }
            }
        }
    }
    for i in 0..m {
        for o in 0..k {
            let rest: f64 = (0..m).filter(|&j| j != i).map(|j| out[[i, j, o]]).sum();
            out[[i, i, o]] = phi[[i, o]] - rest;
        }
    }
    out
}

/// Checks every row against the oracle, and the properties the oracle implies.
fn check_rows(
    got: &InteractionValues,
    model: &TreeEnsemble,
    x: &Array2<f64>,
    game: impl Fn(&[f64]) -> Vec<Vec<f64>>,
    what: &str,
) {
    let (m, k) = (model.n_features(), model.n_outputs());
    let margin = model.predict_margin(x.view()).unwrap();
    assert_eq!(got.values.shape(), &[x.nrows(), m, m, k]);
    for r in 0..x.nrows() {
        let want = interactions_by_enumeration(&game(x.row(r).as_slice().unwrap()), m, k);
        for i in 0..m {
            for j in 0..m {
                for o in 0..k {
                    let g = got.values[[r, i, j, o]];
                    assert!(
                        (g - want[[i, j, o]]).abs() < TOL,
                        "{what}: row {r} ({i}, {j}) output {o}: {g} vs oracle {}",
                        want[[i, j, o]]
                    );
                }
            }
        }
        for o in 0..k {
            let total = got.values.slice(s![r, .., .., o]).sum() + got.base_values[o];
            assert!(
                (total - margin[[r, o]]).abs() < TOL,
                "{what}: row {r} output {o}: total + base {total} vs margin {}",
                margin[[r, o]]
            );
        }
    }
}

fn all_features() -> InteractionOptions {
    InteractionOptions::default()
}

#[test]
fn path_dependent_interactions_match_brute_force() {
    let mut rng = Rng::new(41);
    for case in 0..60 {
        let model = mixed_ensemble(&mut rng, case, case % 3 == 0);
        let x = random_rows(&mut rng, 10, model.n_features());
        let got = path_dependent::interaction_values(&model, x.view(), &all_features()).unwrap();
        assert_eq!(got.base_values, model.expected_value());
        check_rows(
            &got,
            &model,
            &x,
            |row| path_dependent_game(&model, row),
            "path-dependent",
        );
    }
}

#[test]
fn path_dependent_interactions_with_vector_leaves_and_deep_trees() {
    let mut rng = Rng::new(43);
    for case in 0..12 {
        let shape = TreeShape {
            max_depth: 2 + case % 5,
            n_features: 2 + case % 5,
            leaf_width: 3,
            categorical: case % 2 == 1,
            zero_covers: case % 4 == 0,
        };
        let model = random_ensemble(&mut rng, &shape, 1 + case % 4, 3, SplitRules::SKLEARN_TREE);
        let x = random_rows(&mut rng, 6, shape.n_features);
        let got = path_dependent::interaction_values(&model, x.view(), &all_features()).unwrap();
        check_rows(
            &got,
            &model,
            &x,
            |row| path_dependent_game(&model, row),
            "vector leaves",
        );
    }
    // Depth 12 over 4 features: every feature repeats many times along each path.
    let shape = TreeShape {
        max_depth: 12,
        n_features: 4,
        leaf_width: 1,
        categorical: true,
        zero_covers: true,
    };
    let model = random_ensemble(&mut rng, &shape, 3, 1, SplitRules::LIGHTGBM);
    let x = random_rows(&mut rng, 8, 4);
    let got = path_dependent::interaction_values(&model, x.view(), &all_features()).unwrap();
    check_rows(
        &got,
        &model,
        &x,
        |row| path_dependent_game(&model, row),
        "deep",
    );
}

fn check_interventional(
    model: &TreeEnsemble,
    x: &Array2<f64>,
    background: &Array2<f64>,
    weights: Option<&Array1<f64>>,
) {
    let w: Option<ArrayView1<f64>> = weights.map(|w| w.view());
    let base = interventional::expected_value(model, background.view(), w).unwrap();
    for strategy in [Strategy::Auto, Strategy::Dense, Strategy::Sparse] {
        let got = interventional::interaction_values_with(
            model,
            x.view(),
            background.view(),
            w,
            &all_features(),
            strategy,
        )
        .unwrap();
        assert_eq!(got.base_values, base);
        check_rows(
            &got,
            model,
            x,
            |row| interventional_game(model, row, background, weights),
            &format!("interventional {strategy:?}"),
        );
    }
}

#[test]
fn interventional_interactions_match_brute_force() {
    let mut rng = Rng::new(47);
    for case in 0..48 {
        let model = mixed_ensemble(&mut rng, case, case % 5 == 0);
        let x = random_rows(&mut rng, 5, model.n_features());
        let background = random_rows(&mut rng, 1 + case % 9, model.n_features());
        check_interventional(&model, &x, &background, None);
    }
}

#[test]
fn interventional_interactions_with_weights_vector_leaves_and_long_paths() {
    let mut rng = Rng::new(53);
    for case in 0..10 {
        let model = vector_leaf_ensemble(&mut rng, case, case % 2 == 1, SplitRules::SKLEARN_HIST);
        let x = random_rows(&mut rng, 4, model.n_features());
        let background = random_rows(&mut rng, 7, model.n_features());
        let weights = Array1::from_shape_fn(7, |i| if i % 3 == 0 { 0.0 } else { rng.uniform() });
        check_interventional(&model, &x, &background, Some(&weights));
    }
    // Depth 12 over 11 features: paths with more distinct features than dense tables take.
    let shape = TreeShape {
        max_depth: 12,
        n_features: 11,
        leaf_width: 1,
        categorical: false,
        zero_covers: false,
    };
    let model = random_ensemble(&mut rng, &shape, 2, 1, SplitRules::XGBOOST);
    let x = random_rows(&mut rng, 2, 11);
    let background = random_rows(&mut rng, 3, 11);
    check_interventional(&model, &x, &background, None);
}

/// Rows of the interaction matrices against the SHAP values of the other engines, on models
/// too large for brute force (deep paths over many features, as boosted models have).
#[test]
fn rows_sum_to_the_shap_values_of_the_other_engines() {
    let mut rng = Rng::new(59);
    let shape = TreeShape {
        max_depth: 14,
        n_features: 30,
        leaf_width: 1,
        categorical: true,
        zero_covers: true,
    };
    let model = random_ensemble(&mut rng, &shape, 6, 2, SplitRules::LIGHTGBM);
    let x = random_rows(&mut rng, 70, 30);
    let background = random_rows(&mut rng, 40, 30);
    let pd = path_dependent::interaction_values(&model, x.view(), &all_features()).unwrap();
    let pd_shap = path_dependent::shap_values(&model, x.view()).unwrap();
    let iv = interventional::interaction_values(
        &model,
        x.view(),
        background.view(),
        None,
        &all_features(),
    )
    .unwrap();
    let iv_shap = interventional::shap_values(&model, x.view(), background.view()).unwrap();
    for (got, shap, what) in [
        (&pd, &pd_shap, "path-dependent"),
        (&iv, &iv_shap, "interventional"),
    ] {
        let rows = got.values.sum_axis(ndarray::Axis(2));
        for ((idx, &a), &b) in rows.indexed_iter().zip(shap.values.iter()) {
            // Sums of up to 30 terms of order 1: 1e-10 leaves room for their rounding.
            assert!(
                (a - b).abs() < TOL,
                "{what} {idx:?}: row sum {a} vs SHAP {b}"
            );
        }
        for r in 0..x.nrows() {
            for o in 0..2 {
                let m = got.values.slice(s![r, .., .., o]);
                assert!(
                    (&m - &m.t()).iter().all(|d| d.abs() < 1e-15),
                    "{what}: symmetric"
                );
            }
        }
    }
}

#[test]
fn a_feature_subset_is_the_block_of_the_full_matrices() {
    let mut rng = Rng::new(61);
    let shape = TreeShape {
        max_depth: 6,
        n_features: 7,
        leaf_width: 1,
        categorical: true,
        zero_covers: false,
    };
    let model = random_ensemble(&mut rng, &shape, 20, 2, SplitRules::XGBOOST);
    let background = random_rows(&mut rng, 30, 7);
    let subset = vec![5, 0, 3];
    let options = InteractionOptions {
        features: Some(subset.clone()),
        max_output_bytes: None,
    };
    for n_rows in [5, 100] {
        let x = random_rows(&mut rng, n_rows, 7);
        let full = [
            path_dependent::interaction_values(&model, x.view(), &all_features()).unwrap(),
            interventional::interaction_values(
                &model,
                x.view(),
                background.view(),
                None,
                &all_features(),
            )
            .unwrap(),
        ];
        let part = [
            path_dependent::interaction_values(&model, x.view(), &options).unwrap(),
            interventional::interaction_values(&model, x.view(), background.view(), None, &options)
                .unwrap(),
        ];
        for (full, part) in full.iter().zip(&part) {
            assert_eq!(part.features, subset);
            assert_eq!(part.values.shape(), &[n_rows, 3, 3, 2]);
            for (a, &fa) in subset.iter().enumerate() {
                for (b, &fb) in subset.iter().enumerate() {
                    // The same per-leaf terms added in the same order: bit for bit.
                    assert_eq!(
                        part.values.slice(s![.., a, b, ..]),
                        full.values.slice(s![.., fa, fb, ..])
                    );
                }
            }
        }
    }
}

/// Beyond what enumeration can check (up to 24 features, depth 14, many rows per block and
/// padded blocks), the walk agrees with the leaf-by-leaf reference. Tolerance 1e-10 of the
/// output scale: both are f64 quadratures of the same integrals that differ in how the terms
/// are grouped (the walk's terms telescope per point; about 1e-14 relative each).
#[test]
fn path_dependent_interactions_match_the_leaf_by_leaf_reference() {
    let mut rng = Rng::new(59);
    for case in 0..8 {
        let m = 6 + 3 * case;
        let shape = TreeShape {
            max_depth: 7 + case,
            n_features: m,
            leaf_width: 1 + 2 * (case % 2),
            categorical: case % 2 == 0,
            zero_covers: case % 3 == 0,
        };
        let outputs = if shape.leaf_width > 1 {
            3
        } else {
            1 + case % 2
        };
        let model = random_ensemble(&mut rng, &shape, 4, outputs, ALL_RULES[case % 4]);
        let x = random_rows(&mut rng, 1 + 13 * case, m);
        let features: Vec<usize> = (0..m).rev().step_by(1 + case % 3).collect();
        for options in [
            all_features(),
            InteractionOptions {
                features: Some(features),
                ..InteractionOptions::default()
            },
        ] {
            let got = path_dependent::interaction_values(&model, x.view(), &options).unwrap();
            let want =
                path_dependent::interaction_values_reference(&model, x.view(), &options).unwrap();
            assert_eq!(got.features, want.features);
            assert_eq!(got.base_values, want.base_values);
            let scale = want.values.iter().fold(1.0f64, |a, v| a.max(v.abs()));
            for (g, w) in got.values.iter().zip(&want.values) {
                assert!(
                    (g - w).abs() < TOL * scale,
                    "case {case}: walk {g} vs reference {w}"
                );
            }
        }
    }
}

#[test]
fn interactions_do_not_depend_on_thread_count() {
    let mut rng = Rng::new(67);
    let shape = TreeShape {
        max_depth: 7,
        n_features: 6,
        leaf_width: 1,
        categorical: true,
        zero_covers: true,
    };
    let model = random_ensemble(&mut rng, &shape, 30, 2, SplitRules::LIGHTGBM);
    let background = random_rows(&mut rng, 50, 6);
    for n_rows in [3, 150] {
        let x = random_rows(&mut rng, n_rows, 6);
        let run = |threads| {
            ferroshap::with_threads(Some(threads), || {
                (
                    path_dependent::interaction_values(&model, x.view(), &all_features()).unwrap(),
                    interventional::interaction_values(
                        &model,
                        x.view(),
                        background.view(),
                        None,
                        &all_features(),
                    )
                    .unwrap(),
                )
            })
            .unwrap()
        };
        let (a1, b1) = run(1);
        let (a3, b3) = run(3);
        assert_eq!(a1.values, a3.values, "path-dependent, {n_rows} rows");
        assert_eq!(b1.values, b3.values, "interventional, {n_rows} rows");
    }
}

#[test]
fn bad_requests_are_clear_errors() {
    let mut rng = Rng::new(71);
    let shape = TreeShape {
        max_depth: 3,
        n_features: 4,
        leaf_width: 1,
        categorical: false,
        zero_covers: false,
    };
    let model = random_ensemble(&mut rng, &shape, 2, 1, SplitRules::XGBOOST);
    let x = random_rows(&mut rng, 1000, 4);
    let message = |options: InteractionOptions| {
        path_dependent::interaction_values(&model, x.view(), &options)
            .unwrap_err()
            .to_string()
    };
    let limit = InteractionOptions {
        features: None,
        max_output_bytes: Some(100_000),
    };
    // 1000 x 4 x 4 x 1 x 8 bytes = 125 KiB > 100,000 bytes (97.7 KiB).
    let err = path_dependent::interaction_values(&model, x.view(), &limit).unwrap_err();
    assert!(matches!(err, Error::TooLarge(_)), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("1000 rows x 4 x 4 features") && text.contains("125.0 KiB"),
        "{text}"
    );
    assert!(
        text.contains("fewer rows") && text.contains("features="),
        "{text}"
    );
    // A subset that fits is accepted under the same limit.
    let fits = InteractionOptions {
        features: Some(vec![1, 2]),
        max_output_bytes: Some(100_000),
    };
    assert!(path_dependent::interaction_values(&model, x.view(), &fits).is_ok());
    let subset = |f: Vec<usize>| InteractionOptions {
        features: Some(f),
        max_output_bytes: None,
    };
    assert!(message(subset(vec![4])).contains("feature index 4 is out of range"));
    assert!(message(subset(vec![1, 1])).contains("requested twice"));
    assert!(message(subset(vec![])).contains("features is empty"));
    // An empty background and a wrong column count are refused.
    let wide = random_rows(&mut rng, 2, 4);
    let huge = InteractionOptions::default();
    let bg = random_rows(&mut rng, 0, 4);
    assert!(
        interventional::interaction_values(&model, wide.view(), bg.view(), None, &huge)
            .unwrap_err()
            .to_string()
            .contains("no rows")
    );
    let wrong = random_rows(&mut rng, 2, 5);
    assert!(matches!(
        path_dependent::interaction_values(&model, wrong.view(), &huge),
        Err(Error::Shape(_))
    ));
}
