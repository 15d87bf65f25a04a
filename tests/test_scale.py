"""Corpora beyond one machine, end to end: the CLI on a dask cluster, token sets on disk.

- ``skpool report --scheduler local:2`` on a few hundred real texts gives the
  record of the plain run (mean SOCM within 1e-6, the same counts);
- a saved and memory-mapped ``TokenSets`` gives the metrics of the one in
  memory, also when its blocks run as dask tasks that read the store.
"""

from __future__ import annotations

import gc
import json
import pickle
import warnings

import numpy as np
import pytest

from skpool import TokenEncoder, TokenSets, concentration, mean_socm, pairwise_socm
from skpool._store import StoredArray
from skpool.cli import main
from skpool.ot import compare_w2

COUNTS = ("n_texts", "n_pairs", "exact", "n_trace_violations", "n_truncated", "layer",
          "max_length", "model", "dataset", "seed")


def _record(capsys, tmp_path, name, *extra):
    out = tmp_path / f"{name}.json"
    code = main(["report", "--dataset", "rotten-tomatoes", "--n-texts", "300", "--device",
                 "cpu", "--quiet", "--json", str(out), *extra])
    err = capsys.readouterr().err
    assert code == 0, err
    (record,) = json.loads(out.read_text())
    return record


@pytest.mark.slow
def test_report_on_a_local_cluster_gives_the_same_record(capsys, tmp_path):
    pytest.importorskip("distributed")
    plain = _record(capsys, tmp_path, "plain")
    clustered = _record(capsys, tmp_path, "cluster", "--scheduler", "local:2",
                        "--store", str(tmp_path / "store"))
    for field in COUNTS:
        assert clustered[field] == plain[field], field
    assert plain["n_texts"] == 300 and plain["exact"]
    assert clustered["mean_socm"] == pytest.approx(plain["mean_socm"], abs=1e-6)
    for field in ("mean_d_mu", "mean_d_sigma", "mean_spread", "mean_cosine"):
        assert clustered[field] == pytest.approx(plain[field], abs=1e-5), field
    # the store is left for the next run: reading it back encodes nothing
    tokens = TokenSets.load(tmp_path / "store", mmap_mode="r")
    assert len(tokens) == 300


@pytest.fixture(scope="module")
def encoded(tmp_path_factory, bundled_model_path):
    from skpool.datasets import load_wiki_films

    texts = load_wiki_films().texts[:40]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # truncation of long leads is not the point here
        tokens = TokenEncoder(str(bundled_model_path), device="cpu").fit_transform(texts)
    path = tmp_path_factory.mktemp("store") / "films"
    tokens.save(path)
    return tokens, path


@pytest.mark.slow
def test_saved_and_memory_mapped_token_sets_give_identical_metrics(encoded):
    tokens, path = encoded
    for mapped in (TokenSets.load(path), TokenSets.load(path, mmap_mode="r")):
        assert mapped == tokens
        np.testing.assert_array_equal(mapped.truncated, tokens.truncated)
        # the same arrays, so the same arithmetic: identical, not merely close
        assert mean_socm(mapped, n_jobs=1).mean == mean_socm(tokens, n_jobs=1).mean
        a, b = mean_socm(mapped, n_pairs=100, random_state=0), \
            mean_socm(tokens, n_pairs=100, random_state=0)
        assert (a.mean, a.stderr) == (b.mean, b.stderr)
        np.testing.assert_array_equal(concentration(mapped).spread,
                                      concentration(tokens).spread)
        np.testing.assert_array_equal(pairwise_socm(mapped[:12], n_jobs=1),
                                      pairwise_socm(tokens[:12], n_jobs=1))
        np.testing.assert_array_equal(
            compare_w2(mapped, pairs=8, random_state=0, n_jobs=1).table["exact_w2"],
            compare_w2(tokens, pairs=8, random_state=0, n_jobs=1).table["exact_w2"])


def test_a_memory_mapped_token_sets_pickles_as_a_reference(tmp_path):
    rng = np.random.default_rng(0)
    tokens = TokenSets.from_arrays([rng.normal(size=(n, 16)).astype(np.float32)
                                    for n in (30, 50, 20)])
    tokens.save(tmp_path / "s")
    mapped = TokenSets.load(tmp_path / "s", mmap_mode="r")
    assert isinstance(mapped.data, StoredArray)
    payload = pickle.dumps(mapped)
    assert len(payload) < 2000 < tokens.data.nbytes
    assert pickle.loads(payload) == tokens
    in_memory = TokenSets.load(tmp_path / "s")
    assert not isinstance(in_memory.data, np.memmap)
    assert len(pickle.dumps(in_memory)) > tokens.data.nbytes


def test_memory_mapped_blocks_run_as_dask_tasks_reading_the_store(tmp_path):
    distributed = pytest.importorskip("distributed")
    import joblib

    rng = np.random.default_rng(1)
    tokens = TokenSets.from_arrays([(rng.normal(size=(n, 12)) + 2.0).astype(np.float32)
                                    for n in (3, 15, 7, 1, 22, 9, 4, 13, 30, 6, 11, 5)])
    tokens.save(tmp_path / "s")
    mapped = TokenSets.load(tmp_path / "s", mmap_mode="r")
    expected = mean_socm(tokens, n_jobs=1)
    expected_sampled = mean_socm(tokens, n_pairs=30, random_state=0, n_jobs=1)
    expected_w2 = compare_w2(tokens, pairs=10, random_state=0, n_jobs=1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None,
                                  scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}
                                  ) as cluster, \
            distributed.Client(cluster) as client, joblib.parallel_config(backend="dask"):
        before = sum(client.run(lambda dask_worker: dask_worker.state.executed_count).values())
        got = mean_socm(mapped, n_jobs=-1, working_memory=0.02)
        sampled = mean_socm(mapped, n_pairs=30, random_state=0, n_jobs=-1,
                            working_memory=0.02)
        w2 = compare_w2(mapped, pairs=10, random_state=0, n_jobs=-1)
        ran = sum(client.run(lambda dask_worker: dask_worker.state.executed_count).values())
    assert ran - before >= 3  # the blocks really ran on the workers
    del mapped
    gc.collect()
    assert not list((tmp_path / "s").glob(".skpool-scratch-*"))  # scratch files removed
    assert got.mean == pytest.approx(expected.mean, abs=1e-9)
    assert sampled.mean == pytest.approx(expected_sampled.mean, abs=1e-9)
    np.testing.assert_allclose(w2.table["exact_w2"], expected_w2.table["exact_w2"],
                               rtol=1e-9)


def test_a_memory_mapped_corpus_is_checked_once_and_names_a_bad_text(tmp_path):
    rng = np.random.default_rng(2)
    data = (rng.normal(size=(30, 8)) + 2.0).astype(np.float32)
    data[17, 3] = np.nan  # text 2 (rows 12..19), its token 5
    TokenSets(data.copy(), [0, 5, 12, 20, 30]).save(tmp_path / "bad")
    bad = TokenSets.load(tmp_path / "bad", mmap_mode="r")
    for _ in range(2):  # a failed check is not remembered
        with pytest.raises(ValueError, match=r"tokens\[2\] \(text 2\) to be finite.*token 5"):
            mean_socm(bad)
    data[17, 3] = 0.5
    TokenSets(data, [0, 5, 12, 20, 30]).save(tmp_path / "good")
    good = TokenSets.load(tmp_path / "good", mmap_mode="r")
    first = mean_socm(good, n_jobs=1).mean
    assert good._checked_finite  # the second metric does not read the corpus for NaN again
    assert mean_socm(good, n_jobs=1).mean == first
    assert not TokenSets.load(tmp_path / "good")._checked_finite  # in memory: checked per call
