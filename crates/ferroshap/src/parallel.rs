//! Thread control. Work is split into blocks whose boundaries depend only on the input
//! sizes, never on the number of threads, so results are identical for any thread count.

use std::sync::{Arc, Mutex};

use rayon::ThreadPool;

use crate::error::{Error, Result};

/// Rows per unit of parallel work.
pub(crate) const ROW_BLOCK: usize = 16;

/// Runs `f` on a rayon pool of `n_threads` threads, or on the global pool when `None`.
///
/// Pools are started on first use and kept for later calls with the same count (starting
/// threads costs more than explaining a row through a small model).
pub fn with_threads<R: Send>(n_threads: Option<usize>, f: impl FnOnce() -> R + Send) -> Result<R> {
    match n_threads {
        None => Ok(f()),
        Some(0) => Err(Error::Parameter("n_threads must be at least 1".into())),
        Some(n) => Ok(pool(n)?.install(f)),
    }
}

/// The pools started so far, by thread count, and the process that started them.
struct Pools {
    pid: u32,
    pools: Vec<(usize, Arc<ThreadPool>)>,
}

static POOLS: Mutex<Option<Pools>> = Mutex::new(None);

/// The kept pool of `n` threads, started if there is none.
fn pool(n: usize) -> Result<Arc<ThreadPool>> {
    let mut guard = POOLS.lock().unwrap_or_else(|e| e.into_inner());
    let pid = std::process::id();
    // A forked child has the parent's pools without their threads: start its own (the
    // parent's are leaked, as dropping them would signal threads that do not exist here).
    if guard.as_ref().is_some_and(|p| p.pid != pid) {
        std::mem::forget(guard.take());
    }
    let kept = guard.get_or_insert_with(|| Pools {
        pid,
        pools: Vec::new(),
    });
    if let Some((_, pool)) = kept.pools.iter().find(|(k, _)| *k == n) {
        return Ok(Arc::clone(pool));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .map_err(|e| Error::Parameter(format!("cannot start {n} threads: {e}")))?;
    let pool = Arc::new(pool);
    kept.pools.push((n, Arc::clone(&pool)));
    Ok(pool)
}
