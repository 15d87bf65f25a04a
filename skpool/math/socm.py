r"""The formulas of second-order collapse (SOCM) on arrays: one pair, a block of pairs, a corpus.

Every text is summarized by the Gaussian view of its mean-normalized token
cloud: :math:`\tilde X = X / \lVert m \rVert`, its mean :math:`\mu`
(of unit norm) and its biased covariance :math:`\Sigma`. For two texts

.. math::

    d_\mu = \tfrac14 \lVert \mu_1 - \mu_2 \rVert^2, \qquad
    d_\Sigma = \tfrac14 B^2(\Sigma_1, \Sigma_2), \qquad
    \mathrm{SOCM} = (1 - d_\mu)\, d_\Sigma ,

with the squared Bures distance
:math:`B^2 = \operatorname{tr}\Sigma_1 + \operatorname{tr}\Sigma_2
- 2 \operatorname{tr}\bigl((\Sigma_1^{1/2}\Sigma_2\Sigma_1^{1/2})^{1/2}\bigr)`.
SOCM is large when two texts point the same way on average (small
:math:`d_\mu`) yet spread their tokens differently (large :math:`d_\Sigma`):
exactly the information mean pooling throws away.

:math:`d_\mu \in [0, 1]` always. :math:`d_\Sigma \le 1` (hence
:math:`\mathrm{SOCM} \in [0, 1]`) holds when :math:`\operatorname{tr}\Sigma
\le 2` for both texts, the paper's assumption; real encoders break it (e.g.
all-MiniLM-L6-v2), so values above 1 are returned as computed, never
clipped, and results count the texts that break it.

Computation (never a :math:`d \times d` matrix, never a general matrix square
root): with :math:`C_i = (\tilde X_i - \mu_i)/\sqrt{n_i}`,
:math:`\operatorname{tr}\Sigma_i = \lVert C_i \rVert_F^2` and the cross term is
the nuclear norm :math:`\lVert C_1 C_2^\top \rVert_*`, exact also for
rank-deficient covariances (:math:`n < d`).

The checked public functions (:func:`skpool.socm`, :func:`skpool.mean_socm`,
...) live in :mod:`skpool.metrics`; the machinery that runs these formulas
over a corpus (blocks, workers, devices) in ``skpool._engine``.

References
----------
.. [1] Bhatia, Jain, Lim. "On the Bures-Wasserstein distance between positive
   definite matrices." Expositiones Mathematicae 37 (2019).
.. [2] Horn, Johnson. "Topics in Matrix Analysis." Cambridge University Press
   (1991), Theorem 3.3.14 (singular values of a product).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from . import _ragged
from .gaussian import GaussianStats, bures_squared_stats

__all__ = ["TRACE_ASSUMPTION", "SOCMComponents", "d_mu", "socm_of_stats", "pairwise_d_mu",
           "paired_d_mu", "socm_sums", "truncation_error", "sampling_stderr",
           "concentration_of_chunk", "match_cloud"]

#: The paper's assumption on every text: :math:`\operatorname{tr}\Sigma \le 2`.
TRACE_ASSUMPTION = 2.0


class SOCMComponents(NamedTuple):
    r"""SOCM of a pair and its two parts; unpacks as ``socm, d_mu, d_sigma``.

    Attributes
    ----------
    socm : float
        :math:`(1 - d_\mu)\, d_\Sigma`.
    d_mu : float
        :math:`\lVert\mu_1 - \mu_2\rVert^2 / 4 \in [0, 1]`.
    d_sigma : float
        :math:`B^2(\Sigma_1, \Sigma_2) / 4 \ge 0` (above 1 only when a text
        breaks the trace assumption).
    """

    socm: float
    d_mu: float
    d_sigma: float


def d_mu(mu1: np.ndarray, mu2: np.ndarray) -> float:
    r""":math:`d_\mu = \lVert\mu_1 - \mu_2\rVert^2 / 4` of two unit means, in [0, 1]."""
    diff = mu1 - mu2
    # d_mu <= 1 holds exactly (unit means); only round-off can step outside [0, 1].
    return float(min(max(diff @ diff / 4.0, 0.0), 1.0))


def socm_of_stats(sa: GaussianStats, sb: GaussianStats) -> SOCMComponents:
    r"""SOCM and its parts from the Gaussian summaries of two mean-normalized clouds.

    .. math::

        \mathrm{SOCM} = (1 - d_\mu)\, d_\Sigma, \qquad
        d_\Sigma = \tfrac14 B^2(\Sigma_a, \Sigma_b)
    """
    dm = d_mu(sa.mean, sb.mean)
    d_sigma = bures_squared_stats(sa, sb) / 4.0
    return SOCMComponents((1.0 - dm) * d_sigma, dm, d_sigma)


def pairwise_d_mu(mx: np.ndarray, my: np.ndarray, symmetric: bool) -> np.ndarray:
    r""":math:`d_\mu` of every pair of unit means (rows of ``mx`` against rows of ``my``).

    With ``symmetric`` (``my`` is ``mx``) the result is exactly symmetric with
    a zero diagonal.
    """
    sq_x = np.einsum("ij,ij->i", mx, mx)
    sq_y = sq_x if symmetric else np.einsum("ij,ij->i", my, my)
    dm = (sq_x[:, None] + sq_y[None, :] - 2.0 * (mx @ my.T)) / 4.0
    np.clip(dm, 0.0, 1.0, out=dm)
    if symmetric:
        np.fill_diagonal(dm, 0.0)
        dm = (dm + dm.T) / 2.0  # exact symmetry despite rounding in the product
    return dm


def paired_d_mu(means: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    r""":math:`d_\mu` of the pairs ``(i[p], j[p])`` of one corpus's unit means."""
    dm = np.empty(i.size, dtype=np.float64)
    for p0 in range(0, i.size, 4096):  # row gathers of the means, a chunk at a time
        diff = means[i[p0:p0 + 4096]] - means[j[p0:p0 + 4096]]
        dm[p0:p0 + 4096] = np.einsum("ij,ij->i", diff, diff) / 4.0
    np.clip(dm, 0.0, 1.0, out=dm)
    return dm


def socm_sums(b2, ia, ib, diagonal, means):
    r"""Sums of SOCM, :math:`d_\mu` and :math:`d_\Sigma` over one block's pairs.

    ``b2[a, b]`` is the squared Bures distance of texts ``ia[a]`` and
    ``ib[b]``; with ``diagonal`` only the pairs ``a < b`` count. A reduction
    run inside each task of the blocked engine, so no ``N x N`` matrix is held.
    """
    mu_a, mu_b = means[ia], means[ib]
    dm = (np.einsum("ij,ij->i", mu_a, mu_a)[:, None] + np.einsum("ij,ij->i", mu_b, mu_b)[None, :]
          - 2.0 * (mu_a @ mu_b.T)) / 4.0
    np.clip(dm, 0.0, 1.0, out=dm)
    if diagonal:
        keep = np.triu(np.ones(b2.shape, dtype=bool), k=1)
        b2, dm = b2[keep], dm[keep]
    d_sigma = b2 / 4.0
    return np.array([np.sum((1.0 - dm) * d_sigma), np.sum(dm), np.sum(d_sigma)])


def truncation_error(b2, traces_x, spectra_x, tails_x, traces_y, spectra_y, symmetric, order):
    r"""How far the truncated :math:`\hat B^2` can lie above the exact :math:`B^2`.

    With :math:`P` the projection on the kept rows of :math:`C_i`
    (:math:`E_i` the dropped part, singular values ``tails_x``) and
    :math:`M = C_i C_j^\top`:
    :math:`\lVert PM\rVert_* \le \lVert M\rVert_* \le \lVert PM\rVert_*
    + \lVert E_i C_j^\top\rVert_*` and, by Horn's inequality,
    :math:`\lVert E_i C_j^\top\rVert_* \le \sum_l \sigma_l(E_i)\sigma_l(C_j)`
    and :math:`\lVert M\rVert_* \le \sum_l \sigma_l(C_i)\sigma_l(C_j)`.
    In the symmetric case pair ``(i, j)`` was computed with the text that
    comes first in ``order`` truncated.
    """
    width = max(spectra_x.shape[1], spectra_y.shape[1])
    pad = lambda a: np.pad(a, ((0, 0), (0, width - a.shape[1])))  # noqa: E731
    tails, sx, sy = pad(tails_x), pad(spectra_x), pad(spectra_y)
    delta = tails @ sy.T
    if symmetric:
        pos = np.empty_like(order)
        pos[order] = np.arange(order.size)
        delta = np.where(pos[:, None] < pos[None, :], delta, delta.T)
    horn = traces_x[:, None] + traces_y[None, :] - 2.0 * (sx @ sy.T)
    lower = np.maximum(np.maximum(b2 - 2.0 * delta, horn), 0.0)
    error = np.maximum(b2 - lower, 0.0)
    if symmetric:
        np.fill_diagonal(error, 0.0)
    return error


def sampling_stderr(values: np.ndarray, total: int) -> float:
    r"""Standard error of the mean of ``values``, drawn without replacement from ``total``.

    :math:`\sqrt{(1 - n/P)\, s^2 / n}` with the sample variance :math:`s^2`
    (finite-population correction); ``inf`` for a single value.
    """
    m = values.size
    if m == 1:
        return math.inf
    return math.sqrt(max(float(values.var(ddof=1)), 0.0) / m * (1.0 - m / total))


def concentration_of_chunk(X: np.ndarray, local: np.ndarray, name: str, first: int, eps: float):
    r"""Spread ratio :math:`\operatorname{tr}\Sigma` and mean within-text cosine of some texts.

    ``X`` (float64, overwritten) holds the rows of consecutive texts
    ``first, first + 1, ...`` at the local ``offsets`` ``local``; ``name`` and
    ``first`` name them in errors. :math:`\bar c = \frac{1}{n^2}\lVert\sum_k
    x_k/\lVert x_k\rVert\rVert^2`, which costs :math:`O(nd)`, not
    :math:`O(n^2 d)`.

    Returns
    -------
    spread, cosine : ndarray of shape (n_chunk_texts,)
    """
    lengths = np.diff(local)
    n = lengths.astype(np.float64)
    # cosines of the raw tokens (scale-safe norms: 1e-200 is not the zero vector)
    norms = _ragged.row_norms(X)
    unit_sums = None
    zero = np.flatnonzero(norms == 0.0)
    if not zero.size:
        unit_sums = _ragged.segment_sums(X / norms[:, None], local)
    # spread ratio tr(Sigma) of the mean-normalized cloud (the zero-mean check first)
    _ragged.divide_by_mean_norm(X, local, eps=eps, where=_ragged.text_label(name, first))
    if zero.size:
        row = int(zero[0])
        i = int(np.searchsorted(local, row, side="right") - 1)
        raise ValueError(
            f"Token {row - int(local[i])} of {name}[{first + i}] (text {first + i}) is the "
            "zero vector: its cosine with other tokens is undefined."
        )
    X -= np.repeat(_ragged.segment_means(X, local), lengths, axis=0)
    spread = _ragged.segment_sums(np.einsum("ij,ij->i", X, X), local) / n
    cosine = np.einsum("ij,ij->i", unit_sums, unit_sums) / n**2
    return spread, cosine


def match_cloud(X: np.ndarray, spread: float, *, eps: float, where: str) -> np.ndarray:
    r"""Rescale one cloud to :math:`\operatorname{tr}\Sigma` = ``spread``, its unit mean kept.

    .. math::

        \tilde X = X / \lVert m \rVert, \qquad
        Y = \mu + \sqrt{s / \operatorname{tr}\Sigma}\,(\tilde X - \mu)

    ``X`` is float64 and overwritten; ``where`` names the text in errors.
    """
    # scale-safe, with the relative zero-mean test shared by every normalization
    unit_means, _ = _ragged.divide_by_mean_norm(X, np.array([0, X.shape[0]]), eps=eps,
                                                where=lambda k: where)
    mu = unit_means[0]
    X -= mu
    trace = float(np.einsum("ij,ij->", X, X)) / X.shape[0]
    if not trace > 0.0:
        raise ValueError(
            f"{where} has tr Sigma = 0 ({X.shape[0]} token(s), all "
            f"equal): there is no spread to rescale to tr Sigma = {spread}."
        )
    X *= np.sqrt(spread / trace)
    X += mu
    return X
