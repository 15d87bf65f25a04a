r"""Interventions on token clouds: change the second-order spread, keep every text's mean.

The paper's evidence that collapse predicts quality is correlational. An
interventional test changes the within-text spread of every text while its
mean token stays where it was: the mean-pooled vectors are then the same by
construction, so whatever mean pooling scores cannot move, and a collapse
metric that does move measures something mean pooling never used.

- :func:`rescale_spread` moves every token about its text's mean by a
  factor :math:`f`: the means stay, every covariance is multiplied by
  :math:`f^2`, so :math:`d_\mu` stays and :math:`d_\Sigma` and SOCM are
  multiplied by exactly :math:`f^2`.
- :func:`swap_spread` gives every text the centred, mean-normalized
  deviations of another text: the first-order content (the mean) stays, the
  text-specific second-order information is destroyed, and the corpus's
  spreads are only shuffled among its texts.

Both return a new :class:`~skpool.TokenSets` of the input's dtype; the
arithmetic is done in float64, one text at a time.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state

from ._params import SEED, validate_params
from ._sklearn_compat import Numbers, Real
from .math._ragged import divide_by_mean_norm, text_label
from .tokensets import TokenSets, check_token_sets

__all__ = ["rescale_spread", "swap_spread"]


def _finite_or_raise(Y: np.ndarray, index: int, what: str) -> None:
    if not np.isfinite(Y).all():
        raise ValueError(f"{what} of tokens[{index}] (text {index}) overflows its dtype: "
                         "the moved tokens are not finite.")


@validate_params({"factor": [Numbers(Real, 0, None, closed="left")]},
                 prefer_skip_nested_validation=True)
def rescale_spread(tokens, factor) -> TokenSets:
    r"""Move every text's tokens about their mean by ``factor``; the means stay.

    .. math::

        y_k = m + f\,(x_k - m), \qquad m = \tfrac1n \textstyle\sum_k x_k .

    The mean token :math:`m` (the mean-pooled vector) is kept to round-off.
    Under the paper's normalization :math:`\tilde X = X / \lVert m\rVert`
    the normalized mean :math:`\mu` is kept and the covariance becomes
    :math:`f^2\Sigma`. The squared Bures distance is homogeneous of degree
    one in the covariances, so for every pair of texts

    .. math::

        d_\mu(Y_1, Y_2) = d_\mu(X_1, X_2), \quad
        d_\Sigma(Y_1, Y_2) = f^2 d_\Sigma(X_1, X_2), \quad
        \mathrm{SOCM}(Y_1, Y_2) = f^2\,\mathrm{SOCM}(X_1, X_2),

    and :math:`\operatorname{tr}\Sigma` of every text is multiplied by
    :math:`f^2`.

    Parameters
    ----------
    tokens : TokenSets or list of array-like of shape (n_i, d)
    factor : float
        :math:`f \ge 0`: below 1 concentrates the tokens (0 puts every token
        on the mean), above 1 spreads them.

    Returns
    -------
    TokenSets
        Same lengths, dtype and truncation flags as ``tokens``.

    Raises
    ------
    TypeError, ValueError
        ``factor`` not a finite number at least 0; tokens that would not be
        finite once moved (the text is named).

    See Also
    --------
    swap_spread : keep each text's mean, give it another text's spread.
    skpool.metrics.match_concentration : every text rescaled to the
        same :math:`\operatorname{tr}\Sigma` instead of by one factor.

    Examples
    --------
    >>> import numpy as np
    >>> from skpool import socm_components
    >>> rng = np.random.default_rng(0)
    >>> A, B = rng.normal(size=(5, 3)) + 2.0, rng.normal(size=(4, 3)) + 2.0
    >>> halved = rescale_spread([A, B], 0.5)
    >>> bool(np.allclose(halved[0].mean(axis=0), A.mean(axis=0)))
    True
    >>> before, after = socm_components(A, B), socm_components(halved[0], halved[1])
    >>> bool(np.isclose(after.d_mu, before.d_mu)), bool(np.isclose(after.socm, before.socm / 4))
    (True, True)
    """
    tokens = check_token_sets(tokens, name="tokens")
    f = float(factor)
    offsets = tokens.offsets
    out = np.empty(tokens.data.shape, dtype=tokens.dtype)
    for i, cloud in enumerate(tokens):
        X = cloud.astype(np.float64)
        m = X.mean(axis=0)
        with np.errstate(over="ignore", invalid="ignore"):  # reported below, naming the text
            X -= m
            X *= f
            X += m
        _finite_or_raise(X, i, f"Rescaling by {f}")
        out[offsets[i]:offsets[i + 1]] = X
    return TokenSets(out, offsets.copy(), truncated=tokens.truncated)


def _donors(n: int, rng) -> np.ndarray:
    """A random permutation of ``range(n)`` that is one cycle through every text (no text its own donor)."""
    order = rng.permutation(n)
    donors = np.empty(n, dtype=np.int64)
    donors[order] = np.roll(order, -1)
    return donors


@validate_params({"random_state": SEED}, prefer_skip_nested_validation=True)
def swap_spread(tokens, random_state=None) -> TokenSets:
    r"""Give every text another text's spread, keeping its own mean.

    Text :math:`i` receives the tokens of a donor text :math:`j = \pi(i)`,
    moved so that its mean is its own and its *mean-normalized* spread is
    the donor's:

    .. math::

        y_k = m_i + \frac{\lVert m_i\rVert}{\lVert m_j\rVert}\,(x^{(j)}_k - m_j),
        \qquad k = 1 \dots n_j .

    Why the factor :math:`\lVert m_i\rVert / \lVert m_j\rVert`: SOCM and the
    spread ratio see a text through the paper's normalization
    :math:`\tilde X = X / \lVert m\rVert`. The normalized swapped cloud is
    :math:`\tilde Y_i = \mu_i + (\tilde X_j - \mu_j)`: the text keeps its
    normalized mean :math:`\mu_i` and takes exactly the donor's normalized
    deviations, so :math:`\Sigma(\tilde Y_i) = \Sigma(\tilde X_j)`. Moving the
    raw deviations unscaled would multiply that covariance by
    :math:`(\lVert m_j\rVert/\lVert m_i\rVert)^2`, inflating the spread of
    texts with a short mean token and changing the corpus's spreads rather
    than only reassigning them.

    Hence the first-order information (the mean token, i.e. the mean-pooled
    vector, and its direction :math:`\mu_i`) is kept to round-off, while the
    text-specific second-order information is destroyed: the corpus holds the
    same normalized covariances (and so the same spread ratios
    :math:`\operatorname{tr}\Sigma`), permuted among its texts. For every
    pair, :math:`d_\mu(Y_a, Y_b) = d_\mu(X_a, X_b)` and
    :math:`d_\Sigma(Y_a, Y_b) = d_\Sigma(X_{\pi(a)}, X_{\pi(b)})`.

    The donors :math:`\pi` are one random cycle through all texts, so no
    text keeps its own spread.

    Parameters
    ----------
    tokens : TokenSets or list of array-like of shape (n_i, d)
        At least two texts.
    random_state : int, RandomState instance or None
        Seed of the donor permutation.

    Returns
    -------
    TokenSets
        Text :math:`i` holds :math:`n_{\pi(i)}` tokens (its donor's count),
        in the dtype of ``tokens``; the truncation flag of text :math:`i` is
        its own.

    Raises
    ------
    ValueError
        Fewer than two texts, or a text whose mean token is zero (it has no
        normalization to keep; the text is named).

    See Also
    --------
    rescale_spread : keep each text's mean, scale its spread.

    Examples
    --------
    >>> import numpy as np
    >>> from skpool import concentration
    >>> rng = np.random.default_rng(0)
    >>> clouds = [rng.normal(size=(n, 3)) * s + 2.0 for n, s in ((4, 0.5), (6, 1.0), (5, 2.0))]
    >>> swapped = swap_spread(clouds, random_state=0)
    >>> bool(np.allclose([c.mean(axis=0) for c in swapped], [c.mean(axis=0) for c in clouds]))
    True
    >>> before = np.sort(concentration(clouds).spread)
    >>> after = np.sort(concentration(swapped).spread)
    >>> bool(np.allclose(after, before))   # the same spreads, given to other texts
    True
    """
    tokens = check_token_sets(tokens, name="tokens")
    n = len(tokens)
    if n < 2:
        raise ValueError(f"Expected at least two texts to swap spreads between. "
                         f"Received {n}.")
    eps = float(np.finfo(tokens.dtype).eps)
    means = np.empty((n, tokens.dim))
    norms = np.empty(n)
    for i, cloud in enumerate(tokens):
        X = cloud.astype(np.float64)
        means[i] = X.mean(axis=0)
        # the zero-mean test every normalization shares (names the text)
        _, scales = divide_by_mean_norm(X, np.array([0, X.shape[0]]), eps=eps,
                                        where=text_label("tokens", i))
        norms[i] = scales[0]
    donors = _donors(n, check_random_state(random_state))
    lengths = tokens.lengths[donors]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    out = np.empty((int(offsets[-1]), tokens.dim), dtype=tokens.dtype)
    for i, j in enumerate(donors):
        Y = tokens[int(j)].astype(np.float64)
        with np.errstate(over="ignore", invalid="ignore"):  # reported below, naming the text
            Y -= means[j]
            Y *= norms[i] / norms[j]
            Y += means[i]
        _finite_or_raise(Y, i, f"The spread of text {int(j)} given to the mean")
        out[offsets[i]:offsets[i + 1]] = Y
    return TokenSets(out, offsets, truncated=tokens.truncated)
