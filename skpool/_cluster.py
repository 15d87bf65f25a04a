"""Reaching a dask cluster from a ``--scheduler`` value (private; used by the CLI).

From Python, users open a ``dask.distributed.Client`` themselves and run
skpool inside ``joblib.parallel_config(backend="dask")``; this module does the
same for a command-line string:

- ``local`` or ``local:N``: a ``LocalCluster`` of ``N`` single-threaded worker
  processes (default: one per core), closed on exit;
- a scheduler address (``tcp://host:8786``, ``host:8786``, ...): a client of
  that running scheduler, which must answer as a dask scheduler (handshake
  included) within ``timeout`` seconds;
- the path of a scheduler file (``*.json``, as dask-jobqueue, dask-mpi and
  ``dask scheduler --scheduler-file`` write): a client of the scheduler it names.

While skpool runs on a remote cluster a watchdog stops the run with a clear
error when the scheduler is lost or the cluster has had no worker for a
while (tasks would otherwise wait forever); nothing falls back to running
locally, not even on a cluster of one worker thread in all (``local:1``),
where joblib alone would run the tasks here
(:func:`skpool._engine.parallel.joblib_parallel`). A worker lost while others
remain costs only its tasks, which dask runs again elsewhere.

dask.distributed is an optional dependency (``pip install 'dask[distributed]'``, or ``pip install -e '.[dask]'`` from a clone of skpool).
"""

from __future__ import annotations

import _thread
import contextlib
import json
import os
import threading
import time

from ._validation import describe

__all__ = ["dask_cluster", "parse_scheduler", "INSTALL_HINT"]

INSTALL_HINT = "pip install 'dask[distributed]'"
_CONNECT_TIMEOUT_S = 10.0
# A cluster with no worker this long will run nothing: the run is stopped.
_NO_WORKERS_S = 120.0
# Without a dashboard a dask scheduler still serves its HTTP routes (health, metrics), on
# port 8787 by default: taken by another cluster or program, dask warns "Port 8787 is
# already in use" and moves. A local cluster's scheduler serves them on a free port of
# this machine's loopback instead (no dashboard either way).
_NO_DASHBOARD_PORT = {"dashboard_address": "127.0.0.1:0"}


def _distributed():
    try:
        import distributed
    except ImportError:
        raise ImportError(
            "Running on a dask cluster needs dask.distributed, which is not installed. "
            f"Install it with: {INSTALL_HINT}"
        ) from None
    return distributed


def parse_scheduler(scheduler) -> tuple[str, object]:
    """Split a ``--scheduler`` value into ``("local", n_workers or None)``,
    ``("file", path)`` or ``("address", address)``.

    Examples
    --------
    >>> parse_scheduler("local:2"), parse_scheduler("tcp://10.0.0.5:8786")
    (('local', 2), ('address', 'tcp://10.0.0.5:8786'))
    """
    if not isinstance(scheduler, str) or not scheduler.strip():
        raise ValueError(
            "Expected scheduler to be 'local', 'local:N' (N worker processes), a scheduler "
            f"address such as 'tcp://host:8786', or a scheduler file. Received "
            f"{describe(scheduler)}."
        )
    scheduler = scheduler.strip()
    if scheduler == "local":
        return "local", None
    if scheduler.startswith("local:"):
        count = scheduler[len("local:"):]
        if not count.isdigit() or int(count) < 1:
            raise ValueError(
                "Expected scheduler 'local:N' with N a positive number of worker processes. "
                f"Received {scheduler!r}."
            )
        return "local", int(count)
    if scheduler.endswith(".json"):
        if not os.path.isfile(scheduler):
            raise ValueError(f"The scheduler file {scheduler!r} does not exist.")
        return "file", scheduler
    return "address", scheduler


def _address_in_file(path: str) -> str:
    """The scheduler address a scheduler file names (``dask scheduler --scheduler-file``)."""
    expected = ("expected the JSON file a dask scheduler writes with --scheduler-file, "
                "holding its 'address'")
    try:
        with open(path, encoding="utf-8") as stream:
            content = json.load(stream)
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"The scheduler file {path!r} cannot be read as JSON ({exc}); {expected}."
        ) from None
    address = content.get("address") if isinstance(content, dict) else None
    if not isinstance(address, str) or not address.strip():
        raise ValueError(
            f"The scheduler file {path!r} names no scheduler address; {expected}. "
            f"Received {describe(content)}."
        )
    return address.strip()


def _reach(address: str, timeout: float) -> None:
    """Open (and close) a TCP connection to ``address`` within ``timeout`` seconds,
    retrying while it is refused (a scheduler still starting); a ValueError if not."""
    import socket

    from distributed.comm.addressing import parse_address, parse_host_port

    scheme, location = parse_address(address)
    if scheme not in ("tcp", "tls"):
        return  # another transport: the handshake below is the only check
    host, port = parse_host_port(location)
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, port), timeout=max(
                0.1, deadline - time.monotonic())).close()
            return
        except OSError as exc:
            if time.monotonic() >= deadline:
                raise ValueError(
                    f"Could not reach the dask scheduler at {address!r} within {timeout:g} s "
                    f"({type(exc).__name__}: {exc}). Check that the scheduler is running "
                    "and the address is reachable from here, or use --scheduler local[:N]."
                ) from None
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))


def _handshake(address: str, timeout: float) -> None:
    """Check, within ``timeout`` seconds in all, that a dask scheduler answers at ``address``.

    A port that accepts the connection but does not speak dask's protocol (a
    dashboard, a web server) never answers dask's handshake: ``Client`` alone
    would wait for it forever, its ``timeout`` covering only the connection.
    """
    import asyncio

    from distributed.comm import connect

    start = time.monotonic()
    _reach(address, timeout)

    async def identity():
        comm = await connect(address, timeout=timeout)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    outcome = {}
    left = max(0.5, timeout - (time.monotonic() - start))

    def ask():
        try:
            outcome["reply"] = asyncio.run(asyncio.wait_for(identity(), left))
        except BaseException as exc:  # noqa: BLE001 - reported below
            outcome["error"] = exc

    # a thread, so that nothing (a blocking resolver, say) can outlast the timeout
    thread = threading.Thread(target=ask, name="skpool-scheduler-handshake", daemon=True)
    thread.start()
    thread.join(left + 5.0)
    error, reply = outcome.get("error"), outcome.get("reply")
    if thread.is_alive() or isinstance(error, (TimeoutError, asyncio.TimeoutError)):
        raise ValueError(
            f"The address {address!r} accepted a connection but did not answer as a dask "
            f"scheduler within {timeout:g} s (is it a dashboard or another service? A dask "
            "scheduler listens on 8786 by default, its dashboard on 8787)."
        )
    if isinstance(error, OSError):  # reached a moment ago, gone now
        raise ValueError(
            f"Could not reach the dask scheduler at {address!r} within {timeout:g} s "
            f"({type(error).__name__}: {error})."
        )
    if error is not None or not isinstance(reply, dict) or reply.get("type") != "Scheduler":
        found = (f"{type(error).__name__}: {str(error)[:200]}" if error is not None
                 else f"it says it is a {reply.get('type')!r}" if isinstance(reply, dict)
                 else f"it replied {describe(reply)}")
        raise ValueError(
            f"The address {address!r} answered, but not as a dask scheduler ({found}). "
            "Check the address and port (a dask scheduler listens on 8786 by default)."
        )


class _Watchdog:
    """Watches a client while skpool runs on its cluster; stops the run on a fault.

    Faults: the scheduler is lost (the client gave up reconnecting), or the
    cluster has had no worker for ``no_workers_s`` seconds (every worker lost,
    or none joined): its tasks would wait forever. The main thread is
    interrupted (KeyboardInterrupt), and :func:`dask_cluster` turns that into
    a ValueError naming the fault.
    """

    def __init__(self, client, address: str, *, no_workers_s: float):
        self.client = client
        self.address = address
        self.no_workers_s = no_workers_s
        self.fault = None
        self.interrupted = False
        self._lock = threading.Lock()  # no interrupt once stop() has returned
        self._stop = threading.Event()
        self._main = threading.current_thread() is threading.main_thread()
        self._thread = threading.Thread(target=self._watch, name="skpool-cluster-watchdog",
                                        daemon=True)
        self._thread.start()

    def lost_scheduler(self, *, reconnecting_counts: bool = False) -> str | None:
        """The fault if the scheduler is lost; while the client tries to reconnect,
        only if ``reconnecting_counts`` (an error was raised meanwhile: the run failed)."""
        ok = ("running", "newly-created") + (() if reconnecting_counts else ("connecting",))
        if self.client.status in ok:
            return None
        return (f"Lost the dask scheduler at {self.address!r} during the run: the "
                "connection to it broke and could not be restored (is the scheduler still "
                "running?).")

    def _watch(self) -> None:
        last_worker = time.monotonic()
        while not self._stop.wait(1.0):
            fault = self.lost_scheduler()
            if fault is None and self.client.status == "running":
                try:
                    workers = len(self.client.scheduler_info(n_workers=-1).get("workers", {}))
                except Exception:  # noqa: BLE001 - a lost scheduler is seen next round
                    continue
                now = time.monotonic()
                if workers:
                    last_worker = now
                elif now - last_worker > self.no_workers_s:
                    fault = (f"The dask scheduler at {self.address!r} has had no worker for "
                             f"{self.no_workers_s:g} s: every worker was lost (or none "
                             "joined), and its tasks would wait forever.")
            if fault is not None:
                with self._lock:
                    if self._stop.is_set():
                        return
                    self.fault = fault
                    if self._main:
                        self.interrupted = True
                        _thread.interrupt_main()
                return

    def stop(self) -> None:
        with self._lock:
            self._stop.set()
        if self.interrupted:
            # the interrupt may still be pending: let it fire here, not in the caller
            try:
                for _ in range(50):
                    time.sleep(0.002)
            except KeyboardInterrupt:
                pass


@contextlib.contextmanager
def dask_cluster(scheduler, *, timeout: float = _CONNECT_TIMEOUT_S,
                 no_workers_timeout: float = _NO_WORKERS_S, resume_hint: str | None = None):
    """Open the cluster named by ``scheduler``; joblib's dask backend is active inside.

    Yields the ``distributed.Client``. skpool's encoding partitions, SOCM
    blocks and OT pairs then run as tasks on the cluster's workers.

    Parameters
    ----------
    scheduler : str
        ``local``, ``local:N``, a scheduler address or a scheduler file.
    timeout : float
        Seconds a remote scheduler has to answer, handshake included.
    no_workers_timeout : float
        Seconds the cluster may have no worker before the run is stopped.
    resume_hint : str, optional
        Said after a fault that stops the run (how to resume it).

    Raises
    ------
    ImportError
        dask.distributed is not installed (the message says how to install it).
    ValueError
        ``scheduler`` is malformed or names an unreadable scheduler file; the
        scheduler does not answer, or not as a dask scheduler, within
        ``timeout`` seconds; the scheduler is lost during the run, or the
        cluster has no worker for ``no_workers_timeout`` seconds (the
        message names the address).
    """
    kind, value = parse_scheduler(scheduler)
    distributed = _distributed()
    from joblib import parallel_config

    from ._store import tell_dask

    tell_dask()  # memory-mapped corpora travel to the workers as references

    with contextlib.ExitStack() as stack:
        if kind == "local":
            # one thread per worker process: torch and BLAS then use one core each
            # (dask's nanny sets OMP_NUM_THREADS=1), and processes sidestep the GIL
            cluster = stack.enter_context(distributed.LocalCluster(
                n_workers=value, threads_per_worker=1, processes=True,
                dashboard_address=None, scheduler_kwargs=_NO_DASHBOARD_PORT))
            client = stack.enter_context(distributed.Client(cluster))
            address = str(cluster.scheduler_address)
        else:
            address = _address_in_file(value) if kind == "file" else value
            _handshake(address, timeout)
            try:
                client = distributed.Client(address, timeout=f"{timeout}s")
            except (OSError, TimeoutError) as exc:  # gone since the handshake
                raise ValueError(
                    f"Could not reach the dask scheduler at {address!r} within {timeout:g} s "
                    f"({type(exc).__name__}: {exc})."
                ) from None
            stack.enter_context(client)
        watchdog = _Watchdog(client, address, no_workers_s=no_workers_timeout)
        stack.callback(watchdog.stop)
        stack.enter_context(parallel_config(backend="dask"))
        try:
            yield client
        except BaseException:
            watchdog.stop()
            fault = watchdog.fault or watchdog.lost_scheduler(reconnecting_counts=True)
            if fault is None:
                raise
            hint = resume_hint or ("Work already written to a token store is kept: run "
                                   "again with the same store to resume.")
            raise ValueError(f"{fault} {hint}") from None
