//! Interventional ("independent") Tree SHAP: exact Shapley values of the value function
//! v(S) = mean over background rows r of f(x_S, r_rest), the model evaluated on hybrid rows
//! that take the features in S from x and the others from r.
//!
//! # Algorithm
//!
//! Each leaf contributes a game of its own. For a leaf whose root path splits on d distinct
//! features, a row is summarised by a d-bit pattern: bit s is set when the row satisfies every
//! condition the path puts on its s-th feature (a feature met several times on a path is one
//! per-feature condition). A hybrid row reaches the leaf iff each feature's condition is met
//! by whichever of x and r the feature is taken from. For one pair (x, r), with P the features
//! x satisfies and r does not and N the reverse, the pair's game is non-zero only when every
//! feature is satisfied by x or r, and then
//! `phi_i = +(|P|-1)! |N|! / (|P|+|N|)! * v` for i in P and
//! `phi_j = -|P|! (|N|-1)! / (|P|+|N|)! * v` for j in N.
//!
//! With c the pattern of x and u the set of features r fails, the pair counts iff u is a
//! subset of c, and then P = u and N = not c: the only thing that matters about r is u. So the
//! background is aggregated once per leaf into the weight W(u) of each failure set, and every
//! explained row combines its own pattern with that table:
//!
//! - *dense* leaves (d <= [`DENSE_MAX`]): a table over all 2^d patterns c, built with
//!   subset-sum (zeta) transforms. The coefficients are Beta integrals,
//!   `(p-1)! n! / (p+n)! = integral of t^(p-1) (1-t)^n over [0, 1]`, evaluated exactly by
//!   Gauss-Legendre quadrature with ceil(d/2) nodes, so one transform per node serves every
//!   |u|: O(d^2 2^d) per leaf. Three values per pattern (not d) give every signed weight by
//!   one subtraction, so a tree's tables stay small: O(d) per explained row;
//! - *sparse* leaves: the distinct failure sets with their weights; each explained row loops
//!   over them, O(distinct sets x d) per row. Used for deep paths and when few rows are
//!   explained.
//!
//! Per tree, the cost is O(background x nodes) to aggregate, a table build that depends on
//! neither, and O(rows x (nodes + leaves x depth)) to explain: it grows as rows + background,
//! not rows x background. Rows are routed as [`Tree::next`] routes them, so missing values,
//! categorical splits and input precision follow the source library exactly; patterns are
//! computed for blocks of 64 rows at once, one vectorised comparison per node. Memory: the
//! prepared background (twice: row-major and in column-major blocks), the output, the tables
//! of one block of trees (about 16 MiB) and the partial sums of groups of trees for the
//! chunks of rows in flight (at most about 64 MiB per chunk).
//!
//! Patterns are u64 bitsets: trees with a path on more than `MAX_PATH_FEATURES` (64) distinct
//! features are explained one (row, background row) pair at a time instead (module `wide`),
//! after the fast trees, so that the other trees of the model keep the fast path.

use ndarray::{ArrayView1, ArrayView2};
use rayon::prelude::*;

use super::ShapValues;
pub use super::interactions::interventional::{interaction_values, interaction_values_with};
use crate::Scalar;
use crate::ensemble::{Tree, TreeEnsemble};
use crate::error::{Error, Result};

mod blocks;
mod one_row;
mod prepared;
mod tables;
mod wide;
pub(super) use blocks::{BLOCK, LeafWeights, Patterns, RowBlock, Weights};
pub use prepared::{DEFAULT_TABLE_BUDGET, Interventional};

/// Paths with at most this many distinct features get a dense table over all 2^d patterns.
pub const DENSE_MAX: usize = 10;
/// A leaf pattern is a u64: at most this many distinct features on one root-to-leaf path.
/// [`shap_values`] explains trees with wider paths by a slower fallback (one pair of rows at a
/// time); interaction values refuse them.
pub(super) const MAX_PATH_FEATURES: usize = 64;
/// Rows are explained in chunks whose values take about this many bytes, between one and
/// [`MAX_CHUNK_BLOCKS`] blocks of [`BLOCK`] rows.
const CHUNK_BYTES: usize = 512 << 10;
const MAX_CHUNK_BLOCKS: usize = 16;
/// The trees of a block are split into groups until there are at least this many units of
/// parallel work (chunks of rows x groups of trees), with at least [`TREES_PER_TASK`] trees
/// per group and partial sums of at most about [`PARTIAL_BYTES`] per chunk.
const MIN_TASKS: usize = 32;
const TREES_PER_TASK: usize = 4;
const PARTIAL_BYTES: usize = 64 << 20;
/// Tables of one block of trees are kept in memory at once, up to about this many bytes.
const BLOCK_BYTES: usize = 16 << 20;

/// How each leaf combines explained rows with the aggregated background.
///
/// [`Strategy::Auto`] picks, per leaf, whichever of the two exact methods is cheaper; the
/// others exist to test and benchmark them against each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Dense tables where they are cheaper than looping over background patterns.
    Auto,
    /// Dense tables wherever the path has at most [`DENSE_MAX`] distinct features.
    Dense,
    /// Background patterns looped over for every row, everywhere.
    Sparse,
}

/// Interventional SHAP values of every row of `x`, every row of `background` weighing the same.
///
/// Returns values of shape `(n_rows, n_features, n_outputs)` and, as base value, the mean
/// margin over the background: for every row and output,
/// `values[row, .., output].sum() + base_values[output]` is the margin of the row.
/// Every background row is used. Parallel over rows and trees; the result does not depend on
/// the number of threads.
pub fn shap_values<F: Scalar, G: Scalar>(
    model: &TreeEnsemble,
    x: ArrayView2<'_, F>,
    background: ArrayView2<'_, G>,
) -> Result<ShapValues> {
    shap_values_with(model, x, background, None, Strategy::Auto)
}

/// Like [`shap_values`], with a non-negative weight per background row (for example the sizes
/// of the clusters a summarised background stands for): v(S) is the weighted mean.
pub fn shap_values_weighted<F: Scalar, G: Scalar>(
    model: &TreeEnsemble,
    x: ArrayView2<'_, F>,
    background: ArrayView2<'_, G>,
    weights: Option<ArrayView1<'_, f64>>,
) -> Result<ShapValues> {
    shap_values_with(model, x, background, weights, Strategy::Auto)
}

/// [`shap_values_weighted`] with an explicit per-leaf [`Strategy`].
///
/// Aggregates the background for this call only: to explain several batches against the same
/// background, keep an [`Interventional`] and call [`Interventional::shap_values`].
pub fn shap_values_with<F: Scalar, G: Scalar>(
    model: &TreeEnsemble,
    x: ArrayView2<'_, F>,
    background: ArrayView2<'_, G>,
    weights: Option<ArrayView1<'_, f64>>,
    strategy: Strategy,
) -> Result<ShapValues> {
    model.check_features(x.ncols())?;
    Interventional::new(model, background, weights)?.shap_values_with(x, strategy)
}

/// The base value of interventional Tree SHAP: the (weighted) mean margin of the model over
/// the background rows, per output. Equal, bit for bit, to the `base_values` of
/// [`shap_values_weighted`] with the same background.
pub fn expected_value<G: Scalar>(
    model: &TreeEnsemble,
    background: ArrayView2<'_, G>,
    weights: Option<ArrayView1<'_, f64>>,
) -> Result<Vec<f64>> {
    Ok(Interventional::new(model, background, weights)?
        .base_values()
        .to_vec())
}

/// The base value from the fast trees' layouts and the wide trees: per-leaf weight sums in
/// background-row order, the fast trees first, then the wide ones (as the values add them).
fn base_values(
    model: &TreeEnsemble,
    bg: &Background,
    trees: &[&Tree],
    layouts: &[Layout],
    wide_trees: &[&Tree],
) -> Vec<f64> {
    let m = model.n_features();
    let reaches: Vec<Vec<f64>> = trees
        .par_iter()
        .zip(layouts)
        .map(|(tree, layout)| {
            let mut slot_of = vec![u32::MAX; tree.n_nodes()];
            for (i, leaf) in layout.leaves.iter().enumerate() {
                slot_of[leaf.node as usize] = i as u32;
            }
            let mut reach = vec![0.0; layout.leaves.len()];
            for (row, &w) in bg.rows.chunks(m.max(1)).zip(&bg.weights) {
                reach[slot_of[tree.leaf_for(row, model.rules())] as usize] += w;
            }
            reach
        })
        .collect();
    let mut base = model.base_offset().to_vec();
    for ((tree, layout), reach) in trees.iter().zip(layouts).zip(&reaches) {
        add_base(&mut base, tree, layout, reach, bg.total);
    }
    for tree in wide_trees {
        wide::add_base(&mut base, tree, model.rules(), bg);
    }
    base
}

/// The trees whose paths fit the fast path's bitsets with their layouts, and the others
/// (explained pair by pair), each in model order, as indices into the model's trees.
fn split_trees(model: &TreeEnsemble) -> (Vec<usize>, Vec<Layout>, Vec<usize>) {
    let (mut trees, mut layouts, mut wide) = (Vec::new(), Vec::new(), Vec::new());
    for (t, tree) in model.trees().iter().enumerate() {
        match Layout::build(tree) {
            Some(layout) => {
                trees.push(t);
                layouts.push(layout);
            }
            None => wide.push(t),
        }
    }
    (trees, layouts, wide)
}

/// Adds a tree's mean leaf value over the background to `base`, leaf by leaf in layout order.
fn add_base(base: &mut [f64], tree: &Tree, layout: &Layout, reach: &[f64], total: f64) {
    for (leaf, &w) in layout.leaves.iter().zip(reach) {
        if w == 0.0 {
            continue;
        }
        let share = w / total;
        for (o, v) in base[tree.output()..]
            .iter_mut()
            .zip(tree.leaf_value(leaf.node as usize))
        {
            *o += share * v;
        }
    }
}

/// Consecutive blocks of trees whose tables fit in [`BLOCK_BYTES`] (by an upper bound that
/// depends only on the model and the background size, so blocks never depend on threads).
fn tree_blocks(layouts: &[Layout], n_background: usize) -> Vec<std::ops::Range<usize>> {
    let mut blocks = Vec::new();
    let (mut start, mut bytes) = (0, 0usize);
    for (t, layout) in layouts.iter().enumerate() {
        let estimate = layout.table_bytes(n_background);
        if t > start && bytes + estimate > BLOCK_BYTES {
            blocks.push(start..t);
            start = t;
            bytes = 0;
        }
        bytes += estimate;
    }
    if start < layouts.len() {
        blocks.push(start..layouts.len());
    }
    blocks
}

/// The trees of `block` in groups, the units of parallel work with the `n_chunks` chunks of
/// rows (of `chunk_bytes` of values each): at least [`MIN_TASKS`] units where there are trees
/// enough, [`TREES_PER_TASK`] trees or more per group, partial sums of at most about
/// [`PARTIAL_BYTES`] per chunk. Depends only on the sizes, never on the threads.
fn tree_groups(
    block: std::ops::Range<usize>,
    n_chunks: usize,
    chunk_bytes: usize,
) -> Vec<std::ops::Range<usize>> {
    let n_groups = MIN_TASKS
        .div_ceil(n_chunks)
        .min(block.len().div_ceil(TREES_PER_TASK))
        .min(PARTIAL_BYTES / chunk_bytes)
        .max(1);
    let group_len = block.len().div_ceil(n_groups);
    block
        .clone()
        .step_by(group_len)
        .map(|s| s..(s + group_len).min(block.end))
        .collect()
}

/// The background, read as the model reads inputs, with its weights.
pub(super) struct Background {
    /// Prepared rows, `n_features` values each.
    pub(super) rows: Vec<f64>,
    /// The same rows in blocks of [`BLOCK`], column-major.
    pub(super) blocks: Vec<RowBlock>,
    pub(super) weights: Vec<f64>,
    pub(super) total: f64,
}

impl Background {
    pub(super) fn new<G: Scalar>(
        model: &TreeEnsemble,
        data: ArrayView2<'_, G>,
        weights: Option<ArrayView1<'_, f64>>,
    ) -> Result<Background> {
        let m = model.n_features();
        if data.ncols() != m {
            return Err(Error::Shape(format!(
                "background data has {} features, but the model was trained on {m} features",
                data.ncols()
            )));
        }
        let n = data.nrows();
        if n == 0 {
            return Err(Error::Shape("background data has no rows".into()));
        }
        let weights = match weights {
            None => vec![1.0; n],
            Some(w) => {
                if w.len() != n {
                    return Err(Error::Shape(format!(
                        "{} background weights for {n} background rows",
                        w.len()
                    )));
                }
                if let Some(bad) = w.iter().find(|w| !w.is_finite() || **w < 0.0) {
                    return Err(Error::Parameter(format!(
                        "background weights must be finite and >= 0, got {bad}"
                    )));
                }
                w.to_vec()
            }
        };
        let total: f64 = weights.iter().sum();
        if total <= 0.0 || !total.is_finite() {
            return Err(Error::Parameter(format!(
                "background weights must have a positive finite sum, got {total}"
            )));
        }
        let mut rows = vec![0.0; n * m];
        for (i, row) in rows.chunks_mut(m.max(1)).enumerate().take(n) {
            model.prepare_row(&data, i, row);
        }
        let blocks = rows
            .chunks(BLOCK * m.max(1))
            .map(|chunk| {
                let mut block = RowBlock::new(m);
                block.load_prepared(chunk, m, chunk.len() / m.max(1));
                block
            })
            .collect();
        Ok(Background {
            blocks,
            rows,
            weights,
            total,
        })
    }
}

/// Per-tree facts that do not depend on any data: the order to compute patterns in, the
/// pattern bit each split sets, and each leaf's distinct path features.
pub(super) struct Layout {
    /// Internal nodes, every parent before its children.
    pub(super) order: Vec<u32>,
    /// Per node: the bit (slot) of the node's feature in the patterns of the leaves below it.
    pub(super) slot: Vec<u8>,
    pub(super) leaves: Vec<Leaf>,
    /// Distinct path features of every leaf, slot by slot, leaf after leaf.
    pub(super) features: Vec<u32>,
}

pub(super) struct Leaf {
    pub(super) node: u32,
    /// Number of distinct features on the path.
    pub(super) d: u32,
    /// Start of the leaf's features in `Layout::features`.
    pub(super) features: u32,
}

impl Leaf {
    pub(super) fn mask(&self) -> u64 {
        if self.d as usize == MAX_PATH_FEATURES {
            u64::MAX
        } else {
            (1u64 << self.d) - 1
        }
    }
}

impl Layout {
    /// The layout of tree `t`, or an error naming it when a path is too wide.
    pub(super) fn new(tree: &Tree, t: usize) -> Result<Layout> {
        Layout::build(tree).ok_or_else(|| {
            Error::Unsupported(format!(
                "tree {t} has a path that splits on more than {MAX_PATH_FEATURES} different \
                 features; interventional Tree SHAP supports at most {MAX_PATH_FEATURES} here"
            ))
        })
    }

    /// The layout of `tree`, `None` when a path splits on more than [`MAX_PATH_FEATURES`]
    /// distinct features.
    pub(super) fn build(tree: &Tree) -> Option<Layout> {
        let n = tree.n_nodes();
        let mut layout = Layout {
            order: Vec::new(),
            slot: vec![0; n],
            leaves: Vec::new(),
            features: Vec::new(),
        };
        // Depth-first, carrying the distinct features met so far on the path.
        let mut stack: Vec<(usize, Vec<u32>)> = vec![(0, Vec::new())];
        while let Some((node, mut path)) = stack.pop() {
            if tree.is_leaf(node) {
                layout.leaves.push(Leaf {
                    node: node as u32,
                    d: path.len() as u32,
                    features: layout.features.len() as u32,
                });
                layout.features.extend_from_slice(&path);
                continue;
            }
            let f = tree.feature(node) as u32;
            let slot = match path.iter().position(|&g| g == f) {
                Some(s) => s,
                None => {
                    if path.len() == MAX_PATH_FEATURES {
                        return None;
                    }
                    path.push(f);
                    path.len() - 1
                }
            };
            layout.slot[node] = slot as u8;
            layout.order.push(node as u32);
            let (l, r) = tree.children(node);
            stack.push((r, path.clone()));
            stack.push((l, path));
        }
        Some(layout)
    }

    /// Upper bound of the bytes [`Tables`] takes for this tree.
    fn table_bytes(&self, n_background: usize) -> usize {
        let entries: usize = self
            .leaves
            .iter()
            .map(|leaf| {
                let d = leaf.d as usize;
                if d <= DENSE_MAX {
                    (3usize << d) + (1usize << d).div_ceil(64)
                } else {
                    2 * n_background
                }
            })
            .sum();
        entries * 8
    }
}
