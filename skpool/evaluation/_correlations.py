"""Whether collapse and score go together across layers and models."""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state

from .._validation import check_positive_int, describe
from ._records import CorrelationRecord, EvaluationRecord
from ._stats import check_confidence, partial_spearman, spearman_interval


_MIN_POINTS = 4


def _correlation(points, task, pooling, scope, measure, n_bootstrap, confidence, seed):
    notes = []
    scored = [r for r in points if np.isfinite(r.score)]
    if len(scored) < len(points):  # a score that does not exist is not a point
        notes.append(f"{len(points) - len(scored)} point(s) without a score left out")
        points = scored
    x = np.array([getattr(r, measure) for r in points])
    y = np.array([r.score for r in points])
    covariates = np.array([[r.mean_spread, r.mean_cosine] for r in points])
    values = dict(spearman=None, p_value=None, ci_low=None, ci_high=None,
                  partial_spearman=None, partial_p_value=None)
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
    confidence = check_confidence(confidence)
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
