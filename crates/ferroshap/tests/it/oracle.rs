//! Brute-force oracle: Shapley values by subset enumeration of the path-dependent value
//! function v(S) = E[f(x) | x_S] (cover-weighted over the features outside S), on random
//! trees with repeated features along a path, missing values, categorical splits, zero covers
//! and several outputs. ferroshap must match to 1e-10 (f64 arithmetic on values of order 1;
//! the two computations differ only in summation order).

use ferroshap::ensemble::{CategoryRule, InputPrecision};
use ferroshap::tree_shap::path_dependent;
use ferroshap::{EnsembleSpec, RawTree, SplitRules, Tree, TreeEnsemble};
use ndarray::Array2;

use crate::builder::{TreeBuilder, ensemble, spec};

/// splitmix64: a tiny deterministic generator so the test needs no extra crate.
pub struct Rng(u64);
impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }
}

pub struct TreeShape {
    pub max_depth: usize,
    pub n_features: usize,
    pub leaf_width: usize,
    pub categorical: bool,
    pub zero_covers: bool,
}

/// A random tree in which features repeat along paths (few features, deep trees).
pub fn random_tree(rng: &mut Rng, shape: &TreeShape, output: usize) -> RawTree {
    let mut t = TreeBuilder::new(shape.leaf_width);
    t.categories_go_left(rng.chance(0.5));
    fn grow(t: &mut TreeBuilder, rng: &mut Rng, s: &TreeShape, depth: usize, cover: f64) -> usize {
        let default_left = rng.chance(0.5);
        let value: Vec<f64> = (0..s.leaf_width)
            .map(|_| rng.uniform() * 2.0 - 1.0)
            .collect();
        let id = t.node(cover, &value);
        t.missing_goes_left(id, default_left);
        let stop = depth >= s.max_depth || (depth > 0 && rng.chance(0.2));
        if stop {
            return id;
        }
        let feature = rng.below(s.n_features);
        let categories: Option<Vec<u32>> = (s.categorical && rng.chance(0.3))
            .then(|| (0..6).filter(|_| rng.chance(0.5)).collect());
        let threshold = if categories.is_none() {
            // Thresholds on a coarse grid so that rows often land exactly on them.
            let threshold = rng.below(9) as f64 * 0.25 - 1.0;
            t.zero_is_missing(id, rng.chance(0.1));
            threshold
        } else {
            0.0
        };
        let share = if s.zero_covers && rng.chance(0.1) {
            0.0
        } else {
            0.05 + 0.9 * rng.uniform()
        };
        // Child covers need not add up to the parent's (XGBoost's hessian sums do not).
        let wobble = 1.0 + 1e-3 * (rng.uniform() - 0.5);
        let l = grow(t, rng, s, depth + 1, cover * share * wobble);
        let r = grow(t, rng, s, depth + 1, cover * (1.0 - share));
        match categories {
            Some(set) => t.categorical(id, feature, set, l, r),
            None => t.split(id, feature, threshold, l, r),
        }
        id
    }
    let root_cover = 100.0 + 100.0 * rng.uniform();
    grow(&mut t, rng, shape, 0, root_cover);
    t.build(output)
}

pub fn random_rows(rng: &mut Rng, n: usize, m: usize) -> Array2<f64> {
    Array2::from_shape_fn((n, m), |_| match rng.below(10) {
        0 => f64::NAN,
        1 => 0.0,
        2 => rng.below(9) as f64 * 0.25 - 1.0, // exactly on a threshold
        3 => rng.below(8) as f64,              // a category (some unseen)
        4 => -1.0 - rng.uniform(),             // a negative "category"
        _ => rng.uniform() * 3.0 - 1.5,
    })
}

/// v(S) for one tree: the cover-weighted expectation given the features in `known`.
fn conditional_expectation(
    tree: &Tree,
    rules: &SplitRules,
    node: usize,
    row: &[f64],
    known: u32,
) -> Vec<f64> {
    if tree.is_leaf(node) {
        return tree.leaf_value(node).to_vec();
    }
    let f = tree.feature(node);
    if known & (1 << f) != 0 {
        return conditional_expectation(tree, rules, tree.next(node, row[f], rules), row, known);
    }
    let (l, r) = tree.children(node);
    let vl = conditional_expectation(tree, rules, l, row, known);
    let vr = conditional_expectation(tree, rules, r, row, known);
    vl.iter()
        .zip(&vr)
        .map(|(a, b)| tree.cover_ratio(l) * a + tree.cover_ratio(r) * b)
        .collect()
}

/// Shapley values of every feature and output by enumerating all subsets: (M, K).
pub fn brute_force(model: &TreeEnsemble, raw_row: &[f64]) -> Array2<f64> {
    let values = path_dependent_game(model, raw_row);
    shapley_by_enumeration(&values, model.n_features(), model.n_outputs())
}

/// v(S) of the path-dependent game for every subset S (as a bitmask), per output.
pub fn path_dependent_game(model: &TreeEnsemble, raw_row: &[f64]) -> Vec<Vec<f64>> {
    let m = model.n_features();
    let rules = model.rules();
    let row: Vec<f64> = raw_row.iter().map(|&x| rules.prepare(x)).collect();
    let value = |known: u32| -> Vec<f64> {
        let mut v = model.base_offset().to_vec();
        for tree in model.trees() {
            for (j, e) in conditional_expectation(tree, rules, 0, &row, known)
                .into_iter()
                .enumerate()
            {
                v[tree.output() + j] += e;
            }
        }
        v
    };
    (0..1u32 << m).map(value).collect()
}

/// Shapley values (M, K) from the value of every subset (`values[set]`, sets as bitmasks).
pub fn shapley_by_enumeration(values: &[Vec<f64>], m: usize, k: usize) -> Array2<f64> {
    let fact = |n: usize| (1..=n).product::<usize>() as f64;
    let mut phi = Array2::<f64>::zeros((m, k));
    for i in 0..m {
        for s in 0..1usize << m {
            if s & (1 << i) != 0 {
                continue;
            }
            let size = s.count_ones() as usize;
            let w = fact(size) * fact(m - size - 1) / fact(m);
            for o in 0..k {
                phi[[i, o]] += w * (values[s | (1 << i)][o] - values[s][o]);
            }
        }
    }
    phi
}

/// The small mixed ensembles several oracle tests cycle through: case `c` has depth
/// `1 + c % 7`, `1 + c % 6` features, categorical splits in even cases, `1 + c % 5` trees,
/// `1 + c % 3` outputs and each library's routing rules in turn.
pub fn mixed_ensemble(rng: &mut Rng, case: usize, zero_covers: bool) -> TreeEnsemble {
    let shape = TreeShape {
        max_depth: 1 + case % 7,
        n_features: 1 + case % 6,
        leaf_width: 1,
        categorical: case % 2 == 0,
        zero_covers,
    };
    random_ensemble(rng, &shape, 1 + case % 5, 1 + case % 3, ALL_RULES[case % 4])
}

/// The small vector-leaf ensembles (3 outputs per leaf) several oracle tests cycle through:
/// case `c` has depth and features `2 + c % 5` and `1 + c % 4` trees.
pub fn vector_leaf_ensemble(
    rng: &mut Rng,
    case: usize,
    categorical: bool,
    rules: SplitRules,
) -> TreeEnsemble {
    let shape = TreeShape {
        max_depth: 2 + case % 5,
        n_features: 2 + case % 5,
        leaf_width: 3,
        categorical,
        zero_covers: false,
    };
    random_ensemble(rng, &shape, 1 + case % 4, 3, rules)
}

pub fn random_ensemble(
    rng: &mut Rng,
    shape: &TreeShape,
    n_trees: usize,
    n_outputs: usize,
    rules: SplitRules,
) -> TreeEnsemble {
    let trees = (0..n_trees)
        .map(|t| {
            let output = if shape.leaf_width == n_outputs {
                0
            } else {
                t % n_outputs
            };
            random_tree(rng, shape, output)
        })
        .collect();
    let spec = EnsembleSpec {
        leaf_width: shape.leaf_width,
        base_offset: (0..n_outputs).map(|o| 0.1 * o as f64 - 0.3).collect(),
        ..spec(shape.n_features, n_outputs, rules)
    };
    ensemble(spec, trees)
}

fn check_against_oracle(model: &TreeEnsemble, x: &Array2<f64>) {
    let explanation = path_dependent::shap_values(model, x.view()).unwrap();
    let margin = model.predict_margin(x.view()).unwrap();
    for r in 0..x.nrows() {
        let row = x.row(r).to_vec();
        let expected = brute_force(model, &row);
        for f in 0..model.n_features() {
            for o in 0..model.n_outputs() {
                let got = explanation.values[[r, f, o]];
                let want = expected[[f, o]];
                assert!(
                    (got - want).abs() < 1e-10,
                    "row {r} feature {f} output {o}: {got} vs oracle {want}"
                );
            }
        }
        for o in 0..model.n_outputs() {
            let total: f64 = (0..model.n_features())
                .map(|f| explanation.values[[r, f, o]])
                .sum();
            let want = margin[[r, o]];
            assert!(
                (total + explanation.base_values[o] - want).abs() < 1e-10,
                "row {r} output {o}: additivity {} vs margin {want}",
                total + explanation.base_values[o]
            );
        }
    }
}

/// Every library's routing rules.
pub const ALL_RULES: [SplitRules; 4] = [
    SplitRules::XGBOOST,
    SplitRules::LIGHTGBM,
    SplitRules::SKLEARN_TREE,
    SplitRules::SKLEARN_HIST,
];

#[test]
fn path_dependent_matches_brute_force_on_random_trees() {
    let mut rng = Rng::new(7);
    for case in 0..60 {
        let model = mixed_ensemble(&mut rng, case, case % 3 == 0);
        let x = random_rows(&mut rng, 12, model.n_features());
        check_against_oracle(&model, &x);
    }
}

#[test]
fn path_dependent_matches_brute_force_with_vector_leaves() {
    let mut rng = Rng::new(11);
    for case in 0..20 {
        let model = vector_leaf_ensemble(&mut rng, case, case % 2 == 1, SplitRules::SKLEARN_TREE);
        let x = random_rows(&mut rng, 8, model.n_features());
        check_against_oracle(&model, &x);
    }
}

#[test]
fn deep_trees_with_few_features_match_brute_force() {
    // Depth 12 over 4 features: every feature repeats many times along each path.
    let mut rng = Rng::new(3);
    let shape = TreeShape {
        max_depth: 12,
        n_features: 4,
        leaf_width: 1,
        categorical: false,
        zero_covers: false,
    };
    let model = random_ensemble(&mut rng, &shape, 3, 1, SplitRules::LIGHTGBM);
    let x = random_rows(&mut rng, 10, 4);
    check_against_oracle(&model, &x);
}

#[test]
fn result_does_not_depend_on_thread_count_or_layout() {
    let mut rng = Rng::new(5);
    let shape = TreeShape {
        max_depth: 6,
        n_features: 5,
        leaf_width: 1,
        categorical: true,
        zero_covers: true,
    };
    let model = random_ensemble(&mut rng, &shape, 40, 2, SplitRules::XGBOOST);
    for n_rows in [3, 200] {
        let x = random_rows(&mut rng, n_rows, 5);
        let one =
            ferroshap::with_threads(Some(1), || path_dependent::shap_values(&model, x.view()))
                .unwrap()
                .unwrap();
        let three =
            ferroshap::with_threads(Some(3), || path_dependent::shap_values(&model, x.view()))
                .unwrap()
                .unwrap();
        assert_eq!(
            one.values, three.values,
            "bitwise identical across thread counts"
        );
        let transposed = x.t().as_standard_layout().into_owned();
        let fortran = transposed.t();
        assert!(!fortran.is_standard_layout());
        let f = path_dependent::shap_values(&model, fortran.view()).unwrap();
        assert_eq!(
            one.values, f.values,
            "Fortran-ordered input gives the same values"
        );
        let x32 = x.mapv(|v| v as f32);
        let a = path_dependent::shap_values(&model, x32.view()).unwrap();
        let b = path_dependent::shap_values(&model, x32.mapv(f64::from).view()).unwrap();
        assert_eq!(
            a.values, b.values,
            "f32 input is read exactly as its f64 widening"
        );
    }
}

#[test]
fn split_rules_route_like_the_libraries() {
    let x = SplitRules::XGBOOST;
    assert_eq!(x.input, InputPrecision::F32);
    // f32 rounding: 0.1 (f64) rounds to the f32 0.1, which is slightly larger than 0.1 f64.
    assert_eq!(x.prepare(0.1), 0.1f32 as f64);
    assert_eq!(x.category(3.7), Some(3));
    assert_eq!(
        x.category(-0.5),
        None,
        "XGBoost: any negative value is an invalid category"
    );
    assert_eq!(x.category(16_777_216.0), None);
    let l = SplitRules::LIGHTGBM;
    assert_eq!(l.prepare(1e-36), 0.0, "LightGBM reads |x| <= 1e-35 as zero");
    // ... where 1e-35 is the float 1e-35f, slightly above the f64 1e-35.
    assert_eq!(l.prepare(-1.0000000180025095e-35), 0.0);
    assert_eq!(l.prepare(1.00000002e-35), 1.00000002e-35);
    assert_eq!(l.prepare(-1e-30), -1e-30);
    assert_eq!(
        l.category(-0.5),
        Some(0),
        "LightGBM truncates before the sign check"
    );
    assert_eq!(l.category(-1.0), None);
    assert_eq!(l.category, CategoryRule::LightGBM);
}

fn stump_tree(left: Vec<i64>, right: Vec<i64>, feature: Vec<i64>) -> RawTree {
    let n = left.len();
    RawTree {
        left,
        right,
        feature,
        threshold: vec![0.5; n],
        default_left: vec![true; n],
        cover: vec![1.0; n],
        value: vec![1.0; n],
        ..RawTree::default()
    }
}

fn build(tree: RawTree) -> ferroshap::Result<TreeEnsemble> {
    TreeEnsemble::new(spec(2, 1, SplitRules::XGBOOST), vec![tree])
}

#[test]
fn invalid_trees_are_rejected_with_a_reason() {
    let cases = [
        (
            stump_tree(vec![1, -1, -1], vec![5, -1, -1], vec![0, 0, 0]),
            "out of range",
        ),
        (
            stump_tree(vec![1, 0, -1], vec![2, 2, -1], vec![0, 0, 0]),
            "reached twice",
        ),
        (
            stump_tree(vec![1, -1, -1], vec![2, -1, -1], vec![7, 0, 0]),
            "feature 7",
        ),
        (
            stump_tree(vec![1, -1, -1, -1], vec![2, -1, -1, -1], vec![0, 0, 0, 0]),
            "cannot be reached",
        ),
        (stump_tree(vec![], vec![], vec![]), "no nodes"),
    ];
    for (tree, needle) in cases {
        let err = build(tree).unwrap_err().to_string();
        assert!(err.contains(needle), "{err:?} should mention {needle:?}");
    }
    let mut nan_leaf = stump_tree(vec![1, -1, -1], vec![2, -1, -1], vec![0, 0, 0]);
    nan_leaf.value[2] = f64::NAN;
    assert!(
        build(nan_leaf)
            .unwrap_err()
            .to_string()
            .contains("non-finite")
    );
}

#[test]
fn wrong_feature_count_is_an_error() {
    let model = build(stump_tree(vec![1, -1, -1], vec![2, -1, -1], vec![0, 0, 0])).unwrap();
    let x = Array2::<f64>::zeros((2, 3));
    let err = path_dependent::shap_values(&model, x.view())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("3 features") && err.contains("2 features"),
        "{err}"
    );
}

#[test]
fn quadrature_matches_the_classic_recursion_on_deep_wide_trees() {
    // Too many features for brute force: check the fast pass against the classic algorithm,
    // an independent implementation of the same game. Depth up to 18 needs 9 quadrature
    // points; 1e-9 relative to the largest |value| allows for rounding in both.
    let mut rng = Rng::new(13);
    for (depth, n_features) in [(10, 30), (14, 12), (18, 40), (16, 3)] {
        let shape = TreeShape {
            max_depth: depth,
            n_features,
            leaf_width: 2,
            categorical: true,
            zero_covers: true,
        };
        let model = random_ensemble(&mut rng, &shape, 4, 2, SplitRules::XGBOOST);
        let x = random_rows(&mut rng, 20, n_features);
        let fast = path_dependent::shap_values(&model, x.view()).unwrap();
        let reference = path_dependent::shap_values_reference(&model, x.view()).unwrap();
        let scale = reference.values.iter().fold(1.0f64, |a, v| a.max(v.abs()));
        for (a, b) in fast.values.iter().zip(reference.values.iter()) {
            assert!((a - b).abs() <= 1e-9 * scale, "depth {depth}: {a} vs {b}");
        }
    }
}
