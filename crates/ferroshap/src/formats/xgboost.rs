//! XGBoost models saved with `save_model("*.json")` or `save_model("*.ubj")`.
//!
//! Both encodings decode into one document tree (`Value`) and go through the same model
//! builder. XGBoost routes `float32(x) < split_condition`, so thresholds are stored as the
//! next f64 below the float32 split condition: with f32-rounded inputs, `x <= t` is then the
//! same test. Leaf values are `split_conditions` at leaves (times the DART tree weight), never
//! `base_weights`; `base_score` is stored in response space and turned into a margin here.

use super::ubjson::{self, Value};
use super::{MAX_FEATURES, json};
use crate::ensemble::{EnsembleSpec, Link, RawTree, SplitRules, TreeEnsemble};
use crate::error::{Error, Result};

const JSON: &str = "XGBoost JSON";
const UBJSON: &str = "XGBoost UBJSON";

/// Parses an XGBoost JSON model (`save_model("model.json")`).
pub fn from_json(bytes: &[u8]) -> Result<TreeEnsemble> {
    let doc = json::parse(bytes)?;
    build(&doc, JSON)
}

/// Parses an XGBoost UBJSON model (`save_model("model.ubj")`, `save_raw("ubj")`).
pub fn from_ubjson(bytes: &[u8]) -> Result<TreeEnsemble> {
    build(&ubjson::decode(bytes)?, UBJSON)
}

/// How an objective's `base_score` becomes a margin, and its inverse link.
pub(super) fn objective_kind(name: &str) -> Option<(BaseTransform, Link)> {
    use BaseTransform::*;
    Some(match name {
        "binary:logistic" | "reg:logistic" => (Logit, Link::Logistic),
        "multi:softprob" | "multi:softmax" => (Identity, Link::Softmax),
        "count:poisson" | "reg:gamma" | "reg:tweedie" | "survival:cox" | "survival:aft" => {
            (Log, Link::Exp)
        }
        "reg:squarederror"
        | "reg:linear"
        | "reg:squaredlogerror"
        | "reg:pseudohubererror"
        | "reg:absoluteerror"
        | "reg:quantileerror"
        | "reg:expectileerror"
        | "binary:logitraw"
        | "binary:hinge"
        | "rank:pairwise"
        | "rank:ndcg"
        | "rank:map" => (Identity, Link::Identity),
        _ => return None,
    })
}

#[derive(Clone, Copy)]
pub(super) enum BaseTransform {
    Identity,
    Logit,
    Log,
}

impl BaseTransform {
    /// The margin XGBoost predicts from: `base_score` is a float32 inside XGBoost, turned into a
    /// margin in float32 arithmetic (`-logf(1/p - 1)`, `logf(p)`), bit for bit as its
    /// `ProbToMargin` does; the decimal in the file is read as the float32 it was written from.
    pub(super) fn apply(self, p: f64) -> f64 {
        let p = p as f32;
        let margin = match self {
            BaseTransform::Identity => p,
            BaseTransform::Logit => -(1.0f32 / p - 1.0f32).ln(),
            BaseTransform::Log => p.ln(),
        };
        margin as f64
    }
}

/// Looks up nested keys, naming the full path when one is missing.
pub(super) fn path<'v>(v: &'v Value, keys: &[&str], fmt: &'static str) -> Result<&'v Value> {
    let mut cur = v;
    for (i, k) in keys.iter().enumerate() {
        cur = cur
            .get(k)
            .ok_or_else(|| Error::format(fmt, format!("missing key {}", keys[..=i].join("."))))?;
    }
    Ok(cur)
}

/// XGBoost writes model parameters as strings ("3"); accept plain numbers too.
pub(super) fn param_usize(v: &Value, name: &str, fmt: &'static str) -> Result<usize> {
    let parsed = match v {
        Value::Str(s) => s.trim().parse::<usize>().ok(),
        Value::Int(i) => usize::try_from(*i).ok(),
        _ => None,
    };
    parsed.ok_or_else(|| Error::format(fmt, format!("{name} is not a non-negative integer")))
}

pub(super) fn base_score(v: &Value, fmt: &'static str) -> Result<Vec<f64>> {
    let bad = || {
        Error::format(
            fmt,
            "learner_model_param.base_score is not a number or a list",
        )
    };
    match v {
        Value::Str(s) => {
            let s = s.trim();
            let inner = s
                .strip_prefix('[')
                .and_then(|r| r.strip_suffix(']'))
                .unwrap_or(s);
            inner
                .split(',')
                .map(|p| p.trim().parse::<f64>().map_err(|_| bad()))
                .collect()
        }
        other => other.as_f64().map(|x| vec![x]).ok_or_else(bad),
    }
}

fn build(doc: &Value, fmt: &'static str) -> Result<TreeEnsemble> {
    let err = |m: String| Error::format(fmt, m);
    let learner = path(doc, &["learner"], fmt)?;
    let lmp = path(learner, &["learner_model_param"], fmt)
        .map_err(|_| err("missing key learner.learner_model_param".into()))?;
    let n_features = param_usize(
        path(lmp, &["num_feature"], fmt)?,
        "learner_model_param.num_feature",
        fmt,
    )?;
    // Features a model never splits on take no room in its file, so their count is not bounded
    // by the file's size; nothing is allocated per feature here, and the count must fit the
    // libraries' 32-bit feature indices.
    if n_features > MAX_FEATURES {
        return Err(err(format!(
            "num_feature = {n_features} is more than the {MAX_FEATURES} features XGBoost supports"
        )));
    }
    let opt_param = |key: &str, default: usize| -> Result<usize> {
        lmp.get(key).map_or(Ok(default), |v| {
            param_usize(v, &format!("learner_model_param.{key}"), fmt)
        })
    };
    let n_outputs = opt_param("num_class", 0)?
        .max(opt_param("num_target", 1)?)
        .max(1);

    let objective = path(learner, &["objective", "name"], fmt)?
        .as_str()
        .ok_or_else(|| err("learner.objective.name is not a string".into()))?
        .to_string();
    let (transform, link) = objective_kind(&objective)
        .ok_or_else(|| Error::Unsupported(format!("XGBoost objective '{objective}'")))?;

    let mut base = match lmp.get("base_score") {
        Some(v) => base_score(v, fmt)?,
        None => vec![0.5],
    };
    // Every output has its own base score or at least one tree; more outputs than both is
    // corrupt (checked before the base scores are spread over the outputs).
    let n_trees = path(learner, &["gradient_booster"], fmt)
        .ok()
        .and_then(|b| b.get("model").or_else(|| b.get("gbtree")?.get("model")))
        .and_then(|m| m.get("trees"))
        .and_then(Value::as_array)
        .map_or(0, <[Value]>::len);
    if n_outputs > base.len().max(n_trees).max(1) {
        return Err(err(format!(
            "the model declares {n_outputs} outputs (num_class / num_target) but has only \
             {n_trees} trees and {} base scores",
            base.len()
        )));
    }
    if base.len() == 1 {
        base = vec![base[0]; n_outputs];
    }
    if base.len() != n_outputs {
        return Err(err(format!(
            "base_score has {} entries for {n_outputs} outputs",
            base.len()
        )));
    }
    let base_offset: Vec<f64> = base.iter().map(|&p| transform.apply(p)).collect();
    if let Some(i) = base_offset.iter().position(|b| !b.is_finite()) {
        return Err(err(format!(
            "base_score {} has no finite margin under objective {objective}",
            base[i]
        )));
    }

    let booster = path(learner, &["gradient_booster"], fmt)?;
    let name = path(booster, &["name"], fmt)?.as_str().unwrap_or("");
    // DART up to 3.3: {name: "dart", gbtree: {model}, weight_drop}; 3.4: gbtree with model.weight_drop.
    let (model, weight_drop) = match name {
        "gbtree" => {
            let model = path(booster, &["model"], fmt)
                .map_err(|_| err("missing key learner.gradient_booster.model".into()))?;
            (model, model.get("weight_drop"))
        }
        "dart" => {
            let model = path(booster, &["gbtree", "model"], fmt)
                .map_err(|_| err("missing key learner.gradient_booster.gbtree.model".into()))?;
            (model, booster.get("weight_drop"))
        }
        "gblinear" => {
            return Err(Error::Unsupported(
                "XGBoost gblinear models have no trees".into(),
            ));
        }
        other => {
            return Err(Error::Unsupported(format!("XGBoost booster '{other}'")));
        }
    };
    let trees = path(model, &["trees"], fmt)?
        .as_array()
        .ok_or_else(|| err("gradient_booster model.trees is not an array".into()))?;
    let tree_info = path(model, &["tree_info"], fmt)?
        .as_ints()
        .ok_or_else(|| err("tree_info is not an integer array".into()))?;
    if tree_info.len() != trees.len() {
        return Err(err(format!(
            "tree_info has {} entries for {} trees",
            tree_info.len(),
            trees.len()
        )));
    }
    let weights = match weight_drop {
        Some(w) => {
            let w = w
                .as_f32s()
                .ok_or_else(|| err("weight_drop is not a number array".into()))?;
            if w.len() != trees.len() {
                return Err(err(format!(
                    "weight_drop has {} entries for {} trees",
                    w.len(),
                    trees.len()
                )));
            }
            Some(w)
        }
        None => None,
    };

    let feature_names = match learner.get("feature_names") {
        Some(v) => string_list(v, "learner.feature_names", fmt)?,
        None => Vec::new(),
    };
    let feature_types = match learner.get("feature_types") {
        Some(v) => string_list(v, "learner.feature_types", fmt)?,
        None => Vec::new(),
    };
    for (what, len) in [
        ("feature_names", feature_names.len()),
        ("feature_types", feature_types.len()),
    ] {
        if len != 0 && len != n_features {
            return Err(err(format!(
                "learner.{what} has {len} entries for {n_features} features"
            )));
        }
    }
    // Flags only as long as the file lists types (the ensemble adds features it finds split
    // categorically): no allocation proportional to a declared feature count.
    let categorical: Vec<bool> = feature_types.iter().map(|t| t == "c").collect();

    // Vector-leaf models: every tree has size_leaf_vector = the number of outputs.
    let leaf_width = match trees
        .first()
        .and_then(|t| t.get("tree_param")?.get("size_leaf_vector"))
    {
        Some(v) if param_usize(v, "tree_param.size_leaf_vector", fmt)? > 1 => n_outputs,
        _ => 1,
    };
    let mut raw_trees = Vec::with_capacity(trees.len());
    for (t, tree) in trees.iter().enumerate() {
        let output = usize::try_from(tree_info[t])
            .map_err(|_| err(format!("tree_info[{t}] = {} is negative", tree_info[t])))?;
        let weight = weights.as_ref().map_or(1.0, |w| w[t] as f64);
        let raw = read_tree(tree, output, weight, leaf_width, fmt).map_err(|e| match e {
            Error::Format { message, .. } => err(format!("tree {t}: {message}")),
            other => other,
        })?;
        raw_trees.push(raw);
    }

    TreeEnsemble::new(
        EnsembleSpec {
            n_features,
            n_outputs,
            leaf_width,
            base_offset,
            rules: SplitRules::XGBOOST,
            link,
            objective,
            feature_names: (!feature_names.is_empty()).then_some(feature_names),
            categorical_features: categorical,
        },
        raw_trees,
    )
}

fn string_list(v: &Value, what: &str, fmt: &'static str) -> Result<Vec<String>> {
    v.as_array()
        .and_then(|items| {
            items
                .iter()
                .map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .ok_or_else(|| Error::format(fmt, format!("{what} is not a list of strings")))
}

/// One tree's arrays into a [`RawTree`] (the ensemble validates the structure).
fn read_tree(
    tree: &Value,
    output: usize,
    weight: f64,
    leaf_width: usize,
    fmt: &'static str,
) -> Result<RawTree> {
    let err = |m: String| Error::format(fmt, m);
    let param = path(tree, &["tree_param"], fmt)?;
    let width = match param.get("size_leaf_vector") {
        Some(v) => param_usize(v, "tree_param.size_leaf_vector", fmt)?.max(1),
        None => 1,
    };
    if width != leaf_width {
        return Err(err(format!(
            "size_leaf_vector is {width}, but the model has {leaf_width} outputs per leaf"
        )));
    }
    let n = param_usize(
        path(param, &["num_nodes"], fmt)?,
        "tree_param.num_nodes",
        fmt,
    )?;
    let ints = |key: &str| -> Result<Vec<i64>> {
        let v = path(tree, &[key], fmt)?
            .as_ints()
            .ok_or_else(|| err(format!("array {key} is not an integer array")))?;
        if v.len() != n {
            return Err(err(format!(
                "array {key} has {} entries, expected {n}",
                v.len()
            )));
        }
        Ok(v.into_owned())
    };
    let floats = |key: &str| -> Result<Vec<f32>> {
        let v = path(tree, &[key], fmt)?
            .as_f32s()
            .ok_or_else(|| err(format!("array {key} is not a number array")))?;
        if v.len() != n {
            return Err(err(format!(
                "array {key} has {} entries, expected {n}",
                v.len()
            )));
        }
        Ok(v.into_owned())
    };
    let left = ints("left_children")?;
    let right = ints("right_children")?;
    let feature = ints("split_indices")?;
    let split = floats("split_conditions")?;
    let default_left = ints("default_left")?;
    let cover = floats("sum_hessian")?;
    let split_type = match tree.get("split_type") {
        Some(_) => ints("split_type")?,
        None => vec![0; n],
    };

    let mut categories: Vec<Option<Vec<u32>>> = Vec::new();
    if split_type.contains(&1) {
        categories = vec![None; n];
        let list = |key: &str| -> Result<Vec<i64>> {
            Ok(path(tree, &[key], fmt)?
                .as_ints()
                .ok_or_else(|| err(format!("array {key} is not an integer array")))?
                .into_owned())
        };
        let nodes = list("categories_nodes")?;
        let segments = list("categories_segments")?;
        let sizes = list("categories_sizes")?;
        let cats = list("categories")?;
        if segments.len() != nodes.len() || sizes.len() != nodes.len() {
            return Err(err(
                "categories_nodes, categories_segments and categories_sizes differ in length"
                    .into(),
            ));
        }
        for k in 0..nodes.len() {
            let node = usize::try_from(nodes[k])
                .ok()
                .filter(|&i| i < n)
                .ok_or_else(|| {
                    err(format!(
                        "categories_nodes[{k}] = {} is not a node",
                        nodes[k]
                    ))
                })?;
            let (seg, size) = (segments[k], sizes[k]);
            let range = usize::try_from(seg)
                .ok()
                .zip(usize::try_from(size).ok())
                .and_then(|(s, z)| Some(s..s.checked_add(z)?))
                .filter(|r| r.end <= cats.len())
                .ok_or_else(|| {
                    err(format!(
                        "category segment {seg}+{size} is outside the {} categories",
                        cats.len()
                    ))
                })?;
            let set = cats[range]
                .iter()
                .map(|&c| {
                    u32::try_from(c)
                        .ok()
                        .filter(|&c| c < 1 << 24)
                        .ok_or_else(|| err(format!("category {c} is out of range")))
                })
                .collect::<Result<Vec<u32>>>()?;
            categories[node] = Some(set);
        }
        for i in 0..n {
            if split_type[i] == 1 && left[i] >= 0 && categories[i].is_none() {
                // A categorical split with no stored categories sends everything left.
                categories[i] = Some(Vec::new());
            } else if split_type[i] != 1 {
                categories[i] = None;
            }
        }
    }

    let mut threshold = vec![0.0; n];
    let mut value = vec![0.0; n * leaf_width];
    // Vector leaves (multi_strategy="multi_output_tree"): a leaf's right child is its index
    // into `leaf_weights`, which holds `leaf_width` values per leaf.
    let leaf_weights = match leaf_width {
        1 => None,
        _ => Some(
            path(tree, &["leaf_weights"], fmt)?
                .as_f32s()
                .ok_or_else(|| err("array leaf_weights is not a number array".into()))?,
        ),
    };
    let mut right = right;
    for i in 0..n {
        let c = split[i] as f64;
        if left[i] < 0 {
            match &leaf_weights {
                None => value[i] = c * weight,
                Some(w) => {
                    let at = usize::try_from(right[i])
                        .ok()
                        .and_then(|j| j.checked_mul(leaf_width))
                        .filter(|&a| a + leaf_width <= w.len())
                        .ok_or_else(|| {
                            err(format!(
                                "leaf {i} points at leaf vector {} outside the {} leaf_weights",
                                right[i],
                                w.len()
                            ))
                        })?;
                    for (v, &lw) in value[i * leaf_width..(i + 1) * leaf_width]
                        .iter_mut()
                        .zip(&w[at..at + leaf_width])
                    {
                        *v = lw as f64 * weight;
                    }
                    right[i] = -1;
                }
            }
        } else if categories.get(i).is_none_or(Option::is_none) {
            threshold[i] = next_down(c);
        }
    }
    Ok(drop_unreachable(RawTree {
        left,
        right,
        feature,
        threshold,
        default_left: default_left.iter().map(|&d| d != 0).collect(),
        zero_is_missing: Vec::new(),
        categories,
        categories_go_left: false,
        cover: cover.iter().map(|&c| c as f64).collect(),
        value,
        output,
    }))
}

/// Pruning (`tree_method="exact"`, the `prune` updater) leaves deleted nodes in the saved
/// arrays, unreachable from the root: keep only the reachable nodes, renumbered. A tree whose
/// walk finds a bad child index or a node reached twice is returned unchanged, for the
/// ensemble's validation to report.
fn drop_unreachable(raw: RawTree) -> RawTree {
    let n = raw.left.len();
    let mut new_index = vec![usize::MAX; n];
    let mut order = Vec::with_capacity(n);
    let mut stack = vec![0usize];
    while let Some(node) = stack.pop() {
        if node >= n || new_index[node] != usize::MAX {
            return raw;
        }
        new_index[node] = order.len();
        order.push(node);
        if raw.left[node] >= 0 {
            for child in [raw.right[node], raw.left[node]] {
                match usize::try_from(child) {
                    Ok(c) => stack.push(c),
                    Err(_) => return raw,
                }
            }
        }
    }
    if order.len() == n {
        return raw;
    }
    // Internal nodes' children were all reached; a leaf's (ignored) child may be anything.
    let remap = |c: i64| match usize::try_from(c) {
        Ok(c) => new_index.get(c).map_or(-1, |&k| k as i64),
        Err(_) => c,
    };
    let pick = |v: &[f64]| order.iter().map(|&i| v[i]).collect::<Vec<_>>();
    let width = raw.value.len() / n.max(1);
    let values = order
        .iter()
        .flat_map(|&i| raw.value[i * width..(i + 1) * width].iter().copied())
        .collect();
    RawTree {
        left: order.iter().map(|&i| remap(raw.left[i])).collect(),
        right: order.iter().map(|&i| remap(raw.right[i])).collect(),
        feature: order.iter().map(|&i| raw.feature[i]).collect(),
        threshold: pick(&raw.threshold),
        default_left: order.iter().map(|&i| raw.default_left[i]).collect(),
        zero_is_missing: Vec::new(),
        categories: match raw.categories.is_empty() {
            true => Vec::new(),
            false => order.iter().map(|&i| raw.categories[i].clone()).collect(),
        },
        categories_go_left: raw.categories_go_left,
        cover: pick(&raw.cover),
        value: values,
        output: raw.output,
    }
}

/// The largest f64 below `x` (`f64::next_down`, which needs Rust 1.86).
pub(super) fn next_down(x: f64) -> f64 {
    if x.is_nan() || x == f64::NEG_INFINITY {
        return x;
    }
    if x == 0.0 {
        return -f64::from_bits(1);
    }
    let bits = x.to_bits();
    f64::from_bits(if x > 0.0 { bits - 1 } else { bits + 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_down_is_the_f64_just_below() {
        let t = 0.95f32 as f64;
        let d = next_down(t);
        assert!(d < t && f64::from_bits(d.to_bits() + 1) == t);
        assert!(next_down(0.0) < 0.0 && next_down(-1.0) < -1.0);
    }

    #[test]
    fn base_score_scalar_and_vector() {
        let s = |t: &str| base_score(&Value::Str(t.into()), JSON).unwrap();
        assert_eq!(s("5E-1"), vec![0.5]);
        assert_eq!(s("[5E-1,2E-1]"), vec![0.5, 0.2]);
        assert!(base_score(&Value::Str("[oops]".into()), JSON).is_err());
    }

    #[test]
    fn base_margin_is_a_float32_computed_in_float32() {
        for p in [0.56, 0.065, 0.955] {
            let m = BaseTransform::Logit.apply(p);
            assert_eq!(m, m as f32 as f64);
            // Within a few float32 steps of the exact logit of the float32 base score.
            let p32 = p as f32 as f64;
            assert!((m - (p32 / (1.0 - p32)).ln()).abs() < 4.0 * f32::EPSILON as f64);
        }
        assert_eq!(BaseTransform::Identity.apply(0.1), 0.1f32 as f64);
    }
}
