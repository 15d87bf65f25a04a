r"""Gaussian against exact W2 on a corpus: a table of pairs and a summary."""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._params import N_JOBS, PROGRESS, RANDOM_STATE, validate_params
from .._progress import progress_bar
from .._engine.parallel import resolve_n_jobs
from .._validation import describe
from .._engine.sampling import check_random_state, sample_pairs
from ..tokensets import check_token_sets
from ._pairwise import (
    bures_sq,
    check_corpus_weights,
    exact_centred_sq,
    mean_sq,
    prepare,
    same_pairs,
)

__all__ = ["compare_w2", "W2Comparison"]

# A pair breaks the Gelbrich bound when gaussian_w2**2 - exact_w2**2 exceeds
# this fraction of tr(Sigma_i) + tr(Sigma_j). Both sides are float64 sums of
# O(n) terms of that size, so honest round-off stays below 1e-13 of it.
GELBRICH_RTOL = 1e-9


@dataclass(frozen=True, eq=False)
class W2Comparison:
    r"""Gaussian and exact :math:`W_2` of pairs of texts, and how they relate.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per pair, columns

        - ``i``, ``j``: the texts (indices into the corpus),
        - ``n_i``, ``n_j``: their numbers of tokens,
        - ``gaussian_w2``: :math:`W_2` of the two Gaussians (not squared),
        - ``exact_w2``: :math:`W_2` of the two token clouds (POT, not squared),
        - ``ratio``: ``gaussian_w2 / exact_w2`` (1.0 when both are 0),
        - ``mean_term``: :math:`\lVert m_i - m_j\rVert^2`, shared by both,
        - ``bures_term``: :math:`B^2(\Sigma_i, \Sigma_j)`, so that
          ``gaussian_w2**2 = mean_term + bures_term``,
        - ``centred_term``: exact :math:`W_2^2` between the centred clouds, so
          that ``exact_w2**2 = mean_term + centred_term``; the Gelbrich bound
          is ``bures_term <= centred_term``.
    spearman : float
        Spearman rank correlation of ``gaussian_w2`` and ``exact_w2`` over
        the pairs (NaN when undefined: fewer than two pairs or a constant
        column).
    median_ratio : float
        Median of ``ratio``: how much of the exact distance the Gaussian
        view keeps on a typical pair.
    n_pairs : int
    n_gelbrich_violations : int
        Pairs where ``gaussian_w2**2 - exact_w2**2`` exceeds
        ``tolerance * (tr Σ_i + tr Σ_j)``. Must be 0; anything else is a bug.
    normalize : bool
        Whether the clouds were mean-normalized.
    weights : str
        ``"uniform"`` or ``"norm"``.
    tolerance : float
        The relative round-off tolerance of the Gelbrich check.
    """

    table: Any
    spearman: float
    median_ratio: float
    n_pairs: int
    n_gelbrich_violations: int
    normalize: bool
    weights: str
    tolerance: float

    def summary(self) -> str:
        """A one-paragraph description of the comparison."""
        ratio = self.table["ratio"]
        clouds = "mean-normalized clouds" if self.normalize else "raw clouds"
        return (
            f"Gaussian vs exact W2 over {self.n_pairs} pairs ({clouds}, {self.weights} token "
            f"masses): Spearman {self.spearman:.4f}; Gaussian/exact ratio median "
            f"{self.median_ratio:.4f} (min {ratio.min():.4f}, max {ratio.max():.4f}); "
            f"median exact W2 {self.table['exact_w2'].median():.4f}, median Gaussian W2 "
            f"{self.table['gaussian_w2'].median():.4f}; Gelbrich-bound violations "
            f"{self.n_gelbrich_violations}."
        )

    def __repr__(self) -> str:
        return (
            f"W2Comparison(n_pairs={self.n_pairs}, spearman={self.spearman:.4f}, "
            f"median_ratio={self.median_ratio:.4f}, "
            f"n_gelbrich_violations={self.n_gelbrich_violations}, normalize={self.normalize}, "
            f"weights={self.weights!r})"
        )


def _import_pandas():
    try:
        import pandas as pd  # noqa: PLC0415  (optional dependency)
    except ImportError:
        raise ImportError(
            "compare_w2 returns its table as a pandas DataFrame, and pandas is not installed. "
            "Install it with: pip install pandas."
        ) from None
    return pd


def _select_pairs(pairs, n: int, random_state) -> np.ndarray:
    total = n * (n - 1) // 2
    if pairs is None:
        i, j = np.triu_indices(n, k=1)
        return np.stack([i, j], axis=1).astype(np.int64)
    if isinstance(pairs, numbers.Integral) and not isinstance(pairs, bool):
        if not 1 <= pairs <= total:
            raise ValueError(
                f"Expected pairs to be between 1 and the {total} distinct pairs of {n} texts. "
                f"Received pairs={pairs}."
            )
        i, j = sample_pairs(n, int(pairs), random_state)
        return np.stack([i, j], axis=1)
    if isinstance(pairs, (str, bytes, float, bool)):
        raise TypeError(
            "Expected pairs to be None, an int (that many random pairs) or a list of (i, j) "
            f"index pairs. Received {describe(pairs)}."
        )
    try:
        array = np.asarray(pairs)
    except (TypeError, ValueError):
        array = None
    if array is None or array.ndim != 2 or array.shape[1] != 2 or array.shape[0] == 0 \
            or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(
            "Expected pairs to be a non-empty list of (i, j) integer index pairs, of shape "
            f"(n_pairs, 2). Received {describe(pairs if array is None else array)}."
        )
    bad = np.flatnonzero(((array < 0) | (array >= n)).any(axis=1))
    if bad.size:
        raise ValueError(
            f"Expected every index in pairs to be in [0, {n}) for {n} texts. Received "
            f"{tuple(int(v) for v in array[bad[0]])} at position {int(bad[0])}."
        )
    same = np.flatnonzero(array[:, 0] == array[:, 1])
    if same.size:
        raise ValueError(
            "Expected pairs of two different texts (i != j): a text compared with itself is at "
            f"distance 0 by definition. Received {tuple(int(v) for v in array[same[0]])} at "
            f"position {int(same[0])}."
        )
    return array.astype(np.int64)


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    from scipy.stats import spearmanr  # noqa: PLC0415

    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(spearmanr(x, y).statistic)


@validate_params({"n_jobs": N_JOBS, "random_state": RANDOM_STATE, "progress": PROGRESS},
                 prefer_skip_nested_validation=True)
def compare_w2(tokens, pairs=None, *, normalize: bool = False, weights=None, n_jobs=None,
               random_state=None, progress: bool = False) -> W2Comparison:
    r"""Compare the Gaussian and the exact :math:`W_2` on pairs of texts.

    For each pair the exact :math:`W_2` between the token clouds (POT's
    ``emd2``) and the :math:`W_2` between the Gaussians with the same means
    and covariances are computed and split into their parts,

    .. math::

        W_{2,\mathrm{exact}}^2 = \lVert m_i - m_j\rVert^2 + W_2^2(\bar\alpha_i, \bar\alpha_j),
        \qquad
        W_{2,\mathrm{Gauss}}^2 = \lVert m_i - m_j\rVert^2 + B^2(\Sigma_i, \Sigma_j),

    with :math:`\bar\alpha` the centred clouds. The Gelbrich bound
    :math:`B^2(\Sigma_i, \Sigma_j) \le W_2^2(\bar\alpha_i, \bar\alpha_j)` holds for
    every pair of measures, so ``ratio = gaussian_w2 / exact_w2 <= 1``; the
    gap is what the Gaussian view of a text does not see (the shape of the
    cloud beyond its second moments). Every pair is checked; a violation is
    reported with a ``RuntimeWarning`` naming the pairs, because it can only
    come from a bug.

    Parameters
    ----------
    tokens : TokenSets or sequence of array-like of shape (n_i, d)
        Token clouds of at least two texts.
    pairs : None, int or array-like of shape (n_pairs, 2), default=None
        ``None``: all ``N (N - 1) / 2`` pairs ``i < j``. An int: that many
        distinct random pairs (drawn with ``random_state``). Otherwise the
        ``(i, j)`` index pairs to compare.
    normalize : bool, default=False
        Use the mean-normalized clouds :math:`X / \lVert\bar x\rVert`.
    weights : None, "uniform" or "norm", default=None
        Token masses, as in :func:`~skpool.ot.exact_w2`.
    n_jobs : int or None, default=None
        Workers for the exact solves (docs/glossary.md, ``n_jobs``).
    random_state : None, int, numpy RandomState or Generator, default=None
        Seeds the choice of random pairs (``pairs`` an int); the same seed
        draws the same pairs as :func:`skpool.metrics.mean_socm`.
    progress : bool, default=False
        Show a tqdm bar on stderr over the exact transport problems (pairs
        per second). The values do not depend on it.

    Returns
    -------
    W2Comparison
        ``.table`` (a pandas DataFrame, one row per pair) and the summary
        fields ``spearman``, ``median_ratio``, ``n_pairs``,
        ``n_gelbrich_violations``.

    Raises
    ------
    ImportError
        If pandas is not installed.

    Warns
    -----
    RuntimeWarning
        If any pair breaks the Gelbrich bound beyond round-off.

    References
    ----------
    The Gelbrich bound: see :func:`~skpool.ot.gaussian_w2`.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> clouds = [rng.normal(size=(12, 3)) for _ in range(4)]
    >>> result = compare_w2(clouds)
    >>> result.n_pairs, result.n_gelbrich_violations
    (6, 0)
    >>> bool((result.table["ratio"] <= 1.0).all())
    True
    >>> list(result.table.columns[:7])
    ['i', 'j', 'n_i', 'n_j', 'gaussian_w2', 'exact_w2', 'ratio']
    """
    pd = _import_pandas()
    scheme = check_corpus_weights(weights)
    n_jobs = resolve_n_jobs(n_jobs)
    tokens = check_token_sets(tokens, name="tokens", min_texts=2)
    random_state = check_random_state(random_state)
    pairs = _select_pairs(pairs, len(tokens), random_state)

    # Only the texts that appear in a pair are summarized.
    used, local = np.unique(pairs, return_inverse=True)
    local = local.reshape(pairs.shape)
    corpus = prepare([("tokens", tokens.take(used), used)], normalize=normalize,
                      scheme=scheme, like=tokens.data)
    same = same_pairs(corpus, local)  # the same measure: exactly 0 and ratio 1
    mean_term = np.where(same, 0.0, mean_sq(corpus, local))
    bures_term = bures_sq(corpus, local, n_jobs=n_jobs)
    with progress_bar(progress, total=len(local), desc="Exact W2", unit="pair") as bar:
        centred_term = exact_centred_sq(corpus, local, n_jobs=n_jobs, method="emd",
                                         reg=None, numItermax=100_000,
                                         label=lambda p, q: (int(used[p]), int(used[q])),
                                         bar=bar)
    gaussian = np.sqrt(mean_term + bures_term)
    exact = np.sqrt(mean_term + centred_term)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(exact > 0, gaussian / exact, np.where(gaussian > 0, np.inf, 1.0))
    # back to the clouds' own units (they were divided by a power of two)
    unit = corpus.unit
    with np.errstate(over="ignore"):
        unit_sq = np.square(np.float64(unit))
        gaussian, exact = gaussian * unit, exact * unit
        mean_term, bures_term, centred_term = (mean_term * unit_sq, bures_term * unit_sq,
                                               centred_term * unit_sq)
    if not (np.isfinite(mean_term).all() and np.isfinite(bures_term).all()
            and np.isfinite(centred_term).all()):
        raise ValueError(
            f"The squared W2 terms of compare_w2 overflow float64: the tokens reach about "
            f"{unit:.3g}. Rescale the embeddings, or use normalize=True."
        )

    traces = np.array([np.sum((X - m) ** 2 * (1.0 / X.shape[0] if a is None else a[:, None]))
                       for X, a, m in zip(corpus.clouds, corpus.masses, corpus.means)])
    traces = traces * unit_sq
    allowed = GELBRICH_RTOL * (traces[local[:, 0]] + traces[local[:, 1]])
    violations = np.flatnonzero(bures_term - centred_term > allowed)
    if violations.size:
        shown = ", ".join(f"({pairs[v, 0]}, {pairs[v, 1]}): Gaussian {gaussian[v]:.6g} > "
                          f"exact {exact[v]:.6g}" for v in violations[:5])
        warnings.warn(
            f"Gelbrich bound violated for {violations.size} of {len(pairs)} pairs — {shown}"
            f"{' ...' if violations.size > 5 else ''}. The Gaussian W2 can never exceed the "
            "exact W2; this is a bug in skpool, please report it with these clouds.",
            RuntimeWarning,
            stacklevel=2,
        )

    lengths = tokens.lengths
    table = pd.DataFrame({
        "i": pairs[:, 0], "j": pairs[:, 1],
        "n_i": lengths[pairs[:, 0]], "n_j": lengths[pairs[:, 1]],
        "gaussian_w2": gaussian, "exact_w2": exact, "ratio": ratio,
        "mean_term": mean_term, "bures_term": bures_term, "centred_term": centred_term,
    })
    return W2Comparison(
        table=table,
        spearman=_spearman(gaussian, exact),
        median_ratio=float(np.median(ratio)),
        n_pairs=int(len(pairs)),
        n_gelbrich_violations=int(violations.size),
        normalize=bool(normalize),
        weights=scheme,
        tolerance=GELBRICH_RTOL,
    )
