//! Kernel SHAP's regression for one explained row and output: optional feature selection
//! (shap's `l1_reg`), the efficiency-constrained weighted least squares, and the standard
//! errors of its values under coalition sampling.

use super::design::KernelDesign;
use super::kernel::FeatureSelection;
use super::lars::{Criterion, lar_active_set, lasso_lars_ic};
use super::lasso::lasso_support;
use crate::ensemble::Link;
use crate::linalg::{SolveKind, SymmetricSolver};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, s};

/// Values with a magnitude below this are set to exactly 0, as shap does.
const ZERO_CLAMP: f64 = 1e-10;

/// The efficiency-constrained weighted least squares of one row and output, as shap solves
/// it: optionally select features (LAR), eliminate the last selected feature through
/// `Σφ = Δ`, solve the normal equations for the others, and set magnitudes below 1e-10 to 0.
pub(crate) fn solve_row(
    design: &KernelDesign,
    ey: &[f64],
    output: usize,
    n_outputs: usize,
    link: Link,
    fnull: f64,
    delta: f64,
    selection: FeatureSelection,
    standard_errors: bool,
) -> (Vec<f64>, Vec<f64>, SolveKind) {
    let m = design.n_features();
    let base = link.apply(fnull);
    let targets: Vec<f64> = (0..design.n_coalitions())
        .map(|c| link.apply(ey[c * n_outputs + output]) - base)
        .collect();
    let selected: Vec<usize> = match selection {
        FeatureSelection::None => (0..m).collect(),
        FeatureSelection::NumFeatures(k) => {
            let (x, y) = augmented_problem(design, &targets, delta);
            lar_active_set(&x, &y, y.len(), m, k)
        }
        FeatureSelection::LassoAlpha(alpha) => {
            let (x, y) = augmented_problem(design, &targets, delta);
            lasso_support(&x, &y, y.len(), m, alpha)
        }
        FeatureSelection::Auto if design.fraction_evaluated() >= 0.2 => (0..m).collect(),
        FeatureSelection::InformationCriterion(_) | FeatureSelection::Auto => {
            let criterion = match selection {
                FeatureSelection::InformationCriterion(c) => c,
                _ => Criterion::Aic,
            };
            let (x, y) = augmented_problem(design, &targets, delta);
            // Too few coalitions to estimate the noise variance: no selection.
            lasso_lars_ic(&x, &y, y.len(), m, criterion).unwrap_or_else(|| (0..m).collect())
        }
    };
    let mut phi = vec![0.0; m];
    let mut se = vec![0.0; m];
    let Some((&last, free)) = selected.split_last() else {
        return (phi, se, SolveKind::Cholesky);
    };
    let n = free.len();
    let (a, rhs) = if n >= WIDE {
        normal_equations_wide(design, &targets, delta, free, last)
    } else {
        normal_equations(design, &targets, delta, free, last)
    };
    // One factorisation serves the values and every solve of the standard errors.
    let solver = SymmetricSolver::new(&a, n);
    let values = solver.solve(&rhs);
    let (variance, total) = if standard_errors {
        let wide = n >= WIDE;
        sampling_variance(design, &targets, delta, free, last, &solver, &values, wide)
    } else {
        (vec![0.0; n], 0.0)
    };
    let rest: f64 = values.iter().sum();
    for (p, (&j, v)) in free.iter().zip(&values).enumerate() {
        phi[j] = *v;
        se[j] = variance[p].max(0.0).sqrt();
    }
    phi[last] = delta - rest;
    se[last] = total.max(0.0).sqrt();
    for v in &mut phi {
        if v.abs() < ZERO_CLAMP {
            *v = 0.0;
        }
    }
    (phi, se, solver.kind())
}

/// From this many free features on, the normal equations and the standard errors use
/// matrix products (`ndarray`'s blocked, vectorised kernels) instead of row-by-row updates:
/// the work grows as coalitions x features², which products do several times faster.
const WIDE: usize = 64;

/// Coalitions per block of the wide normal equations (a block's rows fit in cache).
const BLOCK: usize = 256;

/// `A = Xᵀ W X` and `b = Xᵀ W y` for the free features, where row `c` of `X` is the
/// coalition's mask minus the eliminated feature's, row by row (lower triangle, mirrored).
fn normal_equations(
    design: &KernelDesign,
    targets: &[f64],
    delta: f64,
    free: &[usize],
    last: usize,
) -> (Vec<f64>, Vec<f64>) {
    let n = free.len();
    let mut a = vec![0.0; n * n];
    let mut rhs = vec![0.0; n];
    let mut row = vec![0.0; n];
    for (c, &w) in design.weights().iter().enumerate() {
        let mask = design.mask(c);
        let z_last = mask[last] as f64;
        let y = targets[c] - z_last * delta;
        for (r, &j) in row.iter_mut().zip(free) {
            *r = mask[j] as f64 - z_last;
        }
        for p in 0..n {
            if row[p] == 0.0 {
                continue;
            }
            let wp = w * row[p];
            rhs[p] += wp * y;
            for q in 0..=p {
                a[p * n + q] += wp * row[q];
            }
        }
    }
    for p in 0..n {
        for q in 0..p {
            a[q * n + p] = a[p * n + q];
        }
    }
    (a, rhs)
}

/// [`normal_equations`] by matrix products over blocks of [`BLOCK`] rows, with two savings:
/// a coalition and its complement have opposite rows (`(1 − z) − (1 − z_last) = −(z − z_last)`),
/// hence the same outer product, so a pair (and any repeated coalition) enters `A` once with
/// the weights summed; and only the lower triangle of the symmetric `A` is computed, by column
/// blocks. About a quarter of the arithmetic of `Xᵀ W X` over every coalition.
fn normal_equations_wide(
    design: &KernelDesign,
    targets: &[f64],
    delta: f64,
    free: &[usize],
    last: usize,
) -> (Vec<f64>, Vec<f64>) {
    let n = free.len();
    let weights = design.weights();
    let mut rhs = vec![0.0; n];
    // The rows of A's products: (coalition, summed weight). A coalition's row is identified
    // by its mask on the regression's features, read with the eliminated feature out (the
    // complement when it is in): complements and repeats then share one row.
    let mut rows: Vec<(usize, f64)> = Vec::with_capacity(weights.len());
    let mut row_of: std::collections::HashMap<Vec<u8>, usize> = std::collections::HashMap::new();
    let mut key = vec![0u8; n];
    for (c, &w) in weights.iter().enumerate() {
        let mask = design.mask(c);
        let z_last = mask[last] as f64;
        let y = targets[c] - z_last * delta;
        for (p, &j) in free.iter().enumerate() {
            rhs[p] += w * (mask[j] as f64 - z_last) * y;
            key[p] = mask[j] ^ mask[last];
        }
        match row_of.get(&key) {
            Some(&r) => rows[r].1 += w,
            None => {
                row_of.insert(key.clone(), rows.len());
                rows.push((c, w));
            }
        }
    }
    let mut a = Array2::<f64>::zeros((n, n));
    let mut x = Array2::<f64>::zeros((BLOCK, n));
    let mut wx = Array2::<f64>::zeros((BLOCK, n));
    for block in rows.chunks(BLOCK) {
        for (r, &(c, w)) in block.iter().enumerate() {
            let mask = design.mask(c);
            let z_last = mask[last] as f64;
            for (p, &j) in free.iter().enumerate() {
                let v = mask[j] as f64 - z_last;
                x[[r, p]] = v;
                wx[[r, p]] = w * v;
            }
        }
        let k = block.len();
        for j0 in (0..n).step_by(BLOCK) {
            let j1 = (j0 + BLOCK).min(n);
            let lhs = x.slice(s![..k, j0..]);
            let rhs_block = wx.slice(s![..k, j0..j1]);
            general_mat_mul(
                1.0,
                &lhs.t(),
                &rhs_block,
                1.0,
                &mut a.slice_mut(s![j0.., j0..j1]),
            );
        }
    }
    for p in 0..n {
        for q in p + 1..n {
            a[[p, q]] = a[[q, p]];
        }
    }
    (a.into_raw_vec_and_offset().0, rhs)
}

/// The variances of the free values due to coalition sampling, and the variance of their sum
/// (the last value's, as it is `Δ` minus that sum): the diagonal and the total of the
/// sandwich estimate `A⁻¹ S A⁻¹`, where `S` estimates the covariance of the sum of the per-draw contributions
/// `w·x·(y − xᵀβ)` of the sampling units (a coalition with its complement): within each
/// stratum (a size class of a stratified design; all of shap's draws form one), the empirical
/// covariance of its units times their number, with the finite-population factor of drawing
/// without replacement. A stratum with a single unit is pooled with the next (or, the last,
/// with the previous). Enumerated coalitions add no variance; an exhaustive design gives 0.
///
/// `S` is a weighted sum of outer products of centred contributions `g`, so the diagonal and
/// total need only `h = A⁻¹ g` per unit (one O(n²) solve with the factorisation the values
/// used), never the n × n matrices `S` and `A⁻¹ S A⁻¹`: O(units · n²), not O(n⁴).
fn sampling_variance(
    design: &KernelDesign,
    targets: &[f64],
    delta: f64,
    free: &[usize],
    last: usize,
    solver: &SymmetricSolver,
    beta: &[f64],
    by_inverse: bool,
) -> (Vec<f64>, f64) {
    let n = free.len();
    let n_fixed = design.n_fixed();
    let n_coal = design.n_coalitions();
    if n_fixed >= n_coal || n == 0 {
        return (vec![0.0; n], 0.0);
    }
    // Per-draw contribution of each unit, indexed by the unit's first coalition.
    let mut contribution: Vec<f64> = vec![0.0; (n_coal - n_fixed) * n];
    let mut x = vec![0.0; n];
    for c in n_fixed..n_coal {
        let mask = design.mask(c);
        let z_last = mask[last] as f64;
        for (xp, &j) in x.iter_mut().zip(free) {
            *xp = mask[j] as f64 - z_last;
        }
        let fit: f64 = x.iter().zip(beta).map(|(p, q)| p * q).sum();
        let residual = targets[c] - z_last * delta - fit;
        let unit = design.unit(c) - n_fixed;
        let w = design.draw_weight(c);
        for p in 0..n {
            contribution[unit * n + p] += w * x[p] * residual;
        }
    }
    // Units (offset, draws) grouped by stratum, in stratum order.
    let mut strata: Vec<(Vec<(usize, f64)>, f64)> = Vec::new();
    for c in (n_fixed..n_coal).filter(|&c| design.unit(c) == c) {
        let (s, fpc) = design.stratum(c);
        if strata.len() <= s {
            strata.resize_with(s + 1, || (Vec::new(), fpc));
        }
        strata[s].0.push((c - n_fixed, design.draws(c)));
    }
    let mut groups: Vec<(Vec<(usize, f64)>, f64)> = Vec::new();
    let mut pending: Option<(Vec<(usize, f64)>, f64)> = None;
    for (units, fpc) in strata.into_iter().filter(|(u, _)| !u.is_empty()) {
        let (mut all, mut f) = pending.take().unwrap_or((Vec::new(), 0.0));
        let before: f64 = all.iter().map(|(_, d)| d).sum();
        let added: f64 = units.iter().map(|(_, d)| d).sum();
        f = (f * before + fpc * added) / (before + added);
        all.extend(units);
        if before + added >= 2.0 {
            groups.push((all, f));
        } else {
            pending = Some((all, f));
        }
    }
    if let Some((units, f)) = pending {
        match groups.last_mut() {
            Some((all, g)) => {
                let before: f64 = all.iter().map(|(_, d)| d).sum();
                let added: f64 = units.iter().map(|(_, d)| d).sum();
                *g = (*g * before + f * added) / (before + added);
                all.extend(units);
            }
            None => return (vec![0.0; n], 0.0),
        }
    }
    // Every unit's centred contribution g and its weight in S.
    let n_units: usize = groups.iter().map(|(units, _)| units.len()).sum();
    let mut centred = Array2::<f64>::zeros((n_units, n));
    let mut weights = Vec::with_capacity(n_units);
    for (units, fpc) in &groups {
        let draws: f64 = units.iter().map(|(_, d)| d).sum();
        let mut mean = vec![0.0; n];
        for &(u, d) in units {
            for p in 0..n {
                mean[p] += d * contribution[u * n + p] / draws;
            }
        }
        let scale = fpc * draws / (draws - 1.0);
        for &(u, d) in units {
            let mut row = centred.row_mut(weights.len());
            for p in 0..n {
                row[p] = contribution[u * n + p] - mean[p];
            }
            weights.push(scale * d);
        }
    }
    // h = A⁻¹ g per unit: wide, all at once by matrix products; else one solve each.
    let h = if by_inverse {
        solver.solve_rows(centred.view())
    } else {
        let mut h = Array2::<f64>::zeros((n_units, n));
        for (r, g) in centred.rows().into_iter().enumerate() {
            let solved = solver.solve(g.as_slice().expect("rows of a standard array"));
            h.row_mut(r).assign(&ndarray::ArrayView1::from(&solved));
        }
        h
    };
    let mut variance = vec![0.0; n];
    let mut total = 0.0;
    for (row, &weight) in h.rows().into_iter().zip(&weights) {
        for p in 0..n {
            variance[p] += weight * row[p] * row[p];
        }
        let sum: f64 = row.sum();
        total += weight * sum * sum;
    }
    (variance, total)
}

/// shap's problem for feature selection: rows `[Z; Z − 1]` with weights
/// `[w·(M − |z|); w·|z|]` and targets `[t; t − Δ]`, all scaled by the square roots of the
/// weights (so that the selection respects efficiency). Returns `(X row-major, y)`.
fn augmented_problem(design: &KernelDesign, targets: &[f64], delta: f64) -> (Vec<f64>, Vec<f64>) {
    let m = design.n_features();
    let n_coal = design.n_coalitions();
    let mut x = vec![0.0; 2 * n_coal * m];
    let mut y = vec![0.0; 2 * n_coal];
    for (c, &w) in design.weights().iter().enumerate() {
        let mask = design.mask(c);
        let size: f64 = mask.iter().map(|&b| b as f64).sum();
        let w_in = (w * (m as f64 - size)).sqrt();
        let w_out = (w * size).sqrt();
        y[c] = w_in * targets[c];
        y[n_coal + c] = w_out * (targets[c] - delta);
        for j in 0..m {
            let z = mask[j] as f64;
            x[c * m + j] = w_in * z;
            x[(n_coal + c) * m + j] = w_out * (z - 1.0);
        }
    }
    (x, y)
}

#[cfg(test)]
mod tests {
    use super::super::design::Sampling;
    use super::*;
    use crate::rng::Rng;

    /// The wide forms (matrix products, `A⁻¹` once) equal the row-by-row forms on a sampled
    /// 80-feature design, to 1e-10 relative: both are the same sums in another order.
    #[test]
    fn wide_forms_equal_the_row_by_row_forms() {
        let m = 80;
        let mut rng = Rng::stream(7, 0);
        let design = KernelDesign::with_sampling(m, Some(600), Sampling::Stratified, &mut rng)
            .expect("a sampled design");
        let targets: Vec<f64> = (0..design.n_coalitions())
            .map(|c| {
                let mask = design.mask(c);
                (0..m)
                    .map(|j| mask[j] as f64 * (j as f64).sin())
                    .sum::<f64>()
                    + 0.1 * (c as f64).cos()
            })
            .collect();
        let delta = (0..m).map(|j| (j as f64).sin()).sum::<f64>();
        let free: Vec<usize> = (0..m - 1).collect();
        let last = m - 1;
        let (a, b) = normal_equations(&design, &targets, delta, &free, last);
        let (aw, bw) = normal_equations_wide(&design, &targets, delta, &free, last);
        let close = |x: &[f64], y: &[f64]| {
            let scale = x.iter().fold(0.0f64, |s, v| s.max(v.abs()));
            x.iter().zip(y).all(|(p, q)| (p - q).abs() <= 1e-10 * scale)
        };
        assert!(close(&a, &aw) && close(&b, &bw));
        let solver = SymmetricSolver::new(&a, free.len());
        let beta = solver.solve(&b);
        let (v, t) =
            sampling_variance(&design, &targets, delta, &free, last, &solver, &beta, false);
        let (vw, tw) =
            sampling_variance(&design, &targets, delta, &free, last, &solver, &beta, true);
        assert!(
            v.iter().any(|&x| x > 0.0),
            "a sampled design has sampling variance"
        );
        assert!(close(&v, &vw) && close(&[t], &[tw]), "{t} vs {tw}");
    }
}
