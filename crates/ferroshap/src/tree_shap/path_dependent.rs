//! Path-dependent ("tree_path_dependent") Tree SHAP: exact Shapley values of the value
//! function v(S) = E[f(x) | x_S], where the expectation over the features outside S follows
//! the training data's split of each node's cover between its children (Lundberg et al. 2020).
//!
//! [`shap_values`] runs the quadrature pass (see the `quadrature` module: O(nodes x depth/2)
//! per tree and row); [`shap_values_reference`] runs the classic O(leaves x depth^2)
//! recursion, kept as an independent check. Both compute in f64.

use std::borrow::Borrow;
use std::sync::{Arc, OnceLock};

use ndarray::{Array3, ArrayView2};
use rayon::prelude::*;

use super::classic;
pub use super::interactions::path_dependent::{interaction_values, interaction_values_reference};
use super::lanes::LaneWorkspace;
use super::quadrature::{self, PreparedTree};
use super::single_row::{PackedTree, RowWorkspace};
use super::{InteractionOptions, InteractionValues, ShapValues};
use crate::Scalar;
use crate::ensemble::{SplitRules, Tree, TreeEnsemble};
use crate::error::{Error, Result};
use crate::parallel::ROW_BLOCK;

/// Below this many rows the work is split over blocks of trees instead of rows.
const FEW_ROWS: usize = 64;
/// Trees per unit of work when splitting over trees.
const TREE_BLOCK: usize = 16;
/// Up to this many rows each row gets its own walk over the trees (vectorised over
/// quadrature points) instead of sharing a walk in lanes of 16 rows: with fewer rows most
/// lanes would be padding (a block of 16 costs about as much as 11 one-row walks).
const SINGLE_ROWS: usize = 8;

/// Path-dependent SHAP values of every row of `x` (any memory layout, f32 or f64).
///
/// Returns values of shape `(n_rows, n_features, n_outputs)` and the base value per output.
/// Parallel over rows (or over blocks of trees for small batches); the result does not depend
/// on the number of threads. Builds the per-model tables for this call only: to explain
/// several batches, keep a [`PathDependent`] and call [`PathDependent::shap_values`].
pub fn shap_values<F: Scalar>(model: &TreeEnsemble, x: ArrayView2<'_, F>) -> Result<ShapValues> {
    PathDependent::new(model).shap_values(x)
}

/// A path-dependent explainer prepared for one model: it owns the per-tree tables that
/// every call reads (built on first use, then reused) and the base values.
///
/// `M` is how the explainer holds the model: `&TreeEnsemble` to borrow it, or
/// `Arc<TreeEnsemble>` to share it (for example with a Python object). Memory: the quadrature
/// tables, `17 + 8 Q` bytes per node (Q: quadrature points, `ceil(depth / 2)` rounded up to a
/// compiled count), and, once a call explains at most 8 rows, the one-row layout (a 64-byte
/// record per split and `16 Q + 8` bytes per edge); [`Self::table_bytes`] reports both.
///
/// ```
/// use ferroshap::tree_shap::path_dependent::PathDependent;
/// # use ferroshap::{EnsembleSpec, Link, RawTree, SplitRules, TreeEnsemble};
/// # let spec = EnsembleSpec { n_features: 1, n_outputs: 1, leaf_width: 1,
/// #     base_offset: vec![0.0], rules: SplitRules::LIGHTGBM, link: Link::Identity,
/// #     objective: String::new(), feature_names: None, categorical_features: vec![] };
/// # let stump = RawTree { left: vec![1, -1, -1], right: vec![2, -1, -1], feature: vec![0, 0, 0],
/// #     threshold: vec![0.5, 0.0, 0.0], default_left: vec![true; 3], zero_is_missing: vec![],
/// #     categories: vec![], categories_go_left: false, cover: vec![4.0, 1.0, 3.0],
/// #     value: vec![0.0, -1.0, 1.0], output: 0 };
/// # let model = TreeEnsemble::new(spec, vec![stump])?;
/// let explainer = PathDependent::new(&model);
/// for batch in [ndarray::array![[0.0]], ndarray::array![[1.0], [0.2]]] {
///     let explanation = explainer.shap_values(batch.view())?;
///     let margin = model.predict_margin(batch.view())?;
///     for (row, m) in margin.column(0).iter().enumerate() {
///         let total = explanation.values[[row, 0, 0]] + explanation.base_values[0];
///         assert!((total - m).abs() < 1e-12);
///     }
/// }
/// # Ok::<(), ferroshap::Error>(())
/// ```
pub struct PathDependent<M: Borrow<TreeEnsemble> = Arc<TreeEnsemble>> {
    model: M,
    /// Per tree, the quadrature tables (`None`: a path is too long for them).
    prepared: OnceLock<Option<Vec<PreparedTree>>>,
    /// Per tree, the one-row walk's layout (`None` as for `prepared`).
    packed: OnceLock<Option<Vec<PackedTree>>>,
    base_values: OnceLock<Vec<f64>>,
}

impl<M: Borrow<TreeEnsemble>> PathDependent<M> {
    /// An explainer of `model`; the tables are built on first use.
    pub fn new(model: M) -> Self {
        PathDependent {
            model,
            prepared: OnceLock::new(),
            packed: OnceLock::new(),
            base_values: OnceLock::new(),
        }
    }

    /// The model explained.
    pub fn model(&self) -> &TreeEnsemble {
        self.model.borrow()
    }

    /// The base value per output: the model's expected margin ([`TreeEnsemble::expected_value`]).
    pub fn base_values(&self) -> &[f64] {
        self.base_values
            .get_or_init(|| self.model().expected_value())
    }

    /// Path-dependent SHAP values of every row of `x`: see [`shap_values`].
    pub fn shap_values<F: Scalar>(&self, x: ArrayView2<'_, F>) -> Result<ShapValues> {
        let model = self.model();
        let prepared = self.prepared_tables()?;
        let (m, k, depth) = (model.n_features(), model.n_outputs(), model.max_depth());
        let base = self.base_values();
        if (1..=SINGLE_ROWS).contains(&x.nrows()) {
            // A few rows: one walk per row, vectorised over quadrature points.
            let packed = self.single_row_tables()?;
            run(model, x, base, || SingleRow {
                ws: RowWorkspace::new(m, k),
                packed,
                rules: model.rules(),
            })
        } else {
            run(model, x, base, || Lanes::<ROW_BLOCK> {
                ws: LaneWorkspace::new(m, k, depth),
                prepared,
                rules: model.rules(),
            })
        }
    }

    /// Path-dependent SHAP interaction values of every row of `x`: see [`interaction_values`].
    pub fn interaction_values<F: Scalar>(
        &self,
        x: ArrayView2<'_, F>,
        options: &InteractionOptions,
    ) -> Result<InteractionValues> {
        let prepared = self
            .prepared
            .get_or_init(|| build_prepared(self.model()))
            .as_deref();
        super::interactions::path_dependent::interaction_values_prepared(
            self.model(),
            x,
            options,
            prepared,
            self.base_values(),
        )
    }

    /// Bytes held by the quadrature tables (building them if they are not yet).
    pub fn table_bytes(&self) -> usize {
        self.prepared
            .get_or_init(|| build_prepared(self.model()))
            .as_ref()
            .map_or(0, |t| t.iter().map(PreparedTree::size_bytes).sum())
    }

    /// Bytes held by the layout of the trees that explaining one row at a time walks
    /// (building it if it is not yet): per split a 64-byte record, per edge `8 Q` bytes of
    /// credit weights, `8 Q` of inverse factors and 8 per leaf column.
    pub fn single_row_table_bytes(&self) -> usize {
        self.single_row_tables()
            .map_or(0, |t| t.iter().map(PackedTree::size_bytes).sum())
    }

    fn prepared_tables(&self) -> Result<&[PreparedTree]> {
        self.prepared
            .get_or_init(|| build_prepared(self.model()))
            .as_deref()
            .ok_or_else(|| {
                Error::Unsupported(format!(
                    "a tree path splits on more than {} distinct features; path-dependent Tree \
                     SHAP supports up to that many",
                    2 * quadrature::MAX_POINTS
                ))
            })
    }

    fn single_row_tables(&self) -> Result<&[PackedTree]> {
        let prepared = self.prepared_tables()?;
        let model = self.model();
        Ok(self
            .packed
            .get_or_init(|| {
                Some(
                    model
                        .trees()
                        .par_iter()
                        .zip(prepared)
                        .map(|(tree, prepared)| PackedTree::new(tree, prepared, model.n_features()))
                        .collect(),
                )
            })
            .as_deref()
            .expect("built from the quadrature tables"))
    }
}

/// The quadrature tables of every tree (`None` when a path is too long for them).
fn build_prepared(model: &TreeEnsemble) -> Option<Vec<PreparedTree>> {
    model
        .trees()
        .par_iter()
        .map(|tree| PreparedTree::new(tree, model.n_features()))
        .collect()
}

/// The same values by the classic recursion of Lundberg et al. (slower; a reference).
#[doc(hidden)] // a reference implementation for the tests and benches
pub fn shap_values_reference<F: Scalar>(
    model: &TreeEnsemble,
    x: ArrayView2<'_, F>,
) -> Result<ShapValues> {
    let base = model.expected_value();
    run(model, x, &base, || Classic {
        ws: classic::Workspace::new(model),
        rules: model.rules(),
        m: model.n_features(),
        k: model.n_outputs(),
        rows: Vec::new(),
        phi: Vec::new(),
    })
}

/// A per-thread engine that explains a block of rows one tree at a time.
trait BlockEngine {
    /// Rows per block.
    const ROWS: usize;
    /// Starts a block: `n <= ROWS` prepared rows, row-major.
    fn load(&mut self, rows: &[f64], n: usize);
    /// Adds tree `t`'s values for the block.
    fn add_tree(&mut self, t: usize, tree: &Tree);
    /// Adds the block's values to `phi` (`n x n_features x n_outputs`, row-major).
    fn store(&mut self, phi: &mut [f64]);
}

/// The quadrature pass over `R` rows in lanes.
struct Lanes<'a, const R: usize> {
    ws: LaneWorkspace<R>,
    prepared: &'a [quadrature::PreparedTree],
    rules: &'a SplitRules,
}

impl<const R: usize> BlockEngine for Lanes<'_, R> {
    const ROWS: usize = R;

    fn load(&mut self, rows: &[f64], n: usize) {
        self.ws.load(rows, n);
    }

    fn add_tree(&mut self, t: usize, tree: &Tree) {
        self.ws.add_tree(tree, &self.prepared[t], self.rules);
    }

    fn store(&mut self, phi: &mut [f64]) {
        self.ws.store(phi);
    }
}

/// The quadrature pass one row at a time, vectorised over quadrature points.
struct SingleRow<'a> {
    ws: RowWorkspace,
    packed: &'a [PackedTree],
    rules: &'a SplitRules,
}

impl BlockEngine for SingleRow<'_> {
    const ROWS: usize = 1;

    fn load(&mut self, rows: &[f64], n: usize) {
        debug_assert_eq!(n, 1);
        self.ws.load(rows);
    }

    fn add_tree(&mut self, t: usize, tree: &Tree) {
        self.ws.add_tree(tree, &self.packed[t], self.rules);
    }

    fn store(&mut self, phi: &mut [f64]) {
        self.ws.store(phi);
    }
}

/// The classic recursion, one row at a time.
struct Classic<'a> {
    ws: classic::Workspace,
    rules: &'a SplitRules,
    m: usize,
    k: usize,
    rows: Vec<f64>,
    phi: Vec<f64>,
}

impl BlockEngine for Classic<'_> {
    const ROWS: usize = ROW_BLOCK;

    fn load(&mut self, rows: &[f64], n: usize) {
        self.rows.clear();
        self.rows.extend_from_slice(rows);
        self.phi.clear();
        self.phi.resize(n * self.m * self.k, 0.0);
    }

    fn add_tree(&mut self, _t: usize, tree: &Tree) {
        let (m, row_len) = (self.m, self.m * self.k);
        if row_len == 0 {
            return;
        }
        for (row, phi) in self.rows.chunks(m.max(1)).zip(self.phi.chunks_mut(row_len)) {
            self.ws.explain_tree(tree, self.rules, row, phi, self.k);
        }
    }

    fn store(&mut self, phi: &mut [f64]) {
        for (o, v) in phi.iter_mut().zip(&self.phi) {
            *o += v;
        }
    }
}

/// Explains every block of rows with every tree; block boundaries depend only on the input
/// sizes, and each row's values are added up in tree order, so the result does not depend on
/// the number of threads.
fn run<F, E>(
    model: &TreeEnsemble,
    x: ArrayView2<'_, F>,
    base_values: &[f64],
    engine: impl Fn() -> E + Sync,
) -> Result<ShapValues>
where
    F: Scalar,
    E: BlockEngine,
{
    model.check_features(x.ncols())?;
    let (n, m, k) = (x.nrows(), model.n_features(), model.n_outputs());
    let row_len = (m * k).max(1);
    let mut values = Array3::<f64>::zeros((n, m, k));
    let out = values.as_slice_mut().expect("fresh array is contiguous");
    let trees = model.trees();
    let rows_per_block = E::ROWS;

    if n >= FEW_ROWS || trees.len() <= TREE_BLOCK {
        // Trees outer, rows inner: a tree's nodes stay in cache for the whole block of rows.
        out.par_chunks_mut(rows_per_block * row_len)
            .enumerate()
            .for_each(|(block, chunk)| {
                if crate::parallel::cancelled() {
                    return;
                }
                let rows = chunk.len() / row_len;
                let mut engine = engine();
                engine.load(&prepare_rows(model, &x, block * rows_per_block, rows), rows);
                for (t, tree) in trees.iter().enumerate() {
                    engine.add_tree(t, tree);
                }
                engine.store(chunk);
            });
    } else {
        // Few rows: every block of trees explains all rows, then blocks are added in order.
        // An engine leaves no trace of one block in the next (`store` clears it), so one
        // serves several blocks.
        let blocks: Vec<usize> = (0..trees.len().div_ceil(TREE_BLOCK)).collect();
        crate::parallel::sum_blocks_in_order(out, &blocks, &engine, |engine, &b, part| {
            let first = b * TREE_BLOCK;
            let block = &trees[first..(first + TREE_BLOCK).min(trees.len())];
            for (b, chunk) in part.chunks_mut(rows_per_block * row_len).enumerate() {
                let rows = chunk.len() / row_len;
                engine.load(&prepare_rows(model, &x, b * rows_per_block, rows), rows);
                for (t, tree) in block.iter().enumerate() {
                    engine.add_tree(first + t, tree);
                }
                engine.store(chunk);
            }
        });
    }
    crate::parallel::check_cancelled()?;
    Ok(ShapValues {
        values,
        base_values: base_values.to_vec(),
    })
}

/// Rows `start..start + n` of `x`, read as the source library reads them, row-major.
fn prepare_rows<F: Scalar>(
    model: &TreeEnsemble,
    x: &ArrayView2<'_, F>,
    start: usize,
    n: usize,
) -> Vec<f64> {
    let m = model.n_features();
    let mut buf = vec![0.0; n * m];
    if m > 0 {
        for (r, row) in buf.chunks_mut(m).enumerate() {
            model.prepare_row(x, start + r, row);
        }
    }
    buf
}
