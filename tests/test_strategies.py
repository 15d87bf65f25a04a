"""Pooling strategies (CLS, max, last token, the model's own) and concentration-matched SOCM.

Answers come from direct NumPy on each cloud, from sentence-transformers' own
Pooling module on the bundled model, and from closed forms.
"""

from __future__ import annotations

import json
import pickle
import shutil

import numpy as np
import pytest
from sklearn.base import clone

from skpool import (CLSPooler, LastTokenPooler, MaxPooler, MeanPooler, ModelPooler, TokenEncoder,
                    TokenSets, concentration, match_concentration, matched_mean_socm,
                    mean_socm, socm)
from skpool.encoder.pooling_config import read_model_pooling
from skpool.math._strategies import first_token, last_token, max_over_tokens
from skpool.pooling import PoolingMismatchWarning

# sample_texts holds one text longer than the tiny model's 64 positions
pytestmark = pytest.mark.filterwarnings("ignore::skpool.encoder.TruncationWarning")

DIRECT = {
    CLSPooler: lambda cloud: cloud[0],
    MaxPooler: lambda cloud: cloud.max(axis=0),
    LastTokenPooler: lambda cloud: cloud[-1],
}
PREFIX = {CLSPooler: "cls", MaxPooler: "max", LastTokenPooler: "last"}


def _clouds(seed=0, n_texts=7, d=5, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(int(rng.integers(1, 9)), d)).astype(dtype) for _ in range(n_texts)]


# ---------------------------------------------------------------------------------------
# Kernels and estimators against direct NumPy
# ---------------------------------------------------------------------------------------
def test_kernels_match_per_text_numpy():
    clouds = _clouds()
    tokens = TokenSets.from_arrays(clouds)
    for kernel, direct in ((first_token, DIRECT[CLSPooler]), (max_over_tokens, DIRECT[MaxPooler]),
                           (last_token, DIRECT[LastTokenPooler])):
        expected = np.stack([direct(c) for c in clouds])
        np.testing.assert_array_equal(kernel(tokens.data, tokens.offsets), expected)


@pytest.mark.parametrize("pooler_class", [CLSPooler, MaxPooler, LastTokenPooler])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_poolers_match_numpy_keep_dtype_and_name_features(pooler_class, dtype):
    clouds = _clouds(dtype=dtype)
    pooler = pooler_class()
    out = pooler.fit_transform(clouds)
    assert out.dtype == dtype and out.shape == (len(clouds), 5)
    np.testing.assert_array_equal(out, np.stack([DIRECT[pooler_class](c) for c in clouds]))
    np.testing.assert_array_equal(pooler.transform(TokenSets.from_arrays(clouds)), out)
    assert pooler.get_feature_names_out().tolist() == [f"{PREFIX[pooler_class]}_{j}"
                                                       for j in range(5)]


@pytest.mark.parametrize("pooler_class", [CLSPooler, MaxPooler, LastTokenPooler])
def test_poolers_pandas_output_clone_and_pickle(pooler_class):
    clouds = _clouds(dtype=np.float32)
    frame = pooler_class().set_output(transform="pandas").fit_transform(clouds)
    assert list(frame.columns) == [f"{PREFIX[pooler_class]}_{j}" for j in range(5)]
    assert (frame.dtypes == np.float32).all()
    fitted = pooler_class().fit(clouds)
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.transform(clouds), fitted.transform(clouds))
    assert clone(fitted).get_params() == fitted.get_params()


def test_poolers_refuse_the_wrong_dimension_and_texts_without_encoder():
    pooler = CLSPooler().fit(_clouds(d=5))
    with pytest.raises(ValueError, match="dimension d=4.*fitted on dimension d=5"):
        pooler.transform(_clouds(d=4))
    with pytest.raises(TypeError, match="encoder=TokenEncoder"):
        MaxPooler().fit(["a text"])


@pytest.mark.parametrize("pooler_class", [CLSPooler, MaxPooler, LastTokenPooler])
def test_poolers_with_encoder_pool_its_tokens(pooler_class, tiny_encoder_params, sample_texts):
    encoder = TokenEncoder(**tiny_encoder_params)
    tokens = encoder.fit_transform(sample_texts)
    out = pooler_class(encoder=encoder).fit_transform(sample_texts)
    np.testing.assert_allclose(out, np.stack([DIRECT[pooler_class](c) for c in tokens]),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("pooler_class", [CLSPooler, LastTokenPooler])
def test_special_token_poolers_refuse_an_encoder_without_special_tokens(
        pooler_class, tiny_encoder_params, sample_texts):
    encoder = TokenEncoder(**tiny_encoder_params, special_tokens="exclude")
    with pytest.raises(ValueError, match="special_tokens='exclude'"):
        pooler_class(encoder=encoder).fit(sample_texts)
    MaxPooler(encoder=encoder).fit(sample_texts)  # the maximum needs no special token


# ---------------------------------------------------------------------------------------
# Against sentence-transformers' own Pooling module (bundled model, a few short texts)
# ---------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("pooler_class, mode", [(CLSPooler, "cls"), (MaxPooler, "max"),
                                                (LastTokenPooler, "lasttoken")])
def test_poolers_match_sentence_transformers_pooling(bundled_model_path, pooler_class, mode):
    st = pytest.importorskip("sentence_transformers")
    modules = pytest.importorskip("sentence_transformers.sentence_transformer.modules")
    texts = ["Vertigo is a 1958 American film noir directed by Alfred Hitchcock.",
             "The central bank raised interest rates again.", "Short."]
    model = st.SentenceTransformer(
        modules=[modules.Transformer(str(bundled_model_path)),
                 modules.Pooling(384, pooling_mode=mode)], device="cpu")
    reference = model.encode(texts, convert_to_numpy=True)
    ours = pooler_class(encoder=TokenEncoder(device="cpu")).fit_transform(texts)
    np.testing.assert_allclose(ours, reference, atol=1e-5, rtol=0)


# ---------------------------------------------------------------------------------------
# The model's own pooling
# ---------------------------------------------------------------------------------------
def _st_folder(tmp_path, tiny_model_dir, config, *, modules=True):
    folder = tmp_path / "st-model"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(config))
    if modules:
        (folder / "modules.json").write_text(json.dumps([
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling",
             "type": "sentence_transformers.models.Pooling"}]))
    return folder


CLS_FLAGS = {"word_embedding_dimension": 32, "pooling_mode_cls_token": True,
             "pooling_mode_mean_tokens": False, "pooling_mode_max_tokens": False}


def test_read_model_pooling_of_the_bundled_model_and_a_plain_folder(tiny_model_dir):
    assert read_model_pooling("all-MiniLM-L6-v2").modes == ("mean",)
    assert read_model_pooling(tiny_model_dir) is None  # plain Hugging Face weights


@pytest.mark.parametrize("config, modules, expected", [
    (CLS_FLAGS, True, ("cls",)),
    (CLS_FLAGS, False, ("cls",)),                         # 1_Pooling without modules.json
    ({"embedding_dimension": 32, "pooling_mode": "lasttoken"}, True, ("last",)),
    ({"embedding_dimension": 32, "pooling_mode": ["cls", "max"]}, True, ("cls", "max")),
])
def test_read_model_pooling_reads_both_config_formats(tmp_path, tiny_model_dir, config,
                                                      modules, expected):
    folder = _st_folder(tmp_path, tiny_model_dir, config, modules=modules)
    declared = read_model_pooling(folder)
    assert declared.modes == expected
    assert declared.path == folder / "1_Pooling" / "config.json"


@pytest.mark.parametrize("config, message", [
    ({"pooling_mode_cls_token": "yes"}, "pooling_mode_cls_token.*true or false"),
    ({"pooling_mode": "median"}, "modes among"),
    ({"pooling_mode_mean_tokens": False}, "one pooling mode"),
])
def test_read_model_pooling_names_a_bad_config(tmp_path, tiny_model_dir, config, message):
    folder = _st_folder(tmp_path, tiny_model_dir, config)
    with pytest.raises(ValueError, match=message):
        read_model_pooling(folder)
    (folder / "1_Pooling" / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="config.json.*readable JSON"):
        read_model_pooling(folder)


def test_model_pooler_follows_the_declared_mode(tmp_path, tiny_model_dir, sample_texts):
    folder = _st_folder(tmp_path, tiny_model_dir, CLS_FLAGS)
    encoder = TokenEncoder(model=str(folder), device="cpu")
    pooler = ModelPooler(encoder=encoder)
    out = pooler.fit_transform(sample_texts)
    assert pooler.pooling_ == "cls" and pooler.pooling_config_.name == "config.json"
    np.testing.assert_array_equal(out, CLSPooler(encoder=encoder).fit_transform(sample_texts))
    assert pooler.get_feature_names_out()[0] == "cls_0"


@pytest.mark.slow
def test_model_pooler_of_the_bundled_model_is_mean_pooling():
    texts = ["A cat sat on the mat.", "Stocks fell."]
    encoder = TokenEncoder(device="cpu")
    pooler = ModelPooler(encoder=encoder)
    np.testing.assert_array_equal(pooler.fit_transform(texts),
                                  MeanPooler(encoder=encoder).fit_transform(texts))
    assert pooler.pooling_ == "mean"


def test_model_pooler_refuses_what_it_cannot_follow(tmp_path, tiny_model_dir, sample_texts):
    with pytest.raises(ValueError, match="encoder=TokenEncoder"):
        ModelPooler().fit(_clouds())
    with pytest.raises(ValueError, match="declares no pooling"):
        ModelPooler(encoder=TokenEncoder(model=str(tiny_model_dir))).fit(sample_texts)
    folder = _st_folder(tmp_path, tiny_model_dir, {"pooling_mode": ["cls", "max"]})
    with pytest.raises(ValueError, match=r"declares \['cls', 'max'\]"):
        ModelPooler(encoder=TokenEncoder(model=str(folder))).fit(sample_texts)


def test_mean_pooling_a_cls_model_warns_at_the_users_line(tmp_path, tiny_model_dir,
                                                           sample_texts):
    folder = _st_folder(tmp_path, tiny_model_dir, CLS_FLAGS)
    with pytest.warns(PoolingMismatchWarning,
                      match="trained with 'cls' pooling.*Use CLSPooler") as caught:
        MeanPooler(encoder=TokenEncoder(model=str(folder), device="cpu")).fit(sample_texts)
    assert caught[0].filename == __file__
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", PoolingMismatchWarning)
        CLSPooler(encoder=TokenEncoder(model=str(folder), device="cpu")).fit(sample_texts)
        MeanPooler(encoder=TokenEncoder(model=str(tiny_model_dir), device="cpu")).fit(
            sample_texts)                                       # declares no pooling
        MeanPooler().fit(_clouds())                             # no model to ask


# ---------------------------------------------------------------------------------------
# Concentration-matched SOCM
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_match_concentration_sets_every_spread_and_keeps_means(dtype):
    clouds = [cloud + 3.0 for cloud in _clouds(seed=1, n_texts=6, dtype=dtype)]
    clouds = [c for c in clouds if len(c) > 1]
    matched = match_concentration(clouds, spread=0.7)
    assert matched.dtype == dtype and matched.lengths.tolist() == [len(c) for c in clouds]
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(concentration(matched).spread, 0.7, rtol=tol)
    for cloud, new in zip(clouds, matched):
        mean = cloud.astype(np.float64).mean(axis=0)
        np.testing.assert_allclose(new.astype(np.float64).mean(axis=0),
                                   mean / np.linalg.norm(mean), atol=tol)


def test_matched_socm_removes_spread_but_keeps_shape():
    rng = np.random.default_rng(2)
    A = rng.normal(size=(8, 6)) + 2.0
    mu = A.mean(axis=0)
    wider = mu + 3.0 * (A - mu)            # same shape, nine times the spread
    other_shape = rng.normal(size=(8, 6)) * np.linspace(0.2, 2.0, 6) + 2.0
    assert socm(A, wider) > 1e-3
    same, widened = match_concentration([A, wider])
    assert socm(same, widened) == pytest.approx(0.0, abs=1e-9)
    one, two = match_concentration([A, other_shape])
    assert socm(one, two) > 1e-3


def test_matched_mean_socm_uses_the_pairs_of_mean_socm():
    clouds = [cloud + 2.0 for cloud in _clouds(seed=3, n_texts=9)]
    clouds = [c for c in clouds if len(c) > 1]
    matched_tokens = match_concentration(clouds, spread=1.5)
    result = matched_mean_socm(clouds, spread=1.5, n_pairs=10, random_state=4)
    reference = mean_socm(matched_tokens, n_pairs=10, random_state=4)
    assert result.mean == pytest.approx(reference.mean, rel=1e-12)
    assert result.n_trace_violations == 0
    assert matched_mean_socm(clouds, spread=2.5).n_trace_violations == len(clouds)


def test_match_concentration_names_bad_input():
    good = np.array([[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match=r"tokens\[1\] \(text 1\) has tr Sigma = 0"):
        match_concentration([good, np.array([[1.0, 2.0]])])
    with pytest.raises(ValueError, match=r"tokens\[0\] \(text 0\).*norm 0"):
        match_concentration([np.array([[1.0, 0.0], [-1.0, 0.0]]), good])
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match=r"'spread' parameter of match_concentration must "
                                             r"be a float in the range \(0.0, inf\)"):
            match_concentration([good], spread=bad)
    for bad in ("1", True):
        with pytest.raises(TypeError, match=r"'spread' .* Got (True|'1') instead"):
            match_concentration([good], spread=bad)
