"""An on-disk cache of token embeddings, one file per (text, settings, layer).

Per-text granularity is the point: cross-validation folds and repeated runs
share most texts, so each text is encoded once whatever corpus it comes in.

Nothing read from disk is trusted: an entry that cannot be read (truncated,
empty, flipped bytes) or that fails the checks (a 2-D float32 array of the
model's dimension, at most ``max_length`` rows, finite, the same number of
rows at every layer) counts as a miss, is recorded in ``rejected`` for one
warning, and is rewritten when the text is encoded again.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

__all__ = ["TokenCache", "cache_location"]

_FORMAT = "skpool-tokens-v1"
# A temporary file this old belongs to no live writer (a write is one text's
# tokens: milliseconds); one left by a killed run goes sooner, see _orphaned.
_TMP_MAX_AGE_S = 600.0
_SWEPT: set[Path] = set()
_SWEPT_LOCK = threading.Lock()


def cache_location(cache) -> Path | None:
    """The folder of a ``cache`` argument: ``None``, a path, or a ``joblib.Memory``.

    Only a Memory's folder (``Memory.location``) is used; its other settings
    do not apply to skpool's files.
    """
    if cache is None:
        return None
    location = getattr(cache, "location", cache)  # joblib.Memory: its folder
    if location is None:  # joblib.Memory(None) caches nothing
        return None
    return Path(os.fspath(location)).expanduser()


def _writer_is_gone(path: Path) -> bool:
    """Whether the process named in a temporary file's name no longer runs here."""
    try:
        pid = int(path.name.split(".")[-2])
    except (IndexError, ValueError):
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # it exists but belongs to someone else
        return False
    return False


def _orphaned(path: Path, now: float) -> bool:
    try:
        age = now - path.stat().st_mtime
    except OSError:
        return False
    return age > _TMP_MAX_AGE_S or _writer_is_gone(path)


class TokenCache:
    """Files ``<folder>/skpool-tokens-v1/<namespace>/<ab>/<key>-<layer>.npz``.

    Parameters
    ----------
    folder : Path
    namespace : str
        A digest of the model identity and every setting that changes the
        output (max_length, special_tokens); texts are keyed inside it.
    dim : int
        The model's embedding dimension: every entry must have it.
    max_length : int
        No entry may hold more tokens.

    Attributes
    ----------
    root : Path
        The namespace's folder.
    rejected : list of (Path, str)
        Entries found unusable since this object was made, with the reason.
    """

    def __init__(self, folder: Path, namespace: str, *, dim: int, max_length: int):
        self.root = Path(folder) / _FORMAT / namespace[:32]
        self.dim = int(dim)
        self.max_length = int(max_length)
        self.rejected: list[tuple[Path, str]] = []
        with _SWEPT_LOCK:
            first_visit = self.root not in _SWEPT
            _SWEPT.add(self.root)
        if first_visit:
            self.remove_orphans()

    @staticmethod
    def text_key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

    def _path(self, key: str, layer: int) -> Path:
        return self.root / key[:2] / f"{key}-{layer}.npz"

    def remove_orphans(self) -> int:
        """Delete temporary files left by killed writers; return how many went."""
        now = time.time()
        removed = 0
        for temp in self.root.glob("*/*.tmp"):
            if _orphaned(temp, now):
                try:
                    temp.unlink()
                    removed += 1
                except OSError:
                    pass
        return removed

    def _read(self, path: Path):
        """``(tokens, truncated)`` of a valid entry, ``None`` on a miss; records rejects."""
        if not path.is_file():
            return None
        try:
            # Our own handle: np.load leaks its file when the zip is unreadable.
            with open(path, "rb") as stream, np.load(stream, allow_pickle=False) as stored:
                tokens = stored["tokens"]
                truncated = stored["truncated"]
        except Exception as exc:  # noqa: BLE001 - BadZipFile, EOFError, zlib.error, ...
            self.rejected.append((path, f"unreadable: {type(exc).__name__}"))
            return None
        problem = None
        if tokens.dtype != np.float32 or tokens.ndim != 2:
            problem = f"holds {tokens.dtype} of shape {tokens.shape}, not float32 (n, d)"
        elif tokens.shape[1] != self.dim or not 1 <= tokens.shape[0] <= self.max_length:
            problem = (f"holds shape {tokens.shape}, not (1..{self.max_length}, {self.dim})")
        elif truncated.shape != () or truncated.dtype != np.bool_:
            problem = "its truncation flag is not one boolean"
        elif not np.isfinite(tokens).all():
            problem = "holds NaN or infinite values"
        if problem is not None:
            self.rejected.append((path, problem))
            return None
        return tokens, bool(truncated)

    def get_layers(self, key: str, layers: list[int]):
        """``({layer: tokens}, truncated)`` when every layer is stored and valid, else ``(None, False)``."""
        found = {}
        truncated = False
        for layer in layers:
            entry = self._read(self._path(key, layer))
            if entry is None:
                return None, False
            found[layer], cut = entry
            truncated |= cut
        lengths = {len(tokens) for tokens in found.values()}
        if len(lengths) > 1:
            self.rejected.append((self._path(key, layers[0]),
                                  f"its layers hold different token counts {sorted(lengths)}"))
            return None, False
        return found, truncated

    def put(self, key: str, layer: int, tokens: np.ndarray, truncated: bool) -> None:
        path = self._path(key, layer)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: readers in other processes never see half a file.
        # The writer's pid is in the name, so a later run can tell an orphan.
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f"{path.stem}.",
                                        suffix=f".{os.getpid()}.tmp")
        try:
            with os.fdopen(handle, "wb") as stream:
                np.savez(stream, tokens=np.ascontiguousarray(tokens, dtype=np.float32),
                         truncated=np.bool_(truncated))
            os.replace(temp, path)
        except BaseException:
            _unlink_quietly(temp)
            raise


def _unlink_quietly(path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
