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

use crate::ensemble::{OutputTransform, TreeEnsemble};
use crate::tree_shap::pair_walk::{PairWalk, Players, add_leaf_terms, subset_sums};

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
    /// Feature → position among the varying features, `u32::MAX` when it does not vary.
    pub position: &'a [u32],
    pub n_varying: usize,
    pub coalitions: &'a [u64],
}

/// The varying features as the players of the pair walk: fixed, one bit each.
struct Varying<'a>(&'a [u32]);

impl Players for Varying<'_> {
    const FIXED: bool = true;
    type Error = std::convert::Infallible;

    #[inline]
    fn mask(&self, feature: usize) -> u64 {
        match self.0[feature] {
            u32::MAX => 0,
            pos => 1u64 << pos,
        }
    }

    fn assign(&mut self, _feature: usize) -> Result<u64, Self::Error> {
        unreachable!("every varying feature has its bit")
    }
}

/// Scratch space reused across pairs.
#[derive(Default)]
pub(crate) struct Scratch {
    walk: PairWalk,
    table: Vec<f64>,
    co_table: Vec<f64>,
    lut: Vec<u32>,
    margin: Vec<f64>,
    out: Vec<f64>,
}

impl RowGame<'_> {
    /// Adds `w_b · f(x_S, r_b)` for every coalition to `ey` (`n_coalitions × n_outputs`),
    /// for the prepared background rows `background` (row-major) with weights `weights`.
    pub fn accumulate(
        &self,
        background: &[f64],
        weights: &[f64],
        ey: &mut [f64],
        scratch: &mut Scratch,
    ) {
        let p = self.ensemble.n_features();
        if self.output.is_margin() && self.row_table_pays(background.len() / p.max(1)) {
            self.accumulate_linear(background, weights, ey, scratch);
            return;
        }
        for (r, &w) in background.chunks_exact(p).zip(weights) {
            let constant = self.collect_leaves(r, scratch);
            self.add_pair(&constant, w, ey, scratch);
        }
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

    /// Walks every tree with `x` and `r`, leaving the conditioned leaves in `scratch.walk.leaves`
    /// and returning the margin part every coalition shares (base offset included).
    fn collect_leaves(&self, r: &[f64], scratch: &mut Scratch) -> Vec<f64> {
        let mut constant = self.ensemble.base_offset().to_vec();
        let walked = scratch.walk.walk(
            self.ensemble,
            self.x,
            r,
            &mut Varying(self.position),
            &mut constant,
        );
        let Ok(()) = walked;
        constant
    }

    /// One pair's outputs for every coalition, weighted by `w`, added into `ey`.
    fn add_pair(&self, constant: &[f64], w: f64, ey: &mut [f64], scratch: &mut Scratch) {
        let ens = self.ensemble;
        let k = ens.n_outputs();
        let ko = self.output.n_outputs(k);
        let parting = scratch
            .walk
            .leaves
            .iter()
            .fold(0u64, |acc, l| acc | l.a | l.b);
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
                    && ((d as usize + 1) << d) * k + 4 * n_coal
                        <= 4 * n_coal * scratch.walk.leaves.len().max(1)
            }
        };
        scratch.margin.resize(k, 0.0);
        scratch.out.resize(ko, 0.0);
        if use_table {
            self.fill_pair_tables(parting, d, scratch);
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
                for leaf in &scratch.walk.leaves {
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
    fn fill_pair_tables(&self, parting: u64, d: u32, scratch: &mut Scratch) {
        let k = self.ensemble.n_outputs();
        let size = 1usize << d;
        scratch.table.clear();
        scratch.table.resize(size * k, 0.0);
        scratch.co_table.clear();
        let needs_co = scratch
            .walk
            .leaves
            .iter()
            .any(|l| (l.a & parting).count_ones() < (l.b & parting).count_ones());
        if needs_co {
            scratch.co_table.resize(size * k, 0.0);
        }
        for leaf in &scratch.walk.leaves {
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
    fn accumulate_linear(
        &self,
        background: &[f64],
        weights: &[f64],
        ey: &mut [f64],
        scratch: &mut Scratch,
    ) {
        let p = self.ensemble.n_features();
        let k = self.ensemble.n_outputs();
        let m = self.n_varying as u32;
        let size = 1usize << m;
        let mut table = std::mem::take(&mut scratch.table);
        let mut co_table = std::mem::take(&mut scratch.co_table);
        table.clear();
        table.resize(size * k, 0.0);
        co_table.clear();
        co_table.resize(size * k, 0.0);
        let mut constant = vec![0.0; k];
        let mut used_co = false;
        for (r, &w) in background.chunks_exact(p).zip(weights) {
            for (c, v) in constant.iter_mut().zip(self.collect_leaves(r, scratch)) {
                *c += w * v;
            }
            for leaf in &scratch.walk.leaves {
                let tree = leaf.tree(self.ensemble);
                used_co |= add_leaf_terms(
                    &mut table,
                    &mut co_table,
                    (leaf.a, leaf.b),
                    tree.leaf_value(leaf.node as usize),
                    tree.output(),
                    k,
                    w,
                );
            }
        }
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

    #[test]
    fn pext_packs_the_masked_bits() {
        assert_eq!(pext(0b1011_0110, 0b1111_0000), 0b1011);
        assert_eq!(pext(0b1011_0110, 0b0101_0101), 0b0110);
        assert_eq!(pext(u64::MAX, 0b1001), 0b11);
    }
}
