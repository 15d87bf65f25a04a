"""scikit-learn glue for the collapse metric: a scorer and collapse-aware features.

- :class:`CollapseScorer` scores a fitted estimator by ``-mean SOCM`` of the
  token clouds its :class:`~skpool.TokenEncoder` produces, so it drops into
  ``cross_val_score``, ``cross_validate`` and ``GridSearchCV``.
- :class:`CollapseFeatures` is a transformer that turns each text into
  collapse-aware features: its spread ratio and within-text cosine, and its
  ``d_mu``, ``d_sigma`` and SOCM against landmark texts chosen in ``fit``.

The quantities are defined on the concepts page (``docs/concepts.md``); the
layer-wise analysis is :func:`skpool.analysis.layer_profile`.
"""

from __future__ import annotations

import numpy as np
from sklearn import config_context
from sklearn.utils.validation import check_random_state

from ._params import N_JOBS, N_PAIRS, SEED
from ._sklearn_compat import Integers, Integral, validate_parameter_constraints
from ._validation import describe
from .encoder import TokenEncoder
from .metrics import concentration, mean_socm, pairwise_socm_components
from ._pooler import BasePooler
from .tokensets import TokenSets, check_token_sets

__all__ = ["CollapseScorer", "CollapseFeatures", "find_encoder"]


def find_encoder(estimator):
    """Return the :class:`~skpool.TokenEncoder` an estimator encodes texts with.

    The search prefers fitted encoders (``encoder_`` attributes of poolers and
    of :class:`CollapseFeatures`) over unfitted ``encoder`` parameters, and
    looks through pipelines, feature unions, column transformers and
    meta-estimators (``best_estimator_``, ``estimator_``).

    Parameters
    ----------
    estimator : estimator
        A fitted estimator, usually a :class:`~sklearn.pipeline.Pipeline`.

    Returns
    -------
    TokenEncoder or None
        ``None`` when the estimator contains no encoder (it is then assumed to
        take token clouds as input).

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from skpool import MeanPooler, TokenEncoder
    >>> find_encoder(make_pipeline(TokenEncoder(layer=3), MeanPooler())).layer
    3
    """
    seen = set()

    def search(obj):
        if obj is None or id(obj) in seen or isinstance(obj, (str, bytes, int, float)):
            return None
        seen.add(id(obj))
        if isinstance(obj, TokenEncoder):
            return obj
        for attribute in ("encoder_", "best_estimator_", "estimator_"):
            found = search(getattr(obj, attribute, None))
            if found is not None:
                return found
        for attribute in ("steps", "transformer_list", "transformers_", "transformers"):
            for item in getattr(obj, attribute, None) or ():
                candidates = item[1:2] if isinstance(item, tuple) else (item,)
                for candidate in candidates:
                    found = search(candidate)
                    if found is not None:
                        return found
        if hasattr(obj, "get_params"):
            try:
                params = obj.get_params(deep=False)
            except Exception:  # a third-party estimator with a broken get_params
                params = {}
            for value in params.values():
                if hasattr(value, "get_params") or isinstance(value, (list, tuple)):
                    for candidate in value if isinstance(value, (list, tuple)) else (value,):
                        if isinstance(candidate, tuple):
                            candidate = candidate[1] if len(candidate) > 1 else None
                        found = search(candidate)
                        if found is not None:
                            return found
        return None

    return search(estimator)


def _tokens_of(X, encoder, *, name="X") -> TokenSets:
    """Token clouds of ``X``: encoded texts when there is an encoder, else ``X`` itself."""
    if encoder is None:
        if isinstance(X, TokenSets) or (
            isinstance(X, (list, tuple)) and X and not isinstance(X[0], str)
        ):
            return check_token_sets(X, name=name)
        raise TypeError(
            f"Expected {name} to be token clouds (a TokenSets or a list of (n_i, d) arrays) "
            "because the estimator contains no TokenEncoder. Received "
            f"{describe(X)}; put a TokenEncoder in the pipeline or give the scorer one."
        )
    if isinstance(X, TokenSets):
        return X
    return encoder.transform(X)


class CollapseScorer:
    r"""A scikit-learn scorer: minus the corpus mean SOCM of the evaluated texts.

    ``scorer(estimator, X, y=None)`` finds the :class:`~skpool.TokenEncoder`
    inside ``estimator`` (a pipeline step, a pooler's ``encoder``, or the
    estimator itself), encodes ``X`` with it and returns
    :math:`-\overline{\mathrm{SOCM}}`, so that, as scikit-learn expects,
    greater is better (less second-order collapse). Without an encoder, ``X``
    must already be token clouds.

    Parameters
    ----------
    n_pairs : int or None, default=None
        Score all ``N(N-1)/2`` pairs of the evaluated texts (``None``), or an
        unbiased estimate from this many distinct random pairs.
    random_state : int, RandomState or None, default=None
        Seed of the pair sampling.
    encoder : TokenEncoder or None, default=None
        Use this encoder instead of searching the estimator for one.
    n_jobs : int or None, default=None
        Workers for the pairwise computation (docs/glossary.md, ``n_jobs``).

    Attributes
    ----------
    last_result_ : MeanSOCMResult
        The full result (mean, standard error, d_mu, d_sigma, trace
        violations) of the last call.

    See Also
    --------
    skpool.mean_socm : the corpus score it computes.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import cross_val_score
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skpool import CollapseScorer, MeanPooler
    >>> rng = np.random.default_rng(0)
    >>> tokens = [rng.normal(1.0, 0.5, size=(rng.integers(3, 9), 8)) for _ in range(30)]
    >>> y = np.arange(30) % 2
    >>> scores = cross_val_score(make_pipeline(MeanPooler(), LogisticRegression()),
    ...                          tokens, y, cv=3, scoring=CollapseScorer())
    >>> bool((scores <= 0).all())
    True
    """

    def __init__(self, *, n_pairs=None, random_state=None, encoder=None, n_jobs=None):
        self.n_pairs = n_pairs
        self.random_state = random_state
        self.encoder = encoder
        self.n_jobs = n_jobs

    # a scorer has no fit: its parameters are checked, as an estimator's, on each call
    _parameter_constraints: dict = {"n_pairs": N_PAIRS, "random_state": SEED, "n_jobs": N_JOBS}

    def __call__(self, estimator, X, y=None) -> float:
        validate_parameter_constraints(
            self._parameter_constraints,
            {name: getattr(self, name) for name in self._parameter_constraints},
            caller_name=type(self).__name__)
        if self.encoder is not None and not isinstance(self.encoder, TokenEncoder):
            raise TypeError(
                "Expected the scorer's encoder to be a TokenEncoder or None (search the "
                f"estimator for one). Received {describe(self.encoder)}; for a model name "
                "pass TokenEncoder(model=...)."
            )
        encoder = self.encoder if self.encoder is not None else find_encoder(estimator)
        tokens = _tokens_of(X, encoder)
        with config_context(skip_parameter_validation=True):  # checked above, once
            result = mean_socm(tokens, n_pairs=self.n_pairs, random_state=self.random_state,
                               n_jobs=self.n_jobs)
        self.last_result_ = result
        return -float(result.mean)

    def __repr__(self) -> str:
        extra = "" if self.encoder is None else f", encoder={self.encoder!r}"
        extra += "" if self.n_jobs is None else f", n_jobs={self.n_jobs!r}"
        return (f"CollapseScorer(n_pairs={self.n_pairs!r}, "
                f"random_state={self.random_state!r}{extra})")


class CollapseFeatures(BasePooler):
    r"""Collapse-aware features of each text, for pipelines and feature unions.

    For every text the features are its spread ratio
    :math:`\operatorname{tr}\Sigma` and mean within-text cosine
    :math:`\bar c` (see :func:`skpool.concentration`), followed, for each of
    ``n_landmarks`` landmark texts chosen at random in ``fit`` (as
    :class:`~sklearn.kernel_approximation.Nystroem` chooses its landmarks),
    by :math:`d_\mu`, :math:`d_\Sigma` and SOCM between the text and the
    landmark: ``2 + 3 * n_landmarks`` features in all. They describe where a
    text sits in the second-order geometry that mean pooling discards, so a
    classifier can use it beside the mean-pooled vector::

        make_pipeline(TokenEncoder(),
                      make_union(MeanPooler(), CollapseFeatures()),
                      LogisticRegression())

    Parameters
    ----------
    encoder : TokenEncoder or None, default=None
        Encode texts with a clone of this encoder; ``None`` when the input is
        already token clouds.
    n_landmarks : int, default=8
        Number of landmark texts (at most the number of training texts).
    random_state : int, RandomState or None, default=None
        Seed of the landmark choice.
    n_jobs : int or None, default=None
        Workers for the pairwise computation (docs/glossary.md, ``n_jobs``).

    Attributes
    ----------
    landmarks_ : TokenSets
        Token clouds of the landmark texts.
    landmark_indices_ : ndarray of shape (n_landmarks_,)
        Their indices in the training corpus.
    embedding_dim_ : int
        Token dimension seen in fit.
    encoder_ : TokenEncoder or None
        The fitted clone of ``encoder``.

    See Also
    --------
    skpool.socm_components : the per-pair quantities used here.
    skpool.concentration : the per-text quantities used here.

    Examples
    --------
    >>> import numpy as np
    >>> from skpool import CollapseFeatures
    >>> rng = np.random.default_rng(0)
    >>> tokens = [rng.normal(1.0, 0.3, size=(5, 4)) for _ in range(6)]
    >>> features = CollapseFeatures(n_landmarks=2, random_state=0).fit(tokens)
    >>> features.transform(tokens).shape
    (6, 8)
    >>> features.get_feature_names_out().tolist()[:5]
    ['spread', 'mean_cosine', 'd_mu_0', 'd_sigma_0', 'socm_0']
    """

    _parameter_constraints: dict = {
        **BasePooler._parameter_constraints,
        "n_landmarks": [Integers(Integral, 1, None, closed="left")],
        "random_state": SEED,
        "n_jobs": N_JOBS,
    }

    def __init__(self, *, encoder=None, n_landmarks=8, random_state=None, n_jobs=None):
        self.encoder = encoder
        self.n_landmarks = n_landmarks
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _fit_tokens(self, tokens: TokenSets) -> None:
        n_landmarks = min(int(self.n_landmarks), len(tokens))
        rng = check_random_state(self.random_state)
        self.landmark_indices_ = np.sort(rng.choice(len(tokens), n_landmarks, replace=False))
        self.landmarks_ = tokens.take(self.landmark_indices_)

    def _pool(self, tokens: TokenSets) -> np.ndarray:
        spread = concentration(tokens)
        pairs = pairwise_socm_components(tokens, self.landmarks_, n_jobs=self.n_jobs)
        k = len(self.landmarks_)
        features = np.empty((len(tokens), 2 + 3 * k), dtype=np.float64)
        features[:, 0] = spread.spread
        features[:, 1] = spread.mean_cosine
        features[:, 2::3] = pairs.d_mu
        features[:, 3::3] = pairs.d_sigma
        features[:, 4::3] = pairs.socm
        return features

    def _feature_names(self) -> list[str]:
        names = ["spread", "mean_cosine"]
        for j in range(len(self.landmark_indices_)):
            names += [f"d_mu_{j}", f"d_sigma_{j}", f"socm_{j}"]
        return names
