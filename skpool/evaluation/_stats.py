"""Statistics of the evaluation: Spearman with a bootstrap interval, partial Spearman, error by quintile."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
from scipy import stats
from sklearn.utils import check_random_state

from .._validation import check_positive_int, describe


def check_vector(values, *, name: str, n: int | None = None) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"Expected {name} to be a 1-D array of numbers. "
                        f"Received {describe(values)}.") from None
    if array.ndim != 1:
        raise ValueError(f"Expected {name} to be 1-D. Received shape {array.shape}.")
    if n is not None and array.size != n:
        raise ValueError(f"Expected {name} to hold {n} values, one per point. "
                         f"Received {array.size}.")
    if not np.isfinite(array).all():
        bad = int(np.flatnonzero(~np.isfinite(array))[0])
        raise ValueError(f"Expected {name} to be finite. Received {array[bad]} at index {bad}.")
    return array


def check_not_constant(array: np.ndarray, name: str) -> None:
    if np.ptp(array) == 0.0:
        raise ValueError(
            f"Expected {name} to vary: it holds the same value {array[0]} at every point, "
            "so its rank correlation is undefined."
        )


def rowwise_spearman(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman correlation of each row of ``x`` (B, n) with the same row of ``y``.

    Rows in which either side is constant give NaN (dropped by the callers).
    """
    rx = stats.rankdata(x, axis=1)
    ry = stats.rankdata(y, axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    denominator = np.sqrt(np.einsum("ij,ij->i", rx, rx) * np.einsum("ij,ij->i", ry, ry))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, np.einsum("ij,ij->i", rx, ry) / denominator, np.nan)


@dataclass(frozen=True)
class SpearmanResult:
    """A Spearman correlation with its p-value and a percentile bootstrap interval.

    Attributes
    ----------
    rho : float
        ``scipy.stats.spearmanr`` of the points.
    p_value : float
        Its two-sided p-value (``scipy.stats.spearmanr``: a t approximation).
    ci_low, ci_high : float
        Percentile bootstrap interval over the points (resampled with
        replacement; resamples in which a side is constant are dropped).
    n : int
        Number of points.
    n_bootstrap : int
        Resamples the interval rests on.
    confidence : float
    """

    rho: float
    p_value: float
    ci_low: float
    ci_high: float
    n: int
    n_bootstrap: int
    confidence: float


def check_confidence(confidence) -> float:
    if isinstance(confidence, bool) or not isinstance(confidence, numbers.Real) or not (
            0.0 < float(confidence) < 1.0):
        raise ValueError(f"Expected confidence to be a number in (0, 1). "
                         f"Received {describe(confidence)}.")
    return float(confidence)


def spearman_interval(x, y, *, n_bootstrap=2000, confidence=0.95,
                      random_state=None) -> SpearmanResult:
    """Spearman correlation of ``x`` and ``y`` with a p-value and a bootstrap interval.

    Parameters
    ----------
    x, y : array-like of shape (n,)
        Finite values, at least 3 points, neither constant.
    n_bootstrap : int, default=2000
        Resamples of the points for the percentile interval.
    confidence : float, default=0.95
    random_state : int, RandomState instance or None

    Returns
    -------
    SpearmanResult

    Raises
    ------
    ValueError
        Fewer than 3 points, lengths that differ, non-finite or constant values.

    Examples
    --------
    >>> result = spearman_interval([1, 2, 3, 4, 5, 6], [2, 1, 4, 3, 6, 5], random_state=0)
    >>> round(result.rho, 4), round(result.p_value, 4)
    (0.8286, 0.0416)
    >>> result.ci_low <= result.rho <= result.ci_high
    True
    """
    x = check_vector(x, name="x")
    y = check_vector(y, name="y", n=x.size)
    if x.size < 3:
        raise ValueError(f"Expected at least 3 points for a Spearman correlation. "
                         f"Received {x.size}.")
    check_not_constant(x, "x")
    check_not_constant(y, "y")
    n_bootstrap = check_positive_int(n_bootstrap, name="n_bootstrap")
    confidence = check_confidence(confidence)
    rho, p_value = stats.spearmanr(x, y)
    rng = check_random_state(random_state)
    rows = rng.randint(0, x.size, size=(n_bootstrap, x.size))
    values = rowwise_spearman(x[rows], y[rows])
    values = values[np.isfinite(values)]
    if values.size == 0:  # every resample constant on one side: no interval
        low = high = float(rho)
    else:
        tail = (1.0 - confidence) / 2.0 * 100.0
        low, high = np.percentile(values, [tail, 100.0 - tail])
    return SpearmanResult(rho=float(rho), p_value=float(p_value), ci_low=float(low),
                          ci_high=float(high), n=int(x.size), n_bootstrap=int(values.size),
                          confidence=confidence)


@dataclass(frozen=True)
class PartialSpearmanResult:
    """A partial Spearman correlation and its p-value.

    Attributes
    ----------
    rho : float
    p_value : float
        Two-sided, from Student's t with ``n - 2 - n_covariates`` degrees of
        freedom.
    n : int
    n_covariates : int
    """

    rho: float
    p_value: float
    n: int
    n_covariates: int


def partial_spearman(x, y, covariates) -> PartialSpearmanResult:
    r"""Spearman correlation of ``x`` and ``y`` with the covariates' ranks partialled out.

    All variables are replaced by their ranks (average ranks for ties); the
    ranks of ``x`` and of ``y`` are regressed by least squares on an
    intercept and the ranks of the covariates, and the result is the Pearson
    correlation of the two residuals, with the p-value of

    .. math::

        t = r \sqrt{\frac{n - 2 - k}{1 - r^2}} \sim t_{n - 2 - k}.

    Parameters
    ----------
    x, y : array-like of shape (n,)
    covariates : array-like of shape (n,) or (n, k)
        What to control for (e.g. mean spread and mean within-text cosine).

    Returns
    -------
    PartialSpearmanResult

    Raises
    ------
    ValueError
        ``n - 2 - k < 1``, lengths that differ, non-finite values, or a
        variable left constant once the covariates are removed.

    Examples
    --------
    >>> z = [1, 2, 3, 4, 5, 6, 7]
    >>> x = [1, 3, 2, 5, 4, 7, 6]
    >>> y = [2, 1, 4, 3, 6, 5, 7]
    >>> round(partial_spearman(x, y, z).rho, 4)
    -0.9371
    """
    x = check_vector(x, name="x")
    y = check_vector(y, name="y", n=x.size)
    try:
        Z = np.asarray(covariates, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"Expected covariates to be an array of numbers of shape (n,) or "
                        f"(n, k). Received {describe(covariates)}.") from None
    if Z.ndim == 1:
        Z = Z[:, None]
    if Z.ndim != 2 or Z.shape[0] != x.size:
        raise ValueError(f"Expected covariates of shape ({x.size},) or ({x.size}, k). "
                         f"Received shape {Z.shape}.")
    if not np.isfinite(Z).all():
        raise ValueError("Expected covariates to be finite. Received NaN or inf.")
    n, k = x.size, Z.shape[1]
    dof = n - 2 - k
    if dof < 1:
        raise ValueError(f"Expected at least {k + 3} points to control for {k} covariate(s). "
                         f"Received {n}.")
    design = np.column_stack([np.ones(n), stats.rankdata(Z, axis=0)])
    residuals = []
    for name, values in (("x", x), ("y", y)):
        ranks = stats.rankdata(values)
        coefficients, *_ = np.linalg.lstsq(design, ranks, rcond=None)
        residual = ranks - design @ coefficients
        scale = np.linalg.norm(residual)
        if not scale > 1e-9 * max(1.0, float(np.linalg.norm(ranks))):
            raise ValueError(f"The ranks of {name} are a linear function of the covariates' "
                             "ranks: nothing is left to correlate.")
        residuals.append(residual / scale)
    rho = float(np.clip(residuals[0] @ residuals[1], -1.0, 1.0))
    if abs(rho) == 1.0:
        p_value = 0.0
    else:
        t = rho * math.sqrt(dof / (1.0 - rho * rho))
        p_value = float(2.0 * stats.t.sf(abs(t), dof))
    return PartialSpearmanResult(rho=rho, p_value=p_value, n=n, n_covariates=k)


@dataclass(frozen=True)
class QuintileBin:
    """One group of texts ranked by a per-text value, and the error rate of its texts.

    Attributes
    ----------
    bin : int
        1 (the smallest values) .. n_bins (the largest).
    low, high : float
        The smallest and largest value in the bin.
    n_texts : int
    error_rate : float
        Fraction of the bin's texts misclassified (out of fold).
    """

    bin: int
    low: float
    high: float
    n_texts: int
    error_rate: float


def error_by_quintile(values, correct, *, n_bins=5) -> tuple[QuintileBin, ...]:
    r"""Error rate of texts grouped by a per-text value (quintiles by default).

    Texts are sorted by ``values`` (ties in corpus order) and cut into
    ``n_bins`` groups of equal size (sizes differ by at most one). With the
    spread :math:`\operatorname{tr}\Sigma` of each text: are the texts whose
    tokens spread most the ones misclassified?

    Parameters
    ----------
    values : array-like of shape (n_texts,)
        E.g. ``concentration(tokens).spread`` or :func:`neighbour_socm`.
    correct : array-like of bool of shape (n_texts,)
        Whether each text was classified correctly (out of fold).
    n_bins : int, default=5

    Returns
    -------
    tuple of QuintileBin
        From the smallest to the largest values.

    Examples
    --------
    >>> bins = error_by_quintile([0.1, 0.2, 0.3, 0.4], [True, True, False, False], n_bins=2)
    >>> [(b.bin, b.n_texts, b.error_rate) for b in bins]
    [(1, 2, 0.0), (2, 2, 1.0)]
    """
    values = check_vector(values, name="values")
    correct_array = np.asarray(correct)
    if correct_array.shape != values.shape or correct_array.dtype != bool:
        raise ValueError(f"Expected correct to be a boolean array of shape {values.shape}. "
                         f"Received {describe(correct_array)}.")
    n_bins = check_positive_int(n_bins, name="n_bins")
    if n_bins > values.size:
        raise ValueError(f"Expected at most one bin per text ({values.size} texts). "
                         f"Received n_bins={n_bins}.")
    order = np.argsort(values, kind="stable")
    out = []
    for number, members in enumerate(np.array_split(order, n_bins), start=1):
        out.append(QuintileBin(bin=number, low=float(values[members].min()),
                               high=float(values[members].max()), n_texts=int(members.size),
                               error_rate=float(1.0 - correct_array[members].mean())))
    return tuple(out)


@dataclass(frozen=True)
class RankingCheck:
    """Whether a task's scores tell a set of points apart beyond their own error.

    Attributes
    ----------
    score_sd : float
        Standard deviation of the scores across the points (``ddof=1``).
    score_error : float
        Root mean square of the points' own errors (fold standard deviation
        or bootstrap standard deviation).
    statistic : float
        :math:`Q = (n - 1)\\,\\mathrm{score\\_sd}^2 / \\mathrm{score\\_error}^2`.
    p_value : float
        :math:`P(\\chi^2_{n-1} \\ge Q)`: how often scores that differ by their
        error alone spread this much.
    can_rank : bool
        ``p_value < 1 - confidence``.
    n : int
    """

    score_sd: float
    score_error: float
    statistic: float
    p_value: float
    can_rank: bool
    n: int


def ranking_check(scores, errors, *, confidence=0.95) -> RankingCheck:
    r"""Do the scores of a set of points differ by more than their own error?

    A correlation of collapse with score across points is a finding only if
    the task can rank the points. If every point had the same true score and
    each measured score carried its own error :math:`e_i` (its fold or
    bootstrap standard deviation), the spread of the scores would be about
    their error:

    .. math::

        Q = \frac{(n - 1)\, s^2}{\overline{e^2}} \sim \chi^2_{n-1},
        \qquad s^2 = \frac{1}{n - 1}\sum_i (y_i - \bar y)^2 .

    The task can rank the points when :math:`P(\chi^2_{n-1} \ge Q) < 1 -`
    ``confidence``. A fold standard deviation is the error of one fold's
    accuracy, larger than that of their mean, so for accuracies the check is
    conservative: it says "cannot rank" sooner than a test with the standard
    error of the mean would.

    Parameters
    ----------
    scores : array-like of shape (n,)
        At least two finite scores.
    errors : array-like of shape (n,)
        Their non-negative errors (standard deviations), same order.
    confidence : float, default=0.95

    Returns
    -------
    RankingCheck
        With every error 0, the points can be ranked exactly when their
        scores differ.

    Examples
    --------
    >>> close = ranking_check([0.94, 0.95, 0.96, 0.97], [0.02, 0.03, 0.02, 0.025])
    >>> close.can_rank, round(close.score_sd, 4)
    (False, 0.0129)
    >>> ranking_check([0.60, 0.75, 0.95, 0.97], [0.02, 0.03, 0.02, 0.025]).can_rank
    True
    """
    y = check_vector(scores, name="scores")
    e = check_vector(errors, name="errors", n=y.size)
    if y.size < 2:
        raise ValueError(f"Expected at least 2 scores to rank. Received {y.size}.")
    if (e < 0).any():
        bad = int(np.flatnonzero(e < 0)[0])
        raise ValueError(f"Expected errors to be non-negative. Received {e[bad]} at index {bad}.")
    confidence = check_confidence(confidence)
    sd = float(np.std(y, ddof=1))
    error = float(np.sqrt(np.mean(e * e)))
    dof = y.size - 1
    if error > 0.0:
        statistic = dof * sd * sd / (error * error)
        p_value = float(stats.chi2.sf(statistic, dof))
    else:  # no error at all: any difference ranks the points
        statistic = math.inf if sd > 0.0 else 0.0
        p_value = 0.0 if sd > 0.0 else 1.0
    return RankingCheck(score_sd=sd, score_error=error, statistic=float(statistic),
                        p_value=p_value, can_rank=bool(p_value < 1.0 - confidence), n=int(y.size))


@dataclass(frozen=True)
class PairedDifference:
    """The mean difference of two scores measured on the same units, with an interval.

    Attributes
    ----------
    difference : float
        ``score(a) - score(b)``.
    ci_low, ci_high : float
    method : str
        ``"corrected paired t over folds"`` or ``"paired bootstrap over pairs"``.
    n : int
        Folds, or pairs of texts.
    confidence : float
    """

    difference: float
    ci_low: float
    ci_high: float
    method: str
    n: int
    confidence: float


def paired_fold_difference(a, b, *, confidence=0.95) -> PairedDifference:
    r"""Mean difference of two poolings' fold accuracies on the same folds, with a t interval.

    The folds of a k-fold split share their training texts, so the fold
    differences :math:`\delta_f` are not independent; the interval uses the
    corrected resampled t of Nadeau and Bengio [1]_, whose variance adds the
    test-to-training size ratio :math:`1/(k-1)`:

    .. math::

        \bar\delta \pm t_{k-1}\, s_\delta \sqrt{\tfrac1k + \tfrac1{k-1}} .

    Parameters
    ----------
    a, b : array-like of shape (k,)
        Accuracies of the two poolings on the same ``k >= 2`` folds.
    confidence : float, default=0.95

    Returns
    -------
    PairedDifference

    References
    ----------
    .. [1] Nadeau, Bengio. "Inference for the generalization error."
       Machine Learning 52, 2003.

    Examples
    --------
    >>> gap = paired_fold_difference([0.80, 0.85, 0.90, 0.85, 0.80],
    ...                              [0.75, 0.80, 0.80, 0.80, 0.80])
    >>> round(gap.difference, 3), gap.ci_low < gap.difference < gap.ci_high, gap.n
    (0.05, True, 5)
    """
    a = check_vector(a, name="a")
    b = check_vector(b, name="b", n=a.size)
    if a.size < 2:
        raise ValueError(f"Expected at least 2 folds. Received {a.size}.")
    confidence = check_confidence(confidence)
    delta = a - b
    k = delta.size
    mean = float(delta.mean())
    half = float(stats.t.ppf(0.5 + confidence / 2.0, k - 1)
                 * delta.std(ddof=1) * math.sqrt(1.0 / k + 1.0 / (k - 1)))
    return PairedDifference(difference=mean, ci_low=mean - half, ci_high=mean + half,
                            method="corrected paired t over folds", n=int(k),
                            confidence=confidence)


def paired_spearman_difference(a, b, human, *, n_bootstrap=1000, confidence=0.95,
                               random_state=None) -> PairedDifference:
    """Difference of two similarity scores' Spearman correlations with human scores.

    ``spearman(a, human) - spearman(b, human)``, with a percentile interval
    from resampling the pairs with replacement, the same resample for both
    (resamples with a constant side are dropped).

    Parameters
    ----------
    a, b, human : array-like of shape (n_pairs,)
        Two models' similarities of the same pairs, and the human scores.
    n_bootstrap : int, default=1000
        Resamples of the pairs, the same for both sides.
    confidence : float, default=0.95
        Coverage of the percentile interval of the difference.
    random_state : int, RandomState instance or None

    Returns
    -------
    PairedDifference

    Examples
    --------
    >>> human = [1, 2, 3, 4, 5, 6, 7, 8]
    >>> gap = paired_spearman_difference([1, 2, 3, 4, 5, 6, 8, 7], [2, 1, 4, 3, 6, 5, 8, 7],
    ...                                  human, random_state=0)
    >>> round(gap.difference, 4), gap.ci_low <= gap.difference <= gap.ci_high
    (0.0714, True)
    """
    a = check_vector(a, name="a")
    b = check_vector(b, name="b", n=a.size)
    human = check_vector(human, name="human", n=a.size)
    if a.size < 3:
        raise ValueError(f"Expected at least 3 pairs. Received {a.size}.")
    n_bootstrap = check_positive_int(n_bootstrap, name="n_bootstrap")
    confidence = check_confidence(confidence)
    difference = float(stats.spearmanr(a, human)[0] - stats.spearmanr(b, human)[0])
    rows = check_random_state(random_state).randint(0, a.size, size=(n_bootstrap, a.size))
    values = rowwise_spearman(a[rows], human[rows]) - rowwise_spearman(b[rows], human[rows])
    values = values[np.isfinite(values)]
    if values.size == 0:
        low = high = difference
    else:
        tail = (1.0 - confidence) / 2.0 * 100.0
        low, high = (float(v) for v in np.percentile(values, [tail, 100.0 - tail]))
    return PairedDifference(difference=difference, ci_low=low, ci_high=high,
                            method="paired bootstrap over pairs", n=int(a.size),
                            confidence=confidence)
