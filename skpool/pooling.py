r"""scikit-learn transformers that pool each text's token cloud into features.

:class:`MeanPooler` returns the mean token of each text (mean pooling, the
vector sentence-transformers returns); :class:`GaussianPooler` returns the
mean and the covariance of each text's token cloud (its Gaussian view), either the variances, the full covariance, or the covariance in a basis
learned from the training tokens. :class:`CLSPooler`, :class:`MaxPooler` and
:class:`LastTokenPooler` are sentence-transformers' other poolings, and
:class:`ModelPooler` pools as the model's own folder declares.

All take texts when they hold an ``encoder`` (usually a
:class:`~skpool.TokenEncoder`) and token embeddings (a
:class:`~skpool.TokenSets` or a list of ``(n_i, d)`` arrays) when they do
not. Features are computed for the whole corpus at once over the ragged
token array (segment sums, padded batched products), in chunks bounded by
scikit-learn's ``working_memory``; every sum accumulates in float64 and the
result is cast back to the tokens' dtype (float32 stays float32).

"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from numbers import Integral

import warnings

import numpy as np

from ._engine.chunks import chunk_bytes
from ._pooler import BasePooler
from ._sklearn_compat import Interval, StrOptions
from ._warnings import user_stacklevel
from .encoder.pooling_config import read_model_pooling
from .encoder.sources import model_label
from .math._strategies import first_token, last_token, max_over_tokens
from .math.moments import (diag_second_order, mean_norm_scales, pooled_pca, text_means,
                           upper_second_order)
from .tokensets import TokenSets

__all__ = ["MeanPooler", "GaussianPooler", "CLSPooler", "MaxPooler", "LastTokenPooler",
           "ModelPooler", "PoolingMismatchWarning"]


def _upper_names(prefix: str, k: int) -> list[str]:
    rows_i, cols_i = np.triu_indices(k)
    return [f"{prefix}_{i}_{j}" for i, j in zip(rows_i.tolist(), cols_i.tolist())]


@dataclass(frozen=True)
class _Covariance:
    """How one ``covariance`` option computes and names its second-order block."""

    second_order: Callable
    names: Callable[[int], list[str]]


_COVARIANCES = {
    "diag": _Covariance(diag_second_order, lambda k: [f"var_{j}" for j in range(k)]),
    "full": _Covariance(upper_second_order, lambda k: _upper_names("cov", k)),
    "projected": _Covariance(upper_second_order, lambda k: _upper_names("pcov", k)),
}


# ---------------------------------------------------------------------------------------
# Input handling shared by both poolers
# ---------------------------------------------------------------------------------------

_INPUT_DOC = """\
    Input is texts when ``encoder`` is set, and token embeddings (a
    :class:`~skpool.TokenSets` or a list of ``(n_i, d)`` arrays) when it is
    None. With an encoder a ``TokenSets`` is also accepted and taken as
    already encoded (it is pooled as it is). ``fit`` clones ``encoder`` into
    ``encoder_`` and fits it on the texts (on a ``TokenSets`` it leaves the
    clone unfitted); ``transform`` encodes with ``encoder_``;
    ``fit_transform`` encodes the texts once.

    Like scikit-learn's text vectorizers, the poolers do not set
    ``n_features_in_``: their input is not a table of features. The token
    dimension seen in fit is ``embedding_dim_``, and ``transform`` refuses
    tokens of another dimension."""


class MeanPooler(BasePooler):
    r"""Mean pooling: the mean token embedding of each text.

    For a text with token embeddings :math:`x_1, \dots, x_n \in \mathbb{R}^d`
    the feature vector is

    .. math::

        m = \frac{1}{n} \sum_{k=1}^{n} x_k ,

    the vector sentence-transformers' mean pooling returns for the same
    tokens (before any normalization layer of the model). Why this simple
    average works so well is the subject of the paper cited in :mod:`skpool`.

    {vector_doc}

    Warns
    -----
    PoolingMismatchWarning
        In fit, when the encoder's model folder declares another pooling
        (a model trained with CLS pooling, for instance): its mean vectors
        are not what it was trained to produce.

    See Also
    --------
    GaussianPooler : mean and covariance of each text's tokens.
    CLSPooler, MaxPooler, LastTokenPooler, ModelPooler : the other poolings.
    TokenEncoder : texts to token embeddings.

    Examples
    --------
    >>> import numpy as np
    >>> from skpool import MeanPooler
    >>> tokens = [np.array([[1.0, 0.0], [3.0, 2.0]]), np.array([[0.0, 4.0]])]
    >>> pooler = MeanPooler().fit(tokens)
    >>> pooler.transform(tokens)
    array([[2., 1.],
           [0., 4.]])
    >>> pooler.get_feature_names_out().tolist()
    ['mean_0', 'mean_1']

    With a :class:`~skpool.TokenEncoder`, ``MeanPooler(encoder=TokenEncoder())``
    takes texts and fits in a :class:`~sklearn.pipeline.Pipeline`.
    """

    _parameter_constraints: dict = {**BasePooler._parameter_constraints}

    def __init__(self, *, encoder=None):
        self.encoder = encoder

    def _fit_input(self, X) -> TokenSets:
        _warn_if_trained_otherwise(self.encoder, "mean")
        return super()._fit_input(X)

    def _pool(self, tokens: TokenSets) -> np.ndarray:
        return text_means(tokens.data, tokens.offsets, budget=chunk_bytes())

    def _feature_names(self) -> list[str]:
        return [f"mean_{j}" for j in range(self.embedding_dim_)]


class GaussianPooler(BasePooler):
    r"""The Gaussian view of each text: the mean and the covariance of its tokens.

    For a text with token embeddings :math:`X \in \mathbb{R}^{n \times d}`
    (rows :math:`x_k`), optionally normalized by the norm of its mean
    (``normalize=True``, the paper's normalization):

    .. math::

        \tilde X = X / \lVert m \rVert, \quad m = \tfrac1n \textstyle\sum_k x_k,

    the features are the mean and the biased (1/n) covariance of the cloud,

    .. math::

        \mu = \frac1n \sum_k \tilde x_k, \qquad
        \Sigma = \frac1n \sum_k (\tilde x_k - \mu)(\tilde x_k - \mu)^\top

    (:math:`\Sigma = 0` for a one-token text). ``covariance`` chooses which
    part of :math:`\Sigma` is returned after the :math:`d` entries of
    :math:`\mu`:

    ``"diag"``
        its diagonal, the :math:`d` variances: :math:`2d` features.
    ``"full"``
        its upper triangle, diagonal included, row by row
        (``np.triu_indices(d)`` order): :math:`d + d(d+1)/2` features. This is
        large: 74,304 features per text for :math:`d = 384`, about 290 KiB per
        text in float32.
    ``"projected"``
        the upper triangle of :math:`P \Sigma P^\top`, the covariance in an
        orthonormal basis :math:`P` (``components_``, shape (k, d)) of the
        ``k = n_components`` principal directions of all training tokens
        pooled (each text normalized first when ``normalize=True``):
        :math:`d + k(k+1)/2` features. The mean part is still the full
        :math:`d`-dimensional :math:`\mu` in the original coordinates, not
        projected.

    {input_doc}

    Parameters
    ----------
    encoder : estimator or None, default=None
        Turns texts into token embeddings, e.g. :class:`~skpool.TokenEncoder`.
        None: the input is token embeddings.
    covariance : {"diag", "full", "projected"}, default="diag"
        Which part of each text's covariance to return (see above).
    n_components : int or None, default=16
        Size ``k`` of the basis learned by ``covariance="projected"`` (at most
        ``d``); None keeps all ``d`` directions. Ignored by the other options.
    normalize : bool, default=False
        Divide each text's cloud by the norm of its mean first, so that
        :math:`\lVert\mu\rVert = 1` and the covariance is scaled by
        :math:`1/\lVert m\rVert^2`. A text whose mean is zero then raises a
        ValueError naming its index. False: features of the raw tokens.

    Attributes
    ----------
    encoder_ : estimator or None
        The fitted clone of ``encoder`` (None without an encoder).
    embedding_dim_ : int
        Dimension ``d`` of the token embeddings seen in fit.
    components_ : ndarray of shape (n_components, d)
        ``covariance="projected"`` only: the orthonormal basis :math:`P`, the
        principal directions of the pooled training tokens, by decreasing
        variance (each row's largest entry is positive).
    explained_variance_ : ndarray of shape (n_components,)
        ``covariance="projected"`` only: the pooled tokens' variance along
        each component.
    tokens_mean_ : ndarray of shape (d,)
        ``covariance="projected"`` only: the mean of the pooled training
        tokens, the centre of that principal component analysis. Covariances
        do not depend on it.

    See Also
    --------
    MeanPooler : the mean alone.
    skpool.metrics.gaussian_stats : the same view of one text, factored.

    Examples
    --------
    >>> import numpy as np
    >>> from skpool import GaussianPooler
    >>> tokens = [np.array([[1.0, 0.0], [3.0, 2.0]]), np.array([[0.0, 4.0]])]
    >>> pooler = GaussianPooler(covariance="diag").fit(tokens)
    >>> pooler.transform(tokens)
    array([[2., 1., 1., 1.],
           [0., 4., 0., 0.]])
    >>> pooler.get_feature_names_out().tolist()
    ['mean_0', 'mean_1', 'var_0', 'var_1']
    >>> full = GaussianPooler(covariance="full").fit(tokens)
    >>> full.get_feature_names_out().tolist()
    ['mean_0', 'mean_1', 'cov_0_0', 'cov_0_1', 'cov_1_1']
    >>> full.transform(tokens)[0]
    array([2., 1., 1., 1., 1.])
    >>> proj = GaussianPooler(covariance="projected", n_components=1).fit(tokens)
    >>> proj.components_.shape, proj.transform(tokens).shape
    ((1, 2), (2, 3))
    """

    _parameter_constraints: dict = {
        **BasePooler._parameter_constraints,
        "covariance": [StrOptions(set(_COVARIANCES))],
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        "normalize": ["boolean"],
    }

    def __init__(self, *, encoder=None, covariance="diag", n_components=16, normalize=False):
        self.encoder = encoder
        self.covariance = covariance
        self.n_components = n_components
        self.normalize = normalize

    def _scales(self, tokens: TokenSets):
        """Unit means and the norms of the means (normalize=True), or None."""
        if not self.normalize:
            return None, None
        return mean_norm_scales(tokens.data, tokens.offsets, where=lambda i: f"text {i}",
                                budget=chunk_bytes())

    def _fit_tokens(self, tokens: TokenSets) -> None:
        if self.covariance != "projected":
            return
        d = tokens.dim
        k = d if self.n_components is None else self.n_components
        if k > d:
            raise ValueError(
                f"n_components={k} must be at most the embedding dimension d={d} for "
                "covariance='projected'."
            )
        centre, components, variances = pooled_pca(
            tokens.data, tokens.offsets, self._scales(tokens)[1], k, budget=chunk_bytes())
        self.tokens_mean_ = centre
        self.components_ = components
        self.explained_variance_ = variances

    def _pool(self, tokens: TokenSets) -> np.ndarray:
        data, offsets = tokens.data, tokens.offsets
        unit_means, scales = self._scales(tokens)
        # with normalize=True the rows are divided by the norm of their mean
        # before squaring, so the features stay finite at any magnitude
        budget = chunk_bytes()  # scikit-learn's working_memory, at most 8 MiB
        means = text_means(data, offsets, budget=budget) if scales is None else unit_means
        basis = self.components_ if self.covariance == "projected" else None
        second = _COVARIANCES[self.covariance].second_order(data, offsets, means, basis, scales,
                                                            budget=budget)
        return np.hstack([means, second])

    def _feature_names(self) -> list[str]:
        d = self.embedding_dim_
        k = self.components_.shape[0] if self.covariance == "projected" else d
        return [f"mean_{j}" for j in range(d)] + _COVARIANCES[self.covariance].names(k)


# ---------------------------------------------------------------------------------------
# One vector per text: the other poolings of sentence-transformers, and the model's own
# ---------------------------------------------------------------------------------------
class PoolingMismatchWarning(UserWarning):
    """A model is pooled otherwise than it was trained to be (e.g. mean over a CLS model)."""


def _needs_special_tokens(pooler, encoder, position: str) -> None:
    """CLS / last-token pooling read a special token: refuse an encoder that drops them."""
    if encoder is not None and getattr(encoder, "special_tokens", "include") == "exclude":
        raise ValueError(
            f"{type(pooler).__name__} takes the {position} token of each text, which is a "
            "special token ([CLS] / [SEP], <s> / </s>) only when the encoder keeps them. "
            "Received an encoder with special_tokens='exclude'; use "
            "special_tokens='include' (the default)."
        )


def _warn_if_trained_otherwise(encoder, pooling: str) -> None:
    """Warn when ``encoder``'s model declares a pooling other than ``pooling``.

    Only a model folder that declares exactly one mode is compared; a model
    that declares none (plain Hugging Face weights) or whose configuration
    cannot be read is not this pooler's concern (the encoder reports those).
    """
    model = getattr(encoder, "model", None)
    if model is None:
        return
    try:
        declared = read_model_pooling(model, getattr(encoder, "revision", None))
    except (TypeError, ValueError, OSError):
        return
    if declared is None or len(declared.modes) != 1 or declared.modes[0] == pooling:
        return
    suggestion = {"cls": "CLSPooler", "max": "MaxPooler", "last": "LastTokenPooler"}.get(
        declared.modes[0], "ModelPooler")
    warnings.warn(
        PoolingMismatchWarning(
            f"The model {declared.model!r} was trained with {declared.modes[0]!r} pooling "
            f"(its {declared.where}), but is pooled here with "
            f"{pooling!r}: its {pooling} vectors are not what it was trained to produce. "
            f"Use {suggestion} (or ModelPooler) for the model's own choice."
        ),
        stacklevel=user_stacklevel(),
    )


class _VectorPooler(BasePooler):
    """One vector of dimension d per text, from a kernel over the ragged corpus."""

    _kernel = staticmethod(first_token)
    _prefix = ""
    _reads = None  # which special token the pooler reads, if any

    def __init__(self, *, encoder=None):
        self.encoder = encoder

    def _fit_input(self, X) -> TokenSets:
        if self._reads is not None:
            _needs_special_tokens(self, self.encoder, self._reads)
        return super()._fit_input(X)

    def _pool(self, tokens: TokenSets) -> np.ndarray:
        return type(self)._kernel(tokens.data, tokens.offsets)

    def _feature_names(self) -> list[str]:
        return [f"{self._prefix}_{j}" for j in range(self.embedding_dim_)]


_VECTOR_DOC = """\
    {input_doc}

    Parameters
    ----------
    encoder : estimator or None, default=None
        Turns texts into token embeddings (``fit``/``transform`` returning a
        :class:`~skpool.TokenSets`), e.g. :class:`~skpool.TokenEncoder`.
        None: the input is token embeddings.

    Attributes
    ----------
    encoder_ : estimator or None
        The fitted clone of ``encoder`` (None without an encoder).
    embedding_dim_ : int
        Dimension ``d`` of the token embeddings seen in fit."""


class CLSPooler(_VectorPooler):
    r"""CLS pooling: the first token embedding of each text.

    For a text with token embeddings :math:`x_1, \dots, x_n` the feature
    vector is :math:`x_1`, the ``[CLS]`` (BERT) or ``<s>`` (RoBERTa, MPNet)
    token when the encoder keeps special tokens (``special_tokens="include"``,
    the default; an encoder that excludes them is refused). This is
    sentence-transformers' ``cls`` pooling, the training choice of BGE-style
    models.

    {vector_doc}

    See Also
    --------
    MeanPooler : the mean token.
    ModelPooler : the model's own choice.

    Examples
    --------
    >>> import numpy as np
    >>> from skpool import CLSPooler
    >>> tokens = [np.array([[1.0, 0.0], [3.0, 2.0]]), np.array([[0.0, 4.0]])]
    >>> CLSPooler().fit_transform(tokens)
    array([[1., 0.],
           [0., 4.]])
    >>> CLSPooler().fit(tokens).get_feature_names_out().tolist()
    ['cls_0', 'cls_1']
    """

    _kernel = staticmethod(first_token)
    _prefix = "cls"
    _reads = "first"


class LastTokenPooler(_VectorPooler):
    r"""Last-token pooling: the last token embedding of each text.

    For a text with token embeddings :math:`x_1, \dots, x_n` the feature
    vector is :math:`x_n`, the last position of the attention mask (``[SEP]``
    or ``</s>`` when the encoder keeps special tokens, which it must), as
    sentence-transformers' ``lasttoken`` pooling returns it (the choice of
    decoder-based embedders).

    {vector_doc}

    See Also
    --------
    CLSPooler : the first token.

    Examples
    --------
    >>> import numpy as np
    >>> from skpool import CLSPooler, LastTokenPooler
    >>> tokens = [np.array([[1.0, 0.0], [3.0, 2.0]]), np.array([[0.0, 4.0]])]
    >>> LastTokenPooler().fit_transform(tokens)
    array([[3., 2.],
           [0., 4.]])

    A one-token text's last token is its first:

    >>> CLSPooler().fit_transform(tokens)[1].tolist()
    [0.0, 4.0]
    """

    _kernel = staticmethod(last_token)
    _prefix = "last"
    _reads = "last"


class MaxPooler(_VectorPooler):
    r"""Max pooling: the largest value of each coordinate over a text's tokens.

    .. math::

        v_j = \max_{1 \le k \le n} x_{kj}, \qquad j = 1, \dots, d,

    over exactly the attention-masked positions (a token cloud holds no
    padding), as sentence-transformers' ``max`` pooling returns it.

    {vector_doc}

    See Also
    --------
    MeanPooler : the mean token.
    GaussianPooler : mean and covariance of each text's tokens.

    Examples
    --------
    >>> import numpy as np
    >>> from skpool import MaxPooler
    >>> tokens = [np.array([[1.0, 0.0], [3.0, -2.0]]), np.array([[0.0, 4.0]])]
    >>> MaxPooler().fit_transform(tokens)
    array([[3., 0.],
           [0., 4.]])
    """

    _kernel = staticmethod(max_over_tokens)
    _prefix = "max"


#: The modes :class:`ModelPooler` can follow, and the pooler of each.
_MODEL_MODES = {"mean": text_means, "cls": first_token, "max": max_over_tokens,
                "last": last_token}


class ModelPooler(BasePooler):
    r"""The model's own pooling, read from its sentence-transformers folder or object.

    A sentence-transformers model folder declares the pooling it was trained
    with (``modules.json`` and the Pooling module's ``config.json``, e.g.
    ``1_Pooling/config.json``); a ``SentenceTransformer`` object carries it on
    its Pooling module. ``fit`` reads it from ``encoder.model`` and pools as :class:`MeanPooler`, :class:`CLSPooler`,
    :class:`MaxPooler` or :class:`LastTokenPooler` would (``pooling_``).

    {input_doc}

    Parameters
    ----------
    encoder : TokenEncoder
        Required: the pooling is read from its model. A model that declares
        no pooling (plain Hugging Face weights, a (model, tokenizer) pair), several
        modes at once, or a mode skpool does not pool with
        (``mean_sqrt_len``, ``weightedmean``) raises a ``ValueError`` in fit
        naming the file and the modes.

    Attributes
    ----------
    pooling_ : {"mean", "cls", "max", "last"}
        The model's pooling.
    pooling_config_ : pathlib.Path or None
        The file it was read from (``None`` for a ``SentenceTransformer`` object).
    encoder_ : estimator
        The fitted clone of ``encoder``.
    embedding_dim_ : int
        Dimension ``d`` of the token embeddings seen in fit.

    Examples
    --------
    >>> from skpool import ModelPooler, TokenEncoder
    >>> pooler = ModelPooler(encoder=TokenEncoder("all-MiniLM-L6-v2"))
    >>> pooler.fit_transform(["A cat sat on the mat."]).shape
    (1, 384)
    >>> pooler.pooling_
    'mean'
    """

    def __init__(self, *, encoder=None):
        self.encoder = encoder

    def _fit_input(self, X) -> TokenSets:
        if self.encoder is None or getattr(self.encoder, "model", None) is None:
            raise ValueError(
                "ModelPooler reads the pooling from its encoder's model folder: pass "
                "encoder=TokenEncoder(model=...). Received encoder=None."
            )
        declared = read_model_pooling(self.encoder.model,
                                      getattr(self.encoder, "revision", None))
        if declared is None:
            raise ValueError(
                f"The model {model_label(self.encoder.model)!r} declares no pooling (it is "
                "not a sentence-transformers model with a Pooling module). Choose one: "
                "MeanPooler, CLSPooler, MaxPooler or LastTokenPooler."
            )
        if len(declared.modes) != 1 or declared.modes[0] not in _MODEL_MODES:
            raise ValueError(
                f"ModelPooler follows one of the modes {list(_MODEL_MODES)}. The model "
                f"{declared.model!r} declares {list(declared.modes)} in its "
                f"{declared.where}."
            )
        mode = declared.modes[0]
        if mode in ("cls", "last"):
            _needs_special_tokens(self, self.encoder, "first" if mode == "cls" else "last")
        self.pooling_ = mode
        self.pooling_config_ = declared.path
        return super()._fit_input(X)

    def _pool(self, tokens: TokenSets) -> np.ndarray:
        return _MODEL_MODES[self.pooling_](tokens.data, tokens.offsets)

    def _feature_names(self) -> list[str]:
        return [f"{self.pooling_}_{j}" for j in range(self.embedding_dim_)]


# One paragraph on inputs, shared by every pooler's docstring.
for _pooler in (MeanPooler, GaussianPooler, CLSPooler, LastTokenPooler, MaxPooler, ModelPooler):
    _pooler.__doc__ = _pooler.__doc__.replace("    {vector_doc}", _VECTOR_DOC).replace(
        "    {input_doc}", _INPUT_DOC)
del _pooler
