//! Small dense linear algebra in f64 for the regression estimators: the normal equations of
//! a weighted least-squares problem, solved by Cholesky, with a rank-revealing fallback.

use ndarray::{Array2, ArrayView2};

/// Above this condition number a normal-equation solve is treated as rank-deficient: its
/// solution would carry errors of order `cond · 1e-16` relative, i.e. none of its digits.
pub const MAX_CONDITION: f64 = 1e12;

/// How a symmetric system was solved.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SolveKind {
    /// Cholesky factorisation: the matrix was positive definite and well conditioned.
    Cholesky,
    /// The matrix was singular or ill-conditioned (condition number estimate attached);
    /// the minimum-norm least-squares solution was returned instead.
    PseudoInverse {
        /// Estimated condition number (infinite when singular).
        condition: f64,
    },
}

/// Solves `a x = b` for a symmetric positive semi-definite `n × n` matrix `a` (row-major).
///
/// Uses Cholesky when `a` is positive definite with a condition number below
/// [`MAX_CONDITION`]; otherwise returns the minimum-norm solution through a symmetric
/// eigendecomposition, discarding eigenvalues below `max_eigenvalue / MAX_CONDITION`.
pub fn solve_symmetric(a: &[f64], b: &[f64], n: usize) -> (Vec<f64>, SolveKind) {
    let solver = SymmetricSolver::new(a, n);
    (solver.solve(b), solver.kind())
}

/// A symmetric positive semi-definite system factorised once and solved for many right-hand
/// sides (O(n²) each): by its Cholesky factor, or, when `a` is singular or ill-conditioned,
/// by the minimum-norm pseudo-inverse of [`solve_symmetric`].
pub enum SymmetricSolver {
    /// The lower-triangular factor `l` (row-major) of `a = l lᵀ`.
    Cholesky {
        /// The factor, row-major `n × n`.
        l: Vec<f64>,
        /// The order of the system.
        n: usize,
    },
    /// The pseudo-inverse, row-major `n × n`.
    PseudoInverse {
        /// The pseudo-inverse of `a`.
        inverse: Vec<f64>,
        /// The order of the system.
        n: usize,
        /// Estimated condition number of `a` (infinite when singular).
        condition: f64,
    },
}

impl SymmetricSolver {
    /// Factorises the `n × n` row-major matrix `a`.
    pub fn new(a: &[f64], n: usize) -> SymmetricSolver {
        debug_assert_eq!(a.len(), n * n);
        if let Some(l) = cholesky(a, n) {
            return SymmetricSolver::Cholesky { l, n };
        }
        let (values, vectors) = symmetric_eigen(a, n);
        let max = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let min = values.iter().fold(f64::INFINITY, |m, v| m.min(*v));
        let condition = if min > 0.0 { max / min } else { f64::INFINITY };
        let cutoff = max / MAX_CONDITION;
        let mut inverse = vec![0.0; n * n];
        for (k, &lambda) in values.iter().enumerate() {
            if lambda <= cutoff {
                continue;
            }
            for i in 0..n {
                let vi = vectors[i * n + k] / lambda;
                for j in 0..n {
                    inverse[i * n + j] += vi * vectors[j * n + k];
                }
            }
        }
        SymmetricSolver::PseudoInverse {
            inverse,
            n,
            condition,
        }
    }

    /// How the system is solved.
    pub fn kind(&self) -> SolveKind {
        match self {
            SymmetricSolver::Cholesky { .. } => SolveKind::Cholesky,
            SymmetricSolver::PseudoInverse { condition, .. } => SolveKind::PseudoInverse {
                condition: *condition,
            },
        }
    }

    /// `a⁻¹` (or its pseudo-inverse), row-major `n × n`: `l⁻ᵀ l⁻¹` from the Cholesky factor.
    /// Only the tests use it, as an oracle for [`Self::solve_rows`].
    #[cfg(test)]
    pub fn inverse(&self) -> Vec<f64> {
        match self {
            SymmetricSolver::PseudoInverse { inverse, .. } => inverse.clone(),
            SymmetricSolver::Cholesky { l, n } => {
                let k = inverse_factor(l, *n);
                let mut inverse = Array2::<f64>::zeros((*n, *n));
                ndarray::linalg::general_mat_mul(1.0, &k.t(), &k, 0.0, &mut inverse);
                inverse.into_raw_vec_and_offset().0
            }
        }
    }

    /// The rows of `g a⁻¹` (each row's solution, as `a` is symmetric), by two blocked matrix
    /// products with `l⁻¹` — for many right-hand sides at once, far cheaper than solving each.
    pub fn solve_rows(&self, g: ArrayView2<'_, f64>) -> Array2<f64> {
        match self {
            SymmetricSolver::PseudoInverse { inverse, n, .. } => {
                let inverse = ArrayView2::from_shape((*n, *n), inverse).expect("n x n");
                g.dot(&inverse)
            }
            SymmetricSolver::Cholesky { l, n } => {
                let k = inverse_factor(l, *n);
                // g a⁻¹ = (g l⁻ᵀ) l⁻¹.
                g.dot(&k.t()).dot(&k)
            }
        }
    }

    /// The solution `x` of `a x = b`.
    pub fn solve(&self, b: &[f64]) -> Vec<f64> {
        match self {
            SymmetricSolver::Cholesky { l, n } => {
                let n = *n;
                let mut y = b.to_vec();
                for i in 0..n {
                    let row = &l[i * n..i * n + i];
                    let s: f64 = row.iter().zip(&y[..i]).map(|(a, b)| a * b).sum();
                    y[i] = (y[i] - s) / l[i * n + i];
                }
                for i in (0..n).rev() {
                    let mut s = y[i];
                    for k in i + 1..n {
                        s -= l[k * n + i] * y[k];
                    }
                    y[i] = s / l[i * n + i];
                }
                y
            }
            SymmetricSolver::PseudoInverse { inverse, n, .. } => (0..*n)
                .map(|i| {
                    inverse[i * n..(i + 1) * n]
                        .iter()
                        .zip(b)
                        .map(|(a, b)| a * b)
                        .sum()
                })
                .collect(),
        }
    }
}

/// `l⁻¹` of a lower-triangular factor, row by row: row i is
/// `(e_i − Σ_{k<i} l[i][k] · row k) / l[i][i]`, contiguous updates of rows that are themselves
/// lower triangular (row k has entries up to column k).
fn inverse_factor(l: &[f64], n: usize) -> Array2<f64> {
    let mut k = vec![0.0; n * n];
    for i in 0..n {
        let (done, rest) = k.split_at_mut(i * n);
        let row = &mut rest[..n];
        row[i] = 1.0;
        for (kk, &lik) in l[i * n..i * n + i].iter().enumerate() {
            if lik != 0.0 {
                let prev = &done[kk * n..kk * n + kk + 1];
                for (r, &p) in row[..=kk].iter_mut().zip(prev) {
                    *r -= lik * p;
                }
            }
        }
        let d = l[i * n + i];
        for r in &mut row[..=i] {
            *r /= d;
        }
    }
    Array2::from_shape_vec((n, n), k).expect("n x n")
}

/// The Cholesky factor of `a`; `None` if `a` is not positive definite or its condition number
/// (estimated from the factor's diagonal, a lower bound) exceeds [`MAX_CONDITION`].
fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for j in 0..n {
        let d = a[j * n + j] - (0..j).map(|k| l[j * n + k] * l[j * n + k]).sum::<f64>();
        if d.is_nan() || d <= 0.0 {
            return None;
        }
        let djj = d.sqrt();
        l[j * n + j] = djj;
        for i in j + 1..n {
            let (ri, rj) = (&l[i * n..i * n + j], &l[j * n..j * n + j]);
            let s: f64 = ri.iter().zip(rj).map(|(x, y)| x * y).sum();
            l[i * n + j] = (a[i * n + j] - s) / djj;
        }
    }
    let (lo, hi) = (0..n).fold((f64::INFINITY, 0.0f64), |(lo, hi), i| {
        (lo.min(l[i * n + i]), hi.max(l[i * n + i]))
    });
    if (hi / lo).powi(2) > MAX_CONDITION {
        return None;
    }
    Some(l)
}

/// Eigendecomposition of a symmetric matrix by cyclic Jacobi rotations: returns the
/// eigenvalues and the eigenvectors as the columns of a row-major `n × n` matrix.
pub fn symmetric_eigen(a: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut m = a.to_vec();
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    let norm: f64 = m.iter().map(|x| x * x).sum::<f64>().sqrt();
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| m[i * n + j] * m[i * n + j])
            .sum::<f64>()
            .sqrt();
        if off <= 1e-300 || off <= f64::EPSILON * 1e-3 * norm {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = m[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (m[q * n + q] - m[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let mkp = m[k * n + p];
                    let mkq = m[k * n + q];
                    m[k * n + p] = c * mkp - s * mkq;
                    m[k * n + q] = s * mkp + c * mkq;
                }
                for k in 0..n {
                    let mpk = m[p * n + k];
                    let mqk = m[q * n + k];
                    m[p * n + k] = c * mpk - s * mqk;
                    m[q * n + k] = s * mpk + c * mqk;
                }
                for k in 0..n {
                    let vkp = v[k * n + p];
                    let vkq = v[k * n + q];
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let values = (0..n).map(|i| m[i * n + i]).collect();
    (values, v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_a_positive_definite_system() {
        let a = [4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0];
        let x_true = [1.0, -2.0, 0.5];
        let b: Vec<f64> = (0..3)
            .map(|i| (0..3).map(|j| a[i * 3 + j] * x_true[j]).sum())
            .collect();
        let (x, kind) = solve_symmetric(&a, &b, 3);
        assert_eq!(kind, SolveKind::Cholesky);
        for i in 0..3 {
            assert!((x[i] - x_true[i]).abs() < 1e-14);
        }
    }

    #[test]
    fn singular_system_gives_the_minimum_norm_solution() {
        // a = [[1, 1], [1, 1]], b = [2, 2]: solutions x0 + x1 = 2; min norm is (1, 1).
        let (x, kind) = solve_symmetric(&[1.0, 1.0, 1.0, 1.0], &[2.0, 2.0], 2);
        assert!(matches!(kind, SolveKind::PseudoInverse { .. }));
        assert!(
            (x[0] - 1.0).abs() < 1e-12 && (x[1] - 1.0).abs() < 1e-12,
            "{x:?}"
        );
    }

    #[test]
    fn jacobi_reconstructs_the_matrix() {
        let a = [2.0, -1.0, 0.0, -1.0, 2.0, -1.0, 0.0, -1.0, 2.0];
        let (values, v) = symmetric_eigen(&a, 3);
        for i in 0..3 {
            for j in 0..3 {
                let r: f64 = (0..3)
                    .map(|k| v[i * 3 + k] * values[k] * v[j * 3 + k])
                    .sum();
                assert!((r - a[i * 3 + j]).abs() < 1e-12);
            }
        }
    }
}

#[cfg(test)]
mod inverse_tests {
    use super::*;

    #[test]
    fn the_inverse_equals_solving_unit_vectors() {
        let n = 70;
        // A well-conditioned symmetric positive definite matrix: B Bᵀ + n I.
        let b: Vec<f64> = (0..n * n)
            .map(|i| ((i * 37 % 101) as f64 - 50.0) / 50.0)
            .collect();
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = (0..n).map(|k| b[i * n + k] * b[j * n + k]).sum::<f64>();
            }
            a[i * n + i] += n as f64;
        }
        let solver = SymmetricSolver::new(&a, n);
        assert_eq!(solver.kind(), SolveKind::Cholesky);
        let inverse = solver.inverse();
        let rows = solver.solve_rows(ArrayView2::from_shape((n, n), &a).unwrap());
        for i in 0..n {
            for j in 0..n {
                // a a⁻¹ = I
                let expected = if i == j { 1.0 } else { 0.0 };
                assert!((rows[[i, j]] - expected).abs() < 1e-12, "{i} {j}");
            }
        }
        let mut e = vec![0.0; n];
        for i in 0..n {
            e[i] = 1.0;
            let column = solver.solve(&e);
            e[i] = 0.0;
            for j in 0..n {
                assert!((inverse[j * n + i] - column[j]).abs() < 1e-12, "{i} {j}");
            }
        }
    }
}
