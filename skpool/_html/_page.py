"""One self-contained HTML page from a command's run record.

:func:`render_html` turns a *document* -- the records a command's ``--json``
writes, plus optional details only a page needs (per-pair values, the texts,
per-text spreads) -- into one HTML string: inline CSS, a small inline script,
inline SVG charts and the records embedded as JSON. Nothing is fetched when
the page opens. Every string that comes from the user (texts, ids, model and
corpus names, the command line) is escaped, and the script only ever writes
text through ``textContent``.

The document is a plain ``dict``; every key but ``kind`` may be missing:

``kind``
    ``"report"``, ``"pairs"``, ``"layers"``, ``"compare"``, ``"ot"``,
    ``"evaluate"`` or ``"neighbours"``: which sections the page has.
``records``
    list of dict, exactly what the command's ``--json`` writes.
``details``
    dict of what the page draws beyond the records:
    ``points`` (per-pair ``i``, ``j``, ``d_mu``, ``d_sigma``, ``socm`` as
    lists, with ``n_computed``, ``n_total``, ``exact``), ``top_pairs`` and
    ``near_pairs`` (rows as in ``skpool pairs --json``), ``spread`` (per-text
    ``id``, ``spread``, ``cosine``), ``texts`` (id to full text),
    ``snippets`` (id to the start of the text, for hovering), ``ot``
    (per-pair ``i``, ``j``, ``exact_w2``, ``gaussian_w2``), ``correlations``,
    ``diagnostics``, ``pooling_costs`` and ``interventions`` (lists of dict, as
    ``skpool evaluate --json`` writes them), ``settings`` (dict), ``summary``
    (for ``"neighbours"``: ``mean_socm`` over its distinct neighbour pairs).
``command``, ``created``, ``version``
    The command line that reproduces the page, the date, skpool's version.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone

from ._assets import CSS, JS
from ._svg import PALETTE, Frame, esc, legend, nice_ticks, number, span, viridis

#: The paper's scale (Hara et al., ACL 2026): corpus mean SOCM of twelve encoders on 1,000
#: Wikipedia texts, and all-mpnet-base-v2's among them.
PAPER_RANGE = (0.018, 0.396)
PAPER_MPNET = 0.100
#: The paper's assumption on every text's spread ratio (``skpool.math.socm.TRACE_ASSUMPTION``).
TRACE_LIMIT = 2.0

#: Bounds that keep a page small (about 3 MB for 2,000 texts of a few hundred words):
#: rows per table, points per scatter, characters per text shown in full, per hover snippet.
MAX_TABLE_ROWS = 200
MAX_POINTS = 2000
MAX_TEXT_CHARS = 10_000
SNIPPET_CHARS = 300
#: Texts of the per-text table shown in full: the widest (largest spread ratio).
WIDEST_TEXTS = 30

KINDS = ("report", "pairs", "layers", "compare", "ot", "evaluate", "neighbours")

_HEADERS = {
    "model": "model", "layer": "layer", "dataset": "corpus", "n_texts": "texts",
    "n_pairs": "pairs", "exact": "exact", "mean_socm": "mean SOCM", "stderr": "SE",
    "mean_d_mu": "mean d_\u03bc", "mean_d_sigma": "mean d_\u03a3",
    "n_trace_violations": "tr \u03a3 > 2", "mean_spread": "mean tr \u03a3",
    "median_spread": "median tr \u03a3", "max_spread": "max tr \u03a3",
    "mean_cosine": "within-text cosine", "n_truncated": "truncated",
    "max_length": "max_length", "seed": "seed", "skpool_version": "skpool",
    "d_mu": "d_\u03bc", "d_sigma": "d_\u03a3", "socm": "SOCM", "cosine": "cosine",
    "spread_i": "tr \u03a3 i", "spread_j": "tr \u03a3 j", "gaussian_w2": "W\u2082 Gauss",
    "exact_w2": "W\u2082 exact", "ratio": "Gauss / exact", "spread": "tr \u03a3",
    "score": "score", "score_std": "\u00b1 sd", "matched_socm": "matched SOCM",
    "spearman": "\u03c1", "ci_low": "CI low", "ci_high": "CI high",
    "rho": "\u03c1", "p": "p", "interval": "95% interval", "partial_rho": "partial \u03c1",
    "partial_p": "partial p", "ranks": "ranks", "notes": "notes",
    "mean_score": "mean-pooling score", "difference": "gap (distributional \u2212 mean)",
    "mean_pooling_score": "mean-pooling score", "mean_pooling_std": "\u00b1 sd (mean)",
    "mean_score_unchanged": "mean-pooling score identical",
    "mean_vector_change": "largest change of a mean coordinate",
    "distributional": "Gaussian / \u2212W\u2082 pooling", "distributional_score": "its score",
    "n_neighbors": "neighbours per text (k)", "neighbours": "neighbours (nearest first)",
    "max_socm": "max SOCM", "id_i": "id i", "id_j": "id j", "text_i": "text i",
    "text_j": "text j",
}


# ---------------------------------------------------------------------------------------
# Small pieces
# ---------------------------------------------------------------------------------------
def _json_for_script(value) -> str:
    """JSON that cannot end its ``<script>`` element or open a comment inside it.

    A NaN or infinite number (a result object may hold one) becomes ``null``,
    as standard JSON has no such numbers; the tables show it as a dash.
    """
    text = json.dumps(_finite_json(value), ensure_ascii=False, allow_nan=False,
                      default=_jsonable)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _finite_json(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_json(v) for v in value]
    return value


def _jsonable(value):
    """NumPy scalars and arrays, paths and the like, for ``json.dumps``."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _header(key: str) -> str:
    return _HEADERS.get(key, key.replace("_", " "))


def _cell(key: str, value) -> str:
    """One ``<td>``: numbers right-aligned with their raw value for sorting; text escaped."""
    if _finite(value):
        digits = 2 if key.startswith("spread") else 4
        shown = number(value, digits) if isinstance(value, float) else number(value)
        return f'<td class="num" data-v="{esc(repr(value))}">{esc(shown)}</td>'
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return f"<td>{esc(number(None if isinstance(value, float) else value))}</td>"
    if isinstance(value, (list, dict)):
        value = json.dumps(value, ensure_ascii=False)
    return f'<td dir="auto">{esc(value)}</td>'


def _table(table_id: str, rows: list, columns: list, *, caption: str = "",
           total: int | None = None, filterable: bool = True, text_columns=(),
           row_ids=None) -> str:
    """A sortable (and filterable) table of ``rows`` (dicts), at most ``MAX_TABLE_ROWS``."""
    total = len(rows) if total is None else total
    shown = rows[:MAX_TABLE_ROWS]
    head = "".join(f'<th scope="col">{esc(_header(c))}</th>' for c in columns)
    body = []
    for k, row in enumerate(shown):
        cells = []
        for column in columns:
            value = row.get(column)
            if column in text_columns:
                # the whole text, in a box that scrolls: rows stay a few lines high
                cells.append(f'<td class="text"><div class="clip" dir="auto" tabindex="0">'
                             f'{esc("" if value is None else value)}</div></td>')
            else:
                cells.append(_cell(column, value))
        ident = f' id="{esc(row_ids[k])}"' if row_ids else ""
        body.append(f"<tr{ident}>{''.join(cells)}</tr>")
    notes = []
    if len(shown) < total:
        notes.append(f"The first {len(shown):,} of {total:,} rows; every row is in the JSON "
                     "embedded in this page and in the command's --json.")
    bar = ""
    # the count beside the filter says at once when the table holds only the first rows
    count = (f"{len(shown):,} rows" if len(shown) == total
             else f"the first {len(shown):,} of {total:,} rows")
    if filterable and len(shown) > 1:
        bar = (f'<div class="tablebar"><input type="search" data-filter="{table_id}" '
               f'placeholder="filter rows (any text or number)" aria-label="filter '
               f'{esc(caption or table_id)}"><span class="note" id="{table_id}-count">'
               f"{count}</span><span class=\"note\">click a column header to "
               "sort</span></div>")
    caption_html = f"<caption class=\"note\">{esc(caption)}</caption>" if caption else ""
    note_html = "".join(f'<p class="note">{esc(n)}</p>' for n in notes)
    return (f'{bar}<div class="tablewrap"><table class="data" id="{table_id}">{caption_html}'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
            f"{note_html}")


def _clip_text(text: str, limit: int) -> str:
    text = str(text)
    if len(text) <= limit:
        return text
    return text[:limit] + f"\u2026 [cut here: {len(text):,} characters in all]"


def _records_columns(records: list, *, skip=()) -> list:
    """The scalar fields of the records, in their order."""
    columns = []
    for record in records:
        for key, value in record.items():
            if key not in columns and key not in skip and not isinstance(value, (list, dict)):
                columns.append(key)
    return columns


# ---------------------------------------------------------------------------------------
# Header and verdict
# ---------------------------------------------------------------------------------------
def _limit(record) -> str:
    value = record.get("max_length")
    return "the model's limit" if value is None else f"max_length {value}"


#: Each page's title; ``where`` is the model with its layer.
_TITLES = {
    "report": "Collapse report: {where} on {dataset}",
    "pairs": "The pairs mean pooling conflates: {where} on {dataset}",
    "layers": "Layer profile: {model} on {dataset}",
    "compare": "Models compared on {dataset}",
    "ot": "Gaussian against exact W\u2082: {where} on {dataset}",
    "neighbours": "Every text's nearest neighbours: {where} on {dataset}",
    "evaluate": "Collapse against downstream scores",
}


def _title(kind: str, records: list) -> str:
    first = records[0] if records else {}
    model, layer, dataset = first.get("model", ""), first.get("layer"), first.get("dataset", "")
    where = f"{model} (layer {layer})" if layer is not None else str(model)
    # the user's strings are values here, never the template: braces in them stay as they are
    return _TITLES[kind].format(where=where, model=model, dataset=dataset)


def _header_rows(kind: str, records: list, document: dict) -> list:
    details = document.get("details") or {}
    rows = []
    if not records:
        return rows
    first = records[0]
    if kind == "compare":
        rows.append(("models", "; ".join(
            f"{r.get('model', '')} (layer {r.get('layer')}, {_limit(r)})" for r in records)))
    elif kind == "evaluate":
        models = sorted({str(r.get("model", "")) for r in records})
        tasks = sorted({str(r.get("task", "")) for r in records})
        layers = sorted({r.get("layer") for r in records if _finite(r.get("layer"))})
        poolings = list(dict.fromkeys(str(r.get("pooling", "")) for r in records))
        rows += [("models", ", ".join(models)), ("tasks", ", ".join(tasks)),
                 ("layers", ", ".join(str(v) for v in layers)),
                 ("poolings", ", ".join(poolings))]
    else:
        layers = [r.get("layer") for r in records]
        layer_text = (str(layers[0]) if len(layers) == 1
                      else ", ".join(str(v) for v in layers))
        rows.append(("model", f"{first.get('model', '')} ({_limit(first)})"))
        rows.append(("layer" if len(layers) == 1 else "layers", layer_text))
    if kind != "evaluate":
        rows.append(("corpus", str(first.get("dataset", ""))))
        if first.get("n_texts") is not None:
            rows.append(("texts", f"{number(first.get('n_texts'))}"
                         + (f", {number(first.get('n_truncated'))} truncated at {_limit(first)}"
                            if first.get("n_truncated") is not None else "")))
        pairs = _pairs_text(kind, first)
        if pairs:
            rows.append(("pairs", pairs))
        if kind == "neighbours":
            rows += _neighbours_header(first)
    else:
        texts = sorted({(r.get("task"), r.get("n_texts")) for r in records}, key=str)
        rows.append(("texts", ", ".join(f"{t}: {number(n)}" for t, n in texts)))
    settings = dict(details.get("settings") or {})
    if first.get("seed") is not None:
        settings.setdefault("seed", first.get("seed"))
    if settings:
        rows.append(("settings", ", ".join(f"{k} {v}" for k, v in settings.items())))
    version = document.get("version") or first.get("skpool_version")
    if version:
        rows.append(("skpool", str(version)))
    rows.append(("date", document.get("created") or _now()))
    return rows


def _pairs_text(kind: str, record: dict) -> str:
    n_texts = record.get("n_texts")
    total = n_texts * (n_texts - 1) // 2 if isinstance(n_texts, int) else None
    if kind == "neighbours":
        duplicates = record.get("n_duplicate_pairs")
        return (f"{number(record.get('n_pairs'))} distinct neighbour pairs (each unordered pair "
                f"once) of {number(total)}"
                + (f"; {number(duplicates)} of identical texts (SOCM 0)" if duplicates else ""))
    if kind == "pairs":
        searched = record.get("n_pairs_searched")
        if record.get("exact"):
            return f"all {number(record.get('n_pairs_total', total))} pairs searched (exact)"
        return (f"{number(searched)} drawn at random of {number(record.get('n_pairs_total'))} "
                f"(seed {record.get('seed')})")
    n_pairs = record.get("n_pairs")
    if n_pairs is None:
        return ""
    if record.get("exact"):
        return f"all {number(n_pairs)} pairs (exact)"
    if kind == "ot":
        if total is not None and n_pairs >= total:
            return f"all {number(total)} pairs"
        return f"{number(n_pairs)} pairs drawn at random of {number(total)}"
    return f"{number(n_pairs)} sampled of {number(total)} (seed {record.get('seed')})"


def _neighbours_header(record: dict) -> list:
    """``skpool neighbours``: k, and the index with its recall (measured when approximate)."""
    rows = [("neighbours", f"k = {number(record.get('n_neighbors'))} per text, by the cosine "
                           "of the mean-pooled vectors")]
    index, recall = record.get("index"), record.get("recall")
    if index == "exact":
        rows.append(("index", "exact (flat inner product: the brute-force neighbours)"))
    elif index is not None:
        rows.append(("index", f"{index} (approximate): recall@k {number(recall, 4)} measured "
                              f"on {number(record.get('n_recall_queries'))} texts drawn at "
                              "random against an exact search"))
    return rows


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _place_on_scale(value: float) -> str:
    low, high = PAPER_RANGE
    if value < low:
        return "below the paper's range"
    if value > high:
        return "above the paper's range"
    fraction = (value - low) / (high - low)
    third = ("the lower third" if fraction < 1 / 3 else "the middle third" if fraction < 2 / 3
             else "the upper third")
    return f"in {third} of the paper's range"


def verdict_sentences(mean_socm, n_violations, n_texts, *, stderr=None, exact=None,
                      where: str = "") -> list:
    """The verdict: the mean SOCM on the paper's scale, and the texts breaking tr Σ ≤ 2.

    Examples
    --------
    >>> verdict_sentences(0.25, 0, 40)[0][:40]
    'Mean SOCM 0.2500 is in the middle third '
    """
    sentences = []
    if _finite(mean_socm):
        error = (" (exact, every pair)" if exact else f" \u00b1 {stderr:.4f} (standard error)"
                 if _finite(stderr) and stderr > 0 else "")
        sentences.append(
            f"Mean SOCM {mean_socm:.4f}{error}{where} is {_place_on_scale(mean_socm)}: the "
            f"paper reports {PAPER_RANGE[0]:.3f}\u2013{PAPER_RANGE[1]:.3f} for twelve encoders on "
            f"1,000 Wikipedia texts (all-mpnet-base-v2: {PAPER_MPNET:.3f}). Higher means more "
            "collapse: mean pooling puts texts close together while their token clouds "
            "differ. A different corpus moves the value, so read the scale as an order of "
            "magnitude.")
    if isinstance(n_violations, int) and isinstance(n_texts, int) and n_texts > 0:
        if n_violations:
            share = n_violations / n_texts
            sentences.append(
                f"{n_violations:,} of {n_texts:,} texts ({share:.0%}) have tr \u03a3 > "
                f"{TRACE_LIMIT:g}, breaking the paper's assumption tr \u03a3 \u2264 "
                f"{TRACE_LIMIT:g}: their tokens spread widely around their mean (mean "
                "within-text cosine below 1/3), so d_\u03a3 and SOCM of pairs with them can "
                "exceed 1. Values are shown as computed, never clipped.")
        else:
            sentences.append(
                f"No text has tr \u03a3 > {TRACE_LIMIT:g}: every text meets the paper's "
                "assumption, so every pair's d_\u03a3 and SOCM lie in [0, 1].")
    return sentences


def _verdict_html(sentences, *, warn_second=True) -> str:
    if not sentences:
        return ""
    parts = []
    for k, sentence in enumerate(sentences):
        warn = ' class="warn"' if warn_second and k and "breaking" in sentence else ""
        parts.append(f"<p{warn}>{esc(sentence)}</p>")
    return f'<section class="verdict" id="verdict">{"".join(parts)}</section>'


# ---------------------------------------------------------------------------------------
# Charts
# ---------------------------------------------------------------------------------------
def _colour_bar(frame: Frame, high: float, ident: str) -> str:
    """A vertical SOCM colour bar right of the frame."""
    x = frame.width - frame.right + 14
    top, bottom = frame.top, frame.height - frame.bottom
    stops = "".join(f'<stop offset="{k / 10:.1f}" stop-color="{viridis(k / 10)}"/>'
                    for k in range(11))
    ticks = "".join(
        f'<text x="{x + 16}" y="{bottom - (bottom - top) * v / high + 4:.1f}" class="tick">'
        f"{v:g}</text>" for v in nice_ticks(0.0, high, 4) if v <= high + 1e-12)
    return (f'<defs><linearGradient id="{ident}" x1="0" y1="1" x2="0" y2="0">{stops}'
            f'</linearGradient></defs><rect x="{x}" y="{top}" width="11" height="'
            f'{bottom - top}" fill="url(#{ident})"/>{ticks}'
            f'<text transform="translate({x + 50} {(top + bottom) / 2}) rotate(-90)" '
            'class="label" text-anchor="middle">SOCM</text>')


def _pair_scatter(points: dict, marks: list, *, label: str) -> str:
    """d_μ against d_Σ, one circle per pair coloured by SOCM; listed pairs ringed."""
    d_mu, d_sigma, socm = points.get("d_mu") or [], points.get("d_sigma") or [], \
        points.get("socm") or []
    marked_x = [row.get("d_mu") for _, _, rows in marks for row in rows]
    marked_y = [row.get("d_sigma") for _, _, rows in marks for row in rows]
    x_low, x_high = span(d_mu, include=marked_x)
    y_low, y_high = span(d_sigma, include=marked_y)
    frame = Frame((max(0.0, x_low), x_high), (max(0.0, y_low), y_high), width=640,
                  height=440, right=78, x_label="d_\u03bc = \u2016\u03bc\u2081 \u2212 "
                  "\u03bc\u2082\u2016\u00b2 / 4  (1 \u2212 cosine of the mean-pooled vectors) / 2",
                  y_label="d_\u03a3 = B\u00b2(\u03a3\u2081, \u03a3\u2082) / 4")
    high = max([1e-12, *(v for v in socm if _finite(v))])
    body = [frame.axes()]
    if frame.y0 <= 1.0 <= frame.y1:
        body.append(frame.hline(1.0, "d_\u03a3 = 1: the bound when tr \u03a3 \u2264 2"))
    order = sorted(range(len(d_mu)), key=lambda k: socm[k] if k < len(socm) else 0)
    radius = 3.2 if len(d_mu) <= 500 else 2.4
    for k in order:
        colour = viridis((socm[k] / high) if k < len(socm) else 0.0)
        body.append(f'<circle class="pt" data-set="points" data-k="{k}" cx="{frame.x(d_mu[k])}"'
                    f' cy="{frame.y(d_sigma[k])}" r="{radius}" fill="{colour}" '
                    'fill-opacity="0.85"/>')
    for set_name, colour, rows in marks:
        for k, row in enumerate(rows):
            if not (_finite(row.get("d_mu")) and _finite(row.get("d_sigma"))):
                continue
            body.append(f'<circle class="pt" data-set="{esc(set_name)}" data-k="{k}" '
                        f'data-row="{esc(set_name)}-{k + 1}" cx="{frame.x(row["d_mu"])}" '
                        f'cy="{frame.y(row["d_sigma"])}" r="6" fill="none" pointer-events="all" '
                        f'stroke="{colour}" '
                        'stroke-width="1.8"/>')
    body.append(_colour_bar(frame, high, "skpool-viridis"))
    entries = [(colour, f"{name} (ringed; hover for the texts)", "ring")
               for name, colour in ((_MARK_NAMES.get(s, s), c) for s, c, rows in marks if rows)]
    if entries:
        body.append('<rect x="{}" y="{}" width="300" height="{}" fill="#fff" '
                    'fill-opacity="0.85"/>'.format(frame.left + 6, frame.top + 4,
                                                   15 * len(entries) + 6))
        body.append(legend(entries, x=frame.left + 10, y=frame.top + 13))
    return frame.svg("".join(body), label=label, element_id="pair-scatter")


_MARK_NAMES = {"top-pairs": "highest SOCM", "near-pairs": "near pairs with the largest d_\u03a3"}


def _histogram(values: list, *, label: str, x_label: str, reference=None,
               reference_label: str = "", bins: int = 30) -> str:
    finite = [v for v in values if _finite(v)]
    low, high = span(finite, include=[reference] if reference is not None else [], pad=0.02)
    low = max(0.0, low)
    width = (high - low) / bins or 1.0
    counts = [0] * bins
    for v in finite:
        counts[min(bins - 1, max(0, int((v - low) / width)))] += 1
    frame = Frame((low, high), (0, max(counts) or 1), width=480, height=260, x_label=x_label,
                  y_label="texts")
    body = [frame.axes()]
    for k, count in enumerate(counts):
        if count:
            x0, x1 = frame.x(low + k * width), frame.x(low + (k + 1) * width)
            y = frame.y(count)
            body.append(f'<rect x="{x0}" y="{y}" width="{max(0.5, x1 - x0 - 0.6):.1f}" '
                        f'height="{frame.y(0) - y:.1f}" fill="#6f8fb8"/>')
    if reference is not None and frame.x0 <= reference <= frame.x1:
        px = frame.x(reference)
        body.append(f'<line x1="{px}" x2="{px}" y1="{frame.top}" y2="{frame.y(0)}" '
                    f'class="reference"/><text x="{px - 4}" y="{frame.top + 12}" class="note" '
                    f'text-anchor="end">{esc(reference_label)}</text>')
    return frame.svg("".join(body), label=label)


def _series_panel(records: list, key: str, *, x_key: str, label: str, y_label: str,
                  reference=None, reference_label: str = "", error_key=None,
                  group_key=None, width=380, height=270) -> str:
    """One statistic against ``x_key`` (a line per ``group_key`` value), with error bars."""
    groups = {}
    for record in records:
        if _finite(record.get(key)) and _finite(record.get(x_key)):
            groups.setdefault(str(record.get(group_key, "")) if group_key else "", []).append(
                record)
    if not groups:
        return ""
    ys = [r[key] for rows in groups.values() for r in rows]
    errors = [r.get(error_key) or 0.0 for rows in groups.values() for r in rows] \
        if error_key else [0.0] * len(ys)
    xs = [r[x_key] for rows in groups.values() for r in rows]
    y_low, y_high = span([y - e for y, e in zip(ys, errors)] + [y + e for y, e in zip(ys, errors)],
                         include=[reference] if reference is not None else [])
    x_values = sorted(set(xs))
    x_low, x_high = (min(x_values) - 0.5, max(x_values) + 0.5) if x_values else (0, 1)
    ticks = x_values if len(x_values) <= 14 else None
    frame = Frame((x_low, x_high), (y_low, y_high), width=width, height=height,
                  x_label=x_key.replace("_", " "), y_label=y_label, x_ticks=ticks)
    if ticks is not None:
        frame.x0, frame.x1 = x_low, x_high
    body = [frame.axes(x_tick_labels=[str(t) for t in ticks] if ticks else None)]
    if reference is not None:
        body.append(frame.hline(reference, reference_label))
    entries = []
    for n, (name, rows) in enumerate(groups.items()):
        colour = PALETTE[n % len(PALETTE)]
        rows = sorted(rows, key=lambda r: r[x_key])
        path = " ".join(f"{'M' if k == 0 else 'L'}{frame.x(r[x_key])},{frame.y(r[key])}"
                        for k, r in enumerate(rows))
        body.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="1.8"/>')
        for r in rows:
            px, py = frame.x(r[x_key]), frame.y(r[key])
            error = r.get(error_key) if error_key else None
            if _finite(error) and error > 0:
                body.append(f'<line x1="{px}" x2="{px}" y1="{frame.y(r[key] - error)}" '
                            f'y2="{frame.y(r[key] + error)}" stroke="{colour}"/>')
            body.append(f'<circle cx="{px}" cy="{py}" r="3.5" fill="{colour}">'
                        f"<title>{esc(name + ' ' if name else '')}{esc(x_key)} "
                        f"{esc(r[x_key])}: {esc(number(r[key]))}</title></circle>")
        if name:
            entries.append((colour, name, "line"))
    if entries:
        body.append(legend(entries, x=frame.left + 8, y=frame.top + 12))
    return frame.svg("".join(body), label=label)


def _bar_panel(records: list, key: str, *, label: str, y_label: str, reference=None,
               reference_label: str = "", error_key=None) -> str:
    """One bar per record (model), named with its layer and max_length under the axis."""
    values = [r.get(key) for r in records]
    errors = [(r.get(error_key) or 0.0) if error_key else 0.0 for r in records]
    tops = [v + (e if _finite(e) else 0) for v, e in zip(values, errors) if _finite(v)]
    y_high = max([*tops, reference or 0.0, 1e-12]) * 1.12
    frame = Frame((-0.5, len(records) - 0.5), (0.0, y_high), width=360, height=290,
                  bottom=74, x_label="", y_label=y_label, x_ticks=[])
    frame.x0, frame.x1 = -0.5, len(records) - 0.5
    body = [frame.axes()]
    step = (frame.width - frame.left - frame.right) / max(len(records), 1)
    for k, record in enumerate(records):
        value = record.get(key)
        cx = frame.x(k)
        name = _short_name(record.get("model", ""))
        body.append(f'<text x="{cx}" y="{frame.height - frame.bottom + 15}" class="tick" '
                    f'text-anchor="middle">{esc(name)}</text>'
                    f'<text x="{cx}" y="{frame.height - frame.bottom + 29}" class="note" '
                    f'text-anchor="middle">layer {esc(record.get("layer"))}, '
                    f'{esc(_limit(record).replace("max_length ", "max_length "))}</text>')
        if not _finite(value):
            continue
        width = min(60.0, step * 0.6)
        y = frame.y(value)
        body.append(f'<rect x="{cx - width / 2:.1f}" y="{y}" width="{width:.1f}" '
                    f'height="{frame.y(0) - y:.1f}" fill="{PALETTE[k % len(PALETTE)]}">'
                    f"<title>{esc(record.get('model'))}: {esc(number(value))}</title></rect>"
                    f'<text x="{cx}" y="{y - 4}" class="tick" text-anchor="middle">'
                    f"{esc(number(value, 3))}</text>")
        error = errors[k]
        if _finite(error) and error > 0:
            body.append(f'<line x1="{cx}" x2="{cx}" y1="{frame.y(value - error)}" '
                        f'y2="{frame.y(value + error)}" stroke="#202124"/>')
    if reference is not None:  # over the bars, its label on a white halo
        body.append(frame.hline(reference, reference_label))
    return frame.svg("".join(body), label=label)


def _w2_scatter(ot: dict, *, label: str) -> str:
    exact, gauss = ot.get("exact_w2") or [], ot.get("gaussian_w2") or []
    pairs = [(x, y) for x, y in zip(exact, gauss) if _finite(x) and _finite(y)]
    low, high = span([v for p in pairs for v in p])
    low = max(0.0, low)
    frame = Frame((low, high), (low, high), width=520, height=440,
                  x_label="exact W\u2082 (POT emd2, not squared)",
                  y_label="Gaussian W\u2082 (not squared)")
    body = [frame.axes(),
            f'<line x1="{frame.x(frame.x0)}" y1="{frame.y(frame.x0)}" '
            f'x2="{frame.x(min(frame.x1, frame.y1))}" y2="{frame.y(min(frame.x1, frame.y1))}" '
            'class="reference"/>',
            legend([("#5f6368", "Gaussian = exact (the Gelbrich bound: never above)", "dash")],
                   x=frame.left + 8, y=frame.top + 12)]
    for k, (x, y) in enumerate(pairs[:MAX_POINTS]):
        body.append(f'<circle class="pt" data-set="ot" data-k="{k}" cx="{frame.x(x)}" '
                    f'cy="{frame.y(y)}" r="3.2" fill="#1f77b4" fill-opacity="0.75"/>')
    return frame.svg("".join(body), label=label, element_id="w2-scatter")


#: The correlation groups in the order a person reads them (docs/evaluation.md).
GROUP_WORDS = {"all": "all points", "trained": "trained models",
               "trained-no-embedding": "trained, without the embedding layer",
               "within-model": "within one model", "last-layer": "last layer of each trained model"}


def _group_name(c: dict) -> str:
    """A correlation's group as a person reads it; a within-model group names its model."""
    name = GROUP_WORDS.get(str(c.get("group")), str(c.get("group")))
    return f"{name}: {c['model']}" if c.get("model") else name


def _interval_text(c: dict) -> str | None:
    interval = c.get("interval")
    if not interval or not all(_finite(v) for v in interval):
        return None
    return f"{interval[0]:.2f} to {interval[1]:.2f}"


def _counted(groups: list) -> str:
    """Groups named with their point counts, ``all points = trained models (6 points) and
    last layer of each trained model (1 point)``: groups that hold the same points (the same
    count, ranking check and correlation) are named together, once."""
    same: dict[tuple, list] = {}
    for c in groups:
        key = (tuple(c.get("models") or ()),
               *(c.get(k) for k in ("n", "score_sd", "score_error", "rank_p", "rho", "p")))
        same.setdefault(key, []).append(c)
    names = [" = ".join(_group_name(c) for c in members)
             + f" ({number(members[0].get('n'))} point{'' if members[0].get('n') == 1 else 's'})"
             for members in same.values()]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _groups_sentence(task: str, pooling: str, groups: list) -> str:
    """What one task and pooling's groups say, each thing once.

    A correlation is written once for all the groups that hold the same points
    (no baseline marked: 'trained models' is 'all points' again); the groups
    whose points the task cannot rank, and those with too few points, are
    each named in one clause instead of one sentence apiece.
    """
    findings: dict[tuple, list] = {}
    unranked, too_few = [], []
    for c in groups:
        if c.get("can_rank") is False:
            unranked.append(c)
        elif not _finite(c.get("rho")):
            too_few.append(c)
        else:
            same = (c.get("n"), c.get("rho"), c.get("p"), _interval_text(c))
            findings.setdefault(same, []).append(c)
    clauses = []
    for (n, rho, p, interval), members in findings.items():
        names = [_group_name(c) for c in members]
        clauses.append(
            (names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1])
            + f": ρ = {rho:.2f}" + (f" (95% interval {interval})" if interval else "")
            + f" over {number(n)} point{'' if n == 1 else 's'}"
            + (f", p = {p:.3g}" if _finite(p) else ""))
    if unranked:
        clauses.append(f"points the task cannot rank: {_counted(unranked)}")
    if too_few:
        clauses.append(f"too few points for a correlation: {_counted(too_few)}")
    return f"{task}, {pooling} pooling, mean SOCM against the score: " + "; ".join(
        clauses) + "."


#: Said once below the sentences of :func:`_groups_sentence` when a group cannot be ranked.
UNRANKED_WORDS = ("Points the task cannot rank: their scores differ by no more than their "
                  "fold/bootstrap error gives by chance, so a correlation over them orders "
                  "noise and is not a finding.")


def note_numbers(notes) -> tuple[list, list]:
    """Number the distinct parts of ``notes`` (strings of ``"; "``-joined parts).

    Returns the numbers of each note's parts (``"1, 3"``, ``""`` for an empty
    note) and the distinct parts in their order, so that a table shows short
    references and each explanation is written once below it.

    Examples
    --------
    >>> note_numbers(["2 points: too few; no baseline", "no baseline", ""])
    (['1, 2', '2', ''], ['2 points: too few', 'no baseline'])
    """
    distinct: dict[str, int] = {}
    refs = []
    for note in notes:
        parts = [part for part in str(note or "").split("; ") if part]
        refs.append(", ".join(str(distinct.setdefault(part, len(distinct) + 1))
                              for part in parts))
    return refs, list(distinct)


def _panel_correlation(correlations, task: str, pooling: str) -> dict | None:
    """The correlation a panel draws: mean SOCM against the score over all its points."""
    for c in correlations:
        if (str(c.get("task")) == task and str(c.get("pooling")) == pooling
                and c.get("measure") == "mean_socm" and c.get("group") == "all"):
            return c
    return None


def _score_panels(records: list, pooling: str, correlations=()) -> str:
    """Per task: SOCM against score, one colour per model, each point labelled by its layer.

    A panel draws every model at every layer, so its title gives the ``all``
    group's Spearman correlation of mean SOCM and score (with its interval);
    when the ranking check says the task cannot rank the points, the line
    under the title says so.
    """
    rows = [r for r in records if r.get("pooling") == pooling]
    tasks = list(dict.fromkeys(str(r.get("task")) for r in rows))
    models = list(dict.fromkeys(str(r.get("model")) for r in rows))
    panels = []
    for task in tasks:
        points = [r for r in rows if str(r.get("task")) == task
                  and _finite(r.get("mean_socm")) and _finite(r.get("score"))]
        if not points:
            continue
        metric = points[0].get("metric", "score")
        x_low, x_high = span([r["mean_socm"] for r in points])
        y_low, y_high = span([r["score"] - (r.get("score_std") or 0) for r in points]
                             + [r["score"] + (r.get("score_std") or 0) for r in points])
        frame = Frame((x_low, x_high), (y_low, y_high), width=520, height=334, right=158,
                      top=38, x_label="mean SOCM of the task's texts",
                      y_label=f"{metric} ({pooling})")
        title, subtitle = task, ""
        c = _panel_correlation(correlations, task, pooling)
        if c is not None and _finite(c.get("rho")):
            interval = c.get("interval")
            title += f":  Spearman \u03c1 = {c['rho']:.2f}"
            if interval and all(_finite(v) for v in interval):
                title += f" [{interval[0]:.2f}, {interval[1]:.2f}]"
            title += f", n = {number(c.get('n'))} (all points)"
        if c is not None and c.get("can_rank") is False:
            subtitle = "the task cannot rank these points: \u03c1 is not a finding"
        body = [frame.axes(), f'<text x="{frame.left}" y="{frame.top - 22}" class="title">'
                              f"{esc(title)}</text>"]
        if subtitle:
            body.append(f'<text x="{frame.left}" y="{frame.top - 8}" class="note" '
                        'style="fill:#a35200">'
                        f"{esc(subtitle)}</text>")
        for n, model in enumerate(models):
            colour = PALETTE[n % len(PALETTE)]
            for r in (p for p in points if str(p.get("model")) == model):
                px, py = frame.x(r["mean_socm"]), frame.y(r["score"])
                error = r.get("score_std")
                if _finite(error) and error > 0:
                    body.append(f'<line x1="{px}" x2="{px}" y1="{frame.y(r["score"] - error)}"'
                                f' y2="{frame.y(r["score"] + error)}" stroke="{colour}" '
                                'stroke-opacity="0.6"/>')
                body.append(f'<circle cx="{px}" cy="{py}" r="4" fill="{colour}"><title>'
                            f"{esc(model)}, layer {esc(r.get('layer'))}: SOCM "
                            f"{esc(number(r['mean_socm']))}, {esc(metric)} "
                            f"{esc(number(r['score']))}</title></circle>"
                            f'<text x="{px + 5}" y="{py - 5}" class="note">'
                            f"{esc(r.get('layer'))}</text>")
        entries = [(PALETTE[n % len(PALETTE)], _short_name(m), "dot")
                   for n, m in enumerate(models)] if len(models) > 1 else []
        entries.append(("#5f6368", "\u00b1 1 sd of the score", "line"))
        body.append(legend(entries, x=frame.width - frame.right + 10, y=frame.top + 8))
        panels.append(frame.svg("".join(body), label=f"mean SOCM against {metric} on {task}"))
    return "".join(panels)



# ---------------------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------------------
def _short_name(name) -> str:
    """A model's name for a legend: a long path or hub id by its last part."""
    name = str(name).rstrip("/")
    if len(name) > 28 and "/" in name:
        name = name.rsplit("/", 1)[-1]
    return name if len(name) <= 28 else "\u2026" + name[-27:]


def _figure(svg: str, caption: str) -> str:
    return f'<figure class="figure">{svg}<figcaption>{esc(caption)}</figcaption></figure>'


def _pair_rows(rows: list, texts: dict) -> list:
    """Rows of pairs with their full texts: the page's text for each id, else the row's."""
    out = []
    for row in rows:
        row = dict(row)
        for side in ("i", "j"):
            ident = str(row.get(side))
            if ident in texts:
                row[f"text_{side}"] = texts[ident]
            elif f"text_{side}" in row and row[f"text_{side}"] is not None:
                row[f"text_{side}"] = _clip_text(row[f"text_{side}"], MAX_TEXT_CHARS)
        out.append(row)
    return out


def _pair_table(table_id: str, rows: list, texts: dict, caption: str, prefix: str) -> str:
    rows = _pair_rows(rows, texts)
    for k, row in enumerate(rows):
        row.setdefault("rank", k + 1)
        row["#"] = f"{prefix}{row['rank']}"
    numbers = [c for c in ("cosine", "d_mu", "d_sigma", "socm", "gaussian_w2", "exact_w2",
                           "spread_i", "spread_j") if any(c in r for r in rows)]
    extra = [c for r in rows for c in r
             if c not in ("rank", "#", "i", "j", "text_i", "text_j", *numbers)
             and not isinstance(r[c], (list, dict))]
    columns = ["#", "i", "text_i", "j", "text_j", *numbers, *dict.fromkeys(extra)]
    return _table(table_id, rows, columns, caption=caption, text_columns=("text_i", "text_j"),
                  row_ids=[f"{table_id}-{k + 1}" for k in range(len(rows))])


def _pairs_sections(records, details, *, top_rows, near_rows, near_caption) -> str:
    texts = {str(k): v for k, v in (details.get("texts") or {}).items()}
    parts = []
    points = details.get("points") or {}
    if points.get("d_mu"):
        marks = [("top-pairs", "#d62728", top_rows), ("near-pairs", "#ff7f0e", near_rows)]
        n_drawn, n_computed = len(points["d_mu"]), points.get("n_computed", len(points["d_mu"]))
        total = points.get("n_total")
        which = (f"all {number(n_computed)} pairs" if points.get("exact") else
                 f"{number(n_computed)} pairs drawn at random"
                 + (f" of {number(total)}" if total else ""))
        drawn = (f"; {number(n_drawn)} of them drawn here (a uniform sample), every listed pair "
                 "ringed" if n_drawn < n_computed else "")
        parts.append('<h2 id="scatter">Every pair: d_\u03bc against d_\u03a3</h2>')
        parts.append(_figure(
            _pair_scatter(points, marks, label="scatter of the pairs, d_mu against d_Sigma"),
            f"One point per pair ({which}{drawn}), coloured by its SOCM = (1 \u2212 d_\u03bc) "
            "d_\u03a3. Upper left = collapse: mean-pooled vectors alike (small d_\u03bc), token "
            "clouds different (large d_\u03a3). Hover a point for its two texts; red rings are "
            "the highest-SOCM pairs, orange rings the near pairs listed below."))
    parts.append('<h2 id="top-pairs-title">The most collapsed pairs (highest SOCM)</h2>')
    if top_rows:
        parts.append(_pair_table("top-pairs", top_rows, texts,
                                 "Highest SOCM first; full texts side by side.", "S"))
    else:
        parts.append('<p class="note">No pairs in this record.</p>')
    parts.append('<h2 id="near-pairs-title">Conflated near pairs</h2>')
    parts.append(f'<p class="note">{esc(near_caption)}</p>')
    if near_rows:
        parts.append(_pair_table("near-pairs", near_rows, texts,
                                 "Largest d_\u03a3 first among the near pairs.", "C"))
    return "".join(parts)


def _spread_section(details) -> str:
    spread = details.get("spread") or {}
    values = spread.get("spread") or []
    if not values:
        return ""
    ids = spread.get("id") or list(range(len(values)))
    cosines = spread.get("cosine") or [None] * len(values)
    texts = {str(k): v for k, v in (details.get("texts") or {}).items()}
    snippets = {str(k): v for k, v in (details.get("snippets") or {}).items()}
    rows = [{"id": ident, "spread": s, "within-text cosine": c,
             "text": texts.get(str(ident), snippets.get(str(ident)))}
            for ident, s, c in zip(ids, values, cosines)]
    rows.sort(key=lambda r: -r["spread"] if _finite(r["spread"]) else 0)
    n_over = sum(1 for v in values if _finite(v) and v > TRACE_LIMIT)
    n_full = sum(1 for r in rows if str(r["id"]) in texts)
    return "".join([
        '<h2 id="spread">Per-text spread tr \u03a3</h2>',
        _figure(_histogram(values, label="histogram of the per-text spread ratio",
                           x_label="spread ratio tr \u03a3 (smaller = tokens closer to their "
                                   "mean)", reference=TRACE_LIMIT,
                           reference_label="tr \u03a3 = 2 (paper's assumption)"),
                f"{len(values):,} texts, {n_over:,} above tr \u03a3 = {TRACE_LIMIT:g}. A wide "
                "text (large tr \u03a3) makes every d_\u03a3 with it large."),
        _table("spread-table", rows, ["id", "spread", "within-text cosine", "text"],
               caption=f"Every text, the widest (largest tr \u03a3) first: in full where a "
                       f"table above shows it and for the {WIDEST_TEXTS} widest, otherwise "
                       f"its first {SNIPPET_CHARS} characters ({n_full:,} in full).",
               text_columns=("text",)),
    ])


def _records_section(records, title: str, table_id: str = "records", skip=()) -> str:
    if not records:
        return ""
    columns = _records_columns(records, skip=skip)
    if len(records) == 1:  # one record reads best as a list of fields
        rows = "".join(f'<tr><th scope="row">{esc(_header(c))}'
                       + (f' <span class="id">{esc(c)}</span>' if _header(c) != c else "")
                       + f"</th>{_cell(c, records[0].get(c))}</tr>" for c in columns)
        return (f'<h2 id="{table_id}-title">{esc(title)}</h2><table class="fields" '
                f'id="{table_id}"><tbody>{rows}</tbody></table>')
    return (f'<h2 id="{table_id}-title">{esc(title)}</h2>'
            + _table(table_id, records, columns, caption=""))


def _report_body(records, details) -> str:
    r = records[0] if records else {}
    parts = [_verdict_html(verdict_sentences(
        r.get("mean_socm"), r.get("n_trace_violations"), r.get("n_texts"),
        stderr=r.get("stderr"), exact=r.get("exact")))]
    parts.append(_records_section(records, "The record"))
    n_points = (details.get("points") or {}).get("n_computed")
    near_fraction = details.get("near_fraction", 0.01)
    parts.append(_pairs_sections(
        records, details, top_rows=details.get("top_pairs") or [],
        near_rows=details.get("near_pairs") or [],
        near_caption=(f"Among the {near_fraction:.0%} of the pairs above with the highest "
                      "cosine of the mean-pooled vectors (smallest d_\u03bc: what a retrieval "
                      "system would call near duplicates), those whose token clouds differ most "
                      f"(largest d_\u03a3). Drawn from the {number(n_points)} pairs computed."
                      if n_points else "")))
    parts.append(_spread_section(details))
    return "".join(parts)


def _pairs_body(records, details) -> str:
    r = records[0] if records else {}
    summary = details.get("summary") or {}
    parts = [_verdict_html(verdict_sentences(
        summary.get("mean_socm"), summary.get("n_trace_violations"), r.get("n_texts"),
        exact=r.get("exact"), where=" over the pairs searched"))]
    parts.append(_records_section(records, "What was searched",
                                  skip=("by_socm", "conflated")))
    near = ""
    if r:
        fraction = r.get("near_fraction")
        near = (f"Of the {number(r.get('n_near_pairs'))} pairs with the highest cosine of the "
                f"mean-pooled vectors (the top {fraction:.0%} of all "
                f"{number(r.get('n_pairs_total'))} pairs, cosine \u2265 "
                f"{number(r.get('min_near_cosine'))}), those whose token clouds differ most "
                "(largest d_\u03a3)." if _finite(fraction) else "")
    parts.append(_pairs_sections(records, details, top_rows=r.get("by_socm") or [],
                                 near_rows=r.get("conflated") or [], near_caption=near))
    parts.append(_spread_section(details))
    return "".join(parts)


def _layers_body(records, details) -> str:
    last = max(records, key=lambda r: r.get("layer", -1)) if records else {}
    sentences = verdict_sentences(last.get("mean_socm"), last.get("n_trace_violations"),
                                  last.get("n_texts"), stderr=last.get("stderr"),
                                  exact=last.get("exact"),
                                  where=f" at the last layer measured ({last.get('layer')})")
    finite = [r for r in records if _finite(r.get("mean_socm"))]
    if len(finite) > 1:
        peak = max(finite, key=lambda r: r["mean_socm"])
        sentences.append(f"The highest mean SOCM is at layer {peak.get('layer')} "
                         f"({peak['mean_socm']:.4f}); tr \u03a3 > 2 texts by layer: "
                         + ", ".join(f"{r.get('layer')}: {number(r.get('n_trace_violations'))}"
                                     for r in records) + ".")
    n_texts, n_pairs = last.get("n_texts"), last.get("n_pairs")
    counts = f"{number(n_texts)} texts, {number(n_pairs)} pairs per layer"
    panels = [
        _series_panel(records, "mean_socm", x_key="layer", label="mean SOCM by layer",
                      y_label="mean SOCM (\u00b1 SE)", error_key="stderr",
                      reference=1.0 if any((r.get("mean_socm") or 0) > 0.7 for r in records)
                      else None, reference_label="SOCM = 1"),
        _series_panel(records, "mean_spread", x_key="layer", label="spread ratio by layer",
                      y_label="mean tr \u03a3", reference=TRACE_LIMIT,
                      reference_label="tr \u03a3 = 2 (paper's assumption)"),
        _series_panel(records, "mean_cosine", x_key="layer",
                      label="within-text cosine by layer", y_label="mean within-text cosine",
                      reference=1 / 3, reference_label="1/3 (paper's assumption)"),
    ]
    return "".join([
        _verdict_html(sentences),
        '<h2 id="profile">The layer profile</h2>',
        f'<div class="charts">{"".join(panels)}</div>',
        f'<p class="note">{esc(counts)}; layer 0 is the embedding layer. Error bars: \u00b1 1 '
        "standard error of the sampled mean (none when every pair is used).</p>",
        _records_section(records, "Every layer"),
    ])


def _compare_body(records, details) -> str:
    sentences = []
    for r in records:
        if _finite(r.get("mean_socm")):
            violations = r.get("n_trace_violations")
            sentences.append(
                f"{r.get('model')} (layer {r.get('layer')}, {_limit(r)}): mean SOCM "
                f"{r['mean_socm']:.4f}, {_place_on_scale(r['mean_socm'])}"
                + (f"; {number(violations)} of {number(r.get('n_texts'))} texts have "
                   f"tr \u03a3 > {TRACE_LIMIT:g}" if isinstance(violations, int) else "") + ".")
    if sentences:
        sentences.append(
            f"The paper's range: {PAPER_RANGE[0]:.3f}\u2013{PAPER_RANGE[1]:.3f} for twelve "
            f"encoders on 1,000 Wikipedia texts (all-mpnet-base-v2: {PAPER_MPNET:.3f}); higher "
            "means more collapse. Texts with tr \u03a3 > 2 break the paper's assumption: pairs "
            "with them can have d_\u03a3 and SOCM above 1 (shown as computed).")
    panels = []
    for key, y_label, reference, reference_label, error in (
            ("mean_socm", "mean SOCM", None, "", "stderr"),
            ("mean_d_mu", "mean d_\u03bc", None, "", None),
            ("mean_d_sigma", "mean d_\u03a3", 1.0, "d_\u03a3 = 1", None),
            ("mean_spread", "mean tr \u03a3", TRACE_LIMIT, "tr \u03a3 = 2", None),
            ("mean_cosine", "within-text cosine", 1 / 3, "1/3 (assumption)", None)):
        if any(_finite(r.get(key)) for r in records):
            panels.append(_bar_panel(records, key, label=f"{y_label} by model",
                                     y_label=y_label, reference=reference,
                                     reference_label=reference_label, error_key=error))
    return "".join([
        _verdict_html(sentences),
        '<h2 id="comparison">The models side by side</h2>',
        f'<div class="charts">{"".join(panels)}</div>',
        '<p class="note">Same texts and pairs for every model; under each bar its layer and '
        "token limit.</p>",
        _records_section(records, "Every model"),
    ])


def _ot_body(records, details) -> str:
    r = records[0] if records else {}
    ot = details.get("ot") or {}
    parts = []
    sentences = []
    if r:
        violations = r.get("n_gelbrich_violations")
        sentences.append(
            f"Over {number(r.get('n_pairs'))} pairs the Gaussian W\u2082 is "
            f"{number(r.get('median_ratio'), 3)} of the exact one at the median (from "
            f"{number(r.get('min_ratio'), 3)} to {number(r.get('max_ratio'), 3)}); Spearman "
            f"\u03c1 between them {number(r.get('spearman'), 3)}. "
            + ("The Gelbrich bound (Gaussian \u2264 exact) holds for every pair."
               if violations == 0 else
               f"{number(violations)} pairs break the Gelbrich bound: that is a bug to report."))
    parts.append(_verdict_html(sentences))
    parts.append(_records_section(records, "The record"))
    if ot.get("exact_w2"):
        parts.append('<h2 id="w2">Every pair: Gaussian against exact W\u2082</h2>')
        parts.append(_figure(_w2_scatter(ot, label="Gaussian against exact W2 per pair"),
                             "One point per pair; hover a point for its texts. Points on the "
                             "dashed line lose nothing by the Gaussian view."))
        rows = [{"i": i, "j": j, "exact_w2": e, "gaussian_w2": g,
                 "ratio": (g / e if _finite(g) and _finite(e) and e > 0 else None)}
                for i, j, e, g in zip(ot.get("i") or [], ot.get("j") or [], ot["exact_w2"],
                                      ot.get("gaussian_w2") or [])]
        rows.sort(key=lambda row: row["ratio"] if _finite(row["ratio"]) else 2.0)
        texts = {str(k): v for k, v in (details.get("texts") or {}).items()}
        snippets = {str(k): v for k, v in (details.get("snippets") or {}).items()}
        for row in rows:
            row["text_i"] = texts.get(str(row["i"]), snippets.get(str(row["i"])))
            row["text_j"] = texts.get(str(row["j"]), snippets.get(str(row["j"])))
        columns = ["i", "text_i", "j", "text_j", "exact_w2", "gaussian_w2", "ratio"]
        parts.append('<h2 id="ot-pairs">The pairs, lowest Gaussian / exact ratio first</h2>')
        parts.append(_table("ot-pairs", rows, columns, text_columns=("text_i", "text_j")))
    return "".join(parts)


def _correlations_section(correlations: list) -> str:
    """The correlations table, narrow enough to read without scrolling sideways: the group
    in words, the interval as text, and each note by number, written once below."""
    ranks = {True: "yes", False: "no", None: None}
    refs, notes = note_numbers(c.get("note") for c in correlations)
    rows = [{"task": c.get("task"), "pooling": c.get("pooling"), "group": _group_name(c),
             "measure": _HEADERS.get(str(c.get("measure")), c.get("measure")), "n": c.get("n"),
             "rho": c.get("rho"), "interval": _interval_text(c), "p": c.get("p"),
             "partial_rho": c.get("partial_rho"), "partial_p": c.get("partial_p"),
             "ranks": ranks.get(c.get("can_rank")), "notes": ref}
            for c, ref in zip(correlations, refs)]
    listed = "".join(f"<li>{esc(note)}</li>" for note in notes)
    return (_table("correlations", rows, list(rows[0]))
            + (f'<ol class="notes" id="correlation-notes">{listed}</ol>' if notes else ""))


def _cost_sentence(c: dict) -> str:
    """What one distributional pooling gains over mean pooling, with its paired interval."""
    head = (f"{c.get('task')}, {c.get('pooling')} against mean pooling ({c.get('model')}, "
            f"layer {c.get('layer')}): ")
    low, high, gap = c.get("ci_low"), c.get("ci_high"), c.get("difference")
    if not (_finite(gap) and _finite(low) and _finite(high)):
        return head + "no difference could be computed."
    reading = ("the interval includes 0: these texts show no cost either way"
               if low <= 0 <= high else "mean pooling costs this much here" if low > 0
               else "mean pooling does better here")
    return (head + f"gap {gap:+.4f}, paired 95% interval {low:+.4f} to {high:+.4f} over "
            f"{number(c.get('n'))} {'folds' if c.get('metric') == 'accuracy' else 'pairs'}: "
            f"{reading}.")


def _interventions_section(interventions: list) -> str:
    sentences = []
    for key in dict.fromkeys((str(r.get("model")), str(r.get("task"))) for r in interventions):
        rows = [r for r in interventions if (str(r.get("model")), str(r.get("task"))) == key]
        changed = [str(r.get("condition")) for r in rows
                   if r.get("mean_score_unchanged") is not True]
        sentences.append(
            f"{key[1]} ({key[0]}, layer {rows[0].get('layer')}): mean pooling's score is "
            + (f"identical in all {len(rows)} conditions (checked on the changed tokens, not "
               "assumed), so a change of SOCM here is a change mean pooling never used."
               if not changed else f"NOT identical under {', '.join(changed)}: the "
               "intervention did not keep the means."))
    table = [{"model": r.get("model"), "layer": r.get("layer"), "task": r.get("task"),
              "condition": r.get("condition"), "mean_socm": r.get("mean_socm"),
              "mean_d_sigma": r.get("mean_d_sigma"),
              "mean_pooling_score": r.get("mean_pooling_score"),
              "mean_score_unchanged": r.get("mean_score_unchanged"),
              "distributional": r.get("pooling"), "distributional_score": r.get("score"),
              "score_std": r.get("score_std")} for r in interventions]
    return "".join([
        '<h2 id="interventions-title">The interventional control</h2>',
        "".join(f'<p class="note">{esc(s)}</p>' for s in sentences),
        _table("interventions", table, list(table[0])),
        '<p class="note">Each condition changes every text\'s spread about its mean token and '
        "keeps the mean: rescale:F multiplies d_\u03a3 and SOCM by F\u00b2, swap gives each "
        "text another text's spread. Gaussian features score classification, \u2212W\u2082 "
        "similarity.</p>"])


def _evaluate_body(records, details) -> str:
    parts = []
    correlations = details.get("correlations") or []
    poolings = list(dict.fromkeys(str(r.get("pooling")) for r in records))
    sentences, unranked = [], False
    for task in dict.fromkeys(str(r.get("task")) for r in records):
        for pooling in poolings[:3]:
            groups = [c for c in correlations if str(c.get("task")) == task
                      and str(c.get("pooling")) == pooling
                      and c.get("measure") == "mean_socm" and c.get("group") != "within-model"]
            if groups:
                sentences.append(_groups_sentence(task, pooling, groups))
                unranked = unranked or any(c.get("can_rank") is False for c in groups)
    if unranked:  # what 'cannot rank' means, said once
        sentences.append(UNRANKED_WORDS)
    parts.append(_verdict_html(sentences, warn_second=False))
    if records:
        parts.append('<h2 id="socm-score">Mean SOCM against the score</h2>')
        for pooling in poolings[:3]:
            parts.append(f'<h3>{esc(pooling)} pooling</h3><div class="charts">'
                         f"{_score_panels(records, pooling, correlations)}</div>")
        parts.append('<p class="note">Each point is one model at one layer (its number beside '
                     "it); the points are not joined, since layers are not a trajectory in "
                     "this plane. Bars: \u00b1 1 standard deviation of the score over folds "
                     "(accuracy) or over bootstrap resamples of the pairs (Spearman). The "
                     "\u03c1 in a title is over all the panel's points; the groups are in the "
                     "table below.</p>")
    if correlations:
        parts.append('<h2 id="correlations-title">Correlations of collapse and score, by '
                     "group</h2>")
        parts.append('<p class="note">Read the groups in order: all points; trained models '
                     "(baselines left out); trained without the embedding layer; within each "
                     "model (layers are not independent: optimistic p); each trained model at "
                     "its last layer (the paper's comparison). Partial \u03c1 controls for the "
                     "mean spread and the within-text cosine. \u201cranks\u201d says whether "
                     "the task can rank the group's points: their scores differ by more than "
                     "their fold/bootstrap error. Where it cannot, a correlation orders them by "
                     "noise and is not a finding. The notes are numbered below the table.</p>")
        parts.append(_correlations_section(correlations))
    costs = details.get("pooling_costs") or []
    if costs:
        parts.append('<h2 id="costs-title">What mean pooling costs here</h2>')
        parts.append("".join(f'<p class="note">{esc(_cost_sentence(c))}</p>' for c in costs
                             if c.get("condition") == "none"))
        parts.append(_table("pooling-costs", costs, _records_columns(costs)))
    interventions = details.get("interventions") or []
    if interventions:
        parts.append(_interventions_section(interventions))
    parts.append(_records_section(records, "Every model, layer, pooling and task"))
    diagnostics = details.get("diagnostics") or []
    if diagnostics:
        parts.append('<h2 id="diagnostics-title">Error rate by quintile</h2>')
        parts.append(_table("diagnostics", diagnostics, _records_columns(diagnostics)))
    return "".join(parts)

def _neighbour_pairs_table(rows: list) -> str:
    """The most conflated neighbour pairs: the user's ids and both full texts side by side."""
    rows = _pair_rows(rows, {})
    for k, row in enumerate(rows):
        row["#"] = f"N{row.get('rank', k + 1)}"
    named = any("id_i" in r for r in rows)
    sides = (["#", "id_i", "text_i", "id_j", "text_j"] if named
             else ["#", "i", "text_i", "j", "text_j"])
    numbers = [c for c in ("cosine", "d_mu", "d_sigma", "socm", "spread_i", "spread_j")
               if any(c in r for r in rows)]
    columns = [*sides, *numbers, *(["i", "j"] if named else [])]
    return _table("top-pairs", rows, columns,
                  caption="Highest SOCM first; full texts side by side. i, j: the texts' "
                          "positions.", text_columns=("text_i", "text_j"),
                  row_ids=[f"top-pairs-{k + 1}" for k in range(len(rows))])


def _neighbours_body(records, details) -> str:
    r = records[0] if records else {}
    rows = list(r.get("texts") or [])
    pairs = list(r.get("top_pairs") or [])
    summary = details.get("summary") or {}
    n_violations = summary.get("n_trace_violations")  # over every text, cut rows or not
    if n_violations is None:
        n_violations = sum(1 for t in rows
                           if _finite(t.get("spread")) and t["spread"] > TRACE_LIMIT)
    sentences = verdict_sentences(summary.get("mean_socm"),
                                  n_violations if rows else None, r.get("n_texts"),
                                  where=f" over the {number(r.get('n_pairs'))} neighbour pairs")
    if pairs and _finite(pairs[0].get("socm")):
        top = pairs[0]
        first, second = (("id_i", "id_j") if "id_i" in top else ("i", "j"))
        sentences.insert(1, (
            f"Max neighbour SOCM {top['socm']:.4f} ({_place_on_scale(top['socm'])}), between "
            f"texts {top.get(first)} and {top.get(second)}: the pair listed first below. "
            "Neighbour pairs are the ones a retriever would confuse; the paper's range is "
            "over random pairs, so read it as an order of magnitude."))
    parts = [_verdict_html(sentences), _records_section(records, "What was searched",
                                                        skip=("texts", "top_pairs"))]
    parts.append('<h2 id="top-pairs-title">The most conflated neighbour pairs (highest '
                 "SOCM)</h2>")
    parts.append(_neighbour_pairs_table(pairs) if pairs
                 else '<p class="note">No pairs in this record.</p>')
    if rows:
        named = any("id" in t for t in rows)
        table = []
        for t in rows:
            row = dict(t)
            if "text" in row and row["text"] is not None:
                row["text"] = _clip_text(row["text"], MAX_TEXT_CHARS)
            row["neighbours"] = ", ".join(str(v) for v in (t.get("neighbours") or []))
            table.append(row)
        # the most at risk first, so that a cut table keeps them
        table.sort(key=lambda t: -t["max_socm"] if _finite(t.get("max_socm")) else math.inf)
        columns = [c for c in ("id" if named else "i", "text", "neighbours", "max_socm",
                               "mean_socm", "spread") if any(c in t for t in table)]
        parts.append('<h2 id="texts-title">Every text and its neighbours</h2>')
        if r.get("texts_left_to_json"):
            parts.append(f'<p class="note">This page holds the {number(len(rows))} texts with '
                         f"the highest max SOCM; the other {number(r['texts_left_to_json'])} "
                         "are in the command's --json.</p>")
        parts.append(_table(
            "texts-table", table, columns, text_columns=("text",),
            caption="The highest max SOCM over a text's neighbours first; neighbours by "
                    "their ids, nearest first; spread = tr \u03a3 (above "
                    f"{TRACE_LIMIT:g} breaks the paper's assumption)."))
    return "".join(parts)


_BODIES = {"report": _report_body, "pairs": _pairs_body, "layers": _layers_body,
           "compare": _compare_body, "ot": _ot_body, "evaluate": _evaluate_body,
           "neighbours": _neighbours_body}


# ---------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------
def _bounded_details(details: dict) -> dict:
    """The details with every text cut to ``MAX_TEXT_CHARS`` and snippets to ``SNIPPET_CHARS``."""
    details = dict(details)
    if details.get("texts"):
        details["texts"] = {str(k): _clip_text(v, MAX_TEXT_CHARS)
                            for k, v in details["texts"].items()}
    if details.get("snippets"):
        details["snippets"] = {str(k): _clip_text(v, SNIPPET_CHARS)
                               for k, v in details["snippets"].items()}
    points = details.get("points")
    if points and len(points.get("d_mu") or []) > MAX_POINTS:
        raise ValueError(f"Expected at most {MAX_POINTS} points for the scatter. "
                         f"Received {len(points['d_mu'])}.")
    return details


def _mark_sets(kind, records, details) -> dict:
    """Arrays of the listed pairs, for the hover text of their rings."""
    first = records[0] if records else {}
    sources = {"top-pairs": details.get("top_pairs") if kind == "report" else first.get("by_socm"),
               "near-pairs": details.get("near_pairs") if kind == "report"
               else first.get("conflated")}
    sets = {}
    for name, rows in sources.items():
        rows = rows or []
        sets[name] = {"i": [r.get("i") for r in rows], "j": [r.get("j") for r in rows],
                      "fields": ["cosine", "d_mu", "d_sigma", "socm"]}
        for field in ("cosine", "d_mu", "d_sigma", "socm"):
            sets[name][field] = [r.get(field) for r in rows]
    return sets


def render_html(document: dict) -> str:
    """Return the self-contained HTML page of a command's run record.

    Parameters
    ----------
    document : dict
        ``kind`` (one of ``"report"``, ``"pairs"``, ``"layers"``,
        ``"compare"``, ``"ot"``, ``"evaluate"``, ``"neighbours"``), ``records`` (the
        command's result records) and optionally ``json`` (what its
        ``--json`` writes, when that is more than ``records``; embedded
        instead of them), ``details``, ``command``, ``created`` and
        ``version`` (see the module docstring).
        Missing keys leave their section out.

    Returns
    -------
    str
        One HTML document: inline CSS, script and SVG, the records embedded as
        JSON in ``<script type="application/json" id="skpool-record">``
        (``json`` when given).

    Examples
    --------
    >>> page = render_html({"kind": "report", "records": [{"model": "m", "layer": 6,
    ...     "dataset": "<b>x</b>", "n_texts": 3, "mean_socm": 0.2, "exact": True,
    ...     "n_trace_violations": 0}]})
    >>> "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page
    True
    """
    if not isinstance(document, dict):
        raise TypeError(f"Expected document to be a dict. Received {type(document).__name__}.")
    kind = document.get("kind")
    if kind not in KINDS:
        raise ValueError(f"Expected document['kind'] among {', '.join(KINDS)}. "
                         f"Received {kind!r}.")
    records = [dict(r) for r in (document.get("records") or [])]
    details = _bounded_details(document.get("details") or {})
    title = _title(kind, records)
    header = "".join(f"<dt>{esc(k)}</dt><dd dir=\"auto\">{esc(v)}</dd>"
                     for k, v in _header_rows(kind, records, document))
    command = document.get("command")
    command_html = (f'<p class="note">Reproduce this page:</p><code class="command" '
                    f'dir="ltr">{esc(command)}</code>' if command else "")
    body = _BODIES[kind](records, details)
    script_details = {**details, **_mark_sets(kind, records, details)}
    if details.get("ot"):
        script_details["ot"] = {**details["ot"], "fields": ["exact_w2", "gaussian_w2"]}
    if details.get("points"):
        script_details["points"] = {**details["points"], "fields": ["d_mu", "d_sigma", "socm"]}
    return "".join([
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        # nothing may load from elsewhere: the policy says so to the browser too
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)} \u2013 skpool</title><style>{CSS}</style></head><body>",
        f'<main class="skpool-report" data-kind="{kind}">',
        f'<h1 dir="auto">{esc(title)}</h1>',
        '<p class="sub">skpool: second-order collapse of mean pooling (SOCM, Hara et al., '
        "ACL 2026)</p>",
        f'<dl class="header" id="header">{header}</dl>{command_html}',
        body,
        '<footer>One self-contained file: it fetches nothing. The records are embedded as '
        'JSON (script element "skpool-record", what the command\'s --json writes; '
        '"skpool-details" holds what the page draws).</footer></main>',
        '<script type="application/json" id="skpool-record">'
        f'{_json_for_script(document.get("json", records))}</script>',
        f'<script type="application/json" id="skpool-details">'
        f"{_json_for_script(script_details)}</script>",
        f"<script>{JS}</script></body></html>\n",
    ])


def render_fragment(document: dict) -> str:
    """The page for a notebook cell (``_repr_html_``): the same page in a sandboxed iframe.

    An ``<iframe srcdoc>`` keeps the page's styles and script away from the
    notebook's own, and runs the same sorting and hovering.
    """
    page = render_html(document)
    return (f'<iframe srcdoc="{esc(page)}" style="width:100%;height:720px;border:1px solid '
            '#d9dce1" sandbox="allow-scripts" title="skpool report"></iframe>')
