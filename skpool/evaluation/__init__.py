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

The bundled tasks are in :data:`TASKS`; :meth:`Task.from_data` makes a task of
either kind from your own labelled texts or rated pairs (a file, a data frame,
a dataset or arrays), scored the same way. Each finished result can be kept
in a journal as it completes (``evaluate(..., journal=path)``), so that an
interrupted run resumes.

:func:`socm_score_correlations` then asks whether collapse and score go
together across layers and models: the Spearman correlation with its p-value
and a bootstrap interval, and two controls for concentration (a reviewer's
objection to the paper's evidence: fine-tuning raises concentration, so any
concentration-sensitive metric correlates with quality by construction):

- the partial Spearman correlation of SOCM and score given the mean spread
  :math:`\operatorname{tr}\Sigma` and the mean within-text cosine
  (:func:`partial_spearman`);
- the same correlation with the concentration-matched SOCM
  (:func:`skpool.metrics.matched_mean_socm`), in which every text has
  the same :math:`\operatorname{tr}\Sigma`.

:func:`error_by_quintile` is the per-text diagnostic: are the texts whose tokens
spread most, or whose nearest texts (by mean pooling) differ most in
second-order shape (:func:`neighbour_socm`), the ones misclassified?

References
----------
.. [1] Lee, Pincombe, Welsh. "An empirical evaluation of models of text
   document similarity." CogSci 2005.
"""

from ._correlations import socm_score_correlations
from ._driver import evaluate
from ._interventions import InterventionRecord, PoolingCost, parse_interventions
from ._neighbours import neighbour_socm
from ._records import CorrelationRecord, Evaluation, EvaluationRecord, TextDiagnostic
from ._stats import (PairedDifference, PartialSpearmanResult, QuintileBin, RankingCheck,
                     SpearmanResult, error_by_quintile, paired_fold_difference,
                     paired_spearman_difference, partial_spearman, ranking_check,
                     spearman_interval)
from .poolings import DEFAULT_POOLINGS, POOLINGS
from .tasks import TASKS, Task

__all__ = [
    "TASKS", "Task", "POOLINGS", "DEFAULT_POOLINGS", "SpearmanResult", "spearman_interval",
    "PartialSpearmanResult", "partial_spearman", "RankingCheck", "ranking_check",
    "QuintileBin", "error_by_quintile",
    "neighbour_socm", "EvaluationRecord", "CorrelationRecord", "TextDiagnostic", "Evaluation",
    "socm_score_correlations", "evaluate", "PairedDifference", "paired_fold_difference",
    "paired_spearman_difference", "PoolingCost", "InterventionRecord", "parse_interventions",
]
