"""An on-disk cache of token embeddings, one file per (text, settings, layer).

Per-text granularity is the point: cross-validation folds and repeated runs
share most texts, so each text is encoded once whatever corpus it comes in.

Each namespace folder (one model with one set of encoding settings) holds a
``settings.json`` naming the model and settings, so that :func:`cache_summary`
can report the cache per model. A file is touched when it is read, so its
modification time is its last use and :func:`clear_cache` with a size limit
removes the least recently used entries first.

Nothing read from disk is trusted: an entry that cannot be read (truncated,
empty, flipped bytes) or that fails the checks (a 2-D float32 array of the
model's dimension, at most ``max_length`` rows, finite, the same number of
rows at every layer) counts as a miss, is recorded in ``rejected`` for one
warning, and is rewritten when the text is encoded again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

__all__ = ["TokenCache", "cache_location", "skpool_home", "default_cache_folder",
           "cache_summary", "clear_cache", "folder_state", "read_model_memo",
           "write_model_memo"]

_FORMAT = "skpool-tokens-v1"
# What a model folder's cache lookups need (fingerprint, layer count, ...),
# remembered per folder so that a run served wholly from the cache loads no
# model (torch, transformers and the weights cost hundreds of MB).
_MODELS = "skpool-models-v1"
_MEMO_FIELDS = {"fingerprint": str, "n_layers": int, "dim": int, "default_max_length": int,
                "position_limit": (int, type(None)), "n_special": int}
_SETTINGS = "settings.json"
# A temporary file this old belongs to no live writer (a write is one text's
# tokens: milliseconds); one left by a killed run goes sooner, see _orphaned.
_TMP_MAX_AGE_S = 600.0
_SWEPT: set[Path] = set()
_SWEPT_LOCK = threading.Lock()


def skpool_home() -> Path:
    """skpool's own folder: ``$SKPOOL_HOME``, by default ``~/.cache/skpool``."""
    home = os.environ.get("SKPOOL_HOME") or os.path.join("~", ".cache", "skpool")
    return Path(home).expanduser()


def default_cache_folder() -> Path:
    """The token cache the ``skpool`` command uses by default: ``$SKPOOL_HOME/tokens``."""
    return skpool_home() / "tokens"


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


def folder_state(path: Path) -> list:
    """``[relative path, target, size, mtime_ns]`` of every file under a model folder, sorted.

    Any change of a file (rewritten, replaced, a hub snapshot's link pointed at
    another blob, a file added or removed) changes this list.
    """
    path = Path(path)
    state = []
    for file in sorted(p for p in path.rglob("*") if not p.is_dir()):
        stat = file.stat()  # follows links: a hub snapshot's blobs
        state.append([file.relative_to(path).as_posix(), os.path.realpath(file),
                      stat.st_size, stat.st_mtime_ns])
    return state


def _memo_path(folder: Path, model_path: Path) -> Path:
    name = hashlib.sha256(os.fsencode(os.path.realpath(model_path))).hexdigest()[:32]
    return Path(folder) / _MODELS / f"{name}.json"


def _memo_digest(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def read_model_memo(folder: Path, model_path: Path) -> dict | None:
    """The remembered facts of the model folder ``model_path``, or ``None``.

    ``None`` (so the model is loaded and the facts computed again) when
    there is no memo, when any file of the model folder changed since it was
    written (see :func:`folder_state`), or when the memo is unreadable,
    incomplete or fails its own checksum (a corrupt file is never trusted).
    """
    path = _memo_path(folder, model_path)
    try:
        memo = json.loads(path.read_text(encoding="utf-8"))
        body, check = memo["body"], memo["sha256"]
        values = body["values"]
        if (check != _memo_digest(body) or body["model_path"] != os.path.realpath(model_path)
                or set(values) != set(_MEMO_FIELDS)
                or not all(isinstance(values[k], t) and not isinstance(values[k], bool)
                           for k, t in _MEMO_FIELDS.items())):
            return None
        if body["files"] != folder_state(model_path):
            return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return dict(values)


def write_model_memo(folder: Path, model_path: Path, files: list, values: dict) -> None:
    """Remember ``values`` (the keys of ``_MEMO_FIELDS``) for ``model_path``.

    ``files`` is :func:`folder_state` taken *before* the model was loaded, so a
    file changed while loading makes the memo stale, never wrong. A cache
    that cannot be written is not an error: the model just loads next time.
    """
    body = {"model_path": os.path.realpath(model_path), "files": files,
            "values": {k: values[k] for k in _MEMO_FIELDS}}
    path = _memo_path(folder, model_path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f"{path.stem}.",
                                        suffix=f".{os.getpid()}.tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump({"body": body, "sha256": _memo_digest(body)}, stream)
            os.replace(temp, path)
        except BaseException:
            _unlink_quietly(temp)
            raise
    except OSError:
        pass


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

    def __init__(self, folder: Path, namespace: str, *, dim: int, max_length: int,
                 settings: dict | None = None):
        self.root = Path(folder) / _FORMAT / namespace[:32]
        self.dim = int(dim)
        self.max_length = int(max_length)
        self.settings = dict(settings or {})
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
            _touch(path)
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

    def _write_settings(self) -> None:
        """Name the model and settings of this namespace (for :func:`cache_summary`)."""
        target = self.root / _SETTINGS
        if target.is_file() or not self.settings:
            return
        handle, temp = tempfile.mkstemp(dir=self.root, prefix=f"{_SETTINGS}.",
                                        suffix=f".{os.getpid()}.tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(self.settings, stream, sort_keys=True)
            os.replace(temp, target)
        except BaseException:
            _unlink_quietly(temp)
            raise

    def put(self, key: str, layer: int, tokens: np.ndarray, truncated: bool) -> None:
        path = self._path(key, layer)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._write_settings()
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


def _touch(path: Path) -> None:
    """Mark an entry as just used (its modification time); a read-only cache stays as is."""
    try:
        os.utime(path)
    except OSError:
        pass


def _entries(folder: Path):
    """``(namespace folder, [(path, size, mtime), ...])`` for each namespace under ``folder``."""
    base = Path(folder) / _FORMAT
    if not base.is_dir():
        return
    for root in sorted(p for p in base.iterdir() if p.is_dir()):
        files = []
        for path in root.glob("*/*.npz"):
            try:
                stat = path.stat()
            except OSError:  # removed meanwhile
                continue
            files.append((path, stat.st_size, stat.st_mtime))
        yield root, files


def cache_summary(folder) -> dict:
    """What the token cache under ``folder`` holds, in total and per model.

    Parameters
    ----------
    folder : str or os.PathLike
        The cache folder (as given to ``TokenEncoder(cache=...)``).

    Returns
    -------
    dict
        ``folder`` (str), ``exists`` (bool), ``n_entries`` (files, one per
        text and layer), ``n_bytes`` and ``models``: one dict per model and
        settings with ``model``, ``max_length``, ``special_tokens``,
        ``n_texts``, ``layers`` (sorted list), ``n_entries``, ``n_bytes`` and
        ``last_used`` (POSIX time, None when empty), largest first.
    """
    folder = Path(os.fspath(folder)).expanduser()
    models = []
    for root, files in _entries(folder):
        try:
            settings = json.loads((root / _SETTINGS).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            settings = {}
        keys, layers = set(), set()
        for path, _, _ in files:
            key, _, layer = path.stem.rpartition("-")
            keys.add(key)
            if layer.isdigit():
                layers.add(int(layer))
        models.append({
            "model": str(settings.get("model", f"(unknown: {root.name})")),
            "max_length": settings.get("max_length"),
            "special_tokens": settings.get("special_tokens"),
            "n_texts": len(keys),
            "layers": sorted(layers),
            "n_entries": len(files),
            "n_bytes": int(sum(size for _, size, _ in files)),
            "last_used": max((mtime for _, _, mtime in files), default=None),
        })
    models.sort(key=lambda m: -m["n_bytes"])
    return {
        "folder": str(folder),
        "exists": (folder / _FORMAT).is_dir(),
        "n_entries": sum(m["n_entries"] for m in models),
        "n_bytes": sum(m["n_bytes"] for m in models),
        "models": models,
    }


def clear_cache(folder, *, max_bytes: int | None = None) -> tuple[int, int]:
    """Empty the token cache under ``folder``, or shrink it to ``max_bytes``.

    Parameters
    ----------
    folder : str or os.PathLike
        The cache folder (as given to ``TokenEncoder(cache=...)``).
    max_bytes : int, optional
        Keep the most recently used entries that fit in this many bytes and
        remove the others (least recently used first). None removes every
        entry (and the model memos, ``skpool-models-v1/``). Only skpool's own files
        (``skpool-tokens-v1/``, ``skpool-models-v1/``) are touched.

    Returns
    -------
    (int, int)
        Entries removed and bytes freed.
    """
    folder = Path(os.fspath(folder)).expanduser()
    everything = [(path, size, mtime) for _, files in _entries(folder) for path, size, mtime
                  in files]
    if max_bytes is None:
        victims = everything
    else:
        victims = []
        total = sum(size for _, size, _ in everything)
        for entry in sorted(everything, key=lambda e: e[2]):  # oldest use first
            if total <= max_bytes:
                break
            victims.append(entry)
            total -= entry[1]
    removed = freed = 0
    for path, size, _ in victims:
        try:
            path.unlink()
        except OSError:
            continue
        removed += 1
        freed += size
    base = folder / _FORMAT
    if max_bytes is None and base.is_dir():
        shutil.rmtree(base, ignore_errors=True)  # settings files and empty folders too
    if max_bytes is None:
        shutil.rmtree(folder / _MODELS, ignore_errors=True)
    elif base.is_dir():
        for root, files in _entries(folder):
            for sub in root.iterdir():
                if sub.is_dir():
                    try:
                        sub.rmdir()  # only when empty
                    except OSError:
                        pass
            if not files:
                shutil.rmtree(root, ignore_errors=True)
    return removed, freed


def _unlink_quietly(path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
