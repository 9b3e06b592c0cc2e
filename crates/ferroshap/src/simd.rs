//! Running a kernel with the CPU's wider vector instructions when it has them. Wheels are
//! built for the x86-64 baseline (two f64 per vector register); the hot loops are written so
//! that the compiler vectorises them, and [`with_avx2`] gives them four where the CPU can.

/// Runs `f` compiled for AVX2 (and FMA-free: results are bit-identical to the baseline
/// build, as only the vector width changes) with the bit-counting instructions every AVX2 CPU
/// has (POPCNT, BMI1) when the CPU has them, else as compiled for the baseline. Code reached from `f` gets the wider instructions only where it is inlined into
/// `f`: the kernels it calls are `#[inline(always)]`.
#[inline(always)]
pub(crate) fn with_avx2<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("popcnt")
        && std::arch::is_x86_feature_detected!("bmi1")
    {
        return run_avx2(f);
    }
    f()
}

// Unsafe only in that a function compiled for AVX2 may only run on a CPU that has
// it, which the caller has just checked.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[inline(always)]
fn run_avx2<R>(f: impl FnOnce() -> R) -> R {
    #[target_feature(enable = "avx2,popcnt,bmi1")]
    fn avx2<R>(f: impl FnOnce() -> R) -> R {
        f()
    }
    // SAFETY: only called after `is_x86_feature_detected!` found every enabled feature.
    unsafe { avx2(f) }
}

/// Bit i set when `lanes[i] & mask == 0`: four lanes per comparison, the comparisons' sign
/// bits as the result (compilers do not find this form from a loop over the lanes).
#[inline(always)]
pub(crate) fn zero_lanes(lanes: &[u32; 8], mask: u32) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "sse2")]
        #[inline]
        fn sse2(lanes: &[u32; 8], mask: u32) -> u32 {
            use std::arch::x86_64::{
                _mm_and_si128, _mm_castsi128_ps, _mm_cmpeq_epi32, _mm_movemask_ps, _mm_set1_epi32,
                _mm_setr_epi32, _mm_setzero_si128,
            };
            let quarter = |q: &[u32]| {
                let v = _mm_setr_epi32(q[0] as i32, q[1] as i32, q[2] as i32, q[3] as i32);
                let masked = _mm_and_si128(v, _mm_set1_epi32(mask as i32));
                let zero = _mm_cmpeq_epi32(masked, _mm_setzero_si128());
                _mm_movemask_ps(_mm_castsi128_ps(zero)) as u32
            };
            quarter(&lanes[..4]) | quarter(&lanes[4..]) << 4
        }
        // SAFETY: SSE2 is part of the x86-64 baseline: every x86-64 CPU has it.
        #[allow(unsafe_code)]
        unsafe {
            sse2(lanes, mask)
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let mut bits = 0u32;
        for (i, &lane) in lanes.iter().enumerate() {
            bits |= u32::from(lane & mask == 0) << i;
        }
        bits
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn zero_lanes_mark_the_lanes_without_a_masked_bit() {
        let lanes = [0b000, 0b001, 0b010, 0b100, 0b110, 0xFFFF_0000, 0b101, 0];
        for mask in [0u32, 0b001, 0b011, 0b111, 0xFFFF, 0xFFFF_FFFF] {
            let want = lanes
                .iter()
                .enumerate()
                .fold(0, |bits, (i, &l)| bits | u32::from(l & mask == 0) << i);
            assert_eq!(super::zero_lanes(&lanes, mask), want, "mask {mask:b}");
        }
    }
}
