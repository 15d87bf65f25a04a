r"""The Gaussian view of one text's token cloud, and the exact Bures distance.

For a cloud :math:`X \in \mathbb{R}^{n \times d}` with mean :math:`m`, the
paper normalizes :math:`\tilde X = X / \lVert m \rVert` and summarizes the text
by :math:`\mu = \operatorname{mean}(\tilde X)` and the biased covariance
:math:`\Sigma = \frac1n \sum_k (\tilde x_k - \mu)(\tilde x_k - \mu)^\top`.

Covariances are never formed. With the centred factor
:math:`C = (\tilde X - \mu)/\sqrt n` we have :math:`\Sigma = C^\top C`,
:math:`\operatorname{tr}\Sigma = \lVert C\rVert_F^2` and

.. math::

    \operatorname{tr}\bigl((\Sigma_1^{1/2}\Sigma_2\Sigma_1^{1/2})^{1/2}\bigr)
    = \lVert C_1 C_2^\top \rVert_*,

the sum of the singular values of an :math:`n_1 \times n_2` matrix. This is
exact for rank-deficient covariances (:math:`n < d`, the usual case), where a
general matrix square root loses accuracy and POT's closed form returns NaN.

References
----------
.. [1] Bhatia, Jain, Lim. "On the Bures-Wasserstein distance between positive
   definite matrices." Expositiones Mathematicae 37 (2019).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._ragged import divide_by_mean_norm

__all__ = ["GaussianStats", "cloud_stats", "reduce_factor", "bures_squared_stats",
           "nuclear_norm_cross"]


@dataclass(frozen=True)
class GaussianStats:
    """Mean, centred factor and spread of one token cloud (float64).

    Attributes
    ----------
    mean : ndarray of shape (d,)
        :math:`\\mu`, the mean of the (possibly normalized) cloud.
    factor : ndarray of shape (r, d)
        A factor :math:`F` with :math:`F^\\top F = \\Sigma`, ``r = min(n, d)``
        rows (the centred rows over :math:`\\sqrt n`, reduced by a QR
        factorization when ``n > d``).
    trace : float
        :math:`\\operatorname{tr}\\Sigma = \\lVert F\\rVert_F^2`.
    scale : float
        The norm :math:`\\lVert m\\rVert` the cloud was divided by (1.0 when
        not normalized).
    n_tokens : int
        Number of tokens ``n``.
    """

    mean: np.ndarray
    factor: np.ndarray
    trace: float
    scale: float
    n_tokens: int


def cloud_stats(X: np.ndarray, *, normalize: bool, where: str) -> GaussianStats:
    """The Gaussian summary of a cloud already checked (float32 or float64, finite).

    ``where`` names the cloud in error messages.
    """
    eps = float(np.finfo(X.dtype).eps)
    X = np.array(X, dtype=np.float64)  # a copy: normalized in place below
    n = X.shape[0]
    scale = 1.0
    if normalize:
        _, scales = divide_by_mean_norm(X, np.array([0, n]), eps=eps, where=lambda k: where)
        scale = float(scales[0])
    mean = X.mean(axis=0)
    factor = reduce_factor((X - mean) / np.sqrt(n))
    trace = float(np.sum(factor * factor))
    if not np.isfinite(trace):
        raise ValueError(
            f"The covariance of {where} overflows float64 (its tokens reach "
            f"{float(np.max(np.abs(X))):.3g}): rescale the embeddings, or use normalize=True."
        )
    return GaussianStats(mean=mean, factor=factor, trace=trace, scale=scale, n_tokens=n)


def reduce_factor(factor: np.ndarray) -> np.ndarray:
    """Return a factor with ``min(n, d)`` rows and the same Gram ``F.T @ F``.

    When a cloud has more tokens than dimensions, the triangular factor of a
    QR decomposition carries the same covariance in ``d`` rows, which keeps
    every cross-Gram product at most ``d x d``.
    """
    n, d = factor.shape
    if n <= d:
        return factor
    return np.linalg.qr(factor, mode="r")


def nuclear_norm_cross(F1: np.ndarray, F2: np.ndarray) -> float:
    r"""Return :math:`\lVert F_1 F_2^\top\rVert_*` in float64.

    Equals :math:`\operatorname{tr}((\Sigma_1^{1/2}\Sigma_2\Sigma_1^{1/2})^{1/2})`
    for :math:`\Sigma_i = F_i^\top F_i`.
    """
    cross = np.asarray(F1, dtype=np.float64) @ np.asarray(F2, dtype=np.float64).T
    return float(np.linalg.svd(cross, compute_uv=False).sum())


def bures_squared_stats(s1: GaussianStats, s2: GaussianStats) -> float:
    r"""Squared Bures distance between the covariances of two summaries.

    .. math::

        B^2(\Sigma_1, \Sigma_2) = \operatorname{tr}\Sigma_1 + \operatorname{tr}\Sigma_2
        - 2 \lVert C_1 C_2^\top \rVert_*

    clamped at 0 (it is non-negative; round-off can make it a hair below).
    """
    if s1 is s2:
        return 0.0
    value = s1.trace + s2.trace - 2.0 * nuclear_norm_cross(s1.factor, s2.factor)
    return max(value, 0.0)
