//! SHAP interaction values (Lundberg et al. 2020, section 3.4) for path-dependent and
//! interventional Tree SHAP.
//!
//! For features i != j, the interaction value is half the Shapley interaction index,
//! `phi_ij = 1/2 sum over S within M \ {i, j} of |S|! (M-|S|-2)! / (M-1)! * D_ij v(S)`, with
//! `D_ij v(S) = v(S+i+j) - v(S+i) - v(S+j) + v(S)`, split equally between (i, j) and (j, i);
//! the diagonal is what is left of the SHAP value, `phi_ii = phi_i - sum over j != i of
//! phi_ij`. So every row of a matrix sums to the SHAP value, the matrix is symmetric, and its
//! total is the model output minus the base value. This is shap's definition (its
//! "condition on j present / absent, halve the difference").
//!
//! # Algorithm
//!
//! Both value functions are sums over leaves of *product games*: for a leaf whose path splits
//! on the distinct features U, `v_leaf(S) = value * prod over s in U of (a_s if s in S else
//! b_s)`, with (a, b) = (row satisfies s's conditions, fraction of the cover that does) for
//! path-dependent SHAP and (x satisfies, background row r satisfies) for each r in the
//! interventional game. A product game has closed-form interaction indices,
//!
//! `SII_ij = (a_i - b_i)(a_j - b_j) * integral over [0, 1] of prod over k != i, j of
//! (t a_k + (1 - t) b_k) dt`,
//!
//! and Shapley values `phi_i = (a_i - b_i) * integral of prod over k != i (...)`, polynomials
//! of degree below |U| that Gauss–Legendre quadrature with ceil(|U|/2) points integrates
//! exactly. Each leaf therefore adds a |U| x |U| block to a row's matrix. Path-dependent
//! values do not form the blocks: one depth-first walk per tree adds them up at the split
//! nodes for 16 rows at once (the `lanes` submodule), O(nodes x depth x points) per tree and
//! row; the leaf-by-leaf evaluation (`path_dependent`, O(nodes + leaves x |U|^2 x points)) is
//! kept as a reference. For interventional values the background is aggregated per leaf once
//! (as for SHAP values), so the cost grows as rows + background rows.
//!
//! # Memory
//!
//! The output has `n_rows x F x F x n_outputs` values (F = M, or the size of a requested
//! feature subset). It is checked against [`InteractionOptions::max_output_bytes`] before
//! anything is allocated; work memory beyond it is the tables of one block of trees (about
//! 16 MiB) and per-thread scratch space.

pub(super) mod interventional;
mod lanes;
pub(super) mod path_dependent;

use ndarray::{Array4, ArrayView2};
use rayon::prelude::*;

use crate::Scalar;
use crate::ensemble::{SplitRules, Tree, TreeEnsemble};
use crate::error::{Error, Result};
use crate::tree_shap::interventional::{BLOCK, Layout, Patterns, RowBlock};
use crate::tree_shap::quadrature::GaussLegendre;

/// What to compute, and how much memory the result may take.
#[derive(Debug, Clone, Default)]
pub struct InteractionOptions {
    /// Only the interactions among these features (indices into the model's features, in
    /// the order wanted): the result is the `(n_rows, F, F, n_outputs)` block of the full
    /// matrices for them. Its diagonal is still each feature's main effect in the full model,
    /// so rows sum to the SHAP values only when every feature is requested. `None`: all.
    pub features: Option<Vec<usize>>,
    /// Refuse (with [`Error::TooLarge`]) to allocate an output larger than this many bytes.
    /// `None`: no limit beyond what the allocator grants.
    pub max_output_bytes: Option<usize>,
}

/// SHAP interaction values of a batch of rows.
#[derive(Debug, Clone)]
pub struct InteractionValues {
    /// Shape `(n_rows, F, F, n_outputs)`, F the number of requested features.
    pub values: Array4<f64>,
    /// The base value per output (as for SHAP values with the same value function).
    pub base_values: Vec<f64>,
    /// The model feature of each of the F positions.
    pub features: Vec<usize>,
}

/// Trees whose tables are built at once are bounded by about this many bytes.
const BLOCK_BYTES: usize = 16 << 20;
/// Rows per unit of parallel work.
const ROW_BLOCK: usize = 16;
/// Below this many rows, work is split over groups of trees instead of rows.
const FEW_ROWS: usize = 64;
/// Trees per group when splitting over trees.
const TREES_PER_TASK: usize = 4;
/// A feature outside the requested subset.
const SKIP: u32 = u32::MAX;

/// Where each model feature goes in the output.
pub(super) struct Target {
    /// Per model feature: its position among the requested features, or [`SKIP`].
    pos: Vec<u32>,
    /// Number of requested features.
    f: usize,
    /// Number of outputs.
    k: usize,
}

impl Target {
    fn new(model: &TreeEnsemble, features: Option<&[usize]>) -> Result<(Target, Vec<usize>)> {
        let m = model.n_features();
        let features: Vec<usize> = match features {
            None => (0..m).collect(),
            Some(list) => {
                if list.is_empty() {
                    return Err(Error::Parameter(
                        "features is empty: request at least one feature".into(),
                    ));
                }
                list.to_vec()
            }
        };
        let mut pos = vec![SKIP; m];
        for (p, &f) in features.iter().enumerate() {
            if f >= m {
                return Err(Error::Parameter(format!(
                    "feature index {f} is out of range: the model has {m} features (0..{m})"
                )));
            }
            if pos[f] != SKIP {
                return Err(Error::Parameter(format!(
                    "feature index {f} is requested twice"
                )));
            }
            pos[f] = p as u32;
        }
        let target = Target {
            pos,
            f: features.len(),
            k: model.n_outputs(),
        };
        Ok((target, features))
    }

    /// Values per explained row.
    fn row_len(&self) -> usize {
        self.f * self.f * self.k
    }

    /// Whether any of `features` is requested.
    #[inline]
    fn wants_any(&self, features: &[u32]) -> bool {
        features.iter().any(|&f| self.pos[f as usize] != SKIP)
    }

    /// Adds one leaf's block to one row's matrices: `g` is `d x d` (row-major), the
    /// coefficients per unit of leaf value, for the leaf's distinct path features.
    #[inline]
    fn scatter(&self, out: &mut [f64], features: &[u32], g: &[f64], value: &[f64], output: usize) {
        let d = features.len();
        let (f, k) = (self.f, self.k);
        for (i, &fi) in features.iter().enumerate() {
            let pi = self.pos[fi as usize];
            if pi == SKIP {
                continue;
            }
            let row = &mut out[pi as usize * f * k..(pi as usize + 1) * f * k];
            let gi = &g[i * d..(i + 1) * d];
            if let [v] = value {
                for (&fj, &c) in features.iter().zip(gi) {
                    let pj = self.pos[fj as usize];
                    if pj != SKIP {
                        row[pj as usize * k + output] += c * v;
                    }
                }
            } else {
                for (&fj, &c) in features.iter().zip(gi) {
                    let pj = self.pos[fj as usize];
                    if pj != SKIP {
                        let base = pj as usize * k + output;
                        for (o, v) in row[base..base + value.len()].iter_mut().zip(value) {
                            *o += c * v;
                        }
                    }
                }
            }
        }
    }
}

/// Allocates the zeroed output after checking its size against the limit.
fn allocate(n: usize, target: &Target, max_bytes: Option<usize>) -> Result<Array4<f64>> {
    let (f, k) = (target.f, target.k);
    let count = n
        .checked_mul(f)
        .and_then(|c| c.checked_mul(f))
        .and_then(|c| c.checked_mul(k));
    let bytes = count.and_then(|c| c.checked_mul(8));
    let too_large = |bytes: Option<usize>, why: &str| {
        let size = match bytes {
            Some(b) => format_bytes(b),
            None => "more than the address space".into(),
        };
        Error::TooLarge(format!(
            "SHAP interaction values of {n} rows x {f} x {f} features x {k} outputs take {size} \
             ({why}); explain fewer rows at a time, or request the interactions of a subset of \
             features of interest (features=...)"
        ))
    };
    let Some(bytes) = bytes else {
        return Err(too_large(None, "cannot be allocated"));
    };
    if let Some(limit) = max_bytes
        && bytes > limit
    {
        return Err(too_large(
            Some(bytes),
            &format!("the limit is {}", format_bytes(limit)),
        ));
    }
    let count = bytes / 8;
    let mut data: Vec<f64> = Vec::new();
    data.try_reserve_exact(count)
        .map_err(|_| too_large(Some(bytes), "the allocation failed"))?;
    data.resize(count, 0.0);
    Ok(Array4::from_shape_vec((n, f, f, k), data).expect("length matches the shape"))
}

fn format_bytes(bytes: usize) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut size = bytes as f64 / 1024.0;
    let mut unit = 0;
    while size >= 1024.0 && unit + 1 < UNITS.len() {
        size /= 1024.0;
        unit += 1;
    }
    format!("{size:.1} {}", UNITS[unit])
}

/// One value function's per-tree work.
pub(super) trait Kernel: Sync {
    /// What a tree needs, built once per call (in parallel over a block of trees).
    type Table: Send + Sync;
    /// Upper bound of a table's bytes, from the model alone (so blocks never depend on
    /// threads or data).
    fn table_bytes(&self, t: usize) -> usize;
    fn table(&self, t: usize) -> Self::Table;
    /// Adds tree `t`'s contribution for `n` prepared rows (`rows`, row-major) to their
    /// output (`out`, [`Target::row_len`] values per row).
    fn explain(
        &self,
        t: usize,
        table: &Self::Table,
        rows: &[f64],
        n: usize,
        out: &mut [f64],
        ws: &mut Workspace,
    );
}

/// Per-thread scratch space shared by both kernels.
#[derive(Default)]
pub(super) struct Workspace {
    /// Per node: the patterns of a block of rows (see the interventional module's
    /// `Layout::block_patterns`), and the rows, column-major.
    pub(super) pat: Vec<Patterns>,
    rows: Option<RowBlock>,
    /// Per leaf x row: the leaf's pattern.
    pub(super) leaf_pats: Vec<u64>,
    /// A leaf's block, d x d.
    pub(super) g: Vec<f64>,
    /// Per slot x quadrature point.
    pub(super) h: Vec<f64>,
    /// Per quadrature point.
    pub(super) p: Vec<f64>,
    /// Per slot.
    pub(super) phi: Vec<f64>,
    /// The path-dependent walk's lanes: 16 rows, or one (a single row wastes no padding).
    pairs: Option<Box<lanes::PairLanes<ROW_BLOCK>>>,
    pairs_one: Option<Box<lanes::PairLanes<1>>>,
}

impl Workspace {
    /// Fills `leaf_pats` (leaf x row) with each of the first `n` rows' pattern at every leaf
    /// of `tree` (`rows`: prepared, row-major, `m` values each).
    pub(super) fn load_leaf_patterns(
        &mut self,
        layout: &Layout,
        tree: &Tree,
        rules: &SplitRules,
        rows: &[f64],
        n: usize,
        m: usize,
    ) {
        debug_assert!(n <= BLOCK);
        let block = self.rows.get_or_insert_with(|| RowBlock::new(m));
        block.load_prepared(rows, m, n);
        self.pat.resize(tree.n_nodes(), [0; BLOCK]);
        layout.block_patterns(tree, rules, block, &mut self.pat);
        self.leaf_pats.resize(n * layout.leaves.len(), 0);
        for (pats, leaf) in self.leaf_pats.chunks_mut(n.max(1)).zip(&layout.leaves) {
            for (p, &q) in pats.iter_mut().zip(&self.pat[leaf.node as usize]) {
                *p = q & leaf.mask();
            }
        }
    }
}

/// Runs a kernel over every tree and row. Each row's matrices receive the trees in model
/// order, whatever the number of threads; only the split into row blocks or tree groups
/// (fixed by the input sizes) decides the summation order.
fn run<F: Scalar, K: Kernel>(
    model: &TreeEnsemble,
    x: ArrayView2<'_, F>,
    kernel: &K,
    target: &Target,
    values: &mut Array4<f64>,
) {
    let (n, m) = (x.nrows(), model.n_features());
    let row_len = target.row_len();
    if n == 0 || row_len == 0 {
        return;
    }
    let mut rows = vec![0.0; n * m];
    rows.par_chunks_mut(m.max(1))
        .enumerate()
        .for_each(|(i, row)| model.prepare_row(&x, i, row));
    let out = values.as_slice_mut().expect("fresh array is contiguous");
    let n_trees = model.trees().len();

    let mut start = 0;
    while start < n_trees && !crate::parallel::cancelled() {
        // A block of trees whose tables fit in BLOCK_BYTES.
        let mut end = start;
        let mut bytes = 0usize;
        while end < n_trees && (end == start || bytes + kernel.table_bytes(end) <= BLOCK_BYTES) {
            bytes += kernel.table_bytes(end);
            end += 1;
        }
        let tables: Vec<K::Table> = (start..end)
            .into_par_iter()
            .map(|t| kernel.table(t))
            .collect();
        if n >= FEW_ROWS {
            out.par_chunks_mut(ROW_BLOCK * row_len)
                .enumerate()
                .for_each(|(b, chunk)| {
                    if crate::parallel::cancelled() {
                        return;
                    }
                    let r = chunk.len() / row_len;
                    let rows = &rows[b * ROW_BLOCK * m..][..r * m];
                    let mut ws = Workspace::default();
                    for (t, table) in (start..end).zip(&tables) {
                        kernel.explain(t, table, rows, r, chunk, &mut ws);
                    }
                });
        } else {
            let groups: Vec<usize> = (start..end).step_by(TREES_PER_TASK).collect();
            crate::parallel::sum_blocks_in_order(
                out,
                &groups,
                Workspace::default,
                |ws, &s, part| {
                    for t in s..(s + TREES_PER_TASK).min(end) {
                        kernel.explain(t, &tables[t - start], &rows, n, part, ws);
                    }
                },
            );
        }
        start = end;
    }
}

/// Gauss–Legendre rules with 1..=32 points (enough for paths of 64 distinct features).
pub(super) fn rules() -> Vec<GaussLegendre> {
    (1..=32).map(GaussLegendre::new).collect()
}

/// Quadrature points that integrate the per-leaf polynomials (degree < d) exactly.
#[inline]
pub(super) fn points(d: usize) -> usize {
    d.div_ceil(2).max(1)
}

/// Completes a leaf's block: `g` holds the pair coefficients above the diagonal (row-major,
/// d x d) and `phi` the leaf's Shapley values; mirrors them and sets the diagonal to what is
/// left of each Shapley value.
#[inline]
pub(super) fn finish_block(g: &mut [f64], phi: &[f64], d: usize) {
    for i in 0..d {
        let mut rest = 0.0;
        for j in 0..d {
            if j < i {
                g[i * d + j] = g[j * d + i];
            }
            if j != i {
                rest += g[i * d + j];
            }
        }
        g[i * d + i] = phi[i] - rest;
    }
}

/// Checks shared by both value functions; returns the output target and the zeroed output.
fn prepare<F: Scalar>(
    model: &TreeEnsemble,
    x: &ArrayView2<'_, F>,
    options: &InteractionOptions,
) -> Result<(Target, Vec<usize>, Array4<f64>)> {
    model.check_features(x.ncols())?;
    let (target, features) = Target::new(model, options.features.as_deref())?;
    let values = allocate(x.nrows(), &target, options.max_output_bytes)?;
    Ok((target, features, values))
}
