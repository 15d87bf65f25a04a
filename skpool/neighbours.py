r"""Every text's most confusable neighbours: ``skpool neighbours`` as a library call.

A retrieval system confuses a text with its *nearest neighbours* in the
mean-pooled space, not with a random other text. :func:`neighbour_collapse`
finds the ``k`` nearest neighbours of every text by the cosine of the
mean-pooled vectors, with `Faiss <https://github.com/facebookresearch/faiss>`_
(``pip install faiss-cpu``), then computes the exact :math:`d_\mu`,
:math:`d_\Sigma` and SOCM of the :math:`N k` candidate pairs, each unordered
pair once. The work grows as :math:`N k` pairs (plus the neighbour search),
not as the :math:`N(N-1)/2` pairs of :func:`skpool.pairs.pairs_report`.

The index:

- ``"exact"`` (default): a flat inner-product index over the unit mean
  vectors, every text against every other (:math:`O(N^2 d)` multiply-adds,
  fast in practice up to a few :math:`10^5` texts). The neighbours are those
  of a brute-force search, ties aside.
- ``"hnsw"``: an approximate HNSW graph (``faiss.IndexHNSWFlat``, inner
  product) for larger corpora. Its recall@k is measured on up to
  ``n_recall_queries`` texts drawn at random, against an exact search of
  those texts, and stored in the record (``recall``).

Cases that need saying:

- Duplicate texts (identical token clouds) are each other's neighbours at
  cosine 1; their pair has :math:`d_\mu = d_\Sigma = \mathrm{SOCM} = 0` and is
  reported like any other, never dropped. A text is never its own
  neighbour (with more than ``k`` copies of a text, a copy's list is the
  other copies).
- A text whose mean token is zero has no direction: a ``ValueError`` names it.
- ``n_neighbors`` must be in ``[1, N - 1]``.

The cosine is that of the mean-pooled vectors :math:`m_i`; since
:math:`\mu_i = m_i / \lVert m_i\rVert`, :math:`d_\mu = (1 - \cos)/2` exactly as
in ``skpool pairs``.

On a dask cluster (inside ``joblib.parallel_config(backend="dask")``) the
pair blocks run as tasks on the workers, as every sampled-pair SOCM does; the
index is built once, here, on the driver, and searched with this machine's
cores (``n_jobs``; -1 is every core here): it holds only the
:math:`N \times d` mean vectors (150 MiB at :math:`10^5` texts of dimension
384), and one index answers every query, where shards would each have to be
searched by every text and their lists merged.

What was tested on a real cluster (``tests/test_cluster_faults.py``: a
``dask scheduler`` and ``dask worker`` processes started apart, on
127.0.0.1): on a memory-mapped store of 90 texts with a duplicate, with two
workers of two threads and with one worker of one thread, the neighbours
equal those of the same tokens in memory without a cluster, and
:math:`d_\mu`, :math:`d_\Sigma` and SOCM agree to 1e-12; the scheduler's
task stream shows the pair blocks ran in the worker processes. A worker
killed for good (SIGKILL, no nanny) while it runs a pair block, another
remaining: its block runs again on the other and the result is unchanged.
``skpool neighbours --scheduler tcp://... --store DIR`` (a tiny model, 40
texts): the encoding partitions and the pair blocks run on the workers, and
the record's neighbours and pair components equal those computed in memory
from the store the workers wrote (to 1e-12).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _html_documents as _pages
from ._html import HTMLReport
from ._engine.bures import check_precision, cloud_factors
from ._engine.parallel import local_threads, resolve_n_jobs
from ._engine.sampling import check_random_state
from ._measure import (Record, check_page_texts, check_pair_texts, encode, make_encoder,
                       paired_components, record_labels)
from .math.socm import TRACE_ASSUMPTION
from ._params import N_JOBS, POSITIVE_INT, PRECISION, PROGRESS, SEED, validate_params
from ._progress import progress_bar
from ._sklearn_compat import StrOptions
from ._validation import check_texts, describe
from .tokensets import check_token_sets

__all__ = ["NeighboursRecord", "NeighboursReport", "neighbour_collapse", "neighbours_report",
           "INDEXES"]

#: Per-text rows a neighbours HTML page holds (the highest max SOCM first): a page stays a
#: few megabytes at any corpus size; every row is in ``--json``.
PAGE_TEXTS = 2_000
#: The neighbour indexes: ``"exact"`` (flat inner product) and ``"hnsw"`` (approximate).
INDEXES = ("exact", "hnsw")
#: Texts whose neighbours are searched at once (bounds the k-NN temporaries of faiss).
_QUERY_BLOCK = 4096
#: Links per node of the HNSW graph, and its construction and search breadths.
_HNSW_M, _HNSW_EF_CONSTRUCTION, _HNSW_EF_SEARCH = 32, 80, 128


@dataclass(frozen=True, kw_only=True)
class NeighboursRecord(Record):
    r"""What :func:`neighbour_collapse` searched (``skpool neighbours --json`` writes it).

    Attributes
    ----------
    model, dataset : str
    layer : int
    n_texts : int
        Texts, ``N``.
    n_neighbors : int
        Neighbours of each text, ``k``.
    index : str
        ``"exact"`` or ``"hnsw"``.
    recall : float
        Recall@k of the index: 1.0 for ``"exact"``; for ``"hnsw"`` the share
        of the true ``k`` nearest neighbours found, over ``n_recall_queries``
        texts drawn at random.
    n_recall_queries : int
        Texts the recall was measured on (0 for ``"exact"``).
    n_pairs : int
        Distinct unordered neighbour pairs whose SOCM was computed (at most
        :math:`N k`).
    n_duplicate_pairs : int
        Neighbour pairs of identical token clouds (SOCM 0, reported).
    precision : str
        Of the cross-Gram products, as in :func:`skpool.mean_socm`.
    top : int
        Pairs listed in the corpus-wide table.
    n_truncated, max_length, seed, skpool_version
        As in :class:`~skpool.analysis.CollapseRecord`.
    """

    n_texts: int
    n_neighbors: int
    index: str
    recall: float
    n_recall_queries: int
    n_pairs: int
    n_duplicate_pairs: int
    precision: str
    top: int


@dataclass(frozen=True, repr=False)  # HTMLReport's repr: shapes, not rows
class NeighboursReport(HTMLReport):
    r"""Every text's nearest neighbours and the SOCM of each neighbour pair.

    Attributes
    ----------
    record : NeighboursRecord
    texts_table : pandas.DataFrame
        One row per text, in the order given: ``i`` (its position), ``id``
        (with ``ids``), ``text`` (with ``texts``), ``neighbours`` (the
        neighbours' ids, or positions without ``ids``, nearest first),
        ``max_socm`` and ``mean_socm`` over its neighbours, and ``spread``
        (its :math:`\operatorname{tr}\Sigma`).
    top_pairs : pandas.DataFrame
        The ``top`` neighbour pairs with the highest SOCM, best first (index
        ``rank`` from 1; ties by the smaller ``(i, j)``): ``i``, ``j``
        (``i < j``), ``id_i``, ``id_j``, ``text_i``, ``text_j`` when given,
        ``cosine``, ``d_mu``, ``d_sigma``, ``socm``, ``spread_i``, ``spread_j``.
    neighbours : ndarray of shape (n_texts, n_neighbors)
        Indices (into the texts given) of each text's neighbours, nearest first.
    cosine : ndarray of shape (n_texts, n_neighbors)
        Their cosines (of the mean-pooled vectors, float64).
    socm : ndarray of shape (n_texts, n_neighbors)
        SOCM of each text with each of its neighbours.
    pair_i, pair_j : ndarray of shape (n_pairs,)
        Every distinct neighbour pair, ``pair_i < pair_j``, sorted.
    pair_d_mu, pair_d_sigma, pair_socm : ndarray of shape (n_pairs,)
        Their components.

    ``to_html(path)`` writes the report as one self-contained HTML page (a
    notebook shows it inline): the verdict, the most conflated neighbour pairs
    with both full texts side by side and the per-text table, sortable and
    filterable, with the record of ``skpool neighbours --json`` embedded.
    """

    record: NeighboursRecord
    texts_table: object
    top_pairs: object
    neighbours: np.ndarray
    cosine: np.ndarray
    socm: np.ndarray
    pair_i: np.ndarray
    pair_j: np.ndarray
    pair_d_mu: np.ndarray
    pair_d_sigma: np.ndarray
    pair_socm: np.ndarray

    def to_records(self) -> list[dict]:
        """``skpool neighbours --json``: one record, what was searched, both tables."""
        record = self.record.to_dict()
        for view, table in (("texts", self.texts_table), ("top_pairs", self.top_pairs)):
            rows = table.reset_index(drop=view == "texts").to_dict("records")
            record[view] = [{key: _plain(value) for key, value in row.items()} for row in rows]
        return [record]

    def _html_document(self, *, command=None, records=None) -> dict:
        """The HTML page's document: ``records`` (what ``--json`` writes; by default
        :meth:`to_records`) and the mean SOCM over every distinct neighbour pair.

        The page keeps the rows of the ``PAGE_TEXTS`` texts with the highest max
        SOCM (its table shows the first of them), so that its size does not grow
        with the corpus; the record says how many rows were left to ``--json``.
        The summary's counts are taken over every text.
        """
        records = self.to_records() if records is None else records
        socm = np.asarray(self.pair_socm, dtype=np.float64)
        rows = list(records[0].get("texts") or []) if records else []
        spread = np.array([row.get("spread", np.nan) for row in rows], dtype=np.float64)
        details = {"summary": {
            "mean_socm": float(socm.mean()) if socm.size else None,
            "n_trace_violations": int(np.count_nonzero(spread > TRACE_ASSUMPTION))}}
        if len(rows) > PAGE_TEXTS:
            at_risk = sorted(rows, key=lambda row: -row["max_socm"]
                             if np.isfinite(row.get("max_socm", np.nan)) else np.inf)
            first = dict(records[0], texts=at_risk[:PAGE_TEXTS],
                         texts_left_to_json=len(rows) - PAGE_TEXTS)
            records = [first, *records[1:]]
        return _pages.document("neighbours", records, details, command=command)


def _plain(value):
    """A JSON-ready value: numpy scalars as Python numbers, neighbour arrays as lists."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value.item() if hasattr(value, "item") else value


def _import_pandas():
    try:
        import pandas as pd
    except ImportError:
        raise ImportError(
            "neighbour_collapse returns its tables as pandas DataFrames, and pandas is not "
            "installed: pip install pandas"
        ) from None
    return pd


def _import_faiss():
    try:
        import faiss
    except ImportError:
        raise ImportError(
            "neighbour_collapse searches the nearest neighbours with Faiss, which is not "
            "installed: pip install faiss-cpu (or pip install 'skpool[faiss]')"
        ) from None
    return faiss


def _search(faiss, index, unit32: np.ndarray, queries: np.ndarray, k: int):
    """faiss' ``k`` best (inner product, ids) of the rows ``queries``, a block at a time."""
    scores = np.empty((queries.size, k), dtype=np.float32)
    found = np.empty((queries.size, k), dtype=np.int64)
    for a in range(0, queries.size, _QUERY_BLOCK):
        rows = queries[a:a + _QUERY_BLOCK]
        scores[a:a + rows.size], found[a:a + rows.size] = index.search(unit32[rows], k)
    return scores, found


def _drop_self(found: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Each row's ``k`` first results other than the query itself.

    A search for ``k + 1`` results usually returns the query first; with
    duplicates a copy may come first and the query later, or (more than
    ``k`` copies) not at all: then the ``k`` first are kept.
    """
    is_self = found == queries[:, None]
    # a stable sort moves the query's own entry (if any) to the end of its row
    order = np.argsort(is_self, axis=1, kind="stable")
    return np.take_along_axis(found, order, axis=1)[:, :k]


def _knn(unit: np.ndarray, k: int, index_kind: str, n_recall_queries: int, random_state,
         n_jobs: int, progress: bool):
    """Every text's ``k`` nearest neighbours by cosine; the index's measured recall."""
    faiss = _import_faiss()
    threads = faiss.omp_get_max_threads()
    # the search runs here, on this machine's cores, even when the pairs go to a cluster
    faiss.omp_set_num_threads(local_threads(n_jobs))
    try:
        return _knn_search(faiss, unit, k, index_kind, n_recall_queries, random_state,
                           progress)
    finally:
        faiss.omp_set_num_threads(threads)  # faiss' setting is process-wide


def _knn_search(faiss, unit, k, index_kind, n_recall_queries, random_state, progress):
    """:func:`_knn` with faiss' threads set."""
    n, d = unit.shape
    unit32 = np.ascontiguousarray(unit, dtype=np.float32)
    everyone = np.arange(n)
    if index_kind == "exact":
        index = faiss.IndexFlatIP(d)
    else:
        index = faiss.IndexHNSWFlat(d, _HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = _HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = max(_HNSW_EF_SEARCH, 2 * (k + 1))
    index.add(unit32)
    found = np.empty((n, k), dtype=np.int64)
    with progress_bar(progress, total=n, desc=f"neighbours ({index_kind} index)",
                      unit="text", unit_scale=True) as bar:
        for a in range(0, n, _QUERY_BLOCK):
            rows = everyone[a:a + _QUERY_BLOCK]
            _, hits = _search(faiss, index, unit32, rows, k + 1)
            found[a:a + rows.size] = _drop_self(hits, rows, k)
            bar.update(rows.size)
    if np.any(found < 0):  # faiss pads with -1 when a graph search finds too few
        bad = int(np.flatnonzero((found < 0).any(axis=1))[0])
        raise ValueError(
            f"The {index_kind} index found fewer than {k} neighbours for text {bad}: use "
            "index='exact', or fewer neighbours.")
    recall, n_queries = 1.0, 0
    if index_kind != "exact":
        n_queries = min(n, n_recall_queries)
        queries = np.sort(random_state.choice(n, size=n_queries, replace=False))
        exact = faiss.IndexFlatIP(d)
        exact.add(unit32)
        _, truth = _search(faiss, exact, unit32, queries, k + 1)
        truth = _drop_self(truth, queries, k)
        hits = sum(np.intersect1d(found[q], t).size for q, t in zip(queries, truth))
        recall = hits / (n_queries * k)
    return found, float(recall), n_queries


def _pair_keys(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    return np.minimum(i, j) * np.int64(n) + np.maximum(i, j)


#: The parameters :func:`neighbour_collapse` and :func:`neighbours_report` share.
_PARAMS = {"n_neighbors": POSITIVE_INT, "index": [StrOptions(set(INDEXES))],
           "top": POSITIVE_INT, "random_state": SEED, "n_jobs": N_JOBS, "progress": PROGRESS}


@validate_params({**_PARAMS, "n_recall_queries": POSITIVE_INT, "precision": PRECISION},
                 prefer_skip_nested_validation=True)
def neighbour_collapse(tokens, n_neighbors: int = 10, *, texts=None, ids=None,
                       positions=None, index: str = "exact", top: int = 10,
                       n_recall_queries: int = 1000, precision: str = "float32",
                       random_state=None, model: str = "", layer: int = -1,
                       dataset: str = "", n_truncated: int | None = None,
                       max_length: int | None = None, n_jobs=None,
                       progress: bool = False) -> NeighboursReport:
    r"""SOCM of every text with its nearest neighbours by the cosine of the mean-pooled vectors.

    See the module docstring for the indexes, duplicates and the cluster.

    Parameters
    ----------
    tokens : TokenSets or list of ndarray of shape (n_i, d)
        At least two token clouds (a memory-mapped store,
        ``TokenSets.load(path, mmap_mode="r")``, is read a chunk at a time).
    n_neighbors : int, default=10
        Neighbours per text, ``k``, in ``[1, N - 1]``.
    texts : sequence of str of length n_texts, optional
        The texts, for the ``text`` columns (left out when None).
    ids : sequence of length n_texts, optional
        The user's id of each text (e.g. ``Corpus.ids``): the ``id`` columns
        and the neighbour lists use them (positions when None).
    positions : sequence of int of length n_texts, optional
        The texts' positions in their corpus (e.g. ``Corpus.positions``), the
        ``i``, ``j`` columns; indices into ``tokens`` when None.
    index : {"exact", "hnsw"}, default="exact"
        The neighbour index: exact flat inner product, or approximate HNSW
        with its recall measured.
    top : int, default=10
        Pairs listed in ``top_pairs``.
    n_recall_queries : int, default=1000
        Texts the recall of ``"hnsw"`` is measured on.
    precision : {"float32", "float64"}, default="float32"
        Of the cross-Gram products, as in :func:`skpool.mean_socm`.
    random_state : int, RandomState instance or None
        Seed of the texts the recall is measured on.
    model, dataset : str
        Labels stored in the record.
    layer : int, default=-1
        The layer label stored in the record.
    n_truncated : int, optional
        Texts the encoder truncated (default: the count ``tokens`` carries).
    max_length : int, optional
        The encoder's token limit (stored in the record).
    n_jobs : int or None, default=None
        Workers for the search and the pairs (docs/glossary.md, ``n_jobs``).
    progress : bool, default=False
        Progress bars on stderr.

    Returns
    -------
    NeighboursReport

    Raises
    ------
    ValueError
        ``n_neighbors`` outside ``[1, N - 1]``, an unknown ``index``, or a text
        whose mean token is zero (named by index).
    ImportError
        If faiss-cpu or pandas is not installed.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> clouds = [rng.normal(size=(6, 8)) + 3.0 for _ in range(8)]
    >>> report = neighbour_collapse(clouds, n_neighbors=2, top=3)
    >>> report.neighbours.shape, report.record.recall, len(report.top_pairs)
    ((8, 2), 1.0, 3)
    >>> list(report.texts_table.columns)
    ['i', 'neighbours', 'max_socm', 'mean_socm', 'spread']
    >>> bool(report.top_pairs["socm"].is_monotonic_decreasing)
    True
    """
    pd = _import_pandas()
    tokens = check_token_sets(tokens, min_texts=2)
    n = len(tokens)
    k, top, n_recall_queries = int(n_neighbors), int(top), int(n_recall_queries)
    if k >= n:
        raise ValueError(f"Expected n_neighbors below the number of texts ({n}): a text is "
                         f"not its own neighbour. Received n_neighbors={k}.")
    dtype = check_precision(precision)
    if texts is not None:
        texts = check_texts(texts)
        if len(texts) != n:
            raise ValueError(f"Expected one text per token cloud ({n}). Received "
                             f"{len(texts)} texts.")
    if positions is None:
        positions = np.arange(n)
    else:
        values = np.asarray(positions)
        if values.shape != (n,) or not np.issubdtype(values.dtype, np.integer):
            raise ValueError(f"Expected positions to be {n} integers (one position per "
                             f"text). Received {describe(positions)}.")
        positions = values.astype(np.int64)
    ids = None if ids is None else check_page_texts(ids, n, what="ids")
    if n_truncated is None:
        n_truncated = tokens.n_truncated
    labels = record_labels(model, layer, dataset, n_truncated=n_truncated,
                           max_length=max_length, random_state=random_state)
    random_state = check_random_state(random_state)
    n_jobs = resolve_n_jobs(n_jobs)

    # one pass over the tokens: the unit means (the cosine's vectors; a zero mean is an
    # error naming the text), the traces (spreads) and the factors the pairs need
    factors = cloud_factors(tokens, normalize=True, name="tokens", dtype=dtype, n_jobs=n_jobs)
    unit = np.asarray(factors.means)
    found, recall, n_queries = _knn(unit, k, index, n_recall_queries, random_state, n_jobs,
                                    progress)

    rows = np.repeat(np.arange(n, dtype=np.int64), k)
    keys = _pair_keys(n, rows, found.ravel())
    unique = np.unique(keys)  # each unordered pair once, sorted by (i, j)
    pi, pj = unique // n, unique % n
    d_mu, d_sigma, socm = paired_components(tokens, pi, pj, n_jobs=n_jobs, progress=progress,
                                            factors=factors, desc="SOCM (neighbour pairs)")
    where = np.searchsorted(unique, keys)
    per_text = socm[where].reshape(n, k)
    # the cosine in float64 from d_mu = (1 - cos) / 2 of the unit means
    cos_pairs = 1.0 - 2.0 * d_mu
    cosine = cos_pairs[where].reshape(n, k)
    spread = np.asarray(factors.traces, dtype=np.float64)
    duplicates = int(np.count_nonzero(_identical(tokens, pi, pj)))

    label = (lambda t: ids[t]) if ids is not None else (lambda t: int(positions[t]))
    table = {"i": positions}
    if ids is not None:
        table["id"] = list(ids)
    if texts is not None:
        table["text"] = list(texts)
    table.update({
        "neighbours": [[label(t) for t in row] for row in found.tolist()],
        "max_socm": per_text.max(axis=1), "mean_socm": per_text.mean(axis=1),
        "spread": spread,
    })
    texts_table = pd.DataFrame(table)

    best = np.lexsort((pj, pi, -socm))[:min(top, socm.size)]
    a, b = pi[best], pj[best]
    pairs = {"i": positions[a], "j": positions[b]}
    if ids is not None:
        pairs["id_i"], pairs["id_j"] = [ids[t] for t in a], [ids[t] for t in b]
    if texts is not None:
        pairs["text_i"], pairs["text_j"] = [texts[t] for t in a], [texts[t] for t in b]
    pairs.update({"cosine": cos_pairs[best], "d_mu": d_mu[best], "d_sigma": d_sigma[best],
                  "socm": socm[best], "spread_i": spread[a], "spread_j": spread[b]})
    top_pairs = pd.DataFrame(pairs)
    top_pairs.index = pd.RangeIndex(1, len(top_pairs) + 1, name="rank")

    record = NeighboursRecord(
        **labels,
        n_texts=n, n_neighbors=k, index=index, recall=recall, n_recall_queries=n_queries,
        n_pairs=int(unique.size), n_duplicate_pairs=duplicates, precision=str(precision),
        top=top)
    return NeighboursReport(record=record, texts_table=texts_table, top_pairs=top_pairs,
                            neighbours=found, cosine=cosine, socm=per_text, pair_i=pi,
                            pair_j=pj, pair_d_mu=d_mu, pair_d_sigma=d_sigma, pair_socm=socm)


def _identical(tokens, pi: np.ndarray, pj: np.ndarray) -> np.ndarray:
    """Whether the clouds of each pair are identical (checked only where the lengths agree)."""
    lengths = tokens.lengths
    same = lengths[pi] == lengths[pj]
    for p in np.flatnonzero(same):
        same[p] = np.array_equal(tokens[int(pi[p])], tokens[int(pj[p])])
    return same


@validate_params(_PARAMS, prefer_skip_nested_validation=True)
def neighbours_report(texts, encoder=None, *, n_neighbors: int = 10, index: str = "exact",
                      top: int = 10, positions=None, ids=None, random_state=None,
                      dataset: str = "", n_jobs=None, progress: bool = False, store=None,
                      partition_size=None) -> NeighboursReport:
    r"""Encode a corpus and compute :func:`neighbour_collapse` of it (``skpool neighbours``).

    Parameters
    ----------
    texts : sequence of str
        At least ``n_neighbors + 1`` texts.
    encoder : TokenEncoder or str, optional
        The encoder, or a model name / local folder; the bundled
        all-MiniLM-L6-v2 when None.
    n_neighbors, index, top, positions, ids, random_state, n_jobs, progress
        As in :func:`neighbour_collapse`.
    dataset : str, optional
        The corpus label stored in the record.
    store, partition_size
        Encode into this token store folder, as in
        :func:`skpool.analysis.collapse_report`.

    Returns
    -------
    NeighboursReport

    Examples
    --------
    >>> report = neighbours_report(["A cat sat on the mat.", "A dog sat on the rug.",
    ...                             "Stocks fell sharply today.", "The match ended 2-1."],
    ...                            n_neighbors=1, top=2)
    >>> report.record.n_neighbors, list(report.texts_table.columns)[:2]
    (1, ['i', 'text'])
    """
    _import_pandas()
    _import_faiss()  # before the encoding
    texts = check_pair_texts(texts, what="neighbours")
    tokens, encoded = encode(make_encoder(encoder), texts, store, partition_size)
    return neighbour_collapse(tokens, n_neighbors, texts=texts, ids=ids, positions=positions,
                              index=index, top=top, random_state=random_state,
                              dataset=dataset, n_jobs=n_jobs, progress=progress, **encoded)
