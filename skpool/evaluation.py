r"""Does collapse predict when mean pooling hurts? SOCM against downstream scores.

:func:`evaluate` measures, for each model, layer and pooling, the corpus
collapse of a task's texts (mean SOCM with its standard error and trace
violations, the concentration-matched SOCM, the mean spread and within-text
cosine) beside the downstream score on that task:

- classification (BBC News, Rotten Tomatoes): accuracy of a
  ``StandardScaler -> LogisticRegression`` on the pooled features, stratified
  k-fold (the pooler is fitted inside each fold);
- similarity (Lee-50): Spearman correlation with the human scores of the
  cosine of pooled vectors, or of :math:`-W_2` (Gaussian or exact) between
  the mean-normalized token clouds.

:func:`socm_score_correlations` then asks whether collapse and score go
together across layers and models: the Spearman correlation with its p-value
and a bootstrap interval, and two controls for concentration (a reviewer's
objection to the paper's evidence: fine-tuning raises concentration, so any
concentration-sensitive metric correlates with quality by construction):

- the partial Spearman correlation of SOCM and score given the mean spread
  :math:`\operatorname{tr}\Sigma` and the mean within-text cosine
  (:func:`partial_spearman`);
- the same correlation with the concentration-matched SOCM
  (:func:`skpool.math.matching.matched_mean_socm`), in which every text has
  the same :math:`\operatorname{tr}\Sigma`.

:func:`error_by_quintile` is the per-text diagnostic: are the texts whose tokens
spread most, or whose nearest texts (by mean pooling) differ most in
second-order shape (:func:`neighbour_socm`), the ones misclassified?

References
----------
.. [1] Lee, Pincombe, Welsh. "An empirical evaluation of models of text
   document similarity." CogSci 2005.
"""

from __future__ import annotations

import math
import numbers
import os
import tempfile
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import stats
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state

from ._progress import check_progress, progress_bar
from ._validation import check_positive_int, describe
from .datasets import load_bbc_news, load_lee50, load_rotten_tomatoes
from .encoder import TokenEncoder, TruncationWarning
from .encoder.pooling_config import read_model_pooling
from .math.matching import matched_mean_socm
from .math.socm import concentration, mean_socm, socm
from .ot import pairwise_w2
from .pooling import CLSPooler, GaussianPooler, LastTokenPooler, MaxPooler, MeanPooler
from .tokensets import check_token_sets

__all__ = [
    "TASKS", "POOLINGS", "DEFAULT_POOLINGS", "SpearmanResult", "spearman_interval",
    "PartialSpearmanResult", "partial_spearman", "QuintileBin", "error_by_quintile",
    "neighbour_socm", "EvaluationRecord", "CorrelationRecord", "TextDiagnostic", "Evaluation",
    "socm_score_correlations", "evaluate",
]


# ---------------------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------------------
def _check_vector(values, *, name: str, n: int | None = None) -> np.ndarray:
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


def _check_not_constant(array: np.ndarray, name: str) -> None:
    if np.ptp(array) == 0.0:
        raise ValueError(
            f"Expected {name} to vary: it holds the same value {array[0]} at every point, "
            "so its rank correlation is undefined."
        )


def _rowwise_spearman(x: np.ndarray, y: np.ndarray) -> np.ndarray:
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


def _check_confidence(confidence) -> float:
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
    x = _check_vector(x, name="x")
    y = _check_vector(y, name="y", n=x.size)
    if x.size < 3:
        raise ValueError(f"Expected at least 3 points for a Spearman correlation. "
                         f"Received {x.size}.")
    _check_not_constant(x, "x")
    _check_not_constant(y, "y")
    n_bootstrap = check_positive_int(n_bootstrap, name="n_bootstrap")
    confidence = _check_confidence(confidence)
    rho, p_value = stats.spearmanr(x, y)
    rng = check_random_state(random_state)
    rows = rng.randint(0, x.size, size=(n_bootstrap, x.size))
    values = _rowwise_spearman(x[rows], y[rows])
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
    x = _check_vector(x, name="x")
    y = _check_vector(y, name="y", n=x.size)
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
    values = _check_vector(values, name="values")
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


def neighbour_socm(tokens, vectors, *, n_neighbors=5) -> np.ndarray:
    r"""Mean SOCM of each text to its nearest neighbours by the cosine of ``vectors``.

    High values mark a text whose nearest texts, as mean pooling sees them
    (close pooled vectors), spread their tokens differently: the second-order
    information mean pooling discards is large exactly where the pooled
    vectors cannot tell the texts apart.

    Parameters
    ----------
    tokens : TokenSets or list of array-like of shape (n_i, d)
        At least ``n_neighbors + 1`` texts.
    vectors : array-like of shape (n_texts, k)
        The pooled vectors that define the neighbours (e.g. mean pooling).
    n_neighbors : int, default=5

    Returns
    -------
    ndarray of shape (n_texts,)
        For text :math:`i`, :math:`\frac1k\sum_{j \in N_k(i)} \mathrm{SOCM}(t_i, t_j)`,
        its own text excluded from :math:`N_k(i)`.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> clouds = [rng.normal(size=(5, 3)) + 2.0 for _ in range(4)]
    >>> means = np.stack([c.mean(axis=0) for c in clouds])
    >>> neighbour_socm(clouds, means, n_neighbors=1).shape
    (4,)
    """
    tokens = check_token_sets(tokens, name="tokens", min_texts=2)
    n_neighbors = check_positive_int(n_neighbors, name="n_neighbors")
    n = len(tokens)
    if n_neighbors >= n:
        raise ValueError(f"Expected n_neighbors below the number of texts ({n}). "
                         f"Received {n_neighbors}.")
    V = np.asarray(vectors, dtype=np.float64)
    if V.ndim != 2 or V.shape[0] != n or not np.isfinite(V).all():
        raise ValueError(f"Expected vectors to be a finite array of shape ({n}, k), one row "
                         f"per text. Received {describe(V)}.")
    norms = np.linalg.norm(V, axis=1)
    if not (norms > 0).all():
        bad = int(np.flatnonzero(~(norms > 0))[0])
        raise ValueError(f"The vector of text {bad} is zero: its cosine neighbours are "
                         "undefined.")
    unit = V / norms[:, None]
    cosine = unit @ unit.T
    np.fill_diagonal(cosine, -np.inf)
    neighbours = np.argsort(-cosine, axis=1, kind="stable")[:, :n_neighbors]
    out = np.empty(n)
    done: dict[tuple[int, int], float] = {}
    for i in range(n):
        values = []
        for j in neighbours[i]:
            key = (min(i, int(j)), max(i, int(j)))
            if key not in done:
                done[key] = socm(tokens[key[0]], tokens[key[1]])
            values.append(done[key])
        out[i] = np.mean(values)
    return out


# ---------------------------------------------------------------------------------------
# Tasks and poolings
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Task:
    """A downstream task: its kind, metric and loader."""

    name: str
    kind: str       # "classification" or "similarity"
    metric: str     # "accuracy" or "spearman"
    load: Callable


#: Downstream tasks by name (as ``skpool evaluate --dataset`` takes them).
TASKS: dict[str, Task] = {
    "bbc-news": Task("bbc-news", "classification", "accuracy", load_bbc_news),
    "rotten-tomatoes": Task("rotten-tomatoes", "classification", "accuracy",
                            load_rotten_tomatoes),
    "lee-50": Task("lee-50", "similarity", "spearman", load_lee50),
}


@dataclass(frozen=True)
class Pooling:
    """How one pooling option turns token clouds into features or similarities.

    ``kind`` is ``"vector"`` (one vector per text: classification features,
    cosine similarity), ``"features"`` (a feature table: classification only)
    or ``"distance"`` (:math:`-W_2` between clouds: similarity only).
    """

    name: str
    kind: str
    make: Callable | None = None
    w2: str | None = None

    def applies_to(self, task: Task) -> bool:
        if self.kind == "features":
            return task.kind == "classification"
        if self.kind == "distance":
            return task.kind == "similarity"
        return True


#: Pooling options by name. ``"model"`` is the model's own (resolved per model).
POOLINGS: dict[str, Pooling] = {
    "mean": Pooling("mean", "vector", MeanPooler),
    "cls": Pooling("cls", "vector", CLSPooler),
    "max": Pooling("max", "vector", MaxPooler),
    "last": Pooling("last", "vector", LastTokenPooler),
    "model": Pooling("model", "vector"),
    "gaussian-diag": Pooling("gaussian-diag", "features",
                             lambda: GaussianPooler(covariance="diag")),
    "gaussian-projected": Pooling("gaussian-projected", "features",
                                  lambda: GaussianPooler(covariance="projected", n_components=16)),
    "w2-gaussian": Pooling("w2-gaussian", "distance", w2="gaussian"),
    "w2-exact": Pooling("w2-exact", "distance", w2="exact"),
}
_MODE_POOLING = {"mean": "mean", "cls": "cls", "max": "max", "last": "last"}

DEFAULT_POOLINGS = ("mean", "cls", "max", "gaussian-diag", "gaussian-projected",
                    "w2-gaussian", "w2-exact")


# ---------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EvaluationRecord:
    r"""One model, layer, pooling and task: collapse of the task's texts and the score.

    Attributes
    ----------
    model, task, pooling : str
    layer : int
        Hidden-state index (0 is the embedding output).
    metric : {"accuracy", "spearman"}
    score : float
        Mean fold accuracy, or Spearman correlation with the human scores.
    score_std : float
        Standard deviation of the fold accuracies; for similarity, the
        bootstrap standard deviation of the Spearman correlation over pairs.
    mean_socm, stderr : float
        Mean SOCM of the task's texts at this layer and its standard error
        (the same for every pooling).
    n_trace_violations : int
        Texts with :math:`\operatorname{tr}\Sigma > 2`.
    matched_socm, matched_stderr : float
        Concentration-matched mean SOCM (every text rescaled to
        :math:`\operatorname{tr}\Sigma = 1`), same pairs.
    mean_spread, mean_cosine : float
        Mean over texts of :math:`\operatorname{tr}\Sigma` and of the
        within-text cosine.
    n_texts, n_pairs, n_truncated : int
        Texts, SOCM pairs used, texts cut at ``max_length``.
    """

    model: str
    layer: int
    pooling: str
    task: str
    metric: str
    score: float
    score_std: float
    mean_socm: float
    stderr: float
    n_trace_violations: int
    matched_socm: float
    matched_stderr: float
    mean_spread: float
    mean_cosine: float
    n_texts: int
    n_pairs: int
    n_truncated: int

    def to_dict(self) -> dict:
        """The record as a plain ``dict`` (JSON-ready)."""
        return asdict(self)


@dataclass(frozen=True)
class CorrelationRecord:
    """Whether collapse and score go together across layers (and models).

    Attributes
    ----------
    task, pooling : str
    scope : str
        ``"all models"`` (every model's layers pooled) or one model's name.
    measure : {"mean_socm", "matched_socm"}
        Which collapse value is correlated with the score.
    n_points : int
    spearman, p_value, ci_low, ci_high : float or None
        See :class:`SpearmanResult`; None with fewer than 4 points or a
        constant column (``note`` says which).
    partial_spearman, partial_p_value : float or None
        Controlling for the mean spread and the mean within-text cosine
        (:func:`partial_spearman`); None with fewer than 5 points.
    note : str
        Why a value is None; empty otherwise.
    """

    task: str
    pooling: str
    scope: str
    measure: str
    n_points: int
    spearman: float | None
    p_value: float | None
    ci_low: float | None
    ci_high: float | None
    partial_spearman: float | None
    partial_p_value: float | None
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TextDiagnostic:
    r"""Error rate by quintile of a per-text value, for one model, task, layer and pooling.

    Attributes
    ----------
    model, task, pooling : str
    layer : int
    by : {"spread", "neighbour_socm"}
        The per-text value: the spread :math:`\operatorname{tr}\Sigma`, or
        the mean SOCM to the 5 nearest texts by mean pooling
        (:func:`neighbour_socm`).
    bins : tuple of QuintileBin
    """

    model: str
    task: str
    layer: int
    pooling: str
    by: str
    bins: tuple

    def to_dicts(self) -> list[dict]:
        return [{"model": self.model, "task": self.task, "layer": self.layer,
                 "pooling": self.pooling, "by": self.by, **asdict(b)} for b in self.bins]


@dataclass(frozen=True)
class Evaluation:
    """What :func:`evaluate` measured.

    Attributes
    ----------
    records : tuple of EvaluationRecord
    correlations : tuple of CorrelationRecord
    diagnostics : tuple of TextDiagnostic
    settings : dict
        The arguments that shape the numbers (seed, folds, pairs, ...).
    """

    records: tuple
    correlations: tuple
    diagnostics: tuple
    settings: dict = field(default_factory=dict)

    def to_dicts(self) -> list[dict]:
        """The records as plain dicts (what ``skpool evaluate --json`` writes)."""
        return [record.to_dict() for record in self.records]

    def to_frame(self):
        """The records as a pandas DataFrame (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(self.to_dicts())


# ---------------------------------------------------------------------------------------
# Correlations across layers and models
# ---------------------------------------------------------------------------------------
_MIN_POINTS = 4


def _correlation(points, task, pooling, scope, measure, n_bootstrap, confidence, seed):
    x = np.array([getattr(r, measure) for r in points])
    y = np.array([r.score for r in points])
    covariates = np.array([[r.mean_spread, r.mean_cosine] for r in points])
    values = dict(spearman=None, p_value=None, ci_low=None, ci_high=None,
                  partial_spearman=None, partial_p_value=None)
    notes = []
    if len(points) < _MIN_POINTS:
        notes.append(f"{len(points)} points: at least {_MIN_POINTS} are needed")
    else:
        try:
            result = spearman_interval(x, y, n_bootstrap=n_bootstrap, confidence=confidence,
                                       random_state=seed)
            values.update(spearman=result.rho, p_value=result.p_value, ci_low=result.ci_low,
                          ci_high=result.ci_high)
        except ValueError as exc:
            notes.append(str(exc).replace("Expected x", f"Expected {measure}")
                         .replace("Expected y", "Expected the score"))
        try:
            partial = partial_spearman(x, y, covariates)
            values.update(partial_spearman=partial.rho, partial_p_value=partial.p_value)
        except ValueError as exc:
            notes.append("partial: " + str(exc).replace("ranks of x", f"ranks of {measure}")
                         .replace("ranks of y", "ranks of the score")
                         .replace("the covariates' ranks",
                                  "the ranks of the mean spread and mean cosine"))
    return CorrelationRecord(task=task, pooling=pooling, scope=scope, measure=measure,
                             n_points=len(points), note="; ".join(notes), **values)


def socm_score_correlations(records, *, n_bootstrap=2000, confidence=0.95,
                            random_state=None) -> tuple[CorrelationRecord, ...]:
    """Spearman correlation of collapse and score across layers and models.

    For each task and pooling: over every record (scope ``"all models"``)
    and over each model's layers alone (when it has at least 4), the
    correlation of the score with the mean SOCM and with the
    concentration-matched SOCM, each with its p-value, a bootstrap interval
    and the partial correlation given the mean spread and mean within-text
    cosine.

    Parameters
    ----------
    records : sequence of EvaluationRecord
    n_bootstrap : int, default=2000
    confidence : float, default=0.95
    random_state : int, RandomState instance or None
        Seed of the bootstrap; each correlation draws its own resamples from
        it in a fixed order.

    Returns
    -------
    tuple of CorrelationRecord

    Examples
    --------
    >>> rows = [EvaluationRecord("m", layer, "mean", "t", "accuracy", 0.9 - 0.01 * layer,
    ...                          0.01, 0.1 * layer, 0.0, 0, 0.05 * layer ** 0.5, 0.0,
    ...                          1.0 + 0.1 * layer, 0.5 - 0.02 * layer ** 2, 10, 45, 0)
    ...         for layer in range(6)]
    >>> first = socm_score_correlations(rows, random_state=0)[0]
    >>> first.scope, first.measure, first.spearman, first.p_value < 1e-6
    ('all models', 'mean_socm', -1.0, True)
    """
    records = tuple(records)
    for index, record in enumerate(records):
        if not isinstance(record, EvaluationRecord):
            raise TypeError(f"Expected records to hold EvaluationRecord objects. "
                            f"Received {describe(record)} at index {index}.")
    n_bootstrap = check_positive_int(n_bootstrap, name="n_bootstrap")
    confidence = _check_confidence(confidence)
    rng = check_random_state(random_state)
    groups: dict[tuple[str, str], list] = {}
    for record in records:
        groups.setdefault((record.task, record.pooling), []).append(record)
    out = []
    for (task, pooling), members in groups.items():
        scopes = [("all models", members)]
        models = list(dict.fromkeys(r.model for r in members))
        if len(models) > 1:
            for model in models:
                own = [r for r in members if r.model == model]
                if len(own) >= _MIN_POINTS:
                    scopes.append((model, own))
        for scope, points in scopes:
            for measure in ("mean_socm", "matched_socm"):
                seed = int(rng.randint(np.iinfo(np.int32).max))
                out.append(_correlation(points, task, pooling, scope, measure, n_bootstrap,
                                        confidence, seed))
    return tuple(out)


# ---------------------------------------------------------------------------------------
# Scores
# ---------------------------------------------------------------------------------------
def _default_classifier():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


def _cross_validate(pooler, classifier, tokens, labels, folds):
    """Fold accuracies and per-text out-of-fold correctness (the pooler fits per fold)."""
    correct = np.zeros(len(tokens), dtype=bool)
    scores = []
    for train, test in folds.split(np.zeros((len(tokens), 1)), labels):
        model = make_pipeline(clone(pooler), clone(classifier))
        model.fit(tokens[train], labels[train])
        correct[test] = model.predict(tokens[test]) == labels[test]
        scores.append(float(correct[test].mean()))
    return np.array(scores), correct


def _cosines(vectors: np.ndarray, pairs: np.ndarray, pooling: str) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1)
    if not (norms > 0).all():
        bad = int(np.flatnonzero(~(norms > 0))[0])
        raise ValueError(f"The {pooling}-pooled vector of text {bad} is zero: its cosine "
                         "similarity is undefined.")
    unit = vectors / norms[:, None]
    return np.einsum("ij,ij->i", unit[pairs[:, 0]], unit[pairs[:, 1]])


def _similarity_score(similarities, human, n_bootstrap, rng):
    """Spearman of model and human similarity, and its bootstrap std over pairs."""
    rho = float(stats.spearmanr(similarities, human)[0])
    rows = rng.randint(0, human.size, size=(n_bootstrap, human.size))
    values = _rowwise_spearman(similarities[rows], human[rows])
    values = values[np.isfinite(values)]
    return rho, float(values.std(ddof=1)) if values.size > 1 else 0.0


# ---------------------------------------------------------------------------------------
# evaluate
# ---------------------------------------------------------------------------------------
def _check_models(models) -> list[tuple[str, TokenEncoder]]:
    """``(label, encoder)`` pairs from names, folders, encoders or a label mapping."""
    if isinstance(models, (str, os.PathLike, TokenEncoder)):
        models = [models]
    items = list(models.items()) if isinstance(models, Mapping) else [
        (None, model) for model in models]
    if not items:
        raise ValueError("Expected at least one model. Received none.")
    out = []
    for label, model in items:
        if isinstance(model, TokenEncoder):
            encoder = clone(model)
        elif isinstance(model, (str, os.PathLike)):
            encoder = TokenEncoder(model=model)
        else:
            raise TypeError(f"Expected each model to be a model name, a folder or a "
                            f"TokenEncoder. Received {describe(model)}.")
        out.append((str(label if label is not None else encoder.model), encoder))
    labels = [label for label, _ in out]
    if len(set(labels)) != len(labels):
        raise ValueError(f"Expected distinct model names. Received {labels}.")
    return out


def _check_names(values, registry, *, name: str) -> list[str]:
    if isinstance(values, str):
        values = [values]
    values = list(values)
    unknown = [v for v in values if v not in registry]
    if not values or unknown:
        raise ValueError(f"Expected {name} among {list(registry)}. Received {values}.")
    return list(dict.fromkeys(values))


def _seed(random_state) -> int:
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def _resolve_layers(layers, n_layers: int, label: str) -> list[int]:
    """Non-negative, sorted, distinct hidden-state indices of a model with ``n_layers``."""
    if layers is None:
        return list(range(n_layers + 1))
    for layer in layers:
        if isinstance(layer, bool) or not isinstance(layer, numbers.Integral):
            raise TypeError(f"Expected layers to be ints. Received {describe(layer)}.")
        if not -(n_layers + 1) <= layer <= n_layers:
            raise ValueError(
                f"Expected layers in [{-(n_layers + 1)}, {n_layers}] for {label!r} ({n_layers} "
                f"layers, so {n_layers + 1} hidden states). Received {layer}."
            )
    return sorted({int(layer) % (n_layers + 1) for layer in layers})


def _model_pooling(label, encoder) -> str:
    declared = read_model_pooling(encoder.model)
    if declared is None or len(declared.modes) != 1 or declared.modes[0] not in _MODE_POOLING:
        found = "none" if declared is None else list(declared.modes)
        raise ValueError(f"pooling 'model' needs a model that declares one of "
                         f"{list(_MODE_POOLING)} pooling; {label!r} declares {found}.")
    return _MODE_POOLING[declared.modes[0]]


def evaluate(models="all-MiniLM-L6-v2", tasks=("bbc-news", "rotten-tomatoes", "lee-50"), *,
             layers=None, poolings=DEFAULT_POOLINGS, n_texts=300, max_length=None,
             n_pairs=1000, n_folds=5, classifier=None, n_bootstrap=1000, random_state=0,
             cache=None, n_jobs=None, progress=False) -> Evaluation:
    r"""Collapse against downstream scores for each model, layer, pooling and task.

    Each model encodes the texts of all tasks once, every requested layer
    from the same forward pass, into the token cache (``cache``, or a
    temporary folder removed at the end); each layer is then read back from
    the cache, so one encoding serves every task and pooling. For each layer
    and task it measures the mean SOCM of the task's texts (``n_pairs``
    sampled pairs, the same pairs at every layer), the concentration-matched
    SOCM on the same pairs, the concentration, and the score of each pooling:

    - classification tasks: stratified ``n_folds``-fold accuracy of the pooler
      followed by ``classifier`` (default ``StandardScaler ->
      LogisticRegression(max_iter=2000)``), the pooler fitted on each
      training fold; ``score_std`` is the standard deviation over folds;
    - similarity tasks (Lee-50): Spearman correlation with the human scores
      of the cosine of pooled vectors, or of :math:`-W_2` between the
      mean-normalized clouds (``"w2-gaussian"``, ``"w2-exact"``);
      ``score_std`` is its bootstrap standard deviation over pairs.

    Then the correlations of collapse and score (:func:`socm_score_correlations`)
    and, for each model and classification task at its last evaluated layer,
    the error rate of the first pooling by quintile of the text's spread and of its mean
    SOCM to its 5 nearest texts by mean pooling (:func:`error_by_quintile`).

    Parameters
    ----------
    models : str, path, TokenEncoder, sequence of them, or dict of name to them
        Bundled names, model folders or configured encoders (their ``layer``
        is ignored). A dict names the models in the records.
    tasks : sequence of str, default=("bbc-news", "rotten-tomatoes", "lee-50")
        Names of :data:`TASKS`.
    layers : sequence of int or None, default=None
        Hidden-state indices (negative count from the end) for every model;
        None: all of them, ``0 .. n_layers``.
    poolings : sequence of str, default=DEFAULT_POOLINGS
        Names of :data:`POOLINGS`; each is run on the tasks it applies to.
    n_texts : int or None, default=300
        Texts sampled (stratified) from each classification corpus; the
        similarity task keeps all its documents unless fewer are asked for.
    max_length : int or None, default=None
        Passed to every encoder built from a name (the model's own limit
        when None); an encoder given as such keeps its own.
    n_pairs : int or None, default=1000
        SOCM pairs per task and layer (None: all pairs, exact).
    n_folds : int, default=5
    classifier : estimator or None
    n_bootstrap : int, default=1000
        Resamples for the similarity ``score_std`` and the correlation intervals.
    random_state : int, RandomState instance or None, default=0
        One seed for the samples of texts and pairs, the folds and the bootstraps.
    cache : str, path or None
        Token-cache folder to keep (and reuse in later runs); None: a
        temporary one. An encoder given with its own ``cache`` keeps it.
    n_jobs : int or None
        Workers for SOCM and exact :math:`W_2` (joblib convention).
    progress : bool, default=False
        Show a progress bar per model over its layers and tasks (on stderr).

    Returns
    -------
    Evaluation

    Examples
    --------
    >>> from skpool.evaluation import evaluate
    >>> result = evaluate("all-MiniLM-L6-v2", ["lee-50"], layers=[-1], poolings=["mean"],
    ...                   n_texts=8, n_pairs=20, n_bootstrap=50)
    >>> record = result.records[0]
    >>> record.task, record.metric, record.layer, record.n_texts
    ('lee-50', 'spearman', 6, 8)
    """
    model_list = _check_models(models)
    task_names = _check_names(tasks, TASKS, name="tasks")
    pooling_names = _check_names(poolings, POOLINGS, name="poolings")
    n_texts = check_positive_int(n_texts, name="n_texts", minimum=5, allow_none=True)
    n_pairs = check_positive_int(n_pairs, name="n_pairs", allow_none=True)
    n_folds = check_positive_int(n_folds, name="n_folds", minimum=2)
    n_bootstrap = check_positive_int(n_bootstrap, name="n_bootstrap", minimum=2)
    if layers is not None:
        if isinstance(layers, (numbers.Integral, str)):
            layers = [layers]
        layers = list(layers)
        if not layers:
            raise ValueError("Expected layers to name at least one layer. Received none.")
    if classifier is None:
        classifier = _default_classifier()
    elif not (hasattr(classifier, "fit") and hasattr(classifier, "predict")):
        raise TypeError(f"Expected classifier to be a scikit-learn classifier (fit and "
                        f"predict). Received {describe(classifier)}.")
    seed = _seed(random_state)
    progress = check_progress(progress)

    data = {}
    for name in task_names:
        task = TASKS[name]
        data[name] = task.load(n_texts=n_texts, random_state=seed)
        if task.kind == "classification":
            counts = np.bincount(data[name].labels)
            if counts[counts > 0].min() < n_folds:
                raise ValueError(
                    f"Expected every class of {name} to hold at least n_folds={n_folds} texts "
                    f"for stratified cross-validation. Received {counts.tolist()} texts per "
                    f"class with n_texts={n_texts}; sample more texts or use fewer folds."
                )
    all_texts = list(dict.fromkeys(t for name in task_names for t in data[name].texts))

    records, diagnostics = [], []
    with tempfile.TemporaryDirectory(prefix="skpool-evaluate-") as scratch:
        for label, base in model_list:
            params = {"cache": base.cache if base.cache is not None else (cache or scratch)}
            if max_length is not None and base.max_length is None:
                params["max_length"] = max_length
            encoder = clone(base).set_params(**params)
            encoder.fit()
            resolved = _resolve_layers(layers, encoder.n_layers_, label)
            pooling_of = {p: (_model_pooling(label, encoder) if p == "model" else p)
                          for p in pooling_names}
            bar = progress_bar(progress, total=len(resolved) * len(task_names),
                               desc=f"evaluate {label}", unit="step")
            bar.set_postfix_str(f"encoding {len(all_texts)} texts")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", TruncationWarning)
                for start in range(0, len(all_texts), 64):  # fill the cache, a chunk at a time
                    encoder.transform_layers(all_texts[start:start + 64], resolved)
            for layer in resolved:
                layer_encoder = clone(encoder).set_params(layer=layer)
                for name in task_names:
                    bar.set_postfix_str(f"layer {layer}, {name}")
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", TruncationWarning)
                        tokens = layer_encoder.transform(data[name].texts)
                    new, found = _evaluate_layer(
                        label, layer, TASKS[name], data[name], tokens,
                        tokens.n_truncated, pooling_names, pooling_of,
                        classifier=classifier, n_pairs=n_pairs, n_folds=n_folds,
                        n_bootstrap=n_bootstrap, seed=seed, n_jobs=n_jobs,
                        diagnose=layer == resolved[-1])
                    records.extend(new)
                    diagnostics.extend(found)
                    bar.update(1)
            bar.close()
    correlations = socm_score_correlations(records, n_bootstrap=n_bootstrap, random_state=seed)
    settings = {"tasks": task_names, "poolings": pooling_names, "n_texts": n_texts,
                "n_pairs": n_pairs, "n_folds": n_folds, "n_bootstrap": n_bootstrap,
                "random_state": seed, "max_length": max_length}
    return Evaluation(records=tuple(records), correlations=correlations,
                      diagnostics=tuple(diagnostics), settings=settings)


def _evaluate_layer(model, layer, task, dataset, tokens, n_truncated, pooling_names,
                    pooling_of, *, classifier, n_pairs, n_folds, n_bootstrap, seed, n_jobs,
                    diagnose):
    socm = mean_socm(tokens, n_pairs=n_pairs, random_state=seed, n_jobs=n_jobs)
    matched = matched_mean_socm(tokens, n_pairs=n_pairs, random_state=seed, n_jobs=n_jobs)
    spread = concentration(tokens)
    common = dict(model=model, layer=int(layer), task=task.name, metric=task.metric,
                  mean_socm=socm.mean, stderr=socm.stderr,
                  n_trace_violations=socm.n_trace_violations, matched_socm=matched.mean,
                  matched_stderr=matched.stderr, mean_spread=spread.mean_spread,
                  mean_cosine=spread.average_cosine, n_texts=len(tokens),
                  n_pairs=socm.n_pairs, n_truncated=n_truncated)
    records, diagnostics = [], []
    rng = check_random_state(seed)
    for name in pooling_names:
        pooling = POOLINGS[name]
        if not pooling.applies_to(task):
            continue
        effective = POOLINGS[pooling_of[name]]
        if task.kind == "classification":
            folds = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
            scores, correct = _cross_validate(effective.make(), classifier, tokens,
                                              dataset.labels, folds)
            score, score_std = float(scores.mean()), float(scores.std())
            if diagnose and not diagnostics:
                near = neighbour_socm(tokens, MeanPooler().fit_transform(tokens),
                                      n_neighbors=min(5, len(tokens) - 1))
                for by, values in (("spread", spread.spread), ("neighbour_socm", near)):
                    diagnostics.append(TextDiagnostic(
                        model=model, task=task.name, layer=int(layer), pooling=name, by=by,
                        bins=error_by_quintile(values, correct)))
        else:
            if effective.kind == "distance":
                distances = pairwise_w2(tokens, kind=effective.w2, normalize=True,
                                        n_jobs=n_jobs)
                similarities = -distances[dataset.pairs[:, 0], dataset.pairs[:, 1]]
            else:
                vectors = effective.make().fit_transform(tokens)
                similarities = _cosines(vectors, dataset.pairs, name)
            score, score_std = _similarity_score(similarities, dataset.scores, n_bootstrap, rng)
        records.append(EvaluationRecord(pooling=name, score=score, score_std=score_std,
                                        **common))
    return records, diagnostics
