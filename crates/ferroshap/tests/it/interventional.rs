//! Brute-force oracle for interventional Tree SHAP: Shapley values by subset enumeration of
//! v(S) = weighted mean over background rows r of the model's margin on the hybrid row
//! (x on S, r elsewhere), computed with `predict_margin` on every hybrid row. Random trees with
//! repeated features along paths, missing values, categorical splits, several outputs and
//! vector leaves. ferroshap must match to 1e-10: both sides are f64 sums of terms of order 1
//! and differ only in summation order and in the quadrature's rounding (about 1e-15).

use ferroshap::tree_shap::interventional::{self, Strategy};
use ferroshap::{SplitRules, TreeEnsemble};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, s};

use crate::oracle::{
    Rng, TreeShape, mixed_ensemble, random_ensemble, random_rows, shapley_by_enumeration,
    vector_leaf_ensemble,
};

/// Shapley values (M, K) of one row under the interventional game, by enumerating subsets.
fn brute_force(
    model: &TreeEnsemble,
    row: &[f64],
    background: &Array2<f64>,
    weights: Option<&Array1<f64>>,
) -> Array2<f64> {
    let v = interventional_game(model, row, background, weights);
    shapley_by_enumeration(&v, model.n_features(), model.n_outputs())
}

/// v(S) of the interventional game for every subset S (as a bitmask), per output.
pub fn interventional_game(
    model: &TreeEnsemble,
    row: &[f64],
    background: &Array2<f64>,
    weights: Option<&Array1<f64>>,
) -> Vec<Vec<f64>> {
    let (m, k, nb) = (model.n_features(), model.n_outputs(), background.nrows());
    let w: Vec<f64> = match weights {
        Some(w) => w.to_vec(),
        None => vec![1.0; nb],
    };
    let total: f64 = w.iter().sum();
    let margins = hybrid_margins(model, row, background);
    (0..1usize << m)
        .map(|set| {
            (0..k)
                .map(|o| {
                    (0..nb)
                        .map(|r| w[r] * margins[[set * nb + r, o]])
                        .sum::<f64>()
                        / total
                })
                .collect()
        })
        .collect()
}

/// The model's margins on every hybrid row (x on S, background row r elsewhere), predicted
/// in one call: row `set * n_background + r` for subset `set` (a bitmask).
pub fn hybrid_margins(model: &TreeEnsemble, row: &[f64], background: &Array2<f64>) -> Array2<f64> {
    let (m, nb) = (model.n_features(), background.nrows());
    let mut hybrids = Array2::<f64>::zeros(((1 << m) * nb, m));
    for set in 0..1usize << m {
        for r in 0..nb {
            for f in 0..m {
                hybrids[[set * nb + r, f]] = if set >> f & 1 == 1 {
                    row[f]
                } else {
                    background[[r, f]]
                };
            }
        }
    }
    model.predict_margin(hybrids.view()).unwrap()
}

fn check(
    model: &TreeEnsemble,
    x: &Array2<f64>,
    background: &Array2<f64>,
    weights: Option<&Array1<f64>>,
) {
    let w: Option<ArrayView1<f64>> = weights.map(|w| w.view());
    let margin = model.predict_margin(x.view()).unwrap();
    let results = [Strategy::Auto, Strategy::Dense, Strategy::Sparse].map(|strategy| {
        interventional::shap_values_with(model, x.view(), background.view(), w, strategy).unwrap()
    });
    let base = interventional::expected_value(model, background.view(), w).unwrap();
    for (strategy, explanation) in ["auto", "dense", "sparse"].iter().zip(&results) {
        assert_eq!(
            explanation.base_values, base,
            "expected_value is the base of shap_values, bit for bit"
        );
        for r in 0..x.nrows() {
            let want = brute_force(model, x.row(r).as_slice().unwrap(), background, weights);
            for f in 0..model.n_features() {
                for o in 0..model.n_outputs() {
                    let got = explanation.values[[r, f, o]];
                    assert!(
                        (got - want[[f, o]]).abs() < 1e-10,
                        "{strategy}: row {r} feature {f} output {o}: {got} vs oracle {}",
                        want[[f, o]]
                    );
                }
            }
            for o in 0..model.n_outputs() {
                let total = explanation.values.slice(s![r, .., o]).sum() + base[o];
                assert!(
                    (total - margin[[r, o]]).abs() < 1e-10,
                    "{strategy}: row {r} output {o}: values + base {total} vs margin {}",
                    margin[[r, o]]
                );
            }
        }
    }
}

#[test]
fn interventional_matches_brute_force_on_random_trees() {
    let mut rng = Rng::new(17);
    for case in 0..60 {
        let model = mixed_ensemble(&mut rng, case, false);
        let x = random_rows(&mut rng, 6, model.n_features());
        let background = random_rows(&mut rng, 1 + case % 9, model.n_features());
        check(&model, &x, &background, None);
    }
}

#[test]
fn interventional_matches_brute_force_with_weights_and_vector_leaves() {
    let mut rng = Rng::new(23);
    for case in 0..20 {
        let model = vector_leaf_ensemble(&mut rng, case, case % 2 == 1, SplitRules::SKLEARN_TREE);
        let x = random_rows(&mut rng, 5, model.n_features());
        let background = random_rows(&mut rng, 7, model.n_features());
        // Some zero weights: those rows must not count at all.
        let weights = Array1::from_shape_fn(7, |i| if i % 3 == 0 { 0.0 } else { rng.uniform() });
        check(&model, &x, &background, Some(&weights));
    }
}

#[test]
fn deep_trees_with_repeated_features_match_brute_force() {
    // Depth 12 over 5 features: every feature repeats along each path and must be merged
    // into one per-feature condition.
    let mut rng = Rng::new(29);
    let shape = TreeShape {
        max_depth: 12,
        n_features: 5,
        leaf_width: 1,
        categorical: true,
        zero_covers: false,
    };
    let model = random_ensemble(&mut rng, &shape, 3, 2, SplitRules::LIGHTGBM);
    let x = random_rows(&mut rng, 8, 5);
    let background = random_rows(&mut rng, 12, 5);
    check(&model, &x, &background, None);
}

#[test]
fn paths_with_many_features_match_brute_force() {
    // Depth 12 over 11 features: paths have more than DENSE_MAX distinct features, so the
    // sparse method runs even under Strategy::Dense.
    let mut rng = Rng::new(31);
    let shape = TreeShape {
        max_depth: 12,
        n_features: 11,
        leaf_width: 1,
        categorical: false,
        zero_covers: false,
    };
    let model = random_ensemble(&mut rng, &shape, 2, 1, SplitRules::XGBOOST);
    assert!(model.max_depth() > interventional::DENSE_MAX);
    let x = random_rows(&mut rng, 2, 11);
    let background = random_rows(&mut rng, 3, 11);
    check(&model, &x, &background, None);
}

/// Depth-6 trees over 5 features with categorical splits: small enough for brute force.
const CATEGORICAL_DEPTH_6: TreeShape = TreeShape {
    max_depth: 6,
    n_features: 5,
    leaf_width: 1,
    categorical: true,
    zero_covers: false,
};

#[test]
fn many_rows_and_background_blocks_match_brute_force() {
    // Rows and background rows are handled in blocks of 64: 300 explained rows (five blocks,
    // the last one partial; enough for blocks of rows to be the parallel units) and 150
    // weighted background rows (three blocks), on categorical trees with NaN and zero rows.
    let mut rng = Rng::new(43);
    let shape = CATEGORICAL_DEPTH_6;
    for rules in [SplitRules::XGBOOST, SplitRules::LIGHTGBM] {
        let model = random_ensemble(&mut rng, &shape, 9, 2, rules);
        let x = random_rows(&mut rng, 300, 5);
        let background = random_rows(&mut rng, 150, 5);
        let weights = Array1::from_shape_fn(150, |i| if i % 7 == 0 { 0.0 } else { rng.uniform() });
        let w = Some(weights.view());
        for strategy in [Strategy::Auto, Strategy::Dense, Strategy::Sparse] {
            let all =
                interventional::shap_values_with(&model, x.view(), background.view(), w, strategy)
                    .unwrap();
            for r in 0..x.nrows() {
                // Alone, a row runs through the few-rows path (groups of trees, partial sums):
                // the same values up to the order of the additions, 1e-12 of these values'
                // scale (leaf values are below 1, at most 18 trees).
                let one = interventional::shap_values_with(
                    &model,
                    x.slice(s![r..r + 1, ..]),
                    background.view(),
                    w,
                    strategy,
                )
                .unwrap();
                for f in 0..5 {
                    let (a, b) = (all.values[[r, f, 0]], one.values[[0, f, 0]]);
                    assert!(
                        (a - b).abs() < 1e-12,
                        "row {r} feature {f}: {a} vs {b} alone"
                    );
                }
                if r % 13 == 0 {
                    let want = brute_force(
                        &model,
                        x.row(r).as_slice().unwrap(),
                        &background,
                        Some(&weights),
                    );
                    for f in 0..5 {
                        let got = all.values[[r, f, 0]];
                        assert!(
                            (got - want[[f, 0]]).abs() < 1e-10,
                            "row {r} feature {f}: {got} vs oracle {}",
                            want[[f, 0]]
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn interventional_does_not_depend_on_thread_count_or_layout() {
    let mut rng = Rng::new(37);
    let shape = CATEGORICAL_DEPTH_6;
    let model = random_ensemble(&mut rng, &shape, 40, 2, SplitRules::XGBOOST);
    let background = random_rows(&mut rng, 300, 5);
    // 600 rows: several units of parallel work.
    for n_rows in [3, 600] {
        let x = random_rows(&mut rng, n_rows, 5);
        let run = |threads| {
            ferroshap::with_threads(Some(threads), || {
                interventional::shap_values(&model, x.view(), background.view())
            })
            .unwrap()
            .unwrap()
        };
        let one = run(1);
        let three = run(3);
        assert_eq!(
            one.values, three.values,
            "bitwise identical across thread counts"
        );
        assert_eq!(one.base_values, three.base_values);
        let fortran = x.t().as_standard_layout().into_owned();
        let f = interventional::shap_values(&model, fortran.t(), background.view()).unwrap();
        assert_eq!(
            one.values, f.values,
            "Fortran-ordered input gives the same values"
        );
        let x32 = x.mapv(|v| v as f32);
        let a = interventional::shap_values(&model, x32.view(), background.view()).unwrap();
        let b = interventional::shap_values(&model, x32.mapv(f64::from).view(), background.view())
            .unwrap();
        assert_eq!(
            a.values, b.values,
            "f32 input is read exactly as its f64 widening"
        );
    }
}

#[test]
fn bad_background_is_an_error() {
    let mut rng = Rng::new(41);
    let shape = TreeShape {
        max_depth: 3,
        n_features: 3,
        leaf_width: 1,
        categorical: false,
        zero_covers: false,
    };
    let model = random_ensemble(&mut rng, &shape, 2, 1, SplitRules::XGBOOST);
    let x = random_rows(&mut rng, 2, 3);
    let err = |bg: Array2<f64>, w: Option<Array1<f64>>| {
        interventional::shap_values_weighted(
            &model,
            x.view(),
            bg.view(),
            w.as_ref().map(|w| w.view()),
        )
        .unwrap_err()
        .to_string()
    };
    let msg = err(Array2::zeros((4, 2)), None);
    assert!(
        msg.contains("background") && msg.contains("2 features"),
        "{msg}"
    );
    let msg = err(Array2::zeros((0, 3)), None);
    assert!(msg.contains("no rows"), "{msg}");
    let msg = err(Array2::zeros((2, 3)), Some(Array1::from(vec![1.0])));
    assert!(msg.contains("1 background weights for 2"), "{msg}");
    let msg = err(Array2::zeros((2, 3)), Some(Array1::from(vec![1.0, -1.0])));
    assert!(msg.contains(">= 0"), "{msg}");
    let msg = err(Array2::zeros((2, 3)), Some(Array1::from(vec![0.0, 0.0])));
    assert!(msg.contains("positive"), "{msg}");
    let wrong_x = Array2::<f64>::zeros((1, 4));
    let msg = interventional::shap_values(&model, wrong_x.view(), x.view())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("4 features"), "{msg}");
}

#[test]
fn zero_rows_give_empty_values_and_the_base() {
    // An empty batch is not an error: no values, and the same base value as any batch.
    let mut rng = Rng::new(47);
    let model = random_ensemble(&mut rng, &CATEGORICAL_DEPTH_6, 5, 2, SplitRules::LIGHTGBM);
    let background = random_rows(&mut rng, 70, 5);
    let none = Array2::<f64>::zeros((0, 5));
    for strategy in [Strategy::Auto, Strategy::Dense, Strategy::Sparse] {
        let got = interventional::shap_values_with(
            &model,
            none.view(),
            background.view(),
            None,
            strategy,
        )
        .unwrap();
        assert_eq!(got.values.shape(), &[0, 5, model.n_outputs()]);
        let base = interventional::expected_value(&model, background.view(), None).unwrap();
        assert_eq!(got.base_values, base);
    }
}

#[test]
fn wide_rows_in_several_chunks_equal_rows_alone() {
    // 600 features x 2 outputs: a row's values take 9.6 KB, so rows are explained in chunks
    // of 64 (200 rows: four chunks, the last partial), each chunk's 12 trees in 3 groups. A
    // row explained alone runs through the same 3 groups, so every value must be the same,
    // bit for bit; a chunk reading the wrong rows would not be.
    let mut rng = Rng::new(53);
    let shape = TreeShape {
        max_depth: 5,
        n_features: 600,
        leaf_width: 1,
        categorical: false,
        zero_covers: false,
    };
    let model = random_ensemble(&mut rng, &shape, 12, 2, SplitRules::XGBOOST);
    let x = random_rows(&mut rng, 200, 600);
    let background = random_rows(&mut rng, 90, 600);
    let run = |x: ArrayView2<f64>, strategy| {
        interventional::shap_values_with(&model, x, background.view(), None, strategy).unwrap()
    };
    // (Auto may pick dense tables for 200 rows and lists for one: equal only up to rounding.)
    for strategy in [Strategy::Dense, Strategy::Sparse] {
        let all = run(x.view(), strategy);
        for r in [0, 1, 63, 64, 65, 127, 128, 191, 192, 199] {
            let one = run(x.slice(s![r..r + 1, ..]), strategy);
            assert_eq!(
                all.values.slice(s![r, .., ..]),
                one.values.slice(s![0, .., ..]),
                "{strategy:?}: row {r}"
            );
        }
    }
    let all = run(x.view(), Strategy::Auto);
    // And the values add up to the margin (1e-10: sums of ~12 leaf values below 1).
    let margin = model.predict_margin(x.view()).unwrap();
    for r in 0..x.nrows() {
        for o in 0..2 {
            let total = all.values.slice(s![r, .., o]).sum() + all.base_values[o];
            assert!((total - margin[[r, o]]).abs() < 1e-10, "row {r} output {o}");
        }
    }
}

#[test]
fn kept_one_row_tables_equal_the_sparse_tables_bit_for_bit() {
    // A prepared explainer keeps its own layout of the background for one-row calls (16-bit
    // codes and a palette of weights for paths of at most 15 features, (set, weight) pairs
    // beyond, and for weights too many to index). It must give, bit for bit, what the sparse
    // tables built for the call give: the same sets, admitted in the same order. Paths of up
    // to 20 distinct features, vector leaves, categorical splits, weighted and unweighted
    // backgrounds; 1 and 3 threads.
    let mut rng = Rng::new(53);
    let shapes = [
        (
            TreeShape {
                max_depth: 8,
                n_features: 9,
                leaf_width: 1,
                categorical: true,
                zero_covers: false,
            },
            1,
        ),
        (
            TreeShape {
                max_depth: 20,
                n_features: 24,
                leaf_width: 1,
                categorical: false,
                zero_covers: false,
            },
            1,
        ),
        (
            TreeShape {
                max_depth: 6,
                n_features: 7,
                leaf_width: 3,
                categorical: true,
                zero_covers: false,
            },
            3,
        ),
    ];
    for (shape, n_outputs) in &shapes {
        // Few trees: their tables fit in one block, so the sparse call groups the trees as
        // the kept tables do (and adds the same partial sums).
        let model = random_ensemble(&mut rng, shape, 4, *n_outputs, SplitRules::LIGHTGBM);
        let m = shape.n_features;
        let x = random_rows(&mut rng, 5, m);
        let background = random_rows(&mut rng, 70, m);
        let weights = Array1::from_shape_fn(70, |i| if i % 5 == 0 { 0.0 } else { rng.uniform() });
        for w in [None, Some(weights.view())] {
            let explainer =
                interventional::Interventional::new(&model, background.view(), w).unwrap();
            for r in 0..x.nrows() {
                let row = x.slice(s![r..r + 1, ..]);
                let sparse = explainer.shap_values_with(row, Strategy::Sparse).unwrap();
                for threads in [1, 3] {
                    let kept =
                        ferroshap::with_threads(Some(threads), || explainer.shap_values(row))
                            .unwrap()
                            .unwrap();
                    assert_eq!(kept.values, sparse.values, "row {r}, {threads} threads");
                }
            }
            assert!(explainer.table_bytes() > 0, "the one-row tables are kept");
        }
    }
}
