//! The joint walk of an explained row `x` and a background row `r` down every tree: the one
//! pair walker behind Kernel SHAP's native tree game (`game::tree_game`) and the transformed
//! outputs of interventional Tree SHAP ([`super::pair_game`]).
//!
//! A hybrid row takes the features of a coalition `S` from `x` and the others from `r`. Where
//! `x` and `r` go the same way, every hybrid does; where they part, the hybrid follows `x` iff
//! the split's feature is in `S`. One walk per tree, branching only where the pair parts, finds
//! every leaf a hybrid can reach with its condition "the features in `A` are in `S`, those in
//! `B` are not" (bitmasks over the players). Rows are routed by [`Tree::next`] on rows
//! prepared by [`SplitRules::prepare`](crate::SplitRules::prepare).

use crate::ensemble::{Tree, TreeEnsemble};

/// A reachable leaf with its condition: players with bits in `a` in the coalition, those in
/// `b` out of it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CondLeaf {
    pub(crate) a: u64,
    pub(crate) b: u64,
    pub(crate) tree: u32,
    pub(crate) node: u32,
}

impl CondLeaf {
    /// The leaf's tree in `model`.
    #[inline]
    pub(crate) fn tree<'m>(&self, model: &'m TreeEnsemble) -> &'m Tree {
        &model.trees()[self.tree as usize]
    }
}

/// Which features are players of the pair's game, and their bits.
pub(crate) trait Players {
    /// `true`: the players are fixed beforehand, and a feature without a bit takes `r`'s side
    /// without looking at `x`. `false`: a feature gets a bit where the pair first parts on it.
    const FIXED: bool;
    /// Why a bit cannot be given.
    type Error;
    /// The feature's bit, 0 when it has none (yet).
    fn mask(&self, feature: usize) -> u64;
    /// Gives `feature` a bit (only asked when not [`Self::FIXED`]).
    fn assign(&mut self, feature: usize) -> Result<u64, Self::Error>;
}

/// Reusable buffers of the walk, and after [`PairWalk::walk`] the conditioned leaves.
#[derive(Debug, Default)]
pub(crate) struct PairWalk {
    stack: Vec<(u32, u64, u64)>,
    pub(crate) leaves: Vec<CondLeaf>,
}

impl PairWalk {
    /// Walks every tree of `model` with the prepared rows `x` and `r`: the leaves every hybrid
    /// reaches add their values to `constant` (per output, added to what is there), the others
    /// are left in `self.leaves` with their conditions.
    #[inline]
    pub(crate) fn walk<P: Players>(
        &mut self,
        model: &TreeEnsemble,
        x: &[f64],
        r: &[f64],
        players: &mut P,
        constant: &mut [f64],
    ) -> Result<(), P::Error> {
        let rules = model.rules();
        self.leaves.clear();
        for (t, tree) in model.trees().iter().enumerate() {
            self.stack.clear();
            self.stack.push((0, 0, 0));
            'paths: while let Some((start, a, b)) = self.stack.pop() {
                let mut node = start as usize;
                while !tree.is_leaf(node) {
                    let j = tree.feature(node);
                    let mask = players.mask(j);
                    if P::FIXED && mask == 0 {
                        node = tree.next(node, r[j], rules);
                    } else if a & mask != 0 {
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
                        let mask = if mask != 0 { mask } else { players.assign(j)? };
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
        Ok(())
    }
}

/// Adds `scale ×` a leaf's values (feeding outputs from `offset`, `k` per entry) under the
/// condition `[A ⊆ S, B ∩ S = ∅]` as inclusion–exclusion terms,
/// `Σ_{C ⊆ B} (−1)^|C| [A ∪ C ⊆ S]`, into `table` (to be summed over the subsets of S), or
/// the same with the roles of S and its complement swapped into `co_table`: whichever has
/// fewer terms. Returns whether `co_table` was used.
#[inline]
pub(crate) fn add_leaf_terms(
    table: &mut [f64],
    co_table: &mut [f64],
    (a, b): (u64, u64),
    values: &[f64],
    offset: usize,
    k: usize,
    scale: f64,
) -> bool {
    // Over the complement of S, "B out of S" reads "B in the complement": A and B swap.
    let use_co = b.count_ones() > a.count_ones();
    let (fixed, free, t) = if use_co {
        (b, a, co_table)
    } else {
        (a, b, table)
    };
    let mut sub = free;
    loop {
        let sign = if sub.count_ones() % 2 == 0 {
            scale
        } else {
            -scale
        };
        let at = (fixed | sub) as usize * k + offset;
        for (e, v) in t[at..at + values.len()].iter_mut().zip(values) {
            *e += sign * v;
        }
        if sub == 0 {
            break;
        }
        sub = (sub - 1) & free;
    }
    use_co
}

/// In place, `t[s] ← Σ_{u ⊆ s} t[u]` over `d`-bit subsets, `k` values per subset.
pub fn subset_sums(t: &mut [f64], d: u32, k: usize) {
    let size = 1usize << d;
    for i in 0..d {
        // The subsets without bit i in a block of 2·2^i are contiguous, as are their
        // partners with it: whole-slice adds, which the compiler vectorises for any k.
        let half = (1usize << i) * k;
        for block in t[..size * k].chunks_exact_mut(2 * half) {
            let (src, dst) = block.split_at_mut(half);
            for (a, b) in dst.iter_mut().zip(src.iter()) {
                *a += b;
            }
        }
    }
}
