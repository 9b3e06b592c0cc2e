//! Interventional Tree SHAP on trees with a path splitting on more than 64 distinct features
//! (the fast path's bitset width), which are explained pair by pair while the model's other
//! trees stay on the fast path.
//!
//! Oracle: the pair game of x against a background row r depends only on the features where
//! x and r differ (the others are dummies: every hybrid row has the same value there), so per
//! background row the Shapley values are found by enumerating the subsets of those few
//! features, predicting every hybrid row with `predict_margin`; the interventional values are
//! the weighted mean of the pairs' values (Shapley values are linear in the game). Background
//! rows are copies of x with at most 6 features changed, so each pair enumerates <= 64 subsets.

use ferroshap::tree_shap::{InteractionOptions, interventional};
use ferroshap::{EnsembleSpec, RawTree, SplitRules, TreeEnsemble};
use ndarray::{Array1, Array2, s};

use crate::builder::{TreeBuilder, spec};
use crate::oracle::{Rng, TreeShape, random_rows, random_tree, shapley_by_enumeration};

const M: usize = 72;
const CHAIN: usize = 70;

/// A chain over features 0..70: node j splits on feature j (left iff x <= 0); its right child
/// is the next chain node and its left child splits on feature (j + 35) % 72, so the deepest
/// paths split on 70 or 71 distinct features, the others on fewer.
fn chain_tree(rng: &mut Rng, output: usize) -> RawTree {
    let mut t = TreeBuilder::new(1);
    let push = |t: &mut TreeBuilder, rng: &mut Rng| {
        let default_left = rng.chance(0.5);
        let node = t.node(1.0, &[rng.uniform() * 2.0 - 1.0]);
        t.missing_goes_left(node, default_left);
        node
    };
    let mut node = push(&mut t, rng);
    for j in 0..CHAIN {
        let side = push(&mut t, rng);
        let a = push(&mut t, rng);
        let b = push(&mut t, rng);
        t.split(side, (j + 35) % M, 0.25, a, b);
        let next = push(&mut t, rng); // the next chain node, or the last leaf
        t.split(node, j, 0.0, side, next);
        node = next;
    }
    t.build(output)
}

fn ensemble(trees: Vec<RawTree>) -> TreeEnsemble {
    let spec = EnsembleSpec {
        base_offset: vec![0.1, -0.2],
        ..spec(M, 2, SplitRules::LIGHTGBM)
    };
    crate::builder::ensemble(spec, trees)
}

/// A model with a wide chain tree between two ordinary trees, and the same trees alone.
fn models(rng: &mut Rng) -> (TreeEnsemble, TreeEnsemble, TreeEnsemble) {
    let shape = TreeShape {
        max_depth: 5,
        n_features: M,
        leaf_width: 1,
        categorical: false,
        zero_covers: false,
    };
    let (a, b) = (random_tree(rng, &shape, 0), random_tree(rng, &shape, 1));
    let chain = chain_tree(rng, 1);
    let all = ensemble(vec![a.clone(), chain.clone(), b.clone()]);
    (all, ensemble(vec![a, b]), ensemble(vec![chain]))
}

/// Rows that satisfy most chain splits (values in (0, 1]), with a few features moved.
fn near_rows(rng: &mut Rng, base: &[f64], n: usize, changes: usize) -> Array2<f64> {
    let mut rows = Array2::<f64>::zeros((n, M));
    for mut row in rows.rows_mut() {
        row.assign(&Array1::from(base.to_vec()));
        for _ in 0..changes {
            let f = rng.below(M);
            row[f] = if rng.chance(0.1) {
                f64::NAN
            } else {
                rng.uniform() * 2.0 - 1.0
            };
        }
    }
    rows
}

/// Interventional values of `x` by enumerating each pair's differing features.
fn pair_oracle(model: &TreeEnsemble, x: &[f64], bg: &Array2<f64>, w: &[f64]) -> Array2<f64> {
    let total: f64 = w.iter().sum();
    let mut phi = Array2::<f64>::zeros((M, 2));
    for (r, &wr) in bg.rows().into_iter().zip(w) {
        let differ: Vec<usize> = (0..M)
            .filter(|&f| x[f].to_bits() != r[f].to_bits())
            .collect();
        let d = differ.len();
        let mut hybrids = Array2::<f64>::zeros((1 << d, M));
        for set in 0..1usize << d {
            hybrids.row_mut(set).assign(&r);
            for (b, &f) in differ.iter().enumerate() {
                if set >> b & 1 == 1 {
                    hybrids[[set, f]] = x[f];
                }
            }
        }
        let margins = model.predict_margin(hybrids.view()).unwrap();
        let game: Vec<Vec<f64>> = margins.rows().into_iter().map(|m| m.to_vec()).collect();
        let pair = shapley_by_enumeration(&game, d, 2);
        for (b, &f) in differ.iter().enumerate() {
            for o in 0..2 {
                phi[[f, o]] += wr / total * pair[[b, o]];
            }
        }
    }
    phi
}

#[test]
fn paths_on_more_than_64_features_match_the_pair_oracle() {
    let mut rng = Rng::new(71);
    let (model, fast, wide) = models(&mut rng);
    // Every chain split is satisfied: x reaches the end of the chain, 70 features deep.
    let base: Vec<f64> = (0..M).map(|_| 0.05 + 0.95 * rng.uniform()).collect();
    let mut x = near_rows(&mut rng, &base, 4, 3);
    x.row_mut(0).assign(&Array1::from(base.clone()));
    let bg = near_rows(&mut rng, &base, 9, 6);
    let w: Vec<f64> = (0..9).map(|i| 0.5 + i as f64 * 0.25).collect();
    let weights = Array1::from(w.clone());
    let got =
        interventional::shap_values_weighted(&model, x.view(), bg.view(), Some(weights.view()))
            .unwrap();
    let base_value =
        interventional::expected_value(&model, bg.view(), Some(weights.view())).unwrap();
    assert_eq!(
        got.base_values, base_value,
        "expected_value is the base, bit for bit"
    );
    let margin = model.predict_margin(x.view()).unwrap();
    let parts = [&fast, &wide].map(|m| {
        interventional::shap_values_weighted(m, x.view(), bg.view(), Some(weights.view())).unwrap()
    });
    for i in 0..x.nrows() {
        // Sums of at most a few hundred terms of order 1: rounding stays far below 1e-10.
        let want = pair_oracle(&model, x.row(i).as_slice().unwrap(), &bg, &w);
        for f in 0..M {
            for o in 0..2 {
                let v = got.values[[i, f, o]];
                assert!(
                    (v - want[[f, o]]).abs() < 1e-10,
                    "row {i} feature {f} output {o}: {v} vs oracle {}",
                    want[[f, o]]
                );
                let split = parts[0].values[[i, f, o]] + parts[1].values[[i, f, o]];
                assert!((v - split).abs() < 1e-12, "the trees' values add up");
            }
        }
        for o in 0..2 {
            let total = got.values.slice(s![i, .., o]).sum() + got.base_values[o];
            assert!(
                (total - margin[[i, o]]).abs() < 1e-10,
                "row {i} output {o}: values + base {total} vs margin {}",
                margin[[i, o]]
            );
        }
    }
    // The oracle sees the chain: some value of the chain's output is on a feature past 64.
    assert!(
        (64..CHAIN).any(|f| got.values[[0, f, 1]] != 0.0),
        "the test reaches the deep part of the chain"
    );
    // Interaction values still refuse such trees, with a message naming the limit.
    let err = interventional::interaction_values(
        &model,
        x.view(),
        bg.view(),
        None,
        &InteractionOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("more than 64"), "{err}");
}

#[test]
fn wide_paths_do_not_depend_on_thread_count() {
    let mut rng = Rng::new(73);
    let (model, _, _) = models(&mut rng);
    let base: Vec<f64> = (0..M).map(|_| 0.05 + 0.95 * rng.uniform()).collect();
    // 150 rows: three blocks of rows; random background rows part from x on many features.
    let x = near_rows(&mut rng, &base, 150, 4);
    let mut bg = random_rows(&mut rng, 20, M);
    bg.slice_mut(s![..10, ..])
        .assign(&near_rows(&mut rng, &base, 10, 8));
    let run = |threads| {
        ferroshap::with_threads(Some(threads), || {
            interventional::shap_values(&model, x.view(), bg.view())
        })
        .unwrap()
        .unwrap()
    };
    let (one, three) = (run(1), run(3));
    assert_eq!(
        one.values, three.values,
        "bitwise identical across thread counts"
    );
    assert_eq!(one.base_values, three.base_values);
    let margin = model.predict_margin(x.view()).unwrap();
    for i in 0..x.nrows() {
        for o in 0..2 {
            let total = one.values.slice(s![i, .., o]).sum() + one.base_values[o];
            assert!(
                (total - margin[[i, o]]).abs() < 1e-10,
                "row {i}: additivity"
            );
        }
    }
}
