r"""Pooling kernels over a ragged corpus: one vector per text (private).

A corpus is ``data`` of shape (n_tokens_total, d) and ``offsets`` of shape
(n_texts + 1,), text ``i`` owning rows ``offsets[i]:offsets[i + 1]`` (every
text holds at least one row; the public estimators check that). Each kernel
returns an array of shape (n_texts, d) in the dtype of ``data``:

- :func:`first_token`: row 0 of each text, the ``[CLS]`` / ``<s>`` token when
  the encoder keeps special tokens (sentence-transformers' ``cls`` pooling);
- :func:`last_token`: the last row of each text, the last position of the
  attention mask (sentence-transformers' ``lasttoken`` pooling);
- :func:`max_over_tokens`: the column-wise maximum over each text's rows, the
  maximum over the attention-masked tokens (sentence-transformers' ``max``
  pooling; padding never enters, since a cloud holds no padding).

Mean pooling is a segment mean and lives with the segment sums.

Examples
--------
Two texts, of two rows and of one:

>>> import numpy as np
>>> data = np.array([[1.0, 2.0], [3.0, 0.0], [5.0, 6.0]])
>>> offsets = np.array([0, 2, 3])
>>> first_token(data, offsets)
array([[1., 2.],
       [5., 6.]])
>>> last_token(data, offsets)
array([[3., 0.],
       [5., 6.]])
>>> max_over_tokens(data, offsets)
array([[3., 2.],
       [5., 6.]])
"""

from __future__ import annotations

import numpy as np

__all__ = ["first_token", "last_token", "max_over_tokens"]


def first_token(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Row 0 of each text: array of shape (n_texts, d) (examples: the module's)."""
    return data[offsets[:-1]]


def last_token(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The last row of each text: array of shape (n_texts, d) (examples: the module's)."""
    return data[offsets[1:] - 1]


def max_over_tokens(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Column-wise maximum over each text's rows: array of shape (n_texts, d).

    One ``np.maximum.reduceat`` over the whole corpus: exact (a maximum
    rounds nothing) and valid because no text is empty.
    """
    return np.maximum.reduceat(data, offsets[:-1], axis=0)
