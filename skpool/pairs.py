r"""The pairs of texts mean pooling conflates: ``skpool pairs`` as a library call.

:func:`pairs_report` encodes a corpus and lists two views of its pairs of
texts, each a :class:`pandas.DataFrame` with one row per pair:

- **by_socm**: the ``top`` pairs with the highest SOCM. SOCM is large when the
  two texts' mean-normalized token clouds have nearly the same mean
  (small :math:`d_\mu`) and different covariances (large :math:`d_\Sigma`):
  the second-order structure that mean pooling averages away.
- **conflated**: what a retrieval system sees. The *near pairs* are the
  pairs whose mean-pooled vectors have the highest cosine: the
  ``near_fraction`` (default 1 %) of all :math:`N(N-1)/2` pairs with the
  highest cosine, at least ``top`` of them. Among the near pairs, the
  ``top`` with the largest :math:`d_\Sigma` are listed: pairs a retriever
  treats as near duplicates although their token clouds differ most.

Ties are broken by the smaller ``(i, j)``. The cosine is that of the
mean-pooled vectors :math:`m_i` (the mean of a text's token embeddings, what
``MeanPooler`` and sentence-transformers return). Since the normalized mean
is :math:`\mu_i = m_i / \lVert m_i\rVert`, :math:`d_\mu = (1 - \cos)/2`: the
two views rank the same pairs differently because SOCM weighs
:math:`d_\Sigma` by :math:`1 - d_\mu` while the second view first keeps only
the near pairs.

What is searched is always stated in the record, never silent: the cosine
of every pair is computed (a cheap product of the mean-pooled vectors), so
the near pairs are exact; SOCM and :math:`d_\Sigma` are computed for all
pairs when there are at most ``max_pairs`` of them, otherwise for
``max_pairs`` pairs drawn at random (the SOCM view is then the top of that
sample) and for at most ``max_pairs`` near pairs (the most similar ones).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import _html_documents as _pages
from ._html import HTMLReport
from ._params import BOOLEAN, N_JOBS, PROGRESS, SEED, validate_params
from ._sklearn_compat import Integers, Integral, Numbers, Real
from ._measure import (Record, check_page_texts, check_pair_texts, encode,
                       make_encoder, paired_components, record_labels)
from .analysis import PairComponents, pair_components
from ._progress import progress_bar
from ._validation import check_texts, describe
from .math._ragged import segment_means
from .math.socm import TRACE_ASSUMPTION
from .metrics import concentration
from .tokensets import TokenSets, check_token_sets

__all__ = ["PairsRecord", "PairsReport", "pairs_report", "pairs_report_of_tokens",
           "MAX_SEARCHED_PAIRS", "NEAR_FRACTION"]

#: Default largest number of pairs whose SOCM is computed.
MAX_SEARCHED_PAIRS = 20_000
#: Default share of all pairs, by highest cosine, that are the near pairs.
NEAR_FRACTION = 0.01
#: Rows of mean-pooled vectors multiplied at once in the cosine search, and the
#: largest number of pairs one block holds (a few tens of MiB of temporaries).
_COSINE_BLOCK = 1024
_COSINE_PAIRS_PER_BLOCK = 2**22


@dataclass(frozen=True, kw_only=True)
class PairsRecord(Record):
    r"""What :func:`pairs_report` searched (``skpool pairs --json`` writes it with the rows).

    Attributes
    ----------
    model, dataset : str
    layer : int
    n_texts : int
        Texts encoded, ``N``.
    n_pairs_total : int
        :math:`N(N-1)/2`.
    top : int
        Pairs listed per view (fewer when the corpus has fewer pairs).
    n_pairs_searched : int
        Pairs whose SOCM was computed for the SOCM view.
    exact : bool
        Whether the SOCM view searched every pair (otherwise
        ``n_pairs_searched`` pairs drawn at random with ``seed``).
    near_fraction : float
        The share of all pairs, by highest cosine, that are the near pairs.
    n_near_pairs : int
        Near pairs whose :math:`d_\Sigma` was compared (the conflated view).
    min_near_cosine : float
        The lowest cosine among them.
    near_exact : bool
        Whether they are all the near pairs (otherwise the ``max_pairs`` most
        similar of them).
    w2 : bool
        Whether the tables carry the Gaussian and exact :math:`W_2`.
    n_truncated, max_length, seed, skpool_version
        As in :class:`~skpool.analysis.CollapseRecord`.
    """

    n_texts: int
    n_pairs_total: int
    top: int
    n_pairs_searched: int
    exact: bool
    near_fraction: float
    n_near_pairs: int
    min_near_cosine: float
    near_exact: bool
    w2: bool


@dataclass(frozen=True, repr=False)  # HTMLReport's repr: shapes, not rows
class PairsReport(HTMLReport):
    r"""The pairs mean pooling conflates, in two views.

    Attributes
    ----------
    record : PairsRecord
        What was searched.
    by_socm : pandas.DataFrame
        The pairs with the highest SOCM, best first (index ``rank`` from 1).
    conflated : pandas.DataFrame
        Among the near pairs (highest cosine), those with the largest
        :math:`d_\Sigma`, best first.
    searched : PairComponents
        :math:`(d_\mu, d_\Sigma, \mathrm{SOCM})` of every pair searched for the
        SOCM view (what ``--plot`` draws); ``i``, ``j`` index the texts given.
    texts : tuple of str or None
        The texts, when given (the HTML report shows them in full).
    ids : tuple or None
        Each text's position (the ``i``, ``j`` of the tables).
    spread : ndarray of shape (n_texts,) or None
        Each text's spread ratio :math:`\operatorname{tr}\Sigma`.

    ``to_html(path)`` writes the report as one self-contained HTML page: the
    scatter of every pair searched (hover a point for its texts) and both
    lists with full texts side by side, sortable and filterable.

    Notes
    -----
    Both tables have the columns ``i``, ``j`` (the texts' positions: in the
    corpus as read when ``positions`` was given, else indices into the texts),
    with ``ids`` the user's ids ``id_i``, ``id_j``, then the whole texts
    ``text_i``, ``text_j`` (when given), ``cosine`` (of the mean-pooled
    vectors), ``d_mu``, ``d_sigma``, ``socm``, with ``w2=True``
    ``gaussian_w2`` and ``exact_w2`` (:math:`W_2`, not squared, of the raw
    token clouds with uniform token masses), and ``spread_i``, ``spread_j``:
    each text's spread ratio :math:`\operatorname{tr}\Sigma` (a wide cloud
    makes every :math:`d_\Sigma` with it large; above 2 the text breaks the
    paper's trace assumption).
    """

    record: PairsRecord
    by_socm: object
    conflated: object
    searched: PairComponents
    texts: tuple | None = None
    ids: tuple | None = None
    spread: np.ndarray | None = None

    def to_records(self) -> list[dict]:
        """``skpool pairs --json``: one record, what was searched and both lists of pairs."""
        record = self.record.to_dict()
        for view, table in (("by_socm", self.by_socm), ("conflated", self.conflated)):
            rows = table.reset_index().to_dict("records")
            record[view] = [{key: (value.item() if hasattr(value, "item") else value)
                             for key, value in row.items()} for row in rows]
        return [record]

    def _html_document(self, *, texts=None, command=None) -> dict:
        """The HTML page's document: the record with its lists, the scatter, the texts."""
        records = self.to_records()
        n = self.record.n_texts
        texts = self.texts if texts is None else check_page_texts(texts, n)
        ids = _pages.text_ids(n, self.ids)
        details = _pages.pair_details(self.searched, spread=self.spread, ids=ids,
                                      random_state=self.record.seed or 0)
        # the lists are the record's own (the near pairs among every pair, by cosine)
        del details["top_pairs"], details["near_pairs"]
        socm = np.asarray(self.searched.socm)
        details["summary"] = {
            "mean_socm": float(socm.mean()),
            "n_trace_violations": int(np.count_nonzero(self.spread > TRACE_ASSUMPTION))}
        details.update(_pages.spread_details(self.spread, None, ids))
        listed = [row[side] for view in ("by_socm", "conflated") for row in records[0][view]
                  for side in ("i", "j")]
        details.update(_pages.text_details(
            texts, ids, full=[*listed, *_pages.widest(self.spread, ids)],
            hover=ids))  # every text: the per-text table and the hovered points show it
        return _pages.document("pairs", records, details, command=command)


def _import_pandas():
    try:
        import pandas as pd
    except ImportError:
        raise ImportError(
            "pairs_report returns its tables as pandas DataFrames, and pandas is not "
            "installed: pip install pandas"
        ) from None
    return pd


#: the parameters pairs_report and pairs_report_of_tokens share, checked once
_PAIRS_PARAMS = {"top": [Integers(Integral, 1, None, closed="left")],
                 "max_pairs": [Integers(Integral, 1, None, closed="left")],
                 "near_fraction": [Numbers(Real, 0, 1, closed="right")],
                 "w2": BOOLEAN, "random_state": SEED, "n_jobs": N_JOBS, "progress": PROGRESS}


def _check_positions(positions, n: int) -> np.ndarray:
    if positions is None:
        return np.arange(n)
    try:
        values = np.asarray(positions)
    except (TypeError, ValueError):
        values = None
    if (values is None or values.shape != (n,)
            or not np.issubdtype(values.dtype, np.integer)):
        raise ValueError(
            f"Expected positions to be {n} integers (one position per text). Received "
            f"{describe(positions)}."
        )
    return values.astype(np.int64)


def _pair_number(i, j, n: int):
    """Row-major number of the pair ``i < j`` (that of ``np.triu_indices(n, k=1)``)."""
    return i * n - i * (i + 1) // 2 + (j - i - 1)


def _near_pairs(unit: np.ndarray, count: int, *, progress: bool = False):
    """The ``count`` pairs ``i < j`` with the highest cosine: ``(i, j, cosine)``, best first.

    ``unit`` holds the mean-pooled vectors divided by their norms; the cosine
    of every pair is computed, a block of rows at a time (about four million
    pairs each), keeping only the best ``count`` so far.
    """
    n = unit.shape[0]
    rows_per_block = max(1, min(_COSINE_BLOCK, _COSINE_PAIRS_PER_BLOCK // n))
    best_c = np.empty(0)
    best_i = np.empty(0, dtype=np.int64)
    best_j = np.empty(0, dtype=np.int64)
    with progress_bar(progress, total=n * (n - 1) // 2, desc="cosine (all pairs)",
                      unit="pair", unit_scale=True) as bar:
        for a in range(0, n - 1, rows_per_block):
            b = min(a + rows_per_block, n - 1)
            sims = unit[a:b] @ unit[a:].T  # rows a..b-1 against columns a..n-1
            rows, cols = np.triu_indices(b - a, k=1, m=n - a)
            c = np.clip(sims[rows, cols], -1.0, 1.0)
            if c.size > count:  # the block's own best first: the merge stays small
                keep = np.argpartition(-c, count - 1)[:count]
                c, rows, cols = c[keep], rows[keep], cols[keep]
            c, i, j = (np.concatenate([best_c, c]), np.concatenate([best_i, rows + a]),
                       np.concatenate([best_j, cols + a]))
            if c.size > count:
                keep = np.argpartition(-c, count - 1)[:count]
                c, i, j = c[keep], i[keep], j[keep]
            best_c, best_i, best_j = c, i, j
            bar.update(sims.size - (b - a) * (b - a + 1) // 2)
    order = np.lexsort((best_j, best_i, -best_c))
    return best_i[order], best_j[order], best_c[order]


def _table(pd, rows_i, rows_j, values: dict, spread, texts, positions, ids):
    table = pd.DataFrame({
        "i": positions[rows_i], "j": positions[rows_j],
        "id_i": [ids[k] for k in rows_i] if ids else None,
        "id_j": [ids[k] for k in rows_j] if ids else None,
        "text_i": [texts[k] for k in rows_i] if texts else None,  # whole: snippets are
        "text_j": [texts[k] for k in rows_j] if texts else None,  # the terminal's business
        **values,
        "spread_i": spread[rows_i], "spread_j": spread[rows_j],
    })
    if not ids:
        table = table.drop(columns=["id_i", "id_j"])
    if not texts:
        table = table.drop(columns=["text_i", "text_j"])
    table.index = pd.RangeIndex(1, len(table) + 1, name="rank")
    return table


@validate_params(_PAIRS_PARAMS, prefer_skip_nested_validation=True)
def pairs_report_of_tokens(tokens, texts=None, *, top: int = 10,
                           max_pairs: int = MAX_SEARCHED_PAIRS,
                           near_fraction: float = NEAR_FRACTION, w2: bool = False,
                           positions=None, ids=None, random_state=None,
                           model: str = "", layer: int = -1,
                           dataset: str = "", n_truncated: int | None = None,
                           max_length: int | None = None, n_jobs=None,
                           progress: bool = False) -> PairsReport:
    r"""List the pairs mean pooling conflates, from token clouds already encoded.

    See :func:`pairs_report` (and the module docstring) for the two views.

    Parameters
    ----------
    tokens : TokenSets or list of ndarray of shape (n_i, d)
        At least two token clouds.
    texts : sequence of str of length n_texts, optional
        The texts, for the columns ``text_i`` and ``text_j`` (left out when
        None).
    top, max_pairs, near_fraction, w2, positions, ids, random_state, n_jobs, progress
        As in :func:`pairs_report`.
    model, dataset, layer, n_truncated, max_length
        The labels stored in the record, as in
        :func:`~skpool.analysis.collapse_report_of_tokens`.

    Returns
    -------
    PairsReport
        The two views of the pairs mean pooling conflates, and the record.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> clouds = [rng.normal(size=(6, 8)) + 3.0 for _ in range(6)]
    >>> report = pairs_report_of_tokens(clouds, top=3)
    >>> report.record.n_pairs_searched, report.record.exact, len(report.by_socm)
    (15, True, 3)
    >>> list(report.by_socm.columns)
    ['i', 'j', 'cosine', 'd_mu', 'd_sigma', 'socm', 'spread_i', 'spread_j']
    >>> bool(report.by_socm["socm"].is_monotonic_decreasing)
    True
    """
    pd = _import_pandas()
    tokens = check_token_sets(tokens, min_texts=2)
    n = len(tokens)
    top, max_pairs, near_fraction, w2 = int(top), int(max_pairs), float(near_fraction), bool(w2)
    if texts is not None:
        texts = check_texts(texts)
        if len(texts) != n:
            raise ValueError(f"Expected one text per token cloud ({n}). Received "
                             f"{len(texts)} texts.")
    positions = _check_positions(positions, n)
    ids = None if ids is None else check_page_texts(ids, n, what="ids")
    if n_truncated is None:
        n_truncated = tokens.n_truncated
    total = n * (n - 1) // 2

    # the SOCM view: every pair, or a uniform sample of max_pairs pairs
    searched = pair_components(tokens, n_pairs=None if total <= max_pairs else max_pairs,
                               random_state=random_state, n_jobs=n_jobs, progress=progress)
    spread = np.asarray(concentration(tokens).spread, dtype=np.float64)
    means = segment_means(tokens.data, tokens.offsets)
    unit = means / np.linalg.norm(means, axis=1, keepdims=True)  # norms > 0: checked above

    def cosine(i, j):
        return np.clip(np.einsum("ij,ij->i", unit[i], unit[j]), -1.0, 1.0)

    shown = min(top, searched.socm.size)
    best = np.lexsort((searched.j, searched.i, -searched.socm))[:shown]
    socm_rows = (searched.i[best], searched.j[best])
    socm_values = {"cosine": cosine(*socm_rows), "d_mu": searched.d_mu[best],
                   "d_sigma": searched.d_sigma[best], "socm": searched.socm[best]}

    # the conflated view: the near pairs (highest cosine), ranked by d_sigma
    wanted = min(max(top, math.ceil(near_fraction * total)), total)
    count = min(wanted, max_pairs)
    near_i, near_j, near_cos = _near_pairs(unit, count, progress=progress)
    if searched.exact:  # already computed: read them off
        k = _pair_number(near_i, near_j, n)
        d_mu, d_sigma, socm = searched.d_mu[k], searched.d_sigma[k], searched.socm[k]
    else:
        d_mu, d_sigma, socm = paired_components(tokens, near_i, near_j, n_jobs=n_jobs,
                                                 progress=progress, desc="SOCM (near pairs)")
    best = np.lexsort((near_j, near_i, -near_cos, -d_sigma))[:min(top, count)]
    near_rows = (near_i[best], near_j[best])
    near_values = {"cosine": near_cos[best], "d_mu": d_mu[best], "d_sigma": d_sigma[best],
                   "socm": socm[best]}

    if w2:
        from .ot import compare_w2

        listed = np.unique(np.stack([np.concatenate([socm_rows[0], near_rows[0]]),
                                     np.concatenate([socm_rows[1], near_rows[1]])], axis=1),
                           axis=0)
        comparison = compare_w2(tokens, listed, n_jobs=n_jobs, progress=progress).table
        lookup = {(int(a), int(b)): (g, e) for a, b, g, e in zip(
            comparison["i"], comparison["j"], comparison["gaussian_w2"],
            comparison["exact_w2"])}
        for rows, values in ((socm_rows, socm_values), (near_rows, near_values)):
            pairs = [lookup[(int(a), int(b))] for a, b in zip(*rows)]
            values["gaussian_w2"] = np.array([g for g, _ in pairs], dtype=np.float64)
            values["exact_w2"] = np.array([e for _, e in pairs], dtype=np.float64)

    record = PairsRecord(
        **record_labels(model, layer, dataset, n_truncated=n_truncated, max_length=max_length,
                  random_state=random_state),
        n_texts=n, n_pairs_total=total, top=top,
        n_pairs_searched=int(searched.socm.size), exact=bool(searched.exact),
        near_fraction=near_fraction, n_near_pairs=int(count),
        min_near_cosine=float(near_cos.min()), near_exact=bool(count == wanted),
        w2=bool(w2),
    )
    return PairsReport(
        record=record,
        by_socm=_table(pd, *socm_rows, socm_values, spread, texts, positions, ids),
        conflated=_table(pd, *near_rows, near_values, spread, texts, positions, ids),
        searched=searched,
        texts=None if texts is None else tuple(texts),
        ids=tuple(positions.tolist()),
        spread=spread,
    )


@validate_params(_PAIRS_PARAMS, prefer_skip_nested_validation=True)
def pairs_report(texts, encoder=None, *, top: int = 10, max_pairs: int = MAX_SEARCHED_PAIRS,
                 near_fraction: float = NEAR_FRACTION, w2: bool = False, positions=None,
                 ids=None, random_state=None, dataset: str = "",
                 n_jobs=None, progress: bool = False, store=None,
                 partition_size=None) -> PairsReport:
    r"""Encode a corpus and list the pairs of texts mean pooling conflates.

    This is ``skpool pairs``: two tables of ``top`` pairs each, the pairs with
    the highest SOCM (``by_socm``) and, among the near pairs (the pairs whose
    mean-pooled vectors have the highest cosine), those whose token clouds
    differ most, by :math:`d_\Sigma` (``conflated``).

    Parameters
    ----------
    texts : sequence of str
        At least two texts.
    encoder : TokenEncoder or str, optional
        The encoder, or a model name / local folder; the bundled
        all-MiniLM-L6-v2 when None.
    top : int, default=10
        Pairs listed per view.
    max_pairs : int, default=20000
        Largest number of pairs whose SOCM is computed: all
        :math:`N(N-1)/2` pairs when there are at most this many, otherwise
        this many drawn at random (the record says which), and at most this
        many near pairs.
    near_fraction : float in (0, 1], default=0.01
        The near pairs are this share of all pairs, those with the highest
        cosine of the mean-pooled vectors (at least ``top`` pairs).
    w2 : bool, default=False
        Add the columns ``gaussian_w2`` and ``exact_w2``: :math:`W_2` (not
        squared) between the raw token clouds of each listed pair, with
        uniform token masses (:func:`skpool.ot.compare_w2`).
    positions : sequence of int of length n_texts, optional
        The texts' positions in their corpus (e.g. ``Corpus.positions``),
        written in the columns ``i`` and ``j``; indices into ``texts`` when
        None.
    ids : sequence of length n_texts, optional
        The user's id of each text (e.g. ``Corpus.ids``: an id column, or
        row or line numbers), written in the columns ``id_i`` and ``id_j``;
        those columns are left out when None.
    random_state : int, RandomState instance or None
        Seed of the pair sample (when there are more than ``max_pairs`` pairs).
    dataset : str, optional
        The corpus label stored in the record.
    n_jobs : int or None, default=None
        Workers for the pairwise computation (docs/glossary.md, ``n_jobs``).
    progress : bool, default=False
        Progress bars on stderr for the pairwise computations.
    store : str or os.PathLike, optional
        Encode into this token store folder, as in
        :func:`skpool.analysis.collapse_report`.
    partition_size : int, optional
        Texts per encoding task with ``store``, as in
        :func:`skpool.analysis.collapse_report`.

    Returns
    -------
    PairsReport
        ``.by_socm`` and ``.conflated`` (pandas DataFrames), ``.record``
        (what was searched) and ``.searched`` (the components of every pair
        searched).

    Raises
    ------
    ImportError
        If pandas is not installed.

    Examples
    --------
    >>> report = pairs_report(["A cat sat on the mat.", "A dog sat on the rug.",
    ...                        "Stocks fell sharply today.", "The match ended 2-1."], top=2)
    >>> report.record.exact, len(report.by_socm), list(report.conflated.columns[:4])
    (True, 2, ['i', 'j', 'text_i', 'text_j'])
    """
    _import_pandas()
    texts = check_pair_texts(texts)
    tokens, encoded = encode(make_encoder(encoder), texts, store, partition_size)
    return pairs_report_of_tokens(tokens, texts, top=top, max_pairs=max_pairs,
                                  near_fraction=near_fraction, w2=w2, positions=positions,
                                  ids=ids, random_state=random_state,
                                  dataset=dataset, n_jobs=n_jobs, progress=progress,
                                  **encoded)
