"""STAGING (engineer D): the Lee-50 loader, to be moved into skpool/datasets.py."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .datasets import DataSource, _decode, _sample

LEE_SOURCE = DataSource("gensim", "gensim", "4.4.0", "test/test_data")


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

    Raises
    ------
    DatasetNotInstalledError
        If gensim is not installed (the message gives the pip command).

    Examples
    --------
    >>> lee = load_lee50()
    >>> len(lee), lee.pairs.shape, float(lee.scores.max()) <= 1.0
    (50, (1225, 2), True)
    >>> load_lee50(n_texts=10, random_state=0).pairs.shape
    (45, 2)
    """
    texts, pairs, scores = _read_lee(LEE_SOURCE.locate("Lee-50"))
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
