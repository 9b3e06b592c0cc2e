//! The one tree-ensemble model every parser produces and every tree algorithm consumes.
//!
//! Split semantics (comparison operator and precision, missing values, categorical sets)
//! live here and in the tree module, so that every algorithm routes a row exactly as the source
//! library does.

mod linear;
mod output;
mod predict;
mod tree;

pub use linear::{LinearLeaves, LinearTreeEnsemble};
pub use output::{Link, OutputTransform, PROBABILITY_EPS};
pub(crate) use tree::PlainSplit;
pub use tree::{LEAF, RawTree, Tree};

use crate::error::{Error, Result};

/// LightGBM's `kZeroThreshold`: the float `1e-35f`, widened.
const LIGHTGBM_ZERO: f64 = 1e-35f32 as f64;

/// How the source library reads an input value before comparing it with a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputPrecision {
    /// Compare the value as given, in f64 (LightGBM, scikit-learn HistGradientBoosting).
    F64,
    /// Round the value to f32 first (XGBoost, scikit-learn decision trees and forests).
    F32,
}

/// How a value is turned into a category index at a categorical split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CategoryRule {
    /// XGBoost: values below 0 or at least 2^24 are not in any set; others are truncated.
    XGBoost,
    /// LightGBM: the value is truncated toward zero; a negative result is in no set.
    LightGBM,
    /// scikit-learn HistGradientBoosting: non-negative integers below 256 index the set.
    Sklearn,
}

/// Per-ensemble routing rules, the same for every node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitRules {
    /// Precision the input is read in.
    pub input: InputPrecision,
    /// LightGBM reads any |x| <= 1e-35f (the f32 nearest 1e-35, as f64) as exactly 0 before
    /// routing. Its splits on the sign of a feature use that same number as threshold.
    pub zero_below_1e35: bool,
    /// How categorical splits turn values into categories.
    pub category: CategoryRule,
}

impl SplitRules {
    /// XGBoost: `float32(x) < threshold` (stored as `<=` on the next f64 down), NaN to the default child.
    pub const XGBOOST: SplitRules = SplitRules {
        input: InputPrecision::F32,
        zero_below_1e35: false,
        category: CategoryRule::XGBoost,
    };
    /// LightGBM: `x <= threshold` in f64, tiny values read as zero.
    pub const LIGHTGBM: SplitRules = SplitRules {
        input: InputPrecision::F64,
        zero_below_1e35: true,
        category: CategoryRule::LightGBM,
    };
    /// scikit-learn trees and forests: `float32(x) <= threshold`.
    pub const SKLEARN_TREE: SplitRules = SplitRules {
        input: InputPrecision::F32,
        zero_below_1e35: false,
        category: CategoryRule::Sklearn,
    };
    /// scikit-learn HistGradientBoosting: `x <= threshold` in f64.
    pub const SKLEARN_HIST: SplitRules = SplitRules {
        input: InputPrecision::F64,
        zero_below_1e35: false,
        category: CategoryRule::Sklearn,
    };

    /// Reads an input value the way the source library does.
    #[inline]
    pub fn prepare(&self, x: f64) -> f64 {
        let x = match self.input {
            InputPrecision::F64 => x,
            InputPrecision::F32 => x as f32 as f64,
        };
        if self.zero_below_1e35 && x.abs() <= LIGHTGBM_ZERO {
            0.0
        } else {
            x
        }
    }

    /// The category index of a (non-NaN) prepared value, or `None` when it is in no set.
    #[inline]
    pub fn category(&self, x: f64) -> Option<u32> {
        match self.category {
            CategoryRule::XGBoost => (0.0..16_777_216.0).contains(&x).then_some(x as u32),
            CategoryRule::LightGBM => {
                let t = x.trunc();
                (0.0..=i32::MAX as f64).contains(&t).then_some(t as u32)
            }
            CategoryRule::Sklearn => (0.0..256.0).contains(&x).then_some(x as u32),
        }
    }
}

/// A tree ensemble: trees, how their outputs add up, and how rows are routed.
///
/// The model's margin (raw) output for output `k` is
/// `base_offset[k] + sum of the leaf values of every tree feeding k`.
#[derive(Debug, Clone)]
pub struct TreeEnsemble {
    trees: Vec<Tree>,
    n_features: usize,
    n_outputs: usize,
    leaf_width: usize,
    base_offset: Vec<f64>,
    rules: SplitRules,
    link: Link,
    objective: String,
    feature_names: Option<Vec<String>>,
    categorical_features: Vec<bool>,
}

/// Everything needed to build a [`TreeEnsemble`] apart from the trees.
#[derive(Debug, Clone)]
pub struct EnsembleSpec {
    /// Number of input features.
    pub n_features: usize,
    /// Number of model outputs (1 for regression and binary classification).
    pub n_outputs: usize,
    /// Values per leaf: 1, or `n_outputs` for trees that predict every output at once
    /// (scikit-learn multi-class forests).
    pub leaf_width: usize,
    /// Margin added to every output, already in margin space.
    pub base_offset: Vec<f64>,
    /// Routing rules of the source library.
    pub rules: SplitRules,
    /// Inverse link of the objective.
    pub link: Link,
    /// Objective name as the source library spells it.
    pub objective: String,
    /// Feature names, when the model stores them.
    pub feature_names: Option<Vec<String>>,
    /// Which features are categorical (at most `n_features` flags; features beyond them are
    /// numeric). Features with a categorical split are marked as categorical in any case.
    pub categorical_features: Vec<bool>,
}

impl TreeEnsemble {
    /// Validates raw trees and assembles an ensemble.
    pub fn new(spec: EnsembleSpec, raw_trees: Vec<RawTree>) -> Result<TreeEnsemble> {
        let EnsembleSpec {
            n_features,
            n_outputs,
            leaf_width,
            base_offset,
            rules,
            link,
            objective,
            feature_names,
            categorical_features,
        } = spec;
        if n_outputs == 0 {
            return Err(Error::InvalidModel("model has no outputs".into()));
        }
        if leaf_width == 0 || leaf_width > n_outputs {
            return Err(Error::InvalidModel(format!(
                "leaf width {leaf_width} is not between 1 and the number of outputs {n_outputs}"
            )));
        }
        if base_offset.len() != n_outputs {
            return Err(Error::InvalidModel(format!(
                "{} base offsets for {n_outputs} outputs",
                base_offset.len()
            )));
        }
        if let Some(b) = base_offset.iter().find(|b| !b.is_finite()) {
            return Err(Error::InvalidModel(format!(
                "base offset {b} is not finite"
            )));
        }
        if let Some(names) = &feature_names
            && names.len() != n_features
        {
            return Err(Error::InvalidModel(format!(
                "{} feature names for {n_features} features",
                names.len()
            )));
        }
        if categorical_features.len() > n_features {
            return Err(Error::InvalidModel(
                "more categorical feature flags than features".into(),
            ));
        }
        let mut categorical_features = categorical_features;
        let mut trees = Vec::with_capacity(raw_trees.len());
        for (t, raw) in raw_trees.into_iter().enumerate() {
            if raw.output + leaf_width > n_outputs {
                return Err(Error::InvalidModel(format!(
                    "tree {t} feeds output {} but the model has {n_outputs} outputs",
                    raw.output
                )));
            }
            let tree = Tree::from_raw(raw, n_features, leaf_width)
                .map_err(|e| Error::InvalidModel(format!("tree {t}: {}", strip_prefix(&e))))?;
            // A feature with a categorical split is categorical, whatever the model's metadata says.
            for node in 0..tree.n_nodes() {
                if tree.is_categorical(node) {
                    let j = tree.feature(node);
                    if categorical_features.len() <= j {
                        categorical_features.resize(j + 1, false);
                    }
                    categorical_features[j] = true;
                }
            }
            trees.push(tree);
        }
        if !categorical_features.iter().any(|&c| c) {
            categorical_features.clear();
        }
        Ok(TreeEnsemble {
            trees,
            n_features,
            n_outputs,
            leaf_width,
            base_offset,
            rules,
            link,
            objective,
            feature_names,
            categorical_features,
        })
    }

    /// The trees.
    pub fn trees(&self) -> &[Tree] {
        &self.trees
    }
    /// Number of input features.
    pub fn n_features(&self) -> usize {
        self.n_features
    }
    /// Number of outputs.
    pub fn n_outputs(&self) -> usize {
        self.n_outputs
    }
    /// Values per leaf.
    pub fn leaf_width(&self) -> usize {
        self.leaf_width
    }
    /// Margin offset per output.
    pub fn base_offset(&self) -> &[f64] {
        &self.base_offset
    }
    /// Routing rules.
    pub fn rules(&self) -> &SplitRules {
        &self.rules
    }
    /// Inverse link of the objective.
    pub fn link(&self) -> Link {
        self.link
    }
    /// The model's prediction as an output transform: its inverse link at scale 1 (the
    /// output [`TreeEnsemble::predict`] gives).
    pub fn output(&self) -> OutputTransform {
        self.link.output(1.0)
    }
    /// Objective name as the source library spells it.
    pub fn objective(&self) -> &str {
        &self.objective
    }
    /// Feature names stored in the model, if any.
    pub fn feature_names(&self) -> Option<&[String]> {
        self.feature_names.as_deref()
    }
    /// Which features are categorical, up to the last categorical one at least (empty when
    /// none are): features beyond the slice are numeric. Never allocated per declared feature,
    /// so a model declaring millions of unused features stays small.
    pub fn categorical_features(&self) -> &[bool] {
        &self.categorical_features
    }
    /// Depth of the deepest tree.
    pub fn max_depth(&self) -> usize {
        self.trees.iter().map(Tree::max_depth).max().unwrap_or(0)
    }

    /// A copy keeping only the trees at `indices`, in that order (for example the first
    /// iterations of an early-stopped model).
    pub fn select_trees(&self, indices: &[usize]) -> Result<TreeEnsemble> {
        let mut trees = Vec::with_capacity(indices.len());
        for &i in indices {
            let tree = self.trees.get(i).ok_or_else(|| {
                Error::Parameter(format!(
                    "tree index {i} out of range ({} trees)",
                    self.trees.len()
                ))
            })?;
            trees.push(tree.clone());
        }
        Ok(TreeEnsemble {
            trees,
            ..self.clone_without_trees()
        })
    }

    /// A copy whose node covers are the number of rows of `data` that reach each node
    /// (shap's `feature_perturbation="tree_path_dependent"` with background data): the
    /// path-dependent value function then takes its expectations over `data` instead of the
    /// training set.
    pub fn with_covers_from_data<F: crate::Scalar>(
        &self,
        data: ndarray::ArrayView2<'_, F>,
    ) -> Result<TreeEnsemble> {
        use rayon::prelude::*;
        self.check_features(data.ncols())?;
        if data.nrows() == 0 {
            return Err(Error::Shape("background data has no rows".into()));
        }
        let mut rows = vec![0.0; data.nrows() * self.n_features];
        for (i, row) in rows
            .chunks_mut(self.n_features.max(1))
            .enumerate()
            .take(data.nrows())
        {
            self.prepare_row(&data, i, row);
        }
        let trees = self
            .trees
            .par_iter()
            .map(|tree| {
                let mut covers = vec![0.0; tree.n_nodes()];
                for row in rows.chunks(self.n_features.max(1)) {
                    let mut node = 0;
                    covers[0] += 1.0;
                    while !tree.is_leaf(node) {
                        node = tree.next(node, row[tree.feature(node)], &self.rules);
                        covers[node] += 1.0;
                    }
                }
                tree.with_covers(covers)
            })
            .collect();
        Ok(TreeEnsemble {
            trees,
            ..self.clone_without_trees()
        })
    }

    fn clone_without_trees(&self) -> TreeEnsemble {
        TreeEnsemble {
            trees: Vec::new(),
            n_features: self.n_features,
            n_outputs: self.n_outputs,
            leaf_width: self.leaf_width,
            base_offset: self.base_offset.clone(),
            rules: self.rules,
            link: self.link,
            objective: self.objective.clone(),
            feature_names: self.feature_names.clone(),
            categorical_features: self.categorical_features.clone(),
        }
    }

    /// The model's expected margin per output when nothing is known about the row: the base
    /// offset plus each tree's cover-weighted mean leaf value. This is the base value of
    /// path-dependent Tree SHAP (which keeps it, computed once, in its prepared explainer).
    pub fn expected_value(&self) -> Vec<f64> {
        let mut out = self.base_offset.clone();
        for tree in &self.trees {
            for (k, v) in tree.expected_value().into_iter().enumerate() {
                out[tree.output + k] += v;
            }
        }
        out
    }

    /// Bytes held by the model's trees (node arrays, leaf values, category sets).
    pub fn size_bytes(&self) -> usize {
        self.trees.iter().map(Tree::size_bytes).sum()
    }

    pub(crate) fn check_features(&self, n_cols: usize) -> Result<()> {
        if n_cols != self.n_features {
            return Err(Error::Shape(format!(
                "X has {n_cols} features, but the model was trained on {} features",
                self.n_features
            )));
        }
        Ok(())
    }
}

fn strip_prefix(e: &Error) -> String {
    match e {
        Error::InvalidModel(m) => m.clone(),
        other => other.to_string(),
    }
}
