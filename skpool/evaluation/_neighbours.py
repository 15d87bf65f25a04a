"""The per-text metric of the diagnostic: mean SOCM to the nearest texts by pooled vector."""

from __future__ import annotations

import numpy as np

from .._validation import check_positive_int, describe
from ..metrics import socm
from ..tokensets import check_token_sets
from ._scores import unit_rows


def neighbour_socm(tokens, vectors, *, n_neighbors=5) -> np.ndarray:
    r"""Mean SOCM of each text to its nearest neighbours by the cosine of ``vectors``.

    High values mark a text whose nearest texts, as mean pooling sees them
    (close pooled vectors), spread their tokens differently: the second-order
    information mean pooling discards is large exactly where the pooled
    vectors cannot tell the texts apart.

    Parameters
    ----------
    tokens : TokenSets or list of array-like of shape (n_i, d)
        At least ``n_neighbors + 1`` texts.
    vectors : array-like of shape (n_texts, k)
        The pooled vectors that define the neighbours (e.g. mean pooling).
    n_neighbors : int, default=5

    Returns
    -------
    ndarray of shape (n_texts,)
        For text :math:`i`, :math:`\frac1k\sum_{j \in N_k(i)} \mathrm{SOCM}(t_i, t_j)`,
        its own text excluded from :math:`N_k(i)`.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> clouds = [rng.normal(size=(5, 3)) + 2.0 for _ in range(4)]
    >>> means = np.stack([c.mean(axis=0) for c in clouds])
    >>> neighbour_socm(clouds, means, n_neighbors=1).shape
    (4,)
    """
    tokens = check_token_sets(tokens, name="tokens", min_texts=2)
    n_neighbors = check_positive_int(n_neighbors, name="n_neighbors")
    n = len(tokens)
    if n_neighbors >= n:
        raise ValueError(f"Expected n_neighbors below the number of texts ({n}). "
                         f"Received {n_neighbors}.")
    V = np.asarray(vectors, dtype=np.float64)
    if V.ndim != 2 or V.shape[0] != n or not np.isfinite(V).all():
        raise ValueError(f"Expected vectors to be a finite array of shape ({n}, k), one row "
                         f"per text. Received {describe(V)}.")
    unit = unit_rows(V, lambda bad: ValueError(
        f"The vector of text {bad} is zero: its cosine neighbours are undefined."))
    cosine = unit @ unit.T
    np.fill_diagonal(cosine, -np.inf)
    neighbours = np.argsort(-cosine, axis=1, kind="stable")[:, :n_neighbors]
    out = np.empty(n)
    done: dict[tuple[int, int], float] = {}
    for i in range(n):
        values = []
        for j in neighbours[i]:
            key = (min(i, int(j)), max(i, int(j)))
            if key not in done:
                done[key] = socm(tokens[key[0]], tokens[key[1]])
            values.append(done[key])
        out[i] = np.mean(values)
    return out
