"""Text and JSON output of the ``skpool`` commands: the reports, tables and records.

The parser imports this module (for :func:`parse_size`) before it reads the
command line, so it imports only the standard library at the top: anything of
skpool's measuring code is imported inside the function that needs it.
"""

from __future__ import annotations

import json
import numbers
import os
import textwrap


#: How to read SOCM, printed under every corpus score.
READING = ("higher = more collapse: the texts' mean-pooled vectors are close while their "
           "token clouds differ")
#: The paper's scale (Hara et al., ACL 2026): corpus mean SOCM of twelve encoders on
#: 1,000 Wikipedia texts, so that a reader can tell whether a value is large.
PAPER_SCALE = ("for scale, the paper reports corpus means of 0.018 to 0.396 for twelve "
               "encoders on 1,000 Wikipedia texts (0.100 for all-mpnet-base-v2)")


def _indented(text: str, indent: int = 17) -> list[str]:
    """``text`` wrapped to 88 columns under the report's value column."""
    return textwrap.wrap(text, width=88, initial_indent=" " * indent,
                         subsequent_indent=" " * indent, break_on_hyphens=False)

#: The columns of ``skpool compare``: (record field, header).
COMPARE_COLUMNS = [
    ("model", "model"), ("layer", "layer"), ("n_pairs", "pairs"),
    ("mean_socm", "mean SOCM"), ("stderr", "SE"), ("mean_d_mu", "d_mu"),
    ("mean_d_sigma", "d_Sigma"), ("n_trace_violations", "tr>2"),
    ("mean_spread", "spread"), ("mean_cosine", "cosine"), ("n_truncated", "truncated"),
]
#: The columns of ``skpool layers``.
LAYER_COLUMNS = [
    ("layer", "layer"), ("n_pairs", "pairs"), ("mean_socm", "mean SOCM"), ("stderr", "SE"),
    ("mean_d_mu", "d_mu"), ("mean_d_sigma", "d_Sigma"), ("n_trace_violations", "tr>2"),
    ("mean_spread", "spread"), ("mean_cosine", "cosine"),
]


def _fmt(value, digits: int = 4) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return f"{value:,}"
    if isinstance(value, numbers.Real):
        return f"{value:.{digits}f}"
    return "-" if value is None else str(value)


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


def _as_dict(record) -> dict:
    return record.to_dict() if hasattr(record, "to_dict") else dict(record)



def _corpus_line(r, n_available: int | None, ids: str = "") -> str:
    """The corpus a record was measured on: name, texts, the sample it is, what its ids are."""
    corpus = f"{r.dataset}: {r.n_texts:,} texts"
    if n_available is not None and n_available > r.n_texts:
        corpus += f" (random sample of {n_available:,}, seed {r.seed})"
    if ids:
        corpus += f"; {ids}"
    return corpus


def _token_limit(r) -> str:
    """The token limit one record's texts were truncated at."""
    return "model limit" if r.max_length is None else f"max_length {r.max_length}"


def _model_line(r) -> str:
    """The first line of ``skpool pairs`` and ``skpool neighbours``: model, layer, truncation."""
    return (f"model   {r.model} (layer {r.layer}, {_token_limit(r)}); "
            f"{r.n_truncated:,} texts truncated")

def format_report(record, *, n_available: int | None = None) -> str:
    """Return the human-readable collapse report of one :class:`~skpool.analysis.CollapseRecord`.

    Parameters
    ----------
    record : CollapseRecord
    n_available : int, optional
        Size of the corpus the texts were sampled from, if known.

    Returns
    -------
    str
        Several lines, without a trailing newline.
    """
    from ..math.socm import TRACE_ASSUMPTION

    r = record
    total = r.n_texts * (r.n_texts - 1) // 2
    if r.exact:
        pairs = f"{r.n_pairs:,} (all pairs, exact)"
        socm = f"{r.mean_socm:.4f} (exact: every pair, SE 0)"
    else:
        pairs = f"{r.n_pairs:,} sampled of {total:,} (seed {r.seed})"
        socm = f"{r.mean_socm:.4f} +/- {r.stderr:.4f} (standard error of the sample)"
    corpus = _corpus_line(r, n_available)
    limit = _token_limit(r)
    # every number depends on the texts and their truncation: said beside it
    # (a file by its name: its full path is on the corpus line)
    where = f"[{os.path.basename(r.dataset) or r.dataset}, {r.n_texts:,} texts, {limit}]"
    lines = [
        f"model            {r.model} (layer {r.layer}, {limit})",
        f"corpus           {corpus}",
        f"pairs            {pairs}",
        f"mean SOCM        {socm} {where}",
        *_indented(f"{READING}; {PAPER_SCALE}"),
        f"mean d_mu        {r.mean_d_mu:.4f} {where}",
        f"mean d_Sigma     {r.mean_d_sigma:.4f} {where}",
        f"trace assumption {r.n_trace_violations:,} of {r.n_texts:,} texts have tr(Sigma) > "
        f"{TRACE_ASSUMPTION:g}",
        "                 (the paper assumes tr(Sigma) <= 2, which keeps d_Sigma and SOCM in "
        "[0, 1];",
        "                 values are reported as computed, never clipped)",
        f"concentration    spread ratio tr(Sigma): mean {r.mean_spread:.3f}, median "
        f"{r.median_spread:.3f}, max {r.max_spread:.3f}",
        f"                 mean within-text cosine: {r.mean_cosine:.3f}",
        f"truncated        {r.n_truncated:,} of {r.n_texts:,} texts cut at "
        f"{'the model limit' if r.max_length is None else f'{r.max_length} tokens'}",
    ]
    return "\n".join(lines)


def format_table(records, columns) -> str:
    """Return records as an aligned text table.

    Parameters
    ----------
    records : sequence of CollapseRecord or dict
    columns : sequence of str or (str, str)
        Field names, or ``(field, header)`` pairs.

    Returns
    -------
    str

    Examples
    --------
    >>> print(format_table([{"model": "a", "mean_socm": 0.5}], ["model", "mean_socm"]))
    model  mean_socm
    a         0.5000
    """
    specs = [(c, c) if isinstance(c, str) else tuple(c) for c in columns]
    rows = []
    for record in records:
        values = _as_dict(record)
        rows.append([_fmt(values.get(key)) for key, _ in specs])
    headers = [header for _, header in specs]
    widths = [max(len(h), *(len(row[k]) for row in rows)) if rows else len(h)
              for k, h in enumerate(headers)]
    numeric = [all(_is_number(row[k]) for row in rows) for k in range(len(specs))]

    def line(cells):
        out = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric)]
        return "  ".join(out).rstrip()

    return "\n".join([line(headers), *(line(row) for row in rows)])


def _limit(record) -> str:
    return ("each model's own max_length" if record.max_length is None
            else f"max_length {record.max_length}")


def _reading() -> str:
    """How to read the SOCM column, and the paper's scale, under a table."""
    return "\n".join(_indented(f"mean SOCM: {READING}; {PAPER_SCALE}.", indent=0))


def format_comparison(records, corpus: str) -> str:
    """Return ``skpool compare``'s table: one row per model, with its legend."""
    columns = COMPARE_COLUMNS
    if len({r.max_length for r in records}) == 1:
        limit = _limit(records[0])
    else:  # each model's own limit, in its row: a list beside the models reads ambiguously
        limit = "each model's max_length in its row"
        columns = [*COMPARE_COLUMNS[:2], ("max_length", "max_length"), *COMPARE_COLUMNS[2:]]
    legend = (f"{corpus}: {records[0].n_texts:,} texts, {limit}; tr>2 = texts breaking the "
              "paper's trace assumption (values not clipped); spread = mean tr(Sigma); cosine "
              "= mean within-text cosine")
    return "\n".join([*_indented(legend, indent=0), format_table(records, columns),
                      _reading()])


def format_layers(records, corpus: str) -> str:
    """Return ``skpool layers``' table: one row per hidden layer, with its legend."""
    first = records[0]
    legend = (f"{first.model} on {corpus}: {first.n_texts:,} texts, {_limit(first)}, "
              f"{first.n_truncated:,} truncated; spread = mean tr(Sigma); cosine = mean "
              "within-text cosine; tr>2 = texts breaking the paper's trace assumption")
    return "\n".join([*_indented(legend, indent=0), format_table(records, LAYER_COLUMNS),
                      _reading()])


_SIZE_UNITS = {"": 1, "B": 1, "K": 2**10, "KB": 2**10, "KIB": 2**10, "M": 2**20, "MB": 2**20,
               "MIB": 2**20, "G": 2**30, "GB": 2**30, "GIB": 2**30, "T": 2**40, "TB": 2**40,
               "TIB": 2**40}


def parse_size(text: str) -> int:
    """A size in bytes from ``500M``, ``2G``, ``1.5GB`` or ``0`` (units are powers of 1024).

    Examples
    --------
    >>> parse_size("500M"), parse_size("1.5G"), parse_size("0")
    (524288000, 1610612736, 0)
    """
    number = str(text).strip().upper()
    unit = ""
    while number and number[-1].isalpha():
        unit = number[-1] + unit
        number = number[:-1]
    try:
        value = float(number.strip())
    except ValueError:
        value = None
    if value is None or unit not in _SIZE_UNITS or not 0 <= value < float("inf"):
        raise ValueError(
            f"expected a size such as 500M, 2G or 1.5GB (units of 1024 bytes), got {text!r}")
    return int(value * _SIZE_UNITS[unit])


def size_text(n_bytes: int) -> str:
    """A byte count for people: ``512 B``, ``3.4 MiB``, ``1.2 GiB``."""
    value = float(n_bytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"  # pragma: no cover - the loop returns


def _layer_span(layers) -> str:
    if not layers:
        return "-"
    if layers == list(range(layers[0], layers[-1] + 1)) and len(layers) > 2:
        return f"{layers[0]}-{layers[-1]}"
    return ",".join(str(layer) for layer in layers)


def format_cache(summary: dict) -> str:
    """Return ``skpool cache info``'s text: the folder, its size, one row per model."""
    import datetime

    head = [f"cache folder     {summary['folder']}"]
    if summary.get("max_bytes") is not None:
        head.append(f"size limit       {size_text(summary['max_bytes'])} (SKPOOL_CACHE_MAX_SIZE; "
                    "least recently used entries go first)")
    journals = summary.get("journals")
    if journals is not None:
        head.append("evaluate runs    " + (
            f"{journals['n_files']:,} unfinished, their journals {size_text(journals['n_bytes'])}"
            f" in {journals['folder']} (rerun the same command to resume; 'skpool cache "
            "clear' removes them)" if journals["n_files"] else "none unfinished"))
    if not summary["models"]:
        head.append("entries          none" + ("" if summary["exists"] else
                                               " (the folder has no skpool cache yet)"))
        return "\n".join(head)
    head.append(f"entries          {summary['n_entries']:,} (one per text and layer), "
                f"{size_text(summary['n_bytes'])}")
    rows = []
    for m in summary["models"]:
        used = ("-" if m["last_used"] is None else datetime.datetime.fromtimestamp(
            m["last_used"]).strftime("%Y-%m-%d %H:%M"))
        rows.append({"model": m["model"], "max_length": m["max_length"],
                     "n_texts": m["n_texts"], "layers": _layer_span(m["layers"]),
                     "n_entries": m["n_entries"], "size": size_text(m["n_bytes"]),
                     "last_used": used})
    columns = [("model", "model"), ("max_length", "max_length"), ("n_texts", "texts"),
               ("layers", "layers"), ("n_entries", "entries"), ("size", "size"),
               ("last_used", "last used")]
    return "\n".join(head) + "\n" + format_table(rows, columns)


def format_ot(record) -> str:
    """Return the human-readable summary of one :class:`~skpool.analysis.OTRecord`."""
    r = record
    clouds = ("mean-normalized clouds X/||m||" if r.normalize
              else "raw token clouds")
    spearman = "undefined" if r.spearman is None else f"{r.spearman:.4f}"
    total = r.n_texts * (r.n_texts - 1) // 2
    pairs = (f"{r.n_pairs:,} (all pairs)" if r.n_pairs >= total
             else f"{r.n_pairs:,} sampled of {total:,} (seed {r.seed})")
    lines = [
        f"model            {r.model} (layer {r.layer}, max_length {r.max_length})",
        f"corpus           {r.dataset}: {r.n_texts:,} texts, {r.n_truncated:,} truncated",
        f"pairs            {pairs}; {clouds}, uniform token masses",
        f"mean W2          exact {r.mean_exact_w2:.4f}, Gaussian {r.mean_gaussian_w2:.4f} "
        "(W2, not squared)",
        f"Gaussian/exact   median {r.median_ratio:.4f} (min {r.min_ratio:.4f}, max "
        f"{r.max_ratio:.4f}); Spearman {spearman}",
        f"Gelbrich bound   {r.n_gelbrich_violations:,} pairs with Gaussian W2 > exact W2 "
        "(must be 0)",
    ]
    return "\n".join(lines)


#: The numeric columns of ``skpool pairs``: (table column, header).
PAIR_COLUMNS = [("cosine", "cosine"), ("d_mu", "d_mu"), ("d_sigma", "d_Sigma"),
                ("socm", "SOCM"), ("gaussian_w2", "W2 Gauss"), ("exact_w2", "W2 exact"),
                ("spread_i", "tr_i"), ("spread_j", "tr_j")]


#: Characters of each text shown under a pair in the terminal (JSON and DataFrames
#: carry the whole text).
SNIPPET_LENGTH = 60


def snippet(text: str, length: int = SNIPPET_LENGTH) -> str:
    """The text's first ``length`` characters (whitespace collapsed), cut at a word.

    Examples
    --------
    >>> snippet("A long review that goes on and on about the film", 24)
    'A long review that...'
    """
    text = " ".join(str(text).split())
    if len(text) <= length:
        return text
    head = text[:length - 3]
    if text[length - 3] != " " and " " in head[length // 2:]:
        head = head[:head.rindex(" ")]
    return head.rstrip() + "..."


def _pair_rows(table) -> list[str]:
    """One line of numbers per pair, then its two texts (snippets), each after its id."""
    columns = [(key, header) for key, header in PAIR_COLUMNS if key in table.columns]
    # the user's ids when the table has them (then i, j, positions from 0, are left to
    # the JSON), else the positions
    a, b = ("id_i", "id_j") if "id_i" in table.columns else ("i", "j")
    shown = [] if a == "id_i" else ["i", "j"]
    cells = [["#", *shown, *(header for _, header in columns)]]
    for rank, row in table.iterrows():
        cells.append([str(rank), *(str(row[k]) for k in shown),
                      *(f"{row[key]:.{2 if key.startswith('spread') else 4}f}"
                        for key, _ in columns)])
    widths = [max(len(c[k]) for c in cells) for k in range(len(cells[0]))]
    # numbers (positions, row or line numbers) right-aligned; names as they are
    numeric = all(isinstance(v, numbers.Integral) for v in (*table[a], *table[b]))
    label = max(len(str(v)) for v in (*table[a], *table[b])) if numeric else 0
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(c.rjust(w) for c, w in zip(row, widths)))
        if n and "text_i" in table.columns:
            pair = table.iloc[n - 1]
            pad = " " * (widths[0] + 2)
            lines.append(f"{pad}{str(pair[a]).rjust(label)}: {snippet(pair['text_i'])}")
            lines.append(f"{pad}{str(pair[b]).rjust(label)}: {snippet(pair['text_j'])}")
    return lines


def format_pairs(report, *, n_available: int | None = None, ids: str = "") -> str:
    """Return ``skpool pairs``' text: what was searched, then the two tables of pairs.

    Parameters
    ----------
    report : PairsReport
    n_available : int, optional
        Size of the corpus the texts were sampled from, if known.
    ids : str, optional
        What the ids in the tables are (``Corpus.describe_ids()``).

    Returns
    -------
    str
    """
    r = report.record
    corpus = _corpus_line(r, n_available, ids)
    searched = (f"all {r.n_pairs_total:,} pairs (exact)" if r.exact
                else f"{r.n_pairs_searched:,} pairs drawn at random of {r.n_pairs_total:,} "
                     f"(seed {r.seed}): the top of this sample, not of every pair")
    near = (f"the {r.n_near_pairs:,} pairs with the highest cosine of the mean-pooled vectors "
            f"(the top {r.near_fraction:.0%} of all {r.n_pairs_total:,} pairs, cosine >= "
            f"{r.min_near_cosine:.4f})")
    if not r.near_exact:
        near = (f"the {r.n_near_pairs:,} pairs with the highest cosine of the mean-pooled "
                f"vectors (cosine >= {r.min_near_cosine:.4f}; the top {r.near_fraction:.0%} "
                f"of all {r.n_pairs_total:,} pairs is more than can be compared)")
    lines = [
        _model_line(r),
        f"corpus  {corpus}",
        "",
        _wrap(f"Highest SOCM: the {len(report.by_socm)} pairs with the largest SOCM among "
              f"{searched}"),
        *_pair_rows(report.by_socm),
        "",
        _wrap(f"Conflated by mean pooling: of {near}, the {len(report.conflated)} whose "
              "token clouds differ most (largest d_Sigma)"),
        *_pair_rows(report.conflated),
        "",
        _wrap("cosine = of the mean-pooled vectors (what a retrieval system compares); "
              "d_mu = (1 - cosine)/2; d_Sigma = B^2(Sigma_i, Sigma_j)/4 of the normalized "
              "token clouds; SOCM = (1 - d_mu) d_Sigma, higher = more collapse. d_Sigma and "
              "SOCM exceed 1 only for texts breaking the paper's trace assumption "
              "tr(Sigma) <= 2 (values not clipped); tr_i, tr_j = each text's tr(Sigma), "
              "its spread ratio."
              + (" W2 Gauss, W2 exact = W2 (not squared) of the raw token clouds with "
                 "uniform token masses; Gauss <= exact (Gelbrich bound)." if r.w2 else "")),
    ]
    return "\n".join(lines)


def _wrap(text: str, width: int = 88) -> str:
    return textwrap.fill(text, width=width, break_on_hyphens=False)


def pairs_to_records(report, corpus=None) -> list[dict]:
    """``skpool pairs --json``: one record, the search fields and both lists of pairs.

    With the :class:`~skpool.datasets.Corpus`, the record says what the ids
    ``id_i``, ``id_j`` of the rows are (``id_kind``, ``id_column``).
    """
    records = report.to_records()
    if corpus is not None:
        records[0]["id_kind"], records[0]["id_column"] = corpus.id_kind, corpus.id_column
    return records


def format_neighbours(report, *, n_available: int | None = None, ids: str = "") -> str:
    """Return ``skpool neighbours``' text: the search, the most conflated neighbour pairs,
    then the texts with the highest SOCM to their neighbours.

    Parameters
    ----------
    report : NeighboursReport
    n_available, ids
        As in :func:`format_pairs`.

    Returns
    -------
    str
    """
    r = report.record
    corpus = _corpus_line(r, n_available, ids)
    index = ("exact (flat inner product)" if r.index == "exact" else
             f"{r.index}, approximate: recall@{r.n_neighbors} {r.recall:.3f} measured on "
             f"{r.n_recall_queries:,} texts")
    lines = [
        _model_line(r),
        f"corpus  {corpus}",
        _wrap(f"search  the {r.n_neighbors} nearest neighbours of every text by cosine of "
              f"the mean-pooled vectors, index {index}; SOCM of the {r.n_pairs:,} distinct "
              "neighbour pairs"
              + (f" ({r.n_duplicate_pairs:,} of identical texts: SOCM 0)"
                 if r.n_duplicate_pairs else "")),
        "",
        _wrap(f"Most conflated neighbour pairs: the {len(report.top_pairs)} with the largest "
              "SOCM"),
        *_pair_rows(report.top_pairs),
        "",
        _wrap(f"Texts most at risk: the {min(r.top, r.n_texts)} with the highest mean SOCM "
              "to their neighbours"),
    ]
    table = report.texts_table
    shown = table.sort_values(["mean_socm", "i"], ascending=[False, True],
                              kind="stable").head(r.top)
    label = "id" if "id" in table.columns else "i"
    cells = [["#", label, "mean SOCM", "max SOCM", "tr"]]
    for rank, (_, row) in enumerate(shown.iterrows(), start=1):
        cells.append([str(rank), str(row[label]), f"{row['mean_socm']:.4f}",
                      f"{row['max_socm']:.4f}", f"{row['spread']:.2f}"])
    widths = [max(len(c[k]) for c in cells) for k in range(len(cells[0]))]
    for n, row in enumerate(cells):
        lines.append("  ".join(c.rjust(w) for c, w in zip(row, widths)))
        if n:
            pad = " " * (widths[0] + 2)
            entry = shown.iloc[n - 1]
            if "text" in table.columns:
                lines.append(f"{pad}{snippet(entry['text'])}")
            lines.append(f"{pad}neighbours: " + ", ".join(map(str, entry["neighbours"])))
    lines += ["", _wrap(
        "cosine = of the mean-pooled vectors; d_mu = (1 - cosine)/2; d_Sigma = "
        "B^2(Sigma_i, Sigma_j)/4 of the normalized token clouds; SOCM = (1 - d_mu) d_Sigma, "
        "higher = more collapse; tr = the text's tr(Sigma). --json writes every text's "
        "neighbours and SOCM.")]
    return "\n".join(lines)


def neighbours_to_records(report, corpus=None) -> list[dict]:
    """``skpool neighbours --json``: one record, the search fields and both tables.

    With the :class:`~skpool.datasets.Corpus`, the record says what the ids are
    (``id_kind``, ``id_column``).
    """
    records = report.to_records()
    if corpus is not None:
        records[0]["id_kind"], records[0]["id_column"] = corpus.id_kind, corpus.id_column
    return records


def records_to_json(records) -> str:
    """Return records as a JSON list, or a JSON-ready dict as an object (what ``--json`` writes)."""
    if isinstance(records, dict):
        return json.dumps(records, indent=2, allow_nan=False)
    return json.dumps([_as_dict(r) for r in records], indent=2, allow_nan=False)


#: ``skpool evaluate``: its records, its correlations, its per-text error table.
EVALUATE_COLUMNS = [
    ("model", "model"), ("layer", "layer"), ("task", "task"), ("pooling", "pooling"),
    ("score", "score"), ("score_std", "+/-"), ("mean_socm", "mean SOCM"), ("stderr", "SE"),
    ("matched_socm", "matched"), ("mean_spread", "spread"), ("mean_cosine", "cosine"),
    ("n_trace_violations", "tr>2"), ("n_truncated", "truncated"),
]
CORRELATION_COLUMNS = [
    ("task", "task"), ("pooling", "pooling"), ("group", "points"), ("model", "model"),
    ("measure", "collapse"), ("n", "n"), ("rho", "rho"), ("p", "p"), ("ci_low", "CI low"),
    ("ci_high", "CI high"), ("partial_rho", "partial rho"), ("partial_p", "partial p"),
    ("can_rank", "ranks"), ("notes", "notes"),
]
COST_COLUMNS = [
    ("model", "model"), ("layer", "layer"), ("task", "task"), ("condition", "condition"),
    ("pooling", "pooling"), ("score", "score"), ("mean_score", "mean pooling"),
    ("difference", "difference"), ("ci_low", "CI low"), ("ci_high", "CI high"),
    ("method", "interval"),
]
INTERVENTION_COLUMNS = [
    ("model", "model"), ("layer", "layer"), ("task", "task"), ("condition", "condition"),
    ("mean_socm", "mean SOCM"), ("mean_d_mu", "d_mu"), ("mean_d_sigma", "d_Sigma"),
    ("mean_spread", "spread"), ("mean_pooling_score", "mean pooling"),
    ("mean_score_unchanged", "unchanged"), ("mean_vector_change", "vector change"),
    ("pooling", "distributional"), ("score", "score"),
]
QUINTILE_COLUMNS = [
    ("model", "model"), ("task", "task"), ("layer", "layer"), ("pooling", "pooling"),
    ("by", "grouped by"), ("bin", "quintile"), ("low", "from"), ("high", "to"),
    ("n_texts", "texts"), ("error_rate", "error rate"),
]


def _evaluation_notes(result) -> list[str]:
    """Why a score is '-', and which poolings a task cannot use."""
    lines = [f"score '-' ({r.model}, layer {r.layer}, {r.task}, {r.pooling}): {r.note}"
             for r in result.records if r.note]
    for pooling, tasks in result.settings.get("not_run", {}).items():
        lines.append(f"{pooling} does not apply to {', '.join(tasks)} (not run there)")
    return lines


def _correlation_row(record) -> dict:
    """The record's dict with its interval as two columns."""
    return {**record.to_dict(), "ci_low": record.ci_low, "ci_high": record.ci_high}


def format_evaluation(result) -> str:
    """Return the tables of an :class:`~skpool.evaluation.Evaluation`.

    The correlation table gives its notes by number, each written once below
    it (as the HTML page does): the same note on many groups is read once.
    """
    from .._html import note_numbers

    settings = result.settings
    refs, notes = note_numbers(c.note for c in result.correlations)
    lines = [
        f"score: {settings['n_folds']}-fold accuracy (+/- over folds) or Spearman with human "
        "similarity (+/- bootstrap over pairs); mean SOCM over "
        f"{settings['n_pairs'] or 'all'} pairs per task and layer (SE); matched = "
        "concentration-matched SOCM (every text at tr(Sigma) = 1); spread = mean tr(Sigma); "
        "cosine = mean within-text cosine; tr>2 = texts breaking the paper's assumption",
        format_table(result.records, EVALUATE_COLUMNS),
        *_evaluation_notes(result),
        "",
        "Spearman correlation of collapse and score over groups of (model, layer) points, "
        f"with a {settings['n_bootstrap']}-resample bootstrap 95% interval; partial = "
        "controlling for mean spread and mean within-text cosine. Points: all; trained "
        "(baselines left out: " + (", ".join(settings.get("baselines") or []) or "none marked")
        + "); trained-no-embedding (without layer 0); within-model (one model's layers); "
        "last-layer (each trained model at its last layer, the paper's comparison). ranks = "
        "whether the scores differ beyond their fold/bootstrap error; 'no': the task cannot "
        "rank these points and the correlation is not a finding",
        format_table([{**_correlation_row(c), "notes": ref}
                      for c, ref in zip(result.correlations, refs)], CORRELATION_COLUMNS),
        *(f"{k:>4}. {note}" for k, note in enumerate(notes, 1)),
    ]
    if result.pooling_costs:
        lines += ["", "What mean pooling costs here (each model's last layer): a "
                  "distributional pooling's score minus mean pooling's on the same folds "
                  "(corrected paired t interval) or pairs (paired bootstrap); condition = the "
                  "intervention applied first",
                  format_table(result.pooling_costs, COST_COLUMNS)]
    if result.interventions:
        lines += ["", "Interventions (each model's last layer): every text's spread changed, "
                  "its mean token kept. Mean pooling's vectors are the same by construction; "
                  "'unchanged' checks its score against the texts as encoded, 'vector change' "
                  "is the largest change of a mean-pooled coordinate (relative)",
                  format_table([{**r.to_dict(), "mean_vector_change":
                                 f"{r.mean_vector_change:.1e}"} for r in result.interventions],
                               INTERVENTION_COLUMNS)]
    if result.diagnostics:
        lines += ["", "Error rate by quintile of the spread tr(Sigma) and of the mean SOCM to "
                  "the 5 nearest texts by mean pooling (out of fold, each model's last layer)",
                  format_table([row for d in result.diagnostics for row in d.to_dicts()],
                               QUINTILE_COLUMNS)]
    return "\n".join(lines)
