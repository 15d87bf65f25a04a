"""Working memory, and the chunk budget that follows from it (private).

``working_memory`` (MiB) follows scikit-learn: None is
``sklearn.get_config()["working_memory"]``. Streaming chunks of a corpus take
at most :data:`skpool.math._ragged.CHUNK_BYTES` whatever it is, and a smaller
working memory is honoured (:func:`chunk_bytes`).
"""

from __future__ import annotations

import numpy as np

from .._validation import describe
from ..math._ragged import CHUNK_BYTES

__all__ = ["check_working_memory", "chunk_bytes"]


def check_working_memory(working_memory) -> float:
    """Return the working memory in MiB (scikit-learn's setting when None)."""
    if working_memory is None:
        from sklearn import get_config

        working_memory = get_config()["working_memory"]
    if (isinstance(working_memory, bool)
            or not isinstance(working_memory, (int, float, np.integer, np.floating))
            or not np.isfinite(working_memory) or working_memory <= 0):
        raise ValueError(
            "Expected working_memory to be a positive number of MiB. "
            f"Received {describe(working_memory)}."
        )
    return float(working_memory)


def chunk_bytes(working_memory=None) -> int:
    """Bytes a chunk's temporaries may take: ``working_memory`` MiB, at most 8 MiB.

    ``working_memory`` defaults to scikit-learn's setting.
    """
    if working_memory is None:
        from sklearn import get_config

        working_memory = get_config()["working_memory"]
    return int(max(1, min(float(working_memory) * 2**20, CHUNK_BYTES)))
