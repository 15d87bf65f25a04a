r"""W2 between many pairs of token clouds, exact (POT, in parallel) or Gaussian.

A corpus is prepared once (float64 clouds, normalized if asked, with their
token masses and means); each route then works per pair on that preparation.
Pairs are cut into chunks and each chunk is one joblib task. Exact solves run
in worker processes, because POT's network simplex holds the GIL; the
workers return POT's non-convergence messages rather than warn, because a
warning raised in a worker process never reaches the caller. The Gaussian
route's SVDs release the GIL and its summaries are large, so it uses threads.
Per-pair products are small (about 100 x 384), where a multi-threaded BLAS
only adds synchronisation (twenty times slower on a busy machine), so the
loops run with one BLAS thread and get their parallelism from joblib.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from joblib import delayed, effective_n_jobs
from threadpoolctl import threadpool_limits

from .._engine.parallel import parallel_map, resolve_n_jobs
from .._params import N_JOBS, validate_params
from .._store import backing_file, scratch_array, seal
from .._validation import describe
from ..tokensets import check_token_sets
from ..math.gaussian import bures_squared_stats
from ._w2 import (
    as_float64,
    canonical_form,
    common_scale,
    centred_exact_sq,
    check_method,
    check_scheme,
    scheme_masses,
    weighted_stats,
    warn_unconverged,
)

__all__ = ["pairwise_w2"]

_KINDS = ("gaussian", "exact")
_EXACT_KEYWORDS = ("method", "reg", "numItermax")
# Enough chunks per worker to even out the load, few enough that the
# per-task overhead stays small against ~ms solves.
_CHUNKS_PER_WORKER = 8


@dataclass(frozen=True)
class _Corpus:
    """The texts of one or two corpora, ready for pairwise work (float64).

    ``clouds`` are normalized already when asked, so both routes use them as
    raw clouds. ``masses`` is ``None`` for uniform masses.
    """

    clouds: list            # of ndarray (n_i, d), divided by ``unit``
    masses: list            # of ndarray (n_i,) or None
    means: np.ndarray       # (n_texts, d)
    uniform: bool
    unit: float             # the power of two the clouds were divided by: W2 scales with it
    measure_ids: np.ndarray  # (n_texts,): equal exactly for the same measure (weighted points)
    # the token array the texts came from when it is memory-mapped (a store), else None:
    # per-token arrays derived from it go to scratch files beside it (see exact_centred_sq)
    like: object = None


def prepare(groups, *, normalize: bool, scheme: str, like=None) -> _Corpus:
    """Prepare ``groups = [(name, TokenSets[, indices]), ...]`` as one list of texts.

    ``indices`` (optional) are the texts' indices in the caller's corpus, for
    error messages when only some texts are prepared. ``like``: the token
    array the texts were taken from (default: the first group's), so that a
    memory-mapped corpus keeps its per-token work on disk.
    """
    if like is None:
        like = next((sets.data for _, sets, *_ in groups
                     if backing_file(sets.data) is not None), None)
    clouds, masses = [], []
    for name, sets, *rest in groups:
        indices = rest[0] if rest else range(len(sets))
        for index, X in zip(indices, sets):
            index = int(index)
            X, _ = as_float64(X, normalize, name=name, index=index)
            clouds.append(X)
            masses.append(scheme_masses(X, scheme, name=name, index=index))
    unit = common_scale(*clouds)
    clouds = [X / unit for X in clouds]
    means = [X.mean(axis=0) if a is None else a @ X for X, a in zip(clouds, masses)]
    return _Corpus(clouds, masses, np.stack(means), scheme == "uniform", unit,
                   _measure_ids(clouds, masses),
                   like if backing_file(like) is not None else None)


def _measure_ids(clouds, masses) -> np.ndarray:
    """One id per text, equal exactly for texts that are the same measure.

    Duplicate texts (real corpora have them) must be at distance exactly 0 by
    every route, not the ~1e-8 that round-off in a cost matrix or a
    factorization leaves.
    """
    ids = np.arange(len(clouds))
    seen = {}
    for k, (X, a) in enumerate(zip(clouds, masses)):
        canonical = canonical_form(X, a)
        key = (canonical.shape, canonical.tobytes())
        ids[k] = seen.setdefault(key, k)
    return ids


def same_pairs(corpus: _Corpus, pairs: np.ndarray) -> np.ndarray:
    """Mask of the rows ``(i, j)`` of ``pairs`` whose two texts are the same measure."""
    return corpus.measure_ids[pairs[:, 0]] == corpus.measure_ids[pairs[:, 1]]


def mean_sq(corpus: _Corpus, pairs: np.ndarray) -> np.ndarray:
    """:math:`\\lVert m_i - m_j\\rVert^2` per row of ``pairs``, from differences."""
    diff = corpus.means[pairs[:, 0]] - corpus.means[pairs[:, 1]]
    return np.einsum("ij,ij->i", diff, diff)


def _chunks(pairs: np.ndarray, n_jobs) -> list[np.ndarray]:
    n_chunks = max(1, min(len(pairs), _CHUNKS_PER_WORKER * effective_n_jobs(n_jobs)))
    return [chunk for chunk in np.array_split(pairs, n_chunks) if len(chunk)]


def _exact_chunk(data, offsets, masses, pairs, method, reg, numItermax):
    """Centred squared W2 of each pair of one chunk, and POT's complaints."""
    values = np.empty(len(pairs))
    problems = []
    for k, (i, j) in enumerate(pairs):
        si, ei, sj, ej = offsets[i], offsets[i + 1], offsets[j], offsets[j + 1]
        values[k], problem = centred_exact_sq(
            data[si:ei], data[sj:ej], masses[si:ei], masses[sj:ej],
            method=method, reg=reg, numItermax=numItermax)
        if problem is not None:
            problems.append((int(i), int(j), problem))
    return values, problems


def exact_centred_sq(corpus: _Corpus, pairs: np.ndarray, *, n_jobs, method, reg,
                      numItermax, label=None, bar=None) -> np.ndarray:
    """Exact squared W2 between the centred clouds, per row ``(i, j)`` of ``pairs``.

    ``label(i, j)`` turns corpus indices into the caller's names for warnings;
    ``bar`` (a progress bar) advances by each chunk's pairs as it finishes.
    """
    out = np.zeros(len(pairs))
    todo = ~same_pairs(corpus, pairs)
    pairs = pairs[todo]
    if bar is not None:
        bar.update(int(np.count_nonzero(~todo)))  # pairs of one measure: 0, not solved
    if len(pairs) == 0:
        return out
    # One contiguous array per corpus: joblib memory-maps it for local workers
    # instead of pickling the clouds into every task. For a memory-mapped corpus
    # (a store) it is a scratch file beside the store, sent to dask workers as a
    # reference to that file, not inside the task graph.
    offsets = np.zeros(len(corpus.clouds) + 1, dtype=np.int64)
    np.cumsum([X.shape[0] for X in corpus.clouds], out=offsets[1:])
    data = scratch_array(corpus.like, (int(offsets[-1]), corpus.means.shape[1]), np.float64)
    masses = scratch_array(corpus.like, (int(offsets[-1]),), np.float64)
    for k, (X, m, a) in enumerate(zip(corpus.clouds, corpus.means, corpus.masses)):
        np.subtract(X, m, out=data[offsets[k]:offsets[k + 1]])
        masses[offsets[k]:offsets[k + 1]] = 1.0 / X.shape[0] if a is None else a
    data, masses = seal(data), seal(masses)
    # one BLAS thread per worker only when workers run side by side
    limit = 1 if effective_n_jobs(n_jobs) > 1 else None
    chunks = _chunks(pairs, n_jobs)
    with threadpool_limits(limits=limit, user_api="blas"):
        results = parallel_map(
            (delayed(_exact_chunk)(data, offsets, masses, chunk, method, reg, numItermax)
             for chunk in chunks),
            sizes=[len(chunk) for chunk in chunks], bar=bar, n_jobs=n_jobs)
    problems = [p for r in results for p in r[1]]
    if problems:
        label = label or (lambda i, j: (i, j))
        shown = ", ".join(str(label(i, j)) for i, j, _ in problems[:5])
        more = f" and {len(problems) - 5} more" if len(problems) > 5 else ""
        warn_unconverged(problems[0][2], method=method, numItermax=numItermax,
                          where=f" of {len(problems)} pair(s) {shown}{more}")
    out[todo] = np.concatenate([r[0] for r in results])
    return out


def _bures_chunk(stats, pairs):
    return np.array([bures_squared_stats(stats[i], stats[j]) for i, j in pairs])


def bures_sq(corpus: _Corpus, pairs: np.ndarray, *, n_jobs) -> np.ndarray:
    """Squared Bures distance of the covariances, per row ``(i, j)`` of ``pairs``."""
    out = np.zeros(len(pairs))
    todo = ~same_pairs(corpus, pairs)
    pairs = pairs[todo]
    if len(pairs) == 0:
        return out
    stats = [weighted_stats(X, a, normalize=False, name="tokens")
             for X, a in zip(corpus.clouds, corpus.masses)]
    with threadpool_limits(limits=1, user_api="blas"):
        chunks = _chunks(pairs, n_jobs)
        results = parallel_map((delayed(_bures_chunk)(stats, chunk) for chunk in chunks),
                               sizes=[len(chunk) for chunk in chunks], bar=None,
                               n_jobs=n_jobs, prefer="threads")
    out[todo] = np.concatenate(results)
    return out


def _bures_sq_all_pairs(corpus: _Corpus, n: int, *, n_jobs) -> np.ndarray:
    """Squared Bures matrix of the first ``n`` texts against the rest (or themselves).

    The blocked all-pairs engine of :mod:`skpool._engine.bures` (float64 products).
    It works from eigenvalues of squared cross-Grams, so it is exact to about
    1e-7 relative rather than to float64 round-off; :func:`bures_sq` (one
    SVD per pair) is the sharper route that the Gelbrich check uses.
    """
    from ..metrics import pairwise_bures_squared
    from ..tokensets import TokenSets

    first = TokenSets.from_arrays(corpus.clouds[:n])
    second = TokenSets.from_arrays(corpus.clouds[n:]) if len(corpus.clouds) > n else None
    return pairwise_bures_squared(first, second, normalize=False, precision="float64",
                                  n_jobs=n_jobs)


# -- checks -------------------------------------------------------------------------------

def _check_kind(kind):
    if not isinstance(kind, str) or kind not in _KINDS:
        raise ValueError(f"Expected kind to be one of {list(_KINDS)}. Received {describe(kind)}.")
    return kind


def _check_exact_kwargs(kind, exact_kwargs):
    unknown = sorted(set(exact_kwargs) - set(_EXACT_KEYWORDS))
    if unknown:
        raise TypeError(
            f"pairwise_w2() got unexpected keyword argument(s) {unknown}; the exact solver's "
            f"options are {list(_EXACT_KEYWORDS)}."
        )
    if kind != "exact" and exact_kwargs:
        raise ValueError(
            f"{sorted(exact_kwargs)} are options of the exact solver and need kind='exact'. "
            f"Received kind={kind!r}."
        )
    return check_method(exact_kwargs.get("method", "emd"), exact_kwargs.get("reg"),
                         exact_kwargs.get("numItermax"))


def check_corpus_weights(weights):
    """Corpus-wide token masses: a scheme name, not per-pair arrays."""
    if weights is not None and not isinstance(weights, str):
        raise ValueError(
            "Expected weights to be None, 'uniform' or 'norm' for a whole corpus (explicit "
            f"token masses are an option of exact_w2 for one pair). Received {describe(weights)}."
        )
    return check_scheme(weights)


def _check_other(tokens, other):
    other = check_token_sets(other, name="other")
    if other.dim != tokens.dim:
        raise ValueError(
            f"Expected other to have the dimension d={tokens.dim} of tokens. "
            f"Received d={other.dim}."
        )
    return other


# -- public function ----------------------------------------------------------------------

@validate_params({"n_jobs": N_JOBS}, prefer_skip_nested_validation=True)
def pairwise_w2(tokens, other=None, *, kind: str = "gaussian", normalize: bool = False,
                weights=None, n_jobs=None, **exact_kwargs) -> np.ndarray:
    r"""Matrix of :math:`W_2` distances between the token clouds of two corpora.

    Entry :math:`(i, j)` is :func:`~skpool.ot.gaussian_w2` (``kind="gaussian"``)
    or :func:`~skpool.ot.exact_w2` (``kind="exact"``) between text ``i`` of
    ``tokens`` and text ``j`` of ``other`` (of ``tokens`` when ``other`` is
    None). Both are metrics (the Gaussian one between the fitted Gaussians),
    so the matrix serves directly as a scikit-learn precomputed distance, e.g.
    ``KNeighborsClassifier(metric="precomputed")``, and
    :math:`\exp(-\gamma W_2^2)` as a precomputed kernel for
    ``SVC(kernel="precomputed")`` (not guaranteed positive definite; fine in
    practice for moderate :math:`\gamma`).

    Parameters
    ----------
    tokens : TokenSets or sequence of array-like of shape (n_i, d)
        Token clouds of ``N`` texts.
    other : TokenSets or sequence of array-like of shape (m_j, d), optional
        Token clouds of ``M`` texts (e.g. a test set against ``tokens`` as
        the training set). ``None``: ``tokens`` against itself, each
        unordered pair computed once.
    kind : {"gaussian", "exact"}, default="gaussian"
        ``"gaussian"``: the closed form, with the squared Bures terms from the
        blocked all-pairs engine shared with SOCM
        (:func:`skpool.metrics.pairwise_bures_squared`, float64 products;
        it agrees with :func:`~skpool.ot.gaussian_w2` to about 1e-7
        relative), or one SVD per pair with ``weights="norm"``.
        ``"exact"``: the transport cost (POT), one solve per pair.
    normalize : bool, default=False
        Use the mean-normalized clouds :math:`X / \lVert\bar x\rVert`.
    weights : None, "uniform" or "norm", default=None
        Token masses of every text, as in :func:`~skpool.ot.exact_w2`.
    n_jobs : int or None, default=None
        Workers (docs/glossary.md, ``n_jobs``): exact pairs run in worker
        processes, Gaussian blocks in threads.
    **exact_kwargs
        ``method``, ``reg``, ``numItermax`` of :func:`~skpool.ot.exact_w2`;
        ``kind="exact"`` only.

    Returns
    -------
    ndarray of shape (N, M), or (N, N) when ``other`` is None; float64
        :math:`W_2` (not squared), non-negative. With ``other=None`` the
        matrix is symmetric with a zero diagonal.

    Warns
    -----
    sklearn.exceptions.ConvergenceWarning
        Once, naming the pairs whose exact solve did not converge.

    Examples
    --------
    >>> import numpy as np
    >>> clouds = [np.array([[0.0, 0.0], [1.0, 0.0]]), np.array([[3.0, 4.0], [4.0, 4.0]])]
    >>> pairwise_w2(clouds, kind="exact")
    array([[0., 5.],
           [5., 0.]])
    >>> np.allclose(pairwise_w2(clouds), pairwise_w2(clouds, kind="exact"))
    True
    """
    kind = _check_kind(kind)
    method, reg, numItermax = _check_exact_kwargs(kind, exact_kwargs)
    scheme = check_corpus_weights(weights)
    n_jobs = resolve_n_jobs(n_jobs)
    tokens = check_token_sets(tokens, name="tokens")
    n = len(tokens)
    groups = [("tokens", tokens)]
    if other is None:
        i, j = np.triu_indices(n, k=1)

        def label(p, q):
            return (int(p), int(q))
    else:
        other = _check_other(tokens, other)
        groups.append(("other", other))
        i, j = np.divmod(np.arange(n * len(other)), len(other))
        j = j + n

        def label(p, q):
            return (int(p), int(q) - n)
    pairs = np.stack([i, j], axis=1).astype(np.int64)
    corpus = prepare(groups, normalize=normalize, scheme=scheme)

    if kind == "exact":
        second = exact_centred_sq(corpus, pairs, n_jobs=n_jobs, method=method,
                                   reg=None if reg is None else reg / corpus.unit**2,
                                   numItermax=numItermax, label=label)
    elif corpus.uniform:
        second = _bures_sq_all_pairs(corpus, n, n_jobs=n_jobs)[i, j - (0 if other is None else n)]
    else:
        second = bures_sq(corpus, pairs, n_jobs=n_jobs)
    values = np.sqrt(np.maximum(mean_sq(corpus, pairs) + second, 0.0))
    values[same_pairs(corpus, pairs)] = 0.0
    values *= corpus.unit
    if other is not None:
        return values.reshape(n, len(other))
    out = np.zeros((n, n))
    out[i, j] = values
    out[j, i] = values
    return out
