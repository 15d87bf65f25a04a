"""Model sources: what ``TokenEncoder(model=...)`` takes, and the identity of a model.

One place (``skpool.encoder.sources``) turns a bundled name, a folder, a hub
id with a revision (read offline from a Hugging Face cache these tests
build), a ``SentenceTransformer`` object or a ``(model, tokenizer)`` pair
into a model. Checked against sentence-transformers' own token embeddings and
against the folder the objects were loaded from; the same weights reached two
ways share a cache entry, different weights never do; a dask/joblib worker
whose model differs from the driver's is refused.
"""

from __future__ import annotations

import copy
import os
import pickle
import shutil

import numpy as np
import pytest
from sklearn.base import clone

from skpool import MeanPooler, ModelPooler, TokenEncoder
from skpool.encoder import clear_model_cache, encode_to_store
from skpool.encoder.sources import ModelReference, resolve_model

torch = pytest.importorskip("torch")
st_module = pytest.importorskip("sentence_transformers")
SentenceTransformer = st_module.SentenceTransformer

try:  # sentence-transformers >= 6
    from sentence_transformers.sentence_transformer import modules as st_modules
except ImportError:  # earlier versions
    from sentence_transformers import models as st_modules

TEXTS = ["The cat sat on the mat.", "A dog runs.", "good news !",
         "she told the story of a young man who found love in the city ."]


def _entries(folder):
    return sorted(p.relative_to(folder) for p in folder.rglob("*.npz"))


def _same_tokens(a, b, tol=0.0):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.shape == y.shape
        np.testing.assert_allclose(x, y, rtol=0, atol=tol)


@pytest.fixture(scope="module")
def other_model_dir(tmp_path_factory, tiny_model_builder):
    """The tiny model's architecture and tokenizer with other weights (seed 1)."""
    return tiny_model_builder(tmp_path_factory.mktemp("tiny-bert-seed1"), seed=1)


# ---------------------------------------------------------------------------------------
# A SentenceTransformer object
# ---------------------------------------------------------------------------------------
def test_sentence_transformer_object_matches_its_token_embeddings(tiny_model_dir):
    st = SentenceTransformer(str(tiny_model_dir), device="cpu")
    tokens = TokenEncoder(st).fit_transform(TEXTS)
    reference = st.encode(TEXTS, output_value="token_embeddings")
    for i, expected in enumerate(reference):
        np.testing.assert_allclose(tokens[i], expected.numpy(), rtol=0, atol=1e-5)


def test_sentence_transformer_object_shares_the_folders_cache_entry(tiny_model_dir, tmp_path):
    cache = tmp_path / "cache"
    by_path = TokenEncoder(str(tiny_model_dir), device="cpu", cache=cache)
    first = by_path.fit_transform(TEXTS)
    written = _entries(cache)
    assert len(written) == len(TEXTS)

    st = SentenceTransformer(str(tiny_model_dir), device="cpu")
    by_object = TokenEncoder(st, cache=cache).fit()
    assert by_object._token_cache().root == by_path._token_cache().root
    by_object._loaded = _NoForward(by_object._loaded)  # a hit must not run the model
    _same_tokens(by_object.transform(TEXTS), first)
    assert _entries(cache) == written


class _NoForward:
    """A loaded model whose forward pass fails: proves a result came from the cache."""

    def __init__(self, loaded):
        self._inner = loaded

    def __getattr__(self, name):
        if name == "model":
            raise AssertionError("the model ran although every text was cached")
        return getattr(self._inner, name)


@pytest.mark.filterwarnings("ignore:Texts longer than max_length=16")
def test_object_max_seq_length_and_pooling_follow_the_object(tiny_model_dir):
    models = st_modules
    transformer = models.Transformer(str(tiny_model_dir), max_seq_length=16)
    pooling = models.Pooling(transformer.get_embedding_dimension(), pooling_mode="cls")
    st = SentenceTransformer(modules=[transformer, pooling], device="cpu")

    encoder = TokenEncoder(st).fit()
    assert encoder.max_length_ == 16
    pooler = ModelPooler(encoder=encoder)
    vectors = pooler.fit_transform(TEXTS)
    assert pooler.pooling_ == "cls" and pooler.pooling_config_ is None
    np.testing.assert_allclose(vectors, st.encode(TEXTS), rtol=0, atol=1e-5)
    with pytest.warns(UserWarning, match=r"trained with 'cls' pooling \(its Pooling module\)"):
        MeanPooler(encoder=TokenEncoder(st)).fit_transform(TEXTS)


def test_object_in_training_mode_is_encoded_in_eval_mode_and_given_back(tiny_model_dir):
    st = SentenceTransformer(str(tiny_model_dir), device="cpu")
    expected = TokenEncoder(st).fit_transform(TEXTS)
    st.train()
    _same_tokens(TokenEncoder(st).fit_transform(TEXTS), expected)  # no dropout
    assert st[0].auto_model.training


def test_changed_object_weights_get_another_cache_entry(tiny_model_dir, tmp_path):
    st = SentenceTransformer(str(tiny_model_dir), device="cpu")
    encoder = TokenEncoder(st, cache=tmp_path).fit()
    before = encoder._token_cache().root
    first = encoder.transform(TEXTS)
    with torch.no_grad():  # an in-place update, as an optimizer step makes
        st[0].auto_model.embeddings.word_embeddings.weight.mul_(1.5)
    assert encoder._token_cache().root != before
    changed = encoder.transform(TEXTS)
    assert not np.allclose(changed[0], first[0])
    reference = st.encode(TEXTS, output_value="token_embeddings")
    np.testing.assert_allclose(changed[0], reference[0].numpy(), rtol=0, atol=1e-5)


def test_object_with_modules_that_change_tokens_is_refused(tiny_model_dir):
    models = st_modules
    transformer = models.Transformer(str(tiny_model_dir))
    dim = transformer.get_embedding_dimension()
    st = SentenceTransformer(modules=[transformer, models.Dropout(0.5),
                                      models.Pooling(dim)], device="cpu")
    with pytest.raises(ValueError, match=r"change the token embeddings \(\['Dropout'\]\)"):
        TokenEncoder(st).fit()


def test_object_device_must_be_its_own(tiny_model_dir):
    st = SentenceTransformer(str(tiny_model_dir), device="cpu")
    assert TokenEncoder(st, device="cpu").fit().device_ == "cpu"
    assert TokenEncoder(st).fit().device_ == "cpu"  # "auto": where the object is
    if torch.cuda.is_available():
        with pytest.raises(ValueError, match="does not move it"):
            TokenEncoder(st, device="cuda").fit()


# ---------------------------------------------------------------------------------------
# A (model, tokenizer) pair
# ---------------------------------------------------------------------------------------
def test_model_tokenizer_pair_matches_the_folder(tiny_model_dir, tmp_path):
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(str(tiny_model_dir))
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    by_pair = TokenEncoder((model, tokenizer), cache=tmp_path)
    by_path = TokenEncoder(str(tiny_model_dir), device="cpu", cache=tmp_path)
    unused = by_pair.fit()._fingerprint()
    _same_tokens(by_pair.transform(TEXTS), by_path.fit_transform(TEXTS), tol=1e-6)
    # tokenizing sets the tokenizer's truncation: not part of its identity
    assert by_pair._fingerprint() == unused == by_path._fingerprint()
    assert by_pair.model_name_ == f"BertModel({tiny_model_dir})"
    assert by_pair.model_path_ is None and by_pair.n_layers_ == 2


def test_pair_errors_are_short_and_say_what_was_expected(tiny_model_dir):
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(str(tiny_model_dir))
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    with pytest.raises(TypeError, match="in that order") as swapped:
        TokenEncoder((tokenizer, model)).fit()
    with pytest.raises(TypeError, match="without its tokenizer") as alone:
        TokenEncoder(model).fit()
    with pytest.raises(TypeError, match="Expected model to be a bundled name") as other:
        TokenEncoder(np.zeros(10_000)).fit()
    for caught in (swapped, alone, other):
        assert len(str(caught.value)) < 400
        assert "Embedding(" not in str(caught.value)  # never the model's repr


# ---------------------------------------------------------------------------------------
# Hub ids with a revision, offline from a local Hugging Face cache
# ---------------------------------------------------------------------------------------
@pytest.fixture
def hub_cache(tmp_path, monkeypatch, tiny_model_dir, other_model_dir):
    """``models--skpool--tiny`` with ``main`` (seed 0) and tag ``v1`` (seed 1)."""
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    repo = cache / "models--skpool--tiny"
    commits = {"main": "a" * 40, "v1": "b" * 40}
    for ref, source in (("main", tiny_model_dir), ("v1", other_model_dir)):
        shutil.copytree(source, repo / "snapshots" / commits[ref])
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / ref).write_text(commits[ref])
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache, commits


def test_hub_id_with_revision_reads_the_cache_offline(hub_cache, tiny_model_dir,
                                                      other_model_dir):
    cache, commits = hub_cache
    main = TokenEncoder("skpool/tiny", device="cpu").fit()
    assert main.model_path_ == str(cache / "models--skpool--tiny" / "snapshots" / commits["main"])
    tagged = TokenEncoder("skpool/tiny", revision="v1", device="cpu").fit()
    by_commit = TokenEncoder("skpool/tiny", revision=commits["v1"], device="cpu").fit()
    assert tagged.model_name_ == "skpool/tiny@v1"
    spelled = TokenEncoder("skpool/tiny@v1", device="cpu").fit()  # as --model takes it
    assert spelled.model_path_ == tagged.model_path_ and spelled.model_name_ == "skpool/tiny@v1"
    with pytest.raises(ValueError, match="one revision"):
        resolve_model("skpool/tiny@v1", revision="main")
    assert tagged.model_path_ == by_commit.model_path_ != main.model_path_

    _same_tokens(main.transform(TEXTS),
                 TokenEncoder(str(tiny_model_dir), device="cpu").fit_transform(TEXTS))
    _same_tokens(tagged.transform(TEXTS),
                 TokenEncoder(str(other_model_dir), device="cpu").fit_transform(TEXTS))
    assert main._fingerprint() != tagged._fingerprint() == by_commit._fingerprint()


def test_hub_id_missing_from_the_cache_names_the_cache_and_the_command(hub_cache):
    cache, _ = hub_cache
    with pytest.raises(ValueError, match="hf download skpool/tiny --revision v9") as caught:
        TokenEncoder("skpool/tiny", revision="v9", device="cpu").fit()
    assert str(cache) in str(caught.value)
    with pytest.raises(ValueError, match="hf download skpool/absent$|hf download skpool/absent "):
        TokenEncoder("skpool/absent", device="cpu").fit()


def test_revision_is_only_for_hub_ids(tiny_model_dir):
    with pytest.raises(ValueError, match="revision=None for the local folder"):
        TokenEncoder(str(tiny_model_dir), revision="main").fit()
    with pytest.raises(ValueError, match="revision=None for the bundled model"):
        resolve_model("all-MiniLM-L6-v2", revision="main")


# ---------------------------------------------------------------------------------------
# Identity: same weights share, different weights never do
# ---------------------------------------------------------------------------------------
def test_different_weights_never_share_a_cache_entry(tiny_model_dir, other_model_dir,
                                                     tmp_path):
    copy_dir = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, copy_dir)
    cache = tmp_path / "cache"
    roots = {name: TokenEncoder(str(path), device="cpu", cache=cache).fit()._token_cache().root
             for name, path in [("tiny", tiny_model_dir), ("copy", copy_dir),
                                ("seed1", other_model_dir)]}
    assert roots["tiny"] == roots["copy"]  # the same weights in another folder
    assert roots["seed1"] != roots["tiny"]


def test_a_changed_tokenizer_or_config_changes_the_identity(tiny_model_dir, tmp_path):
    base = TokenEncoder(str(tiny_model_dir), device="cpu").fit()._fingerprint()
    folder = tmp_path / "eps"
    shutil.copytree(tiny_model_dir, folder)
    config = (folder / "config.json").read_text()
    (folder / "config.json").write_text(config.replace('"layer_norm_eps": 1e-12',
                                                       '"layer_norm_eps": 1e-05'))
    assert (folder / "config.json").read_text() != config
    assert TokenEncoder(str(folder), device="cpu").fit()._fingerprint() != base

    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(str(tiny_model_dir))
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir), do_lower_case=False)
    assert TokenEncoder((model, tokenizer)).fit()._fingerprint() != base


# ---------------------------------------------------------------------------------------
# Clones and pickles of an encoder built from an object
# ---------------------------------------------------------------------------------------
def test_object_is_shared_by_clones_copies_and_pickles_in_its_process(tiny_model_dir):
    st = SentenceTransformer(str(tiny_model_dir), device="cpu")
    encoder = TokenEncoder(st, layer=1)
    assert clone(encoder).model is st and clone(encoder).layer == 1
    assert copy.deepcopy(encoder).model is st
    assert pickle.loads(pickle.dumps(encoder)).model is st
    assert len(pickle.dumps(encoder)) < 2_000  # a reference, not the weights


def test_pickled_object_encoder_elsewhere_raises_a_clear_error(tiny_model_dir):
    st = SentenceTransformer(str(tiny_model_dir), device="cpu")
    state = TokenEncoder(st).__getstate__()
    reference = state["model"]
    assert isinstance(reference, ModelReference)
    # what another process finds: a reference whose process is not this one
    elsewhere = ModelReference(reference.name, os.getpid() + 1, reference.token)
    encoder = TokenEncoder.__new__(TokenEncoder)
    encoder.__setstate__(dict(state, model=elsewhere))
    with pytest.raises(ValueError, match=r"in-memory model SentenceTransformer\(.*tiny-bert"
                                         r".*unpickled where that object does not exist"):
        encoder.fit()


# ---------------------------------------------------------------------------------------
# Workers check the driver's model
# ---------------------------------------------------------------------------------------
def test_worker_with_another_model_is_refused_by_name(tiny_model_dir, tiny_model_builder,
                                                     tmp_path):
    from skpool._store import PartitionedStore, texts_digest
    from skpool.encoder import _distributed

    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    encoder = TokenEncoder(str(folder), device="cpu")
    store = PartitionedStore(tmp_path / "store", model=_distributed._model_identity(encoder),
                             texts_sha256=texts_digest(TEXTS), bounds=np.array([0, 2, 4]))
    store.open()
    # the worker's copy of the folder holds other weights (seed 1)
    shutil.rmtree(folder)
    tiny_model_builder(folder, seed=1)
    clear_model_cache()
    worker = pickle.loads(pickle.dumps(encoder))
    with pytest.raises(ValueError, match=rf"The model '{folder}' loaded on worker .* is not "
                                         r"the driver's.*Partition 1 was not written"):
        _distributed._encode_partition(worker, store, 1, TEXTS[2:])
    assert not store.complete()


def test_encode_to_store_from_an_object_matches_the_folder(tiny_model_dir, tmp_path):
    st = SentenceTransformer(str(tiny_model_dir), device="cpu")
    by_object = encode_to_store(TEXTS, tmp_path / "a", TokenEncoder(st), partition_size=2)
    by_path = encode_to_store(TEXTS, tmp_path / "b", TokenEncoder(str(tiny_model_dir),
                                                                 device="cpu"),
                              partition_size=2)
    _same_tokens(by_object, by_path, tol=1e-6)


# ---------------------------------------------------------------------------------------
# The real model
# ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_real_sentence_transformer_object(bundled_model_path, tmp_path):
    st = SentenceTransformer(str(bundled_model_path), device="cpu")
    texts = ["A man is playing a guitar.", "The stock market fell sharply on Monday.",
             "Dogs bark at night.", "She reads a long novel about the sea and its storms."]
    by_object = TokenEncoder(st, cache=tmp_path)
    tokens = by_object.fit_transform(texts)
    for i, expected in enumerate(st.encode(texts, output_value="token_embeddings")):
        np.testing.assert_allclose(tokens[i], expected.numpy(), rtol=0, atol=1e-5)
    by_name = TokenEncoder("all-MiniLM-L6-v2", device="cpu", cache=tmp_path).fit()
    assert by_name._token_cache().root == by_object._token_cache().root
    assert by_object.max_length_ == by_name.max_length_ == 256
    pooled = ModelPooler(encoder=by_object).fit_transform(texts)
    # the model's Normalize module scales its sentence embeddings to unit length
    pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
    np.testing.assert_allclose(pooled, st.encode(texts), rtol=0, atol=1e-5)
