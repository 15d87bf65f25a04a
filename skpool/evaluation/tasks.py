"""The downstream tasks :func:`~skpool.evaluation.evaluate` runs: bundled, or built from your data.

A task is a name, a kind (``"classification"``: accuracy of a classifier on
the pooled features; ``"similarity"``: Spearman correlation of model and human
similarity of rated pairs) and its data. The bundled tasks are in
:data:`TASKS`; :meth:`Task.from_data` builds one from a file, a data frame, a
Hugging Face dataset or plain arrays, through skpool's one reader
(:func:`skpool.datasets.read_corpus`), and checks its labels or scores at
once, so that bad data is reported before any model is loaded.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._validation import describe
from ..datasets import (SimilarityDataset, TextDataset, load_bbc_news, load_corpus,
                        load_lee50, load_rotten_tomatoes)

__all__ = ["Task", "TASKS"]


@dataclass(frozen=True)
class Task:
    """A downstream task: its name, kind, metric and data.

    Attributes
    ----------
    name : str
        How the records name it.
    kind : {"classification", "similarity"}
    metric : {"accuracy", "spearman"}
    load : callable
        ``load(n_texts=..., random_state=...)`` returns the task's
        :class:`~skpool.datasets.TextDataset` (texts and label codes) or
        :class:`~skpool.datasets.SimilarityDataset` (texts, rated pairs). A
        task built from your data returns the data it was built from (sampled
        once, when built) and ignores both arguments.
    """

    name: str
    kind: str       # "classification" or "similarity"
    metric: str     # "accuracy" or "spearman"
    load: Callable

    @classmethod
    def from_data(cls, source=None, *, texts=None, labels=None, text_column=None,
                  label_column=None, pair_columns=None, score_column=None, id_column=None,
                  name=None, n_texts=None, random_state=None) -> Task:
        """A classification or similarity task from your own data.

        With ``label_column`` (or ``labels``): classification, scored as the
        bundled classification tasks are (stratified k-fold accuracy of the
        pooled features). With ``pair_columns`` and ``score_column``:
        similarity of rated pairs (STS-style: two texts and a human score per
        row), scored as Lee-50 is (Spearman correlation with the scores).

        Parameters
        ----------
        source : str, path-like, pandas.DataFrame, pandas.Series or datasets.Dataset
            What :func:`skpool.datasets.read_corpus` reads: a ``.csv``,
            ``.tsv``, ``.jsonl``, ``.parquet`` or ``.txt`` file,
            ``"hf:NAME[:CONFIG][:SPLIT]"``, a data frame or a dataset. Leave
            it out to give ``texts`` and ``labels`` as arrays instead.
        texts, labels : array-like of shape (n_texts,), optional
            Instead of ``source``: the texts and their labels.
        text_column, label_column, id_column : str, optional
            The columns of the texts (guessed when unambiguous), the labels
            and the ids (default: row or line numbers).
        pair_columns : (str, str), optional
        score_column : str, optional
            Rated pairs: the two text columns and the score column.
        name : str, optional
            The task's name in the records; default: the file's name, or
            ``"texts"`` for arrays and data frames.
        n_texts : int, optional
            Keep a random sample of this many texts (stratified by label; for
            pairs, the pairs among the texts kept); default: every text.
        random_state : int, RandomState instance or None
            Seed of that sample.

        Returns
        -------
        Task

        Raises
        ------
        ValueError
            Naming the file (or source), the row and the column: a missing
            (empty or NaN) label, a label that is neither a string nor an
            integer, labels that mix strings and numbers, a single class,
            fewer than 3 rated pairs or scores that are all the same; and
            everything :func:`~skpool.datasets.read_corpus` refuses.
            (A class with fewer texts than the folds is refused by
            :func:`evaluate`, which knows the folds, before any encoding.)

        Examples
        --------
        >>> from skpool.evaluation import Task
        >>> task = Task.from_data(texts=["a fine film", "dull", "great fun", "too long"],
        ...                       labels=["pos", "neg", "pos", "neg"], name="reviews")
        >>> task.name, task.kind, task.metric
        ('reviews', 'classification', 'accuracy')
        >>> data = task.load(n_texts=None, random_state=0)
        >>> data.labels.tolist(), data.label_names
        ([1, 0, 1, 0], ('neg', 'pos'))
        >>> Task.from_data(texts=["a", "b", "c"], labels=["x", "x", "x"])
        Traceback (most recent call last):
        ...
        ValueError: texts, column 'label': every text has the label 'x'. Expected at least \
two classes for classification.
        """
        arrays = texts is not None or labels is not None
        source, label_column = _arrays_or_source(source, texts, labels, text_column,
                                                 label_column)
        if pair_columns is None and score_column is not None:
            raise ValueError("Expected pair_columns (the two text columns of each rated "
                             "pair) with score_column. Received score_column alone.")
        if pair_columns is not None and label_column is not None:
            raise ValueError("Expected either label_column (a classification task) or "
                             "pair_columns and score_column (a similarity task). Received "
                             "both.")
        if pair_columns is None and label_column is None:
            raise ValueError("Expected label_column (a classification task) or "
                             "pair_columns and score_column (a similarity task): without "
                             "them the texts have nothing to be scored against.")
        if pair_columns is not None and score_column is None:
            raise ValueError("Expected score_column (each pair's human score) with "
                             "pair_columns.")
        corpus = load_corpus(source, n_texts=n_texts, random_state=random_state,
                             text_column=text_column, id_column=id_column,
                             label_column=label_column, pair_columns=pair_columns,
                             score_column=score_column)
        if name is None:
            name = Path(corpus.name).name if isinstance(source, (str, Path)) else "texts"
        if not isinstance(name, str) or not name:
            raise TypeError(f"Expected name to be a non-empty string. Received "
                            f"{describe(name)}.")
        where = name if arrays else corpus.name
        description = f"your data: {where}"
        if label_column is not None:
            codes, names = _label_codes(corpus, where, label_column)
            dataset = TextDataset(texts=list(corpus.texts), labels=codes, label_names=names,
                                  ids=list(corpus.ids), name=name, description=description)
            return cls(name, "classification", "accuracy", functools.partial(_given, dataset))
        scores = np.asarray(corpus.scores, dtype=np.float64)
        if scores.size < 3:
            raise ValueError(f"{where}: {scores.size} rated pair(s). Expected at least 3 for "
                             "a Spearman correlation.")
        if np.ptp(scores) == 0.0:
            raise ValueError(f"{where}, column {score_column!r}: every pair has the score "
                             f"{scores[0]:g}. Expected scores that vary (a rank correlation "
                             "needs ranks).")
        dataset = SimilarityDataset(texts=list(corpus.texts),
                                    pairs=np.asarray(corpus.pairs, dtype=np.int64),
                                    scores=scores, ids=list(corpus.ids), name=name,
                                    description=description)
        return cls(name, "similarity", "spearman", functools.partial(_given, dataset))


def _given(dataset, n_texts=None, random_state=None):
    """The data a task was built with (sampled, if asked, when it was built)."""
    return dataset


def _arrays_or_source(source, texts, labels, text_column, label_column):
    """``source`` as given, or a data frame of ``texts`` and ``labels`` for the reader."""
    if texts is None and labels is None:
        if source is None:
            raise TypeError("Expected a source (a file, a data frame or a dataset) or texts "
                            "and labels. Received neither.")
        return source, label_column
    if source is not None or text_column is not None or label_column is not None:
        raise TypeError("Expected either a source with its columns, or texts and labels as "
                        "arrays. Received both.")
    if texts is None or labels is None:
        raise TypeError("Expected texts and labels together. Received "
                        f"{'texts' if labels is None else 'labels'} alone.")
    import pandas as pd

    texts, labels = list(texts), list(labels)
    if len(texts) != len(labels):
        raise ValueError(f"Expected one label per text. Received {len(texts)} texts and "
                         f"{len(labels)} labels.")
    return pd.DataFrame({"text": texts, "label": pd.Series(labels, dtype=object)}), "label"


def _label_codes(corpus, where: str, column: str):
    """Class codes (indices into the sorted class names) of a corpus's labels, checked."""
    labels, kinds = [], set()
    for k, label in enumerate(corpus.labels):
        if label is None or (isinstance(label, float) and math.isnan(label)):
            raise ValueError(f"{where}, {_row(corpus, k)}, column {column!r}: the label is "
                             "missing (an empty or NaN cell). Expected a label in every row; "
                             "remove the row or fill the cell.")
        if isinstance(label, numbers.Real) and not isinstance(label, numbers.Integral):
            if not float(label).is_integer():
                raise ValueError(f"{where}, {_row(corpus, k)}, column {column!r}: the label "
                                 f"is {label!r}. Expected labels to be strings or integers.")
            label = int(label)
        if isinstance(label, numbers.Integral) and not isinstance(label, bool):
            label = int(label)
            kinds.add("integers")
        elif isinstance(label, str):
            kinds.add("strings")
        else:
            raise ValueError(f"{where}, {_row(corpus, k)}, column {column!r}: the label is "
                             f"{describe(label)}. Expected labels to be strings or integers.")
        labels.append(label)
    if len(kinds) > 1:
        raise ValueError(f"{where}, column {column!r}: the labels mix strings and integers. "
                         "Expected one kind of label.")
    names, codes = np.unique(np.array(labels), return_inverse=True)
    if names.size < 2:
        raise ValueError(f"{where}, column {column!r}: every text has the label "
                         f"{labels[0]!r}. Expected at least two classes for classification.")
    return codes.astype(np.int64), tuple(str(n) for n in names)


def _row(corpus, k: int) -> str:
    """How an error names the ``k``-th text: its line or row, and the user's id."""
    if corpus.id_kind in ("row", "line"):
        return f"{corpus.id_kind} {corpus.ids[k]}"
    return f"id {corpus.ids[k]!r}"


#: Downstream tasks by name (as ``skpool evaluate --dataset`` takes them).
TASKS: dict[str, Task] = {
    "bbc-news": Task("bbc-news", "classification", "accuracy", load_bbc_news),
    "rotten-tomatoes": Task("rotten-tomatoes", "classification", "accuracy",
                            load_rotten_tomatoes),
    "lee-50": Task("lee-50", "similarity", "spearman", load_lee50),
}
