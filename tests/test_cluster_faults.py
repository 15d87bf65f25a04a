"""Cluster faults, with a scheduler and workers started as separate processes.

``dask scheduler`` and ``dask worker`` run as their own processes on 127.0.0.1
only, as on a real cluster, so that the scheduler or a worker can be killed for
good (no nanny to restart it). Every wait is bounded and every process is killed
at the end of its test.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import signal
import socketserver
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip(
    "distributed", reason="dask.distributed is not installed (pip install 'dask[distributed]')")

from skpool import TokenEncoder  # noqa: E402
from skpool._cluster import dask_cluster  # noqa: E402
from skpool.encoder._distributed import encode_to_store  # noqa: E402

_STARTUP_S = 120  # a loaded test machine takes tens of seconds to start a worker


def _env():
    env = dict(os.environ)
    # the workers import this checkout's skpool, offline
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    return env


@contextlib.contextmanager
def processes(folder: Path, n_workers: int):
    """A scheduler and ``n_workers`` single-threaded workers; yields (file, scheduler, workers)."""
    file = folder / "scheduler.json"
    logs = []
    started = []

    def start(args, name):
        log = open(folder / f"{name}.log", "w")
        logs.append(log)
        process = subprocess.Popen([sys.executable, "-m", *args], stdout=log,
                                   stderr=subprocess.STDOUT, env=_env())
        started.append(process)
        return process

    try:
        scheduler = start(["distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                           "--port", "0", "--no-dashboard", "--scheduler-file", str(file)],
                          "scheduler")
        deadline = time.monotonic() + _STARTUP_S
        while not file.is_file():
            assert time.monotonic() < deadline, "the scheduler did not start"
            assert scheduler.poll() is None, (folder / "scheduler.log").read_text()
            time.sleep(0.2)
        workers = [start(["distributed.cli.dask_worker", "--scheduler-file", str(file),
                          # two threads: on a cluster of one thread in all, joblib's
                          # dask backend runs the tasks on the driver instead (its
                          # n_jobs == 1 shortcut), and no fault would reach the run
                          "--nthreads", "2", "--no-nanny", "--no-dashboard",
                          "--host", "127.0.0.1"], f"worker{i}") for i in range(n_workers)]
        with distributed.Client(scheduler_file=str(file), timeout="30s") as client:
            client.wait_for_workers(n_workers, timeout=_STARTUP_S)
        yield file, scheduler, workers
    finally:
        for process in started:
            process.kill()
        for process in started:
            process.wait(timeout=30)
        for log in logs:
            log.close()


def _when_a_partition_is_written(store: Path, action) -> threading.Thread:
    """Run ``action`` once the first partition of ``store`` is on disk (within 5 minutes)."""

    def wait():
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if any((store / "parts").glob("0*")):
                action()
                return
            time.sleep(0.05)

    thread = threading.Thread(target=wait, daemon=True)
    thread.start()
    return thread


TEXTS = [f"text number {i} : a cat and a dog walk in the city ." for i in range(1500)]


def _kill(process):
    process.send_signal(signal.SIGKILL)


# -- no processes needed ------------------------------------------------------------------
@pytest.fixture
def web_server():
    """A port that answers, but as a web server (like a dask dashboard), not a scheduler."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _QuietHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_a_port_that_is_not_a_scheduler_fails_within_30_s(web_server):
    start = time.perf_counter()
    with pytest.raises(ValueError, match=f"The address '{web_server}' accepted a connection "
                                         "but did not answer as a dask scheduler within 10 s"):
        with dask_cluster(web_server):  # the default timeout
            pass
    assert time.perf_counter() - start < 30


def test_a_scheduler_file_pointing_at_a_web_server_fails_within_30_s(web_server, tmp_path):
    file = tmp_path / "scheduler.json"
    file.write_text(json.dumps({"type": "Scheduler", "address": web_server}))
    start = time.perf_counter()
    with pytest.raises(ValueError, match="did not answer as a dask scheduler"):
        with dask_cluster(str(file), timeout=3):
            pass
    assert time.perf_counter() - start < 30


@pytest.mark.parametrize("content, fragment", [
    ("garbage, not JSON", "cannot be read as JSON"),
    ("[1, 2]", "names no scheduler address"),
    ('{"type": "Scheduler"}', "names no scheduler address"),
    ('{"address": 8786}', "names no scheduler address"),
])
def test_a_scheduler_file_that_is_not_one_is_named(content, fragment, tmp_path):
    file = tmp_path / "garbage.json"
    file.write_text(content)
    with pytest.raises(ValueError, match=fragment) as info:
        with dask_cluster(str(file), timeout=3):
            pass
    message = str(info.value)
    assert str(file) in message and "--scheduler-file" in message
    assert "AssertionError" not in message and "answered" not in message


# -- a scheduler and workers as separate processes ---------------------------------------
def test_a_worker_is_not_the_scheduler(tmp_path):
    with processes(tmp_path, 1) as (file, _, _):
        with distributed.Client(scheduler_file=str(file), timeout="30s") as client:
            worker = next(iter(client.scheduler_info()["workers"]))
        with pytest.raises(ValueError, match=r"answered, but not as a dask scheduler \(it "
                                             r"says it is a 'Worker'\)"):
            with dask_cluster(worker, timeout=10):
                pass


def test_a_stopped_scheduler_is_named_and_a_rerun_resumes(tiny_encoder_params, tmp_path):
    store = tmp_path / "store"
    encoder = TokenEncoder(**tiny_encoder_params)
    with processes(tmp_path, 1) as (file, scheduler, _):
        address = json.loads(file.read_text())["address"]
        killer = _when_a_partition_is_written(store, lambda: _kill(scheduler))
        start = time.perf_counter()
        with pytest.raises(ValueError) as info:
            with dask_cluster(str(file), timeout=5, resume_hint="Rerun with the same store."):
                encode_to_store(TEXTS, store, encoder, partition_size=10)
        elapsed = time.perf_counter() - start
        killer.join(1)
    message = str(info.value)
    assert f"Lost the dask scheduler at '{address}' during the run" in message
    assert message.endswith("Rerun with the same store.")
    assert elapsed < 240
    # the finished partitions are kept: a rerun (here without a cluster) encodes the rest
    kept = {p.name for p in (store / "parts").iterdir() if not p.name.startswith(".")}
    assert 0 < len(kept) < 150
    got = encode_to_store(TEXTS, store, encoder, partition_size=10)
    expected = encoder.transform(TEXTS)
    np.testing.assert_array_equal(got.offsets, expected.offsets)
    np.testing.assert_allclose(got.data, expected.data, atol=2e-5, rtol=0)


def test_every_worker_lost_is_named(tiny_encoder_params, tmp_path):
    store = tmp_path / "store"
    with processes(tmp_path, 1) as (file, _, workers):
        address = json.loads(file.read_text())["address"]
        killer = _when_a_partition_is_written(store, lambda: [_kill(w) for w in workers])
        with pytest.raises(ValueError, match=f"The dask scheduler at '{address}' has had no "
                                             "worker for 5 s: every worker was lost"):
            with dask_cluster(str(file), no_workers_timeout=5):
                encode_to_store(TEXTS, store, TokenEncoder(**tiny_encoder_params),
                                partition_size=10)
        killer.join(1)


def test_a_worker_gone_for_good_is_survived(tiny_encoder_params, tmp_path):
    store = tmp_path / "store"
    encoder = TokenEncoder(**tiny_encoder_params)
    texts = TEXTS[:200]
    with processes(tmp_path, 2) as (file, _, workers):
        killer = _when_a_partition_is_written(store, lambda: _kill(workers[0]))
        with dask_cluster(str(file), no_workers_timeout=5) as client:
            got = encode_to_store(texts, store, encoder, partition_size=10)
            survivors = len(client.scheduler_info()["workers"])
        killer.join(1)
    assert workers[0].poll() is not None and survivors == 1  # one worker died for good ...
    expected = encoder.transform(texts)  # ... and the other one finished its work
    np.testing.assert_array_equal(got.offsets, expected.offsets)
    np.testing.assert_allclose(got.data, expected.data, atol=2e-5, rtol=0)


# -- the command line ---------------------------------------------------------------------
def _texts_file(folder: Path) -> Path:
    path = folder / "texts.txt"
    path.write_text("".join(f"text {i} about a cat .\n" for i in range(7)))
    return path


@pytest.mark.parametrize("make_scheduler, fragment", [
    (lambda t, web: str(t / "garbage.json"), "cannot be read as JSON"),
    (lambda t, web: web, "did not answer as a dask scheduler within 10 s"),
], ids=["garbage scheduler file", "web server port"])
def test_cli_names_a_scheduler_that_is_not_one(make_scheduler, fragment, web_server,
                                               tmp_path, capsys):
    from skpool.cli import main

    (tmp_path / "garbage.json").write_text("garbage")
    start = time.perf_counter()
    code = main(["report", "--dataset", str(_texts_file(tmp_path)), "--model",
                 "/nonexistent/skpool-model", "--scheduler", make_scheduler(tmp_path, web_server),
                 "--store", str(tmp_path / "store"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and err[0].startswith("skpool: error: "), err
    assert fragment in err[0] and "AssertionError" not in err[0]
    assert time.perf_counter() - start < 30


def test_cli_partition_size_reaches_the_store(tiny_model_dir, tmp_path, monkeypatch, capsys):
    from skpool import _measure
    from skpool.cli import main

    sizes = []
    real = _measure.encode_to_store

    def recording(texts, path, encoder, **kwargs):
        sizes.append(kwargs.get("partition_size"))
        return real(texts, path, encoder, **kwargs)

    monkeypatch.setattr(_measure, "encode_to_store", recording)
    argv = ["report", "--dataset", str(_texts_file(tmp_path)), "--model", str(tiny_model_dir),
            "--store", str(tmp_path / "store"), "--quiet"]
    assert main([*argv, "--partition-size", "3"]) == 0
    assert main(argv) == 0  # the store is read back: the partition size does not matter
    assert sizes == [3, None]
    assert main([*argv, "--partition-size", "0"]) == 2
    assert "--partition-size" in capsys.readouterr().err


def test_compare_encodes_each_model_into_a_store_of_its_own(tiny_encoder_params, tmp_path):
    from skpool import TokenSets
    from skpool.analysis import compare_models

    texts = [f"text {i} about a cat ." for i in range(6)]
    encoders = [TokenEncoder(**tiny_encoder_params, layer=1), TokenEncoder(**tiny_encoder_params)]
    plain = compare_models(texts, encoders, random_state=0)
    stored = compare_models(texts, encoders, random_state=0, store=tmp_path / "s",
                            partition_size=4)
    for a, b in zip(plain, stored):
        assert (a.record.model, a.record.layer, a.record.n_texts) == (
            b.record.model, b.record.layer, b.record.n_texts)
        assert b.record.mean_socm == pytest.approx(a.record.mean_socm, abs=1e-6)
    for k, encoder in enumerate(encoders):  # each store holds its model's tokens
        tokens = TokenSets.load(tmp_path / "s" / f"model-{k}")
        np.testing.assert_allclose(tokens.data, encoder.transform(texts).data, atol=2e-5)


def test_cli_compare_encodes_on_the_cluster(tiny_model_dir, tmp_path, monkeypatch, capsys):
    from joblib.parallel import get_active_backend

    from skpool import _measure
    from skpool.cli import main

    backends = []
    real = _measure.encode_to_store

    def recording(texts, path, encoder, **kwargs):
        backends.append((type(get_active_backend()[0]).__name__, kwargs.get("partition_size")))
        return real(texts, path, encoder, **kwargs)

    monkeypatch.setattr(_measure, "encode_to_store", recording)
    code = main(["compare", str(tiny_model_dir), str(tiny_model_dir), "--dataset",
                 str(_texts_file(tmp_path)), "--scheduler", "local:1", "--store",
                 str(tmp_path / "s"), "--partition-size", "3", "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert backends == [("DaskDistributedBackend", 3)] * 2
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["model-0", "model-1"]
