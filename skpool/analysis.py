r"""Corpus-level measurements: encode texts, measure collapse, return records.

Every function here takes texts (with an encoder) or token clouds, runs the
metrics of :mod:`skpool.metrics` and :mod:`skpool.ot`, and returns small
records; the command line (:mod:`skpool.cli`) only parses arguments, prints
and saves them.

- :func:`collapse_report` encodes a corpus with one model and measures its
  second-order collapse; :func:`collapse_report_of_tokens` does the same for
  token clouds already encoded. Both return a :class:`CollapseReport`.
- :func:`compare_models` gives one :class:`CollapseReport` per model on the
  same texts and pairs.
- :func:`layer_profile` gives one :class:`CollapseRecord` per hidden layer
  from one encoding pass (a :class:`LayerProfile`).
- :func:`pair_components` returns :math:`(d_\mu, d_\Sigma, \mathrm{SOCM})` per
  pair (a :class:`PairComponents`), for the scatter of the paper's Figure 17.
- :func:`ot_report` compares Gaussian and exact :math:`W_2` on pairs of texts
  (an :class:`OTReport`).
- :func:`rescale_spread` and :func:`swap_spread` (from
  :mod:`skpool.interventions`) change every text's spread while keeping its
  mean token: the interventional control of whether collapse measures
  anything mean pooling uses.

A measured corpus is always a :class:`CollapseRecord`, filled by one
function (``skpool._measure.measure_corpus``, shared with :mod:`skpool.pairs`
and :mod:`skpool.evaluation`); ``record.to_dict()`` is what ``skpool ... --json`` writes. The
quantities are defined on the concepts page (``docs/concepts.md``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from . import _html_documents as _pages
from ._html import HTMLReport
from ._engine.sampling import check_random_state, fixed_seed, sample_pairs
from ._params import N_JOBS, N_PAIRS, PROGRESS, SEED, validate_params
from ._measure import (CollapseRecord, Record, check_page_texts,
                       check_pair_texts, encode, encode_layers, make_encoder, measure_corpus,
                       paired_components, record_labels)
from ._progress import check_progress, progress_bar
from ._validation import check_texts, describe
from .encoder.sources import model_label
from .interventions import rescale_spread, swap_spread
from .metrics import Concentration, pairwise_socm_components
from .ot import compare_w2
from .tokensets import TokenSets, check_token_sets

__all__ = [
    "CollapseRecord",
    "CollapseReport",
    "LayerProfile",
    "PairComponents",
    "OTRecord",
    "OTReport",
    "collapse_report",
    "collapse_report_of_tokens",
    "compare_models",
    "comparison_to_html",
    "layer_profile",
    "pair_components",
    "ot_report",
    "rescale_spread",
    "swap_spread",
]


#: Most pairs whose components a report page computes (a uniform sample beyond).
HTML_PAIRS = 20_000


@dataclass(frozen=True, repr=False)  # HTMLReport's repr: shapes, not rows
class CollapseReport(HTMLReport):
    r"""A :class:`CollapseRecord` with the token clouds it was measured on.

    ``to_html(path)`` writes the report as one self-contained HTML page (the
    verdict, the pair scatter, the most collapsed pairs and the conflated near
    pairs with their texts, the per-text spread); a notebook shows it inline.

    Attributes
    ----------
    record : CollapseRecord
    tokens : TokenSets
        The token embeddings of the corpus (for plots or further metrics).
    concentration : Concentration
        Spread ratio and mean within-text cosine of each text.
    texts : tuple of str or None
        The texts measured (shown in the HTML report), when known.
    pairs : PairComponents or None
        Each measured pair's :math:`d_\mu`, :math:`d_\Sigma` and SOCM, the
        very values the record averages, when asked for with ``pairs=True``.
    """

    record: CollapseRecord
    tokens: TokenSets
    concentration: Concentration
    texts: tuple | None = None
    pairs: PairComponents | None = None

    def _html_document(self, *, texts=None, ids=None, command=None, n_jobs=None) -> dict:
        """The HTML page's document: the record and its pairs, spreads and texts.

        ``texts`` and ``ids`` (one per text) replace the report's own; the
        pairs are the report's (the same sample), at most ``HTML_PAIRS``.
        """
        r = self.record
        texts = self.texts if texts is None else check_page_texts(texts, r.n_texts)
        ids = _pages.text_ids(r.n_texts, None if ids is None
                              else check_page_texts(ids, r.n_texts, what="ids"))
        sampled = not r.exact or r.n_pairs > HTML_PAIRS
        if self.pairs is not None and r.n_pairs <= HTML_PAIRS:
            components = self.pairs  # the report's own pairs, already computed
        else:
            components = pair_components(self.tokens, n_pairs=min(r.n_pairs, HTML_PAIRS)
                                         if sampled else None, random_state=r.seed,
                                         n_jobs=n_jobs)
        details = _pages.pair_details(components, spread=self.spread, ids=ids,
                                      random_state=r.seed or 0)
        details.update(_pages.spread_details(self.spread, self.mean_cosine, ids))
        listed = [row[side] for view in ("top_pairs", "near_pairs") for row in details[view]
                  for side in ("i", "j")]
        details.update(_pages.text_details(
            texts, ids, full=[*listed, *_pages.widest(self.spread, ids)],
            hover=ids))  # every text: the per-text table and the hovered points show it
        return _pages.document("report", [r.to_dict()], details, command=command)

    @property
    def spread(self) -> np.ndarray:
        r"""ndarray of shape (n_texts,): the spread ratio :math:`\operatorname{tr}\Sigma` of each text."""
        return self.concentration.spread

    @property
    def mean_cosine(self) -> np.ndarray:
        """ndarray of shape (n_texts,): the mean within-text cosine of each text."""
        return self.concentration.mean_cosine


# ---------------------------------------------------------------------------------------
# Collapse of one corpus, several models, every layer
# ---------------------------------------------------------------------------------------
@validate_params({"n_pairs": N_PAIRS, "random_state": SEED, "n_jobs": N_JOBS,
                  "progress": PROGRESS}, prefer_skip_nested_validation=True)
def collapse_report_of_tokens(tokens, *, model: str = "", layer: int = -1,
                              dataset: str = "", n_pairs: int | None = None,
                              random_state=None, n_truncated: int | None = None,
                              max_length: int | None = None, n_jobs=None,
                              progress: bool = False, pairs: bool = False) -> CollapseReport:
    r"""Measure second-order collapse of token clouds already encoded.

    Parameters
    ----------
    tokens : TokenSets or list of ndarray of shape (n_i, d)
        At least two token clouds.
    model, dataset : str
        Labels stored in the record.
    layer : int, default=-1
        The layer label stored in the record.
    n_pairs : int, optional
        Sample this many distinct pairs (with a standard error); all
        :math:`N(N-1)/2` pairs when None or at least that many.
    random_state : int, RandomState instance or None
        Seed of the pair sample.
    n_truncated : int, optional
        Number of texts the encoder truncated (stored in the record); by
        default the count ``tokens`` carries (:attr:`TokenSets.n_truncated`).
    max_length : int, optional
        The encoder's token limit (stored in the record).
    n_jobs : int or None, default=None
        Workers for the pairwise computation (docs/glossary.md, ``n_jobs``).
    progress : bool, default=False
        Show a tqdm bar on stderr over the pairs (pairs per second).
    pairs : bool, default=False
        Also return each measured pair's components (``CollapseReport.pairs``,
        for the scatter of Figure 17): the record's means are then taken over
        these very values, computed once. Holds three floats per measured
        pair, so meant for the exact SOCM of a few hundred texts or a sample.

    Returns
    -------
    CollapseReport

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> clouds = [rng.normal(size=(5, 8)) + 4.0 for _ in range(4)]
    >>> report = collapse_report_of_tokens(clouds, model="toy")
    >>> report.record.n_pairs, report.record.exact
    (6, True)
    >>> shown = collapse_report_of_tokens(clouds, model="toy", pairs=True)
    >>> shown.pairs.socm.shape, bool(np.isclose(shown.pairs.socm.mean(), report.record.mean_socm))
    ((6,), True)
    """
    pairs = check_progress(pairs, name="pairs")  # a flag, checked like progress
    tokens = check_token_sets(tokens, min_texts=2)
    if n_truncated is None:
        n_truncated = tokens.n_truncated
    labels = record_labels(model, layer, dataset, n_truncated=n_truncated, max_length=max_length,
                     random_state=random_state)
    components = None
    if pairs:
        components = pair_components(tokens, n_pairs=n_pairs, random_state=random_state,
                                     n_jobs=n_jobs, progress=progress)
    record, conc = measure_corpus(tokens, labels, n_pairs=n_pairs, random_state=random_state,
                            n_jobs=n_jobs, progress=progress, pairs=components)
    return CollapseReport(record=record, tokens=tokens, concentration=conc, pairs=components)


@validate_params({"n_pairs": N_PAIRS, "random_state": SEED, "n_jobs": N_JOBS,
                  "progress": PROGRESS}, prefer_skip_nested_validation=True)
def collapse_report(texts, encoder=None, *, n_pairs: int | None = None, random_state=None,
                    dataset: str = "", n_jobs=None, progress: bool = False,
                    store=None, pairs: bool = False,
                    partition_size=None) -> CollapseReport:
    r"""Encode a corpus and measure its second-order collapse.

    This is ``skpool report``: the mean SOCM over all (or ``n_pairs``
    sampled) pairs of texts with its standard error, the mean :math:`d_\mu`
    and :math:`d_\Sigma`, the number of texts that break the paper's trace
    assumption :math:`\operatorname{tr}\Sigma \le 2`, the token concentration
    and the number of truncated texts.

    Parameters
    ----------
    texts : sequence of str
        At least two texts.
    encoder : TokenEncoder or str, optional
        The encoder, or a model name / local folder for a default
        :class:`~skpool.TokenEncoder`; the bundled all-MiniLM-L6-v2 when None.
    n_pairs : int, optional
        Sample this many distinct pairs instead of all :math:`N(N-1)/2`.
    random_state : int, RandomState instance or None
        Seed of the pair sample.
    dataset : str, optional
        The corpus label stored in the record.
    n_jobs : int or None, default=None
        Workers for the pairwise computation (docs/glossary.md, ``n_jobs``).
    progress : bool, default=False
        Show tqdm bars on stderr: over the pairs, and over the encoding
        batches when the encoder is built here from a name (an encoder
        given as an instance keeps its own ``progress``).
    store : str or os.PathLike, optional
        Encode into this token store folder with
        :func:`~skpool.encoder.encode_to_store` (in partitions, on a dask
        cluster inside ``joblib.parallel_config(backend="dask")``; a run
        started again resumes, a finished store is read back) and measure the
        memory-mapped tokens.
    pairs : bool, default=False
        Also return each measured pair's components, as in
        :func:`collapse_report_of_tokens`.
    partition_size : int, optional
        Texts per encoding task with ``store`` (default: that of
        :func:`~skpool.encoder.encode_to_store`, 256); smaller partitions
        spread a small corpus over more workers and lose less on a fault.

    Returns
    -------
    CollapseReport
    """
    check_progress(pairs, name="pairs")  # before the encoding
    texts = check_pair_texts(texts)
    tokens, encoded = encode(make_encoder(encoder, progress=progress), texts, store,
                              partition_size)
    report = collapse_report_of_tokens(tokens, dataset=dataset, n_pairs=n_pairs,
                                       random_state=random_state, n_jobs=n_jobs,
                                       progress=progress, pairs=pairs, **encoded)
    return replace(report, texts=tuple(texts))


@validate_params({"n_pairs": N_PAIRS, "random_state": SEED, "n_jobs": N_JOBS,
                  "progress": PROGRESS}, prefer_skip_nested_validation=True)
def compare_models(texts, models, *, n_pairs: int | None = None, random_state=None,
                   dataset: str = "", n_jobs=None, progress: bool = False, store=None,
                   partition_size=None, **encoder_params) -> list[CollapseReport]:
    """Run :func:`collapse_report` for several models on the same texts.

    Parameters
    ----------
    texts : sequence of str
    models : sequence of (str or TokenEncoder)
        Model names / local folders (each gets a
        ``TokenEncoder(model=..., **encoder_params)``) or encoders.
    n_pairs, random_state, dataset, n_jobs, progress
        As in :func:`collapse_report`; the same pairs are drawn for every
        model (same seed, same number of texts).
    store : str or os.PathLike, optional
        Encode each model into a token store of its own, the folder
        ``store/model-K`` for the K-th model (from 0), as in
        :func:`collapse_report`: on a dask cluster inside
        ``joblib.parallel_config(backend="dask")``, resumed when run again.
    partition_size : int, optional
        Texts per encoding task with ``store``, as in :func:`collapse_report`.
    **encoder_params
        Passed to every :class:`~skpool.TokenEncoder` built from a name
        (``layer``, ``max_length``, ``batch_size``, ``cache``, ...).

    Returns
    -------
    list of CollapseReport
        One per model, in the given order.
    """
    if isinstance(models, (str, Path)) or not models:
        raise ValueError(
            f"Expected models to be a non-empty list of model names or folders. "
            f"Received {describe(models)}."
        )
    # one store per model: a store holds one model's tokens (another model is refused)
    stores = [None if store is None else Path(os.fspath(store)) / f"model-{k}"
              for k in range(len(models))]
    return [
        collapse_report(texts, make_encoder(model, progress=progress, **encoder_params),
                        n_pairs=n_pairs, random_state=random_state, dataset=dataset,
                        n_jobs=n_jobs, progress=progress, store=folder,
                        partition_size=partition_size)
        for model, folder in zip(models, stores)
    ]


def comparison_to_html(reports, path, *, command=None):
    """Write the reports of :func:`compare_models` as one self-contained HTML page.

    Parameters
    ----------
    reports : list of CollapseReport
        One per model, on the same texts.
    path : str or os.PathLike
        The HTML file to write.
    command : str, optional
        The command line shown as the way to reproduce the page.

    Returns
    -------
    pathlib.Path
    """
    from ._html import write_html

    return write_html(path, comparison_document(reports, command=command))


def comparison_document(reports, *, command=None) -> dict:
    """The HTML document of several :class:`CollapseReport` (or records) on the same texts."""
    records = [getattr(r, "record", r) for r in reports]
    if not records or not all(isinstance(r, CollapseRecord) for r in records):
        raise TypeError("Expected a non-empty list of CollapseReport (compare_models). "
                        f"Received {describe(reports)}.")
    return _pages.document("compare", [r.to_dict() for r in records], command=command)


@dataclass(frozen=True)
class LayerProfile(HTMLReport):
    """Collapse at every requested hidden layer of an encoder.

    ``to_html(path)`` writes the profile as one self-contained HTML page.

    Attributes
    ----------
    records : tuple of CollapseRecord
        One record per layer, in increasing layer order (0 is the embedding
        layer's output).
    model : str
        The encoder's model, as given.
    n_truncated : int
        Texts the encoder cut at its ``max_length``.
    """

    records: tuple
    model: str = ""
    n_truncated: int = 0

    @property
    def layers(self) -> np.ndarray:
        """ndarray of int: the layer indices."""
        return np.array([r.layer for r in self.records])

    def column(self, name: str) -> np.ndarray:
        """ndarray: one statistic across layers, e.g. ``profile.column("mean_socm")``."""
        return np.array([getattr(r, name) for r in self.records])

    def to_dicts(self) -> list[dict]:
        """list of dict: the records as plain dictionaries (JSON-ready)."""
        return [r.to_dict() for r in self.records]

    def to_frame(self):
        """The records as a :class:`pandas.DataFrame` (requires pandas)."""
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover - pandas is a test dependency
            raise ImportError("LayerProfile.to_frame needs pandas: pip install pandas") from None
        return pd.DataFrame(self.to_dicts())

    def _html_document(self, *, command=None) -> dict:
        return _pages.document("layers", self.to_dicts(), command=command)


@validate_params({"n_pairs": N_PAIRS, "random_state": SEED, "n_jobs": N_JOBS,
                  "progress": PROGRESS}, prefer_skip_nested_validation=True)
def layer_profile(encoder, texts, *, layers=None, n_pairs=None, random_state=None,
                  dataset: str = "", n_jobs=None, progress: bool = False, store=None,
                  partition_size=None) -> LayerProfile:
    r"""Measure collapse at every hidden layer of an encoder in one encoding pass.

    For each layer, the :class:`CollapseRecord` of :func:`collapse_report`:
    the corpus mean SOCM with its standard error, mean :math:`d_\mu` and
    :math:`d_\Sigma`, the number of texts breaking the trace assumption, and
    the spread ratio and within-text cosine (the paper's layer-wise
    analysis, its Figures 4 and 11). ``skpool layers`` prints it.

    Parameters
    ----------
    encoder : TokenEncoder or str
        An encoder, or a model name / local folder. Its ``layer`` parameter
        is ignored; every requested layer is read from the same forward pass.
    texts : sequence of str of length n_texts (at least 2)
    layers : sequence of int or None, default=None
        Hidden-state indices (0 = embeddings, negative counts from the end);
        ``None`` means all, ``0 .. n_layers``.
    n_pairs : int or None, default=None
        All pairs (``None``) or this many sampled pairs per layer (the same
        pairs at every layer, so layers are compared on equal terms).
    random_state, dataset, n_jobs
        As in :func:`collapse_report` (``dataset`` is stored in every record).
    progress : bool, default=False
        Show tqdm bars on stderr: over the layers, and over the encoding
        batches when the encoder is built here from a name.
    store : str or os.PathLike, optional
        Encode each layer into a token store of its own, the folder
        ``store/layer-L`` for hidden layer ``L`` (a store holds one layer), as
        in :func:`collapse_report`: on a dask cluster inside
        ``joblib.parallel_config(backend="dask")``, resumed when run again.
        One encoding pass per layer instead of one for all.
    partition_size : int, optional
        Texts per encoding task with ``store``, as in :func:`collapse_report`.

    Returns
    -------
    LayerProfile

    Examples
    --------
    >>> from skpool import TokenEncoder, layer_profile
    >>> profile = layer_profile(TokenEncoder(), ["A cat sat.", "Stocks fell sharply.",
    ...                                          "The match ended 2-1."], layers=[0, -1])
    >>> profile.layers.tolist()
    [0, 6]
    """
    encoder = make_encoder(encoder, progress=progress)
    texts = check_texts(texts)
    if len(texts) < 2:
        raise ValueError(
            f"Expected at least 2 texts for a layer profile (SOCM compares pairs of texts). "
            f"Received {len(texts)}."
        )
    by_layer = encode_layers(encoder, texts, layers, store, partition_size)
    # one seed for every layer so that all layers see the same pairs
    seed = random_state if n_pairs is None else fixed_seed(random_state)
    records = []
    n_truncated = 0
    with progress_bar(progress, total=len(by_layer), desc="SOCM per layer",
                      unit="layer") as bar:
        for layer, tokens in by_layer.items():
            bar.set_postfix_str(f"layer {layer}")
            n_truncated = tokens.n_truncated
            labels = record_labels(model_label(encoder.model, encoder.revision), layer, dataset,
                                   n_truncated=n_truncated,
                             max_length=getattr(encoder, "max_length_", None),
                             random_state=random_state)
            records.append(measure_corpus(tokens, labels, n_pairs=n_pairs, random_state=seed,
                                    n_jobs=n_jobs)[0])
            bar.update(1)
    return LayerProfile(records=tuple(records),
                        model=model_label(encoder.model, encoder.revision),
                        n_truncated=n_truncated)


# ---------------------------------------------------------------------------------------
# Per-pair components
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PairComponents:
    r"""Per-pair :math:`d_\mu`, :math:`d_\Sigma` and SOCM (for the scatter of Figure 17).

    Attributes
    ----------
    i, j : ndarray of shape (n_pairs,)
        The two texts of each pair (indices into the corpus, ``i < j``), in
        row-major order.
    d_mu, d_sigma, socm : ndarray of shape (n_pairs,)
        The pair's components, as computed (never clipped).
    n_texts : int
        Texts in the corpus.
    exact : bool
        Whether these are all :math:`N(N-1)/2` pairs (otherwise a uniform
        sample of them).
    """

    i: np.ndarray
    j: np.ndarray
    d_mu: np.ndarray
    d_sigma: np.ndarray
    socm: np.ndarray
    n_texts: int
    exact: bool = True

    @property
    def n_pairs_total(self) -> int:
        """int: :math:`N(N-1)/2`, the pairs of the corpus."""
        return self.n_texts * (self.n_texts - 1) // 2


@validate_params({"n_pairs": N_PAIRS, "random_state": SEED, "n_jobs": N_JOBS,
                  "progress": PROGRESS}, prefer_skip_nested_validation=True)
def pair_components(tokens, *, n_pairs: int | None = None, random_state=None,
                    n_jobs=None, progress: bool = False) -> PairComponents:
    r"""Each pair's :math:`(d_\mu, d_\Sigma, \mathrm{SOCM})`: all pairs, or the sample of :func:`mean_socm`.

    With ``n_pairs`` the pairs are those :func:`~skpool.mean_socm` averages
    with the same ``n_pairs`` and ``random_state`` (distinct pairs drawn
    uniformly without replacement), so ``socm.mean()`` is its corpus score and
    a figure of them shows exactly what a report computed.

    Parameters
    ----------
    tokens : TokenSets or list of ndarray of shape (n_i, d)
        At least two token clouds.
    n_pairs : int, optional
        Sample this many distinct pairs; all :math:`N(N-1)/2` pairs (exact)
        when None or at least that many.
    random_state : int, RandomState instance or None
        Seed of the pair sample.
    n_jobs : int or None, default=None
        Workers for the pairwise computation (docs/glossary.md, ``n_jobs``).
    progress : bool, default=False
        Show a tqdm bar on stderr over the pairs (pairs per second).

    Returns
    -------
    PairComponents

    Examples
    --------
    >>> import numpy as np
    >>> from skpool import mean_socm
    >>> rng = np.random.default_rng(0)
    >>> clouds = [rng.normal(size=(6, 4)) + 3.0 for _ in range(5)]
    >>> pairs = pair_components(clouds)
    >>> pairs.socm.shape, pairs.exact
    ((10,), True)
    >>> bool(np.allclose(pairs.socm, (1 - pairs.d_mu) * pairs.d_sigma))
    True
    >>> sampled = pair_components(clouds, n_pairs=4, random_state=0)
    >>> sampled.socm.shape, sampled.exact
    ((4,), False)
    >>> bool(np.isclose(sampled.socm.mean(), mean_socm(clouds, 4, random_state=0).mean))
    True
    """
    tokens = check_token_sets(tokens, min_texts=2)
    n = len(tokens)
    total = n * (n - 1) // 2
    if n_pairs is None or n_pairs >= total:
        result = pairwise_socm_components(tokens, n_jobs=n_jobs, progress=progress)
        a, b = np.triu_indices(n, k=1)
        return PairComponents(
            i=a, j=b,
            d_mu=np.asarray(result.d_mu, dtype=np.float64)[a, b],
            d_sigma=np.asarray(result.d_sigma, dtype=np.float64)[a, b],
            socm=np.asarray(result.socm, dtype=np.float64)[a, b],
            n_texts=n, exact=True,
        )
    # the sampler of mean_socm: the same seed draws the same pairs
    a, b = sample_pairs(n, n_pairs, check_random_state(random_state))
    d_mu, d_sigma, socm = paired_components(tokens, a, b, n_jobs=n_jobs, progress=progress)
    return PairComponents(i=a, j=b, d_mu=d_mu, d_sigma=d_sigma, socm=socm, n_texts=n,
                          exact=False)


# ---------------------------------------------------------------------------------------
# Optimal transport
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class OTRecord(Record):
    r"""Gaussian against exact :math:`W_2` of one model on one corpus (``skpool ot``).

    Attributes
    ----------
    model, dataset : str
    layer : int
    n_texts, n_pairs : int
        Texts encoded and pairs compared.
    normalize : bool
        Whether the clouds were mean-normalized (:math:`X/\lVert m\rVert`).
    spearman : float or None
        Spearman correlation of Gaussian and exact :math:`W_2` over the pairs
        (None when undefined).
    median_ratio, min_ratio, max_ratio : float
        Of ``gaussian_w2 / exact_w2`` (at most 1 by the Gelbrich bound).
    mean_exact_w2, mean_gaussian_w2 : float
        Mean :math:`W_2` (not squared) over the pairs.
    n_gelbrich_violations : int
        Pairs where the Gaussian value exceeds the exact one beyond
        round-off; must be 0.
    n_truncated : int
    max_length : int or None
    seed : int or None
    skpool_version : str
    """

    n_texts: int
    n_pairs: int
    normalize: bool
    spearman: float | None
    median_ratio: float
    min_ratio: float
    max_ratio: float
    mean_exact_w2: float
    mean_gaussian_w2: float
    n_gelbrich_violations: int


@dataclass(frozen=True, repr=False)  # HTMLReport's repr: shapes, not rows
class OTReport(HTMLReport):
    """An :class:`OTRecord` with the comparison it summarizes.

    ``to_html(path)`` writes it as one self-contained HTML page (the scatter of
    Gaussian against exact :math:`W_2`, the pairs with their texts).

    Attributes
    ----------
    record : OTRecord
    comparison : skpool.ot.W2Comparison
        The table of pairs (``.table``) that :func:`~skpool.plotting.plot_w2_comparison`
        draws.
    texts : tuple of str or None
        The texts compared, when known.
    """

    record: OTRecord
    comparison: object
    texts: tuple | None = None

    def _html_document(self, *, texts=None, ids=None, command=None) -> dict:
        """The HTML page's document: the record, every pair's W2 and the texts."""
        r = self.record
        texts = self.texts if texts is None else check_page_texts(texts, r.n_texts)
        ids = _pages.text_ids(r.n_texts, None if ids is None
                              else check_page_texts(ids, r.n_texts, what="ids"))
        table = self.comparison.table
        i = [ids[k] for k in table["i"]]
        j = [ids[k] for k in table["j"]]
        details = {"ot": {"i": i, "j": j,
                          "exact_w2": [_finite_or_none(v) for v in table["exact_w2"]],
                          "gaussian_w2": [_finite_or_none(v) for v in table["gaussian_w2"]]}}
        details.update(_pages.text_details(texts, ids, hover=[*i, *j]))
        return _pages.document("ot", [r.to_dict()], details, command=command)


def _finite_or_none(value):
    value = float(value)
    return value if math.isfinite(value) else None


@validate_params({"n_pairs": N_PAIRS, "random_state": SEED, "n_jobs": N_JOBS,
                  "progress": PROGRESS}, prefer_skip_nested_validation=True)
def ot_report(texts, encoder=None, *, n_pairs: int | None = 200, normalize: bool = False,
              random_state=None, dataset: str = "", ids=None, n_jobs=None,
              progress: bool = False, store=None, partition_size=None) -> OTReport:
    r"""Encode a corpus and compare Gaussian and exact :math:`W_2` on pairs of texts.

    Parameters
    ----------
    texts : sequence of str
        At least two texts.
    encoder : TokenEncoder or str, optional
        As in :func:`collapse_report`.
    n_pairs : int or None, default=200
        Distinct random pairs to compare; all pairs when None or at least
        :math:`N(N-1)/2`.
    normalize : bool, default=False
        Compare the mean-normalized clouds instead of the raw ones.
    random_state : int, RandomState instance or None
        Seed of the pair sample.
    dataset : str, optional
        The corpus label stored in the record.
    ids : sequence of length n_texts, optional
        The user's id of each text (e.g. ``Corpus.ids``), written beside
        ``i`` and ``j`` in the comparison table's columns ``id_i`` and
        ``id_j``.
    n_jobs : int or None, default=None
        Workers for the exact transport problems (docs/glossary.md, ``n_jobs``).
    progress : bool, default=False
        Show tqdm bars on stderr: over the exact transport problems, and over
        the encoding batches when the encoder is built here from a name.
    store : str or os.PathLike, optional
        Encode into this token store folder, as in :func:`collapse_report`.
    partition_size : int, optional
        Texts per encoding task with ``store``, as in :func:`collapse_report`.

    Returns
    -------
    OTReport
    """
    texts = check_pair_texts(texts, what="W2")
    ids = None if ids is None else check_page_texts(ids, len(texts), what="ids")
    total = len(texts) * (len(texts) - 1) // 2
    pairs = None if n_pairs is None or n_pairs >= total else n_pairs
    tokens, encoded = encode(make_encoder(encoder, progress=progress), texts, store,
                              partition_size)
    comparison = compare_w2(tokens, pairs, normalize=normalize, random_state=random_state,
                            n_jobs=n_jobs, progress=progress)
    table = comparison.table
    if ids is not None:  # the user's ids beside the positions (a fresh table: ours to edit)
        table.insert(2, "id_i", [ids[k] for k in table["i"]])
        table.insert(3, "id_j", [ids[k] for k in table["j"]])
    record = OTRecord(
        **record_labels(dataset=dataset, random_state=random_state, **encoded),
        n_texts=len(texts),
        n_pairs=int(comparison.n_pairs),
        normalize=bool(comparison.normalize),
        spearman=_finite_or_none(comparison.spearman),
        median_ratio=float(comparison.median_ratio),
        min_ratio=float(table["ratio"].min()),
        max_ratio=float(table["ratio"].max()),
        mean_exact_w2=float(table["exact_w2"].mean()),
        mean_gaussian_w2=float(table["gaussian_w2"].mean()),
        n_gelbrich_violations=int(comparison.n_gelbrich_violations),
    )
    return OTReport(record=record, comparison=comparison, texts=tuple(texts))
