"""Why the transformed-output estimator needs many draws: how much would other control
variates cut the per-draw spread of the sampled correction? (Analysis for issue 15; prints a
table, asserts nothing.)

    PYTHONPATH=python python benches/analysis_output_control_variates.py

The issue's model: XGBClassifier(n_estimators=50) (depth 6) on breast cancer. For 12 pairs
(explained row, background row) we draw 400 random permutations of all 30 features, read the
model's margin on every prefix hybrid (the model's own prediction, not ferroshap's walk) and
compare, per feature, the standard deviation over permutations of the marginal contributions of
``g(m) - h(m)`` for candidate control-variate games ``h`` whose Shapley values could be computed
exactly (reported: the largest over features, the value that sets the draws needed):

- ``secant``: ``c m`` with ``c`` the secant slope of the sigmoid between the pair's margins
  (what ferroshap uses: shap's rescaling plus a sampled correction);
- ``poly2`` .. ``poly4``: least-squares polynomials of the margin over the pair's margin range
  (exact Shapley values need products of 2..4 leaf conditions per pair);
- ``additive``: ``g(m_r + sum of the margin game's exact pair values over the prefix)``, the
  transform of the additive game that shares the margin game's Shapley values.

Draws needed scale with the square of these numbers.
"""

from __future__ import annotations

import warnings

import numpy as np
import xgboost as xgb
from sklearn.datasets import load_breast_cancer

import ferroshap


def sigmoid(m):
    return 1.0 / (1.0 + np.exp(-m))


def main() -> None:
    warnings.simplefilter("ignore")
    X, y = load_breast_cancer(return_X_y=True)
    model = xgb.XGBClassifier(n_estimators=50, n_jobs=1).fit(X, y)
    booster = model.get_booster()
    rng = np.random.default_rng(0)
    d, n_perm = X.shape[1], 400
    print("pair: margin r -> x | max over features of the per-draw sd of the remainder")
    print("  crossing | secant | poly2 | poly3 | poly4 | additive")
    for i in range(12):
        x, r = X[100 + 3 * i], X[rng.integers(100)]
        psi = ferroshap.TreeExplainer(model, data=r[None, :]).shap_values(x[None, :])[0]
        perms = [rng.permutation(d) for _ in range(n_perm)]
        hybrids = np.empty((n_perm, d + 1, d))
        for p, perm in enumerate(perms):
            hybrids[p] = r
            for t, f in enumerate(perm):
                hybrids[p, t + 1 :, f] = x[f]
        m = booster.predict(xgb.DMatrix(hybrids.reshape(-1, d)), output_margin=True)
        m = m.astype(np.float64).reshape(n_perm, d + 1)
        m_r, m_x = m[0, 0], m[0, -1]
        slope = (sigmoid(m_x) - sigmoid(m_r)) / (m_x - m_r)
        grid = np.linspace(m.min(), m.max(), 200)

        def spread(remainder: np.ndarray, perms=perms) -> float:
            steps = np.zeros((n_perm, d))
            for p, perm in enumerate(perms):
                steps[p, perm] = np.diff(remainder[p])
            return float(steps.std(0).max())

        row = [spread(sigmoid(m) - slope * m)]
        for degree in (2, 3, 4):
            coef = np.polynomial.polynomial.polyfit(grid, sigmoid(grid), degree)
            row.append(spread(sigmoid(m) - np.polynomial.polynomial.polyval(m, coef)))
        additive = np.array([m_r + np.concatenate([[0.0], np.cumsum(psi[perm])]) for perm in perms])
        row.append(spread(sigmoid(m) - sigmoid(additive)))
        crossing = "yes" if m_r * m_x < 0 else "no"
        print(f"  {m_r:+.1f} -> {m_x:+.1f} {crossing:>3} | " + " | ".join(f"{v:.4f}" for v in row))


if __name__ == "__main__":
    main()
