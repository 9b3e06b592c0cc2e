//! Trees whose leaves are linear models (LightGBM `linear_tree=True`).
//!
//! A row reaching leaf `l` of a linear tree gets `const_l + sum_j coeff_lj * x_j` over the
//! leaf's features, or the leaf's constant value (`leaf_value`) when any of those features is
//! NaN, as LightGBM's `Tree::Predict` does. The routing is the ensemble's; the linear part
//! reads the input as given (LightGBM's tiny-value rule applies only at splits).

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

use super::TreeEnsemble;
use crate::Scalar;
use crate::error::{Error, Result};
use crate::parallel::ROW_BLOCK;

/// The linear models of one tree's leaves, indexed by node.
#[derive(Debug, Clone, Default)]
pub struct LinearLeaves {
    constant: Vec<f64>,
    /// Per node, `start..end` into `features` / `coeffs`: `offsets[node]..offsets[node + 1]`.
    offsets: Vec<u32>,
    features: Vec<u32>,
    coeffs: Vec<f64>,
}

impl LinearLeaves {
    /// Leaf models for a tree of `n_nodes` nodes, all `0` with no features until set.
    pub fn with_nodes(n_nodes: usize) -> LinearLeaves {
        LinearLeaves {
            constant: vec![0.0; n_nodes],
            offsets: vec![0; n_nodes + 1],
            features: Vec::new(),
            coeffs: Vec::new(),
        }
    }

    /// Sets the model of leaf `node`. Nodes must be set in increasing order.
    pub fn set_leaf(
        &mut self,
        node: usize,
        constant: f64,
        features: &[i64],
        coeffs: &[f64],
    ) -> std::result::Result<(), String> {
        if node >= self.constant.len() {
            return Err(format!("node {node} is not in the tree"));
        }
        if features.len() != coeffs.len() {
            return Err("as many coefficients as features are needed".into());
        }
        if !constant.is_finite() || coeffs.iter().any(|c| !c.is_finite()) {
            return Err("a leaf_const or leaf_coeff is not finite".into());
        }
        let start = self.features.len();
        if self.offsets[node] as usize > start || start + features.len() > u32::MAX as usize {
            return Err("leaves out of order".into());
        }
        for &f in features {
            let f = u32::try_from(f).map_err(|_| format!("leaf feature {f} is negative"))?;
            self.features.push(f);
        }
        self.coeffs.extend_from_slice(coeffs);
        self.constant[node] = constant;
        let end = self.features.len() as u32;
        self.offsets[node] = start as u32;
        for o in &mut self.offsets[node + 1..] {
            *o = end;
        }
        Ok(())
    }

    /// The constant of leaf `node`.
    pub fn constant(&self, node: usize) -> f64 {
        self.constant[node]
    }

    /// The features of leaf `node` and their coefficients.
    pub fn terms(&self, node: usize) -> (&[u32], &[f64]) {
        let (a, b) = (self.offsets[node] as usize, self.offsets[node + 1] as usize);
        (&self.features[a..b], &self.coeffs[a..b])
    }

    /// The leaf's output for a raw row: the linear model, or `fallback` (the leaf's constant
    /// value) when one of its features is NaN.
    #[inline]
    pub fn output(&self, node: usize, row: &[f64], fallback: f64) -> f64 {
        let (features, coeffs) = self.terms(node);
        let mut out = self.constant[node];
        for (&f, &c) in features.iter().zip(coeffs) {
            let x = row[f as usize];
            if x.is_nan() {
                return fallback;
            }
            out += c * x;
        }
        out
    }
}

/// A tree ensemble some of whose trees have linear leaves.
///
/// The inner [`TreeEnsemble`] holds the routing and each leaf's constant value (the fallback);
/// algorithms written for constant leaves must not be given it as the model: only prediction
/// here and [`crate::tree_shap::linear_tree`] account for the linear part.
#[derive(Debug, Clone)]
pub struct LinearTreeEnsemble {
    trees: TreeEnsemble,
    linear: Vec<Option<LinearLeaves>>,
}

impl LinearTreeEnsemble {
    /// Joins trees and the leaf models of their linear trees (one entry per tree).
    pub fn new(trees: TreeEnsemble, linear: Vec<Option<LinearLeaves>>) -> Result<Self> {
        if linear.len() != trees.trees().len() {
            return Err(Error::InvalidModel(format!(
                "{} leaf models for {} trees",
                linear.len(),
                trees.trees().len()
            )));
        }
        for (t, (tree, leaves)) in trees.trees().iter().zip(&linear).enumerate() {
            let Some(leaves) = leaves else { continue };
            if leaves.constant.len() != tree.n_nodes() {
                return Err(Error::InvalidModel(format!(
                    "tree {t}: leaf models for {} nodes, the tree has {}",
                    leaves.constant.len(),
                    tree.n_nodes()
                )));
            }
            if leaves
                .features
                .iter()
                .any(|&f| f as usize >= trees.n_features())
            {
                return Err(Error::InvalidModel(format!(
                    "tree {t}: a leaf model uses a feature beyond the model's {}",
                    trees.n_features()
                )));
            }
        }
        Ok(LinearTreeEnsemble { trees, linear })
    }

    /// The trees with constant leaves (routing, fallback values, covers).
    pub fn trees(&self) -> &TreeEnsemble {
        &self.trees
    }

    /// Per tree, its leaf models (`None` for a constant tree).
    pub fn linear(&self) -> &[Option<LinearLeaves>] {
        &self.linear
    }

    /// Whether any tree has linear leaves.
    pub fn is_linear(&self) -> bool {
        self.linear.iter().any(Option::is_some)
    }

    /// A copy keeping the trees at `indices`, in that order.
    pub fn select_trees(&self, indices: &[usize]) -> Result<LinearTreeEnsemble> {
        let trees = self.trees.select_trees(indices)?;
        let linear = indices.iter().map(|&i| self.linear[i].clone()).collect();
        Ok(LinearTreeEnsemble { trees, linear })
    }

    /// The output of tree `t` for a row: `prepared` for routing, `raw` for the leaf model.
    #[inline]
    pub(crate) fn tree_output(&self, t: usize, prepared: &[f64], raw: &[f64]) -> (usize, f64) {
        let tree = &self.trees.trees()[t];
        let leaf = tree.leaf_for(prepared, self.trees.rules());
        let fallback = tree.leaf_value(leaf)[0];
        let value = match &self.linear[t] {
            Some(leaves) => leaves.output(leaf, raw, fallback),
            None => fallback,
        };
        (leaf, value)
    }

    /// Margin prediction `(n_rows, n_outputs)` with the leaves' linear models.
    pub fn predict_margin<F: Scalar>(&self, x: ArrayView2<'_, F>) -> Result<Array2<f64>> {
        let model = &self.trees;
        model.check_features(x.ncols())?;
        let (n, m, k) = (x.nrows(), model.n_features(), model.n_outputs());
        let mut out = Array2::<f64>::zeros((n, k));
        let slice = out.as_slice_mut().expect("fresh array is contiguous");
        slice
            .par_chunks_mut(ROW_BLOCK * k)
            .enumerate()
            .for_each(|(block, chunk)| {
                let (mut prepared, mut raw) = (vec![0.0; m], vec![0.0; m]);
                for (r, out_row) in chunk.chunks_mut(k).enumerate() {
                    let i = block * ROW_BLOCK + r;
                    model.prepare_row(&x, i, &mut prepared);
                    for (v, xv) in raw.iter_mut().zip(x.row(i)) {
                        *v = xv.to_f64();
                    }
                    out_row.copy_from_slice(model.base_offset());
                    for (t, tree) in model.trees().iter().enumerate() {
                        out_row[tree.output()] += self.tree_output(t, &prepared, &raw).1;
                    }
                }
            });
        Ok(out)
    }
}
