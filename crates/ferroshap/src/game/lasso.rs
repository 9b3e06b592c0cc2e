//! Lasso by cyclic coordinate descent, as scikit-learn's `Lasso(alpha)` fits it (with an
//! intercept, from zero, stopping on its duality-gap rule), for Kernel SHAP's
//! `l1_reg=<float>`: the features with nonzero coefficients are kept.

/// scikit-learn's defaults.
const MAX_ITER: usize = 1000;
const TOL: f64 = 1e-4;

/// Features with a nonzero coefficient in the lasso fit of `y ≈ b + X w` minimising
/// `‖y − b − Xw‖² / (2n) + alpha ‖w‖₁`; `x` is `n × m`, row-major. Sorted ascending.
pub fn lasso_support(x: &[f64], y: &[f64], n: usize, m: usize, alpha: f64) -> Vec<usize> {
    debug_assert_eq!(x.len(), n * m);
    // The intercept: centre X and y.
    let mean_y = y.iter().sum::<f64>() / n as f64;
    let mean_x: Vec<f64> = (0..m)
        .map(|j| (0..n).map(|i| x[i * m + j]).sum::<f64>() / n as f64)
        .collect();
    // Column-major centred copy, so each coordinate step reads one contiguous column.
    let cols: Vec<Vec<f64>> = (0..m)
        .map(|j| (0..n).map(|i| x[i * m + j] - mean_x[j]).collect())
        .collect();
    let yc: Vec<f64> = y.iter().map(|v| v - mean_y).collect();
    let l1 = alpha * n as f64;
    let norms: Vec<f64> = cols.iter().map(|c| c.iter().map(|v| v * v).sum()).collect();
    let mut w = vec![0.0; m];
    let mut r = yc.clone();
    let tol = TOL * yc.iter().map(|v| v * v).sum::<f64>();
    for iter in 0..MAX_ITER {
        let (mut w_max, mut d_w_max) = (0.0f64, 0.0f64);
        for j in 0..m {
            if norms[j] == 0.0 {
                continue;
            }
            let old = w[j];
            if old != 0.0 {
                for (ri, xi) in r.iter_mut().zip(&cols[j]) {
                    *ri += old * xi;
                }
            }
            let tmp: f64 = cols[j].iter().zip(&r).map(|(a, b)| a * b).sum();
            w[j] = tmp.signum() * (tmp.abs() - l1).max(0.0) / norms[j];
            if w[j] != 0.0 {
                for (ri, xi) in r.iter_mut().zip(&cols[j]) {
                    *ri -= w[j] * xi;
                }
            }
            d_w_max = d_w_max.max((w[j] - old).abs());
            w_max = w_max.max(w[j].abs());
        }
        if w_max == 0.0 || d_w_max / w_max < TOL || iter == MAX_ITER - 1 {
            // Duality gap of the current iterate.
            let dual_norm = cols
                .iter()
                .map(|c| c.iter().zip(&r).map(|(a, b)| a * b).sum::<f64>().abs())
                .fold(0.0, f64::max);
            let r_norm2: f64 = r.iter().map(|v| v * v).sum();
            let (scale, mut gap) = if dual_norm > l1 {
                let s = l1 / dual_norm;
                (s, 0.5 * (r_norm2 + r_norm2 * s * s))
            } else {
                (1.0, r_norm2)
            };
            let l1_norm: f64 = w.iter().map(|v| v.abs()).sum();
            let r_dot_y: f64 = r.iter().zip(&yc).map(|(a, b)| a * b).sum();
            gap += l1 * l1_norm - scale * r_dot_y;
            if gap < tol {
                break;
            }
        }
    }
    (0..m).filter(|&j| w[j] != 0.0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_effects_are_dropped() {
        // y = 2 x0 + 0.01 x1 (+ intercept); a moderate alpha keeps only x0.
        let n = 8;
        let x: Vec<f64> = (0..n)
            .flat_map(|i| [i as f64, ((i * 5) % 7) as f64])
            .collect();
        let y: Vec<f64> = (0..n)
            .map(|i| 1.0 + 2.0 * x[2 * i] + 0.01 * x[2 * i + 1])
            .collect();
        assert_eq!(lasso_support(&x, &y, n, 2, 0.1), vec![0]);
        assert_eq!(lasso_support(&x, &y, n, 2, 1e-6), vec![0, 1]);
    }
}
