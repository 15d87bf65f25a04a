"""Reaching a dask cluster from a ``--scheduler`` value (private; used by the CLI).

From Python, users open a ``dask.distributed.Client`` themselves and run
skpool inside ``joblib.parallel_config(backend="dask")``; this module does the
same for a command-line string:

- ``local`` or ``local:N``: a ``LocalCluster`` of ``N`` single-threaded worker
  processes (default: one per core), closed on exit;
- a scheduler address (``tcp://host:8786``, ``host:8786``, ...): a client of
  that running scheduler, which must answer within ``timeout`` seconds;
- the path of a scheduler file (``*.json``, as dask-jobqueue, dask-mpi and
  ``dask scheduler --scheduler-file`` write): a client of the scheduler it names.

dask.distributed is an optional dependency (``pip install 'dask[distributed]'``, or ``pip install -e '.[dask]'`` from a clone of skpool).
"""

from __future__ import annotations

import contextlib
import os

from ._validation import describe

__all__ = ["dask_cluster", "parse_scheduler", "INSTALL_HINT"]

INSTALL_HINT = "pip install 'dask[distributed]'"
_CONNECT_TIMEOUT_S = 10.0


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


@contextlib.contextmanager
def dask_cluster(scheduler, *, timeout: float = _CONNECT_TIMEOUT_S):
    """Open the cluster named by ``scheduler``; joblib's dask backend is active inside.

    Yields the ``distributed.Client``. skpool's encoding partitions, SOCM
    blocks and OT pairs then run as tasks on the cluster's workers.

    Raises
    ------
    ImportError
        dask.distributed is not installed (the message says how to install it).
    ValueError
        ``scheduler`` is malformed, or the scheduler does not answer within
        ``timeout`` seconds (the message names the address).
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
                dashboard_address=None))
            client = stack.enter_context(distributed.Client(cluster))
        else:
            where = {"file": "scheduler_file", "address": "address"}[kind]
            try:
                client = distributed.Client(**{where: value}, timeout=f"{timeout}s")
            except (OSError, TimeoutError) as exc:
                raise ValueError(
                    f"Could not reach the dask scheduler at {value!r} within {timeout:g} s "
                    f"({type(exc).__name__}: {exc}). Check that the scheduler is running and "
                    "the address is reachable from here, or use --scheduler local[:N]."
                ) from None
            except Exception as exc:  # something answered, but not a dask scheduler
                raise ValueError(
                    f"The address {value!r} answered, but not as a dask scheduler "
                    f"({type(exc).__name__}: {str(exc)[:200]}). Check the address and port "
                    "(a dask scheduler listens on 8786 by default)."
                ) from None
            stack.enter_context(client)
        stack.enter_context(parallel_config(backend="dask"))
        yield client
