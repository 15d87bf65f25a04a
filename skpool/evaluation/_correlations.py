"""Whether collapse and score go together, over groups of (model, layer) points."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from sklearn.utils import check_random_state

from .._validation import check_positive_int, describe
from ._records import CorrelationRecord, EvaluationRecord
from ._stats import check_confidence, partial_spearman, ranking_check, spearman_interval

_MIN_POINTS = 4
#: The groups, in the order they are reported.
GROUPS = ("all", "trained", "trained-no-embedding", "within-model", "last-layer")
MEASURES = ("mean_socm", "matched_socm")
#: The paper's comparison, for the note of a last-layer group too small to test it.
_PAPER = "the paper's comparison: twelve trained models' last layers against MTEB, rho -0.678"


def _correlation(points, measure, n_bootstrap, confidence, seed) -> dict:
    """rho, p, interval and partial rho of ``measure`` against score; notes on what is missing."""
    x = np.array([getattr(r, measure) for r in points])
    y = np.array([r.score for r in points])
    covariates = np.array([[r.mean_spread, r.mean_cosine] for r in points])
    values = dict(rho=None, p=None, ci_low=None, ci_high=None, partial_rho=None,
                  partial_p=None)
    notes = []
    if len(points) < _MIN_POINTS:
        notes.append(f"{len(points)} point{'' if len(points) == 1 else 's'}: at least "
                     f"{_MIN_POINTS} are needed")
        return values | {"notes": notes}
    try:
        result = spearman_interval(x, y, n_bootstrap=n_bootstrap, confidence=confidence,
                                   random_state=seed)
        values.update(rho=result.rho, p=result.p_value, ci_low=result.ci_low,
                      ci_high=result.ci_high)
    except ValueError as exc:
        notes.append(str(exc).replace("Expected x", f"Expected {measure}")
                     .replace("Expected y", "Expected the score"))
    try:
        partial = partial_spearman(x, y, covariates)
        values.update(partial_rho=partial.rho, partial_p=partial.p_value)
    except ValueError as exc:
        notes.append("partial: " + str(exc).replace("ranks of x", f"ranks of {measure}")
                     .replace("ranks of y", "ranks of the score")
                     .replace("the covariates' ranks",
                              "the ranks of the mean spread and mean cosine"))
    return values | {"notes": notes}


def _ranking(points, confidence) -> tuple[dict, list[str]]:
    """The ranking check of a group's scores, and its note when the task cannot rank them."""
    if len(points) < 2:
        return {}, []
    check = ranking_check([r.score for r in points], [r.score_std for r in points],
                          confidence=confidence)
    values = dict(can_rank=check.can_rank, score_sd=check.score_sd,
                  score_error=check.score_error, rank_p=check.p_value)
    if check.can_rank:
        return values, []
    return values, [
        f"the task cannot rank these points: their scores spread by SD {check.score_sd:.3g}, "
        f"no more than their fold/bootstrap error (RMS {check.score_error:.3g}) gives by "
        f"chance (p {check.p_value:.2g}), so not a finding"]


def _groups(members, baselines, last_layers):
    """``(group, model, points, notes)`` for one task and pooling, in the order of GROUPS."""
    models = list(dict.fromkeys(r.model for r in members))
    trained = [r for r in members if r.model not in baselines]
    trained_note = [] if len(trained) < len(members) else [
        "no model is marked as a baseline: the same points as 'all'"]
    no_embedding = [r for r in trained if r.layer != 0]
    no_embedding_note = [] if len(no_embedding) < len(trained) else [
        "no layer 0 among the trained points: the same points as 'trained'"]
    yield "all", "", members, []
    yield "trained", "", trained, trained_note
    yield "trained-no-embedding", "", no_embedding, trained_note + no_embedding_note
    if len(models) > 1:
        for model in models:
            own = [r for r in members if r.model == model]
            if len(own) > 1:
                yield "within-model", model, own, [
                    "layers of one network are not independent: the p-value is optimistic"]
    last = []
    for model in dict.fromkeys(r.model for r in trained):
        own = [r for r in trained if r.model == model]
        layer = last_layers.get(model, max(r.layer for r in own))
        last += [r for r in own if r.layer == layer]
    last_note = [_PAPER] if len(last) < _MIN_POINTS else []
    yield "last-layer", "", last, trained_note + last_note


def _check_records(records) -> tuple:
    records = tuple(records)
    for index, record in enumerate(records):
        if not isinstance(record, EvaluationRecord):
            raise TypeError(f"Expected records to hold EvaluationRecord objects. "
                            f"Received {describe(record)} at index {index}.")
    return records


def _check_baselines(baselines, models) -> frozenset:
    if isinstance(baselines, str):
        baselines = [baselines]
    try:
        names = [str(b) for b in baselines]
    except TypeError:
        raise TypeError(f"Expected baselines to be a list of model names. "
                        f"Received {describe(baselines)}.") from None
    unknown = [b for b in names if b not in models]
    if unknown:
        raise ValueError(f"Expected baselines among the evaluated models {sorted(models)}. "
                         f"Received {unknown}.")
    return frozenset(names)


def socm_score_correlations(records, *, baselines=(), last_layers=None, n_bootstrap=2000,
                            confidence=0.95, random_state=None) -> tuple[CorrelationRecord, ...]:
    """Spearman correlation of collapse and score, over groups of (model, layer) points.

    For each task and pooling, the correlation of the score with the mean
    SOCM and with the concentration-matched SOCM, each with its p-value, a
    bootstrap interval and the partial correlation given the mean spread
    and mean within-text cosine, over each group of points (:data:`GROUPS`):

    - ``"all"``: every point;
    - ``"trained"``: the models not named in ``baselines`` (a random-weights
      architecture is a baseline: it separates from trained models by
      concentration and score at once, and can carry a correlation alone);
    - ``"trained-no-embedding"``: the trained points without layer 0, the
      embedding output (no attention yet; its spread is several times a
      trained layer's);
    - ``"within-model"``: each model's own layers (when several models
      were evaluated and the model has at least 2 points);
    - ``"last-layer"``: each trained model at its last layer, the paper's
      comparison across encoders.

    Each group also carries a ranking check (:func:`ranking_check`): when
    the spread of its scores is within their fold/bootstrap error, the task
    cannot rank its points, ``can_rank`` is False and the note says the
    correlation is not a finding. Points without a finite score are left out
    (the note counts them).

    Parameters
    ----------
    records : sequence of EvaluationRecord
    baselines : sequence of str, default=()
        Models left out of the trained groups (e.g. a random-weights
        architecture); each must be a model of ``records``.
    last_layers : dict of str to int, optional
        The last layer of each model (its number of layers); by default each
        model's highest layer among the records.
    n_bootstrap : int, default=2000
    confidence : float, default=0.95
        Of the bootstrap interval, and ``1 - confidence`` the level of the
        ranking check.
    random_state : int, RandomState instance or None
        Seed of the bootstrap; each correlation draws its own resamples from
        it in a fixed order.

    Returns
    -------
    tuple of CorrelationRecord

    Examples
    --------
    >>> rows = [EvaluationRecord("m", layer, "mean", "t", "accuracy", 0.9 - 0.01 * layer,
    ...                          0.001, 0.1 * layer, 0.0, 0, 0.05 * layer ** 0.5, 0.0,
    ...                          1.0 + 0.1 * layer, 0.5 - 0.02 * layer ** 2, 10, 45, 0)
    ...         for layer in range(6)]
    >>> first = socm_score_correlations(rows, random_state=0)[0]
    >>> first.group, first.measure, first.rho, first.p < 1e-6, first.can_rank
    ('all', 'mean_socm', -1.0, True, True)
    """
    records = _check_records(records)
    models = {r.model for r in records}
    baselines = _check_baselines(baselines, models)
    if last_layers is None:
        last_layers = {}
    elif not isinstance(last_layers, Mapping):
        raise TypeError(f"Expected last_layers to be a dict of model name to layer. "
                        f"Received {describe(last_layers)}.")
    n_bootstrap = check_positive_int(n_bootstrap, name="n_bootstrap")
    confidence = check_confidence(confidence)
    rng = check_random_state(random_state)
    by_task: dict[tuple[str, str], list] = {}
    for record in records:
        by_task.setdefault((record.task, record.pooling), []).append(record)
    out = []
    for (task, pooling), members in by_task.items():
        for group, model, points, notes in _groups(members, baselines, last_layers):
            scored = [r for r in points if np.isfinite(r.score) and np.isfinite(r.score_std)]
            left_out = [f"{len(points) - len(scored)} point(s) without a score left out"] if (
                len(scored) < len(points)) else []
            ranking, ranking_notes = _ranking(scored, confidence)
            for measure in MEASURES:
                seed = int(rng.randint(np.iinfo(np.int32).max))
                values = _correlation(scored, measure, n_bootstrap, confidence, seed)
                note = "; ".join(left_out + values.pop("notes") + ranking_notes + notes)
                out.append(CorrelationRecord(
                    task=task, pooling=pooling, group=group, measure=measure, n=len(scored),
                    model=model, models=tuple(dict.fromkeys(r.model for r in scored)),
                    note=note, **values, **ranking))
    return tuple(out)
