//! The tables [`Interventional`](super::Interventional) keeps to explain one row at a time:
//! per leaf, the distinct failure sets of the background with their weights, laid out so that
//! a row tests a leaf's sets many at a time.
//!
//! One row reaches (through some hybrid row) most leaves of a tree, but admits only a few of
//! each leaf's failure sets (those within its pattern: about one in eight for 500 trees of
//! depth 8 and 100 background rows). Testing the sets one by one, with a branch each, is what
//! one-row calls spent their time on; here the sets of a narrow path are 16-bit codes, tested
//! 8 at a time into a bit mask (one vector comparison), and only the admitted ones are read
//! with their weights (4 bytes an entry: the set's code and the index of its weight among
//! the tree's few distinct weights). The values are those of the sparse tables
//! ([`Tables`](super::tables::Tables)) for one row, bit for bit: the same sets, admitted in
//! the same order, by the same arithmetic.

use super::blocks::LeafWeights;
use super::tables::{Constants, LeafSums, NARROW_SLOTS, add_leaf, sparse_coefficients};
use super::{Background, Layout, MAX_PATH_FEATURES};
use crate::ensemble::Tree;

/// Paths with at most this many distinct features keep their failure sets as 16-bit codes:
/// then [`PAD`] has a bit beyond the path, so no pattern admits it.
const NARROW_MAX: usize = 15;
/// Entries tested at once; a leaf's entries are padded to a multiple of it.
const LANES: usize = 8;
/// The entry that pads a leaf's entries to a multiple of [`LANES`]: a code no pattern admits.
const PAD: u32 = u16::MAX as u32;
/// A tree's distinct weights are kept once each when there are at most this many (an
/// unweighted background of n rows has at most n).
const PALETTE_MAX: usize = 1 << 16;

/// One leaf with what a row needs to explain it, in one place.
struct LeafEntries {
    /// The leaf's node.
    node: u32,
    /// Number of distinct features on its path.
    d: u32,
    /// Start of its path features in the layout's `features`.
    features: u32,
    /// Number of its entries (narrow leaves: padded to a multiple of [`LANES`]).
    len: u32,
    /// Start of its entries (narrow: in `OneRowTables::entries`, else in `wide`).
    start: usize,
}

/// One tree's background aggregated for explaining one row: every leaf with a path feature
/// and a background row (in layout order), with its distinct failure sets ascending and their
/// weights as fractions of the background's total.
pub(super) struct OneRowTables {
    leaves: Vec<LeafEntries>,
    /// Narrow leaves' entries: the failure set's code in the low 16 bits, the index of its
    /// weight in `palette` in the high 16 bits; each leaf's padded with [`PAD`].
    entries: Vec<u32>,
    /// The tree's distinct weights (so that an entry takes 4 bytes: a row's scan of every
    /// leaf then streams through memory a quarter of what (set, weight) pairs take).
    palette: Vec<f64>,
    /// Failure sets with their weights of the leaves with more than [`NARROW_MAX`] path
    /// features, and of every leaf when the tree has more distinct weights than
    /// [`PALETTE_MAX`] (then `palette` is empty).
    wide: Vec<(u64, f64)>,
}

impl OneRowTables {
    /// The tables of a tree with layout `layout` from its aggregated background `weights`.
    pub(super) fn new(layout: &Layout, mut weights: LeafWeights, bg: &Background) -> Self {
        let inv_total = 1.0 / bg.total;
        // Every leaf's (set, weight) list, one after another, with the leaf and its range.
        let (mut all, mut lists) = (Vec::new(), Vec::with_capacity(layout.leaves.len()));
        for (i, leaf) in layout.leaves.iter().enumerate() {
            let d = leaf.d as usize;
            if d == 0 {
                continue; // a leaf at the root: nothing to attribute
            }
            let start = all.len();
            weights.take(i, d).extend_scaled(&mut all, inv_total);
            if all.len() > start {
                lists.push((leaf, start..all.len())); // else no hybrid row reaches the leaf
            }
        }
        // The distinct weights of the narrow leaves, by their bits: the values read back are
        // the weights themselves.
        let mut palette: Vec<u64> = lists
            .iter()
            .filter(|(leaf, _)| leaf.d as usize <= NARROW_MAX)
            .flat_map(|(_, range)| all[range.clone()].iter().map(|e| e.1.to_bits()))
            .collect();
        palette.sort_unstable();
        palette.dedup();
        if palette.len() > PALETTE_MAX {
            palette = Vec::new();
        }
        let mut tables = OneRowTables {
            leaves: Vec::with_capacity(lists.len()),
            entries: Vec::new(),
            wide: Vec::new(),
            palette: palette.iter().map(|&bits| f64::from_bits(bits)).collect(),
        };
        for (leaf, range) in lists {
            let list = &all[range];
            let (start, len) = if leaf.d as usize <= NARROW_MAX && !palette.is_empty() {
                let start = tables.entries.len();
                let code = |&(u, w): &(u64, f64)| {
                    let index = palette.binary_search(&w.to_bits()).expect("in the palette");
                    u as u32 | (index as u32) << 16
                };
                tables.entries.extend(list.iter().map(code));
                let len = list.len().next_multiple_of(LANES);
                tables.entries.resize(start + len, PAD);
                (start, len)
            } else {
                tables.wide.extend_from_slice(list);
                (tables.wide.len() - list.len(), list.len())
            };
            tables.leaves.push(LeafEntries {
                node: leaf.node,
                d: leaf.d,
                features: leaf.features,
                len: u32::try_from(len).expect("at most one entry per background row"),
                start,
            });
        }
        tables
    }

    /// Bytes held by the tables.
    pub(super) fn size_bytes(&self) -> usize {
        std::mem::size_of_val(self.leaves.as_slice())
            + std::mem::size_of_val(self.entries.as_slice())
            + std::mem::size_of_val(self.palette.as_slice())
            + std::mem::size_of_val(self.wide.as_slice())
    }

    /// Adds the tree's contribution to the SHAP values `phi` (`k` outputs per feature) of one
    /// row whose pattern at every node is `pat` ([`Layout::row_patterns`]), leaf by leaf in
    /// layout order.
    #[inline(always)]
    pub(super) fn explain(
        &self,
        tree: &Tree,
        layout: &Layout,
        pat: &[u64],
        phi: &mut [f64],
        k: usize,
        consts: &Constants,
    ) {
        let mut coef = [0.0f64; MAX_PATH_FEATURES];
        for leaf in &self.leaves {
            let d = leaf.d as usize;
            let c = pat[leaf.node as usize] & (u64::MAX >> (MAX_PATH_FEATURES - d));
            let range = leaf.start..leaf.start + leaf.len as usize;
            let coef = &mut coef[..d];
            if d <= NARROW_MAX && !self.palette.is_empty() {
                if !narrow_coefficients(&self.entries[range], &self.palette, c, d, consts, coef) {
                    continue; // no hybrid row of the row reaches the leaf
                }
            } else if !sparse_coefficients(&self.wide[range], c, d, consts, coef) {
                continue;
            }
            let features = &layout.features[leaf.features as usize..][..d];
            let value = tree.leaf_value(leaf.node as usize);
            add_leaf(phi, features, coef, value, k, tree.output());
        }
    }
}

/// The signed weights of a narrow leaf (`d <= NARROW_MAX`) with entries `entries` for the
/// row pattern `c`, as [`sparse_coefficients`] gives them from the same sets and weights:
/// `false` (and `coef` untouched) when c admits no entry.
#[inline(always)]
fn narrow_coefficients(
    entries: &[u32],
    palette: &[f64],
    c: u64,
    d: usize,
    consts: &Constants,
    coef: &mut [f64],
) -> bool {
    let not_c = !(c as u32) & 0xFFFF;
    let mut start = 0;
    let mask = loop {
        if start >= entries.len() {
            return false;
        }
        let mask = block_mask(&entries[start..], not_c);
        if mask != 0 {
            break mask;
        }
        start += BLOCK;
    };
    let admitted = Admitted {
        entries,
        palette,
        not_c,
        start,
        mask,
    };
    if d <= NARROW_SLOTS / 2 {
        sum_admitted::<{ NARROW_SLOTS / 2 }>(admitted, c, d, consts, coef);
    } else {
        sum_admitted::<NARROW_SLOTS>(admitted, c, d, consts, coef);
    }
    true
}

/// Entries tested per mask.
const BLOCK: usize = 64;

/// The admitted entries of a narrow leaf from the block at `start` on, whose admitted entries
/// not yet summed are the bits of `mask`.
struct Admitted<'a> {
    entries: &'a [u32],
    palette: &'a [f64],
    not_c: u32,
    start: usize,
    mask: u64,
}

/// [`LeafSums`] of the admitted entries, in order, into `coef`.
#[inline(always)]
fn sum_admitted<const N: usize>(
    mut admitted: Admitted<'_>,
    c: u64,
    d: usize,
    consts: &Constants,
    coef: &mut [f64],
) {
    let mut sums = LeafSums::<N>::new(consts, c, d);
    loop {
        let block = &admitted.entries[admitted.start..];
        while admitted.mask != 0 {
            let e = block[admitted.mask.trailing_zeros() as usize];
            admitted.mask &= admitted.mask - 1;
            sums.add_narrow(u64::from(e & 0xFFFF), admitted.palette[(e >> 16) as usize]);
        }
        admitted.start += BLOCK;
        if admitted.start >= admitted.entries.len() {
            break;
        }
        admitted.mask = block_mask(&admitted.entries[admitted.start..], admitted.not_c);
    }
    sums.finish(c, d, coef);
}

/// Bit i set when entry i of the first [`BLOCK`] of `entries` (or all, when fewer) is
/// admitted by the pattern whose complement is `not_c`.
#[inline(always)]
fn block_mask(entries: &[u32], not_c: u32) -> u64 {
    let mut mask = 0u64;
    for (j, chunk) in entries.chunks_exact(LANES).take(BLOCK / LANES).enumerate() {
        mask |= u64::from(admitted_mask(chunk, not_c)) << (j * LANES);
    }
    mask
}

/// Bit i set when entry i of `chunk` ([`LANES`] entries) has a code within the pattern whose
/// complement is `not_c`.
#[inline(always)]
fn admitted_mask(chunk: &[u32], not_c: u32) -> u32 {
    crate::simd::zero_lanes(chunk.try_into().expect("a chunk is LANES entries"), not_c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mask_marks_the_codes_within_the_pattern() {
        // Every 3-bit pattern against every 3-bit code but one, then the padding; the high
        // 16 bits (a palette index) never matter.
        let chunk: Vec<u32> = (0..LANES as u32)
            .map(|u| if u < 7 { u | (u + 3) << 16 } else { PAD })
            .collect();
        for c in 0u64..8 {
            let mask = admitted_mask(&chunk, !(c as u32) & 0xFFFF);
            for (i, &e) in chunk.iter().enumerate() {
                let want = e != PAD && u64::from(e & 0xFFFF) & !c == 0;
                assert_eq!(mask >> i & 1 == 1, want, "pattern {c:b}, entry {e:x}");
            }
        }
        // A path of NARROW_MAX features satisfied everywhere still refuses the padding.
        let all = (1u32 << NARROW_MAX) - 1;
        assert_eq!(admitted_mask(&[PAD; LANES], !all & 0xFFFF), 0);
    }

    #[test]
    fn narrow_coefficients_are_the_sparse_ones_bit_for_bit() {
        // Random lists of failure sets (more than 64 entries, so several blocks) against the
        // (set, weight) pairs the sparse tables keep, for every pattern of a 6-feature path.
        let consts = Constants::get();
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let d = 6;
        for len in [1usize, 7, 8, 9, 64, 70, 130] {
            let palette: Vec<f64> = (1..=5).map(|i| i as f64 / 37.0).collect();
            let mut entries: Vec<u32> = (0..len)
                .map(|_| {
                    let u = next() & next() & 0x3F;
                    u as u32 | ((next() % 5) as u32) << 16
                })
                .collect();
            let list: Vec<(u64, f64)> = entries
                .iter()
                .map(|&e| (u64::from(e & 0xFFFF), palette[(e >> 16) as usize]))
                .collect();
            entries.resize(len.next_multiple_of(LANES), PAD);
            for c in 0..1u64 << d {
                let (mut got, mut want) = ([7.0; 6], [7.0; 6]);
                let admits = narrow_coefficients(&entries, &palette, c, d, consts, &mut got);
                let reached = sparse_coefficients(&list, c, d, consts, &mut want);
                assert_eq!(admits, reached, "len {len}, pattern {c:b}");
                let bits = |v: [f64; 6]| v.map(f64::to_bits);
                assert_eq!(bits(got), bits(want), "len {len}, pattern {c:b}");
            }
        }
    }
}
