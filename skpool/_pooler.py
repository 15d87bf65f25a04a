"""The base of every pooler: input handling, encoder cloning, fit/transform (private).

:mod:`skpool.pooling` and :mod:`skpool.scoring` build their estimators on
:class:`BasePooler`.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import get_tags
from sklearn.utils.validation import check_is_fitted

from ._sklearn_compat import HasMethods, fit_context as _fit_context
from ._validation import check_texts, describe
from .tokensets import TokenSets, check_token_sets

__all__ = ["BasePooler"]


def _first_item(X):
    if isinstance(X, (list, tuple)):
        return X[0] if X else None
    if isinstance(X, np.ndarray):
        return X.flat[0] if X.ndim == 1 and X.size else None
    if hasattr(X, "iloc") and getattr(X, "ndim", 0) == 1:  # pandas Series
        return X.iloc[0] if len(X) else None
    return None


def _head(X) -> list:
    """The first item of a list or tuple input (for type checks), else nothing."""
    return [X[0]] if isinstance(X, (list, tuple)) and X else []


def _looks_like_texts(X) -> bool:
    return isinstance(X, (str, bytes)) or isinstance(_first_item(X), (str, bytes))


class BasePooler(TransformerMixin, BaseEstimator):
    """Input handling, encoder cloning and the fit/transform skeleton of the poolers."""

    _parameter_constraints: dict = {"encoder": [HasMethods(["fit", "transform"]), None]}

    # -- to be provided by each pooler ------------------------------------------------------
    def _fit_tokens(self, tokens: TokenSets) -> None:  # learn from the training tokens
        pass

    def _pool(self, tokens: TokenSets) -> np.ndarray:
        raise NotImplementedError

    def _feature_names(self) -> list[str]:
        raise NotImplementedError

    # -- input ------------------------------------------------------------------------------
    def _encoder_hint(self, encoder) -> str:
        name = type(self).__name__
        if encoder is None:
            return (f"{name}(encoder=None) pools token embeddings: it expects a TokenSets or a "
                    "list of (n_i, d) arrays")
        return (f"{name}(encoder={type(encoder).__name__}(...)) expects texts (a sequence of "
                "str) or a TokenSets of tokens that encoder already produced")

    def _tokens(self, X, encoder, *, fit: bool) -> TokenSets:
        """Turn ``X`` into validated tokens, encoding texts with ``encoder``."""
        if sparse.issparse(X) or any(sparse.issparse(x) for x in _head(X)):
            raise TypeError(
                f"{self._encoder_hint(encoder)}. Received a scipy sparse matrix: sparse "
                "matrices are not token clouds (a token cloud is a dense (n_tokens, d) array "
                "per text; a sparse bag-of-words table is already pooled)."
            )
        if encoder is None:
            if _looks_like_texts(X):
                raise TypeError(
                    f"{self._encoder_hint(None)}. Received texts ({describe(X)}); pass "
                    "encoder=TokenEncoder() to pool texts."
                )
            return check_token_sets(X, name="X")
        if isinstance(X, TokenSets):
            return check_token_sets(X, name="X")
        try:
            texts = check_texts(X, name="X")
        except TypeError as exc:
            raise TypeError(f"{exc} {self._encoder_hint(encoder)}.") from None
        if fit:
            out = encoder.fit_transform(texts)
        else:
            if get_tags(encoder).requires_fit:
                try:
                    check_is_fitted(encoder)
                except NotFittedError:
                    raise NotFittedError(
                        f"This {type(self).__name__} was fitted on a TokenSets, so its "
                        f"encoder_ ({type(encoder).__name__}) was never fitted on texts. "
                        "Fit it on texts before transforming texts."
                    ) from None
            out = encoder.transform(texts)
        name = f"the output of {type(encoder).__name__}"
        tokens = check_token_sets(out, name=name)
        if len(tokens) != len(texts):
            raise ValueError(
                f"Expected {name} to hold one token cloud per text ({len(texts)}). "
                f"Received {len(tokens)}."
            )
        return tokens

    def _fit_input(self, X) -> TokenSets:
        self.encoder_ = None if self.encoder is None else clone(self.encoder)
        tokens = self._tokens(X, self.encoder_, fit=not isinstance(X, TokenSets))
        self.embedding_dim_ = tokens.dim
        self._fit_tokens(tokens)
        return tokens

    def _features(self, tokens: TokenSets) -> np.ndarray:
        """Pool, cast to the tokens' dtype and refuse features that overflow it."""
        dtype = np.float32 if tokens.dtype == np.float32 else np.float64
        with np.errstate(over="ignore", invalid="ignore"):
            features = self._pool(tokens).astype(dtype, copy=False)
        finite = np.isfinite(features).all(axis=1)
        if not finite.all():
            index = int(np.argmin(finite))
            raise ValueError(
                f"The features of text {index} overflow {np.dtype(dtype).name}: its tokens "
                f"reach {float(np.max(np.abs(tokens[index]))):.3g}, and their second moments "
                "do not fit. Rescale the embeddings (or use normalize=True)."
            )
        return features

    # -- scikit-learn API -------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit the pooler (and a clone of ``encoder``) on a corpus.

        Parameters
        ----------
        X : sequence of str of length n_texts, or TokenSets, or list of ndarray of \
shape (n_i, d)
            Texts when ``encoder`` is set (a ``TokenSets`` is then taken as
            already encoded); token embeddings when ``encoder`` is None.
        y : None
            Ignored; present for the scikit-learn API.

        Returns
        -------
        self : object
            The fitted pooler.
        """
        self._fit_input(X)
        return self

    @_fit_context(prefer_skip_nested_validation=False)
    def fit_transform(self, X, y=None):
        """Fit on ``X`` and return its features, encoding the texts only once.

        Parameters
        ----------
        X, y
            As in :meth:`fit`.

        Returns
        -------
        features : ndarray of shape (n_texts, n_features_out)
            float32 for float32 tokens, float64 otherwise.
        """
        tokens = self._fit_input(X)
        return self._features(tokens)

    def transform(self, X):
        """Return the features of each text.

        Parameters
        ----------
        X : sequence of str of length n_texts, or TokenSets, or list of ndarray of \
shape (n_i, d)
            As in :meth:`fit`; the tokens must have the dimension seen in fit.

        Returns
        -------
        features : ndarray of shape (n_texts, n_features_out)
            float32 for float32 tokens, float64 otherwise.
        """
        check_is_fitted(self, "embedding_dim_")
        tokens = self._tokens(X, self.encoder_, fit=False)
        if tokens.dim != self.embedding_dim_:
            raise ValueError(
                f"X has token embeddings of dimension d={tokens.dim}, but "
                f"{type(self).__name__} was fitted on dimension d={self.embedding_dim_}."
            )
        return self._features(tokens)

    def get_feature_names_out(self, input_features=None):
        """Names of the output features.

        Parameters
        ----------
        input_features : array-like of str or None
            Ignored, whatever it holds: the input is texts or token clouds,
            not named columns, so a preceding step's names (e.g. those of a
            :class:`~skpool.TokenEncoder` in a pipeline) do not carry over.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self, "embedding_dim_")
        return np.asarray(self._feature_names(), dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Not a table: sklearn's common checks that feed 2-D arrays do not apply.
        tags.input_tags.two_d_array = False
        tags.input_tags.string = self.encoder is not None
        # Token embeddings keep their dtype (float32 stays float32). Texts have
        # no dtype to preserve: the features take the encoder's token dtype.
        tags.transformer_tags.preserves_dtype = (["float64", "float32"] if self.encoder is None
                                                 else [])
        return tags
