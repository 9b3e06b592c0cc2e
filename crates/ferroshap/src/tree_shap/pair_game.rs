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

use crate::ensemble::TreeEnsemble;

/// The largest number of parting features a pair may have: its table holds `2^24` margins per
/// output (128 MiB each), per thread.
pub const MAX_PAIR_FEATURES: usize = 24;

/// A reachable leaf: features with bits in `a` must be in the coalition, those in `b` out.
#[derive(Clone, Copy, Debug)]
struct CondLeaf {
    a: u64,
    b: u64,
    tree: u32,
    node: u32,
}

/// One pair's game: reusable buffers, and after [`PairGame::tabulate`] the parting features
/// and the margin of every coalition of them.
#[derive(Debug, Default)]
pub struct PairGame {
    /// Feature → its bit among the parting features, `u32::MAX` when it is not one.
    bit_of: Vec<u32>,
    /// Bit → feature.
    features: Vec<u32>,
    leaves: Vec<CondLeaf>,
    stack: Vec<(u32, u64, u64)>,
    table: Vec<f64>,
    co_table: Vec<f64>,
    n_outputs: usize,
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
            bit_of: vec![u32::MAX; model.n_features()],
            n_outputs: model.n_outputs(),
            ..PairGame::default()
        }
    }

    /// The parting features of the last tabulated pair, bit `i` of a coalition being
    /// `features()[i]`.
    pub fn features(&self) -> &[u32] {
        &self.features
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
        let limit = max_features.min(MAX_PAIR_FEATURES);
        for &f in &self.features {
            self.bit_of[f as usize] = u32::MAX;
        }
        self.features.clear();
        self.leaves.clear();
        let k = self.n_outputs;
        let mut constant = model.base_offset().to_vec();
        let rules = model.rules();
        for (t, tree) in model.trees().iter().enumerate() {
            self.stack.clear();
            self.stack.push((0, 0, 0));
            'paths: while let Some((start, a, b)) = self.stack.pop() {
                let mut node = start as usize;
                while !tree.is_leaf(node) {
                    let j = tree.feature(node);
                    let bit = self.bit_of[j];
                    let mask = if bit == u32::MAX { 0 } else { 1u64 << bit };
                    if a & mask != 0 {
                        node = tree.next(node, x[j], rules);
                    } else if b & mask != 0 {
                        node = tree.next(node, r[j], rules);
                    } else {
                        let nx = tree.next(node, x[j], rules);
                        let nr = tree.next(node, r[j], rules);
                        if nx == nr {
                            node = nx;
                            continue;
                        }
                        let mask = if mask != 0 {
                            mask
                        } else {
                            if self.features.len() == limit {
                                return Err(TooManyPartingFeatures { limit });
                            }
                            self.bit_of[j] = self.features.len() as u32;
                            self.features.push(j as u32);
                            1u64 << (self.features.len() - 1)
                        };
                        self.stack.push((nr as u32, a, b | mask));
                        self.stack.push((nx as u32, a | mask, b));
                        continue 'paths;
                    }
                }
                if a | b == 0 {
                    for (c, v) in constant[tree.output()..]
                        .iter_mut()
                        .zip(tree.leaf_value(node))
                    {
                        *c += v;
                    }
                } else {
                    self.leaves.push(CondLeaf {
                        a,
                        b,
                        tree: t as u32,
                        node: node as u32,
                    });
                }
            }
        }
        self.fill_tables(model, k);
        let d = self.features.len();
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
        let d = self.features.len() as u32;
        let size = 1usize << d;
        self.table.clear();
        self.table.resize(size * k, 0.0);
        self.co_table.clear();
        if self
            .leaves
            .iter()
            .any(|l| l.b.count_ones() > l.a.count_ones())
        {
            self.co_table.resize(size * k, 0.0);
        }
        let trees = model.trees();
        for leaf in &self.leaves {
            let tree = &trees[leaf.tree as usize];
            let values = tree.leaf_value(leaf.node as usize);
            let offset = tree.output();
            // Over the complement of S, "B out of S" reads "B in the complement": the roles
            // of A and B swap.
            let (fixed, free, table) = if leaf.b.count_ones() <= leaf.a.count_ones() {
                (leaf.a, leaf.b, &mut self.table)
            } else {
                (leaf.b, leaf.a, &mut self.co_table)
            };
            let mut sub = free;
            loop {
                let sign = if sub.count_ones() % 2 == 0 { 1.0 } else { -1.0 };
                let at = (fixed | sub) as usize * k + offset;
                for (t, v) in table[at..at + values.len()].iter_mut().zip(values) {
                    *t += sign * v;
                }
                if sub == 0 {
                    break;
                }
                sub = (sub - 1) & free;
            }
        }
        subset_sums(&mut self.table, d, k);
        if !self.co_table.is_empty() {
            subset_sums(&mut self.co_table, d, k);
        }
    }
}

/// In place, `t[s] ← Σ_{u ⊆ s} t[u]` over `d`-bit subsets, `k` values per subset.
pub fn subset_sums(t: &mut [f64], d: u32, k: usize) {
    let size = 1usize << d;
    for i in 0..d {
        let bit = 1usize << i;
        for hi in (0..size).step_by(2 * bit) {
            for lo in hi..hi + bit {
                let (src, dst) = (lo * k, (lo | bit) * k);
                for o in 0..k {
                    t[dst + o] += t[src + o];
                }
            }
        }
    }
}

/// Shapley values of a game on `d` players given by its value on every coalition:
/// `values[s * k + o]` is output `o` of coalition `s` (a bitmask). Adds `scale * phi[i][o]`
/// to `out[i * k + o]`, with `phi_i = Σ_{s ∌ i} |s|! (d − 1 − |s|)! / d! · (v(s ∪ i) − v(s))`.
/// `O(d 2^d k)`.
pub fn shapley_values(values: &[f64], d: usize, k: usize, scale: f64, out: &mut [f64]) {
    if d == 0 {
        return;
    }
    // w[s] = s! (d-1-s)! / d!, built by ratios to stay exact to rounding for any d.
    let mut w = vec![0.0; d];
    w[0] = 1.0 / d as f64;
    for s in 1..d {
        w[s] = w[s - 1] * s as f64 / (d - s) as f64;
    }
    for w in &mut w {
        *w *= scale;
    }
    for i in 0..d {
        let bit = 1usize << i;
        let phi = &mut out[i * k..(i + 1) * k];
        for s in 0..1usize << d {
            if s & bit != 0 {
                continue;
            }
            let ws = w[s.count_ones() as usize];
            let (without, with) = (&values[s * k..(s + 1) * k], &values[(s | bit) * k..]);
            for ((p, a), b) in phi.iter_mut().zip(with).zip(without) {
                *p += ws * (a - b);
            }
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
        let values: Vec<f64> = (0..8).map(|s| f64::from(s & 0b101 == 0b101)).collect();
        let mut phi = vec![0.0; 3];
        shapley_values(&values, 3, 1, 2.0, &mut phi);
        assert!((phi[0] - 1.0).abs() < 1e-15 && (phi[2] - 1.0).abs() < 1e-15);
        assert_eq!(phi[1], 0.0);
    }
}
