"""The one random-state convention, the one sampler of text pairs, the one fixed seed (private).

``random_state`` follows scikit-learn (:func:`sklearn.utils.check_random_state`:
None, an int seed or a ``RandomState``), and a NumPy ``Generator`` is also
accepted; anything else is refused with a message that names the argument.
:func:`sample_pairs` is shared by every function that draws pairs of texts
(``mean_socm``, ``compare_w2``), so the same seed picks the same pairs.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils import check_random_state as _sklearn_check_random_state
from sklearn.utils.random import sample_without_replacement

from .._validation import describe

__all__ = ["check_random_state", "sample_pairs", "pair_from_linear", "fixed_seed"]

_SEED_MAX = 2**32 - 1


def check_random_state(random_state, *, name: str = "random_state") -> np.random.RandomState:
    """Validate ``random_state`` and return a ``numpy.random.RandomState``.

    Parameters
    ----------
    random_state : None, int, numpy RandomState or numpy Generator
        None: NumPy's global random state. An int in ``[0, 2**32 - 1]``: a
        seed. A ``Generator`` seeds a ``RandomState`` from its next draw.
    name : str
        The argument's name, for error messages.

    Raises
    ------
    TypeError
        Not one of the accepted types (bools are refused).
    ValueError
        An int outside ``[0, 2**32 - 1]``.

    Examples
    --------
    >>> check_random_state(0).randint(10)
    5
    """
    if isinstance(random_state, np.random.Generator):
        return np.random.RandomState(int(random_state.integers(_SEED_MAX, dtype=np.uint64)))
    if isinstance(random_state, (bool, np.bool_)) or not (
            random_state is None or isinstance(random_state, (numbers.Integral,
                                                              np.random.RandomState))):
        raise TypeError(
            f"Expected {name} to be None, an int seed, a numpy RandomState or a numpy "
            f"Generator. Received {describe(random_state)}."
        )
    if isinstance(random_state, numbers.Integral) and not 0 <= random_state <= _SEED_MAX:
        raise ValueError(
            f"Expected {name} to be a seed between 0 and 2**32 - 1. Received {random_state}."
        )
    return _sklearn_check_random_state(random_state)


def pair_from_linear(k, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-major number ``k`` of the strict upper triangle of ``n x n`` -> ``(i, j)``, ``i < j``.

    The numbering of ``np.triu_indices(n, k=1)``, computed without enumerating
    the pairs.
    """
    k = np.asarray(k, dtype=np.int64)
    total = n * (n - 1) // 2
    # closed form for the row, then an integer fix-up of float round-off
    i = n - 2 - np.floor(np.sqrt(-8.0 * k + 4.0 * n * (n - 1) - 7.0) / 2.0 - 0.5).astype(np.int64)

    def start(row):
        return total - (n - row) * (n - row - 1) // 2

    i = np.where(start(i) > k, i - 1, i)
    i = np.where(start(i + 1) <= k, i + 1, i)
    j = k - start(i) + i + 1
    return i, j


def sample_pairs(n_texts: int, n_pairs: int, random_state) -> tuple[np.ndarray, np.ndarray]:
    """``n_pairs`` distinct unordered pairs ``i < j`` drawn uniformly without replacement.

    Pair numbers are drawn from ``range(N (N - 1) / 2)`` with scikit-learn's
    ``sample_without_replacement`` (the pairs are never enumerated) and mapped
    back to ``(i, j)``; returned in row-major order (that of
    ``np.triu_indices``). ``random_state`` must already be checked
    (:func:`check_random_state`).
    """
    total = n_texts * (n_texts - 1) // 2
    k = np.sort(sample_without_replacement(total, int(n_pairs), random_state=random_state))
    return pair_from_linear(k, n_texts)


def fixed_seed(random_state) -> int:
    """An int seed that stands for ``random_state``: the seed itself, or one drawn from it.

    Used where the same draw must be repeated (the same pairs at every layer,
    the same folds for every pooling): an int seed is kept, and a
    ``RandomState``, ``Generator`` or None gives one draw in ``[0, 2**31 - 1)``.
    """
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return int(random_state)
    return int(check_random_state(random_state).randint(2**31 - 1))
