"""DeepExplainer and GradientExplainer on PyTorch models.

Oracles: DeepLIFT's summation-to-delta (exact for every (row, reference) pair), exact SHAP
values of linear models, the model's own output for additivity, and shap 0.51's values on
networks shap handles. Tolerances: 1e-5 where the values are sums of float32 products of
order 1 (a few ulps of float32 per layer); additivity 1e-4 (float32 sums over up to 3,072
inputs and 100 background rows, each attribution rounded at about 1e-7 relative).
"""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is in the test extra; absent only by hand")
nn = torch.nn
F = torch.nn.functional

import ferroshap  # noqa: E402
from ferroshap.explainers.deep import AdditivityWarning, DeepLiftFallbackWarning  # noqa: E402

torch.set_num_threads(2)


def _additivity(model, bg, X, values):
    """max |sum(values) - (f(x) - E f(bg))| over rows and outputs."""
    with torch.no_grad():
        out = model(X).double().numpy()
        ev = model(bg).double().numpy().mean(0)
    if out.ndim == 1:
        out, ev = out[:, None], np.atleast_1d(ev)
    sums = values.reshape(values.shape[0], -1, values.shape[-1]).sum(1)
    return np.abs(sums - (out - ev)).max()


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    X = torch.tensor(d.data / 16.0, dtype=torch.float32).view(-1, 1, 8, 8)
    y = torch.tensor(d.target)
    return X, y


def _train(model, X, y, epochs=3, lr=1e-2):
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        for i in range(0, len(X), 128):
            opt.zero_grad()
            F.cross_entropy(model(X[i : i + 128]), y[i : i + 128]).backward()
            opt.step()
    return model.eval()


@pytest.fixture(scope="module")
def digits_cnn(digits):
    X, y = digits
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.Flatten(),
        nn.Linear(16 * 16, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 10),
    )  # fmt: skip
    return _train(model, X, y)


# -- exactness ---------------------------------------------------------------------------------


def test_summation_to_delta_one_reference_piecewise_linear():
    torch.manual_seed(1)
    model = nn.Sequential(
        nn.Conv2d(2, 6, 3), nn.LeakyReLU(0.1), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(6 * 3 * 3, 12), nn.ReLU(), nn.Linear(12, 4),
    ).eval()  # fmt: skip
    ref = torch.randn(1, 2, 8, 8)
    X = torch.randn(16, 2, 8, 8)
    values = ferroshap.DeepExplainer(model, ref).shap_values(X)
    with torch.no_grad():
        delta = (model(X) - model(ref)).numpy()
    np.testing.assert_allclose(values.sum((1, 2, 3)), delta, atol=1e-5)


def test_linear_model_deep_and_gradient_give_exact_shap_values():
    torch.manual_seed(2)
    model = nn.Linear(5, 3).eval()
    w = model.weight.detach().numpy()
    bg = torch.randn(30, 5)
    X = torch.randn(8, 5)
    exact = (X.numpy() - bg.numpy().mean(0))[:, :, None] * w.T[None]
    np.testing.assert_allclose(ferroshap.DeepExplainer(model, bg).shap_values(X), exact, atol=1e-5)
    # Expected gradients are exact for a linear model when every draw uses the same
    # reference (the gradient is constant): a one-row background.
    one = bg[:1]
    exact_one = (X.numpy() - one.numpy())[:, :, None] * w.T[None]
    gradient = ferroshap.GradientExplainer(model, one).shap_values(X, nsamples=7, rseed=0)
    np.testing.assert_allclose(gradient, exact_one, atol=1e-5)


# -- additivity on real architectures ----------------------------------------------------------


def test_additivity_mlp_with_softmax_output():
    torch.manual_seed(3)
    model = nn.Sequential(
        nn.Linear(10, 32), nn.SiLU(), nn.Linear(32, 16), nn.ELU(), nn.Linear(16, 4),
        nn.Softmax(dim=1),
    ).eval()  # fmt: skip
    bg, X = torch.randn(50, 10), torch.randn(20, 10)
    sv = ferroshap.DeepExplainer(model, bg)(X)
    assert sv.values.shape == (20, 10, 4)
    assert np.abs(sv.additivity_errors).max() < 1e-4
    assert _additivity(model, bg, X, sv.values) < 1e-4


def test_additivity_digits_cnn(digits, digits_cnn):
    X, _ = digits
    sv = ferroshap.DeepExplainer(digits_cnn, X[:100])(X[100:140])
    assert sv.values.shape == (40, 1, 8, 8, 10)
    assert sv.axis_names == ("rows", "channels", "height", "width", "outputs")
    assert _additivity(digits_cnn, X[:100], X[100:140], sv.values) < 1e-4


class _ResBlock(nn.Module):
    """torchvision's BasicBlock pattern: one in-place ReLU reused, `out += identity`."""

    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class _SmallResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.blocks = nn.Sequential(_ResBlock(8), _ResBlock(8))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = self.relu(self.stem(x))
        return self.fc(torch.flatten(self.pool(self.blocks(x)), 1))


def test_additivity_resnet_with_reused_inplace_relu_and_residual_adds(digits):
    X, y = digits
    torch.manual_seed(4)
    model = _train(_SmallResNet(), X[:600], y[:600], epochs=1)
    bg, rows = X[:30], X[600:620]
    values = ferroshap.DeepExplainer(model, bg).shap_values(rows)
    assert _additivity(model, bg, rows, values) < 1e-4


def test_additivity_torchvision_resnet18_random_weights():
    torchvision = pytest.importorskip("torchvision", reason="torchvision is in the test extra")
    torch.manual_seed(5)
    model = torchvision.models.resnet18(weights=None, num_classes=3).eval()
    bg, X = torch.randn(3, 3, 32, 32), torch.randn(2, 3, 32, 32)
    values = ferroshap.DeepExplainer(model, bg).shap_values(X)
    with torch.no_grad():
        scale = model(X).abs().max().item()
    # 20 layers of float32 convolutions over 3,072 inputs: relative to the output scale.
    assert _additivity(model, bg, X, values) < 1e-4 * max(1.0, scale)


class _TransformerBlock(nn.Module):
    """Pre-norm block: LayerNorm, softmax attention written out (or fused SDPA), GELU MLP."""

    def __init__(self, d=16, heads=2, fused=False):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, 32), nn.GELU(), nn.Linear(32, d))
        self.head = nn.Linear(d, 2)
        self.heads, self.fused = heads, fused

    def forward(self, x):
        b, n, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        if self.fused:
            a = F.scaled_dot_product_attention(q, k, v)
        else:
            a = (q @ k.transpose(-2, -1) / (d // self.heads) ** 0.5).softmax(-1) @ v
        x = x + self.proj(a.transpose(1, 2).reshape(b, n, d))
        x = x + self.mlp(self.ln2(x))
        return self.head(x.mean(1))


@pytest.mark.parametrize("fused", [False, True])
def test_additivity_transformer_block(fused):
    torch.manual_seed(6)
    model = _TransformerBlock(fused=fused).eval()
    bg, X = torch.randn(20, 5, 16), torch.randn(6, 5, 16)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback: every op has a rule
        sv = ferroshap.DeepExplainer(model, bg, axis_names=("tokens", "features"))(X)
    assert _additivity(model, bg, X, sv.values) < 1e-4
    assert sv.axis_names == ("rows", "tokens", "features", "outputs")


# -- parity with shap --------------------------------------------------------------------------

shap = pytest.importorskip("shap", reason="shap is in the test extra")


def test_deep_parity_with_shap(digits, digits_cnn):
    X, _ = digits
    bg, rows = X[:40], X[200:210]
    ours = ferroshap.DeepExplainer(digits_cnn, bg).shap_values(rows)
    theirs = shap.DeepExplainer(digits_cnn, bg).shap_values(rows)
    assert ours.shape == theirs.shape == (10, 1, 8, 8, 10)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)

    torch.manual_seed(7)
    mlp = nn.Sequential(
        nn.Linear(6, 12), nn.Tanh(), nn.Linear(12, 8), nn.Sigmoid(), nn.Linear(8, 1)
    )
    bg, rows = torch.randn(25, 6), torch.randn(9, 6)
    ours = ferroshap.DeepExplainer(mlp.eval(), bg).shap_values(rows)
    theirs = shap.DeepExplainer(mlp.eval(), bg).shap_values(rows)
    assert ours.shape == theirs.shape == (9, 6, 1)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_ranked_outputs_parity_with_shap(digits, digits_cnn):
    X, _ = digits
    bg, rows = X[:30], X[300:306]
    for order in ("max", "min", "max_abs"):
        ours, ranks = ferroshap.DeepExplainer(digits_cnn, bg).shap_values(
            rows, ranked_outputs=2, output_rank_order=order
        )
        # shap checks additivity against all outputs, not the ranked ones: switch it off.
        theirs, their_ranks = shap.DeepExplainer(digits_cnn, bg).shap_values(
            rows, ranked_outputs=2, output_rank_order=order, check_additivity=False
        )
        np.testing.assert_array_equal(ranks, their_ranks.numpy())
        np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_gradient_parity_with_shap_same_seed(digits, digits_cnn):
    X, _ = digits
    bg, rows = X[:50], X[400:405]
    ours = ferroshap.GradientExplainer(digits_cnn, bg).shap_values(rows, nsamples=30, rseed=11)
    theirs = shap.GradientExplainer(digits_cnn, bg).shap_values(rows, nsamples=30, rseed=11)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_multi_input_shapes_and_additivity_match_shap():
    class TwoInputs(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.out = nn.Linear(4, 8), nn.Linear(3, 8), nn.Linear(8, 2)

        def forward(self, x, z):
            return self.out(F.relu(self.a(x)) * torch.sigmoid(self.b(z)))

    torch.manual_seed(8)
    model = TwoInputs().eval()
    bg = [torch.randn(20, 4), torch.randn(20, 3)]
    X = [torch.randn(5, 4), torch.randn(5, 3)]
    ours = ferroshap.DeepExplainer(model, bg).shap_values(X)
    assert [v.shape for v in ours] == [(5, 4, 2), (5, 3, 2)]
    with torch.no_grad():
        delta = (model(*X) - model(*bg).mean(0)).numpy()
    # The product of two activations has an exact (Shapley) rule.
    np.testing.assert_allclose(ours[0].sum(1) + ours[1].sum(1), delta, atol=1e-5)
    gradient = ferroshap.GradientExplainer(model, bg).shap_values(X, nsamples=10, rseed=0)
    theirs = shap.GradientExplainer(model, bg).shap_values(X, nsamples=10, rseed=0)
    for a, b in zip(gradient, theirs, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


# -- models shap gets wrong --------------------------------------------------------------------


class _FunctionalCNN(nn.Module):
    """F.relu / F.max_pool2d / a tensor method, and one ReLU module used twice."""

    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(1, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1)
        self.act = nn.ReLU()
        self.fc = nn.Linear(4 * 4 * 4, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = self.act(self.c2(x)) + self.act(x)
        return self.fc(x.flatten(1).tanh())


def test_functional_ops_and_reused_module_shap_misses_ferroshap_exact(digits):
    X, y = digits
    model = _train(_FunctionalCNN(), X[:500], y[:500], epochs=1)
    bg, rows = X[:40], X[900:910]
    values = ferroshap.DeepExplainer(model, bg).shap_values(rows)
    assert _additivity(model, bg, rows, values) < 1e-4
    theirs = shap.DeepExplainer(model, bg).shap_values(rows, check_additivity=False)
    assert _additivity(model, bg, rows, theirs) > 1e-2  # shap's hooks miss F.relu / F.max_pool2d


def test_layer_norm_model_shap_misses_ferroshap_exact():
    torch.manual_seed(9)
    model = nn.Sequential(nn.Linear(6, 16), nn.LayerNorm(16), nn.GELU(), nn.Linear(16, 2)).eval()
    bg, X = torch.randn(30, 6), torch.randn(8, 6)
    values = ferroshap.DeepExplainer(model, bg).shap_values(X)
    assert _additivity(model, bg, X, values) < 1e-4
    with pytest.warns(UserWarning, match="unrecognized nn.Module: LayerNorm"):
        theirs = shap.DeepExplainer(model, bg).shap_values(X, check_additivity=False)
    assert _additivity(model, bg, X, theirs) > 1e-3


def test_lstm_falls_back_to_gradient_with_one_warning_naming_it():
    class Recurrent(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn, self.out = nn.LSTM(4, 8, batch_first=True), nn.Linear(8, 1)

        def forward(self, x):
            return self.out(self.rnn(x)[0][:, -1])

    torch.manual_seed(10)
    model = Recurrent().eval()
    bg, X = torch.randn(10, 6, 4), torch.randn(3, 6, 4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sv = ferroshap.DeepExplainer(model, bg)(X)
    fallback = [w for w in caught if issubclass(w.category, DeepLiftFallbackWarning)]
    assert len(fallback) == 1 and "lstm" in str(fallback[0].message)
    # The additivity report says what the fallback cost, and keeps the per-row errors.
    assert sv.additivity_errors.shape == (3, 1)
    assert np.isfinite(sv.values).all()


# -- explanations, layers, batches -------------------------------------------------------------


def test_explanation_carries_base_values_data_and_bounds(digits, digits_cnn):
    X, _ = digits
    bg, rows = X[:50], X[500:504]
    deep = ferroshap.DeepExplainer(digits_cnn, bg)
    sv = deep(rows)
    with torch.no_grad():
        expected = digits_cnn(bg).double().mean(0).numpy()
    np.testing.assert_allclose(sv.base_values, np.tile(expected, (4, 1)), rtol=1e-6)
    np.testing.assert_array_equal(sv.data, rows.numpy())
    grad = ferroshap.GradientExplainer(digits_cnn, bg)
    np.testing.assert_allclose(grad.expected_value, expected, rtol=1e-6)
    ex = grad(rows, nsamples=40, rseed=3)
    assert ex.base_values.shape == (4, 10)
    assert (ex.lower_bounds <= ex.values).all() and (ex.values <= ex.upper_bounds).all()
    # Bounds are +-1.96 standard errors, the standard error the variance of the estimate.
    _, var = grad.shap_values(rows, nsamples=40, rseed=3, return_variances=True)
    np.testing.assert_allclose(ex.upper_bounds - ex.values, 1.959963984540054 * np.sqrt(var))


def test_batch_size_does_not_change_values(digits, digits_cnn):
    X, _ = digits
    bg, rows = X[:30], X[600:607]
    big = ferroshap.DeepExplainer(digits_cnn, bg, batch_size=4096).shap_values(rows)
    # 7 pairs per pass: the background itself is split into chunks.
    small = ferroshap.DeepExplainer(digits_cnn, bg, batch_size=7).shap_values(rows)
    np.testing.assert_allclose(small, big, atol=1e-6)


def test_intermediate_layer_and_embedding():
    class Text(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(20, 6)
            self.hidden = nn.Linear(6, 8)
            self.out = nn.Linear(8, 2)

        def forward(self, tokens):
            return self.out(torch.relu(self.hidden(self.emb(tokens))).mean(1))

    torch.manual_seed(12)
    model = Text().eval()
    bg, X = torch.randint(0, 20, (15, 5)), torch.randint(0, 20, (4, 5))
    with pytest.raises(TypeError, match="embedding"):
        ferroshap.DeepExplainer(model, bg)
    sv = ferroshap.DeepExplainer((model, model.emb), bg)(X)
    assert sv.values.shape == (4, 5, 6, 2)  # attributions to the embedding's output
    with torch.no_grad():
        delta = (model(X) - model(bg).mean(0)).numpy()
    np.testing.assert_allclose(sv.values.sum((1, 2)), delta, atol=1e-5)
    np.testing.assert_array_equal(sv.data, model.emb(X).detach().numpy())
    # Expected gradients at the hidden layer's input (the embedding again).
    grad = ferroshap.GradientExplainer((model, model.hidden), bg)(X, nsamples=400, rseed=0)
    assert grad.values.shape == (4, 5, 6, 2)
    # Unbiased: the sum is within a few standard errors of f(x) - E f.
    se = np.sqrt(((grad.upper_bounds - grad.values) / 1.96) ** 2).sum((1, 2))
    assert (np.abs(grad.values.sum((1, 2)) - delta) < 5 * se + 1e-6).all()


# -- bad input ---------------------------------------------------------------------------------


def lambda_model():
    class Sum(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 1)

        def forward(self, a, b):
            return self.lin(a + b)

    return Sum().eval()


def test_bad_input_is_named():
    torch.manual_seed(13)
    model = nn.Sequential(nn.Linear(4, 3)).eval()
    bg = torch.randn(10, 4)
    explainer = ferroshap.DeepExplainer(model, bg)
    with pytest.raises(ValueError, match=r"rows of shape \(5,\) but the background's are \(4,\)"):
        explainer.shap_values(torch.randn(2, 5))
    with pytest.raises(TypeError, match="dtype torch.float64 but the background"):
        explainer.shap_values(torch.randn(2, 4, dtype=torch.float64))
    with pytest.raises(TypeError, match="float64 but the model's parameters are torch.float32"):
        ferroshap.DeepExplainer(model, bg.double())
    with pytest.raises(ValueError, match="is on meta but the model is on cpu"):
        explainer.shap_values(torch.randn(2, 4, device="meta"))
    with pytest.raises(ValueError, match="no rows"):
        ferroshap.GradientExplainer(model, bg[:0])
    with pytest.raises(ValueError, match=r"could not run the model on the background .*\(10, 4\)"):
        ferroshap.DeepExplainer(model, [bg, bg])
    two = ferroshap.GradientExplainer(lambda_model(), [bg, bg])
    with pytest.raises(TypeError, match="several inputs"):
        two.shap_values(bg)
    with pytest.raises(ValueError, match="ranked_outputs must be in 1..3"):
        explainer.shap_values(bg, ranked_outputs=4)
    with pytest.raises(TypeError, match="torch.nn.Module or a Keras"):
        ferroshap.DeepExplainer(object(), bg)


def test_training_mode_is_explained_in_eval_mode_and_restored():
    torch.manual_seed(14)
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.ReLU(), nn.Linear(8, 2))
    bg, X = torch.randn(10, 4), torch.randn(3, 4)
    with pytest.warns(UserWarning, match="training mode"):
        trained = ferroshap.DeepExplainer(model, bg).shap_values(X)
    assert model.training and all(m.training for m in model.modules())
    assert all(p.requires_grad for p in model.parameters())
    evaluated = ferroshap.DeepExplainer(model.eval(), bg).shap_values(X)
    np.testing.assert_array_equal(trained, evaluated)


def test_additivity_warning_names_the_largest_error():
    class Quantile(nn.Module):  # torch.amax over features: no rule, gradient fallback
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 6)

        def forward(self, x):
            return self.lin(x).amax(1, keepdim=True)

    torch.manual_seed(15)
    with pytest.warns(AdditivityWarning, match=r"largest error is .* \(row \d+, output 0"):
        with pytest.warns(DeepLiftFallbackWarning, match="amax"):
            ferroshap.DeepExplainer(Quantile().eval(), torch.randn(10, 4))(torch.randn(5, 4))


def test_import_ferroshap_imports_no_framework():
    code = "import sys, ferroshap; print('torch' in sys.modules, 'tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_inplace_activation_on_the_input_and_powers():
    class FirstInPlace(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 2)

        def forward(self, x):
            x = F.relu(x, inplace=True)  # on the explained tensor itself
            return self.lin(x.pow(2) + torch.sqrt(x + 1) + 1 / (x + 2))

    torch.manual_seed(16)
    model = FirstInPlace().eval()
    bg, X = torch.randn(10, 4), torch.randn(5, 4)
    bg_copy, X_copy = bg.clone(), X.clone()
    values = ferroshap.DeepExplainer(model, bg).shap_values(X)
    # The explainer runs the model on copies: the caller's tensors keep their negative values.
    torch.testing.assert_close(bg, bg_copy, rtol=0, atol=0)
    torch.testing.assert_close(X, X_copy, rtol=0, atol=0)
    assert _additivity(model, bg.clone(), X.clone(), values) < 1e-5


def test_input_dependent_where_is_named_and_masks_are_linear():
    class Gated(nn.Module):
        def __init__(self, causal_mask):
            super().__init__()
            self.lin, self.out = nn.Linear(4, 4), nn.Linear(4, 1)
            self.causal_mask = causal_mask

        def forward(self, x):
            h = self.lin(x)
            if self.causal_mask:  # the same mask for every row: linear
                h = h.masked_fill(torch.arange(4) > 1, 0.0)
            else:  # a leaky ReLU through where: piecewise, no rule
                h = torch.where(h > 0, h, 0.1 * h)
            return self.out(h)

    torch.manual_seed(17)
    bg, X = torch.randn(10, 4), torch.randn(4, 4)
    model = Gated(causal_mask=True).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values = ferroshap.DeepExplainer(model, bg).shap_values(X)
    assert _additivity(model, bg, X, values) < 1e-5
    with pytest.warns(DeepLiftFallbackWarning, match="where .its condition depends on the input"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AdditivityWarning)
            ferroshap.DeepExplainer(Gated(causal_mask=False).eval(), bg).shap_values(X)


@pytest.mark.parametrize("batch_first", [True, False])
def test_torch_transformer_encoder_layer_and_masked_multihead_attention(batch_first):
    torch.manual_seed(18)
    layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=batch_first)

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer, self.head = layer, nn.Linear(16, 3)
            self.attn = nn.MultiheadAttention(16, 4, batch_first=True)

        def forward(self, x):
            h = self.layer(x if batch_first else x.transpose(0, 1))
            h = h if batch_first else h.transpose(0, 1)
            # Masks: the last key padded, and a causal pattern (True: do not attend).
            padding = torch.zeros(x.shape[0], x.shape[1], dtype=torch.bool)
            padding[:, -1] = True
            causal = torch.ones(x.shape[1], x.shape[1], dtype=torch.bool).triu(1)
            h, _ = self.attn(h, h, h, key_padding_mask=padding, attn_mask=causal)
            return self.head(h.mean(1))

    model = Encoder().eval()
    bg, X = torch.randn(12, 5, 16), torch.randn(4, 5, 16)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nn.MultiheadAttention has a rule: no fallback
        values = ferroshap.DeepExplainer(model, bg).shap_values(X)
    assert _additivity(model, bg, X, values) < 1e-4


def test_explanations_feed_the_plots():
    matplotlib = pytest.importorskip("matplotlib", reason="matplotlib is in the test extra")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    torch.manual_seed(19)
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3)).eval()
    bg, X = torch.randn(20, 5), torch.randn(6, 5)
    sv = ferroshap.DeepExplainer(model, bg)(X)
    assert sv.axis_names == ("rows", "features", "outputs")
    ax = ferroshap.plots.waterfall(sv[0, :, 1], show=False)
    # The waterfall runs from the base value to f(x) for output 1 of row 0.
    with torch.no_grad():
        fx = model(X[:1])[0, 1].item()
    assert sv[0, :, 1].base_values + sv[0, :, 1].values.sum() == pytest.approx(fx, abs=1e-5)
    assert ax.figure is not None
    assert ferroshap.plots.bar(sv[:, :, 0], show=False) is not None
    plt.close("all")


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
