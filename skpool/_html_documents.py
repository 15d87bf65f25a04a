"""What the HTML report of a measured corpus holds beyond its record.

The result objects (:class:`~skpool.analysis.CollapseReport`,
:class:`~skpool.pairs.PairsReport`, ...) build their page's *document* here
from what they measured: the per-pair values drawn in the scatter, the listed
pairs, the per-text spreads and the texts themselves (full where a table shows
them, a snippet where a hover does). :mod:`skpool._html` renders it; this
module only selects and bounds the data, so that a page for 2,000 texts stays
a few megabytes.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

import numpy as np

from . import _html

#: Share of the pairs, by highest cosine of the mean-pooled vectors, that are "near".
NEAR_FRACTION = 0.01
#: Pairs listed per view on a report page.
TOP_PAIRS = 10
#: Texts listed in full in the per-text spread table.
WIDEST_TEXTS = _html.WIDEST_TEXTS


def text_ids(n: int, ids=None) -> list:
    """The id shown for each text: ``ids`` as given (ints or strings), else 0 .. n-1."""
    if ids is None:
        return list(range(n))
    return [v.item() if hasattr(v, "item") else v for v in ids]


def _float(value):
    value = float(value)
    return value if math.isfinite(value) else None


def pair_row(i, j, d_mu, d_sigma, socm, spread, ids) -> dict:
    """One listed pair as ``skpool pairs --json`` writes it (cosine = 1 - 2 d_mu)."""
    return {"i": ids[i], "j": ids[j], "cosine": _float(1.0 - 2.0 * d_mu),
            "d_mu": _float(d_mu), "d_sigma": _float(d_sigma), "socm": _float(socm),
            "spread_i": _float(spread[i]), "spread_j": _float(spread[j])}


def pair_details(components, *, spread, ids, top: int = TOP_PAIRS,
                 near_fraction: float = NEAR_FRACTION, random_state=0) -> dict:
    """The scatter's points and the two lists of pairs, from per-pair components.

    Parameters
    ----------
    components : PairComponents
        ``i``, ``j`` (indices into the texts), ``d_mu``, ``d_sigma``, ``socm``.
    spread : array-like of shape (n_texts,)
        Each text's spread ratio.
    ids : list
        Each text's id (:func:`text_ids`).
    top : int
        Pairs per list.
    near_fraction : float
        The near pairs: this share of the pairs with the smallest d_mu.
    random_state : int
        Seed of the sample drawn in the scatter when there are more than
        ``skpool._html.MAX_POINTS`` pairs.

    Returns
    -------
    dict
        ``points``, ``top_pairs``, ``near_pairs``, ``near_fraction``.
    """
    i, j = np.asarray(components.i), np.asarray(components.j)
    d_mu, d_sigma = np.asarray(components.d_mu), np.asarray(components.d_sigma)
    socm = np.asarray(components.socm)
    n = d_mu.size
    best = np.lexsort((j, i, -socm))[:top]
    n_near = min(n, max(top, math.ceil(near_fraction * n)))
    near = np.lexsort((j, i, d_mu))[:n_near]
    conflated = near[np.lexsort((j[near], i[near], -d_sigma[near]))][:top]
    drawn = np.arange(n)
    if n > _html.MAX_POINTS:
        rng = np.random.default_rng(random_state)
        drawn = np.sort(rng.choice(n, size=_html.MAX_POINTS, replace=False))
    points = {"i": [ids[k] for k in i[drawn]], "j": [ids[k] for k in j[drawn]],
              "d_mu": [_float(v) for v in d_mu[drawn]],
              "d_sigma": [_float(v) for v in d_sigma[drawn]],
              "socm": [_float(v) for v in socm[drawn]],
              "n_computed": int(n), "n_total": int(components.n_pairs_total),
              "exact": bool(components.exact)}
    rows = [[pair_row(i[k], j[k], d_mu[k], d_sigma[k], socm[k], spread, ids) for k in chosen]
            for chosen in (best, conflated)]
    return {"points": points, "top_pairs": rows[0], "near_pairs": rows[1],
            "near_fraction": near_fraction}


def spread_details(spread, cosine, ids) -> dict:
    """Every text's spread ratio and within-text cosine, by id."""
    return {"spread": {"id": list(ids), "spread": [_float(v) for v in spread],
                       "cosine": None if cosine is None else [_float(v) for v in cosine]}}


def text_details(texts, ids, *, full=(), hover=()) -> dict:
    """The texts a page shows: in full for the ids in ``full``, as snippets for ``hover``.

    ``texts`` is indexed like ``ids``; the page itself cuts each text to its
    bounds (``MAX_TEXT_CHARS``, ``SNIPPET_CHARS``).
    """
    if texts is None:
        return {}
    index = {str(ident): k for k, ident in enumerate(ids)}
    full = {str(v) for v in full}
    hover = {str(v) for v in hover} - full
    return {"texts": {key: str(texts[index[key]]) for key in sorted(full) if key in index},
            "snippets": {key: str(texts[index[key]])[:_html.SNIPPET_CHARS]
                         for key in sorted(hover) if key in index}}


def widest(spread, ids, count: int = WIDEST_TEXTS) -> list:
    """The ids of the ``count`` texts with the largest spread ratio."""
    order = np.argsort(-np.asarray(spread, dtype=np.float64), kind="stable")[:count]
    return [ids[k] for k in order]


def document(kind: str, records: list, details: dict | None = None, *,
             command: str | None = None, json=None) -> dict:
    """The document :func:`skpool._html.render_html` renders.

    ``json`` is what the command's ``--json`` writes, when that is more than
    ``records`` (``evaluate`` writes one object around them); the page embeds it.
    """
    from ._version import __version__

    page = {"kind": kind, "records": records, "details": details or {}, "command": command,
            "created": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "version": __version__}
    if json is not None:
        page["json"] = json
    return page
