//! Model-file parsers against the libraries' own margins, and against bad input.
//!
//! Fixtures are written by `tests/fixtures/make_fixtures.py` (xgboost 3.2 and 3.4, lightgbm
//! 4.7). Tolerances: XGBoost sums leaves in float32, so margins agree to 1e-5 of
//! max(1, |margin|); LightGBM sums the same f64 leaves in the same order, so 1e-12.

use std::path::{Path, PathBuf};

use ferroshap::formats::{ModelFormat, lightgbm, xgboost};
use ferroshap::{Error, Link, TreeEnsemble};
use ndarray::Array2;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn load(name: &str) -> TreeEnsemble {
    TreeEnsemble::from_file(fixtures().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Every model with an `.expected.json`, and that file.
fn expected_files() -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = std::fs::read_dir(fixtures())
        .expect("fixtures folder")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let model = name.strip_suffix(".expected.json")?.to_string();
            let doc = serde_json::from_slice(&fixture(&name)).expect("expected.json parses");
            Some((model, doc))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn matrix(v: &Value) -> Array2<f64> {
    let rows = v.as_array().expect("rows");
    let d = rows.first().and_then(|r| r.as_array()).map_or(0, Vec::len);
    let mut m = Array2::zeros((rows.len(), d));
    for (i, r) in rows.iter().enumerate() {
        for (j, x) in r.as_array().expect("row").iter().enumerate() {
            // Decimal strings: str::parse rounds exactly, serde_json's default float may not.
            m[[i, j]] = x
                .as_str()
                .and_then(|s| s.parse().ok())
                .expect("numbers are strings");
        }
    }
    m
}

#[test]
fn margins_match_the_libraries() {
    let files = expected_files();
    assert!(files.len() >= 30, "only {} fixtures", files.len());
    let mut failures = Vec::new();
    for (model, doc) in files {
        let ensemble = load(&model);
        let rows = matrix(&doc["rows"]);
        let expected = matrix(&doc["margins"]);
        let got = ensemble.predict_margin(rows.view()).unwrap();
        assert_eq!(got.dim(), expected.dim(), "{model}");
        let tol = match doc["library"].as_str() {
            Some("xgboost") => 1e-5,
            _ => 1e-12,
        };
        for ((i, k), want) in expected.indexed_iter() {
            let have = got[[i, k]];
            if (have - want).abs() > tol * want.abs().max(1.0) {
                failures.push(format!(
                    "{model}: row {i} output {k}: {have} != {want} (row {})",
                    rows.row(i)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn metadata_is_read() {
    let reg = load("xgb_reg.json");
    assert_eq!(reg.n_features(), 5);
    assert_eq!(reg.feature_names().unwrap()[4], "feat_4");
    assert_eq!(reg.link(), Link::Identity);
    assert!(reg.categorical_features().is_empty());
    assert_eq!(load("xgb_binary.ubj").link(), Link::Logistic);
    assert_eq!(load("xgb_poisson.ubj").link(), Link::Exp);
    let multi = load("xgb_multiclass.json");
    assert_eq!((multi.n_outputs(), multi.link()), (3, Link::Softmax));
    assert_eq!(load("xgb_forest.ubj").trees().len(), 2 * 3 * 3);
    assert_eq!(load("xgb34_xgb_multitarget.json").n_outputs(), 2);
    let cats = load("xgb_categorical.json");
    assert_eq!(
        cats.categorical_features(),
        &[false, true, false, true, false]
    );
    assert!(cats.feature_names().is_none());

    let lgb = load("lgb_binary.txt");
    assert_eq!(lgb.objective(), "binary sigmoid:1.5");
    assert_eq!(lgb.link(), Link::Logistic);
    assert_eq!(lgb.feature_names().unwrap()[0], "Column_0");
    assert_eq!(lgb.base_offset(), &[0.0]);
    let lgb_multi = load("lgb_multiclass.txt");
    assert_eq!(
        (lgb_multi.n_outputs(), lgb_multi.link()),
        (3, Link::Softmax)
    );
    assert_eq!(lgb_multi.trees()[4].output(), 1);
    assert_eq!(
        load("lgb_categorical.txt").categorical_features(),
        &[false, true, false, true, false]
    );
    let stump = load("lgb_stump.txt");
    assert!(stump.trees().iter().all(|t| t.n_nodes() == 1));
    assert_eq!(stump.trees()[0].cover(0), 300.0);
}

#[test]
fn sniffing_finds_each_format() {
    for (name, format) in [
        ("xgb_reg.json", ModelFormat::XGBoostJson),
        ("xgb_reg.ubj", ModelFormat::XGBoostUbjson),
        ("lgb_regression.txt", ModelFormat::LightGBMText),
    ] {
        let bytes = fixture(name);
        assert_eq!(ModelFormat::sniff(&bytes), Some(format), "{name}");
        assert!(TreeEnsemble::from_bytes(&bytes, None).is_ok(), "{name}");
    }
}

#[test]
fn vector_leaf_trees_hold_one_value_per_target() {
    let model = TreeEnsemble::from_file(fixtures().join("xgb_vector_leaf.json")).unwrap();
    assert_eq!((model.n_outputs(), model.leaf_width()), (2, 2));
    assert!(model.trees().iter().all(|t| t.output() == 0));
    // The targets were y and -y: every leaf's two values are opposite up to the different
    // base scores' effect on the gradients, so their signs differ or both are ~0.
    for tree in model.trees() {
        for node in (0..tree.n_nodes()).filter(|&i| tree.is_leaf(i)) {
            let v = tree.leaf_value(node);
            assert_eq!(v.len(), 2);
            assert!(v[0] * v[1] <= 0.0, "{v:?}");
        }
    }
}

#[test]
fn unsupported_models_say_so() {
    match TreeEnsemble::from_file(fixtures().join("lgb_linear.txt")) {
        Err(Error::Unsupported(m)) => {
            assert!(m.contains("linear trees are not supported yet"), "{m}")
        }
        other => panic!("linear tree: {other:?}"),
    }
    let text = String::from_utf8(fixture("xgb_reg.json")).unwrap();
    let mystery = text.replace("reg:squarederror", "reg:mystery");
    match xgboost::from_json(mystery.as_bytes()) {
        Err(Error::Unsupported(m)) => assert!(m.contains("reg:mystery"), "{m}"),
        other => panic!("unknown objective: {other:?}"),
    }
    let gblinear = text.replace("\"gbtree\"", "\"gblinear\"");
    assert!(matches!(
        xgboost::from_json(gblinear.as_bytes()),
        Err(Error::Unsupported(_))
    ));
}

/// Every prefix of a model (sampled) must be refused, never panic or hang.
#[test]
fn truncated_files_are_errors() {
    for name in [
        "xgb_reg.json",
        "xgb_categorical.ubj",
        "xgb_dart.json",
        "lgb_categorical.txt",
    ] {
        let bytes = fixture(name);
        // LightGBM files are complete once "end of trees" is read; the rest is metadata.
        let end = match name.ends_with(".txt") {
            true => {
                let text = std::str::from_utf8(&bytes).unwrap();
                text.find("end of trees").unwrap() + "end of trees".len() - 1
            }
            false => bytes.len(),
        };
        let step = (end / 400).max(1);
        for cut in (0..end).step_by(step).chain(end.saturating_sub(3)..end) {
            let r = TreeEnsemble::from_bytes(&bytes[..cut], Some(format_of(name)));
            assert!(r.is_err(), "{name} cut at {cut} of {end} parsed");
        }
    }
}

fn format_of(name: &str) -> ModelFormat {
    match Path::new(name).extension().and_then(|e| e.to_str()) {
        Some("json") => ModelFormat::XGBoostJson,
        Some("ubj") => ModelFormat::XGBoostUbjson,
        _ => ModelFormat::LightGBMText,
    }
}

/// xorshift64*: deterministic bytes without an extra crate.
struct Bytes(u64);
impl Bytes {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[test]
fn garbage_and_corrupted_bytes_never_panic() {
    let mut rng = Bytes(0x9E37_79B9_7F4A_7C15);
    for len in [0usize, 1, 2, 7, 64, 1000] {
        let junk: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        for format in [
            ModelFormat::XGBoostJson,
            ModelFormat::XGBoostUbjson,
            ModelFormat::LightGBMText,
        ] {
            assert!(TreeEnsemble::from_bytes(&junk, Some(format)).is_err());
        }
        let mut ubj = b"{".to_vec();
        ubj.extend(&junk);
        assert!(xgboost::from_ubjson(&ubj).is_err());
    }
    // Flipped bytes may still parse (a changed threshold is a valid model); they must not panic.
    for name in ["xgb_categorical.ubj", "xgb_forest.ubj", "xgb_reg.json"] {
        let bytes = fixture(name);
        for _ in 0..300 {
            let mut b = bytes.clone();
            for _ in 0..1 + rng.next() % 4 {
                let i = (rng.next() % b.len() as u64) as usize;
                b[i] = rng.next() as u8;
            }
            let _ = TreeEnsemble::from_bytes(&b, Some(format_of(name)));
        }
    }
}

#[test]
fn ubjson_lengths_are_checked_before_allocating() {
    // {"learner": [$d#L 2^60 ...] } with no payload.
    let mut doc = b"{i\x07learner[$d#L".to_vec();
    doc.extend((1u64 << 60).to_be_bytes());
    doc.push(b'}');
    assert!(matches!(
        xgboost::from_ubjson(&doc),
        Err(Error::Format { .. })
    ));
    // A string claiming i64::MAX bytes.
    let mut doc = b"{L".to_vec();
    doc.extend(i64::MAX.to_be_bytes());
    assert!(xgboost::from_ubjson(&doc).is_err());
    // A count of -1.
    assert!(xgboost::from_ubjson(b"{#i\xff").is_err());
}

fn edit_first_tree(name: &str, edit: impl Fn(&mut serde_json::Map<String, Value>)) -> Vec<u8> {
    let mut doc: Value = serde_json::from_slice(&fixture(name)).unwrap();
    let tree = doc["learner"]["gradient_booster"]["model"]["trees"][0]
        .as_object_mut()
        .unwrap();
    edit(tree);
    serde_json::to_vec(&doc).unwrap()
}

#[test]
fn bad_xgboost_trees_are_errors() {
    let set = |key: &'static str, i: usize, v: i64| {
        move |t: &mut serde_json::Map<String, Value>| t[key][i] = Value::from(v)
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "child out of range",
            edit_first_tree("xgb_reg.json", set("left_children", 0, 999)),
        ),
        (
            "cycle",
            edit_first_tree("xgb_reg.json", set("left_children", 1, 0)),
        ),
        (
            "feature out of range",
            edit_first_tree("xgb_reg.json", set("split_indices", 0, 5)),
        ),
        (
            "short array",
            edit_first_tree("xgb_reg.json", |t| {
                t["right_children"].as_array_mut().unwrap().pop();
            }),
        ),
        (
            "missing array",
            edit_first_tree("xgb_reg.json", |t| {
                t.remove("sum_hessian");
            }),
        ),
        (
            "category segment out of range",
            edit_first_tree("xgb_categorical.json", set("categories_sizes", 0, 10_000)),
        ),
        (
            "negative category",
            edit_first_tree("xgb_categorical.json", set("categories", 0, -3)),
        ),
    ];
    for (what, bytes) in cases {
        match xgboost::from_json(&bytes) {
            Err(Error::Format { .. } | Error::InvalidModel(_)) => {}
            other => panic!("{what}: {other:?}"),
        }
    }
    let text = String::from_utf8(fixture("xgb_reg.json")).unwrap();
    let wrong_base = text.replace("\"base_score\":\"[", "\"base_score\":\"[1,");
    assert!(xgboost::from_json(wrong_base.as_bytes()).is_err());
    let no_learner = text.replacen("\"learner\"", "\"learnr\"", 1);
    match xgboost::from_json(no_learner.as_bytes()) {
        Err(Error::Format { message, .. }) => assert!(message.contains("learner"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_lightgbm_trees_are_errors() {
    let text = String::from_utf8(fixture("lgb_regression.txt")).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("left_child="))
        .unwrap()
        .to_string();
    let values: Vec<&str> = line["left_child=".len()..].split(' ').collect();
    let with_first = |v: &str| {
        let mut vs = values.clone();
        vs[0] = v;
        text.replacen(&line, &format!("left_child={}", vs.join(" ")), 1)
    };
    for (what, bad) in [
        ("internal child out of range", with_first("30")),
        ("leaf out of range", with_first("-30")),
        ("cycle", with_first("0")),
        ("not a number", with_first("x")),
        (
            "short array",
            text.replacen(&line, &line[..line.rfind(' ').unwrap()], 1),
        ),
        (
            "bad decision type",
            text.replacen("decision_type=8", "decision_type=12", 1),
        ),
        (
            "missing leaf values",
            text.replacen("leaf_value=", "leaf_valu=", 1),
        ),
        ("mislabelled tree", text.replacen("Tree=1", "Tree=7", 1)),
    ] {
        match lightgbm::from_text(&bad) {
            Err(Error::Format { .. } | Error::InvalidModel(_)) => {}
            other => panic!("{what}: {other:?}"),
        }
    }
    let cats = String::from_utf8(fixture("lgb_categorical.txt")).unwrap();
    let bad_bounds = cats.replacen("cat_boundaries=0 2 3", "cat_boundaries=0 9 3", 1);
    assert!(lightgbm::from_text(&bad_bounds).is_err());
    let unknown = text.replacen("objective=regression", "objective=mystery", 1);
    assert!(matches!(
        lightgbm::from_text(&unknown),
        Err(Error::Unsupported(_))
    ));
}
