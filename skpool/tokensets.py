"""The token clouds of a corpus: :class:`TokenSets` (one contiguous array and offsets)
and the checks every public function runs on token clouds."""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from ._store import StoredArray, check_mmap_mode, load_arrays, save_arrays
from ._validation import describe

__all__ = ["TokenSets", "check_cloud", "check_token_sets"]

# Rows of tokens checked for NaN/inf at a time (bounded memory on large corpora).
_FINITE_CHUNK_BYTES = 8 * 2**20


class TokenSets:
    """The token embeddings of a corpus, one ``(n_i, d)`` cloud per text.

    All clouds live in one contiguous array ``data`` of shape
    ``(sum(n_i), d)``; text ``i`` is ``data[offsets[i]:offsets[i + 1]]``.
    Indexing with an integer returns that text's cloud as a read-only view;
    indexing with a slice, a list of integers or a boolean mask returns a new
    :class:`TokenSets` (so ``tokens[train_index]`` works inside
    cross-validation). A plain list of 2-D arrays is accepted wherever a
    ``TokenSets`` is.

    Parameters
    ----------
    data : ndarray of shape (n_tokens_total, d)
        The token embeddings of all texts, stacked in order.
    offsets : ndarray of shape (n_texts + 1,)
        Start of each text in ``data``; ``offsets[0] == 0`` and
        ``offsets[-1] == len(data)``; every text holds at least one token.
    truncated : array-like of bool of shape (n_texts,), optional
        Which texts the encoder cut at its ``max_length`` (all ``False`` when
        omitted). Indexing and ``take`` carry it along.

    Attributes
    ----------
    lengths : ndarray of shape (n_texts,)
        Number of tokens of each text.
    dim : int
        Embedding dimension ``d``.
    n_truncated : int
        How many of these texts were truncated by the encoder.

    See Also
    --------
    TokenEncoder : produces a ``TokenSets`` from texts.
    TokenSets.save, TokenSets.load : a corpus on disk, memory-mapped on reading
        (``load(path, mmap_mode="r")``), for corpora larger than memory.

    Examples
    --------
    >>> import numpy as np
    >>> from skpool import TokenSets
    >>> tokens = TokenSets.from_arrays([np.ones((3, 4)), np.zeros((2, 4))])
    >>> len(tokens), tokens.dim, tokens.lengths.tolist()
    (2, 4, [3, 2])
    >>> tokens[1].shape
    (2, 4)
    >>> len(tokens[[1, 0, 1]])
    3
    """

    __slots__ = ("_data", "_offsets", "_truncated", "_checked_finite")

    def __init__(self, data, offsets, *, truncated=None):
        data = data if isinstance(data, StoredArray) else np.asarray(data)
        offsets = np.asarray(offsets)
        if data.ndim != 2:
            raise ValueError(
                f"Expected data to be a (n_tokens_total, d) array. Received shape {data.shape}."
            )
        if offsets.ndim != 1 or offsets.size < 1 or not np.issubdtype(offsets.dtype, np.integer):
            raise ValueError(
                "Expected offsets to be a 1-D integer array of length n_texts + 1. "
                f"Received {describe(offsets)}."
            )
        offsets = offsets.astype(np.int64)
        if offsets[0] != 0 or offsets[-1] != data.shape[0]:
            raise ValueError(
                f"Expected offsets to start at 0 and end at len(data)={data.shape[0]}. "
                f"Received {offsets[0]} ... {offsets[-1]}."
            )
        steps = np.diff(offsets)
        if (steps <= 0).any():
            bad = int(np.flatnonzero(steps <= 0)[0])
            raise ValueError(
                f"Expected every text to hold at least one token. Text {bad} holds {steps[bad]}."
            )
        n_texts = offsets.size - 1
        if truncated is None:
            truncated = np.zeros(n_texts, dtype=bool)
        else:
            truncated = np.array(truncated)  # a copy: the flags below are ours
            if truncated.shape != (n_texts,) or truncated.dtype != bool:
                raise ValueError(
                    f"Expected truncated to be a boolean array of shape ({n_texts},). "
                    f"Received {describe(truncated)}."
                )
        if not (isinstance(data, StoredArray) and data.flags.c_contiguous):
            # A memory-mapped store stays mapped (and pickles as a reference to it).
            # Anything else becomes a view, so that the read-only flag set below is
            # the container's own and the caller's array stays writable.
            data = np.ascontiguousarray(data).view()
        self._data = data
        self._offsets = offsets
        self._truncated = truncated
        # a memory-mapped store, once checked, is not read again for NaN/inf (below)
        self._checked_finite = False
        self._data.flags.writeable = False
        self._offsets.flags.writeable = False
        self._truncated.flags.writeable = False

    # -- construction --------------------------------------------------------------------
    @classmethod
    def from_arrays(cls, arrays, *, dtype=None, name: str = "tokens") -> "TokenSets":
        """Build a ``TokenSets`` from a sequence of ``(n_i, d)`` arrays.

        Every array is checked: 2-D, at least one token, finite, one common
        dimension. Errors name the offending text's index.

        Parameters
        ----------
        arrays : sequence of array-like of shape (n_i, d)
        dtype : numpy dtype, optional
            Defaults to the common floating type of the inputs (float32 stays
            float32; integers become float64).
        name : str, default="tokens"
            The argument's name, for error messages.

        Returns
        -------
        TokenSets
        """
        if isinstance(arrays, TokenSets):
            return arrays if dtype is None else arrays.astype(dtype)
        arrays = list(arrays)
        if not arrays:
            raise ValueError(f"Expected {name} to hold at least one token cloud. Received none.")
        checked = []
        dim = None
        for index, array in enumerate(arrays):
            array = check_cloud(array, name=name, index=index, dim=dim)
            dim = array.shape[1]
            checked.append(array)
        if dtype is None:
            dtype = np.result_type(*[a.dtype for a in checked])
        offsets = np.zeros(len(checked) + 1, dtype=np.int64)
        np.cumsum([a.shape[0] for a in checked], out=offsets[1:])
        data = np.concatenate(checked, axis=0).astype(dtype, copy=False)
        return cls(data, offsets)

    # -- views ---------------------------------------------------------------------------
    @property
    def data(self) -> np.ndarray:
        """ndarray of shape (n_tokens_total, d): all tokens, read-only."""
        return self._data

    @property
    def offsets(self) -> np.ndarray:
        """ndarray of shape (n_texts + 1,): where each text starts in ``data``."""
        return self._offsets

    @property
    def lengths(self) -> np.ndarray:
        """ndarray of shape (n_texts,): the number of tokens of each text."""
        return np.diff(self._offsets)

    @property
    def dim(self) -> int:
        """int: the embedding dimension ``d``."""
        return int(self._data.shape[1])

    @property
    def dtype(self) -> np.dtype:
        """numpy dtype of the token embeddings."""
        return self._data.dtype

    @property
    def n_tokens(self) -> int:
        """int: the total number of tokens over all texts."""
        return int(self._data.shape[0])

    @property
    def truncated(self) -> np.ndarray:
        """ndarray of bool of shape (n_texts,): which texts the encoder cut at ``max_length``."""
        return self._truncated

    @property
    def n_truncated(self) -> int:
        """int: how many texts the encoder cut at ``max_length``."""
        return int(self._truncated.sum())

    def astype(self, dtype) -> "TokenSets":
        """Return a copy with the embeddings cast to ``dtype``."""
        return TokenSets(self._data.astype(dtype), self._offsets.copy(),
                         truncated=self._truncated)

    def to_list(self) -> list[np.ndarray]:
        """Return the clouds as a list of ``(n_i, d)`` arrays (views)."""
        return list(self)

    def text_index(self) -> np.ndarray:
        """ndarray of shape (n_tokens_total,): the text each row of ``data`` belongs to."""
        return np.repeat(np.arange(len(self)), self.lengths)

    def __len__(self) -> int:
        return self._offsets.size - 1

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(len(self)):
            yield self._data[self._offsets[i]:self._offsets[i + 1]]

    def __getitem__(self, key):
        n = len(self)
        if isinstance(key, numbers.Integral) and not isinstance(key, bool):
            i = int(key)
            if not -n <= i < n:
                raise IndexError(f"text index {key} is out of range for {n} texts")
            i %= n
            return self._data[self._offsets[i]:self._offsets[i + 1]]
        if isinstance(key, slice):
            indices = np.arange(n)[key]
        else:
            indices = np.asarray(key)
            if indices.dtype == bool:
                if indices.shape != (n,):
                    raise IndexError(
                        f"boolean index of shape {indices.shape} does not match {n} texts"
                    )
                indices = np.flatnonzero(indices)
            elif indices.ndim != 1 or not (
                indices.size == 0 or np.issubdtype(indices.dtype, np.integer)
            ):
                raise IndexError(
                    "TokenSets accepts an int, a slice, a 1-D integer array or a boolean "
                    f"mask. Received {describe(key)}."
                )
            if indices.size and (indices.min() < -n or indices.max() >= n):
                raise IndexError(f"text index out of range for {n} texts")
            indices = indices.astype(np.int64) % max(n, 1)
        return self.take(indices)

    def take(self, indices) -> "TokenSets":
        """Return the texts at ``indices`` (in that order) as a new ``TokenSets``."""
        indices = np.asarray(indices, dtype=np.int64)
        if indices.size == 0:
            raise IndexError("cannot select zero texts: a TokenSets holds at least one")
        starts = self._offsets[indices]
        lengths = self._offsets[indices + 1] - starts
        offsets = np.zeros(indices.size + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        rows = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])
        return TokenSets(self._data[rows], offsets, truncated=self._truncated[indices])

    # -- on disk -------------------------------------------------------------------------
    def save(self, path, *, overwrite: bool = False):
        """Write the token sets to the folder ``path`` (skpool's token store).

        The folder holds ``data.npy`` (all tokens, one contiguous array),
        ``offsets.npy``, ``truncated.npy`` and the header
        ``skpool-tokens.json`` (format version, skpool version, dtype,
        dimension, counts), written last so that a folder without it is never
        read as complete. The format is described in ``docs/scaling.md``.

        Parameters
        ----------
        path : str or os.PathLike
            A new or empty folder, or one holding a token store when
            ``overwrite``.
        overwrite : bool, default=False
            Replace a token store already in ``path``.

        Returns
        -------
        pathlib.Path
            The folder.

        Raises
        ------
        ValueError
            If ``path`` holds a token store and not ``overwrite``, or holds
            other files.

        See Also
        --------
        TokenSets.load : read it back, in memory or memory-mapped.

        Examples
        --------
        >>> import tempfile, numpy as np
        >>> from skpool import TokenSets
        >>> tokens = TokenSets.from_arrays([np.ones((3, 4)), np.zeros((2, 4))])
        >>> folder = tokens.save(tempfile.mkdtemp() + "/tokens")
        >>> TokenSets.load(folder, mmap_mode="r") == tokens
        True
        """
        return save_arrays(path, self._data, self._offsets, self._truncated,
                           overwrite=overwrite)

    @classmethod
    def load(cls, path, *, mmap_mode=None) -> "TokenSets":
        """Read token sets written by :meth:`save` or :func:`skpool.encoder.encode_to_store`.

        Parameters
        ----------
        path : str or os.PathLike
            The store folder.
        mmap_mode : {None, "r"}, default=None
            ``None`` reads the tokens into memory; ``"r"`` memory-maps them
            read-only: nothing is read until used, the metrics read only the
            texts they need a chunk at a time, and the token sets pickle as a
            reference to the folder (a dask worker on a shared file system
            reads its rows from it instead of receiving a copy).

        Returns
        -------
        TokenSets

        Raises
        ------
        ValueError
            If the folder is not a complete token store (no header: not a
            store, or an encoding run into it has not finished), has a format
            version this skpool does not read, or its arrays disagree with its
            header.
        """
        check_mmap_mode(mmap_mode)
        data, offsets, truncated, _ = load_arrays(path, mmap_mode=mmap_mode)
        return cls(data, offsets, truncated=truncated)

    # -- protocol ------------------------------------------------------------------------
    def __repr__(self) -> str:
        lengths = self.lengths
        return (
            f"TokenSets(n_texts={len(self)}, dim={self.dim}, dtype={self.dtype}, "
            f"tokens per text {lengths.min()}..{lengths.max()})"
        )

    def __eq__(self, other) -> bool:
        if not isinstance(other, TokenSets):
            return NotImplemented
        return (np.array_equal(self._offsets, other._offsets)
                and np.array_equal(self._data, other._data))

    __hash__ = None

    def __getstate__(self):
        # a memory-mapped store travels as a reference to its file, other data by value
        data = self._data if isinstance(self._data, StoredArray) else np.array(self._data)
        return {"data": data, "offsets": np.array(self._offsets),
                "truncated": np.array(self._truncated)}

    def __setstate__(self, state):
        TokenSets.__init__(self, state["data"], state["offsets"],
                           truncated=state.get("truncated"))


# ---------------------------------------------------------------------------------------
# Checks of token clouds (run once, at the public boundary)
# ---------------------------------------------------------------------------------------
def check_cloud(cloud, *, name: str = "A", index: int | None = None,
                dim: int | None = None, dtype=None) -> np.ndarray:
    """Validate one token cloud: a finite, non-empty 2-D numeric array.

    Parameters
    ----------
    cloud : array-like of shape (n_tokens, d)
    name : str
        The argument's name, for error messages.
    index : int, optional
        The text's index in its corpus, for error messages.
    dim : int, optional
        The dimension the cloud must have.
    dtype : numpy dtype, optional
        Cast to this dtype; by default float32 and float64 are kept and other
        numeric types become float64.

    Returns
    -------
    ndarray of shape (n_tokens, d)

    Examples
    --------
    >>> check_cloud([[1.0, 2.0]]).shape
    (1, 2)
    """
    where = f"{name}" if index is None else f"{name}[{index}] (text {index})"
    if isinstance(cloud, (str, bytes)) or cloud is None:
        raise TypeError(
            f"Expected {where} to be a 2-D array of token embeddings. Received {describe(cloud)}."
        )
    try:
        array = np.asarray(cloud)
    except (TypeError, ValueError) as exc:  # ragged nested lists
        raise TypeError(
            f"Expected {where} to be a 2-D array of token embeddings. "
            f"Received {describe(cloud)} that is not a rectangular array ({exc})."
        ) from None
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)
        or array.dtype == bool
    ):
        raise TypeError(
            f"Expected {where} to hold real numbers. Received dtype {array.dtype}."
        )
    if array.ndim != 2:
        raise ValueError(
            f"Expected {where} to be a (n_tokens, d) array. Received shape {array.shape}."
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(
            f"Expected {where} to hold at least one token of dimension >= 1. "
            f"Received shape {array.shape}."
        )
    if dim is not None and array.shape[1] != dim:
        raise ValueError(
            f"Expected {where} to have dimension d={dim} like the other token clouds. "
            f"Received dimension {array.shape[1]}."
        )
    if dtype is not None:
        array = array.astype(dtype, copy=False)
    elif array.dtype not in (np.float32, np.float64):
        array = array.astype(np.float64)
    if not np.isfinite(array).all():
        bad = int(np.argwhere(~np.isfinite(array))[0, 0])
        raise ValueError(
            f"Expected {where} to be finite. Received NaN or inf at token {bad}."
        )
    return array


def check_token_sets(tokens, *, name: str = "tokens", min_texts: int = 1):
    """Validate a corpus of token clouds and return it as :class:`~skpool.TokenSets`.

    Parameters
    ----------
    tokens : TokenSets or sequence of array-like of shape (n_i, d)
    name : str
    min_texts : int, default=1
        The fewest texts the caller can work with.

    Returns
    -------
    TokenSets

    Examples
    --------
    >>> import numpy as np
    >>> len(check_token_sets([np.ones((3, 2)), np.zeros((1, 2))]))
    2
    """
    if isinstance(tokens, TokenSets):
        sets = tokens
        check_finite_token_sets(sets, name=name)
    else:
        if isinstance(tokens, np.ndarray) and tokens.ndim == 2 and tokens.dtype != object:
            raise TypeError(
                f"Expected {name} to be a TokenSets or a list of (n_i, d) arrays. "
                f"Received one 2-D array of shape {tokens.shape}; wrap a single token "
                "cloud in a list."
            )
        if isinstance(tokens, (str, bytes)) or not isinstance(tokens, (Sequence, np.ndarray)):
            if not isinstance(tokens, Iterable) or isinstance(tokens, (str, bytes)):
                raise TypeError(
                    f"Expected {name} to be a TokenSets or a list of (n_i, d) arrays. "
                    f"Received {describe(tokens)}."
                )
        sets = TokenSets.from_arrays(list(tokens), name=name)
    if len(sets) < min_texts:
        raise ValueError(
            f"Expected {name} to hold at least {min_texts} texts. Received {len(sets)}."
        )
    return sets


def check_finite_token_sets(tokens, *, name: str = "tokens") -> None:
    """Raise a ValueError naming the first text and token that is NaN or inf.

    Reads the tokens a chunk of rows at a time, so that a memory-mapped
    corpus is checked without being held in memory.
    """
    if tokens._checked_finite:
        return
    data = tokens.data
    step = max(1, _FINITE_CHUNK_BYTES // max(1, data.shape[1] * data.itemsize))
    for r0 in range(0, data.shape[0], step):
        finite = np.isfinite(data[r0:r0 + step]).all(axis=1)
        if finite.all():
            continue
        row = r0 + int(np.argmin(finite))
        text = int(np.searchsorted(tokens.offsets, row, side="right")) - 1
        raise ValueError(
            f"Expected {name}[{text}] (text {text}) to be finite. Received NaN or inf at "
            f"token {row - int(tokens.offsets[text])}."
        )
    # A read-only map of a finished store cannot change under us (no one holds a
    # writable view of it): record the check, so the next metric does not read the
    # whole corpus again. In-memory data may share memory with the caller's array.
    tokens._checked_finite = isinstance(data, StoredArray)
