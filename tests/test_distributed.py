"""Encoding in partitions on a dask cluster into a token store; faults and resuming."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time

import numpy as np
import pytest

distributed = pytest.importorskip(
    "distributed", reason="dask.distributed is not installed (pip install 'dask[distributed]')")

from joblib import parallel_config  # noqa: E402

from skpool import TokenEncoder  # noqa: E402
from skpool._cluster import dask_cluster, parse_scheduler  # noqa: E402
from skpool.encoder import _distributed  # noqa: E402
from skpool.encoder._distributed import encode_to_store  # noqa: E402


# Worker *processes* for the ``client`` fixture (conftest.py), as on a real cluster:
# the tasks pickle the encoder and load the model in another process, and a
# worker can be killed.
DASK_PROCESSES = True


@pytest.fixture
def texts(sample_texts):
    return sample_texts * 4  # 32 texts, 4 of them truncated by the tiny model


@pytest.fixture
def expected(tiny_encoder_params, texts):
    with pytest.warns(UserWarning, match="truncated"):
        return TokenEncoder(**tiny_encoder_params).transform(texts)


def assert_same_tokens(got, expected):
    np.testing.assert_array_equal(got.offsets, expected.offsets)
    np.testing.assert_array_equal(got.truncated, expected.truncated)
    # batches differ between one process and partitions (padding): float32 round-off
    np.testing.assert_allclose(got.data, expected.data, atol=2e-5, rtol=0)


def _executed(client) -> int:
    return sum(client.run(lambda dask_worker: dask_worker.state.executed_count).values())


def _models_loaded():
    from skpool.encoder import _torch

    return len(_torch._LOADED)


def test_partitions_run_on_the_workers(client, tiny_encoder_params, texts, expected,
                                       tmp_path):
    before = _executed(client)
    with parallel_config(backend="dask"), pytest.warns(UserWarning, match="4 of 32"):
        got = encode_to_store(texts, tmp_path / "store", TokenEncoder(**tiny_encoder_params),
                              partition_size=5)
    assert_same_tokens(got, expected)
    assert isinstance(got.data.base, np.memmap) or isinstance(got.data, np.memmap)
    assert _executed(client) - before >= 7  # ceil(32 / 5) partitions, as tasks
    # each worker that encoded holds the model once, whatever its number of partitions
    loaded = client.run(_models_loaded)
    assert set(loaded.values()) <= {0, 1} and sum(loaded.values()) >= 1
    # only the finished store is left
    assert sorted(os.listdir(tmp_path / "store")) == [
        "data.npy", "offsets.npy", "skpool-tokens.json", "truncated.npy"]


class _KillFirstPartition(distributed.WorkerPlugin):
    """Kill (SIGKILL) the worker process that starts the first encoding partition."""

    def __init__(self, flag: str):
        self.flag = flag

    def transition(self, key, start, finish, **kwargs):
        if finish != "executing" or "_encode_partition" not in str(key):
            return
        try:  # the first partition on any worker, once
            os.close(os.open(self.flag, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return
        # the task is executing on this worker: it dies before finishing it
        os.kill(os.getpid(), signal.SIGKILL)


def test_a_killed_worker_s_partition_is_encoded_again(client, tiny_encoder_params, texts,
                                                       expected, tmp_path):
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    flag = tmp_path / "killed"
    client.register_plugin(_KillFirstPartition(str(flag)), name="kill-first-partition")
    try:
        pids = set(client.run(os.getpid).values())
        with parallel_config(backend="dask"), pytest.warns(UserWarning, match="truncated"):
            got = encode_to_store(texts, tmp_path / "store",
                                  TokenEncoder(**tiny_encoder_params), partition_size=5)
    finally:
        client.unregister_worker_plugin("kill-first-partition")
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert flag.exists()  # a worker was killed while encoding a partition ...
    client.wait_for_workers(2, timeout=60)
    assert set(client.run(os.getpid).values()) != pids  # ... and its process replaced
    assert_same_tokens(got, expected)  # ... and its partition encoded elsewhere


def test_an_interrupted_run_resumes(tiny_encoder_params, texts, expected, tmp_path,
                                    monkeypatch):
    from skpool._store import PartitionedStore, texts_digest

    encoder = TokenEncoder(**tiny_encoder_params)
    path = tmp_path / "store"
    bounds = np.r_[np.arange(0, len(texts), 5), len(texts)]
    store = PartitionedStore(path, model=_distributed._model_identity(encoder),
                             texts_sha256=texts_digest(texts), bounds=bounds)
    assert store.open() == list(range(7))
    # an earlier run finished partitions 0 and 3 ...
    for k in (0, 3):
        _distributed._encode_partition(encoder, store, k, texts[bounds[k]:bounds[k + 1]])
    # ... and died while writing partition 1: a temporary folder with half its files
    half = path / "parts" / ".tmp-000001-deadbeef"
    half.mkdir()
    np.save(half / "data.npy", np.zeros((3, 32), dtype=np.float32))

    calls = []
    original = _distributed._encode_partition

    def counting(encoder, store, k, texts):
        calls.append(k)
        return original(encoder, store, k, texts)

    monkeypatch.setattr(_distributed, "_encode_partition", counting)
    with pytest.warns(UserWarning, match="truncated"):
        got = encode_to_store(texts, path, encoder, partition_size=5)
    assert sorted(calls) == [1, 2, 4, 5, 6]  # only what was missing
    assert_same_tokens(got, expected)
    # a finished store is read back, nothing encoded
    calls.clear()
    with pytest.warns(UserWarning, match="truncated"):
        again = encode_to_store(texts, path, encoder, partition_size=5)
    assert calls == [] and again == got


def test_workers_refuse_a_model_other_than_the_drivers(client, tiny_model_dir,
                                                      tiny_model_builder, texts, tmp_path,
                                                      monkeypatch):
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    encoder = TokenEncoder(str(folder), device="cpu")
    driver_identity = _distributed._model_identity

    def then_other_files(encoder):
        identity = driver_identity(encoder)  # the driver's weights, recorded in the store
        shutil.rmtree(folder)
        tiny_model_builder(folder, seed=1)  # what the workers then read from the folder
        return identity

    monkeypatch.setattr(_distributed, "_model_identity", then_other_files)
    with parallel_config(backend="dask"), pytest.raises(
            ValueError, match=rf"The model '{folder}' loaded on worker .* is not the driver's"):
        encode_to_store(texts, tmp_path / "store", encoder, partition_size=16)


def test_an_encoder_built_from_an_object_is_not_copied_to_workers(client, tiny_model_dir,
                                                                  texts, tmp_path):
    st_module = pytest.importorskip("sentence_transformers")
    st = st_module.SentenceTransformer(str(tiny_model_dir), device="cpu")
    with parallel_config(backend="dask"), pytest.raises(
            ValueError, match="unpickled where that object does not exist"):
        encode_to_store(texts, tmp_path / "store", TokenEncoder(st), partition_size=16)


def test_a_store_of_another_model_or_corpus_is_refused(tiny_encoder_params, texts,
                                                       tmp_path):
    path = tmp_path / "store"
    with pytest.warns(UserWarning, match="truncated"):
        encode_to_store(texts, path, TokenEncoder(**tiny_encoder_params), partition_size=16)
    # the layer as the model resolves it: -1 is the tiny model's hidden state 2
    with pytest.raises(ValueError, match=r"another model or settings: layer=2, not layer=1"):
        encode_to_store(texts, path, TokenEncoder(**tiny_encoder_params, layer=1),
                        partition_size=16)
    with pytest.raises(ValueError, match="other texts"):
        encode_to_store(texts[:-1], path, TokenEncoder(**tiny_encoder_params),
                        partition_size=16)
    # a half-written store cut differently cannot be finished with another cut
    from skpool._store import PLAN

    (path / "skpool-tokens.json").rename(tmp_path / "header")
    (path / PLAN).write_text((tmp_path / "header").read_text())  # stands in for a plan
    with pytest.raises(ValueError, match="store"):
        encode_to_store(texts, path, TokenEncoder(**tiny_encoder_params), partition_size=8)


def test_bad_arguments(tiny_encoder_params, tmp_path):
    encoder = TokenEncoder(**tiny_encoder_params)
    with pytest.raises(ValueError, match="partition_size"):
        encode_to_store(["a cat"], tmp_path / "s", encoder, partition_size=0)
    with pytest.raises(TypeError, match="encoder"):
        encode_to_store(["a cat"], tmp_path / "s", "all-MiniLM-L6-v2")
    with pytest.raises(TypeError, match="path"):
        encode_to_store(["a cat"], 3, encoder)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty and holds no skpool token store"):
        encode_to_store(["a cat"], tmp_path / "busy", encoder)
    with pytest.raises(ValueError,
                       match=r"partition 1 \(texts 2 to 3\): Text 3 has no tokens"):
        encode_to_store(["a cat", "the dog", "a bird", ""], tmp_path / "e",
                        TokenEncoder(**tiny_encoder_params, special_tokens="exclude"),
                        partition_size=2)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_scheduler_that_does_not_answer_is_named_within_the_timeout():
    address = f"tcp://127.0.0.1:{_free_port()}"
    start = time.perf_counter()
    with pytest.raises(ValueError, match=f"Could not reach the dask scheduler at '{address}' "
                                         "within 1 s"):
        with dask_cluster(address, timeout=1):
            pass
    assert time.perf_counter() - start < 15


def test_scheduler_values():
    assert parse_scheduler("local") == ("local", None)
    assert parse_scheduler(" local:3 ") == ("local", 3)
    assert parse_scheduler("scheduler:8786") == ("address", "scheduler:8786")
    for bad in ("local:0", "local:two", "", None):
        with pytest.raises(ValueError, match="scheduler"):
            parse_scheduler(bad)
    with pytest.raises(ValueError, match="does not exist"):
        parse_scheduler("/nowhere/scheduler.json")


def test_missing_dask_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"pip install 'dask\[distributed\]'"):
        with dask_cluster("local:1"):
            pass


def test_reports_encode_into_a_store(tiny_encoder_params, texts, tmp_path):
    from skpool.analysis import collapse_report, ot_report

    with pytest.warns(UserWarning, match="truncated"):
        plain = collapse_report(texts, TokenEncoder(**tiny_encoder_params)).record
    with pytest.warns(UserWarning, match="truncated"):
        stored = collapse_report(texts, TokenEncoder(**tiny_encoder_params),
                                 store=tmp_path / "store").record
    for field in ("model", "layer", "max_length", "n_texts", "n_pairs", "n_truncated",
                  "n_trace_violations", "exact"):
        assert getattr(stored, field) == getattr(plain, field), field
    assert stored.layer == 2 and stored.max_length == 64  # resolved, as without a store
    assert stored.mean_socm == pytest.approx(plain.mean_socm, abs=1e-6)
    with pytest.warns(UserWarning, match="truncated"):  # the store is read back
        ot = ot_report(texts, TokenEncoder(**tiny_encoder_params), n_pairs=5, random_state=0,
                       store=tmp_path / "store").record
    with pytest.warns(UserWarning, match="truncated"):
        ot_plain = ot_report(texts, TokenEncoder(**tiny_encoder_params), n_pairs=5,
                             random_state=0).record
    assert ot.mean_exact_w2 == pytest.approx(ot_plain.mean_exact_w2, rel=1e-5)
