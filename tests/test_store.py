"""The on-disk token store: format, atomic partitions, memory maps that travel by reference."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from skpool import _store
from skpool._store import (HEADER, PLAN, PartitionedStore, StoredArray, load_arrays,
                           open_stored, save_arrays, texts_digest)


@pytest.fixture
def corpus():
    rng = np.random.default_rng(0)
    lengths = np.array([3, 1, 7, 4, 2])
    offsets = np.r_[0, np.cumsum(lengths)]
    data = rng.normal(size=(offsets[-1], 6)).astype(np.float32)
    truncated = np.array([False, True, False, False, True])
    return data, offsets, truncated


def test_the_format_is_plain_numpy_files_and_a_json_header(corpus, tmp_path):
    data, offsets, truncated = corpus
    save_arrays(tmp_path / "s", data, offsets, truncated, model={"model": "m"})
    # readable without skpool
    np.testing.assert_array_equal(np.load(tmp_path / "s" / "data.npy"), data)
    np.testing.assert_array_equal(np.load(tmp_path / "s" / "offsets.npy"), offsets)
    np.testing.assert_array_equal(np.load(tmp_path / "s" / "truncated.npy"), truncated)
    header = json.loads((tmp_path / "s" / HEADER).read_text())
    store_id = header.pop("store_id")
    assert header == {
        "format": "skpool-token-store", "format_version": 1, "skpool_version": "0.1.0",
        "dtype": "<f4", "dim": 6, "n_texts": 5, "n_tokens": 17, "n_truncated": 2,
        "model": {"model": "m"}, "texts_sha256": None,
    }
    # a new id each time a store is written
    save_arrays(tmp_path / "s", data, offsets, truncated, overwrite=True)
    again = json.loads((tmp_path / "s" / HEADER).read_text())["store_id"]
    assert len(store_id) == len(again) == 32 and again != store_id


@pytest.mark.parametrize("mmap_mode", [None, "r"])
def test_arrays_read_back(corpus, tmp_path, mmap_mode):
    save_arrays(tmp_path / "s", *corpus)
    data, offsets, truncated, header = load_arrays(tmp_path / "s", mmap_mode=mmap_mode)
    assert isinstance(data, StoredArray) == (mmap_mode == "r")
    for got, want in zip((data, offsets, truncated), corpus):
        np.testing.assert_array_equal(got, want)
        assert got.dtype == want.dtype or got is offsets
    assert header["n_texts"] == 5


def test_a_memory_map_pickles_as_a_reference(corpus, tmp_path):
    save_arrays(tmp_path / "s", *corpus)
    mapped = open_stored(tmp_path / "s" / "data.npy")
    payload = pickle.dumps(mapped, protocol=5)
    assert len(payload) < 300 < corpus[0].nbytes  # the path, not the bytes
    back = pickle.loads(payload)
    assert isinstance(back, StoredArray)
    np.testing.assert_array_equal(back, corpus[0])
    # a slice is an ordinary array: it travels by value
    part = pickle.loads(pickle.dumps(mapped[2:5]))
    np.testing.assert_array_equal(part, corpus[0][2:5])
    with pytest.raises(ValueError):  # read-only
        mapped[0, 0] = 1.0


def test_incomplete_damaged_foreign_and_future_stores_are_refused(corpus, tmp_path):
    path = tmp_path / "s"
    save_arrays(path, *corpus)
    with pytest.raises(ValueError, match="already holds a token store"):
        save_arrays(path, *corpus)
    save_arrays(path, *corpus, overwrite=True)

    header = json.loads((path / HEADER).read_text())
    (path / HEADER).write_text(json.dumps(dict(header, format_version=2)))
    with pytest.raises(ValueError, match="format version 2; this skpool .* reads version 1"):
        load_arrays(path)
    (path / HEADER).write_text(json.dumps(dict(header, n_tokens=16)))
    with pytest.raises(ValueError, match=r"damaged: data.npy holds an array of shape \(17, 6\)"):
        load_arrays(path)
    (path / HEADER).unlink()
    with pytest.raises(ValueError, match="not a skpool token store"):
        load_arrays(path)
    (path / PLAN).write_text("{}")
    with pytest.raises(ValueError, match="incomplete"):
        load_arrays(path)
    with pytest.raises(ValueError, match="does not exist"):
        load_arrays(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="mmap_mode"):
        load_arrays(path, mmap_mode="r+")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("keep me")
    with pytest.raises(ValueError, match="not empty and holds no skpool token store"):
        save_arrays(tmp_path / "mine", *corpus)
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "keep me"


def _planned(path, *, model=None, texts=("a", "b", "c"), bounds=(0, 2, 3)):
    return PartitionedStore(path, model=model or {"model": "m", "layer": -1},
                            texts_sha256=texts_digest(texts), bounds=bounds)


def test_partitions_are_concatenated_in_order(corpus, tmp_path):
    data, offsets, truncated = corpus
    store = _planned(tmp_path / "s", texts="abcde", bounds=(0, 2, 5))
    assert store.open() == [0, 1]
    # written in any order, by any worker
    store.write_part(1, data[offsets[2]:], offsets[2:] - offsets[2], truncated[2:])
    assert store.open() == [0]
    store.write_part(0, data[:offsets[2]], offsets[:3], truncated[:2])
    store.write_part(0, data[:offsets[2]] + 1, offsets[:3], truncated[:2])  # a late retry
    store.finalize()
    assert store.complete()
    got = load_arrays(tmp_path / "s", mmap_mode="r")
    for a, b in zip(got[:3], corpus):
        np.testing.assert_array_equal(a, b)  # the first complete copy of partition 0 won
    assert got[3]["texts_sha256"] == texts_digest("abcde")
    assert not (tmp_path / "s" / "parts").exists() and not (tmp_path / "s" / PLAN).exists()


def test_concatenation_is_bounded(corpus, tmp_path, monkeypatch):
    # a few rows per copy: the same result as one large copy
    monkeypatch.setattr(_store, "_COPY_BYTES", 2 * 6 * 4)
    test_partitions_are_concatenated_in_order(corpus, tmp_path)


def test_a_half_written_partition_never_counts(corpus, tmp_path, monkeypatch):
    data, offsets, truncated = corpus
    store = _planned(tmp_path / "s")
    store.open()

    def dies(*args, **kwargs):
        raise OSError("disk full")

    calls = []
    real_save = _store._save_npy

    def save_then_die(path, array):
        calls.append(path.name)
        if len(calls) == 2:  # data.npy written, offsets.npy not
            dies()
        real_save(path, array)

    monkeypatch.setattr(_store, "_save_npy", save_then_die)
    with pytest.raises(OSError, match="disk full"):
        store.write_part(0, data[:4], offsets[:3], truncated[:2])
    assert store.open() == [0, 1]  # partition 0 is still to do
    assert [p.name for p in (tmp_path / "s" / "parts").iterdir()] == []


def test_a_plan_of_another_identity_is_refused(tmp_path):
    _planned(tmp_path / "s").open()
    with pytest.raises(ValueError, match=r"another model or settings: layer=-1, not layer=2"):
        _planned(tmp_path / "s", model={"model": "m", "layer": 2}).open()
    with pytest.raises(ValueError, match="other texts"):
        _planned(tmp_path / "s", texts=("a", "b", "d")).open()
    with pytest.raises(ValueError, match="cut into other partitions"):
        _planned(tmp_path / "s", bounds=(0, 1, 3)).open()
    plan = json.loads((tmp_path / "s" / PLAN).read_text())
    (tmp_path / "s" / PLAN).write_text(json.dumps(dict(plan, skpool_version="0.0.1")))
    with pytest.raises(ValueError, match="skpool version 0.0.1, not 0.1.0"):
        _planned(tmp_path / "s").open()


def test_texts_digest_sees_boundaries():
    assert texts_digest(["ab", "c"]) != texts_digest(["a", "bc"])
    assert texts_digest(["ab", "c"]) == texts_digest(("ab", "c"))


def test_scratch_arrays_live_beside_a_memory_mapped_corpus(corpus, tmp_path):
    import gc

    from skpool._store import backing_file, scratch_array, seal

    assert type(scratch_array(corpus[0], (3, 2), np.float64)) is np.ndarray
    save_arrays(tmp_path / "s", *corpus)
    mapped = open_stored(tmp_path / "s" / "data.npy")
    view = np.asarray(mapped)[2:5]  # what TokenSets hands out: a plain view
    assert backing_file(view) == str(tmp_path / "s" / "data.npy")
    scratch = scratch_array(view, (4, 3), np.float64)
    scratch[:] = 2.0
    sealed = seal(scratch)
    del scratch
    assert isinstance(sealed, StoredArray) and not sealed.flags.writeable
    assert sealed.sum() == 24.0
    (file,) = (tmp_path / "s").glob(".skpool-scratch-*.npy")
    back = pickle.loads(pickle.dumps(sealed))  # a reference: another process can open it
    np.testing.assert_array_equal(back, sealed)
    del sealed, back
    gc.collect()
    assert not file.exists()  # removed once unused


def test_partitions_written_where_this_machine_cannot_see_them(tmp_path):
    # a worker on another machine wrote to its own disk: the folder here lacks them
    store = _planned(tmp_path / "s")
    store.open()
    with pytest.raises(ValueError, match="partitions 0, 1 .* file system the workers share"):
        store.finalize()


@pytest.mark.parametrize("route", ["pairwise_w2", "compare_w2"])
def test_exact_ot_tasks_carry_a_reference_to_the_store_not_the_clouds(route, tmp_path,
                                                                       monkeypatch):
    import gc

    from skpool import TokenSets
    from skpool.ot import _pairwise, compare_w2, pairwise_w2

    rng = np.random.default_rng(1)
    tokens = TokenSets.from_arrays([rng.normal(size=(n, 32)).astype(np.float32)
                                    for n in rng.integers(20, 40, size=12)])
    mapped = TokenSets.load(tokens.save(tmp_path / "s"), mmap_mode="r")
    tasks = []
    real = _pairwise.parallel_map

    def spy(calls, **kwargs):
        calls = list(calls)
        if calls and calls[0][0] is _pairwise._exact_chunk:  # not the Gaussian (Bures) chunks
            tasks.append([len(pickle.dumps(args)) for _, args, _ in calls])
        return real(calls, **kwargs)

    monkeypatch.setattr(_pairwise, "parallel_map", spy)

    def run(sets):
        if route == "pairwise_w2":
            return pairwise_w2(sets, kind="exact", n_jobs=1)
        return compare_w2(sets, 20, random_state=0, n_jobs=1).table["exact_w2"]

    in_memory, stored = run(tokens), run(mapped)
    centred_bytes = tokens.n_tokens * 32 * 8  # the float64 centred clouds
    # in memory the clouds travel inside every task (joblib memory-maps them locally);
    # from a store each task holds references to scratch files beside it
    assert min(tasks[0]) > centred_bytes > 20 * max(tasks[1])
    np.testing.assert_array_equal(np.asarray(stored), np.asarray(in_memory))  # same values
    del stored
    gc.collect()
    assert not list((tmp_path / "s").glob(".skpool-scratch-*"))  # removed once unused
