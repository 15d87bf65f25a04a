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
     "texts_sha256": null or the digest of the encoded texts}

A store that a distributed encoder is still writing holds, instead of the
three arrays, ``skpool-tokens-plan.json`` (the same identity fields plus the
partition bounds) and one folder per finished partition,
``parts/000017/{data,offsets,truncated}.npy``. Each partition is written into
a hidden temporary folder and renamed into place in one step, so a partition
folder that exists is complete; a worker killed mid-write leaves only a
temporary folder, which is ignored and removed. When every partition exists
they are concatenated (a bounded number of rows at a time) into the final
arrays, and the header is written last.

A reader refuses a folder without a header (incomplete or not a store), a
format version it does not know, and arrays that disagree with the header.
A writer resuming into a folder refuses one written for other texts, another
model or settings, or another skpool version: stores are never mixed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import uuid
import weakref
from pathlib import Path

import numpy as np

__all__ = ["FORMAT", "FORMAT_VERSION", "HEADER", "PLAN", "StoredArray", "open_stored",
           "save_arrays", "load_arrays", "read_header", "texts_digest", "PartitionedStore",
           "check_mmap_mode", "tell_dask", "backing_file", "scratch_array", "seal"]

FORMAT = "skpool-token-store"
FORMAT_VERSION = 1
HEADER = "skpool-tokens.json"
PLAN = "skpool-tokens-plan.json"
_ARRAYS = ("data", "offsets", "truncated")
_MMAP_MODES = (None, "r")
# Rows copied at a time when partitions are concatenated (bounded driver memory).
_COPY_BYTES = 64 * 2**20


def _skpool_version() -> str:
    from . import __version__

    return __version__


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
            return (open_stored, (reference[0],))
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
    """Open the ``.npy`` file ``path`` as a read-only :class:`StoredArray`."""
    tell_dask()
    path = os.fspath(path)
    with open(path, "rb") as stream:
        version = np.lib.format.read_magic(stream)
        read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                else np.lib.format.read_array_header_2_0)
        shape, fortran, dtype = read(stream)
        offset = stream.tell()
    if dtype.hasobject or fortran:
        raise ValueError(f"Expected {path} to hold a C-ordered numeric array.")
    if int(np.prod(shape)) == 0:
        # mmap cannot map zero bytes
        array = np.zeros(shape, dtype=dtype).view(StoredArray)
        array._reference = None
        return array
    array = StoredArray(path, dtype=dtype, mode="r", offset=offset, shape=shape, order="C")
    array._reference = (os.path.abspath(path), tuple(shape))
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


def _write_json(path: Path, content: dict) -> None:
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(temp, "w", encoding="utf-8") as stream:
        json.dump(content, stream, indent=1, sort_keys=True)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(temp, path)


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
        "skpool_version": _skpool_version(),
        "dtype": np.dtype(data.dtype).str,
        "dim": int(data.shape[1]),
        "n_texts": int(offsets.size - 1),
        "n_tokens": int(data.shape[0]),
        "n_truncated": int(np.count_nonzero(truncated)),
        "model": model,
        "texts_sha256": texts_sha256,
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
        raise ValueError(f"Could not read the token store header {header_file}: {exc}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(f"The file {header_file} is not a skpool token store header.")
    version = header.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"The token store {path} has format version {version!r}; this skpool "
            f"({_skpool_version()}) reads version {FORMAT_VERSION} only. It was written by "
            f"skpool {header.get('skpool_version')!r}: re-encode the corpus, or read it with "
            "that version."
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
            arrays[name] = (open_stored(file) if name == "data" and mmap_mode == "r"
                            else np.load(file, allow_pickle=False))
        except (OSError, ValueError) as exc:
            raise ValueError(f"Could not read {file} of the token store {path}: {exc}") from None
    data, offsets, truncated = arrays["data"], arrays["offsets"], arrays["truncated"]
    expected = {
        "data": ((header["n_tokens"], header["dim"]), np.dtype(header["dtype"])),
        "offsets": ((header["n_texts"] + 1,), np.dtype(np.int64)),
        "truncated": ((header["n_texts"],), np.dtype(bool)),
    }
    for name, (shape, dtype) in expected.items():
        array = arrays[name]
        if array.shape != shape or array.dtype != dtype:
            raise ValueError(
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
            "skpool_version": _skpool_version(),
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
        if found.get("skpool_version") != _skpool_version():
            raise self._refuse("skpool version", found.get("skpool_version"),
                               _skpool_version())
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
        """True if the folder already holds the finished store for this identity."""
        if not (self.path / HEADER).is_file():
            return False
        self._check_identity(read_header(self.path), check_bounds=False)
        return True

    def open(self) -> list[int]:
        """Create or check the plan; remove leftovers; return the partitions still to do."""
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(f"Expected a folder for the token store. {self.path} is a file.")
        plan_file = self.path / PLAN
        if plan_file.is_file():
            try:
                found = json.loads(plan_file.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ValueError(f"Could not read the store plan {plan_file}: {exc}") from None
            self._check_identity(found, check_bounds=True)
        else:
            if self.path.is_dir() and any(self.path.iterdir()):
                raise ValueError(
                    f"The folder {self.path} is not empty and holds no skpool token store; "
                    "refusing to write into it. Choose an empty or new folder."
                )
            self.path.mkdir(parents=True, exist_ok=True)
            _write_json(plan_file, self._plan())
        parts = self.path / "parts"
        parts.mkdir(exist_ok=True)
        for leftover in parts.glob(".tmp-*"):  # written by a worker that died
            shutil.rmtree(leftover, ignore_errors=True)
        for leftover in self.path.glob(".*.tmp"):  # a concatenation that was interrupted
            leftover.unlink(missing_ok=True)
        return [k for k in range(self.bounds.size - 1) if not self._part(k).is_dir()]

    def _part(self, k: int) -> Path:
        return self.path / "parts" / f"{k:06d}"

    # -- one partition (runs on a worker) ---------------------------------------------------
    def write_part(self, k: int, data, offsets, truncated) -> None:
        """Write partition ``k`` atomically: a temporary folder renamed into place."""
        final = self._part(k)
        if final.is_dir():  # a retried task whose first run finished after all
            return
        temp = final.with_name(f".tmp-{k:06d}-{uuid.uuid4().hex}")
        temp.mkdir(parents=True)
        try:
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
            raise

    # -- the end ----------------------------------------------------------------------------
    def finalize(self) -> Path:
        """Concatenate the partitions into the final arrays; write the header last."""
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
            folder = self._part(k)
            offsets = np.load(folder / "offsets.npy")
            truncated = np.load(folder / "truncated.npy")
            data = np.load(folder / "data.npy", mmap_mode="r")
            shape, dtype = data.shape, data.dtype
            del data
            n_texts = int(self.bounds[k + 1] - self.bounds[k])
            if offsets.shape != (n_texts + 1,) or offsets[-1] != shape[0]:
                raise ValueError(
                    f"Partition {k} of the token store {self.path} is damaged ({folder}: "
                    f"{offsets.size - 1} texts, expected {n_texts}). Delete that folder and "
                    "run again to re-encode it."
                )
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
        return self.path


class _Shape:
    """Stands in for the data array in :func:`_header` (its shape and dtype only)."""

    def __init__(self, n_tokens: int, dim: int, dtype):
        self.shape = (n_tokens, dim)
        self.dtype = np.dtype(dtype)
