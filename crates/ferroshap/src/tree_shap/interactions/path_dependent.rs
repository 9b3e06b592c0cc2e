//! Interaction values of path-dependent Tree SHAP.
//!
//! [`interaction_values`] walks each tree once per block of rows (see the `lanes` module:
//! O(nodes x depth x points) per tree and row); [`interaction_values_reference`] evaluates
//! each leaf's block on its own, kept as an independent check.
//!
//! A leaf with value v whose path splits on the distinct features U is the product game
//! `v prod_{s in S} o_s prod_{s in U \ S} z_s`, where `o_s` is 1 when the row satisfies every
//! condition the path puts on s (else 0) and `z_s` is the product of the cover ratios of those
//! conditions. With `f_s(t) = t o_s + (1 - t) z_s` and `h_s = (o_s - z_s) / f_s`, the leaf adds
//!
//! - `phi_i = v * sum_q w_q P(t_q) h_i(t_q)` to the Shapley value of i and
//! - `phi_ij = v/2 * sum_q w_q P(t_q) h_i(t_q) h_j(t_q)` to the interaction of i and j,
//!
//! `P = prod_s f_s`, over the Gauss–Legendre points of the leaf (exact, the integrands are
//! polynomials of degree below |U|). In the reference, when the row fails s,
//! `h_s = -1 / (1 - t)` whatever the covers, so all pairs of failed features share one value;
//! a feature the row fails whose conditions have zero cover makes the whole leaf's game zero:
//! such leaves are skipped (and so never divide by zero).

use ndarray::ArrayView2;

use super::lanes::PairLanes;
use super::{
    InteractionOptions, InteractionValues, Kernel, ROW_BLOCK, Target, Workspace, finish_block,
    points, prepare, rules, run,
};
use crate::Scalar;
use crate::ensemble::TreeEnsemble;
use crate::error::{Error, Result};
use crate::tree_shap::interventional::{Layout, MAX_PATH_FEATURES};
use crate::tree_shap::quadrature::{self, GaussLegendre, PreparedTree};

/// Path-dependent SHAP interaction values of every row of `x`: shape `(n_rows, F, F,
/// n_outputs)`, with the base values of [`crate::tree_shap::path_dependent::shap_values`].
///
/// Parallel over rows (over trees for fewer than 64 rows); the result does not depend on the
/// number of threads. A path may split on at most 256 distinct features.
pub fn interaction_values<F: Scalar>(
    model: &TreeEnsemble,
    x: ArrayView2<'_, F>,
    options: &InteractionOptions,
) -> Result<InteractionValues> {
    crate::tree_shap::path_dependent::PathDependent::new(model).interaction_values(x, options)
}

/// [`interaction_values`] with the prepared explainer's tables (`None`: a path is too long
/// for them) and base values.
pub(crate) fn interaction_values_prepared<F: Scalar>(
    model: &TreeEnsemble,
    x: ArrayView2<'_, F>,
    options: &InteractionOptions,
    prepared: Option<&[PreparedTree]>,
    base_values: &[f64],
) -> Result<InteractionValues> {
    let (target, features, mut values) = prepare(model, &x, options)?;
    let Some(prepared) = prepared else {
        return Err(Error::Unsupported(format!(
            "a tree path splits on more than {} distinct features; path-dependent SHAP \
             interaction values support up to that many",
            2 * quadrature::MAX_POINTS
        )));
    };
    let kernel = WalkKernel {
        model,
        target: &target,
        prepared,
    };
    run(model, x, &kernel, &target, &mut values);
    Ok(InteractionValues {
        values,
        base_values: base_values.to_vec(),
        features,
    })
}

/// The walk over blocks of rows, with the model's cached path-dependent tables.
struct WalkKernel<'a> {
    model: &'a TreeEnsemble,
    target: &'a Target,
    prepared: &'a [PreparedTree],
}

impl Kernel for WalkKernel<'_> {
    type Table = ();

    fn table_bytes(&self, _t: usize) -> usize {
        0
    }

    fn table(&self, _t: usize) {}

    fn explain(
        &self,
        t: usize,
        _table: &(),
        rows: &[f64],
        n: usize,
        out: &mut [f64],
        ws: &mut Workspace,
    ) {
        let model = self.model;
        let (m, k, depth) = (model.n_features(), model.n_outputs(), model.max_depth());
        let tree = &model.trees()[t];
        if n == 1 {
            let lanes = ws
                .pairs_one
                .get_or_insert_with(|| Box::new(PairLanes::new(m, k, depth)));
            let row_len = self.target.row_len();
            let block = (&rows[..m], 1);
            let (prepared, rules) = (&self.prepared[t], model.rules());
            lanes.add_tree(
                tree,
                prepared,
                rules,
                self.target,
                block,
                &mut out[..row_len],
            );
            return;
        }
        let lanes = ws
            .pairs
            .get_or_insert_with(|| Box::new(PairLanes::new(m, k, depth)));
        let row_len = self.target.row_len();
        for (b, chunk) in out[..n * row_len]
            .chunks_mut(ROW_BLOCK * row_len)
            .enumerate()
        {
            let r = chunk.len() / row_len;
            let block = (&rows[b * ROW_BLOCK * m..][..r * m], r);
            let (prepared, rules) = (&self.prepared[t], model.rules());
            lanes.add_tree(tree, prepared, rules, self.target, block, chunk);
        }
    }
}

/// The same values leaf by leaf, O(leaves x |U|^2 x points) per tree and row (slower; a
/// reference). A path may split on at most 64 distinct features.
#[doc(hidden)] // a reference implementation for the tests and benches
pub fn interaction_values_reference<F: Scalar>(
    model: &TreeEnsemble,
    x: ArrayView2<'_, F>,
    options: &InteractionOptions,
) -> Result<InteractionValues> {
    let (target, features, mut values) = prepare(model, &x, options)?;
    let kernel = PathKernel::new(model, &target)?;
    run(model, x, &kernel, &target, &mut values);
    Ok(InteractionValues {
        values,
        base_values: model.expected_value(),
        features,
    })
}

struct PathKernel<'a> {
    model: &'a TreeEnsemble,
    target: &'a Target,
    layouts: Vec<Layout>,
    /// Per tree: the merged cover fraction z of every leaf's path features, aligned with
    /// `Layout::features`.
    zero: Vec<Vec<f64>>,
    rules: Vec<GaussLegendre>,
}

/// One tree's per-leaf quadrature tables.
struct PathTable {
    /// Per leaf: start of its tables in `data` (`f1`, `f0`, `h1`: d x Q each, then `h0`,
    /// `w`: Q each) and the slots whose conditions have zero cover.
    leaves: Vec<(usize, u64)>,
    data: Vec<f64>,
}

impl<'a> PathKernel<'a> {
    fn new(model: &'a TreeEnsemble, target: &'a Target) -> Result<PathKernel<'a>> {
        let trees = model.trees();
        let mut layouts = Vec::with_capacity(trees.len());
        let mut zero = Vec::with_capacity(trees.len());
        for (t, tree) in trees.iter().enumerate() {
            let layout = Layout::new(tree, t).map_err(|_| {
                Error::Unsupported(format!(
                    "tree {t} has a path that splits on more than {MAX_PATH_FEATURES} different \
                     features; SHAP interaction values support at most {MAX_PATH_FEATURES}"
                ))
            })?;
            // z per (leaf, slot): walk down multiplying each split's cover ratio into its slot.
            let mut z_of_node: Vec<Vec<f64>> = vec![Vec::new(); tree.n_nodes()];
            let mut stack = vec![(0usize, Vec::<f64>::new())];
            while let Some((node, z)) = stack.pop() {
                if tree.is_leaf(node) {
                    z_of_node[node] = z;
                    continue;
                }
                let slot = layout.slot[node] as usize;
                let (l, r) = tree.children(node);
                for child in [l, r] {
                    let mut zc = z.clone();
                    if zc.len() <= slot {
                        zc.resize(slot + 1, 1.0);
                    }
                    zc[slot] *= tree.cover_ratio(child);
                    stack.push((child, zc));
                }
            }
            let mut z = Vec::with_capacity(layout.features.len());
            for leaf in &layout.leaves {
                let zl = &z_of_node[leaf.node as usize];
                debug_assert_eq!(zl.len(), leaf.d as usize);
                z.extend_from_slice(zl);
            }
            layouts.push(layout);
            zero.push(z);
        }
        Ok(PathKernel {
            model,
            target,
            layouts,
            zero,
            rules: rules(),
        })
    }
}

impl Kernel for PathKernel<'_> {
    type Table = PathTable;

    fn table_bytes(&self, t: usize) -> usize {
        let layout = &self.layouts[t];
        let values: usize = layout
            .leaves
            .iter()
            .map(|leaf| {
                let d = leaf.d as usize;
                (3 * d + 2) * points(d)
            })
            .sum();
        8 * values + 16 * layout.leaves.len()
    }

    fn table(&self, t: usize) -> PathTable {
        let layout = &self.layouts[t];
        let mut table = PathTable {
            leaves: Vec::with_capacity(layout.leaves.len()),
            data: Vec::with_capacity(self.table_bytes(t) / 8),
        };
        for leaf in &layout.leaves {
            let d = leaf.d as usize;
            let q = points(d);
            let rule = &self.rules[q - 1];
            let z = &self.zero[t][leaf.features as usize..][..d];
            let mut zero_mask = 0u64;
            for (s, &z) in z.iter().enumerate() {
                if z == 0.0 {
                    zero_mask |= 1 << s;
                }
            }
            let off = table.data.len();
            table.leaves.push((off, zero_mask));
            for &z in z {
                table
                    .data
                    .extend(rule.nodes.iter().map(|&t| t + (1.0 - t) * z));
            }
            for &z in z {
                table.data.extend(rule.nodes.iter().map(|&t| (1.0 - t) * z));
            }
            for &z in z {
                table
                    .data
                    .extend(rule.nodes.iter().map(|&t| (1.0 - z) / (t + (1.0 - t) * z)));
            }
            table
                .data
                .extend(rule.nodes.iter().map(|&t| -1.0 / (1.0 - t)));
            table.data.extend_from_slice(&rule.weights);
        }
        table
    }

    fn explain(
        &self,
        t: usize,
        table: &PathTable,
        rows: &[f64],
        n: usize,
        out: &mut [f64],
        ws: &mut Workspace,
    ) {
        let tree = &self.model.trees()[t];
        let layout = &self.layouts[t];
        let m = self.model.n_features().max(1);
        ws.load_leaf_patterns(layout, tree, self.model.rules(), rows, n, m);
        let row_len = self.target.row_len();
        for (l, (leaf, &(off, zero_mask))) in layout.leaves.iter().zip(&table.leaves).enumerate() {
            let d = leaf.d as usize;
            let features = &layout.features[leaf.features as usize..][..d];
            if d == 0 || !self.target.wants_any(features) {
                continue;
            }
            let q = points(d);
            let data = &table.data[off..off + (3 * d + 2) * q];
            let (f1, rest) = data.split_at(d * q);
            let (f0, rest) = rest.split_at(d * q);
            let (h1, rest) = rest.split_at(d * q);
            let (h0, w) = rest.split_at(q);
            let value = tree.leaf_value(leaf.node as usize);
            ws.g.resize(d * d, 0.0);
            ws.h.resize(d * q, 0.0);
            ws.p.resize(q, 0.0);
            ws.phi.resize(d, 0.0);
            for r in 0..n {
                let c = ws.leaf_pats[l * n + r];
                if !c & zero_mask != 0 {
                    continue; // a failed feature with zero cover: the leaf's game is zero
                }
                let p = &mut ws.p[..q];
                p.copy_from_slice(w);
                for s in 0..d {
                    let f = if c >> s & 1 == 1 { f1 } else { f0 };
                    for (p, &f) in p.iter_mut().zip(&f[s * q..(s + 1) * q]) {
                        *p *= f;
                    }
                }
                // h scaled by P: the Shapley value is its sum, a pair's value its product with
                // the other h.
                let ph = &mut ws.h[..d * q];
                for s in 0..d {
                    let h = if c >> s & 1 == 1 {
                        &h1[s * q..(s + 1) * q]
                    } else {
                        h0
                    };
                    for ((o, &p), &h) in ph[s * q..(s + 1) * q].iter_mut().zip(p.iter()).zip(h) {
                        *o = p * h;
                    }
                    ws.phi[s] = ph[s * q..(s + 1) * q].iter().sum();
                }
                // Pairs of failed features all share sum_q P h0^2 / 2.
                let failed_pair: f64 =
                    0.5 * p.iter().zip(h0).map(|(&p, &h)| p * h * h).sum::<f64>();
                let g = &mut ws.g[..d * d];
                for i in 0..d {
                    let phi_i = &ph[i * q..(i + 1) * q];
                    let i_set = c >> i & 1 == 1;
                    for j in i + 1..d {
                        g[i * d + j] = if !i_set && c >> j & 1 == 0 {
                            failed_pair
                        } else {
                            let h = if c >> j & 1 == 1 {
                                &h1[j * q..(j + 1) * q]
                            } else {
                                h0
                            };
                            0.5 * phi_i.iter().zip(h).map(|(&a, &b)| a * b).sum::<f64>()
                        };
                    }
                }
                finish_block(g, &ws.phi[..d], d);
                self.target.scatter(
                    &mut out[r * row_len..(r + 1) * row_len],
                    features,
                    g,
                    value,
                    tree.output(),
                );
            }
        }
    }
}
