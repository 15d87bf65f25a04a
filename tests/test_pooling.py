"""MeanPooler and GaussianPooler against slow, obvious per-text implementations.

The references below loop over texts with ``np.mean``, ``np.cov(bias=True)``
and an explicit PCA through ``np.linalg.eigh``; the poolers compute the same
features vectorized over the ragged corpus.
"""

from __future__ import annotations

import pickle
import warnings
import re
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import config_context
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.validation import check_is_fitted

from skpool import GaussianPooler, MeanPooler, TokenSets

KINDS = ["diag", "full", "projected"]


# -- slow references ---------------------------------------------------------------------

def slow_pca(clouds, normalize, k):
    """Components (k, d) of all tokens pooled, by decreasing variance (any sign)."""
    scaled = [c / np.linalg.norm(c.mean(axis=0)) if normalize else c for c in clouds]
    pooled = np.concatenate(scaled).astype(np.float64)
    cov = np.atleast_2d(np.cov(pooled, rowvar=False, bias=True))
    values, vectors = np.linalg.eigh(cov)
    return vectors[:, np.argsort(values)[::-1][:k]].T


def slow_features(clouds, covariance="diag", normalize=False, basis=None):
    rows = []
    for cloud in clouds:
        X = np.asarray(cloud, dtype=np.float64)
        if normalize:
            X = X / np.linalg.norm(X.mean(axis=0))
        mean = X.mean(axis=0)
        cov = np.atleast_2d(np.cov(X, rowvar=False, bias=True))
        if covariance == "diag":
            second = np.diag(cov)
        elif covariance == "full":
            second = cov[np.triu_indices(X.shape[1])]
        else:
            pcov = basis @ cov @ basis.T
            second = pcov[np.triu_indices(basis.shape[0])]
        rows.append(np.concatenate([mean, second]))
    return np.array(rows)


def random_clouds(seed, n_texts=7, d=5, dtype=np.float64, lengths=None, shift=1.0):
    rng = np.random.default_rng(seed)
    if lengths is None:
        lengths = rng.integers(1, 12, size=n_texts)
    # An offset keeps every mean away from zero (normalize=True divides by it).
    return [(rng.normal(size=(n, d)) + shift).astype(dtype) for n in lengths]


# -- a fake encoder: texts -> one deterministic vector per word ----------------------------

def word_vector(word, dim):
    rng = np.random.default_rng(zlib.crc32(word.encode()))
    return rng.normal(size=dim)


class WordEncoder(TransformerMixin, BaseEstimator):
    """Any estimator whose transform returns TokenSets can be a pooler's encoder."""

    def __init__(self, dim=6):
        self.dim = dim

    def fit(self, X, y=None):
        self.n_fit_texts_ = len(X)
        return self

    def transform(self, X):
        check_is_fitted(self)
        return TokenSets.from_arrays(
            [np.stack([word_vector(w, self.dim) for w in text.split() or ["<empty>"]])
             .astype(np.float32) for text in X])


class BadEncoder(WordEncoder):
    def transform(self, X):
        return super().transform(X)[: max(1, len(X) - 1)]


SPORT = "goal match team score league coach player win cup final".split()
MONEY = "bank market share price profit stock trade rate fund loss".split()


def topic_texts(n_per_topic=20, seed=0):
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for label, words in enumerate([SPORT, MONEY]):
        for _ in range(n_per_topic):
            texts.append(" ".join(rng.choice(words, size=rng.integers(3, 9))))
            labels.append(label)
    return texts, np.array(labels)


# -- features against the slow references -----------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mean_pooler_matches_np_mean(dtype):
    clouds = random_clouds(0, dtype=dtype)
    out = MeanPooler().fit_transform(clouds)
    assert out.dtype == dtype and out.shape == (7, 5)
    expected = np.array([c.astype(np.float64).mean(axis=0) for c in clouds])
    np.testing.assert_allclose(out, expected, rtol=1e-6 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("covariance", KINDS)
@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gaussian_pooler_matches_slow(covariance, normalize, dtype):
    clouds = random_clouds(1, dtype=dtype)
    pooler = GaussianPooler(covariance=covariance, normalize=normalize, n_components=3)
    out = pooler.fit_transform(clouds)
    assert out.dtype == dtype
    basis = None
    if covariance == "projected":
        basis = slow_pca(clouds, normalize, 3)
        # Same directions up to sign; then the signs we chose make off-diagonal
        # entries comparable.
        dots = np.sum(basis * pooler.components_, axis=1)
        np.testing.assert_allclose(np.abs(dots), 1.0, atol=1e-8)
        basis = basis * np.sign(dots)[:, None]
        np.testing.assert_allclose(pooler.components_ @ pooler.components_.T, np.eye(3),
                                   atol=1e-12)
    expected = slow_features(clouds, covariance, normalize, basis)
    tol = dict(rtol=2e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out, expected, **tol)
    np.testing.assert_allclose(pooler.transform(clouds), out)


def test_projected_basis_is_the_pca_of_pooled_normalized_tokens():
    clouds = random_clouds(2, n_texts=9, d=6)
    pooler = GaussianPooler(covariance="projected", n_components=4, normalize=True).fit(clouds)
    scaled = np.concatenate([c / np.linalg.norm(c.mean(axis=0)) for c in clouds])
    np.testing.assert_allclose(pooler.tokens_mean_, scaled.mean(axis=0), rtol=1e-12)
    cov = np.cov(scaled, rowvar=False, bias=True)
    values = np.sort(np.linalg.eigvalsh(cov))[::-1][:4]
    np.testing.assert_allclose(pooler.explained_variance_, values, rtol=1e-10)
    # Deterministic signs: each component's largest entry is positive.
    comps = pooler.components_
    assert (comps[np.arange(4), np.abs(comps).argmax(axis=1)] > 0).all()
    # n_components=None keeps all d directions: the covariance rotated, trace kept.
    full = GaussianPooler(covariance="projected", n_components=None).fit(clouds)
    out = full.transform(clouds)
    d = 6
    diag = np.triu_indices(d)[0] == np.triu_indices(d)[1]
    traces = out[:, d:][:, diag].sum(axis=1)
    np.testing.assert_allclose(traces, [np.trace(np.cov(c, rowvar=False, bias=True))
                                        for c in clouds], rtol=1e-10)


def test_one_token_texts_have_zero_covariance():
    clouds = random_clouds(3, lengths=[1, 1, 1], d=4)
    for kind in KINDS:
        out = GaussianPooler(covariance=kind, n_components=2).fit_transform(clouds)
        np.testing.assert_allclose(out[:, :4], np.concatenate(clouds))
        np.testing.assert_array_equal(out[:, 4:], 0.0)


def test_normalized_mean_has_unit_norm():
    clouds = random_clouds(4, d=8)
    out = GaussianPooler(normalize=True).fit_transform(clouds)
    np.testing.assert_allclose(np.linalg.norm(out[:, :8], axis=1), 1.0, rtol=1e-12)


@settings(max_examples=25, deadline=None)
@given(lengths=st.lists(st.integers(1, 9), min_size=1, max_size=6),
       d=st.integers(1, 5), seed=st.integers(0, 2**16),
       covariance=st.sampled_from(KINDS), normalize=st.booleans())
def test_property_vectorized_equals_per_text(lengths, d, seed, covariance, normalize):
    clouds = random_clouds(seed, d=d, lengths=lengths, shift=3.0)
    k = min(2, d)
    pooler = GaussianPooler(covariance=covariance, n_components=k, normalize=normalize)
    out = pooler.fit_transform(clouds)
    basis = pooler.components_ if covariance == "projected" else None
    np.testing.assert_allclose(out, slow_features(clouds, covariance, normalize, basis),
                               rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("covariance", KINDS)
def test_chunking_under_tiny_working_memory_changes_nothing(covariance):
    clouds = random_clouds(5, n_texts=30, d=7)
    pooler = GaussianPooler(covariance=covariance, n_components=3)
    expected = pooler.fit_transform(clouds)
    with config_context(working_memory=0.0005):  # ~500 bytes: one text per chunk
        small = clone(pooler).fit_transform(clouds)
    np.testing.assert_allclose(small, expected, rtol=1e-12, atol=1e-14)


def test_tokensets_and_list_give_the_same_features():
    clouds = random_clouds(6)
    tokens = TokenSets.from_arrays(clouds)
    for pooler in [MeanPooler(), GaussianPooler(covariance="full")]:
        np.testing.assert_array_equal(clone(pooler).fit_transform(tokens),
                                      clone(pooler).fit_transform(clouds))


def test_integer_tokens_give_float64():
    out = MeanPooler().fit_transform([np.array([[1, 2], [3, 4]])])
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [[2.0, 3.0]])


# -- names, output containers, clone, pickle --------------------------------------------

@pytest.mark.parametrize("pooler, n_features", [
    (MeanPooler(), 5),
    (GaussianPooler(covariance="diag"), 10),
    (GaussianPooler(covariance="full"), 5 + 15),
    (GaussianPooler(covariance="projected", n_components=3), 5 + 6),
])
def test_feature_names_match_the_features(pooler, n_features):
    clouds = random_clouds(7)
    out = pooler.fit_transform(clouds)
    names = pooler.get_feature_names_out()
    assert out.shape[1] == len(names) == n_features
    assert len(set(names)) == n_features
    assert names[0] == "mean_0" and names[4] == "mean_4"


def test_feature_name_formats():
    clouds = random_clouds(7, d=3)
    assert GaussianPooler().fit(clouds).get_feature_names_out()[3:].tolist() == [
        "var_0", "var_1", "var_2"]
    assert GaussianPooler(covariance="full").fit(clouds).get_feature_names_out()[3:].tolist() == [
        "cov_0_0", "cov_0_1", "cov_0_2", "cov_1_1", "cov_1_2", "cov_2_2"]
    proj = GaussianPooler(covariance="projected", n_components=2).fit(clouds)
    assert proj.get_feature_names_out()[3:].tolist() == ["pcov_0_0", "pcov_0_1", "pcov_1_1"]


def test_set_output_pandas_with_tokens():
    pd = pytest.importorskip("pandas")
    clouds = random_clouds(8)
    pooler = GaussianPooler(covariance="diag").set_output(transform="pandas")
    frame = pooler.fit_transform(clouds)
    assert isinstance(frame, pd.DataFrame)
    assert frame.columns.tolist() == pooler.get_feature_names_out().tolist()
    np.testing.assert_allclose(frame.to_numpy(), slow_features(clouds))
    assert isinstance(pooler.transform(clouds), pd.DataFrame)


def test_set_output_pandas_keeps_the_index_of_a_series_of_texts():
    pd = pytest.importorskip("pandas")
    texts, _ = topic_texts(3)
    series = pd.Series(texts, index=[f"doc{i}" for i in range(len(texts))])
    pooler = MeanPooler(encoder=WordEncoder()).set_output(transform="pandas")
    frame = pooler.fit_transform(series)
    assert frame.index.tolist() == series.index.tolist()
    assert frame.columns.tolist() == [f"mean_{j}" for j in range(6)]


@pytest.mark.parametrize("pooler", [
    MeanPooler(), MeanPooler(encoder=WordEncoder(dim=4)),
    GaussianPooler(covariance="projected", n_components=2, normalize=True),
    GaussianPooler(encoder=WordEncoder(), covariance="full"),
])
def test_clone_and_pickle(pooler):
    texts, _ = topic_texts(4)
    X = texts if pooler.encoder is not None else random_clouds(9)
    cloned = clone(pooler)
    assert cloned.get_params(deep=False).keys() == pooler.get_params(deep=False).keys()
    assert not hasattr(cloned, "embedding_dim_")
    fitted = cloned.fit(X)
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.transform(X), fitted.transform(X))
    if pooler.encoder is not None:
        assert fitted.encoder_ is not pooler.encoder
        assert fitted.encoder_.n_fit_texts_ == len(texts)
        assert not hasattr(pooler.encoder, "n_fit_texts_")  # the parameter stays unfitted


# -- with an encoder ----------------------------------------------------------------------

def test_encoder_output_is_pooled():
    texts = ["goal match", "bank", "goal goal bank"]
    out = MeanPooler(encoder=WordEncoder(dim=3)).fit_transform(texts)
    vec = {w: word_vector(w, 3).astype(np.float32) for w in ["goal", "match", "bank"]}
    expected = [(vec["goal"] + vec["match"]) / 2, vec["bank"],
                (2 * vec["goal"].astype(np.float64) + vec["bank"]) / 3]
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_encoder_also_takes_pre_encoded_tokensets():
    texts, _ = topic_texts(3)
    encoder = WordEncoder().fit(texts)
    tokens = encoder.transform(texts)
    pooler = GaussianPooler(encoder=WordEncoder()).fit(texts)
    np.testing.assert_array_equal(pooler.transform(tokens), pooler.transform(texts))
    # Fitted on TokenSets: encoder_ never saw texts, so texts are refused clearly.
    on_tokens = GaussianPooler(encoder=WordEncoder()).fit(tokens)
    np.testing.assert_array_equal(on_tokens.transform(tokens), pooler.transform(tokens))
    with pytest.raises(NotFittedError, match="fitted on a TokenSets.*never fitted on texts"):
        on_tokens.transform(texts)


def test_fit_transform_encodes_once():
    calls = []

    class CountingEncoder(WordEncoder):
        def transform(self, X):
            calls.append(len(X))
            return super().transform(X)

    texts, _ = topic_texts(5)
    MeanPooler(encoder=CountingEncoder()).fit_transform(texts)
    assert calls == [len(texts)]


def test_pipeline_and_cross_validation_with_an_encoder():
    texts, y = topic_texts(20)
    pipe = Pipeline([("pool", MeanPooler(encoder=WordEncoder(dim=16))),
                     ("clf", LogisticRegression(max_iter=1000))])
    scores = cross_val_score(pipe, texts, y, cv=4)
    assert scores.mean() >= 0.95  # separable topics; chance is 0.5
    new = [" ".join(SPORT[:6]), " ".join(MONEY[:6])]
    assert pipe.fit(texts, y).predict(new).tolist() == [0, 1]


def test_grid_search_over_a_pooler_parameter():
    rng = np.random.default_rng(10)
    # Two classes with the same mean and different spreads: only the
    # covariance separates them, so the grid must prefer "diag" to "mean only".
    clouds = [rng.normal(size=(20, 3)) * (0.2 if i % 2 else 2.0) + 1.0 for i in range(40)]
    y = np.arange(40) % 2
    pipe = Pipeline([("pool", GaussianPooler(n_components=2)),
                     ("clf", LogisticRegression(max_iter=1000))])
    search = GridSearchCV(pipe, {"pool__covariance": KINDS}, cv=3)
    search.fit(TokenSets.from_arrays(clouds), y)
    assert search.best_score_ >= 0.95
    mean_only = cross_val_score(Pipeline([("pool", MeanPooler()),
                                          ("clf", LogisticRegression())]), clouds, y, cv=3)
    assert mean_only.mean() < search.best_score_


# -- bad input ------------------------------------------------------------------------------

def test_empty_corpus():
    with pytest.raises(ValueError, match="at least one token cloud. Received none"):
        MeanPooler().fit([])
    with pytest.raises(ValueError, match="at least one text. Received an empty corpus"):
        MeanPooler(encoder=WordEncoder()).fit([])


def test_texts_without_an_encoder():
    with pytest.raises(TypeError, match=re.escape(
            "MeanPooler(encoder=None) pools token embeddings: it expects a TokenSets or a "
            "list of (n_i, d) arrays. Received texts")) as info:
        MeanPooler().fit(["a text", "another"])
    assert "encoder=TokenEncoder()" in str(info.value)
    with pytest.raises(TypeError, match="GaussianPooler\\(encoder=None\\).*Received texts"):
        GaussianPooler().fit(np.array(["a", "b"]))
    with pytest.raises(TypeError, match="Received texts"):
        GaussianPooler().fit("one string")


def test_non_str_texts_name_the_index():
    for bad in [None, 3, b"bytes"]:
        with pytest.raises(TypeError, match=r"Expected every item of X to be a str\. "
                           r"Received .* at index 2\. MeanPooler\(encoder=WordEncoder"):
            MeanPooler(encoder=WordEncoder()).fit(["a", "b", bad])


def test_arrays_with_an_encoder_say_what_is_expected():
    with pytest.raises(TypeError, match="at index 0.*expects texts .* or a TokenSets"):
        GaussianPooler(encoder=WordEncoder()).fit([np.ones((2, 3))])


def test_non_finite_tokens_name_the_text():
    clouds = random_clouds(11)
    clouds[3][1, 2] = np.nan
    with pytest.raises(ValueError, match=r"X\[3\] \(text 3\) to be finite.*token 1"):
        MeanPooler().fit(clouds)
    clouds[3][1, 2] = 0.0
    data = np.concatenate(clouds)
    offsets = np.concatenate([[0], np.cumsum([len(c) for c in clouds])])
    data[offsets[5] + 2, 0] = np.inf
    with pytest.raises(ValueError, match=r"X\[5\] \(text 5\) to be finite.*token 2"):
        GaussianPooler().fit(TokenSets(data, offsets))
    pooler = GaussianPooler(encoder=WordEncoder(dim=5)).fit(["a b"])
    with pytest.raises(ValueError, match=r"text 5\) to be finite"):
        pooler.transform(TokenSets(data, offsets))  # pre-encoded tokens are checked too


def test_different_dimensions_name_the_text():
    clouds = random_clouds(12)
    clouds[4] = np.ones((3, 6))
    with pytest.raises(ValueError, match=r"X\[4\] \(text 4\) to have dimension d=5.*"
                       r"Received dimension 6"):
        GaussianPooler().fit(clouds)


def test_transform_with_another_dimension_names_both():
    pooler = GaussianPooler().fit(random_clouds(13, d=5))
    with pytest.raises(ValueError, match="dimension d=4, but GaussianPooler was fitted on "
                       "dimension d=5"):
        pooler.transform(random_clouds(13, d=4))


def test_zero_mean_text_with_normalize_names_the_text():
    clouds = random_clouds(14)
    clouds[2] = np.array([[1.0, -1.0, 0, 0, 0], [-1.0, 1.0, 0, 0, 0]])
    with pytest.raises(ValueError, match="mean token of text 2 has norm 0.0"):
        GaussianPooler(normalize=True).fit_transform(clouds)
    GaussianPooler(normalize=False).fit_transform(clouds)  # raw features are defined
    pooler = GaussianPooler(normalize=True).fit(random_clouds(15))
    with pytest.raises(ValueError, match="text 2 has norm 0.0"):
        pooler.transform(clouds)


def test_invalid_parameters_read_like_sklearn():
    clouds = random_clouds(16)
    with pytest.raises(InvalidParameterError, match="The 'covariance' parameter of "
                       "GaussianPooler must be a str among"):
        GaussianPooler(covariance="spherical").fit(clouds)
    with pytest.raises(InvalidParameterError, match="'n_components' parameter"):
        GaussianPooler(n_components=0).fit(clouds)
    with pytest.raises(InvalidParameterError, match="'normalize' parameter"):
        GaussianPooler(normalize="yes").fit(clouds)
    with pytest.raises(InvalidParameterError, match="The 'encoder' parameter of MeanPooler "
                       "must be an object implementing 'fit' and 'transform' or None"):
        MeanPooler(encoder="all-MiniLM-L6-v2").fit(["a"])


def test_n_components_above_d():
    with pytest.raises(ValueError, match="n_components=16 must be at most the embedding "
                       "dimension d=5"):
        GaussianPooler(covariance="projected").fit(random_clouds(17))
    GaussianPooler(covariance="diag").fit(random_clouds(17))  # ignored unless projected


def test_unfitted():
    for pooler in [MeanPooler(), GaussianPooler()]:
        with pytest.raises(NotFittedError):
            pooler.transform(random_clouds(18))
        with pytest.raises(NotFittedError):
            pooler.get_feature_names_out()


def test_encoder_output_of_the_wrong_length():
    with pytest.raises(ValueError, match="output of BadEncoder to hold one token cloud per "
                       "text \\(3\\). Received 2"):
        MeanPooler(encoder=BadEncoder()).fit(["a", "b", "c"])


# -- with the real TokenEncoder: the tiny random BERT ---------------------------------------

TINY_TOPICS = [
    "the dog and the cat saw a bird in the tree by the river",
    "a small dog ran to the big tree and the bird",
    "the cat and the bird by the river in the sun",
    "the team won the first game and lost the last game",
    "they played a great game and the team won",
    "our team lost the game but won the war",
]


def test_pipeline_with_the_tiny_token_encoder(tiny_encoder_params):
    from skpool import TokenEncoder

    texts = TINY_TOPICS * 3
    y = np.array([0, 0, 0, 1, 1, 1] * 3)
    pipe = Pipeline([("pool", MeanPooler(encoder=TokenEncoder(**tiny_encoder_params))),
                     ("clf", LogisticRegression(max_iter=1000))])
    predicted = pipe.fit(texts, y).predict(TINY_TOPICS)
    assert predicted.shape == (6,) and set(predicted.tolist()) <= {0, 1}
    # The pooled vector is the mean of the encoder's own tokens.
    tokens = TokenEncoder(**tiny_encoder_params).fit_transform(TINY_TOPICS)
    expected = np.array([t.astype(np.float64).mean(axis=0) for t in tokens])
    np.testing.assert_allclose(pipe[0].transform(TINY_TOPICS), expected, rtol=1e-6, atol=1e-7)
    assert pipe[0].embedding_dim_ == 32


@pytest.mark.parametrize("covariance", KINDS)
def test_gaussian_pooler_with_the_tiny_encoder_equals_pooling_its_tokens(
        covariance, tiny_encoder_params, sample_texts):
    from skpool import TokenEncoder
    from skpool.encoder import TruncationWarning

    pooler = GaussianPooler(encoder=TokenEncoder(**tiny_encoder_params),
                            covariance=covariance, n_components=4, normalize=True)
    with pytest.warns(TruncationWarning):
        out = pooler.fit_transform(sample_texts)
    with pytest.warns(TruncationWarning):
        tokens = TokenEncoder(**tiny_encoder_params).fit_transform(sample_texts)
    reference = GaussianPooler(covariance=covariance, n_components=4, normalize=True)
    np.testing.assert_allclose(out, reference.fit_transform(tokens), rtol=1e-6, atol=1e-7)
    assert out.dtype == np.float32
    basis = reference.components_ if covariance == "projected" else None
    np.testing.assert_allclose(out, slow_features(list(tokens), covariance, True, basis),
                               rtol=2e-4, atol=1e-5)


def test_pickled_pooler_carries_no_weights(tiny_encoder_params):
    from skpool import TokenEncoder

    pooler = GaussianPooler(encoder=TokenEncoder(**tiny_encoder_params), covariance="full")
    pooler.fit(TINY_TOPICS)
    assert hasattr(pooler.encoder_, "model_")
    n_weights = sum(p.numel() for p in pooler.encoder_.model_.parameters())
    blob = pickle.dumps(pooler)
    assert len(blob) < n_weights * 4 / 10  # well under a tenth of the float32 weights
    restored = pickle.loads(blob)
    assert not hasattr(restored.encoder_, "model_")
    np.testing.assert_array_equal(restored.transform(TINY_TOPICS), pooler.transform(TINY_TOPICS))


def test_grid_search_over_the_encoder_layer(tiny_encoder_params):
    from skpool import TokenEncoder

    texts = TINY_TOPICS * 2
    y = np.array([0, 0, 0, 1, 1, 1] * 2)
    pipe = Pipeline([("pool", GaussianPooler(encoder=TokenEncoder(**tiny_encoder_params))),
                     ("clf", LogisticRegression(max_iter=1000))])
    search = GridSearchCV(pipe, {"pool__encoder__layer": [1, -1],
                                 "pool__normalize": [False, True]}, cv=2)
    search.fit(texts, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_estimator_[0].encoder_.layer in (1, -1)


# -- with the real bundled model (slow) ---------------------------------------------------

ST_TEXTS = [
    "The cat sat on the mat.",
    "Mean pooling averages the token embeddings of a sentence.",
    "Stocks fell sharply on Monday after the central bank raised interest rates.",
    "Ok",
    # Over 256 word pieces: both sides truncate at the model's max_seq_length.
    " ".join(["The committee reviewed every proposal in detail before voting."] * 30),
]


@pytest.mark.slow
def test_mean_pooler_equals_sentence_transformers(bundled_model_path):
    from sentence_transformers import SentenceTransformer

    from skpool import TokenEncoder
    from skpool.encoder import TruncationWarning

    with pytest.warns(TruncationWarning, match="truncated"):
        ours = MeanPooler(encoder=TokenEncoder(device="cpu")).fit_transform(ST_TEXTS)
    # the count travels on the encoder's TokenSets (the warning no longer carries it)
    with pytest.warns(TruncationWarning):
        assert TokenEncoder(device="cpu").fit_transform(ST_TEXTS).n_truncated == 1
    ours = ours / np.linalg.norm(ours, axis=1, keepdims=True)
    # The bundled folder's pipeline is Transformer -> Pooling(mean) -> Normalize.
    reference = SentenceTransformer(str(bundled_model_path), device="cpu").encode(ST_TEXTS)
    assert ours.dtype == np.float32 and ours.shape == reference.shape == (5, 384)
    np.testing.assert_allclose(ours, reference, atol=1e-4)
    assert np.abs(ours - reference).max() < 1e-5  # float32 round-off, in practice


@pytest.mark.slow
def test_cross_val_on_bbc_news_loads_the_model_once(tmp_path, monkeypatch):
    from sklearn.model_selection import StratifiedKFold, cross_validate, train_test_split

    from skpool import TokenEncoder
    from skpool.datasets import load_bbc_news
    from skpool.encoder import _torch, clear_model_cache

    texts, labels = load_bbc_news(return_X_y=True)
    # 200 articles, 40 per topic, cut at 128 tokens: about 30 s on two cores.
    texts, _, labels, _ = train_test_split(list(texts), np.asarray(labels), train_size=200,
                                           stratify=labels, random_state=0)
    clear_model_cache()
    loads = []
    original = _torch.AutoModel.from_pretrained

    def counting(*args, **kwargs):
        loads.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(_torch.AutoModel, "from_pretrained", counting)
    # The cache makes later folds reuse the first fold's encodings: each text
    # is encoded once, whatever fold it lands in.
    encoder = TokenEncoder(max_length=128, device="cpu", cache=tmp_path)
    pipe = Pipeline([("pool", MeanPooler(encoder=encoder)),
                     ("clf", LogisticRegression(max_iter=1000))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # long articles are truncated at 128 tokens
        result = cross_validate(pipe, texts, labels, return_estimator=True,
                                cv=StratifiedKFold(5, shuffle=True, random_state=0))
    assert result["test_score"].mean() >= 0.9, result["test_score"]
    assert len(loads) == 1
    models = {id(fitted[0].encoder_.model_) for fitted in result["estimator"]}
    assert len(models) == 1


# -- declared dtype and feature names in a pipeline ------------------------------------------

@pytest.mark.parametrize("Pooler", [MeanPooler, GaussianPooler])
def test_the_declared_dtype_is_the_returned_dtype(Pooler):
    from sklearn.utils import get_tags

    declared = get_tags(Pooler()).transformer_tags.preserves_dtype
    assert declared == ["float64", "float32"]
    for dtype in declared:
        assert Pooler().fit_transform(random_clouds(31, dtype=dtype)).dtype == dtype
    # texts have no dtype to preserve: the encoder's tokens decide (float32 here)
    with_encoder = Pooler(encoder=WordEncoder())
    assert get_tags(with_encoder).transformer_tags.preserves_dtype == []
    assert with_encoder.fit_transform(["a cat", "a dog"]).dtype == np.float32


class NamedWordEncoder(WordEncoder):
    def get_feature_names_out(self, input_features=None):
        return np.asarray([f"token_{j}" for j in range(self.dim)], dtype=object)


def test_feature_names_out_through_a_pipeline():
    from sklearn.pipeline import make_pipeline

    pipe = make_pipeline(NamedWordEncoder(dim=3), MeanPooler()).fit(["a cat", "a dog"])
    assert pipe.get_feature_names_out().tolist() == ["mean_0", "mean_1", "mean_2"]
    pooler = GaussianPooler().fit(random_clouds(32, d=2))
    for given in (None, ["x", "y"], np.array(["anything"], dtype=object)):
        assert pooler.get_feature_names_out(given).tolist() == [
            "mean_0", "mean_1", "var_0", "var_1"]


def test_one_token_texts_have_zero_normalized_covariance():
    clouds = random_clouds(33, lengths=[1, 1, 1], d=4)
    for kind in KINDS:
        out = GaussianPooler(covariance=kind, n_components=2, normalize=True).fit_transform(clouds)
        np.testing.assert_allclose(out[:, :4], [c[0] / np.linalg.norm(c[0]) for c in clouds],
                                   rtol=1e-12)
        # the row and its unit mean come from the same multiplication: exactly 0
        np.testing.assert_array_equal(out[:, 4:], 0.0)
