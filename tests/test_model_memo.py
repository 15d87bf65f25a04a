"""A run served wholly from the token cache loads no model (and imports no torch).

The cache remembers a model folder's facts (fingerprint, layer count, ...)
keyed by the folder's files; a changed file or a corrupt memo means the
model loads again, and a user's object is never remembered.
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from skpool import TokenEncoder
from skpool.encoder import _torch, clear_model_cache
from skpool.encoder._cache import read_model_memo

TEXTS = ["the cat sat on the mat", "a dog ran in the park", "the bird sang"]


@pytest.fixture
def model_copy(tiny_model_dir, tmp_path):
    """A private copy of the tiny model, so its files can be changed."""
    return shutil.copytree(tiny_model_dir, tmp_path / "model")


def _memo_files(cache):
    return sorted((cache / "skpool-models-v1").glob("*.json"))


def _count_loads(monkeypatch):
    calls = []
    real = _torch.load

    def counting(*args, **kwargs):
        calls.append(args[0].location)
        return real(*args, **kwargs)

    monkeypatch.setattr(_torch, "load", counting)
    return calls


def test_cached_transform_does_not_load_the_model(model_copy, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = TokenEncoder(model=str(model_copy), device="cpu", cache=cache).transform(TEXTS)
    calls = _count_loads(monkeypatch)
    clear_model_cache()  # a load would have to come from disk
    encoder = TokenEncoder(model=str(model_copy), device="cpu", cache=cache)
    again = encoder.transform(TEXTS)
    assert calls == []
    np.testing.assert_array_equal(again.data, first.data)
    np.testing.assert_array_equal(again.offsets, first.offsets)
    assert (encoder.n_layers_, encoder.embedding_dim_) == (2, 32)
    # a miss, or reading model_, loads it then
    encoder.transform(["the mat ran"])
    assert calls == [str(model_copy)]
    assert encoder.model_.config.hidden_size == 32 and encoder.device_ == "cpu"


def test_changed_weights_never_share_entries(model_copy, tmp_path, tiny_model_builder,
                                             monkeypatch):
    cache = tmp_path / "cache"
    first = TokenEncoder(model=str(model_copy), device="cpu", cache=cache).transform(TEXTS)
    before = read_model_memo(cache, model_copy)["fingerprint"]
    tiny_model_builder(model_copy, seed=1)  # same shapes and names, other weights
    calls = _count_loads(monkeypatch)
    clear_model_cache()
    changed = TokenEncoder(model=str(model_copy), device="cpu", cache=cache).transform(TEXTS)
    assert calls == [str(model_copy)]
    reference = TokenEncoder(model=str(model_copy), device="cpu").transform(TEXTS)
    np.testing.assert_allclose(changed.data, reference.data, rtol=1e-5, atol=1e-6)
    assert not np.allclose(changed.data, first.data)
    assert read_model_memo(cache, model_copy)["fingerprint"] != before


def test_a_model_rewritten_in_place_is_loaded_again_in_the_same_process(
        model_copy, tmp_path, tiny_model_builder, monkeypatch):
    # no clear_model_cache() here: a notebook retrains into the same folder and encodes again
    encoder = TokenEncoder(model=str(model_copy), device="cpu")
    first = encoder.transform(TEXTS)
    assert TokenEncoder(model=str(model_copy), device="cpu").transform(TEXTS).data.tolist() \
        == first.data.tolist()  # unchanged folder: the loaded model is reused
    calls = _count_loads(monkeypatch)
    tiny_model_builder(model_copy, seed=1)  # same shapes and names, other weights
    other = TokenEncoder(model=str(model_copy), device="cpu")
    fresh = other.transform(TEXTS)
    again = encoder.fit(TEXTS).transform(TEXTS)  # the same instance, fitted again
    assert calls == [str(model_copy)] * 2
    assert encoder.model_ is other.model_  # one load of the new weights, shared by both
    # and the old weights are not kept
    held = [key for key in _torch._LOADED if key[0][1] == str(model_copy)]
    assert held == [(encoder._source.key, "cpu")]
    assert not np.allclose(fresh.data, first.data)
    np.testing.assert_array_equal(again.data, fresh.data)
    clear_model_cache()
    reference = TokenEncoder(model=str(model_copy), device="cpu").transform(TEXTS)
    np.testing.assert_allclose(fresh.data, reference.data, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("damage", ["fingerprint", "garbage", "empty"])
def test_corrupt_memo_is_recomputed(model_copy, tmp_path, monkeypatch, damage):
    cache = tmp_path / "cache"
    TokenEncoder(model=str(model_copy), device="cpu", cache=cache).transform(TEXTS)
    [memo] = _memo_files(cache)
    right = read_model_memo(cache, model_copy)
    if damage == "fingerprint":  # a changed value, the checksum left as it was
        content = json.loads(memo.read_text())
        content["body"]["values"]["fingerprint"] = "0" * 64
        memo.write_text(json.dumps(content))
    elif damage == "garbage":
        memo.write_bytes(b"\x00\xff{not json")
    else:
        memo.write_bytes(b"")
    assert read_model_memo(cache, model_copy) is None
    calls = _count_loads(monkeypatch)
    clear_model_cache()
    TokenEncoder(model=str(model_copy), device="cpu", cache=cache).transform(TEXTS)
    assert calls == [str(model_copy)]
    assert read_model_memo(cache, model_copy) == right


def test_model_object_is_never_remembered(tiny_model_dir, tmp_path):
    from transformers import AutoModel, AutoTokenizer

    pair = (AutoModel.from_pretrained(tiny_model_dir), AutoTokenizer.from_pretrained(
        tiny_model_dir))
    cache = tmp_path / "cache"
    TokenEncoder(model=pair, cache=cache).transform(TEXTS)
    assert _memo_files(cache) == []
    assert any((cache / "skpool-tokens-v1").rglob("*.npz"))


def test_cached_report_imports_no_torch(model_copy, tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false")
    argv = [sys.executable, "-X", "importtime", "-m", "skpool", "report", "-n", "12",
            "--model", str(model_copy), "--cache", str(tmp_path / "cache"), "--quiet"]
    runs = [subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
            for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stderr[-2000:]
    imported = [{line.rsplit("|", 1)[-1].strip().split(".")[0]
                 for line in run.stderr.splitlines() if line.startswith("import time:")}
                for run in runs]
    assert "torch" in imported[0]  # the first run encodes
    assert "torch" not in imported[1] and "transformers" not in imported[1]
    assert runs[1].stdout == runs[0].stdout
