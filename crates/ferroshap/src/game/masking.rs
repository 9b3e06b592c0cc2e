//! Masked rows for the model: the explained row's values on a coalition, background rows'
//! values everywhere else.

/// Fills `out` (whole rows of `n_columns`) with `background` (the same number of rows), then
/// sets each `(column, value)` of `present` in every row: one block copy per coalition and a
/// few scattered writes, rather than a decision per value.
#[inline]
pub fn write_masked_rows(
    out: &mut [f64],
    background: &[f64],
    n_columns: usize,
    present: &[(usize, f64)],
) {
    out.copy_from_slice(background);
    if present.is_empty() {
        return;
    }
    for row in out.chunks_exact_mut(n_columns) {
        for &(j, v) in present {
            row[j] = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coalition_features_come_from_x() {
        let mut out = [9.0; 6];
        let background = [0.0, 0.0, 0.0, 1.0, 1.0, 1.0];
        write_masked_rows(&mut out, &background, 3, &[(2, 7.0)]);
        assert_eq!(out, [0.0, 0.0, 7.0, 1.0, 1.0, 7.0]);
    }
}
