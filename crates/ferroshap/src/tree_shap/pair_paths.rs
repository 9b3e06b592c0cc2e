//! The pair of an explained row `x` and a background row `r` as the estimator of
//! [`pair_sampling`](super::pair_sampling) reads it: its reachable leaves with their
//! conditions on the parting features, and each tree cut down to the splits where the pair
//! parts, walked once per permutation.
//!
//! # The pair's leaves
//!
//! [`PairPaths::collect`] walks every tree once with both rows, as the exact game does, and
//! keeps each reachable leaf with its condition: a short list of parting features that must be
//! in the coalition and of those that must be out. There is no limit on `|D|`: a condition has
//! at most the tree's depth entries. It also keeps each tree cut down to the splits where the
//! pair parts: a binary tree over the parting features.
//!
//! # One permutation in `O(depth · changes + |D| K)`
//!
//! Along a permutation `π` of `D`, the coalitions are its prefixes `S_0 ⊂ … ⊂ S_|D|`. A leaf
//! whose "in" features sit at positions `A` of `π` and "out" features at `B` is reached by the
//! prefixes `S_t` with `max(A) < t ≤ min(B)`: one interval. Walking each cut-down tree with
//! the interval of prefixes on the current node (a split on the feature at position `p` sends
//! `t > p` to `x`'s side and the rest to `r`'s) visits only the leaves some prefix reaches,
//! in `O(depth)` per change of leaf; each adds its value at its interval's ends of a
//! difference array. Summing gives the margin of every prefix, and the transform `g` turns
//! them into the permutation's marginal contributions. The reversed permutation (the
//! antithetic partner) is carried through the same walk.

use crate::ensemble::TreeEnsemble;

/// One reachable leaf: `conds[start..end]` are its conditions.
#[derive(Clone, Copy, Debug)]
pub(super) struct PathLeaf {
    pub(super) start: u32,
    pub(super) end: u32,
    pub(super) tree: u32,
    pub(super) node: u32,
}

/// A split where the pair parts (`bit` its feature's bit; `x` and `r` the children on each
/// row's side), or with `bit == LEAF` a leaf (`x` its index in `leaves`, `r` where its
/// margins start in `leaf_margins`).
#[derive(Clone, Copy, Debug)]
struct PairNode {
    bit: u32,
    x: u32,
    r: u32,
}

const LEAF: u32 = u32::MAX;
const ROOT: u32 = u32::MAX;

/// A condition on a parting feature: `bit` (its index among the parting features) must be in
/// the coalition (`inside`) or out of it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Cond {
    pub(super) bit: u32,
    pub(super) inside: bool,
}

/// The reachable leaves of one pair, with their conditions, and reusable buffers.
#[derive(Debug, Default)]
pub struct PairPaths {
    pub(super) bit_of: Vec<u32>,
    pub(super) features: Vec<u32>,
    pub(super) conds: Vec<Cond>,
    pub(super) leaves: Vec<PathLeaf>,
    path: Vec<Cond>,
    /// Walk stack: node, path length, condition to push, slot of the parent's link.
    stack: Vec<(u32, u32, Option<Cond>, u32)>,
    /// The pair's trees, cut down to the splits where the pair parts.
    nodes: Vec<PairNode>,
    /// Root node of each tree with a conditioned leaf.
    roots: Vec<u32>,
    /// Each conditioned leaf's values as a full vector of the `n_outputs` margins, so that
    /// the per-permutation walk reads one contiguous slice.
    leaf_margins: Vec<f64>,
    /// Base offset plus the leaves every hybrid reaches.
    pub(super) constant: Vec<f64>,
    pub(super) n_outputs: usize,
}

impl PairPaths {
    /// Empty buffers for `model`.
    pub fn new(model: &TreeEnsemble) -> PairPaths {
        PairPaths {
            bit_of: vec![u32::MAX; model.n_features()],
            n_outputs: model.n_outputs(),
            ..PairPaths::default()
        }
    }

    /// Walks every tree with the prepared rows `x` and `r`, keeping each reachable leaf and
    /// its condition on the parting features.
    pub fn collect(&mut self, model: &TreeEnsemble, x: &[f64], r: &[f64]) {
        for &f in &self.features {
            self.bit_of[f as usize] = u32::MAX;
        }
        self.features.clear();
        self.conds.clear();
        self.leaves.clear();
        self.nodes.clear();
        self.roots.clear();
        self.leaf_margins.clear();
        self.constant.clear();
        self.constant.extend_from_slice(model.base_offset());
        let rules = model.rules();
        for (t, tree) in model.trees().iter().enumerate() {
            self.stack.clear();
            self.path.clear();
            self.stack.push((0, 0, None, ROOT));
            'paths: while let Some((start, len, cond, slot)) = self.stack.pop() {
                self.path.truncate(len as usize);
                self.path.extend(cond);
                let mut node = start as usize;
                while !tree.is_leaf(node) {
                    let j = tree.feature(node);
                    let bit = self.bit_of[j];
                    let fixed = if bit == u32::MAX {
                        None
                    } else {
                        self.path.iter().find(|c| c.bit == bit)
                    };
                    if let Some(c) = fixed {
                        node = tree.next(node, if c.inside { x[j] } else { r[j] }, rules);
                        continue;
                    }
                    let nx = tree.next(node, x[j], rules);
                    let nr = tree.next(node, r[j], rules);
                    if nx == nr {
                        node = nx;
                        continue;
                    }
                    let bit = if bit == u32::MAX {
                        let b = self.features.len() as u32;
                        self.bit_of[j] = b;
                        self.features.push(j as u32);
                        b
                    } else {
                        bit
                    };
                    let len = self.path.len() as u32;
                    let at = self.link(slot, PairNode { bit, x: 0, r: 0 });
                    let out = Cond { bit, inside: false };
                    self.stack.push((nr as u32, len, Some(out), 2 * at + 1));
                    let inside = Cond { bit, inside: true };
                    self.stack.push((nx as u32, len, Some(inside), 2 * at));
                    continue 'paths;
                }
                if self.path.is_empty() {
                    for (c, v) in self.constant[tree.output()..]
                        .iter_mut()
                        .zip(tree.leaf_value(node))
                    {
                        *c += v;
                    }
                } else {
                    let start = self.conds.len() as u32;
                    self.conds.extend_from_slice(&self.path);
                    let leaf = self.leaves.len() as u32;
                    self.leaves.push(PathLeaf {
                        start,
                        end: self.conds.len() as u32,
                        tree: t as u32,
                        node: node as u32,
                    });
                    let at = self.leaf_margins.len();
                    self.leaf_margins.resize(at + self.n_outputs, 0.0);
                    add(
                        &mut self.leaf_margins[at + tree.output()..],
                        tree.leaf_value(node),
                        1.0,
                    );
                    self.link(
                        slot,
                        PairNode {
                            bit: LEAF,
                            x: leaf,
                            r: at as u32,
                        },
                    );
                }
            }
        }
    }
}

impl PairPaths {
    /// Adds `node` and links it from `slot` (`2 * parent` for the parent's x side, `+ 1`
    /// for its r side, [`ROOT`] for a tree's root); returns its index.
    fn link(&mut self, slot: u32, node: PairNode) -> u32 {
        let at = self.nodes.len() as u32;
        self.nodes.push(node);
        if slot == ROOT {
            self.roots.push(at);
        } else if slot % 2 == 0 {
            self.nodes[(slot / 2) as usize].x = at;
        } else {
            self.nodes[(slot / 2) as usize].r = at;
        }
        at
    }

    /// Adds, for the permutation with positions `pos` (forward) and its reverse, each leaf's
    /// value at the first prefix that reaches it and subtracts it at the first that does not,
    /// into `diff` and `rdiff` (`k` per prefix, `d + 2` prefixes). A node is on the path of
    /// the prefixes `t` in an interval; its split sends those with `t > pos[bit]` to `x`'s
    /// side and the others to `r`'s, so one walk per tree visits only the nodes some prefix
    /// reaches: `O(depth · changes)` instead of every reachable leaf.
    pub(super) fn add_prefix_leaves(
        &self,
        pos: &[u32],
        diff: &mut [f64],
        rdiff: &mut [f64],
        stack: &mut Vec<[u32; 5]>,
    ) {
        let d = self.features.len() as u32;
        let k = self.n_outputs;
        for &root in &self.roots {
            stack.push([root, 0, d + 1, 0, d + 1]);
            while let Some([n, lo, hi, rlo, rhi]) = stack.pop() {
                let node = self.nodes[n as usize];
                if node.bit == LEAF {
                    let values = &self.leaf_margins[node.r as usize..node.r as usize + k];
                    if lo < hi {
                        add(&mut diff[lo as usize * k..], values, 1.0);
                        add(&mut diff[hi as usize * k..], values, -1.0);
                    }
                    if rlo < rhi {
                        add(&mut rdiff[rlo as usize * k..], values, 1.0);
                        add(&mut rdiff[rhi as usize * k..], values, -1.0);
                    }
                    continue;
                }
                // Entry prefix of the split's feature forward and reversed.
                let p = pos[node.bit as usize];
                let (enter, renter) = (p + 1, d - p);
                if lo.max(enter) < hi || rlo.max(renter) < rhi {
                    stack.push([node.x, lo.max(enter), hi, rlo.max(renter), rhi]);
                }
                if lo < hi.min(enter) || rlo < rhi.min(renter) {
                    stack.push([node.r, lo, hi.min(enter), rlo, rhi.min(renter)]);
                }
            }
        }
    }
}

#[inline]
pub(super) fn add(out: &mut [f64], values: &[f64], w: f64) {
    for (o, v) in out.iter_mut().zip(values) {
        *o += w * v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use ndarray::{Array2, ArrayView1};

    /// The walk's margin for every prefix of a random permutation and of its reverse is the
    /// model's own margin on that hybrid row (1e-10: the same leaf values summed in another
    /// order, margins of order 10). Two fixtures: XGBoost binary, LightGBM multi-class with
    /// categorical splits; rows with 10% missing values.
    #[test]
    fn prefix_margins_match_the_models_hybrid_rows() {
        for file in [
            "tests/fixtures/xgb34_xgb_binary.ubj",
            "tests/fixtures/lgb_multiclass_categorical.txt",
        ] {
            let model = TreeEnsemble::from_file(file).unwrap();
            let (m, k) = (model.n_features(), model.n_outputs());
            let mut rng = Rng::stream(3, 0);
            let mut paths = PairPaths::new(&model);
            let mut checked = 0;
            for _ in 0..20 {
                let raw: Vec<f64> = (0..2 * m)
                    .map(|_| match rng.below(10) {
                        0 => f64::NAN,
                        _ => 6.0 * rng.next_f64() - 3.0,
                    })
                    .collect();
                let rows = Array2::from_shape_vec((2, m), raw).unwrap();
                let (mut x, mut r) = (vec![0.0; m], vec![0.0; m]);
                model.prepare_row(&rows.view(), 0, &mut x);
                model.prepare_row(&rows.view(), 1, &mut r);
                paths.collect(&model, &x, &r);
                let d = paths.features.len();
                if d < 2 {
                    continue;
                }
                let mut perm: Vec<u32> = (0..d as u32).collect();
                for i in (1..d).rev() {
                    perm.swap(i, rng.below(i as u64 + 1) as usize);
                }
                let mut pos = vec![0u32; d];
                for (t, &b) in perm.iter().enumerate() {
                    pos[b as usize] = t as u32;
                }
                let (mut diff, mut rdiff) = (vec![0.0; (d + 2) * k], vec![0.0; (d + 2) * k]);
                paths.add_prefix_leaves(&pos, &mut diff, &mut rdiff, &mut Vec::new());
                let reversed: Vec<u32> = perm.iter().rev().copied().collect();
                let mut hybrids = Array2::<f64>::zeros((2 * (d + 1), m));
                for (block, order) in [&perm, &reversed].into_iter().enumerate() {
                    for t in 0..=d {
                        let mut h = r.clone();
                        for &b in &order[..t] {
                            let f = paths.features[b as usize] as usize;
                            h[f] = x[f];
                        }
                        hybrids
                            .row_mut(block * (d + 1) + t)
                            .assign(&ArrayView1::from(&h));
                    }
                }
                let want = model.predict_margin(hybrids.view()).unwrap();
                for (block, diff) in [&diff, &rdiff].into_iter().enumerate() {
                    let mut margin = paths.constant.clone();
                    for t in 0..=d {
                        for o in 0..k {
                            margin[o] += diff[t * k + o];
                            let w = want[[block * (d + 1) + t, o]];
                            assert!(
                                (margin[o] - w).abs() <= 1e-10 * (1.0 + w.abs()),
                                "{file}: prefix {t} output {o}: {} vs {w}",
                                margin[o]
                            );
                        }
                    }
                }
                checked += 1;
            }
            assert!(
                checked >= 5,
                "{file}: only {checked} pairs part on 2+ features"
            );
        }
    }
}
