//! Kernel SHAP oracles. With every coalition enumerated, Kernel SHAP's regression recovers the
//! Shapley values of v(S) = link(Σᵢ wᵢ f(x_S, bᵢ)) exactly, so it must equal brute-force
//! subset enumeration up to rounding (1e-10 on values of order 1: both are short f64 sums and
//! a well-conditioned M ≤ 10 solve). Efficiency holds by construction in every mode (the last
//! value is Δ minus the others), and a linear model is recovered exactly by any full-rank
//! design, so both are checked to 1e-10 with sampled designs too.

use ferroshap::game::Sampling;
use ferroshap::game::kernel::{self, FeatureSelection, KernelJob, KernelOptions, Link};
use ferroshap::with_threads;
use ndarray::{Array2, ArrayView2};

use crate::oracle::Rng;

pub(crate) fn random_matrix(rng: &mut Rng, rows: usize, cols: usize) -> Array2<f64> {
    Array2::from_shape_fn((rows, cols), |_| rng.uniform() * 4.0 - 2.0)
}

/// A nonlinear model with pairwise and three-way terms and two outputs.
pub(crate) fn nonlinear(x: ArrayView2<'_, f64>) -> Array2<f64> {
    let m = x.ncols();
    Array2::from_shape_fn((x.nrows(), 2), |(i, o)| {
        let r = x.row(i);
        let mut v = 0.3 * o as f64;
        for j in 0..m {
            v += (0.5 + 0.1 * j as f64) * (r[j] + o as f64 * 0.2).tanh();
        }
        for j in 0..m.saturating_sub(1) {
            v += 0.3 * r[j] * r[j + 1];
        }
        if m >= 3 {
            v += 0.2 * r[0] * r[1] * r[2] - 0.1 * r[m - 1] * r[m - 2] * r[0];
        }
        v
    })
}

/// Probabilities from the nonlinear model, for the logit link.
fn probability(x: ArrayView2<'_, f64>) -> Array2<f64> {
    nonlinear(x).mapv(|v| 1.0 / (1.0 + (-0.5 * v).exp()))
}

pub(crate) fn brute_force(
    model: impl Fn(ArrayView2<'_, f64>) -> Array2<f64>,
    x: &[f64],
    background: &Array2<f64>,
    weights: &[f64],
    link: Link,
) -> Array2<f64> {
    let m = x.len();
    let k = model(background.view()).ncols();
    let value = |set: usize| -> Vec<f64> {
        let mut rows = background.clone();
        for mut row in rows.rows_mut() {
            for j in 0..m {
                if set >> j & 1 == 1 {
                    row[j] = x[j];
                }
            }
        }
        let out = model(rows.view());
        (0..k)
            .map(|o| link.apply((0..rows.nrows()).map(|i| weights[i] * out[[i, o]]).sum()))
            .collect()
    };
    let values: Vec<Vec<f64>> = (0..1usize << m).map(value).collect();
    let mut fact = vec![1.0f64; m + 1];
    for i in 1..=m {
        fact[i] = fact[i - 1] * i as f64;
    }
    let mut phi = Array2::zeros((m, k));
    for j in 0..m {
        for set in 0..1usize << m {
            if set >> j & 1 == 1 {
                continue;
            }
            let s = set.count_ones() as usize;
            let coef = fact[s] * fact[m - s - 1] / fact[m];
            for o in 0..k {
                phi[[j, o]] += coef * (values[set | 1 << j][o] - values[set][o]);
            }
        }
    }
    phi
}

fn run(
    model: impl Fn(ArrayView2<'_, f64>) -> Array2<f64>,
    x: &Array2<f64>,
    background: &Array2<f64>,
    weights: Option<&[f64]>,
    options: &KernelOptions,
    batch_rows: usize,
) -> kernel::KernelValues {
    kernel::shap_values(
        |b| Ok(model(b)),
        x.view(),
        background.view(),
        weights,
        options,
        batch_rows,
    )
    .unwrap()
}

#[test]
fn exhaustive_designs_equal_brute_force_shapley_values() {
    let mut rng = Rng::new(11);
    for m in 2..=10 {
        for link in [Link::Identity, Link::Logistic] {
            let background = random_matrix(&mut rng, 5, m);
            let weights: Vec<f64> = (0..5).map(|_| 0.2 + rng.uniform()).collect();
            let total: f64 = weights.iter().sum();
            let normalised: Vec<f64> = weights.iter().map(|w| w / total).collect();
            let x = random_matrix(&mut rng, 3, m);
            let model = match link {
                Link::Identity => nonlinear,
                Link::Logistic => probability,
                Link::Softmax | Link::Exp => unreachable!("Kernel's links here: identity, logit"),
            };
            let options = KernelOptions {
                link,
                ..KernelOptions::default()
            };
            let got = run(model, &x, &background, Some(&weights), &options, 64);
            for i in 0..3 {
                let x_row = x.row(i).to_vec();
                let want = brute_force(model, &x_row, &background, &normalised, link);
                for j in 0..m {
                    for o in 0..2 {
                        let (g, w) = (got.values[[i, j, o]], want[[j, o]]);
                        assert!(
                            (g - w).abs() < 1e-10,
                            "m={m} {link:?} row {i} φ[{j},{o}]: {g} vs {w}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn efficiency_holds_in_sampled_designs() {
    let mut rng = Rng::new(5);
    let m = 16;
    let background = random_matrix(&mut rng, 4, m);
    let x = random_matrix(&mut rng, 6, m);
    for (nsamples, link, sampling) in [
        (40, Link::Identity, Sampling::Stratified),
        (300, Link::Logistic, Sampling::Stratified),
        (40, Link::Identity, Sampling::Shap),
        (300, Link::Logistic, Sampling::Shap),
    ] {
        let model = if link == Link::Identity {
            nonlinear
        } else {
            probability
        };
        let options = KernelOptions {
            nsamples: Some(nsamples),
            link,
            seed: 9,
            selection: FeatureSelection::None,
            sampling,
            standard_errors: true,
        };
        let got = run(model, &x, &background, None, &options, 1000);
        let fx = model(x.view());
        for i in 0..6 {
            for o in 0..2 {
                let delta = link.apply(fx[[i, o]]) - got.base_values[o];
                let total: f64 = (0..m).map(|j| got.values[[i, j, o]]).sum();
                assert!(
                    (total - delta).abs() < 1e-10 * delta.abs().max(1.0),
                    "row {i} output {o}: Σφ={total} Δ={delta}"
                );
            }
        }
    }
}

#[test]
fn linear_model_closed_form_with_a_sampled_design() {
    let mut rng = Rng::new(8);
    let m = 14;
    let beta: Vec<f64> = (0..m).map(|_| rng.uniform() * 2.0 - 1.0).collect();
    let linear = |x: ArrayView2<'_, f64>| {
        Array2::from_shape_fn((x.nrows(), 1), |(i, _)| {
            0.7 + (0..m).map(|j| beta[j] * x[[i, j]]).sum::<f64>()
        })
    };
    let background = random_matrix(&mut rng, 7, m);
    let x = random_matrix(&mut rng, 4, m);
    let options = KernelOptions {
        nsamples: Some(200),
        seed: 3,
        ..KernelOptions::default()
    };
    let got = run(linear, &x, &background, None, &options, 333);
    for i in 0..4 {
        for j in 0..m {
            let mean = background.column(j).mean().unwrap();
            let want = beta[j] * (x[[i, j]] - mean);
            let g = got.values[[i, j, 0]];
            assert!((g - want).abs() < 1e-10, "row {i} φ[{j}]: {g} vs {want}");
        }
    }
}

#[test]
fn features_that_do_not_vary_get_exactly_zero() {
    let mut rng = Rng::new(2);
    let m = 6;
    let mut background = random_matrix(&mut rng, 5, m);
    let mut x = random_matrix(&mut rng, 3, m);
    for i in 0..5 {
        background[[i, 1]] = 0.5;
        background[[i, 4]] = f64::NAN;
    }
    for i in 0..3 {
        x[[i, 1]] = 0.5 + 1e-9; // within allclose's tolerance
        x[[i, 4]] = f64::NAN; // NaN equals NaN, as with equal_nan=True
    }
    let nan_safe =
        |b: ArrayView2<'_, f64>| nonlinear(b.mapv(|v| if v.is_nan() { 0.0 } else { v }).view());
    let got = run(
        nan_safe,
        &x,
        &background,
        None,
        &KernelOptions::default(),
        64,
    );
    for i in 0..3 {
        for o in 0..2 {
            assert_eq!(got.values[[i, 1, o]], 0.0);
            assert_eq!(got.values[[i, 4, o]], 0.0);
        }
    }
    // Only one varying feature: it takes the whole difference.
    let x1 = background.row(0).to_owned().insert_axis(ndarray::Axis(0));
    let mut x1 = x1.clone();
    x1[[0, 0]] = 3.0;
    let bg1 = Array2::from_shape_fn((2, m), |(_, j)| {
        x1[[0, j]] + if j == 0 { -1.0 } else { 0.0 }
    });
    let got = run(nan_safe, &x1, &bg1, None, &KernelOptions::default(), 64);
    let delta = nan_safe(x1.view())[[0, 0]] - got.base_values[0];
    assert!((got.values[[0, 0, 0]] - delta).abs() < 1e-12);
}

#[test]
fn results_do_not_depend_on_threads_or_batch_size() {
    let mut rng = Rng::new(4);
    let m = 12;
    let background = random_matrix(&mut rng, 6, m);
    let x = random_matrix(&mut rng, 40, m);
    let options = KernelOptions {
        nsamples: Some(150),
        seed: 1234,
        ..KernelOptions::default()
    };
    let reference = with_threads(Some(1), || {
        run(nonlinear, &x, &background, None, &options, 97)
    })
    .unwrap();
    for (threads, batch) in [(2, 97), (3, 5000), (4, 6)] {
        let got = with_threads(Some(threads), || {
            run(nonlinear, &x, &background, None, &options, batch)
        })
        .unwrap();
        assert_eq!(
            got.values, reference.values,
            "threads={threads} batch={batch}"
        );
    }
    let other_seed = KernelOptions {
        seed: 1235,
        ..options
    };
    let got = run(nonlinear, &x, &background, None, &other_seed, 97);
    assert_ne!(got.values, reference.values);
}

#[test]
fn bad_inputs_are_refused_with_clear_errors() {
    let mut rng = Rng::new(6);
    let background = random_matrix(&mut rng, 3, 5);
    let x = random_matrix(&mut rng, 2, 4);
    let err = KernelJob::new(
        x.view(),
        background.view(),
        None,
        &[0.0],
        &KernelOptions::default(),
        0,
    )
    .unwrap_err();
    assert!(err.to_string().contains("columns"), "{err}");
    let x = random_matrix(&mut rng, 2, 5);
    let small = KernelOptions {
        nsamples: Some(3),
        ..KernelOptions::default()
    };
    let err = KernelJob::new(x.view(), background.view(), None, &[0.0], &small, 0).unwrap_err();
    assert!(err.to_string().contains("nsamples=3"), "{err}");
    let mut job = KernelJob::new(
        x.view(),
        background.view(),
        None,
        &[0.0, 1.0],
        &KernelOptions::default(),
        0,
    )
    .unwrap();
    let batch = job.masked_rows(0, 3).unwrap();
    let bad = Array2::from_elem((batch.nrows(), 2), f64::NAN);
    assert!(
        job.add_outputs(0, bad.view())
            .unwrap_err()
            .to_string()
            .contains("NaN")
    );
    let wrong = Array2::zeros((batch.nrows(), 3));
    assert!(
        job.add_outputs(0, wrong.view())
            .unwrap_err()
            .to_string()
            .contains("outputs")
    );
}

#[test]
fn num_features_selects_the_features_that_matter() {
    // Only features 1 and 4 matter; LAR on an exhaustive design must pick exactly them, and the
    // refit over them is then exact. Asking for every feature reproduces brute force.
    let mut rng = Rng::new(21);
    let m = 7;
    let model = |x: ArrayView2<'_, f64>| {
        Array2::from_shape_fn((x.nrows(), 1), |(i, _)| {
            2.0 * x[[i, 1]] - x[[i, 4]] + 0.5 * x[[i, 1]] * x[[i, 4]]
        })
    };
    let background = random_matrix(&mut rng, 4, m);
    let weights = vec![0.25; 4];
    let x = random_matrix(&mut rng, 3, m);
    for (k, expect_nonzero) in [(2, 2), (m, m)] {
        let options = KernelOptions {
            selection: FeatureSelection::NumFeatures(k),
            ..KernelOptions::default()
        };
        let got = run(model, &x, &background, None, &options, 100);
        for i in 0..3 {
            let want = brute_force(
                model,
                &x.row(i).to_vec(),
                &background,
                &weights,
                Link::Identity,
            );
            for j in 0..m {
                let g = got.values[[i, j, 0]];
                assert!(
                    (g - want[[j, 0]]).abs() < 1e-10,
                    "k={k} row {i} φ[{j}]: {g} vs {}",
                    want[[j, 0]]
                );
            }
            let nonzero = (0..m).filter(|&j| got.values[[i, j, 0]] != 0.0).count();
            assert!(nonzero <= expect_nonzero);
        }
    }
}

#[test]
fn efficiency_holds_under_every_feature_selection() {
    use ferroshap::game::Criterion;
    let mut rng = Rng::new(31);
    let m = 12;
    let background = random_matrix(&mut rng, 5, m);
    let x = random_matrix(&mut rng, 4, m);
    let fx = nonlinear(x.view());
    for selection in [
        FeatureSelection::NumFeatures(4),
        FeatureSelection::LassoAlpha(1e-4),
        FeatureSelection::InformationCriterion(Criterion::Aic),
        FeatureSelection::InformationCriterion(Criterion::Bic),
        FeatureSelection::Auto,
    ] {
        for nsamples in [Some(300), None] {
            let options = KernelOptions {
                nsamples,
                seed: 2,
                selection,
                ..KernelOptions::default()
            };
            let got = run(nonlinear, &x, &background, None, &options, 4096);
            for i in 0..4 {
                for o in 0..2 {
                    let delta = fx[[i, o]] - got.base_values[o];
                    let total: f64 = (0..m).map(|j| got.values[[i, j, o]]).sum();
                    assert!(
                        (total - delta).abs() < 1e-10 * delta.abs().max(1.0),
                        "{selection:?} {nsamples:?} row {i}: Σφ={total} Δ={delta}"
                    );
                }
            }
            if let FeatureSelection::NumFeatures(k) = selection {
                for i in 0..4 {
                    let kept = (0..m).filter(|&j| got.values[[i, j, 0]] != 0.0).count();
                    assert!(kept <= k);
                }
            }
        }
    }
}

#[test]
fn standard_errors_match_the_spread_across_seeds() {
    // The reported standard error of a sampled design should match the actual spread of the
    // estimates over independent seeds (checked in aggregate: within 25% on average over
    // features, for 300 seeds), and be exactly 0 for an exhaustive design.
    let mut rng = Rng::new(41);
    let m = 10;
    let background = random_matrix(&mut rng, 4, m);
    let x = random_matrix(&mut rng, 1, m);
    for sampling in [Sampling::Stratified, Sampling::Shap] {
        let runs: Vec<kernel::KernelValues> = (0..300)
            .map(|seed| {
                let options = KernelOptions {
                    nsamples: Some(120),
                    seed,
                    sampling,
                    ..KernelOptions::default()
                };
                run(nonlinear, &x, &background, None, &options, 4096)
            })
            .collect();
        let mut ratios = Vec::new();
        for j in 0..m {
            let values: Vec<f64> = runs.iter().map(|r| r.values[[0, j, 0]]).collect();
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>()
                / (values.len() - 1) as f64)
                .sqrt();
            let se = runs
                .iter()
                .map(|r| r.standard_errors[[0, j, 0]])
                .sum::<f64>()
                / runs.len() as f64;
            ratios.push(se / sd);
        }
        let mean_ratio = ratios.iter().sum::<f64>() / m as f64;
        assert!(
            (0.75..1.25).contains(&mean_ratio),
            "{sampling:?}: SE / SD per feature: {ratios:?}"
        );
    }
    let exhaustive = run(
        nonlinear,
        &x,
        &background,
        None,
        &KernelOptions::default(),
        4096,
    );
    assert!(exhaustive.standard_errors.iter().all(|&e| e == 0.0));
}
