r"""Token sets on disk: one contiguous array and offsets, memory-mapped on reading (private).

The public doors are :meth:`skpool.TokenSets.save` / :meth:`skpool.TokenSets.load`
and :func:`skpool.encoder.encode_to_store`; this module holds the format.

Format (version 1)
------------------
A store is a folder::

    skpool-tokens.json   the header, written last: its presence marks the store complete
    data.npy             (n_tokens, d) token embeddings of every text, stacked in order
    offsets.npy          (n_texts + 1,) int64: text i owns data[offsets[i]:offsets[i + 1]]
    truncated.npy        (n_texts,) bool: which texts the encoder cut at max_length

The ``.npy`` files are plain NumPy files (``np.load(..., mmap_mode="r")`` reads
them). The header is JSON::

    {"format": "skpool-token-store", "format_version": 1, "skpool_version": "0.1.0",
     "dtype": "<f4", "dim": 384, "n_texts": 1000, "n_tokens": 31562, "n_truncated": 0,
     "model": null or {"model": ..., "fingerprint": ..., "layer": ..., ...},
     "texts_sha256": null or the digest of the encoded texts,
     "store_id": a random id, new each time a store is written}

A memory-mapped ``data.npy`` pickles as its path and the ``store_id`` it was
opened with: unpickled after the store was replaced (by another corpus of
the same shape, say), it is refused instead of reading the new data.

A store that a distributed encoder is still writing holds, instead of the
three arrays, ``skpool-tokens-plan.json`` (the same identity fields plus the
partition bounds) and one folder per finished partition,
``parts/000017/{data,offsets,truncated}.npy``. Each partition is written into
a hidden temporary folder and renamed into place in one step, so a partition
folder that exists is complete; a worker killed mid-write leaves only a
temporary folder, which is ignored and removed. A finished partition that is
damaged all the same (a file cut short) is found when the run resumes and
encoded again. When every partition exists they are concatenated (a bounded
number of rows at a time, by one process at a time: several processes may
write one store) into the final arrays, and the header is written last.

A reader refuses a folder without a header (incomplete or not a store), a
format version it does not know, and a header or arrays that are damaged
(:class:`DamagedStore`, naming the store and the fault).
A writer resuming into a folder refuses one written for other texts, another
model or settings, or another skpool version: stores are never mixed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
import warnings
import weakref
from pathlib import Path

import numpy as np

from ._version import __version__

__all__ = ["FORMAT", "FORMAT_VERSION", "HEADER", "PLAN", "StoredArray", "open_stored",
           "save_arrays", "load_arrays", "read_header", "texts_digest", "PartitionedStore",
           "check_mmap_mode", "tell_dask", "backing_file", "scratch_array", "seal",
           "DamagedStore", "file_identity"]

FORMAT = "skpool-token-store"
FORMAT_VERSION = 1
HEADER = "skpool-tokens.json"
PLAN = "skpool-tokens-plan.json"
_ARRAYS = ("data", "offsets", "truncated")
_MMAP_MODES = (None, "r")
# Rows copied at a time when partitions are concatenated (bounded driver memory).
_COPY_BYTES = 64 * 2**20


# ---------------------------------------------------------------------------------------
# A memory map that travels by reference
# ---------------------------------------------------------------------------------------
class StoredArray(np.memmap):
    """A read-only ``np.memmap`` of a ``.npy`` file that pickles as a reference to it.

    Sent to another process (a joblib worker, a dask worker on a shared
    file system) it reopens the file there instead of copying its bytes, so a
    task reads only the rows it touches. Slices and other views are plain
    memory maps and pickle by value, as NumPy arrays do.
    """

    def __array_finalize__(self, obj):
        super().__array_finalize__(obj)
        self._reference = None  # set on the array opened by open_stored only

    def __reduce_ex__(self, protocol):
        reference = getattr(self, "_reference", None)
        if reference is not None and reference[1] == self.shape:
            # the path and what the file held when it was opened: a store replaced
            # since (another corpus of the same shape) is refused, never read instead
            return (_reopen_stored, reference)
        return np.asarray(self).copy().__reduce_ex__(protocol)

    def __reduce__(self):
        return self.__reduce_ex__(2)


_DASK_TOLD = False


def tell_dask() -> None:
    """Have dask treat a :class:`StoredArray` as the small reference it pickles to.

    joblib's dask backend scatters every argument that ``dask.sizeof`` finds
    larger than 1 kB, and scattering serializes a NumPy array by its bytes: a
    memory-mapped corpus would be read whole and copied to a worker. Declared
    small, it travels inside the task, pickled as a reference. Does nothing
    until dask is imported.
    """
    global _DASK_TOLD
    if _DASK_TOLD or "dask" not in sys.modules:
        return
    from dask.sizeof import sizeof

    sizeof.register(StoredArray)(lambda array: 256)
    _DASK_TOLD = True


def open_stored(path) -> StoredArray:
    """Open the ``.npy`` file ``path`` as a read-only :class:`StoredArray`.

    A file that cannot be read, is shorter than its own header says (cut off
    by a full disk or a killed copy) or holds no C-ordered numeric array gives
    a ValueError naming it.
    """
    tell_dask()
    path = os.fspath(path)
    shape, dtype, offset = _npy_layout(path)
    if int(np.prod(shape)) == 0:
        # mmap cannot map zero bytes
        array = np.zeros(shape, dtype=dtype).view(StoredArray)
        array._reference = None
        return array
    array = StoredArray(path, dtype=dtype, mode="r", offset=offset, shape=shape, order="C")
    array._reference = (os.path.abspath(path), tuple(shape), file_identity(path))
    return array


def _npy_layout(path) -> tuple[tuple, np.dtype, int]:
    """``(shape, dtype, data offset)`` of the ``.npy`` file ``path``, read from its
    header; a ValueError naming the file if it is unreadable, not a C-ordered
    numeric array, or shorter than its header says."""
    try:
        with open(path, "rb") as stream:
            version = np.lib.format.read_magic(stream)
            read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                    else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read(stream)
            offset = stream.tell()
            size = os.fstat(stream.fileno()).st_size
    except (OSError, ValueError) as exc:
        raise ValueError(f"Could not read the array file {path}: {exc}") from None
    if dtype.hasobject or fortran or dtype.kind not in "biuf":
        raise ValueError(f"Expected {path} to hold a C-ordered numeric array.")
    needed = offset + int(np.prod(shape)) * dtype.itemsize
    if size < needed:
        raise ValueError(
            f"The array file {path} is truncated: it holds {size} bytes, its header "
            f"({shape}, {dtype}) needs {needed}."
        )
    return tuple(shape), dtype, offset


def file_identity(path) -> str:
    """What distinguishes the file ``path`` from another written at the same place.

    The ``data.npy`` of a token store is named by the store's ``store_id``
    (a random id its header gets each time a store is written), which every
    machine sharing the folder reads alike; any other file (a scratch array)
    by its size and modification time.
    """
    path = Path(os.fspath(path))
    if path.name == "data.npy":
        try:
            store_id = json.loads((path.parent / HEADER).read_text(encoding="utf-8"))[
                "store_id"]
        except (OSError, ValueError, TypeError, KeyError):
            store_id = None
        if isinstance(store_id, str):
            return f"store {store_id}"
    try:
        status = os.stat(path)
    except OSError:
        return "missing"
    return f"file of {status.st_size} bytes modified at {status.st_mtime_ns} ns"


def _reopen_stored(path, shape, identity) -> StoredArray:
    """Unpickle a :class:`StoredArray`: the same file, unchanged since it was pickled."""
    found = file_identity(path)
    if found != identity:
        where = os.path.dirname(path) if os.path.basename(path) == "data.npy" else path
        raise ValueError(
            f"The token store {where} was replaced after these token sets were opened "
            f"from it ({identity} then, {found} now): it no longer holds the data they "
            "refer to. Open the store again (TokenSets.load) and start the computation "
            "again; never replace a store that a running computation reads."
        )
    array = open_stored(path)
    if array.shape != tuple(shape):
        raise ValueError(
            f"The array file {path} changed since it was opened: shape {array.shape}, "
            f"was {tuple(shape)}. Open it again and start the computation again."
        )
    return array


def backing_file(array) -> str | None:
    """The file a memory-mapped array, or a view of one, reads from (else None)."""
    while isinstance(array, np.ndarray):
        if isinstance(array, np.memmap) and getattr(array, "filename", None):
            return array.filename
        array = array.base
    return None


def scratch_array(like, shape, dtype) -> np.ndarray:
    """A writable array for values derived from ``like``, a memory map if ``like`` is one.

    Per-text summaries of a memory-mapped corpus (factor rows, means) are as
    large as the corpus or close to it; they go to a hidden scratch file beside
    the corpus's file (a shared file system on a cluster, so workers can open
    it), or in the temporary folder if that one is read-only. Seal it with
    :func:`seal` once written. In-memory corpora get ``np.empty``.
    """
    source = backing_file(like)
    if source is None:
        return np.empty(shape, dtype=dtype)
    try:
        handle, path = tempfile.mkstemp(prefix=".skpool-scratch-", suffix=".npy",
                                        dir=os.path.dirname(source))
    except OSError:  # a read-only store: this machine's temporary folder
        handle, path = tempfile.mkstemp(prefix=".skpool-scratch-", suffix=".npy")
    os.close(handle)
    return np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=tuple(shape))


def seal(array) -> np.ndarray:
    """Reopen a scratch memory map read-only (a :class:`StoredArray`); its file is
    deleted when the array is no longer used. Other arrays are returned as they are."""
    if not isinstance(array, np.memmap) or not os.path.basename(
            str(array.filename)).startswith(".skpool-scratch-"):
        return array
    array.flush()
    path = array.filename
    del array
    stored = open_stored(path)
    weakref.finalize(stored, _remove, path)
    return stored


def _remove(path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def check_mmap_mode(mmap_mode):
    if mmap_mode not in _MMAP_MODES:
        raise ValueError(
            "Expected mmap_mode to be None (read the arrays into memory) or 'r' (memory-map "
            f"them read-only). Received {mmap_mode!r}."
        )
    return mmap_mode


# ---------------------------------------------------------------------------------------
# Whole stores
# ---------------------------------------------------------------------------------------
def texts_digest(texts) -> str:
    """SHA-256 of a corpus, each text length-prefixed (so boundaries count)."""
    digest = hashlib.sha256()
    for text in texts:
        raw = text.encode("utf-8", "surrogatepass")
        digest.update(len(raw).to_bytes(8, "little"))
        digest.update(raw)
    return digest.hexdigest()


def _json_beside(path: Path, content: dict) -> Path:
    """Write ``content`` to a fresh temporary file beside ``path``, on disk; return its path."""
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(temp, "w", encoding="utf-8") as stream:
        json.dump(content, stream, indent=1, sort_keys=True)
        stream.flush()
        os.fsync(stream.fileno())
    return temp


def _write_json(path: Path, content: dict) -> None:
    os.replace(_json_beside(path, content), path)


def _save_npy(path: Path, array: np.ndarray) -> None:
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(temp, "wb") as stream:
        np.save(stream, np.ascontiguousarray(array), allow_pickle=False)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(temp, path)


def _header(data, offsets, truncated, *, model, texts_sha256) -> dict:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "skpool_version": __version__,
        "dtype": np.dtype(data.dtype).str,
        "dim": int(data.shape[1]),
        "n_texts": int(offsets.size - 1),
        "n_tokens": int(data.shape[0]),
        "n_truncated": int(np.count_nonzero(truncated)),
        "model": model,
        "texts_sha256": texts_sha256,
        # a new id each time a store is written: a pickled memory map refers to it
        "store_id": uuid.uuid4().hex,
    }


def _prepare_folder(path: Path, *, overwrite: bool) -> None:
    if path.exists() and not path.is_dir():
        raise ValueError(f"Expected path to be a folder for the token store. {path} is a file.")
    if path.is_dir() and any(path.iterdir()):
        if not (path / HEADER).is_file() and not (path / PLAN).is_file():
            raise ValueError(
                f"The folder {path} is not empty and holds no skpool token store; refusing "
                "to write into it. Choose an empty or new folder."
            )
        if not overwrite:
            raise ValueError(
                f"The folder {path} already holds a token store. Pass overwrite=True to "
                "replace it, or choose another folder."
            )
        # the header goes first: from here on the folder reads as incomplete
        (path / HEADER).unlink(missing_ok=True)
        (path / PLAN).unlink(missing_ok=True)
        shutil.rmtree(path / "parts", ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)


def save_arrays(path, data, offsets, truncated, *, model=None, texts_sha256=None,
                overwrite=False) -> Path:
    """Write a complete store; the header last, every file through a rename.

    The arrays are trusted (they come from a ``TokenSets``).
    """
    path = Path(os.fspath(path)).expanduser()
    _prepare_folder(path, overwrite=overwrite)
    for name, array in zip(_ARRAYS, (data, offsets, truncated)):
        _save_npy(path / f"{name}.npy", array)
    _write_json(path / HEADER, _header(data, offsets, truncated, model=model,
                                       texts_sha256=texts_sha256))
    return path


class DamagedStore(ValueError):
    """A folder that holds a token store whose header or arrays cannot be used.

    Where the store is a cache of an encoding (:func:`skpool.encoder.encode_to_store`)
    it is encoded again; elsewhere the message names the store and the fault.
    """


def read_header(path) -> dict:
    """The header of the store at ``path``; a clear ValueError if there is none."""
    path = Path(os.fspath(path)).expanduser()
    if not path.is_dir():
        raise ValueError(f"Expected a token store folder. {path} does not exist or is not a "
                         "folder.")
    header_file = path / HEADER
    if not header_file.is_file():
        if (path / PLAN).is_file():
            raise ValueError(
                f"The token store {path} is incomplete: an encoding run into it has not "
                "finished (it holds a partition plan but no header). Run the same "
                "encode_to_store call again to finish it; finished partitions are kept."
            )
        raise ValueError(f"The folder {path} is not a skpool token store (no {HEADER}).")
    try:
        header = json.loads(header_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DamagedStore(f"The token store {path} is damaged: its header {header_file} "
                           f"cannot be read ({exc}).") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise DamagedStore(f"The token store {path} is damaged: {header_file} is not a "
                           "skpool token store header.")
    version = header.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"The token store {path} has format version {version!r}; this skpool "
            f"({__version__}) reads version {FORMAT_VERSION} only. It was written by "
            f"skpool {header.get('skpool_version')!r}: re-encode the corpus, or read it with "
            "that version."
        )
    for field, minimum in (("dim", 1), ("n_texts", 0), ("n_tokens", 0)):
        value = header.get(field)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            found = "no such field" if field not in header else repr(value)
            raise DamagedStore(
                f"The token store {path} is damaged: its header {header_file} needs "
                f"{field!r}, an int >= {minimum}; it holds {found}."
            )
    try:
        dtype = np.dtype(header.get("dtype"))
    except (TypeError, ValueError):
        dtype = None
    if dtype is None or dtype.kind != "f" or not isinstance(header.get("dtype"), str):
        raise DamagedStore(
            f"The token store {path} is damaged: its header {header_file} needs 'dtype', "
            f"a floating-point NumPy dtype such as '<f4'; it holds {header.get('dtype')!r}."
        )
    return header


def load_arrays(path, *, mmap_mode=None):
    """Read a complete store: ``(data, offsets, truncated, header)``.

    With ``mmap_mode="r"`` ``data`` is a :class:`StoredArray` (nothing is read
    until used); ``offsets`` and ``truncated`` are small and always read.
    """
    check_mmap_mode(mmap_mode)
    path = Path(os.fspath(path)).expanduser()
    header = read_header(path)
    arrays = {}
    for name in _ARRAYS:
        file = path / f"{name}.npy"
        try:
            _npy_layout(file)  # a file cut short is named as such, whatever reads it
            arrays[name] = (open_stored(file) if name == "data" and mmap_mode == "r"
                            else np.load(file, allow_pickle=False))
        except (OSError, ValueError, EOFError) as exc:
            raise DamagedStore(f"The token store {path} is damaged: {name}.npy cannot be "
                               f"read ({exc}).") from None
    data, offsets, truncated = arrays["data"], arrays["offsets"], arrays["truncated"]
    expected = {
        "data": ((header["n_tokens"], header["dim"]), np.dtype(header["dtype"])),
        "offsets": ((header["n_texts"] + 1,), np.dtype(np.int64)),
        "truncated": ((header["n_texts"],), np.dtype(bool)),
    }
    for name, (shape, dtype) in expected.items():
        array = arrays[name]
        if array.shape != shape or array.dtype != dtype:
            raise DamagedStore(
                f"The token store {path} is damaged: {name}.npy holds an array of shape "
                f"{array.shape} and dtype {array.dtype}; its header says shape {shape} and "
                f"dtype {dtype}."
            )
    return data, offsets, truncated, header


# ---------------------------------------------------------------------------------------
# A store written one partition at a time (by many workers)
# ---------------------------------------------------------------------------------------
class PartitionedStore:
    """The plan and finished partitions of a store being written by workers.

    Parameters
    ----------
    path : Path
        The store folder.
    identity : dict
        What the stored embeddings depend on: the model (fingerprint and
        settings) and the texts' digest. A folder planned for another identity
        is refused.
    bounds : ndarray of shape (n_partitions + 1,)
        Partition ``k`` holds texts ``bounds[k]:bounds[k + 1]``.
    """

    def __init__(self, path, *, model: dict, texts_sha256: str, bounds):
        self.path = Path(os.fspath(path)).expanduser()
        self.model = model
        self.texts_sha256 = texts_sha256
        self.bounds = np.asarray(bounds, dtype=np.int64)

    # -- the plan -------------------------------------------------------------------------
    def _plan(self) -> dict:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "skpool_version": __version__,
            "model": self.model,
            "texts_sha256": self.texts_sha256,
            "bounds": self.bounds.tolist(),
        }

    def _refuse(self, what: str, found, wanted) -> ValueError:
        return ValueError(
            f"The folder {self.path} holds a token store written for {what} {found}, not "
            f"{wanted}; stores are never mixed. Choose another folder, or delete this one "
            "to encode again."
        )

    def _check_identity(self, found: dict, *, check_bounds: bool) -> None:
        if found.get("format_version") != FORMAT_VERSION:
            raise self._refuse("format version", found.get("format_version"), FORMAT_VERSION)
        if found.get("skpool_version") != __version__:
            raise self._refuse("skpool version", found.get("skpool_version"),
                               __version__)
        if found.get("model") != self.model:
            theirs = found.get("model") or {}
            keys = sorted(k for k in set(theirs) | set(self.model)
                          if theirs.get(k) != self.model.get(k))
            raise self._refuse(
                "another model or settings:",
                ", ".join(f"{k}={theirs.get(k)!r}" for k in keys),
                ", ".join(f"{k}={self.model.get(k)!r}" for k in keys))
        if found.get("texts_sha256") != self.texts_sha256:
            raise self._refuse("other texts: digest", found.get("texts_sha256"),
                               self.texts_sha256)
        if check_bounds and found.get("bounds") != self.bounds.tolist():
            raise ValueError(
                f"The folder {self.path} holds a partly written token store cut into other "
                "partitions; finish it with the partition_size it was started with, or "
                "delete it."
            )

    def complete(self) -> bool:
        """True if the folder already holds the finished store for this identity.

        Raises :class:`DamagedStore` if it holds a finished store that cannot be
        used (see :meth:`discard`), ValueError if one of another identity.
        """
        if not (self.path / HEADER).is_file():
            return False
        self._check_identity(read_header(self.path), check_bounds=False)
        load_arrays(self.path, mmap_mode="r")  # the arrays agree with the header
        return True

    def discard(self) -> None:
        """Remove a damaged store's files (the header first), so that it is written again."""
        for name in (HEADER, PLAN, *(f"{a}.npy" for a in _ARRAYS)):
            (self.path / name).unlink(missing_ok=True)
        shutil.rmtree(self.path / "parts", ignore_errors=True)

    def open(self) -> list[int]:
        """Create or check the plan; return the partitions still to do.

        A finished partition that is damaged (a file cut short by a full disk,
        say) is removed with a warning and counts as still to do. Several
        processes may open the same folder at once: the first writes the plan,
        the others check theirs against it.
        """
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(f"Expected a folder for the token store. {self.path} is a file.")
        self.path.mkdir(parents=True, exist_ok=True)
        plan_file = self.path / PLAN
        if not plan_file.is_file():
            if (self.path / HEADER).is_file():  # another process finished it meanwhile
                return []
            # hidden names are temporary files, possibly another process's plan
            if any(not entry.name.startswith(".") for entry in self.path.iterdir()):
                raise ValueError(
                    f"The folder {self.path} is not empty and holds no skpool token store; "
                    "refusing to write into it. Choose an empty or new folder."
                )
            _create_json(plan_file, self._plan())
        try:
            found = json.loads(plan_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DamagedStore(f"The token store {self.path} is damaged: its plan {plan_file} "
                               f"cannot be read ({exc}).") from None
        if not isinstance(found, dict):
            raise DamagedStore(f"The token store {self.path} is damaged: its plan "
                               f"{plan_file} holds no JSON object.")
        self._check_identity(found, check_bounds=True)
        parts = self.path / "parts"
        parts.mkdir(exist_ok=True)
        # A worker that died mid-write leaves a temporary folder; one still being
        # written (by a process sharing this store) is recent, so only old ones go.
        # finalize() removes the rest with the partitions.
        for leftover in parts.glob(".tmp-*"):
            if _age_s(leftover) > _STALE_S:
                shutil.rmtree(leftover, ignore_errors=True)
        todo = []
        for k in range(self.bounds.size - 1):
            if not self._part(k).is_dir():
                todo.append(k)
                continue
            fault = self._part_fault(k)
            if fault is not None:
                warnings.warn(
                    f"Partition {k} of the token store {self.path} is damaged ({fault}); "
                    "it is encoded again.", UserWarning, stacklevel=3)
                self._remove_part(k)
                todo.append(k)
        return todo

    def _part(self, k: int) -> Path:
        return self.path / "parts" / f"{k:06d}"

    def _part_fault(self, k: int) -> str | None:
        """Why finished partition ``k`` cannot be used, or None if it can."""
        folder = self._part(k)
        n_texts = int(self.bounds[k + 1] - self.bounds[k])
        try:
            shape, dtype, _ = _npy_layout(folder / "data.npy")
            offsets = np.load(folder / "offsets.npy", allow_pickle=False)
            truncated = np.load(folder / "truncated.npy", allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            return str(exc)
        if len(shape) != 2 or dtype.kind != "f":
            return f"data.npy holds an array of shape {shape} and dtype {dtype}"
        if (offsets.shape != (n_texts + 1,) or offsets.dtype.kind not in "iu"
                or offsets[0] != 0 or offsets[-1] != shape[0]):
            return (f"offsets.npy holds {offsets.size - 1} texts ending at token "
                    f"{offsets[-1] if offsets.size else None}; expected {n_texts} texts "
                    f"ending at token {shape[0]}")
        if truncated.shape != (n_texts,):
            return f"truncated.npy holds {truncated.size} flags, expected {n_texts}"
        return None

    def _remove_part(self, k: int) -> None:
        # renamed first, so that the partition disappears in one step
        doomed = self._part(k).with_name(f".tmp-{k:06d}-{uuid.uuid4().hex}")
        try:
            os.rename(self._part(k), doomed)
        except OSError:
            return
        shutil.rmtree(doomed, ignore_errors=True)

    # -- one partition (runs on a worker) ---------------------------------------------------
    def write_part(self, k: int, data, offsets, truncated) -> None:
        """Write partition ``k`` atomically: a temporary folder renamed into place."""
        final = self._part(k)
        # a retried task whose first run finished after all, or a store that another
        # process writing it too has finished
        if final.is_dir() or (self.path / HEADER).is_file():
            return
        temp = final.with_name(f".tmp-{k:06d}-{uuid.uuid4().hex}")
        try:
            temp.mkdir(parents=True)
            for name, array in zip(_ARRAYS, (data, offsets, truncated)):
                _save_npy(temp / f"{name}.npy", array)
            try:
                os.rename(temp, final)
            except OSError:
                if not final.is_dir():
                    raise
                shutil.rmtree(temp, ignore_errors=True)  # another attempt won the race
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            if (self.path / HEADER).is_file():  # finished meanwhile, its parts removed
                return
            raise

    # -- the end ----------------------------------------------------------------------------
    def finalize(self) -> Path:
        """Concatenate the partitions into the final arrays; write the header last.

        One process at a time (a lock file in the folder): a process that waited
        finds the store finished by another and only checks it.
        """
        with _exclusive(self.path / _LOCK):
            try:
                if (self.path / HEADER).is_file():  # another process finished it
                    self._check_identity(read_header(self.path), check_bounds=False)
                    # partitions this process wrote after the other one finished
                    shutil.rmtree(self.path / "parts", ignore_errors=True)
                    return self.path
                self._concatenate()
            finally:
                (self.path / _LOCK).unlink(missing_ok=True)
        return self.path

    def _concatenate(self) -> None:
        # we hold the lock: a temporary file here is from a concatenation that died
        for leftover in self.path.glob(".*.tmp"):
            leftover.unlink(missing_ok=True)
        n_parts = self.bounds.size - 1
        missing = [k for k in range(n_parts) if not self._part(k).is_dir()]
        if missing:
            # every task returned, so the workers wrote them, somewhere else
            shown = ", ".join(str(k) for k in missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise ValueError(
                f"The workers finished partitions {shown} of the token store {self.path}, "
                "but this machine does not see them there. "
                "The store folder must be on a file system the workers share with this "
                "machine (the same path on every machine)."
            )
        # a first pass over the small arrays; the data files are opened one at a time
        # (thousands of open memory maps would exhaust the file descriptors)
        parts = []
        for k in range(n_parts):
            fault = self._part_fault(k)
            if fault is not None:
                raise DamagedStore(
                    f"Partition {k} of the token store {self.path} is damaged ({fault}). "
                    "Run the same call again: damaged partitions are encoded again."
                )
            folder = self._part(k)
            shape, dtype, _ = _npy_layout(folder / "data.npy")
            offsets = np.load(folder / "offsets.npy")
            truncated = np.load(folder / "truncated.npy")
            parts.append((shape, dtype, offsets, truncated))
        dim, dtype = parts[0][0][1], parts[0][1]
        n_tokens = sum(int(p[0][0]) for p in parts)
        temp = self.path / f".data.npy.{uuid.uuid4().hex}.tmp"
        out = np.lib.format.open_memmap(temp, mode="w+", dtype=dtype, shape=(n_tokens, dim))
        offsets = np.zeros(int(self.bounds[-1]) + 1, dtype=np.int64)
        step = max(1, _COPY_BYTES // max(1, dim * dtype.itemsize))
        row = 0
        for k, (shape, _, part_offsets, _) in enumerate(parts):
            data = np.load(self._part(k) / "data.npy", mmap_mode="r")
            for r0 in range(0, shape[0], step):
                r1 = min(shape[0], r0 + step)
                out[row + r0:row + r1] = data[r0:r1]
            del data
            offsets[self.bounds[k] + 1:self.bounds[k + 1] + 1] = part_offsets[1:] + row
            row += shape[0]
        out.flush()
        del out
        truncated = np.concatenate([p[3] for p in parts]).astype(bool)
        os.replace(temp, self.path / "data.npy")
        _save_npy(self.path / "offsets.npy", offsets)
        _save_npy(self.path / "truncated.npy", truncated)
        header = _header(_Shape(n_tokens, dim, dtype), offsets, truncated,
                         model=self.model, texts_sha256=self.texts_sha256)
        _write_json(self.path / HEADER, header)
        # the store is complete: the plan and the partitions are no longer needed
        (self.path / PLAN).unlink(missing_ok=True)
        shutil.rmtree(self.path / "parts", ignore_errors=True)


# A partition's temporary folder untouched this long belongs to no live writer
# (a partition is seconds of work).
_STALE_S = 3600.0
_LOCK = ".skpool-finalize.lock"


def _age_s(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0


def _create_json(path: Path, content: dict) -> None:
    """Write ``path`` unless it exists (then keep the other writer's): first one wins."""
    temp = _json_beside(path, content)
    try:
        os.link(temp, path)  # fails if path exists, also on network file systems
    except FileExistsError:
        pass
    except OSError:  # no hard links here: last one wins, the contents are checked anyway
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


@contextlib.contextmanager
def _exclusive(path: Path):
    """Hold an exclusive lock on the file ``path`` (created if needed) inside the block.

    ``flock`` is released by the kernel when its process dies, so a killed
    run leaves no stale lock; where there is none (Windows) the block runs
    unlocked.
    """
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(path, "a+b") as stream:
        fcntl.flock(stream.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(stream.fileno(), fcntl.LOCK_UN)


class _Shape:
    """Stands in for the data array in :func:`_header` (its shape and dtype only)."""

    def __init__(self, n_tokens: int, dim: int, dtype):
        self.shape = (n_tokens, dim)
        self.dtype = np.dtype(dtype)
