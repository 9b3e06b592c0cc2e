//! Loads an XGBoost JSON model and explains a few rows.
//!
//! ```text
//! cargo run --release --example explain_xgboost -- python/ferroshap/datasets/diabetes_xgb.json
//! ```

use ferroshap::TreeEnsemble;
use ferroshap::tree_shap::path_dependent;
use ndarray::Array2;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "python/ferroshap/datasets/diabetes_xgb.json".to_string());
    let model = TreeEnsemble::from_file(&path)?;
    println!(
        "{path}: {} trees, {} features, {} output(s), objective {}",
        model.trees().len(),
        model.n_features(),
        model.n_outputs(),
        model.objective()
    );

    // Three rows of made-up data (NaN is a missing value, routed as XGBoost routes it).
    let m = model.n_features();
    let x = Array2::from_shape_fn((3, m), |(r, c)| {
        if r == 2 && c == 0 {
            f64::NAN
        } else {
            0.01 * (r as f64 + 1.0) * (c as f64 - 4.0)
        }
    });
    let explanation = path_dependent::shap_values(&model, x.view())?;
    let margin = model.predict_margin(x.view())?;
    for r in 0..x.nrows() {
        let phi = explanation.values.slice(ndarray::s![r, .., 0]);
        let top = phi
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
            .map(|(i, v)| (i, *v))
            .unwrap_or((0, 0.0));
        let name = model
            .feature_names()
            .map_or_else(|| format!("f{}", top.0), |n| n[top.0].clone());
        println!(
            "row {r}: prediction {:.4} = base {:.4} + sum of SHAP {:.4}; largest: {name} ({:+.4})",
            margin[[r, 0]],
            explanation.base_values[0],
            phi.sum(),
            top.1
        );
    }
    Ok(())
}
