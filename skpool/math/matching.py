r"""Concentration-matched SOCM: collapse with the spread of every text held equal.

SOCM grows with :math:`d_\Sigma = B^2(\Sigma_1, \Sigma_2)/4`, and the squared
Bures distance grows with the traces: two texts whose tokens spread more are
further apart whatever the *shape* of their spreads. Contrastive fine-tuning
changes the spread (token concentration) of a model's texts, so a correlation
between SOCM and downstream quality may be a correlation with concentration
alone. The control here removes the spread: every text's centred,
mean-normalized cloud is rescaled so that every text has the same
:math:`\operatorname{tr}\Sigma`, the mean left unchanged,

.. math::

    \tilde X = X / \lVert m \rVert, \qquad
    Y = \mu + \sqrt{s / \operatorname{tr}\Sigma}\,(\tilde X - \mu),

so :math:`\mu(Y) = \mu` (unit norm), :math:`\operatorname{tr}\Sigma(Y) = s`,
and the SOCM of the matched clouds measures how the covariances differ in
shape (their directions and how the spread divides among them), not how large
they are. With :math:`s \le 2` (the default is 1) every matched text meets the
paper's trace assumption.

"""

from __future__ import annotations

import numbers

import numpy as np

from .._validation import describe
from ..tokensets import TokenSets, check_token_sets
from ._ragged import divide_by_mean_norm, text_label
from .socm import MeanSOCMResult, mean_socm

__all__ = ["match_concentration", "matched_mean_socm"]


def _check_spread(spread) -> float:
    if isinstance(spread, bool) or not isinstance(spread, numbers.Real):
        raise TypeError(f"Expected spread to be a positive real number. Received {describe(spread)}.")
    value = float(spread)
    if not (np.isfinite(value) and value > 0.0):
        raise ValueError(f"Expected spread to be a positive finite number. Received {spread!r}.")
    return value


def match_concentration(tokens, spread=1.0) -> TokenSets:
    r"""Rescale each text's mean-normalized cloud so that every text has :math:`\operatorname{tr}\Sigma` = ``spread``.

    Each text is divided by the norm of its mean, then its tokens
    are moved along their deviations from the mean,
    :math:`y_k = \mu + \sqrt{s/\operatorname{tr}\Sigma}\,(\tilde x_k - \mu)`:
    the mean stays :math:`\mu` (unit norm), the covariance keeps its shape
    and its trace becomes :math:`s`.

    Parameters
    ----------
    tokens : TokenSets or list of array-like of shape (n_i, d)
    spread : float, default=1.0
        The common :math:`\operatorname{tr}\Sigma` :math:`s > 0`. At most 2
        keeps every text within the paper's assumption (so matched SOCM lies
        in [0, 1]).

    Returns
    -------
    TokenSets
        The rescaled clouds, same lengths and dtype as ``tokens`` (float32
        stays float32; the arithmetic is done in float64). Truncation flags
        are carried over.

    Raises
    ------
    ValueError
        If a text's mean token has norm 0 (no direction to normalize by) or
        its tokens are all equal (:math:`\operatorname{tr}\Sigma = 0`, no
        shape to rescale, e.g. a one-token text); the text's index is named.

    See Also
    --------
    matched_mean_socm : the corpus SOCM of the matched clouds.
    skpool.concentration : the spreads this removes.

    Examples
    --------
    >>> import numpy as np
    >>> from skpool import concentration
    >>> clouds = [np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[2.0, 2.0], [2.0, 3.0]])]
    >>> matched = match_concentration(clouds, spread=0.5)
    >>> np.round(concentration(matched).spread, 12).tolist()
    [0.5, 0.5]
    >>> matched[0].mean(axis=0)  # the normalized mean is kept
    array([0.70710678, 0.70710678])
    """
    tokens = check_token_sets(tokens, name="tokens")
    target = _check_spread(spread)
    offsets = tokens.offsets
    out = np.empty(tokens.data.shape, dtype=tokens.dtype)
    # One text at a time: float64 temporaries stay the size of one cloud.
    eps = float(np.finfo(tokens.dtype).eps)
    for i, cloud in enumerate(tokens):
        X = cloud.astype(np.float64)
        # scale-safe, with the relative zero-mean test shared by every normalization
        unit_means, _ = divide_by_mean_norm(X, np.array([0, X.shape[0]]), eps=eps,
                                            where=text_label("tokens", i))
        mu = unit_means[0]
        X -= mu
        trace = float(np.einsum("ij,ij->", X, X)) / X.shape[0]
        if not trace > 0.0:
            raise ValueError(
                f"tokens[{i}] (text {i}) has tr Sigma = 0 ({X.shape[0]} token(s), all "
                f"equal): there is no spread to rescale to tr Sigma = {target}."
            )
        X *= np.sqrt(target / trace)
        X += mu
        out[offsets[i]:offsets[i + 1]] = X
    return TokenSets(out, offsets.copy(), truncated=tokens.truncated)


def matched_mean_socm(tokens, spread=1.0, n_pairs=None, random_state=None,
                      **kwargs) -> MeanSOCMResult:
    r"""Mean SOCM of a corpus after :func:`match_concentration`.

    The same estimate as :func:`~skpool.mean_socm` (the same pairs for the
    same ``n_pairs`` and ``random_state``) on clouds whose
    :math:`\operatorname{tr}\Sigma` all equal ``spread``: what remains is the
    second-order *shape* of the token clouds, not their spread.

    Parameters
    ----------
    tokens : TokenSets or list of array-like of shape (n_i, d)
        At least two token clouds.
    spread : float, default=1.0
        The common :math:`\operatorname{tr}\Sigma`.
    n_pairs, random_state
        As in :func:`~skpool.mean_socm`.
    **kwargs
        ``precision``, ``n_jobs``, ``device``, ``working_memory`` of
        :func:`~skpool.mean_socm`.

    Returns
    -------
    MeanSOCMResult
        Its ``n_trace_violations`` is 0 for ``spread <= 2`` and the number of
        texts otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> clouds = [rng.normal(size=(6, 4)) * scale + 3.0 for scale in (0.5, 1.0, 2.0)]
    >>> result = matched_mean_socm(clouds)
    >>> result.n_pairs, result.n_trace_violations
    (3, 0)
    """
    return mean_socm(match_concentration(tokens, spread), n_pairs=n_pairs,
                     random_state=random_state, **kwargs)
