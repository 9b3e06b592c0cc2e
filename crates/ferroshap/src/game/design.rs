//! Kernel SHAP's coalition design. Coalition sizes are enumerated completely from the outside
//! in (size 1 with its complements M−1, then size 2 with M−2, ...) while the budget allows,
//! with the Shapley kernel weights, exactly as shap's `KernelExplainer` does. The rest of the
//! budget is spent on complementary pairs of coalitions, either
//!
//! - as shap does ([`Sampling::Shap`]): sizes drawn with the kernel's probabilities, subsets
//!   with replacement, duplicates merged into weights; or
//! - stratified by size ([`Sampling::Stratified`], the default): each remaining size gets a
//!   fixed number of pairs (the budget split in proportion to the square root of its kernel
//!   mass, a size fully enumerated when its share covers it; at budgets below twice their
//!   number, the singletons and their complements are enumerated first), drawn uniformly
//!   without replacement, each weighted by its size's kernel mass over the pairs drawn. No size is
//!   left to chance and no model call is spent on a duplicate; measured lower error per model
//!   call than shap's scheme at every budget (benches/RESULTS.md).

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::rng::Rng;

/// How the coalitions beyond the completely enumerated sizes are chosen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sampling {
    /// Paired coalitions stratified by size, without replacement (see the module docs).
    #[default]
    Stratified,
    /// shap's scheme: sizes drawn with the kernel's probabilities, subsets with replacement,
    /// duplicates merged into weights.
    Shap,
}

/// Coalitions over `M` features and their regression weights.
#[derive(Clone, Debug)]
pub struct KernelDesign {
    n_features: usize,
    /// `n_coalitions × n_features`, 1 where the feature is in the coalition.
    masks: Vec<u8>,
    weights: Vec<f64>,
    budget: usize,
    max_coalitions: usize,
    exhaustive: bool,
    /// Index of the first sampled coalition (the ones before were enumerated).
    n_fixed: usize,
    /// Per sampled coalition: the index of its sampling unit (the first coalition of its
    /// complementary pair), for variance estimates.
    units: Vec<usize>,
    /// Sampled weight per draw (shap's scheme): each sampled coalition's weight is its draw
    /// count times this. 0 for stratified designs, whose coalitions are drawn once each.
    draw_weight: f64,
    /// Per sampled coalition: its stratum (coalition size class; 0 for shap's scheme).
    strata: Vec<u32>,
    /// Per stratum: the finite-population factor `1 − drawn / available` of its pairs.
    stratum_fpc: Vec<f64>,
}

/// The default budget of shap's `nsamples="auto"`: `2M + 2048`.
pub fn auto_budget(n_features: usize) -> usize {
    2 * n_features + 2048
}

/// The number of distinct proper, non-empty coalitions, capped at 2^30 as shap does.
pub fn max_coalitions(n_features: usize) -> usize {
    if n_features <= 30 {
        (1usize << n_features) - 2
    } else {
        1 << 30
    }
}

/// The fewest coalitions a design over `m` features may use: the efficiency-constrained
/// regression has `m − 1` free values, so fewer than `m` coalitions (or all of them, when
/// there are fewer) cannot identify it.
pub fn min_budget(n_features: usize) -> usize {
    n_features.min(max_coalitions(n_features))
}

fn binomial(n: usize, k: usize) -> f64 {
    let k = k.min(n - k);
    let mut r = 1.0f64;
    for i in 0..k {
        r = r * (n - i) as f64 / (i + 1) as f64;
    }
    r.round()
}

impl KernelDesign {
    /// Builds shap's design for `n_features ≥ 2` features with at most `nsamples` coalitions
    /// (`None`: shap's `"auto"`, 2M + 2048), clipped to all 2^M − 2 coalitions.
    pub fn new(n_features: usize, nsamples: Option<usize>, rng: &mut Rng) -> Result<Self> {
        Self::with_sampling(n_features, nsamples, Sampling::Shap, rng)
    }

    /// Builds the design with the given scheme for the coalitions that are not enumerated.
    /// Designs that enumerate every coalition are the same for both schemes.
    pub fn with_sampling(
        n_features: usize,
        nsamples: Option<usize>,
        sampling: Sampling,
        rng: &mut Rng,
    ) -> Result<Self> {
        let m = n_features;
        if m < 2 {
            return Err(Error::Parameter(format!(
                "a Kernel SHAP design needs at least 2 varying features, got {m}"
            )));
        }
        let max = max_coalitions(m);
        let budget = nsamples.unwrap_or_else(|| auto_budget(m)).min(max);
        if budget < min_budget(m) {
            return Err(Error::Parameter(format!(
                "nsamples={budget} is too small: {m} varying features need at least {} \
                 coalitions to identify their values",
                min_budget(m)
            )));
        }
        let n_sizes = (m - 1).div_ceil(2);
        let n_paired = (m - 1) / 2;
        // Shapley kernel mass of each coalition size s (and its complement M − s).
        let mut size_weight: Vec<f64> = (1..=n_sizes)
            .map(|s| (m as f64 - 1.0) / (s as f64 * (m - s) as f64))
            .collect();
        for w in size_weight.iter_mut().take(n_paired) {
            *w *= 2.0;
        }
        let total: f64 = size_weight.iter().sum();
        for w in &mut size_weight {
            *w /= total;
        }

        let mut design = KernelDesign {
            n_features: m,
            masks: Vec::with_capacity(budget.min(1 << 16) * m),
            weights: Vec::with_capacity(budget.min(1 << 16)),
            budget,
            max_coalitions: max,
            exhaustive: false,
            n_fixed: 0,
            units: Vec::new(),
            draw_weight: 0.0,
            strata: Vec::new(),
            stratum_fpc: Vec::new(),
        };

        // Exhaustive phase: whole sizes, from the outside in, while the budget covers them.
        let mut n_full = 0;
        let mut left = budget as f64;
        let mut remaining = size_weight.clone();
        let mut mask = vec![0u8; m];
        for s in 1..=n_sizes {
            let paired = s <= n_paired;
            let mut n_subsets = binomial(m, s);
            if paired {
                n_subsets *= 2.0;
            }
            if left * remaining[s - 1] / n_subsets < 1.0 - 1e-8 {
                break;
            }
            n_full += 1;
            left -= n_subsets;
            if remaining[s - 1] < 1.0 {
                let scale = 1.0 - remaining[s - 1];
                for r in &mut remaining {
                    *r /= scale;
                }
            }
            let mut w = size_weight[s - 1] / binomial(m, s);
            if paired {
                w /= 2.0;
            }
            for_each_combination(m, s, |members| {
                mask.fill(0);
                for &j in members {
                    mask[j] = 1;
                }
                design.push(&mask, w);
                if paired {
                    for b in &mut mask {
                        *b ^= 1;
                    }
                    design.push(&mask, w);
                }
            });
        }
        design.exhaustive = n_full == n_sizes;

        // Sampling phase: the rest of the budget, paired, duplicates merged.
        let n_fixed = design.weights.len();
        design.n_fixed = n_fixed;
        let mut samples_left = budget.saturating_sub(n_fixed);
        if !design.exhaustive && samples_left > 0 && sampling == Sampling::Stratified {
            design.sample_stratified(n_full, &size_weight, samples_left, rng);
        } else if !design.exhaustive && samples_left > 0 {
            design.stratum_fpc.push(1.0);
            let mut probs: Vec<f64> = size_weight.clone();
            for p in probs.iter_mut().take(n_paired) {
                *p /= 2.0; // each draw of a paired size adds two coalitions
            }
            let probs = &probs[n_full..];
            let total: f64 = probs.iter().sum();
            let mut cumulative = Vec::with_capacity(probs.len());
            let mut acc = 0.0;
            for p in probs {
                acc += p / total;
                cumulative.push(acc);
            }
            let mut seen: HashMap<Vec<u8>, usize> = HashMap::new();
            let mut perm: Vec<usize> = (0..m).collect();
            let max_draws = 4 * samples_left;
            let mut draws = 0;
            while samples_left > 0 && draws < max_draws {
                draws += 1;
                let u = rng.next_f64();
                let idx = cumulative
                    .iter()
                    .position(|&c| u < c)
                    .unwrap_or(cumulative.len() - 1);
                let s = idx + n_full + 1;
                random_subset(rng, &mut perm, s, &mut mask);
                let paired = s <= n_paired;
                let existing = seen.get(&mask).copied();
                match existing {
                    None => {
                        let unit = design.weights.len();
                        seen.insert(mask.clone(), unit);
                        design.units.push(unit);
                        design.strata.push(0);
                        design.push(&mask, 1.0);
                        samples_left -= 1;
                        if samples_left > 0 && paired {
                            for b in &mut mask {
                                *b ^= 1;
                            }
                            design.units.push(unit);
                            design.strata.push(0);
                            design.push(&mask, 1.0);
                            samples_left -= 1;
                        }
                    }
                    Some(at) => {
                        design.weights[at] += 1.0;
                        if paired && samples_left > 0 && at + 1 < design.weights.len() {
                            design.weights[at + 1] += 1.0;
                        }
                    }
                }
            }
            // The sampled coalitions share the kernel mass of the sizes not enumerated.
            let mass: f64 = size_weight[n_full..].iter().sum();
            let sampled: f64 = design.weights[n_fixed..].iter().sum();
            if sampled > 0.0 {
                design.draw_weight = mass / sampled;
                for w in &mut design.weights[n_fixed..] {
                    *w *= mass / sampled;
                }
            }
        }
        Ok(design)
    }

    /// The stratified scheme for the size classes after the first `n_full` (class `s` holds
    /// the coalitions of sizes `s` and `M − s`): pairs allocated in proportion to the square
    /// root of each class's kernel mass (a class whose share covers all its pairs is
    /// enumerated and the rest re-allocated), largest remainders rounded up; within a class,
    /// distinct pairs uniformly at random. A coalition's weight is its class's mass over the
    /// coalitions drawn from it; classes that get no pair leave their mass to the others.
    fn sample_stratified(
        &mut self,
        n_full: usize,
        size_weight: &[f64],
        samples_left: usize,
        rng: &mut Rng,
    ) {
        let m = self.n_features;
        let classes: Vec<usize> = (n_full + 1..=size_weight.len()).collect();
        // Pairs each class holds: for the middle size of an even M a pair is a coalition and
        // its complement of the same size.
        let available: Vec<f64> = classes
            .iter()
            .map(|&s| {
                if 2 * s == m {
                    binomial(m, s) / 2.0
                } else {
                    binomial(m, s)
                }
            })
            .collect();
        // Measured against allocation in proportion to the mass (shap's expectation) and
        // uniform over sizes (Leverage SHAP's): the square root was as good or better at every
        // budget on the benchmark models.
        let share: Vec<f64> = classes.iter().map(|&s| size_weight[s - 1].sqrt()).collect();
        let mut pairs = vec![0usize; classes.len()];
        let mut open: Vec<usize> = (0..classes.len()).collect();
        let mut left = samples_left / 2;
        // Small budgets: singletons and their complements first, when the budget affords them
        // but is less than twice their number (their sampled share would leave some features
        // barely identified; measured 3-4x lower error at 2M + 2 coalitions, while at larger
        // budgets the square-root allocation does better). R's kernelshap enumerates these
        // sizes in its hybrid design for the same reason.
        if n_full == 0 && available[0] as usize <= left && left < 2 * available[0] as usize {
            pairs[0] = available[0] as usize;
            left -= pairs[0];
            open.retain(|&i| i != 0);
        }
        // Enumerate the classes whose share covers them, re-allocating what they leave.
        loop {
            let total: f64 = open.iter().map(|&i| share[i]).sum();
            let full: Vec<usize> = open
                .iter()
                .copied()
                .filter(|&i| left as f64 * share[i] / total >= available[i])
                .collect();
            if full.is_empty() {
                break;
            }
            for &i in &full {
                pairs[i] = available[i] as usize;
                left -= pairs[i];
            }
            open.retain(|i| !full.contains(i));
            if open.is_empty() {
                break;
            }
        }
        if !open.is_empty() && left > 0 {
            let total: f64 = open.iter().map(|&i| share[i]).sum();
            let target: Vec<f64> = open
                .iter()
                .map(|&i| left as f64 * share[i] / total)
                .collect();
            let mut given = 0;
            for (&i, t) in open.iter().zip(&target) {
                pairs[i] = t.floor() as usize;
                given += pairs[i];
            }
            let mut order: Vec<usize> = (0..open.len()).collect();
            // Largest remainder first; ties to the smaller size (the larger kernel mass).
            order.sort_by(|&a, &b| {
                let (ra, rb) = (target[a] - target[a].floor(), target[b] - target[b].floor());
                rb.total_cmp(&ra).then(a.cmp(&b))
            });
            for &o in order.iter().take(left - given) {
                pairs[open[o]] += 1;
            }
        }
        let drawn_mass: f64 = classes
            .iter()
            .zip(&pairs)
            .filter(|(_, n)| **n > 0)
            .map(|(&s, _)| size_weight[s - 1])
            .sum();
        let mass: f64 = size_weight[n_full..].iter().sum();
        let mut mask = vec![0u8; m];
        let mut perm: Vec<usize> = (0..m).collect();
        let mut seen = std::collections::HashSet::new();
        for ((&s, &n), &avail) in classes.iter().zip(&pairs).zip(&available) {
            if n == 0 {
                continue;
            }
            let stratum = self.stratum_fpc.len() as u32;
            self.stratum_fpc.push(1.0 - n as f64 / avail);
            let w = size_weight[s - 1] * mass / drawn_mass / (2 * n) as f64;
            seen.clear();
            let mut added = 0;
            while added < n {
                random_subset(rng, &mut perm, s, &mut mask);
                // One key per pair: the side that holds feature 0.
                let key: Vec<u8> = if mask[0] == 1 {
                    mask.clone()
                } else {
                    mask.iter().map(|b| b ^ 1).collect()
                };
                if !seen.insert(key) {
                    continue;
                }
                let unit = self.weights.len();
                self.units.push(unit);
                self.strata.push(stratum);
                self.push(&mask, w);
                for b in &mut mask {
                    *b ^= 1;
                }
                self.units.push(unit);
                self.strata.push(stratum);
                self.push(&mask, w);
                added += 1;
            }
        }
    }

    fn push(&mut self, mask: &[u8], weight: f64) {
        self.masks.extend_from_slice(mask);
        self.weights.push(weight);
    }

    /// Number of features `M` the coalitions are over.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Number of distinct coalitions in the design.
    pub fn n_coalitions(&self) -> usize {
        self.weights.len()
    }

    /// Coalition `c`: one byte per feature, 1 when present.
    pub fn mask(&self, c: usize) -> &[u8] {
        &self.masks[c * self.n_features..(c + 1) * self.n_features]
    }

    /// Regression weight of each coalition.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// Every coalition size was enumerated completely (no sampling).
    pub fn is_exhaustive(&self) -> bool {
        self.exhaustive
    }

    /// Index of the first sampled coalition; coalitions before it were enumerated.
    pub fn n_fixed(&self) -> usize {
        self.n_fixed
    }

    /// Sampling unit of sampled coalition `c ≥ n_fixed` (its pair's first coalition).
    pub fn unit(&self, c: usize) -> usize {
        self.units[c - self.n_fixed]
    }

    /// How many times sampled coalition `c ≥ n_fixed` was drawn.
    pub fn draws(&self, c: usize) -> f64 {
        if self.draw_weight > 0.0 {
            (self.weights[c] / self.draw_weight).round()
        } else {
            1.0
        }
    }

    /// Weight of one draw of sampled coalition `c ≥ n_fixed`.
    pub fn draw_weight(&self, c: usize) -> f64 {
        if self.draw_weight > 0.0 {
            self.draw_weight
        } else {
            self.weights[c]
        }
    }

    /// Stratum of sampled coalition `c ≥ n_fixed` and its finite-population factor.
    pub fn stratum(&self, c: usize) -> (usize, f64) {
        let s = self.strata[c - self.n_fixed] as usize;
        (s, self.stratum_fpc[s])
    }

    /// The budget after clipping, as a fraction of all coalitions (shap's
    /// `nsamples / max_samples`, which decides its deprecated `l1_reg="auto"`).
    pub fn fraction_evaluated(&self) -> f64 {
        self.budget as f64 / self.max_coalitions as f64
    }
}

/// Sets `mask` to a uniform random subset of size `s` (a partial Fisher–Yates shuffle of
/// `perm`, which holds a permutation of the features).
fn random_subset(rng: &mut Rng, perm: &mut [usize], s: usize, mask: &mut [u8]) {
    let m = perm.len();
    for i in 0..s {
        let j = i + rng.below((m - i) as u64) as usize;
        perm.swap(i, j);
    }
    mask.fill(0);
    for &j in &perm[..s] {
        mask[j] = 1;
    }
}

/// Calls `f` with every `k`-subset of `0..n` in lexicographic order (Python's
/// `itertools.combinations` order).
fn for_each_combination(n: usize, k: usize, mut f: impl FnMut(&[usize])) {
    if k > n {
        return;
    }
    let mut idx: Vec<usize> = (0..k).collect();
    loop {
        f(&idx);
        let mut i = k;
        loop {
            if i == 0 {
                return;
            }
            i -= 1;
            if idx[i] != i + n - k {
                break;
            }
            if i == 0 {
                return;
            }
        }
        idx[i] += 1;
        for j in i + 1..k {
            idx[j] = idx[j - 1] + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combinations_in_itertools_order() {
        let mut all = Vec::new();
        for_each_combination(4, 2, |c| all.push(c.to_vec()));
        assert_eq!(
            all,
            vec![
                vec![0, 1],
                vec![0, 2],
                vec![0, 3],
                vec![1, 2],
                vec![1, 3],
                vec![2, 3]
            ]
        );
    }

    #[test]
    fn exhaustive_design_holds_every_coalition_once() {
        for m in 2..=9 {
            let d = KernelDesign::new(m, None, &mut Rng::stream(0, 0)).unwrap();
            assert!(d.is_exhaustive(), "m={m}");
            assert_eq!(d.n_coalitions(), (1 << m) - 2);
            let mut seen = std::collections::HashSet::new();
            for c in 0..d.n_coalitions() {
                assert!(seen.insert(d.mask(c).to_vec()));
            }
            let total: f64 = d.weights().iter().sum();
            assert!((total - 1.0).abs() < 1e-12, "m={m}: {total}");
        }
    }

    #[test]
    fn stratified_designs_draw_distinct_pairs_with_the_kernel_mass_of_each_size() {
        for (m, budget) in [
            (16, 200),
            (16, 2000),
            (15, 301),
            (30, 62),
            (30, 4096),
            (12, 4000),
        ] {
            let d = KernelDesign::with_sampling(
                m,
                Some(budget),
                Sampling::Stratified,
                &mut Rng::stream(5, m as u64),
            )
            .unwrap();
            assert!(!d.is_exhaustive());
            assert!(d.n_coalitions() <= budget, "m={m}");
            // The budget is spent, but for an odd coalition left over.
            assert!(
                d.n_coalitions() + 1 >= budget,
                "m={m}: {}",
                d.n_coalitions()
            );
            let mut seen = std::collections::HashSet::new();
            for c in 0..d.n_coalitions() {
                assert!(
                    seen.insert(d.mask(c).to_vec()),
                    "m={m}: coalition {c} repeated"
                );
            }
            for c in (d.n_fixed()..d.n_coalitions()).step_by(2) {
                let (a, b) = (d.mask(c), d.mask(c + 1));
                assert!(
                    a.iter().zip(b).all(|(x, y)| x + y == 1),
                    "pairs are complements"
                );
                assert_eq!(d.weights()[c], d.weights()[c + 1]);
            }
            let total: f64 = d.weights().iter().sum();
            assert!((total - 1.0).abs() < 1e-12, "m={m}: {total}");
        }
    }

    #[test]
    fn schemes_agree_when_every_coalition_is_enumerated() {
        for m in [4, 9, 12] {
            let a = KernelDesign::with_sampling(
                m,
                Some(1 << m),
                Sampling::Stratified,
                &mut Rng::stream(1, 2),
            )
            .unwrap();
            let b = KernelDesign::new(m, Some(1 << m), &mut Rng::stream(1, 2)).unwrap();
            assert!(a.is_exhaustive() && b.is_exhaustive());
            assert_eq!(a.masks, b.masks);
            assert_eq!(a.weights, b.weights);
        }
    }

    #[test]
    fn sampled_design_respects_the_budget() {
        let d = KernelDesign::new(16, Some(200), &mut Rng::stream(3, 1)).unwrap();
        assert!(!d.is_exhaustive());
        assert!(d.n_coalitions() <= 200);
        let total: f64 = d.weights().iter().sum();
        assert!((total - 1.0).abs() < 1e-12);
        assert!(KernelDesign::new(16, Some(5), &mut Rng::stream(3, 1)).is_err());
    }
}
