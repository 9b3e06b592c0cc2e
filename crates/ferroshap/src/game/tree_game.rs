//! The interventional game of a tree ensemble, evaluated without building masked rows.
//!
//! Kernel SHAP needs `f(x_S, r)` for every coalition `S` of an explained row `x` and every
//! background row `r`. A masked row takes each varying feature from `x` when it is in `S` and
//! from `r` otherwise, so a tree routes it exactly as `x` and `r` route at every split where
//! they agree. Walking each tree once with both rows, branching only where they part, gives
//! the leaves the masked rows can reach, each with a condition "the features in `A` are in
//! `S`, those in `B` are not" (bitmasks over the varying features). The pair's margin is then
//! a sum of such subcube indicators, which is
//!
//! - tabulated over the subsets of the features `D` where the pair parts (`2^|D|` entries:
//!   each leaf adds its inclusion–exclusion terms, then a subset-sum transform), so that a
//!   coalition is one lookup; or, when `D` is large,
//! - scanned: each coalition tests each conditioned leaf's masks.
//!
//! When the output is the margin itself (linear in the leaves), the background rows' terms are
//! added into one table over all varying features before the transform. Otherwise the output
//! transform (sigmoid, softmax, exp) is applied per pair and coalition, as the model does.
//! Either way the values are the model's, up to the order of f64 additions.
//!
//! The pairs of one explained row with a chunk of up to 64 background rows are walked
//! together (`RowGame::walk_chunk`): one walk per tree carries the set of background rows (a
//! bitmask) that share a path and condition, splitting it where they go different ways, so
//! `x`'s side of a split is decided once for the chunk rather than once per pair. In the
//! linear case a leaf reached by several rows under one condition adds its terms once, with
//! the rows' total weight (the same sum, rounded differently: about 1e-16 of the values);
//! otherwise each row gets exactly its own pair walk's leaves, in that walk's order.

use crate::ensemble::{OutputTransform, TreeEnsemble};
use crate::ensemble::{SplitRules, Tree};
use crate::tree_shap::pair_walk::{CondLeaf, add_leaf_terms, subset_sums};

/// How a pair's game is evaluated (the automatic choice is by estimated cost).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PairEvaluation {
    /// Table or scan, whichever is estimated cheaper.
    #[default]
    Auto,
    /// Always tabulate over the subsets of the features where the pair parts.
    Table,
    /// Always test each conditioned leaf for each coalition.
    Scan,
}

/// Tables are used for at most this many parting features (2^22 × 8 bytes = 32 MiB per
/// output at worst; the cost model picks the scan well before that for typical budgets).
const MAX_TABLE_BITS: u32 = 22;
/// The row-wide table of the linear case covers at most this many varying features, and at
/// most this many entries over all outputs (512 KiB per table). Measured: at 20 varying
/// features, 100 trees and 2,048 coalitions, scanning each pair's leaves is faster.
const MAX_ROW_TABLE_BITS: usize = 16;

/// One explained row against the background: its prepared values, the positions of its
/// varying features and the coalitions (bit `p` set when varying feature `p` is present).
pub(crate) struct RowGame<'a> {
    pub ensemble: &'a TreeEnsemble,
    pub output: OutputTransform,
    pub evaluation: PairEvaluation,
    /// The explained row, as read by the model (`SplitRules::prepare`).
    pub x: &'a [f64],
    /// Number of columns of the rows.
    pub n_columns: usize,
    /// Each tree's first node in one numbering of all nodes ([`node_offsets`]).
    pub node_offsets: &'a [usize],
    /// Feature → position among the varying features, `u32::MAX` when it does not vary.
    pub position: &'a [u32],
    pub n_varying: usize,
    pub coalitions: &'a [u64],
}

/// Scratch space reused across pairs.
#[derive(Default)]
pub(crate) struct Scratch {
    /// The chunk walk's paths: (node, condition in, condition out, rows).
    stack: Vec<(u32, u64, u64, u64)>,
    /// Per background row of the chunk: its conditioned leaves, in its pair walk's order.
    row_leaves: Vec<Vec<CondLeaf>>,
    /// Per background row of the chunk: the margin every coalition shares (`k` values each).
    row_constant: Vec<f64>,
    table: Vec<f64>,
    co_table: Vec<f64>,
    lut: Vec<u32>,
    margin: Vec<f64>,
    out: Vec<f64>,
}

impl RowGame<'_> {
    /// Adds `w_b · f(x_S, r_b)` for every coalition to `ey` (`n_coalitions × n_outputs`),
    /// for the prepared background rows `background` (row-major, at most 64) with weights
    /// `weights`; `routes`, if given, says where they go at every node
    /// ([`background_routes`]).
    pub fn accumulate(
        &self,
        background: &[f64],
        routes: Option<&[u64]>,
        weights: &[f64],
        ey: &mut [f64],
        scratch: &mut Scratch,
    ) {
        if self.output.is_margin() && self.row_table_pays(weights.len()) {
            self.accumulate_linear(background, routes, weights, ey, scratch);
            return;
        }
        self.collect_chunk_leaves(background, routes, scratch);
        let row_leaves = std::mem::take(&mut scratch.row_leaves);
        let row_constant = std::mem::take(&mut scratch.row_constant);
        let k = self.ensemble.n_outputs();
        for ((leaves, constant), &w) in row_leaves
            .iter()
            .zip(row_constant.chunks_exact(k))
            .zip(weights)
        {
            self.add_pair(leaves, constant, w, ey, scratch);
        }
        scratch.row_leaves = row_leaves;
        scratch.row_constant = row_constant;
    }

    /// Whether one table over all varying features (cost `M·2^M` per output) is cheaper than
    /// scanning each pair's leaves for each coalition (`n_background × n_coalitions × L`, with
    /// `L` estimated by the number of trees; a mask test costs about 4 table additions).
    fn row_table_pays(&self, n_background: usize) -> bool {
        let m = self.n_varying;
        let k = self.ensemble.n_outputs();
        if m > MAX_ROW_TABLE_BITS || (1usize << m) * k > 1 << MAX_ROW_TABLE_BITS {
            return false;
        }
        let table = ((m + 1) << m) * k;
        let scan = 4 * self.coalitions.len() * n_background * self.ensemble.trees().len();
        m <= 12 || table <= scan
    }

    /// Walks every tree with `x` and the background rows `background` (row-major, at most 64)
    /// together, leaving each row's conditioned leaves in `scratch.row_leaves` and the margin
    /// part every coalition shares with it (base offset included) in `scratch.row_constant`,
    /// exactly as walking each pair alone leaves them.
    fn collect_chunk_leaves(
        &self,
        background: &[f64],
        routes: Option<&[u64]>,
        scratch: &mut Scratch,
    ) {
        let ens = self.ensemble;
        let k = ens.n_outputs();
        let n = background.len() / self.n_columns.max(1);
        scratch.row_constant.clear();
        for _ in 0..n {
            scratch.row_constant.extend_from_slice(ens.base_offset());
        }
        if scratch.row_leaves.len() != n {
            scratch.row_leaves.resize_with(n, Vec::new);
        }
        for leaves in &mut scratch.row_leaves {
            leaves.clear();
        }
        let (row_constant, row_leaves) = (&mut scratch.row_constant, &mut scratch.row_leaves);
        self.walk_chunk(
            background,
            routes,
            &mut scratch.stack,
            |t, tree, node, a, b, mut rows| {
                while rows != 0 {
                    let i = rows.trailing_zeros() as usize;
                    rows &= rows - 1;
                    if a | b == 0 {
                        let constant = &mut row_constant[i * k..(i + 1) * k];
                        for (c, v) in constant[tree.output()..]
                            .iter_mut()
                            .zip(tree.leaf_value(node))
                        {
                            *c += v;
                        }
                    } else {
                        row_leaves[i].push(CondLeaf {
                            a,
                            b,
                            tree: t as u32,
                            node: node as u32,
                        });
                    }
                }
            },
        );
    }

    /// The walk of every tree with `x` and the background rows `background` (row-major, at
    /// most 64) together: `emit(t, tree, leaf, a, b, rows)` for every leaf of tree `t` that
    /// the hybrids of the background rows in bitmask `rows` reach under the condition `a` in
    /// the coalition, `b` out of it.
    ///
    /// A path carries the rows that share it and its condition; where they go different
    /// ways it splits. For one row the leaves come in the order of its own pair walk (depth
    /// first, `x`'s side of a parting first, trees in order).
    fn walk_chunk(
        &self,
        background: &[f64],
        routes: Option<&[u64]>,
        stack: &mut Vec<(u32, u64, u64, u64)>,
        mut emit: impl FnMut(usize, &Tree, usize, u64, u64, u64),
    ) {
        let ens = self.ensemble;
        let p = self.n_columns;
        let n = background.len() / p.max(1);
        debug_assert!(n <= 64);
        if n == 0 {
            return;
        }
        let all = u64::MAX >> (64 - n);
        let rules = ens.rules();
        for (t, tree) in ens.trees().iter().enumerate() {
            let offset = self.node_offsets[t];
            stack.clear();
            stack.push((0, 0, 0, all));
            'paths: while let Some((start, a, b, mut rows)) = stack.pop() {
                let mut node = start as usize;
                while !tree.is_leaf(node) {
                    let j = tree.feature(node);
                    let mask = match self.position[j] {
                        u32::MAX => 0,
                        pos => 1u64 << pos,
                    };
                    let (left, right) = tree.children(node);
                    if a & mask != 0 {
                        // Every hybrid takes x's value.
                        node = if tree.goes_left(node, self.x[j], rules) {
                            left
                        } else {
                            right
                        };
                        continue;
                    }
                    let to_left = match routes {
                        Some(routes) => routes[offset + node] & rows,
                        None => left_rows(tree, node, rules, background, p, rows),
                    };
                    if mask == 0 || b & mask != 0 {
                        // Every hybrid takes r's value: the rows go their own ways.
                        let to_right = rows & !to_left;
                        if to_left != 0 && to_right != 0 {
                            stack.push((right as u32, a, b, to_right));
                        }
                        (node, rows) = if to_left != 0 {
                            (left, to_left)
                        } else {
                            (right, to_right)
                        };
                        continue;
                    }
                    let x_left = tree.goes_left(node, self.x[j], rules);
                    let (x_child, r_child) = if x_left { (left, right) } else { (right, left) };
                    let agree = if x_left { to_left } else { rows & !to_left };
                    let part = rows & !agree;
                    if part != 0 {
                        stack.push((r_child as u32, a, b | mask, part));
                        stack.push((x_child as u32, a | mask, b, part));
                    }
                    if agree == 0 {
                        continue 'paths;
                    }
                    (node, rows) = (x_child, agree);
                }
                emit(t, tree, node, a, b, rows);
            }
        }
    }

    /// One pair's outputs for every coalition, weighted by `w`, added into `ey`.
    fn add_pair(
        &self,
        leaves: &[CondLeaf],
        constant: &[f64],
        w: f64,
        ey: &mut [f64],
        scratch: &mut Scratch,
    ) {
        let ens = self.ensemble;
        let k = ens.n_outputs();
        let ko = self.output.n_outputs(k);
        let parting = leaves.iter().fold(0u64, |acc, l| acc | l.a | l.b);
        let d = parting.count_ones();
        let n_coal = self.coalitions.len();
        let use_table = match self.evaluation {
            PairEvaluation::Table => d <= MAX_TABLE_BITS,
            PairEvaluation::Scan => false,
            PairEvaluation::Auto => {
                // Table: d·2^d additions per output for the transform plus a lookup per
                // coalition; scan: a mask test per coalition and conditioned leaf, measured
                // at about 4 table additions each.
                d <= MAX_TABLE_BITS
                    && ((d as usize + 1) << d) * k + 4 * n_coal <= 4 * n_coal * leaves.len().max(1)
            }
        };
        scratch.margin.resize(k, 0.0);
        scratch.out.resize(ko, 0.0);
        if use_table {
            self.fill_pair_tables(leaves, parting, d, scratch);
            let full = (1usize << d) - 1;
            let has_co = !scratch.co_table.is_empty();
            let n_bytes = self.n_varying.div_ceil(8);
            for (c, &s) in self.coalitions.iter().enumerate() {
                let mut idx = 0usize;
                for byte in 0..n_bytes {
                    idx |= scratch.lut[byte * 256 + ((s >> (8 * byte)) & 0xFF) as usize] as usize;
                }
                let t = &scratch.table[idx * k..(idx + 1) * k];
                for ((m, &c0), &v) in scratch.margin.iter_mut().zip(constant).zip(t) {
                    *m = c0 + v;
                }
                if has_co {
                    let co = full & !idx;
                    for (m, &v) in scratch.margin.iter_mut().zip(&scratch.co_table[co * k..]) {
                        *m += v;
                    }
                }
                self.output.apply(&scratch.margin, 0.0, &mut scratch.out);
                for (e, &o) in ey[c * ko..(c + 1) * ko].iter_mut().zip(&scratch.out) {
                    *e += w * o;
                }
            }
        } else {
            for (c, &s) in self.coalitions.iter().enumerate() {
                scratch.margin.copy_from_slice(constant);
                for leaf in leaves {
                    if s & leaf.a == leaf.a && s & leaf.b == 0 {
                        let tree = leaf.tree(ens);
                        for (m, v) in scratch.margin[tree.output()..]
                            .iter_mut()
                            .zip(tree.leaf_value(leaf.node as usize))
                        {
                            *m += v;
                        }
                    }
                }
                self.output.apply(&scratch.margin, 0.0, &mut scratch.out);
                for (e, &o) in ey[c * ko..(c + 1) * ko].iter_mut().zip(&scratch.out) {
                    *e += w * o;
                }
            }
        }
    }

    /// Tabulates the pair's conditioned leaves over the subsets of the parting features:
    /// `table[T] + co_table[D∖T]` is their margin for a coalition meeting `D` in `T`. Also
    /// builds the byte lookup tables that gather a coalition's bits within `D`.
    fn fill_pair_tables(&self, leaves: &[CondLeaf], parting: u64, d: u32, scratch: &mut Scratch) {
        let k = self.ensemble.n_outputs();
        let size = 1usize << d;
        scratch.table.clear();
        scratch.table.resize(size * k, 0.0);
        scratch.co_table.clear();
        let needs_co = leaves
            .iter()
            .any(|l| (l.a & parting).count_ones() < (l.b & parting).count_ones());
        if needs_co {
            scratch.co_table.resize(size * k, 0.0);
        }
        for leaf in leaves {
            let a = pext(leaf.a, parting);
            let b = pext(leaf.b, parting);
            let tree = leaf.tree(self.ensemble);
            add_leaf_terms(
                &mut scratch.table,
                &mut scratch.co_table,
                (a, b),
                tree.leaf_value(leaf.node as usize),
                tree.output(),
                k,
                1.0,
            );
        }
        subset_sums(&mut scratch.table, d, k);
        if needs_co {
            subset_sums(&mut scratch.co_table, d, k);
        }
        let n_bytes = self.n_varying.div_ceil(8);
        scratch.lut.clear();
        scratch.lut.resize(n_bytes * 256, 0);
        for byte in 0..n_bytes {
            for v in 0..256u64 {
                scratch.lut[byte * 256 + v as usize] = pext(v << (8 * byte), parting) as u32;
            }
        }
    }

    /// The linear case: `Σ_b w_b f(x_S, r_b)` is one function of `S`, tabulated over all
    /// varying features (Möbius terms of every pair's leaves, then one subset-sum transform).
    ///
    /// Leaves reached by several background rows under the same condition add their terms
    /// once, scaled by the rows' total weight.
    fn accumulate_linear(
        &self,
        background: &[f64],
        routes: Option<&[u64]>,
        weights: &[f64],
        ey: &mut [f64],
        scratch: &mut Scratch,
    ) {
        let k = self.ensemble.n_outputs();
        let m = self.n_varying as u32;
        let size = 1usize << m;
        let mut table = std::mem::take(&mut scratch.table);
        let mut co_table = std::mem::take(&mut scratch.co_table);
        table.clear();
        table.resize(size * k, 0.0);
        co_table.clear();
        co_table.resize(size * k, 0.0);
        let total: f64 = weights.iter().sum();
        let mut constant: Vec<f64> = self
            .ensemble
            .base_offset()
            .iter()
            .map(|b| total * b)
            .collect();
        let mut used_co = false;
        self.walk_chunk(
            background,
            routes,
            &mut scratch.stack,
            |_, tree, node, a, b, rows| {
                let w = if rows == u64::MAX >> (64 - weights.len()) {
                    total
                } else {
                    let (mut w, mut bits) = (0.0, rows);
                    while bits != 0 {
                        w += weights[bits.trailing_zeros() as usize];
                        bits &= bits - 1;
                    }
                    w
                };
                if a | b == 0 {
                    for (c, v) in constant[tree.output()..]
                        .iter_mut()
                        .zip(tree.leaf_value(node))
                    {
                        *c += w * v;
                    }
                } else {
                    used_co |= add_leaf_terms(
                        &mut table,
                        &mut co_table,
                        (a, b),
                        tree.leaf_value(node),
                        tree.output(),
                        k,
                        w,
                    );
                }
            },
        );
        subset_sums(&mut table, m, k);
        if used_co {
            subset_sums(&mut co_table, m, k);
        }
        let full = size - 1;
        for (c, &s) in self.coalitions.iter().enumerate() {
            let s = s as usize;
            for o in 0..k {
                let mut v = constant[o] + table[s * k + o];
                if used_co {
                    v += co_table[(full & !s) * k + o];
                }
                ey[c * k + o] += v;
            }
        }
        scratch.table = table;
        scratch.co_table = co_table;
    }
}

/// The rows in bitmask `rows` of `background` (prepared, row-major, `p` columns, at most 64
/// rows) that go left at internal `node` of `tree`.
#[inline]
fn left_rows(
    tree: &Tree,
    node: usize,
    rules: &SplitRules,
    background: &[f64],
    p: usize,
    mut rows: u64,
) -> u64 {
    let j = tree.feature(node);
    let mut left = 0u64;
    match tree.plain_split(node) {
        Some(split) => {
            while rows != 0 {
                let i = rows.trailing_zeros() as usize;
                rows &= rows - 1;
                left |= (split.left_mask(background[i * p + j]) & 1) << i;
            }
        }
        None => {
            while rows != 0 {
                let i = rows.trailing_zeros() as usize;
                rows &= rows - 1;
                left |= u64::from(tree.goes_left(node, background[i * p + j], rules)) << i;
            }
        }
    }
    left
}

/// Each tree's first node in one numbering of all of `ensemble`'s nodes, and the number of
/// nodes.
pub(crate) fn node_offsets(ensemble: &TreeEnsemble) -> (Vec<usize>, usize) {
    let mut total = 0;
    let offsets = ensemble
        .trees()
        .iter()
        .map(|tree| {
            let offset = total;
            total += tree.n_nodes();
            offset
        })
        .collect();
    (offsets, total)
}

/// Where the background rows `background` (prepared, row-major, `p` columns, at most 64 rows)
/// go at every internal node: bit `i` of `out[node_offsets[t] + node]` is set when row `i`
/// goes left at `node` of tree `t`. Computed once, this serves every explained row's walk.
pub(crate) fn background_routes(
    ensemble: &TreeEnsemble,
    node_offsets: &[usize],
    background: &[f64],
    p: usize,
    out: &mut [u64],
) {
    let n = background.len() / p.max(1);
    if n == 0 {
        return;
    }
    let all = u64::MAX >> (64 - n);
    let rules = ensemble.rules();
    for (tree, &offset) in ensemble.trees().iter().zip(node_offsets) {
        for node in 0..tree.n_nodes() {
            if !tree.is_leaf(node) {
                out[offset + node] = left_rows(tree, node, rules, background, p, all);
            }
        }
    }
}

/// The bits of `v` at the set positions of `mask`, packed into the low bits (BMI2's `pext`).
#[inline]
fn pext(v: u64, mut mask: u64) -> u64 {
    let mut out = 0u64;
    let mut bit = 0;
    while mask != 0 {
        let low = mask & mask.wrapping_neg();
        if v & low != 0 {
            out |= 1 << bit;
        }
        bit += 1;
        mask ^= low;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ensemble::{EnsembleSpec, Link, RawTree, SplitRules};
    use crate::rng::Rng;
    use crate::tree_shap::pair_walk::{PairWalk, Players};

    /// A random tree of depth up to `depth` over `p` features, thresholds on a coarse grid
    /// (so that rows often fall on both sides and on thresholds), random NaN directions, one
    /// or two outputs and, with `categorical`, some category-set splits.
    fn random_tree(rng: &mut Rng, depth: u32, p: usize, categorical: bool) -> RawTree {
        let mut raw = RawTree {
            left: vec![],
            right: vec![],
            feature: vec![],
            threshold: vec![],
            default_left: vec![],
            zero_is_missing: vec![],
            categories: vec![],
            categories_go_left: true,
            cover: vec![],
            value: vec![],
            output: rng.below(2) as usize,
        };
        fn grow(rng: &mut Rng, raw: &mut RawTree, depth: u32, p: usize, cats: bool) -> i64 {
            let node = raw.left.len();
            raw.left.push(-1);
            raw.right.push(-1);
            raw.feature.push(rng.below(p as u64) as i64);
            raw.threshold.push(rng.below(5) as f64 - 2.0);
            raw.default_left.push(rng.below(2) == 0);
            raw.cover.push(1.0);
            raw.value.push(rng.below(1000) as f64 / 7.0 - 70.0);
            raw.categories.push(None);
            if depth > 0 && rng.below(5) != 0 {
                if cats && rng.below(4) == 0 {
                    raw.categories[node] = Some(vec![0, 2, 3]);
                }
                let l = grow(rng, raw, depth - 1, p, cats);
                let r = grow(rng, raw, depth - 1, p, cats);
                raw.left[node] = l;
                raw.right[node] = r;
            }
            node as i64
        }
        grow(rng, &mut raw, depth, p, categorical);
        if !categorical {
            raw.categories.clear();
        }
        raw
    }

    /// Features with a bit, as the pair walk reads them.
    struct Positions<'a>(&'a [u32]);

    impl Players for Positions<'_> {
        const FIXED: bool = true;
        type Error = std::convert::Infallible;
        fn mask(&self, feature: usize) -> u64 {
            match self.0[feature] {
                u32::MAX => 0,
                pos => 1u64 << pos,
            }
        }
        fn assign(&mut self, _feature: usize) -> Result<u64, Self::Error> {
            unreachable!()
        }
    }

    /// The chunk walk gives every background row exactly its own pair walk's conditioned
    /// leaves, in the same order, and the same constant to the last bit: the sums built on
    /// them are then the pair-by-pair sums. Rows take values on the threshold grid, NaN and
    /// zero; some features have no bit (the row's value is used); chunks of 1 to 64 rows.
    #[test]
    fn chunk_walk_gives_each_row_its_pair_walks_leaves_in_order() {
        let mut rng = Rng::stream(0x9e37_79b9_7f4a_7c15, 0);
        for case in 0..24 {
            let p = 3 + case % 6;
            let categorical = case % 3 == 0;
            let trees: Vec<RawTree> = (0..6)
                .map(|_| random_tree(&mut rng, 5, p, categorical))
                .collect();
            let spec = EnsembleSpec {
                n_features: p,
                n_outputs: 2,
                leaf_width: 1,
                base_offset: vec![0.25, -1.5],
                rules: SplitRules::SKLEARN_HIST,
                link: Link::Identity,
                objective: String::new(),
                feature_names: None,
                categorical_features: Vec::new(),
            };
            let ensemble = TreeEnsemble::new(spec, trees).unwrap();
            let value = |rng: &mut Rng| match rng.below(8) {
                0 => f64::NAN,
                v => v as f64 - 3.5 + if rng.below(2) == 0 { 0.5 } else { 0.0 },
            };
            let x: Vec<f64> = (0..p).map(|_| value(&mut rng)).collect();
            let mut position = vec![u32::MAX; p];
            let mut next = 0;
            for pos in position.iter_mut() {
                if rng.below(4) != 0 {
                    *pos = next;
                    next += 1;
                }
            }
            let n = [1, 7, 32, 64][case % 4];
            let background: Vec<f64> = (0..n * p).map(|_| value(&mut rng)).collect();
            let (offsets, n_nodes) = node_offsets(&ensemble);
            let game = RowGame {
                ensemble: &ensemble,
                output: OutputTransform::Margin,
                evaluation: PairEvaluation::Auto,
                x: &x,
                n_columns: p,
                node_offsets: &offsets,
                position: &position,
                n_varying: next as usize,
                coalitions: &[],
            };
            let mut routes = vec![0; n_nodes];
            background_routes(&ensemble, &offsets, &background, p, &mut routes);
            let mut walk = PairWalk::default();
            // Routes found on the way and routes computed beforehand.
            for routes in [None, Some(&routes[..])] {
                let mut scratch = Scratch::default();
                game.collect_chunk_leaves(&background, routes, &mut scratch);
                for (i, r) in background.chunks_exact(p).enumerate() {
                    let mut constant = ensemble.base_offset().to_vec();
                    let Ok(()) =
                        walk.walk(&ensemble, &x, r, &mut Positions(&position), &mut constant);
                    let want: Vec<_> = walk
                        .leaves
                        .iter()
                        .map(|l| (l.a, l.b, l.tree, l.node))
                        .collect();
                    let got: Vec<_> = scratch.row_leaves[i]
                        .iter()
                        .map(|l| (l.a, l.b, l.tree, l.node))
                        .collect();
                    assert_eq!(got, want, "case {case}, row {i}");
                    let got = &scratch.row_constant[2 * i..2 * i + 2];
                    assert_eq!(
                        got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                        constant.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                        "case {case}, row {i}"
                    );
                }
            }
        }
    }

    #[test]
    fn pext_packs_the_masked_bits() {
        assert_eq!(pext(0b1011_0110, 0b1111_0000), 0b1011);
        assert_eq!(pext(0b1011_0110, 0b0101_0101), 0b0110);
        assert_eq!(pext(u64::MAX, 0b1001), 0b11);
    }
}
