"""Maskers of several model inputs (Composite, Fixed, FixedComposite, OutputComposite) and
custom maskers, explained through ferroshap's explainers and compared with shap 0.51 where
shap computes them (FixedComposite / OutputComposite on text), or with an explainer of the
same game built another way where shap fails (shap 0.51 raises on Composite maskers of
tabular inputs and on Composite(Text, Fixed) when it builds the explanation)."""

import numpy as np
import pytest
import shap
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline

import ferroshap

# Partition/Exact values of the same game: the same sums of the same model outputs in another
# order, so they agree to rounding (outputs are O(1), sums of a few hundred terms).
TOL = 1e-10

_WORDS = ["good", "great", "fine", "bad", "awful", "dull", "plot", "film", "acting", "really"]
TEXTS = ["a really good film", "awful plot and dull acting", "great acting, bad plot"]


@pytest.fixture(scope="module")
def sentiment():
    """A real text classifier (tf-idf + logistic regression) on generated reviews."""
    rng = np.random.default_rng(0)
    docs, labels = [], []
    for _ in range(200):
        words = rng.choice(_WORDS, size=6)
        score = sum(w in ("good", "great", "fine") for w in words) - sum(
            w in ("bad", "awful", "dull") for w in words
        )
        docs.append(" ".join(words))
        labels.append(int(score > 0))
    return make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(docs, labels)


def _shap_values(explanation):
    return [np.asarray(v, dtype=float) for v in explanation.values]


def test_fixed_composite_text_equals_shap(sentiment):
    def shift(masked, original):
        # How far masking moves the positive probability from the original text's.
        p = sentiment.predict_proba
        return p(list(masked))[:, 1] - p(list(original))[:, 1]

    ours = ferroshap.Explainer(shift, ferroshap.maskers.FixedComposite(ferroshap.maskers.Text()))
    theirs = shap.Explainer(shift, shap.maskers.FixedComposite(shap.maskers.Text()))
    assert type(ours).__name__ == "PartitionExplainer" == type(theirs).__name__
    a, b = ours(TEXTS, silent=True), theirs(TEXTS, silent=True)
    for x, y in zip(_shap_values(a), _shap_values(b), strict=True):
        np.testing.assert_allclose(x, y, atol=TOL)
    np.testing.assert_allclose(a.base_values, b.base_values, atol=TOL)
    assert [list(d) for d in a.data] == [list(d) for d in b.data]  # the token segments


def test_output_composite_text_equals_shap(sentiment):
    def predicted(s):
        return np.array([sentiment.predict([s])[0]])

    def prob_of_original_label(masked, label):
        # The probability of the label predicted on the whole text (label: one per row).
        return sentiment.predict_proba(list(masked))[np.arange(len(masked)), label.astype(int)]

    masker = ferroshap.maskers.OutputComposite(ferroshap.maskers.Text(), predicted)
    ours = ferroshap.PartitionExplainer(prob_of_original_label, masker)
    theirs = shap.PartitionExplainer(
        prob_of_original_label, shap.maskers.OutputComposite(shap.maskers.Text(), predicted)
    )
    a, b = ours(TEXTS, silent=True), theirs(TEXTS, silent=True)
    for x, y in zip(_shap_values(a), _shap_values(b), strict=True):
        np.testing.assert_allclose(x, y, atol=TOL)
    np.testing.assert_allclose(a.base_values, b.base_values, atol=TOL)


def test_composite_text_and_fixed_label(sentiment):
    def label_probability(texts, labels):
        return sentiment.predict_proba(list(texts))[np.arange(len(texts)), labels.astype(int)]

    labels = np.array([1, 0, 1])
    masker = ferroshap.maskers.Composite(ferroshap.maskers.Text(), ferroshap.maskers.Fixed())
    explainer = ferroshap.Explainer(label_probability, masker)
    assert type(explainer).__name__ == "PartitionExplainer"  # shap's rule: text with a tree
    text_part, label_part = explainer(TEXTS, labels, silent=True)
    assert label_part.values.shape == (3, 0)  # the label is passed through, not explained
    for i, s in enumerate(TEXTS):
        # The same game in shap: the text alone, the label bound into the model.
        bound = shap.PartitionExplainer(
            lambda t, i=i: label_probability(t, np.full(len(t), labels[i])), shap.maskers.Text()
        )([s], silent=True)
        np.testing.assert_allclose(text_part.values[i], bound.values[0], atol=TOL)
        np.testing.assert_allclose(text_part.base_values[i], bound.base_values[0], atol=TOL)


@pytest.fixture(scope="module")
def two_tables():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 5))
    y = X[:, 0] * X[:, 3] + np.sin(X[:, 1]) + X[:, 4] ** 2
    model = GradientBoostingRegressor(n_estimators=30, max_depth=3, random_state=0).fit(X, y)
    return model, X


@pytest.mark.parametrize("cls", ["ExactExplainer", "PermutationExplainer"])
def test_composite_of_tables_is_the_joined_game(two_tables, cls):
    model, X = two_tables

    def f(a, b):
        return model.predict(np.hstack([a, b]))

    masker = ferroshap.maskers.Composite(
        ferroshap.maskers.Independent(X[:8, :2]), ferroshap.maskers.Independent(X[:8, 2:])
    )
    a, b = getattr(ferroshap, cls)(f, masker, seed=0)(X[10:14, :2], X[10:14, 2:], silent=True)
    assert a.values.shape == (4, 2) and b.values.shape == (4, 3)
    joined = np.hstack([a.values, b.values])
    fx = model.predict(X[10:14])
    # Both estimators are efficient: the values add up to f(x) minus the base value exactly.
    np.testing.assert_allclose(joined.sum(1) + a.base_values, fx, atol=TOL)
    if cls == "ExactExplainer":
        reference = shap.ExactExplainer(model.predict, X[:8])(X[10:14])
        np.testing.assert_allclose(joined, reference.values, atol=TOL)
        np.testing.assert_allclose(a.base_values, reference.base_values, atol=TOL)


def test_explainer_picks_permutation_for_a_composite_of_tables(two_tables):
    model, X = two_tables
    masker = ferroshap.maskers.Composite(
        ferroshap.maskers.Independent(X[:8, :2]), ferroshap.maskers.Independent(X[:8, 2:])
    )
    explainer = ferroshap.Explainer(lambda a, b: model.predict(np.hstack([a, b])), masker)
    assert type(explainer).__name__ == "PermutationExplainer"  # shap's rule


def test_masking_function_as_masker():
    """shap's custom-masker test: features outside the coalition set to 0, a linear model:
    each value is coef * x exactly."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(50, 4))
    model = LinearRegression().fit(X, X @ np.array([1.0, -2.0, 0.5, 3.0]))

    def zero_masker(mask, x):
        return (x * mask).reshape(1, len(x))

    explanation = ferroshap.Explainer(model.predict, zero_masker)(X[:5], silent=True)
    np.testing.assert_allclose(explanation.values, model.coef_ * X[:5], atol=TOL)
    np.testing.assert_allclose(explanation.base_values, model.intercept_, atol=TOL)


def test_custom_masker_subclass():
    class MeanMasker(ferroshap.maskers.Masker):
        """Masked features take the column means."""

        def __init__(self, data):
            self.mean = data.mean(0)
            self.shape = (1, data.shape[1])
            self.clustering = None

        def __call__(self, mask, x):
            return (np.where(mask, x, self.mean)[None, :],)

    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 3))
    f = lambda X: X[:, 0] * X[:, 1] + X[:, 2]  # noqa: E731
    explanation = ferroshap.ExactExplainer(f, MeanMasker(X))(X[:3], silent=True)
    # The same game with the one mean row as background data.
    reference = ferroshap.ExactExplainer(f, X.mean(0)[None, :])(X[:3], silent=True)
    np.testing.assert_allclose(explanation.values, reference.values, atol=TOL)


def test_composite_checks_its_inputs():
    masker = ferroshap.maskers.Composite(ferroshap.maskers.Fixed(), ferroshap.maskers.Fixed())
    with pytest.raises(ValueError, match="number of passed args is incorrect"):
        masker.shape("only one")
    with pytest.raises(AssertionError):  # shap raises AssertionError: caught either way
        masker(np.zeros(0, dtype=bool), "a", "b", "c")
    with pytest.raises(TypeError, match="Composite takes maskers"):
        ferroshap.maskers.Composite(np.zeros((3, 2)))
    unequal = ferroshap.maskers.Composite(
        ferroshap.maskers.Independent(np.zeros((3, 1))),
        ferroshap.maskers.Independent(np.zeros((4, 1))),
    )
    with pytest.raises(ValueError, match="same number of background rows"):
        unequal.shape(np.zeros(1), np.zeros(1))


def test_partition_needs_a_hierarchy_of_every_input():
    tables = ferroshap.maskers.Composite(
        ferroshap.maskers.Independent(np.zeros((2, 2))), ferroshap.maskers.Fixed()
    )
    explainer = ferroshap.PartitionExplainer(lambda a, b: a.sum(1), tables)
    with pytest.raises(ValueError, match="no clustering"):
        explainer(np.ones((1, 2)), ["label"], silent=True)
    with pytest.raises(TypeError, match="masks 2 model inputs"):
        explainer(np.ones((1, 2)), silent=True)


def test_joint_clustering_renumbers_each_part():
    rng = np.random.default_rng(4)
    first = ferroshap.maskers.Partition(rng.normal(size=(20, 3)))
    second = ferroshap.maskers.Partition(rng.normal(size=(20, 2)))
    joint = ferroshap.maskers.Composite(first, second).clustering(np.zeros(3), np.zeros(2))
    assert joint.shape == (4, 4)
    expected = first.clustering.copy()
    # The first part's leaves keep their numbers; its cluster 3 becomes 5 (after 5 leaves).
    expected[:, :2] = np.where(expected[:, :2] >= 3, expected[:, :2] + 2, expected[:, :2])
    np.testing.assert_array_equal(joint[:2], expected)
    np.testing.assert_array_equal(joint[2, :2], [3, 4])  # the second's leaves shifted by 3
    np.testing.assert_array_equal(joint[3, [0, 1, 3]], [6, 7, 5])  # the two roots joined


def test_composite_image_and_fixed_label_is_the_image_game():
    """An image classifier explained for a given label per image: each image's values are
    those of the image explained alone with the label bound into the model (ferroshap's
    image Partition values equal shap's, see tests/explainers/test_partition_text_image.py)."""
    rng = np.random.default_rng(5)
    images = rng.uniform(0, 255, size=(60, 6, 6, 1))
    classes = (images[:, :3].mean(axis=(1, 2, 3)) > images[:, 3:].mean(axis=(1, 2, 3))).astype(int)
    classifier = LogisticRegression(max_iter=2000).fit(images.reshape(60, -1) / 255, classes)

    def label_probability(batch, labels):
        p = classifier.predict_proba(np.asarray(batch).reshape(len(batch), -1) / 255)
        return p[np.arange(len(p)), np.asarray(labels).astype(int)]

    image_masker = ferroshap.maskers.Image("blur(3,3)", (6, 6, 1))
    masker = ferroshap.maskers.Composite(image_masker, ferroshap.maskers.Fixed())
    labels = np.array([0, 1])
    pixels, passed = ferroshap.Explainer(label_probability, masker)(
        images[:2], labels, max_evals=120, silent=True
    )
    assert pixels.values.shape == (2, 6, 6, 1) and passed.values.shape == (2, 0)
    for i in range(2):
        alone = ferroshap.PartitionExplainer(
            lambda x, i=i: label_probability(x, np.full(len(x), labels[i])), image_masker
        )(images[i : i + 1], max_evals=120, silent=True)
        np.testing.assert_allclose(pixels.values[i], alone.values[0], atol=TOL)
        np.testing.assert_allclose(pixels.base_values[i], alone.base_values[0], atol=TOL)
