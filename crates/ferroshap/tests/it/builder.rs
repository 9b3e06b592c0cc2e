//! Hand-made trees and ensembles for the tests: a node at a time instead of parallel array
//! literals, and one ensemble description with test defaults.

use ferroshap::{EnsembleSpec, Link, RawTree, SplitRules, TreeEnsemble};

/// Builds a [`RawTree`] node by node. Every node starts as a leaf (missing values go right,
/// no zero-as-missing, numeric); [`TreeBuilder::split`] and [`TreeBuilder::categorical`] give
/// it children.
pub struct TreeBuilder {
    tree: RawTree,
    leaf_width: usize,
}

impl TreeBuilder {
    /// An empty tree whose leaves hold `leaf_width` values each.
    pub fn new(leaf_width: usize) -> TreeBuilder {
        TreeBuilder {
            tree: RawTree::default(),
            leaf_width,
        }
    }

    /// Appends a node with this cover and leaf values (`leaf_width` of them; ignored once it
    /// splits) and returns its index.
    pub fn node(&mut self, cover: f64, value: &[f64]) -> usize {
        assert_eq!(value.len(), self.leaf_width, "one value per leaf output");
        let t = &mut self.tree;
        t.left.push(-1);
        t.right.push(-1);
        t.feature.push(0);
        t.threshold.push(0.0);
        t.default_left.push(false);
        t.zero_is_missing.push(false);
        t.categories.push(None);
        t.cover.push(cover);
        t.value.extend_from_slice(value);
        t.left.len() - 1
    }

    /// Makes `node` a numeric split on `feature`: left iff `x <= threshold`.
    pub fn split(
        &mut self,
        node: usize,
        feature: usize,
        threshold: f64,
        left: usize,
        right: usize,
    ) {
        self.link(node, feature, left, right);
        self.tree.threshold[node] = threshold;
    }

    /// Makes `node` a categorical split on `feature` with this category set (which side the
    /// set goes is the tree's [`TreeBuilder::categories_go_left`]).
    pub fn categorical(
        &mut self,
        node: usize,
        feature: usize,
        categories: Vec<u32>,
        left: usize,
        right: usize,
    ) {
        self.link(node, feature, left, right);
        self.tree.categories[node] = Some(categories);
    }

    fn link(&mut self, node: usize, feature: usize, left: usize, right: usize) {
        self.tree.feature[node] = feature as i64;
        self.tree.left[node] = left as i64;
        self.tree.right[node] = right as i64;
    }

    /// Where missing values (NaN) go at `node`.
    pub fn missing_goes_left(&mut self, node: usize, left: bool) {
        self.tree.default_left[node] = left;
    }

    /// Whether `node` reads the value 0 as missing (LightGBM's `missing_type=Zero`).
    pub fn zero_is_missing(&mut self, node: usize, zero: bool) {
        self.tree.zero_is_missing[node] = zero;
    }

    /// Whether rows whose category is in a categorical node's set go left.
    pub fn categories_go_left(&mut self, left: bool) {
        self.tree.categories_go_left = left;
    }

    /// Sets the cover of `node` (for covers known only after its children are built).
    pub fn cover(&mut self, node: usize, cover: f64) {
        self.tree.cover[node] = cover;
    }

    /// The tree, adding to the model's outputs from `output` on.
    pub fn build(mut self, output: usize) -> RawTree {
        self.tree.output = output;
        self.tree
    }
}

/// A model description with the tests' defaults: one value per leaf and output, a zero base
/// offset, the identity link, no feature names, no categorical features. Change a field with
/// struct update syntax: `EnsembleSpec { base_offset: vec![0.25], ..spec(3, 1, rules) }`.
pub fn spec(n_features: usize, n_outputs: usize, rules: SplitRules) -> EnsembleSpec {
    EnsembleSpec {
        n_features,
        n_outputs,
        leaf_width: 1,
        base_offset: vec![0.0; n_outputs],
        rules,
        link: Link::Identity,
        objective: "test".into(),
        feature_names: None,
        categorical_features: Vec::new(),
    }
}

/// The ensemble of `trees` described by `spec`; panics if they are invalid.
pub fn ensemble(spec: EnsembleSpec, trees: Vec<RawTree>) -> TreeEnsemble {
    TreeEnsemble::new(spec, trees).expect("hand-made trees are valid")
}
