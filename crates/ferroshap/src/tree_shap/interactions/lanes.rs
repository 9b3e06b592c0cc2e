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
    Factors, Frame, LaneVisitor, LevelBase, LevelCache, PathLevel, PathState, inv_one_or_ones,
    walk_lanes,
};
use crate::tree_shap::quadrature::{PreparedTree, with_point_count};

/// Everything the walk keeps for one level of the current path.
#[derive(Clone, Copy)]
struct Level<const R: usize, const Q: usize> {
    base: LevelBase<R, Q>,
    /// Per point: `w_q` times the change of the feature's `h` into the child being
    /// explained: `dh_zero + o_child dh_child + o_old dh_old`.
    dh_zero: [f64; Q],
    dh_child: [f64; Q],
    dh_old: [f64; Q],
    /// Per point: the feature's `h` in the child for rows with `o = 1` minus that for rows
    /// with `o = 0`; the latter is `-1 / (1 - p)`, or 0 when `zero_live` is false (z = 0).
    h_one: [f64; Q],
    zero_live: bool,
}

impl<const R: usize, const Q: usize> Default for Level<R, Q> {
    fn default() -> Self {
        Level {
            base: LevelBase::default(),
            dh_zero: [0.0; Q],
            dh_child: [0.0; Q],
            dh_old: [0.0; Q],
            h_one: [0.0; Q],
            zero_live: false,
        }
    }
}

impl<const R: usize, const Q: usize> PathLevel<R, Q> for Level<R, Q> {
    #[inline(always)]
    fn base(&mut self) -> &mut LevelBase<R, Q> {
        &mut self.base
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
    /// Levels of the deepest path, plus one.
    depth: usize,
    path: PathState<R>,
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
            depth: max_depth + 1,
            path: PathState::new(n_features),
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
        self.path.load(rows, n);
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
        let mut visitor = InteractionWalk {
            lanes: self,
            prepared,
            rule,
            sink,
        };
        walk_lanes(&mut visitor, levels, tree, prepared, rules, column);
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
        let j = level.base.frame.feature;
        // t = w dh_j S per point and row; its sum is j's Shapley value, and `zero_part` its
        // sum weighted by h of a row with o = 0.
        let mut t = [[0.0; R]; Q];
        let mut total = [0.0; R];
        let mut zero_part = [0.0; R];
        for q in 0..Q {
            let (dz, dc, dold) = (level.dh_zero[q], level.dh_child[q], level.dh_old[q]);
            for r in 0..R {
                let dh = dz + level.base.child_one[r] * dc + level.base.old_one[r] * dold;
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
            let i = ancestor.base.frame.feature;
            if i == j || self.path.last[i] != l as u32 {
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
                half[r] = 0.5 * ancestor.base.child_one[r] * half[r] + live * zero_part[r];
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
                let n = self.path.n;
                for (r, row) in sink.out.chunks_exact_mut(row_len).take(n).enumerate() {
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
        if level.base.frame.first {
            level.base.s = *s;
        } else {
            for q in 0..Q {
                for r in 0..R {
                    level.base.s[q][r] += s[q][r];
                }
            }
        }
        level.base.frame.first = false;
        self.path.restore(&level.base.frame, &level.base.old_one);
    }
}

/// The interaction walk of one tree and output: the workspace with the tree's constants and
/// where the values go.
struct InteractionWalk<'a, 's, const R: usize, const Q: usize> {
    lanes: &'a mut PairLanes<R>,
    prepared: &'a PreparedTree,
    rule: Rule<Q>,
    sink: &'a mut Sink<'s>,
}

impl<const R: usize, const Q: usize> LaneVisitor<R, Q> for InteractionWalk<'_, '_, R, Q> {
    type Level = Level<R, Q>;

    #[inline(always)]
    fn path(&mut self) -> &mut PathState<R> {
        &mut self.lanes.path
    }

    #[inline(always)]
    fn factors(&mut self, level: &mut Level<R, Q>, frame: &Frame, child: usize) -> Factors<Q> {
        self.lanes
            .factors::<Q>(level, frame, self.prepared, child, &self.rule)
    }

    #[inline(always)]
    fn leaf_child(
        &mut self,
        levels: &mut [Level<R, Q>],
        d: usize,
        _frame: &Frame,
        v: f64,
        factors: &Factors<Q>,
    ) {
        let level = &levels[d];
        let mut s = factors.apply(&level.base.p, &level.base.old_one, &level.base.child_one);
        for lanes in s.iter_mut().flatten() {
            *lanes *= v;
        }
        self.lanes
            .credit::<Q>(&levels[..=d], &s, &self.rule, self.sink);
        self.lanes.fold::<Q>(&mut levels[d], &s);
    }

    #[inline(always)]
    fn descended(&mut self, _level: &mut Level<R, Q>, _frame: &Frame) {}

    #[inline(always)]
    fn finished(&mut self, levels: &mut [Level<R, Q>], d: usize, frame: &Frame) {
        if frame.first {
            levels[d].base.s = [[0.0; R]; Q];
        }
    }

    #[inline(always)]
    fn child_done(&mut self, levels: &mut [Level<R, Q>], d: usize, _frame: &Frame) {
        let (above, below) = levels.split_at_mut(d + 1);
        let s = &below[0].base.s;
        self.lanes.credit::<Q>(above, s, &self.rule, self.sink);
        self.lanes.fold::<Q>(&mut above[d], s);
    }
}
