//! LightGBM text models (`save_model("*.txt")`, `model_to_string()`).
//!
//! Each `Tree=` block numbers internal nodes `0..num_leaves-1` and leaves after them; a child
//! `c < 0` is leaf `!c`. Routing follows LightGBM's `NumericalDecision` / `CategoricalDecision`:
//!
//! - numeric, missing type None: NaN is read as 0 and compared, so it goes where 0 goes;
//! - numeric, missing type Zero: 0 (and NaN, read as 0) go to the default child;
//! - numeric, missing type NaN: NaN goes to the default child, 0 is compared;
//! - categorical: NaN and negative values go right; category `c` goes left iff its bit is
//!   set in the node's `cat_threshold` words.
//!
//! Leaf values already include shrinkage and the initial score, so the base offset is 0.
//! Random-forest models (`average_output`) keep the plain sum of their trees as the margin, as
//! LightGBM's `raw_score=True` does.

use std::collections::HashMap;

use crate::ensemble::{
    EnsembleSpec, LinearLeaves, LinearTreeEnsemble, Link, RawTree, SplitRules, TreeEnsemble,
};
use crate::error::{Error, Result};
use crate::formats::check_declared;

const FORMAT: &str = "LightGBM text";

fn err(message: impl Into<String>) -> Error {
    Error::format(FORMAT, message)
}

/// Parses a LightGBM text model. Linear trees (`linear_tree=True`) are refused: their leaves
/// are linear models that the ensemble does not hold; read them with [`linear_from_text`].
pub fn from_text(text: &str) -> Result<TreeEnsemble> {
    let (ensemble, linear) = parse(text)?;
    if linear.iter().any(Option::is_some) {
        return Err(Error::Unsupported(
            "LightGBM linear_tree models: linear trees are not supported yet by this \
             model reader; ferroshap explains them with background data (interventional)"
                .into(),
        ));
    }
    Ok(ensemble)
}

/// Parses a LightGBM text model whose trees may be linear (`linear_tree=True`): the trees with
/// their constant leaves (`leaf_value`, LightGBM's fallback when a leaf's feature is NaN) and
/// each linear tree's leaf models.
pub fn linear_from_text(text: &str) -> Result<LinearTreeEnsemble> {
    let (ensemble, linear) = parse(text)?;
    LinearTreeEnsemble::new(ensemble, linear)
}

fn parse(text: &str) -> Result<(TreeEnsemble, Vec<Option<LinearLeaves>>)> {
    let mut lines = text.lines().map(str::trim_end);
    let mut header: HashMap<&str, &str> = HashMap::new();
    let mut blocks: Vec<(usize, HashMap<&str, &str>)> = Vec::new();
    let mut ended = false;
    for line in lines.by_ref() {
        if line == "end of trees" {
            ended = true;
            break;
        }
        if let Some(index) = line.strip_prefix("Tree=") {
            let index = index
                .parse::<usize>()
                .map_err(|_| err(format!("bad tree header {line:?}")))?;
            blocks.push((index, HashMap::new()));
            continue;
        }
        let (key, value) = line.split_once('=').unwrap_or((line, ""));
        match blocks.last_mut() {
            Some((_, block)) => block.insert(key, value),
            None => header.insert(key, value),
        };
    }
    if !ended {
        return Err(err("truncated: no 'end of trees' line"));
    }
    if !header.contains_key("version") && !header.contains_key("max_feature_idx") {
        return Err(err("no model header (version=, max_feature_idx=)"));
    }

    // Every feature has a name and an info entry in the header, and every output at least one
    // tree: a count beyond the file's length is corrupt.
    let declared =
        |key: &str, count: usize| check_declared(FORMAT, key, count, text.len(), "the file");
    let n_features = declared(
        "max_feature_idx + 1",
        header_int(&header, "max_feature_idx")?.saturating_add(1),
    )?;
    let num_class = match header.get("num_class") {
        Some(_) => declared("num_class", header_int(&header, "num_class")?)?,
        None => 1,
    };
    let per_iteration = match header.get("num_tree_per_iteration") {
        Some(_) => declared(
            "num_tree_per_iteration",
            header_int(&header, "num_tree_per_iteration")?,
        )?,
        None => num_class,
    };
    if per_iteration == 0 {
        return Err(err("num_tree_per_iteration is 0"));
    }
    let objective = header.get("objective").copied().unwrap_or("").trim();
    let link = objective_link(objective)?;

    let feature_names = match header.get("feature_names") {
        Some(line) => {
            // LightGBM joins the names with single spaces (it has already turned spaces inside
            // names into '_'); a tab inside a name survives, so split on ' ' only.
            let names: Vec<String> = line
                .trim_end_matches('\r')
                .split(' ')
                .map(str::to_string)
                .collect();
            if names.len() != n_features {
                return Err(err(format!(
                    "feature_names has {} names for {n_features} features",
                    names.len()
                )));
            }
            Some(names)
        }
        None => None,
    };
    // feature_infos: "[min:max]" numeric, "none" unused, "a:b:c" the categories of a categorical.
    let mut categorical = vec![false; n_features];
    if let Some(line) = header.get("feature_infos") {
        for (flag, info) in categorical.iter_mut().zip(line.split_whitespace()) {
            *flag = info != "none" && !info.starts_with('[');
        }
    }

    let mut raw_trees = Vec::with_capacity(blocks.len());
    let mut linear = Vec::with_capacity(blocks.len());
    for (t, (index, block)) in blocks.iter().enumerate() {
        if *index != t {
            return Err(err(format!("tree {t} is labelled Tree={index}")));
        }
        let in_tree = |e| match e {
            Error::Format { message, .. } => err(format!("tree {t}: {message}")),
            other => other,
        };
        let raw = read_tree(block, t % per_iteration).map_err(in_tree)?;
        linear.push(read_linear_leaves(block, raw.left.len()).map_err(in_tree)?);
        raw_trees.push(raw);
    }

    let ensemble = TreeEnsemble::new(
        EnsembleSpec {
            n_features,
            n_outputs: per_iteration,
            leaf_width: 1,
            base_offset: vec![0.0; per_iteration],
            rules: SplitRules::LIGHTGBM,
            link,
            objective: objective.to_string(),
            feature_names,
            categorical_features: categorical,
        },
        raw_trees,
    )?;
    Ok((ensemble, linear))
}

/// The leaf models of a linear tree (`is_linear=1`), indexed by node like its `RawTree` (leaf
/// `l` is node `num_leaves - 1 + l`); `None` for a constant tree.
fn read_linear_leaves(block: &HashMap<&str, &str>, n_nodes: usize) -> Result<Option<LinearLeaves>> {
    if !block
        .get("is_linear")
        .is_some_and(|v| v.trim() != "0" && !v.trim().is_empty())
    {
        return Ok(None);
    }
    let leaves = n_nodes.div_ceil(2);
    let inner = leaves - 1;
    let constant: Vec<f64> = array(block, "leaf_const", leaves)?;
    let counts: Vec<usize> = array(block, "num_features", leaves)?;
    // Every listed feature takes at least two bytes of the leaf_features line.
    let total = check_declared(
        FORMAT,
        "the sum of num_features",
        counts
            .iter()
            .try_fold(0usize, |a, &c| a.checked_add(c))
            .unwrap_or(usize::MAX),
        line_len(block, "leaf_features"),
        "the leaf_features line",
    )?;
    let features: Vec<i64> = array(block, "leaf_features", total)?;
    let coeffs: Vec<f64> = array(block, "leaf_coeff", total)?;
    let mut leaf_models = LinearLeaves::with_nodes(n_nodes);
    let mut start = 0;
    for (l, &count) in counts.iter().enumerate() {
        let node = inner + l;
        leaf_models
            .set_leaf(
                node,
                constant[l],
                &features[start..start + count],
                &coeffs[start..start + count],
            )
            .map_err(|m| err(format!("leaf {l}: {m}")))?;
        start += count;
    }
    Ok(Some(leaf_models))
}

/// The inverse link of an objective line such as `binary sigmoid:1` or `multiclass num_class:3`.
pub(super) fn objective_link(objective: &str) -> Result<Link> {
    let name = objective.split_whitespace().next().unwrap_or("");
    Ok(match name {
        "binary" | "multiclassova" | "cross_entropy" => Link::Logistic,
        "multiclass" => Link::Softmax,
        "poisson" | "gamma" | "tweedie" => Link::Exp,
        ""
        | "custom"
        | "none"
        | "regression"
        | "regression_l1"
        | "huber"
        | "fair"
        | "quantile"
        | "mape"
        | "cross_entropy_lambda"
        | "lambdarank"
        | "rank_xendcg" => Link::Identity,
        other => {
            return Err(Error::Unsupported(format!("LightGBM objective '{other}'")));
        }
    })
}

fn header_int(header: &HashMap<&str, &str>, key: &str) -> Result<usize> {
    let v = header
        .get(key)
        .ok_or_else(|| err(format!("missing header line {key}=")))?;
    v.trim()
        .parse()
        .map_err(|_| err(format!("{key}={v} is not a non-negative integer")))
}

fn field<'a>(block: &HashMap<&str, &'a str>, key: &str) -> Result<&'a str> {
    block
        .get(key)
        .copied()
        .ok_or_else(|| err(format!("missing line {key}=")))
}

/// The length in bytes of a block's line (0 when it is absent).
fn line_len(block: &HashMap<&str, &str>, key: &str) -> usize {
    block.get(key).map_or(0, |v| v.len())
}

/// A space-separated array of exactly `len` entries.
fn array<T: std::str::FromStr>(
    block: &HashMap<&str, &str>,
    key: &str,
    len: usize,
) -> Result<Vec<T>> {
    let values = field(block, key)?
        .split_whitespace()
        .map(|s| {
            s.parse::<T>()
                .map_err(|_| err(format!("{key}: bad value {s:?}")))
        })
        .collect::<Result<Vec<T>>>()?;
    if values.len() != len {
        return Err(err(format!(
            "array {key} has {} entries, expected {len}",
            values.len()
        )));
    }
    Ok(values)
}

fn read_tree(block: &HashMap<&str, &str>, output: usize) -> Result<RawTree> {
    let leaves: usize = field(block, "num_leaves")?
        .trim()
        .parse()
        .map_err(|_| err("num_leaves is not a positive integer"))?;
    // Each leaf has a value in leaf_value: more leaves than that line has bytes is corrupt.
    let leaves = check_declared(
        FORMAT,
        "num_leaves",
        leaves,
        line_len(block, "leaf_value"),
        "the leaf_value line",
    )?;
    if leaves == 0 {
        return Err(err("num_leaves is 0"));
    }
    let leaf_value: Vec<f64> = array(block, "leaf_value", leaves)?;
    // Older files may lack counts; without data a node gets cover 1 (equal weights).
    let leaf_count: Vec<f64> = match block.get("leaf_count") {
        Some(_) => array(block, "leaf_count", leaves)?,
        None => vec![1.0; leaves],
    };
    let inner = leaves - 1;
    let n = inner + leaves;
    if inner == 0 {
        return Ok(RawTree {
            left: vec![-1],
            right: vec![-1],
            feature: vec![0],
            threshold: vec![0.0],
            default_left: vec![false],
            cover: leaf_count,
            value: leaf_value,
            output,
            ..RawTree::default()
        });
    }
    let feature: Vec<i64> = array(block, "split_feature", inner)?;
    let thresholds: Vec<f64> = array(block, "threshold", inner)?;
    let decision: Vec<u32> = array(block, "decision_type", inner)?;
    let left_child: Vec<i64> = array(block, "left_child", inner)?;
    let right_child: Vec<i64> = array(block, "right_child", inner)?;
    let internal_count: Vec<f64> = match block.get("internal_count") {
        Some(_) => array(block, "internal_count", inner)?,
        None => vec![1.0; inner],
    };
    let num_cat: usize = match block.get("num_cat") {
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| err("num_cat is not an integer"))?,
        None => 0,
    };
    // Each category set has a boundary in cat_boundaries.
    let num_cat = check_declared(
        FORMAT,
        "num_cat",
        num_cat,
        line_len(block, "cat_boundaries"),
        "the cat_boundaries line",
    )?;
    let (boundaries, words): (Vec<usize>, Vec<u32>) = if num_cat > 0 {
        let b: Vec<usize> = array(block, "cat_boundaries", num_cat + 1)?;
        let words: Vec<u32> = field(block, "cat_threshold")?
            .split_whitespace()
            .map(|s| {
                s.parse()
                    .map_err(|_| err(format!("cat_threshold: bad value {s:?}")))
            })
            .collect::<Result<_>>()?;
        if b[0] != 0 || b.windows(2).any(|w| w[0] > w[1]) || b[num_cat] != words.len() {
            return Err(err(format!(
                "cat_boundaries do not cover the {} cat_threshold words",
                words.len()
            )));
        }
        (b, words)
    } else {
        (Vec::new(), Vec::new())
    };

    let node = |c: i64| -> Result<i64> {
        if c >= 0 {
            if (c as u64) < inner as u64 {
                Ok(c)
            } else {
                Err(err(format!(
                    "child {c} is not one of the {inner} internal nodes"
                )))
            }
        } else {
            let leaf = !c as u64;
            if leaf < leaves as u64 {
                Ok((inner as u64 + leaf) as i64)
            } else {
                Err(err(format!("child {c} is leaf {leaf} of {leaves}")))
            }
        }
    };

    let mut raw = RawTree {
        left: vec![-1; n],
        right: vec![-1; n],
        feature: vec![0; n],
        threshold: vec![0.0; n],
        default_left: vec![false; n],
        zero_is_missing: vec![false; n],
        categories: Vec::new(),
        categories_go_left: true,
        cover: internal_count,
        value: vec![0.0; n],
        output,
    };
    raw.cover.extend_from_slice(&leaf_count);
    raw.value[inner..].copy_from_slice(&leaf_value);
    for i in 0..inner {
        raw.left[i] = node(left_child[i])?;
        raw.right[i] = node(right_child[i])?;
        raw.feature[i] = feature[i];
        let dt = decision[i];
        let default_bit = dt & 2 != 0;
        if dt & 1 != 0 {
            let t = thresholds[i];
            let idx = (t >= 0.0 && t.fract() == 0.0 && t < num_cat as f64)
                .then_some(t as usize)
                .ok_or_else(|| {
                    err(format!(
                        "node {i}: categorical threshold {t} is not one of {num_cat} category sets"
                    ))
                })?;
            let set: Vec<u32> = words[boundaries[idx]..boundaries[idx + 1]]
                .iter()
                .enumerate()
                .flat_map(|(w, &bits)| {
                    (0..32u32)
                        .filter(move |b| bits >> b & 1 == 1)
                        .map(move |b| w as u32 * 32 + b)
                })
                .collect();
            if raw.categories.is_empty() {
                raw.categories = vec![None; n];
            }
            raw.categories[i] = Some(set);
            // CategoricalDecision sends NaN right whatever the missing type.
            raw.default_left[i] = false;
            continue;
        }
        let t = thresholds[i];
        raw.threshold[i] = t;
        (raw.default_left[i], raw.zero_is_missing[i]) =
            numeric_missing((dt >> 2) & 3, default_bit, t)
                .ok_or_else(|| err(format!("node {i}: bad decision_type {dt}")))?;
    }
    Ok(raw)
}

/// LightGBM's `NumericalDecision` for missing type 0 (None), 1 (Zero) or 2 (NaN): where NaN
/// goes (`default_left` of the node) and whether 0 is missing; `None` for another type.
pub(super) fn numeric_missing(
    missing_type: u32,
    default_left: bool,
    threshold: f64,
) -> Option<(bool, bool)> {
    match missing_type {
        // None: NaN is read as 0 and compared like any value.
        0 => Some((0.0 <= threshold, false)),
        // Zero: 0 is missing, and NaN (read as 0) with it.
        1 => Some((default_left, true)),
        2 => Some((default_left, false)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objective_links() {
        assert_eq!(objective_link("binary sigmoid:1").unwrap(), Link::Logistic);
        assert_eq!(
            objective_link("multiclass num_class:3").unwrap(),
            Link::Softmax
        );
        assert_eq!(objective_link("tweedie").unwrap(), Link::Exp);
        assert!(matches!(
            objective_link("mystery"),
            Err(Error::Unsupported(_))
        ));
    }
}
