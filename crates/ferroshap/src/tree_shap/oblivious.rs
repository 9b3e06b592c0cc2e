//! Path-dependent Tree SHAP for oblivious trees (CatBoost) by table lookup.
//!
//! In an oblivious tree every node of a level has the same split, so a row's SHAP values in
//! that tree depend on the row only through its d split outcomes: a d-bit pattern. Per tree,
//! the values of every pattern a row can produce are computed once, by the exact
//! path-dependent algorithm on one representative row per pattern; a row then costs d
//! comparisons and d additions per tree instead of a walk over all 2^(d+1) - 1 nodes. A row
//! whose pattern has no entry (a representative was not found for it) is explained by the
//! general algorithm, so the result is exact either way.

use ndarray::{Array2, ArrayView2, s};
use rayon::prelude::*;

use super::{ShapValues, path_dependent};
use crate::Scalar;
use crate::ensemble::{EnsembleSpec, Link, SplitRules, Tree, TreeEnsemble};
use crate::error::Result;

/// Deepest oblivious tree tabulated (2^12 patterns per tree).
const MAX_DEPTH: usize = 12;
/// Rows explained together, tree by tree.
const BLOCK: usize = 64;
/// Fewest rows worth tabulating even shallow trees for (a table costs a small ensemble).
const MIN_ROWS: usize = 64;

/// Path-dependent SHAP values by table lookup when every tree is oblivious and `x` has at
/// least as many rows as a tree has patterns, and at least 64 (below that, tabulating costs
/// more than it saves); `None` otherwise. Equal to [`path_dependent::shap_values`].
pub fn shap_values<F: Scalar>(
    model: &TreeEnsemble,
    x: ArrayView2<'_, F>,
) -> Result<Option<ShapValues>> {
    Ok(with_misses(model, x)?.map(|(values, _)| values))
}

/// [`shap_values`] and how many rows went to the general algorithm.
fn with_misses<F: Scalar>(
    model: &TreeEnsemble,
    x: ArrayView2<'_, F>,
) -> Result<Option<(ShapValues, usize)>> {
    model.check_features(x.ncols())?;
    let depth = model.max_depth();
    if model.trees().is_empty()
        || depth == 0
        || depth > MAX_DEPTH
        || x.nrows() < (1 << depth).max(MIN_ROWS)
    {
        return Ok(None);
    }
    let Some(levels) = model
        .trees()
        .iter()
        .map(levels)
        .collect::<Option<Vec<Vec<usize>>>>()
    else {
        return Ok(None);
    };
    let tables = model
        .trees()
        .par_iter()
        .zip(&levels)
        .map(|(tree, levels)| TreeTable::new(model, tree, levels))
        .collect::<Result<Vec<_>>>()?;

    let (n, m, k) = (x.nrows(), model.n_features(), model.n_outputs());
    let mut values = ndarray::Array3::<f64>::zeros((n, m, k));
    let mut missed = vec![false; n];
    // Blocks of rows, one tree at a time: a tree's table stays in cache for the whole block.
    let stride = (m * k).max(1);
    values
        .as_slice_mut()
        .expect("fresh array is contiguous")
        .par_chunks_mut(BLOCK * stride)
        .zip(missed.par_chunks_mut(BLOCK))
        .enumerate()
        .for_each(|(b, (phi, miss))| {
            if crate::parallel::cancelled() {
                return;
            }
            let rows = miss.len();
            let mut prepared = vec![0.0; rows * m];
            for (r, row) in prepared.chunks_mut(m.max(1)).enumerate().take(rows) {
                model.prepare_row(&x, b * BLOCK + r, row);
            }
            for ((tree, levels), table) in model.trees().iter().zip(&levels).zip(&tables) {
                let w = tree.leaf_width();
                for r in 0..rows {
                    let row = &prepared[r * m..(r + 1) * m];
                    let Some(entry) = table.entry(pattern(tree, levels, row, model.rules())) else {
                        miss[r] = true;
                        continue;
                    };
                    let phi = &mut phi[r * stride..(r + 1) * stride];
                    for (j, &f) in table.features.iter().enumerate() {
                        let base = f as usize * k + tree.output();
                        for c in 0..w {
                            phi[base + c] += entry[j * w + c];
                        }
                    }
                }
            }
        });
    crate::parallel::check_cancelled()?;
    // Rows with a pattern no representative produced: the general algorithm.
    let missed: Vec<usize> = (0..n).filter(|&i| missed[i]).collect();
    for &i in &missed {
        let one = path_dependent::shap_values(model, x.slice(s![i..i + 1, ..]))?;
        values
            .slice_mut(s![i, .., ..])
            .assign(&one.values.slice(s![0, .., ..]));
    }
    Ok(Some((
        ShapValues {
            values,
            base_values: model.expected_value(),
        },
        missed.len(),
    )))
}

/// One node per level (the leftmost), if the tree is oblivious: complete to one depth, with
/// the same split at every node of a level.
fn levels(tree: &Tree) -> Option<Vec<usize>> {
    let mut level = vec![0usize];
    let mut firsts = Vec::new();
    loop {
        if level.iter().all(|&n| tree.is_leaf(n)) {
            return Some(firsts);
        }
        let first = level[0];
        if level
            .iter()
            .any(|&n| tree.is_leaf(n) || !same_split(tree, first, n))
        {
            return None;
        }
        firsts.push(first);
        level = level
            .iter()
            .flat_map(|&n| {
                let (l, r) = tree.children(n);
                [l, r]
            })
            .collect();
    }
}

fn same_split(tree: &Tree, a: usize, b: usize) -> bool {
    tree.feature(a) == tree.feature(b)
        && tree.flags[a] == tree.flags[b]
        && tree.threshold(a).to_bits() == tree.threshold(b).to_bits()
        && (!tree.is_categorical(a) || tree.categories(a) == tree.categories(b))
}

/// The row's split outcomes, bit i set when level i sends it right.
#[inline]
fn pattern(tree: &Tree, levels: &[usize], row: &[f64], rules: &SplitRules) -> u32 {
    levels.iter().enumerate().fold(0, |p, (i, &node)| {
        p | ((!tree.goes_left(node, row[tree.feature(node)], rules)) as u32) << i
    })
}

/// One tree's values per pattern, over the tree's distinct features.
struct TreeTable {
    features: Vec<u32>,
    /// Per pattern, `features.len() x leaf_width` values (row-major), patterns back to back.
    values: Vec<f64>,
    /// Whether a representative row produced the pattern.
    present: Vec<bool>,
    stride: usize,
}

impl TreeTable {
    #[inline]
    fn entry(&self, pattern: u32) -> Option<&[f64]> {
        let p = pattern as usize;
        self.present[p].then(|| &self.values[p * self.stride..(p + 1) * self.stride])
    }

    fn new(model: &TreeEnsemble, tree: &Tree, levels: &[usize]) -> Result<TreeTable> {
        let mut features: Vec<u32> = levels.iter().map(|&n| tree.feature(n) as u32).collect();
        features.sort_unstable();
        features.dedup();
        // The tree alone, over its own features only (representative rows stay narrow).
        let mut raw = tree.to_raw();
        for (i, f) in raw.feature.iter_mut().enumerate() {
            if !tree.is_leaf(i) {
                *f = features
                    .binary_search(&(*f as u32))
                    .expect("a split feature") as i64;
            }
        }
        raw.output = 0;
        let w = tree.leaf_width();
        let alone = TreeEnsemble::new(
            EnsembleSpec {
                n_features: features.len(),
                n_outputs: w,
                leaf_width: w,
                base_offset: vec![0.0; w],
                rules: *model.rules(),
                link: Link::Identity,
                objective: String::new(),
                feature_names: None,
                categorical_features: Vec::new(),
            },
            vec![raw],
        )?;
        let local = alone.trees()[0].clone();
        // Per feature, one value for each outcome of its levels that some value produces.
        let mut choices: Vec<Vec<(u32, f64)>> = Vec::new();
        for &f in &features {
            let mine: Vec<usize> = levels
                .iter()
                .enumerate()
                .filter(|&(_, &n)| tree.feature(n) as u32 == f)
                .map(|(i, _)| i)
                .collect();
            let mut seen: Vec<(u32, f64)> = Vec::new();
            for v in candidates(tree, levels, &mine) {
                let prepared = model.rules().prepare(v);
                let bits = mine.iter().fold(0u32, |p, &i| {
                    p | ((!local.goes_left(levels[i], prepared, model.rules())) as u32) << i
                });
                if !seen.iter().any(|&(b, _)| b == bits) {
                    seen.push((bits, v));
                }
            }
            choices.push(seen);
        }
        // Every combination of the features' outcomes: one row per reachable pattern.
        let combos: usize = choices.iter().map(Vec::len).product();
        let mut rows = Array2::<f64>::zeros((combos, features.len()));
        let mut patterns = Vec::with_capacity(combos);
        for c in 0..combos {
            let (mut rest, mut bits) = (c, 0u32);
            for (j, options) in choices.iter().enumerate() {
                let (b, v) = options[rest % options.len()];
                rest /= options.len();
                rows[[c, j]] = v;
                bits |= b;
            }
            patterns.push(bits);
        }
        let explained = path_dependent::shap_values(&alone, rows.view())?;
        let stride = features.len() * w;
        let mut values = vec![0.0; (1 << levels.len()) * stride];
        let mut present = vec![false; 1 << levels.len()];
        for (c, p) in patterns.into_iter().enumerate() {
            let p = p as usize;
            present[p] = true;
            let row = explained.values.slice(s![c, .., ..]);
            for (v, e) in values[p * stride..(p + 1) * stride]
                .iter_mut()
                .zip(row.iter())
            {
                *v = *e;
            }
        }
        Ok(TreeTable {
            features,
            values,
            present,
            stride,
        })
    }
}

/// Values of a feature that between them take every branch its levels can: NaN, zero, values
/// at and just beyond each threshold (in f64 and float32), the categories of each set and
/// values in no set.
fn candidates(tree: &Tree, levels: &[usize], mine: &[usize]) -> Vec<f64> {
    let mut out = vec![f64::NAN, 0.0, -0.0, f64::MAX, f64::MIN, -1.0, 1e-36, -1e-36];
    for &i in mine {
        let node = levels[i];
        if tree.is_categorical(node) {
            let cats = tree.categories(node);
            let top = cats.last().copied().unwrap_or(0) as f64;
            out.extend(cats.iter().map(|&c| c as f64));
            out.extend([top + 1.0, -1.0, 16_777_216.0]);
        } else {
            let t = tree.threshold(node);
            let t32 = t as f32;
            out.extend([
                t,
                next_up(t),
                next_down(t),
                t32 as f64,
                next_up_f32(t32) as f64,
                next_down_f32(t32) as f64,
            ]);
        }
    }
    out
}

fn next_up(x: f64) -> f64 {
    if x.is_nan() || x == f64::INFINITY {
        return x;
    }
    if x == 0.0 {
        return f64::from_bits(1);
    }
    let b = x.to_bits();
    f64::from_bits(if x > 0.0 { b + 1 } else { b - 1 })
}

fn next_down(x: f64) -> f64 {
    -next_up(-x)
}

fn next_up_f32(x: f32) -> f32 {
    if x.is_nan() || x == f32::INFINITY {
        return x;
    }
    if x == 0.0 {
        return f32::from_bits(1);
    }
    let b = x.to_bits();
    f32::from_bits(if x > 0.0 { b + 1 } else { b - 1 })
}

fn next_down_f32(x: f32) -> f32 {
    -next_up_f32(-x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ensemble::RawTree;
    use crate::rng::Rng;

    /// Random oblivious trees of depth 3 over 3 features (features repeat across levels).
    fn random_oblivious(rng: &mut Rng, rules: SplitRules, width: usize) -> TreeEnsemble {
        let mut trees = Vec::new();
        for t in 0..4 {
            let n = 15;
            let split: Vec<(i64, f64, bool)> = (0..3)
                .map(|_| {
                    let f = rng.below(3) as i64;
                    let t = (rng.below(5) as f64 - 2.0) * 0.5; // thresholds shared with rows
                    (f, t, rng.below(2) == 0)
                })
                .collect();
            let mut raw = RawTree {
                left: vec![-1; n],
                right: vec![-1; n],
                feature: vec![0; n],
                threshold: vec![0.0; n],
                default_left: vec![false; n],
                cover: (0..n).map(|_| 1.0 + rng.below(9) as f64).collect(),
                value: vec![0.0; n * width],
                output: if width == 1 { t % 2 } else { 0 },
                ..RawTree::default()
            };
            for i in 0..7 {
                let level = (usize::BITS - (i + 1usize).leading_zeros() - 1) as usize;
                raw.left[i] = (2 * i + 1) as i64;
                raw.right[i] = (2 * i + 2) as i64;
                (raw.feature[i], raw.threshold[i], raw.default_left[i]) = split[level];
            }
            for v in raw.value.iter_mut().skip(7 * width) {
                *v = rng.next_f64() * 2.0 - 1.0;
            }
            trees.push(raw);
        }
        TreeEnsemble::new(
            EnsembleSpec {
                n_features: 4,
                n_outputs: 2,
                leaf_width: width,
                base_offset: vec![0.0; 2],
                rules,
                link: Link::Identity,
                objective: String::new(),
                feature_names: None,
                categorical_features: Vec::new(),
            },
            trees,
        )
        .unwrap()
    }

    #[test]
    fn tables_equal_the_general_algorithm() {
        let mut rng = Rng::stream(5, 0);
        for (trial, rules) in [
            SplitRules::LIGHTGBM,
            SplitRules::XGBOOST,
            SplitRules::SKLEARN_TREE,
        ]
        .into_iter()
        .cycle()
        .take(12)
        .enumerate()
        {
            let model = random_oblivious(&mut rng, rules, 1 + trial % 2);
            let x = Array2::from_shape_fn((70, 4), |_| match rng.below(8) {
                0 => f64::NAN,
                1 => 0.0,
                _ => (rng.below(9) as f64 - 4.0) * 0.25, // often exactly at a threshold
            });
            let (fast, misses) = with_misses(&model, x.view()).unwrap().expect("oblivious");
            assert_eq!(
                misses, 0,
                "every pattern of these rows has a representative"
            );
            let general = path_dependent::shap_values(&model, x.view()).unwrap();
            let diff = (&fast.values - &general.values)
                .iter()
                .fold(0.0f64, |a, &b| a.max(b.abs()));
            assert!(diff < 1e-12, "trial {trial}: {diff}");
        }
    }

    #[test]
    fn other_trees_and_few_rows_are_left_to_the_general_algorithm() {
        let mut rng = Rng::stream(6, 0);
        let model = random_oblivious(&mut rng, SplitRules::LIGHTGBM, 1);
        let x = Array2::<f64>::zeros((3, 4));
        assert!(shap_values(&model, x.view()).unwrap().is_none());
        let mut raw = model.trees()[0].to_raw();
        raw.feature[2] = (raw.feature[1] + 1) % 3; // level 1 no longer shares its split
        raw.threshold[2] += 0.125;
        let spec = EnsembleSpec {
            n_features: 4,
            n_outputs: 1,
            leaf_width: 1,
            base_offset: vec![0.0],
            rules: SplitRules::LIGHTGBM,
            link: Link::Identity,
            objective: String::new(),
            feature_names: None,
            categorical_features: Vec::new(),
        };
        raw.output = 0;
        let plain = TreeEnsemble::new(spec, vec![raw]).unwrap();
        let x = Array2::<f64>::zeros((64, 4));
        assert!(shap_values(&plain, x.view()).unwrap().is_none());
    }
}
