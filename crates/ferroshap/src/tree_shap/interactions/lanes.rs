//! Path-dependent interaction values by one depth-first walk per tree over a block of `R`
//! rows held in lanes, with `Q` quadrature points fixed at compile time (the design of the
//! SHAP-value pass in `tree_shap::lanes`, whose per-tree tables it reads).
//!
//! For a leaf L with path product `P_L = prod_k f_k` (`f_k(p) = p o_k + (1 - p) z_k`, the
//! merged factor of feature k on L's path) and `h_k = (o_k - z_k) / f_k`, the leaf adds
//! `v w_q P_L h_i h_j` (summed over points q) to the interaction index of i and j, and
//! `v w_q P_L h_j` to the Shapley value of j (see the `path_dependent` module).
//!
//! Going down L's path, each split on j changes `h_j` (from its value with the conditions
//! above, 0 when j is new) and no other `h`. So `h_i h_j` at L is the sum over the splits on
//! L's path of `h_i (current) x (change of h_j)`, where i ranges over the other features on
//! the path above and j is the split's feature, and likewise `h_j` at L is the sum of its
//! changes. Everything in such a term but `v P_L` is fixed by the path down to the split's
//! child, so the split credits the leaf sums `S = sum of v P_L over the leaves below the
//! child`, which the walk carries up:
//!
//! - `phi_j += sum_q w_q dh_j(q) S(q)` and
//! - for each other feature i on the path, `SII_ij += sum_q w_q dh_j(q) h_i(q) S(q)`.
//!
//! That is O(nodes x depth x Q) per tree and row. The terms are rational functions of p, but
//! they telescope point by point to `P_L h_i h_j`, a polynomial of degree below |U| that the
//! tree's rule integrates exactly. A row's `o` is 0 or 1, so `h` and its changes take one of
//! two or three row-independent values per point: the walk computes those per node and only
//! selects per row, as arithmetic the compiler vectorises.

use super::Target;
use crate::ensemble::{SplitRules, Tree};
use crate::tree_shap::lanes::{
    Factors, LevelCache, child_ones, goes_left, inv_one_or_ones, load_lanes,
};
use crate::tree_shap::quadrature::{PreparedTree, with_point_count};

/// No ancestor split on this feature, or no table (the feature is not on the path).
const NONE: u32 = u32::MAX;

/// One split node on the current path.
#[derive(Clone, Copy, Default)]
struct Frame {
    node: usize,
    feature: usize,
    /// Level of the deepest split on the same feature above this one, or `NONE`.
    ancestor: u32,
    /// 0: the left child is next; 1: the right child; 2: both done.
    next: u8,
    /// No child's leaf sums have been added to this node's yet.
    first: bool,
    /// The feature's merged cover fraction above this split.
    z_old: f64,
    /// The node whose `inv_one` table held for the feature above this split (`NONE`: ones).
    inv_node: u32,
}

/// Everything the walk keeps for one level of the current path.
#[derive(Clone, Copy)]
struct Level<const R: usize, const Q: usize> {
    frame: Frame,
    /// Per row: 1 when the row goes left at this level's split.
    left: [f64; R],
    /// Per row: the feature's `o` before this split, and in the child being explained.
    old_one: [f64; R],
    child_one: [f64; R],
    /// Per point: `w_q` times the change of the feature's `h` into the child being
    /// explained: `dh_zero + o_child dh_child + o_old dh_old`.
    dh_zero: [f64; Q],
    dh_child: [f64; Q],
    dh_old: [f64; Q],
    /// Per point: the feature's `h` in the child for rows with `o = 1` minus that for rows
    /// with `o = 0`; the latter is `-1 / (1 - p)`, or 0 when `zero_live` is false (z = 0).
    h_one: [f64; Q],
    zero_live: bool,
    /// Per point x row: the path product `P` of this level's node and the leaf sums
    /// `S = sum v P` below it.
    p: [[f64; R]; Q],
    s: [[f64; R]; Q],
}

impl<const R: usize, const Q: usize> Default for Level<R, Q> {
    fn default() -> Self {
        Level {
            frame: Frame::default(),
            left: [0.0; R],
            old_one: [0.0; R],
            child_one: [0.0; R],
            dh_zero: [0.0; Q],
            dh_child: [0.0; Q],
            dh_old: [0.0; Q],
            h_one: [0.0; Q],
            zero_live: false,
            p: [[0.0; R]; Q],
            s: [[0.0; R]; Q],
        }
    }
}

/// The rule's constants for `Q` points.
struct Rule<const Q: usize> {
    nodes: [f64; Q],
    weights: [f64; Q],
    /// `-1 / (1 - p)`: `h` of a row with `o = 0` (when `z != 0`).
    h_zero: [f64; Q],
}

/// Where the walk adds a block's values.
struct Sink<'a> {
    target: &'a Target,
    /// The block's rows' output, `Target::row_len` values per row.
    out: &'a mut [f64],
    output: usize,
}

/// Per-thread scratch space for blocks of up to `R` rows.
pub(super) struct PairLanes<const R: usize> {
    n_outputs: usize,
    /// Rows in the current block (lanes beyond are padding and never stored).
    n: usize,
    /// Levels of the deepest path, plus one.
    depth: usize,
    /// Per feature: the block's values, one lane per row.
    x: Vec<[f64; R]>,
    /// Per feature: the merged `o` of its conditions on the current path, per row.
    one: Vec<[f64; R]>,
    /// Per feature: the merged `z` of its conditions on the current path.
    zero: Vec<f64>,
    /// Per feature: level of the deepest split on it on the current path (`NONE` if none).
    last: Vec<u32>,
    /// Per feature: the node whose `inv_one` table holds for the feature's current `z`.
    inv_node: Vec<u32>,
    /// The levels for each point count (`Vec<Level<R, Q>>`).
    levels: LevelCache,
    /// Per feature x output: the diagonal so far, the Shapley value minus the feature's
    /// interaction values with every other feature.
    diag: Vec<[f64; R]>,
}

impl<const R: usize> PairLanes<R> {
    pub(super) fn new(n_features: usize, n_outputs: usize, max_depth: usize) -> PairLanes<R> {
        PairLanes {
            n_outputs,
            n: 0,
            depth: max_depth + 1,
            x: vec![[0.0; R]; n_features],
            one: vec![[1.0; R]; n_features],
            zero: vec![1.0; n_features],
            last: vec![NONE; n_features],
            inv_node: vec![NONE; n_features],
            levels: LevelCache::default(),
            diag: vec![[0.0; R]; n_features * n_outputs],
        }
    }

    /// Adds one tree's interaction values for `n <= R` prepared rows (`rows`, row-major) to
    /// their output (`out`, [`Target::row_len`] values per row).
    pub(super) fn add_tree(
        &mut self,
        tree: &Tree,
        prepared: &PreparedTree,
        rules: &SplitRules,
        target: &Target,
        (rows, n): (&[f64], usize),
        out: &mut [f64],
    ) {
        self.n = n;
        load_lanes(&mut self.x, rows, n);
        // A vector leaf is explained one output at a time.
        for column in 0..tree.leaf_width() {
            let mut sink = Sink {
                target,
                out: &mut *out,
                output: tree.output() + column,
            };
            with_point_count!(prepared.points(), Q => {
                self.dispatch::<Q>(tree, prepared, rules, column, &mut sink)
            });
        }
        // The diagonal of the requested features.
        let (f, k) = (target.f, target.k);
        let row_len = target.row_len();
        for (feature, &pos) in target.pos.iter().enumerate() {
            if pos == super::SKIP {
                continue;
            }
            let pos = pos as usize;
            for output in 0..k {
                let lanes = &mut self.diag[feature * k + output];
                let at = pos * f * k + pos * k + output;
                for r in 0..n {
                    out[r * row_len + at] += lanes[r];
                }
                *lanes = [0.0; R];
            }
        }
    }

    /// Runs the walk, in its AVX2 copy when the CPU has AVX2.
    fn dispatch<const Q: usize>(
        &mut self,
        tree: &Tree,
        prepared: &PreparedTree,
        rules: &SplitRules,
        column: usize,
        sink: &mut Sink<'_>,
    ) {
        let (slot, mut boxed) = self.levels.take::<Level<R, Q>>(Q, self.depth);
        let levels: &mut Vec<Level<R, Q>> = boxed.downcast_mut().expect("levels of Q points");
        crate::simd::with_avx2(
            #[inline(always)]
            || self.walk::<Q>(levels, tree, prepared, rules, column, sink),
        );
        self.levels.put(slot, boxed);
    }

    /// The depth-first pass over `tree` for output `column` of its leaves.
    #[inline(always)]
    fn walk<const Q: usize>(
        &mut self,
        levels: &mut [Level<R, Q>],
        tree: &Tree,
        prepared: &PreparedTree,
        rules: &SplitRules,
        column: usize,
        sink: &mut Sink<'_>,
    ) {
        let gauss = prepared.rule();
        let mut rule = Rule {
            nodes: gauss.nodes[..Q].try_into().expect("Q points"),
            weights: gauss.weights[..Q].try_into().expect("Q points"),
            h_zero: [0.0; Q],
        };
        for q in 0..Q {
            rule.h_zero[q] = -1.0 / (1.0 - rule.nodes[q]);
        }
        if tree.is_leaf(0) {
            return; // a single leaf: no feature gets any credit
        }
        levels[0].p = [[1.0; R]; Q];
        let mut d = 0usize;
        self.enter(&mut levels[0], tree, rules, 0);
        loop {
            let frame = levels[d].frame;
            if frame.next == 2 {
                // Both children done.
                if frame.first {
                    levels[d].s = [[0.0; R]; Q];
                }
                if d == 0 {
                    return;
                }
                d -= 1;
                // The child just finished was the split child of level d: credit and fold it.
                let (above, below) = levels.split_at_mut(d + 1);
                let s = &below[0].s;
                self.credit::<Q>(above, s, &rule, sink);
                self.fold::<Q>(&mut above[d], s);
                continue;
            }
            let level = &mut levels[d];
            level.frame.next += 1;
            let (l, r) = tree.children(frame.node);
            let (child, is_left) = if frame.next == 0 {
                (l, true)
            } else {
                (r, false)
            };
            let z_c = prepared.zero(child);
            let Some(child_one) = child_ones(&level.left, &level.old_one, is_left, self.n, z_c)
            else {
                continue; // every row's path product is 0 below this child
            };
            level.child_one = child_one;
            let factors = self.factors::<Q>(level, &frame, prepared, child, &rule);
            if tree.is_leaf(child) {
                // A leaf child is credited and folded in place.
                let v = tree.leaf_value(child)[column];
                let level = &levels[d];
                let mut s = factors.apply(&level.p, &level.old_one, &level.child_one);
                for lanes in s.iter_mut().flatten() {
                    *lanes *= v;
                }
                self.credit::<Q>(&levels[..=d], &s, &rule, sink);
                self.fold::<Q>(&mut levels[d], &s);
            } else {
                let (above, below) = levels.split_at_mut(d + 1);
                let (level, below) = (&mut above[d], &mut below[0]);
                below.p = factors.apply(&level.p, &level.old_one, &level.child_one);
                let f = frame.feature;
                self.inv_node[f] = child as u32;
                self.one[f] = level.child_one;
                self.zero[f] = z_c;
                self.last[f] = d as u32;
                d += 1;
                self.enter(&mut levels[d], tree, rules, child);
            }
        }
    }

    /// Starts the split `node` at `level`: which rows go left, and the feature's state.
    #[inline(always)]
    fn enter<const Q: usize>(
        &mut self,
        level: &mut Level<R, Q>,
        tree: &Tree,
        rules: &SplitRules,
        node: usize,
    ) {
        let feature = tree.feature(node);
        goes_left(tree, rules, node, &self.x[feature], &mut level.left);
        level.old_one = self.one[feature];
        level.frame = Frame {
            node,
            feature,
            ancestor: self.last[feature],
            next: 0,
            first: true,
            z_old: self.zero[feature],
            inv_node: self.inv_node[feature],
        };
    }

    /// For the child of the split at `level` (cover fraction `prepared.zero(child)`): the
    /// factors of the path product, and the change of the feature's `h` and its value there.
    ///
    /// With `h1(z) = (1 - z) / (p + (1 - p) z)` (rows with `o = 1`) and `h0(z) = -1 / (1 - p)`
    /// (rows with `o = 0`; 0 when `z = 0`, where `P` is 0 anyway), a row's change is
    /// `h0(z_c) - h0(z_old) + o_child (h1(z_c) - h0(z_c)) - o_old (h1(z_old) - h0(z_old))`.
    #[inline(always)]
    fn factors<const Q: usize>(
        &self,
        level: &mut Level<R, Q>,
        frame: &Frame,
        prepared: &PreparedTree,
        child: usize,
        rule: &Rule<Q>,
    ) -> Factors<Q> {
        let inv_old = inv_one_or_ones::<Q>(prepared, frame.inv_node);
        let inv_new: &[f64; Q] = prepared.inv_one(child).try_into().expect("Q points");
        let (z_c, z_old) = (prepared.zero(child), frame.z_old);
        let factors = Factors::new(prepared, child, frame.inv_node, &rule.nodes);
        level.zero_live = z_c != 0.0;
        for q in 0..Q {
            let h0_new = if z_c != 0.0 { rule.h_zero[q] } else { 0.0 };
            let h0_old = if z_old != 0.0 { rule.h_zero[q] } else { 0.0 };
            let h_one_new = (1.0 - z_c) * inv_new[q] - h0_new;
            let h_one_old = (1.0 - z_old) * inv_old[q] - h0_old;
            let w = rule.weights[q];
            level.h_one[q] = h_one_new;
            level.dh_zero[q] = w * (h0_new - h0_old);
            level.dh_child[q] = w * h_one_new;
            level.dh_old[q] = -w * h_one_old;
        }
        factors
    }

    /// Credits the leaf sums `s` below the child being explained at the last of `levels`:
    /// the Shapley value of its feature j, and the interaction of j with every other feature
    /// on the path (at the level of the deepest split on it, which holds its current `h`).
    #[inline(always)]
    fn credit<const Q: usize>(
        &mut self,
        levels: &[Level<R, Q>],
        s: &[[f64; R]; Q],
        rule: &Rule<Q>,
        sink: &mut Sink<'_>,
    ) {
        let (level, ancestors) = levels.split_last().expect("a level");
        let j = level.frame.feature;
        // t = w dh_j S per point and row; its sum is j's Shapley value, and `zero_part` its
        // sum weighted by h of a row with o = 0.
        let mut t = [[0.0; R]; Q];
        let mut total = [0.0; R];
        let mut zero_part = [0.0; R];
        for q in 0..Q {
            let (dz, dc, dold) = (level.dh_zero[q], level.dh_child[q], level.dh_old[q]);
            for r in 0..R {
                let dh = dz + level.child_one[r] * dc + level.old_one[r] * dold;
                t[q][r] = dh * s[q][r];
                total[r] += t[q][r];
                zero_part[r] += t[q][r] * rule.h_zero[q];
            }
        }
        let k = self.n_outputs;
        let diag_j = &mut self.diag[j * k + sink.output];
        for r in 0..R {
            diag_j[r] += total[r];
        }
        let target = sink.target;
        let pos_j = target.pos[j];
        let (f, row_len) = (target.f, target.row_len());
        for (l, ancestor) in ancestors.iter().enumerate() {
            let i = ancestor.frame.feature;
            if i == j || self.last[i] != l as u32 {
                continue; // the same feature, or a deeper split on i holds its h
            }
            let pos_i = target.pos[i];
            if pos_i == super::SKIP && pos_j == super::SKIP {
                continue;
            }
            // Half the interaction index: phi_ij = phi_ji.
            let mut half = [0.0; R];
            for q in 0..Q {
                let h = ancestor.h_one[q];
                for r in 0..R {
                    half[r] += t[q][r] * h;
                }
            }
            let live = if ancestor.zero_live { 0.5 } else { 0.0 };
            for r in 0..R {
                half[r] = 0.5 * ancestor.child_one[r] * half[r] + live * zero_part[r];
            }
            for feature in [i, j] {
                let diag = &mut self.diag[feature * k + sink.output];
                for r in 0..R {
                    diag[r] -= half[r];
                }
            }
            if pos_i != super::SKIP && pos_j != super::SKIP {
                let (pi, pj) = (pos_i as usize, pos_j as usize);
                let ij = pi * f * k + pj * k + sink.output;
                let ji = pj * f * k + pi * k + sink.output;
                for (r, row) in sink.out.chunks_exact_mut(row_len).take(self.n).enumerate() {
                    row[ij] += half[r];
                    row[ji] += half[r];
                }
            }
        }
    }

    /// Adds the leaf sums `s` of the child just explained to the split's own sums, and
    /// restores the feature's state above the split.
    #[inline(always)]
    fn fold<const Q: usize>(&mut self, level: &mut Level<R, Q>, s: &[[f64; R]; Q]) {
        if level.frame.first {
            level.s = *s;
        } else {
            for q in 0..Q {
                for r in 0..R {
                    level.s[q][r] += s[q][r];
                }
            }
        }
        let frame = &mut level.frame;
        frame.first = false;
        let f = frame.feature;
        self.one[f] = level.old_one;
        self.zero[f] = frame.z_old;
        self.last[f] = frame.ancestor;
        self.inv_node[f] = frame.inv_node;
    }
}
