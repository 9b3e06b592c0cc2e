//! Thread control. Work is split into blocks whose boundaries depend only on the input
//! sizes, never on the number of threads, so results are identical for any thread count.

use crate::error::{Error, Result};

/// Rows per unit of parallel work.
pub(crate) const ROW_BLOCK: usize = 16;

/// Runs `f` on a rayon pool of `n_threads` threads, or on the global pool when `None`.
pub fn with_threads<R: Send>(n_threads: Option<usize>, f: impl FnOnce() -> R + Send) -> Result<R> {
    match n_threads {
        None => Ok(f()),
        Some(0) => Err(Error::Parameter("n_threads must be at least 1".into())),
        Some(n) => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .map_err(|e| Error::Parameter(format!("cannot start {n} threads: {e}")))?;
            Ok(pool.install(f))
        }
    }
}
