"""Finished results of :func:`~skpool.evaluation.evaluate` kept on disk as they complete.

A journal is a JSON-lines file, one line per finished (model, layer, task,
pooling) result: ``{"key": ..., "record": ..., "diagnostics": [...]}``. The
key is a hash of everything the result depends on (the settings that shape
the numbers, the model's fingerprint -- the SHA-256 of its weights,
configuration and tokenizer --, the task's data, the layer and the pooling), so a
journal can only ever hand back a result computed from the same inputs; a
line written under other settings is simply never asked for. Each line is
written and flushed to the file system (``fsync``) before the run goes on,
so a crash or a kill loses at most the result being computed; a line cut
short by a kill is dropped when the journal is opened again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
from dataclasses import asdict
from pathlib import Path

from ._records import EvaluationRecord, TextDiagnostic
from ._stats import QuintileBin

#: The journal's format; a change of what a record or a key holds changes it (v2: the
#: model is keyed by its fingerprint, no longer by its folder).
FORMAT = "skpool-evaluate-journal-v2"


def _lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


#: The journals this process holds: the lock file's path -> its open file (see _hold).
_HELD: dict[str, object] = {}


def _hold(path: Path):
    """Take the exclusive advisory lock (``flock``) of the journal at ``path``; its open file.

    A second process opening the same journal is refused at once with a
    ``ValueError`` naming the holder, instead of both appending to (and one
    rewriting or removing) the same file; ``skpool cache clear`` leaves a held
    journal alone. The kernel drops the lock when its process ends, killed or
    not, so a kill never leaves a journal locked. This process opening it
    again (a notebook rerunning after an error) takes the lock over. None
    where ``fcntl`` does not exist (Windows): nothing is locked there.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return None
    lock = _lock_path(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    key = os.path.abspath(lock)
    previous = _HELD.pop(key, None)
    if previous is not None:
        previous.close()  # this process's own earlier hold
    handle = open(lock, "a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "another process"
        handle.close()
        raise ValueError(
            f"Another run ({owner}) is writing the evaluation journal {path}: wait for it to "
            "finish (a rerun then resumes from it), or use another journal (for skpool "
            "evaluate: other arguments or another SKPOOL_HOME)."
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"process {os.getpid()} on {socket.gethostname()}")
    handle.flush()
    _HELD[key] = handle
    return handle


def _release(path: Path, handle) -> None:
    if handle is None or handle.closed:
        return
    key = os.path.abspath(_lock_path(path))
    if _HELD.get(key) is handle:
        del _HELD[key]
        with contextlib.suppress(OSError):
            os.unlink(key)
    handle.close()


def in_use(path) -> bool:
    """Whether a running process holds the journal at ``path`` (see :func:`_hold`)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return False
    try:
        handle = open(_lock_path(Path(path)), encoding="utf-8")
    except OSError:  # no lock file: nobody holds it
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def journal_files(folder) -> list[tuple[Path, int]]:
    """The journals in ``folder`` (with a rewrite a kill cut short) and their sizes.

    A completed run removes its own journal, so these are runs that were
    killed or failed, or runs still going (see :func:`in_use`).
    """
    folder = Path(folder)
    found = []
    for pattern in ("run-*.jsonl", "run-*.jsonl.tmp"):
        for path in sorted(folder.glob(pattern)):
            try:
                found.append((path, path.stat().st_size))
            except OSError:  # removed meanwhile (its run completed)
                pass
    return found


def clear_journals(folder) -> tuple[list, list]:
    """Remove the journals in ``folder`` that no running process holds, and the lock files
    killed runs left; return ``(removed, kept)``, each a list of ``(path, size)``."""
    removed, kept = [], []
    for path, size in journal_files(folder):
        journal = path.with_name(path.name.removesuffix(".tmp"))
        (kept if in_use(journal) else removed).append((path, size))
    for path, _ in removed:
        path.unlink(missing_ok=True)
    for lock in Path(folder).glob("run-*.jsonl.lock"):
        if not in_use(lock.with_suffix("")):
            lock.unlink(missing_ok=True)
    return removed, kept


def entry_key(**parts) -> str:
    """The hash naming one result: of ``parts`` (JSON-ready values), in a fixed order."""
    text = json.dumps({"format": FORMAT, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Journal:
    """The finished results of one run, read from and appended to ``path``.

    The journal is held by this object, from its creation until :meth:`close`,
    :meth:`remove` or its collection: another process opening the same file
    meanwhile gets a ``ValueError`` naming this one.

    Parameters
    ----------
    path : str or os.PathLike
        The JSON-lines file; created (with its folder) on the first result.
    """

    def __init__(self, path):
        self.path = Path(os.fspath(path)).expanduser()
        self._done: dict[str, tuple[EvaluationRecord, tuple]] = {}
        self._lock = None
        if self.path.is_dir():
            raise ValueError(f"Expected the evaluation journal {self.path} to be a file. "
                             "Received a folder.")
        self._lock = _hold(self.path)  # before reading: the read rewrites the file
        if self.path.exists():
            self._read()

    def _read(self) -> None:
        kept = []
        with open(self.path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    entry = json.loads(line)
                    record = EvaluationRecord.from_dict(entry["record"])
                    diagnostics = tuple(_diagnostic(d) for d in entry["diagnostics"])
                except (ValueError, KeyError, TypeError):
                    continue  # cut short by a kill, or not a result line: computed again
                self._done[entry["key"]] = (record, diagnostics)
                kept.append(line if line.endswith("\n") else line + "\n")
        # Rewrite without the lines dropped, so the next line does not continue a cut one.
        partial = self.path.with_name(self.path.name + ".tmp")
        partial.write_text("".join(kept), encoding="utf-8")
        os.replace(partial, self.path)

    def __len__(self) -> int:
        return len(self._done)

    def get(self, key: str, *, needs_diagnostics: bool = False):
        """``(record, diagnostics)`` finished under ``key``, or None.

        A result written without the per-text diagnostic does not count when
        ``needs_diagnostics``: it is computed again, with it.
        """
        found = self._done.get(key)
        if found is None or (needs_diagnostics and not found[1]):
            return None
        return found

    def add(self, key: str, record: EvaluationRecord, diagnostics=()) -> None:
        """Append one finished result and flush it to disk."""
        entry = {"key": key, "record": record.to_dict(),
                 "diagnostics": [_diagnostic_dict(d) for d in diagnostics]}
        line = json.dumps(entry, allow_nan=False) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        self._done[key] = (record, tuple(diagnostics))

    def remove(self) -> None:
        """Delete the journal (the run is complete and its results are kept elsewhere)."""
        self.path.unlink(missing_ok=True)
        self.close()

    def close(self) -> None:
        """Let other processes open the journal (it stays on disk)."""
        _release(self.path, self._lock)

    def __del__(self):
        self.close()


def _diagnostic_dict(diagnostic: TextDiagnostic) -> dict:
    return {"model": diagnostic.model, "task": diagnostic.task, "layer": diagnostic.layer,
            "pooling": diagnostic.pooling, "by": diagnostic.by,
            "bins": [asdict(b) for b in diagnostic.bins]}


def _diagnostic(values: dict) -> TextDiagnostic:
    return TextDiagnostic(model=values["model"], task=values["task"], layer=values["layer"],
                          pooling=values["pooling"], by=values["by"],
                          bins=tuple(QuintileBin(**b) for b in values["bins"]))
