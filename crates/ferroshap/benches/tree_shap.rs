//! Criterion benchmark of the path-dependent Tree SHAP kernel alone (no Python, no parsing):
//! random full trees shaped like the `benches/bench_tree.py` cases, explained in f64.
//!
//!     cargo bench -p ferroshap --bench tree_shap
//!
//! Thread count: rayon's default (all cores) unless RAYON_NUM_THREADS is set.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferroshap::rng::Rng;
use ferroshap::tree_shap::path_dependent;
use ferroshap::{EnsembleSpec, Link, RawTree, SplitRules, TreeEnsemble};
use ndarray::Array2;

const N_FEATURES: usize = 50;

/// A full binary tree of `depth` on random features with random thresholds and covers.
fn random_tree(depth: usize, rng: &mut Rng) -> RawTree {
    let n = (1usize << (depth + 1)) - 1;
    let internal = (1usize << depth) - 1;
    let mut tree = RawTree {
        left: vec![-1; n],
        right: vec![-1; n],
        feature: vec![0; n],
        threshold: vec![0.0; n],
        default_left: vec![false; n],
        cover: vec![0.0; n],
        value: vec![0.0; n],
        ..RawTree::default()
    };
    // Covers: the root has 1000, each split divides its cover at a random fraction.
    tree.cover[0] = 1000.0;
    for i in 0..n {
        if i < internal {
            tree.left[i] = (2 * i + 1) as i64;
            tree.right[i] = (2 * i + 2) as i64;
            tree.feature[i] = rng.below(N_FEATURES as u64) as i64;
            tree.threshold[i] = rng.next_f64() * 2.0 - 1.0;
            tree.default_left[i] = rng.below(2) == 0;
            let share = 0.1 + 0.8 * rng.next_f64();
            tree.cover[2 * i + 1] = tree.cover[i] * share;
            tree.cover[2 * i + 2] = tree.cover[i] * (1.0 - share);
        } else {
            tree.value[i] = rng.next_f64() - 0.5;
        }
    }
    tree
}

fn ensemble(n_trees: usize, depth: usize) -> TreeEnsemble {
    let mut rng = Rng::stream(7, depth as u64);
    let trees = (0..n_trees).map(|_| random_tree(depth, &mut rng)).collect();
    let spec = EnsembleSpec {
        n_features: N_FEATURES,
        n_outputs: 1,
        leaf_width: 1,
        base_offset: vec![0.0],
        rules: SplitRules::XGBOOST,
        link: Link::Identity,
        objective: "reg:squarederror".into(),
        feature_names: None,
        categorical_features: Vec::new(),
    };
    TreeEnsemble::new(spec, trees).expect("valid random ensemble")
}

fn rows(n: usize) -> Array2<f64> {
    let mut rng = Rng::stream(11, n as u64);
    Array2::from_shape_fn((n, N_FEATURES), |_| rng.next_f64() * 2.0 - 1.0)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("path_dependent");
    group.sample_size(10);
    for (n_trees, depth, n_rows) in [(100, 6, 2000), (500, 8, 200), (200, 12, 100), (500, 8, 1)] {
        let model = ensemble(n_trees, depth);
        let x = rows(n_rows);
        group.throughput(Throughput::Elements(n_rows as u64));
        group.bench_with_input(
            BenchmarkId::new(format!("{n_trees}x{depth}"), format!("{n_rows} rows")),
            &x,
            |b, x| b.iter(|| path_dependent::shap_values(&model, x.view()).expect("explains")),
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
