//! The game of one explained row `x` against one background row `r` (see
//! [`pair_game`](super::pair_game)), *estimated* instead of tabulated: for pairs that part on
//! too many features for a `2^|D|` table.
//!
//! The pair's reachable leaves and their per-permutation walk live in the private module
//! `pair_paths`.
//!
//! # Draws: cyclic shifts of one permutation
//!
//! One draw averages the passes over `B` cyclic shifts of one random permutation (by
//! `d / B` positions, [`PASSES_PER_DRAW`] = `B`), each read forward and reversed. Each shift is
//! a uniform permutation (unbiased); together they place every feature at `B` evenly spaced
//! positions, which stratifies the coalition size that the correction depends on most. The
//! standard errors come from the spread across draws.
//!
//! # Control variate: shap's rescaling plus a sampled correction
//!
//! The *margin* game of the pair has exact Shapley values `ψ` in closed form (each leaf gives
//! `v (|A|−1)! |B|! / (|A|+|B|)!` to its "in" features and the negative share to its "out"
//! features). With `c` the secant slope `(g(m_x) − g(m_r)) / (m_x − m_r)` per output, the
//! estimate is `c ψ_i + mean_π [Δg_i(π) − c Δm_i(π)]`: unbiased for the Shapley value of the
//! game over `g`, with the variance of the *nonlinear remainder* only. `c ψ` alone is shap's
//! rescaling approximation ([`PairMethod::ShapRescale`]). Per permutation the corrections sum to
//! `(g(m_x) − g(m_r)) − c (m_x − m_r)`, which the `c ψ` term cancels: the estimate satisfies
//! efficiency exactly, whatever the number of permutations.

use crate::ensemble::TreeEnsemble;
use crate::rng::Rng;

use super::model_output::OutputTransform;
use super::pair_paths::{PairPaths, add};

/// How a pair's values are obtained when the pair parts on more features than the exact
/// table allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairMethod {
    /// Exact table where affordable, antithetic permutation sampling with a control variate
    /// above the limit (unbiased, efficient, with a standard error).
    Auto,
    /// shap's approximation for every pair: the margin's exact pair values times the secant
    /// slope of the transform (`1` where the margins of `x` and `r` are equal, as in shap).
    /// Efficient, but not the Shapley values of the transformed game.
    ShapRescale,
}

/// Antithetic passes per draw of [`PairEstimate::draw`]: 3 needed the fewest passes on the
/// breast-cancer benchmark model (2: +10%, 4: +4%, 6: +39%, 1: +130%).
pub const PASSES_PER_DRAW: usize = 3;

/// What a pair's estimate needs besides the pair: the transform, the row's label, and
/// whether to sample at all.
#[derive(Debug, Clone, Copy)]
pub struct EstimateSpec {
    /// The output transform `g`.
    pub transform: OutputTransform,
    /// The explained row's label (losses only).
    pub label: f64,
    /// `ShapRescale` draws nothing.
    pub method: PairMethod,
}

/// Scratch space of [`PairEstimate::draw`], shared by the pairs of a thread.
#[derive(Debug, Default)]
pub struct SampleBuffers {
    perm: Vec<u32>,
    pos: Vec<u32>,
    diff: Vec<f64>,
    rdiff: Vec<f64>,
    g: Vec<f64>,
    rg: Vec<f64>,
    sample: Vec<f64>,
    base: Vec<u32>,
    stack: Vec<[u32; 5]>,
}

/// One pair being estimated: its leaves, its control variate and the running mean and
/// variance of each value's sampled correction. Kept across sampling rounds, so that the
/// explained row's budget goes where the variance is.
#[derive(Debug)]
pub struct PairEstimate {
    paths: PairPaths,
    /// Control-variate slopes, `ko × k`.
    slope: Vec<f64>,
    /// `c ψ`, per (parting feature bit, output).
    base: Vec<f64>,
    mean: Vec<f64>,
    m2: Vec<f64>,
    n: usize,
    rng: Rng,
    share: f64,
    ko: usize,
}

impl PairEstimate {
    /// Empty buffers for `model`.
    pub fn new(model: &TreeEnsemble) -> PairEstimate {
        PairEstimate {
            paths: PairPaths::new(model),
            slope: Vec::new(),
            base: Vec::new(),
            mean: Vec::new(),
            m2: Vec::new(),
            n: 0,
            rng: Rng::stream(0, 0),
            share: 0.0,
            ko: 0,
        }
    }

    /// Collects the pair of prepared rows `x` and `r` and its control variate, and resets
    /// the statistics. `share` is the pair's weight in the explained row's values; `rng` its
    /// own random stream.
    pub fn prepare(
        &mut self,
        model: &TreeEnsemble,
        x: &[f64],
        r: &[f64],
        spec: &EstimateSpec,
        rng: Rng,
        share: f64,
    ) {
        self.paths.collect(model, x, r);
        self.rng = rng;
        self.share = share;
        self.n = 0;
        let paths = &self.paths;
        let d = paths.features.len();
        let k = paths.n_outputs;
        let ko = spec.transform.n_outputs(k);
        self.ko = ko;
        self.base.clear();
        self.base.resize(d * ko, 0.0);
        self.mean.clear();
        self.mean.resize(d * ko, 0.0);
        self.m2.clear();
        self.m2.resize(d * ko, 0.0);
        if d == 0 {
            return;
        }
        let trees = model.trees();
        // Margins at r (no parting feature taken from x) and at x (all taken).
        let mut m_r = paths.constant.clone();
        let mut m_x = paths.constant.clone();
        for leaf in &paths.leaves {
            let conds = &paths.conds[leaf.start as usize..leaf.end as usize];
            let tree = &trees[leaf.tree as usize];
            let at = tree.output();
            let values = tree.leaf_value(leaf.node as usize);
            if conds.iter().all(|c| c.inside) {
                add(&mut m_x[at..], values, 1.0);
            } else if conds.iter().all(|c| !c.inside) {
                add(&mut m_r[at..], values, 1.0);
            }
        }
        slopes(spec, &m_x, &m_r, ko, &mut self.slope);
        // c ψ: the margin game's exact pair values through the slopes.
        let mut psi = vec![0.0; d * k];
        for leaf in &paths.leaves {
            let conds = &paths.conds[leaf.start as usize..leaf.end as usize];
            let p = conds.iter().filter(|c| c.inside).count();
            let q = conds.len() - p;
            let tree = &trees[leaf.tree as usize];
            let at = tree.output();
            let values = tree.leaf_value(leaf.node as usize);
            // (p−1)! q! / (p+q)! = 1 / (p C(p+q, p)), and symmetrically for the "out" side.
            let total = binomial(p + q, p);
            for c in conds {
                let w = if c.inside {
                    1.0 / (p as f64 * total)
                } else {
                    -1.0 / (q as f64 * total)
                };
                add(&mut psi[c.bit as usize * k + at..], values, w);
            }
        }
        for i in 0..d {
            for o in 0..ko {
                self.base[i * ko + o] = (0..k)
                    .map(|kk| self.slope[o * k + kk] * psi[i * k + kk])
                    .sum();
            }
        }
    }

    /// Draws `count` more draws: each one random permutation `σ` of the parting features
    /// and its cyclic shifts by `l d / B` for `l < B` ([`PASSES_PER_DRAW`] = `B`), each
    /// pass read forward and reversed. Every shift is a uniform permutation, so the draw's
    /// mean correction is unbiased; together the shifts put each feature at `B` evenly
    /// spaced positions, which stratifies the coalition size the correction depends on most
    /// (on a 50-tree XGBoost model this halved the passes needed against independent
    /// antithetic pairs; shuffling within the strata instead did worse).
    pub fn draw(&mut self, spec: &EstimateSpec, count: usize, buf: &mut SampleBuffers) {
        let d = self.paths.features.len();
        if d == 0 || spec.method == PairMethod::ShapRescale {
            return;
        }
        let (k, ko) = (self.paths.n_outputs, self.ko);
        let passes = PASSES_PER_DRAW.min(d);
        buf.base.clear();
        buf.base.extend(0..d as u32);
        buf.perm.resize(d, 0);
        buf.pos.resize(d, 0);
        buf.sample.resize(d * ko, 0.0);
        for _ in 0..count {
            for i in (1..d).rev() {
                let j = self.rng.below(i as u64 + 1) as usize;
                buf.base.swap(i, j);
            }
            buf.sample.fill(0.0);
            for l in 0..passes {
                let shift = l * d / passes;
                let (head, tail) = buf.base.split_at(shift);
                buf.perm[..d - shift].copy_from_slice(tail);
                buf.perm[d - shift..].copy_from_slice(head);
                sample_pair(&self.paths, &self.slope, buf, d, k, ko, spec);
            }
            self.n += 1;
            // Welford's update of the mean and sum of squares of each value's correction.
            let inv = 1.0 / self.n as f64;
            let scale = 1.0 / passes as f64;
            for ((mean, m2), &s) in self.mean.iter_mut().zip(&mut self.m2).zip(&buf.sample) {
                let s = s * scale;
                let delta = s - *mean;
                *mean += delta * inv;
                *m2 += delta * (s - *mean);
            }
        }
    }

    /// Relative cost of one draw: the passes times the leaf conditions and parting
    /// features each reads.
    pub fn draw_cost(&self) -> f64 {
        let d = self.paths.features.len();
        (PASSES_PER_DRAW.min(d) * (self.paths.conds.len() + self.paths.leaves.len() + d)) as f64
    }

    /// Standard deviation of one draw of value (`feature`, `output`), times the pair's share:
    /// 0 when the pair does not part on `feature` or has fewer than 2 draws.
    pub fn weighted_sd(&self, feature: usize, output: usize) -> f64 {
        let bit = self.paths.bit_of[feature];
        if bit == u32::MAX || self.n < 2 {
            return 0.0;
        }
        let m2 = self.m2[bit as usize * self.ko + output];
        self.share * (m2 / (self.n - 1) as f64).sqrt()
    }

    /// Draws so far.
    pub fn n_samples(&self) -> usize {
        self.n
    }

    /// Variance of one value's estimate, times the pair's squared share.
    fn weighted_variance(&self, m2: f64) -> f64 {
        if self.n < 2 {
            return 0.0;
        }
        self.share * self.share * m2 / (self.n * (self.n - 1)) as f64
    }

    /// Adds the pair's weighted variances to `row_var` (`ko` values per feature).
    pub fn add_variance(&self, row_var: &mut [f64]) {
        let ko = self.ko;
        for (&f, m2) in self.paths.features.iter().zip(self.m2.chunks(ko)) {
            let at = f as usize * ko;
            for (v, &m) in row_var[at..at + ko].iter_mut().zip(m2) {
                *v += self.weighted_variance(m);
            }
        }
    }

    /// Adds the pair's weighted values (control variate plus mean correction) to `row_out`.
    pub fn add_values(&self, row_out: &mut [f64]) {
        let ko = self.ko;
        let values = self.base.chunks(ko).zip(self.mean.chunks(ko));
        for (&f, (base, mean)) in self.paths.features.iter().zip(values) {
            let at = f as usize * ko;
            for ((v, b), m) in row_out[at..at + ko].iter_mut().zip(base).zip(mean) {
                *v += self.share * (b + m);
            }
        }
    }
}

/// The permutation `buf.perm` and its reverse: adds each value's mean correction over the
/// two to `buf.sample`.
#[allow(clippy::too_many_arguments)]
fn sample_pair(
    paths: &PairPaths,
    slope: &[f64],
    buf: &mut SampleBuffers,
    d: usize,
    k: usize,
    ko: usize,
    spec: &EstimateSpec,
) {
    for (t, &b) in buf.perm.iter().enumerate() {
        buf.pos[b as usize] = t as u32;
    }
    let rows = d + 2;
    buf.diff.clear();
    buf.diff.resize(rows * k, 0.0);
    buf.rdiff.clear();
    buf.rdiff.resize(rows * k, 0.0);
    paths.add_prefix_leaves(&buf.pos, &mut buf.diff, &mut buf.rdiff, &mut buf.stack);
    // Prefix sums: margins of the prefixes 0..=d, then g of each.
    for diff in [&mut buf.diff, &mut buf.rdiff] {
        add(&mut diff[..k], &paths.constant, 1.0);
        for t in 1..=d {
            let (prev, cur) = diff.split_at_mut(t * k);
            add(&mut cur[..k], &prev[(t - 1) * k..], 1.0);
        }
    }
    buf.g.resize((d + 1) * ko, 0.0);
    buf.rg.resize((d + 1) * ko, 0.0);
    for t in 0..=d {
        let (y, g) = (spec.label, &spec.transform);
        g.apply(
            &buf.diff[t * k..(t + 1) * k],
            y,
            &mut buf.g[t * ko..(t + 1) * ko],
        );
        g.apply(
            &buf.rdiff[t * k..(t + 1) * k],
            y,
            &mut buf.rg[t * ko..(t + 1) * ko],
        );
    }
    let correction = |g: &[f64], m: &[f64], t: usize, o: usize| {
        let mut c = g[(t + 1) * ko + o] - g[t * ko + o];
        for kk in 0..k {
            c -= slope[o * k + kk] * (m[(t + 1) * k + kk] - m[t * k + kk]);
        }
        0.5 * c
    };
    // Step t adds perm[t] forward and perm[d − 1 − t] in reverse.
    for t in 0..d {
        let (fwd, rev) = (buf.perm[t] as usize, buf.perm[d - 1 - t] as usize);
        for o in 0..ko {
            let cf = correction(&buf.g, &buf.diff, t, o);
            let cr = correction(&buf.rg, &buf.rdiff, t, o);
            buf.sample[fwd * ko + o] += cf;
            buf.sample[rev * ko + o] += cr;
        }
    }
}

/// The control variate's slopes, `ko × k`: per output the secant of `g` between the margins
/// of `r` and `x` where `g` reads one margin per output; for a loss over several margins the
/// gradient at their midpoint (by central differences). shap's rescaling takes `1` where the
/// two margins are equal.
fn slopes(spec: &EstimateSpec, m_x: &[f64], m_r: &[f64], ko: usize, out: &mut Vec<f64>) {
    let k = m_x.len();
    out.clear();
    out.resize(ko * k, 0.0);
    let mut gx = vec![0.0; ko];
    let mut gr = vec![0.0; ko];
    spec.transform.apply(m_x, spec.label, &mut gx);
    spec.transform.apply(m_r, spec.label, &mut gr);
    let per_output = ko == k && !matches!(spec.transform, OutputTransform::Softmax { .. });
    if per_output || spec.method == PairMethod::ShapRescale {
        for o in 0..ko.min(k) {
            let dm = m_x[o] - m_r[o];
            out[o * k + o] = if dm != 0.0 {
                (gx[o] - gr[o]) / dm
            } else if spec.method == PairMethod::ShapRescale {
                1.0
            } else {
                0.0
            };
        }
        return;
    }
    // Softmax outputs and multi-class losses couple the margins: the gradient at the
    // midpoint is a good linear approximation, and any fixed slope keeps the estimate
    // unbiased and efficient.
    let mid: Vec<f64> = m_x.iter().zip(m_r).map(|(a, b)| 0.5 * (a + b)).collect();
    let mut plus = mid.clone();
    let mut minus = mid.clone();
    let (mut gp, mut gm) = (vec![0.0; ko], vec![0.0; ko]);
    for kk in 0..k {
        let h = 1e-5 * (1.0 + mid[kk].abs());
        plus[kk] = mid[kk] + h;
        minus[kk] = mid[kk] - h;
        spec.transform.apply(&plus, spec.label, &mut gp);
        spec.transform.apply(&minus, spec.label, &mut gm);
        for o in 0..ko {
            out[o * k + kk] = (gp[o] - gm[o]) / (2.0 * h);
        }
        plus[kk] = mid[kk];
        minus[kk] = mid[kk];
    }
}

fn binomial(n: usize, k: usize) -> f64 {
    let k = k.min(n - k);
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}
