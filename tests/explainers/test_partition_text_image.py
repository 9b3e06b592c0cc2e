"""Partition SHAP on text and images, end to end: a TF-IDF + logistic-regression text
classifier with ``maskers.Text`` and a classifier of scikit-learn's 8x8 digits with
``maskers.Image``, against shap (same hierarchies, same masked inputs), additivity, the plots'
inputs, and bad input.

Tolerances: 1e-8 against shap (the same model outputs summed in another order, rounding
only, about 1e-16 here); additivity 1e-10 (the values telescope from the model's output on
the full coalition, which is the unmasked input).
"""

from __future__ import annotations

import importlib.util
import pickle
import re

import numpy as np
import pytest
import shap
from sklearn.datasets import load_digits
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

import ferroshap
from ferroshap._image_masker import box_blur

_POSITIVE = ["great", "wonderful", "loved", "excellent", "fun", "brilliant"]
_NEGATIVE = ["awful", "boring", "hated", "terrible", "dull", "poor"]
_FILLER = ["the", "movie", "was", "and", "plot", "actors", "but", "I", "it", "a", ",", "."]


def _reviews(n: int, seed: int) -> tuple[list[str], np.ndarray]:
    """Generated reviews: mostly filler, a quarter sentiment words of the label's kind."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    texts = []
    for label in labels:
        own, other = (_POSITIVE, _NEGATIVE) if label else (_NEGATIVE, _POSITIVE)
        words = []
        for _ in range(rng.integers(6, 16)):
            r = rng.random()
            pool = own if r < 0.25 else other if r < 0.3 else _FILLER
            words.append(str(rng.choice(pool)))
        texts.append(" ".join(words).replace(" ,", ",").replace(" .", "."))
    return texts, labels


@pytest.fixture(scope="module")
def text_model():
    texts, labels = _reviews(300, 0)
    model = make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(texts, labels)
    return model, _reviews(8, 1)[0]


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    model = LogisticRegression(max_iter=300).fit(d.data[:800], d.target[:800])
    images = d.data[800:806].reshape(-1, 8, 8, 1)
    return model, images


def _image_model(model):
    return lambda imgs: model.predict_proba(np.asarray(imgs).reshape(len(imgs), -1))


def test_text_masker_builds_shaps_tokens_hierarchy_and_masked_strings():
    ours, theirs = ferroshap.maskers.Text(), shap.maskers.Text()
    rng = np.random.default_rng(3)
    for s in [
        "I didn't like it, but the (main) actor was great. Really!",
        "It's a dog's life and we don't care",
        "two words",
    ]:
        tokens = ours.tokens(s)
        assert tokens == list(theirs.data_transform(s)[0])
        np.testing.assert_array_equal(ours.clustering(s), theirs.clustering(s))
        masks = rng.random((6, len(tokens))) < 0.5
        want = [theirs(m, s)[0][0] for m in masks]
        assert ours.mask_strings(s, masks) == want


def test_text_end_to_end_matches_shap_and_adds_up(text_model):
    model, texts = text_model
    explainer = ferroshap.Explainer(model.predict_proba, ferroshap.maskers.Text())
    assert isinstance(explainer, ferroshap.PartitionExplainer)
    texts = texts[:2]  # shap takes seconds per text (and compiles on first use)
    got = explainer(texts, silent=True)
    want = shap.Explainer(model.predict_proba, shap.maskers.Text())(texts, silent=True)
    assert got.values.dtype == object and len(got.values) == len(texts)
    for g, w, gd, wd in zip(got.values, want.values, got.data, want.data, strict=True):
        np.testing.assert_allclose(g, w, atol=1e-8)
        assert list(gd) == list(wd)
    np.testing.assert_allclose(np.stack(got.base_values), want.base_values, atol=1e-12)
    fx = model.predict_proba(texts)
    for v, base, f in zip(got.values, got.base_values, fx, strict=True):
        np.testing.assert_allclose(v.sum(axis=0) + base, f, atol=1e-10)
    html = ferroshap.plots.text(got, display=False)
    assert "fs-token" in html and texts[0].split()[0] in html
    one = pickle.loads(pickle.dumps(explainer))(texts[0], silent=True)
    np.testing.assert_allclose(one.values, got.values[0], atol=1e-12)
    assert one.values.shape == (len(one.data), 2)


def test_text_tokenizers_a_callable_or_a_pattern(text_model):
    model, texts = text_model
    masker = ferroshap.maskers.Text(lambda s: s.split(" "))
    got = ferroshap.PartitionExplainer(model.predict_proba, masker)(texts[:2], silent=True)
    for s, v, data in zip(texts[:2], got.values, got.data, strict=True):
        assert len(v) == len(s.split(" ")) and "".join(data) == s
        f = model.predict_proba([s])[0]
        base = model.predict_proba(["..."])[0]
        np.testing.assert_allclose(v.sum(axis=0) + base, f, atol=1e-10)
    assert ferroshap.maskers.Text(r"\s+").tokens("a b,c") == ["a ", "b,c"]


class _SubwordTokenizer:
    """A tokenizer with the Hugging Face calling convention (what ``maskers.Text`` accepts
    without transformers installed): words and punctuation between ``[CLS]`` and ``[SEP]``,
    character offsets, a ``[MASK]`` token."""

    mask_token, sep_token = "[MASK]", "[SEP]"
    special_tokens_map = {"cls_token": "[CLS]", "sep_token": "[SEP]", "mask_token": "[MASK]"}

    def __call__(self, s, return_offsets_mapping=False):
        spans = [m.span() for m in re.finditer(r"\w+|[^\w\s]", s)]
        out = {"input_ids": [101] + [1000 + len(s[a:b]) for a, b in spans] + [102]}
        if return_offsets_mapping:
            out["offset_mapping"] = [(0, 0), *spans, (0, 0)]
        return out


def test_text_with_a_hugging_face_style_tokenizer_matches_shap(text_model):
    model, texts = text_model
    tokenizer = _SubwordTokenizer()
    ours, theirs = ferroshap.maskers.Text(tokenizer), shap.maskers.Text(tokenizer)
    assert (ours.keep_prefix, ours.keep_suffix, ours.mask_token) == (1, 1, "[MASK]")
    assert not ours.collapse_mask_token  # the tokenizer's own mask token: one per token
    s = texts[0]
    np.testing.assert_array_equal(ours.clustering(s), theirs.clustering(s))
    masks = np.random.default_rng(5).random((5, len(ours.tokens(s)))) < 0.5
    assert ours.mask_strings(s, masks) == [theirs(m, s)[0][0] for m in masks]
    got = ferroshap.PartitionExplainer(model.predict_proba, ours)(texts[:1], silent=True)
    want = shap.PartitionExplainer(model.predict_proba, theirs)(texts[:1], silent=True)
    np.testing.assert_allclose(got.values[0], want.values[0], atol=1e-8)


def test_text_of_thousands_of_tokens(text_model):
    # Masks far wider than one 64-bit word, at a small budget: the values still add up.
    model, texts = text_model
    long = " ".join(texts * 40)
    explainer = ferroshap.PartitionExplainer(model.predict_proba, ferroshap.maskers.Text())
    got = explainer(long, max_evals=200, silent=True)
    assert got.values.shape[0] > 2000
    total = got.values.sum(axis=0) + got.base_values
    np.testing.assert_allclose(total, model.predict_proba([long])[0], atol=1e-10)


def test_text_bad_input(text_model):
    model, _ = text_model
    explainer = ferroshap.PartitionExplainer(model.predict_proba, ferroshap.maskers.Text())
    blank = ferroshap.PartitionExplainer(model.predict_proba, ferroshap.maskers.Text(str.split))
    with pytest.raises(ValueError, match="returned no tokens for text 1"):
        blank(["fine words", "   "], silent=True)
    with pytest.raises(TypeError, match="not a string"):
        explainer(["fine", 3], silent=True)
    with pytest.raises(ValueError, match="too low"):
        explainer(["fine words"], max_evals=2, silent=True)

    def wrong_shape(strings):
        return np.zeros((len(strings) + 1, 2))

    with pytest.raises(ValueError, match="expected"):
        ferroshap.PartitionExplainer(wrong_shape, ferroshap.maskers.Text())(["a b"], silent=True)
    with pytest.raises(TypeError, match="list of token strings"):
        ferroshap.maskers.Text(lambda s: 3).tokens("a b")


def test_image_hierarchy_and_values_match_shap_with_a_fill_value(digits):
    model, images = digits
    f = _image_model(model)
    ours, theirs = ferroshap.maskers.Image(0.0, (8, 8, 1)), shap.maskers.Image(0.0, (8, 8, 1))
    np.testing.assert_array_equal(ours.clustering, theirs.clustering)
    # 100: a few splits; 2732: every cluster of the 64 pixels (exact Owen values).
    for max_evals in (100, 2732):
        got = ferroshap.Explainer(f, ours)(images[:2], max_evals=max_evals, silent=True)
        want = shap.Explainer(f, theirs)(images[:2], max_evals=max_evals, silent=True)
        np.testing.assert_allclose(got.values, want.values, atol=1e-8)
        np.testing.assert_allclose(got.base_values, want.base_values, atol=1e-12)
    assert got.values.shape == (2, 8, 8, 1, 10)


def test_image_blur_end_to_end_adds_up_and_plots(digits):
    model, images = digits
    f = _image_model(model)
    explainer = ferroshap.Explainer(f, ferroshap.maskers.Image("blur(4,4)", (8, 8, 1)))
    got = explainer(images, silent=True)
    total = got.values.reshape(len(images), 64, 10).sum(axis=1) + got.base_values
    np.testing.assert_allclose(total, f(images), atol=1e-10)
    # The base value is the model on each image blurred whole.
    blurred = np.stack([box_blur(img, 4, 4) for img in images])
    np.testing.assert_allclose(got.base_values, f(blurred), atol=1e-12)
    # Flattened images give the same values, flattened.
    flat = explainer(images.reshape(len(images), 64), silent=True)
    np.testing.assert_allclose(flat.values, got.values.reshape(len(images), 64, 10), atol=1e-12)
    fig = ferroshap.plots.image(got[:2], show=False)
    assert fig is not None


def test_box_blur_is_the_window_mean_with_reflected_borders():
    rng = np.random.default_rng(4)
    image = rng.random((7, 9, 2))
    kx, ky = 4, 3
    # Reflect without repeating the edge (OpenCV's default border); anchor at k // 2.
    padded = np.pad(
        image, ((ky // 2, ky - 1 - ky // 2), (kx // 2, kx - 1 - kx // 2), (0, 0)), "reflect"
    )
    want = np.zeros_like(image)
    for r in range(7):
        for c in range(9):
            want[r, c] = padded[r : r + ky, c : c + kx].mean(axis=(0, 1))
    np.testing.assert_allclose(box_blur(image, kx, ky), want, atol=1e-12)


def test_image_bad_input(digits):
    model, images = digits
    explainer = ferroshap.PartitionExplainer(
        _image_model(model), ferroshap.maskers.Image("blur(2,2)", (8, 8, 1))
    )
    with pytest.raises(ValueError, match="masker is for images of shape"):
        explainer(np.zeros((2, 7, 7, 1)), silent=True)
    with pytest.raises(ValueError, match="mask_value must be"):
        ferroshap.maskers.Image("smudge", (8, 8, 1))
    with pytest.raises(TypeError, match="shape is needed"):
        ferroshap.maskers.Image("blur(2,2)")


@pytest.mark.skipif(
    importlib.util.find_spec("cv2") is not None, reason="OpenCV is installed: no error to test"
)
def test_inpainting_without_opencv_names_it():
    with pytest.raises(ImportError, match="opencv"):
        ferroshap.maskers.Image("inpaint_telea", (8, 8, 1))


def _hugging_face_tokenizer(texts):
    """A real ``transformers`` fast tokenizer, built offline: a word-level vocabulary of
    ``texts`` with ``[CLS] ... [SEP]`` around every text."""
    import tokenizers
    import transformers

    words = sorted({w for s in texts for w in re.findall(r"\w+|[^\w\s]+", s)})
    specials = ["[UNK]", "[PAD]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = {w: i for i, w in enumerate(specials + words)}
    core = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    core.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    core.post_processor = tokenizers.processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=core,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )


def test_a_hugging_face_tokenizer_as_the_masker_matches_shap(text_model):
    model, texts = text_model
    tokenizer = _hugging_face_tokenizer(_reviews(300, 0)[0] + texts)
    explainer = ferroshap.Explainer(model.predict_proba, tokenizer)  # shap's masker= shorthand
    assert isinstance(explainer, ferroshap.PartitionExplainer)
    assert isinstance(explainer.masker, ferroshap.maskers.Text)
    got = explainer(texts[:1], silent=True)
    want = shap.Explainer(model.predict_proba, tokenizer)(texts[:1], silent=True)
    np.testing.assert_allclose(got.values[0], want.values[0], atol=1e-8)
    assert list(got.data[0]) == list(want.data[0])
    f = model.predict_proba(texts[:1])[0]
    np.testing.assert_allclose(got.values[0].sum(axis=0) + got.base_values[0], f, atol=1e-10)
    direct = ferroshap.PartitionExplainer(model.predict_proba, tokenizer)(texts[:1], silent=True)
    np.testing.assert_array_equal(direct.values[0], got.values[0])
