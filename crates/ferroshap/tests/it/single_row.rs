//! One row at a time: path-dependent values of a single row come from their own walk
//! (vectorised over quadrature points, see `tree_shap::single_row`), so they are checked here
//! against the brute-force oracle, the leaf-by-leaf product-game oracle and the batch kernel,
//! on random trees with repeated features along paths, missing values, categorical splits,
//! zero covers, several outputs, vector leaves, and paths for every compiled point count.
//!
//! Tolerances:
//! - against brute force, 1e-10 absolute (values of order 1; both are f64 sums of the same
//!   terms in different orders, ~1e-15 each), as in the `oracle` tests;
//! - against the batch kernel, 1e-12 of the largest |value|: the same quadrature in another
//!   order of summation (over points, trees and the leaf sums), so they differ by rounding
//!   only, ~1e-15 relative per term;
//! - against the product-game oracle, 1e-9 of the largest |value|: that oracle's Beta values
//!   carry ~1e-13 relative error from their log-factorials (see the `shapes` tests).

use ferroshap::tree_shap::path_dependent;
use ferroshap::{EnsembleSpec, SplitRules, TreeEnsemble, with_threads};
use ndarray::{Array2, Axis, s};

use crate::builder::{TreeBuilder, ensemble, spec};
use crate::oracle::{
    ALL_RULES, Rng, TreeShape, brute_force, mixed_ensemble, random_ensemble, random_rows,
    vector_leaf_ensemble,
};
use crate::shapes::{product_game_oracle, scale};

/// Every row of `x` explained alone against the oracle (`oracle`: per raw row, (M, K)) and
/// against the batch kernel.
fn check_rows(
    model: &TreeEnsemble,
    x: &Array2<f64>,
    oracle: impl Fn(&[f64]) -> Array2<f64>,
    oracle_tol: f64,
    what: &str,
) {
    let batch = path_dependent::shap_values(model, x.view()).unwrap();
    let batch_tol = 1e-12 * scale(batch.values.iter().copied());
    for r in 0..x.nrows() {
        let one = path_dependent::shap_values(model, x.slice(s![r..r + 1, ..])).unwrap();
        assert_eq!(
            one.values.shape(),
            [1, model.n_features(), model.n_outputs()]
        );
        let want = oracle(x.row(r).as_slice().unwrap());
        let tol = oracle_tol * scale(want.iter().copied());
        for ((f, k), w) in want.indexed_iter() {
            let got = one.values[[0, f, k]];
            assert!(
                (got - w).abs() <= tol,
                "{what}, row {r}, feature {f}, output {k}: {got} vs oracle {w}"
            );
        }
        for (a, b) in one
            .values
            .iter()
            .zip(batch.values.index_axis(Axis(0), r).iter())
        {
            assert!(
                (a - b).abs() <= batch_tol,
                "{what}, row {r}: alone {a} vs in a batch {b}"
            );
        }
    }
}

#[test]
fn one_row_matches_brute_force_on_random_trees() {
    // Depth 1-7 over 1-6 features (features repeat along paths), categorical splits, zero
    // covers, NaN / zero / on-threshold values, 1-3 outputs, every library's routing.
    let mut rng = Rng::new(17);
    for case in 0..60 {
        let model = mixed_ensemble(&mut rng, case, case % 3 == 0);
        let x = random_rows(&mut rng, 6, model.n_features());
        check_rows(&model, &x, |row| brute_force(&model, row), 1e-10, "mixed");
    }
}

#[test]
fn one_row_matches_brute_force_with_vector_leaves() {
    let mut rng = Rng::new(19);
    for case in 0..20 {
        let rules = ALL_RULES[case % 4];
        let model = vector_leaf_ensemble(&mut rng, case, case % 2 == 1, rules);
        let x = random_rows(&mut rng, 6, model.n_features());
        check_rows(
            &model,
            &x,
            |row| brute_force(&model, row),
            1e-10,
            "vector leaves",
        );
    }
}

#[test]
fn one_row_through_many_trees_matches_brute_force() {
    // More trees than one block of trees: the row's work is split over blocks whose sums are
    // added in a fixed order, so the values do not depend on the number of threads either.
    let mut rng = Rng::new(23);
    let shape = TreeShape {
        max_depth: 7,
        n_features: 6,
        leaf_width: 1,
        categorical: true,
        zero_covers: true,
    };
    let model = random_ensemble(&mut rng, &shape, 70, 3, SplitRules::XGBOOST);
    let x = random_rows(&mut rng, 8, 6);
    check_rows(
        &model,
        &x,
        |row| brute_force(&model, row),
        1e-10,
        "70 trees",
    );
    for r in 0..x.nrows() {
        let row = x.slice(s![r..r + 1, ..]);
        let one = with_threads(Some(1), || path_dependent::shap_values(&model, row)).unwrap();
        let three = with_threads(Some(3), || path_dependent::shap_values(&model, row)).unwrap();
        assert_eq!(one.unwrap().values, three.unwrap().values, "row {r}");
    }
}

/// A caterpillar tree: one long path that splits on each of `distinct` features (in random
/// order, `repeats` of them again further down), each split's other child a leaf. Its
/// deepest leaf has `distinct` features on its path, so it needs `ceil(distinct / 2)`
/// quadrature points.
fn caterpillar(rng: &mut Rng, distinct: usize, repeats: usize, rules: SplitRules) -> TreeEnsemble {
    let mut order: Vec<usize> = (0..distinct).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    for _ in 0..repeats {
        let at = rng.below(order.len() + 1);
        order.insert(at, rng.below(distinct));
    }
    // Node `2i` is the path's i-th split, `2i + 1` its leaf, `2i + 2` where the path goes on.
    let n = 2 * order.len() + 1;
    let default_left: Vec<bool> = (0..n).map(|_| rng.chance(0.5)).collect();
    let zero_is_missing: Vec<bool> = (0..n).map(|_| rng.chance(0.1)).collect();
    let mut tree = TreeBuilder::new(1);
    tree.categories_go_left(rng.chance(0.5));
    for i in 0..n {
        let node = tree.node(0.0, &[rng.uniform() * 2.0 - 1.0]);
        tree.missing_goes_left(node, default_left[i]);
        tree.zero_is_missing(node, zero_is_missing[i]);
    }
    let mut cover = 1e6;
    for (i, &f) in order.iter().enumerate() {
        let (node, leaf, next) = (2 * i, 2 * i + 1, 2 * i + 2);
        // The path goes on to the left or to the right.
        let (l, r) = if rng.chance(0.5) {
            (leaf, next)
        } else {
            (next, leaf)
        };
        if rng.chance(0.2) {
            tree.categorical(node, f, (0..6).filter(|_| rng.chance(0.5)).collect(), l, r);
        } else {
            // Mostly below the rows' values, so that rows often follow the path far down.
            tree.split(node, f, rng.below(9) as f64 * 0.25 - 1.5, l, r);
        }
        tree.cover(node, cover);
        let share = 0.02 + 0.1 * rng.uniform();
        tree.cover(leaf, cover * share);
        cover *= 1.0 - share;
        tree.cover(next, cover);
    }
    let spec = EnsembleSpec {
        base_offset: vec![0.25],
        ..spec(distinct, 1, rules)
    };
    ensemble(spec, vec![tree.build(0)])
}

#[test]
fn one_row_matches_the_product_game_for_every_point_count() {
    // 2Q distinct features on the deepest path select the Q-point kernel: every compiled
    // count, 1 to 128, with features repeated along the path. Too many features for brute
    // force; the product-game oracle is exact on paths of any length.
    let mut rng = Rng::new(29);
    for (i, q) in [1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 24, 32, 64, 96, 128]
        .into_iter()
        .enumerate()
    {
        let distinct = 2 * q;
        let model = caterpillar(&mut rng, distinct, 1 + distinct / 4, ALL_RULES[i % 4]);
        let x = random_rows(&mut rng, 4, distinct);
        let oracle = |row: &[f64]| {
            Array2::from_shape_vec((distinct, 1), product_game_oracle(&model, row)).unwrap()
        };
        check_rows(&model, &x, oracle, 1e-9, &format!("{q} points"));
    }
}
