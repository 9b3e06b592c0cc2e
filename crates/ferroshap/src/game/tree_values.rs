//! The native tree value function: a round's coalition values computed from a ferroshap tree
//! ensemble's trees ([`super::tree_game`]) instead of from masked rows and model calls, for
//! any estimator on the engine, in parallel over explained rows and blocks of background
//! rows.

use super::engine::{EngineJob, Estimator};
use super::tree_game::{PairEvaluation, RowGame, Scratch, background_routes, node_offsets};
use crate::ensemble::{OutputTransform, TreeEnsemble};
use crate::error::Result;

/// Background rows per unit of parallel work: the split depends on the input sizes only, and
/// partial sums are added in chunk order, so results do not depend on the thread count.
const BACKGROUND_CHUNK: usize = 32;
/// Where the background rows go at every node is computed once for all explained rows when
/// there are several of them (one row's walks look at a small part of the nodes) and it
/// takes at most this many words (16 MiB).
const MAX_ROUTE_WORDS: usize = 1 << 21;

/// One explained row's coalitions as 64-bit masks over the columns they use.
struct RowMasks {
    position: Vec<u32>,
    n_used: usize,
    masks: Vec<u64>,
}

/// Sets the coalition values of `job`'s round in progress to `Σᵢ wᵢ output(x_S, bᵢ)` computed
/// from `ensemble`'s trees. Returns `false`, setting nothing, when the game cannot be
/// evaluated this way: a row's coalitions use more than 64 columns, or are masked onto
/// single background rows; the caller then evaluates masked rows. The job's rows must be as
/// the trees read them (missing values marked).
pub fn set_tree_values<E: Estimator>(
    job: &mut EngineJob<E>,
    ensemble: &TreeEnsemble,
    output: OutputTransform,
    evaluation: PairEvaluation,
) -> Result<bool> {
    let Some(batch) = job.batch() else {
        return Ok(true);
    };
    let problem = job.problem();
    let p = problem.n_columns();
    ensemble.check_features(p)?;
    output.check_prediction(ensemble.n_outputs())?;
    let n_rows = problem.n_rows();
    let mut rows = Vec::with_capacity(n_rows);
    for i in 0..n_rows {
        let coalitions = batch.coalitions(i);
        if coalitions.is_on_single_rows() {
            return Ok(false);
        }
        let mut used = vec![0u64; p.div_ceil(64)];
        for c in 0..coalitions.len() {
            for (u, w) in used.iter_mut().zip(coalitions.words(c)) {
                *u |= w;
            }
        }
        let n_used: u32 = used.iter().map(|w| w.count_ones()).sum();
        if n_used > 64 {
            return Ok(false);
        }
        let mut position = vec![u32::MAX; p];
        let mut next = 0u32;
        for (j, pos) in position.iter_mut().enumerate() {
            if used[j / 64] >> (j % 64) & 1 == 1 {
                *pos = next;
                next += 1;
            }
        }
        let masks = (0..coalitions.len())
            .map(|c| {
                coalitions
                    .columns(c)
                    .fold(0u64, |acc, j| acc | 1 << position[j])
            })
            .collect();
        rows.push(RowMasks {
            position,
            n_used: n_used as usize,
            masks,
        });
    }
    let rules = *ensemble.rules();
    let (bg_raw, bg_weights) = problem.background();
    let bg: Vec<f64> = bg_raw.iter().map(|&v| rules.prepare(v)).collect();
    let n_bg = problem.n_background();
    let ko = output.n_outputs(ensemble.n_outputs());
    let n_chunks = n_bg.div_ceil(BACKGROUND_CHUNK);
    let tasks: Vec<(usize, usize)> = (0..n_rows)
        .filter(|&i| !rows[i].masks.is_empty())
        .flat_map(|i| (0..n_chunks).map(move |c| (i, c)))
        .collect();
    let (offsets, n_nodes) = node_offsets(ensemble);
    let mut routes = Vec::new();
    if n_rows > 1 && n_chunks.saturating_mul(n_nodes) <= MAX_ROUTE_WORDS {
        routes.resize(n_chunks * n_nodes, 0u64);
        crate::parallel::for_each_chunk_mut(&mut routes, n_nodes.max(1), |chunk, out| {
            let lo = chunk * BACKGROUND_CHUNK;
            let hi = (lo + BACKGROUND_CHUNK).min(n_bg);
            background_routes(ensemble, &offsets, &bg[lo * p..hi * p], p, out);
        });
    }
    let mut sums: Vec<Vec<f64>> = rows.iter().map(|r| vec![0.0; r.masks.len() * ko]).collect();
    crate::parallel::sum_blocks_into(
        &mut sums,
        &tasks,
        |&(i, _)| i,
        Scratch::default,
        |scratch, &(i, chunk), sums| {
            let row = &rows[i];
            let x_prep: Vec<f64> = problem.row(i).iter().map(|&v| rules.prepare(v)).collect();
            let game = RowGame {
                ensemble,
                output,
                evaluation,
                x: &x_prep,
                n_columns: p,
                node_offsets: &offsets,
                position: &row.position,
                n_varying: row.n_used,
                coalitions: &row.masks,
            };
            let lo = chunk * BACKGROUND_CHUNK;
            let hi = (lo + BACKGROUND_CHUNK).min(n_bg);
            let chunk_routes = (!routes.is_empty()).then(|| &routes[chunk * n_nodes..][..n_nodes]);
            game.accumulate(
                &bg[lo * p..hi * p],
                chunk_routes,
                &bg_weights[lo..hi],
                sums,
                scratch,
            );
        },
    );
    crate::parallel::check_cancelled()?;
    job.set_coalition_values(sums)?;
    Ok(true)
}
