//! The game of one explained row `x` against one background row `r`, tabulated exactly.
//!
//! A hybrid row takes the features in a coalition `S` from `x` and the others from `r`. At a
//! split where `x` and `r` go the same way, every hybrid goes that way too; where they part,
//! the hybrid follows `x` iff the split's feature is in `S`. Walking each tree once with both
//! rows, branching only where they part, therefore finds every leaf a hybrid can reach, each
//! with a condition "the features in `A` are in `S`, those in `B` are not". Leaves reached
//! without a condition add to every hybrid. Only the *parting features* `D` (the features of
//! the splits where the pair parts on the way) matter: features outside `D` are dummies of the
//! pair's game.
//!
//! The pair's margin, as a function of `S ∩ D`, is tabulated over all `2^|D|` subsets: each
//! conditioned leaf adds its inclusion–exclusion terms,
//! `[A ⊆ S, B ∩ S = ∅] = Σ_{C ⊆ B} (−1)^|C| [A ∪ C ⊆ S]` (or the same over the complement of
//! `S` with the roles of `A` and `B` swapped, whichever has fewer terms), and one subset-sum
//! (zeta) transform per table turns the terms into margins: `O(Σ_leaves 2^min(|A|,|B|) +
//! |D| 2^|D|)` per pair and output. Any function of the margins (a probability, a loss) can
//! then be evaluated subset by subset, and [`shapley_values`] turns such a table into the
//! pair's exact Shapley values in `O(|D| 2^|D|)`.
//!
//! The table is exponential in `|D|`, so [`PairGame::tabulate`] refuses pairs with more than a
//! caller-chosen number of parting features (at most [`MAX_PAIR_FEATURES`]).
//!
//! Rows are routed by [`Tree::next`](crate::Tree::next) on rows prepared by
//! [`SplitRules::prepare`](crate::SplitRules::prepare), so missing values, categorical splits
//! and input precision follow the source library exactly.

pub use super::pair_walk::subset_sums;
use super::pair_walk::{PairWalk, Players, add_leaf_terms};
use crate::ensemble::TreeEnsemble;

/// The largest number of parting features a pair may have: its table holds `2^24` margins per
/// output (128 MiB each), per thread.
pub const MAX_PAIR_FEATURES: usize = 24;

/// One pair's game: reusable buffers, and after [`PairGame::tabulate`] the parting features
/// and the margin of every coalition of them.
#[derive(Debug, Default)]
pub struct PairGame {
    parting: Parting,
    walk: PairWalk,
    table: Vec<f64>,
    co_table: Vec<f64>,
    n_outputs: usize,
}

/// The parting features of a pair, numbered as the walk first parts on them.
#[derive(Debug, Default)]
struct Parting {
    /// Feature → its bit among the parting features, `u32::MAX` when it is not one.
    bit_of: Vec<u32>,
    /// Bit → feature.
    features: Vec<u32>,
    limit: usize,
}

impl Players for Parting {
    const FIXED: bool = false;
    type Error = TooManyPartingFeatures;

    #[inline]
    fn mask(&self, feature: usize) -> u64 {
        match self.bit_of[feature] {
            u32::MAX => 0,
            bit => 1u64 << bit,
        }
    }

    fn assign(&mut self, feature: usize) -> Result<u64, TooManyPartingFeatures> {
        if self.features.len() == self.limit {
            return Err(TooManyPartingFeatures { limit: self.limit });
        }
        self.bit_of[feature] = self.features.len() as u32;
        self.features.push(feature as u32);
        Ok(1u64 << (self.features.len() - 1))
    }
}

/// A pair parts on more features than the caller allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyPartingFeatures {
    /// The limit that was exceeded.
    pub limit: usize,
}

impl PairGame {
    /// An empty game for `model` (buffers grow on first use).
    pub fn new(model: &TreeEnsemble) -> PairGame {
        PairGame {
            parting: Parting {
                bit_of: vec![u32::MAX; model.n_features()],
                ..Parting::default()
            },
            n_outputs: model.n_outputs(),
            ..PairGame::default()
        }
    }

    /// The parting features of the last tabulated pair, bit `i` of a coalition being
    /// `features()[i]`.
    pub fn features(&self) -> &[u32] {
        &self.parting.features
    }

    /// The margins of the last tabulated pair: `n_outputs` values for each of the `2^|D|`
    /// coalitions, coalition `s` (a bitmask over [`PairGame::features`]) at
    /// `[s * n_outputs, (s + 1) * n_outputs)`. The base offset is included, so entry 0 is the
    /// model's margin at `r` and the last entry its margin at `x`.
    pub fn margins(&self) -> &[f64] {
        &self.table
    }

    /// Walks every tree with the prepared rows `x` and `r` and tabulates the pair's margin
    /// over the subsets of its parting features. Fails, leaving the game unusable until the
    /// next call, when the pair parts on more than `max_features` features (clamped to
    /// [`MAX_PAIR_FEATURES`]).
    pub fn tabulate(
        &mut self,
        model: &TreeEnsemble,
        x: &[f64],
        r: &[f64],
        max_features: usize,
    ) -> Result<(), TooManyPartingFeatures> {
        let parting = &mut self.parting;
        parting.limit = max_features.min(MAX_PAIR_FEATURES);
        for &f in &parting.features {
            parting.bit_of[f as usize] = u32::MAX;
        }
        parting.features.clear();
        let k = self.n_outputs;
        let mut constant = model.base_offset().to_vec();
        self.walk.walk(model, x, r, parting, &mut constant)?;
        self.fill_tables(model, k);
        let d = self.parting.features.len();
        let full = (1usize << d) - 1;
        let has_co = !self.co_table.is_empty();
        for s in 0..=full {
            let row = &mut self.table[s * k..(s + 1) * k];
            for (o, (t, c)) in row.iter_mut().zip(&constant).enumerate() {
                *t += c;
                if has_co {
                    *t += self.co_table[(full ^ s) * k + o];
                }
            }
        }
        Ok(())
    }

    /// Inclusion–exclusion terms of every conditioned leaf, then subset sums: afterwards
    /// `table[s] + co_table[D ∖ s]` is the conditioned leaves' margin for coalition `s`.
    fn fill_tables(&mut self, model: &TreeEnsemble, k: usize) {
        let d = self.parting.features.len() as u32;
        let size = 1usize << d;
        let leaves = &self.walk.leaves;
        self.table.clear();
        self.table.resize(size * k, 0.0);
        self.co_table.clear();
        if leaves.iter().any(|l| l.b.count_ones() > l.a.count_ones()) {
            self.co_table.resize(size * k, 0.0);
        }
        for leaf in leaves {
            let tree = leaf.tree(model);
            add_leaf_terms(
                &mut self.table,
                &mut self.co_table,
                (leaf.a, leaf.b),
                tree.leaf_value(leaf.node as usize),
                tree.output(),
                k,
                1.0,
            );
        }
        subset_sums(&mut self.table, d, k);
        if !self.co_table.is_empty() {
            subset_sums(&mut self.co_table, d, k);
        }
    }
}

/// Shapley values of a game on `d` players given by its value on every coalition:
/// `values[s * k + o]` is output `o` of coalition `s` (a bitmask). Adds `scale * phi[i][o]`
/// to `out[i * k + o]`, with `phi_i = Σ_{s ∌ i} |s|! (d − 1 − |s|)! / d! · (v(s ∪ i) − v(s))`.
/// `O(d 2^d k)`; `values` is overwritten (scratch).
///
/// With `w(c) = c! (d − 1 − c)! / d!` (and `w(−1) = w(d) = 0`), the sum regroups as
/// `phi_i = Σ_{s ∋ i} u(s) − Σ_s w(|s|) v(s)` with `u(s) = (w(|s| − 1) + w(|s|)) v(s)`: one
/// weighting pass, then per player a plain sum over the contiguous halves of the table that
/// hold it, without a branch per subset. The values are taken relative to `v(∅)` (the
/// Shapley values do not change) so that the sums do not cancel large numbers.
pub fn shapley_values(values: &mut [f64], d: usize, k: usize, scale: f64, out: &mut [f64]) {
    if d == 0 {
        return;
    }
    let size = 1usize << d;
    // w[c] = c! (d-1-c)! / d!, built by ratios to stay exact to rounding for any d.
    let mut w = vec![0.0; d + 1];
    w[0] = 1.0 / d as f64;
    for c in 1..d {
        w[c] = w[c - 1] * c as f64 / (d - c) as f64;
    }
    let empty: Vec<f64> = values[..k].to_vec();
    let mut total = vec![0.0; k];
    for (s, entry) in values[..size * k].chunks_exact_mut(k).enumerate() {
        let c = s.count_ones() as usize;
        let (before, at) = (if c > 0 { w[c - 1] } else { 0.0 }, w[c]);
        for ((v, e), t) in entry.iter_mut().zip(&empty).zip(total.iter_mut()) {
            let centred = *v - e;
            *t += at * centred;
            *v = (before + at) * centred;
        }
    }
    let mut sums = vec![0.0; k];
    for i in 0..d {
        let half = (1usize << i) * k;
        sums.fill(0.0);
        for block in values[..size * k].chunks_exact(2 * half) {
            add_columns(&block[half..], &mut sums);
        }
        for ((o, s), t) in out[i * k..(i + 1) * k].iter_mut().zip(&sums).zip(&total) {
            *o += scale * (s - t);
        }
    }
}

/// `sums[o] += Σ_j values[j * k + o]` for `k = sums.len()`, in four independent lanes
/// for a single output so that the sum pipelines.
#[inline]
fn add_columns(values: &[f64], sums: &mut [f64]) {
    if sums.len() == 1 {
        let mut lanes = [0.0; 4];
        let chunks = values.chunks_exact(4);
        let rest = chunks.remainder();
        for c in chunks {
            for (l, v) in lanes.iter_mut().zip(c) {
                *l += v;
            }
        }
        sums[0] += (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + rest.iter().sum::<f64>();
        return;
    }
    for row in values.chunks_exact(sums.len()) {
        for (s, v) in sums.iter_mut().zip(row) {
            *s += v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subset_sums_match_their_definition() {
        let t0: Vec<f64> = (0..32).map(|i| (i * i % 7) as f64 - 2.5).collect();
        let mut t = t0.clone();
        subset_sums(&mut t, 4, 2);
        for s in 0..16usize {
            for o in 0..2 {
                let want: f64 = (0..16usize)
                    .filter(|u| u & s == *u)
                    .map(|u| t0[u * 2 + o])
                    .sum();
                assert!((t[s * 2 + o] - want).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn shapley_values_of_a_unanimity_game_split_evenly() {
        // v(s) = 1 iff players 0 and 2 are both in s: each gets 1/2, player 1 nothing.
        let mut values: Vec<f64> = (0..8).map(|s| f64::from(s & 0b101 == 0b101)).collect();
        let mut phi = vec![0.0; 3];
        shapley_values(&mut values, 3, 1, 2.0, &mut phi);
        assert!((phi[0] - 1.0).abs() < 1e-15 && (phi[2] - 1.0).abs() < 1e-15);
        assert_eq!(phi[1], 0.0);
    }

    /// The regrouped sum against the definition, term by term, on a game with large
    /// values (1e-9 relative: a few roundings per term of a sum of 2^7 terms).
    #[test]
    fn shapley_values_match_their_definition() {
        let (d, k) = (7usize, 2usize);
        let game: Vec<f64> = (0..(k << d))
            .map(|i| ((i * 7919) % 101) as f64 * 3.7 + 1e3)
            .collect();
        let mut want = vec![0.0; d * k];
        for i in 0..d {
            for s in (0..1usize << d).filter(|s| s & (1 << i) == 0) {
                let c = s.count_ones() as i32;
                let fact = |n: i32| (1..=n).map(f64::from).product::<f64>();
                let w = fact(c) * fact(d as i32 - 1 - c) / fact(d as i32);
                for o in 0..k {
                    want[i * k + o] += w * (game[(s | 1 << i) * k + o] - game[s * k + o]);
                }
            }
        }
        let mut got = vec![0.5; d * k];
        shapley_values(&mut game.clone(), d, k, 2.0, &mut got);
        for (g, w) in got.iter().zip(&want) {
            assert!(
                (g - (0.5 + 2.0 * w)).abs() <= 1e-9 * w.abs().max(1.0),
                "{g} vs {w}"
            );
        }
    }
}
