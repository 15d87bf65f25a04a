"""An on-disk cache of token embeddings, one file per (text, settings, layer).

Per-text granularity is the point: cross-validation folds and repeated runs
share most texts, so each text is encoded once whatever corpus it comes in.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["TokenCache", "cache_location"]

_FORMAT = "skpool-tokens-v1"


def cache_location(cache) -> Path | None:
    """The folder of a ``cache`` argument: ``None``, a path, or a ``joblib.Memory``."""
    if cache is None:
        return None
    location = getattr(cache, "location", cache)  # joblib.Memory: its folder
    if location is None:  # joblib.Memory(None) caches nothing
        return None
    return Path(os.fspath(location)).expanduser()


class TokenCache:
    """Files ``<folder>/skpool-tokens-v1/<namespace>/<ab>/<key>.npz``.

    Parameters
    ----------
    folder : Path
    namespace : str
        A digest of the model identity and every setting that changes the
        output (layer, max_length, special_tokens); texts are keyed inside it.
    """

    def __init__(self, folder: Path, namespace: str):
        self.root = Path(folder) / _FORMAT / namespace[:32]

    @staticmethod
    def text_key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

    def _path(self, key: str, layer: int) -> Path:
        return self.root / key[:2] / f"{key}-{layer}.npz"

    def get(self, key: str, layer: int):
        """``(tokens, truncated)`` or ``None`` on a miss (or an unreadable file)."""
        path = self._path(key, layer)
        try:
            with np.load(path, allow_pickle=False) as stored:
                return stored["tokens"], bool(stored["truncated"])
        except (OSError, ValueError, KeyError):
            return None

    def put(self, key: str, layer: int, tokens: np.ndarray, truncated: bool) -> None:
        path = self._path(key, layer)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: readers in other processes never see half a file.
        handle, temp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as stream:
                np.savez(stream, tokens=np.ascontiguousarray(tokens, dtype=np.float32),
                         truncated=np.bool_(truncated))
            os.replace(temp, path)
        except BaseException:
            with_suppressed_unlink(temp)
            raise


def with_suppressed_unlink(path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
