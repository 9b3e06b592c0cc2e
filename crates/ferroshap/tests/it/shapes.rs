//! Path-dependent Tree SHAP on the shapes users train: deep trees (depth 12-16), wide models
//! (1,000 features), many outputs (10 classes), single rows, and paths longer than the
//! quadrature tables go. Too big for brute force: the fast pass is checked against the
//! classic recursion (an independent algorithm for the same game) and against the model's
//! own margin (additivity).

use ferroshap::tree_shap::path_dependent;
use ferroshap::{SplitRules, TreeEnsemble};
use ndarray::{Array2, Axis, s};

use crate::builder::{TreeBuilder, ensemble, spec};
use crate::oracle::{Rng, TreeShape, random_ensemble, random_rows};

/// Largest |value| in `a`, at least 1: the scale tolerances are relative to.
pub fn scale(a: impl IntoIterator<Item = f64>) -> f64 {
    a.into_iter().fold(1.0f64, |m, v| m.max(v.abs()))
}

/// Fast pass == classic recursion, and values + base == margin, each to 1e-9 of the scale.
/// Both sides are f64 sums of the same terms in different orders (the fast pass adds
/// quadrature rounding, about 1e-15 relative per term), so 1e-9 leaves a wide margin while
/// still catching any wrong term, which moves values by the size of a leaf value (~0.1-1).
fn check_against_reference(model: &TreeEnsemble, x: &Array2<f64>, what: &str) {
    let fast = path_dependent::shap_values(model, x.view()).unwrap();
    let reference = path_dependent::shap_values_reference(model, x.view()).unwrap();
    let tol = 1e-9 * scale(reference.values.iter().copied());
    for (a, b) in fast.values.iter().zip(reference.values.iter()) {
        assert!((a - b).abs() <= tol, "{what}: fast {a} vs classic {b}");
    }
    let margin = model.predict_margin(x.view()).unwrap();
    let tol = 1e-9 * scale(margin.iter().copied());
    for (r, row) in fast.values.axis_iter(Axis(0)).enumerate() {
        for k in 0..model.n_outputs() {
            let total = row.slice(s![.., k]).sum() + fast.base_values[k];
            let want = margin[[r, k]];
            assert!(
                (total - want).abs() <= tol,
                "{what}: row {r} output {k}: {total} vs {want}"
            );
        }
    }
}

#[test]
fn deep_trees_match_the_classic_recursion() {
    let mut rng = Rng::new(1201);
    for depth in [12, 14, 16] {
        let shape = TreeShape {
            max_depth: depth,
            n_features: 40,
            leaf_width: 1,
            categorical: true,
            zero_covers: true,
        };
        let model = random_ensemble(&mut rng, &shape, 12, 1, SplitRules::XGBOOST);
        let x = random_rows(&mut rng, 40, 40);
        check_against_reference(&model, &x, &format!("depth {depth}"));
    }
}

#[test]
fn wide_models_match_the_classic_recursion() {
    let mut rng = Rng::new(1000);
    let shape = TreeShape {
        max_depth: 8,
        n_features: 1000,
        leaf_width: 1,
        categorical: false,
        zero_covers: false,
    };
    let model = random_ensemble(&mut rng, &shape, 60, 1, SplitRules::LIGHTGBM);
    let x = random_rows(&mut rng, 70, 1000);
    check_against_reference(&model, &x, "1,000 features");
}

#[test]
fn ten_class_models_match_the_classic_recursion() {
    let mut rng = Rng::new(10);
    let shape = TreeShape {
        max_depth: 7,
        n_features: 30,
        leaf_width: 1,
        categorical: true,
        zero_covers: false,
    };
    let model = random_ensemble(&mut rng, &shape, 100, 10, SplitRules::XGBOOST);
    let x = random_rows(&mut rng, 33, 30);
    check_against_reference(&model, &x, "10 classes");
}

#[test]
fn single_rows_equal_the_batch() {
    // One row at a time takes other code paths (a walk vectorised over quadrature points;
    // blocks of trees in parallel) than a batch (blocks of 16 rows in lanes); the values must
    // agree up to the order of the sums: 1e-12 of the scale.
    let mut rng = Rng::new(1);
    let shape = TreeShape {
        max_depth: 9,
        n_features: 25,
        leaf_width: 1,
        categorical: true,
        zero_covers: true,
    };
    let model = random_ensemble(&mut rng, &shape, 90, 3, SplitRules::SKLEARN_TREE);
    let x = random_rows(&mut rng, 70, 25);
    let batch = path_dependent::shap_values(&model, x.view()).unwrap();
    let tol = 1e-12 * scale(batch.values.iter().copied());
    for r in 0..x.nrows() {
        let one = path_dependent::shap_values(&model, x.slice(s![r..r + 1, ..])).unwrap();
        for (a, b) in one
            .values
            .iter()
            .zip(batch.values.index_axis(Axis(0), r).iter())
        {
            assert!((a - b).abs() <= tol, "row {r}: alone {a} vs in a batch {b}");
        }
    }
    check_against_reference(&model, &x.slice(s![..1, ..]).to_owned(), "one row");
}

/// A chain: split i tests feature i, its left child is a leaf, its right child split i + 1.
fn chain(n_features: usize) -> TreeEnsemble {
    let mut tree = TreeBuilder::new(1);
    let mut cover = 1000.0;
    // Every chain node is worth 5 while it is a leaf: only the last one stays one.
    let mut node = tree.node(cover, &[5.0]);
    for i in 0..n_features {
        let leaf = tree.node(cover * 0.1, &[(i % 7) as f64 - 3.0]);
        cover *= 0.9;
        let next = tree.node(cover, &[5.0]);
        tree.split(node, i, 0.0, leaf, next);
        node = next;
    }
    ensemble(
        spec(n_features, 1, SplitRules::SKLEARN_HIST),
        vec![tree.build(0)],
    )
}

/// Per feature on a path: (feature, o, z).
type Path = Vec<(usize, f64, f64)>;

/// Exact path-dependent SHAP values of one row for a single-tree model, leaf by leaf: each
/// leaf is a product game over the distinct features U on its path, and
/// `phi_i += v (o_i - z_i) int_0^1 prod_{j in U, j != i} (p o_j + (1 - p) z_j) dp`.
/// With the features that pass (`o = 1`, set A) and fail (set B), the integrand is
/// `(1 - p)^|B| prod_B z * sum_k e_k(z_A) (1 - p)^k p^(|A| - k)` (e_k: elementary symmetric
/// polynomials), integrated exactly by the Beta function: every term is positive, so this
/// stays accurate on paths of any length (unlike the classic recursion's unwinding).
pub fn product_game_oracle(model: &TreeEnsemble, row: &[f64]) -> Vec<f64> {
    let tree = &model.trees()[0];
    let rules = model.rules();
    let m = model.n_features();
    let ln_fact: Vec<f64> = std::iter::once(0.0)
        .chain((1..=2 * tree.max_depth() + 2).scan(0.0, |acc, k| {
            *acc += (k as f64).ln();
            Some(*acc)
        }))
        .collect();
    // int_0^1 p^a (1 - p)^b dp = a! b! / (a + b + 1)!
    let beta = |a: usize, b: usize| (ln_fact[a] + ln_fact[b] - ln_fact[a + b + 1]).exp();
    let mut phi = vec![0.0; m];
    // (node, per feature on the path: (o, z))
    let mut stack: Vec<(usize, Path)> = vec![(0, Vec::new())];
    while let Some((node, path)) = stack.pop() {
        if tree.is_leaf(node) {
            let v = tree.leaf_value(node)[0];
            for (i, &(fi, oi, zi)) in path.iter().enumerate() {
                let mut zb = 1.0;
                let mut nb = 0;
                let mut e = vec![1.0]; // elementary symmetric polynomials of z over A
                for (j, &(_, o, z)) in path.iter().enumerate() {
                    if j == i {
                        continue;
                    }
                    if o == 0.0 {
                        zb *= z;
                        nb += 1;
                    } else {
                        e.push(0.0);
                        for k in (1..e.len()).rev() {
                            e[k] += z * e[k - 1];
                        }
                    }
                }
                let na = e.len() - 1;
                let integral: f64 = e
                    .iter()
                    .enumerate()
                    .map(|(k, ek)| ek * beta(na - k, k + nb))
                    .sum();
                phi[fi] += v * (oi - zi) * zb * integral;
            }
            continue;
        }
        let f = tree.feature(node);
        let goes = tree.next(node, rules.prepare(row[f]), rules);
        let (l, r) = tree.children(node);
        for child in [l, r] {
            let mut path = path.clone();
            let o = if goes == child { 1.0 } else { 0.0 };
            let z = tree.cover_ratio(child);
            match path.iter_mut().find(|(g, _, _)| *g == f) {
                Some(entry) => {
                    entry.1 *= o;
                    entry.2 *= z;
                }
                None => path.push((f, o, z)),
            }
            stack.push((child, path));
        }
    }
    phi
}

#[test]
fn long_paths_match_an_exact_oracle() {
    // 60 distinct features on a path need 30 points (the 32-point kernel), 140 need 70 (the
    // 96-point kernel). The classic recursion loses accuracy on such paths (its unwinding
    // divides by path weights that shrink with depth: 1e-4 relative at 60, nonsense at 140),
    // so the check is the leaf-by-leaf oracle, to 1e-9 of the scale (the oracle's Beta values
    // carry ~1e-13 relative error from their log-factorials).
    for n_features in [60, 140] {
        let model = chain(n_features);
        let mut rng = Rng::new(n_features as u64);
        // Mostly positive values so rows run deep down the chain.
        let x = Array2::from_shape_fn((5, n_features), |_| rng.uniform() - 0.02);
        let fast = path_dependent::shap_values(&model, x.view()).unwrap();
        for r in 0..x.nrows() {
            let want = product_game_oracle(&model, x.row(r).as_slice().unwrap());
            let tol = 1e-9 * scale(want.iter().copied());
            for (i, w) in want.iter().enumerate() {
                let got = fast.values[[r, i, 0]];
                assert!(
                    (got - w).abs() <= tol,
                    "chain of {n_features}, row {r}, feature {i}: {got} vs {w}"
                );
            }
        }
    }
}

#[test]
fn tables_stay_within_a_small_factor_of_the_model() {
    // Per node the tables hold 17 + 8 Q bytes (Q = ceil(distinct features on the deepest
    // path / 2)) against the model's ~49: at most 2x the model for depth <= 16.
    let mut rng = Rng::new(49);
    for depth in [6, 8, 12, 16] {
        let shape = TreeShape {
            max_depth: depth,
            n_features: 50,
            leaf_width: 1,
            categorical: false,
            zero_covers: false,
        };
        let model = random_ensemble(&mut rng, &shape, 20, 1, SplitRules::XGBOOST);
        let tables = ferroshap::tree_shap::PathDependent::new(&model).table_bytes();
        let own = model.size_bytes();
        assert!(
            tables > 0 && tables <= 2 * own,
            "depth {depth}: tables {tables} B, model {own} B"
        );
    }
}

#[test]
fn paths_beyond_the_tables_are_refused() {
    let model = chain(300);
    let x = Array2::<f64>::zeros((2, 300));
    let err = path_dependent::shap_values(&model, x.view()).unwrap_err();
    assert!(
        err.to_string().contains("more than 256 distinct features"),
        "{err}"
    );
}
