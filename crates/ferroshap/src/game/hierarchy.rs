//! A binary hierarchy of features (a linkage matrix in scipy's format), the structure over
//! which Owen values are defined.
//!
//! Node ids follow scipy: leaves are `0..M`, internal node `t` (row `t` of the linkage) is
//! `M + t`, the root is `2M − 2`. A node's leaves are stored as one contiguous range of a
//! depth-first leaf order, so that the hierarchy of an image with hundreds of thousands of
//! pixels costs `O(M)` memory rather than a mask per node.

use std::sync::Arc;

use ndarray::Axis;

use super::batch::Problem;
use super::coalitions::Bits;
use super::engine::GameValues;
use crate::error::{Error, Result};

/// A binary hierarchy over `M` features.
#[derive(Clone, Debug, PartialEq)]
pub struct Hierarchy {
    n_leaves: usize,
    /// Children of internal node `M + t`.
    children: Vec<[usize; 2]>,
    /// Internal nodes not to be split further (a negative distance in the linkage, as shap).
    terminal: Vec<bool>,
    /// Leaves in depth-first order; node `n`'s leaves are `order[start[n]..start[n] + size[n]]`.
    order: Vec<usize>,
    start: Vec<usize>,
    size: Vec<usize>,
}

impl Hierarchy {
    /// The hierarchy of a linkage matrix: `rows[t] = (left, right, distance)` for internal
    /// node `M + t`, with `M = rows.len() + 1` (one leaf and no rows is a hierarchy of one
    /// feature). Every node other than the root must be the child of exactly one later node.
    /// A negative distance marks a node that is not split further.
    pub fn from_linkage(rows: &[(f64, f64, f64)]) -> Result<Self> {
        let m = rows.len() + 1;
        let n_nodes = 2 * m - 1;
        let mut children = Vec::with_capacity(rows.len());
        let mut terminal = Vec::with_capacity(rows.len());
        let mut parent_of = vec![usize::MAX; n_nodes];
        for (t, &(l, r, d)) in rows.iter().enumerate() {
            let node = m + t;
            let mut pair = [0usize; 2];
            for (slot, c) in pair.iter_mut().zip([l, r]) {
                if !(c.is_finite() && c.fract() == 0.0 && c >= 0.0 && (c as usize) < node) {
                    return Err(Error::Parameter(format!(
                        "clustering row {t}: child {c} is not the id of a leaf (0..{m}) or of an \
                         earlier cluster ({m}..{node})"
                    )));
                }
                let c = c as usize;
                if parent_of[c] != usize::MAX {
                    return Err(Error::Parameter(format!(
                        "clustering row {t}: node {c} is already a child of node {}",
                        parent_of[c]
                    )));
                }
                parent_of[c] = node;
                *slot = c;
            }
            if d.is_nan() {
                return Err(Error::Parameter(format!(
                    "clustering row {t}: the distance is NaN"
                )));
            }
            children.push(pair);
            terminal.push(d < 0.0);
        }
        // Each of the 2M − 2 non-root nodes has one parent once every row names two distinct
        // nodes, none twice; so the tree is connected and binary.
        let mut size = vec![1usize; n_nodes];
        for (t, pair) in children.iter().enumerate() {
            size[m + t] = size[pair[0]] + size[pair[1]];
        }
        let mut start = vec![0usize; n_nodes];
        let mut order = Vec::with_capacity(m);
        // Depth first from the root, left before right: each node's leaves are contiguous.
        let mut stack = vec![n_nodes - 1];
        let mut next = 0usize;
        while let Some(node) = stack.pop() {
            start[node] = next;
            if node < m {
                order.push(node);
                next += 1;
            } else {
                let [l, r] = children[node - m];
                stack.push(r);
                stack.push(l);
            }
        }
        debug_assert_eq!(order.len(), m);
        Ok(Hierarchy {
            n_leaves: m,
            children,
            terminal,
            order,
            start,
            size,
        })
    }

    /// Number of features (leaves).
    pub fn n_leaves(&self) -> usize {
        self.n_leaves
    }

    /// Number of nodes, `2M − 1`.
    pub fn n_nodes(&self) -> usize {
        2 * self.n_leaves - 1
    }

    /// The root's id.
    pub fn root(&self) -> usize {
        self.n_nodes() - 1
    }

    /// The children of `node`, or `None` for a leaf.
    #[inline]
    pub fn children(&self, node: usize) -> Option<[usize; 2]> {
        (node >= self.n_leaves).then(|| self.children[node - self.n_leaves])
    }

    /// Whether `node` is split no further: a leaf, or marked terminal by a negative distance.
    #[inline]
    pub fn is_terminal(&self, node: usize) -> bool {
        node < self.n_leaves || self.terminal[node - self.n_leaves]
    }

    /// Number of leaves under `node`.
    #[inline]
    pub fn size(&self, node: usize) -> usize {
        self.size[node]
    }

    /// The leaves under `node`.
    #[inline]
    pub fn leaves(&self, node: usize) -> &[usize] {
        &self.order[self.start[node]..self.start[node] + self.size[node]]
    }

    /// Adds the leaves of `node` (leaf `j` is column `j`) to `bits`.
    #[inline]
    pub(crate) fn add_to(&self, bits: &mut Bits, node: usize) {
        for &leaf in self.leaves(node) {
            bits.set(leaf);
        }
    }

    /// Spreads each internal node's value onto its children in proportion to their sizes,
    /// from the root down (shap's `lower_credit`): `values` holds one block of `k` values per
    /// node; afterwards the leaves' blocks hold everything.
    pub fn lower_credit(&self, values: &mut [f64], k: usize) {
        let m = self.n_leaves;
        for node in (m..self.n_nodes()).rev() {
            let [l, r] = self.children[node - m];
            let total = self.size[node] as f64;
            for o in 0..k {
                let v = values[node * k + o];
                values[l * k + o] += v * self.size[l] as f64 / total;
                values[r * k + o] += v * self.size[r] as f64 / total;
            }
        }
    }
}

/// One hierarchy per explained row of `problem`: `hierarchies` holds one shared by every row
/// (over all of the problem's columns) or one per row (each over the row's first columns, as
/// the tokens of texts of different lengths).
pub(crate) fn per_row(
    hierarchies: &[Arc<Hierarchy>],
    problem: &Problem,
) -> Result<Vec<Arc<Hierarchy>>> {
    let (n, p) = (problem.n_rows(), problem.n_columns());
    match hierarchies {
        [shared] => {
            if shared.n_leaves() != p {
                return Err(Error::Shape(format!(
                    "the clustering is over {} features but the data has {p}",
                    shared.n_leaves()
                )));
            }
            Ok(vec![shared.clone(); n])
        }
        own if own.len() == n => {
            if let Some((i, h)) = own.iter().enumerate().find(|(_, h)| h.n_leaves() > p) {
                return Err(Error::Shape(format!(
                    "the clustering of row {i} is over {} features but the data has {p}",
                    h.n_leaves()
                )));
            }
            Ok(own.to_vec())
        }
        other => Err(Error::Shape(format!(
            "{} clusterings for {n} explained rows (expected one, or one per row)",
            other.len()
        ))),
    }
}

/// Values for `problem`'s rows from each row's leaf values (`M_i × k`, leaf `j` = column
/// `j`; columns beyond a row's hierarchy get 0).
pub(crate) fn leaf_values(problem: &Problem, rows: Vec<Vec<f64>>) -> GameValues {
    let mut out = GameValues::zeros(problem);
    for (i, phi) in rows.into_iter().enumerate() {
        out.values
            .index_axis_mut(Axis(0), i)
            .as_slice_mut()
            .expect("standard layout")[..phi.len()]
            .copy_from_slice(&phi);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_keep_their_leaves_contiguous() {
        // ((0, 3), (1, (2, 4))): nodes 5 = (0, 3), 6 = (2, 4), 7 = (1, 6), 8 = (5, 7).
        let h = Hierarchy::from_linkage(&[
            (0.0, 3.0, 0.1),
            (2.0, 4.0, 0.2),
            (1.0, 6.0, 0.3),
            (5.0, 7.0, 0.4),
        ])
        .unwrap();
        assert_eq!(h.root(), 8);
        assert_eq!(h.leaves(8), [0, 3, 1, 2, 4]);
        assert_eq!(h.leaves(7), [1, 2, 4]);
        assert_eq!(h.leaves(6), [2, 4]);
        assert_eq!(h.size(7), 3);
        assert_eq!(h.leaves(3), [3]);
    }

    #[test]
    fn malformed_linkages_are_refused() {
        assert!(Hierarchy::from_linkage(&[(0.0, 0.0, 1.0)]).is_err());
        assert!(Hierarchy::from_linkage(&[(0.0, 2.0, 1.0)]).is_err());
        assert!(Hierarchy::from_linkage(&[(0.0, 1.5, 1.0)]).is_err());
        assert!(Hierarchy::from_linkage(&[(0.0, 1.0, 1.0), (0.0, 3.0, 1.0)]).is_err());
        assert!(Hierarchy::from_linkage(&[(0.0, 1.0, f64::NAN)]).is_err());
        let one = Hierarchy::from_linkage(&[]).unwrap();
        assert_eq!((one.n_leaves(), one.root()), (1, 0));
    }
}
