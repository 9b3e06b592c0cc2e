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
//! Storage is `[level][point]` arrays of `[f64; R]`, so the inner loops run over `R` rows and
//! `Q` points of known size: the compiler unrolls and vectorises them with no bounds checks.
//! On x86-64 a copy of the walk is compiled for AVX2 and chosen at run time.
//!
//! The walk is iterative (an explicit stack of frames, one per level), so the whole pass is
//! one function that the AVX2 copy covers entirely.

use super::quadrature::PreparedTree;
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

/// How moving to one child changes a row's path product (see [`LaneWorkspace::factors`]).
struct Factors<const Q: usize> {
    ratio_00: f64,
    step_old: [f64; Q],
    step_new: [f64; Q],
}

/// What to do next in the walk.
#[derive(Clone, Copy)]
enum Step {
    /// Start the node at the current level.
    Enter(usize),
    /// Go on with the current level's split: its next child, or finish it.
    Next,
    /// The child of the current level's split has been explained; credit and fold it.
    Returned,
}

/// Per-thread scratch space for blocks of up to `R` rows.
pub(crate) struct LaneWorkspace<const R: usize> {
    n_features: usize,
    n_outputs: usize,
    /// Rows in the current block (lanes beyond are padding and never stored).
    n: usize,
    /// Stride of the per-point storage: the largest point count of any tree.
    stride: usize,
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
    /// Per level.
    frames: Vec<Frame>,
    left: Vec<[f64; R]>,
    old_one: Vec<[f64; R]>,
    child_one: Vec<[f64; R]>,
    /// Per level x point: the credit weights, `credit_zero` for every row plus `credit_one`
    /// for rows with `o = 1`.
    credit_zero: Vec<f64>,
    credit_one: Vec<f64>,
    /// Per level x point: the path product `P`, the leaf sums `S = sum v P` below, and `A`,
    /// the leaf sums that deeper splits on the same feature credit (subtracted here).
    p: Vec<[f64; R]>,
    s: Vec<[f64; R]>,
    a: Vec<[f64; R]>,
    /// Per feature x output: the block's SHAP values so far.
    acc: Vec<[f64; R]>,
}

impl<const R: usize> LaneWorkspace<R> {
    pub(crate) fn new(
        n_features: usize,
        n_outputs: usize,
        max_depth: usize,
        max_points: usize,
    ) -> LaneWorkspace<R> {
        let levels = max_depth + 2;
        let stride = max_points.max(1);
        LaneWorkspace {
            n_features,
            n_outputs,
            n: 0,
            stride,
            x: vec![[0.0; R]; n_features],
            one: vec![[1.0; R]; n_features],
            zero: vec![1.0; n_features],
            last: vec![NONE; n_features],
            inv_node: vec![NONE; n_features],
            frames: vec![Frame::default(); levels],
            left: vec![[0.0; R]; levels],
            old_one: vec![[0.0; R]; levels],
            child_one: vec![[0.0; R]; levels],
            credit_zero: vec![0.0; levels * stride],
            credit_one: vec![0.0; levels * stride],
            p: vec![[0.0; R]; levels * stride],
            s: vec![[0.0; R]; levels * stride],
            a: vec![[0.0; R]; levels * stride],
            acc: vec![[0.0; R]; n_features * n_outputs],
        }
    }

    /// Starts a block: `rows` holds `n <= R` prepared rows, row-major.
    pub(crate) fn load(&mut self, rows: &[f64], n: usize) {
        assert!(n <= R && rows.len() == n * self.n_features);
        self.n = n;
        let m = self.n_features;
        for (f, lanes) in self.x.iter_mut().enumerate() {
            *lanes = [0.0; R];
            for r in 0..n {
                lanes[r] = rows[r * m + f];
            }
        }
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
        assert!(prepared.points() <= self.stride);
        // A vector leaf is explained one output at a time.
        for column in 0..tree.leaf_width() {
            match prepared.points() {
                1 => self.dispatch::<1>(tree, prepared, rules, column),
                2 => self.dispatch::<2>(tree, prepared, rules, column),
                3 => self.dispatch::<3>(tree, prepared, rules, column),
                4 => self.dispatch::<4>(tree, prepared, rules, column),
                5 => self.dispatch::<5>(tree, prepared, rules, column),
                6 => self.dispatch::<6>(tree, prepared, rules, column),
                7 => self.dispatch::<7>(tree, prepared, rules, column),
                8 => self.dispatch::<8>(tree, prepared, rules, column),
                12 => self.dispatch::<12>(tree, prepared, rules, column),
                16 => self.dispatch::<16>(tree, prepared, rules, column),
                24 => self.dispatch::<24>(tree, prepared, rules, column),
                32 => self.dispatch::<32>(tree, prepared, rules, column),
                64 => self.dispatch::<64>(tree, prepared, rules, column),
                q => unreachable!("no kernel for {q} quadrature points"),
            }
        }
    }

    // The crate's only unsafe code: calling the AVX2 copy of the walk after checking that the
    // CPU has AVX2, which is what makes that call sound.
    #[allow(unsafe_code)]
    fn dispatch<const Q: usize>(
        &mut self,
        tree: &Tree,
        prepared: &PreparedTree,
        rules: &SplitRules,
        column: usize,
    ) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            unsafe { self.walk_avx2::<Q>(tree, prepared, rules, column) };
            return;
        }
        self.walk::<Q>(tree, prepared, rules, column);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn walk_avx2<const Q: usize>(
        &mut self,
        tree: &Tree,
        prepared: &PreparedTree,
        rules: &SplitRules,
        column: usize,
    ) {
        self.walk::<Q>(tree, prepared, rules, column);
    }

    /// The depth-first pass over `tree` for output `column` of its leaves.
    #[inline(always)]
    fn walk<const Q: usize>(
        &mut self,
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
        let stride = self.stride;
        for p in level_mut::<R, Q>(&mut self.p, 0, stride) {
            *p = [1.0; R];
        }
        let mut d = 0usize;
        let mut step = Step::Enter(0);
        loop {
            match step {
                Step::Enter(node) => {
                    if tree.is_leaf(node) {
                        let v = tree.leaf_value(node)[column];
                        let (p, s) = (
                            level::<R, Q>(&self.p, d, stride),
                            level_mut::<R, Q>(&mut self.s, d, stride),
                        );
                        for q in 0..Q {
                            for r in 0..R {
                                s[q][r] = v * p[q][r];
                            }
                        }
                        if d == 0 {
                            return;
                        }
                        d -= 1;
                        step = Step::Returned;
                    } else {
                        let feature = tree.feature(node);
                        self.route(tree, rules, node, feature, d);
                        self.old_one[d] = self.one[feature];
                        self.frames[d] = Frame {
                            node,
                            feature,
                            ancestor: self.last[feature],
                            next: 0,
                            first: true,
                            repeats: prepared.repeats_below(node),
                            z_old: self.zero[feature],
                            inv_node: self.inv_node[feature],
                        };
                        step = Step::Next;
                    }
                }
                Step::Next => {
                    let frame = self.frames[d];
                    if frame.next == 2 {
                        self.finish::<Q>(d, &frame);
                        if d == 0 {
                            return;
                        }
                        d -= 1;
                        step = Step::Returned;
                        continue;
                    }
                    self.frames[d].next += 1;
                    let (l, r) = tree.children(frame.node);
                    let (child, is_left) = if frame.next == 0 {
                        (l, true)
                    } else {
                        (r, false)
                    };
                    let z_c = prepared.zero(child);
                    let old_one = self.old_one[d];
                    let goes = self.left[d];
                    let mut child_one = [0.0; R];
                    let mut any = z_c != 0.0;
                    for r in 0..R {
                        let side = if is_left { goes[r] } else { 1.0 - goes[r] };
                        child_one[r] = old_one[r] * side;
                        any |= r < self.n && child_one[r] != 0.0;
                    }
                    if !any {
                        continue; // no subset of features reaches this child for any row
                    }
                    self.child_one[d] = child_one;
                    let factors = self.factors::<Q>(
                        d,
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
                        self.leaf_child::<Q>(d, &frame, v, &factors, output);
                        self.frames[d].first = false;
                    } else {
                        self.descend::<Q>(d, &frame, child, z_c, &factors);
                        d += 1;
                        step = Step::Enter(child);
                    }
                }
                Step::Returned => {
                    let frame = self.frames[d];
                    self.credit::<Q>(d, &frame, output);
                    self.ascend::<Q>(d, &frame);
                    self.frames[d].first = false;
                    step = Step::Next;
                }
            }
        }
    }

    /// Which rows go left at `node` (1.0) or right (0.0).
    #[inline(always)]
    fn route(&mut self, tree: &Tree, rules: &SplitRules, node: usize, feature: usize, d: usize) {
        let x = &self.x[feature];
        let left = &mut self.left[d];
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

    /// The factors for the child of the split at level `d` whose cover fraction (merged over
    /// the feature's conditions) is `z_c`, and the split's credit weights for that child.
    ///
    /// Moving to the child multiplies a row's `P` by `f_child / f_before`: `ratio_00` for rows
    /// with `o = 0` before and after, plus `step_old` for rows with `o = 1` before, plus
    /// `step_new` for rows with `o = 1` after. With `o` in {0, 1} (and `o` after <= `o`
    /// before) that selects one of three ratios as arithmetic the compiler vectorises (exact
    /// up to an ulp, and exactly 0 where the ratio is 0).
    #[inline(always)]
    fn factors<const Q: usize>(
        &mut self,
        d: usize,
        frame: &Frame,
        prepared: &PreparedTree,
        child: usize,
        nodes: &[f64; Q],
        weights: &[f64; Q],
        zero_credit: &[f64; Q],
    ) -> Factors<Q> {
        let stride = self.stride;
        let ones = [1.0; Q];
        let inv_old: &[f64; Q] = match self.inv_node[frame.feature] {
            NONE => &ones,
            node => prepared
                .inv_one(node as usize)
                .try_into()
                .expect("Q points"),
        };
        let inv_new: &[f64; Q] = prepared.inv_one(child).try_into().expect("Q points");
        let z_c = prepared.zero(child);
        // f(p) for o = 0 is (1 - p) z; its ratio to the same before the split is z_c / z_old
        // (0 when z_old = 0: such a row's P is already 0).
        let ratio_00 = prepared.zero_ratio(child);
        let mut factors = Factors {
            ratio_00,
            step_old: [0.0; Q],
            step_new: [0.0; Q],
        };
        let (credit_zero, credit_one) = (
            level_scalars_mut::<Q>(&mut self.credit_zero, d, stride),
            level_scalars_mut::<Q>(&mut self.credit_one, d, stride),
        );
        for q in 0..Q {
            let (p, omp) = (nodes[q], 1.0 - nodes[q]);
            let r11 = (p + omp * z_c) * inv_old[q];
            let r10 = omp * z_c * inv_old[q];
            factors.step_old[q] = r10 - ratio_00;
            factors.step_new[q] = r11 - r10;
            // Credit weights: rows with o = 0 take credit_zero, rows with o = 1 add the rest.
            let zero = if z_c != 0.0 { zero_credit[q] } else { 0.0 };
            credit_zero[q] = zero;
            credit_one[q] = (1.0 - z_c) * weights[q] * inv_new[q] - zero;
        }
        factors
    }

    /// Enters the split child `node` at level `d + 1`: its path product and the feature's
    /// state.
    #[inline(always)]
    fn descend<const Q: usize>(
        &mut self,
        d: usize,
        frame: &Frame,
        node: usize,
        z_c: f64,
        factors: &Factors<Q>,
    ) {
        let (f, stride) = (frame.feature, self.stride);
        let (o_old, o_new) = (self.old_one[d], self.child_one[d]);
        let (above, below) = self.p.split_at_mut((d + 1) * stride);
        let parent: &[[f64; R]; Q] = above[d * stride..d * stride + Q]
            .try_into()
            .expect("Q points");
        let child: &mut [[f64; R]; Q] = (&mut below[..Q]).try_into().expect("Q points");
        for q in 0..Q {
            let (step_old, step_new) = (factors.step_old[q], factors.step_new[q]);
            for r in 0..R {
                let factor = factors.ratio_00 + o_old[r] * step_old + o_new[r] * step_new;
                child[q][r] = parent[q][r] * factor;
            }
        }
        self.inv_node[f] = node as u32;
        self.one[f] = o_new;
        self.zero[f] = z_c;
        self.last[f] = d as u32;
        if frame.repeats {
            for a in level_mut::<R, Q>(&mut self.a, d, stride) {
                *a = [0.0; R];
            }
        }
    }

    /// A leaf child with value `v` of the split at level `d`: its leaf sums `v P` credited to
    /// the split's feature and added to the split's own sums, without a level of its own.
    #[inline(always)]
    fn leaf_child<const Q: usize>(
        &mut self,
        d: usize,
        frame: &Frame,
        v: f64,
        factors: &Factors<Q>,
        output: usize,
    ) {
        let stride = self.stride;
        let (o_old, o_new) = (self.old_one[d], self.child_one[d]);
        let parent = level::<R, Q>(&self.p, d, stride);
        let credit_zero = level_scalars::<Q>(&self.credit_zero, d, stride);
        let credit_one = level_scalars::<Q>(&self.credit_one, d, stride);
        let sums = level_mut::<R, Q>(&mut self.s, d, stride);
        if frame.first {
            *sums = [[0.0; R]; Q];
        }
        let mut total = [0.0; R];
        for q in 0..Q {
            let (step_old, step_new) = (factors.step_old[q], factors.step_new[q]);
            for r in 0..R {
                let factor = factors.ratio_00 + o_old[r] * step_old + o_new[r] * step_new;
                let leaf = v * (parent[q][r] * factor);
                total[r] += (credit_zero[q] + o_new[r] * credit_one[q]) * leaf;
                sums[q][r] += leaf;
            }
        }
        let acc = &mut self.acc[frame.feature * self.n_outputs + output];
        for r in 0..R {
            acc[r] += total[r];
        }
    }

    /// Credits the split at level `d` with the leaf sums of the child just explained:
    /// `phi[feature] += sum_q credit_q(o) (S_child - A)`.
    #[inline(always)]
    fn credit<const Q: usize>(&mut self, d: usize, frame: &Frame, output: usize) {
        let stride = self.stride;
        let child_s = level::<R, Q>(&self.s, d + 1, stride);
        let a = level::<R, Q>(&self.a, d, stride);
        let credit_zero = level_scalars::<Q>(&self.credit_zero, d, stride);
        let credit_one = level_scalars::<Q>(&self.credit_one, d, stride);
        let o = self.child_one[d];
        let mut total = [0.0; R];
        if frame.repeats {
            for q in 0..Q {
                for r in 0..R {
                    let weight = credit_zero[q] + o[r] * credit_one[q];
                    total[r] += weight * (child_s[q][r] - a[q][r]);
                }
            }
        } else {
            for q in 0..Q {
                for r in 0..R {
                    total[r] += (credit_zero[q] + o[r] * credit_one[q]) * child_s[q][r];
                }
            }
        }
        let acc = &mut self.acc[frame.feature * self.n_outputs + output];
        for r in 0..R {
            acc[r] += total[r];
        }
    }

    /// Folds the child's leaf sums into level `d` and restores the feature's state.
    #[inline(always)]
    fn ascend<const Q: usize>(&mut self, d: usize, frame: &Frame) {
        let stride = self.stride;
        let (above, below) = self.s.split_at_mut((d + 1) * stride);
        let parent: &mut [[f64; R]; Q] = (&mut above[d * stride..d * stride + Q])
            .try_into()
            .expect("Q points");
        let child: &[[f64; R]; Q] = below[..Q].try_into().expect("Q points");
        if frame.first {
            *parent = *child;
        } else {
            for q in 0..Q {
                for r in 0..R {
                    parent[q][r] += child[q][r];
                }
            }
        }
        let f = frame.feature;
        self.one[f] = self.old_one[d];
        self.zero[f] = frame.z_old;
        self.last[f] = frame.ancestor;
        self.inv_node[f] = frame.inv_node;
    }

    /// Both children done: a split no row can pass has no leaf sums, and a split whose
    /// feature was split on above hands its sums to that ancestor, which must not credit
    /// them again.
    #[inline(always)]
    fn finish<const Q: usize>(&mut self, d: usize, frame: &Frame) {
        let stride = self.stride;
        if frame.first {
            for s in level_mut::<R, Q>(&mut self.s, d, stride) {
                *s = [0.0; R];
            }
        }
        if frame.ancestor != NONE {
            let ancestor = frame.ancestor as usize;
            let s = level::<R, Q>(&self.s, d, stride);
            let a = level_mut::<R, Q>(&mut self.a, ancestor, stride);
            for q in 0..Q {
                for r in 0..R {
                    a[q][r] += s[q][r];
                }
            }
        }
    }
}

/// Level `d`'s `Q` lane arrays.
#[inline(always)]
fn level<const R: usize, const Q: usize>(
    v: &[[f64; R]],
    d: usize,
    stride: usize,
) -> &[[f64; R]; Q] {
    v[d * stride..d * stride + Q].try_into().expect("Q points")
}

#[inline(always)]
fn level_mut<const R: usize, const Q: usize>(
    v: &mut [[f64; R]],
    d: usize,
    stride: usize,
) -> &mut [[f64; R]; Q] {
    (&mut v[d * stride..d * stride + Q])
        .try_into()
        .expect("Q points")
}

#[inline(always)]
fn level_scalars<const Q: usize>(v: &[f64], d: usize, stride: usize) -> &[f64; Q] {
    v[d * stride..d * stride + Q].try_into().expect("Q points")
}

#[inline(always)]
fn level_scalars_mut<const Q: usize>(v: &mut [f64], d: usize, stride: usize) -> &mut [f64; Q] {
    (&mut v[d * stride..d * stride + Q])
        .try_into()
        .expect("Q points")
}
