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
pub(super) struct Frame {
    pub(super) node: usize,
    pub(super) feature: usize,
    /// Level of the nearest ancestor split on the same feature, or `NONE`.
    pub(super) ancestor: u32,
    /// 0: the left child is next; 1: the right child; 2: both done.
    pub(super) next: u8,
    /// No child's leaf sums have been added to this node's yet.
    pub(super) first: bool,
    /// The feature appears again below this node.
    pub(super) repeats: bool,
    /// The feature's merged cover fraction above this split.
    pub(super) z_old: f64,
    /// The node whose `inv_one` table held for the feature above this split (`NONE`: ones).
    pub(super) inv_node: u32,
}

/// The state of the current path that every lane walk keeps per feature, for a block of up
/// to `R` rows: entered at a split ([`PathState::enter`]), changed on the way down into a
/// split child ([`PathState::descend`]) and restored on the way back up
/// ([`PathState::restore`]). The walks differ only in what they credit.
pub(super) struct PathState<const R: usize> {
    /// Rows in the current block (lanes beyond are padding and never stored).
    pub(super) n: usize,
    /// Per feature: the block's values, one lane per row.
    pub(super) x: Vec<[f64; R]>,
    /// Per feature: the merged `o` of its conditions on the current path, per row.
    pub(super) one: Vec<[f64; R]>,
    /// Per feature: the merged `z` of its conditions on the current path.
    pub(super) zero: Vec<f64>,
    /// Per feature: level of the deepest split on it on the current path (`NONE` if none).
    pub(super) last: Vec<u32>,
    /// Per feature: the node whose `inv_one` table (`1 / f(p)` for `o = 1`) holds for the
    /// feature's current `z` (`NONE`: the feature is not on the path, `f = 1`).
    pub(super) inv_node: Vec<u32>,
}

impl<const R: usize> PathState<R> {
    pub(super) fn new(n_features: usize) -> Self {
        PathState {
            n: 0,
            x: vec![[0.0; R]; n_features],
            one: vec![[1.0; R]; n_features],
            zero: vec![1.0; n_features],
            last: vec![NONE; n_features],
            inv_node: vec![NONE; n_features],
        }
    }

    /// Starts a block: `rows` holds `n <= R` prepared rows, row-major.
    pub(super) fn load(&mut self, rows: &[f64], n: usize) {
        self.n = n;
        load_lanes(&mut self.x, rows, n);
    }

    /// Enters the split `node`: which rows go left (`left`), the feature's `o` above it
    /// (`old_one`), and its frame.
    #[inline(always)]
    pub(super) fn enter(
        &self,
        tree: &Tree,
        prepared: &PreparedTree,
        rules: &SplitRules,
        node: usize,
        left: &mut [f64; R],
        old_one: &mut [f64; R],
    ) -> Frame {
        let feature = tree.feature(node);
        goes_left(tree, rules, node, &self.x[feature], left);
        *old_one = self.one[feature];
        Frame {
            node,
            feature,
            ancestor: self.last[feature],
            next: 0,
            first: true,
            repeats: prepared.repeats_below(node),
            z_old: self.zero[feature],
            inv_node: self.inv_node[feature],
        }
    }

    /// Moves the split's feature into its split child `child` at level `d`: the rows' `o`
    /// there (`child_one`) and the child's merged cover fraction `z_c`.
    #[inline(always)]
    pub(super) fn descend(
        &mut self,
        frame: &Frame,
        (d, child): (usize, usize),
        child_one: &[f64; R],
        z_c: f64,
    ) {
        let f = frame.feature;
        self.inv_node[f] = child as u32;
        self.one[f] = *child_one;
        self.zero[f] = z_c;
        self.last[f] = d as u32;
    }

    /// Restores the split's feature as it was above the split (`old_one`: its `o` there).
    #[inline(always)]
    pub(super) fn restore(&mut self, frame: &Frame, old_one: &[f64; R]) {
        let f = frame.feature;
        self.one[f] = *old_one;
        self.zero[f] = frame.z_old;
        self.last[f] = frame.ancestor;
        self.inv_node[f] = frame.inv_node;
    }
}

/// What every walk keeps for one level of the current path (its split node).
#[derive(Clone, Copy)]
pub(super) struct LevelBase<const R: usize, const Q: usize> {
    pub(super) frame: Frame,
    /// Per row: 1 when the row goes left at this level's split.
    pub(super) left: [f64; R],
    /// Per row: the feature's `o` before this split, and in the child being explained.
    pub(super) old_one: [f64; R],
    pub(super) child_one: [f64; R],
    /// Per point x row: the path product `P` of this level's node and the leaf sums
    /// `S = sum v P` below it.
    pub(super) p: [[f64; R]; Q],
    pub(super) s: [[f64; R]; Q],
}

impl<const R: usize, const Q: usize> Default for LevelBase<R, Q> {
    fn default() -> Self {
        LevelBase {
            frame: Frame::default(),
            left: [0.0; R],
            old_one: [0.0; R],
            child_one: [0.0; R],
            p: [[0.0; R]; Q],
            s: [[0.0; R]; Q],
        }
    }
}

/// A walk's level: the part every walk has, and its own fields.
pub(super) trait PathLevel<const R: usize, const Q: usize> {
    fn base(&mut self) -> &mut LevelBase<R, Q>;
}

/// What a lane walk (SHAP values, interaction values) does at each step of the shared
/// depth-first walk [`walk_lanes`], beyond the path state.
pub(super) trait LaneVisitor<const R: usize, const Q: usize> {
    type Level: PathLevel<R, Q>;
    /// The path state of the walk.
    fn path(&mut self) -> &mut PathState<R>;
    /// The factors of the path product into `child` of the split at `level`, with what the
    /// visitor keeps per child (its credit weights).
    fn factors(&mut self, level: &mut Self::Level, frame: &Frame, child: usize) -> Factors<Q>;
    /// A leaf child, with value `v`, of the split at level `d`: credited and folded in place.
    fn leaf_child(
        &mut self,
        levels: &mut [Self::Level],
        d: usize,
        frame: &Frame,
        v: f64,
        factors: &Factors<Q>,
    );
    /// The walk has just gone down from the split at `level` into its split child.
    fn descended(&mut self, level: &mut Self::Level, frame: &Frame);
    /// Both children of the split at level `d` are done.
    fn finished(&mut self, levels: &mut [Self::Level], d: usize, frame: &Frame);
    /// The split child of level `d` is done: credit it, fold its sums, and restore the
    /// feature's path state.
    fn child_done(&mut self, levels: &mut [Self::Level], d: usize, frame: &Frame);
}

/// The depth-first walk over `tree` for output `column` of its leaves that every lane walk
/// shares: one level per split on the current path, children visited left then right, a
/// child that no row's path product reaches skipped, leaf children handled in place.
#[inline(always)]
pub(super) fn walk_lanes<const R: usize, const Q: usize, V: LaneVisitor<R, Q>>(
    visitor: &mut V,
    levels: &mut [V::Level],
    tree: &Tree,
    prepared: &PreparedTree,
    rules: &SplitRules,
    column: usize,
) {
    if tree.is_leaf(0) {
        return; // a single leaf: no feature gets any credit
    }
    levels[0].base().p = [[1.0; R]; Q];
    let mut d = 0usize;
    enter(visitor.path(), levels[0].base(), tree, prepared, rules, 0);
    loop {
        let frame = levels[d].base().frame;
        if frame.next == 2 {
            visitor.finished(levels, d, &frame);
            if d == 0 {
                return;
            }
            d -= 1;
            // The child just finished was the split child of level d.
            let frame = levels[d].base().frame;
            visitor.child_done(levels, d, &frame);
            continue;
        }
        let n = visitor.path().n;
        let level = &mut levels[d];
        let base = level.base();
        base.frame.next += 1;
        let (l, r) = tree.children(frame.node);
        let (child, is_left) = if frame.next == 0 {
            (l, true)
        } else {
            (r, false)
        };
        let z_c = prepared.zero(child);
        let Some(child_one) = child_ones(&base.left, &base.old_one, is_left, n, z_c) else {
            continue; // no subset of features reaches this child for any row
        };
        base.child_one = child_one;
        let factors = visitor.factors(level, &frame, child);
        if tree.is_leaf(child) {
            let v = tree.leaf_value(child)[column];
            visitor.leaf_child(levels, d, &frame, v, &factors);
        } else {
            let (above, below) = levels.split_at_mut(d + 1);
            let (level, below) = (&mut above[d], &mut below[0]);
            let base = level.base();
            below.base().p = factors.apply(&base.p, &base.old_one, &base.child_one);
            visitor
                .path()
                .descend(&frame, (d, child), &base.child_one, z_c);
            visitor.descended(level, &frame);
            d += 1;
            enter(
                visitor.path(),
                levels[d].base(),
                tree,
                prepared,
                rules,
                child,
            );
        }
    }
}

/// Starts the split `node` at a level: which rows go left, and the feature's state.
#[inline(always)]
fn enter<const R: usize, const Q: usize>(
    path: &PathState<R>,
    level: &mut LevelBase<R, Q>,
    tree: &Tree,
    prepared: &PreparedTree,
    rules: &SplitRules,
    node: usize,
) {
    level.frame = path.enter(
        tree,
        prepared,
        rules,
        node,
        &mut level.left,
        &mut level.old_one,
    );
}

/// Everything the walk keeps for one level of the current path.
#[derive(Clone, Copy)]
struct Level<const R: usize, const Q: usize> {
    base: LevelBase<R, Q>,
    /// Per point: the credit weights for the child being explained, `credit_zero` for every
    /// row plus `credit_one` for rows with `o = 1`.
    credit_zero: [f64; Q],
    credit_one: [f64; Q],
    /// Per point x row: `A`, the leaf sums that deeper splits on the same feature credit
    /// (subtracted here).
    a: [[f64; R]; Q],
}

impl<const R: usize, const Q: usize> Default for Level<R, Q> {
    fn default() -> Self {
        Level {
            base: LevelBase::default(),
            credit_zero: [0.0; Q],
            credit_one: [0.0; Q],
            a: [[0.0; R]; Q],
        }
    }
}

impl<const R: usize, const Q: usize> PathLevel<R, Q> for Level<R, Q> {
    #[inline(always)]
    fn base(&mut self) -> &mut LevelBase<R, Q> {
        &mut self.base
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
    if let Some(split) = tree.plain_split(node) {
        for r in 0..R {
            left[r] = split.left(x[r]);
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
    /// Levels of the deepest path, plus one.
    depth: usize,
    path: PathState<R>,
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
            depth: max_depth + 1,
            path: PathState::new(n_features),
            levels: LevelCache::default(),
            acc: vec![[0.0; R]; n_features * n_outputs],
        }
    }

    /// Starts a block: `rows` holds `n <= R` prepared rows, row-major.
    pub(crate) fn load(&mut self, rows: &[f64], n: usize) {
        self.path.load(rows, n);
    }

    /// Adds the block's values to `phi` (`n x n_features x n_outputs`, row-major) and clears
    /// them for the next block.
    pub(crate) fn store(&mut self, phi: &mut [f64]) {
        let width = self.n_features * self.n_outputs;
        for (i, lanes) in self.acc.iter_mut().enumerate() {
            for r in 0..self.path.n {
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
        let mut visitor = ValueWalk {
            ws: self,
            prepared,
            nodes,
            weights,
            zero_credit,
            output: tree.output() + column,
        };
        walk_lanes(&mut visitor, levels, tree, prepared, rules, column);
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
        let factors = Factors::new(prepared, child, self.path.inv_node[frame.feature], nodes);
        for q in 0..Q {
            // Credit weights: rows with o = 0 take credit_zero, rows with o = 1 add the rest.
            let zero = if z_c != 0.0 { zero_credit[q] } else { 0.0 };
            level.credit_zero[q] = zero;
            level.credit_one[q] = (1.0 - z_c) * weights[q] * inv_new[q] - zero;
        }
        factors
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
        let (o_old, o_new) = (level.base.old_one, level.base.child_one);
        if frame.first {
            level.base.s = [[0.0; R]; Q];
        }
        let mut total = [0.0; R];
        for q in 0..Q {
            let (step_old, step_new) = (factors.step_old[q], factors.step_new[q]);
            let (credit_zero, credit_one) = (level.credit_zero[q], level.credit_one[q]);
            for r in 0..R {
                let factor = factors.ratio_00 + o_old[r] * step_old + o_new[r] * step_new;
                let leaf = v * (level.base.p[q][r] * factor);
                total[r] += (credit_zero + o_new[r] * credit_one) * leaf;
                level.base.s[q][r] += leaf;
            }
        }
        level.base.frame.first = false;
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
        let o = level.base.child_one;
        let mut total = [0.0; R];
        if frame.repeats {
            for q in 0..Q {
                let (credit_zero, credit_one) = (level.credit_zero[q], level.credit_one[q]);
                for r in 0..R {
                    let weight = credit_zero + o[r] * credit_one;
                    total[r] += weight * (below.base.s[q][r] - level.a[q][r]);
                }
            }
        } else {
            for q in 0..Q {
                let (credit_zero, credit_one) = (level.credit_zero[q], level.credit_one[q]);
                for r in 0..R {
                    total[r] += (credit_zero + o[r] * credit_one) * below.base.s[q][r];
                }
            }
        }
        let acc = &mut self.acc[frame.feature * self.n_outputs + output];
        for r in 0..R {
            acc[r] += total[r];
        }
        if frame.first {
            level.base.s = below.base.s;
        } else {
            for q in 0..Q {
                for r in 0..R {
                    level.base.s[q][r] += below.base.s[q][r];
                }
            }
        }
        level.base.frame.first = false;
        self.path.restore(frame, &level.base.old_one);
    }

    /// Both children of the split at level `d` done: a split no row can pass has no leaf
    /// sums, and a split whose feature was split on above hands its sums to that ancestor,
    /// which must not credit them again.
    #[inline(always)]
    fn finish<const Q: usize>(&mut self, levels: &mut [Level<R, Q>], d: usize, frame: &Frame) {
        if frame.first {
            levels[d].base.s = [[0.0; R]; Q];
        }
        if frame.ancestor != NONE {
            let ancestor = frame.ancestor as usize;
            let (above, below) = levels.split_at_mut(d);
            let (a, s) = (&mut above[ancestor].a, &below[0].base.s);
            for q in 0..Q {
                for r in 0..R {
                    a[q][r] += s[q][r];
                }
            }
        }
    }
}

/// The SHAP-value walk of one tree and output: the workspace with the tree's constants.
struct ValueWalk<'a, const R: usize, const Q: usize> {
    ws: &'a mut LaneWorkspace<R>,
    prepared: &'a PreparedTree,
    nodes: [f64; Q],
    weights: [f64; Q],
    zero_credit: [f64; Q],
    output: usize,
}

impl<const R: usize, const Q: usize> LaneVisitor<R, Q> for ValueWalk<'_, R, Q> {
    type Level = Level<R, Q>;

    #[inline(always)]
    fn path(&mut self) -> &mut PathState<R> {
        &mut self.ws.path
    }

    #[inline(always)]
    fn factors(&mut self, level: &mut Level<R, Q>, frame: &Frame, child: usize) -> Factors<Q> {
        let (nodes, weights, zero_credit) = (&self.nodes, &self.weights, &self.zero_credit);
        self.ws.factors::<Q>(
            level,
            frame,
            self.prepared,
            child,
            nodes,
            weights,
            zero_credit,
        )
    }

    #[inline(always)]
    fn leaf_child(
        &mut self,
        levels: &mut [Level<R, Q>],
        d: usize,
        frame: &Frame,
        v: f64,
        factors: &Factors<Q>,
    ) {
        self.ws
            .leaf_child::<Q>(&mut levels[d], frame, v, factors, self.output);
    }

    #[inline(always)]
    fn descended(&mut self, level: &mut Level<R, Q>, frame: &Frame) {
        if frame.repeats {
            level.a = [[0.0; R]; Q];
        }
    }

    #[inline(always)]
    fn finished(&mut self, levels: &mut [Level<R, Q>], d: usize, frame: &Frame) {
        self.ws.finish::<Q>(levels, d, frame);
    }

    #[inline(always)]
    fn child_done(&mut self, levels: &mut [Level<R, Q>], d: usize, frame: &Frame) {
        let (above, below) = levels.split_at_mut(d + 1);
        self.ws
            .credit_and_fold::<Q>(&mut above[d], &below[0], frame, self.output);
    }
}
