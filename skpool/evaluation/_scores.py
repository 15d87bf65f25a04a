"""The downstream scores: cross-validated accuracy and Spearman with human similarity."""

from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ._stats import rowwise_spearman


def default_classifier():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


def cross_validate(pooler, classifier, tokens, labels, folds):
    """Fold accuracies and per-text out-of-fold correctness (the pooler fits per fold)."""
    correct = np.zeros(len(tokens), dtype=bool)
    scores = []
    for train, test in folds.split(np.zeros((len(tokens), 1)), labels):
        model = make_pipeline(clone(pooler), clone(classifier))
        model.fit(tokens[train], labels[train])
        correct[test] = model.predict(tokens[test]) == labels[test]
        scores.append(float(correct[test].mean()))
    return np.array(scores), correct


class UndefinedScore(Exception):
    """A score that does not exist for these vectors (the message says why)."""


def unit_rows(vectors: np.ndarray, zero) -> np.ndarray:
    """Each row divided by its norm; ``zero(i)`` is the error raised for a zero row ``i``."""
    norms = np.linalg.norm(vectors, axis=1)
    if not (norms > 0).all():
        raise zero(int(np.flatnonzero(~(norms > 0))[0]))
    return vectors / norms[:, None]


def cosines(vectors: np.ndarray, pairs: np.ndarray, pooling: str) -> np.ndarray:
    unit = unit_rows(np.asarray(vectors, dtype=np.float64), lambda bad: UndefinedScore(
        f"the {pooling}-pooled vector of text {bad} is zero, so its cosine similarity is "
        "undefined"))
    return np.einsum("ij,ij->i", unit[pairs[:, 0]], unit[pairs[:, 1]])


def similarity_score(similarities, human, n_bootstrap, rng, *, pooling: str):
    """Spearman of model and human similarity, and its bootstrap std over pairs.

    Raises :class:`UndefinedScore` when the model gives every pair the same
    similarity (a rank correlation needs ranks: CLS pooling at the embedding
    layer gives every text the same vector) or a non-finite one.
    """
    if not np.isfinite(similarities).all():
        raise UndefinedScore(f"the {pooling} similarity of some pairs is not finite")
    if np.ptp(similarities) == 0.0:
        raise UndefinedScore(
            f"every pair gets the same {pooling} similarity ({float(similarities[0]):.4g}): "
            "the pooled vectors do not tell the texts apart, so the Spearman correlation "
            "with the human scores is undefined")
    rho = float(stats.spearmanr(similarities, human)[0])
    rows = rng.randint(0, human.size, size=(n_bootstrap, human.size))
    values = rowwise_spearman(similarities[rows], human[rows])
    values = values[np.isfinite(values)]
    return rho, float(values.std(ddof=1)) if values.size > 1 else 0.0
