"""Masker save/load round trips, and explainers saved with shap's model_saver / masker_saver
arguments (ferroshap's own file format: round trips within ferroshap)."""

import io
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import GradientBoostingRegressor

import ferroshap
from ferroshap import maskers


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = X[:, 0] * X[:, 1] + X[:, 2] - X[:, 3] ** 2
    return GradientBoostingRegressor(n_estimators=20, random_state=0).fit(X, y), X


def _round_trip(masker, cls=maskers.Masker):
    buffer = io.BytesIO()
    masker.save(buffer)
    buffer.seek(0)
    return cls.load(buffer)


def _length_and_label(texts, labels):
    pairs = zip(texts, labels, strict=True)
    return np.array([len(t) + 10 * (label == "long") for t, label in pairs], float)


@pytest.mark.parametrize(
    "build, row",
    [
        (lambda X: maskers.Independent(X), lambda X: X[0]),
        (lambda X: maskers.Partition(pd.DataFrame(X, columns=list("abcd"))), lambda X: X[0]),
        (lambda X: maskers.Text(), lambda X: "a fine film"),
        (lambda X: maskers.FixedComposite(maskers.Text(mask_token="[M]")), lambda X: "a fine film"),
        (lambda X: maskers.OutputComposite(maskers.Text(), lambda s: len(s)), lambda X: "a film"),
    ],
    ids=["independent", "partition-frame", "text", "fixed-composite", "output-composite"],
)
def test_masker_round_trip_masks_the_same(fitted, build, row):
    _, X = fitted
    masker = build(X[:30])
    loaded = _round_trip(masker, type(masker))
    assert type(loaded) is type(masker)
    x = row(X)
    shape = masker.shape(x) if callable(masker.shape) else masker.shape
    mask = np.arange(shape[1]) % 2 == 0
    for a, b in zip(masker(mask, x), loaded(mask, x), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    if isinstance(masker, maskers.Partition):
        np.testing.assert_array_equal(masker.clustering, loaded.clustering)


def test_composite_round_trip_keeps_its_maskers():
    masker = maskers.Composite(maskers.Text(), maskers.Fixed())
    loaded = _round_trip(masker)
    assert [type(m) for m in loaded.maskers] == [maskers.Text, maskers.Fixed]
    mask = np.array([True, False, True])
    assert loaded(mask, "a fine film", "x") == masker(mask, "a fine film", "x")


def test_masker_load_refuses_other_files():
    buffer = io.BytesIO()
    maskers.Independent(np.zeros((2, 2))).save(buffer)
    buffer.seek(0)
    with pytest.raises(ValueError, match="holds a Independent masker, not a Fixed"):
        maskers.Fixed.load(buffer)
    with pytest.raises(ValueError, match="not a file written by a ferroshap masker"):
        maskers.Masker.load(io.BytesIO(pickle.dumps({"a": 1})))


def _save_load(explainer, save=None, load=None):
    buffer = io.BytesIO()
    explainer.save(buffer, **(save or {}))
    buffer.seek(0)
    return type(explainer).load(buffer, **(load or {}))


@pytest.mark.parametrize(
    "save, load",
    [
        ({"model_saver": False}, "model"),
        ({"model_saver": pickle.dump}, {"model_loader": pickle.load}),
        ({"masker_saver": None}, "masker"),
        ({"masker_saver": pickle.dump}, {"masker_loader": pickle.load}),
        ({"model_saver": False, "masker_saver": False}, "both"),
    ],
    ids=["no-model", "custom-model", "no-masker", "custom-masker", "neither"],
)
def test_explainer_savers_and_loaders(fitted, save, load):
    model, X = fitted
    explainer = ferroshap.ExactExplainer(model.predict, X[:20])
    if isinstance(load, str):  # shap's tests: loaders that give back the objects kept aside
        load = {
            "model": {"model_loader": lambda _: model.predict},
            "masker": {"masker_loader": lambda _: X[:20]},
            "both": {"model_loader": lambda _: model.predict, "masker_loader": lambda _: X[:20]},
        }[load]
    loaded = _save_load(explainer, save, load)
    assert isinstance(loaded.masker, maskers.Independent)
    a, b = explainer(X[30:33], silent=True), loaded(X[30:33], silent=True)
    np.testing.assert_array_equal(a.values, b.values)  # same model, same background: identical
    np.testing.assert_array_equal(a.base_values, b.base_values)


def test_file_without_its_model_needs_a_loader(fitted):
    model, X = fitted
    buffer = io.BytesIO()
    ferroshap.PermutationExplainer(model.predict, X[:10], seed=0).save(buffer, model_saver=False)
    buffer.seek(0)
    with pytest.raises(ValueError, match="saved without its model .* pass model_loader"):
        ferroshap.PermutationExplainer.load(buffer)
    buffer.seek(0)
    explainer = ferroshap.PermutationExplainer(model.predict, X[:10], seed=0)
    inline = io.BytesIO()
    explainer.save(inline)
    inline.seek(0)
    with pytest.raises(ValueError, match="holds its model"):
        ferroshap.PermutationExplainer.load(inline, model_loader=pickle.load)


def test_loaded_masker_with_other_data_is_refused(fitted):
    model, X = fitted
    buffer = io.BytesIO()
    ferroshap.ExactExplainer(model.predict, X[:20]).save(buffer, masker_saver=False)
    buffer.seek(0)
    with pytest.raises(ValueError, match="other background data"):
        ferroshap.ExactExplainer.load(buffer, masker_loader=lambda _: X[20:40])


def test_partition_explainer_with_partition_masker_from_loader(fitted):
    model, X = fitted
    explainer = ferroshap.PartitionExplainer(model.predict, maskers.Partition(X[:20]))
    loaded = _save_load(explainer, {"masker_saver": False}, {"masker_loader": lambda _: X[:20]})
    assert isinstance(loaded.masker, maskers.Partition)
    np.testing.assert_array_equal(loaded.masker.clustering, explainer.masker.clustering)
    a, b = explainer(X[30:32], silent=True), loaded(X[30:32], silent=True)
    np.testing.assert_array_equal(a.values, b.values)


def test_tree_explainer_custom_model_saver_keeps_the_model(fitted):
    model, X = fitted
    explainer = ferroshap.TreeExplainer(model)
    loaded = _save_load(explainer, {"model_saver": pickle.dump}, {"model_loader": pickle.load})
    np.testing.assert_allclose(loaded.model.original_model.predict(X[:5]), model.predict(X[:5]))
    np.testing.assert_array_equal(loaded.shap_values(X[:5]), explainer.shap_values(X[:5]))


def test_explainer_with_a_composite_masker_saves_it():
    masker = maskers.Composite(maskers.Text(), maskers.Fixed())
    explainer = ferroshap.PartitionExplainer(_length_and_label, masker)
    loaded = _save_load(explainer)
    args = (["a fine film indeed", "dull"], ["long", "short"])
    a, b = explainer(*args, silent=True), loaded(*args, silent=True)
    for x, y in zip(a[0].values, b[0].values, strict=True):
        np.testing.assert_array_equal(x, y)


def test_explainer_load_reads_any_explainer(fitted):
    """shap's ``shap.Explainer.load(f)``: the file's own class comes back."""
    model, X = fitted
    for explainer in (
        ferroshap.Explainer(model.predict, X[:20]),  # an ExactExplainer (4 features)
        ferroshap.PermutationExplainer(model.predict, X[:20], seed=0),
        ferroshap.TreeExplainer(model),
    ):
        buffer = io.BytesIO()
        explainer.save(buffer)
        buffer.seek(0)
        loaded = ferroshap.Explainer.load(buffer)
        assert type(loaded) is type(explainer)
        np.testing.assert_array_equal(
            loaded(X[30:32]).values, explainer(X[30:32]).values
        )  # the same model and settings: identical values
