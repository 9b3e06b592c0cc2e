//! XGBoost's JSON model dump: `Booster.get_dump(dump_format="json", with_stats=True)` (one JSON
//! object per tree) or `Booster.dump_model(path, dump_format="json", with_stats=True)` (a JSON
//! array of them).
//!
//! A dump holds the trees only. What it lacks (objective, base score, numbers of features and
//! classes, parallel trees) comes from [`DumpSettings`], given by the user or read from the
//! booster's `save_config()`. Numbers are printed with 9 significant digits, which read back as
//! exactly the float32 values of the saved model, so a dump routes and explains identically to
//! the model file. Routing: a numeric node sends `x < split_condition` to `yes`; a categorical
//! node (`split_condition` a list of categories) sends the listed categories to `yes`, which
//! XGBoost places on the right; missing values go to `missing`.

use std::collections::HashMap;

use super::json;
use super::ubjson::Value;
use super::xgboost::{base_score, next_down, objective_kind, param_usize, path};
use crate::ensemble::{EnsembleSpec, RawTree, SplitRules, TreeEnsemble};
use crate::error::{Error, Result};

const FORMAT: &str = "XGBoost JSON dump";
const CONFIG: &str = "XGBoost config";

/// A dump nests two JSON levels per tree level; this bounds trees to 500 levels.
const MAX_NESTING: usize = 1000;

/// What an XGBoost dump does not record.
#[derive(Debug, Clone, Default)]
pub struct DumpSettings {
    /// Objective name, e.g. `"binary:logistic"` (decides the base score's link).
    pub objective: Option<String>,
    /// `base_score` in response space, one value or one per output, as `save_config()`
    /// writes it (a probability for `binary:logistic`).
    pub base_score: Option<Vec<f64>>,
    /// Number of input features; default: one more than the largest split feature.
    pub n_features: Option<usize>,
    /// Number of outputs (`num_class` of multi-class models, `num_target`); default 1.
    pub n_outputs: Option<usize>,
    /// `num_parallel_tree` (boosted random forests); default 1.
    pub parallel_trees: Option<usize>,
    /// The booster's feature names, which the dump's `split` fields use instead of `f<i>`.
    pub feature_names: Option<Vec<String>>,
}

impl DumpSettings {
    /// Reads the settings from `Booster.save_config()`. Refuses DART boosters, whose tree
    /// weights the dump does not hold.
    pub fn from_config(config: &[u8]) -> Result<DumpSettings> {
        let doc = json::parse_as(config, CONFIG, 64)?;
        let learner = path(&doc, &["learner"], CONFIG)?;
        let lmp = path(learner, &["learner_model_param"], CONFIG)?;
        let int = |key: &str| -> Result<Option<usize>> {
            lmp.get(key)
                .map(|v| param_usize(v, &format!("learner_model_param.{key}"), CONFIG))
                .transpose()
        };
        let objective = path(learner, &["objective", "name"], CONFIG)?
            .as_str()
            .ok_or_else(|| Error::format(CONFIG, "learner.objective.name is not a string"))?;
        let booster = learner.get("gradient_booster");
        match booster.and_then(|b| b.get("name")).and_then(Value::as_str) {
            Some("dart") => {
                return Err(Error::Unsupported(
                    "XGBoost DART dumps: the dump does not hold the trees' weights; explain \
                     the saved model (save_model) instead"
                        .into(),
                ));
            }
            Some("gblinear") => {
                return Err(Error::Unsupported(
                    "XGBoost gblinear models have no trees".into(),
                ));
            }
            _ => {}
        }
        let parallel = booster
            .and_then(|b| b.get("gbtree_model_param")?.get("num_parallel_tree"))
            .map(|v| param_usize(v, "gbtree_model_param.num_parallel_tree", CONFIG))
            .transpose()?;
        let outputs = int("num_class")?
            .unwrap_or(0)
            .max(int("num_target")?.unwrap_or(1))
            .max(1);
        Ok(DumpSettings {
            objective: Some(objective.to_string()),
            base_score: lmp
                .get("base_score")
                .map(|v| base_score(v, CONFIG))
                .transpose()?,
            n_features: int("num_feature")?,
            n_outputs: Some(outputs),
            parallel_trees: parallel,
            feature_names: None,
        })
    }
}

/// Parses an XGBoost JSON dump: a JSON array of tree objects, each with `cover` (dumped
/// `with_stats=True`: path-dependent Tree SHAP weights branches by it).
///
/// ```
/// use ferroshap::formats::xgboost_dump::{DumpSettings, from_dump};
///
/// # fn main() -> ferroshap::Result<()> {
/// let dump = br#"[{"nodeid": 0, "depth": 0, "split": "f1", "split_condition": 0.5,
///     "yes": 1, "no": 2, "missing": 2, "cover": 10, "children": [
///     {"nodeid": 1, "leaf": -0.25, "cover": 6}, {"nodeid": 2, "leaf": 0.75, "cover": 4}]}]"#;
/// let settings = DumpSettings {
///     objective: Some("binary:logistic".into()),
///     base_score: Some(vec![0.5]), // a probability, as save_config() holds it
///     n_features: Some(2),
///     ..DumpSettings::default()
/// };
/// let model = from_dump(dump, &settings)?;
/// let margin = model.predict_margin(ndarray::array![[0.0f64, 0.25]].view())?;
/// assert_eq!(margin[[0, 0]], -0.25); // logit(0.5) = 0, plus the left leaf
/// # Ok(()) }
/// ```
pub fn from_dump(dump: &[u8], settings: &DumpSettings) -> Result<TreeEnsemble> {
    let doc = json::parse_as(dump, FORMAT, MAX_NESTING)?;
    let trees = doc.as_array().ok_or_else(|| {
        Error::format(
            FORMAT,
            "expected a JSON array of trees (join get_dump()'s strings as [a, b, ...])",
        )
    })?;
    let objective = settings.objective.as_deref().ok_or_else(|| {
        Error::Parameter(
            "an XGBoost dump does not record its objective: pass objective= or the \
             booster's save_config()"
                .into(),
        )
    })?;
    let (transform, link) = objective_kind(objective)
        .ok_or_else(|| Error::Unsupported(format!("XGBoost objective '{objective}'")))?;
    let base = settings.base_score.clone().ok_or_else(|| {
        Error::Parameter(
            "an XGBoost dump does not record its base_score: pass base_score= or the \
             booster's save_config()"
                .into(),
        )
    })?;
    let n_outputs = settings.n_outputs.unwrap_or(1).max(1);
    let parallel = settings.parallel_trees.unwrap_or(1);
    if parallel == 0 {
        return Err(Error::Parameter(
            "num_parallel_tree must be at least 1".into(),
        ));
    }
    // Each output has a tree or a base score of its own.
    if n_outputs > trees.len().max(base.len()).max(1) {
        return Err(Error::Parameter(format!(
            "{n_outputs} outputs for {} trees and {} base scores",
            trees.len(),
            base.len()
        )));
    }
    let base = match base.len() {
        1 => vec![base[0]; n_outputs],
        n if n == n_outputs => base,
        n => {
            return Err(Error::Parameter(format!(
                "base_score has {n} entries for {n_outputs} outputs"
            )));
        }
    };
    let base_offset: Vec<f64> = base.iter().map(|&p| transform.apply(p)).collect();
    if let Some(i) = base_offset.iter().position(|b| !b.is_finite()) {
        return Err(Error::Parameter(format!(
            "base_score {} has no finite margin under objective {objective}",
            base[i]
        )));
    }

    let names: Option<HashMap<&str, usize>> = settings.feature_names.as_ref().map(|names| {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect()
    });
    let mut raw_trees = Vec::with_capacity(trees.len());
    let mut max_feature = None;
    for (t, tree) in trees.iter().enumerate() {
        let output = (t / parallel) % n_outputs;
        let raw = read_tree(tree, output, names.as_ref())
            .map_err(|e| Error::format(FORMAT, format!("tree {t}: {e}")))?;
        for (i, &f) in raw.feature.iter().enumerate() {
            if raw.left[i] >= 0 {
                max_feature = max_feature.max(Some(f as usize));
            }
        }
        raw_trees.push(raw);
    }
    let n_features = match (settings.n_features, &settings.feature_names) {
        (Some(n), _) => n,
        (None, Some(names)) => names.len(),
        (None, None) => max_feature.map_or(1, |f| f + 1),
    };
    if let Some(names) = &settings.feature_names
        && names.len() != n_features
    {
        return Err(Error::Parameter(format!(
            "{} feature names for {n_features} features",
            names.len()
        )));
    }
    TreeEnsemble::new(
        EnsembleSpec {
            n_features,
            n_outputs,
            leaf_width: 1,
            base_offset,
            rules: SplitRules::XGBOOST,
            link,
            objective: objective.to_string(),
            feature_names: settings.feature_names.clone(),
            categorical_features: Vec::new(),
        },
        raw_trees,
    )
}

/// One dumped tree into node arrays, nodes numbered in the order they are met (the dump's
/// `nodeid`s may skip pruned nodes). Walks with an explicit stack: no recursion on input depth.
fn read_tree(
    tree: &Value,
    output: usize,
    names: Option<&HashMap<&str, usize>>,
) -> std::result::Result<RawTree, String> {
    // Dense index per nodeid, and each node's (yes, no, missing) ids to resolve afterwards.
    let mut index: HashMap<i64, usize> = HashMap::new();
    let mut links: Vec<Option<(i64, i64, i64, bool)>> = Vec::new();
    let mut raw = RawTree {
        output,
        ..RawTree::default()
    };
    let mut stack = vec![tree];
    while let Some(node) = stack.pop() {
        let i = raw.left.len();
        let id = node
            .get("nodeid")
            .and_then(int)
            .ok_or_else(|| format!("node {i} has no integer nodeid"))?;
        if index.insert(id, i).is_some() {
            return Err(format!("nodeid {id} appears twice"));
        }
        let cover = node
            .get("cover")
            .and_then(f32_of)
            .ok_or_else(|| format!("node {id} has no cover: dump with with_stats=True"))?;
        raw.cover.push(cover as f64);
        raw.left.push(-1);
        raw.right.push(-1);
        if let Some(leaf) = node.get("leaf") {
            let v = f32_of(leaf).ok_or_else(|| {
                format!(
                    "leaf {id} has value {leaf:?}, not a number (vector-leaf dumps are not \
                     supported: save the model instead)"
                )
            })?;
            raw.value.push(v as f64);
            raw.feature.push(0);
            raw.threshold.push(0.0);
            raw.default_left.push(false);
            raw.categories.push(None);
            links.push(None);
            continue;
        }
        raw.value.push(0.0);
        let split = node
            .get("split")
            .ok_or_else(|| format!("node {id} is neither a leaf nor a split"))?;
        raw.feature
            .push(feature_index(split, names).map_err(|e| format!("node {id}: {e}"))?);
        let child = |key: &str| {
            node.get(key)
                .and_then(int)
                .ok_or_else(|| format!("node {id} has no integer '{key}'"))
        };
        let (yes, no, missing) = (child("yes")?, child("no")?, child("missing")?);
        let condition = node
            .get("split_condition")
            .ok_or_else(|| format!("node {id} has no split_condition"))?;
        let categorical = match condition {
            Value::Array(items) => {
                let cats = items
                    .iter()
                    .map(|c| int(c).and_then(|c| u32::try_from(c).ok()))
                    .collect::<Option<Vec<u32>>>()
                    .ok_or_else(|| format!("node {id}: categories are not non-negative ints"))?;
                raw.categories.push(Some(cats));
                raw.threshold.push(0.0);
                true
            }
            other => {
                let t = f32_of(other)
                    .ok_or_else(|| format!("node {id}: split_condition is not a number"))?;
                raw.categories.push(None);
                // x < t in float32 is x <= the f64 just below t.
                raw.threshold.push(next_down(t as f64));
                false
            }
        };
        raw.default_left.push(false);
        links.push(Some((yes, no, missing, categorical)));
        match node.get("children").and_then(Value::as_array) {
            Some(children) if children.len() == 2 => stack.extend(children.iter().rev()),
            _ => return Err(format!("split {id} does not have two children")),
        }
    }
    for (i, link) in links.iter().enumerate() {
        let Some((yes, no, missing, categorical)) = *link else {
            continue;
        };
        let resolve = |id: i64| {
            index
                .get(&id)
                .map(|&c| c as i64)
                .ok_or_else(|| format!("child nodeid {id} is not among the node's children"))
        };
        // Listed categories (yes) go right in XGBoost; numeric yes (x < t) goes left.
        let (left, right) = if categorical { (no, yes) } else { (yes, no) };
        raw.left[i] = resolve(left)?;
        raw.right[i] = resolve(right)?;
        if missing != yes && missing != no {
            return Err(format!("missing child {missing} is neither yes nor no"));
        }
        raw.default_left[i] = missing == left;
    }
    if raw.categories.iter().all(Option::is_none) {
        raw.categories.clear();
    }
    Ok(raw)
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        _ => None,
    }
}

fn f32_of(v: &Value) -> Option<f32> {
    match v {
        Value::Float(_, f) => Some(*f),
        Value::Int(i) => Some(*i as f32),
        _ => None,
    }
}

/// The feature a `split` field names: a feature name when the booster has them, else `f<i>`.
fn feature_index(
    split: &Value,
    names: Option<&HashMap<&str, usize>>,
) -> std::result::Result<i64, String> {
    let s = split
        .as_str()
        .ok_or_else(|| "split is not a string".to_string())?;
    if let Some(names) = names {
        return names
            .get(s)
            .map(|&i| i as i64)
            .ok_or_else(|| format!("split feature {s:?} is not one of the feature names given"));
    }
    s.strip_prefix('f')
        .and_then(|d| d.parse::<u32>().ok())
        .map(i64::from)
        .ok_or_else(|| {
            format!(
                "split feature {s:?} is a name: pass the booster's feature_names so that \
                 names can be matched to columns"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DUMP: &str = r#"[{ "nodeid": 0, "depth": 0, "split": "f1", "split_condition": 0.5,
        "yes": 1, "no": 2, "missing": 2, "gain": 1, "cover": 10, "children": [
        { "nodeid": 1, "leaf": -0.25, "cover": 6 }, { "nodeid": 2, "leaf": 0.75, "cover": 4 }]}]"#;

    fn settings() -> DumpSettings {
        DumpSettings {
            objective: Some("reg:squarederror".into()),
            base_score: Some(vec![0.5]),
            ..DumpSettings::default()
        }
    }

    #[test]
    fn reads_a_dumped_tree() {
        let m = from_dump(DUMP.as_bytes(), &settings()).unwrap();
        assert_eq!((m.n_features(), m.n_outputs(), m.trees().len()), (2, 1, 1));
        let x = ndarray::array![[0.0f64, 0.4], [0.0, 0.5], [0.0, f64::NAN]];
        let p = m.predict_margin(x.view()).unwrap();
        assert_eq!(p.column(0).to_vec(), vec![0.25, 1.25, 1.25]);
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        let missing_objective = DumpSettings {
            objective: None,
            ..settings()
        };
        assert!(from_dump(DUMP.as_bytes(), &missing_objective).is_err());
        let no_cover = DUMP.replace(r#", "cover": 6"#, "");
        let e = from_dump(no_cover.as_bytes(), &settings()).unwrap_err();
        assert!(e.to_string().contains("with_stats=True"), "{e}");
        let named = DUMP.replace("\"f1\"", "\"age\"");
        let e = from_dump(named.as_bytes(), &settings()).unwrap_err();
        assert!(e.to_string().contains("feature_names"), "{e}");
        let bad_child = DUMP.replace(r#""no": 2"#, r#""no": 7"#);
        assert!(from_dump(bad_child.as_bytes(), &settings()).is_err());
        let dup = DUMP.replace(r#""nodeid": 2"#, r#""nodeid": 1"#);
        assert!(from_dump(dup.as_bytes(), &settings()).is_err());
    }
}
