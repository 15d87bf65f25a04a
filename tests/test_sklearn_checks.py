"""scikit-learn's estimator checks that apply to text and token input, and our own.

``check_estimator`` skips estimators whose input is not a 2-D array (texts,
token clouds). Here the individual checks that do not depend on a 2-D ``X``
are called explicitly, and the ones that do (overwrite params, pickling,
idempotence, subset invariance, dtypes, ``set_output``, feature names) are
written again for each estimator's own kind of input.
"""

from __future__ import annotations

import pickle
import warnings
from copy import deepcopy

import joblib
import numpy as np
import pytest
from sklearn import config_context
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import estimator_checks as ec
from sklearn.utils import get_tags
from sklearn.utils.validation import check_is_fitted

from skpool import (CLSPooler, CollapseFeatures, GaussianPooler, LastTokenPooler, MaxPooler,
                    MeanPooler, TokenSets)

# -- the estimators and their inputs -------------------------------------------------------


def token_corpus(dtype=np.float64, n_texts=9, d=4, seed=0):
    rng = np.random.default_rng(seed)
    return TokenSets.from_arrays(
        [(rng.normal(size=(n, d)) + 1.0).astype(dtype) for n in rng.integers(1, 8, n_texts)])


TEXTS = [
    "The cat sat on the mat.", "A dog runs.", "Good news!", "war",
    "they won the first game .", "An old house by the river, with a red car.",
    "She told the story of a young man.", "the sun and the moon",
]

# (id, factory(tiny_params) -> estimator, input kind)
ESTIMATORS = [
    ("MeanPooler", lambda tiny: MeanPooler(), "tokens"),
    ("GaussianPooler-diag", lambda tiny: GaussianPooler(), "tokens"),
    ("GaussianPooler-full-normalize",
     lambda tiny: GaussianPooler(covariance="full", normalize=True), "tokens"),
    ("GaussianPooler-projected",
     lambda tiny: GaussianPooler(covariance="projected", n_components=2), "tokens"),
    ("MeanPooler-encoder", lambda tiny: MeanPooler(encoder=_encoder(tiny)), "texts"),
    ("GaussianPooler-encoder",
     lambda tiny: GaussianPooler(encoder=_encoder(tiny), covariance="projected",
                                 n_components=3), "texts"),
    ("TokenEncoder", lambda tiny: _encoder(tiny), "texts"),
    ("CollapseFeatures", lambda tiny: CollapseFeatures(n_landmarks=3, random_state=0), "tokens"),
    ("CLSPooler", lambda tiny: CLSPooler(), "tokens"),
    ("MaxPooler", lambda tiny: MaxPooler(), "tokens"),
    ("LastTokenPooler", lambda tiny: LastTokenPooler(), "tokens"),
    ("CLSPooler-encoder", lambda tiny: CLSPooler(encoder=_encoder(tiny)), "texts"),
]
POOLERS = [e for e in ESTIMATORS if e[0] != "TokenEncoder"]


def _encoder(tiny):
    from skpool import TokenEncoder

    return TokenEncoder(**tiny)


def _ids(cases):
    return [case[0] for case in cases]


@pytest.fixture
def tiny(tiny_encoder_params):
    return tiny_encoder_params


def _input(kind):
    return token_corpus() if kind == "tokens" else list(TEXTS)


def _outputs_equal(a, b, **tol):
    if isinstance(a, TokenSets):
        np.testing.assert_array_equal(a.offsets, b.offsets)
        a, b = a.data, b.data
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), **tol)


# -- scikit-learn's own checks -----------------------------------------------------------

GENERIC_CHECKS = [
    ec.check_get_params_invariance,
    ec.check_set_params,
    ec.check_no_attributes_set_in_init,
    ec.check_parameters_default_constructible,
    ec.check_estimator_cloneable,
    ec.check_estimator_repr,
    ec.check_mixin_order,
    ec.check_valid_tag_types,
    ec.check_estimator_tags_renamed,
    ec.check_do_not_raise_errors_in_init_or_set_params,
]
# These feed a 2-D array, but only to see an error raised first: parameters
# validated before the input, NotFittedError before the input.
POOLER_CHECKS = [
    ec.check_param_validation,
    ec.check_transformers_unfitted,
    ec.check_get_feature_names_out_error,
]


@pytest.mark.parametrize("check", GENERIC_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("case", ESTIMATORS, ids=_ids(ESTIMATORS))
def test_sklearn_generic_checks(case, check, tiny):
    estimator = case[1](tiny)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        check(type(estimator).__name__, estimator)


@pytest.mark.parametrize("check", POOLER_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("case", POOLERS, ids=_ids(POOLERS))
def test_sklearn_pooler_checks(case, check, tiny):
    estimator = case[1](tiny)
    check(type(estimator).__name__, estimator)


@pytest.mark.parametrize("pooler", [MeanPooler(), GaussianPooler()], ids=["Mean", "Gaussian"])
def test_sklearn_fit1d_check(pooler):
    ec.check_fit1d(type(pooler).__name__, pooler)


def test_sklearn_param_validation_token_encoder(tiny):
    ec.check_param_validation("TokenEncoder", _encoder(tiny))


def test_text_and_token_input_tags(tiny):
    for case in ESTIMATORS:
        estimator = case[1](tiny)
        tags = get_tags(estimator)
        assert tags.input_tags.two_d_array is False, case[0]
        assert tags.input_tags.string is (case[2] == "texts"), case[0]


# -- the checks rewritten for texts and token clouds ------------------------------------------

@pytest.mark.parametrize("case", ESTIMATORS, ids=_ids(ESTIMATORS))
def test_fit_returns_self_and_does_not_touch_params(case, tiny):
    name, factory, kind = case
    estimator = factory(tiny)
    X = _input(kind)
    params = deepcopy(estimator.get_params())
    before = {key: joblib.hash(value) for key, value in params.items()}
    public_before = {k for k in vars(estimator) if not k.startswith("_") and not k.endswith("_")}
    assert estimator.fit(X) is estimator
    after = estimator.get_params()
    for key, value in after.items():
        assert joblib.hash(value) == before[key], f"{name} changed parameter {key} in fit"
    public_after = {k for k in vars(estimator) if not k.startswith("_") and not k.endswith("_")}
    assert public_after == public_before, f"{name} added public attributes in fit"


@pytest.mark.parametrize("case", POOLERS, ids=_ids(POOLERS))
def test_fitted_state(case, tiny):
    _, factory, kind = case
    estimator = factory(tiny)
    with pytest.raises(NotFittedError):
        check_is_fitted(estimator)
    estimator.fit(_input(kind))
    check_is_fitted(estimator)
    # Token clouds and texts are not tables: n_features_in_ is not set
    # (like scikit-learn's text vectorizers); the token dimension is.
    assert not hasattr(estimator, "n_features_in_")
    assert not hasattr(estimator, "feature_names_in_")
    expected_dim = 4 if kind == "tokens" else 32  # the tiny BERT's hidden size
    assert estimator.embedding_dim_ == expected_dim


@pytest.mark.parametrize("case", ESTIMATORS, ids=_ids(ESTIMATORS))
def test_pickle_roundtrip(case, tiny):
    _, factory, kind = case
    X = _input(kind)
    estimator = factory(tiny).fit(X)
    expected = estimator.transform(X)
    blob = pickle.dumps(estimator)
    # No weights travel: the tiny BERT alone is ~100 kB of float32.
    assert len(blob) < 20_000
    _outputs_equal(pickle.loads(blob).transform(X), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("case", ESTIMATORS, ids=_ids(ESTIMATORS))
def test_fit_is_idempotent_and_clone_refits_the_same(case, tiny):
    _, factory, kind = case
    X = _input(kind)
    estimator = factory(tiny)
    first = estimator.fit(X).transform(X)
    second = estimator.fit(X).transform(X)
    third = clone(estimator).fit(X).transform(X)
    _outputs_equal(first, second, rtol=1e-6, atol=1e-6)
    _outputs_equal(first, third, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("case", ESTIMATORS, ids=_ids(ESTIMATORS))
def test_subset_and_order_invariance(case, tiny):
    _, factory, kind = case
    X = _input(kind)
    estimator = factory(tiny).fit(X)
    full = estimator.transform(X)
    order = np.array([5, 0, 3, 7, 1])
    subset = X[order] if kind == "tokens" else [X[i] for i in order]
    part = estimator.transform(subset)
    # A different batch composition changes padding only: float32 round-off.
    _outputs_equal(part, full[order], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", POOLERS, ids=_ids(POOLERS))
def test_feature_names_out(case, tiny):
    _, factory, kind = case
    X = _input(kind)
    estimator = factory(tiny)
    out = estimator.fit_transform(X)
    names = estimator.get_feature_names_out()
    assert names.dtype == object and all(isinstance(n, str) for n in names)
    assert names.shape == (out.shape[1],)
    assert len(set(names)) == names.size


@pytest.mark.parametrize("case", POOLERS, ids=_ids(POOLERS))
def test_set_output(case, tiny):
    pd = pytest.importorskip("pandas")
    _, factory, kind = case
    X = _input(kind)
    default = factory(tiny).fit_transform(X)
    assert isinstance(default, np.ndarray)
    local = factory(tiny).set_output(transform="pandas")
    for frame in (local.fit_transform(X), local.transform(X)):
        assert isinstance(frame, pd.DataFrame)
        assert frame.columns.tolist() == local.get_feature_names_out().tolist()
        np.testing.assert_allclose(frame.to_numpy(), default, rtol=1e-6, atol=1e-7)
    with config_context(transform_output="pandas"):
        assert isinstance(factory(tiny).fit_transform(X), pd.DataFrame)
    back = local.set_output(transform="default")
    assert isinstance(back.transform(X), np.ndarray)


@pytest.mark.parametrize("case", POOLERS[:4], ids=_ids(POOLERS[:4]))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_preserves_dtype(case, dtype, tiny):
    _, factory, _ = case
    X = token_corpus(dtype)
    estimator = factory(tiny)
    assert dtype.__name__ in get_tags(estimator).transformer_tags.preserves_dtype
    assert estimator.fit_transform(X).dtype == dtype
    assert estimator.transform(X).dtype == dtype


@pytest.mark.parametrize("case", POOLERS[:4], ids=_ids(POOLERS[:4]))
def test_input_is_not_modified_and_read_only_input_works(case, tiny):
    _, factory, _ = case
    clouds = [np.array(c) for c in token_corpus()]
    copies = [c.copy() for c in clouds]
    for c in clouds:
        c.flags.writeable = False
    estimator = factory(tiny)
    estimator.fit_transform(clouds)
    estimator.transform(clouds)
    for c, original in zip(clouds, copies):
        np.testing.assert_array_equal(c, original)


# -- the encoder inside pipelines -------------------------------------------------------------

LONG_TEXT = " ".join(["the man saw a big dog in the city at night ."] * 8)  # > 64 tokens


@pytest.mark.parametrize("case", ESTIMATORS, ids=_ids(ESTIMATORS))
def test_transform_does_not_change_the_estimator(case, tiny):
    """scikit-learn's check_dict_unchanged, fed the estimator's own kind of input.

    The texts include one the tiny model truncates: what a call learns about
    its texts travels with its output, never on the estimator.
    """
    name, factory, kind = case
    X = _input(kind) if kind == "tokens" else list(TEXTS) + [LONG_TEXT]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator = factory(tiny).fit(X)
        methods = ["transform", "transform_layers"] if name == "TokenEncoder" else ["transform"]
        for method in methods:
            before = estimator.__dict__.copy()
            getattr(estimator, method)(X)
            assert estimator.__dict__ == before, f"{name} changes __dict__ during {method}"


def test_pipeline_feature_names_pass_through_the_encoder(tiny):
    from sklearn.pipeline import make_pipeline

    pipe = make_pipeline(_encoder(tiny), MeanPooler()).fit(TEXTS)
    names = pipe.get_feature_names_out()
    assert names.shape == (32,) and len(set(names)) == 32
    assert pipe[0].get_feature_names_out().tolist() == [f"dim_{j}" for j in range(32)]
    with pytest.raises(NotFittedError):
        _encoder(tiny).get_feature_names_out()


def test_truncation_warning_once_per_user_call_and_at_the_users_line(tiny):
    """cross_validate runs the encoder in every fold and every scorer: one warning, here."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_validate
    from sklearn.pipeline import make_pipeline

    from skpool.encoder import TruncationWarning

    texts = list(TEXTS) + [LONG_TEXT, LONG_TEXT + " the end"]
    labels = [0, 1] * 5
    pipe = make_pipeline(_encoder(tiny), MeanPooler(), LogisticRegression())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")  # Python's own default: once per line and text
        cross_validate(pipe, texts, labels, cv=2, scoring=["accuracy", "f1"])
    truncation = [w for w in caught if issubclass(w.category, TruncationWarning)]
    assert len(truncation) == 1
    assert truncation[0].filename == __file__


# -- CollapseFeatures: NumPy integers, and the dtype it declares ------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_collapse_features_returns_the_dtype_it_declares(dtype):
    X = token_corpus(dtype)
    estimator = CollapseFeatures(n_landmarks=3, random_state=0)
    assert dtype.__name__ in get_tags(estimator).transformer_tags.preserves_dtype
    assert estimator.fit_transform(X).dtype == dtype
    assert estimator.transform(X).dtype == dtype


def test_collapse_features_takes_numpy_integers_and_grid_search():
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.linear_model import LogisticRegression

    X = token_corpus(n_texts=12)
    features = CollapseFeatures(n_landmarks=np.int64(3), random_state=np.int64(0),
                                n_jobs=np.int64(1))
    assert features.fit_transform(X).shape == (12, 2 + 3 * 3)
    y = np.arange(12) % 2
    search = GridSearchCV(make_pipeline(CollapseFeatures(random_state=0),
                                        LogisticRegression()),
                          {"collapsefeatures__n_landmarks": np.arange(2, 5)}, cv=2).fit(X, y)
    assert search.best_params_["collapsefeatures__n_landmarks"] in (2, 3, 4)
