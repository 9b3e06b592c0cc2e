//! The native tree game of Kernel SHAP against the brute-force path: the same designs (same
//! seeds) evaluated once by predicting every masked row with the ensemble, once by walking each
//! tree with the explained and the background row together and tabulating or scanning the
//! reachable leaves. Both compute the same model outputs, summed in a different order (and, for
//! tables, through inclusion–exclusion terms that cancel), so values agree to rounding: 1e-11
//! of the output scale covers sums of a few thousand terms of order 1-10 with room to spare,
//! while any wrong leaf, sign or routing decision moves values by 1e-3 or more.

use ferroshap::OutputTransform;
use ferroshap::game::PairEvaluation;
use ferroshap::game::kernel::{self, KernelOptions, Link};
use ferroshap::game::tree_ensemble_shap_values;
use ferroshap::{SplitRules, TreeEnsemble, with_threads};
use ndarray::{Array2, ArrayView2};

use crate::oracle::{ALL_RULES, Rng, TreeShape, random_ensemble, random_rows};

fn predict(
    model: &TreeEnsemble,
    output: OutputTransform,
    rows: ArrayView2<'_, f64>,
) -> Array2<f64> {
    let margins = model.predict_margin(rows).unwrap();
    let ko = output.n_outputs(model.n_outputs());
    let mut out = Array2::zeros((rows.nrows(), ko));
    for i in 0..rows.nrows() {
        let mut buf = vec![0.0; ko];
        output.apply(&margins.row(i).to_vec(), 0.0, &mut buf);
        for o in 0..ko {
            out[[i, o]] = buf[o];
        }
    }
    out
}

struct Case {
    n_features: usize,
    n_outputs: usize,
    leaf_width: usize,
    output: OutputTransform,
    nsamples: Option<usize>,
}

fn check(rules: SplitRules, case: &Case, seed: u64) {
    let mut rng = Rng::new(seed);
    let shape = TreeShape {
        max_depth: 6,
        n_features: case.n_features,
        leaf_width: case.leaf_width,
        categorical: true,
        zero_covers: false,
    };
    let model = random_ensemble(&mut rng, &shape, 24, case.n_outputs, rules);
    let x = random_rows(&mut rng, 4, case.n_features);
    // 40 background rows: two blocks of parallel work, the second one partial.
    let background = random_rows(&mut rng, 40, case.n_features);
    let weights: Vec<f64> = (0..40).map(|i| 1.0 + (i % 7) as f64).collect();
    let options = KernelOptions {
        nsamples: case.nsamples,
        seed: seed ^ 0x5eed,
        ..KernelOptions::default()
    };
    let want = kernel::shap_values(
        |rows| Ok(predict(&model, case.output, rows)),
        x.view(),
        background.view(),
        Some(&weights),
        &options,
        1000,
    )
    .unwrap();
    let scale = predict(&model, case.output, background.view())
        .iter()
        .fold(1.0f64, |a, v| a.max(v.abs()));
    for evaluation in [
        PairEvaluation::Auto,
        PairEvaluation::Table,
        PairEvaluation::Scan,
    ] {
        let got = tree_ensemble_shap_values(
            &model,
            case.output,
            x.view(),
            background.view(),
            Some(&weights),
            &options,
            evaluation,
        )
        .unwrap();
        assert_eq!(got.values.dim(), want.values.dim());
        for (g, w) in got.values.iter().zip(want.values.iter()) {
            assert!(
                (g - w).abs() <= 1e-11 * scale,
                "{rules:?} {:?} {evaluation:?} M={}: {g} vs brute force {w}",
                case.output,
                case.n_features
            );
        }
        for (g, w) in got.base_values.iter().zip(&want.base_values) {
            assert!((g - w).abs() <= 1e-12 * scale);
        }
    }
}

#[test]
fn native_tree_game_equals_predicting_every_masked_row() {
    let cases = [
        // Exhaustive designs (every coalition), margins: the row-wide table.
        (8, 1, 1, OutputTransform::Margin, None),
        (6, 3, 1, OutputTransform::Margin, None),
        (5, 3, 3, OutputTransform::Margin, None),
        // Nonlinear outputs: per-pair tables or scans.
        (7, 1, 1, OutputTransform::Logistic { scale: 1.0 }, None),
        (7, 1, 1, OutputTransform::LogisticPair { scale: 1.0 }, None),
        (6, 3, 1, OutputTransform::Softmax { scale: 1.0 }, None),
        (5, 3, 3, OutputTransform::Softmax { scale: 1.0 }, Some(20)),
        (6, 2, 1, OutputTransform::Exp { scale: 1.0 }, None),
        // Sampled designs; 20 and 30 varying features are past the row-wide table (scans and
        // per-pair tables).
        (14, 1, 1, OutputTransform::Margin, Some(300)),
        (20, 1, 1, OutputTransform::Margin, Some(200)),
        (
            30,
            2,
            1,
            OutputTransform::Logistic { scale: 1.0 },
            Some(200),
        ),
    ];
    for (i, &(n_features, n_outputs, leaf_width, output, nsamples)) in cases.iter().enumerate() {
        let case = Case {
            n_features,
            n_outputs,
            leaf_width,
            output,
            nsamples,
        };
        for (r, &rules) in ALL_RULES.iter().enumerate() {
            check(rules, &case, 1000 + 10 * i as u64 + r as u64);
        }
    }
}

#[test]
fn wide_models_use_the_varying_features_only() {
    // 80 features, of which 9 (or, in the last row, 70) differ from the background: coalition
    // masks cover the varying features, so the first rows take the native game and the last
    // one makes the whole block fall back to masked rows; both must equal prediction.
    let mut rng = Rng::new(5);
    let shape = TreeShape {
        max_depth: 6,
        n_features: 80,
        leaf_width: 1,
        categorical: false,
        zero_covers: false,
    };
    let model = random_ensemble(&mut rng, &shape, 40, 1, SplitRules::LIGHTGBM);
    let mut background = random_rows(&mut rng, 10, 80);
    let mut x = random_rows(&mut rng, 3, 80);
    for j in 9..80 {
        let v = (j % 9) as f64 * 0.25 - 1.0;
        background.column_mut(j).fill(v);
        x[[0, j]] = v;
        x[[1, j]] = v;
        if j >= 70 {
            x[[2, j]] = v;
        }
    }
    for rows in [1, 3] {
        let x = x.slice(ndarray::s![..rows, ..]).to_owned();
        let options = KernelOptions {
            nsamples: Some(300),
            seed: 2,
            ..KernelOptions::default()
        };
        let want = kernel::shap_values(
            |r| Ok(predict(&model, OutputTransform::Margin, r)),
            x.view(),
            background.view(),
            None,
            &options,
            500,
        )
        .unwrap();
        let got = tree_ensemble_shap_values(
            &model,
            OutputTransform::Margin,
            x.view(),
            background.view(),
            None,
            &options,
            PairEvaluation::Auto,
        )
        .unwrap();
        for (g, w) in got.values.iter().zip(want.values.iter()) {
            assert!((g - w).abs() < 1e-11, "{rows} rows: {g} vs brute force {w}");
        }
        assert!(got.values.iter().any(|v| v.abs() > 1e-3));
    }
}

#[test]
fn native_tree_game_does_not_depend_on_the_thread_count() {
    let mut rng = Rng::new(77);
    let shape = TreeShape {
        max_depth: 5,
        n_features: 9,
        leaf_width: 1,
        categorical: false,
        zero_covers: false,
    };
    let model = random_ensemble(&mut rng, &shape, 30, 1, SplitRules::SKLEARN_HIST);
    let x = random_rows(&mut rng, 5, 9);
    let background = random_rows(&mut rng, 70, 9);
    let options = KernelOptions {
        nsamples: Some(200),
        link: Link::Identity,
        seed: 3,
        ..KernelOptions::default()
    };
    for output in [
        OutputTransform::Margin,
        OutputTransform::Logistic { scale: 1.0 },
    ] {
        let run = |threads| {
            with_threads(Some(threads), || {
                tree_ensemble_shap_values(
                    &model,
                    output,
                    x.view(),
                    background.view(),
                    None,
                    &options,
                    PairEvaluation::Auto,
                )
                .unwrap()
            })
            .unwrap()
        };
        let one = run(1);
        let three = run(3);
        assert_eq!(one.values, three.values);
    }
}
