r"""The collapse metrics, checked: SOCM, Bures, concentration and matched SOCM.

The public functions here check their arguments once, run the formulas of
:mod:`skpool.math` through the engine (``skpool._engine``: blocks of texts
sorted by length, joblib workers, NumPy or torch) and return small result
objects. The root package re-exports them (``skpool.socm``,
``skpool.mean_socm``, ``skpool.concentration``, ...). The formulas, the
paper and the references are in :mod:`skpool.math.socm` and
:mod:`skpool.math.gaussian`; docs/concepts.md states every formula.

Shared parameters (``n_jobs``, ``random_state``, ``working_memory``,
``progress``) mean the same everywhere: docs/glossary.md.

Concentration matching
----------------------

SOCM grows with :math:`d_\Sigma = B^2(\Sigma_1, \Sigma_2)/4`, and the squared
Bures distance grows with the traces: two texts whose tokens spread more are
further apart whatever the *shape* of their spreads. Contrastive fine-tuning
changes the spread (token concentration) of a model's texts, so a correlation
between SOCM and downstream quality may be a correlation with concentration
alone. The control here removes the spread: every text's centred,
mean-normalized cloud is rescaled so that every text has the same
:math:`\operatorname{tr}\Sigma`, the mean left unchanged,

.. math::

    \tilde X = X / \lVert m \rVert, \qquad
    Y = \mu + \sqrt{s / \operatorname{tr}\Sigma}\,(\tilde X - \mu),

so :math:`\mu(Y) = \mu` (unit norm), :math:`\operatorname{tr}\Sigma(Y) = s`,
and the SOCM of the matched clouds measures how the covariances differ in
shape (their directions and how the spread divides among them), not how large
they are. With :math:`s \le 2` (the default is 1) every matched text meets the
paper's trace assumption.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._engine.backends import check_device
from ._engine.bures import (check_precision, cloud_factors, dense_bures, length_order,
                            paired_bures, tail_spectra, truncate_factors)
from ._engine.chunks import check_working_memory, chunk_bytes
from ._engine.parallel import one_blas_thread, resolve_n_jobs
from ._engine.sampling import check_random_state, sample_pairs
from ._params import (N_JOBS, N_PAIRS, PRECISION, PROGRESS, RANDOM_STATE, WORKING_MEMORY,
                      validate_params)
from ._progress import progress_bar
from ._sklearn_compat import Integers, Integral, Interval, Numbers, Real
from .math._ragged import power_of_two_scale, text_chunks
from .math.gaussian import GaussianStats, bures_squared_stats, cloud_stats
from .math.socm import (TRACE_ASSUMPTION, SOCMComponents, concentration_of_chunk, match_cloud,
                        pairwise_d_mu, paired_d_mu, sampling_stderr, socm_of_stats, socm_sums,
                        truncation_error)
from .tokensets import TokenSets, check_cloud, check_token_sets

__all__ = ["TRACE_ASSUMPTION", "SOCMComponents", "socm", "socm_components", "PairwiseSOCM",
           "pairwise_socm", "pairwise_socm_components", "pairwise_bures_squared",
           "MeanSOCMResult", "mean_socm", "Concentration", "concentration", "GaussianStats",
           "gaussian_stats", "bures_squared", "match_concentration", "matched_mean_socm"]


#: the parameters of the all-pairs functions
_PAIRWISE_PARAMS = {"rank": [Integers(Integral, 1, None, closed="left"), None],
                    "tol": [Interval(Real, 0, 1, closed="neither"), None],
                    "precision": PRECISION, "n_jobs": N_JOBS,
                    "working_memory": WORKING_MEMORY, "progress": PROGRESS}


# ---------------------------------------------------------------------------------------
# One pair
# ---------------------------------------------------------------------------------------
def socm_components(A, B) -> SOCMComponents:
    r"""SOCM of two token clouds with its parts :math:`d_\mu` and :math:`d_\Sigma`.

    .. math::

        d_\mu = \tfrac14\lVert\mu_A - \mu_B\rVert^2, \quad
        d_\Sigma = \tfrac14\bigl(\operatorname{tr}\Sigma_A + \operatorname{tr}\Sigma_B
        - 2\lVert C_A C_B^\top\rVert_*\bigr), \quad
        \mathrm{SOCM} = (1 - d_\mu)\, d_\Sigma

    on the mean-normalized clouds, in float64 whatever the input dtype. The
    squared Bures distance is clamped at 0 (round-off); nothing else is
    clipped.

    Parameters
    ----------
    A : array-like of shape (n_a, d)
        Token embeddings of the first text.
    B : array-like of shape (n_b, d)
        Token embeddings of the second text (same ``d``).

    Returns
    -------
    SOCMComponents
        ``(socm, d_mu, d_sigma)``; exactly ``(0.0, 0.0, 0.0)`` when ``A``
        and ``B`` are the same cloud.

    Raises
    ------
    ValueError
        If a cloud is empty or not finite, the dimensions differ, or a
        cloud's mean token has zero norm (the text has no direction).

    See Also
    --------
    socm : the value alone.
    pairwise_socm_components : the same for every pair of a corpus.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[1.0, 0.0], [1.0, 2.0]])    # mean (1, 1), spread along y
    >>> B = np.array([[0.0, 1.0], [2.0, 1.0]])    # mean (1, 1), spread along x
    >>> s, d_mu, d_sigma = socm_components(A, B)
    >>> round(d_mu, 12), round(d_sigma, 12), round(s, 12)
    (0.0, 0.25, 0.25)
    >>> socm_components(A, A)
    SOCMComponents(socm=0.0, d_mu=0.0, d_sigma=0.0)
    """
    A = check_cloud(A, name="A")
    B = check_cloud(B, name="B", dim=A.shape[1])
    with one_blas_thread():
        if A.shape == B.shape and np.array_equal(A, B):
            cloud_stats(A, normalize=True, where="A")  # the zero-mean check still applies
            return SOCMComponents(0.0, 0.0, 0.0)
        return socm_of_stats(cloud_stats(A, normalize=True, where="A"),
                             cloud_stats(B, normalize=True, where="B"))


def socm(A, B) -> float:
    r"""SOCM of two token clouds: :math:`(1 - d_\mu)\, d_\Sigma`.

    Parameters
    ----------
    A : array-like of shape (n_a, d)
    B : array-like of shape (n_b, d)

    Returns
    -------
    float
        ``0.0`` exactly when ``A`` and ``B`` are the same cloud; in
        :math:`[0, 1]` when both texts have :math:`\operatorname{tr}\Sigma \le 2`,
        possibly above 1 otherwise (never clipped).

    See Also
    --------
    socm_components : with :math:`d_\mu` and :math:`d_\Sigma`.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> A = rng.normal(size=(5, 8)) + 3.0
    >>> socm(A, A)
    0.0
    >>> socm(A, -A)            # opposite means: d_mu = 1, so SOCM = 0
    0.0
    """
    return socm_components(A, B).socm


def gaussian_stats(X, *, normalize: bool = True, name: str = "A",
                   index: int | None = None) -> GaussianStats:
    r"""Compute the Gaussian summary of one token cloud.

    Parameters
    ----------
    X : array-like of shape (n_tokens, d)
        Token embeddings of one text.
    normalize : bool, default=True
        Divide the cloud by the norm of its mean first (the
        paper's normalization, so that :math:`\lVert\mu\rVert = 1`).
    name : str, default="A"
        The argument's name, for error messages.
    index : int, optional
        The text's index in its corpus, for error messages.

    Returns
    -------
    GaussianStats

    Raises
    ------
    ValueError
        If the cloud is empty or not finite, its covariance overflows float64,
        or (with ``normalize=True``) its mean is zero up to round-off against
        its tokens' norms, so the text has no direction.

    Examples
    --------
    >>> import numpy as np
    >>> stats = gaussian_stats(np.array([[1.0, 0.0], [3.0, 0.0]]))
    >>> stats.mean.tolist(), round(stats.trace, 6)
    ([1.0, 0.0], 0.25)
    """
    return cloud_stats(check_cloud(X, name=name, index=index), normalize=normalize,
                       where=name if index is None else f"{name}[{index}] (text {index})")




def bures_squared(A, B, *, normalize: bool = False) -> float:
    r"""Squared Bures distance between the covariances of two token clouds.

    Parameters
    ----------
    A : array-like of shape (n_a, d)
    B : array-like of shape (n_b, d)
    normalize : bool, default=False
        Use the mean-normalized clouds (as SOCM does) instead of
        the raw clouds (as the Gaussian W2 of raw clouds does).

    Returns
    -------
    float
        :math:`B^2(\Sigma_A, \Sigma_B) \ge 0`, exactly 0 for identical clouds.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[0.0, 0.0], [2.0, 0.0]])   # variance 1 along x
    >>> B = np.array([[0.0, 0.0], [0.0, 2.0]])   # variance 1 along y
    >>> round(bures_squared(A, B), 12)           # tr + tr - 2 tr(sqrt(0))
    2.0
    >>> bures_squared(A, A)
    0.0
    """
    A = check_cloud(A, name="A")
    B = check_cloud(B, name="B", dim=A.shape[1])
    if A.shape == B.shape and np.array_equal(A, B):
        return 0.0
    return bures_squared_stats(cloud_stats(A, normalize=normalize, where="A"),
                               cloud_stats(B, normalize=normalize, where="B"))


# ---------------------------------------------------------------------------------------
# All pairs
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PairwiseSOCM:
    r"""SOCM and its parts for every pair of texts of one or two corpora.

    Attributes
    ----------
    socm, d_mu, d_sigma : ndarray of shape (n_texts, n_texts_other)
        As in :func:`socm_components`. Without ``other`` the matrices are
        symmetric with an exact zero diagonal.
    socm_error, d_sigma_error : ndarray of shape (n_texts, n_texts_other)
        Guaranteed bounds on how far ``socm`` and ``d_sigma`` lie *above* the
        exact values (truncated mode; the exact values lie in
        ``[value - error, value]`` up to round-off). In exact mode a
        read-only array of zeros that takes no memory.
    spread : ndarray of shape (n_texts,)
        :math:`\operatorname{tr}\Sigma` of each text.
    spread_other : ndarray of shape (n_texts_other,)
        The same for ``other`` (equal to ``spread`` without ``other``).
    ranks : ndarray of shape (n_texts,)
        Rows of each text's factor used in the cross products: the kept
        principal directions in truncated mode, ``min(n_i - 1, d)`` in exact
        mode (centred tokens span ``n_i - 1`` directions at most; a
        single-token text has one zero row).
    exact : bool
        False in truncated mode (``rank`` or ``tol`` given).
    """

    socm: np.ndarray
    d_mu: np.ndarray
    d_sigma: np.ndarray
    socm_error: np.ndarray
    d_sigma_error: np.ndarray
    spread: np.ndarray
    spread_other: np.ndarray
    ranks: np.ndarray
    exact: bool

    @property
    def n_trace_violations(self) -> int:
        r"""Texts (of both corpora) with :math:`\operatorname{tr}\Sigma > 2`."""
        n = int(np.count_nonzero(self.spread > TRACE_ASSUMPTION))
        if self.spread_other is not self.spread:
            n += int(np.count_nonzero(self.spread_other > TRACE_ASSUMPTION))
        return n


def _corpora(tokens, other):
    tokens = check_token_sets(tokens, name="tokens")
    if other is None:
        return tokens, None
    other = check_token_sets(other, name="other")
    if other.dim != tokens.dim:
        raise ValueError(
            f"Expected other to have dimension d={tokens.dim} like tokens. "
            f"Received dimension {other.dim}."
        )
    return tokens, other


def _bures_all_pairs(tokens, other, *, normalize, rank, tol, precision, n_jobs, device,
                     working_memory, progress=False, what="SOCM"):
    """Factors of both corpora, B^2 (upper bound when truncated) and its error bound."""
    dtype = check_precision(precision)
    device = check_device(device)
    working_memory = check_working_memory(working_memory)
    n_jobs = resolve_n_jobs(n_jobs)
    truncated = rank is not None or tol is not None
    symmetric = other is None
    # raw clouds are divided by one power of two (exact), so products never overflow
    unit = 1.0 if normalize else power_of_two_scale(
        tokens.data, *(() if symmetric else (other.data,)))
    fx = cloud_factors(tokens, normalize=normalize, name="tokens", dtype=dtype,
                                 principal=truncated, n_jobs=n_jobs, unit=unit)
    fy = fx if symmetric else cloud_factors(other, normalize=normalize, name="other",
                                                      dtype=dtype, principal=truncated,
                                                      n_jobs=n_jobs, unit=unit)
    rows = truncate_factors(fx, rank=rank, tol=tol) if truncated else fx
    order = length_order(fx)
    n_pairs = len(fx) * (len(fx) - 1) // 2 if symmetric else len(fx) * len(fy)
    with progress_bar(progress, total=n_pairs, desc=f"{what} (all pairs)", unit="pair",
                      unit_scale=True) as bar:
        b2 = dense_bures(rows, fy, symmetric=symmetric, n_jobs=n_jobs, device=device,
                                   working_memory=working_memory, order=order, bar=bar)
    if unit != 1.0:
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below
            b2 *= np.square(np.float64(unit))
        if not np.isfinite(b2).all():
            raise ValueError(
                f"The squared Bures distances of the raw clouds overflow float64 (tokens reach "
                f"about {unit:.3g}): use normalize=True, or rescale the embeddings."
            )
    if truncated:
        error = truncation_error(b2, rows.traces, rows.spectra, tail_spectra(rows),
                                 fy.traces, fy.spectra, symmetric, order)
    else:
        # exact: a read-only array of zeros that takes no memory
        error = np.broadcast_to(np.float64(0.0), b2.shape)
    return fx, fy, rows, b2, error


@validate_params(_PAIRWISE_PARAMS, prefer_skip_nested_validation=True)
def pairwise_socm_components(tokens, other=None, *, rank=None, tol=None, precision="float32",
                             n_jobs=None, device=None, working_memory=None,
                             progress=False) -> PairwiseSOCM:
    r"""SOCM, :math:`d_\mu` and :math:`d_\Sigma` of every pair of texts.

    Exact by default: each pair's cross term :math:`\lVert C_i C_j^\top\rVert_*`
    is the sum of the square roots of the eigenvalues of an
    :math:`n \times n` matrix (:math:`n` the shorter text), computed for all
    pairs of a block of texts from one large product and one batched
    eigenvalue call (see Notes).

    Parameters
    ----------
    tokens : TokenSets or list of array-like of shape (n_i, d)
        Token clouds of ``n_texts`` texts.
    other : TokenSets or list of array-like of shape (m_j, d), optional
        A second corpus; pairs are then ``(tokens[i], other[j])``.
    rank : int, optional
        Truncated mode: keep at most ``rank`` principal directions of each
        text of ``tokens`` (the row side of each pair; in the symmetric case
        the shorter text of each pair). Faster, and returns a guaranteed error
        bound (see Notes).
    tol : float in (0, 1), optional
        Truncated mode: keep the fewest principal directions whose dropped
        part has Frobenius norm at most ``tol`` times the text's factor's;
        then :math:`\hat B^2 - B^2 \le 2\,\mathrm{tol}\sqrt{\operatorname{tr}
        \Sigma_i \operatorname{tr}\Sigma_j}`. With ``rank`` too, the fewer.
    precision : {"float32", "float64"}, default="float32"
        dtype of the large cross-Gram products. The small squared matrices
        and their eigenvalues are always float64 (squaring in float32 would
        lose the small singular values); the float32 products change
        :math:`d_\Sigma` by about :math:`10^{-6}` relative. ``"float64"``
        doubles the product cost.
    n_jobs : int or None, default=None
        Blocks of pairs computed at once (docs/glossary.md, ``n_jobs``); inside
        ``joblib.parallel_config(backend="dask")`` they run on the dask cluster.
    device : str or torch.device, optional
        Run the blocks with torch on this device (``"cuda"``, ``"cuda:1"``,
        ``"cpu"``). torch is imported only when a device is given.
    working_memory : float, optional
        MiB of temporary memory for all running blocks together (default:
        scikit-learn's ``working_memory``, 1024). The factors of the corpus
        (one float32 or float64 copy of the tokens) and the outputs come on
        top.
    progress : bool, default=False
        Show a tqdm bar on stderr, advanced block by block, with the rate in
        pairs per second. The values do not depend on it.

    Returns
    -------
    PairwiseSOCM

    Raises
    ------
    ValueError
        On bad clouds (named by index), a text whose mean token has zero norm,
        a dimension mismatch, or bad parameters.

    See Also
    --------
    pairwise_socm : the SOCM matrix alone.
    mean_socm : the corpus score, exact or sampled, without the matrices.

    Notes
    -----
    **Exact mode.** Texts are sorted by length and cut into blocks whose
    cross-Gram product fits ``working_memory``. For each pair of blocks one
    product of all their token rows holds every pair's :math:`C_i C_j^\top`;
    each is squared on its shorter side in float64 and the eigenvalues of all
    of them come from one batched call. Zero padding (texts of a block are
    padded to its longest) only adds zero eigenvalues.

    **Truncated mode** (``rank`` or ``tol``). Each text's factor is rotated
    once to its principal axes and the row side of each pair keeps its
    leading :math:`k_i` directions (projection :math:`P_i`, dropped part
    :math:`E_i`). Then :math:`\lVert P_i C_i C_j^\top\rVert_* \le \lVert C_i
    C_j^\top\rVert_*`, so the returned :math:`\hat B^2` is an upper bound of
    :math:`B^2`, and

    .. math::

        B^2 \ge \max\Bigl(\hat B^2 - 2\sum_l \sigma_l(E_i)\,\sigma_l(C_j),\;
        \sum_l \bigl(\sigma_l(C_i) - \sigma_l(C_j)\bigr)^2,\; 0\Bigr)

    (Horn's inequality for the singular values of a product). The gap is
    returned as ``d_sigma_error`` (:math:`/4`) and ``socm_error``
    (:math:`\times (1-d_\mu)/4`). On clouds with slowly decaying spectra,
    as real token clouds have, the bound is loose and the truncation error
    itself is large (tens of percent at ``rank=32`` for 100-token texts):
    use it for speed, and the exact mode for reported values.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> clouds = [rng.normal(size=(n, 6)) + 2.0 for n in (4, 7, 5)]
    >>> pairs = pairwise_socm_components(clouds)
    >>> pairs.socm.shape, pairs.exact, float(pairs.socm[1, 1])
    ((3, 3), True, 0.0)
    >>> bool(np.allclose(pairs.socm, (1 - pairs.d_mu) * pairs.d_sigma))
    True
    >>> bool(abs(pairs.socm[0, 1] - socm(clouds[0], clouds[1])) < 1e-6)
    True
    """
    tokens, other = _corpora(tokens, other)
    tol = None if tol is None else float(tol)
    truncated = rank is not None or tol is not None
    fx, fy, rows, b2, error = _bures_all_pairs(
        tokens, other, normalize=True, rank=rank, tol=tol, precision=precision,
        n_jobs=n_jobs, device=device, working_memory=working_memory, progress=progress)
    symmetric = other is None
    d_mu = pairwise_d_mu(fx.means, fy.means, symmetric)
    d_sigma = b2 / 4.0
    weight = 1.0 - d_mu
    socm_values = weight * d_sigma
    if truncated:
        d_sigma_error = error / 4.0
        socm_error = weight * d_sigma_error
    else:
        d_sigma_error = socm_error = error
    spread = fx.traces
    return PairwiseSOCM(
        socm=socm_values, d_mu=d_mu, d_sigma=d_sigma,
        socm_error=socm_error, d_sigma_error=d_sigma_error,
        spread=spread, spread_other=spread if symmetric else fy.traces,
        ranks=rows.counts.copy(), exact=not truncated,
    )


@validate_params(_PAIRWISE_PARAMS, prefer_skip_nested_validation=True)
def pairwise_socm(tokens, other=None, *, rank=None, tol=None, precision="float32", n_jobs=None,
                  device=None, working_memory=None, progress=False) -> np.ndarray:
    r"""SOCM of every pair of texts, as a matrix.

    Parameters
    ----------
    tokens : TokenSets or list of array-like of shape (n_i, d)
    other : TokenSets or list of array-like of shape (m_j, d), optional
    rank, tol, precision, n_jobs, device, working_memory, progress
        See :func:`pairwise_socm_components`.

    Returns
    -------
    ndarray of shape (n_texts, n_texts_other)
        float64. Without ``other``: symmetric with an exact zero diagonal.

    See Also
    --------
    pairwise_socm_components : with :math:`d_\mu`, :math:`d_\Sigma`, spreads
        and (truncated mode) error bounds.

    Examples
    --------
    >>> import numpy as np
    >>> cloud = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 3.0]])
    >>> clouds = [cloud, cloud[::-1] + 0.5, 2.0 * cloud]

    SOCM compares mean-normalized clouds, so a cloud and its double match:

    >>> S = pairwise_socm(clouds)
    >>> S.shape, bool((S == S.T).all()), S.diagonal().tolist(), bool(abs(S[0, 2]) < 1e-9)
    ((3, 3), True, [0.0, 0.0, 0.0], True)
    >>> pairwise_socm(clouds, clouds[:2]).shape
    (3, 2)
    """
    return pairwise_socm_components(
        tokens, other, rank=rank, tol=tol, precision=precision, n_jobs=n_jobs, device=device,
        working_memory=working_memory, progress=progress).socm


@validate_params(
    {"normalize": ["boolean"], "precision": PRECISION,
     "n_jobs": N_JOBS, "working_memory": WORKING_MEMORY, "progress": PROGRESS},
    prefer_skip_nested_validation=True)
def pairwise_bures_squared(tokens, other=None, *, normalize=False, precision="float32",
                           n_jobs=None, device=None, working_memory=None,
                           progress=False) -> np.ndarray:
    r"""Squared Bures distance between the covariances of every pair of clouds.

    .. math::

        B^2_{ij} = \operatorname{tr}\Sigma_i + \operatorname{tr}\Sigma_j
        - 2\lVert C_i C_j^\top\rVert_* \ge 0

    with the same blocked engine as :func:`pairwise_socm` (exact).

    Parameters
    ----------
    tokens : TokenSets or list of array-like of shape (n_i, d)
    other : TokenSets or list of array-like of shape (m_j, d), optional
    normalize : bool, default=False
        Use the mean-normalized clouds (as SOCM does) instead of
        the raw clouds (as the Gaussian W2 of raw clouds does).
    precision, n_jobs, device, working_memory, progress
        See :func:`pairwise_socm_components`.

    Returns
    -------
    ndarray of shape (n_texts, n_texts_other)
        :math:`B^2` (squared, not :math:`B`); without ``other`` symmetric with
        an exact zero diagonal.

    See Also
    --------
    bures_squared : one pair.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[0.0, 0.0], [2.0, 0.0]])   # variance 1 along x
    >>> B = np.array([[0.0, 0.0], [0.0, 2.0]])   # variance 1 along y
    >>> np.round(pairwise_bures_squared([A, B]), 6).tolist()
    [[0.0, 2.0], [2.0, 0.0]]
    """
    tokens, other = _corpora(tokens, other)
    return _bures_all_pairs(tokens, other, normalize=bool(normalize), rank=None, tol=None,
                            precision=precision, n_jobs=n_jobs, device=device,
                            working_memory=working_memory, progress=progress,
                            what="Bures")[3]


# ---------------------------------------------------------------------------------------
# Corpus score
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MeanSOCMResult:
    r"""Mean SOCM of a corpus over all pairs (exact) or a uniform sample of pairs.

    Attributes
    ----------
    mean : float
        Mean SOCM over the pairs used: the corpus score (exact), or an
        unbiased estimate of it (sampled).
    stderr : float
        Standard error of ``mean`` for sampling without replacement, with the
        finite-population correction; 0.0 when exact, ``inf`` for a single
        sampled pair.
    n_pairs : int
        Pairs used.
    exact : bool
        True when every pair was used.
    mean_d_mu, mean_d_sigma : float
        Means of :math:`d_\mu` and :math:`d_\Sigma` over the same pairs.
    n_trace_violations : int
        Texts of the corpus with :math:`\operatorname{tr}\Sigma > 2` (the
        paper's assumption; reported, never clipped).
    n_texts : int
        Texts in the corpus.
    n_pairs_total : int
        :math:`N(N-1)/2`.
    """

    mean: float
    stderr: float
    n_pairs: int
    exact: bool
    mean_d_mu: float
    mean_d_sigma: float
    n_trace_violations: int
    n_texts: int
    n_pairs_total: int


@validate_params(
    {"n_pairs": N_PAIRS, "random_state": RANDOM_STATE,
     "precision": PRECISION, "n_jobs": N_JOBS,
     "working_memory": WORKING_MEMORY, "progress": PROGRESS},
    prefer_skip_nested_validation=True)
def mean_socm(tokens, n_pairs=None, random_state=None, *, precision="float32", n_jobs=None,
              device=None, working_memory=None, progress=False) -> MeanSOCMResult:
    r"""The corpus score: mean SOCM over all pairs of distinct texts, or a sample.

    .. math::

        \overline{\mathrm{SOCM}} = \frac{2}{N(N-1)}\sum_{i<j}\mathrm{SOCM}(t_i, t_j)

    Parameters
    ----------
    tokens : TokenSets or list of array-like of shape (n_i, d)
        At least two token clouds.
    n_pairs : int, optional
        Use all :math:`N(N-1)/2` pairs when None or at least that many
        (exact). Otherwise draw this many distinct unordered pairs uniformly
        without replacement: the mean is unbiased and ``stderr`` is
        :math:`\sqrt{(1 - n/P)\, s^2 / n}` (:math:`s^2` the sample variance,
        :math:`P` the number of pairs).
    random_state : None, int, numpy RandomState or Generator, default=None
        Seed of the pair sample (scikit-learn's convention); the same seed
        draws the same pairs as :func:`skpool.ot.compare_w2`.
    precision, n_jobs, device, working_memory, progress
        See :func:`pairwise_socm_components`.

    Returns
    -------
    MeanSOCMResult

    Raises
    ------
    ValueError
        Fewer than two texts, ``n_pairs < 1``, or a bad cloud (named by index).

    References
    ----------
    .. [1] Cochran. "Sampling Techniques", 3rd ed., Wiley (1977), §2.5.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> clouds = [rng.normal(size=(6, 5)) + 2.0 for _ in range(6)]
    >>> exact = mean_socm(clouds)
    >>> exact.n_pairs, exact.exact, exact.stderr
    (15, True, 0.0)
    >>> sampled = mean_socm(clouds, n_pairs=10, random_state=0)
    >>> sampled.n_pairs, sampled.exact, sampled.stderr > 0
    (10, False, True)
    """
    tokens = check_token_sets(tokens, name="tokens", min_texts=2)
    random_state = check_random_state(random_state)
    dtype = check_precision(precision)
    device = check_device(device)
    working_memory = check_working_memory(working_memory)
    n_jobs = resolve_n_jobs(n_jobs)
    n = len(tokens)
    total = n * (n - 1) // 2
    if n_pairs is None or n_pairs >= total:
        exact = True
    else:
        i, j = sample_pairs(n, n_pairs, random_state)
        exact = False
    factors = cloud_factors(tokens, normalize=True, name="tokens", dtype=dtype,
                                      n_jobs=n_jobs)
    bar = progress_bar(progress, total=total if exact else i.size, unit="pair",
                       unit_scale=True,
                       desc="SOCM (all pairs)" if exact else "SOCM (sampled pairs)")
    if exact:
        # block sums computed inside the tasks: no N x N matrix is held
        with bar:
            sums = np.sum(dense_bures(
                factors, factors, symmetric=True, n_jobs=n_jobs, device=device,
                working_memory=working_memory, reduce=socm_sums,
                reduce_args=(factors.means,), bar=bar), axis=0)
        mean, mean_d_mu, mean_d_sigma = sums / total
        stderr = 0.0
        m = total
    else:
        with bar:
            b2 = paired_bures(factors, i, j, n_jobs=n_jobs, device=device,
                                        working_memory=working_memory, bar=bar)
        d_mu = paired_d_mu(factors.means, i, j)
        d_sigma = b2 / 4.0
        values = (1.0 - d_mu) * d_sigma
        m = values.size
        mean, mean_d_mu, mean_d_sigma = values.mean(), d_mu.mean(), d_sigma.mean()
        stderr = sampling_stderr(values, total)
    return MeanSOCMResult(
        mean=float(mean), stderr=float(stderr), n_pairs=int(m), exact=exact,
        mean_d_mu=float(mean_d_mu), mean_d_sigma=float(mean_d_sigma),
        n_trace_violations=int(np.count_nonzero(factors.traces > TRACE_ASSUMPTION)),
        n_texts=n, n_pairs_total=int(total),
    )


# ---------------------------------------------------------------------------------------
# Concentration
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Concentration:
    r"""How concentrated each text's tokens are.

    Attributes
    ----------
    spread : ndarray of shape (n_texts,)
        Spread ratio :math:`\operatorname{tr}\Sigma = S(X)/\lVert\mu(X)\rVert^2`
        with :math:`S(X) = \frac1n\sum_k\lVert x_k - \mu(X)\rVert^2` (the
        paper's token concentration; small is concentrated).
    mean_cosine : ndarray of shape (n_texts,)
        Mean within-text cosine
        :math:`\bar c = \frac{1}{n^2}\sum_{j,k}\cos(x_j, x_k)` (pairs with
        :math:`j = k` included, so a single token gives 1).
    n_tokens : ndarray of shape (n_texts,)
        Tokens per text.
    """

    spread: np.ndarray
    mean_cosine: np.ndarray
    n_tokens: np.ndarray

    @property
    def n_trace_violations(self) -> int:
        r"""Texts with :math:`\operatorname{tr}\Sigma > 2` (the paper's assumption)."""
        return int(np.count_nonzero(self.spread > TRACE_ASSUMPTION))

    # summaries over texts, as the records carry them
    mean_spread = property(lambda self: float(np.mean(self.spread)),
                           doc="float: mean over texts of ``spread``.")
    median_spread = property(lambda self: float(np.median(self.spread)),
                             doc="float: median over texts of ``spread``.")
    average_cosine = property(lambda self: float(np.mean(self.mean_cosine)),
                              doc="float: mean over texts of ``mean_cosine``.")
    median_cosine = property(lambda self: float(np.median(self.mean_cosine)),
                             doc="float: median over texts of ``mean_cosine``.")

    def to_frame(self):
        """Return a pandas DataFrame with one row per text (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover - pandas is a test dependency
            raise ImportError(
                "Concentration.to_frame needs pandas, which is not installed: pip install pandas."
            ) from None
        return pd.DataFrame({"n_tokens": self.n_tokens, "spread": self.spread,
                             "mean_cosine": self.mean_cosine})


@validate_params({"working_memory": WORKING_MEMORY}, prefer_skip_nested_validation=True)
def concentration(tokens, *, working_memory=None) -> Concentration:
    r"""Spread ratio :math:`\operatorname{tr}\Sigma` and mean within-text cosine of each text.

    .. math::

        \operatorname{tr}\Sigma = \frac{\frac1n\sum_k\lVert x_k - m\rVert^2}{\lVert m\rVert^2},
        \qquad
        \bar c = \frac{1}{n^2}\Bigl\lVert\sum_k \frac{x_k}{\lVert x_k\rVert}\Bigr\rVert^2

    (the second form of :math:`\bar c` costs :math:`O(nd)`, not
    :math:`O(n^2 d)`). :math:`\bar c \ge 1/3` implies
    :math:`\operatorname{tr}\Sigma \le 2`, the paper's assumption.

    Parameters
    ----------
    tokens : TokenSets or list of array-like of shape (n_i, d)
    working_memory : float, optional
        MiB of float64 temporaries (default: scikit-learn's setting).

    Returns
    -------
    Concentration

    Raises
    ------
    ValueError
        A text whose mean token has zero norm, or a zero token vector (its
        cosine is undefined), named by text and token index.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> c = concentration([X])
    >>> round(float(c.spread[0]), 12), round(float(c.mean_cosine[0]), 12)
    (1.0, 0.5)
    """
    tokens = check_token_sets(tokens, name="tokens")
    budget = chunk_bytes(check_working_memory(working_memory))
    offsets, lengths, data = tokens.offsets, tokens.lengths, tokens.data
    eps = float(np.finfo(tokens.dtype).eps)
    spread = np.empty(len(tokens), dtype=np.float64)
    cosine = np.empty(len(tokens), dtype=np.float64)
    for start, stop in text_chunks(offsets, 3 * 8 * tokens.dim, budget):
        X = np.array(data[offsets[start]:offsets[stop]], dtype=np.float64)
        local = offsets[start:stop + 1] - offsets[start]
        spread[start:stop], cosine[start:stop] = concentration_of_chunk(X, local, "tokens",
                                                                        start, eps)
    return Concentration(spread=spread, mean_cosine=cosine, n_tokens=lengths.astype(np.int64))


# ---------------------------------------------------------------------------------------
# Concentration matching
# ---------------------------------------------------------------------------------------
@validate_params({"spread": [Numbers(Real, 0, None, closed="neither")]},
                 prefer_skip_nested_validation=True)
def match_concentration(tokens, spread=1.0) -> TokenSets:
    r"""Rescale each text's mean-normalized cloud so that every text has :math:`\operatorname{tr}\Sigma` = ``spread``.

    Each text is divided by the norm of its mean, then its tokens
    are moved along their deviations from the mean,
    :math:`y_k = \mu + \sqrt{s/\operatorname{tr}\Sigma}\,(\tilde x_k - \mu)`:
    the mean stays :math:`\mu` (unit norm), the covariance keeps its shape
    and its trace becomes :math:`s`.

    Parameters
    ----------
    tokens : TokenSets or list of array-like of shape (n_i, d)
    spread : float, default=1.0
        The common :math:`\operatorname{tr}\Sigma` :math:`s > 0`. At most 2
        keeps every text within the paper's assumption (so matched SOCM lies
        in [0, 1]).

    Returns
    -------
    TokenSets
        The rescaled clouds, same lengths and dtype as ``tokens`` (float32
        stays float32; the arithmetic is done in float64). Truncation flags
        are carried over.

    Raises
    ------
    ValueError
        If a text's mean token has norm 0 (no direction to normalize by) or
        its tokens are all equal (:math:`\operatorname{tr}\Sigma = 0`, no
        shape to rescale, e.g. a one-token text); the text's index is named.

    See Also
    --------
    matched_mean_socm : the corpus SOCM of the matched clouds.
    skpool.concentration : the spreads this removes.

    Examples
    --------
    >>> import numpy as np
    >>> from skpool import concentration
    >>> clouds = [np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[2.0, 2.0], [2.0, 3.0]])]
    >>> matched = match_concentration(clouds, spread=0.5)
    >>> np.round(concentration(matched).spread, 12).tolist()
    [0.5, 0.5]
    >>> matched[0].mean(axis=0)  # the normalized mean is kept
    array([0.70710678, 0.70710678])
    """
    tokens = check_token_sets(tokens, name="tokens")
    target = float(spread)
    offsets = tokens.offsets
    out = np.empty(tokens.data.shape, dtype=tokens.dtype)
    # One text at a time: float64 temporaries stay the size of one cloud.
    eps = float(np.finfo(tokens.dtype).eps)
    for i, cloud in enumerate(tokens):
        out[offsets[i]:offsets[i + 1]] = match_cloud(cloud.astype(np.float64), target, eps=eps,
                                                     where=f"tokens[{i}] (text {i})")
    return TokenSets(out, offsets.copy(), truncated=tokens.truncated)


def matched_mean_socm(tokens, spread=1.0, n_pairs=None, random_state=None,
                      **kwargs) -> MeanSOCMResult:
    r"""Mean SOCM of a corpus after :func:`match_concentration`.

    The same estimate as :func:`~skpool.mean_socm` (the same pairs for the
    same ``n_pairs`` and ``random_state``) on clouds whose
    :math:`\operatorname{tr}\Sigma` all equal ``spread``: what remains is the
    second-order *shape* of the token clouds, not their spread.

    Parameters
    ----------
    tokens : TokenSets or list of array-like of shape (n_i, d)
        At least two token clouds.
    spread : float, default=1.0
        The common :math:`\operatorname{tr}\Sigma`.
    n_pairs, random_state
        As in :func:`~skpool.mean_socm`.
    **kwargs
        ``precision``, ``n_jobs``, ``device``, ``working_memory`` of
        :func:`~skpool.mean_socm`.

    Returns
    -------
    MeanSOCMResult
        Its ``n_trace_violations`` is 0 for ``spread <= 2`` and the number of
        texts otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> clouds = [rng.normal(size=(6, 4)) * scale + 3.0 for scale in (0.5, 1.0, 2.0)]
    >>> result = matched_mean_socm(clouds)
    >>> result.n_pairs, result.n_trace_violations
    (3, 0)
    """
    return mean_socm(match_concentration(tokens, spread), n_pairs=n_pairs,
                     random_state=random_state, **kwargs)
