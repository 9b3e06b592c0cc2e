"""DeepExplainer and GradientExplainer on Keras 3 (TensorFlow backend) models.

Oracles and tolerances as in test_deep_torch.py: summation-to-delta and additivity within
1e-4 (float32 sums), shap 0.51's values within 1e-5 where shap runs on Keras 3.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
tf = pytest.importorskip("tensorflow", reason="tensorflow-cpu is in the test extra")
keras = pytest.importorskip("keras", reason="keras 3 comes with tensorflow >= 2.16")

import ferroshap  # noqa: E402
from ferroshap.explainers.deep import DeepLiftFallbackWarning  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(2)
tf.config.threading.set_inter_op_parallelism_threads(1)
layers = keras.layers


def _additivity(model, bg, X, values):
    out = np.asarray(model(X), dtype=np.float64)
    ev = np.asarray(model(bg), dtype=np.float64).mean(0)
    sums = values.reshape(values.shape[0], -1, values.shape[-1]).sum(1)
    return np.abs(sums - (out - ev)).max()


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.data / 16.0).astype("float32").reshape(-1, 8, 8, 1), d.target


@pytest.fixture(scope="module")
def digits_cnn(digits):
    X, y = digits
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        layers.Conv2D(8, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(16, 3, padding="same", activation="relu"),
        layers.Flatten(),
        layers.Dense(32, activation="relu"),
        layers.Dropout(0.1),
        layers.Dense(10),
    ])  # fmt: skip
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(X, y, epochs=2, batch_size=128, verbose=0)
    return model


def test_summation_to_delta_one_reference(digits, digits_cnn):
    X, _ = digits
    ref, rows = X[:1], X[10:30]
    values = ferroshap.DeepExplainer(digits_cnn, ref).shap_values(rows)
    delta = np.asarray(digits_cnn(rows)) - np.asarray(digits_cnn(ref))
    np.testing.assert_allclose(values.sum((1, 2, 3)), delta, atol=1e-5)


def test_linear_model_deep_and_gradient_exact():
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((5,)), layers.Dense(2)])
    w = np.asarray(model.layers[0].kernel)
    rng = np.random.default_rng(1)
    bg, X = rng.normal(size=(20, 5)).astype("f4"), rng.normal(size=(6, 5)).astype("f4")
    exact = (X - bg.mean(0))[:, :, None] * w[None]
    np.testing.assert_allclose(ferroshap.DeepExplainer(model, bg).shap_values(X), exact, atol=1e-5)
    one = bg[:1]
    gradient = ferroshap.GradientExplainer(model, one).shap_values(X, nsamples=5, rseed=0)
    np.testing.assert_allclose(gradient, (X - one)[:, :, None] * w[None], atol=1e-5)


def test_digits_cnn_additivity_parity_and_explanation(digits, digits_cnn):
    shap = pytest.importorskip("shap", reason="shap is in the test extra")
    X, _ = digits
    bg, rows = X[:50], X[100:110]
    sv = ferroshap.DeepExplainer(digits_cnn, bg)(rows)
    assert sv.axis_names == ("rows", "height", "width", "channels", "outputs")
    assert _additivity(digits_cnn, bg, rows, sv.values) < 1e-4
    np.testing.assert_allclose(sv.base_values[0], np.asarray(digits_cnn(bg)).mean(0), rtol=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # shap's own TF-version and Keras input warnings
        theirs = shap.DeepExplainer(digits_cnn, bg).shap_values(rows)
        their_grad = shap.GradientExplainer(digits_cnn, bg).shap_values(rows, nsamples=20, rseed=4)
    np.testing.assert_allclose(sv.values, theirs, atol=1e-5)
    grad = ferroshap.GradientExplainer(digits_cnn, bg).shap_values(rows, nsamples=20, rseed=4)
    np.testing.assert_allclose(grad, their_grad, atol=1e-5)


def _transformer_block():
    keras.utils.set_random_seed(2)
    inp = keras.Input((5, 16))
    h = layers.LayerNormalization()(inp)
    x = layers.Add()([inp, layers.MultiHeadAttention(2, 8)(h, h)])
    f = layers.Dense(16)(layers.Dense(32, activation="gelu")(layers.LayerNormalization()(x)))
    x = layers.Add()([x, f])
    return keras.Model(inp, layers.Dense(2)(layers.GlobalAveragePooling1D()(x)))


def test_keras3_functional_transformer_block_shap_fails_ferroshap_exact():
    pytest.importorskip("shap", reason="shap is in the test extra")
    model = _transformer_block()
    rng = np.random.default_rng(2)
    bg, X = rng.normal(size=(10, 5, 16)).astype("f4"), rng.normal(size=(3, 5, 16)).astype("f4")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback warning: every layer has a rule
        sv = ferroshap.DeepExplainer(model, bg, axis_names=("tokens", "features"))(X)
    assert _additivity(model, bg, X, sv.values) < 1e-4
    # shap 0.51 cannot differentiate its overridden graph through LayerNorm/GELU/attention
    # on Keras 3 (a LookupError from TensorFlow's gradient registry). It runs in a separate
    # process: a failed shap call leaves TensorFlow's gradient registry patched, which breaks
    # every later gradient in the process.
    code = (
        "import os, warnings\n"
        "os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'\n"
        "warnings.simplefilter('ignore')\n"
        "import numpy as np, shap, keras, sys\n"
        f"sys.path.insert(0, {os.path.dirname(__file__)!r})\n"
        "from test_deep_keras import _transformer_block\n"
        "rng = np.random.default_rng(2)\n"
        "bg = rng.normal(size=(10, 5, 16)).astype('f4')\n"
        "X = rng.normal(size=(3, 5, 16)).astype('f4')\n"
        "try:\n"
        "    shap.DeepExplainer(_transformer_block(), bg).shap_values(X)\n"
        "    print('shap ran')\n"
        "except Exception as e:\n"
        "    print('shap failed:', type(e).__name__, str(e).splitlines()[-1][:200])\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert "shap failed" in out.stdout, out.stdout + out.stderr[-2000:]
    assert "gradient registry has no entry" in out.stdout


def test_lstm_fallback_warns_once_with_its_name():
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((6, 4)), layers.LSTM(8), layers.Dense(1)])
    rng = np.random.default_rng(3)
    bg, X = rng.normal(size=(10, 6, 4)).astype("f4"), rng.normal(size=(3, 6, 4)).astype("f4")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sv = ferroshap.DeepExplainer(model, bg)(X)
    fallback = [w for w in caught if issubclass(w.category, DeepLiftFallbackWarning)]
    assert len(fallback) == 1 and "LSTM" in str(fallback[0].message)
    assert np.isfinite(sv.values).all() and sv.additivity_errors.shape == (3, 1)


def test_intermediate_layer_gradient_and_embedding_deep():
    keras.utils.set_random_seed(4)
    inp = keras.Input((5,), dtype="int32")
    emb = layers.Embedding(20, 6)
    hidden = layers.Dense(8, activation="relu")
    x = hidden(emb(inp))
    model = keras.Model(inp, layers.Dense(2)(layers.GlobalAveragePooling1D()(x)))
    rng = np.random.default_rng(4)
    bg, X = rng.integers(0, 20, (15, 5)), rng.integers(0, 20, (4, 5))
    with pytest.raises(TypeError, match="embedding"):
        ferroshap.DeepExplainer(model, bg)
    sv = ferroshap.DeepExplainer((model, emb), bg)(X)
    assert sv.values.shape == (4, 5, 6, 2)
    delta = np.asarray(model(X)) - np.asarray(model(bg)).mean(0)
    np.testing.assert_allclose(sv.values.sum((1, 2)), delta, atol=1e-5)
    grad = ferroshap.GradientExplainer((model, hidden), bg)(X, nsamples=300, rseed=0)
    assert grad.values.shape == (4, 5, 6, 2)
    se = np.sqrt((grad.error_std**2).sum((1, 2)))
    assert (np.abs(grad.values.sum((1, 2)) - delta) < 5 * se + 1e-6).all()


def test_bad_input_is_named():
    model = keras.Sequential([keras.Input((4,)), layers.Dense(2)])
    bg = np.zeros((5, 4), dtype="f4")
    explainer = ferroshap.DeepExplainer(model, bg)
    with pytest.raises(ValueError, match=r"rows of shape \(3,\) but the background's are \(4,\)"):
        explainer.shap_values(np.zeros((2, 3), dtype="f4"))
    with pytest.raises(TypeError, match="numeric"):
        explainer.shap_values(np.array([["a"] * 4]))
    with pytest.raises(ValueError, match="session"):
        ferroshap.DeepExplainer(model, bg, session=object())


def test_multi_input_functional_model_and_ranked_outputs():
    keras.utils.set_random_seed(5)
    a, b = keras.Input((4,)), keras.Input((3,))
    h = layers.Multiply()([layers.Dense(8, activation="relu")(a), layers.Dense(8)(b)])
    model = keras.Model([a, b], layers.Dense(3, activation="softmax")(h))
    rng = np.random.default_rng(5)
    bg = [rng.normal(size=(20, 4)).astype("f4"), rng.normal(size=(20, 3)).astype("f4")]
    X = [rng.normal(size=(6, 4)).astype("f4"), rng.normal(size=(6, 3)).astype("f4")]
    explainer = ferroshap.DeepExplainer(model, bg)
    values = explainer.shap_values(X)
    assert [v.shape for v in values] == [(6, 4, 3), (6, 3, 3)]
    delta = np.asarray(model(X)) - np.asarray(model(bg)).mean(0)
    np.testing.assert_allclose(values[0].sum(1) + values[1].sum(1), delta, atol=1e-5)
    # max_abs ranks by descending |output| (shap's TF explainers sort ascending).
    ranked, ranks = explainer.shap_values(X, ranked_outputs=1, output_rank_order="max_abs")
    np.testing.assert_array_equal(ranks[:, 0], np.abs(np.asarray(model(X))).argmax(1))
    np.testing.assert_allclose(
        ranked[0][..., 0], np.take_along_axis(values[0], ranks[:, None, :], 2)[..., 0], atol=1e-6
    )


def test_zero_rows_give_empty_values(digits, digits_cnn):
    """No rows to explain: empty arrays of the right shape, as TreeExplainer gives, not a
    numpy error from joining no batches."""
    bg = digits[0][:10]
    empty = bg[:0]
    for cls in (ferroshap.DeepExplainer, ferroshap.GradientExplainer):
        explainer = cls(digits_cnn, bg)
        values = np.asarray(explainer.shap_values(empty))
        assert values.shape == (0, *bg.shape[1:], 10), (cls.__name__, values.shape)
        assert explainer(empty).values.shape == values.shape
