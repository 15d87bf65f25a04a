"""Inline SVG charts for the HTML report: axes, ticks, points, lines, bars.

Plain strings, no plotting library, so that a page renders with the standard
library alone and every mark is a DOM element a test (or a hover) can reach.
Every label passes through :func:`esc`; numbers are formatted here.
"""

from __future__ import annotations

import html
import math

#: viridis at five stops (matplotlib's values), interpolated linearly in between
_VIRIDIS = ((68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37))
#: one colour per series (matplotlib's tab10, which the PNG figures use too)
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")


def esc(value) -> str:
    """``value`` as text safe inside an element or a quoted attribute."""
    return html.escape(str(value), quote=True)


def viridis(fraction: float) -> str:
    """The viridis colour at ``fraction`` in [0, 1] (clamped), as ``#rrggbb``."""
    fraction = min(1.0, max(0.0, fraction)) if math.isfinite(fraction) else 0.0
    position = fraction * (len(_VIRIDIS) - 1)
    k = min(int(position), len(_VIRIDIS) - 2)
    t = position - k
    rgb = [round(a + (b - a) * t) for a, b in zip(_VIRIDIS[k], _VIRIDIS[k + 1])]
    return "#" + "".join(f"{c:02x}" for c in rgb)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values covering [low, high] (the ends included)."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        high = low + 1.0
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    ticks, k = [], 0
    while True:
        value = start + k * step
        ticks.append(round(value, 12))
        if value >= high - 1e-12 * step:
            return ticks
        k += 1


def number(value, digits: int = 4) -> str:
    """A number as the tables print it: integers with separators, floats to ``digits``."""
    if value is None:
        return "\u2013"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value != 0 and abs(value) < 10 ** -digits:
            return f"{value:.2e}"
        return f"{value:.{digits}f}"
    return str(value)


def _tick_text(value: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step))) if step > 0 else 0
    if abs(step * 10 ** decimals - round(step * 10 ** decimals)) > 1e-9:
        decimals += 1
    return f"{value:.{decimals}f}"


class Frame:
    """A plotting area inside an SVG: data coordinates to pixels, axes with round ticks."""

    def __init__(self, x_range, y_range, *, width=560, height=380, left=62, right=18,
                 top=16, bottom=48, x_label="", y_label="", x_ticks=None, y_ticks=None):
        self.width, self.height = width, height
        self.left, self.right, self.top, self.bottom = left, right, top, bottom
        self.x_ticks = x_ticks if x_ticks is not None else nice_ticks(*x_range)
        self.y_ticks = y_ticks if y_ticks is not None else nice_ticks(*y_range)
        self.x0, self.x1 = (min([*self.x_ticks[:1], x_range[0]]),
                            max([*self.x_ticks[-1:], x_range[1]]))
        self.y0, self.y1 = (min([*self.y_ticks[:1], y_range[0]]),
                            max([*self.y_ticks[-1:], y_range[1]]))
        if self.x1 <= self.x0:
            self.x1 = self.x0 + 1.0
        if self.y1 <= self.y0:
            self.y1 = self.y0 + 1.0
        self.x_label, self.y_label = x_label, y_label

    def x(self, value: float) -> float:
        span = self.width - self.left - self.right
        return round(self.left + (value - self.x0) / (self.x1 - self.x0) * span, 1)

    def y(self, value: float) -> float:
        span = self.height - self.top - self.bottom
        return round(self.height - self.bottom - (value - self.y0) / (self.y1 - self.y0) * span, 1)

    def axes(self, *, x_tick_labels=None) -> str:
        """The frame, grid lines, tick labels and axis labels."""
        parts = [f'<rect x="{self.left}" y="{self.top}" width="'
                 f'{self.width - self.left - self.right}" height="'
                 f'{self.height - self.top - self.bottom}" class="frame"/>']
        x_step = (self.x_ticks[1] - self.x_ticks[0]) if len(self.x_ticks) > 1 else 1.0
        y_step = (self.y_ticks[1] - self.y_ticks[0]) if len(self.y_ticks) > 1 else 1.0
        for k, tick in enumerate(self.x_ticks):
            px = self.x(tick)
            label = (x_tick_labels[k] if x_tick_labels is not None
                     else _tick_text(tick, x_step))
            parts.append(f'<line x1="{px}" x2="{px}" y1="{self.top}" '
                         f'y2="{self.height - self.bottom}" class="grid"/>'
                         f'<text x="{px}" y="{self.height - self.bottom + 15}" '
                         f'class="tick" text-anchor="middle">{esc(label)}</text>')
        for tick in self.y_ticks:
            py = self.y(tick)
            parts.append(f'<line x1="{self.left}" x2="{self.width - self.right}" y1="{py}" '
                         f'y2="{py}" class="grid"/>'
                         f'<text x="{self.left - 6}" y="{py + 4}" class="tick" '
                         f'text-anchor="end">{esc(_tick_text(tick, y_step))}</text>')
        parts.append(f'<text x="{(self.left + self.width - self.right) / 2}" '
                     f'y="{self.height - 10}" class="label" text-anchor="middle">'
                     f'{esc(self.x_label)}</text>')
        middle = (self.top + self.height - self.bottom) / 2
        parts.append(f'<text transform="translate(14 {middle}) rotate(-90)" class="label" '
                     f'text-anchor="middle">{esc(self.y_label)}</text>')
        return "".join(parts)

    def hline(self, value: float, label: str = "") -> str:
        """A dashed reference line at ``value`` with its label at the right end."""
        if not self.y0 <= value <= self.y1:
            return ""
        py = self.y(value)
        text = (f'<text x="{self.width - self.right - 4}" y="{py - 4}" class="note" '
                f'text-anchor="end">{esc(label)}</text>') if label else ""
        return (f'<line x1="{self.left}" x2="{self.width - self.right}" y1="{py}" y2="{py}" '
                f'class="reference"/>{text}')

    def svg(self, body: str, *, label: str, element_id: str = "", extra: str = "") -> str:
        """The whole ``<svg>`` element around ``body`` (an accessible label required)."""
        ident = f' id="{esc(element_id)}"' if element_id else ""
        return (f'<svg{ident} class="chart" viewBox="0 0 {self.width} {self.height}" '
                f'width="{self.width}" height="{self.height}" role="img" '
                f'aria-label="{esc(label)}"{extra}>{body}</svg>')


def span(values, *, include=(), pad: float = 0.04):
    """(low, high) of the finite ``values`` and ``include``, padded by ``pad`` of the range."""
    finite = [float(v) for v in (*values, *include) if v is not None and math.isfinite(v)]
    if not finite:
        return 0.0, 1.0
    low, high = min(finite), max(finite)
    margin = (high - low) * pad or abs(high) * pad or 0.5
    return low - margin, high + margin


def legend(entries, *, x: float, y: float) -> str:
    """A legend, one row per ``(colour, label, shape)``.

    ``shape`` is ``"dot"``, ``"ring"``, ``"line"`` or ``"dash"`` (a reference line).
    """
    rows = []
    for k, (colour, label, shape) in enumerate(entries):
        cy = y + 15 * k
        if shape == "line":
            mark = (f'<line x1="{x}" x2="{x + 14}" y1="{cy}" y2="{cy}" stroke="{colour}" '
                    f'stroke-width="2"/>')
        elif shape == "dash":
            mark = (f'<line x1="{x}" x2="{x + 14}" y1="{cy}" y2="{cy}" class="reference"/>')
        elif shape == "ring":
            mark = (f'<circle cx="{x + 7}" cy="{cy}" r="4.5" fill="none" stroke="{colour}" '
                    f'stroke-width="1.6"/>')
        else:
            mark = f'<circle cx="{x + 7}" cy="{cy}" r="4" fill="{colour}"/>'
        rows.append(f'{mark}<text x="{x + 19}" y="{cy + 4}" class="tick">{esc(label)}</text>')
    return '<g class="legend">' + "".join(rows) + "</g>"
