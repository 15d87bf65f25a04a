r"""Optimal-transport distances between token clouds.

Each text is the uniform (or weighted) empirical measure on its token cloud.
:func:`exact_w2` solves the transport problem with POT; :func:`gaussian_w2`
is the closed form between the Gaussians with the clouds' means and
covariances, computed with the exact cross-Gram Bures code that SOCM uses.
By the Gelbrich bound the Gaussian value never exceeds the exact one;
:func:`compare_w2` measures the gap on a corpus and checks the bound, and
:func:`pairwise_w2` gives either distance as a matrix for scikit-learn's
precomputed metrics and kernels. Every function returns :math:`W_2`, never
:math:`W_2^2`; only the ``*_term`` columns of :func:`compare_w2`'s table are
squared parts.

POT is imported on the first exact solve, not with this package.
"""

from ._compare import W2Comparison, compare_w2
from ._pairwise import pairwise_w2
from ._w2 import exact_w2, gaussian_w2

__all__ = ["exact_w2", "gaussian_w2", "pairwise_w2", "compare_w2", "W2Comparison"]
