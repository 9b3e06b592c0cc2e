//! Masked rows for the model: the explained row's values on a coalition, a background row's
//! values everywhere else.

/// Writes one masked row into `dst`: `background_row` with the features `varying[j]` for
/// which `mask[j] == 1` replaced by `x`'s values.
#[inline]
pub fn write_masked_row(
    x: &[f64],
    background_row: &[f64],
    varying: &[usize],
    mask: &[u8],
    dst: &mut [f64],
) {
    dst.copy_from_slice(background_row);
    for (&j, &present) in varying.iter().zip(mask) {
        if present == 1 {
            dst[j] = x[j];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coalition_features_come_from_x() {
        let mut out = [9.0; 3];
        write_masked_row(
            &[5.0, 6.0, 7.0],
            &[1.0, 1.0, 1.0],
            &[0, 2],
            &[0, 1],
            &mut out,
        );
        assert_eq!(out, [1.0, 1.0, 7.0]);
    }
}
