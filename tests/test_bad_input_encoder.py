"""Bad inputs and faults of the encoder: each ends in a clear error or a correct result.

Three tables, one row per case: (case, call, expected error type, fragment of
its message).

- model folders: missing or foreign tokenizer files, truncated or emptied
  weights, a broken config, a file for a folder, unknown names;
- encoder arguments: texts, parameters, layers;
- the on-disk token cache: every damaged entry is encoded again, rewritten,
  and named in one warning; the result equals a fresh encoding.

A clear error is a ``ValueError`` or ``TypeError`` raised by skpool whose
message names what was expected and the folder, file, argument or text index
at fault; never a raw error from transformers, safetensors, torch or zipfile.
"""

from __future__ import annotations

import os
import shutil
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from joblib import Memory

from skpool.encoder import TokenEncoder, TruncationWarning, clear_model_cache

# ---------------------------------------------------------------------------------------
# Model folders
# ---------------------------------------------------------------------------------------


def _copy_of(tiny: Path, target: Path, *, drop=(), keep_only=None) -> Path:
    shutil.copytree(tiny, target)
    for entry in target.iterdir():
        if entry.name in drop or (keep_only is not None and entry.name not in keep_only):
            entry.unlink()
    return target


def _truncate(path: Path, fraction: float) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * fraction)])


def _flip_header_bytes(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for i in range(8, 40):  # inside the JSON header that follows the length
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def _no_tokenizer(tiny, tmp):
    return _copy_of(tiny, tmp / "m", keep_only={"config.json", "model.safetensors"})


def _tokenizer_config_only(tiny, tmp):
    # tokenizer_config.json names BertTokenizer, but its vocabulary files are gone
    return _copy_of(tiny, tmp / "m", drop={"tokenizer.json", "vocab.txt"})


def _foreign_larger_tokenizer(tiny, tmp):
    # a tokenizer whose ids run past the model's embedding matrix
    folder = _copy_of(tiny, tmp / "m")
    config = (folder / "config.json").read_text()
    (folder / "config.json").write_text(config.replace('"vocab_size": 120', '"vocab_size": 60'))
    return folder


def _truncated_weights(tiny, tmp):
    folder = _copy_of(tiny, tmp / "m")
    _truncate(folder / "model.safetensors", 0.5)
    return folder


def _empty_weights(tiny, tmp):
    folder = _copy_of(tiny, tmp / "m")
    (folder / "model.safetensors").write_bytes(b"")
    return folder


def _flipped_weights(tiny, tmp):
    folder = _copy_of(tiny, tmp / "m")
    _flip_header_bytes(folder / "model.safetensors")
    return folder


def _no_weights(tiny, tmp):
    return _copy_of(tiny, tmp / "m", drop={"model.safetensors"})


def _broken_config(tiny, tmp):
    folder = _copy_of(tiny, tmp / "m")
    (folder / "config.json").write_text('{"model_type": "bert", ')
    return folder


def _config_of_another_size(tiny, tmp):
    # config.json edited (hidden_size), the weights intact: not a truncated file
    folder = _copy_of(tiny, tmp / "m")
    config = (folder / "config.json").read_text()
    (folder / "config.json").write_text(config.replace('"hidden_size": 32', '"hidden_size": 48'))
    return folder


def _no_config(tiny, tmp):
    return _copy_of(tiny, tmp / "m", drop={"config.json"})


def _a_file(tiny, tmp):
    path = tmp / "model.bin"
    path.write_bytes(b"not a folder")
    return path


MODEL_FOLDERS = [
    ("no tokenizer files", _no_tokenizer, ValueError,
     "holds none of the tokenizer files"),
    ("tokenizer config without its vocabulary", _tokenizer_config_only, ValueError,
     "built a tokenizer of 5 tokens"),
    ("tokenizer larger than the model", _foreign_larger_tokenizer, ValueError,
     "does not fit its model"),
    ("truncated model.safetensors", _truncated_weights, ValueError,
     "Could not read the weights of the model folder"),
    ("zero-byte model.safetensors", _empty_weights, ValueError,
     r"model.safetensors \(0 bytes\)"),
    ("flipped bytes in the weights header", _flipped_weights, ValueError,
     "probably truncated or corrupt"),
    ("no weights file", _no_weights, ValueError, "no weights file"),
    ("config.json is not JSON", _broken_config, ValueError, "Could not load the model folder"),
    ("config.json with another hidden_size", _config_of_another_size, ValueError,
     r"do not fit its config.json \(hidden_size=48.*word_embeddings.weight is \[120, 32\] in "
     r"the weights, \[120, 48\] by config.json.*config.json was edited"),
    ("no config.json", _no_config, ValueError, "has no config.json"),
    ("a file, not a folder", _a_file, ValueError, "which is a file, not a folder"),
]


@pytest.mark.parametrize("case, make, error, fragment", MODEL_FOLDERS,
                         ids=[row[0] for row in MODEL_FOLDERS])
def test_bad_model_folder(case, make, error, fragment, tiny_model_dir, tmp_path):
    folder = make(tiny_model_dir, tmp_path)
    clear_model_cache()
    with pytest.raises(error, match=fragment) as caught:
        TokenEncoder(str(folder), device="cpu").fit_transform(["a dog"])
    # The message names the folder (or file) at fault, whatever else it says.
    assert folder.name in str(caught.value)


def test_unknown_model_name_lists_bundled_names():
    with pytest.raises(ValueError, match=r"neither a bundled name \('all-MiniLM-L6-v2', "
                                         r"'sentence-transformers/all-MiniLM-L6-v2', "
                                         r"'all-mpnet-base-v2', .*\).*local"):
        TokenEncoder("nobody/no-such-model-skpool", device="cpu").fit()


# ---------------------------------------------------------------------------------------
# Encoder arguments
# ---------------------------------------------------------------------------------------

ARGUMENTS = [
    # (case, params, call(encoder), error, fragment)
    ("empty corpus", {}, lambda e: e.fit_transform([]), ValueError,
     "at least one text. Received an empty corpus"),
    ("None among texts", {}, lambda e: e.fit_transform(["ok", None]), TypeError,
     "Received NoneType None at index 1"),
    ("number among texts", {}, lambda e: e.fit_transform(["ok", "fine", 3.5]), TypeError,
     "Received float 3.5 at index 2"),
    ("bytes", {}, lambda e: e.fit_transform([b"bytes"]), TypeError, "at index 0"),
    ("one string", {}, lambda e: e.fit_transform("one string"), TypeError, "wrap it in a list"),
    ("lone surrogate", {}, lambda e: e.fit_transform(["ok", "abc\ud800def"]), ValueError,
     "index 1"),
    ("no token left after exclude", {"special_tokens": "exclude"},
     lambda e: e.fit_transform(["a dog", "a cat", ""]), ValueError,
     r"Text 2 has no tokens left after special_tokens='exclude'"),
    ("layer too deep", {"layer": 3}, lambda e: e.fit(), ValueError,
     r"must be an int in \[-3, 2\]: the model has 2 layers.*Got 3"),
    ("layer too negative", {"layer": -4}, lambda e: e.fit(), ValueError, "Got -4 instead"),
    ("layer a bool", {"layer": True}, lambda e: e.fit(), TypeError,
     "'layer' parameter of TokenEncoder must be an int"),
    ("layer a float", {"layer": 1.0}, lambda e: e.fit(), ValueError,
     "'layer' parameter of TokenEncoder must be an int"),
    ("batch_size 0", {"batch_size": 0}, lambda e: e.fit(), ValueError,
     r"'batch_size' parameter of TokenEncoder must be an int in the range \[1, inf\). Got 0"),
    ("special_tokens unknown", {"special_tokens": "drop"}, lambda e: e.fit(), ValueError,
     "Got 'drop'"),
    ("max_length past the positions", {"max_length": 65}, lambda e: e.fit(), ValueError,
     "must be at most 64 .* Got 65"),
    ("max_length below the special tokens", {"max_length": 2}, lambda e: e.fit(), ValueError,
     "must be at least 3 .* Got 2"),
    ("max_length 0", {"max_length": 0}, lambda e: e.fit(), ValueError, "'max_length' parameter"),
    ("device gpu", {"device": "gpu"}, lambda e: e.fit(), ValueError,
     "'device' parameter .* Got 'gpu'"),
    ("progress a string", {"progress": "yes"}, lambda e: e.fit(), ValueError,
     "'progress' parameter"),
    ("cache a number", {"cache": 3}, lambda e: e.fit(), ValueError, "'cache' parameter"),
    ("layers out of range", {}, lambda e: e.transform_layers(["a"], layers=[0, 7]), ValueError,
     r"layers argument of transform_layers.*Got 7"),
    ("layers an int", {}, lambda e: e.transform_layers(["a"], layers=1), TypeError,
     "sequence of ints"),
    ("layers empty", {}, lambda e: e.transform_layers(["a"], layers=[]), ValueError,
     "at least one layer"),
    ("feature names before fit", {}, lambda e: e.get_feature_names_out(), Exception,
     "not fitted"),
]


@pytest.mark.parametrize("case, params, call, error, fragment", ARGUMENTS,
                         ids=[row[0] for row in ARGUMENTS])
def test_bad_argument(case, params, call, error, fragment, tiny_encoder_params):
    encoder = TokenEncoder(**{**tiny_encoder_params, **params})
    with pytest.raises(error, match=fragment):
        call(encoder)


# ---------------------------------------------------------------------------------------
# The on-disk token cache
# ---------------------------------------------------------------------------------------

TEXTS = ["the cat sat on the mat .", "a dog runs", "good news !"]


def _entry(folder: Path, layer: int = 2) -> Path:
    """The cache file of TEXTS[0] at ``layer`` (the tiny model's last layer is 2)."""
    from skpool.encoder._cache import TokenCache

    key = TokenCache.text_key(TEXTS[0])
    found = list(folder.rglob(f"{key}-{layer}.npz"))
    assert len(found) == 1
    return found[0]


def _rewrite(path: Path, **arrays) -> None:
    with open(path, "wb") as stream:
        np.savez(stream, **arrays)


def _stored(path):
    with np.load(path) as stored:
        return stored["tokens"], stored["truncated"]


CACHE_DAMAGE = [
    ("truncated file", lambda p: _truncate(p, 0.5), "unreadable"),
    ("zero bytes", lambda p: p.write_bytes(b""), "unreadable"),
    ("flipped bytes", lambda p: p.write_bytes(bytes(b ^ 0x5A for b in p.read_bytes())),
     "unreadable"),
    ("NaN inside", lambda p: _rewrite(p, tokens=np.where(True, np.nan, _stored(p)[0]),
                                      truncated=_stored(p)[1]), "NaN"),
    ("wrong dimension", lambda p: _rewrite(p, tokens=_stored(p)[0][:, :7],
                                           truncated=_stored(p)[1]), "holds shape"),
    ("more rows than max_length",
     lambda p: _rewrite(p, tokens=np.zeros((65, 32), np.float32), truncated=_stored(p)[1]),
     "holds shape"),
    ("float64", lambda p: _rewrite(p, tokens=_stored(p)[0].astype(np.float64),
                                   truncated=_stored(p)[1]), "float64"),
    ("no truncation flag", lambda p: _rewrite(p, tokens=_stored(p)[0]), "unreadable"),
    ("truncation flag not a bool", lambda p: _rewrite(p, tokens=_stored(p)[0],
                                                      truncated=np.arange(3)), "truncation flag"),
    ("a pickled object", lambda p: np.save(open(p, "wb"), np.array([{}], dtype=object)),
     "unreadable"),
]


@pytest.mark.parametrize("case, damage, reason", CACHE_DAMAGE, ids=[r[0] for r in CACHE_DAMAGE])
def test_damaged_cache_entry_is_encoded_again_and_named_once(case, damage, reason,
                                                             tiny_encoder_params, tmp_path):
    encoder = TokenEncoder(**tiny_encoder_params, cache=tmp_path)
    fresh = encoder.fit_transform(TEXTS)
    path = _entry(tmp_path)
    damage(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = encoder.transform(TEXTS)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1, messages
    assert str(path) in messages[0] and reason in messages[0]
    assert caught[0].filename == __file__
    np.testing.assert_array_equal(again.offsets, fresh.offsets)
    np.testing.assert_allclose(again.data, fresh.data, rtol=1e-5, atol=1e-6)
    # Rewritten: the next call reads it back without a warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert encoder.transform(TEXTS) == again
    assert _stored(path)[0].dtype == np.float32


def test_cache_layers_of_different_lengths_are_encoded_again(tiny_encoder_params, tmp_path):
    encoder = TokenEncoder(**tiny_encoder_params, cache=tmp_path)
    fresh = encoder.transform_layers(TEXTS, layers=[1, 2])
    path = _entry(tmp_path, layer=1)
    tokens, flag = _stored(path)
    _rewrite(path, tokens=tokens[:-1], truncated=flag)
    with pytest.warns(UserWarning, match="different token counts"):
        again = encoder.transform_layers(TEXTS, layers=[1, 2])
    for layer in (1, 2):
        np.testing.assert_allclose(again[layer].data, fresh[layer].data, rtol=1e-5, atol=1e-6)


def test_orphaned_temporary_files_are_removed(tiny_encoder_params, tmp_path):
    from skpool.encoder import _cache

    encoder = TokenEncoder(**tiny_encoder_params, cache=tmp_path)
    encoder.fit_transform(TEXTS)
    folder = _entry(tmp_path).parent
    old = folder / "abc-2.q1w2e3.1.tmp"          # written long ago
    dead = folder / "abc-2.r4t5y6.999999999.tmp"  # by a process that no longer runs
    live = folder / f"abc-2.u7i8o9.{os.getpid()}.tmp"  # being written by this process
    for temp in (old, dead, live):
        temp.write_bytes(b"partial")
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    _cache._SWEPT.clear()  # a new run: the first use of the folder sweeps it
    again = encoder.transform(TEXTS)
    assert not old.exists() and not dead.exists() and live.exists()
    assert len(again) == 3


def test_cache_folder_that_cannot_be_written_gives_a_warning_and_the_right_result(
        tiny_encoder_params, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    plain = TokenEncoder(**tiny_encoder_params).fit_transform(TEXTS)
    with pytest.warns(UserWarning, match="Could not write to the token cache"):
        cached = TokenEncoder(**tiny_encoder_params, cache=blocker).fit_transform(TEXTS)
    np.testing.assert_allclose(cached.data, plain.data, rtol=1e-5, atol=1e-6)


def test_memory_lends_only_its_folder(tiny_encoder_params, tmp_path):
    nothing = TokenEncoder(**tiny_encoder_params, cache=Memory(None, verbose=0))
    nothing.fit_transform(TEXTS)
    assert not any(tmp_path.iterdir())
    memory = Memory(tmp_path, verbose=0, compress=3)
    TokenEncoder(**tiny_encoder_params, cache=memory).fit_transform(TEXTS)
    # skpool's own files in the Memory's folder, not joblib's
    assert (tmp_path / "skpool-tokens-v1").is_dir()
    assert not (tmp_path / "joblib").exists()


def test_truncation_flags_survive_the_cache(tiny_encoder_params, tmp_path):
    long_text = " ".join(["the man saw a big dog ."] * 20)
    encoder = TokenEncoder(**tiny_encoder_params, cache=tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncationWarning)
        first = encoder.fit_transform([long_text, "a dog"])
        second = encoder.transform(["a dog", long_text])
    assert first.truncated.tolist() == [True, False]
    assert second.truncated.tolist() == [False, True]
