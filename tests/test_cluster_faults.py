"""A real cluster: a scheduler and workers started as separate processes; its faults.

``dask scheduler`` and ``dask worker`` run as their own processes on 127.0.0.1
only, as on a real cluster, so that the scheduler or a worker can be killed for
good (no nanny to restart it). Every wait is bounded and every process is killed
at the end of its test. Where tasks must have run on the workers, the
scheduler's task stream and the workers' process ids say so: equal numbers
alone would not (a run on the driver gives them too).
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

from joblib import delayed, effective_n_jobs, parallel_config  # noqa: E402

from skpool import TokenEncoder, TokenSets  # noqa: E402
from skpool._cluster import dask_cluster  # noqa: E402
from skpool._engine.parallel import parallel_map  # noqa: E402
from skpool.encoder._distributed import encode_to_store  # noqa: E402
from skpool.neighbours import neighbour_collapse  # noqa: E402

_STARTUP_S = 120  # a loaded test machine takes tens of seconds to start a worker


def _env():
    env = dict(os.environ)
    # the workers import this checkout's skpool, offline
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    return env


@contextlib.contextmanager
def processes(folder: Path, n_workers: int, *, nthreads: int = 2):
    """A scheduler and ``n_workers`` workers of ``nthreads`` threads each, without nannies.

    Yields (scheduler file, scheduler process, worker processes): a worker
    process's pid is the pid its tasks run in.
    """
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
                          "--nthreads", str(nthreads), "--no-nanny", "--no-dashboard",
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


@pytest.fixture
def encoded_here(monkeypatch):
    """The partitions that ``encode_to_store`` encodes in this process, not on a worker.

    A run on the cluster must leave it empty: a fault that stops the workers
    then stops the run, rather than a run on the driver finishing unseen.
    """
    from skpool.encoder import _distributed

    here, driver, real = [], os.getpid(), _distributed._encode_partition

    def encode_partition(encoder, store, k, texts):  # pickled by value to the workers
        if os.getpid() == driver:
            here.append(k)
        return real(encoder, store, k, texts)

    monkeypatch.setattr(_distributed, "_encode_partition", encode_partition)
    return here


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


def test_a_local_cluster_leaves_port_8787_alone():
    """``--scheduler local`` with 8787 taken (by another cluster's scheduler, say): no
    warning that 'Port 8787 is already in use', and the scheduler's HTTP routes (it has
    no dashboard) are served on a free port of the loopback."""
    import socket
    import warnings

    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(socket.create_server(("127.0.0.1", 8787)))
        except OSError:
            pass  # another process holds it already: the case itself
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with dask_cluster("local:1") as client:
                http = client.run_on_scheduler(
                    lambda dask_scheduler: dask_scheduler.http_server.address)
                port = client.scheduler_info()["services"]["dashboard"]
    assert [str(w.message) for w in caught if "8787" in str(w.message)] == []
    assert port != 8787 and http == "127.0.0.1"


# -- a scheduler and workers as separate processes ---------------------------------------
def test_a_worker_is_not_the_scheduler(tmp_path):
    with processes(tmp_path, 1) as (file, _, _):
        with distributed.Client(scheduler_file=str(file), timeout="30s") as client:
            worker = next(iter(client.scheduler_info()["workers"]))
        with pytest.raises(ValueError, match=r"answered, but not as a dask scheduler \(it "
                                             r"says it is a 'Worker'\)"):
            with dask_cluster(worker, timeout=10):
                pass


# one thread in all is the case where joblib's dask backend reports one worker: the
# tasks must reach the cluster all the same (skpool._engine.parallel.joblib_parallel),
# or the fault would never reach the run
ONE_THREAD_OR_TWO = pytest.mark.parametrize("nthreads", [1, 2], ids=["1 thread", "2 threads"])


@ONE_THREAD_OR_TWO
def test_a_stopped_scheduler_is_named_and_a_rerun_resumes(tiny_encoder_params, tmp_path,
                                                          nthreads, encoded_here):
    store = tmp_path / "store"
    encoder = TokenEncoder(**tiny_encoder_params)
    with processes(tmp_path, 1, nthreads=nthreads) as (file, scheduler, _):
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
    assert encoded_here == []  # every partition went to the worker
    # the finished partitions are kept: a rerun (here without a cluster) encodes the rest
    kept = {p.name for p in (store / "parts").iterdir() if not p.name.startswith(".")}
    assert 0 < len(kept) < 150
    got = encode_to_store(TEXTS, store, encoder, partition_size=10)
    expected = encoder.transform(TEXTS)
    np.testing.assert_array_equal(got.offsets, expected.offsets)
    np.testing.assert_allclose(got.data, expected.data, atol=2e-5, rtol=0)


@ONE_THREAD_OR_TWO
def test_every_worker_lost_is_named(tiny_encoder_params, tmp_path, nthreads, encoded_here):
    store = tmp_path / "store"
    with processes(tmp_path, 1, nthreads=nthreads) as (file, _, workers):
        address = json.loads(file.read_text())["address"]
        killer = _when_a_partition_is_written(store, lambda: [_kill(w) for w in workers])
        with pytest.raises(ValueError, match=f"The dask scheduler at '{address}' has had no "
                                             "worker for 5 s: every worker was lost"):
            with dask_cluster(str(file), no_workers_timeout=5):
                encode_to_store(TEXTS, store, TokenEncoder(**tiny_encoder_params),
                                partition_size=10)
        killer.join(1)
    assert encoded_here == []


def test_a_worker_gone_for_good_is_survived(tiny_encoder_params, tmp_path, encoded_here):
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
    assert encoded_here == []
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


# -- one worker thread in all -------------------------------------------------------------
def _task_keys(stream, name: str) -> list[tuple[str, str]]:
    """(key, worker address) of the tasks of function ``name`` in a task stream."""
    return [(str(t["key"]), t["worker"]) for t in stream.data if name in str(t["key"])]


def test_a_one_thread_cluster_runs_every_task_on_its_worker(tiny_encoder_params, tmp_path):
    texts = TEXTS[:40]
    with processes(tmp_path, 1, nthreads=1) as (file, _, (worker,)):
        with distributed.Client(scheduler_file=str(file), timeout="30s") as client, \
                parallel_config(backend="dask"):
            assert effective_n_jobs() == 1  # what made joblib run the tasks here
            ran_in = parallel_map([delayed(os.getpid)() for _ in range(5)], sizes=[1] * 5,
                                  bar=None, n_jobs=-1)
            with distributed.get_task_stream(client=client) as stream:
                encode_to_store(texts, tmp_path / "store", TokenEncoder(**tiny_encoder_params),
                                partition_size=10)
    assert worker.pid != os.getpid() and ran_in == [worker.pid] * 5
    assert len(_task_keys(stream, "_encode_partition")) == 4  # every partition, as a task


def test_cli_report_on_one_local_worker_runs_there(tiny_model_dir, tmp_path, monkeypatch,
                                                   capsys):
    """``skpool report --scheduler local:1 --store DIR``: a cluster of one thread in all."""
    from skpool import _cluster
    from skpool.cli import main

    seen = {}
    real = _cluster.dask_cluster

    @contextlib.contextmanager
    def watched(*args, **kwargs):
        with real(*args, **kwargs) as client, \
                distributed.get_task_stream(client=client) as stream:
            seen["workers"] = client.run(os.getpid)
            yield client
        seen["stream"] = stream

    monkeypatch.setattr(_cluster, "dask_cluster", watched)
    code = main(["report", "--dataset", str(_texts_file(tmp_path)), "--model",
                 str(tiny_model_dir), "--scheduler", "local:1", "--store",
                 str(tmp_path / "store"), "--partition-size", "3", "--quiet", "--json", "-"])
    assert code == 0, capsys.readouterr().err
    assert len(seen["workers"]) == 1 and os.getpid() not in seen["workers"].values()
    stream = seen["stream"]
    assert len(_task_keys(stream, "_encode_partition")) == 3  # 7 texts in partitions of 3
    assert _task_keys(stream, "_dense")  # and the SOCM blocks
    assert {t["worker"] for t in stream.data} == set(seen["workers"])


# -- every text's neighbours on the cluster -----------------------------------------------
def _neighbour_clouds(n: int = 90) -> TokenSets:
    """Clouds of 2 to 29 tokens of dimension 24 (float32), text 7 a copy of text 40."""
    rng = np.random.default_rng(3)
    clouds = [(rng.normal(size=(int(m), 24)) + 1.0).astype(np.float32)
              for m in rng.integers(2, 30, n)]
    clouds[7] = clouds[40].copy()
    return TokenSets.from_arrays(clouds)


def assert_same_neighbours(got, expected):
    np.testing.assert_array_equal(got.neighbours, expected.neighbours)
    np.testing.assert_array_equal(got.pair_i, expected.pair_i)
    np.testing.assert_array_equal(got.pair_j, expected.pair_j)
    for name in ("pair_d_mu", "pair_d_sigma", "pair_socm"):
        np.testing.assert_allclose(getattr(got, name), getattr(expected, name), rtol=0,
                                   atol=1e-12, err_msg=name)


@pytest.mark.parametrize("n_workers, nthreads", [(2, 2), (1, 1)],
                         ids=["2 workers of 2 threads", "1 worker of 1 thread"])
def test_neighbours_of_a_mapped_store_run_on_the_workers(tmp_path, n_workers, nthreads):
    tokens = _neighbour_clouds()
    tokens.save(tmp_path / "store")
    expected = neighbour_collapse(tokens, 6, top=5)  # in memory, in this process
    assert expected.record.n_duplicate_pairs == 1
    mapped = TokenSets.load(tmp_path / "store", mmap_mode="r")
    with processes(tmp_path, n_workers, nthreads=nthreads) as (file, _, workers):
        with distributed.Client(scheduler_file=str(file), timeout="30s") as client:
            pids = client.run(os.getpid)
            with distributed.get_task_stream(client=client) as stream, \
                    parallel_config(backend="dask"):
                got = neighbour_collapse(mapped, 6, top=5)
    assert isinstance(mapped.data, np.memmap)
    assert_same_neighbours(got, expected)
    blocks = _task_keys(stream, "_paired_task")
    assert len(blocks) >= 2  # the pair blocks ran as tasks, in the worker processes
    assert sorted(pids.values()) == sorted(w.pid for w in workers)
    assert {pids[worker] for _, worker in blocks} <= {w.pid for w in workers}
    assert os.getpid() not in pids.values()


class _KillAtFirstPairBlock(distributed.WorkerPlugin):
    """SIGKILL the worker process that starts the first SOCM pair block (once in all)."""

    def __init__(self, flag: str):
        self.flag = flag

    def transition(self, key, start, finish, **kwargs):
        if finish != "executing" or "_paired_task" not in str(key):
            return
        try:
            os.close(os.open(self.flag, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return
        os.kill(os.getpid(), signal.SIGKILL)  # mid-task: the block never finishes here


def test_a_worker_gone_for_good_during_neighbours_is_survived(tmp_path):
    import cloudpickle

    tokens = _neighbour_clouds()
    tokens.save(tmp_path / "store")
    mapped = TokenSets.load(tmp_path / "store", mmap_mode="r")
    expected = neighbour_collapse(tokens, 6, top=5)
    flag = tmp_path / "killed"
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the plugin, to the workers
    try:
        with processes(tmp_path, 2) as (file, _, workers):
            with dask_cluster(str(file), no_workers_timeout=5) as client:
                client.register_plugin(_KillAtFirstPairBlock(str(flag)), name="kill")
                with distributed.get_task_stream(client=client) as stream:
                    got = neighbour_collapse(mapped, 6, top=5)
                survivors = client.run(os.getpid)
            alive = [w.pid for w in workers if w.poll() is None]
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert flag.exists()  # a worker was killed while running a pair block ...
    assert len(alive) == 1 and list(survivors.values()) == alive  # ... for good (no nanny) ...
    assert_same_neighbours(got, expected)  # ... and the other one did its blocks again
    assert {worker for _, worker in _task_keys(stream, "_paired_task")} == set(survivors)


def _words_file(folder: Path, n: int = 40) -> Path:
    """``n`` distinct texts of 3 to 12 words the tiny model knows, one per line."""
    words = ("the a cat dog bird film movie story man woman city war love life world time "
             "music book house car tree river sea sun moon good bad new old big small").split()
    rng = np.random.default_rng(5)
    lines = []
    while len(lines) < n:
        line = " ".join(rng.choice(words, size=int(rng.integers(3, 13))))
        if line not in lines:
            lines.append(line)
    path = folder / "words.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_cli_neighbours_on_a_running_scheduler(tiny_model_dir, tmp_path, capsys):
    from skpool.cli import main

    store = tmp_path / "store"
    with processes(tmp_path, 2) as (file, _, workers):
        address = json.loads(file.read_text())["address"]
        with distributed.Client(address, timeout="30s") as watcher, \
                distributed.get_task_stream(client=watcher) as stream:
            code = main(["neighbours", "--dataset", str(_words_file(tmp_path)), "--model",
                         str(tiny_model_dir), "--scheduler", address, "--store", str(store),
                         "--partition-size", "8", "-K", "4", "--top", "1000", "--quiet",
                         "--json", "-"])
            pids = watcher.run(os.getpid)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    record = json.loads(captured.out)[0]
    # the encoding partitions and the pair blocks ran on the worker processes
    assert len(_task_keys(stream, "_encode_partition")) == 5  # 40 texts, 8 per partition
    assert _task_keys(stream, "_paired_task")
    assert {t["worker"] for t in stream.data} <= set(pids)
    assert sorted(pids.values()) == sorted(w.pid for w in workers)
    # the numbers are those of the same tokens in memory, in this process
    tokens = TokenSets.load(store)  # what the workers wrote
    assert len(tokens) == 40 and not isinstance(tokens.data, np.memmap)
    expected = neighbour_collapse(tokens, 4, top=1000)
    assert [row["neighbours"] for row in record["texts"]] == \
        (expected.neighbours + 1).tolist()  # ids: 1-based line numbers
    pairs = record["top_pairs"]
    assert len(pairs) == expected.record.n_pairs == record["n_pairs"]
    top = expected.top_pairs
    assert [(p["i"], p["j"]) for p in pairs] == list(zip(top["i"], top["j"]))
    for name in ("d_mu", "d_sigma", "socm"):
        np.testing.assert_allclose([p[name] for p in pairs], top[name], rtol=0, atol=1e-12)
