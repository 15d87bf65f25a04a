"""Workers, joblib tasks and BLAS threads (private).

``n_jobs`` has one meaning in skpool (docs/glossary.md): None is the
``n_jobs`` of an active ``joblib.parallel_config`` when one sets it, and
every core (``-1``) otherwise; 1 is one worker, -1 every core. Each task runs
with one BLAS thread (:func:`single_threaded`), so parallelism comes from the
tasks side by side, not from BLAS inside each one.

Every ``joblib.Parallel`` that may go to a dask cluster is made by
:func:`joblib_parallel`: on a cluster of one worker thread in all, joblib's
dask backend reports one worker, and ``Parallel`` would then run every task in
the calling process (its ``n_jobs == 1`` shortcut) instead of on the cluster.
"""

from __future__ import annotations

import contextlib
import sys
import threading

from .._progress import SilentBar

__all__ = ["resolve_n_jobs", "effective_workers", "local_threads", "joblib_parallel",
           "parallel_map", "one_blas_thread", "single_threaded"]


def resolve_n_jobs(n_jobs):
    """The worker count ``n_jobs`` (already checked) stands for: None resolved.

    None is the ``n_jobs`` of an active ``joblib.parallel_config`` context when
    one sets it, and every core (``-1``) otherwise: each task runs with one
    BLAS thread, so one task at a time would leave cores idle that NumPy alone
    would use.
    """
    if n_jobs is None:
        from joblib.parallel import get_active_backend

        context_n_jobs = get_active_backend()[1]
        return -1 if context_n_jobs is None else context_n_jobs
    return n_jobs


def effective_workers(n_jobs) -> int:
    """How many tasks joblib runs at once for ``n_jobs`` (in the active backend)."""
    from joblib import effective_n_jobs

    try:
        return max(1, int(effective_n_jobs(n_jobs)))
    except Exception:  # a backend that cannot tell (e.g. a dask cluster still starting)
        return 1


def local_threads(n_jobs) -> int:
    """Threads on this machine for ``n_jobs`` (resolved): joblib's count of its cores.

    For work that stays in this process whatever the joblib backend (a Faiss
    search, say): ``-1`` is every core here, ``-2`` all but one, even inside a
    dask context, whose workers are elsewhere.
    """
    from joblib import cpu_count

    if n_jobs < 0:
        return max(1, cpu_count() + 1 + n_jobs)
    return max(1, n_jobs)


_ONE_THREAD_CLUSTER_BACKEND = None


def _one_thread_cluster_backend():
    """joblib's dask backend, telling ``Parallel`` of two workers when the cluster has one.

    ``Parallel`` runs the tasks itself when its backend reports a single
    worker; this backend reports two instead, so that the tasks are submitted
    to the cluster, whose one thread runs them in turn (the scheduler queues
    the rest). Nothing else changes: submitting, scattering and collecting are
    joblib's own.
    """
    global _ONE_THREAD_CLUSTER_BACKEND
    if _ONE_THREAD_CLUSTER_BACKEND is None:
        from joblib._dask import DaskDistributedBackend

        class OneThreadClusterBackend(DaskDistributedBackend):
            def configure(self, n_jobs=1, parallel=None, **backend_args):
                workers = super().configure(n_jobs=n_jobs, parallel=parallel, **backend_args)
                return 2 if workers == 1 else workers

        _ONE_THREAD_CLUSTER_BACKEND = OneThreadClusterBackend
    return _ONE_THREAD_CLUSTER_BACKEND


def joblib_parallel(**parallel_kwargs):
    """``joblib.Parallel(**parallel_kwargs)``, whose tasks reach a dask cluster of any size.

    Inside ``joblib.parallel_config(backend="dask")`` on a cluster of one worker
    thread in all, joblib's dask backend reports one worker and ``Parallel``
    would run every task in this process; the tasks are sent to the cluster's
    thread instead (as on any larger cluster), through the same dask backend
    with the same client and scattered data. Every other backend is left as it
    is.
    """
    from joblib import Parallel

    if parallel_kwargs.get("backend") is None and "joblib._dask" in sys.modules:
        from joblib._dask import DaskDistributedBackend
        from joblib.parallel import get_active_backend

        hints = {key: parallel_kwargs[key] for key in ("prefer", "require")
                 if parallel_kwargs.get(key) is not None}
        active = get_active_backend(**hints)[0]
        if (isinstance(active, DaskDistributedBackend)
                and active.effective_n_jobs(-1) == 1):
            backend = _one_thread_cluster_backend()(
                client=active.client, wait_for_workers_timeout=active.wait_for_workers_timeout,
                **active.submit_kwargs)
            backend.data_futures = active.data_futures  # what the user scattered
            parallel_kwargs = dict(parallel_kwargs, backend=backend)
    return Parallel(**parallel_kwargs)


def parallel_map(calls, *, sizes, bar, **parallel_kwargs) -> list:
    """Run joblib ``calls`` and return their results in order, advancing ``bar``.

    The bar advances as each task's result comes back to this process, so it
    moves per block whatever the backend (threads, processes or a dask
    cluster); it never changes what is computed or the order of the results.

    Parameters
    ----------
    calls : iterable of joblib ``delayed`` calls
    sizes : sequence of int
        The units of work of each call (e.g. its pairs): ``bar.update(sizes[k])``
        when call ``k``'s result arrives.
    bar : tqdm.tqdm, the silent bar of :func:`skpool._progress.progress_bar`, or None
    **parallel_kwargs
        Passed to :class:`joblib.Parallel` (``n_jobs``, ``prefer``, ...).

    Returns
    -------
    list
        The results, in the order of ``calls`` (as ``Parallel`` returns them).
    """
    calls = list(calls)
    if bar is None or isinstance(bar, SilentBar):
        return joblib_parallel(**parallel_kwargs)(calls)
    try:
        results = joblib_parallel(return_as="generator", **parallel_kwargs)(calls)
    except ValueError:
        # a backend that cannot hand back results one by one (multiprocessing):
        # the bar jumps once at the end
        results = joblib_parallel(**parallel_kwargs)(calls)
    collected = []
    for size, result in zip(sizes, results):
        collected.append(result)
        bar.update(int(size))
    return collected


_CONTROLLER = None


def one_blas_thread():
    """A cheap context manager limiting BLAS to one thread (for per-pair calls).

    Small factorizations slow down by an order of magnitude when OpenBLAS
    spreads each over several threads, the more so on a busy machine. The
    controller is built once (scanning the loaded libraries costs about a
    millisecond); entering its limit costs microseconds.
    """
    global _CONTROLLER
    if threading.current_thread() is not threading.main_thread():
        # the limit is process-wide: only the main thread sets (and restores) it
        return contextlib.nullcontext()
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="blas")


@contextlib.contextmanager
def single_threaded(device=None):
    """One BLAS / OpenMP thread (and one torch thread on a CPU device) while tasks run.

    Batched eigenvalue calls on small matrices slow down by an order of magnitude
    when BLAS spreads each one over several threads; parallelism comes from
    running tasks side by side instead (``n_jobs``).
    """
    from threadpoolctl import threadpool_limits

    torch_threads = None
    if device is not None and device.startswith("cpu"):
        import torch

        torch_threads = torch.get_num_threads()
        torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        if torch_threads is not None:
            import torch

            torch.set_num_threads(torch_threads)
