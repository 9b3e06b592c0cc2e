//! One decision tree as flat node arrays, and the single place where a row is routed.

use super::SplitRules;
use crate::error::{Error, Result};

/// Child index that marks a leaf.
pub const LEAF: u32 = u32::MAX;

pub(crate) const DEFAULT_LEFT: u8 = 1;
pub(crate) const CATEGORICAL: u8 = 2;
pub(crate) const IN_SET_LEFT: u8 = 4;
pub(crate) const ZERO_IS_MISSING: u8 = 8;

/// Marks a category set stored as a sorted list of categories instead of a bitset (in the
/// length of its `cat_ranges` entry).
const SORTED_SET: usize = 1 << 31;

/// A tree as a parser or a Python adapter describes it, before validation.
///
/// Nodes are indexed from 0 (the root). A node is a leaf when `left[i] < 0`.
/// Numeric nodes send a row left iff `x <= threshold[i]`, after the ensemble's
/// [`SplitRules`] have prepared `x` (parsers turn a strict `<` into `<=` on the next
/// float down). Missing values (NaN) follow `default_left[i]`.
#[derive(Debug, Clone, Default)]
pub struct RawTree {
    /// Left child index per node, negative for a leaf.
    pub left: Vec<i64>,
    /// Right child index per node, negative for a leaf.
    pub right: Vec<i64>,
    /// Split feature per internal node (ignored at leaves).
    pub feature: Vec<i64>,
    /// Split threshold per internal numeric node: left iff `x <= threshold`.
    pub threshold: Vec<f64>,
    /// Where NaN goes, per node.
    pub default_left: Vec<bool>,
    /// LightGBM `missing_type=Zero`: the value 0 is treated as missing (goes to the default child).
    /// Empty means false everywhere.
    pub zero_is_missing: Vec<bool>,
    /// Categorical splits: `Some(categories)` for a categorical node, `None` for a numeric one.
    /// Empty means no categorical node.
    pub categories: Vec<Option<Vec<u32>>>,
    /// For categorical nodes: whether rows whose category is in the set go left
    /// (LightGBM, scikit-learn) or right (XGBoost).
    pub categories_go_left: bool,
    /// Node cover (XGBoost hessian sum, LightGBM count, scikit-learn weighted samples).
    pub cover: Vec<f64>,
    /// Leaf values, `leaf_width` per node (row-major); entries of internal nodes are ignored.
    pub value: Vec<f64>,
    /// Index of the first model output this tree adds to.
    pub output: usize,
}

/// One validated tree: flat arrays indexed by node, root at 0.
#[derive(Debug, Clone)]
pub struct Tree {
    pub(crate) left: Vec<u32>,
    pub(crate) right: Vec<u32>,
    pub(crate) feature: Vec<u32>,
    pub(crate) threshold: Vec<f64>,
    pub(crate) flags: Vec<u8>,
    /// Index into `cat_ranges` for categorical nodes.
    pub(crate) cat_index: Vec<u32>,
    /// (start, len) into `cat_words` per categorical node.
    pub(crate) cat_ranges: Vec<(u32, u32)>,
    /// Bitset words, bit `c % 32` of word `c / 32` set when category `c` is in the set.
    pub(crate) cat_words: Vec<u32>,
    pub(crate) cover: Vec<f64>,
    /// cover(node) / cover(parent): the fraction of the parent's training data that
    /// reached this node. 1 at the root.
    pub(crate) cover_ratio: Vec<f64>,
    pub(crate) value: Vec<f64>,
    pub(crate) leaf_width: usize,
    pub(crate) output: usize,
    pub(crate) max_depth: usize,
}

impl Tree {
    /// Validates a [`RawTree`]: lengths agree, every child index is in range, every node is
    /// reached exactly once from the root (no cycle, no sharing), features are below
    /// `n_features`, and numbers are finite.
    pub fn from_raw(raw: RawTree, n_features: usize, leaf_width: usize) -> Result<Tree> {
        let n = raw.left.len();
        let bad = |msg: String| Err(Error::InvalidModel(msg));
        if n == 0 {
            return bad("tree has no nodes".into());
        }
        if n >= LEAF as usize {
            return bad(format!("tree has {n} nodes, more than supported"));
        }
        for (name, len) in [
            ("right", raw.right.len()),
            ("feature", raw.feature.len()),
            ("threshold", raw.threshold.len()),
            ("default_left", raw.default_left.len()),
            ("cover", raw.cover.len()),
        ] {
            if len != n {
                return bad(format!(
                    "tree array '{name}' has {len} entries, expected {n}"
                ));
            }
        }
        if raw.value.len() != n * leaf_width {
            return bad(format!(
                "tree has {} leaf values, expected {} ({} nodes x {} outputs)",
                raw.value.len(),
                n * leaf_width,
                n,
                leaf_width
            ));
        }
        if !raw.zero_is_missing.is_empty() && raw.zero_is_missing.len() != n {
            return bad("tree array 'zero_is_missing' has the wrong length".into());
        }
        if !raw.categories.is_empty() && raw.categories.len() != n {
            return bad("tree array 'categories' has the wrong length".into());
        }

        let mut left = vec![LEAF; n];
        let mut right = vec![LEAF; n];
        let mut feature = vec![0u32; n];
        let mut flags = vec![0u8; n];
        let mut cat_index = vec![u32::MAX; n];
        let mut cat_ranges = Vec::new();
        let mut cat_words = Vec::new();
        for i in 0..n {
            let (l, r) = (raw.left[i], raw.right[i]);
            if raw.default_left[i] {
                flags[i] |= DEFAULT_LEFT;
            }
            if l < 0 {
                continue;
            }
            if r < 0 {
                return bad(format!("node {i} has a left child but no right child"));
            }
            if l as u64 >= n as u64 || r as u64 >= n as u64 {
                return bad(format!(
                    "node {i} has child index {} out of range (tree has {n} nodes)",
                    l.max(r)
                ));
            }
            let f = raw.feature[i];
            if f < 0 || f as u64 >= n_features as u64 {
                return bad(format!(
                    "node {i} splits on feature {f}, but the model has {n_features} features"
                ));
            }
            left[i] = l as u32;
            right[i] = r as u32;
            feature[i] = f as u32;
            if raw.zero_is_missing.get(i).copied().unwrap_or(false) {
                flags[i] |= ZERO_IS_MISSING;
            }
            if let Some(Some(cats)) = raw.categories.get(i) {
                flags[i] |= CATEGORICAL;
                if raw.categories_go_left {
                    flags[i] |= IN_SET_LEFT;
                }
                let max = cats.iter().copied().max().map_or(0, |m| m as usize + 1);
                let words = max.div_ceil(32);
                let start = cat_words.len();
                let len = if words <= 2 * cats.len() + 2 {
                    cat_words.resize(start + words, 0u32);
                    for &c in cats {
                        cat_words[start + (c / 32) as usize] |= 1 << (c % 32);
                    }
                    words
                } else {
                    // A few large categories: a sorted list, not a bitset of up to 2 MB (the
                    // set's size then follows the model file's, whatever the category values).
                    let mut sorted = cats.clone();
                    sorted.sort_unstable();
                    sorted.dedup();
                    cat_words.extend_from_slice(&sorted);
                    sorted.len() | SORTED_SET
                };
                if cat_words.len() > u32::MAX as usize || len > u32::MAX as usize {
                    return bad("tree has too many categories".into());
                }
                cat_index[i] = cat_ranges.len() as u32;
                cat_ranges.push((start as u32, len as u32));
            } else if raw.threshold[i].is_nan() {
                return bad(format!("node {i} has a NaN threshold"));
            }
        }
        for (i, c) in raw.cover.iter().enumerate() {
            if !c.is_finite() || *c < 0.0 {
                return bad(format!(
                    "node {i} has cover {c}; covers must be finite and >= 0"
                ));
            }
        }

        // Walk from the root: every node must be reached exactly once.
        let mut seen = vec![false; n];
        let mut depth_of = vec![0usize; n];
        let mut cover_ratio = vec![1.0; n];
        let mut stack = vec![0u32];
        seen[0] = true;
        let mut max_depth = 0;
        while let Some(node) = stack.pop() {
            let node = node as usize;
            if left[node] == LEAF {
                let vals = &raw.value[node * leaf_width..(node + 1) * leaf_width];
                if let Some(v) = vals.iter().find(|v| !v.is_finite()) {
                    return bad(format!("leaf {node} has non-finite value {v}"));
                }
                max_depth = max_depth.max(depth_of[node]);
                continue;
            }
            let parent_cover = raw.cover[node];
            for child in [left[node], right[node]] {
                let c = child as usize;
                if seen[c] {
                    return bad(format!(
                        "node {c} is reached twice from the root (a cycle or a shared child)"
                    ));
                }
                seen[c] = true;
                depth_of[c] = depth_of[node] + 1;
                // A node with no training data: split its weight evenly so that the
                // expectation stays defined (shap substitutes a tiny cover instead).
                cover_ratio[c] = child_ratio(raw.cover[c], parent_cover);
                stack.push(child);
            }
        }
        if let Some(i) = seen.iter().position(|s| !s) {
            return bad(format!("node {i} cannot be reached from the root"));
        }

        let mut value = raw.value;
        for i in 0..n {
            if left[i] != LEAF {
                value[i * leaf_width..(i + 1) * leaf_width].fill(0.0);
            }
        }
        Ok(Tree {
            left,
            right,
            feature,
            threshold: raw.threshold,
            flags,
            cat_index,
            cat_ranges,
            cat_words,
            cover: raw.cover,
            cover_ratio,
            value,
            leaf_width,
            output: raw.output,
            max_depth,
        })
    }

    /// A copy whose covers are the (weighted) number of rows of `data` reaching each node.
    pub(crate) fn with_covers(&self, covers: Vec<f64>) -> Tree {
        let mut tree = self.clone();
        for node in 0..tree.n_nodes() {
            if !tree.is_leaf(node) {
                let (l, r) = tree.children(node);
                tree.cover_ratio[l] = child_ratio(covers[l], covers[node]);
                tree.cover_ratio[r] = child_ratio(covers[r], covers[node]);
            }
        }
        tree.cover = covers;
        tree
    }

    /// Number of nodes (internal and leaves).
    pub fn n_nodes(&self) -> usize {
        self.left.len()
    }

    /// Number of leaves.
    pub fn n_leaves(&self) -> usize {
        self.left.iter().filter(|&&l| l == LEAF).count()
    }

    /// Depth of the deepest leaf (0 for a stump that is a single leaf).
    pub fn max_depth(&self) -> usize {
        self.max_depth
    }

    /// Index of the first output this tree adds to.
    pub fn output(&self) -> usize {
        self.output
    }

    /// Whether `node` is a leaf.
    #[inline]
    pub fn is_leaf(&self, node: usize) -> bool {
        self.left[node] == LEAF
    }

    /// Whether `node` is a categorical split.
    #[inline]
    pub fn is_categorical(&self, node: usize) -> bool {
        self.flags[node] & CATEGORICAL != 0
    }

    /// Split feature of an internal node.
    #[inline]
    pub fn feature(&self, node: usize) -> usize {
        self.feature[node] as usize
    }

    /// Cover of a node.
    pub fn cover(&self, node: usize) -> f64 {
        self.cover[node]
    }

    /// Leaf values of a node (`leaf_width` of them; zeros for internal nodes).
    #[inline]
    pub fn leaf_value(&self, node: usize) -> &[f64] {
        &self.value[node * self.leaf_width..(node + 1) * self.leaf_width]
    }

    /// Children of an internal node, `(left, right)`.
    #[inline]
    pub fn children(&self, node: usize) -> (usize, usize) {
        (self.left[node] as usize, self.right[node] as usize)
    }

    /// Fraction of the parent's cover that reached `node` (1 at the root).
    #[inline]
    pub fn cover_ratio(&self, node: usize) -> f64 {
        self.cover_ratio[node]
    }

    /// Bytes held by the tree's arrays.
    pub fn size_bytes(&self) -> usize {
        use std::mem::size_of_val;
        size_of_val(self.left.as_slice())
            + size_of_val(self.right.as_slice())
            + size_of_val(self.feature.as_slice())
            + size_of_val(self.threshold.as_slice())
            + size_of_val(self.flags.as_slice())
            + size_of_val(self.cat_index.as_slice())
            + size_of_val(self.cat_ranges.as_slice())
            + size_of_val(self.cat_words.as_slice())
            + size_of_val(self.cover.as_slice())
            + size_of_val(self.cover_ratio.as_slice())
            + size_of_val(self.value.as_slice())
    }

    /// Number of values per leaf (1 except for vector-leaf trees).
    #[inline]
    pub fn leaf_width(&self) -> usize {
        self.leaf_width
    }

    /// Whether `node` is a numeric split with no rule beyond `x <= threshold` and NaN to the
    /// default child (not categorical, no zero-as-missing).
    #[inline]
    pub(crate) fn is_plain_numeric(&self, node: usize) -> bool {
        self.flags[node] & (CATEGORICAL | ZERO_IS_MISSING) == 0
    }

    /// Threshold of a numeric split: left iff `x <= threshold`.
    #[inline]
    pub(crate) fn threshold(&self, node: usize) -> f64 {
        self.threshold[node]
    }

    /// Whether NaN goes to the left child of `node`.
    #[inline]
    pub(crate) fn default_left(&self, node: usize) -> bool {
        self.flags[node] & DEFAULT_LEFT != 0
    }

    /// The child of internal `node` that a row with value `x` (already prepared by
    /// [`SplitRules::prepare`]) for the node's feature goes to.
    #[inline]
    pub fn next(&self, node: usize, x: f64, rules: &SplitRules) -> usize {
        if self.goes_left(node, x, rules) {
            self.left[node] as usize
        } else {
            self.right[node] as usize
        }
    }

    /// Whether a prepared value `x` goes to the left child of internal `node`.
    #[inline]
    pub(crate) fn goes_left(&self, node: usize, x: f64, rules: &SplitRules) -> bool {
        let flags = self.flags[node];
        if x.is_nan() {
            return flags & DEFAULT_LEFT != 0;
        }
        if flags & CATEGORICAL != 0 {
            let in_set = rules
                .category(x)
                .is_some_and(|c| self.in_category_set(node, c));
            return in_set == (flags & IN_SET_LEFT != 0);
        }
        if flags & ZERO_IS_MISSING != 0 && x == 0.0 {
            return flags & DEFAULT_LEFT != 0;
        }
        x <= self.threshold[node]
    }

    /// The split at internal `node` as a [`PlainSplit`], or `None` when it has a category
    /// set or reads zero as missing ([`Self::goes_left`] then decides).
    #[inline]
    pub(crate) fn plain_split(&self, node: usize) -> Option<PlainSplit> {
        self.is_plain_numeric(node).then(|| PlainSplit {
            threshold: self.threshold[node],
            nan_left: self.default_left(node),
        })
    }

    /// The categories of a categorical node's set, in increasing order.
    pub fn categories(&self, node: usize) -> Vec<u32> {
        if !self.is_categorical(node) {
            return Vec::new();
        }
        let (start, len) = self.cat_ranges[self.cat_index[node] as usize];
        let words = &self.cat_words[start as usize..];
        if len as usize & SORTED_SET != 0 {
            return words[..len as usize & !SORTED_SET].to_vec();
        }
        (0..len as usize * 32)
            .filter(|&c| (words[c / 32] >> (c % 32)) & 1 == 1)
            .map(|c| c as u32)
            .collect()
    }

    /// The tree as a [`RawTree`] again (for writing it out): `Tree::from_raw` of the result
    /// gives back this tree.
    pub fn to_raw(&self) -> RawTree {
        let n = self.n_nodes();
        let categorical = (0..n).any(|i| self.is_categorical(i));
        let child = |c: u32| if c == LEAF { -1 } else { i64::from(c) };
        RawTree {
            left: self.left.iter().map(|&c| child(c)).collect(),
            right: self.right.iter().map(|&c| child(c)).collect(),
            feature: self.feature.iter().map(|&f| i64::from(f)).collect(),
            threshold: self.threshold.clone(),
            default_left: self.flags.iter().map(|f| f & DEFAULT_LEFT != 0).collect(),
            zero_is_missing: self
                .flags
                .iter()
                .map(|f| f & ZERO_IS_MISSING != 0)
                .collect(),
            categories: if categorical {
                (0..n)
                    .map(|i| self.is_categorical(i).then(|| self.categories(i)))
                    .collect()
            } else {
                Vec::new()
            },
            categories_go_left: self.flags.iter().any(|f| f & IN_SET_LEFT != 0),
            cover: self.cover.clone(),
            value: self.value.clone(),
            output: self.output,
        }
    }

    #[inline]
    fn in_category_set(&self, node: usize, c: u32) -> bool {
        let (start, len) = self.cat_ranges[self.cat_index[node] as usize];
        if len as usize & SORTED_SET != 0 {
            let len = len as usize & !SORTED_SET;
            return self.cat_words[start as usize..][..len]
                .binary_search(&c)
                .is_ok();
        }
        let word = (c / 32) as usize;
        word < len as usize && (self.cat_words[start as usize + word] >> (c % 32)) & 1 == 1
    }

    /// The leaf a prepared row reaches.
    #[inline]
    pub fn leaf_for(&self, row: &[f64], rules: &SplitRules) -> usize {
        let mut node = 0usize;
        while self.left[node] != LEAF {
            node = self.next(node, row[self.feature[node] as usize], rules);
        }
        node
    }

    /// Cover-weighted mean of the leaf values (what the tree predicts when nothing is known),
    /// using each child's stored cover relative to its parent's, as XGBoost, LightGBM and shap do.
    pub fn expected_value(&self) -> Vec<f64> {
        let mut out = vec![0.0; self.leaf_width];
        let mut stack = vec![(0usize, 1.0f64)];
        while let Some((node, weight)) = stack.pop() {
            if self.is_leaf(node) {
                for (o, v) in out.iter_mut().zip(self.leaf_value(node)) {
                    *o += weight * v;
                }
            } else {
                let (l, r) = self.children(node);
                stack.push((l, weight * self.cover_ratio[l]));
                stack.push((r, weight * self.cover_ratio[r]));
            }
        }
        out
    }
}

/// cover(child) / cover(parent). A node that no data reached splits its weight evenly, so that
/// the expectation stays defined (shap substitutes a tiny cover instead, to the same effect).
fn child_ratio(child: f64, parent: f64) -> f64 {
    if parent > 0.0 { child / parent } else { 0.5 }
}

/// A numeric split with no rule beyond `x <= threshold` (no category set, zero not read as
/// missing), NaN going to the default side: [`Tree::goes_left`]'s rule for such a split, written
/// as arithmetic so that kernels apply it to many rows at once without branches.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlainSplit {
    pub(crate) threshold: f64,
    pub(crate) nan_left: bool,
}

impl PlainSplit {
    /// 1.0 when the prepared value `x` goes left, else 0.0.
    #[inline(always)]
    pub(crate) fn left(self, x: f64) -> f64 {
        // NaN fails the comparison and goes to the default side.
        let below = f64::from(u8::from(x <= self.threshold));
        let nan = f64::from(u8::from(x.is_nan()));
        below + nan * f64::from(u8::from(self.nan_left))
    }

    /// All ones when the prepared value `x` goes left, else 0.
    #[inline(always)]
    pub(crate) fn left_mask(self, x: f64) -> u64 {
        let go =
            u64::from(x <= self.threshold) | (u64::from(x.is_nan()) & u64::from(self.nan_left));
        go.wrapping_neg()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One categorical split on `cats` (in the set goes left), leaves 1 (left) and 2 (right).
    fn split_on(cats: Vec<u32>) -> Tree {
        let raw = RawTree {
            left: vec![1, -1, -1],
            right: vec![2, -1, -1],
            feature: vec![0, 0, 0],
            threshold: vec![0.0; 3],
            default_left: vec![false; 3],
            categories: vec![Some(cats), None, None],
            categories_go_left: true,
            cover: vec![2.0, 1.0, 1.0],
            value: vec![0.0, 1.0, 2.0],
            ..RawTree::default()
        };
        Tree::from_raw(raw, 1, 1).unwrap()
    }

    #[test]
    fn sparse_and_dense_category_sets_route_alike() {
        let rules = SplitRules::XGBOOST;
        // Dense: a bitset; sparse (one category near 2^24): a sorted list of 12 bytes
        // instead of a 2 MB bitset.
        for cats in [vec![1, 3, 40], vec![16_777_215, 5, 70_000]] {
            let tree = split_on(cats.clone());
            assert_eq!(tree.categories(0), {
                let mut c = cats.clone();
                c.sort_unstable();
                c
            });
            for c in [0u32, 1, 3, 5, 6, 40, 41, 70_000, 16_777_214, 16_777_215] {
                let expected = if cats.contains(&c) { 1 } else { 2 };
                assert_eq!(tree.leaf_for(&[c as f64], &rules), expected, "category {c}");
            }
            assert!(tree.size_bytes() < 4096, "{} bytes", tree.size_bytes());
            let again = Tree::from_raw(tree.to_raw(), 1, 1).unwrap();
            assert_eq!(again.categories(0), tree.categories(0));
        }
    }
}
