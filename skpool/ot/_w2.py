r"""W2 between two token clouds: exact (POT) and Gaussian (closed form).

Each text is the discrete measure :math:`\sum_k a_k \delta_{x_k}` on the rows
of its token cloud (uniform masses :math:`a_k = 1/n` by default). For two
such measures with means :math:`m_1, m_2` the squared Euclidean cost splits
into a mean part and a centred part, for every coupling:

.. math::

    W_2^2(\alpha, \beta) = \lVert m_1 - m_2\rVert^2 + W_2^2(\bar\alpha, \bar\beta),

where :math:`\bar\alpha, \bar\beta` are the centred measures (the cross term
vanishes because a coupling keeps both marginals). The exact route therefore
solves the transport problem between the centred clouds, which keeps the
cost matrix small and free of the cancellation that a large common mean
would cause, and adds the mean part back. The Gaussian route replaces the
centred part by the squared Bures distance of the two covariances; the
Gelbrich bound says it can only be smaller.

POT imports torch when it is installed, so it is imported on first use of an
exact solve rather than with this module.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .._validation import describe
from ..tokensets import check_cloud
from ..math._ragged import divide_by_mean_norm, power_of_two_scale, row_norms
from ..math.gaussian import GaussianStats, bures_squared_stats, cloud_stats, reduce_factor

__all__ = ["exact_w2", "gaussian_w2"]

_METHODS = ("emd", "sinkhorn")
_WEIGHT_SCHEMES = ("uniform", "norm")
# POT's own defaults, so that numItermax=None means "what POT would do".
_DEFAULT_ITERMAX = {"emd": 100_000, "sinkhorn": 1_000}


# -- input checks ------------------------------------------------------------------------

def check_method(method, reg, numItermax):
    if not isinstance(method, str) or method not in _METHODS:
        raise ValueError(
            f"Expected method to be one of {list(_METHODS)}. Received {describe(method)}."
        )
    if method == "sinkhorn":
        if reg is None:
            raise ValueError(
                "method='sinkhorn' needs the entropic regularization reg (a positive float, "
                "in the units of the squared Euclidean cost). Received reg=None."
            )
        if (isinstance(reg, bool) or not isinstance(reg, numbers.Real)
                or not np.isfinite(reg) or reg <= 0):
            raise ValueError(
                f"Expected reg to be a positive finite float. Received {describe(reg)}."
            )
        reg = float(reg)
    elif reg is not None:
        raise ValueError(
            "reg is the entropic regularization of method='sinkhorn'; the exact solver "
            f"method='emd' takes none. Received reg={reg!r} with method='emd'."
        )
    if numItermax is None:
        numItermax = _DEFAULT_ITERMAX[method]
    elif isinstance(numItermax, bool) or not isinstance(numItermax, numbers.Integral) \
            or numItermax < 1:
        raise ValueError(
            f"Expected numItermax to be a positive int or None. Received {describe(numItermax)}."
        )
    return method, reg, int(numItermax)


def check_scheme(weights, *, name="weights"):
    """Return the weight scheme ("uniform" or "norm") of a string/None ``weights``."""
    if weights is None:
        return "uniform"
    if isinstance(weights, str) and weights in _WEIGHT_SCHEMES:
        return weights
    raise ValueError(
        f"Expected {name} to be None, one of {list(_WEIGHT_SCHEMES)} or a pair of arrays "
        f"(a, b) of token masses. Received {describe(weights)}."
    )


def scheme_masses(X: np.ndarray, scheme: str, *, name: str, index=None):
    """Token masses of one cloud under a named scheme; ``None`` means uniform."""
    if scheme == "uniform":
        return None
    # Word Rotator's Distance: a token weighs as much as its norm, so that
    # near-zero (uninformative) vectors carry little mass.
    norms = row_norms(X)
    norms = norms / norms.max() if norms.max() > 0 else norms  # masses are scale-free
    total = norms.sum()
    if not total > 0:
        where = name if index is None else f"{name}[{index}] (text {index})"
        raise ValueError(
            f"weights='norm' gives each token of {where} a mass proportional to its norm, "
            "but every token of it has norm 0, so the masses sum to 0."
        )
    return norms / total


def _check_masses(masses, n: int, *, name: str) -> np.ndarray | None:
    """Validate one array of token masses; return it scaled to sum 1."""
    if isinstance(masses, (str, bytes)) or masses is None:
        raise ValueError(
            f"Expected {name} to be a 1-D array of {n} non-negative token masses. "
            f"Received {describe(masses)}."
        )
    try:
        array = np.asarray(masses, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"Expected {name} to be a 1-D array of {n} non-negative token masses. "
            f"Received {describe(masses)}."
        ) from None
    if array.ndim != 1 or array.shape[0] != n:
        raise ValueError(
            f"Expected {name} to be a 1-D array of {n} token masses (one per token). "
            f"Received shape {array.shape}."
        )
    if not np.isfinite(array).all():
        bad = int(np.flatnonzero(~np.isfinite(array))[0])
        raise ValueError(f"Expected {name} to be finite. Received {array[bad]} at token {bad}.")
    if (array < 0).any():
        bad = int(np.flatnonzero(array < 0)[0])
        raise ValueError(
            f"Expected {name} to be non-negative token masses. Received {array[bad]} "
            f"at token {bad}."
        )
    total = array.sum()
    if not total > 0:
        raise ValueError(f"Expected {name} to have a positive sum. Received masses summing to 0.")
    return array / total


def _pair_masses(weights, A: np.ndarray, B: np.ndarray):
    """Token masses ``(a, b)`` of the two clouds (``None`` = uniform)."""
    if isinstance(weights, (tuple, list)):
        if len(weights) != 2:
            raise ValueError(
                "Expected weights to be a pair (a, b) of token masses, one array per cloud. "
                f"Received a {type(weights).__name__} of length {len(weights)}."
            )
        return (_check_masses(weights[0], A.shape[0], name="weights[0] (the masses of A)"),
                _check_masses(weights[1], B.shape[0], name="weights[1] (the masses of B)"))
    scheme = check_scheme(weights)
    return (scheme_masses(A, scheme, name="A"), scheme_masses(B, scheme, name="B"))


def _check_pair(A, B):
    A = check_cloud(A, name="A")
    B = check_cloud(B, name="B")
    if B.shape[1] != A.shape[1]:
        raise ValueError(
            f"Expected A and B to have the same dimension d. Received A with d={A.shape[1]} "
            f"and B with d={B.shape[1]}."
        )
    return A, B


def canonical_form(X: np.ndarray, masses) -> np.ndarray:
    """The weighted points of a cloud as rows ``(mass, x)``, in lexicographic order.

    Two clouds are the same measure exactly when these arrays are equal:
    the order of the tokens does not matter (repeated points with split
    masses are compared as listed).
    """
    n = X.shape[0]
    a = np.full(n, 1.0 / n) if masses is None else masses
    rows = np.column_stack([a, np.asarray(X, dtype=np.float64)])
    return rows[np.lexsort(rows.T[::-1])]


def _same_measure(A, B, a, b) -> bool:
    """Whether ``(A, a)`` and ``(B, b)`` are the same multiset of weighted points."""
    if A.shape != B.shape:
        return False
    return bool(np.array_equal(canonical_form(A, a), canonical_form(B, b)))


def common_scale(*clouds) -> float:
    """The power of two the clouds are divided by before costs are squared (W2 scales with it)."""
    return power_of_two_scale(*clouds)


# -- the two clouds as measures -------------------------------------------------------------

def as_float64(X: np.ndarray, normalize: bool, *, name: str, index=None):
    """``(cloud in float64, scale)``: divided by the norm of its mean when ``normalize``."""
    eps = float(np.finfo(X.dtype).eps) if X.dtype == np.float32 else float(np.finfo(float).eps)
    X = np.array(X, dtype=np.float64)
    if not normalize:
        return X, 1.0
    where = name if index is None else f"{name}[{index}] (text {index})"
    _, scales = divide_by_mean_norm(X, np.array([0, X.shape[0]]), eps=eps,
                                    where=lambda k: where)
    return X, float(scales[0])


def _mean(X: np.ndarray, masses) -> np.ndarray:
    return X.mean(axis=0) if masses is None else masses @ X


def weighted_stats(X, masses, *, normalize: bool, name: str, index=None) -> GaussianStats:
    """The Gaussian summary of a (possibly weighted) cloud, in the shared format.

    Uniform masses go through :func:`skpool.metrics.gaussian_stats`
    itself; other masses give the factor :math:`F = \\sqrt{a}\\,(X - m)`, whose
    Gram :math:`F^\\top F` is the weighted covariance, so the same Bures code
    applies.
    """
    if masses is None:
        where = name if index is None else f"{name}[{index}] (text {index})"
        return cloud_stats(X, normalize=normalize, where=where)
    X, scale = as_float64(X, normalize, name=name, index=index)
    mean = masses @ X
    factor = reduce_factor(np.sqrt(masses)[:, None] * (X - mean))
    return GaussianStats(mean=mean, factor=factor, trace=float(np.sum(factor * factor)),
                         scale=scale, n_tokens=X.shape[0])


def _uniform(n: int) -> np.ndarray:
    return np.full(n, 1.0 / n)


def _pot():
    import ot  # noqa: PLC0415  (imports torch when present: keep it off the import path)

    return ot


def centred_exact_sq(A, B, a, b, *, method, reg, numItermax):
    """Squared W2 between two centred float64 clouds with masses ``a``, ``b``.

    Returns ``(value, problem)`` where ``problem`` is POT's message when the
    solver stopped before convergence (``None`` otherwise), so that callers
    running in worker processes can report it in the parent.
    """
    if A.shape[0] == 1 or B.shape[0] == 1:
        # One point on a side: the only coupling sends everything to it.
        M = ((A[:, None, :] - B[None, :, :]) ** 2).sum(-1)
        return float(a @ M @ b), None
    ot = _pot()
    M = ot.dist(A, B, metric="sqeuclidean")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if method == "emd":
            value, log = ot.emd2(a, b, M, numItermax=numItermax, log=True)
            problem = log.get("warning")
        else:
            value = ot.sinkhorn2(a, b, M, reg, method="sinkhorn_log",
                                 numItermax=numItermax, warn=True)
            problem = None
    for record in caught:
        message = str(record.message)
        if method == "sinkhorn" and "did not converge" in message:
            problem = message
        elif problem is None or message != problem:
            warnings.warn_explicit(record.message, record.category, record.filename,
                                   record.lineno)
    value = float(value)
    if not np.isfinite(value):
        raise FloatingPointError(
            f"POT's {method} solver returned {value} for W2^2; with method='sinkhorn' a larger "
            f"reg (now {reg}) or more iterations usually help."
        )
    return max(value, 0.0), problem


def _exact_sq_parts(A, B, a, b, *, method, reg, numItermax):
    """``(W2^2, mean part, problem)`` for two float64 clouds with masses (None = uniform)."""
    a = _uniform(A.shape[0]) if a is None else a
    b = _uniform(B.shape[0]) if b is None else b
    mA, mB = a @ A, b @ B
    mean_term = float(np.sum((mA - mB) ** 2))
    centred, problem = centred_exact_sq(A - mA, B - mB, a, b, method=method, reg=reg,
                                         numItermax=numItermax)
    return mean_term + centred, mean_term, problem


def warn_unconverged(problem: str, *, method: str, numItermax: int, where: str = ""):
    # An unfinished simplex still returns a feasible plan (an upper bound);
    # an unfinished Sinkhorn has wrong marginals, so its value can be off either way.
    consequence = ("the returned W2 is an upper bound, not the optimum" if method == "emd"
                   else "its plan misses the token masses and the returned W2 is inexact")
    warnings.warn(
        f"The {method} optimal-transport solve{where} did not converge, so {consequence}. "
        f"POT says: {problem} (numItermax={numItermax}).",
        ConvergenceWarning,
        stacklevel=3,
    )


# -- public functions ---------------------------------------------------------------------

def _prepared_pair(A, B, weights, normalize):
    """Masses, float64 clouds and their common scale; None for the same measure (W2 = 0)."""
    a, b = _pair_masses(weights, A, B)
    if _same_measure(A, B, a, b):
        return None
    A, _ = as_float64(A, normalize, name="A")
    B, _ = as_float64(B, normalize, name="B")
    return A, B, a, b, common_scale(A, B)


def exact_w2(A, B, *, normalize: bool = False, method: str = "emd", reg=None,
             weights=None, numItermax=None) -> float:
    r"""Exact 2-Wasserstein distance :math:`W_2` between two token clouds.

    Each cloud is the discrete measure :math:`\alpha = \sum_k a_k\delta_{x_k}`
    on its tokens (uniform :math:`a_k = 1/n` by default). With the squared
    Euclidean cost :math:`M_{kl} = \lVert x_k - y_l\rVert^2`,

    .. math::

        W_2(\alpha, \beta) = \Bigl(\min_{P \in U(a, b)} \langle P, M\rangle\Bigr)^{1/2},

    computed with POT's ``ot.emd2`` (which returns :math:`W_2^2`; this
    function returns its square root). The problem is solved between the
    centred clouds and :math:`\lVert m_1 - m_2\rVert^2` is added back, which
    is the same number with less round-off (see the module notes).

    Parameters
    ----------
    A : array-like of shape (n_a, d)
        Token embeddings of the first text.
    B : array-like of shape (n_b, d)
        Token embeddings of the second text.
    normalize : bool, default=False
        Divide each cloud by the norm of its own (unweighted) mean token first,
        :math:`\tilde X = X / \lVert \bar x\rVert` (the paper's
        normalization). ``False`` compares the raw clouds.
    method : {"emd", "sinkhorn"}, default="emd"
        ``"emd"``: the exact network-simplex solver. ``"sinkhorn"``: the
        entropic approximation (log-domain Sinkhorn); the value returned is
        the square root of the transport cost :math:`\langle P_\varepsilon, M\rangle`
        of the entropic plan, which (once converged) is at least the exact
        :math:`W_2^2` and tends to it as ``reg`` goes to 0; small ``reg``
        needs more iterations.
    reg : float, optional
        Entropic regularization for ``method="sinkhorn"`` (required there,
        rejected for ``"emd"``), in the units of the squared cost.
    weights : None, "uniform", "norm" or (array-like, array-like), default=None
        Token masses. ``None``/``"uniform"``: :math:`1/n` each. ``"norm"``:
        proportional to each token's norm, as in Word Rotator's Distance [1]_.
        A pair ``(a, b)``: non-negative masses of shapes (n_a,) and (n_b,),
        rescaled to sum 1.
    numItermax : int, optional
        Iteration limit of the solver; ``None`` uses POT's default for the
        method (100000 for emd, 1000 for sinkhorn).

    Returns
    -------
    float
        :math:`W_2 \ge 0` (not :math:`W_2^2`); exactly 0 when ``A`` and ``B``
        are the same cloud with the same masses.

    Warns
    -----
    sklearn.exceptions.ConvergenceWarning
        When the solver stops before convergence; the message quotes POT.

    Raises
    ------
    ValueError
        On an empty or non-finite cloud, different dimensions, bad weights,
        a bad ``method``/``reg``, or (``normalize=True``) a cloud whose mean
        is 0.

    See Also
    --------
    gaussian_w2 : the Gaussian closed form, a lower bound of this value.

    References
    ----------
    .. [1] Yokoi, Takahashi, Akama, Suzuki, Inui. "Word Rotator's Distance."
       EMNLP 2020.
    .. [2] Flamary et al. "POT: Python Optimal Transport." JMLR 22 (2021).

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[0.0, 0.0], [1.0, 0.0]])
    >>> exact_w2(A, A + [3.0, 4.0])          # a translation by v: ||v||
    5.0
    >>> exact_w2(A, A)
    0.0
    """
    A, B = _check_pair(A, B)
    method, reg, numItermax = check_method(method, reg, numItermax)
    prepared = _prepared_pair(A, B, weights, normalize)
    if prepared is None:
        return 0.0
    A, B, a, b, unit = prepared
    # reg is in the units of the squared cost: it scales with the clouds
    value, _, problem = _exact_sq_parts(A / unit, B / unit, a, b, method=method,
                                        reg=None if reg is None else reg / unit**2,
                                        numItermax=numItermax)
    if problem is not None:
        warn_unconverged(problem, method=method, numItermax=numItermax)
    return unit * float(np.sqrt(max(value, 0.0)))


def _gaussian_sq_parts(s1: GaussianStats, s2: GaussianStats):
    """``(mean part, Bures part)`` of the squared Gaussian W2 of two summaries."""
    mean_term = float(np.sum((s1.mean - s2.mean) ** 2))
    return mean_term, bures_squared_stats(s1, s2)


def gaussian_w2(A, B, *, normalize: bool = False, weights=None) -> float:
    r"""Gaussian (Bures-Wasserstein) :math:`W_2` between two token clouds.

    The 2-Wasserstein distance between the Gaussians with the clouds' own
    means and biased (:math:`1/n`) covariances:

    .. math::

        W_2\bigl(\mathcal N(m_1, \Sigma_1), \mathcal N(m_2, \Sigma_2)\bigr)
        = \Bigl(\lVert m_1 - m_2\rVert^2 + B^2(\Sigma_1, \Sigma_2)\Bigr)^{1/2},
        \qquad
        B^2 = \operatorname{tr}\Sigma_1 + \operatorname{tr}\Sigma_2
        - 2\operatorname{tr}\bigl((\Sigma_1^{1/2}\Sigma_2\Sigma_1^{1/2})^{1/2}\bigr).

    :math:`B^2` comes from the exact cross-Gram route of
    :mod:`skpool.math.gaussian` (the code SOCM uses), so rank-deficient
    covariances (fewer tokens than dimensions, the usual case) are exact and
    never NaN. By the Gelbrich bound [1]_ this is at most
    :func:`exact_w2` of the same clouds and masses.

    Parameters
    ----------
    A : array-like of shape (n_a, d)
    B : array-like of shape (n_b, d)
    normalize : bool, default=False
        Use the mean-normalized clouds :math:`X / \lVert\bar x\rVert`.
    weights : None, "uniform", "norm" or (array-like, array-like), default=None
        Token masses as in :func:`exact_w2`; the Gaussians then have the
        weighted means and covariances.

    Returns
    -------
    float
        :math:`W_2 \ge 0` of the two Gaussians (not squared); exactly 0 for
        the same cloud with the same masses.

    References
    ----------
    .. [1] Gelbrich. "On a formula for the L2 Wasserstein metric between
       measures on Euclidean and Hilbert spaces." Math. Nachr. 147 (1990).

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[0.0, 0.0], [2.0, 0.0]])     # variance 1 along x
    >>> B = np.array([[0.0, 0.0], [0.0, 2.0]])     # variance 1 along y
    >>> round(gaussian_w2(A, B) ** 2, 12)          # ||m1 - m2||^2 + B^2 = 2 + 2
    4.0
    >>> gaussian_w2(A, B) <= exact_w2(A, B)        # the Gelbrich bound
    True
    """
    prepared = _prepared_pair(*_check_pair(A, B), weights, normalize)
    if prepared is None:
        return 0.0
    A, B, a, b, unit = prepared
    s1 = weighted_stats(A / unit, a, normalize=False, name="A")
    s2 = weighted_stats(B / unit, b, normalize=False, name="B")
    mean_term, bures_term = _gaussian_sq_parts(s1, s2)
    return unit * float(np.sqrt(max(mean_term + bures_term, 0.0)))
