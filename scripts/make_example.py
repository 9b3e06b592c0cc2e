"""Make the bundled example: an XGBoost regressor on scikit-learn's diabetes data.

Writes python/ferroshap/datasets/diabetes_xgb.json (the model) and diabetes.csv (the ten
features, 442 rows). The diabetes data ships with scikit-learn: nothing is downloaded.

    python scripts/make_example.py
"""

from __future__ import annotations

from pathlib import Path

import xgboost
from sklearn.datasets import load_diabetes

OUT = Path(__file__).resolve().parents[1] / "python" / "ferroshap" / "datasets"
MAX_MODEL_BYTES = 500_000


def main() -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    model = xgboost.XGBRegressor(
        n_estimators=100, max_depth=4, learning_rate=0.1, random_state=0, n_jobs=1
    )
    model.fit(X, y)
    model_path = OUT / "diabetes_xgb.json"
    model.get_booster().save_model(model_path)
    # Shortest round-trip floats: the CSV reads back to exactly the training values.
    X.to_csv(OUT / "diabetes.csv", index=False)
    size = model_path.stat().st_size
    if size > MAX_MODEL_BYTES:
        raise SystemExit(f"{model_path} is {size} bytes; keep it under {MAX_MODEL_BYTES}")
    print(f"wrote {model_path} ({size} bytes) and diabetes.csv ({len(X)} rows)")


if __name__ == "__main__":
    main()
