r"""What every measured corpus goes through: one module shared by analysis, pairs, evaluation.

- :func:`measure_corpus` fills a :class:`CollapseRecord` from token clouds:
  the one place the corpus numbers (mean SOCM and its parts, trace
  violations, concentration) are computed.
- :func:`record_labels` gives the fields every :class:`Record` carries
  beside its measurements (model, layer, dataset, truncations, seed,
  version).
- :func:`paired_components` gives :math:`(d_\mu, d_\Sigma, \mathrm{SOCM})` of
  chosen pairs with the arithmetic of :func:`skpool.mean_socm`'s sample.
- :func:`make_encoder`, :func:`encode` and :func:`check_pair_texts`: texts
  in, token clouds and record labels out.

A new corpus metric is one field of :class:`CollapseRecord`, filled in
:func:`measure_corpus` (docs/architecture.md).
"""

from __future__ import annotations

import numbers
import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ._engine.bures import cloud_factors, paired_bures
from ._engine.chunks import check_working_memory
from ._engine.parallel import resolve_n_jobs
from ._progress import progress_bar
from ._validation import check_texts, describe
from ._version import __version__
from .encoder import TokenEncoder, TruncationWarning, encode_to_store
from .encoder.sources import is_model_object, model_label
from .math.socm import paired_d_mu, sampling_stderr
from .metrics import Concentration, MeanSOCMResult, concentration, mean_socm
from .tokensets import TokenSets

__all__ = ["Record", "CollapseRecord", "record_labels", "measure_corpus", "mean_of_pairs",
           "paired_components",
           "make_encoder", "encoder_layer", "check_pair_texts", "check_page_texts",
           "encode", "encode_layers"]


# ---------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Record:
    """What every record of a measured corpus carries beside its measurements."""

    model: str = ""
    layer: int
    dataset: str = ""
    n_truncated: int = 0
    max_length: int | None = None
    seed: int | None = None
    skpool_version: str = ""

    _HEAD = ("model", "layer", "dataset")
    _TAIL = ("n_truncated", "max_length", "seed", "skpool_version")

    def to_dict(self) -> dict:
        """Return the record as a plain ``dict`` (field name to value), JSON-ready.

        The keys are in a fixed order: what was measured (``model``,
        ``layer``, ``dataset``), the measurements, then the settings.
        """
        values = asdict(self)
        own = [key for key in values if key not in self._HEAD + self._TAIL]
        return {key: values[key] for key in (*self._HEAD, *own, *self._TAIL)}


@dataclass(frozen=True, kw_only=True)
class CollapseRecord(Record):
    r"""Second-order collapse of one model (and one layer) on one corpus.

    This is one record of ``skpool report``, ``compare`` and ``layers``
    (``--json``); :meth:`to_dict` gives it as a JSON-ready ``dict``.

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
        The spread ratio :math:`\operatorname{tr}\Sigma = S(X)/\lVert\mu(X)\rVert^2`
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


def mean_of_pairs(pairs, conc: Concentration) -> MeanSOCMResult:
    """:func:`~skpool.mean_socm`'s result from per-pair values already computed.

    The same estimator: the plain mean over the pairs (a ``PairComponents``),
    exact for all pairs, else with the standard error of sampling without
    replacement.
    """
    m, total = int(pairs.socm.size), pairs.n_pairs_total
    return MeanSOCMResult(
        mean=float(pairs.socm.mean()),
        stderr=0.0 if pairs.exact else sampling_stderr(pairs.socm, total),
        n_pairs=m, exact=bool(pairs.exact),
        mean_d_mu=float(pairs.d_mu.mean()), mean_d_sigma=float(pairs.d_sigma.mean()),
        n_trace_violations=conc.n_trace_violations, n_texts=pairs.n_texts,
        n_pairs_total=total)


def record_labels(model, layer, dataset, *, n_truncated=0, max_length=None,
                  random_state=None) -> dict:
    """The fields every record carries beside its measurements (:class:`Record`).

    ``seed`` is the int seed ``random_state`` was, else None (a
    ``RandomState`` or ``Generator`` has none to record).
    """
    integral = isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool)
    return {
        "model": str(model), "layer": int(layer), "dataset": str(dataset),
        "n_truncated": int(n_truncated),
        "max_length": None if max_length is None else int(max_length),
        "seed": int(random_state) if integral else None, "skpool_version": __version__,
    }


def measure_corpus(tokens: TokenSets, labels: dict, *, n_pairs, random_state,
                   n_jobs, progress=False, pairs=None) -> tuple[CollapseRecord, Concentration]:
    """Fill a :class:`CollapseRecord`: the one place the corpus numbers are computed.

    Parameters
    ----------
    tokens : TokenSets
        At least two token clouds, already checked.
    labels : dict
        What the record carries beside its measurements (:func:`record_labels`).
    n_pairs, random_state, n_jobs, progress
        As in :func:`skpool.mean_socm`, already checked by the public function.
    pairs : PairComponents, optional
        The components of these ``n_pairs`` and ``random_state``
        (:func:`skpool.analysis.pair_components`), already computed: the means
        are then taken over them instead of computing the pairs a second time.

    Returns
    -------
    record : CollapseRecord
    concentration : Concentration
        The per-text spreads and cosines the record summarizes.
    """
    conc = concentration(tokens)
    if pairs is not None:
        result = mean_of_pairs(pairs, conc)
    else:
        result = mean_socm(tokens, n_pairs=n_pairs, random_state=random_state,
                           n_jobs=n_jobs, progress=progress)
    record = CollapseRecord(
        **labels,
        n_texts=len(tokens),
        n_pairs=int(result.n_pairs),
        exact=bool(result.exact),
        mean_socm=float(result.mean),
        stderr=float(result.stderr),
        mean_d_mu=float(result.mean_d_mu),
        mean_d_sigma=float(result.mean_d_sigma),
        n_trace_violations=int(result.n_trace_violations),
        mean_spread=conc.mean_spread,
        median_spread=conc.median_spread,
        max_spread=float(np.max(conc.spread)),
        mean_cosine=conc.average_cosine,
    )
    return record, conc


# ---------------------------------------------------------------------------------------
# Encoders and texts
# ---------------------------------------------------------------------------------------
def make_encoder(encoder, **params) -> TokenEncoder:
    """A TokenEncoder from an instance (kept as is, ``params`` unused), a model source, or None."""
    if encoder is None:
        return TokenEncoder(**params)
    if isinstance(encoder, (str, Path)) or is_model_object(encoder):
        model = str(encoder) if isinstance(encoder, Path) else encoder
        return TokenEncoder(model=model, **params)
    if isinstance(encoder, TokenEncoder):
        return encoder
    raise TypeError(
        "Expected encoder to be a TokenEncoder, a model name or folder, a "
        "SentenceTransformer or a (transformers model, tokenizer) pair. "
        f"Received {describe(encoder)}."
    )


def encoder_layer(encoder: TokenEncoder) -> int:
    """The encoder's layer as a non-negative hidden-state index, once it is fitted."""
    layer = int(encoder.layer)
    n_layers = getattr(encoder, "n_layers_", None)
    if layer < 0 and n_layers is not None:
        # hidden_states holds the embedding output and one entry per layer
        layer += int(n_layers) + 1
    return layer


def check_pair_texts(texts, what: str = "SOCM") -> list[str]:
    texts = check_texts(texts)
    if len(texts) < 2:
        raise ValueError(
            f"Expected at least two texts ({what} compares pairs of texts). "
            f"Received {len(texts)}."
        )
    return texts


def check_page_texts(values, n: int, what: str = "texts") -> tuple:
    """``texts`` (or ``ids``) for an HTML page: one per measured text."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise TypeError(f"Expected {what} to be a sequence with one entry per text ({n}). "
                        f"Received {describe(values)}.")
    if len(values) != n:
        raise ValueError(f"Expected {what} to have one entry per measured text ({n}). "
                         f"Received {len(values)}.")
    return tuple(values)


def encode(encoder: TokenEncoder, texts: list[str], store=None,
           partition_size=None) -> tuple[TokenSets, dict]:
    """Encode ``texts`` and return the tokens with the encoder's record labels.

    With ``store`` (a folder) the texts are encoded in partitions into that
    token store (on a dask cluster inside ``parallel_config(backend="dask")``;
    an interrupted run resumes) and come back memory-mapped.
    """
    if store is None:
        tokens = encoder.fit_transform(texts)
    else:
        sizes = {} if partition_size is None else {"partition_size": partition_size}
        tokens = encode_to_store(texts, store, encoder, **sizes)
        encoder.fit()  # this process's copy resolves the layer and max_length of the labels
    return tokens, {"model": model_label(encoder.model, encoder.revision),
                    "layer": encoder_layer(encoder),
                    "n_truncated": tokens.n_truncated,
                    "max_length": getattr(encoder, "max_length_", None)}


def encode_layers(encoder: TokenEncoder, texts: list[str], layers=None, store=None,
                  partition_size=None) -> dict:
    """The tokens of ``texts`` at several hidden layers, keyed by non-negative layer index.

    Without ``store``, one forward pass gives every layer
    (:meth:`TokenEncoder.transform_layers`). A token store holds one layer, so
    with ``store`` each layer is encoded into a store of its own, the folder
    ``store/layer-L`` (:func:`encode`: on a dask cluster inside
    ``parallel_config(backend="dask")``, each store resumed and checked as any
    other): one pass over the model per layer, partitions that any worker can
    run and rerun.
    """
    if store is None:
        return encoder.transform_layers(texts, layers)
    from sklearn.base import clone

    encoder.fit()
    layers = range(encoder.n_layers_ + 1) if layers is None else list(layers)
    if not layers:
        raise ValueError("Expected layers to name at least one layer. Received none.")
    resolved = sorted(set(encoder._prepare(layers)))
    by_layer = {}
    for n, layer in enumerate(resolved):
        with warnings.catch_warnings():
            if n:  # truncation is the same at every layer: said once
                warnings.simplefilter("ignore", TruncationWarning)
            # the store keeps this encoding: a cache would be filled on every worker
            by_layer[layer] = encode(clone(encoder).set_params(layer=layer, cache=None), texts,
                                     Path(os.fspath(store)) / f"layer-{layer}",
                                     partition_size)[0]
    return by_layer


def paired_components(tokens: TokenSets, a, b, *, n_jobs, progress=False, dtype=np.float32,
                      factors=None, desc: str = "SOCM (sampled pairs)"):
    """``(d_mu, d_sigma, socm)`` of the pairs ``(a[p], b[p])``: mean_socm's sampled arithmetic.

    ``dtype`` is that of the cross-Gram products (``precision`` of
    :func:`skpool.mean_socm`); ``factors``, the normalized
    :func:`~skpool._engine.bures.cloud_factors` of ``tokens`` in that dtype when the
    caller already has them (they are computed otherwise). ``desc`` labels the progress
    bar (what the pairs are).
    """
    n_jobs = resolve_n_jobs(n_jobs)
    if factors is None:
        factors = cloud_factors(tokens, normalize=True, name="tokens", dtype=dtype,
                                n_jobs=n_jobs)
    with progress_bar(progress, total=len(a), desc=desc, unit="pair",
                      unit_scale=True) as bar:
        b2 = paired_bures(factors, a, b, n_jobs=n_jobs, device=None,
                          working_memory=check_working_memory(None), bar=bar)
    d_mu = paired_d_mu(factors.means, np.asarray(a), np.asarray(b))
    d_sigma = b2 / 4.0
    return d_mu, d_sigma, (1.0 - d_mu) * d_sigma


