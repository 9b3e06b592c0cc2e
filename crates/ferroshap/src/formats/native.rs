//! ferroshap's own compact binary form of a [`TreeEnsemble`], for shipping a prepared model to
//! worker processes (Python's pickle, Spark, Dask) without the source library's object.
//!
//! Layout (little-endian): the magic `FSHAPTE1`, then the ensemble's description (feature and
//! output counts, leaf width, routing rules, link, objective, feature names, categorical flags,
//! base offsets) and each tree's node arrays. Reading goes through the same validation as every
//! other parser ([`TreeEnsemble::new`]), and every count is checked against the bytes left
//! before anything is allocated by it, so a corrupt or hostile buffer is refused, never trusted.

use crate::ensemble::{
    CategoryRule, EnsembleSpec, InputPrecision, Link, RawTree, SplitRules, TreeEnsemble,
};
use crate::error::{Error, Result};

pub(crate) const MAGIC: &[u8; 8] = b"FSHAPTE1";
const FORMAT: &str = "ferroshap native";

fn err(message: impl Into<String>) -> Error {
    Error::format(FORMAT, message)
}

const NODE_DEFAULT_LEFT: u8 = 1;
const NODE_ZERO_IS_MISSING: u8 = 2;
const NODE_CATEGORICAL: u8 = 4;
const NODE_LEAF: u8 = 8;

/// Writes `model` in the native format.
pub fn to_bytes(model: &TreeEnsemble) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(model.size_bytes() / 2 + 256));
    w.0.extend_from_slice(MAGIC);
    w.usize(model.n_features());
    w.usize(model.n_outputs());
    w.usize(model.leaf_width());
    let rules = model.rules();
    w.u8(match rules.input {
        InputPrecision::F64 => 0,
        InputPrecision::F32 => 1,
    });
    w.u8(u8::from(rules.zero_below_1e35));
    w.u8(match rules.category {
        CategoryRule::XGBoost => 0,
        CategoryRule::LightGBM => 1,
        CategoryRule::Sklearn => 2,
    });
    w.u8(match model.link() {
        Link::Identity => 0,
        Link::Logistic => 1,
        Link::Softmax => 2,
        Link::Exp => 3,
    });
    w.str(model.objective());
    match model.feature_names() {
        None => w.u8(0),
        Some(names) => {
            w.u8(1);
            w.usize(names.len());
            names.iter().for_each(|n| w.str(n));
        }
    }
    w.usize(model.categorical_features().len());
    model
        .categorical_features()
        .iter()
        .for_each(|&c| w.u8(u8::from(c)));
    w.f64s(model.base_offset());
    w.usize(model.trees().len());
    for tree in model.trees() {
        let raw = tree.to_raw();
        let n = raw.left.len();
        w.usize(n);
        w.usize(raw.output);
        w.u8(u8::from(raw.categories_go_left));
        let width = model.leaf_width();
        // Leaves: flags, cover, values. Internal nodes: flags, cover, children, feature,
        // threshold and their category set (their values are never read).
        for i in 0..n {
            let leaf = raw.left[i] < 0;
            let categories = raw.categories.get(i).and_then(Option::as_ref);
            let flags = (u8::from(raw.default_left[i]) * NODE_DEFAULT_LEFT)
                | (u8::from(raw.zero_is_missing.get(i).copied().unwrap_or(false))
                    * NODE_ZERO_IS_MISSING)
                | (u8::from(categories.is_some()) * NODE_CATEGORICAL)
                | (u8::from(leaf) * NODE_LEAF);
            w.u8(flags);
            w.f64(raw.cover[i]);
            if leaf {
                raw.value[i * width..][..width]
                    .iter()
                    .for_each(|&v| w.f64(v));
                continue;
            }
            // Validated trees index children and features in u32.
            w.u32(raw.left[i] as u32);
            w.u32(raw.right[i] as u32);
            w.u32(raw.feature[i] as u32);
            w.f64(raw.threshold[i]);
            if let Some(cats) = categories {
                w.usize(cats.len());
                cats.iter().for_each(|&c| w.u32(c));
            }
        }
    }
    w.0
}

/// Reads a model written by [`to_bytes`].
pub fn from_bytes(bytes: &[u8]) -> Result<TreeEnsemble> {
    let rest = bytes
        .strip_prefix(MAGIC.as_slice())
        .ok_or_else(|| err("not a ferroshap native model (bad magic)"))?;
    let mut r = Reader(rest);
    let n_features = r.usize()?;
    let n_outputs = r.count(8, "outputs")?;
    let leaf_width = r.usize()?;
    let input = match r.u8()? {
        0 => InputPrecision::F64,
        1 => InputPrecision::F32,
        v => return Err(err(format!("bad input precision {v}"))),
    };
    let zero_below_1e35 = r.u8()? != 0;
    let category = match r.u8()? {
        0 => CategoryRule::XGBoost,
        1 => CategoryRule::LightGBM,
        2 => CategoryRule::Sklearn,
        v => return Err(err(format!("bad category rule {v}"))),
    };
    let link = match r.u8()? {
        0 => Link::Identity,
        1 => Link::Logistic,
        2 => Link::Softmax,
        3 => Link::Exp,
        v => return Err(err(format!("bad link {v}"))),
    };
    let objective = r.str()?;
    let feature_names = match r.u8()? {
        0 => None,
        _ => {
            let count = r.count(8, "feature names")?;
            Some((0..count).map(|_| r.str()).collect::<Result<Vec<_>>>()?)
        }
    };
    let n_flags = r.count(1, "categorical flags")?;
    let categorical_features = (0..n_flags)
        .map(|_| r.u8().map(|v| v != 0))
        .collect::<Result<Vec<_>>>()?;
    let base_offset = r.f64s()?;
    if base_offset.len() != n_outputs {
        return Err(err("base offsets do not match the number of outputs"));
    }
    if leaf_width == 0 || leaf_width > n_outputs {
        return Err(err(format!(
            "leaf width {leaf_width} is not between 1 and the {n_outputs} outputs"
        )));
    }
    // The smallest tree (one leaf) takes more than 30 bytes.
    let n_trees = r.count(30, "trees")?;
    let mut trees = Vec::with_capacity(n_trees);
    for _ in 0..n_trees {
        // A node takes at least 17 bytes.
        let n = r.count(17, "nodes")?;
        let output = r.usize()?;
        let categories_go_left = r.u8()? != 0;
        let mut raw = RawTree {
            left: Vec::with_capacity(n),
            right: Vec::with_capacity(n),
            feature: Vec::with_capacity(n),
            threshold: Vec::with_capacity(n),
            default_left: Vec::with_capacity(n),
            zero_is_missing: Vec::with_capacity(n),
            categories: Vec::with_capacity(n),
            categories_go_left,
            cover: Vec::with_capacity(n),
            value: Vec::new(),
            output,
        };
        let mut leaf_values = Vec::new();
        for i in 0..n {
            let flags = r.u8()?;
            raw.default_left.push(flags & NODE_DEFAULT_LEFT != 0);
            raw.zero_is_missing.push(flags & NODE_ZERO_IS_MISSING != 0);
            raw.cover.push(r.f64()?);
            if flags & NODE_LEAF != 0 {
                raw.left.push(-1);
                raw.right.push(-1);
                raw.feature.push(0);
                raw.threshold.push(0.0);
                raw.categories.push(None);
                for _ in 0..leaf_width {
                    leaf_values.push((i, r.f64()?));
                }
                continue;
            }
            raw.left.push(i64::from(r.u32()?));
            raw.right.push(i64::from(r.u32()?));
            raw.feature.push(i64::from(r.u32()?));
            raw.threshold.push(r.f64()?);
            raw.categories.push(if flags & NODE_CATEGORICAL != 0 {
                let count = r.count(4, "categories")?;
                Some((0..count).map(|_| r.u32()).collect::<Result<Vec<_>>>()?)
            } else {
                None
            });
        }
        // A binary tree has more leaves than internal nodes, so the value array (read leaf
        // values and zeros elsewhere) is at most twice what the buffer held.
        if 2 * leaf_values.len() <= n * leaf_width {
            return Err(err("a tree has no more leaves than internal nodes"));
        }
        raw.value = vec![0.0; n * leaf_width];
        for (k, (node, v)) in leaf_values.into_iter().enumerate() {
            raw.value[node * leaf_width + k % leaf_width] = v;
        }
        trees.push(raw);
    }
    if !r.0.is_empty() {
        return Err(err(format!("{} bytes after the last tree", r.0.len())));
    }
    TreeEnsemble::new(
        EnsembleSpec {
            n_features,
            n_outputs,
            leaf_width,
            base_offset,
            rules: SplitRules {
                input,
                zero_below_1e35,
                category,
            },
            link,
            objective,
            feature_names,
            categorical_features,
        },
        trees,
    )
}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn usize(&mut self, v: usize) {
        self.0.extend_from_slice(&(v as u64).to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f64(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f64s(&mut self, v: &[f64]) {
        self.usize(v.len());
        v.iter().for_each(|&x| self.f64(x));
    }
    fn str(&mut self, s: &str) {
        self.usize(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        let (head, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or_else(|| err("truncated"))?;
        self.0 = rest;
        Ok(*head)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take::<1>()?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    fn usize(&mut self) -> Result<usize> {
        usize::try_from(u64::from_le_bytes(self.take()?)).map_err(|_| err("count out of range"))
    }
    fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(self.take()?))
    }
    /// A count of things taking at least `min_bytes` each, checked against the bytes left.
    fn count(&mut self, min_bytes: usize, what: &str) -> Result<usize> {
        let n = self.usize()?;
        if n.saturating_mul(min_bytes) > self.0.len() {
            return Err(err(format!(
                "{n} {what} do not fit in the {} bytes left",
                self.0.len()
            )));
        }
        Ok(n)
    }
    fn f64s(&mut self) -> Result<Vec<f64>> {
        let n = self.count(8, "values")?;
        (0..n).map(|_| self.f64()).collect()
    }
    fn str(&mut self) -> Result<String> {
        let n = self.count(1, "string bytes")?;
        let (s, rest) = self.0.split_at(n);
        self.0 = rest;
        String::from_utf8(s.to_vec()).map_err(|_| err("a string is not UTF-8"))
    }
}
