//! [`Interventional`]: an interventional explainer prepared for one model and one background,
//! owning what every call would otherwise rebuild.

use std::borrow::Borrow;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use ndarray::{Array3, ArrayView1, ArrayView2};
use rayon::prelude::*;

use super::one_row::OneRowTables;
use super::tables::{Constants, Tables};
use super::{
    BLOCK, Background, CHUNK_BYTES, Layout, LeafWeights, MAX_CHUNK_BLOCKS, RowBlock, Strategy,
    TREES_PER_TASK, base_values, split_trees, tree_blocks, tree_groups, wide,
};
use crate::Scalar;
use crate::ensemble::{Tree, TreeEnsemble};
use crate::error::Result;
use crate::tree_shap::ShapValues;

/// The most bytes an [`Interventional`] keeps, by default, for the tables that explain one
/// row at a time (see [`Interventional::with_table_budget`]).
pub const DEFAULT_TABLE_BUDGET: usize = 256 << 20;

/// An interventional explainer prepared for one model and one background (with optional
/// weights): it owns the background read as the model reads inputs, the per-tree layouts, the
/// base values and, from the first one-row call on, each tree's background aggregated into
/// the tables that explain one row (kept while they fit the table budget,
/// [`DEFAULT_TABLE_BUDGET`] unless set: a tree's tables hold at most one entry per background
/// row and leaf, 4 bytes each for paths of at most 15 distinct features (a 16-bit failure
/// set and the index of its weight among the tree's distinct weights), 16 bytes beyond; about
/// 3.2 MB for 500 trees of depth 8 and 100 background rows). Batches of several rows
/// aggregate the background per call, block by block of trees, within about 16 MiB (their
/// cost is shared by the rows).
///
/// `M` is how the explainer holds the model: `&TreeEnsemble` to borrow it, or
/// `Arc<TreeEnsemble>` to share it. Results equal those of
/// [`shap_values_weighted`](super::shap_values_weighted) bit for bit, and never depend on the
/// number of threads.
///
/// ```
/// use ferroshap::tree_shap::interventional::Interventional;
/// # use ferroshap::{EnsembleSpec, Link, RawTree, SplitRules, TreeEnsemble};
/// # let spec = EnsembleSpec { n_features: 1, n_outputs: 1, leaf_width: 1,
/// #     base_offset: vec![0.0], rules: SplitRules::LIGHTGBM, link: Link::Identity,
/// #     objective: String::new(), feature_names: None, categorical_features: vec![] };
/// # let stump = RawTree { left: vec![1, -1, -1], right: vec![2, -1, -1], feature: vec![0, 0, 0],
/// #     threshold: vec![0.5, 0.0, 0.0], default_left: vec![true; 3], zero_is_missing: vec![],
/// #     categories: vec![], categories_go_left: false, cover: vec![4.0, 1.0, 3.0],
/// #     value: vec![0.0, -1.0, 1.0], output: 0 };
/// # let model = TreeEnsemble::new(spec, vec![stump])?;
/// let background = ndarray::array![[0.0], [1.0], [2.0]];
/// let explainer = Interventional::new(&model, background.view(), None)?;
/// // The mean margin over the background: (-1 + 1 + 1) / 3.
/// assert!((explainer.base_values()[0] - 1.0 / 3.0).abs() < 1e-12);
/// for row in [0.0, 1.0] {
///     let x = ndarray::array![[row]];
///     let explanation = explainer.shap_values(x.view())?;
///     let margin = model.predict_margin(x.view())?[[0, 0]];
///     assert!((explanation.values[[0, 0, 0]] + explanation.base_values[0] - margin).abs() < 1e-12);
/// }
/// # Ok::<(), ferroshap::Error>(())
/// ```
pub struct Interventional<M: Borrow<TreeEnsemble> = Arc<TreeEnsemble>> {
    model: M,
    bg: Background,
    /// Indices of the trees whose paths fit the fast path, with their layouts.
    trees: Vec<usize>,
    layouts: Vec<Layout>,
    /// Indices of the trees explained pair by pair.
    wide: Vec<usize>,
    base: Vec<f64>,
    budget: usize,
    /// Per fast tree, the tables that explain one row (`None`: beyond the budget).
    one_row: OnceLock<Option<Vec<OneRowTables>>>,
}

impl<M: Borrow<TreeEnsemble>> Interventional<M> {
    /// Reads `background` (every row, weighing `weights` or the same) as the model reads
    /// inputs, lays out the trees and computes the base values: the (weighted) mean margin
    /// over the background.
    ///
    /// Errors: the background's width is not the model's, it has no rows, or the weights
    /// have the wrong length, a negative or non-finite entry or no positive sum.
    pub fn new<G: Scalar>(
        model: M,
        background: ArrayView2<'_, G>,
        weights: Option<ArrayView1<'_, f64>>,
    ) -> Result<Self> {
        let m = model.borrow();
        let bg = Background::new(m, background, weights)?;
        let (trees, layouts, wide) = split_trees(m);
        let base = {
            let fast: Vec<&Tree> = trees.iter().map(|&t| &m.trees()[t]).collect();
            let wide: Vec<&Tree> = wide.iter().map(|&t| &m.trees()[t]).collect();
            base_values(m, &bg, &fast, &layouts, &wide)
        };
        Ok(Interventional {
            model,
            bg,
            trees,
            layouts,
            wide,
            base,
            budget: DEFAULT_TABLE_BUDGET,
            one_row: OnceLock::new(),
        })
    }

    /// Sets the most bytes kept for the one-row tables (0: never keep them; each one-row
    /// call then aggregates the background again).
    pub fn with_table_budget(mut self, bytes: usize) -> Self {
        self.budget = bytes;
        self.one_row = OnceLock::new();
        self
    }

    /// The model explained.
    pub fn model(&self) -> &TreeEnsemble {
        self.model.borrow()
    }

    /// The base value per output: the (weighted) mean margin over the background.
    pub fn base_values(&self) -> &[f64] {
        &self.base
    }

    /// Number of background rows.
    pub fn n_background(&self) -> usize {
        self.bg.weights.len()
    }

    /// Bytes held by the one-row tables (0 before the first one-row call or beyond the
    /// budget) and the prepared background.
    pub fn table_bytes(&self) -> usize {
        let tables = self
            .one_row
            .get()
            .and_then(Option::as_ref)
            .map_or(0, |t| t.iter().map(OneRowTables::size_bytes).sum());
        tables + 16 * self.bg.rows.len() + 8 * self.bg.weights.len()
    }

    /// Interventional SHAP values of every row of `x`: shape `(n_rows, n_features,
    /// n_outputs)`, with [`Self::base_values`]. Parallel over rows and trees.
    pub fn shap_values<F: Scalar>(&self, x: ArrayView2<'_, F>) -> Result<ShapValues> {
        self.shap_values_with(x, Strategy::Auto)
    }

    /// [`Self::shap_values`] with an explicit per-leaf [`Strategy`].
    pub fn shap_values_with<F: Scalar>(
        &self,
        x: ArrayView2<'_, F>,
        strategy: Strategy,
    ) -> Result<ShapValues> {
        let model = self.model();
        model.check_features(x.ncols())?;
        let (n, m, k) = (x.nrows(), model.n_features(), model.n_outputs());
        let row_len = m * k;
        let mut values = Array3::<f64>::zeros((n, m, k));
        let out = values.as_slice_mut().expect("fresh array is contiguous");
        let trees: Vec<&Tree> = self.trees.iter().map(|&t| &model.trees()[t]).collect();
        let kept = if n == 1 && strategy == Strategy::Auto {
            self.one_row_tables()
        } else {
            None
        };
        match kept {
            Some(tables) => self.explain_one_row(&trees, tables, &x, out)?,
            None => self.explain_rows(&trees, &x, out, strategy)?,
        }
        if !self.wide.is_empty() && row_len > 0 {
            let wide_trees: Vec<&Tree> = self.wide.iter().map(|&t| &model.trees()[t]).collect();
            let inv_binom = wide::InvBinomials::new(m.min(model.max_depth()));
            let bg = &self.bg;
            // Blocks of rows fixed by the input size: each row is summed on one thread.
            out.par_chunks_mut(BLOCK * row_len)
                .enumerate()
                .for_each(|(c, phis)| {
                    if crate::parallel::cancelled() {
                        return;
                    }
                    wide::explain(model, &wide_trees, &x, c * BLOCK, phis, bg, &inv_binom);
                });
        }
        crate::parallel::check_cancelled()?;
        Ok(ShapValues {
            values,
            base_values: self.base.clone(),
        })
    }

    /// Adds the fast trees' values of the rows of `x` to `out` (`n_rows x n_features x
    /// n_outputs`), block of trees after block of trees, aggregating the background for them.
    fn explain_rows<F: Scalar>(
        &self,
        trees: &[&Tree],
        x: &ArrayView2<'_, F>,
        out: &mut [f64],
        strategy: Strategy,
    ) -> Result<()> {
        let model = self.model();
        let (n, m, k) = (x.nrows(), model.n_features(), model.n_outputs());
        let row_len = m * k;
        let (consts, layouts, bg) = (Constants::get(), &self.layouts, &self.bg);
        let max_nodes = trees.iter().map(|t| t.n_nodes()).max().unwrap_or(0);
        for block in tree_blocks(layouts, self.bg.weights.len()) {
            crate::parallel::check_cancelled()?;
            if row_len == 0 || n == 0 {
                break;
            }
            let tables = self.block_tables(trees, block.clone(), |t, weights| {
                Tables::new(&layouts[t], weights, bg, n, strategy, consts)
            });
            // Rows in chunks whose values stay in cache while one tree's tables serve all of
            // them; leaf by leaf within a tree, so a leaf's table stays in the nearest cache.
            // The units of parallel work are a chunk of rows and a group of trees: each row
            // receives its group's trees in model order, into partial sums that are added in
            // group order when a chunk has several groups. The chunks and groups depend only
            // on the sizes of the input, so the sums never depend on the number of threads.
            let chunk_rows =
                (CHUNK_BYTES / (8 * row_len) / BLOCK).clamp(1, MAX_CHUNK_BLOCKS) * BLOCK;
            let n_chunks = n.div_ceil(chunk_rows);
            let groups = tree_groups(block.clone(), n_chunks, 8 * row_len * chunk_rows.min(n));
            let explain = |group: Range<usize>, first: usize, phis: &mut [f64]| {
                // Four f64 per vector where the CPU can (the body is inlined into the AVX2 copy).
                crate::simd::with_avx2(
                    #[inline(always)]
                    || {
                        let n_rows = phis.len() / row_len;
                        if n_rows == 1 {
                            // One row: its patterns without the 63 lanes of padding.
                            let mut row = vec![0.0; m];
                            model.prepare_row(x, first, &mut row);
                            let mut pat = vec![0u64; max_nodes];
                            let mut leaf_pats = Vec::new();
                            for t in group {
                                let (tree, layout) = (trees[t], &layouts[t]);
                                layout.row_patterns(tree, model.rules(), &row, &mut pat);
                                leaf_pats.clear();
                                leaf_pats
                                    .extend(layout.leaves.iter().map(|l| pat[l.node as usize]));
                                tables[t - block.start]
                                    .explain(tree, layout, &leaf_pats, 1, phis, row_len, k, consts);
                            }
                            return;
                        }
                        let rows: Vec<RowBlock> = (0..n_rows.div_ceil(BLOCK))
                            .map(|b| {
                                let mut rows = RowBlock::new(m);
                                let start = b * BLOCK;
                                rows.load(model, x, first + start, BLOCK.min(n_rows - start));
                                rows
                            })
                            .collect();
                        let mut pat = vec![[0u64; BLOCK]; max_nodes];
                        let mut leaf_pats = Vec::new();
                        for t in group {
                            let (tree, layout) = (trees[t], &layouts[t]);
                            leaf_pats.resize(layout.leaves.len() * n_rows, 0);
                            for (b, rows) in rows.iter().enumerate() {
                                layout.block_patterns(tree, model.rules(), rows, &mut pat);
                                for (i, leaf) in layout.leaves.iter().enumerate() {
                                    leaf_pats[i * n_rows + b * BLOCK..][..rows.n]
                                        .copy_from_slice(&pat[leaf.node as usize][..rows.n]);
                                }
                            }
                            tables[t - block.start].explain(
                                tree, layout, &leaf_pats, n_rows, phis, row_len, k, consts,
                            );
                        }
                    },
                )
            };
            out.par_chunks_mut(chunk_rows * row_len)
                .enumerate()
                .for_each(|(c, phis)| {
                    if crate::parallel::cancelled() {
                        return;
                    }
                    if let [group] = groups.as_slice() {
                        explain(group.clone(), c * chunk_rows, phis);
                        return;
                    }
                    let first = c * chunk_rows;
                    crate::parallel::sum_blocks_in_order(
                        phis,
                        &groups,
                        || (),
                        |_, group, part| explain(group.clone(), first, part),
                    );
                });
        }
        Ok(())
    }

    /// Adds the fast trees' values of the one row of `x` to `out` from the kept one-row
    /// `tables`: in groups of trees as [`Self::explain_rows`] makes them for one row (so the
    /// sums are the same), whose partial sums are added in group order.
    fn explain_one_row<F: Scalar>(
        &self,
        trees: &[&Tree],
        tables: &[OneRowTables],
        x: &ArrayView2<'_, F>,
        out: &mut [f64],
    ) -> Result<()> {
        crate::parallel::check_cancelled()?;
        let model = self.model();
        let (m, k) = (model.n_features(), model.n_outputs());
        if out.is_empty() || tables.is_empty() {
            return Ok(());
        }
        let consts = Constants::get();
        let mut row = vec![0.0; m];
        model.prepare_row(x, 0, &mut row);
        let max_nodes = trees.iter().map(|t| t.n_nodes()).max().unwrap_or(0);
        let layouts = &self.layouts;
        let explain = |group: &Range<usize>, phi: &mut [f64]| {
            crate::simd::with_avx2(
                #[inline(always)]
                || {
                    let mut pat = vec![0u64; max_nodes];
                    for t in group.clone() {
                        let (tree, layout) = (trees[t], &layouts[t]);
                        layout.row_patterns(tree, model.rules(), &row, &mut pat);
                        if *PROBE >= 1 {
                            tables[t].explain(tree, layout, &pat, phi, k, consts);
                        }
                    }
                },
            )
        };
        match tree_groups(0..tables.len(), 1, 8 * out.len()).as_slice() {
            [group] => explain(group, out),
            groups => crate::parallel::sum_blocks_in_order(
                out,
                groups,
                || (),
                |_, group, part| explain(group, part),
            ),
        }
        Ok(())
    }

    /// The tables `make(tree, its aggregated background)` of the fast trees in `block`.
    /// Groups of trees aggregate the background together: one pass over it per group.
    fn block_tables<T: Send>(
        &self,
        trees: &[&Tree],
        block: Range<usize>,
        make: impl Fn(usize, LeafWeights) -> T + Sync,
    ) -> Vec<T> {
        let (model, bg) = (self.model(), &self.bg);
        let layouts = &self.layouts;
        let tables: Vec<Vec<T>> = block
            .clone()
            .step_by(TREES_PER_TASK)
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|start| {
                let group = start..(start + TREES_PER_TASK).min(block.end);
                let pairs: Vec<_> = group.clone().map(|t| (trees[t], &layouts[t])).collect();
                let weights = crate::simd::with_avx2(
                    #[inline(always)]
                    || LeafWeights::many(&pairs, model.rules(), bg),
                );
                group.zip(weights).map(|(t, w)| make(t, w)).collect()
            })
            .collect();
        tables.into_iter().flatten().collect()
    }

    /// The one-row tables of every fast tree, built on first use; `None` beyond the budget
    /// (or when this call was cancelled while building them: a later call tries again).
    fn one_row_tables(&self) -> Option<&[OneRowTables]> {
        if self.one_row.get().is_none() {
            let built = self.build_one_row()?;
            // Another thread may have built them meanwhile: either copy serves.
            let _ = self.one_row.set(built);
        }
        self.one_row.get().and_then(Option::as_deref)
    }

    /// `None` when cancelled; `Some(None)` beyond the budget.
    fn build_one_row(&self) -> Option<Option<Vec<OneRowTables>>> {
        let model = self.model();
        let trees: Vec<&Tree> = self.trees.iter().map(|&t| &model.trees()[t]).collect();
        let mut all = Vec::with_capacity(trees.len());
        let mut bytes = 0usize;
        for block in tree_blocks(&self.layouts, self.bg.weights.len()) {
            let (layouts, bg) = (&self.layouts, &self.bg);
            let tables = self.block_tables(&trees, block, |t, weights| {
                OneRowTables::new(&layouts[t], weights, bg)
            });
            if crate::parallel::cancelled() {
                return None;
            }
            bytes += tables.iter().map(OneRowTables::size_bytes).sum::<usize>();
            if bytes > self.budget {
                return Some(None);
            }
            all.extend(tables);
        }
        Some(Some(all))
    }
}

pub(super) static PROBE: std::sync::LazyLock<u32> =
    std::sync::LazyLock::new(|| std::env::var("PROBE").map_or(9, |s| s.parse().unwrap()));
