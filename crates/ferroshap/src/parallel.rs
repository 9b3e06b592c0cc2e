//! Thread pools and cancellation.
//!
//! Work is split into blocks whose boundaries depend only on the input sizes, never on the
//! number of threads, so results are identical for any thread count.
//!
//! Every computation runs on a pool of ferroshap's own, never on rayon's global pool: a
//! process forked after a call (Python's `multiprocessing`, gunicorn and celery workers)
//! inherits the global pool's state without its threads and would wait forever on its first
//! call. Pools remember the process that started them; a forked child starts its own.
//!
//! A call can be cancelled ([`run_cancellable`]): each pool carries a flag that its worker
//! threads read through a thread-local, and the kernels' block loops stop taking new blocks
//! once it is set ([`cancelled`]). A pool serves one call at a time (idle pools are kept in a
//! short list and taken out while in use), so cancelling one call never touches another.
//!
//! A short call runs on the calling thread instead ([`run_cancellable_sized`]): handing work
//! to a pool and back wakes two threads (tens of microseconds), more than a small job takes.
//! Kernels split such work with [`for_each_chunk_mut`] and [`sum_blocks_into`], which run
//! the same blocks in order on the calling thread, so the results are the same either way.

use std::cell::{Cell, OnceCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rayon::ThreadPool;

use crate::error::{Error, Result};

/// Rows per unit of parallel work.
pub(crate) const ROW_BLOCK: usize = 16;

/// Adds up, into `out`, the parts that `add` computes for each of `blocks`, in block order.
///
/// Each block gets a zeroed buffer the size of `out` (and a per-thread state made by `init`)
/// and adds its contribution there; the buffers run in parallel and are then added to `out`
/// one after another, in the order of `blocks`. The blocks are the caller's and depend only on
/// the input sizes, so the sums never depend on the number of threads. A cancelled
/// computation skips the remaining blocks (the caller reports the cancellation).
pub(crate) fn sum_blocks_in_order<B, S>(
    out: &mut [f64],
    blocks: &[B],
    init: impl Fn() -> S + Sync + Send,
    add: impl Fn(&mut S, &B, &mut [f64]) + Sync + Send,
) where
    B: Sync,
{
    sum_blocks_into(
        std::slice::from_mut(&mut &mut *out),
        blocks,
        |_| 0,
        init,
        add,
    );
}

/// [`sum_blocks_in_order`] for several outputs: block `b` adds to `outs[target(b)]`, and each
/// output receives its blocks in their order in `blocks`.
pub(crate) fn sum_blocks_into<O, B, S>(
    outs: &mut [O],
    blocks: &[B],
    target: impl Fn(&B) -> usize + Sync + Send,
    init: impl Fn() -> S + Sync + Send,
    add: impl Fn(&mut S, &B, &mut [f64]) + Sync + Send,
) where
    O: AsMut<[f64]>,
    B: Sync,
{
    use rayon::prelude::*;
    let lens: Vec<usize> = outs.iter_mut().map(|o| o.as_mut().len()).collect();
    let part_of = |state: &mut S, block: &B| {
        let mut part = vec![0.0; lens[target(block)]];
        if !cancelled() {
            add(state, block, &mut part);
        }
        part
    };
    let parts: Vec<Vec<f64>> = if inline() {
        let mut state = init();
        blocks.iter().map(|b| part_of(&mut state, b)).collect()
    } else {
        blocks.par_iter().map_init(&init, part_of).collect()
    };
    for (block, part) in blocks.iter().zip(parts) {
        for (o, p) in outs[target(block)].as_mut().iter_mut().zip(part) {
            *o += p;
        }
    }
}

/// Calls `f(index, chunk)` for the chunks of `chunk` items of `data` (the last may be
/// shorter): in parallel on the current pool, or one after another on the calling thread
/// inside [`run_cancellable_sized`]'s inline path. Chunks after a cancellation are skipped.
pub(crate) fn for_each_chunk_mut<T: Send>(
    data: &mut [T],
    chunk: usize,
    f: impl Fn(usize, &mut [T]) + Sync + Send,
) {
    use rayon::prelude::*;
    let run = |(i, part): (usize, &mut [T])| {
        if !cancelled() {
            f(i, part);
        }
    };
    if inline() {
        data.chunks_mut(chunk.max(1)).enumerate().for_each(run);
    } else {
        data.par_chunks_mut(chunk.max(1)).enumerate().for_each(run);
    }
}

/// The most threads one pool may have: far beyond any machine's cores, and low enough that a
/// mistyped count fails at once instead of spending a minute starting threads.
pub const MAX_THREADS: usize = 1024;

/// Idle pools kept for later calls (starting threads costs more than explaining a row through
/// a small model); pools beyond this many are stopped, least recently used first.
const KEPT_POOLS: usize = 2;

/// How often the calling thread of [`run_cancellable`] asks whether to cancel.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Work (values read or written) up to which [`run_cancellable_sized`] runs a call on the
/// calling thread: about 10-20 us of masking or summing, less than one hand-off to a pool and
/// back costs on a loaded machine.
pub const INLINE_WORK: usize = 1 << 16;

thread_local! {
    /// The cancellation flag of the pool this thread belongs to (unset outside our pools).
    static CANCEL: OnceCell<Arc<AtomicBool>> = const { OnceCell::new() };
    /// Set while [`run_cancellable_sized`] runs a short call on the calling thread.
    static INLINE: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread is running a short call inline (block helpers then run their blocks
/// in order here rather than on a pool, which this thread may not belong to).
#[inline]
pub(crate) fn inline() -> bool {
    INLINE.with(Cell::get)
}

/// Marks the calling thread as running inline until dropped (also on unwinding), restoring
/// the previous state so that nested calls compose.
struct InlineGuard(bool);

impl InlineGuard {
    fn enter() -> Self {
        InlineGuard(INLINE.with(|c| c.replace(true)))
    }
}

impl Drop for InlineGuard {
    fn drop(&mut self) {
        INLINE.with(|c| c.set(self.0));
    }
}

/// Whether the computation running on this thread has been cancelled. Kernels check it before
/// each block of work and skip the block when it is set; the partial result is discarded.
#[inline]
pub(crate) fn cancelled() -> bool {
    CANCEL.with(|c| c.get().is_some_and(|flag| flag.load(Ordering::Relaxed)))
}

/// `Err(Error::Cancelled)` once the computation on this thread has been cancelled.
#[inline]
pub(crate) fn check_cancelled() -> Result<()> {
    if cancelled() {
        Err(Error::Cancelled)
    } else {
        Ok(())
    }
}

struct Pool {
    threads: usize,
    pool: ThreadPool,
    cancel: Arc<AtomicBool>,
}

/// The idle pools of this process, least recently used first.
struct Idle {
    pid: u32,
    pools: Vec<Pool>,
}

static IDLE: Mutex<Option<Idle>> = Mutex::new(None);

/// The thread count used when none is given: `RAYON_NUM_THREADS` if set, else the cores this
/// process may run on.
pub fn default_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(available_cores)
        .min(MAX_THREADS)
}

/// The cores this process may run on, asked once: the answer reads the affinity mask and
/// cgroup files (about 10 us), which would cost every short call as much as its work.
fn available_cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn resolve(n_threads: Option<usize>) -> Result<usize> {
    match n_threads {
        None => Ok(default_threads()),
        Some(0) => Err(Error::Parameter("n_threads must be at least 1".into())),
        Some(n) if n > MAX_THREADS => Err(Error::Parameter(format!(
            "n_threads = {n} is more than the {MAX_THREADS} threads ferroshap starts; \
             use at most the number of cores ({})",
            default_threads()
        ))),
        Some(n) => Ok(n),
    }
}

/// Takes an idle pool of `n` threads out of the list, or starts one.
fn checkout(n: usize) -> Result<Pool> {
    {
        let mut guard = IDLE.lock().unwrap_or_else(|e| e.into_inner());
        let pid = std::process::id();
        // A forked child has the parent's pools without their threads: forget them (dropping
        // them would signal threads that do not exist here) and start its own.
        if guard.as_ref().is_some_and(|idle| idle.pid != pid) {
            std::mem::forget(guard.take());
        }
        if let Some(idle) = guard.as_mut() {
            if let Some(i) = idle.pools.iter().position(|p| p.threads == n) {
                return Ok(idle.pools.remove(i));
            }
        }
    }
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .thread_name(|i| format!("ferroshap-{i}"))
        .start_handler(move |_| CANCEL.with(|c| drop(c.set(Arc::clone(&flag)))))
        .build()
        .map_err(|e| Error::Parameter(format!("cannot start {n} threads: {e}")))?;
    Ok(Pool {
        threads: n,
        pool,
        cancel,
    })
}

/// Returns a pool to the idle list, stopping the least recently used beyond [`KEPT_POOLS`].
fn checkin(pool: Pool) {
    pool.cancel.store(false, Ordering::Relaxed);
    let pid = std::process::id();
    let stopped = {
        let mut guard = IDLE.lock().unwrap_or_else(|e| e.into_inner());
        if guard.as_ref().is_some_and(|idle| idle.pid != pid) {
            std::mem::forget(guard.take());
        }
        let idle = guard.get_or_insert_with(|| Idle {
            pid,
            pools: Vec::new(),
        });
        idle.pools.push(pool);
        let excess = idle.pools.len().saturating_sub(KEPT_POOLS);
        idle.pools.drain(..excess).collect::<Vec<_>>()
    };
    // Dropped outside the lock: stopping a pool waits for nothing, but need not block others.
    drop(stopped);
}

/// The number of idle pools kept by this process (for tests of the pool list's bound).
pub fn kept_pools() -> usize {
    let guard = IDLE.lock().unwrap_or_else(|e| e.into_inner());
    guard
        .as_ref()
        .filter(|idle| idle.pid == std::process::id())
        .map_or(0, |idle| idle.pools.len())
}

/// Runs `f` on a pool of `n_threads` threads (the default count when `None`).
///
/// A panic inside `f` is returned as [`Error::Internal`] rather than unwinding into the caller.
pub fn with_threads<R: Send>(n_threads: Option<usize>, f: impl FnOnce() -> R + Send) -> Result<R> {
    run_cancellable(n_threads, f, || false)
}

/// Runs `f` on a pool of `n_threads` threads while the calling thread asks `cancel` every
/// 50 ms whether to stop. Once `cancel` returns true, the kernels stop taking new blocks of
/// work, `f`'s partial result is dropped and `Err(Error::Cancelled)` is returned (within
/// about one block's time). The pool stays usable for later calls.
pub fn run_cancellable<R: Send>(
    n_threads: Option<usize>,
    f: impl FnOnce() -> R + Send,
    mut cancel: impl FnMut() -> bool,
) -> Result<R> {
    let pool = checkout(resolve(n_threads)?)?;
    let outcome = pool.pool.in_place_scope(|scope| {
        let (done, result) = mpsc::channel();
        scope.spawn(move |_| {
            let _ = done.send(catch_unwind(AssertUnwindSafe(f)));
        });
        let mut cancelled = false;
        loop {
            match result.recv_timeout(POLL_INTERVAL) {
                Ok(r) => break (r, cancelled),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if !cancelled && cancel() {
                        cancelled = true;
                        pool.cancel.store(true, Ordering::Relaxed);
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    unreachable!("the job sends its result before it ends")
                }
            }
        }
    });
    checkin(pool);
    match outcome {
        (_, true) => Err(Error::Cancelled),
        (Ok(r), false) => Ok(r),
        (Err(payload), false) => Err(Error::Internal(panic_message(payload.as_ref()))),
    }
}

/// [`run_cancellable`], except that a call of at most [`INLINE_WORK`] units of `work` runs
/// on the calling thread, skipping the hand-off to the pool and back.
///
/// The inline path asks `cancel` once before it starts (a short call ends before the next
/// poll would come), turns a panic into [`Error::Internal`] as the pooled path does, and
/// validates `n_threads` the same way. `f` must split its work with this module's block
/// helpers (`for_each_chunk_mut`, `sum_blocks_into`) or run sequentially: they run the
/// same blocks in the same order either way, so results do not depend on the path taken (nor
/// on the thread count).
pub fn run_cancellable_sized<R: Send>(
    n_threads: Option<usize>,
    work: usize,
    f: impl FnOnce() -> R + Send,
    mut cancel: impl FnMut() -> bool,
) -> Result<R> {
    if work > INLINE_WORK {
        return run_cancellable(n_threads, f, cancel);
    }
    resolve(n_threads)?;
    if cancel() {
        return Err(Error::Cancelled);
    }
    let _inline = InlineGuard::enter();
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| Error::Internal(panic_message(p.as_ref())))
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    format!("{text} (a bug in ferroshap: please report it with the input that caused it)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    #[test]
    fn a_panic_is_an_error() {
        let r: Result<()> = with_threads(Some(2), || panic!("boom"));
        match r {
            Err(Error::Internal(msg)) => assert!(msg.contains("boom"), "{msg}"),
            other => panic!("expected Internal, got {other:?}"),
        }
        // The pool still works afterwards.
        assert_eq!(with_threads(Some(2), || 7).unwrap(), 7);
    }

    #[test]
    fn cancellation_stops_blocks_and_leaves_the_pool_usable() {
        let started = std::time::Instant::now();
        let r = run_cancellable(
            Some(2),
            || {
                (0..10_000).into_par_iter().for_each(|_| {
                    if !cancelled() {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                })
            },
            || started.elapsed() > Duration::from_millis(120),
        );
        assert!(matches!(r, Err(Error::Cancelled)), "{r:?}");
        // 10,000 blocks of 5 ms on 2 threads would take 25 s; cancelled after ~0.12 s.
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(
            with_threads(Some(2), || (0..100).into_par_iter().sum::<i32>()).unwrap(),
            4950
        );
    }

    /// Sums blocks of `data` through both helpers, on whichever path `run` takes.
    fn blockwise(data: &mut [f64]) -> Vec<f64> {
        for_each_chunk_mut(data, 7, |i, chunk| {
            for (j, v) in chunk.iter_mut().enumerate() {
                *v = (i * 7 + j) as f64 * 0.1;
            }
        });
        let blocks: Vec<usize> = (0..data.len()).step_by(5).collect();
        let mut out = vec![0.0; 2];
        sum_blocks_in_order(
            &mut out,
            &blocks,
            || (),
            |_, &b, part| {
                for (k, v) in data[b..(b + 5).min(data.len())].iter().enumerate() {
                    part[k % 2] += v.sqrt();
                }
            },
        );
        out
    }

    #[test]
    fn short_calls_run_inline_with_the_same_results() {
        let caller = std::thread::current().id();
        let small = run_cancellable_sized(
            Some(2),
            10,
            || (std::thread::current().id(), inline()),
            || false,
        )
        .unwrap();
        assert_eq!(small, (caller, true));
        assert!(!inline(), "the inline mark is cleared afterwards");
        let large = run_cancellable_sized(
            Some(2),
            INLINE_WORK + 1,
            || (std::thread::current().id(), inline()),
            || false,
        )
        .unwrap();
        assert_ne!(large.0, caller);
        assert!(!large.1);
        // Same blocks in the same order: bit-identical sums on either path.
        let mut a = vec![0.0; 1000];
        let mut b = vec![0.0; 1000];
        let inline_sums = run_cancellable_sized(Some(2), 0, || blockwise(&mut a), || false);
        let pooled_sums = run_cancellable(Some(2), || blockwise(&mut b), || false);
        assert_eq!(inline_sums.unwrap(), pooled_sums.unwrap());
        assert_eq!(a, b);
    }

    #[test]
    fn short_calls_are_cancellable_and_panic_safe() {
        let r = run_cancellable_sized(Some(2), 0, || 1, || true);
        assert!(matches!(r, Err(Error::Cancelled)), "{r:?}");
        let r: Result<()> = run_cancellable_sized(Some(2), 0, || panic!("inline boom"), || false);
        match r {
            Err(Error::Internal(msg)) => assert!(msg.contains("inline boom"), "{msg}"),
            other => panic!("expected Internal, got {other:?}"),
        }
        assert!(!inline(), "a panic clears the inline mark");
        assert!(matches!(
            run_cancellable_sized(Some(0), 0, || (), || false),
            Err(Error::Parameter(_))
        ));
    }

    #[test]
    fn thread_counts_are_bounded() {
        assert!(matches!(
            with_threads(Some(0), || ()),
            Err(Error::Parameter(_))
        ));
        let err = with_threads(Some(MAX_THREADS + 1), || ()).unwrap_err();
        assert!(err.to_string().contains("1024"), "{err}");
    }

    #[test]
    fn idle_pools_are_few() {
        for n in 1..=5 {
            with_threads(Some(n), || ()).unwrap();
        }
        assert!(kept_pools() <= KEPT_POOLS);
    }
}
