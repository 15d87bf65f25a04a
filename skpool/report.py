r"""The collapse report: the library functions behind the ``skpool`` command.

Each function here takes texts (or an encoder and texts), runs the metrics of
:mod:`skpool.math.socm` / :mod:`skpool.scoring` / :mod:`skpool.ot`, and returns
plain records, so that the command line (:mod:`skpool.cli`) only parses
arguments, prints and saves.

- :func:`load_corpus` reads a bundled corpus by name (``"wiki-films"``,
  ``"bbc-news"``, ``"rotten-tomatoes"``) or a ``.txt`` / ``.jsonl`` file.
- :func:`collapse_report` encodes a corpus with one model and measures its
  second-order collapse: mean SOCM :math:`\pm` standard error, mean
  :math:`d_\mu` and :math:`d_\Sigma`, the texts that break the paper's trace
  assumption, the token concentration and the truncations.
- :func:`compare_models` does the same for several models on one corpus.
- :func:`layer_report` gives one record per hidden layer.
- :func:`pair_components` returns :math:`(d_\mu, d_\Sigma, \mathrm{SOCM})` per
  pair for the scatter plot of the paper's Figure 17.

Every record is a :class:`CollapseRecord`; ``record.to_dict()`` is what
``skpool ... --json`` writes.

References
----------
.. [1] Hara, Kurita, Imaizumi, Inui, Yokoi. "Why Mean Pooling Works: Quantifying
   Second-Order Collapse in Text Embeddings." ACL 2026, arXiv:2604.27398.
"""

from __future__ import annotations

import json
import math
import numbers
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from sklearn.utils import check_random_state

from ._validation import check_positive_int, check_texts, describe
from .math.socm import TRACE_ASSUMPTION

__all__ = [
    "DATASETS",
    "Corpus",
    "CollapseRecord",
    "CollapseReport",
    "PairComponents",
    "load_corpus",
    "read_corpus_file",
    "collapse_record",
    "collapse_report",
    "compare_models",
    "layer_report",
    "pair_components",
    "format_report",
    "format_table",
    "format_ot",
    "ot_report",
    "OTRecord",
    "OTReport",
    "records_to_json",
]

#: Bundled corpora: name -> (loader function name in :mod:`skpool.datasets`, description).
DATASETS = {
    "wiki-films": ("load_wiki_films", "English Wikipedia lead sections of 997 films"),
    "bbc-news": ("load_bbc_news", "2,225 BBC News articles in 5 topics"),
    "rotten-tomatoes": ("load_rotten_tomatoes", "Rotten Tomatoes review snippets"),
}


# ---------------------------------------------------------------------------------------
# Corpora
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Corpus:
    """A list of texts and where they came from.

    Attributes
    ----------
    name : str
        The bundled corpus name or the file path it was read from.
    texts : list of str
        The texts, in corpus order.
    n_available : int
        How many texts the source holds before sub-sampling.
    """

    name: str
    texts: list
    n_available: int


def _subsample(texts: list, n_texts, random_state) -> list:
    """Draw ``n_texts`` texts without replacement, kept in corpus order."""
    if n_texts is None or n_texts >= len(texts):
        return list(texts)
    rng = np.random.default_rng(random_state)
    keep = np.sort(rng.choice(len(texts), size=n_texts, replace=False))
    return [texts[i] for i in keep]


def read_corpus_file(path) -> list[str]:
    """Read texts from a ``.txt`` file (one per line) or a ``.jsonl`` file.

    Parameters
    ----------
    path : str or path-like
        A ``.txt`` file holds one text per line; blank lines are skipped and
        surrounding whitespace is stripped. A ``.jsonl`` file holds one JSON
        object per line with a string field ``"text"``; blank lines are
        skipped.

    Returns
    -------
    list of str

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the suffix is neither ``.txt`` nor ``.jsonl``, the file is not
        UTF-8, or a ``.jsonl`` line is not a JSON object with a string
        ``"text"`` field (the line number is named).

    Examples
    --------
    >>> import tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "texts.jsonl")
    >>> with open(path, "w") as f:
    ...     _ = f.write('{"text": "a cat"}\\n\\n{"text": "a dog", "id": 2}\\n')
    >>> read_corpus_file(path)
    ['a cat', 'a dog']
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".txt", ".jsonl"):
        raise ValueError(
            f"Expected a corpus file ending in .txt (one text per line) or .jsonl "
            f"(a \"text\" field per line). Received {str(path)!r}."
        )
    if not path.is_file():
        raise FileNotFoundError(f"corpus file {str(path)!r} does not exist")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"Expected {str(path)!r} to be UTF-8 text. Received bytes that are not UTF-8 "
            f"at byte {exc.start}."
        ) from None
    if suffix == ".txt":
        return [line.strip() for line in lines if line.strip()]
    texts = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"Expected line {number} of {str(path)!r} to be a JSON object. "
                f"Received invalid JSON ({exc.msg} at column {exc.colno})."
            ) from None
        if not isinstance(item, dict) or "text" not in item:
            raise ValueError(
                f"Expected line {number} of {str(path)!r} to be a JSON object with a "
                f"\"text\" field. Received {describe(item)}."
            )
        if not isinstance(item["text"], str):
            raise ValueError(
                f"Expected the \"text\" field on line {number} of {str(path)!r} to be a "
                f"string. Received {describe(item['text'])}."
            )
        texts.append(item["text"])
    return texts


def load_corpus(dataset: str = "wiki-films", *, n_texts: int | None = None,
                random_state=None) -> Corpus:
    """Load a bundled corpus by name, or a ``.txt`` / ``.jsonl`` file.

    Parameters
    ----------
    dataset : str, default="wiki-films"
        One of ``"wiki-films"``, ``"bbc-news"``, ``"rotten-tomatoes"`` (read
        from the registry packages of ``requirements/data.txt``), or a path
        to a ``.txt`` or ``.jsonl`` file (see :func:`read_corpus_file`).
    n_texts : int, optional
        Keep a random sample of this many texts (in corpus order); all texts
        when None or when the corpus is smaller.
    random_state : int, optional
        Seed of the sample.

    Returns
    -------
    Corpus

    Raises
    ------
    ValueError
        If ``dataset`` is neither a known name nor a ``.txt``/``.jsonl`` path,
        or the corpus holds fewer than two texts (SOCM compares pairs).
    FileNotFoundError
        If the file does not exist.
    """
    if not isinstance(dataset, (str, Path)):
        raise TypeError(
            f"Expected dataset to be a corpus name or a file path. Received {describe(dataset)}."
        )
    n_texts = check_positive_int(n_texts, name="n_texts", minimum=2, allow_none=True)
    key = str(dataset)
    if key in DATASETS:
        from . import datasets

        loader = getattr(datasets, DATASETS[key][0])
        # the loader's own sample (stratified for labelled corpora), so that the texts are
        # those of ``load_...(n_texts, random_state)`` in Python
        full = loader().texts
        texts = check_texts(loader(n_texts=n_texts, random_state=random_state).texts, name=key)
    else:
        suffix = Path(key).suffix.lower()
        if suffix not in (".txt", ".jsonl"):
            names = ", ".join(repr(name) for name in DATASETS)
            raise ValueError(
                f"Expected dataset to be one of {names} or a path to a .txt or .jsonl file. "
                f"Received {key!r}."
            )
        full = read_corpus_file(key)
        texts = _subsample(full, n_texts, random_state)
    if len(texts) < 2:
        raise ValueError(
            f"Expected the corpus {key!r} to hold at least two texts (SOCM compares pairs "
            f"of texts). Received {len(texts)}."
        )
    return Corpus(name=key, texts=texts, n_available=len(full))


# ---------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------
class _Record:
    """What every JSON record of the command line shares."""

    def to_dict(self) -> dict:
        """Return the record as a plain ``dict`` (field name to value)."""
        return asdict(self)


@dataclass(frozen=True)
class CollapseRecord(_Record):
    r"""The collapse report of one model (and one layer) on one corpus.

    This is one record of ``skpool ... --json``; :meth:`to_dict` gives it as
    a JSON-ready ``dict``.

    Attributes
    ----------
    model : str
        The model name or folder.
    layer : int
        The hidden layer the tokens come from (0 = embedding layer, the last
        layer is the model's number of layers).
    dataset : str
        The corpus name or file.
    n_texts : int
        Number of texts ``N``.
    n_pairs : int
        Number of text pairs averaged: ``N (N - 1) / 2`` when ``exact``,
        otherwise the number of distinct pairs sampled.
    exact : bool
        Whether every pair was used (then ``stderr`` is 0).
    mean_socm : float
        Mean SOCM over the pairs. Not clipped: above 1 is possible when texts
        break the trace assumption.
    stderr : float
        Standard error of ``mean_socm`` (0 when exact; with the
        finite-population correction when sampled).
    mean_d_mu, mean_d_sigma : float
        Mean :math:`d_\mu = \lVert\mu_1-\mu_2\rVert^2/4` and mean
        :math:`d_\Sigma = B^2(\Sigma_1, \Sigma_2)/4` over the same pairs.
    n_trace_violations : int
        Number of texts with :math:`\operatorname{tr}\Sigma > 2` (the paper's
        assumption, under which :math:`d_\Sigma \le 1`).
    mean_spread, median_spread, max_spread : float
        The spread ratio :math:`\operatorname{tr}\Sigma = S(X)/\lVert m\rVert^2`
        over texts (the paper's token concentration; smaller = more concentrated).
    mean_cosine : float
        Mean over texts of the mean within-text cosine
        :math:`\frac1{n^2}\sum_{j,k}\cos(x_j, x_k)`.
    n_truncated : int
        Number of texts cut at ``max_length`` tokens.
    max_length : int or None
        The token limit used.
    seed : int or None
        The seed of the text sample and of the pair sample.
    skpool_version : str
    """

    model: str
    layer: int
    dataset: str
    n_texts: int
    n_pairs: int
    exact: bool
    mean_socm: float
    stderr: float
    mean_d_mu: float
    mean_d_sigma: float
    n_trace_violations: int
    mean_spread: float
    median_spread: float
    max_spread: float
    mean_cosine: float
    n_truncated: int
    max_length: int | None
    seed: int | None
    skpool_version: str = field(default="")


@dataclass(frozen=True)
class CollapseReport:
    """A :class:`CollapseRecord` with the token clouds it was measured on.

    Attributes
    ----------
    record : CollapseRecord
    tokens : TokenSets
        The token embeddings of the corpus (for plots or further metrics).
    spread : ndarray of shape (n_texts,)
        Spread ratio :math:`\\operatorname{tr}\\Sigma` of each text.
    mean_cosine : ndarray of shape (n_texts,)
        Mean within-text cosine of each text.
    """

    record: CollapseRecord
    tokens: object
    spread: np.ndarray
    mean_cosine: np.ndarray


def _version() -> str:
    from . import __version__

    return __version__


def _optional_int(value):
    return None if value is None else int(value)


def _seed(random_state):
    """The seed to store in a record: an int seed, else None (a Generator has none)."""
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return int(random_state)
    return None


def collapse_record(tokens, *, model: str = "", layer: int = -1, dataset: str = "",
                    n_pairs: int | None = None, random_state=None, n_truncated: int = 0,
                    max_length: int | None = None, n_jobs=None) -> CollapseReport:
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
    random_state : int, optional
        Seed of the pair sample.
    n_truncated : int, default=0
        Number of texts the encoder truncated (stored in the record).
    max_length : int, optional
        The encoder's token limit (stored in the record).
    n_jobs : int or None, default=None
        Workers for the pairwise computation (joblib's convention: None is
        one, -1 is every core).

    Returns
    -------
    CollapseReport

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> clouds = [rng.normal(size=(5, 8)) + 4.0 for _ in range(4)]
    >>> report = collapse_record(clouds, model="toy")
    >>> report.record.n_pairs, report.record.exact
    (6, True)
    """
    from .math.socm import concentration, mean_socm

    result = mean_socm(tokens, n_pairs=n_pairs, random_state=random_state, n_jobs=n_jobs)
    conc = concentration(tokens)
    spread = np.asarray(conc.spread, dtype=np.float64)
    cosine = np.asarray(conc.mean_cosine, dtype=np.float64)
    record = CollapseRecord(
        model=str(model),
        layer=int(layer),
        dataset=str(dataset),
        n_texts=int(spread.size),
        n_pairs=int(result.n_pairs),
        exact=bool(result.exact),
        mean_socm=float(result.mean),
        stderr=float(result.stderr),
        mean_d_mu=float(result.mean_d_mu),
        mean_d_sigma=float(result.mean_d_sigma),
        n_trace_violations=int(result.n_trace_violations),
        mean_spread=float(spread.mean()),
        median_spread=float(np.median(spread)),
        max_spread=float(spread.max()),
        mean_cosine=float(cosine.mean()),
        n_truncated=int(n_truncated),
        max_length=_optional_int(max_length),
        seed=_seed(random_state),
        skpool_version=_version(),
    )
    return CollapseReport(record=record, tokens=tokens, spread=spread, mean_cosine=cosine)


def _make_encoder(encoder, **params):
    """A TokenEncoder from an instance (kept as is), a model name/folder or None."""
    from .encoder import TokenEncoder

    if encoder is None:
        return TokenEncoder(**params)
    if isinstance(encoder, (str, Path)):
        return TokenEncoder(model=str(encoder), **params)
    if isinstance(encoder, TokenEncoder):
        return encoder
    raise TypeError(
        "Expected encoder to be a TokenEncoder, a model name or a model folder. "
        f"Received {describe(encoder)}."
    )


def _encoder_layer(encoder) -> int:
    """The encoder's layer as a non-negative hidden-state index, once it is fitted."""
    layer = int(encoder.layer)
    n_layers = getattr(encoder, "n_layers_", None)
    if layer < 0 and n_layers is not None:
        # hidden_states holds the embedding output and one entry per layer
        layer += int(n_layers) + 1
    return layer


def _model_label(encoder) -> str:
    return str(encoder.model)


def collapse_report(texts, encoder=None, *, n_pairs: int | None = None, random_state=None,
                    dataset: str = "", n_jobs=None) -> CollapseReport:
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
    random_state : int, optional
        Seed of the pair sample.
    dataset : str, optional
        The corpus label stored in the record.
    n_jobs : int or None, default=None
        Workers for the pairwise computation (joblib's convention: None is
        one, -1 is every core).

    Returns
    -------
    CollapseReport
    """
    texts = check_texts(texts)
    if len(texts) < 2:
        raise ValueError(
            f"Expected at least two texts (SOCM compares pairs of texts). Received {len(texts)}."
        )
    encoder = _make_encoder(encoder)
    tokens = encoder.fit_transform(texts)
    return collapse_record(
        tokens, model=_model_label(encoder), layer=_encoder_layer(encoder), dataset=dataset,
        n_pairs=n_pairs, random_state=random_state, n_jobs=n_jobs,
        n_truncated=getattr(encoder, "n_truncated_", 0),
        max_length=getattr(encoder, "max_length_", None),
    )


def compare_models(texts, models, *, n_pairs: int | None = None, random_state=None,
                   dataset: str = "", n_jobs=None, **encoder_params) -> list[CollapseReport]:
    """Run :func:`collapse_report` for several models on the same texts.

    Parameters
    ----------
    texts : sequence of str
    models : sequence of (str or TokenEncoder)
        Model names / local folders (each gets a
        ``TokenEncoder(model=..., **encoder_params)``) or encoders.
    n_pairs, random_state, dataset, n_jobs
        As in :func:`collapse_report`; the same pairs are drawn for every
        model (same seed, same number of texts).
    **encoder_params
        Passed to every :class:`~skpool.TokenEncoder` built from a name
        (``layer``, ``max_length``, ``batch_size``, ``progress``, ...).

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
    return [
        collapse_report(texts, _make_encoder(model, **encoder_params), n_pairs=n_pairs,
                        random_state=random_state, dataset=dataset, n_jobs=n_jobs)
        for model in models
    ]


def layer_report(texts, encoder=None, *, layers=None, n_pairs: int | None = None,
                 random_state=None, dataset: str = "", n_jobs=None) -> list[CollapseRecord]:
    r"""The collapse report at every hidden layer of one model (``skpool layers``).

    A thin wrapper of :func:`skpool.layer_profile` (one encoding pass; the
    same sampled pairs at every layer) that returns one
    :class:`CollapseRecord` per layer, with the corpus and encoder settings.

    Parameters
    ----------
    texts : sequence of str
        At least two texts.
    encoder : TokenEncoder or str, optional
        As in :func:`collapse_report`; its ``layer`` is ignored.
    layers : sequence of int, optional
        Hidden-state indices (0 = embeddings, negative counts from the end);
        all of them when None.
    n_pairs, random_state, dataset, n_jobs
        As in :func:`collapse_report`.

    Returns
    -------
    list of CollapseRecord
        In increasing layer order.
    """
    from .scoring import layer_profile

    texts = check_texts(texts)
    if len(texts) < 2:
        raise ValueError(
            f"Expected at least two texts (SOCM compares pairs of texts). Received {len(texts)}."
        )
    encoder = _make_encoder(encoder)
    profile = layer_profile(encoder, texts, layers=layers, n_pairs=n_pairs,
                            random_state=random_state, n_jobs=n_jobs)
    version = _version()
    return [
        CollapseRecord(
            model=_model_label(encoder), layer=int(r.layer), dataset=str(dataset),
            n_texts=int(r.n_texts), n_pairs=int(r.n_pairs), exact=bool(r.exact),
            mean_socm=float(r.mean_socm), stderr=float(r.stderr),
            mean_d_mu=float(r.mean_d_mu), mean_d_sigma=float(r.mean_d_sigma),
            n_trace_violations=int(r.n_trace_violations), mean_spread=float(r.mean_spread),
            median_spread=float(r.median_spread), max_spread=float(r.max_spread),
            mean_cosine=float(r.mean_cosine), n_truncated=int(profile.n_truncated),
            max_length=_optional_int(getattr(encoder, "max_length_", None)),
            seed=_seed(random_state), skpool_version=version,
        )
        for r in profile.records
    ]


@dataclass(frozen=True)
class PairComponents:
    r"""Per-pair :math:`d_\mu`, :math:`d_\Sigma` and SOCM (for the scatter of Figure 17).

    Attributes
    ----------
    i, j : ndarray of shape (n_pairs,)
        The two texts of each pair (indices into the corpus, ``i < j``).
    d_mu, d_sigma, socm : ndarray of shape (n_pairs,)
        The pair's components, as computed (never clipped).
    n_texts : int
        How many texts the pairs are drawn among (all of them, or a random
        subset when the corpus has more pairs than ``max_pairs``).
    """

    i: np.ndarray
    j: np.ndarray
    d_mu: np.ndarray
    d_sigma: np.ndarray
    socm: np.ndarray
    n_texts: int


def pair_components(tokens, *, max_pairs: int = 20_000, random_state=None,
                    n_jobs=None) -> PairComponents:
    r"""Every pair's :math:`(d_\mu, d_\Sigma, \mathrm{SOCM})`, on a subset of texts if large.

    When the corpus has at most ``max_pairs`` pairs, all of them are returned.
    Otherwise a random subset of ``M`` texts is drawn, the largest with
    :math:`M(M-1)/2 \le` ``max_pairs``, and all pairs among them are
    returned: a uniform sample of texts, so the scatter and its marginals
    show the corpus without computing every pair.

    Parameters
    ----------
    tokens : TokenSets or list of ndarray of shape (n_i, d)
        At least two token clouds.
    max_pairs : int, default=20000
        Largest number of pairs returned (at least 1).
    random_state : int, optional
        Seed of the text subset.
    n_jobs : int or None, default=None
        Workers for the pairwise computation (joblib's convention: None is
        one, -1 is every core).

    Returns
    -------
    PairComponents

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> clouds = [rng.normal(size=(6, 4)) + 3.0 for _ in range(5)]
    >>> pairs = pair_components(clouds)
    >>> pairs.socm.shape, pairs.n_texts
    ((10,), 5)
    >>> bool(np.allclose(pairs.socm, (1 - pairs.d_mu) * pairs.d_sigma))
    True
    >>> pair_components(clouds, max_pairs=3, random_state=0).n_texts
    3
    """
    from .tokensets import check_token_sets
    from .math.socm import pairwise_socm_components

    tokens = check_token_sets(tokens, min_texts=2)
    max_pairs = check_positive_int(max_pairs, name="max_pairs")
    n = len(tokens)
    if n * (n - 1) // 2 <= max_pairs:
        subset = np.arange(n)
    else:
        m = max(2, int((1 + math.isqrt(1 + 8 * max_pairs)) // 2))
        while m * (m - 1) // 2 > max_pairs and m > 2:
            m -= 1
        subset = np.sort(check_random_state(random_state).choice(n, size=m, replace=False))
    result = pairwise_socm_components(tokens.take(subset), n_jobs=n_jobs)
    a, b = np.triu_indices(subset.size, k=1)
    return PairComponents(
        i=subset[a], j=subset[b],
        d_mu=np.asarray(result.d_mu, dtype=np.float64)[a, b],
        d_sigma=np.asarray(result.d_sigma, dtype=np.float64)[a, b],
        socm=np.asarray(result.socm, dtype=np.float64)[a, b],
        n_texts=int(subset.size),
    )


# ---------------------------------------------------------------------------------------
# Text output
# ---------------------------------------------------------------------------------------
def _fmt(value, digits: int = 4) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return f"{value:,}"
    if isinstance(value, numbers.Real):
        return f"{value:.{digits}f}"
    return "-" if value is None else str(value)


def format_report(record: CollapseRecord, *, n_available: int | None = None) -> str:
    """Return the human-readable collapse report of one record.

    Parameters
    ----------
    record : CollapseRecord
    n_available : int, optional
        Size of the corpus the texts were sampled from, if known.

    Returns
    -------
    str
        Several lines, without a trailing newline.
    """
    r = record
    total = r.n_texts * (r.n_texts - 1) // 2
    if r.exact:
        pairs = f"{r.n_pairs:,} (all pairs, exact)"
        socm = f"{r.mean_socm:.4f} (exact: every pair, SE 0)"
    else:
        pairs = f"{r.n_pairs:,} sampled of {total:,} (seed {r.seed})"
        socm = f"{r.mean_socm:.4f} +/- {r.stderr:.4f} (standard error of the sample)"
    corpus = f"{r.dataset}: {r.n_texts:,} texts"
    if n_available is not None and n_available > r.n_texts:
        corpus += f" (random sample of {n_available:,}, seed {r.seed})"
    limit = "model limit" if r.max_length is None else f"max_length {r.max_length}"
    lines = [
        f"model            {r.model} (layer {r.layer}, {limit})",
        f"corpus           {corpus}",
        f"pairs            {pairs}",
        f"mean SOCM        {socm}",
        f"mean d_mu        {r.mean_d_mu:.4f}",
        f"mean d_Sigma     {r.mean_d_sigma:.4f}",
        f"trace assumption {r.n_trace_violations:,} of {r.n_texts:,} texts have tr(Sigma) > "
        f"{TRACE_ASSUMPTION:g}",
        "                 (the paper assumes tr(Sigma) <= 2, which keeps d_Sigma and SOCM in "
        "[0, 1];",
        "                 values are reported as computed, never clipped)",
        f"concentration    spread ratio tr(Sigma): mean {r.mean_spread:.3f}, median "
        f"{r.median_spread:.3f}, max {r.max_spread:.3f}",
        f"                 mean within-text cosine: {r.mean_cosine:.3f}",
        f"truncated        {r.n_truncated:,} of {r.n_texts:,} texts cut at "
        f"{'the model limit' if r.max_length is None else f'{r.max_length} tokens'}",
    ]
    return "\n".join(lines)


def format_table(records, columns) -> str:
    """Return records as an aligned text table.

    Parameters
    ----------
    records : sequence of CollapseRecord or dict
    columns : sequence of str or (str, str)
        Field names, or ``(field, header)`` pairs.

    Returns
    -------
    str

    Examples
    --------
    >>> print(format_table([{"model": "a", "mean_socm": 0.5}], ["model", "mean_socm"]))
    model  mean_socm
    a         0.5000
    """
    specs = [(c, c) if isinstance(c, str) else tuple(c) for c in columns]
    rows = []
    for record in records:
        values = record.to_dict() if hasattr(record, "to_dict") else dict(record)
        rows.append([_fmt(values.get(key)) for key, _ in specs])
    headers = [header for _, header in specs]
    widths = [max(len(h), *(len(row[k]) for row in rows)) if rows else len(h)
              for k, h in enumerate(headers)]
    numeric = [all(_is_number(row[k]) for row in rows) for k in range(len(specs))]

    def line(cells):
        out = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric)]
        return "  ".join(out).rstrip()

    return "\n".join([line(headers), *(line(row) for row in rows)])


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


def records_to_json(records) -> str:
    """Return records as a JSON list (what ``--json`` writes)."""
    items = [r.to_dict() if hasattr(r, "to_dict") else dict(r) for r in records]
    return json.dumps(items, indent=2, allow_nan=False)


# ---------------------------------------------------------------------------------------
# Optimal transport
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OTRecord(_Record):
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

    model: str
    layer: int
    dataset: str
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
    n_truncated: int
    max_length: int | None
    seed: int | None
    skpool_version: str = field(default="")


@dataclass(frozen=True)
class OTReport:
    """An :class:`OTRecord` with the comparison it summarizes.

    Attributes
    ----------
    record : OTRecord
    comparison : skpool.ot.W2Comparison
        The table of pairs (``.table``) that :func:`~skpool.plotting.plot_w2_comparison`
        draws.
    """

    record: OTRecord
    comparison: object


def _finite_or_none(value):
    value = float(value)
    return value if math.isfinite(value) else None


def ot_report(texts, encoder=None, *, n_pairs: int | None = 200, normalize: bool = False,
              random_state=None, dataset: str = "", n_jobs=None) -> OTReport:
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
    random_state : int, optional
        Seed of the pair sample.
    dataset : str, optional
        The corpus label stored in the record.
    n_jobs : int or None, default=None
        Workers for the exact transport problems (joblib's convention).

    Returns
    -------
    OTReport
    """
    from .ot import compare_w2

    texts = check_texts(texts)
    if len(texts) < 2:
        raise ValueError(
            f"Expected at least two texts (W2 compares pairs of texts). Received {len(texts)}."
        )
    n_pairs = check_positive_int(n_pairs, name="n_pairs", allow_none=True)
    total = len(texts) * (len(texts) - 1) // 2
    pairs = None if n_pairs is None or n_pairs >= total else n_pairs
    encoder = _make_encoder(encoder)
    tokens = encoder.fit_transform(texts)
    comparison = compare_w2(tokens, pairs, normalize=normalize, random_state=random_state,
                            n_jobs=n_jobs)
    table = comparison.table
    record = OTRecord(
        model=_model_label(encoder),
        layer=_encoder_layer(encoder),
        dataset=str(dataset),
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
        n_truncated=int(getattr(encoder, "n_truncated_", 0)),
        max_length=_optional_int(getattr(encoder, "max_length_", None)),
        seed=_seed(random_state),
        skpool_version=_version(),
    )
    return OTReport(record=record, comparison=comparison)


def format_ot(report: OTReport) -> str:
    """Return the human-readable summary of :func:`ot_report`."""
    r = report.record
    clouds = ("mean-normalized clouds X/||m||" if r.normalize
              else "raw token clouds")
    spearman = "undefined" if r.spearman is None else f"{r.spearman:.4f}"
    total = r.n_texts * (r.n_texts - 1) // 2
    pairs = (f"{r.n_pairs:,} (all pairs)" if r.n_pairs >= total
             else f"{r.n_pairs:,} sampled of {total:,} (seed {r.seed})")
    lines = [
        f"model            {r.model} (layer {r.layer}, max_length {r.max_length})",
        f"corpus           {r.dataset}: {r.n_texts:,} texts, {r.n_truncated:,} truncated",
        f"pairs            {pairs}; {clouds}, uniform token masses",
        f"mean W2          exact {r.mean_exact_w2:.4f}, Gaussian {r.mean_gaussian_w2:.4f} "
        "(W2, not squared)",
        f"Gaussian/exact   median {r.median_ratio:.4f} (min {r.min_ratio:.4f}, max "
        f"{r.max_ratio:.4f}); Spearman {spearman}",
        f"Gelbrich bound   {r.n_gelbrich_violations:,} pairs with Gaussian W2 > exact W2 "
        "(must be 0)",
    ]
    return "\n".join(lines)
