//! What a model's margins become: the one output type of the crate.
//!
//! [`Link`] names the inverse link of a model's objective (what the model stores) and the scale
//! on which Kernel SHAP's values add up; [`OutputTransform`] is the function of the margins that
//! is predicted or explained: the margin itself, the inverse link with its scale (LightGBM's
//! `sigmoid:` parameter, `1 / iterations` for averaged LightGBM random forests), the two-column
//! binary probability, and the losses built on them. Both are parsed from their names here,
//! once ([`std::str::FromStr`]); every caller (prediction, transformed Tree SHAP outputs, the
//! native tree game of Kernel SHAP, Kernel's link) uses these two types.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// Smallest probability a cross-entropy loss reads (as scikit-learn's `log_loss` clips), so
/// that a class predicted with probability 0 costs `-ln(EPS)` instead of infinity.
pub const PROBABILITY_EPS: f64 = f64::EPSILON;

/// [`Link::apply`] clips probabilities to `[EPS, 1 − EPS]` (positive values to at least
/// `EPS`), as shap's logit link does.
const LINK_EPS: f64 = 1e-15;

/// The inverse link of a model's objective (how a margin becomes a prediction), and the
/// scale on which Kernel SHAP's values are additive (the link itself, [`Link::apply`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Margin is the prediction (regression, raw scores); Kernel: outputs as they are.
    Identity,
    /// Binary classification: probability = 1 / (1 + exp(-margin)); Kernel: log-odds
    /// (shap's `logit` link).
    Logistic,
    /// Multi-class: probabilities = softmax over the outputs; Kernel: log-probabilities.
    Softmax,
    /// Log-link regression (poisson, gamma, tweedie): prediction = exp(margin); Kernel: log.
    Exp,
}

impl Link {
    /// Every link with its name (the names [`Link::from_str`] accepts).
    pub const NAMES: [(&'static str, Link); 4] = [
        ("identity", Link::Identity),
        ("logistic", Link::Logistic),
        ("softmax", Link::Softmax),
        ("exp", Link::Exp),
    ];

    /// The link's name: `"identity"`, `"logistic"`, `"softmax"` or `"exp"`.
    pub fn name(self) -> &'static str {
        name_of(&Link::NAMES, |l| *l == self)
    }

    /// The inverse link as an output transform, with `scale` on the margins.
    pub fn output(self, scale: f64) -> OutputTransform {
        match self {
            Link::Identity => OutputTransform::Margin,
            Link::Logistic => OutputTransform::Logistic { scale },
            Link::Softmax => OutputTransform::Softmax { scale },
            Link::Exp => OutputTransform::Exp { scale },
        }
    }

    /// The link itself, applied to one prediction `p`: the inverse of [`Link::output`] at
    /// scale 1. `Logistic` gives the log-odds of `p` clipped to `[1e-15, 1 − 1e-15]` (shap's
    /// `logit`); `Exp` and `Softmax` give `ln(max(p, 1e-15))` (for softmax, the margin up to
    /// a constant per row, which differences cancel). Kernel SHAP applies it to the weighted
    /// mean prediction over background rows (not the mean of the links).
    #[inline]
    pub fn apply(self, p: f64) -> f64 {
        match self {
            Link::Identity => p,
            Link::Logistic => {
                let p = p.clamp(LINK_EPS, 1.0 - LINK_EPS);
                (p / (1.0 - p)).ln()
            }
            Link::Softmax | Link::Exp => p.max(LINK_EPS).ln(),
        }
    }
}

impl FromStr for Link {
    type Err = Error;

    /// A link by name; `"logit"` (the link function of shap's Kernel explainer) is the
    /// logistic model's link.
    fn from_str(name: &str) -> Result<Link> {
        if name == "logit" {
            return Ok(Link::Logistic);
        }
        by_name(&Link::NAMES, name, "link", ", or \"logit\" (logistic)")
    }
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What is predicted or explained, as a function `g` of the model's margins `m` (and, for
/// losses, of the row's label `y`). `scale` multiplies the margins first (LightGBM's
/// `sigmoid:` parameter, `1 / iterations` for LightGBM random forests).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OutputTransform {
    /// The margins themselves (raw scores, `decision_function`).
    Margin,
    /// `1 / (1 + exp(−scale·m_k))` for each output `k`.
    Logistic {
        /// Factor on the margin.
        scale: f64,
    },
    /// A single margin as two columns `(1 − p, p)`, `p = 1 / (1 + exp(−scale·m))`
    /// (`predict_proba` of binary classifiers).
    LogisticPair {
        /// Factor on the margin.
        scale: f64,
    },
    /// `softmax(scale·m)_k` for each output `k`.
    Softmax {
        /// Factor on the margins.
        scale: f64,
    },
    /// `exp(scale·m_k)` for each output (log-link regression's prediction).
    Exp {
        /// Factor on the margin.
        scale: f64,
    },
    /// `(scale·m − y)²` for a single-output regression model.
    SquaredError {
        /// Factor on the margin.
        scale: f64,
    },
    /// Binary cross-entropy of `p = logistic(scale·m)`: `−y ln p − (1 − y) ln(1 − p)`,
    /// evaluated stably as `ln(1 + exp(z)) − y z`, `z = scale·m`; `y` in `[0, 1]`.
    LogisticLoss {
        /// Factor on the margin.
        scale: f64,
    },
    /// Multi-class cross-entropy `−ln softmax(scale·m)_y`; `y` is a class index.
    SoftmaxLoss {
        /// Factor on the margins.
        scale: f64,
    },
    /// Cross-entropy of a model whose margins are class probabilities (scikit-learn forest
    /// classifiers): `−ln max(m_y, PROBABILITY_EPS)`; `y` is a class index.
    ProbabilityLoss,
}

impl OutputTransform {
    /// Every output with its name (the names [`OutputTransform::from_str`] accepts), at
    /// scale 1.
    pub const NAMES: [(&'static str, OutputTransform); 9] = [
        ("margin", OutputTransform::Margin),
        ("logistic", OutputTransform::Logistic { scale: 1.0 }),
        (
            "logistic_pair",
            OutputTransform::LogisticPair { scale: 1.0 },
        ),
        ("softmax", OutputTransform::Softmax { scale: 1.0 }),
        ("exp", OutputTransform::Exp { scale: 1.0 }),
        (
            "squared_error",
            OutputTransform::SquaredError { scale: 1.0 },
        ),
        (
            "logistic_loss",
            OutputTransform::LogisticLoss { scale: 1.0 },
        ),
        ("softmax_loss", OutputTransform::SoftmaxLoss { scale: 1.0 }),
        ("probability_loss", OutputTransform::ProbabilityLoss),
    ];

    /// The output's name (see [`OutputTransform::NAMES`]).
    pub fn name(&self) -> &'static str {
        name_of(&OutputTransform::NAMES, |o| {
            std::mem::discriminant(o) == std::mem::discriminant(self)
        })
    }

    /// The same output with `scale` on the margins; the margin and the probability loss,
    /// which read the margins as they are, stay unchanged.
    pub fn with_scale(self, scale: f64) -> OutputTransform {
        use OutputTransform as O;
        match self {
            O::Margin | O::ProbabilityLoss => self,
            O::Logistic { .. } => O::Logistic { scale },
            O::LogisticPair { .. } => O::LogisticPair { scale },
            O::Softmax { .. } => O::Softmax { scale },
            O::Exp { .. } => O::Exp { scale },
            O::SquaredError { .. } => O::SquaredError { scale },
            O::LogisticLoss { .. } => O::LogisticLoss { scale },
            O::SoftmaxLoss { .. } => O::SoftmaxLoss { scale },
        }
    }

    /// The factor on the margins (1 for the margin and the probability loss).
    pub fn scale(&self) -> f64 {
        use OutputTransform as O;
        match *self {
            O::Logistic { scale }
            | O::LogisticPair { scale }
            | O::Softmax { scale }
            | O::Exp { scale }
            | O::SquaredError { scale }
            | O::LogisticLoss { scale }
            | O::SoftmaxLoss { scale } => scale,
            O::Margin | O::ProbabilityLoss => 1.0,
        }
    }

    /// Whether the output needs a label per row.
    pub fn is_loss(&self) -> bool {
        matches!(
            self,
            OutputTransform::SquaredError { .. }
                | OutputTransform::LogisticLoss { .. }
                | OutputTransform::SoftmaxLoss { .. }
                | OutputTransform::ProbabilityLoss
        )
    }

    /// Whether the output is the margins themselves (linear in the trees' leaves).
    pub fn is_margin(&self) -> bool {
        *self == OutputTransform::Margin
    }

    /// Number of values per row for a model with `n_margins` outputs: 1 for losses, 2 for
    /// the two-column probability.
    pub fn n_outputs(&self, n_margins: usize) -> usize {
        match self {
            OutputTransform::LogisticPair { .. } => 2,
            _ if self.is_loss() => 1,
            _ => n_margins,
        }
    }

    /// Checks that the output fits a model with `k` outputs and that its scale is usable.
    pub fn check(&self, k: usize) -> Result<()> {
        let scale = self.scale();
        if !scale.is_finite() || scale <= 0.0 {
            return Err(Error::Parameter(format!(
                "the margin scale must be finite and > 0, got {scale}"
            )));
        }
        let single = |what: &str| {
            if k == 1 {
                Ok(())
            } else {
                Err(Error::Parameter(format!(
                    "{what} needs a single-output model; this model has {k} outputs"
                )))
            }
        };
        match self {
            OutputTransform::SquaredError { .. } => single("the squared-error loss"),
            OutputTransform::LogisticLoss { .. } => single("the binary cross-entropy loss"),
            OutputTransform::LogisticPair { .. } => single("the two-column binary probability"),
            OutputTransform::Softmax { .. }
            | OutputTransform::SoftmaxLoss { .. }
            | OutputTransform::ProbabilityLoss
                if k < 2 =>
            {
                Err(Error::Parameter(format!(
                    "{self:?} needs a model with at least 2 outputs (classes); this model has {k}"
                )))
            }
            _ => Ok(()),
        }
    }

    /// Checks that the output is a prediction (not a loss, which needs labels) that fits a
    /// model with `k` outputs.
    pub fn check_prediction(&self, k: usize) -> Result<()> {
        if self.is_loss() {
            return Err(Error::Parameter(format!(
                "the {self} output is a loss: it needs labels, which a prediction does not take"
            )));
        }
        self.check(k)
    }

    /// Checks the labels of a loss for a model with `k` outputs: finite, in `[0, 1]` for the
    /// binary cross-entropy, a class index for class losses.
    pub fn check_labels(&self, k: usize, labels: &[f64]) -> Result<()> {
        for (i, &y) in labels.iter().enumerate() {
            let ok = match self {
                OutputTransform::SquaredError { .. } => y.is_finite(),
                OutputTransform::LogisticLoss { .. } => (0.0..=1.0).contains(&y),
                _ => y >= 0.0 && y.fract() == 0.0 && y < k as f64,
            };
            if !ok {
                let want = match self {
                    OutputTransform::SquaredError { .. } => "a finite number".to_string(),
                    OutputTransform::LogisticLoss { .. } => "between 0 and 1".to_string(),
                    _ => format!("a class index 0..{}", k - 1),
                };
                return Err(Error::Parameter(format!(
                    "label {y} of row {i} is not valid: labels must be {want}"
                )));
            }
        }
        Ok(())
    }

    /// Writes `g(m)` (with label `y` for losses; ignored otherwise) into `out`
    /// (`n_outputs(m.len())` values).
    #[inline]
    pub fn apply(&self, m: &[f64], y: f64, out: &mut [f64]) {
        match *self {
            OutputTransform::Margin => out.copy_from_slice(m),
            OutputTransform::Logistic { scale } => {
                for (o, &v) in out.iter_mut().zip(m) {
                    *o = logistic(scale, v);
                }
            }
            OutputTransform::LogisticPair { scale } => {
                let p = logistic(scale, m[0]);
                out[0] = 1.0 - p;
                out[1] = p;
            }
            OutputTransform::Softmax { scale } => {
                let max = m.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
                let mut total = 0.0;
                for (o, &v) in out.iter_mut().zip(m) {
                    *o = (scale * (v - max)).exp();
                    total += *o;
                }
                for o in out.iter_mut() {
                    *o /= total;
                }
            }
            OutputTransform::Exp { scale } => {
                for (o, &v) in out.iter_mut().zip(m) {
                    *o = (scale * v).exp();
                }
            }
            OutputTransform::SquaredError { scale } => {
                let e = scale * m[0] - y;
                out[0] = e * e;
            }
            OutputTransform::LogisticLoss { scale } => {
                let z = scale * m[0];
                // ln(1 + e^z) without overflow.
                let softplus = z.max(0.0) + (-z.abs()).exp().ln_1p();
                out[0] = softplus - y * z;
            }
            OutputTransform::SoftmaxLoss { scale } => {
                let max = m.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
                let sum: f64 = m.iter().map(|&v| (scale * (v - max)).exp()).sum();
                out[0] = sum.ln() - scale * (m[y as usize] - max);
            }
            OutputTransform::ProbabilityLoss => {
                out[0] = -m[y as usize].max(PROBABILITY_EPS).ln();
            }
        }
    }
}

#[inline]
fn logistic(scale: f64, v: f64) -> f64 {
    1.0 / (1.0 + (-scale * v).exp())
}

impl FromStr for OutputTransform {
    type Err = Error;

    /// An output by name, at scale 1 ([`OutputTransform::with_scale`] sets another).
    fn from_str(name: &str) -> Result<OutputTransform> {
        by_name(&OutputTransform::NAMES, name, "output", "")
    }
}

impl fmt::Display for OutputTransform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The value named `name` in `names`, or an error listing every name (then `more`).
fn by_name<T: Copy>(names: &[(&str, T)], name: &str, what: &str, more: &str) -> Result<T> {
    names
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let all: Vec<String> = names.iter().map(|(n, _)| format!("{n:?}")).collect();
            Error::Parameter(format!(
                "unknown {what} {name:?}; expected one of {}{more}",
                all.join(", ")
            ))
        })
}

/// The name of the first value in `names` that `is` accepts.
fn name_of<T>(names: &[(&'static str, T)], is: impl Fn(&T) -> bool) -> &'static str {
    names
        .iter()
        .find(|(_, v)| is(v))
        .map(|(n, _)| *n)
        .expect("every value is named")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_unknown_names_list_the_accepted_ones() {
        for (name, output) in OutputTransform::NAMES {
            assert_eq!(name.parse::<OutputTransform>().unwrap(), output);
            assert_eq!(output.with_scale(0.5).name(), name);
        }
        for (name, link) in Link::NAMES {
            assert_eq!(name.parse::<Link>().unwrap(), link);
            assert_eq!(link.to_string(), name);
        }
        assert_eq!("logit".parse::<Link>().unwrap(), Link::Logistic);
        let err = "sigmoid"
            .parse::<OutputTransform>()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"sigmoid\"") && err.contains("\"probability_loss\""),
            "{err}"
        );
        let err = "log".parse::<Link>().unwrap_err().to_string();
        assert!(err.contains("\"exp\"") && err.contains("logit"), "{err}");
    }

    #[test]
    fn outputs_transform_margins_as_the_libraries_do() {
        let mut out = [0.0; 3];
        OutputTransform::Softmax { scale: 1.0 }.apply(&[1.0, 2.0, 3.0], 0.0, &mut out);
        let z: f64 = [1.0f64, 2.0, 3.0].iter().map(|v| v.exp()).sum();
        assert!((out[2] - 3.0f64.exp() / z).abs() < 1e-15);
        let mut pair = [0.0; 2];
        OutputTransform::LogisticPair { scale: 1.0 }.apply(&[0.3], 0.0, &mut pair);
        assert!((pair[1] - 1.0 / (1.0 + (-0.3f64).exp())).abs() < 1e-15);
        assert!((pair[0] + pair[1] - 1.0).abs() < 1e-15);
    }

    #[test]
    fn the_link_inverts_the_models_inverse_link() {
        // A margin through the inverse link and back: f64 rounding of exp and ln only.
        for link in [Link::Identity, Link::Logistic, Link::Exp] {
            for m in [-3.0, -0.25, 0.0, 0.7, 4.0] {
                let mut p = [0.0];
                link.output(1.0).apply(&[m], 0.0, &mut p);
                assert!((link.apply(p[0]) - m).abs() < 1e-12, "{link} at {m}");
            }
        }
        // Softmax: the margins up to one constant per row.
        let m = [0.5, -1.0, 2.0];
        let mut p = [0.0; 3];
        Link::Softmax.output(1.0).apply(&m, 0.0, &mut p);
        let back: Vec<f64> = p.iter().map(|&q| Link::Softmax.apply(q)).collect();
        assert!(((back[0] - back[1]) - (m[0] - m[1])).abs() < 1e-12);
        assert!(((back[2] - back[1]) - (m[2] - m[1])).abs() < 1e-12);
    }
}
