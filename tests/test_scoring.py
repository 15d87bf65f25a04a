"""CollapseScorer, CollapseFeatures and layer_profile against independent answers."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score, cross_validate
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline, make_union
from sklearn.preprocessing import StandardScaler

from skpool import (CollapseFeatures, CollapseScorer, MeanPooler, TokenEncoder, layer_profile,
                    mean_socm)
from skpool.scoring import find_encoder


# -- an obvious implementation, with d x d covariances and eigendecompositions -----------
def _psd_sqrt(S):
    w, V = np.linalg.eigh(S)
    return (V * np.sqrt(np.clip(w, 0, None))) @ V.T


def slow_components(A, B):
    A = np.asarray(A, np.float64)
    B = np.asarray(B, np.float64)
    A = A / np.linalg.norm(A.mean(0))
    B = B / np.linalg.norm(B.mean(0))
    mu_a, mu_b = A.mean(0), B.mean(0)
    S_a = (A - mu_a).T @ (A - mu_a) / len(A)
    S_b = (B - mu_b).T @ (B - mu_b) / len(B)
    root = _psd_sqrt(S_a)
    cross = np.trace(_psd_sqrt(root @ S_b @ root))
    bures2 = max(np.trace(S_a) + np.trace(S_b) - 2 * cross, 0.0)
    d_mu = np.sum((mu_a - mu_b) ** 2) / 4
    d_sigma = bures2 / 4
    return (1 - d_mu) * d_sigma, d_mu, d_sigma


def slow_spread_cosine(X):
    X = np.asarray(X, np.float64)
    Xn = X / np.linalg.norm(X.mean(0))
    spread = np.trace(np.cov(Xn.T, bias=True)) if len(X) > 1 else 0.0
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    return spread, float((U @ U.T).mean())


def random_clouds(seed, n_texts=12, d=6):
    rng = np.random.default_rng(seed)
    direction = rng.normal(size=d)
    return [direction + rng.normal(scale=rng.uniform(0.2, 1.0),
                                   size=(int(rng.integers(1, 9)), d)) for _ in range(n_texts)]


# -- find_encoder ---------------------------------------------------------------------------
def test_find_encoder_in_pipelines_unions_and_fitted_poolers(tiny_encoder_params):
    encoder = TokenEncoder(layer=1, **tiny_encoder_params)
    assert find_encoder(encoder) is encoder
    assert find_encoder(make_pipeline(encoder, MeanPooler())) is encoder
    union = make_pipeline(TokenEncoder(layer=2, **tiny_encoder_params),
                          make_union(MeanPooler(), CollapseFeatures()))
    assert find_encoder(union).layer == 2
    pooler = MeanPooler(encoder=encoder)
    assert find_encoder(pooler) is encoder                 # unfitted: the parameter
    pooler.fit(["the cat", "a dog"])
    assert find_encoder(pooler) is pooler.encoder_         # fitted: the fitted clone
    assert find_encoder(make_pipeline(MeanPooler(), LogisticRegression())) is None


def test_find_encoder_finds_a_subclass_and_not_a_lookalike():
    class MyEncoder(TokenEncoder):
        pass

    class TokenEncoderLookalike:  # same duck type, not an encoder
        layer = 0

        def transform_layers(self, texts, layers=None):
            return {}

    mine = MyEncoder(layer=1)
    assert find_encoder(make_pipeline(mine, MeanPooler())) is mine
    assert find_encoder(TokenEncoderLookalike()) is None


# -- CollapseScorer -------------------------------------------------------------------------
def test_scorer_is_minus_mean_socm_of_the_encoded_texts(tiny_encoder_params, sample_texts):
    pipe = make_pipeline(TokenEncoder(**tiny_encoder_params), MeanPooler()).fit(sample_texts)
    scorer = CollapseScorer()
    tokens = TokenEncoder(**tiny_encoder_params).transform(sample_texts)
    slow = np.mean([slow_components(tokens[i], tokens[j])[0]
                    for i in range(len(tokens)) for j in range(i + 1, len(tokens))])
    assert scorer(pipe, sample_texts) == pytest.approx(-slow, rel=1e-6, abs=1e-9)
    assert scorer.last_result_.exact


def test_scorer_on_token_input_and_sampled_pairs():
    tokens = random_clouds(0, n_texts=20)
    estimator = MeanPooler().fit(tokens)
    exact = CollapseScorer()(estimator, tokens)
    assert exact == pytest.approx(-mean_socm(tokens).mean)
    sampled = CollapseScorer(n_pairs=50, random_state=0)
    value = sampled(estimator, tokens)
    assert value == pytest.approx(-mean_socm(tokens, n_pairs=50, random_state=0).mean)
    assert not sampled.last_result_.exact and sampled.last_result_.n_pairs == 50


def test_scorer_in_cross_validate_next_to_accuracy(tiny_encoder_params, sample_texts):
    texts = sample_texts * 2
    y = np.array([0, 1] * len(sample_texts))
    pipe = make_pipeline(TokenEncoder(**tiny_encoder_params), MeanPooler(),
                         LogisticRegression(max_iter=200))
    cv = KFold(3, shuffle=True, random_state=0)
    result = cross_validate(pipe, texts, y, cv=cv,
                            scoring={"accuracy": "accuracy", "collapse": CollapseScorer()})
    encoder = TokenEncoder(**tiny_encoder_params)
    for k, (_, test) in enumerate(cv.split(texts)):
        tokens = encoder.transform([texts[i] for i in test])
        assert result["test_collapse"][k] == pytest.approx(-mean_socm(tokens).mean)
    assert result["test_accuracy"].shape == (3,)


def test_grid_search_picks_the_layer_with_least_collapse(tiny_encoder_params, sample_texts):
    pipe = Pipeline([("pool", MeanPooler(encoder=TokenEncoder(**tiny_encoder_params)))])
    search = GridSearchCV(pipe, {"pool__encoder__layer": [0, 1, 2]}, scoring=CollapseScorer(),
                          cv=KFold(2))
    search.fit(sample_texts)
    by_layer = TokenEncoder(**tiny_encoder_params).transform_layers(sample_texts)
    direct = []
    for layer in (0, 1, 2):
        folds = [-mean_socm(by_layer[layer][test]).mean for _, test in KFold(2).split(sample_texts)]
        direct.append(np.mean(folds))
    assert search.best_params_["pool__encoder__layer"] == int(np.argmax(direct))
    np.testing.assert_allclose(search.cv_results_["mean_test_score"], direct, rtol=1e-6)


def test_scorer_errors_are_clear():
    with pytest.raises(TypeError, match="contains no TokenEncoder"):
        CollapseScorer()(MeanPooler(), ["a text", "another"])
    with pytest.raises(ValueError, match="n_pairs"):
        CollapseScorer(n_pairs=0)(MeanPooler(), random_clouds(1))
    assert "n_pairs=5" in repr(CollapseScorer(n_pairs=5))


# -- CollapseFeatures -----------------------------------------------------------------------
def test_collapse_features_against_the_slow_route():
    tokens = random_clouds(3, n_texts=9)
    features = CollapseFeatures(n_landmarks=3, random_state=0).fit(tokens)
    out = features.transform(tokens)
    assert out.shape == (9, 2 + 3 * 3)
    names = features.get_feature_names_out()
    assert list(names[:2]) == ["spread", "mean_cosine"] and len(names) == out.shape[1]
    for i, cloud in enumerate(tokens):
        spread, cosine = slow_spread_cosine(cloud)
        assert out[i, 0] == pytest.approx(spread, abs=1e-9)
        assert out[i, 1] == pytest.approx(cosine, abs=1e-9)
        for j, landmark in enumerate(features.landmark_indices_):
            socm, d_mu, d_sigma = slow_components(cloud, tokens[landmark])
            np.testing.assert_allclose(out[i, 2 + 3 * j: 5 + 3 * j], [d_mu, d_sigma, socm],
                                       atol=1e-8)
    # a text against itself as a landmark: no distance but round-off. d_mu comes from float64
    # means; d_Sigma from the float32 cross-Gram products (about 1e-9 here, 4e-9 at most
    # measured; the products' documented precision is 1e-7)
    for j, landmark in enumerate(features.landmark_indices_):
        assert out[landmark, 2 + 3 * j] == pytest.approx(0.0, abs=1e-12)
        assert out[landmark, 4 + 3 * j] == pytest.approx(0.0, abs=1e-7)


def test_collapse_features_in_a_union_pipeline_with_pandas_output(tiny_encoder_params,
                                                                  sample_texts):
    union = FeatureUnion([("mean", MeanPooler()),
                          ("collapse", CollapseFeatures(n_landmarks=2, random_state=0))])
    pipe = make_pipeline(TokenEncoder(**tiny_encoder_params), union).set_output(
        transform="pandas")
    frame = pipe.fit_transform(sample_texts)
    assert list(frame.columns[-8:]) == ["collapse__spread", "collapse__mean_cosine",
                                        "collapse__d_mu_0", "collapse__d_sigma_0",
                                        "collapse__socm_0", "collapse__d_mu_1",
                                        "collapse__d_sigma_1", "collapse__socm_1"]
    assert frame.shape == (len(sample_texts), 32 + 8)
    classifier = make_pipeline(TokenEncoder(**tiny_encoder_params), union, StandardScaler(),
                               LogisticRegression(max_iter=500))
    scores = cross_val_score(classifier, sample_texts * 2, [0, 1] * 8, cv=2)
    assert scores.shape == (2,)


def test_collapse_features_clone_pickle_and_errors():
    tokens = random_clouds(5)
    fitted = CollapseFeatures(n_landmarks=4, random_state=1).fit(tokens)
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_allclose(again.transform(tokens), fitted.transform(tokens),
                               rtol=1e-12, atol=1e-15)
    assert clone(fitted).get_params() == fitted.get_params()
    assert CollapseFeatures(n_landmarks=50).fit(tokens).landmarks_.n_tokens > 0
    assert len(CollapseFeatures(n_landmarks=50).fit(tokens).landmark_indices_) == len(tokens)
    with pytest.raises(ValueError, match="n_landmarks"):
        CollapseFeatures(n_landmarks=0).fit(tokens)
    with pytest.raises(ValueError, match="dimension"):
        fitted.transform([np.ones((3, 2))])
    with pytest.raises(TypeError, match="texts"):
        CollapseFeatures().fit(["a text", "another"])
    zero = [np.ones((2, 6)), np.array([[1.0] * 6, [-1.0] * 6])]
    with pytest.raises(ValueError, match="text 1"):
        CollapseFeatures(n_landmarks=1, random_state=0).fit_transform(zero)


# -- layer profile --------------------------------------------------------------------------
def test_layer_profile_matches_per_layer_encoders(tiny_encoder_params, sample_texts):
    profile = layer_profile(TokenEncoder(**tiny_encoder_params), sample_texts)
    assert profile.layers.tolist() == [0, 1, 2]
    for record in profile.records:
        tokens = TokenEncoder(layer=record.layer, **tiny_encoder_params).transform(sample_texts)
        result = mean_socm(tokens)
        assert record.mean_socm == pytest.approx(result.mean, rel=1e-6)
        assert record.mean_d_sigma == pytest.approx(result.mean_d_sigma, rel=1e-6)
        spreads = [slow_spread_cosine(cloud)[0] for cloud in tokens]
        assert record.mean_spread == pytest.approx(np.mean(spreads), rel=1e-6)
        assert record.n_pairs == len(sample_texts) * (len(sample_texts) - 1) // 2
    assert profile.n_truncated == 1          # the long sample text passes 64 tokens
    frame = profile.to_frame()
    assert list(frame["layer"]) == [0, 1, 2] and "mean_cosine" in frame
    sampled = layer_profile(TokenEncoder(**tiny_encoder_params), sample_texts, layers=[1, -1],
                            n_pairs=10, random_state=0)
    assert [r.n_pairs for r in sampled.records] == [10, 10] and not sampled.records[0].exact


def test_layer_profile_errors(tiny_encoder_params):
    with pytest.raises(TypeError, match="TokenEncoder"):
        layer_profile(MeanPooler(), ["a", "b"])
    with pytest.raises(ValueError, match="at least 2"):
        layer_profile(TokenEncoder(**tiny_encoder_params), ["only one text"])


def test_n_jobs_gives_the_same_answers():
    tokens = random_clouds(7, n_texts=16)
    estimator = MeanPooler().fit(tokens)
    assert CollapseScorer(n_jobs=2)(estimator, tokens) == pytest.approx(
        CollapseScorer()(estimator, tokens), rel=1e-12)
    one = CollapseFeatures(n_landmarks=3, random_state=0).fit(tokens).transform(tokens)
    two = CollapseFeatures(n_landmarks=3, random_state=0, n_jobs=2).fit(tokens).transform(tokens)
    np.testing.assert_allclose(two, one, rtol=1e-12, atol=1e-15)
