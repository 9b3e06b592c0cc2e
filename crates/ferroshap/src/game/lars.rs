//! Least angle regression (Efron et al. 2004) with its lasso modification, following
//! scikit-learn's `lars_path` step for step (stopping rules, the rounding of the equiangular
//! correlations, sign flips and drops), so that Kernel SHAP's feature selection picks the
//! same features as shap does through scikit-learn:
//!
//! - `l1_reg="num_features(k)"`: the first `k` features to enter the LAR path
//!   ([`lar_active_set`]);
//! - `l1_reg="aic"` / `"bic"`: the lasso-LARS knot with the smallest information criterion
//!   after standardising the columns, as `LassoLarsIC` chooses it ([`lasso_lars_ic`]).

use crate::linalg::solve_symmetric;

/// scikit-learn stops when the largest correlation per sample falls to float32 epsilon.
const EQUALITY_TOLERANCE: f64 = f32::EPSILON as f64;
/// Added to the step denominators, as scikit-learn does, to avoid dividing by zero.
const TINY: f64 = f32::MIN_POSITIVE as f64;

/// A LARS path: the active set at the end (entry order) and the coefficients at each knot.
struct LarsPath {
    active: Vec<usize>,
    coefs: Vec<Vec<f64>>,
}

/// Rounds to 15 decimals, as scikit-learn rounds the equiangular correlations.
fn round15(v: f64) -> f64 {
    let scaled = v * 1e15;
    if scaled.is_finite() {
        scaled.round_ties_even() / 1e15
    } else {
        v
    }
}

fn min_positive(values: impl Iterator<Item = f64>) -> f64 {
    values
        .filter(|v| *v > 0.0)
        .fold(f64::MAX, |m, v| if v < m { v } else { m })
}

/// The LARS path of `y ≈ X β` (no intercept) from the Gram matrix `gram = XᵀX` (`m × m`)
/// and `xy = Xᵀy`, over `n` samples, for at most `max_iter` steps.
fn lars_path(
    gram: &[f64],
    xy: &[f64],
    n: usize,
    m: usize,
    max_iter: usize,
    lasso: bool,
) -> LarsPath {
    let mut corr = xy.to_vec();
    let mut active: Vec<usize> = Vec::new();
    let mut signs: Vec<f64> = Vec::new();
    let mut is_active = vec![false; m];
    let mut coefs: Vec<Vec<f64>> = vec![vec![0.0; m]];
    let mut alphas: Vec<f64> = Vec::new();
    let mut n_iter = 0;
    let mut drop = false;
    loop {
        let pick = (0..m)
            .filter(|&j| !is_active[j])
            .fold(None::<usize>, |best, j| match best {
                Some(b) if corr[b].abs() >= corr[j].abs() => Some(b),
                _ => Some(j),
            });
        let c_max = pick.map_or(0.0, |j| corr[j].abs());
        let alpha = c_max / n as f64;
        alphas.truncate(n_iter);
        alphas.push(alpha);
        if alpha <= EQUALITY_TOLERANCE {
            break;
        }
        if n_iter >= max_iter || active.len() >= m {
            break;
        }
        if !drop {
            let j = pick.expect("a positive correlation has a feature");
            // A feature (nearly) in the span of the active ones is skipped for now.
            let k = active.len();
            let pivot2 = if k == 0 {
                gram[j * m + j]
            } else {
                let g_aa: Vec<f64> = active
                    .iter()
                    .flat_map(|&a| active.iter().map(move |&b| gram[a * m + b]))
                    .collect();
                let g_aj: Vec<f64> = active.iter().map(|&a| gram[a * m + j]).collect();
                let (v, _) = solve_symmetric(&g_aa, &g_aj, k);
                gram[j * m + j] - v.iter().zip(&g_aj).map(|(a, b)| a * b).sum::<f64>()
            };
            if pivot2.abs().sqrt().max(f64::EPSILON) < 1e-7 {
                corr[j] = 0.0;
                continue;
            }
            active.push(j);
            signs.push(corr[j].signum());
            is_active[j] = true;
        }
        if lasso && n_iter > 0 && alphas[n_iter - 1] < alpha {
            break;
        }

        let k = active.len();
        let g_aa: Vec<f64> = active
            .iter()
            .flat_map(|&a| active.iter().map(move |&b| gram[a * m + b]))
            .collect();
        let (mut w, _) = solve_symmetric(&g_aa, &signs, k);
        let norm: f64 = w.iter().zip(&signs).map(|(a, b)| a * b).sum();
        let aa = 1.0 / norm.max(f64::EPSILON).sqrt();
        for v in &mut w {
            *v *= aa;
        }
        let along: Vec<f64> = (0..m)
            .map(|j| {
                if is_active[j] {
                    0.0
                } else {
                    round15(
                        active
                            .iter()
                            .zip(&w)
                            .map(|(&a, wa)| gram[a * m + j] * wa)
                            .sum(),
                    )
                }
            })
            .collect();
        let inactive = || (0..m).filter(|&j| !is_active[j]);
        let g1 = min_positive(inactive().map(|j| (c_max - corr[j]) / (aa - along[j] + TINY)));
        let g2 = min_positive(inactive().map(|j| (c_max + corr[j]) / (aa + along[j] + TINY)));
        let mut gamma = g1.min(g2).min(c_max / aa);
        let prev = coefs.last().expect("the path starts at zero").clone();
        let z: Vec<f64> = active
            .iter()
            .zip(&w)
            .map(|(&a, wa)| -prev[a] / (wa + TINY))
            .collect();
        let z_pos = min_positive(z.iter().copied());
        drop = false;
        let mut crossing: Vec<usize> = Vec::new();
        if z_pos < gamma {
            crossing = (0..k).filter(|&p| z[p] == z_pos).collect();
            for &p in &crossing {
                signs[p] = -signs[p];
            }
            if lasso {
                gamma = z_pos;
            }
            drop = true;
        }
        n_iter += 1;
        let mut coef = vec![0.0; m];
        for (&a, wa) in active.iter().zip(&w) {
            coef[a] = prev[a] + gamma * wa;
        }
        for j in 0..m {
            if !is_active[j] {
                corr[j] -= gamma * along[j];
            }
        }
        if drop && lasso {
            for &p in crossing.iter().rev() {
                let d = active.remove(p);
                signs.remove(p);
                is_active[d] = false;
                corr[d] = xy[d] - (0..m).map(|q| gram[d * m + q] * coef[q]).sum::<f64>();
            }
        }
        coefs.push(coef);
    }
    LarsPath { active, coefs }
}

fn gram_and_xy(x: &[f64], y: &[f64], n: usize, m: usize) -> (Vec<f64>, Vec<f64>) {
    let mut gram = vec![0.0; m * m];
    let mut xy = vec![0.0; m];
    for i in 0..n {
        let row = &x[i * m..(i + 1) * m];
        for p in 0..m {
            xy[p] += row[p] * y[i];
            for q in 0..=p {
                gram[p * m + q] += row[p] * row[q];
            }
        }
    }
    for p in 0..m {
        for q in 0..p {
            gram[q * m + p] = gram[p * m + q];
        }
    }
    (gram, xy)
}

/// The first `max_features` features to enter the LAR path of `y ≈ X β` (no intercept), in
/// entry order, as `sklearn.linear_model.lars_path(X, y, max_iter=max_features)[1]` gives
/// them. `x` is `n × m`, row-major.
pub fn lar_active_set(x: &[f64], y: &[f64], n: usize, m: usize, max_features: usize) -> Vec<usize> {
    debug_assert_eq!(x.len(), n * m);
    let (gram, xy) = gram_and_xy(x, y, n, m);
    lars_path(&gram, &xy, n, m, max_features, false).active
}

/// Which information criterion [`lasso_lars_ic`] minimises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Criterion {
    /// Akaike: 2 per degree of freedom.
    Aic,
    /// Bayes: ln(n) per degree of freedom.
    Bic,
}

/// Features with nonzero coefficients at the lasso-LARS knot minimising the criterion, after
/// scaling each column by its standard deviation and centring (scikit-learn's
/// `make_pipeline(StandardScaler(with_mean=False), LassoLarsIC(criterion))`). Sorted
/// ascending; `None` when there are too few samples to estimate the noise variance.
pub fn lasso_lars_ic(
    x: &[f64],
    y: &[f64],
    n: usize,
    m: usize,
    criterion: Criterion,
) -> Option<Vec<usize>> {
    if n <= m + 1 {
        return None;
    }
    // StandardScaler(with_mean=False): divide by the (population) standard deviation.
    let mut xs = x.to_vec();
    for j in 0..m {
        let mean = (0..n).map(|i| x[i * m + j]).sum::<f64>() / n as f64;
        let var = (0..n).map(|i| (x[i * m + j] - mean).powi(2)).sum::<f64>() / n as f64;
        let scale = if var.sqrt() < 10.0 * f64::EPSILON * mean.abs().max(1.0) || var == 0.0 {
            1.0
        } else {
            var.sqrt()
        };
        // Then LassoLarsIC's intercept: centre the scaled column.
        let scaled_mean = mean / scale;
        for i in 0..n {
            xs[i * m + j] = x[i * m + j] / scale - scaled_mean;
        }
    }
    let mean_y = y.iter().sum::<f64>() / n as f64;
    let yc: Vec<f64> = y.iter().map(|v| v - mean_y).collect();
    let (gram, xy) = gram_and_xy(&xs, &yc, n, m);
    let path = lars_path(&gram, &xy, n, m, 500, true);

    // Noise variance from the least-squares fit over all columns.
    let (ols, _) = solve_symmetric(&gram, &xy, m);
    let rss = |coef: &[f64]| -> f64 {
        (0..n)
            .map(|i| {
                let fit: f64 = (0..m).map(|j| xs[i * m + j] * coef[j]).sum();
                (yc[i] - fit).powi(2)
            })
            .sum()
    };
    let noise = rss(&ols) / (n - m - 1) as f64;
    let factor = match criterion {
        Criterion::Aic => 2.0,
        Criterion::Bic => (n as f64).ln(),
    };
    let score = |coef: &[f64]| -> f64 {
        let dof = coef.iter().filter(|c| c.abs() > f64::EPSILON).count() as f64;
        n as f64 * (2.0 * std::f64::consts::PI * noise).ln() + rss(coef) / noise + factor * dof
    };
    let mut best = 0;
    let mut best_score = f64::INFINITY;
    for (k, coef) in path.coefs.iter().enumerate() {
        let s = score(coef);
        if s < best_score {
            best_score = s;
            best = k;
        }
    }
    Some((0..m).filter(|&j| path.coefs[best][j] != 0.0).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_enter_by_correlation() {
        // y = 3 x0 + 1 x2 with orthogonal columns: x0 enters first, then x2; x1 never.
        let x = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0];
        let y = [3.0, 0.0, 1.0, 0.0];
        assert_eq!(lar_active_set(&x, &y, 4, 3, 3), vec![0, 2]);
        assert_eq!(lar_active_set(&x, &y, 4, 3, 1), vec![0]);
    }
}
