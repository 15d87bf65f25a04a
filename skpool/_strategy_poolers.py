"""STAGING (engineer D): pooling estimators to be moved into skpool/pooling.py once the
math-core refactor lands. Not public; do not import from elsewhere."""

from __future__ import annotations

import warnings

import numpy as np

from .encoder.pooling_config import read_model_pooling
from .math._strategies import first_token, last_token, max_over_tokens
from .math.moments import text_means
from .pooling import MeanPooler, _BasePooler, _INPUT_DOC
from .tokensets import TokenSets

__all__ = ["CLSPooler", "MaxPooler", "LastTokenPooler", "ModelPooler", "PoolingMismatchWarning"]


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


def warn_if_trained_otherwise(encoder, pooling: str, *, stacklevel: int = 4) -> None:
    """Warn when ``encoder``'s model declares a pooling other than ``pooling``.

    Only a model folder that declares exactly one mode is compared; a model
    that declares none (plain Hugging Face weights) or whose configuration
    cannot be read is not this pooler's concern (the encoder reports those).
    """
    model = getattr(encoder, "model", None)
    if model is None:
        return
    try:
        declared = read_model_pooling(model)
    except (TypeError, ValueError, OSError):
        return
    if declared is None or len(declared.modes) != 1 or declared.modes[0] == pooling:
        return
    suggestion = {"cls": "CLSPooler", "max": "MaxPooler", "last": "LastTokenPooler"}.get(
        declared.modes[0], "ModelPooler")
    warnings.warn(
        PoolingMismatchWarning(
            f"The model {str(model)!r} was trained with {declared.modes[0]!r} pooling "
            f"(its {declared.path.parent.name}/{declared.path.name}), but is pooled here with "
            f"{pooling!r}: its {pooling} vectors are not what it was trained to produce. "
            f"Use {suggestion} (or ModelPooler) for the model's own choice."
        ),
        stacklevel=stacklevel,
    )


class _VectorPooler(_BasePooler):
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
    MeanPooler : the mean token. ModelPooler : the model's own choice.

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
    >>> from skpool import LastTokenPooler
    >>> tokens = [np.array([[1.0, 0.0], [3.0, 2.0]]), np.array([[0.0, 4.0]])]
    >>> LastTokenPooler().fit_transform(tokens)
    array([[3., 2.],
           [0., 4.]])
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


def _mean_kernel(data, offsets):
    return text_means(data, offsets)


#: The modes :class:`ModelPooler` can follow, and the pooler of each.
_MODEL_MODES = {"mean": _mean_kernel, "cls": first_token, "max": max_over_tokens,
                "last": last_token}


class ModelPooler(_BasePooler):
    r"""The model's own pooling, read from its sentence-transformers folder.

    A sentence-transformers model folder declares the pooling it was trained
    with (``modules.json`` and the Pooling module's ``config.json``, e.g.
    ``1_Pooling/config.json``). ``fit`` reads it from the folder of
    ``encoder.model`` and pools as :class:`MeanPooler`, :class:`CLSPooler`,
    :class:`MaxPooler` or :class:`LastTokenPooler` would (``pooling_``).

    {input_doc}

    Parameters
    ----------
    encoder : TokenEncoder
        Required: the pooling is read from its model's folder. A model that
        declares no pooling (plain Hugging Face weights, a hub id), several
        modes at once, or a mode skpool does not pool with
        (``mean_sqrt_len``, ``weightedmean``) raises a ``ValueError`` in fit
        naming the file and the modes.

    Attributes
    ----------
    pooling_ : {"mean", "cls", "max", "last"}
        The model's pooling.
    pooling_config_ : pathlib.Path
        The file it was read from.
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
        declared = read_model_pooling(self.encoder.model)
        if declared is None:
            raise ValueError(
                f"The model {str(self.encoder.model)!r} declares no pooling (it is not a "
                "local sentence-transformers folder with a Pooling module). Choose one: "
                "MeanPooler, CLSPooler, MaxPooler or LastTokenPooler."
            )
        if len(declared.modes) != 1 or declared.modes[0] not in _MODEL_MODES:
            raise ValueError(
                f"ModelPooler follows one of the modes {list(_MODEL_MODES)}. The model "
                f"{str(self.encoder.model)!r} declares {list(declared.modes)} in "
                f"{str(declared.path)!r}."
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


for _cls in (CLSPooler, LastTokenPooler, MaxPooler):
    _cls.__doc__ = _cls.__doc__.replace("    {vector_doc}", _VECTOR_DOC).replace(
        "    {input_doc}", _INPUT_DOC)
ModelPooler.__doc__ = ModelPooler.__doc__.replace("    {input_doc}", _INPUT_DOC)
del _cls
_ = MeanPooler  # the mean-pooling warning is wired into MeanPooler at integration
