"""What :func:`~skpool.evaluation.evaluate` returns: its records and their container."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from .._html import HTMLReport


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
        Mean fold accuracy, or Spearman correlation with the human scores;
        NaN where it does not exist (``note`` says why).
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
    note : str
        Why ``score`` is NaN (e.g. every pair gets the same cosine, so its
        Spearman correlation is undefined); empty otherwise.
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
    note: str = ""

    def to_dict(self) -> dict:
        """The record as a plain ``dict`` (JSON-ready: a NaN or infinite number is None)."""
        return {key: None if isinstance(value, float) and not math.isfinite(value) else value
                for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict) -> EvaluationRecord:
        """The record :meth:`to_dict` wrote (None read back as NaN)."""
        return cls(**{key: math.nan if value is None and key != "note" else value
                      for key, value in values.items()})


@dataclass(frozen=True)
class CorrelationRecord:
    r"""Whether collapse and score go together over one group of (model, layer) points.

    Attributes
    ----------
    task, pooling : str
    group : {"all", "trained", "trained-no-embedding", "within-model", "last-layer"}
        Which points: every point; the trained models' points (models
        marked as baselines, such as a random-weights architecture, left
        out); the trained points without the embedding layer (layer 0); one
        model's layers (``model`` names it); each trained model at its last
        layer (the paper's comparison across encoders).
    model : str
        The model of a ``"within-model"`` group; empty otherwise.
    measure : {"mean_socm", "matched_socm"}
        Which collapse value is correlated with the score.
    n : int
        Points in the group (points without a score left out).
    rho, p, ci_low, ci_high : float or None
        Spearman correlation, its p-value and percentile bootstrap interval
        (see :class:`SpearmanResult`); None with fewer than 4 points or a
        constant column (``note`` says which).
    partial_rho, partial_p : float or None
        Controlling for the mean spread :math:`\operatorname{tr}\Sigma` and
        the mean within-text cosine (:func:`partial_spearman`); None with
        fewer than 5 points or when nothing is left once they are removed.
    can_rank : bool or None
        Whether the task's scores tell these points apart beyond their own
        fold/bootstrap error (:func:`ranking_check`); None with fewer than 2
        points. When False, the correlation is not a finding.
    score_sd, score_error, rank_p : float or None
        The spread of the scores across the points, the root mean square of
        their errors, and the p-value of the ranking check.
    models : tuple of str
        The models whose points the group holds.
    note : str
        Why a value is None, and what limits the reading; empty otherwise.
    """

    task: str
    pooling: str
    group: str
    measure: str
    n: int
    rho: float | None
    p: float | None
    ci_low: float | None
    ci_high: float | None
    partial_rho: float | None
    partial_p: float | None
    can_rank: bool | None = None
    score_sd: float | None = None
    score_error: float | None = None
    rank_p: float | None = None
    model: str = ""
    models: tuple = ()
    note: str = ""

    def to_dict(self) -> dict:
        """The record as a plain ``dict`` (what ``--json`` writes under ``correlations``).

        Keys: ``task``, ``pooling``, ``group``, ``model``, ``measure``,
        ``n``, ``rho``, ``p``, ``interval`` (``[low, high]`` or None),
        ``partial_rho``, ``partial_p``, ``can_rank``, ``score_sd``,
        ``score_error``, ``rank_p``, ``models`` (a list), ``note``.
        """
        interval = None if self.ci_low is None else [self.ci_low, self.ci_high]
        return {"task": self.task, "pooling": self.pooling, "group": self.group,
                "model": self.model, "measure": self.measure, "n": self.n, "rho": self.rho,
                "p": self.p, "interval": interval, "partial_rho": self.partial_rho,
                "partial_p": self.partial_p, "can_rank": self.can_rank,
                "score_sd": self.score_sd, "score_error": self.score_error,
                "rank_p": self.rank_p, "models": list(self.models), "note": self.note}


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


@dataclass(frozen=True, repr=False)  # HTMLReport's repr: shapes, not rows
class Evaluation(HTMLReport):
    """What :func:`evaluate` measured.

    ``to_html(path)`` writes it as one self-contained HTML page (SOCM against
    the score per task, the correlations by group with their intervals, what
    mean pooling costs, the interventions, every record).

    Attributes
    ----------
    records : tuple of EvaluationRecord
    correlations : tuple of CorrelationRecord
    diagnostics : tuple of TextDiagnostic
    settings : dict
        The arguments that shape the numbers (seed, folds, pairs, ...).
    pooling_costs : tuple of PoolingCost
        At each model's last layer: each distributional pooling against mean
        pooling, with a paired interval.
    interventions : tuple of InterventionRecord
        The interventional control, when ``evaluate(interventions=...)``.
    """

    records: tuple
    correlations: tuple
    diagnostics: tuple
    settings: dict = field(default_factory=dict)
    pooling_costs: tuple = ()
    interventions: tuple = ()

    def to_dicts(self) -> list[dict]:
        """The records as plain dicts (the ``records`` of :meth:`to_json_dict`)."""
        return [record.to_dict() for record in self.records]

    def to_json_dict(self) -> dict:
        """Everything measured as one JSON-ready ``dict`` (what ``skpool evaluate --json`` writes).

        Keys: ``settings``; ``records`` (:meth:`EvaluationRecord.to_dict`,
        one per model, layer, pooling and task); ``correlations``
        (:meth:`CorrelationRecord.to_dict`); ``diagnostics`` (the per-text
        error tables, one row per quintile: ``model``, ``task``, ``layer``,
        ``pooling``, ``by``, ``bin``, ``low``, ``high``, ``n_texts``,
        ``error_rate``); ``pooling_costs`` (:meth:`PoolingCost.to_dict`);
        ``interventions`` (:meth:`InterventionRecord.to_dict`).
        """
        return {"settings": dict(self.settings), "records": self.to_dicts(),
                "correlations": [c.to_dict() for c in self.correlations],
                "diagnostics": [row for d in self.diagnostics for row in d.to_dicts()],
                "pooling_costs": [c.to_dict() for c in self.pooling_costs],
                "interventions": [r.to_dict() for r in self.interventions]}

    def to_frame(self):
        """The records as a pandas DataFrame (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(self.to_dicts())

    def _html_document(self, *, command=None) -> dict:
        from .._html_documents import document

        details = {"correlations": [c.to_dict() for c in self.correlations],
                   "diagnostics": [row for d in self.diagnostics for row in d.to_dicts()],
                   "settings": dict(self.settings),
                   "pooling_costs": [c.to_dict() for c in self.pooling_costs],
                   "interventions": [r.to_dict() for r in self.interventions]}
        return document("evaluate", self.to_dicts(), details, command=command,
                        json=self.to_json_dict())
