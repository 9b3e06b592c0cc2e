//! LightGBM's JSON model dump (`Booster.dump_model()`, as JSON text).
//!
//! The dump nests each tree's nodes (`left_child` / `right_child` objects) and spells out what
//! the text model packs into bits: `decision_type` is `"<="` or `"=="`, `missing_type` is
//! `"None"`, `"Zero"` or `"NaN"`, and a categorical `threshold` lists its categories as
//! `"1||3||5"`. Numbers are printed to round-trip, so the dump routes and explains exactly like
//! the text model (see [`super::lightgbm`] for LightGBM's routing rules).

use super::check_declared;
use super::json;
use super::lightgbm::{numeric_missing, objective_link};
use super::ubjson::Value;
use crate::ensemble::{
    EnsembleSpec, LinearLeaves, LinearTreeEnsemble, RawTree, SplitRules, TreeEnsemble,
};
use crate::error::{Error, Result};

const FORMAT: &str = "LightGBM JSON dump";

/// A dump nests two JSON levels per tree level; this bounds trees to 500 levels.
const MAX_NESTING: usize = 1000;

fn err(message: impl Into<String>) -> Error {
    Error::format(FORMAT, message)
}

/// Parses `json.dumps(booster.dump_model())`. Linear trees are refused, as by
/// [`super::lightgbm::from_text`]; read them with [`linear_from_dump`].
pub fn from_dump(dump: &[u8]) -> Result<TreeEnsemble> {
    let (ensemble, linear) = parse(dump)?;
    if linear.iter().any(Option::is_some) {
        return Err(Error::Unsupported(
            "LightGBM linear_tree models: linear trees are not supported yet by this model \
             reader; ferroshap explains them with background data (interventional)"
                .into(),
        ));
    }
    Ok(ensemble)
}

/// Parses a dump whose trees may be linear (leaves with `leaf_const`, `leaf_features`,
/// `leaf_coeff`).
pub fn linear_from_dump(dump: &[u8]) -> Result<LinearTreeEnsemble> {
    let (ensemble, linear) = parse(dump)?;
    LinearTreeEnsemble::new(ensemble, linear)
}

fn parse(dump: &[u8]) -> Result<(TreeEnsemble, Vec<Option<LinearLeaves>>)> {
    let doc = json::parse_as(dump, FORMAT, MAX_NESTING)?;
    let count = |key: &str| -> Result<Option<usize>> {
        doc.get(key)
            .map(|v| match v {
                Value::Int(i) => usize::try_from(*i)
                    .map_err(|_| err(format!("{key} = {i} is not a non-negative integer"))),
                _ => Err(err(format!("{key} is not an integer"))),
            })
            .transpose()
    };
    let max_feature = count("max_feature_idx")?
        .ok_or_else(|| err("no max_feature_idx: not a LightGBM dump_model() document"))?;
    // Every feature has a name and an info entry in the dump.
    let n_features = check_declared(
        FORMAT,
        "max_feature_idx + 1",
        max_feature.saturating_add(1),
        dump.len(),
        "the dump",
    )?;
    let per_iteration = match count("num_tree_per_iteration")? {
        Some(n) => n,
        None => count("num_class")?.unwrap_or(1),
    };
    if per_iteration == 0 || per_iteration > dump.len() {
        return Err(err(format!(
            "num_tree_per_iteration = {per_iteration} is not a number of outputs"
        )));
    }
    let objective = doc.get("objective").and_then(Value::as_str).unwrap_or("");
    let link = objective_link(objective.trim())?;
    let feature_names = match doc.get("feature_names") {
        Some(v) => {
            let names = v
                .as_array()
                .and_then(|a| {
                    a.iter()
                        .map(|s| s.as_str().map(str::to_string))
                        .collect::<Option<Vec<_>>>()
                })
                .ok_or_else(|| err("feature_names is not a list of strings"))?;
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
    // feature_infos: a categorical feature lists its category values.
    let mut categorical = Vec::new();
    if let (Some(Value::Object(infos)), Some(names)) = (doc.get("feature_infos"), &feature_names) {
        categorical = vec![false; n_features];
        for (j, name) in names.iter().enumerate() {
            if let Some((_, info)) = infos.iter().find(|(k, _)| k == name) {
                categorical[j] = info
                    .get("values")
                    .and_then(Value::as_array)
                    .is_some_and(|v| !v.is_empty());
            }
        }
    }
    let trees = doc
        .get("tree_info")
        .and_then(Value::as_array)
        .ok_or_else(|| err("tree_info is missing or not a list"))?;
    let mut raw_trees = Vec::with_capacity(trees.len());
    let mut linear = Vec::with_capacity(trees.len());
    for (t, info) in trees.iter().enumerate() {
        let structure = info
            .get("tree_structure")
            .ok_or_else(|| err(format!("tree {t} has no tree_structure")))?;
        let (raw, leaves) =
            read_tree(structure, t % per_iteration).map_err(|m| err(format!("tree {t}: {m}")))?;
        raw_trees.push(raw);
        linear.push(leaves);
    }
    let ensemble = TreeEnsemble::new(
        EnsembleSpec {
            n_features,
            n_outputs: per_iteration,
            leaf_width: 1,
            base_offset: vec![0.0; per_iteration],
            rules: SplitRules::LIGHTGBM,
            link,
            objective: objective.trim().to_string(),
            feature_names,
            categorical_features: categorical,
        },
        raw_trees,
    )?;
    Ok((ensemble, linear))
}

/// One tree's nested nodes into node arrays, numbered in depth-first order, with an explicit
/// stack (no recursion on the input's depth).
fn read_tree(
    root: &Value,
    output: usize,
) -> std::result::Result<(RawTree, Option<LinearLeaves>), String> {
    // Leaf models in node order: (node, const, features, coefficients).
    let mut models: Vec<(usize, f64, Vec<i64>, Vec<f64>)> = Vec::new();
    let mut raw = RawTree {
        categories_go_left: true,
        output,
        ..RawTree::default()
    };
    // (node, index of the parent's child slot to fill: (parent, is_left)).
    let mut stack: Vec<(&Value, Option<(usize, bool)>)> = vec![(root, None)];
    while let Some((node, parent)) = stack.pop() {
        let i = raw.left.len();
        if let Some((p, is_left)) = parent {
            if is_left {
                raw.left[p] = i as i64;
            } else {
                raw.right[p] = i as i64;
            }
        }
        raw.left.push(-1);
        raw.right.push(-1);
        let number = |key: &str| node.get(key).and_then(Value::as_f64);
        if node.get("split_index").is_none() {
            if let Some(constant) = node.get("leaf_const") {
                let constant = constant
                    .as_f64()
                    .ok_or_else(|| format!("leaf {i}: leaf_const is not a number"))?;
                let list = |key: &str| {
                    node.get(key)
                        .and_then(Value::as_array)
                        .ok_or_else(|| format!("leaf {i}: {key} is not a list"))
                };
                let features = list("leaf_features")?
                    .iter()
                    .map(|f| match f {
                        Value::Int(f) => Some(*f),
                        _ => None,
                    })
                    .collect::<Option<Vec<i64>>>()
                    .ok_or_else(|| format!("leaf {i}: leaf_features are not integers"))?;
                let coeffs = list("leaf_coeff")?
                    .iter()
                    .map(Value::as_f64)
                    .collect::<Option<Vec<f64>>>()
                    .ok_or_else(|| format!("leaf {i}: leaf_coeff are not numbers"))?;
                models.push((i, constant, features, coeffs));
            }
            let value =
                number("leaf_value").ok_or_else(|| format!("leaf {i} has no leaf_value"))?;
            raw.value.push(value);
            // Older dumps may lack counts; without data a node gets cover 1 (equal weights).
            raw.cover.push(number("leaf_count").unwrap_or(1.0));
            raw.feature.push(0);
            raw.threshold.push(0.0);
            raw.default_left.push(false);
            raw.zero_is_missing.push(false);
            raw.categories.push(None);
            continue;
        }
        raw.value.push(0.0);
        raw.cover.push(number("internal_count").unwrap_or(1.0));
        let feature = node
            .get("split_feature")
            .and_then(|v| match v {
                Value::Int(f) => Some(*f),
                _ => None,
            })
            .ok_or_else(|| format!("split {i} has no integer split_feature"))?;
        raw.feature.push(feature);
        let default_bit = matches!(node.get("default_left"), Some(Value::Bool(true)));
        let threshold = node.get("threshold");
        match node.get("decision_type").and_then(Value::as_str) {
            Some("==") => {
                let text = threshold
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("categorical split {i} has no \"a||b\" threshold"))?;
                let cats = text
                    .split("||")
                    .map(|c| c.trim().parse::<u32>())
                    .collect::<std::result::Result<Vec<u32>, _>>()
                    .map_err(|_| format!("split {i}: bad category list {text:?}"))?;
                raw.categories.push(Some(cats));
                raw.threshold.push(0.0);
                // CategoricalDecision sends NaN right whatever the missing type.
                raw.default_left.push(false);
                raw.zero_is_missing.push(false);
            }
            Some("<=") => {
                let t = threshold
                    .and_then(Value::as_f64)
                    .ok_or_else(|| format!("split {i} has no numeric threshold"))?;
                let missing = match node.get("missing_type").and_then(Value::as_str) {
                    Some("None") | None => 0,
                    Some("Zero") => 1,
                    Some("NaN") => 2,
                    Some(other) => {
                        return Err(format!("split {i}: unknown missing_type {other:?}"));
                    }
                };
                let (default_left, zero) = numeric_missing(missing, default_bit, t)
                    .expect("missing types 0..=2 are known");
                raw.categories.push(None);
                raw.threshold.push(t);
                raw.default_left.push(default_left);
                raw.zero_is_missing.push(zero);
            }
            other => return Err(format!("split {i}: unknown decision_type {other:?}")),
        }
        let left = node.get("left_child");
        let right = node.get("right_child");
        match (left, right) {
            (Some(l), Some(r)) => {
                stack.push((r, Some((i, false))));
                stack.push((l, Some((i, true))));
            }
            _ => return Err(format!("split {i} does not have two children")),
        }
    }
    if raw.categories.iter().all(Option::is_none) {
        raw.categories.clear();
    }
    if models.is_empty() {
        return Ok((raw, None));
    }
    let n_leaves = raw.left.iter().filter(|&&l| l < 0).count();
    if models.len() != n_leaves {
        return Err(format!(
            "{} of the {n_leaves} leaves have a linear model (leaf_const): a linear tree needs one \
             per leaf",
            models.len()
        ));
    }
    let mut leaves = LinearLeaves::with_nodes(raw.left.len());
    for (node, constant, features, coeffs) in &models {
        leaves
            .set_leaf(*node, *constant, features, coeffs)
            .map_err(|m| format!("leaf node {node}: {m}"))?;
    }
    Ok((raw, Some(leaves)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DUMP: &str = r#"{"name": "tree", "version": "v4", "num_class": 1,
        "num_tree_per_iteration": 1, "max_feature_idx": 1, "objective": "regression",
        "feature_names": ["a", "b"], "tree_info": [{"tree_index": 0, "num_leaves": 2,
        "tree_structure": {"split_index": 0, "split_feature": 1, "threshold": 0.5,
        "decision_type": "<=", "default_left": false, "missing_type": "NaN",
        "internal_count": 10, "left_child": {"leaf_index": 0, "leaf_value": -1.5,
        "leaf_count": 6}, "right_child": {"leaf_index": 1, "leaf_value": 2.5,
        "leaf_count": 4}}}]}"#;

    #[test]
    fn reads_a_dumped_tree() {
        let m = from_dump(DUMP.as_bytes()).unwrap();
        assert_eq!((m.n_features(), m.trees().len()), (2, 1));
        let x = ndarray::array![[0.0f64, 0.5], [0.0, 0.6], [0.0, f64::NAN]];
        let p = m.predict_margin(x.view()).unwrap();
        assert_eq!(p.column(0).to_vec(), vec![-1.5, 2.5, 2.5]);
    }

    #[test]
    fn reads_linear_leaves_and_refuses_them_as_constant_trees() {
        let half = DUMP.replace(
            r#""leaf_value": 2.5,"#,
            r#""leaf_value": 2.5, "leaf_const": 1.0, "leaf_features": [0], "leaf_coeff": [2.0],"#,
        );
        assert!(linear_from_dump(half.as_bytes()).is_err());
        let linear = half.replace(
            r#""leaf_value": -1.5,"#,
            r#""leaf_value": -1.5, "leaf_const": -1.5, "leaf_features": [], "leaf_coeff": [],"#,
        );
        assert!(matches!(
            from_dump(linear.as_bytes()),
            Err(Error::Unsupported(_))
        ));
        let m = linear_from_dump(linear.as_bytes()).unwrap();
        assert!(m.is_linear());
        // Right leaf: 1 + 2 x0, or its constant 2.5 when x0 is NaN.
        let x = ndarray::array![[3.0f64, 0.6], [f64::NAN, 0.6], [3.0, 0.4]];
        let p = m.predict_margin(x.view()).unwrap();
        assert_eq!(p.column(0).to_vec(), vec![7.0, 2.5, -1.5]);
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        for (from, to) in [
            (r#""decision_type": "<=""#, r#""decision_type": "<""#),
            (r#""missing_type": "NaN""#, r#""missing_type": "Maybe""#),
            (r#""split_feature": 1"#, r#""split_feature": 5"#),
            (
                r#""max_feature_idx": 1"#,
                r#""max_feature_idx": 99999999999"#,
            ),
            (r#""leaf_value": 2.5"#, r#""leaf_value": "x""#),
        ] {
            let bad = DUMP.replace(from, to);
            assert!(from_dump(bad.as_bytes()).is_err(), "{to}");
        }
    }
}
