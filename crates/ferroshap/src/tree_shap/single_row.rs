//! The quadrature pass (see the `quadrature` module) for one row, vectorised over the
//! quadrature points instead of over rows.
//!
//! With one row every feature's `o` is a number known while walking, so the walk needs no
//! lanes of rows, and what it keeps per level shrinks to a few `[f64; Q]` arrays. What makes
//! a split cost little more than its arithmetic over the points:
//!
//! - **Packed splits.** A tree's splits are stored once per model in depth-first (pre-order)
//!   order, one record each holding what both outgoing edges need (the merged cover
//!   fractions `z` and their ratios; the leaf values of leaf children, in a table per leaf
//!   column; the credit weights of `o = 1` per point, in a table per edge). The walk is one
//!   forward scan over the records, without branches on the tree's shape.
//! - **Leaf sums as differences of a running total.** A split credits the leaf sums
//!   `S = sum v P` below each child edge to its feature. Leaf children are credited at once.
//!   For a split child, its subtree is a contiguous run of records, so `S` is the running
//!   total of all leaf sums at the record after the run (fixed by the tree) minus the total
//!   at its start: the walk keeps the running total per record and credits a split child
//!   when the next split at its depth replaces it (or at the end), with no stack to unwind.
//!   The path products of a tree's leaves add up to about 1 at every point, so the running
//!   total stays within about the largest |leaf value| and the difference costs about one
//!   rounding of that size.
//! - **Net credits.** A split's credit applies to the leaf sums below it minus those that
//!   deeper splits on the same feature credit themselves. That subtraction is linear, so
//!   each edge applies its own credit weights minus those of the nearest edge above it on
//!   the same feature; that edge is fixed by the tree, so the record names it and the walk
//!   reads its `o` and credit weights from per-edge scratch, with no per-feature state to
//!   save and restore.
//! - **Credits per point.** Credits are added per point to `[f64; Q]` accumulators and
//!   summed over the points once per block of trees.

use std::any::Any;

use super::lanes::{Kernel, run_kernel};
use super::quadrature::{GaussLegendre, POINT_COUNTS, PreparedTree, with_point_count};
use crate::ensemble::{PlainSplit, SplitRules, Tree};

/// `Split::flags`: the split is the right child of its parent.
const RIGHT_CHILD: u8 = 1;
/// `Split::flags`: a numeric split with no rule beyond `x <= threshold` and NaN to the default.
const PLAIN: u8 = 2;
/// `Split::flags`: NaN goes left (plain splits only).
const NAN_LEFT: u8 = 4;

/// One split node, in depth-first order.
#[derive(Debug, Clone, Copy)]
struct Split {
    threshold: f64,
    /// Per child (left, right): the merged cover fraction `z` of this split's feature below
    /// the edge, and its ratio to `z` above the split (0 when that is 0).
    zero: [f64; 2],
    zero_ratio: [f64; 2],
    feature: u32,
    /// The nearest edge above this split on which the path splits on the same feature (0: none).
    above: u32,
    /// Index of the node in the tree (routing of categorical and zero-as-missing splits).
    node: u32,
    depth: u32,
    /// The first split after this one's subtree (the number of splits at the end).
    end: u32,
    flags: u8,
}

/// A tree laid out for the one-row walk. Edges are numbered from 1: split `i`'s left and
/// right child edges are `1 + 2 i` and `2 + 2 i`; edge 0 stands for "no edge above" (`o = 1`,
/// factor 1, credit 0).
#[derive(Debug)]
pub(crate) struct PackedTree {
    splits: Vec<Split>,
    /// Per edge x point: the credit weight `(1 - z) w_q / (p_q + (1 - p_q) z)` of a row with
    /// `o = 1` below the edge (0 for edge 0).
    credit_one: Vec<f64>,
    /// Per edge x point: `1 / (p_q + (1 - p_q) z)` (ones for edge 0). Read only through
    /// `Split::above`, so mostly edge 0.
    inv_one: Vec<f64>,
    /// Per leaf column x edge: the child's leaf value (0 for a split child and edge 0).
    leaf: Vec<f64>,
    rule: GaussLegendre,
    /// Levels the walk needs: the depth of the deepest split, plus one.
    levels: usize,
}

impl PackedTree {
    /// The layout of `tree`, from its path-dependent tables.
    pub(crate) fn new(tree: &Tree, prepared: &PreparedTree, n_features: usize) -> PackedTree {
        let rule = prepared.rule().clone();
        let q = rule.nodes.len();
        let width = tree.leaf_width();
        let mut splits = Vec::new();
        let mut credit_one = vec![0.0; q];
        let mut inv_one = vec![1.0; q];
        // Per edge, then transposed to per column.
        let mut leaf = vec![0.0; width];
        // Per feature: the edge below the nearest split on it on the current path (0: none).
        let mut above = vec![0u32; n_features];
        // The edges of the current path: (depth of the child, feature, its `above` before).
        let mut path: Vec<(usize, usize, u32)> = Vec::new();
        // (node, depth, edge into it, feature of the parent, is a right child)
        let mut stack = vec![(0usize, 0usize, 0u32, 0usize, false)];
        let mut levels = 0;
        while let Some((node, depth, edge, parent_feature, right)) = stack.pop() {
            while let Some(&(d, f, before)) = path.last() {
                if d < depth {
                    break;
                }
                above[f] = before;
                path.pop();
            }
            if depth > 0 {
                path.push((depth, parent_feature, above[parent_feature]));
                above[parent_feature] = edge;
            }
            if tree.is_leaf(node) {
                continue;
            }
            let feature = tree.feature(node);
            let (l, r) = tree.children(node);
            let mut flags = if right { RIGHT_CHILD } else { 0 };
            if let Some(split) = tree.plain_split(node) {
                flags |= PLAIN;
                if split.nan_left {
                    flags |= NAN_LEFT;
                }
            }
            let index = splits.len() as u32;
            splits.push(Split {
                threshold: tree.threshold(node),
                zero: [prepared.zero(l), prepared.zero(r)],
                zero_ratio: [prepared.zero_ratio(l), prepared.zero_ratio(r)],
                feature: feature as u32,
                above: above[feature],
                node: node as u32,
                depth: depth as u32,
                end: 0,
                flags,
            });
            levels = levels.max(depth + 1);
            for child in [l, r] {
                let z = prepared.zero(child);
                let inv = prepared.inv_one(child);
                inv_one.extend_from_slice(inv);
                credit_one.extend(rule.weights.iter().zip(inv).map(|(w, i)| (1.0 - z) * w * i));
                if tree.is_leaf(child) {
                    leaf.extend_from_slice(tree.leaf_value(child));
                } else {
                    leaf.extend(std::iter::repeat_n(0.0, width));
                }
            }
            stack.push((r, depth + 1, 2 + 2 * index, feature, true));
            stack.push((l, depth + 1, 1 + 2 * index, feature, false));
        }
        // A split's subtree ends where the next split at its depth or above starts.
        let mut open: Vec<usize> = Vec::new();
        for i in 0..=splits.len() {
            let depth = splits.get(i).map_or(0, |s| s.depth);
            while let Some(&j) = open.last() {
                if splits[j].depth < depth {
                    break;
                }
                splits[j].end = i as u32;
                open.pop();
            }
            open.push(i);
        }
        let edges = 1 + 2 * splits.len();
        let leaf = (0..width)
            .flat_map(|c| (0..edges).map(move |e| (c, e)))
            .map(|(c, e)| leaf[e * width + c])
            .collect();
        PackedTree {
            splits,
            credit_one,
            inv_one,
            leaf,
            rule,
            levels,
        }
    }

    fn points(&self) -> usize {
        self.rule.nodes.len()
    }

    fn edges(&self) -> usize {
        1 + 2 * self.splits.len()
    }

    /// Bytes held by the layout.
    pub(crate) fn size_bytes(&self) -> usize {
        std::mem::size_of_val(self.splits.as_slice())
            + std::mem::size_of_val(self.credit_one.as_slice())
            + std::mem::size_of_val(self.inv_one.as_slice())
            + std::mem::size_of_val(self.leaf.as_slice())
    }
}

/// What the walk keeps for one split on the current path (or the last split at its depth).
#[derive(Clone, Copy)]
struct Level<const Q: usize> {
    /// Per child edge (left, right): the path product below it and its net credit weights.
    p: [[f64; Q]; 2],
    credit: [[f64; Q]; 2],
    /// Net credit weights of the edge into the split, and the accumulator they credit (the
    /// parent's feature x the output).
    credit_in: [f64; Q],
    slot_in: usize,
    /// The running total of leaf sums when the split was entered, and the split that
    /// follows its subtree: the leaf sums below the split are the running total there minus
    /// `start`.
    start: [f64; Q],
    end: usize,
    /// The accumulator of the split's own feature.
    slot: usize,
}

impl<const Q: usize> Default for Level<Q> {
    fn default() -> Self {
        Level {
            p: [[0.0; Q]; 2],
            credit: [[0.0; Q]; 2],
            credit_in: [0.0; Q],
            slot_in: 0,
            start: [0.0; Q],
            end: 0,
            slot: 0,
        }
    }
}

/// Scratch space of the walk for `Q` points.
struct Scratch<const Q: usize> {
    levels: Vec<Level<Q>>,
    /// Per edge: the row's `o` of the split feature below it, and the edge's credit weights
    /// `(o - z) w_q / f(p_q)` (what splits below on the same feature subtract).
    ones: Vec<f64>,
    credits: Vec<[f64; Q]>,
    /// Per split (and one past the last): the running total of leaf sums before it.
    totals: Vec<[f64; Q]>,
    /// Per feature x output and point: the credits so far.
    acc: Vec<[f64; Q]>,
}

impl<const Q: usize> Scratch<Q> {
    fn new(width: usize) -> Scratch<Q> {
        Scratch {
            levels: Vec::new(),
            ones: Vec::new(),
            credits: Vec::new(),
            totals: Vec::new(),
            acc: vec![[0.0; Q]; width],
        }
    }

    /// Adds every point's credits to `phi` and clears them.
    fn drain(&mut self, phi: &mut [f64]) {
        for (o, acc) in phi.iter_mut().zip(&mut self.acc) {
            *o += acc.iter().sum::<f64>();
            *acc = [0.0; Q];
        }
    }
}

/// Per-thread state for explaining one row: the row and, per point count in use, the walk's
/// scratch space and credit accumulators.
pub(crate) struct RowWorkspace {
    n_outputs: usize,
    row: Vec<f64>,
    /// Per entry of `POINT_COUNTS`: a `Scratch<Q>`, made when a tree first needs it.
    scratch: Vec<Option<Box<dyn Any + Send>>>,
}

impl RowWorkspace {
    pub(crate) fn new(n_features: usize, n_outputs: usize) -> RowWorkspace {
        RowWorkspace {
            n_outputs,
            row: vec![0.0; n_features],
            scratch: (0..POINT_COUNTS.len()).map(|_| None).collect(),
        }
    }

    /// Starts a row: `row` holds its prepared values.
    pub(crate) fn load(&mut self, row: &[f64]) {
        self.row.copy_from_slice(row);
    }

    /// Adds one tree's SHAP values for the loaded row.
    pub(crate) fn add_tree(&mut self, tree: &Tree, packed: &PackedTree, rules: &SplitRules) {
        if packed.splits.is_empty() {
            return; // a single leaf: no feature gets any credit
        }
        with_point_count!(packed.points(), Q => self.add_tree_q::<Q>(tree, packed, rules));
    }

    fn add_tree_q<const Q: usize>(&mut self, tree: &Tree, packed: &PackedTree, rules: &SplitRules) {
        let slot = POINT_COUNTS
            .iter()
            .position(|&c| c == Q)
            .expect("a compiled point count");
        let width = self.row.len() * self.n_outputs;
        let scratch: &mut Scratch<Q> = self.scratch[slot]
            .get_or_insert_with(|| Box::new(Scratch::<Q>::new(width)))
            .downcast_mut()
            .expect("scratch of Q points");
        if scratch.levels.len() < packed.levels {
            scratch.levels.resize(packed.levels, Level::default());
        }
        if scratch.ones.len() < packed.edges() {
            scratch.ones.resize(packed.edges(), 0.0);
            scratch.credits.resize(packed.edges(), [0.0; Q]);
        }
        if scratch.totals.len() <= packed.splits.len() {
            scratch.totals.resize(packed.splits.len() + 1, [0.0; Q]);
        }
        for column in 0..tree.leaf_width() {
            run_kernel(Walk {
                scratch: &mut *scratch,
                packed,
                tree,
                rules,
                row: &self.row,
                output: tree.output() + column,
                n_outputs: self.n_outputs,
                column,
            });
        }
    }

    /// Adds the row's values to `phi` (`n_features x n_outputs`) and clears them.
    pub(crate) fn store(&mut self, phi: &mut [f64]) {
        with_each_point_count(&mut self.scratch, phi);
    }
}

/// Drains every point count's accumulators into `phi`, in the order of `POINT_COUNTS`.
fn with_each_point_count(scratch: &mut [Option<Box<dyn Any + Send>>], phi: &mut [f64]) {
    for (slot, s) in scratch.iter_mut().enumerate() {
        let Some(s) = s else { continue };
        with_point_count!(POINT_COUNTS[slot], Q => {
            s.downcast_mut::<Scratch<Q>>().expect("scratch of Q points").drain(phi)
        });
    }
}

/// One walk over a tree for one leaf column.
struct Walk<'a, const Q: usize> {
    scratch: &'a mut Scratch<Q>,
    packed: &'a PackedTree,
    tree: &'a Tree,
    rules: &'a SplitRules,
    row: &'a [f64],
    output: usize,
    n_outputs: usize,
    column: usize,
}

impl<const Q: usize> Kernel for Walk<'_, Q> {
    #[inline(always)]
    fn run(self) {
        let Walk {
            scratch,
            packed,
            tree,
            rules,
            row,
            output,
            n_outputs,
            column,
        } = self;
        let rule = GaussLegendreQ::<Q>::new(packed);
        let (n_splits, n_edges) = (packed.splits.len(), packed.edges());
        // Slices, so that the walk's stores cannot be taken to change the vectors' lengths.
        let levels = &mut scratch.levels[..packed.levels];
        let credits = &mut scratch.credits[..n_edges];
        let ones = &mut scratch.ones[..n_edges];
        let totals = &mut scratch.totals[..n_splits + 1];
        let acc = &mut scratch.acc[..];
        // No split has been entered at any level yet: nothing to credit there.
        levels.fill(Level::default());
        credits[0] = [0.0; Q];
        ones[0] = 1.0;
        // The leaf sums so far, in depth-first order.
        let mut total = [0.0; Q];
        let records = packed
            .splits
            .iter()
            .zip(packed.credit_one[Q..].chunks_exact(2 * Q))
            .zip(packed.leaf[column * n_edges + 1..(column + 1) * n_edges].chunks_exact(2));
        for (i, ((split, credit_one), leaves)) in records.enumerate() {
            let d = split.depth as usize;
            totals[i] = total;
            // The split last entered at this depth is finished (by `end <= i`): credit its
            // leaf sums to the feature of the edge into it.
            finish(&levels[d], totals, acc);
            let (p, credit_in, slot_in) = if d == 0 {
                ([1.0; Q], [0.0; Q], 0)
            } else {
                let parent = &levels[d - 1];
                let side = usize::from(split.flags & RIGHT_CHILD);
                (parent.p[side], parent.credit[side], parent.slot)
            };
            let feature = split.feature as usize;
            let x = row[feature];
            let left = if split.flags & PLAIN != 0 {
                let plain = PlainSplit {
                    threshold: split.threshold,
                    nan_left: split.flags & NAN_LEFT != 0,
                };
                plain.left(x)
            } else if tree.goes_left(split.node as usize, x, rules) {
                1.0
            } else {
                0.0
            };
            let above = split.above as usize;
            let (credit_old, o_old) = (credits[above], ones[above]);
            let inv_old: [f64; Q] = packed.inv_one[above * Q..(above + 1) * Q]
                .try_into()
                .expect("Q points");
            let o_new = [o_old * left, o_old - o_old * left];
            let slot = feature * n_outputs + output;
            let mut level = Level {
                credit_in,
                slot_in,
                start: total,
                end: split.end as usize,
                slot,
                ..Level::default()
            };
            // Both child edges at once, as [side][point] arrays (one 8-wide vector each for
            // four points with AVX-512).
            let (z, zr, o, v) = (split.zero, split.zero_ratio, o_new, leaves);
            let mut pc = [[0.0; Q]; 2];
            let mut c = [[0.0; Q]; 2];
            let mut net = [[0.0; Q]; 2];
            let mut leaf_sum = [[0.0; Q]; 2];
            for side in 0..2 {
                for q in 0..Q {
                    // The factor of the split feature below the edge over the one above it:
                    // f_new / f_old = (p o + (1 - p) z) / (p + (1 - p) z_old) when o was 1
                    // above, z / z_old when it was 0.
                    let f = o[side] * rule.p[q] + rule.one_minus_p[q] * z[side];
                    let factor = zr[side] + o_old * (f * inv_old[q] - zr[side]);
                    pc[side][q] = p[q] * factor;
                    // Credit weights: -w / (1 - p) for o = 0, (1 - z) w / f for o = 1. (With
                    // z = 0 and o = 0 the path product below is 0, so the first never
                    // multiplies anything but 0 there.)
                    let zero = rule.zero_credit[q];
                    c[side][q] = zero + o[side] * (credit_one[side * Q + q] - zero);
                    net[side][q] = c[side][q] - credit_old[q];
                    // A leaf child (v = 0 for a split child) is credited at once.
                    leaf_sum[side][q] = v[side] * pc[side][q];
                }
            }
            let mut credited = [0.0; Q];
            for q in 0..Q {
                credited[q] = net[0][q] * leaf_sum[0][q] + net[1][q] * leaf_sum[1][q];
                total[q] += leaf_sum[0][q] + leaf_sum[1][q];
            }
            level.p = pc;
            level.credit = net;
            credits[1 + 2 * i..3 + 2 * i].copy_from_slice(&c);
            ones[1 + 2 * i..3 + 2 * i].copy_from_slice(&o);
            let a = &mut acc[slot];
            for q in 0..Q {
                a[q] += credited[q];
            }
            levels[d] = level;
        }
        totals[n_splits] = total;
        for done in levels.iter() {
            finish(done, totals, acc);
        }
    }
}

/// Credits the leaf sums below a finished split to the feature of the edge into it.
#[inline(always)]
fn finish<const Q: usize>(done: &Level<Q>, totals: &[[f64; Q]], acc: &mut [[f64; Q]]) {
    let (sums, mut credited) = (totals[done.end], [0.0; Q]);
    for q in 0..Q {
        credited[q] = done.credit_in[q] * (sums[q] - done.start[q]);
    }
    let a = &mut acc[done.slot_in];
    for q in 0..Q {
        a[q] += credited[q];
    }
}

/// The tree's quadrature rule as arrays of `Q` points, with the derived constants.
struct GaussLegendreQ<const Q: usize> {
    p: [f64; Q],
    one_minus_p: [f64; Q],
    /// `-w / (1 - p)`: the credit weight of `o = 0` (when `z != 0`).
    zero_credit: [f64; Q],
}

impl<const Q: usize> GaussLegendreQ<Q> {
    #[inline(always)]
    fn new(packed: &PackedTree) -> GaussLegendreQ<Q> {
        let p: [f64; Q] = packed.rule.nodes[..].try_into().expect("Q points");
        let w: [f64; Q] = packed.rule.weights[..].try_into().expect("Q points");
        let mut rule = GaussLegendreQ {
            p,
            one_minus_p: [0.0; Q],
            zero_credit: [0.0; Q],
        };
        for q in 0..Q {
            rule.one_minus_p[q] = 1.0 - p[q];
            rule.zero_credit[q] = -w[q] / (1.0 - p[q]);
        }
        rule
    }
}
