//! Brute-force oracle for transformed outputs: Shapley values by subset enumeration of
//! v(S) = weighted mean over background rows r of g(f(x_S, r_rest)), with the model's margins
//! on every hybrid row from `predict_margin` and g written out here independently (naive
//! formulas, no shared code with the library). Random trees with repeated features along
//! paths, missing values, categorical splits, every routing rule, weights and several outputs.
//!
//! Tolerance 1e-10: margins are sums of O(1) leaf values and g maps them to O(1) numbers with
//! derivatives of O(1), so both sides agree to about 1e-15 per term; the library's
//! inclusion–exclusion tables add and subtract O(2^depth) such terms, still far below 1e-10.

use ferroshap::tree_shap::model_output::{self, OutputOptions, OutputTransform};
use ferroshap::{Error, SplitRules, TreeEnsemble, with_threads};
use ndarray::{Array1, Array2, ArrayView1, s};

use crate::interventional::hybrid_margins;
use crate::oracle::{
    ALL_RULES, Rng, TreeShape, random_ensemble, random_rows, shapley_by_enumeration,
    vector_leaf_ensemble,
};

/// g of margins `m` with label `y`, written the textbook way.
fn naive(transform: OutputTransform, m: &[f64], y: f64) -> Vec<f64> {
    let sigmoid = |z: f64| 1.0 / (1.0 + (-z).exp());
    let softmax = |s: f64| {
        let e: Vec<f64> = m.iter().map(|v| (s * v).exp()).collect();
        let z: f64 = e.iter().sum();
        e.into_iter().map(|v| v / z).collect::<Vec<f64>>()
    };
    match transform {
        OutputTransform::Logistic { scale } => m.iter().map(|&v| sigmoid(scale * v)).collect(),
        OutputTransform::Softmax { scale } => softmax(scale),
        OutputTransform::Exp { scale } => m.iter().map(|&v| (scale * v).exp()).collect(),
        OutputTransform::SquaredError { scale } => vec![(scale * m[0] - y).powi(2)],
        OutputTransform::LogisticLoss { scale } => {
            let p = sigmoid(scale * m[0]);
            vec![-y * p.ln() - (1.0 - y) * (1.0 - p).ln()]
        }
        OutputTransform::SoftmaxLoss { scale } => vec![-softmax(scale)[y as usize].ln()],
        OutputTransform::ProbabilityLoss => vec![-m[y as usize].max(f64::EPSILON).ln()],
        OutputTransform::Margin => m.to_vec(),
        OutputTransform::LogisticPair { scale } => {
            let p = sigmoid(scale * m[0]);
            vec![1.0 - p, p]
        }
    }
}

/// v(S) for every subset S (bitmask) of the transformed interventional game, per output.
fn transformed_game(
    model: &TreeEnsemble,
    transform: OutputTransform,
    row: &[f64],
    y: f64,
    background: &Array2<f64>,
    weights: &[f64],
) -> Vec<Vec<f64>> {
    let (m, nb) = (model.n_features(), background.nrows());
    let total: f64 = weights.iter().sum();
    let margins = hybrid_margins(model, row, background);
    (0..1usize << m)
        .map(|set| {
            let mut v = vec![0.0; transform.n_outputs(model.n_outputs())];
            for r in 0..nb {
                let g = naive(transform, margins.row(set * nb + r).as_slice().unwrap(), y);
                for (a, b) in v.iter_mut().zip(g) {
                    *a += weights[r] * b / total;
                }
            }
            v
        })
        .collect()
}

fn labels_for(
    rng: &mut Rng,
    transform: OutputTransform,
    n: usize,
    k: usize,
) -> Option<Array1<f64>> {
    transform.is_loss().then(|| {
        Array1::from_shape_fn(n, |_| match transform {
            OutputTransform::SquaredError { .. } => rng.uniform() * 4.0 - 2.0,
            // Soft labels are valid for the binary cross-entropy.
            OutputTransform::LogisticLoss { .. } => [0.0, 1.0, rng.uniform()][rng.below(3)],
            _ => rng.below(k) as f64,
        })
    })
}

fn check(
    model: &TreeEnsemble,
    transform: OutputTransform,
    x: &Array2<f64>,
    labels: Option<&Array1<f64>>,
    background: &Array2<f64>,
    weights: Option<&Array1<f64>>,
) {
    let w: Vec<f64> = weights.map_or(vec![1.0; background.nrows()], |w| w.to_vec());
    let wv: Option<ArrayView1<f64>> = weights.map(|w| w.view());
    let lv = labels.map(|l| l.view());
    let got = model_output::shap_values(
        model,
        x.view(),
        background.view(),
        wv,
        transform,
        lv,
        &OutputOptions::default(),
    )
    .unwrap();
    let base = model_output::expected_value(model, background.view(), wv, transform, lv).unwrap();
    let ko = transform.n_outputs(model.n_outputs());
    let margins = model.predict_margin(x.view()).unwrap();
    for r in 0..x.nrows() {
        let y = labels.map_or(0.0, |l| l[r]);
        let game = transformed_game(
            model,
            transform,
            x.row(r).as_slice().unwrap(),
            y,
            background,
            &w,
        );
        let want = shapley_by_enumeration(&game, model.n_features(), ko);
        let base_row = if labels.is_some() { r } else { 0 };
        let fx = naive(transform, margins.row(r).as_slice().unwrap(), y);
        for o in 0..ko {
            assert_eq!(
                got.base_values[[r, o]],
                base[[base_row, o]],
                "expected_value is the base of shap_values, bit for bit"
            );
            assert!(
                (base[[base_row, o]] - game[0][o]).abs() < 1e-10,
                "{transform:?}: base {} vs the game's empty coalition {}",
                base[[base_row, o]],
                game[0][o]
            );
            for f in 0..model.n_features() {
                let v = got.values[[r, f, o]];
                assert!(
                    (v - want[[f, o]]).abs() < 1e-10,
                    "{transform:?}: row {r} feature {f} output {o}: {v} vs oracle {}",
                    want[[f, o]]
                );
            }
            // Efficiency: the values add up to g(f(x)) minus the mean of g over the background.
            let total = got.values.slice(s![r, .., o]).sum() + base[[base_row, o]];
            assert!(
                (total - fx[o]).abs() < 1e-10,
                "{transform:?}: row {r} output {o}: values + base {total} vs g(f(x)) {}",
                fx[o]
            );
        }
    }
}

#[test]
fn transformed_outputs_match_brute_force_on_random_trees() {
    let mut rng = Rng::new(41);
    for case in 0..48 {
        let n_outputs = if case % 2 == 0 { 1 } else { 2 + case % 3 };
        let transforms: Vec<OutputTransform> = if n_outputs == 1 {
            vec![
                OutputTransform::Logistic { scale: 1.0 },
                OutputTransform::Logistic { scale: 0.5 },
                OutputTransform::Exp { scale: 1.0 },
                OutputTransform::SquaredError { scale: 1.0 },
                OutputTransform::LogisticLoss { scale: 1.0 },
                OutputTransform::LogisticLoss { scale: 0.25 },
            ]
        } else {
            vec![
                OutputTransform::Logistic { scale: 1.0 },
                OutputTransform::Softmax { scale: 1.0 },
                OutputTransform::Softmax { scale: 0.5 },
                OutputTransform::SoftmaxLoss { scale: 1.0 },
            ]
        };
        let shape = TreeShape {
            max_depth: 1 + case % 6,
            n_features: 1 + case % 6,
            leaf_width: 1,
            categorical: case % 3 != 0,
            zero_covers: false,
        };
        let model = random_ensemble(
            &mut rng,
            &shape,
            1 + case % 5,
            n_outputs,
            ALL_RULES[case % 4],
        );
        let x = random_rows(&mut rng, 4, shape.n_features);
        let nb = 1 + case % 6;
        let background = random_rows(&mut rng, nb, shape.n_features);
        // Every third case weighted, some weights zero: those rows must not count at all.
        let weights = (case % 3 == 1)
            .then(|| Array1::from_shape_fn(nb, |i| if i % 3 == 2 { 0.0 } else { rng.uniform() }));
        if weights.as_ref().is_some_and(|w| w.sum() == 0.0) {
            continue;
        }
        for transform in transforms {
            let labels = labels_for(&mut rng, transform, 4, n_outputs);
            check(
                &model,
                transform,
                &x,
                labels.as_ref(),
                &background,
                weights.as_ref(),
            );
        }
    }
}

#[test]
fn probability_models_with_vector_leaves_match_brute_force() {
    // Forest classifiers: each leaf holds all class values and the margins are the
    // probabilities; the loss reads them directly. Random leaves are in [-1, 1], so some
    // "probabilities" are below PROBABILITY_EPS and exercise the clip.
    let mut rng = Rng::new(43);
    for case in 0..12 {
        let model = vector_leaf_ensemble(&mut rng, case, case % 2 == 0, SplitRules::SKLEARN_TREE);
        let x = random_rows(&mut rng, 3, model.n_features());
        let background = random_rows(&mut rng, 5, model.n_features());
        for transform in [
            OutputTransform::ProbabilityLoss,
            OutputTransform::Softmax { scale: 1.0 },
        ] {
            let labels = labels_for(&mut rng, transform, 3, 3);
            check(&model, transform, &x, labels.as_ref(), &background, None);
        }
    }
}

#[test]
fn deep_trees_with_repeated_features_match_brute_force() {
    // Depth 10 over 5 features: features repeat along paths, so a pair parts on a feature
    // several times and one condition must hold for all of them.
    let mut rng = Rng::new(47);
    let shape = TreeShape {
        max_depth: 10,
        n_features: 5,
        leaf_width: 1,
        categorical: true,
        zero_covers: false,
    };
    let model = random_ensemble(&mut rng, &shape, 4, 3, SplitRules::LIGHTGBM);
    let x = random_rows(&mut rng, 4, 5);
    let background = random_rows(&mut rng, 6, 5);
    let labels = Array1::from(vec![0.0, 1.0, 2.0, 1.0]);
    check(
        &model,
        OutputTransform::Softmax { scale: 1.0 },
        &x,
        None,
        &background,
        None,
    );
    check(
        &model,
        OutputTransform::SoftmaxLoss { scale: 1.0 },
        &x,
        Some(&labels),
        &background,
        None,
    );
}

#[test]
fn results_do_not_depend_on_thread_count() {
    let mut rng = Rng::new(53);
    let shape = TreeShape {
        max_depth: 5,
        n_features: 8,
        leaf_width: 1,
        categorical: true,
        zero_covers: false,
    };
    let model = random_ensemble(&mut rng, &shape, 30, 3, SplitRules::XGBOOST);
    let x = random_rows(&mut rng, 70, 8);
    let background = random_rows(&mut rng, 9, 8);
    let run = |threads: usize| {
        with_threads(Some(threads), || {
            model_output::shap_values(
                &model,
                x.view(),
                background.view(),
                None,
                OutputTransform::Softmax { scale: 1.0 },
                None,
                &OutputOptions::default(),
            )
            .unwrap()
        })
        .unwrap()
    };
    let one = run(1);
    let four = run(4);
    assert_eq!(one.values, four.values, "bitwise equal for 1 and 4 threads");
    assert_eq!(one.base_values, four.base_values);
}

fn far_apart_model(seed: u64, n_outputs: usize) -> (TreeEnsemble, Array2<f64>, Array2<f64>) {
    let mut rng = Rng::new(seed);
    let shape = TreeShape {
        max_depth: 5,
        n_features: 7,
        leaf_width: 1,
        categorical: true,
        zero_covers: false,
    };
    let model = random_ensemble(&mut rng, &shape, 25, n_outputs, SplitRules::XGBOOST);
    let x = random_rows(&mut rng, 4, 7);
    let background = random_rows(&mut rng, 5, 7);
    (model, x, background)
}

fn run_with(
    model: &TreeEnsemble,
    x: &Array2<f64>,
    background: &Array2<f64>,
    transform: OutputTransform,
    labels: Option<&Array1<f64>>,
    options: &OutputOptions,
) -> model_output::OutputValues {
    model_output::shap_values(
        model,
        x.view(),
        background.view(),
        None,
        transform,
        labels.map(|l| l.view()),
        options,
    )
    .unwrap()
}

/// Pairs above `max_pair_features` are estimated: within a few standard errors of the exact
/// values, standard errors at most the tolerance, and efficiency exact (1e-10: the estimate
/// telescopes per permutation, so only rounding remains).
#[test]
fn pairs_beyond_the_limit_are_estimated_within_their_standard_error() {
    let logistic = OutputTransform::Logistic { scale: 1.0 };
    let softmax = OutputTransform::Softmax { scale: 1.0 };
    let softmax_loss = OutputTransform::SoftmaxLoss { scale: 1.0 };
    for (seed, k, transform) in [(59, 1, logistic), (60, 3, softmax), (61, 3, softmax_loss)] {
        let (model, x, background) = far_apart_model(seed, k);
        let mut rng = Rng::new(seed + 100);
        let labels = labels_for(&mut rng, transform, x.nrows(), k);
        let exact = run_with(
            &model,
            &x,
            &background,
            transform,
            labels.as_ref(),
            &OutputOptions::default(),
        );
        assert_eq!(exact.n_estimated_pairs, 0);
        assert!(exact.standard_errors.iter().all(|&e| e == 0.0));
        let tolerance = 2e-3;
        let options = OutputOptions {
            max_pair_features: 1,
            tolerance,
            ..OutputOptions::default()
        };
        let est = run_with(
            &model,
            &x,
            &background,
            transform,
            labels.as_ref(),
            &options,
        );
        assert!(
            est.n_estimated_pairs > 0,
            "{transform:?}: some pairs part on 2+ features"
        );
        assert_eq!(est.base_values, exact.base_values);
        let mut worst: f64 = 0.0;
        for ((v, e), se) in est
            .values
            .iter()
            .zip(&exact.values)
            .zip(&est.standard_errors)
        {
            assert!(
                *se <= tolerance * 1.0001,
                "{transform:?}: standard error {se}"
            );
            // 5 standard errors (plus rounding): a false alarm has odds ~1e-6 per value.
            assert!(
                (v - e).abs() <= 5.0 * se + 1e-12,
                "{transform:?}: {v} vs exact {e} (se {se})"
            );
            worst = worst.max((v - e).abs());
        }
        assert!(
            worst > 0.0,
            "{transform:?}: estimated values differ from exact ones somewhere"
        );
        for r in 0..x.nrows() {
            for o in 0..est.values.dim().2 {
                let sum_est: f64 = est.values.slice(s![r, .., o]).sum();
                let sum_exact: f64 = exact.values.slice(s![r, .., o]).sum();
                assert!(
                    (sum_est - sum_exact).abs() < 1e-10,
                    "efficiency: {sum_est} vs {sum_exact}"
                );
            }
        }
    }
}

/// shap's rescaling: per background row, the margin game's exact Shapley values (by
/// enumeration) times (g(f(x)) − g(f(r))) / (f(x) − f(r)), averaged. Tolerance 1e-10 as the
/// oracle above.
#[test]
fn shap_rescale_matches_its_definition() {
    let (model, x, background) = far_apart_model(67, 1);
    let transform = OutputTransform::Logistic { scale: 1.0 };
    let options = OutputOptions {
        method: model_output::PairMethod::ShapRescale,
        ..OutputOptions::default()
    };
    let got = run_with(&model, &x, &background, transform, None, &options);
    assert_eq!(got.n_estimated_pairs, 0, "rescaling is not an estimate");
    let m = model.n_features();
    let g = |v: f64| 1.0 / (1.0 + (-v).exp());
    for r in 0..x.nrows() {
        let row = x.row(r).to_vec();
        let mut want = vec![0.0; m];
        for b in 0..background.nrows() {
            let single = background.slice(s![b..b + 1, ..]).to_owned();
            let margins = hybrid_margins(&model, &row, &single);
            let game: Vec<Vec<f64>> = (0..1usize << m).map(|s| vec![margins[[s, 0]]]).collect();
            let phi = shapley_by_enumeration(&game, m, 1);
            let (fx, fr) = (margins[[(1 << m) - 1, 0]], margins[[0, 0]]);
            let c = if fx == fr {
                1.0
            } else {
                (g(fx) - g(fr)) / (fx - fr)
            };
            for f in 0..m {
                want[f] += c * phi[[f, 0]] / background.nrows() as f64;
            }
        }
        for f in 0..m {
            let v = got.values[[r, f, 0]];
            assert!(
                (v - want[f]).abs() < 1e-10,
                "row {r} feature {f}: {v} vs {}",
                want[f]
            );
        }
    }
}

#[test]
fn estimates_do_not_depend_on_thread_count() {
    let (model, x, background) = far_apart_model(71, 3);
    let options = OutputOptions {
        max_pair_features: 1,
        tolerance: 1e-2,
        seed: 5,
        ..OutputOptions::default()
    };
    let transform = OutputTransform::Softmax { scale: 1.0 };
    let run = |threads: usize| {
        with_threads(Some(threads), || {
            run_with(&model, &x, &background, transform, None, &options)
        })
        .unwrap()
    };
    let (one, four) = (run(1), run(4));
    assert!(one.n_estimated_pairs > 0);
    assert_eq!(one.values, four.values, "bitwise equal for 1 and 4 threads");
    assert_eq!(one.standard_errors, four.standard_errors);
    let other_seed = run_with(
        &model,
        &x,
        &background,
        transform,
        None,
        &OutputOptions { seed: 6, ..options },
    );
    assert_ne!(
        one.values, other_seed.values,
        "the seed drives the estimate"
    );
}

#[test]
fn bad_estimator_options_are_refused() {
    let (model, x, background) = far_apart_model(73, 3);
    let logistic = OutputTransform::Logistic { scale: 1.0 };
    let cases = [
        (
            OutputOptions {
                max_pair_features: 99,
                ..OutputOptions::default()
            },
            logistic,
            "max_pair_features",
        ),
        (
            OutputOptions {
                tolerance: 0.0,
                ..OutputOptions::default()
            },
            logistic,
            "tolerance",
        ),
        (
            OutputOptions {
                max_samples: 1,
                ..OutputOptions::default()
            },
            logistic,
            "max_samples",
        ),
        (
            OutputOptions {
                method: model_output::PairMethod::ShapRescale,
                ..OutputOptions::default()
            },
            OutputTransform::SoftmaxLoss { scale: 1.0 },
            "rescaling",
        ),
    ];
    for (options, transform, want) in cases {
        let labels = transform.is_loss().then(|| Array1::zeros(x.nrows()));
        let err = model_output::shap_values(
            &model,
            x.view(),
            background.view(),
            None,
            transform,
            labels.as_ref().map(|l| l.view()),
            &options,
        )
        .unwrap_err();
        assert!(
            matches!(&err, Error::Parameter(m) if m.contains(want)),
            "{err}"
        );
    }
}

#[test]
fn labels_are_checked() {
    let mut rng = Rng::new(61);
    let shape = TreeShape {
        max_depth: 3,
        n_features: 3,
        leaf_width: 1,
        categorical: false,
        zero_covers: false,
    };
    let binary = random_ensemble(&mut rng, &shape, 3, 1, SplitRules::XGBOOST);
    let multi = random_ensemble(&mut rng, &shape, 3, 3, SplitRules::XGBOOST);
    let x = random_rows(&mut rng, 2, 3);
    let bg = random_rows(&mut rng, 2, 3);
    let run = |model: &TreeEnsemble, t: OutputTransform, y: Option<Vec<f64>>| {
        let y = y.map(Array1::from);
        model_output::shap_values(
            model,
            x.view(),
            bg.view(),
            None,
            t,
            y.as_ref().map(|y| y.view()),
            &OutputOptions::default(),
        )
        .map(|_| ())
    };
    let loss = OutputTransform::LogisticLoss { scale: 1.0 };
    let softmax_loss = OutputTransform::SoftmaxLoss { scale: 1.0 };
    let cases: Vec<(Result<(), Error>, &str)> = vec![
        (run(&binary, loss, None), "needs the label"),
        (
            run(&binary, loss, Some(vec![0.0, f64::NAN])),
            "label NaN of row 1",
        ),
        (run(&binary, loss, Some(vec![0.0])), "1 labels for 2 rows"),
        (run(&binary, loss, Some(vec![0.0, 2.0])), "between 0 and 1"),
        (
            run(&multi, softmax_loss, Some(vec![0.0, 3.0])),
            "class index 0..2",
        ),
        (
            run(&multi, softmax_loss, Some(vec![0.5, 1.0])),
            "class index",
        ),
        (run(&multi, loss, Some(vec![0.0, 1.0])), "single-output"),
        (
            run(&binary, OutputTransform::Softmax { scale: 1.0 }, None),
            "at least 2 outputs",
        ),
        (
            run(
                &binary,
                OutputTransform::Logistic { scale: 1.0 },
                Some(vec![0.0, 1.0]),
            ),
            "only used by loss",
        ),
        (
            run(&binary, OutputTransform::Logistic { scale: f64::NAN }, None),
            "scale",
        ),
    ];
    for (result, want) in cases {
        let err = result.expect_err(want).to_string();
        assert!(err.contains(want), "{err:?} does not say {want:?}");
    }
}

#[test]
fn the_margin_and_the_two_column_probability_are_refused_with_where_to_go() {
    let mut rng = Rng::new(67);
    let shape = TreeShape {
        max_depth: 3,
        n_features: 3,
        leaf_width: 1,
        categorical: false,
        zero_covers: false,
    };
    let binary = random_ensemble(&mut rng, &shape, 3, 1, SplitRules::XGBOOST);
    let x = random_rows(&mut rng, 2, 3);
    let bg = random_rows(&mut rng, 2, 3);
    for (output, want) in [
        (OutputTransform::Margin, "interventional::shap_values"),
        (
            OutputTransform::LogisticPair { scale: 1.0 },
            "(-values, values)",
        ),
    ] {
        let options = OutputOptions::default();
        let err =
            model_output::shap_values(&binary, x.view(), bg.view(), None, output, None, &options)
                .expect_err(want)
                .to_string();
        assert!(err.contains(want), "{err:?} does not say {want:?}");
        let err = model_output::expected_value(&binary, bg.view(), None, output, None)
            .expect_err(want)
            .to_string();
        assert!(err.contains(want), "{err:?} does not say {want:?}");
    }
}
