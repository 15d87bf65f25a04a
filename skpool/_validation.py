"""Input checks of texts and integer parameters, shared by every public entry point.

The checks of token clouds live beside their container, in
:mod:`skpool.tokensets`; this module imports nothing of skpool, so every
other module can use it. Each check raises a ``TypeError`` or ``ValueError`` that says what was
expected, what was received and, where it applies, which text (by index) was
at fault, so that nothing malformed reaches NumPy, torch or transformers.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np

__all__ = ["check_texts", "check_positive_int", "check_random_state_param",
           "describe"]


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
        If the corpus is empty, or a text holds a lone surrogate (not valid
        Unicode; the text's index is named).

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
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as exc:
                # a lone UTF-16 surrogate (from JSON "\\ud800" or bad decoding): tokenizers
                # fail on it with an error that names no text
                raise ValueError(
                    f"Expected every item of {name} to be valid Unicode text. Received a lone "
                    f"surrogate {text[exc.start]!r} at character {exc.start} of the text at "
                    f"index {index}."
                ) from None
    return texts


def check_positive_int(value, *, name: str, minimum: int = 1, allow_none: bool = False):
    """Validate an integer parameter (``numbers.Integral``, not bool)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"Expected {name} to be an int >= {minimum}. Received {describe(value)}.")
    if value < minimum:
        raise ValueError(f"Expected {name} to be an int >= {minimum}. Received {value}.")
    return int(value)


def check_random_state_param(value, *, name: str = "random_state"):
    """Validate a seed as scikit-learn's ``check_random_state`` takes it.

    None, an int in ``[0, 2**32 - 1]``, or a ``numpy.random.RandomState``;
    the value is returned unchanged.
    """
    if value is None or isinstance(value, np.random.RandomState):
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"Expected {name} to be None, an int in [0, 2**32 - 1] or a "
            f"numpy.random.RandomState. Received {describe(value)}."
        )
    if not 0 <= value <= 2**32 - 1:
        raise ValueError(
            f"Expected {name} to be None, an int in [0, 2**32 - 1] or a "
            f"numpy.random.RandomState. Received {value}."
        )
    return value
