//! Kernel SHAP's regression for one explained row and output: optional feature selection
//! (shap's `l1_reg`), the efficiency-constrained weighted least squares, and the standard
//! errors of its values under coalition sampling.

use super::design::KernelDesign;
use super::kernel::{FeatureSelection, KernelLink};
use super::lars::{Criterion, lar_active_set, lasso_lars_ic};
use super::lasso::lasso_support;
use crate::linalg::{SolveKind, solve_symmetric};

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
    link: KernelLink,
    fnull: f64,
    delta: f64,
    selection: FeatureSelection,
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
    let (values, kind) = solve_symmetric(&a, &rhs, n);
    let variance = sampling_covariance(design, &targets, delta, free, last, &a, &values);
    let rest: f64 = values.iter().sum();
    for (p, (&j, v)) in free.iter().zip(&values).enumerate() {
        phi[j] = *v;
        se[j] = variance[p * n + p].max(0.0).sqrt();
    }
    phi[last] = delta - rest;
    se[last] = variance.iter().sum::<f64>().max(0.0).sqrt();
    for v in &mut phi {
        if v.abs() < ZERO_CLAMP {
            *v = 0.0;
        }
    }
    (phi, se, kind)
}

/// Sandwich estimate of the covariance of the free values due to coalition sampling:
/// `A⁻¹ S A⁻¹`, where `S` estimates the covariance of the sum of the per-draw contributions
/// `w·x·(y − xᵀβ)` of the sampling units (a coalition with its complement): within each
/// stratum (a size class of a stratified design; all of shap's draws form one), the empirical
/// covariance of its units times their number, with the finite-population factor of drawing
/// without replacement. A stratum with a single unit is pooled with the next (or, the last,
/// with the previous). Enumerated coalitions add no variance; an exhaustive design gives 0.
fn sampling_covariance(
    design: &KernelDesign,
    targets: &[f64],
    delta: f64,
    free: &[usize],
    last: usize,
    a: &[f64],
    beta: &[f64],
) -> Vec<f64> {
    let n = free.len();
    let n_fixed = design.n_fixed();
    let n_coal = design.n_coalitions();
    if n_fixed >= n_coal || n == 0 {
        return vec![0.0; n * n];
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
            None => return vec![0.0; n * n],
        }
    }
    let mut meat = vec![0.0; n * n];
    for (units, fpc) in &groups {
        let total: f64 = units.iter().map(|(_, d)| d).sum();
        let mut mean = vec![0.0; n];
        for &(u, d) in units {
            for p in 0..n {
                mean[p] += d * contribution[u * n + p] / total;
            }
        }
        let scale = fpc * total / (total - 1.0);
        for &(u, d) in units {
            for p in 0..n {
                let dp = contribution[u * n + p] - mean[p];
                for q in 0..n {
                    meat[p * n + q] += scale * d * dp * (contribution[u * n + q] - mean[q]);
                }
            }
        }
    }
    // A⁻¹ S A⁻¹, column by column.
    let mut left = vec![0.0; n * n]; // A⁻¹ S
    for q in 0..n {
        let column: Vec<f64> = (0..n).map(|p| meat[p * n + q]).collect();
        let (solved, _) = solve_symmetric(a, &column, n);
        for p in 0..n {
            left[p * n + q] = solved[p];
        }
    }
    let mut cov = vec![0.0; n * n];
    for p in 0..n {
        let row: Vec<f64> = (0..n).map(|q| left[p * n + q]).collect();
        let (solved, _) = solve_symmetric(a, &row, n); // (A⁻¹ S A⁻¹)ᵀ row p = A⁻¹ (A⁻¹ S)ᵀ
        for q in 0..n {
            cov[p * n + q] = solved[q];
        }
    }
    cov
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
