"""Input checks shared by every public entry point.

Each check raises a ``TypeError`` or ``ValueError`` that says what was
expected, what was received and, where it applies, which text (by index) was
at fault, so that nothing malformed reaches NumPy, torch or transformers.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["check_texts", "check_cloud", "check_token_sets", "describe"]


def describe(value) -> str:
    """A short description of ``value`` for error messages."""
    if isinstance(value, np.ndarray):
        return f"ndarray of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def check_texts(texts, *, name: str = "texts") -> list[str]:
    """Validate a corpus of texts and return it as a list of ``str``.

    Parameters
    ----------
    texts : sequence of str
        A list, tuple, 1-D array or pandas Series of strings.
    name : str, default="texts"
        The argument's name, used in error messages.

    Returns
    -------
    list of str

    Raises
    ------
    TypeError
        If ``texts`` is a single string, or not a sequence, or an item is not
        a ``str`` (``None``, numbers and ``bytes`` are rejected by index).
    ValueError
        If the corpus is empty.

    Examples
    --------
    >>> check_texts(["a cat", "a dog"])
    ['a cat', 'a dog']
    """
    if isinstance(texts, (str, bytes)):
        raise TypeError(
            f"Expected {name} to be a sequence of strings (a list of texts). "
            f"Received a single {type(texts).__name__}; wrap it in a list."
        )
    if hasattr(texts, "to_numpy") and not isinstance(texts, np.ndarray):
        # pandas Series / single-column DataFrame
        values = np.asarray(texts.to_numpy(), dtype=object)
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        texts = list(values.ravel()) if values.ndim == 1 else values
    if isinstance(texts, np.ndarray):
        if texts.ndim != 1:
            raise ValueError(
                f"Expected {name} to be a 1-D sequence of strings. "
                f"Received an array of shape {texts.shape}."
            )
        texts = texts.tolist()
    if not isinstance(texts, Iterable):
        raise TypeError(
            f"Expected {name} to be a sequence of strings. Received {describe(texts)}."
        )
    texts = list(texts)
    if len(texts) == 0:
        raise ValueError(f"Expected {name} to hold at least one text. Received an empty corpus.")
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(
                f"Expected every item of {name} to be a str. "
                f"Received {describe(text)} at index {index}."
            )
    return texts


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
    from .tokensets import TokenSets

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
    """Raise a ValueError naming the first text and token that is NaN or inf."""
    finite = np.isfinite(tokens.data).all(axis=1)
    if not finite.all():
        row = int(np.argmin(finite))
        text = int(np.searchsorted(tokens.offsets, row, side="right")) - 1
        raise ValueError(
            f"Expected {name}[{text}] (text {text}) to be finite. Received NaN or inf at "
            f"token {row - int(tokens.offsets[text])}."
        )


def check_positive_int(value, *, name: str, minimum: int = 1, allow_none: bool = False):
    """Validate an integer parameter (``numbers.Integral``, not bool)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"Expected {name} to be an int >= {minimum}. Received {describe(value)}.")
    if value < minimum:
        raise ValueError(f"Expected {name} to be an int >= {minimum}. Received {value}.")
    return int(value)
