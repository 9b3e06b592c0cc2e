//! Least angle regression (Efron et al. 2004), "lar" variant without lasso drops: the order
//! in which features enter the active set. Kernel SHAP's `l1_reg="num_features(k)"` keeps
//! the first `k` features to enter, as shap does with scikit-learn's `lars_path(max_iter=k)`;
//! this follows that function's stopping rules so the same features are chosen.

use crate::linalg::solve_symmetric;

/// scikit-learn stops when the largest correlation per sample falls to float32 epsilon.
const EQUALITY_TOLERANCE: f64 = f32::EPSILON as f64;
/// Added to the step denominators, as scikit-learn does, to avoid dividing by zero.
const TINY: f64 = f32::MIN_POSITIVE as f64;

/// The first `max_features` features to enter the LAR path of `y ≈ X β` (no intercept), in
/// entry order. `x` is `n × m`, row-major.
pub fn lar_active_set(x: &[f64], y: &[f64], n: usize, m: usize, max_features: usize) -> Vec<usize> {
    debug_assert_eq!(x.len(), n * m);
    let mut corr: Vec<f64> = (0..m)
        .map(|j| (0..n).map(|i| x[i * m + j] * y[i]).sum())
        .collect();
    let mut active: Vec<usize> = Vec::new();
    let mut signs: Vec<f64> = Vec::new();
    let mut is_active = vec![false; m];
    loop {
        let pick = (0..m)
            .filter(|&j| !is_active[j])
            .fold(None::<usize>, |best, j| match best {
                Some(b) if corr[b].abs() >= corr[j].abs() => Some(b),
                _ => Some(j),
            });
        let c_max = pick.map_or(0.0, |j| corr[j].abs());
        if c_max / n as f64 <= EQUALITY_TOLERANCE {
            break;
        }
        if active.len() >= max_features || active.len() >= m {
            break;
        }
        let j = pick.expect("a positive correlation has a feature");
        active.push(j);
        signs.push(corr[j].signum());
        is_active[j] = true;

        // Equiangular direction of the active features.
        let k = active.len();
        let mut gram = vec![0.0; k * k];
        for (p, &a) in active.iter().enumerate() {
            for (q, &b) in active.iter().enumerate().take(p + 1) {
                let g: f64 = (0..n).map(|i| x[i * m + a] * x[i * m + b]).sum();
                gram[p * k + q] = g;
                gram[q * k + p] = g;
            }
        }
        let (w, _) = solve_symmetric(&gram, &signs, k);
        let norm: f64 = w.iter().zip(&signs).map(|(a, b)| a * b).sum();
        let aa = 1.0 / norm.sqrt();
        if !aa.is_finite() {
            break;
        }
        let direction: Vec<f64> = (0..n)
            .map(|i| {
                active
                    .iter()
                    .zip(&w)
                    .map(|(&a, wa)| x[i * m + a] * wa * aa)
                    .sum()
            })
            .collect();
        let along: Vec<f64> = (0..m)
            .map(|j| (0..n).map(|i| x[i * m + j] * direction[i]).sum())
            .collect();
        let mut gamma = c_max / aa;
        for j in (0..m).filter(|&j| !is_active[j]) {
            for step in [
                (c_max - corr[j]) / (aa - along[j] + TINY),
                (c_max + corr[j]) / (aa + along[j] + TINY),
            ] {
                if step > 0.0 && step < gamma {
                    gamma = step;
                }
            }
        }
        for j in 0..m {
            corr[j] -= gamma * along[j];
        }
    }
    active
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
