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
class Evaluation(HTMLReport):
    """What :func:`evaluate` measured.

    ``to_html(path)`` writes it as one self-contained HTML page (SOCM against
    the score per task, the correlations with their intervals, every record).

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

    def _html_document(self, *, command=None) -> dict:
        from .._html_documents import document

        details = {"correlations": [c.to_dict() for c in self.correlations],
                   "diagnostics": [row for d in self.diagnostics for row in d.to_dicts()],
                   "settings": dict(self.settings)}
        return document("evaluate", self.to_dicts(), details, command=command)
