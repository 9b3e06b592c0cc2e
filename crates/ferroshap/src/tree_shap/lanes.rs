//! The quadrature pass (see the `quadrature` module) over a block of `R` rows held in lanes,
//! with the number of quadrature points `Q` fixed at compile time.
//!
//! In path-dependent Tree SHAP every row visits every node of a tree and only whether a row
//! goes left or right differs, so one depth-first walk serves the whole block. What makes the
//! per-row work small: a row's `o` for a feature (does it satisfy every condition on that
//! feature along the path?) is 0 or 1, so every factor `f(p) = p o + (1 - p) z` takes one of
//! two values that are the same for all rows. Per split node and quadrature point the walk
//! computes the few candidate values once; per row it only selects one and multiplies:
//!
//! - moving to a child multiplies the path product `P` by `f_child / f_before` (the feature's
//!   factor before this split, 1 when the feature is new on the path), one of three values
//!   depending on the row's `o` before and after the split;
//! - the credit of a split's feature is `(o - z) w_q / f_child(p_q)`, one of two values.
//!
//! Storage is one struct per level holding `[point]` arrays of `[f64; R]`, so the inner loops
//! run over `R` rows and `Q` points of known size: the compiler unrolls and vectorises them
//! with no bounds checks. On x86-64 a copy of the walk is compiled for AVX2 and chosen at run
//! time.
//!
//! The walk is iterative (an explicit stack of frames, one per level), so the whole pass is
//! one function that the AVX2 copy covers entirely.

use std::any::Any;

use super::quadrature::{POINT_COUNTS, PreparedTree, with_point_count};
use crate::ensemble::{SplitRules, Tree};

/// No ancestor split on this feature.
const NONE: u32 = u32::MAX;

/// One split node on the current path.
#[derive(Clone, Copy, Default)]
struct Frame {
    node: usize,
    feature: usize,
    /// Level of the nearest ancestor split on the same feature, or `NONE`.
    ancestor: u32,
    /// 0: the left child is next; 1: the right child; 2: both done.
    next: u8,
    /// No child's leaf sums have been added to this node's yet.
    first: bool,
    /// The feature appears again below this node.
    repeats: bool,
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
    /// Per point: the credit weights for the child being explained, `credit_zero` for every
    /// row plus `credit_one` for rows with `o = 1`.
    credit_zero: [f64; Q],
    credit_one: [f64; Q],
    /// Per point x row: the path product `P` of this level's node, the leaf sums
    /// `S = sum v P` below it, and `A`, the leaf sums that deeper splits on the same feature
    /// credit (subtracted here).
    p: [[f64; R]; Q],
    s: [[f64; R]; Q],
    a: [[f64; R]; Q],
}

impl<const R: usize, const Q: usize> Default for Level<R, Q> {
    fn default() -> Self {
        Level {
            frame: Frame::default(),
            left: [0.0; R],
            old_one: [0.0; R],
            child_one: [0.0; R],
            credit_zero: [0.0; Q],
            credit_one: [0.0; Q],
            p: [[0.0; R]; Q],
            s: [[0.0; R]; Q],
            a: [[0.0; R]; Q],
        }
    }
}

/// Per entry of `POINT_COUNTS`: a walk's levels for that point count (a `Vec` of its level
/// type), made when a tree first needs them.
#[derive(Default)]
pub(super) struct LevelCache(Vec<Option<Box<dyn Any + Send>>>);

impl LevelCache {
    /// Takes the `depth` levels of type `L` for `points` points out of the cache (made on
    /// first use); returns them with the slot to put them back in.
    pub(super) fn take<L: Default + Clone + Send + 'static>(
        &mut self,
        points: usize,
        depth: usize,
    ) -> (usize, Box<dyn Any + Send>) {
        let slot = POINT_COUNTS
            .iter()
            .position(|&c| c == points)
            .expect("a compiled point count");
        if self.0.len() < POINT_COUNTS.len() {
            self.0.resize_with(POINT_COUNTS.len(), || None);
        }
        let levels = self.0[slot]
            .take()
            .unwrap_or_else(|| Box::new(vec![L::default(); depth]));
        (slot, levels)
    }

    pub(super) fn put(&mut self, slot: usize, levels: Box<dyn Any + Send>) {
        self.0[slot] = Some(levels);
    }
}

/// Loads `n <= R` rows (`rows`, row-major, `x.len()` features each) into lanes, one per
/// feature; lanes beyond `n` are zero.
pub(super) fn load_lanes<const R: usize>(x: &mut [[f64; R]], rows: &[f64], n: usize) {
    let m = x.len();
    assert!(n <= R && rows.len() == n * m);
    for (f, lanes) in x.iter_mut().enumerate() {
        *lanes = [0.0; R];
        for r in 0..n {
            lanes[r] = rows[r * m + f];
        }
    }
}

/// Per row: 1 when the row (feature value `x`) goes left at `node`, else 0; plain numeric
/// splits as arithmetic the compiler vectorises.
#[inline(always)]
pub(super) fn goes_left<const R: usize>(
    tree: &Tree,
    rules: &SplitRules,
    node: usize,
    x: &[f64; R],
    left: &mut [f64; R],
) {
    if tree.is_plain_numeric(node) {
        let threshold = tree.threshold(node);
        let nan_left = if tree.default_left(node) { 1.0 } else { 0.0 };
        for r in 0..R {
            // NaN fails the comparison and goes to the default side.
            let below = f64::from(u8::from(x[r] <= threshold));
            let nan = f64::from(u8::from(x[r].is_nan()));
            left[r] = below + nan * nan_left;
        }
    } else {
        for r in 0..R {
            left[r] = if tree.goes_left(node, x[r], rules) {
                1.0
            } else {
                0.0
            };
        }
    }
}

/// How moving to one child changes a row's path product `P`: times `f_child / f_before` (the
/// feature's factor before the split, 1 when the feature is new on the path), one of three
/// values depending on the row's `o` before and after the split: `ratio_00` for rows with
/// `o = 0` before and after, plus `step_old` for rows with `o = 1` before, plus `step_new`
/// for rows with `o = 1` after. With `o` in {0, 1} (and `o` after <= `o` before) that selects
/// one of the ratios as arithmetic the compiler vectorises (exact up to an ulp, and exactly 0
/// where the ratio is 0).
pub(super) struct Factors<const Q: usize> {
    ratio_00: f64,
    step_old: [f64; Q],
    step_new: [f64; Q],
}

impl<const Q: usize> Factors<Q> {
    /// The factors into `child`, whose feature had the `inv_one` table of node `inv_node`
    /// above the split (`u32::MAX`: the feature is new on the path).
    #[inline(always)]
    pub(super) fn new(
        prepared: &PreparedTree,
        child: usize,
        inv_node: u32,
        nodes: &[f64; Q],
    ) -> Factors<Q> {
        let inv_old = inv_one_or_ones::<Q>(prepared, inv_node);
        let z_c = prepared.zero(child);
        // f(p) for o = 0 is (1 - p) z; its ratio to the same before the split is z_c / z_old
        // (0 when z_old = 0: such a row's P is already 0).
        let ratio_00 = prepared.zero_ratio(child);
        let mut factors = Factors {
            ratio_00,
            step_old: [0.0; Q],
            step_new: [0.0; Q],
        };
        for q in 0..Q {
            let (p, omp) = (nodes[q], 1.0 - nodes[q]);
            let r11 = (p + omp * z_c) * inv_old[q];
            let r10 = omp * z_c * inv_old[q];
            factors.step_old[q] = r10 - ratio_00;
            factors.step_new[q] = r11 - r10;
        }
        factors
    }

    /// The child's path product per point and row, from the parent's `p` and each row's `o`
    /// before (`o_old`) and after (`o_new`) the split.
    #[inline(always)]
    pub(super) fn apply<const R: usize>(
        &self,
        p: &[[f64; R]; Q],
        o_old: &[f64; R],
        o_new: &[f64; R],
    ) -> [[f64; R]; Q] {
        let mut child = [[0.0; R]; Q];
        for q in 0..Q {
            let (step_old, step_new) = (self.step_old[q], self.step_new[q]);
            for r in 0..R {
                let factor = self.ratio_00 + o_old[r] * step_old + o_new[r] * step_new;
                child[q][r] = p[q][r] * factor;
            }
        }
        child
    }
}

/// `1 / (p + (1 - p) z)` per point for the `z` of node `inv_node`'s table, or ones for
/// `u32::MAX` (a feature not on the path).
#[inline(always)]
pub(super) fn inv_one_or_ones<const Q: usize>(prepared: &PreparedTree, inv_node: u32) -> [f64; Q] {
    match inv_node {
        NONE => [1.0; Q],
        node => prepared
            .inv_one(node as usize)
            .try_into()
            .expect("Q points"),
    }
}

/// Per row, the split feature's `o` in a child: `o` before the split (`old_one`) times 1 for
/// the rows that take that side (`left`, or its complement). `None` when no row's path product
/// can be nonzero below the child: none of the block's `n` rows takes it and its cover
/// fraction `z_c` is 0.
#[inline(always)]
pub(super) fn child_ones<const R: usize>(
    left: &[f64; R],
    old_one: &[f64; R],
    is_left: bool,
    n: usize,
    z_c: f64,
) -> Option<[f64; R]> {
    let mut child_one = [0.0; R];
    let mut any = z_c != 0.0;
    for r in 0..R {
        let side = if is_left { left[r] } else { 1.0 - left[r] };
        child_one[r] = old_one[r] * side;
        any |= r < n && child_one[r] != 0.0;
    }
    any.then_some(child_one)
}

/// A walk to compile twice, as is and for AVX2 (chosen at run time by [`run_kernel`]): its
/// `run` must be `#[inline(always)]` so that all of it lands in the AVX2 copy.
pub(super) trait Kernel {
    fn run(self);
}

/// Runs `kernel`, in its AVX2 copy when the CPU has AVX2.
#[inline]
pub(super) fn run_kernel<K: Kernel>(kernel: K) {
    crate::simd::with_avx2(
        #[inline(always)]
        || kernel.run(),
    );
}

/// Per-thread scratch space for blocks of up to `R` rows.
pub(crate) struct LaneWorkspace<const R: usize> {
    n_features: usize,
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
    /// Per feature: the node whose `inv_one` table (`1 / f(p)` for `o = 1`) holds for the
    /// feature's current `z` (`NONE`: the feature is not on the path, `f = 1`).
    inv_node: Vec<u32>,
    /// The levels for each point count (`Vec<Level<R, Q>>`).
    levels: LevelCache,
    /// Per feature x output: the block's SHAP values so far.
    acc: Vec<[f64; R]>,
}

impl<const R: usize> LaneWorkspace<R> {
    pub(crate) fn new(n_features: usize, n_outputs: usize, max_depth: usize) -> LaneWorkspace<R> {
        LaneWorkspace {
            n_features,
            n_outputs,
            n: 0,
            depth: max_depth + 1,
            x: vec![[0.0; R]; n_features],
            one: vec![[1.0; R]; n_features],
            zero: vec![1.0; n_features],
            last: vec![NONE; n_features],
            inv_node: vec![NONE; n_features],
            levels: LevelCache::default(),
            acc: vec![[0.0; R]; n_features * n_outputs],
        }
    }

    /// Starts a block: `rows` holds `n <= R` prepared rows, row-major.
    pub(crate) fn load(&mut self, rows: &[f64], n: usize) {
        self.n = n;
        load_lanes(&mut self.x, rows, n);
    }

    /// Adds the block's values to `phi` (`n x n_features x n_outputs`, row-major) and clears
    /// them for the next block.
    pub(crate) fn store(&mut self, phi: &mut [f64]) {
        let width = self.n_features * self.n_outputs;
        for (i, lanes) in self.acc.iter_mut().enumerate() {
            for r in 0..self.n {
                phi[r * width + i] += lanes[r];
            }
            *lanes = [0.0; R];
        }
    }

    /// Adds one tree's SHAP values for the loaded block.
    pub(crate) fn add_tree(&mut self, tree: &Tree, prepared: &PreparedTree, rules: &SplitRules) {
        // A vector leaf is explained one output at a time.
        for column in 0..tree.leaf_width() {
            with_point_count!(prepared.points(), Q => self.dispatch::<Q>(tree, prepared, rules, column));
        }
    }

    /// Runs the walk, in its AVX2 copy when the CPU has AVX2.
    fn dispatch<const Q: usize>(
        &mut self,
        tree: &Tree,
        prepared: &PreparedTree,
        rules: &SplitRules,
        column: usize,
    ) {
        let (slot, mut boxed) = self.levels.take::<Level<R, Q>>(Q, self.depth);
        let levels: &mut Vec<Level<R, Q>> = boxed.downcast_mut().expect("levels of Q points");
        crate::simd::with_avx2(
            #[inline(always)]
            || self.walk::<Q>(levels, tree, prepared, rules, column),
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
    ) {
        let rule = prepared.rule();
        let nodes: [f64; Q] = rule.nodes[..Q].try_into().expect("Q points");
        let weights: [f64; Q] = rule.weights[..Q].try_into().expect("Q points");
        // -w / (1 - p): the credit weight of a row with o = 0 (when z != 0).
        let mut zero_credit = [0.0; Q];
        for q in 0..Q {
            zero_credit[q] = -weights[q] / (1.0 - nodes[q]);
        }
        let output = tree.output() + column;
        if tree.is_leaf(0) {
            return; // a single leaf: no feature gets any credit
        }
        levels[0].p = [[1.0; R]; Q];
        let mut d = 0usize;
        self.enter(&mut levels[0], tree, prepared, rules, 0);
        loop {
            let frame = levels[d].frame;
            if frame.next == 2 {
                // Both children done.
                self.finish::<Q>(levels, d, &frame);
                if d == 0 {
                    return;
                }
                d -= 1;
                // The child just finished was the split child of level d: credit and fold it.
                let frame = levels[d].frame;
                let (above, below) = levels.split_at_mut(d + 1);
                self.credit_and_fold::<Q>(&mut above[d], &below[0], &frame, output);
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
                continue; // no subset of features reaches this child for any row
            };
            level.child_one = child_one;
            let factors = self.factors::<Q>(
                level,
                &frame,
                prepared,
                child,
                &nodes,
                &weights,
                &zero_credit,
            );
            if tree.is_leaf(child) {
                // A leaf child is credited and folded in place.
                let v = tree.leaf_value(child)[column];
                self.leaf_child::<Q>(level, &frame, v, &factors, output);
            } else {
                let (above, below) = levels.split_at_mut(d + 1);
                self.descend::<Q>(
                    &mut above[d],
                    &mut below[0],
                    &frame,
                    (d, child),
                    z_c,
                    &factors,
                );
                d += 1;
                self.enter(&mut levels[d], tree, prepared, rules, child);
            }
        }
    }

    /// Starts the split `node` at `level`: which rows go left, and the feature's state.
    #[inline(always)]
    fn enter<const Q: usize>(
        &mut self,
        level: &mut Level<R, Q>,
        tree: &Tree,
        prepared: &PreparedTree,
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
            repeats: prepared.repeats_below(node),
            z_old: self.zero[feature],
            inv_node: self.inv_node[feature],
        };
    }

    /// The factors for the child of the split at `level` whose cover fraction (merged over
    /// the feature's conditions) is `prepared.zero(child)`, and the split's credit weights for
    /// that child.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn factors<const Q: usize>(
        &self,
        level: &mut Level<R, Q>,
        frame: &Frame,
        prepared: &PreparedTree,
        child: usize,
        nodes: &[f64; Q],
        weights: &[f64; Q],
        zero_credit: &[f64; Q],
    ) -> Factors<Q> {
        let inv_new: &[f64; Q] = prepared.inv_one(child).try_into().expect("Q points");
        let z_c = prepared.zero(child);
        let factors = Factors::new(prepared, child, self.inv_node[frame.feature], nodes);
        for q in 0..Q {
            // Credit weights: rows with o = 0 take credit_zero, rows with o = 1 add the rest.
            let zero = if z_c != 0.0 { zero_credit[q] } else { 0.0 };
            level.credit_zero[q] = zero;
            level.credit_one[q] = (1.0 - z_c) * weights[q] * inv_new[q] - zero;
        }
        factors
    }

    /// Enters the split child `node` at the level below `level`: its path product and the
    /// feature's state.
    #[inline(always)]
    fn descend<const Q: usize>(
        &mut self,
        level: &mut Level<R, Q>,
        below: &mut Level<R, Q>,
        frame: &Frame,
        (d, node): (usize, usize),
        z_c: f64,
        factors: &Factors<Q>,
    ) {
        below.p = factors.apply(&level.p, &level.old_one, &level.child_one);
        let f = frame.feature;
        self.inv_node[f] = node as u32;
        self.one[f] = level.child_one;
        self.zero[f] = z_c;
        self.last[f] = d as u32;
        if frame.repeats {
            level.a = [[0.0; R]; Q];
        }
    }

    /// A leaf child with value `v` of the split at `level`: its leaf sums `v P` credited to
    /// the split's feature and added to the split's own sums, without a level of its own.
    #[inline(always)]
    fn leaf_child<const Q: usize>(
        &mut self,
        level: &mut Level<R, Q>,
        frame: &Frame,
        v: f64,
        factors: &Factors<Q>,
        output: usize,
    ) {
        let (o_old, o_new) = (level.old_one, level.child_one);
        if frame.first {
            level.s = [[0.0; R]; Q];
        }
        let mut total = [0.0; R];
        for q in 0..Q {
            let (step_old, step_new) = (factors.step_old[q], factors.step_new[q]);
            let (credit_zero, credit_one) = (level.credit_zero[q], level.credit_one[q]);
            for r in 0..R {
                let factor = factors.ratio_00 + o_old[r] * step_old + o_new[r] * step_new;
                let leaf = v * (level.p[q][r] * factor);
                total[r] += (credit_zero + o_new[r] * credit_one) * leaf;
                level.s[q][r] += leaf;
            }
        }
        level.frame.first = false;
        let acc = &mut self.acc[frame.feature * self.n_outputs + output];
        for r in 0..R {
            acc[r] += total[r];
        }
    }

    /// Credits the split at `level` with the leaf sums of the split child just explained
    /// (`phi[feature] += sum_q credit_q(o) (S_child - A)`), folds them into the split's own
    /// sums, and restores the feature's state.
    #[inline(always)]
    fn credit_and_fold<const Q: usize>(
        &mut self,
        level: &mut Level<R, Q>,
        below: &Level<R, Q>,
        frame: &Frame,
        output: usize,
    ) {
        let o = level.child_one;
        let mut total = [0.0; R];
        if frame.repeats {
            for q in 0..Q {
                let (credit_zero, credit_one) = (level.credit_zero[q], level.credit_one[q]);
                for r in 0..R {
                    let weight = credit_zero + o[r] * credit_one;
                    total[r] += weight * (below.s[q][r] - level.a[q][r]);
                }
            }
        } else {
            for q in 0..Q {
                let (credit_zero, credit_one) = (level.credit_zero[q], level.credit_one[q]);
                for r in 0..R {
                    total[r] += (credit_zero + o[r] * credit_one) * below.s[q][r];
                }
            }
        }
        let acc = &mut self.acc[frame.feature * self.n_outputs + output];
        for r in 0..R {
            acc[r] += total[r];
        }
        if frame.first {
            level.s = below.s;
        } else {
            for q in 0..Q {
                for r in 0..R {
                    level.s[q][r] += below.s[q][r];
                }
            }
        }
        level.frame.first = false;
        let f = frame.feature;
        self.one[f] = level.old_one;
        self.zero[f] = frame.z_old;
        self.last[f] = frame.ancestor;
        self.inv_node[f] = frame.inv_node;
    }

    /// Both children of the split at level `d` done: a split no row can pass has no leaf
    /// sums, and a split whose feature was split on above hands its sums to that ancestor,
    /// which must not credit them again.
    #[inline(always)]
    fn finish<const Q: usize>(&mut self, levels: &mut [Level<R, Q>], d: usize, frame: &Frame) {
        if frame.first {
            levels[d].s = [[0.0; R]; Q];
        }
        if frame.ancestor != NONE {
            let ancestor = frame.ancestor as usize;
            let (above, below) = levels.split_at_mut(d);
            let (a, s) = (&mut above[ancestor].a, &below[0].s);
            for q in 0..Q {
                for r in 0..R {
                    a[q][r] += s[q][r];
                }
            }
        }
    }
}
