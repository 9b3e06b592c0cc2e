//! Rows in blocks of [`BLOCK`], column-major, and the leaf patterns of a whole block at once:
//! per node one comparison over the block's values of the node's feature, written so that the
//! compiler vectorises it. Shared by the background aggregation and the explained rows.

use super::{Background, DENSE_MAX, Layout};
use crate::Scalar;
use crate::ensemble::{SplitRules, Tree, TreeEnsemble};
use ndarray::ArrayView2;

/// Rows per block.
pub(in crate::tree_shap) const BLOCK: usize = 64;

/// One pattern per row of a block.
pub(in crate::tree_shap) type Patterns = [u64; BLOCK];

/// A block of prepared rows, column-major: `cols[f * BLOCK + r]` is feature `f` of row `r`.
/// Rows beyond `n` hold 0.0 and are never read back.
pub(in crate::tree_shap) struct RowBlock {
    pub(in crate::tree_shap) cols: Vec<f64>,
    pub(in crate::tree_shap) n: usize,
}

impl RowBlock {
    pub(in crate::tree_shap) fn new(n_features: usize) -> RowBlock {
        RowBlock {
            cols: vec![0.0; n_features * BLOCK],
            n: 0,
        }
    }

    /// Loads rows `first..first + n` of `x`, prepared as the model reads inputs.
    pub(in crate::tree_shap) fn load<F: Scalar>(
        &mut self,
        model: &TreeEnsemble,
        x: &ArrayView2<'_, F>,
        first: usize,
        n: usize,
    ) {
        debug_assert!(n <= BLOCK);
        let rules = model.rules();
        for r in 0..n {
            for (f, v) in x.row(first + r).iter().enumerate() {
                self.cols[f * BLOCK + r] = rules.prepare(v.to_f64());
            }
        }
        for f in 0..model.n_features() {
            self.cols[f * BLOCK + n..(f + 1) * BLOCK].fill(0.0);
        }
        self.n = n;
    }

    /// Loads `n` prepared rows, row-major with `m` values each.
    pub(in crate::tree_shap) fn load_prepared(&mut self, rows: &[f64], m: usize, n: usize) {
        debug_assert!(n <= BLOCK);
        for (r, row) in rows.chunks(m.max(1)).take(n).enumerate() {
            for (f, &v) in row.iter().enumerate() {
                self.cols[f * BLOCK + r] = v;
            }
        }
        for f in 0..m {
            self.cols[f * BLOCK + n..(f + 1) * BLOCK].fill(0.0);
        }
        self.n = n;
    }

    fn column(&self, f: usize) -> &[f64; BLOCK] {
        self.cols[f * BLOCK..(f + 1) * BLOCK]
            .try_into()
            .expect("a column is BLOCK values")
    }
}

impl Layout {
    /// Writes into `pat[node]`, for every node and every row of `block`, the row's pattern on
    /// the path to the node: bit s is cleared when the row fails a condition on the path's
    /// s-th distinct feature. Rows are routed as [`Tree::goes_left`] routes them.
    #[inline(always)]
    pub(in crate::tree_shap) fn block_patterns(
        &self,
        tree: &Tree,
        rules: &SplitRules,
        block: &RowBlock,
        pat: &mut [Patterns],
    ) {
        pat[0] = [u64::MAX; BLOCK];
        let mut left = [0u64; BLOCK];
        for &node in &self.order {
            let node = node as usize;
            let x = block.column(tree.feature(node));
            // All ones where the row goes left, zero where it goes right.
            if let Some(split) = tree.plain_split(node) {
                for (l, &v) in left.iter_mut().zip(x) {
                    *l = split.left_mask(v);
                }
            } else {
                for (l, &v) in left.iter_mut().zip(x) {
                    *l = left_mask(tree, node, v, rules);
                }
            }
            let bit = 1u64 << self.slot[node];
            let c = pat[node];
            let (l, r) = tree.children(node);
            let to_left = &mut pat[l];
            for ((p, &c), &g) in to_left.iter_mut().zip(&c).zip(&left) {
                *p = c & !(bit & !g);
            }
            let to_right = &mut pat[r];
            for ((p, &c), &g) in to_right.iter_mut().zip(&c).zip(&left) {
                *p = c & !(bit & g);
            }
        }
    }
}

impl Layout {
    /// [`Self::block_patterns`] of one row (`x`, prepared as the model reads inputs): in
    /// `pat[node]`, for every node, the row's pattern on the path to the node.
    #[inline(always)]
    pub(in crate::tree_shap) fn row_patterns(
        &self,
        tree: &Tree,
        rules: &SplitRules,
        x: &[f64],
        pat: &mut [u64],
    ) {
        pat[0] = u64::MAX;
        for &node in &self.order {
            let node = node as usize;
            // Without a branch on the (unpredictable) direction.
            let left = left_mask(tree, node, x[tree.feature(node)], rules);
            let bit = 1u64 << self.slot[node];
            let (c, (l, r)) = (pat[node], tree.children(node));
            pat[l] = c & !(bit & !left);
            pat[r] = c & !(bit & left);
        }
    }
}

/// All ones when the prepared value `v` goes to the left child of internal `node`, else zero.
#[inline(always)]
fn left_mask(tree: &Tree, node: usize, v: f64, rules: &SplitRules) -> u64 {
    match tree.plain_split(node) {
        Some(split) => split.left_mask(v),
        None => u64::from(tree.goes_left(node, v, rules)).wrapping_neg(),
    }
}

/// The background of one tree aggregated per leaf: the total weight of the background rows
/// that fail exactly the set u of the leaf's path features, for every u.
pub(in crate::tree_shap) struct LeafWeights {
    /// Per leaf, the start of its `2^d` dense weights in `dense` (leaves with d <=
    /// [`DENSE_MAX`]), or `usize::MAX`.
    offsets: Vec<usize>,
    dense: Vec<f64>,
    /// Per leaf with d > [`DENSE_MAX`]: the distinct failure sets, ascending, with their
    /// weights (empty for dense leaves).
    lists: Vec<Vec<(u64, f64)>>,
}

/// A leaf's aggregated background.
pub(in crate::tree_shap) enum Weights<'a> {
    /// `w[u]` for every failure set u.
    Dense(&'a [f64]),
    /// The failure sets with a row, ascending, with their total weights.
    Sparse(Vec<(u64, f64)>),
}

impl Weights<'_> {
    /// Appends to `out` the failure sets with a non-zero weight, ascending, with their
    /// weights times `scale`.
    pub(in crate::tree_shap) fn extend_scaled(self, out: &mut Vec<(u64, f64)>, scale: f64) {
        match self {
            Weights::Dense(w) => {
                // Written without a branch on the (unpredictable) zeros: every entry is
                // stored, and the end moves past the non-zero ones only.
                let mut end = out.len();
                out.resize(end + w.len(), (0, 0.0));
                for (u, &w) in w.iter().enumerate() {
                    out[end] = (u as u64, w * scale);
                    end += usize::from(w != 0.0);
                }
                out.truncate(end);
            }
            Weights::Sparse(list) => out.extend(
                list.into_iter()
                    .filter(|e| e.1 != 0.0)
                    .map(|(u, w)| (u, w * scale)),
            ),
        }
    }
}

impl LeafWeights {
    /// Aggregates every background row. Each weight is summed in background-row order, so
    /// the sums do not depend on anything but the data.
    pub(in crate::tree_shap) fn new(
        tree: &Tree,
        layout: &Layout,
        rules: &SplitRules,
        bg: &Background,
    ) -> Self {
        Self::many(&[(tree, layout)], rules, bg)
            .pop()
            .expect("one tree, one aggregate")
    }

    /// [`LeafWeights::new`] of several trees in one pass over the background, so that each
    /// block of background rows is read from memory once for all of them.
    #[inline(always)]
    pub(in crate::tree_shap) fn many(
        trees: &[(&Tree, &Layout)],
        rules: &SplitRules,
        bg: &Background,
    ) -> Vec<Self> {
        let mut all: Vec<LeafWeights> = trees
            .iter()
            .map(|(_, layout)| LeafWeights::empty(layout, bg.weights.len()))
            .collect();
        let max_nodes = trees.iter().map(|(t, _)| t.n_nodes()).max().unwrap_or(0);
        let mut pat = vec![[0u64; BLOCK]; max_nodes];
        for (block, weights) in bg.blocks.iter().zip(bg.weights.chunks(BLOCK)) {
            for ((tree, layout), sums) in trees.iter().zip(&mut all) {
                layout.block_patterns(tree, rules, block, &mut pat);
                sums.add(layout, &pat, weights);
            }
        }
        for sums in &mut all {
            sums.merge_lists();
        }
        all
    }

    fn empty(layout: &Layout, n_background: usize) -> Self {
        let mut offsets = Vec::with_capacity(layout.leaves.len());
        let mut len = 0usize;
        for leaf in &layout.leaves {
            let d = leaf.d as usize;
            if d <= DENSE_MAX {
                offsets.push(len);
                len += 1 << d;
            } else {
                offsets.push(usize::MAX);
            }
        }
        let lists = layout
            .leaves
            .iter()
            .map(|leaf| {
                if leaf.d as usize > DENSE_MAX {
                    Vec::with_capacity(n_background)
                } else {
                    Vec::new()
                }
            })
            .collect();
        LeafWeights {
            offsets,
            dense: vec![0.0; len],
            lists,
        }
    }

    /// Adds a block of background rows with weights `weights`, whose patterns are `pat`.
    #[inline(always)]
    fn add(&mut self, layout: &Layout, pat: &[Patterns], weights: &[f64]) {
        for ((leaf, &off), list) in layout.leaves.iter().zip(&self.offsets).zip(&mut self.lists) {
            let p = &pat[leaf.node as usize];
            let mask = leaf.mask();
            if off != usize::MAX {
                let w = &mut self.dense[off..off + (1 << leaf.d)];
                for (&p, &weight) in p.iter().zip(weights) {
                    w[(!p & mask) as usize] += weight;
                }
            } else {
                list.extend(p.iter().zip(weights).map(|(&p, &w)| (!p & mask, w)));
            }
        }
    }

    /// Sums the weights of equal failure sets of the sparse leaves.
    fn merge_lists(&mut self) {
        for list in &mut self.lists {
            // Stable: equal failure sets keep background-row order, so their sums do too.
            list.sort_by_key(|&(u, _)| u);
            let mut merged: Vec<(u64, f64)> = Vec::new();
            for &(u, w) in list.iter() {
                match merged.last_mut() {
                    Some(last) if last.0 == u => last.1 += w,
                    _ => merged.push((u, w)),
                }
            }
            *list = merged;
        }
    }

    /// The aggregated background of leaf `i` (in layout order) with `d` path features; a
    /// sparse leaf's list is handed over (asked for once).
    pub(in crate::tree_shap) fn take(&mut self, i: usize, d: usize) -> Weights<'_> {
        match self.offsets[i] {
            usize::MAX => Weights::Sparse(std::mem::take(&mut self.lists[i])),
            off => Weights::Dense(&self.dense[off..off + (1 << d)]),
        }
    }

    /// The dense weights of leaf `i` with `d` <= [`DENSE_MAX`] path features.
    pub(in crate::tree_shap) fn dense(&self, i: usize, d: usize) -> &[f64] {
        let off = self.offsets[i];
        debug_assert!(off != usize::MAX, "leaf {i} is not dense");
        &self.dense[off..off + (1 << d)]
    }

    /// Total weight of the background rows that reach leaf `i` (ask before [`Self::take`]): those failing nothing.
    pub(in crate::tree_shap) fn reach(&self, i: usize) -> f64 {
        match self.offsets[i] {
            usize::MAX => self.lists[i]
                .first()
                .filter(|e| e.0 == 0)
                .map_or(0.0, |e| e.1),
            off => self.dense[off],
        }
    }
}
