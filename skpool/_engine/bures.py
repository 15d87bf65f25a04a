r"""The blocked engine behind every all-pairs Bures / SOCM computation (private).

Each text is summarized once by a factor :math:`C_i` whose rows are its
centred (optionally mean-normalized) tokens over :math:`\sqrt{n_i}`, rotated
by one Householder reflection so that ``n_i - 1`` rows carry them (the
centring's structural zero singular value dropped; ``_drop_centring_row``),
so that :math:`\Sigma_i = C_i^\top C_i`. The squared Bures distance of a pair is

.. math::

    B^2_{ij} = \operatorname{tr}\Sigma_i + \operatorname{tr}\Sigma_j
    - 2\,\lVert C_i C_j^\top \rVert_*,
    \qquad
    \lVert M \rVert_* = \sum_l \sqrt{\lambda_l(M M^\top)} ,

with :math:`M M^\top` taken on the shorter side of :math:`M`.

How the work is organised:

- Texts are sorted by length and cut into blocks of similar length. Each
  text of a block is padded with zero rows to the block's longest text, so a
  block is a dense ``(texts, rows, d)`` array.
- For a pair of blocks ``(I, J)`` one large product
  :math:`C_I C_J^\top` (all rows of ``I`` against all rows of ``J``, float32
  by default) holds every pair's cross-Gram matrix as a strided sub-block.
- Each pair's small matrix is squared on its shorter side in float64 and
  all of them go to one batched symmetric eigenvalue call. Zero padding only
  adds zero eigenvalues. Eigenvalues are clamped at 0 before the square root.
- Blocks are independent tasks dispatched with joblib, so a
  ``joblib.parallel_backend("dask")`` context spreads them over a dask
  cluster. With ``device`` set, the same tasks run through torch.

Sampled pairs (not all of them) are oriented shorter text first and grouped
by that text: one product against all its partners (in runs of similar
length) serves the whole group.

This module is private; :mod:`skpool.metrics` documents the public API.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from .._store import scratch_array, seal
from .._validation import describe
from ..math import _ragged
from .backends import array_ops, nuclear_norms, swap
from .chunks import chunk_bytes
from .parallel import effective_workers, parallel_map, single_threaded

__all__ = ["CloudFactors", "cloud_factors", "truncate_factors", "tail_spectra",
           "dense_bures", "paired_bures", "length_order", "check_precision", "DenseBlock"]

_PRECISIONS = {"float32": np.float32, "float64": np.float64}
# Bytes of temporaries per entry of a block's cross-Gram product: the product
# (4 or 8 bytes) and, processed a few rows at a time, the float64 copies of the
# pairs' matrices and their squares.
_BYTES_PER_ENTRY = 16


def check_precision(precision) -> type:
    """Map ``precision`` to the dtype of the cross-Gram products."""
    if not isinstance(precision, str) or precision not in _PRECISIONS:
        raise ValueError(
            "Expected precision to be 'float32' (cross-Gram products in float32, squares "
            "and eigenvalues in float64) or 'float64' (everything in float64). "
            f"Received {describe(precision)}."
        )
    return _PRECISIONS[precision]


# ---------------------------------------------------------------------------------------
# Per-text factors
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class CloudFactors:
    """Means, traces and factor rows of a corpus, ready for the engine.

    Attributes
    ----------
    means : ndarray of shape (n_texts, d)
        :math:`\\mu_i`, float64.
    traces : ndarray of shape (n_texts,)
        :math:`\\operatorname{tr}\\Sigma_i = \\lVert C_i\\rVert_F^2`, float64, of
        the full factor (also when only some rows take part).
    factors : ndarray of shape (n_rows + 1, d)
        Factor rows of every text, stacked; the last row is zero and pads the
        batches. float32 or float64.
    starts : ndarray of shape (n_texts,)
        First row of each text in ``factors``.
    counts : ndarray of shape (n_texts,)
        Rows of each text that take part in the products: all of them, or the
        leading ``k_i`` principal rows after :func:`truncate_factors`.
    full_counts : ndarray of shape (n_texts,)
        Rows of each text's full factor.
    spectra : ndarray of shape (n_texts, L) or None
        Singular values of each full factor, decreasing, zero padded; only
        when the rows were rotated to principal axes (``principal=True``).
    """

    means: np.ndarray
    traces: np.ndarray
    factors: np.ndarray
    starts: np.ndarray
    counts: np.ndarray
    full_counts: np.ndarray
    spectra: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.counts.size)

    @property
    def truncated(self) -> bool:
        return bool(np.any(self.counts < self.full_counts))


def cloud_factors(sets, *, normalize: bool = True, name: str = "tokens", dtype=np.float32,
                  principal: bool = False, n_jobs=None, unit: float = 1.0) -> CloudFactors:
    """Compute every text's mean, trace and factor rows (in float64, stored as ``dtype``).

    Parameters
    ----------
    sets : TokenSets
    normalize : bool
        Divide each cloud by the norm of its mean first.
    name : str
        The corpus argument's name, for error messages.
    dtype : numpy dtype
        Storage dtype of the factor rows, i.e. of the cross-Gram products.
    principal : bool
        Rotate each factor to its principal axes: rows :math:`s_l v_l^\\top`
        in decreasing order of :math:`s_l`, numerically zero rows dropped,
        spectra recorded (needed by :func:`truncate_factors`).
    n_jobs : int, optional
        Chunks of texts processed at once (always threads of this process).
    unit : float
        A power of two every token is divided by first (exact), so that raw
        clouds of any magnitude give finite products; squared distances
        computed from the factors are in units of ``unit**2``.

    Returns
    -------
    CloudFactors

    Raises
    ------
    ValueError
        If ``normalize`` and a text's mean token has zero norm (named by index).
    """
    from joblib import Parallel, delayed

    offsets, lengths = sets.offsets, sets.lengths
    n_texts, d = len(sets), sets.dim
    eps = float(np.finfo(sets.dtype).eps)
    # a memory-mapped corpus gets memory-mapped summaries (scratch files beside it): the
    # factor rows are about as large as the corpus itself
    means = scratch_array(sets.data, (n_texts, d), np.float64)
    traces = np.empty(n_texts, dtype=np.float64)
    rows = np.minimum(np.maximum(lengths - 1, 1), d)  # see _drop_centring_row
    starts = np.zeros(n_texts, dtype=np.int64)
    np.cumsum(rows[:-1], out=starts[1:])
    factors = scratch_array(sets.data, (int(rows.sum()) + 1, d), dtype)
    factors[-1] = 0.0
    spectra = np.zeros((n_texts, int(rows.max())), dtype=np.float64) if principal else None
    bounds = [a for a, _ in _ragged.text_chunks(offsets, 8 * d, chunk_bytes())] + [n_texts]
    out = (means, traces, factors, starts, spectra)
    # Always threads in this process (even inside a dask context): the chunks fill
    # shared arrays, and shipping the tokens to a cluster would cost more than this.
    with single_threaded(None):
        counts = Parallel(n_jobs=n_jobs, backend="threading")(
            delayed(_factor_chunk)(sets.data, offsets, lengths, t0, t1, normalize, name, eps,
                                   unit, out)
            for t0, t1 in zip(bounds[:-1], bounds[1:])
        )
    counts = np.concatenate(counts)
    # read-only from here on; tasks sent to other processes receive a file reference
    means, factors = seal(means), seal(factors)
    overflow = np.flatnonzero(~np.isfinite(traces))
    if overflow.size:
        index = int(overflow[0])
        raise ValueError(
            f"The covariance of {name}[{index}] (text {index}) overflows float64: rescale the "
            "embeddings, or normalize the clouds."
        )
    if principal:
        # drop the numerically zero rows of each rotated factor: restack
        keep = np.concatenate([np.arange(s, s + c) for s, c in zip(starts, counts)]
                              + [[factors.shape[0] - 1]])
        factors = factors[keep]
        starts = np.zeros(n_texts, dtype=np.int64)
        np.cumsum(counts[:-1], out=starts[1:])
        spectra = spectra[:, :int(counts.max())]
    return CloudFactors(means=means, traces=traces, factors=factors, starts=starts,
                        counts=counts, full_counts=counts.copy(), spectra=spectra)


def _factor_chunk(data, offsets, lengths, t0, t1, normalize, name, eps, unit, out):
    """Fill ``out`` for texts ``t0:t1``; return their factor row counts."""
    means, traces, factors, starts, spectra = out
    d = data.shape[1]
    X = data[offsets[t0]:offsets[t1]].astype(np.float64)
    if unit != 1.0:
        X /= unit
    local = offsets[t0:t1 + 1] - offsets[t0]
    n = lengths[t0:t1]
    if normalize:
        _ragged.divide_by_mean_norm(X, local, eps=eps, where=_ragged.text_label(name, t0))
    mean = _ragged.segment_means(X, local)
    means[t0:t1] = mean
    X -= np.repeat(mean, n, axis=0)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported by the caller
        X *= np.repeat(1.0 / np.sqrt(n), n)[:, None]
        traces[t0:t1] = _ragged.segment_sums(np.einsum("ij,ij->i", X, X), local)
        X, local = _drop_centring_row(X, local, n)
    rows = np.diff(local)
    if spectra is None and rows.max() <= d:
        # rows map one to one: copy the whole chunk
        factors[starts[t0]:starts[t0] + X.shape[0]] = X
        return rows.astype(np.int64)
    counts = np.empty(t1 - t0, dtype=np.int64)
    for k in range(t1 - t0):
        C = X[local[k]:local[k + 1]]
        if C.shape[0] > d:
            # the triangular factor of a QR carries the same covariance in d rows
            C = np.linalg.qr(C, mode="r")
        if spectra is not None:
            # eigh of the small Gram is cheaper than an SVD of C; the rows U^T C are
            # computed from C itself, so their norms (singular values) stay accurate
            _, U = np.linalg.eigh(C @ C.T)
            C = U[:, ::-1].T @ C
            norms = np.sqrt(np.einsum("ij,ij->i", C, C))
            order = np.argsort(-norms, kind="stable")
            norms, C = norms[order], C[order]
            keep = max(1, int(np.count_nonzero(norms > norms[0] * 1e-12)))
            C, norms = C[:keep], norms[:keep]
            spectra[t0 + k, :keep] = norms
        factors[starts[t0 + k]:starts[t0 + k] + C.shape[0]] = C
        counts[k] = C.shape[0]
    return counts


def _drop_centring_row(Y: np.ndarray, offsets: np.ndarray, n: np.ndarray):
    r"""Each text's ``n`` centred rows as ``n - 1`` rows with the same Gram matrix.

    Centred rows sum to zero, :math:`u^\top C = 0` with :math:`u = \mathbf 1/\sqrt n`,
    so the factor :math:`C` of ``n`` rows has rank ``n - 1`` at most: every
    cross-Gram :math:`C_i C_j^\top` has a zero singular value by construction,
    which a square root of eigenvalues of its square resolves only to
    :math:`\sqrt{\epsilon}` (~1e-8), not to round-off. The Householder
    reflection :math:`P = I - 2 v v^\top / v^\top v`, :math:`v = u + e_1`, is
    orthogonal (:math:`C^\top P^\top P C = C^\top C`) and maps :math:`u` to
    :math:`-e_1`, so the first row of :math:`P C` is :math:`-u^\top C = 0` and
    the other rows, :math:`C_r - (u^\top C + C_1) / (\sqrt n + 1)`, carry the
    whole covariance. A single-token text keeps its one (zero) row.

    Returns the rows and their per-text offsets.
    """
    first = offsets[:-1]
    root = np.sqrt(n)[:, None]
    shift = (_ragged.segment_sums(Y, offsets) / root + Y[first]) / (root + 1.0)
    shift[n == 1] = 0.0
    keep = np.ones(Y.shape[0], dtype=bool)
    keep[first[n > 1]] = False
    rows = np.maximum(n - 1, 1)
    reduced = Y[keep] - np.repeat(shift, rows, axis=0)
    return reduced, np.concatenate([[0], np.cumsum(rows)])


def truncate_factors(factors: CloudFactors, *, rank=None, tol=None) -> CloudFactors:
    """Keep each text's leading principal rows only.

    ``k_i`` is ``rank`` (capped at the text's rank) or, with ``tol``, the
    fewest rows whose dropped tail has Frobenius norm at most ``tol`` times
    the factor's; with both, the smaller.
    """
    if factors.spectra is None:  # pragma: no cover - internal misuse
        raise RuntimeError("truncate_factors needs factors computed with principal=True")
    k = factors.full_counts.copy()
    if rank is not None:
        k = np.minimum(k, int(rank))
    if tol is not None:
        energy = factors.spectra ** 2
        total = energy.sum(axis=1, keepdims=True)
        remaining = total - np.cumsum(energy, axis=1)  # tail energy after keeping l + 1 rows
        enough = remaining <= (float(tol) ** 2) * total * (1 + 1e-12)
        k = np.minimum(k, np.argmax(enough, axis=1) + 1)
    return dataclasses.replace(factors, counts=np.maximum(k, 1).astype(np.int64))


def tail_spectra(factors: CloudFactors) -> np.ndarray:
    """Singular values of each text's dropped rows, decreasing, zero padded.

    Returns
    -------
    ndarray of shape (n_texts, L)
    """
    spectra = factors.spectra
    L = spectra.shape[1]
    source = np.arange(L)[None, :] + factors.counts[:, None]
    inside = source < L
    tails = np.zeros_like(spectra)
    rows, cols = np.nonzero(inside)
    tails[rows, cols] = spectra[rows, source[rows, cols]]
    return tails


def length_order(factors: CloudFactors) -> np.ndarray:
    """Texts sorted by the length of their full factor (stable)."""
    return np.argsort(factors.full_counts, kind="stable")


def _padded_rows(starts, counts, width, pad_row):
    """Row indices (n_texts, width) of each text's first ``counts`` rows, padded."""
    idx = starts[:, None] + np.arange(width)[None, :]
    return np.where(np.arange(width)[None, :] < counts[:, None], idx, pad_row)


# ---------------------------------------------------------------------------------------
# Dense blocks (all pairs)
# ---------------------------------------------------------------------------------------
def _text_blocks(order, counts, max_rows):
    """Cut ``order`` into runs of texts whose padded size ``len * max(count)`` fits.

    A run also ends when a text is more than about 6 % longer than the run's
    first (once the run holds an eighth of ``max_rows``): every text of a run is
    padded to the longest, and the eigenvalue work grows with the cube of it.
    """
    blocks, current, widest, first = [], [], 0, 0
    for text in order:
        c = int(counts[text])
        if current and ((len(current) + 1) * max(widest, c) > max_rows
                        or (c > first * 1.0625 + 4 and len(current) * widest * 8 >= max_rows)):
            blocks.append(np.asarray(current, dtype=np.int64))
            current, widest = [], 0
        if not current:
            first = c
        current.append(int(text))
        widest = max(widest, c)
    if current:
        blocks.append(np.asarray(current, dtype=np.int64))
    return blocks


@dataclass(frozen=True, eq=False)
class DenseBlock:
    """One task of the all-pairs engine: texts ``ia`` of ``rows`` against ``ib`` of ``cols``.

    ``diagonal``: ``ia`` is ``ib`` in a symmetric problem, so only the pairs
    ``a < b`` are computed. ``budget``: bytes of temporaries the task may take.
    """

    rows: CloudFactors
    cols: CloudFactors
    ia: np.ndarray
    ib: np.ndarray
    diagonal: bool
    device: str | None
    budget: float


def _dense_task(task: DenseBlock) -> np.ndarray:
    """Squared Bures distances of every pair (ia[a], ib[b]); upper triangle if ``diagonal``.

    Returns an array of shape (len(ia), len(ib)); with ``diagonal`` (ia is ib,
    a symmetric problem) only entries ``a < b`` are filled, the rest are 0.
    """
    fa, sa, ca, ta = task.rows.factors, task.rows.starts, task.rows.counts, task.rows.traces
    fb, sb, cb, tb = task.cols.factors, task.cols.starts, task.cols.counts, task.cols.traces
    ia, ib, diagonal, device, budget = task.ia, task.ib, task.diagonal, task.device, task.budget
    ops = array_ops(device)
    na, nb = ia.size, ib.size
    la, lb = int(ca[ia].max()), int(cb[ib].max())
    rows_a = _padded_rows(sa[ia], ca[ia], la, fa.shape[0] - 1)
    rows_b = _padded_rows(sb[ib], cb[ib], lb, fb.shape[0] - 1)
    A = ops.asarray(np.take(fa, rows_a.ravel(), axis=0))
    B = ops.asarray(np.take(fb, rows_b.ravel(), axis=0))
    # One large product; pair (a, b) is the sub-block G[a, :, b, :].
    G = ops.matmul(A, swap(B)).reshape(na, la, nb, lb)
    del A, B
    out = np.zeros((na, nb), dtype=np.float64)
    per_pair = 8 * (la * lb + min(la, lb) ** 2 + la + lb) + 64
    free = max(budget - na * la * nb * lb * fa.itemsize, 0)
    # a few hundred pairs per batched call on a CPU (many more on a GPU); a symmetric
    # diagonal block goes row by row, since row a needs the columns b > a only
    per_call = 256 if device is None or device.startswith("cpu") else 16384
    chunk = 1 if diagonal else max(1, min(int(free // (nb * per_pair)), -(-per_call // nb)))
    for a0 in range(0, na - 1 if diagonal else na, chunk):
        a1 = min(na, a0 + chunk)
        b0 = a0 + 1 if diagonal else 0
        block = G[a0:a1, :, b0:, :]
        M = block.permute(0, 2, 1, 3) if device is not None else block.transpose(0, 2, 1, 3)
        nuc = ops.to_numpy(nuclear_norms(ops, M))
        out[a0:a1, b0:] = ta[ia[a0:a1]][:, None] + tb[ib[b0:]][None, :] - 2.0 * nuc
    np.maximum(out, 0.0, out=out)
    return out


def _block_pairs(na: int, nb: int, diagonal: bool) -> int:
    """Pairs one block computes (the upper triangle of a diagonal block)."""
    return na * (na - 1) // 2 if diagonal else na * nb


def _dense_reduced_task(reduce, reduce_args, task: DenseBlock):
    return reduce(_dense_task(task), task.ia, task.ib, task.diagonal, *reduce_args)


def dense_bures(rows: CloudFactors, cols: CloudFactors, *, symmetric: bool, n_jobs,
                device, working_memory: float, order=None, reduce=None, reduce_args=(),
                bar=None):
    """Squared Bures distance of every pair of texts (rows x cols).

    Parameters
    ----------
    rows, cols : CloudFactors
        Factors of the two corpora. With ``symmetric`` they describe the same
        texts (``rows`` may keep fewer rows per text than ``cols``).
    symmetric : bool
        Compute only pairs ``i`` before ``j`` in ``order``, mirror them and
        leave an exact zero diagonal.
    n_jobs, device, working_memory
        Resolved at the public boundary: ``n_jobs`` by
        :func:`~skpool._engine.parallel.resolve_n_jobs`, ``device`` by
        :func:`~skpool._engine.backends.check_device`, ``working_memory`` (MiB)
        by :func:`~skpool._engine.chunks.check_working_memory`.
    order : ndarray, optional
        Processing order of the texts (default: by length). In the symmetric
        case pair ``(i, j)`` is computed with ``i`` on the row side when ``i``
        comes first in ``order``.
    reduce : callable, optional
        ``reduce(block, ia, ib, diagonal, *reduce_args)`` is applied to each
        block's squared distances inside its task (``block[a, b]`` is the pair
        ``(ia[a], ib[b])``; with ``diagonal`` only ``a < b`` is filled), so
        that no ``N x M`` matrix is ever held. Must be picklable (a module-level
        function) for process-based backends.
    bar : progress bar, optional
        Advanced by each block's number of pairs as its result arrives
        (:func:`~skpool._engine.parallel.parallel_map`); the results do not depend on it.

    Returns
    -------
    ndarray of shape (len(rows), len(cols)), or the list of ``reduce`` results
    """
    from joblib import delayed

    budget = working_memory * 2**20 / effective_workers(n_jobs)
    itemsize = rows.factors.dtype.itemsize
    max_rows = max(1, int(math.sqrt(budget / (_BYTES_PER_ENTRY + itemsize))))
    if symmetric:
        order_a = length_order(cols) if order is None else order
        blocks_a = _text_blocks(order_a, cols.counts, max_rows)
        blocks_b = blocks_a
        pairs = [(I, J) for I in range(len(blocks_a)) for J in range(I, len(blocks_a))]
    else:
        blocks_a = _text_blocks(length_order(rows), rows.counts, max_rows)
        blocks_b = _text_blocks(length_order(cols), cols.counts, max_rows)
        pairs = [(I, J) for I in range(len(blocks_a)) for J in range(len(blocks_b))]
    if reduce is None:
        task, head = _dense_task, ()
    else:
        task, head = _dense_reduced_task, (reduce, tuple(reduce_args))
    sizes = [_block_pairs(blocks_a[I].size, blocks_b[J].size, symmetric and I == J)
             for I, J in pairs]
    with single_threaded(device):
        results = parallel_map(
            (delayed(task)(*head, DenseBlock(rows, cols, blocks_a[I], blocks_b[J],
                                             symmetric and I == J, device, budget))
             for I, J in pairs),
            sizes=sizes, bar=bar, n_jobs=n_jobs,
            prefer="threads")
    if reduce is not None:
        return results
    out = np.zeros((len(rows), len(cols)), dtype=np.float64)
    for (I, J), block in zip(pairs, results):
        ia, ib = blocks_a[I], blocks_b[J]
        if symmetric and I == J:
            block = block + block.T
        out[np.ix_(ia, ib)] = block
        if symmetric and I != J:
            out[np.ix_(ib, ia)] = block.T
    return out


# ---------------------------------------------------------------------------------------
# Sparse pairs (a sample of pairs)
# ---------------------------------------------------------------------------------------
def _paired_task(f, s, c, a_texts, partners, device, budget):
    """Nuclear norms of the pairs (a, b) for each row text ``a`` and its partners ``b``.

    Every partner of ``a`` has at least as many rows as ``a``, so each pair's
    square is ``c[a] x c[a]`` without padding. Partners come sorted by length
    and are cut into runs of similar length (at most an eighth longer than the
    run's first), each padded to its longest with the zero row and handled by
    one product.
    """
    ops = array_ops(device)
    d = f.shape[1]
    pad_row = f.shape[0] - 1
    out = []
    for a, bs in zip(a_texts, partners):
        la = int(c[a])
        A = ops.asarray(f[s[a]:s[a] + la])
        lengths = c[bs]
        lb = int(lengths.max())
        per_pair = f.itemsize * lb * d + 8 * (2 * lb * la + la * la) + 64
        step = max(1, int(budget // per_pair))
        p0 = 0
        while p0 < bs.size:
            p1 = min(bs.size, p0 + step,
                     int(np.searchsorted(lengths, lengths[p0] * 1.125, side="right")))
            part = bs[p0:p1]
            p0 = p1
            lp = int(c[part].max())
            rows = _padded_rows(s[part], c[part], lp, pad_row)
            B = ops.asarray(np.take(f, rows.ravel(), axis=0))
            X = ops.matmul(B, swap(A)).reshape(part.size, lp, la)  # pair p: (C_a C_b^T)^T
            out.append(ops.to_numpy(nuclear_norms(ops, X)))
    return np.concatenate(out) if out else np.empty(0)


def paired_bures(factors: CloudFactors, i, j, *, n_jobs, device, working_memory: float,
                 bar=None):
    """Squared Bures distance of the pairs ``(i[p], j[p])`` of one corpus.

    Each pair is oriented with its shorter text ``a`` first; pairs are grouped
    by ``a`` so that one product ``C_b C_a^T`` over all partners ``b`` of ``a``
    serves them all. Groups of row texts form the joblib tasks. ``n_jobs``,
    ``device`` and ``working_memory`` (MiB) come checked, as for :func:`dense_bures`;
    ``bar`` is advanced by each task's number of pairs as it finishes.

    Returns
    -------
    ndarray of shape (n_pairs,)
    """
    from joblib import delayed

    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    workers = effective_workers(n_jobs)
    budget = working_memory * 2**20 / workers
    c = factors.counts
    swap = (c[i] > c[j]) | ((c[i] == c[j]) & (i > j))
    a = np.where(swap, j, i)
    b = np.where(swap, i, j)
    order = np.lexsort((c[b], a))
    a_sorted, b_sorted = a[order], b[order]
    firsts = np.flatnonzero(np.r_[True, a_sorted[1:] != a_sorted[:-1]])
    bounds = np.r_[firsts, a_sorted.size]
    # about four tasks per worker, never splitting a row text's partners
    target = max(1, a_sorted.size // (4 * workers))
    tasks, current, count = [], [], 0
    for g in range(firsts.size):
        current.append(g)
        count += bounds[g + 1] - bounds[g]
        if count >= target:
            tasks.append(current)
            current, count = [], 0
    if current:
        tasks.append(current)
    args = (factors.factors, factors.starts, c)
    sizes = [int(sum(bounds[g + 1] - bounds[g] for g in t)) for t in tasks]
    with single_threaded(device):
        results = parallel_map(
            (delayed(_paired_task)(*args, a_sorted[firsts[t]],
                                   [b_sorted[bounds[g]:bounds[g + 1]] for g in t],
                                   device, budget)
             for t in tasks),
            sizes=sizes, bar=bar, n_jobs=n_jobs,
            prefer="threads")
    nuc = np.empty(i.size, dtype=np.float64)
    nuc[order] = np.concatenate(results)
    out = factors.traces[i] + factors.traces[j] - 2.0 * nuc
    return np.maximum(out, 0.0)
