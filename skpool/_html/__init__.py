"""Self-contained HTML reports of skpool's results (the standard library only).

:func:`render_html` turns a command's run record (what its ``--json``
writes, plus the per-pair and per-text details a page draws) into one HTML
file that opens offline: inline CSS, a small script for sorting, filtering and
hovering, inline SVG charts and the records embedded as JSON. The command
line's ``--html FILE`` and the result objects' ``to_html(path)`` and
``_repr_html_`` (a notebook shows the report inline) all end here.

This package imports nothing of skpool, so that the result objects of the
measuring modules can offer ``to_html`` without importing the presentation
layer: each builds its document (:class:`HTMLReport`) and hands it here.
"""

from __future__ import annotations

from pathlib import Path

from ._page import (KINDS, MAX_POINTS, MAX_TABLE_ROWS, MAX_TEXT_CHARS, PAPER_MPNET,
                    PAPER_RANGE, SNIPPET_CHARS, WIDEST_TEXTS, note_numbers, render_fragment,
                    render_html, verdict_sentences)

__all__ = ["render_html", "render_fragment", "write_html", "HTMLReport", "verdict_sentences",
           "note_numbers",
           "KINDS", "MAX_POINTS", "MAX_TABLE_ROWS", "MAX_TEXT_CHARS", "SNIPPET_CHARS",
           "WIDEST_TEXTS",
           "PAPER_RANGE", "PAPER_MPNET"]


def write_html(path, document: dict) -> Path:
    """Render ``document`` (see :func:`render_html`) and write it to ``path`` (UTF-8).

    Returns
    -------
    pathlib.Path
        The file written.
    """
    target = Path(path).expanduser()
    if target.is_dir():
        raise IsADirectoryError(f"Expected an HTML file path. Received the folder {str(path)!r}.")
    target.write_text(render_html(document), encoding="utf-8")
    return target


class HTMLReport:
    """``to_html(path)`` and ``_repr_html_`` for a result that builds an HTML document.

    A subclass defines ``_html_document(**options) -> dict`` (the document of
    :func:`render_html`); the options (e.g. ``texts=``) pass through
    ``to_html``.
    """

    def _html_document(self, **options) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_html(self, path, **options) -> Path:
        """Write the self-contained HTML report to ``path`` and return its path.

        The file opens offline in any browser: the figures, tables (sortable,
        filterable) and the record as JSON are all inside it.
        """
        return write_html(path, self._html_document(**options))

    def _repr_html_(self) -> str:
        return render_fragment(self._html_document())

    def __repr__(self) -> str:
        # the record whole, every table and array by its shape: a report of 10^5 texts
        # prints in a few lines (the subclasses are dataclasses declared with repr=False)
        return _summary(self)


def _summary(value) -> str:
    """``repr(value)``, except a table, array or long list, given by its type and shape, and
    a dataclass field by field (its scalars whole)."""
    fields = getattr(value, "__dataclass_fields__", None)
    if fields is not None:
        inner = ", ".join(f"{name}={_summary(getattr(value, name))}" for name in fields)
        return f"{type(value).__name__}({inner})"
    shape = getattr(value, "shape", None)
    if shape is not None and not isinstance(shape, property):
        dims = " x ".join(str(n) for n in shape) or "scalar"
        dtype = getattr(value, "dtype", None)
        kind = type(value).__name__
        if kind == "DataFrame":
            return f"<DataFrame {dims}: {', '.join(map(str, value.columns))}>"
        return f"<{kind} {dims}{'' if dtype is None else ' ' + str(dtype)}>"
    if isinstance(value, (list, tuple)) and len(value) > 6:
        return f"<{type(value).__name__} of {len(value)}>"
    return repr(value)
