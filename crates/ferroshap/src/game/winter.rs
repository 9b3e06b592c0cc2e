//! Winter values (recursive Owen values) over a hierarchy of groups of any arity, as shap's
//! `CoalitionExplainer` computes them.
//!
//! A feature `i` with path `root = a₀, a₁, …, a_d = i` plays, at each level `l`, against the
//! siblings of `a_l` (the other children of `a_{l−1}`, `n_l` children in all): its value is
//! `φ_i = Σ Π_l 1/(n_l · C(n_l − 1, |S_l|)) · (v(C ∪ {i}) − v(C))` over every choice of a
//! subset `S_l` of the siblings at each level, with `C` the features of all the chosen
//! siblings. That is the mean marginal contribution of `i` over the orderings of the
//! features in which every group is contiguous; a flat hierarchy gives the Shapley values, a
//! binary one the Owen values. The contributions of a feature add up the levels' Shapley
//! values, so the values are efficient: they sum to `v(all) − v(∅)`.
//!
//! The coalitions `C` and `C ∪ {i}` are exactly the sets whose partly-included groups form
//! one chain from the root, so their number has a closed form ([`GroupTree::n_coalitions`]);
//! every one of them is evaluated once per row in a single round.

use std::collections::HashMap;
use std::sync::Arc;

use ndarray::ArrayView2;
use rayon::prelude::*;

use super::batch::Problem;
use super::coalitions::Coalitions;
use super::engine::{Estimator, GameValues};
use super::hierarchy::leaf_values;
use crate::error::{Error, Result};

/// The most marginal contributions (pairs of coalitions) one row's Winter values may take.
/// A group of `n` members doubles its members' contributions `n − 1` times, so a flat
/// hierarchy of 20 features (`20 · 2^19`) is within it and one of 21 is not.
pub const MAX_WINTER_TERMS: usize = 1 << 24;

/// A hierarchy of features in groups of any size: leaves `0..M` are the features, group `t`
/// is node `M + t`, and the last group is the root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupTree {
    n_leaves: usize,
    /// Members of group `M + t`: features or earlier groups.
    groups: Vec<Vec<usize>>,
}

impl GroupTree {
    /// The hierarchy over `n_leaves` features whose group `t` (node `n_leaves + t`) has the
    /// members `groups[t]`: features (`0..n_leaves`) or earlier groups. The last group is the
    /// root. Every feature and every group but the root must be a member of exactly one
    /// group, and no group may be empty.
    ///
    /// ```
    /// use ferroshap::game::winter::GroupTree;
    ///
    /// // {0, 1, 2} and {3, 4} under one root: nodes 5, 6, then the root 7.
    /// let tree = GroupTree::new(5, vec![vec![0, 1, 2], vec![3, 4], vec![5, 6]])?;
    /// assert_eq!(tree.root(), 7);
    /// assert!(GroupTree::new(2, vec![vec![0, 0, 1]]).is_err()); // feature 0 twice
    /// # Ok::<(), ferroshap::Error>(())
    /// ```
    pub fn new(n_leaves: usize, groups: Vec<Vec<usize>>) -> Result<Self> {
        if n_leaves == 0 {
            return Err(Error::Parameter(
                "a hierarchy needs at least one feature".into(),
            ));
        }
        if groups.is_empty() {
            return Err(Error::Parameter(
                "a hierarchy needs at least one group (its root)".into(),
            ));
        }
        let n_nodes = n_leaves + groups.len();
        let mut parent = vec![usize::MAX; n_nodes];
        let name = |node: usize| {
            if node < n_leaves {
                format!("feature {node}")
            } else {
                format!("group {}", node - n_leaves)
            }
        };
        for (t, members) in groups.iter().enumerate() {
            let node = n_leaves + t;
            if members.is_empty() {
                return Err(Error::Parameter(format!("group {t} has no members")));
            }
            for &c in members {
                if c >= node {
                    return Err(Error::Parameter(format!(
                        "group {t} lists node {c}, which is neither a feature (0..{n_leaves}) \
                         nor an earlier group ({n_leaves}..{node})"
                    )));
                }
                if parent[c] != usize::MAX {
                    let other = parent[c] - n_leaves;
                    return Err(Error::Parameter(if other == t {
                        format!("{} appears twice in group {t}", name(c))
                    } else {
                        format!("{} appears in both group {other} and group {t}", name(c))
                    }));
                }
                parent[c] = node;
            }
        }
        // Members precede their group, so following parents climbs to the root: a tree.
        if let Some(c) = (0..n_nodes - 1).find(|&c| parent[c] == usize::MAX) {
            return Err(Error::Parameter(format!(
                "{} is in no group (only the last group, the root, may be)",
                name(c)
            )));
        }
        Ok(GroupTree { n_leaves, groups })
    }

    /// Number of features.
    pub fn n_leaves(&self) -> usize {
        self.n_leaves
    }

    /// Number of nodes: features and groups.
    pub fn n_nodes(&self) -> usize {
        self.n_leaves + self.groups.len()
    }

    /// The root's id.
    pub fn root(&self) -> usize {
        self.n_nodes() - 1
    }

    /// The members of `node` (none for a feature).
    pub fn members(&self, node: usize) -> &[usize] {
        if node < self.n_leaves {
            &[]
        } else {
            &self.groups[node - self.n_leaves]
        }
    }

    /// Per node, the group it is a member of (`None` for the root).
    fn parents(&self) -> Vec<Option<usize>> {
        let mut parent = vec![None; self.n_nodes()];
        for node in self.n_leaves..self.n_nodes() {
            for &c in self.members(node) {
                parent[c] = Some(node);
            }
        }
        parent
    }

    /// Distinct coalitions Winter values evaluate per row, the empty and full ones included
    /// (saturating): the sets whose partly-included groups form a chain from the root. With
    /// `f(feature) = 2`, a group of members `c_1..c_n` has `f = 2^n + 2^(n−1) Σ (f(c_j) − 2)`:
    /// its members all in or out, or exactly one partly in. A flat hierarchy gives `2^M`.
    pub fn n_coalitions(&self) -> usize {
        let mut f = vec![2usize; self.n_nodes()];
        for node in self.n_leaves..self.n_nodes() {
            let n = self.members(node).len();
            let inner = self
                .members(node)
                .iter()
                .fold(0usize, |acc, &c| acc.saturating_add(f[c] - 2));
            f[node] = pow2(n).saturating_add(pow2(n - 1).saturating_mul(inner));
        }
        f[self.root()]
    }

    /// Marginal contributions `v(C ∪ {i}) − v(C)` per row (saturating): each feature has
    /// `Π_l 2^(n_l − 1)` over the groups on its path.
    pub fn n_terms(&self) -> usize {
        let mut contexts = vec![0usize; self.n_nodes()];
        contexts[self.root()] = 1;
        for node in (self.n_leaves..self.n_nodes()).rev() {
            let per = contexts[node].saturating_mul(pow2(self.members(node).len() - 1));
            for &c in self.members(node) {
                contexts[c] = per;
            }
        }
        contexts[..self.n_leaves]
            .iter()
            .fold(0usize, |acc, &c| acc.saturating_add(c))
    }

    /// Refuses a hierarchy whose values would take more than [`MAX_WINTER_TERMS`]
    /// contributions per row.
    pub fn check_size(&self) -> Result<()> {
        let terms = self.n_terms();
        if terms > MAX_WINTER_TERMS {
            return Err(Error::Limit(format!(
                "Winter values over this hierarchy of {} features take {} coalitions and {terms} \
                 marginal contributions per row, more than the limit of {MAX_WINTER_TERMS} \
                 contributions: each group of n members multiplies its features' contributions \
                 by 2^(n-1), so split large groups into subgroups",
                self.n_leaves,
                self.n_coalitions()
            )));
        }
        Ok(())
    }
}

/// `2^n`, saturating.
fn pow2(n: usize) -> usize {
    if n >= usize::BITS as usize {
        usize::MAX
    } else {
        1usize << n
    }
}

/// `1 / (n · C(n − 1, s))` for `s` in `0..n`: the Shapley weight of a coalition of `s` of the
/// other `n − 1` players.
fn shapley_weights(n: usize) -> Vec<f64> {
    let mut binom = 1.0f64; // C(n − 1, s)
    (0..n)
        .map(|s| {
            if s > 0 {
                binom = binom * (n - s) as f64 / s as f64;
            }
            1.0 / (n as f64 * binom)
        })
        .collect()
}

/// One row's coalitions (each once) and, per feature, its contributions
/// `(index of C, index of C ∪ {i}, weight)`.
#[derive(Debug)]
struct WinterPlan {
    coalitions: Coalitions,
    terms: Vec<Vec<(u32, u32, f64)>>,
}

/// What the walk over one feature's contexts needs.
struct Walk<'a> {
    /// Per level: the siblings' features (bitset words each) and the level's Shapley weights.
    levels: Vec<(Vec<&'a [u64]>, Vec<f64>)>,
    leaf: usize,
}

impl WinterPlan {
    fn new(tree: &GroupTree, n_columns: usize) -> Self {
        let n_nodes = tree.n_nodes();
        let words = n_columns.div_ceil(64);
        // Each node's features as a bitset, members before their groups.
        let mut node_bits = vec![0u64; n_nodes * words];
        for j in 0..tree.n_leaves {
            node_bits[j * words + j / 64] |= 1 << (j % 64);
        }
        for node in tree.n_leaves..n_nodes {
            for &c in tree.members(node) {
                for w in 0..words {
                    node_bits[node * words + w] |= node_bits[c * words + w];
                }
            }
        }
        let bits_of = |node: usize| &node_bits[node * words..(node + 1) * words];
        let parent = tree.parents();
        let mut plan = WinterPlan {
            coalitions: Coalitions::new(n_columns),
            terms: Vec::with_capacity(tree.n_leaves),
        };
        let mut index: HashMap<Vec<u64>, u32> = HashMap::new();
        for leaf in 0..tree.n_leaves {
            let mut path = vec![leaf];
            while let Some(p) = parent[*path.last().expect("non-empty")] {
                path.push(p);
            }
            path.reverse();
            let levels: Vec<_> = path
                .windows(2)
                .map(|pair| {
                    let members = tree.members(pair[0]);
                    let siblings = members
                        .iter()
                        .filter(|&&c| c != pair[1])
                        .map(|&c| bits_of(c))
                        .collect();
                    (siblings, shapley_weights(members.len()))
                })
                .collect();
            // One context buffer per level (the last one is the coalition C itself).
            let mut contexts = vec![vec![0u64; words]; levels.len() + 1];
            let walk = Walk { levels, leaf };
            let mut terms = Vec::new();
            plan.walk(&walk, 0, &mut contexts, 1.0, &mut index, &mut terms);
            plan.terms.push(terms);
        }
        plan
    }

    /// Every choice of siblings from level `level` down, within the context
    /// `contexts[level]`, at `weight`.
    fn walk(
        &mut self,
        walk: &Walk<'_>,
        level: usize,
        contexts: &mut [Vec<u64>],
        weight: f64,
        index: &mut HashMap<Vec<u64>, u32>,
        terms: &mut Vec<(u32, u32, f64)>,
    ) {
        let Some((siblings, weights)) = walk.levels.get(level) else {
            let (w, bit) = (walk.leaf / 64, 1u64 << (walk.leaf % 64));
            let context = &mut contexts[level];
            let off = self.index_of(context, index);
            context[w] |= bit;
            let on = self.index_of(context, index);
            context[w] &= !bit;
            terms.push((off, on, weight));
            return;
        };
        for subset in 0..1usize << siblings.len() {
            let (outer, inner) = contexts.split_at_mut(level + 1);
            let chosen = &mut inner[0];
            chosen.copy_from_slice(&outer[level]);
            for (s, words) in siblings.iter().enumerate() {
                if subset >> s & 1 == 1 {
                    for (c, b) in chosen.iter_mut().zip(words.iter()) {
                        *c |= b;
                    }
                }
            }
            let w = weight * weights[subset.count_ones() as usize];
            self.walk(walk, level + 1, contexts, w, index, terms);
        }
    }

    fn index_of(&mut self, words: &[u64], index: &mut HashMap<Vec<u64>, u32>) -> u32 {
        if let Some(&i) = index.get(words) {
            return i;
        }
        let i = index.len() as u32;
        index.insert(words.to_vec(), i);
        self.coalitions.push_words(words);
        i
    }
}

/// Winter values as an [`crate::game::Estimator`]: one round with every coalition the
/// hierarchy needs, the same for every row.
#[derive(Clone, Debug)]
pub struct WinterEstimator {
    tree: Arc<GroupTree>,
    plan: Option<Arc<WinterPlan>>,
    sums: Vec<Vec<f64>>,
}

impl WinterEstimator {
    /// Winter values over `tree`, whose features are the problem's columns; refuses a tree
    /// above [`MAX_WINTER_TERMS`] contributions per row.
    pub fn new(tree: Arc<GroupTree>) -> Result<Self> {
        tree.check_size()?;
        Ok(WinterEstimator {
            tree,
            plan: None,
            sums: Vec::new(),
        })
    }
}

impl Estimator for WinterEstimator {
    fn plan(&mut self, problem: &Problem, round: usize) -> Result<Option<Vec<Coalitions>>> {
        if round > 0 {
            return Ok(None);
        }
        let p = problem.n_columns();
        if self.tree.n_leaves() != p {
            return Err(Error::Shape(format!(
                "the hierarchy is over {} features but the data has {p}",
                self.tree.n_leaves()
            )));
        }
        let plan = Arc::new(WinterPlan::new(&self.tree, p));
        let coalitions = vec![plan.coalitions.clone(); problem.n_rows()];
        self.plan = Some(plan);
        Ok(Some(coalitions))
    }

    fn reduce(&mut self, _problem: &Problem, values: Vec<Vec<f64>>) -> Result<()> {
        self.sums = values;
        Ok(())
    }

    fn finish(&self, problem: &Problem, _fx: ArrayView2<'_, f64>) -> Result<GameValues> {
        let k = problem.n_outputs();
        let Some(plan) = &self.plan else {
            return Ok(GameValues::zeros(problem));
        };
        let rows: Vec<Vec<f64>> = self
            .sums
            .par_iter()
            .map(|v| {
                let mut phi = vec![0.0; plan.terms.len() * k];
                for (leaf, terms) in plan.terms.iter().enumerate() {
                    for o in 0..k {
                        phi[leaf * k + o] = terms
                            .iter()
                            .map(|&(off, on, w)| {
                                w * (v[on as usize * k + o] - v[off as usize * k + o])
                            })
                            .sum();
                    }
                }
                phi
            })
            .collect();
        Ok(leaf_values(problem, rows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The number of distinct coalitions the plan evaluates is the closed form's.
    #[test]
    fn the_plan_has_the_counted_coalitions_and_terms() {
        let cases = [
            // Flat: 2^M coalitions, M 2^(M−1) terms.
            GroupTree::new(5, vec![vec![0, 1, 2, 3, 4]]).unwrap(),
            // shap's adult example: groups of 5, 3, 2 and 1 under a root of 4.
            GroupTree::new(
                11,
                vec![
                    vec![0, 1, 2, 3, 4],
                    vec![5, 6, 7],
                    vec![8, 9],
                    vec![10],
                    vec![11, 12, 13, 14],
                ],
            )
            .unwrap(),
            // Nested, with a one-member group and a group of groups.
            GroupTree::new(
                6,
                vec![vec![0], vec![1, 2], vec![6, 7, 3], vec![4, 5], vec![8, 9]],
            )
            .unwrap(),
        ];
        for tree in &cases {
            let plan = WinterPlan::new(tree, tree.n_leaves());
            assert_eq!(plan.coalitions.len(), tree.n_coalitions());
            let terms: usize = plan.terms.iter().map(Vec::len).sum();
            assert_eq!(terms, tree.n_terms());
            // Each feature's weights add up to 1 (a weighted mean over its contexts).
            for t in &plan.terms {
                let total: f64 = t.iter().map(|&(_, _, w)| w).sum();
                assert!((total - 1.0).abs() < 1e-12, "{total}");
            }
        }
        assert_eq!(cases[0].n_coalitions(), 32);
        assert_eq!(cases[0].n_terms(), 5 * 16);
        // Adult: 2^4 + 2^3 · (30 + 6 + 2 + 0) coalitions; 8 · (5·16 + 3·4 + 2·2 + 1) terms.
        assert_eq!(cases[1].n_coalitions(), 16 + 8 * 38);
        assert_eq!(cases[1].n_terms(), 8 * 97);
    }

    #[test]
    fn malformed_hierarchies_are_refused_by_name() {
        let err = |n, groups: Vec<Vec<usize>>| GroupTree::new(n, groups).unwrap_err().to_string();
        assert!(err(3, vec![vec![0, 1]]).contains("feature 2 is in no group"));
        assert!(err(2, vec![vec![0, 1, 1]]).contains("feature 1 appears twice in group 0"));
        assert!(err(3, vec![vec![0, 1], vec![1, 2, 3]]).contains("in both group 0 and group 1"));
        assert!(err(2, vec![vec![], vec![0, 1]]).contains("group 0 has no members"));
        assert!(err(2, vec![vec![0, 3], vec![1, 2]]).contains("lists node 3"));
        assert!(err(2, vec![vec![0], vec![1], vec![2, 3], vec![]]).contains("group 3 has no"));
        assert!(err(2, vec![vec![0], vec![1]]).contains("group 0 is in no group"));
        assert!(err(0, vec![vec![]]).contains("at least one feature"));
        assert!(err(1, vec![]).contains("at least one group"));
    }

    #[test]
    fn oversized_hierarchies_are_refused_with_their_size() {
        let flat = |m: usize| GroupTree::new(m, vec![(0..m).collect()]).unwrap();
        assert!(flat(20).check_size().is_ok());
        let msg = flat(21).check_size().unwrap_err().to_string();
        assert!(msg.contains("2097152 coalitions"), "{msg}");
        assert!(
            msg.contains(&format!("limit of {MAX_WINTER_TERMS}")),
            "{msg}"
        );
        // A group of 70 members saturates instead of overflowing.
        let wide = flat(70);
        assert_eq!(wide.n_terms(), usize::MAX);
        assert!(WinterEstimator::new(Arc::new(wide)).is_err());
    }
}
