r"""What mean pooling costs, and the interventional control of what collapse measures.

At each model's last evaluated layer and for each task, :func:`study_layer`

- scores mean pooling and each distributional pooling (Gaussian features for
  classification, :math:`-W_2` between token clouds for similarity) on the
  same folds or the same pairs, and gives their difference with a paired
  interval (:class:`PoolingCost`): what mean pooling costs here;
- with interventions (:func:`parse_interventions`), changes every text's
  spread while keeping its mean token (:func:`~skpool.analysis.rescale_spread`,
  :func:`~skpool.analysis.swap_spread`) and measures, per condition, the mean
  SOCM and :math:`d_\Sigma`, the mean-pooling score -- identical by
  construction, and checked -- and the distributional score
  (:class:`InterventionRecord`).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass

import numpy as np
from sklearn.model_selection import StratifiedKFold
from sklearn.utils import check_random_state

from .._validation import describe
from ..interventions import rescale_spread, swap_spread
from ..metrics import concentration, mean_socm
from ..ot import pairwise_w2
from ..pooling import MeanPooler
from ._scores import UndefinedScore, cosines, cross_validate, similarity_score
from ._stats import paired_fold_difference, paired_spearman_difference
from .poolings import POOLINGS

__all__ = ["PoolingCost", "InterventionRecord", "parse_interventions"]

#: The distributional poolings whose gap to mean pooling is reported, by task kind.
DISTRIBUTIONAL = {"classification": ("gaussian-diag", "gaussian-projected"),
                  "similarity": ("w2-gaussian", "w2-exact")}
#: The distributional pooling scored under every intervention, by task kind.
INTERVENTION_POOLING = {"classification": "gaussian-diag", "similarity": "w2-gaussian"}
NONE = "none"


class _JSONRecord:
    """The ``to_dict`` of the records below."""

    def to_dict(self) -> dict:
        """The record as a plain ``dict`` (JSON-ready: the attributes, NaN as None)."""
        return _json_ready(asdict(self))


@dataclass(frozen=True)
class PoolingCost(_JSONRecord):
    """A distributional pooling against mean pooling on the same folds or pairs.

    Attributes
    ----------
    model, task, pooling : str
        ``pooling`` is the distributional one (``gaussian-diag``,
        ``gaussian-projected``, ``w2-gaussian``, ``w2-exact``).
    layer : int
    metric : {"accuracy", "spearman"}
    condition : str
        ``"none"`` (the texts as encoded) or the intervention applied first
        (``"rescale:0.5"``, ``"swap"``).
    mean_score, score : float
        Mean pooling's score and the distributional pooling's.
    difference : float
        ``score - mean_score``: positive when mean pooling costs accuracy
        (or similarity correlation) here.
    ci_low, ci_high : float
        The paired interval of the difference (:func:`paired_fold_difference`
        over folds, :func:`paired_spearman_difference` over pairs).
    method : str
    n : int
        Folds or pairs.
    """

    model: str
    layer: int
    task: str
    metric: str
    condition: str
    pooling: str
    mean_score: float
    score: float
    difference: float
    ci_low: float
    ci_high: float
    method: str
    n: int


@dataclass(frozen=True)
class InterventionRecord(_JSONRecord):
    r"""One model, last layer, task and intervention condition.

    Attributes
    ----------
    model, task : str
    layer : int
    metric : {"accuracy", "spearman"}
    condition : str
        ``"none"``, ``"rescale:F"`` or ``"swap"``.
    mean_socm, stderr, mean_d_mu, mean_d_sigma : float
        Over the same sampled pairs in every condition.
    mean_spread : float
        Mean :math:`\operatorname{tr}\Sigma`.
    mean_pooling_score, mean_pooling_std : float
        Mean pooling's score on the intervened tokens.
    mean_vector_change : float
        Largest absolute change of a mean-pooled coordinate against the
        texts as encoded, relative to the largest coordinate: round-off
        (about 1e-7 for float32 tokens) when the means are kept.
    mean_score_unchanged : bool
        Whether the mean-pooling score equals the ``"none"`` condition's
        exactly (every fold accuracy, or the Spearman correlation).
    pooling : str
        The distributional pooling scored: ``gaussian-diag``
        (classification) or ``w2-gaussian`` (similarity).
    score, score_std : float
        Its score.
    """

    model: str
    layer: int
    task: str
    metric: str
    condition: str
    mean_socm: float
    stderr: float
    mean_d_mu: float
    mean_d_sigma: float
    mean_spread: float
    mean_pooling_score: float
    mean_pooling_std: float
    mean_vector_change: float
    mean_score_unchanged: bool
    pooling: str
    score: float
    score_std: float


def parse_interventions(specs) -> list[tuple[str, str, float | None]]:
    """``(condition, kind, factor)`` for each intervention named in ``specs``.

    Parameters
    ----------
    specs : str or sequence of str
        ``"rescale:F[,F...]"`` (one condition per factor :math:`F \\ge 0`) or
        ``"swap"``.

    Returns
    -------
    list of tuple
        Distinct conditions in the order given.

    Examples
    --------
    >>> parse_interventions(["rescale:0.5,1,2", "swap"])
    [('rescale:0.5', 'rescale', 0.5), ('rescale:1', 'rescale', 1.0), \
('rescale:2', 'rescale', 2.0), ('swap', 'swap', None)]
    """
    if isinstance(specs, str):
        specs = [specs]
    try:
        specs = list(specs)
    except TypeError:
        raise TypeError(f"Expected interventions to be a list of strings such as "
                        f"'rescale:0.5,1,2' or 'swap'. Received {describe(specs)}.") from None
    out = {}
    for spec in specs:
        if not isinstance(spec, str):
            raise TypeError(f"Expected each intervention to be a string such as "
                            f"'rescale:0.5,1,2' or 'swap'. Received {describe(spec)}.")
        kind, _, values = spec.strip().partition(":")
        if kind == "swap" and not values:
            out["swap"] = ("swap", "swap", None)
            continue
        if kind != "rescale" or not values:
            raise ValueError(f"Expected an intervention 'rescale:F[,F...]' or 'swap'. "
                             f"Received {spec!r}.")
        for text in values.split(","):
            try:
                factor = float(text)
            except ValueError:
                factor = math.nan
            if not (math.isfinite(factor) and factor >= 0.0):
                raise ValueError(f"Expected rescale factors to be non-negative numbers. "
                                 f"Received {text!r} in {spec!r}.")
            name = f"rescale:{factor:g}"
            out[name] = (name, "rescale", factor)
    if not out:
        raise ValueError("Expected at least one intervention. Received none.")
    return list(out.values())


def _apply(tokens, kind, factor, seed):
    if kind == NONE:
        return tokens
    if kind == "rescale":
        return rescale_spread(tokens, factor)
    return swap_spread(tokens, random_state=seed)


class _Scorer:
    """One task's scores of one set of tokens, each kept with its units (folds or pairs)."""

    def __init__(self, task, dataset, tokens, *, classifier, n_folds, n_bootstrap, seed,
                 n_jobs):
        self.task, self.dataset, self.tokens = task, dataset, tokens
        self.classifier, self.n_folds, self.n_bootstrap = classifier, n_folds, n_bootstrap
        self.seed, self.n_jobs = seed, n_jobs
        self._done = {}

    def units(self, pooling: str) -> np.ndarray:
        """Fold accuracies (classification) or pair similarities (similarity)."""
        if pooling not in self._done:
            effective = POOLINGS[pooling]
            if self.task.kind == "classification":
                folds = StratifiedKFold(self.n_folds, shuffle=True, random_state=self.seed)
                values, _ = cross_validate(effective.make(), self.classifier, self.tokens,
                                           self.dataset.labels, folds)
            elif effective.kind == "distance":
                pairs = self.dataset.pairs
                distances = pairwise_w2(self.tokens, kind=effective.w2, normalize=True,
                                        n_jobs=self.n_jobs)
                values = -distances[pairs[:, 0], pairs[:, 1]]
            else:
                values = cosines(effective.make().fit_transform(self.tokens),
                                 self.dataset.pairs, pooling)
            self._done[pooling] = np.asarray(values, dtype=np.float64)
        return self._done[pooling]

    def score(self, pooling: str) -> tuple[float, float]:
        """``(score, score_std)`` as :func:`evaluate` reports them (NaN when undefined)."""
        try:
            values = self.units(pooling)
        except UndefinedScore:
            return math.nan, math.nan
        if self.task.kind == "classification":
            return float(values.mean()), float(values.std())
        try:
            return similarity_score(values, self.dataset.scores, self.n_bootstrap,
                                    check_random_state(self.seed), pooling=pooling)
        except UndefinedScore:
            return math.nan, math.nan

    def cost(self, pooling: str):
        """The paired difference of ``pooling`` against mean pooling; None if a score is undefined."""
        if not (math.isfinite(self.score(pooling)[0]) and math.isfinite(self.score("mean")[0])):
            return None
        if self.task.kind == "classification":
            return paired_fold_difference(self.units(pooling), self.units("mean"))
        return paired_spearman_difference(self.units(pooling), self.units("mean"),
                                          self.dataset.scores, n_bootstrap=self.n_bootstrap,
                                          random_state=self.seed)


def needs_study(task, poolings, conditions) -> bool:
    """Whether :func:`study_layer` has anything to measure for ``task``."""
    return bool(conditions) or any(p in DISTRIBUTIONAL[task.kind] for p in poolings)


def _json_ready(values: dict) -> dict:
    """NaN or infinite numbers as None (JSON has no NaN)."""
    return {key: None if isinstance(value, float) and not math.isfinite(value) else value
            for key, value in values.items()}


def study_layer(model, layer, task, dataset, tokens, *, poolings, conditions, classifier,
                n_pairs, n_folds, n_bootstrap, seed, n_jobs):
    """The pooling costs and intervention records of one model, layer and task."""
    labels = dict(model=model, layer=int(layer), task=task.name, metric=task.metric)
    common = dict(classifier=classifier, n_folds=n_folds, n_bootstrap=n_bootstrap, seed=seed,
                  n_jobs=n_jobs)
    original = _Scorer(task, dataset, tokens, **common)
    costs, records = [], []

    def cost_row(scorer, condition, pooling):
        gap = scorer.cost(pooling)
        if gap is None:  # a score that does not exist has no cost
            return
        costs.append(PoolingCost(
            **labels, condition=condition, pooling=pooling,
            mean_score=scorer.score("mean")[0], score=scorer.score(pooling)[0],
            difference=gap.difference, ci_low=gap.ci_low, ci_high=gap.ci_high,
            method=gap.method, n=gap.n))

    for pooling in DISTRIBUTIONAL[task.kind]:
        if pooling in poolings:
            cost_row(original, NONE, pooling)
    if not conditions:
        return costs, records
    features = INTERVENTION_POOLING[task.kind]
    reference_vectors = MeanPooler().fit_transform(tokens).astype(np.float64)
    scale = float(np.abs(reference_vectors).max()) or 1.0
    reference_score = original.score("mean")[0]
    for condition, kind, factor in [(NONE, NONE, None), *conditions]:
        moved = _apply(tokens, kind, factor, seed)
        scorer = original if kind == NONE else _Scorer(task, dataset, moved, **common)
        socm = mean_socm(moved, n_pairs=n_pairs, random_state=seed, n_jobs=n_jobs)
        vectors = MeanPooler().fit_transform(moved).astype(np.float64)
        mean_score, mean_std = scorer.score("mean")
        if task.kind == "classification":
            unchanged = bool(np.array_equal(scorer.units("mean"), original.units("mean")))
        else:
            unchanged = mean_score == reference_score
        score, score_std = scorer.score(features)
        records.append(InterventionRecord(
            **labels, condition=condition, mean_socm=float(socm.mean),
            stderr=float(socm.stderr), mean_d_mu=float(socm.mean_d_mu),
            mean_d_sigma=float(socm.mean_d_sigma),
            mean_spread=float(concentration(moved).mean_spread),
            mean_pooling_score=mean_score, mean_pooling_std=mean_std,
            mean_vector_change=float(np.abs(vectors - reference_vectors).max() / scale),
            mean_score_unchanged=unchanged, pooling=features, score=score,
            score_std=score_std))
        if kind != NONE or features not in poolings:
            cost_row(scorer, condition, features)
    return costs, records


def check_conditions(interventions):
    """The parsed conditions of ``interventions`` (None or empty: none)."""
    if interventions is None or (not isinstance(interventions, str)
                                 and isinstance(interventions, (list, tuple))
                                 and not interventions):
        return []
    if isinstance(interventions, numbers.Number):
        raise TypeError(f"Expected interventions to be a list of strings such as "
                        f"'rescale:0.5,1,2' or 'swap'. Received {describe(interventions)}.")
    return parse_interventions(interventions)
