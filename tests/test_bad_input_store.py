"""Bad input and faults around the token store: damaged headers and arrays, a store
replaced under a pickled memory map, a partition cut short, two writers at once.

Every case ends in a clear error naming the store (or the argument), or, where the
store is a cache of an encoding (``encode_to_store``), in the right result with a
warning: a damaged store or partition is encoded again.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from skpool import CollapseScorer, MeanPooler, TokenEncoder, TokenSets
from skpool._store import HEADER, DamagedStore
from skpool.encoder._distributed import encode_to_store


@pytest.fixture
def stored(tmp_path):
    """A small store on disk: 3 texts of 2, 1 and 3 tokens in 4 dimensions."""
    rng = np.random.default_rng(0)
    tokens = TokenSets.from_arrays([rng.normal(size=(n, 4)).astype(np.float32)
                                    for n in (2, 1, 3)])
    return tokens, tokens.save(tmp_path / "store")


def _edit_header(path, **changes):
    header = json.loads((path / HEADER).read_text())
    for key, value in changes.items():
        if value is _DROP:
            del header[key]
        else:
            header[key] = value
    (path / HEADER).write_text(json.dumps(header))


_DROP = object()


def _cut(file, keep_bytes):
    raw = file.read_bytes()
    file.write_bytes(raw[:keep_bytes])


# (case, damage done to a complete store, words the error must hold)
DAMAGE = [
    ("header without n_tokens", lambda p: _edit_header(p, n_tokens=_DROP),
     "needs 'n_tokens', an int >= 0; it holds no such field"),
    ("header n_tokens a string", lambda p: _edit_header(p, n_tokens="6"),
     "needs 'n_tokens', an int >= 0; it holds '6'"),
    ("header dim zero", lambda p: _edit_header(p, dim=0), "needs 'dim', an int >= 1"),
    ("header dtype junk", lambda p: _edit_header(p, dtype="junk"),
     "needs 'dtype', a floating-point NumPy dtype such as '<f4'; it holds 'junk'"),
    ("header dtype an int type", lambda p: _edit_header(p, dtype="<i8"),
     "it holds '<i8'"),
    ("header not JSON", lambda p: (p / HEADER).write_text("{\"format\": "),
     "header"),
    ("header of another format", lambda p: (p / HEADER).write_text("[1, 2]"),
     "is not a skpool token store header"),
    ("header n_tokens wrong", lambda p: _edit_header(p, n_tokens=5),
     "data.npy holds an array of shape (6, 4)"),
    ("data.npy cut short", lambda p: _cut(p / "data.npy", 140), "is truncated"),
    ("data.npy empty", lambda p: _cut(p / "data.npy", 0), "data.npy cannot be read"),
    ("offsets.npy garbage", lambda p: (p / "offsets.npy").write_bytes(b"garbage"),
     "offsets.npy cannot be read"),
    ("truncated.npy missing", lambda p: (p / "truncated.npy").unlink(),
     "truncated.npy cannot be read"),
]


@pytest.mark.parametrize("case, damage, fragment", DAMAGE, ids=[c[0] for c in DAMAGE])
@pytest.mark.parametrize("mmap_mode", [None, "r"])
def test_a_damaged_store_is_named_when_read(case, damage, fragment, mmap_mode, stored):
    _, path = stored
    damage(path)
    with pytest.raises(DamagedStore) as info:
        TokenSets.load(path, mmap_mode=mmap_mode)
    message = str(info.value)
    assert f"The token store {path} is damaged" in message and fragment in message
    # raised by skpool, not by NumPy or json
    assert info.traceback[-1].frame.f_globals["__name__"].startswith("skpool")


@pytest.mark.parametrize("case, damage, fragment", DAMAGE, ids=[c[0] for c in DAMAGE])
def test_a_damaged_store_that_caches_an_encoding_is_encoded_again(
        case, damage, fragment, tiny_encoder_params, sample_texts, tmp_path):
    texts = sample_texts[:4]
    encoder = TokenEncoder(**tiny_encoder_params)
    first = encode_to_store(texts, tmp_path / "store", encoder, partition_size=3)
    expected = (np.array(first.data), first.offsets.copy())
    del first
    damage(tmp_path / "store")
    with pytest.warns(UserWarning, match="is damaged.*It is encoded again") as caught:
        again = encode_to_store(texts, tmp_path / "store", encoder, partition_size=3)
    assert any(str(tmp_path / "store") in str(w.message) for w in caught)
    np.testing.assert_array_equal(again.offsets, expected[1])
    np.testing.assert_allclose(again.data, expected[0], atol=1e-6, rtol=0)
    # and the store is whole again: read back without a warning
    TokenSets.load(tmp_path / "store", mmap_mode="r")


def test_a_store_replaced_under_a_pickled_memory_map_is_refused(stored):
    tokens, path = stored
    mapped = TokenSets.load(path, mmap_mode="r")
    payload = pickle.dumps(mapped)  # what a dask worker receives
    assert len(payload) < 2000  # a reference, not the data
    assert pickle.loads(payload) == tokens  # unchanged store: it reads the same data
    # another corpus of exactly the same shape replaces the store
    TokenSets(np.full_like(np.asarray(tokens.data), 9.0), tokens.offsets).save(
        path, overwrite=True)
    with pytest.raises(ValueError, match=r"The token store .* was replaced after these "
                                         r"token sets were opened from it") as info:
        pickle.loads(payload)
    assert str(path) in str(info.value)
    # opened again, it reads the new data
    assert float(TokenSets.load(path, mmap_mode="r").data[0, 0]) == 9.0


def test_a_replaced_scratch_file_is_refused(tmp_path):
    from skpool._store import open_stored

    file = tmp_path / "scratch.npy"
    np.save(file, np.ones((3, 2)))
    payload = pickle.dumps(open_stored(file))
    assert pickle.loads(payload).sum() == 6.0
    np.save(tmp_path / "other.npy", np.full((3, 2), 9.0))
    (tmp_path / "other.npy").replace(file)
    with pytest.raises(ValueError, match="was replaced"):
        pickle.loads(payload)


def test_a_truncated_finished_partition_is_encoded_again(tiny_encoder_params, sample_texts,
                                                         tmp_path):
    from skpool._store import PartitionedStore, texts_digest
    from skpool.encoder import _distributed

    texts = sample_texts[:4] + sample_texts[5:7]  # none of them truncated
    encoder = TokenEncoder(**tiny_encoder_params)
    expected = encoder.transform(texts)
    path = tmp_path / "store"
    bounds = np.array([0, 2, 4, 6])
    store = PartitionedStore(path, model=_distributed._model_identity(encoder),
                             texts_sha256=texts_digest(texts), bounds=bounds)
    store.open()
    for k in range(3):  # an earlier run finished every partition, then died
        _distributed._encode_partition(encoder, store, k, texts[bounds[k]:bounds[k + 1]])
    _cut(path / "parts" / "000001" / "data.npy", 200)  # ... and partition 1 was cut short
    with pytest.warns(UserWarning, match=r"Partition 1 of the token store .* is damaged "
                                         r"\(.*is truncated.*\); it is encoded again"):
        got = encode_to_store(texts, path, encoder, partition_size=2)
    np.testing.assert_array_equal(got.offsets, expected.offsets)
    np.testing.assert_allclose(got.data, expected.data, atol=2e-5, rtol=0)


# (case, call, error, words the message must hold)
ARGUMENTS = [
    ("encode_to_store n_jobs zero",
     lambda p, t: encode_to_store(["a cat"], t / "s", TokenEncoder(**p), n_jobs=0),
     ValueError, "'n_jobs' parameter of encode_to_store must be .* or None. Got 0 instead"),
    ("encode_to_store n_jobs a string",
     lambda p, t: encode_to_store(["a cat"], t / "s", TokenEncoder(**p), n_jobs="2"),
     TypeError, "'n_jobs' parameter of encode_to_store must be .* or None. Got '2' instead"),
    ("scorer encoder a model name",
     lambda p, t: CollapseScorer(encoder="x")(MeanPooler(), ["a cat", "a dog"]),
     TypeError, "Expected the scorer's encoder to be a TokenEncoder or None"),
]


@pytest.mark.parametrize("case, call, error, fragment", ARGUMENTS,
                         ids=[c[0] for c in ARGUMENTS])
def test_bad_argument(case, call, error, fragment, tiny_encoder_params, tmp_path):
    with pytest.raises(error, match=fragment) as info:
        call(tiny_encoder_params, tmp_path)
    # raised by skpool, or by the validate_params its public functions are declared with
    assert info.traceback[-1].frame.f_globals["__name__"].startswith(
        ("skpool", "sklearn.utils._param_validation"))
    assert not (tmp_path / "s").exists()  # refused before anything was written


_WRITER = textwrap.dedent("""
    import sys, warnings
    import numpy as np
    from skpool import TokenEncoder
    from skpool.encoder._distributed import encode_to_store

    warnings.simplefilter("ignore")
    texts = [f"text number {i} about a cat and a dog ." for i in range(40)]
    tokens = encode_to_store(texts, sys.argv[2], TokenEncoder(model=sys.argv[1],
                             device="cpu"), partition_size=3, n_jobs=1)
    print(len(tokens), float(np.asarray(tokens.data, dtype=np.float64).sum()))
""")


def test_two_processes_writing_one_store_both_get_it(tiny_model_dir, tmp_path):
    # Started together, they race to create the plan, to write partitions and to
    # concatenate them: the loser must neither be told a wrong cause (a file system
    # the workers do not share) nor read a half-written store.
    command = [sys.executable, "-c", _WRITER, str(tiny_model_dir), str(tmp_path / "store")]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(2)]
    try:
        results = [run.communicate(timeout=240) for run in runs]
    finally:
        for run in runs:
            run.kill()
    for run, (out, err) in zip(runs, results):
        assert run.returncode == 0, err[-2000:]
    assert results[0][0] == results[1][0] and results[0][0].startswith("40 ")
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == [
        "data.npy", "offsets.npy", "skpool-tokens.json", "truncated.npy"]
