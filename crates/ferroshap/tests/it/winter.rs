//! Winter values over hierarchies of groups of any size against two brute-force oracles on
//! small made-up games: the definition (each feature's mean marginal contribution over every
//! ordering in which each group's features are contiguous), and the level formula written
//! out by enumerating every subset of the features and keeping those that are unions of
//! whole siblings at each level of the feature's path. A flat hierarchy must give the Exact
//! estimator's Shapley values, a binary one the exact Owen values; a ferroshap tree ensemble
//! evaluated from its trees must give what predicting masked rows gives.
//!
//! Tolerances: every side sums the same coalition values (outputs of order 1) with the same
//! weights in different orders, a few thousand terms at most, so they agree to rounding:
//! 1e-10. Efficiency is a telescoping sum of those values, to the same rounding.

use std::sync::Arc;

use ferroshap::OutputTransform;
use ferroshap::game::winter::{GroupTree, WinterEstimator};
use ferroshap::game::{
    EngineJob, ExactEstimator, Hierarchy, OwenEstimator, PairEvaluation, Problem, explain,
    set_tree_values,
};
use ferroshap::{SplitRules, with_threads};
use ndarray::{Array2, ArrayView2};

use crate::engine::values;
use crate::kernel::{nonlinear, random_matrix};
use crate::oracle::{Rng, TreeShape, random_ensemble, random_rows};
use crate::owen::{chain, game, mean_over_contiguous_orderings, random_hierarchy};

const TOL: f64 = 1e-10;

/// A random hierarchy over `m` features: groups of 1 to 4 random live nodes until one is
/// left (wrapped in a root group when it is a single feature).
fn random_groups(rng: &mut Rng, m: usize) -> Vec<Vec<usize>> {
    let mut live: Vec<usize> = (0..m).collect();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    while live.len() > 1 || groups.is_empty() {
        let size = 1 + rng.below(live.len().min(4));
        let members = (0..size)
            .map(|_| live.swap_remove(rng.below(live.len())))
            .collect();
        groups.push(members);
        live.push(m + groups.len() - 1);
    }
    groups
}

/// Each node's features, for trees given as groups (node `m + t` = `groups[t]`).
fn node_features(m: usize, groups: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let mut features: Vec<Vec<usize>> = (0..m).map(|j| vec![j]).collect();
    for g in groups {
        let all = g.iter().flat_map(|&c| features[c].clone()).collect();
        features.push(all);
    }
    features
}

/// `1 / (n · C(n − 1, s))`.
fn shapley_weight(n: usize, s: usize) -> f64 {
    let mut binom = 1.0;
    for t in 0..s {
        binom = binom * (n - 1 - t) as f64 / (t + 1) as f64;
    }
    1.0 / (n as f64 * binom)
}

/// The level formula by enumeration: for feature `i`, every subset `S ∌ i` of all the
/// features that, at each level of `i`'s path, takes whole siblings only, weighted by the
/// product of the levels' Shapley weights.
fn level_formula(v: &[Vec<f64>], m: usize, groups: &[Vec<usize>]) -> Array2<f64> {
    let k = v[0].len();
    let features = node_features(m, groups);
    let mask = |node: usize| features[node].iter().fold(0usize, |a, &j| a | 1 << j);
    let mut parent = vec![usize::MAX; m + groups.len()];
    for (t, g) in groups.iter().enumerate() {
        for &c in g {
            parent[c] = m + t;
        }
    }
    let mut out = Array2::zeros((m, k));
    for i in 0..m {
        let mut levels = Vec::new(); // (members of the parent, the child on the path)
        let mut node = i;
        while parent[node] != usize::MAX {
            levels.push((groups[parent[node] - m].clone(), node));
            node = parent[node];
        }
        'subsets: for s in 0..1usize << m {
            if s >> i & 1 == 1 {
                continue;
            }
            let mut weight = 1.0;
            let mut covered = 1usize << i;
            for (members, on_path) in &levels {
                let mut chosen = 0;
                for &c in members.iter().filter(|&&c| c != *on_path) {
                    let b = mask(c);
                    covered |= b;
                    match s & b {
                        0 => {}
                        x if x == b => chosen += 1,
                        _ => continue 'subsets,
                    }
                }
                weight *= shapley_weight(members.len(), chosen);
            }
            debug_assert_eq!(covered, (1 << m) - 1);
            for o in 0..k {
                out[[i, o]] += weight * (v[s | 1 << i][o] - v[s][o]);
            }
        }
    }
    out
}

fn winter(m: usize, groups: Vec<Vec<usize>>) -> WinterEstimator {
    WinterEstimator::new(Arc::new(GroupTree::new(m, groups).unwrap())).unwrap()
}

fn max_diff(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>) -> f64 {
    a.iter()
        .zip(b.iter())
        .fold(0.0, |acc, (x, y)| acc.max((x - y).abs()))
}

#[test]
fn winter_values_equal_both_brute_force_oracles_and_are_efficient() {
    let mut rng = Rng::new(31);
    for (case, m) in [1, 2, 3, 4, 5, 6, 7, 7, 6].into_iter().enumerate() {
        let groups = random_groups(&mut rng, m);
        let features = node_features(m, &groups);
        let background = random_matrix(&mut rng, 4, m);
        let x = random_matrix(&mut rng, 3, m);
        let got = values(nonlinear, &x, &background, winter(m, groups.clone()), 37);
        // Each distinct coalition is planned once per row: the closed-form count.
        let tree = GroupTree::new(m, groups.clone()).unwrap();
        let fnull = vec![0.0; 2];
        let problem = Problem::new(x.view(), background.view(), None, &fnull).unwrap();
        let job = EngineJob::start(problem, winter(m, groups.clone())).unwrap();
        assert_eq!(
            job.n_evaluations(),
            3 * 4 * tree.n_coalitions(),
            "case {case}"
        );
        let fnull = nonlinear(background.view())
            .mean_axis(ndarray::Axis(0))
            .unwrap();
        let fx = nonlinear(x.view());
        for i in 0..3 {
            let v = game(nonlinear, &x.row(i).to_vec(), &background);
            let got_i = got.values.index_axis(ndarray::Axis(0), i);
            let by_orderings = mean_over_contiguous_orderings(&v, m, &features[m..]);
            let by_levels = level_formula(&v, m, &groups);
            let d1 = max_diff(got_i, by_orderings.view());
            let d2 = max_diff(got_i, by_levels.view());
            assert!(
                d1 < TOL,
                "case {case} ({groups:?}) row {i}: orderings differ by {d1}"
            );
            assert!(
                d2 < TOL,
                "case {case} ({groups:?}) row {i}: levels differ by {d2}"
            );
            for o in 0..2 {
                let total: f64 = got_i.column(o).sum();
                let gap = (total - (fx[[i, o]] - fnull[o])).abs();
                assert!(
                    gap < TOL,
                    "case {case} row {i} output {o}: efficiency gap {gap}"
                );
            }
        }
    }
}

#[test]
fn a_flat_hierarchy_gives_shapley_values_and_a_binary_one_owen_values() {
    let mut rng = Rng::new(32);
    for m in [1, 3, 6, 8] {
        let background = random_matrix(&mut rng, 5, m);
        let x = random_matrix(&mut rng, 3, m);
        let shapley = values(nonlinear, &x, &background, ExactEstimator::new(None, 0), 64);
        let flat = values(
            nonlinear,
            &x,
            &background,
            winter(m, vec![(0..m).collect()]),
            64,
        );
        let d = max_diff(
            shapley
                .values
                .view()
                .into_shape_with_order((3, 2 * m))
                .unwrap(),
            flat.values
                .view()
                .into_shape_with_order((3, 2 * m))
                .unwrap(),
        );
        assert!(d < TOL, "flat m={m}: {d}");
    }
    for (case, m) in [(0, 2), (1, 5), (2, 8), (3, 6)] {
        let rows = if case == 3 {
            chain(m)
        } else {
            random_hierarchy(&mut rng, m)
        };
        // The same tree as groups of two: linkage row t is group t, node m + t in both.
        let groups = rows
            .iter()
            .map(|&(l, r, _)| vec![l as usize, r as usize])
            .collect();
        let background = random_matrix(&mut rng, 5, m);
        let x = random_matrix(&mut rng, 3, m);
        let h = Arc::new(Hierarchy::from_linkage(&rows).unwrap());
        let owen = values(
            nonlinear,
            &x,
            &background,
            OwenEstimator::new(vec![h], None, 0),
            64,
        );
        let binary = values(nonlinear, &x, &background, winter(m, groups), 64);
        let d = max_diff(
            owen.values
                .view()
                .into_shape_with_order((3, 2 * m))
                .unwrap(),
            binary
                .values
                .view()
                .into_shape_with_order((3, 2 * m))
                .unwrap(),
        );
        assert!(d < TOL, "binary case {case}: {d}");
    }
}

#[test]
fn values_do_not_depend_on_batch_size_or_threads() {
    let mut rng = Rng::new(33);
    let m = 7;
    let groups = vec![vec![0, 1, 2], vec![3, 4], vec![7, 8, 5], vec![9, 6]];
    let background = random_matrix(&mut rng, 6, m);
    let x = random_matrix(&mut rng, 5, m);
    let reference = values(
        nonlinear,
        &x,
        &background,
        winter(m, groups.clone()),
        1 << 20,
    );
    for (threads, batch) in [(1, 5), (3, 17), (2, 1000)] {
        let got = with_threads(Some(threads), || {
            values(nonlinear, &x, &background, winter(m, groups.clone()), batch)
        })
        .unwrap();
        assert_eq!(got.values, reference.values);
    }
}

#[test]
fn a_tree_ensemble_evaluated_from_its_trees_gives_the_masked_rows_values() {
    let mut rng = Rng::new(34);
    let m = 6;
    let shape = TreeShape {
        max_depth: 5,
        n_features: m,
        leaf_width: 1,
        categorical: false,
        zero_covers: false,
    };
    let model = random_ensemble(&mut rng, &shape, 12, 1, SplitRules::XGBOOST);
    let predict = |rows: ArrayView2<'_, f64>| model.predict_margin(rows);
    let x = random_rows(&mut rng, 3, m);
    let background = random_rows(&mut rng, 40, m);
    let groups = vec![vec![0, 1], vec![2, 3, 4], vec![5], vec![6, 7, 8]];
    let want = explain(
        predict,
        x.view(),
        background.view(),
        None,
        winter(m, groups.clone()),
        97,
    )
    .unwrap();
    let bg_out = predict(background.view()).unwrap();
    let fnull = vec![bg_out.column(0).mean().unwrap()];
    let problem = Problem::new(x.view(), background.view(), None, &fnull).unwrap();
    let mut job = EngineJob::start(problem, winter(m, groups)).unwrap();
    let done = set_tree_values(
        &mut job,
        &model,
        OutputTransform::Margin,
        PairEvaluation::Auto,
    )
    .unwrap();
    assert!(done, "six columns fit the tree game");
    let got = job.finish(predict(x.view()).unwrap().view()).unwrap();
    let scale = bg_out.iter().fold(1.0f64, |a, v| a.max(v.abs()));
    for (g, w) in got.values.iter().zip(want.values.iter()) {
        assert!((g - w).abs() < TOL * scale, "{g} vs {w}");
    }
}

#[test]
fn a_hierarchy_over_other_columns_than_the_data_is_refused() {
    let x = Array2::zeros((1, 3));
    let background = Array2::zeros((2, 3));
    let err = explain(
        |rows| Ok(Array2::zeros((rows.nrows(), 1))),
        x.view(),
        background.view(),
        None,
        winter(4, vec![vec![0, 1, 2, 3]]),
        10,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("over 4 features but the data has 3"),
        "{err}"
    );
}
