//! Running a kernel with the CPU's wider vector instructions when it has them. Wheels are
//! built for the x86-64 baseline (two f64 per vector register); the hot loops are written so
//! that the compiler vectorises them, and [`with_avx2`] gives them four where the CPU can.

/// Runs `f` compiled for AVX2 (and FMA-free: results are bit-identical to the baseline
/// build, as only the vector width changes) when the CPU has AVX2, else as compiled for the
/// baseline. Code reached from `f` gets the wider instructions only where it is inlined into
/// `f`: the kernels it calls are `#[inline(always)]`.
#[inline(always)]
pub(crate) fn with_avx2<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
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
    #[target_feature(enable = "avx2")]
    fn avx2<R>(f: impl FnOnce() -> R) -> R {
        f()
    }
    // SAFETY: only called after `is_x86_feature_detected!("avx2")` returned true.
    unsafe { avx2(f) }
}
