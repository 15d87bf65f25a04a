r"""Per-text first and second moments over a ragged corpus (the poolers' math).

A corpus is ``data`` of shape (n_tokens_total, d) and ``offsets`` of shape
(n_texts + 1,). Every function works on the whole corpus at once, in runs of
texts bounded by the one chunking rule of :mod:`skpool.math._ragged`, and
accumulates in float64. With ``scales`` (one per text) each text's rows are
divided by its scale *before* anything is squared, so the mean-normalized
moments of :class:`~skpool.GaussianPooler` stay finite at any magnitude.

These functions trust their inputs: the estimators of :mod:`skpool.pooling`
check them first.
"""

from __future__ import annotations

import numpy as np

from . import _ragged

__all__ = ["text_means", "mean_norm_scales", "diag_second_order", "upper_second_order", "pooled_pca"]

# Texts per stacked product, at most: neighbours in length order differ
# little, so small batches waste little on padding.
_BATCH_TEXTS = 16


def text_means(data: np.ndarray, offsets: np.ndarray, *,
               budget: int = _ragged.CHUNK_BYTES) -> np.ndarray:
    """The mean row of each text, shape (N, d), float64 (mean pooling).

    ``budget``: bytes of temporaries per chunk of texts (here and below).
    """
    out = np.empty((offsets.size - 1, data.shape[1]))
    for a, b in _ragged.text_chunks(offsets, 2 * 8 * data.shape[1], budget):
        out[a:b] = _ragged.segment_means(data[offsets[a]:offsets[b]],
                                         offsets[a:b + 1] - offsets[a])
    return out


def mean_norm_scales(data: np.ndarray, offsets: np.ndarray, *, where,
                     budget: int = _ragged.CHUNK_BYTES):
    r"""Unit means :math:`m_i / \lVert m_i\rVert` of shape (N, d) and the norms (N,).

    Raises the ValueError of :func:`skpool.math._ragged.divide_by_mean_norm`
    naming ``where(i)`` for a text whose mean is zero up to round-off.
    """
    eps = float(np.finfo(data.dtype).eps)
    unit_means = np.empty((offsets.size - 1, data.shape[1]))
    scales = np.empty(offsets.size - 1)
    for a, b in _ragged.text_chunks(offsets, 8 * data.shape[1], budget):
        X = data[offsets[a]:offsets[b]].astype(np.float64)
        unit_means[a:b], scales[a:b] = _ragged.divide_by_mean_norm(
            X, offsets[a:b + 1] - offsets[a], eps=eps, where=lambda k, a=a: where(a + k))
    return unit_means, scales


def _rows(data, offsets, a, b, scales):
    """float64 rows of texts ``a..b-1``, each divided by its text's scale when given."""
    X = data[offsets[a]:offsets[b]].astype(np.float64)
    if scales is not None:
        X *= np.repeat(1.0 / scales[a:b], np.diff(offsets[a:b + 1]))[:, None]
    return X


def diag_second_order(data, offsets, means, basis=None, scales=None, *,
                      budget: int = _ragged.CHUNK_BYTES) -> np.ndarray:
    r"""Per-text biased variances :math:`\frac1n\sum_k (x_{kj} - m_j)^2`, shape (N, d).

    ``means`` are those of the (scaled) rows; ``basis`` is unused (the
    signature is shared with :func:`upper_second_order`).
    """
    lengths = np.diff(offsets)
    out = np.empty((lengths.size, data.shape[1]))
    for a, b in _ragged.text_chunks(offsets, 4 * 8 * data.shape[1], budget):
        X = _rows(data, offsets, a, b, scales)
        X -= np.repeat(means[a:b], lengths[a:b], axis=0)
        X *= X
        out[a:b] = _ragged.segment_sums(X, offsets[a:b + 1] - offsets[a])
    return out / lengths[:, None]


def _segment_rows(offsets: np.ndarray, texts: np.ndarray) -> np.ndarray:
    """Row indices into ``data`` of the given texts, concatenated in that order."""
    starts = offsets[texts]
    lengths = offsets[texts + 1] - starts
    firsts = np.zeros(texts.size, dtype=np.int64)
    np.cumsum(lengths[:-1], out=firsts[1:])
    return np.repeat(starts - firsts, lengths) + np.arange(lengths.sum())


def upper_second_order(data, offsets, means, basis=None, scales=None, *,
                       budget: int = _ragged.CHUNK_BYTES) -> np.ndarray:
    r"""Upper triangles (``np.triu_indices`` order) of the per-text biased covariances.

    With ``basis`` (k, d), the covariance of the projected cloud
    :math:`P \Sigma P^\top` is returned instead. Texts are sorted by length and
    zero-padded into batches, so each batch is one stacked matrix product
    :math:`C_i^\top C_i` (padding rows add nothing); batches are bounded by the
    chunking rule.
    """
    lengths = np.diff(offsets)
    d = data.shape[1]
    k = d if basis is None else basis.shape[0]
    rows_i, cols_i = np.triu_indices(k)
    out = np.empty((lengths.size, rows_i.size), dtype=np.float64)
    order = np.argsort(-lengths, kind="stable")
    bytes_per_row = 8 * (2 * d + 2 * k)
    bytes_per_text = 8 * (k * k + rows_i.size)
    a = 0
    while a < order.size:
        n_max = int(lengths[order[a]])  # the longest text of the batch comes first
        size = max(1, min(_BATCH_TEXTS, budget // (n_max * bytes_per_row + bytes_per_text)))
        texts = order[a:a + size]
        a += size
        counts = lengths[texts]
        owner = np.repeat(np.arange(texts.size), counts)
        position = np.arange(owner.size) - np.repeat(np.cumsum(counts) - counts, counts)
        X = data[_segment_rows(offsets, texts)].astype(np.float64)
        if scales is not None:
            X *= (1.0 / scales[texts])[owner][:, None]
        centre = means[texts]
        if basis is not None:  # project first: k columns to centre instead of d
            X = X @ basis.T
            centre = centre @ basis.T
        padded = np.zeros((texts.size, n_max, k), dtype=np.float64)
        padded[owner, position] = X - centre[owner]
        cov = np.matmul(padded.transpose(0, 2, 1), padded)
        out[texts] = cov[:, rows_i, cols_i] / counts[:, None]
    return out


def pooled_pca(data, offsets, scales, n_components, *, budget: int = _ragged.CHUNK_BYTES):
    """Top principal directions of all tokens pooled (each text divided by its scale).

    Returns the mean token (d,), the components (k, d) with the sign that
    makes each component's largest entry positive, and their variances (k,).
    """
    n_tokens, d = data.shape
    chunks = list(_ragged.text_chunks(offsets, 2 * 8 * d, budget))
    total = np.zeros(d, dtype=np.float64)
    for a, b in chunks:
        total += _rows(data, offsets, a, b, scales).sum(axis=0)
    centre = total / n_tokens
    scatter = np.zeros((d, d), dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below
        for a, b in chunks:
            centred = _rows(data, offsets, a, b, scales) - centre
            scatter += centred.T @ centred
    if not np.isfinite(scatter).all():
        raise ValueError(
            "The covariance of the pooled tokens overflows float64 (tokens reach "
            f"{float(np.max(np.abs(data))):.3g}): rescale the embeddings, or use normalize=True."
        )
    eigenvalues, eigenvectors = np.linalg.eigh(scatter / n_tokens)
    top = np.argsort(eigenvalues)[::-1][:n_components]
    components = eigenvectors[:, top].T
    signs = np.sign(components[np.arange(top.size), np.argmax(np.abs(components), axis=1)])
    components *= np.where(signs == 0, 1.0, signs)[:, None]
    return centre, components, np.clip(eigenvalues[top], 0.0, None)
