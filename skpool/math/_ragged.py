r"""Arithmetic over a ragged corpus of token clouds (private).

A corpus is one array ``data`` of shape (n_tokens_total, d) and ``offsets`` of
shape (n_texts + 1,): text ``i`` owns the rows ``offsets[i]:offsets[i + 1]``.
This module holds the one implementation of each piece of arithmetic the
public functions share over such a corpus:

- :func:`text_chunks`: runs of whole texts whose temporaries fit a memory
  budget (at most :data:`CHUNK_BYTES`);
- :func:`segment_sums` / :func:`segment_means`: per-text sums and means;
- :func:`row_norms`: Euclidean norms that neither overflow nor underflow;
- :func:`divide_by_mean_norm`: the paper's normalization
  :math:`\tilde X = X / \lVert m\rVert`, scale-safe, with a relative test of
  "the text has no direction".

Private helpers trust their inputs: the public functions check them first.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

__all__ = ["CHUNK_BYTES", "text_chunks", "segment_sums", "segment_means",
           "power_of_two_scale", "row_norms", "text_label", "divide_by_mean_norm", "DIRECTION_RTOL_ULPS"]

# The one chunking rule: a chunk's temporaries take scikit-learn's
# working_memory, at most 8 MiB. Larger streaming chunks only cost fresh memory
# pages (a 200 MB float64 copy is ten times slower than the same copy made
# 8 MiB at a time); a smaller working_memory is honoured.
CHUNK_BYTES = 8 * 2**20

# A text "has no direction" when the norm of its mean is at most this many
# units of round-off (machine epsilon of the input dtype) times the RMS norm of
# its tokens. Summing n tokens of norm r leaves a mean of norm about eps * r
# even when the exact mean is 0 (``A - A.mean(0)``); real texts have a ratio
# of 0.1 to 1, and any cloud of n independent random tokens about 1/sqrt(n).
DIRECTION_RTOL_ULPS = 1024


def text_chunks(offsets: np.ndarray, bytes_per_row: int, budget: int = CHUNK_BYTES):
    """Yield ``(a, b)``: consecutive runs of texts whose rows fit ``budget`` bytes.

    A text longer than the budget forms a run of its own. ``budget`` is
    :data:`CHUNK_BYTES` or less (``skpool._engine.chunks.chunk_bytes`` turns
    a working memory into it).
    """
    rows = max(1, int(budget) // max(1, int(bytes_per_row)))
    n_texts = offsets.size - 1
    a = 0
    while a < n_texts:
        b = int(np.searchsorted(offsets, offsets[a] + rows, side="right")) - 1
        b = min(max(b, a + 1), n_texts)
        yield a, b
        a = b


def segment_sums(X: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Per-text sums of the rows of ``X``: shape (n_texts, ...) in float64.

    ``offsets`` (n_texts + 1,) start at 0 and end at ``len(X)``; ``X`` is 1-D
    (one value per row) or 2-D. One sparse indicator product: as fast as a
    loop of ``X[a:b].sum(0)``, ten times faster than ``np.add.reduceat`` along
    rows, and every sum accumulates in float64.
    """
    n_rows = X.shape[0]
    indicator = sparse.csr_array(
        (np.ones(n_rows), np.arange(n_rows), np.asarray(offsets, dtype=np.int64)),
        shape=(offsets.size - 1, n_rows))
    return indicator @ np.asarray(X, dtype=np.float64)


def segment_means(X: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Per-text mean rows of ``X``, shape (n_texts, d), float64."""
    return segment_sums(X, offsets) / np.diff(offsets)[:, None]


def power_of_two_scale(*arrays) -> float:
    """A power of two near the largest magnitude in ``arrays`` (1.0 when all are zero).

    Dividing by it is exact and brings every entry into [-2, 2], so squares
    neither overflow (1e200) nor underflow (1e-200); a distance computed on
    the divided arrays is multiplied back by it.
    """
    top = max(float(np.max(np.abs(a))) if a.size else 0.0 for a in arrays)
    if not top > 0:
        return 1.0
    return float(np.ldexp(1.0, int(np.frexp(top)[1]) - 1))


def row_norms(M: np.ndarray) -> np.ndarray:
    """Euclidean norm of each row of ``M`` (float64), free of overflow and underflow.

    Each row is divided by its largest entry before squaring, so rows of
    entries near 1e200 (squares overflow) or 1e-200 (squares underflow to 0)
    get their true norm.
    """
    M = np.asarray(M, dtype=np.float64)
    top = np.max(np.abs(M), axis=-1)
    safe = np.where(top > 0, top, 1.0)
    scaled = M / safe[..., None]
    return top * np.sqrt(np.einsum("...j,...j->...", scaled, scaled))


def text_label(name: str, first: int = 0):
    """``where(k)`` naming local text ``k`` as ``name[i] (text i)``, ``i = first + k``."""
    return lambda k: f"{name}[{first + k}] (text {first + k})"


def divide_by_mean_norm(X: np.ndarray, offsets: np.ndarray, *, eps: float, where):
    r"""Divide each text's rows by the norm of its mean, in place: :math:`X / \lVert m\rVert`.

    Parameters
    ----------
    X : ndarray of shape (n_rows, d), float64
        The rows of consecutive texts; overwritten with the normalized rows.
    offsets : ndarray of shape (n_texts + 1,)
        Local offsets into ``X`` (``offsets[0] == 0``).
    eps : float
        Machine epsilon of the tokens' original dtype (float32 tokens carry
        more round-off than float64 ones).
    where : callable
        ``where(k)`` names local text ``k`` in error messages (see
        :func:`text_label`).

    Returns
    -------
    unit_means : ndarray of shape (n_texts, d)
        The normalized means :math:`m / \lVert m\rVert` (unit norm).
    scales : ndarray of shape (n_texts,)
        :math:`\lVert m\rVert`.

    Raises
    ------
    ValueError
        Naming the first text whose mean is zero up to round-off: its norm is
        at most :data:`DIRECTION_RTOL_ULPS` ``* eps`` times the RMS norm of its
        tokens (the test is relative, so it holds at every scale).

    Notes
    -----
    The norm of the mean is computed scale-safely (:func:`row_norms`), and the
    rows are divided before anything is squared, so tokens of any finite
    magnitude (1e-200 or 1e200) give the same normalized cloud.
    """
    lengths = np.diff(offsets)
    means = segment_means(X, offsets)
    scales = row_norms(means)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        inverse = 1.0 / scales
        X *= np.repeat(inverse, lengths)[:, None]
        # mean squared norm of the normalized tokens: (RMS token norm / ||m||)^2
        ratio_sq = segment_sums(np.einsum("ij,ij->i", X, X), offsets) / lengths
    limit = 1.0 / (DIRECTION_RTOL_ULPS * eps) ** 2
    bad = np.flatnonzero(~((scales > 0) & np.isfinite(scales) & (ratio_sq <= limit)))
    if bad.size:
        k = int(bad[0])
        raise _no_direction_error(where(k), float(scales[k]), float(ratio_sq[k]), eps,
                                  int(bad.size))
    # the same multiplication as the rows: a one-token text's row equals its unit mean
    return means * inverse[:, None], scales


def _no_direction_error(where, scale, ratio_sq, eps, n_bad) -> ValueError:
    more = f" ({n_bad} such texts in all)" if n_bad > 1 else ""
    if not np.isfinite(scale):
        return ValueError(
            f"The mean token of {where} has a norm that overflows float64: its tokens are "
            f"too large to normalize; rescale the embeddings{more}."
        )
    if scale == 0.0:
        detail = f"norm {scale}"
    elif np.isfinite(ratio_sq):
        detail = (f"norm {scale:.3g}, {1.0 / np.sqrt(ratio_sq):.2g} times the RMS norm of its "
                  f"tokens (below {DIRECTION_RTOL_ULPS} x eps = {DIRECTION_RTOL_ULPS * eps:.2g}"
                  ", so it is zero up to round-off)")
    else:
        detail = f"norm {scale:.3g}, negligible against the norms of its tokens"
    return ValueError(
        f"The mean token of {where} has {detail}: the text has no direction, so its "
        f"normalized cloud X / ||mean(X)|| (and SOCM) is undefined{more}."
    )
