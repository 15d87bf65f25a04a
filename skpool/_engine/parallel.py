"""Workers, joblib tasks and BLAS threads (private).

``n_jobs`` has one meaning in skpool (docs/glossary.md): None is the
``n_jobs`` of an active ``joblib.parallel_config`` when one sets it, and
every core (``-1``) otherwise; 1 is one worker, -1 every core. Each task runs
with one BLAS thread (:func:`single_threaded`), so parallelism comes from the
tasks side by side, not from BLAS inside each one.
"""

from __future__ import annotations

import contextlib
import threading

from .._progress import SilentBar

__all__ = ["resolve_n_jobs", "effective_workers", "parallel_map", "one_blas_thread",
           "single_threaded"]


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
    from joblib import Parallel

    calls = list(calls)
    if bar is None or isinstance(bar, SilentBar):
        return Parallel(**parallel_kwargs)(calls)
    try:
        results = Parallel(return_as="generator", **parallel_kwargs)(calls)
    except ValueError:
        # a backend that cannot hand back results one by one (multiprocessing):
        # the bar jumps once at the end
        results = Parallel(**parallel_kwargs)(calls)
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
