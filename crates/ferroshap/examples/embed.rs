//! ferroshap embedded in a Rust program, with the public API only: load the bundled XGBoost
//! model and its data, explain rows path-dependently and against a background, and check that
//! every explanation adds up to the model's prediction.
//!
//! ```text
//! cargo run --example embed -p ferroshap [-- model.json data.csv]
//! ```
//!
//! Exits with an error if a row's SHAP values and base value do not add up to its margin.

use std::path::{Path, PathBuf};

use ferroshap::tree_shap::{interventional, path_dependent};
use ferroshap::{ShapValues, TreeEnsemble};
use ndarray::{Array2, ArrayView2, s};

/// Rows explained, and rows of the data used as the interventional background.
const EXPLAINED: usize = 5;
const BACKGROUND: usize = 100;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The example model and data ship with the Python package; found from this crate so that
    // the example runs from any directory.
    let datasets = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../python/ferroshap/datasets");
    let mut args = std::env::args().skip(1);
    let model_path = args
        .next()
        .map_or_else(|| datasets.join("diabetes_xgb.json"), PathBuf::from);
    let data_path = args
        .next()
        .map_or_else(|| datasets.join("diabetes.csv"), PathBuf::from);

    let model = TreeEnsemble::from_file(&model_path)?;
    let (names, data) = read_csv(&data_path)?;
    println!(
        "{}: {} trees, {} features, objective {}; {} rows of data",
        model_path.file_name().unwrap_or_default().to_string_lossy(),
        model.trees().len(),
        model.n_features(),
        model.objective(),
        data.nrows()
    );

    let x = data.slice(s![..EXPLAINED, ..]);
    let margin = model.predict_margin(x)?;

    let tree_path = path_dependent::shap_values(&model, x)?;
    check_additivity("path-dependent", &tree_path, margin.view())?;
    let background = data.slice(s![..BACKGROUND.min(data.nrows()), ..]);
    let against_data = interventional::shap_values(&model, x, background)?;
    check_additivity("interventional", &against_data, margin.view())?;

    for (name, explanation) in [
        ("path-dependent", &tree_path),
        ("interventional", &against_data),
    ] {
        println!("\n{name} (base value {:.3}):", explanation.base_values[0]);
        for row in 0..x.nrows() {
            let phi = explanation.values.slice(s![row, .., 0]);
            let (top, value) = phi
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
                .expect("the model has features");
            println!(
                "  row {row}: prediction {:8.3} = base {:.3} + {:+8.3} (largest: {} {:+.3})",
                margin[[row, 0]],
                explanation.base_values[0],
                phi.sum(),
                names[top],
                value
            );
        }
    }
    println!("\nEvery row's SHAP values add up to its prediction.");
    Ok(())
}

/// Fails unless, for every row, the values plus the base value equal the margin. The margin and
/// the explanation sum the same ~100 leaf values in different orders in f64: they agree to
/// about 1e-13 of the margin's size, far inside 1e-9.
fn check_additivity(
    what: &str,
    explanation: &ShapValues,
    margin: ArrayView2<'_, f64>,
) -> Result<(), String> {
    for row in 0..margin.nrows() {
        let total = explanation.values.slice(s![row, .., 0]).sum() + explanation.base_values[0];
        let want = margin[[row, 0]];
        if (total - want).abs() > 1e-9 * want.abs().max(1.0) {
            return Err(format!(
                "{what}: row {row} adds up to {total}, but the model predicts {want}"
            ));
        }
    }
    Ok(())
}

/// A header of feature names and rows of numbers, comma-separated.
fn read_csv(path: &Path) -> Result<(Vec<String>, Array2<f64>), Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path)?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines.next().ok_or("the data file is empty")?;
    let names: Vec<String> = header.split(',').map(|s| s.trim().to_string()).collect();
    let mut values = Vec::new();
    let mut n_rows = 0;
    for line in lines {
        for field in line.split(',') {
            values.push(field.trim().parse::<f64>()?);
        }
        n_rows += 1;
    }
    let m = names.len();
    Ok((names, Array2::from_shape_vec((n_rows, m), values)?))
}
