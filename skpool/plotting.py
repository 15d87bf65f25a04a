"""Figures for skpool results (matplotlib, imported on first use).

Every function draws on a given ``ax`` or on a new figure, optionally saves it
(the format follows the file's extension: ``.png``, ``.svg``, ``.pdf``, ...)
and returns the :class:`matplotlib.figure.Figure`. On a machine without a
display the non-interactive Agg backend is chosen, so scripts and the command
line work headless.

The figures follow those of Hara et al. (ACL 2026), named by figure number
below; the paper is cited on the concepts page (``docs/concepts.md``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

__all__ = ["plot_w2_comparison", "plot_socm_landscape", "plot_pair_scatter",
           "plot_pairs_report", "plot_layer_profile", "plot_model_comparison",
           "plot_socm_vs_score"]


# -- shared helpers ------------------------------------------------------------------------

def _pyplot():
    """Import ``matplotlib.pyplot``, choosing Agg first when there is no display."""
    try:
        import matplotlib
    except ImportError:
        raise ImportError(
            "skpool.plotting needs matplotlib, which is not installed: "
            "pip install matplotlib (skpool is not on a package index: its [plot] extra "
            "installs only from a clone, pip install -e '.[plot]')."
        ) from None
    headless = (sys.platform.startswith("linux") and not os.environ.get("DISPLAY")
                and not os.environ.get("WAYLAND_DISPLAY"))
    if headless and "matplotlib.pyplot" not in sys.modules:
        # Only before pyplot exists: afterwards the user's backend choice stands.
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _axes(ax, *, figsize=(5.0, 5.0)):
    """``(figure, ax)``: the given axes' figure, or a new figure with one axes."""
    plt = _pyplot()
    if ax is None:
        figure, ax = plt.subplots(figsize=figsize, layout="constrained")
        return figure, ax
    if not hasattr(ax, "figure") or not hasattr(ax, "scatter"):
        raise TypeError(f"Expected ax to be a matplotlib Axes or None. Received "
                        f"{type(ax).__name__}.")
    return ax.figure, ax


def _save(figure, path):
    """Save ``figure`` to ``path`` in the format its extension names."""
    if path is None:
        return
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    supported = figure.canvas.get_supported_filetypes()
    if suffix not in supported:
        raise ValueError(
            f"Expected path to end in a figure format matplotlib can write "
            f"({', '.join('.' + s for s in sorted(supported))}). Received {str(path)!r}."
        )
    if not path.parent.is_dir():
        raise FileNotFoundError(f"Cannot save the figure to {str(path)!r}: the folder "
                                f"{str(path.parent)!r} does not exist.")
    figure.savefig(path, dpi=150, bbox_inches="tight")


def _columns(table_or_result, names, *, function):
    """Pull columns ``names`` (as float arrays) out of a result or a table."""
    table = getattr(table_or_result, "table", table_or_result)
    missing = []
    columns = {}
    for name in names:
        try:
            columns[name] = np.asarray(table[name], dtype=np.float64)
        except (KeyError, IndexError, TypeError, ValueError):
            missing.append(name)
    if missing:
        raise ValueError(
            f"{function} expects a result with a .table, or a table (DataFrame or mapping) "
            f"with the columns {list(names)}. Missing {missing} in "
            f"{type(table_or_result).__name__}."
        )
    return columns


# -- figures -------------------------------------------------------------------------------

def plot_w2_comparison(table_or_result, ax=None, path=None, *, title=None):
    r"""Scatter of the Gaussian :math:`W_2` against the exact :math:`W_2` of text pairs.

    One point per pair: exact :math:`W_2` on the x axis, Gaussian
    :math:`W_2` on the y axis, with the line :math:`y = x`. The Gelbrich
    bound puts every point on or below that line; the vertical distance to it
    is what the Gaussian view of the texts misses.

    Parameters
    ----------
    table_or_result : W2Comparison or pandas.DataFrame or mapping
        The result of :func:`skpool.ot.compare_w2`, or its ``table`` (columns
        ``exact_w2`` and ``gaussian_w2``).
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.
    path : str or os.PathLike, optional
        Save the figure there; the format follows the extension.
    title : str, optional
        The title (e.g. model, layer and corpus). The number of pairs, the
        clouds and, for a comparison result, its summary (median ratio,
        Spearman, Gelbrich-bound violations) are in a box in the upper left
        corner, above the diagonal where no point can be.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from skpool.ot import compare_w2
    >>> rng = np.random.default_rng(0)
    >>> result = compare_w2([rng.normal(size=(10, 3)) for _ in range(4)])
    >>> figure = plot_w2_comparison(result)
    >>> figure.axes[0].get_xlabel()
    'exact $W_2$ (POT)'
    >>> figure.axes[0].texts[0].get_text().splitlines()[-1]
    'Gelbrich bound (Gaussian $\\leq$ exact) violated by 0 pairs'
    """
    columns = _columns(table_or_result, ("exact_w2", "gaussian_w2"),
                       function="plot_w2_comparison")
    exact, gaussian = columns["exact_w2"], columns["gaussian_w2"]
    figure, ax = _axes(ax, figsize=(4.8, 4.8))
    ax.scatter(exact, gaussian, s=10, alpha=0.6, linewidths=0, color="tab:blue",
               label="text pairs")
    # One range for both axes, fitted to the data, so y = x is the diagonal.
    both = np.concatenate([exact, gaussian])
    low, high = (float(both.min()), float(both.max())) if both.size else (0.0, 1.0)
    pad = 0.05 * (high - low) if high > low else 0.5
    low, high = max(low - pad, 0.0), high + pad
    ax.plot([low, high], [low, high], color="0.3", lw=1, ls="--",
            label="$y = x$ (Gelbrich bound)")
    ax.set_xlim(low, high)
    ax.set_ylim(low, high)
    ax.set_aspect("equal")
    ax.set_xlabel("exact $W_2$ (POT)", fontsize=9)
    ax.set_ylabel("Gaussian $W_2$ (means + covariances)", fontsize=9)
    ax.tick_params(labelsize=8)
    clouds = ("mean-normalized token clouds" if getattr(table_or_result, "normalize", False)
              else "raw token clouds")
    lines = [f"{len(exact):,} pairs, {clouds}"]
    summary = []
    for field, fmt in (("median_ratio", "median ratio {:.3f}"), ("spearman", "Spearman {:.3f}")):
        value = getattr(table_or_result, field, None)
        if value is not None:
            summary.append(fmt.format(value))
    if summary:
        lines.append(", ".join(summary))
    violations = getattr(table_or_result, "n_gelbrich_violations", None)
    if violations is not None:
        lines.append(rf"Gelbrich bound (Gaussian $\leq$ exact) violated by {violations:,} pairs")
    # one title line (what was measured); what the comparison found in a box above the
    # diagonal, under the legend, where no point can be (Gaussian <= exact)
    ax.set_title(str(title) if title else r"Gaussian against exact $W_2$", fontsize=10)
    ax.text(0.03, 0.84, "\n".join(lines), transform=ax.transAxes, ha="left", va="top",
            fontsize=8, gid="skpool-summary",
            bbox={"boxstyle": "round,pad=0.3", "facecolor": "white", "edgecolor": "0.8"})
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    _save(figure, path)
    return figure


# -- collapse figures (the paper's Figures 3, 4/11 and 17; model comparisons) --------------

def _as_records(records, *, function):
    """A list of dicts from records (dataclasses, dicts), a LayerProfile or a DataFrame."""
    from dataclasses import asdict, is_dataclass

    if hasattr(records, "columns") and hasattr(records, "to_dict"):  # a DataFrame
        records = records.to_dict("records")
    elif hasattr(records, "to_dicts"):  # a LayerProfile
        records = records.to_dicts()
    elif hasattr(records, "records") and not callable(records.records):
        records = records.records
    if isinstance(records, (dict, str, bytes)) or not hasattr(records, "__iter__"):
        raise TypeError(
            f"{function} expects a sequence of records (dicts or dataclasses such as "
            f"CollapseRecord), a LayerProfile or a DataFrame. Received "
            f"{type(records).__name__}."
        )
    out = []
    for index, item in enumerate(records):
        if hasattr(item, "to_dict"):
            item = item.to_dict()
        elif is_dataclass(item) and not isinstance(item, type):
            item = asdict(item)
        if not isinstance(item, dict):
            raise TypeError(
                f"{function} expects each record to be a dict or a dataclass. Received "
                f"{type(item).__name__} at index {index}."
            )
        out.append(dict(item))
    if not out:
        raise ValueError(f"{function} expects at least one record. Received none.")
    return out


def _record_values(records, name, *, function):
    try:
        return np.array([float(r[name]) for r in records], dtype=np.float64)
    except KeyError:
        raise ValueError(
            f"{function} expects every record to have a {name!r} field. Received fields "
            f"{sorted(records[0])}."
        ) from None


def _axes_list(ax, count, *, function):
    """``(figure, axes)`` with ``count`` axes in a row: new, or the given ones."""
    plt = _pyplot()
    if ax is None:
        figure, axes = plt.subplots(1, count, figsize=(3.4 * count + 0.4, 3.4), squeeze=False,
                                    layout="constrained")
        return figure, list(axes[0])
    axes = list(np.atleast_1d(np.asarray(ax, dtype=object)).ravel())
    if len(axes) != count or not all(hasattr(a, "figure") for a in axes):
        raise ValueError(
            f"{function} expects ax to be {count} matplotlib Axes (one per metric). "
            f"Received {len(axes)} object(s)."
        )
    return axes[0].figure, axes


def plot_socm_landscape(ax=None, path=None, *, resolution: int = 201):
    r"""SOCM over the :math:`(d_\mu, d_\Sigma)` square (the paper's Figure 3).

    Draws :math:`\mathrm{SOCM} = (1 - d_\mu)\, d_\Sigma` on
    :math:`[0, 1]^2` as a heatmap with level curves, and names the four
    corners: SOCM is 1 only for the same mean with different covariances
    (the collapse) and 0 when the covariances agree or the means are opposite.

    Parameters
    ----------
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.
    path : str or os.PathLike, optional
        Save the figure there; the format follows the extension.
    resolution : int, default=201
        Grid points per axis (at least 2).

    Returns
    -------
    matplotlib.figure.Figure

    Notes
    -----
    The paper's Figure 3.

    Examples
    --------
    >>> figure = plot_socm_landscape(resolution=21)
    >>> [float(v) for v in figure.axes[0].get_xlim() + figure.axes[0].get_ylim()]
    [0.0, 1.0, 0.0, 1.0]
    """
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) \
            or resolution < 2:
        raise ValueError(f"Expected resolution to be an int >= 2. Received {resolution!r}.")
    figure, ax = _axes(ax, figsize=(5.6, 4.6))
    grid = np.linspace(0.0, 1.0, int(resolution))
    d_mu, d_sigma = np.meshgrid(grid, grid)
    socm = (1.0 - d_mu) * d_sigma
    image = ax.pcolormesh(d_mu, d_sigma, socm, cmap="viridis", vmin=0.0, vmax=1.0,
                          shading="auto", rasterized=True)
    levels = np.array([0.1, 0.25, 0.5, 0.75])
    lines = ax.contour(d_mu, d_sigma, socm, levels=levels, colors="white", linewidths=0.8)
    # each level curve (1 - x) y = c crosses y = sqrt(c) inside the square: label it there
    ax.clabel(lines, fmt="%.2f", fontsize=7,
              manual=list(zip(1.0 - np.sqrt(levels), np.sqrt(levels))))
    figure.colorbar(image, ax=ax, label="SOCM")
    corners = [
        (0.0, 0.0, "same mean,\nsame covariance", "left", "bottom"),
        (0.0, 1.0, "same mean, different\ncovariance: collapse", "left", "top"),
        (1.0, 0.0, "opposite means,\nsame covariance", "right", "bottom"),
        (1.0, 1.0, "opposite means,\ndifferent covariance", "right", "top"),
    ]
    for x, y, text, ha, va in corners:
        bright = x == 0.0 and y == 1.0  # the yellow corner needs dark text
        ax.annotate(text, (x, y), xytext=(5 if ha == "left" else -5, 5 if va == "bottom" else -5),
                    textcoords="offset points", ha=ha, va=va, fontsize=7,
                    color="black" if bright else "white",
                    bbox=dict(boxstyle="round,pad=0.2", facecolor="white", alpha=0.6,
                              edgecolor="none") if bright else None)
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel(r"$d_\mu = \Vert\mu_1-\mu_2\Vert^2/4$")
    ax.set_ylabel(r"$d_\Sigma = B^2(\Sigma_1,\Sigma_2)/4$")
    ax.set_title(r"SOCM $= (1 - d_\mu)\, d_\Sigma$")
    _save(figure, path)
    return figure


def plot_pair_scatter(d_mu, d_sigma, socm=None, ax=None, path=None, *, title=None,
                      bins: int = 40):
    r"""Scatter of text pairs in the :math:`(d_\mu, d_\Sigma)` plane (the paper's Figure 17).

    One point per pair of texts, coloured by its SOCM, with the histograms
    of :math:`d_\mu` (top) and :math:`d_\Sigma` (right) in the margins.
    Both axes fit the data (with a margin, never below 0). Values of
    :math:`d_\Sigma` above 1 (texts breaking the trace assumption
    :math:`\operatorname{tr}\Sigma \le 2`, as the last layer of
    all-MiniLM-L6-v2 does) are shown, never clipped, and a dashed line marks
    :math:`d_\Sigma = 1`.

    Parameters
    ----------
    d_mu, d_sigma : array-like of shape (n_pairs,)
        Per pair, :math:`d_\mu` and :math:`d_\Sigma` (e.g. the upper triangle
        of the pairwise component matrices).
    socm : array-like of shape (n_pairs,), optional
        Per pair SOCM; :math:`(1 - d_\mu)\, d_\Sigma` when None.
    ax : matplotlib Axes, optional
        Where to draw the scatter; the marginal histograms and the colour bar
        are carved out of it. A new figure when None.
    path : str or os.PathLike, optional
        Save the figure there; the format follows the extension.
    title : str, optional
    bins : int, default=40
        Bins of each marginal histogram.

    Returns
    -------
    matplotlib.figure.Figure
        Its axes are, in order: the scatter, the top histogram, the right
        histogram and the colour bar.

    Notes
    -----
    The paper's Figure 17.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> figure = plot_pair_scatter(rng.uniform(0, 0.5, 50), rng.uniform(0.5, 1.4, 50))
    >>> scatter = figure.axes[0]
    >>> len(scatter.collections[0].get_offsets()), bool(scatter.get_ylim()[1] > 1.4)
    (50, True)
    """
    from matplotlib.ticker import MaxNLocator
    from mpl_toolkits.axes_grid1 import make_axes_locatable

    d_mu = np.asarray(d_mu, dtype=np.float64).ravel()
    d_sigma = np.asarray(d_sigma, dtype=np.float64).ravel()
    if d_mu.size == 0 or d_mu.shape != d_sigma.shape:
        raise ValueError(
            "Expected d_mu and d_sigma to be non-empty arrays with one value per pair. "
            f"Received lengths {d_mu.size} and {d_sigma.size}."
        )
    socm = (1.0 - d_mu) * d_sigma if socm is None else np.asarray(socm, np.float64).ravel()
    if socm.shape != d_mu.shape:
        raise ValueError(
            f"Expected socm to have one value per pair ({d_mu.size}). Received {socm.size}."
        )
    for name, values in (("d_mu", d_mu), ("d_sigma", d_sigma), ("socm", socm)):
        if not np.isfinite(values).all():
            raise ValueError(f"Expected {name} to be finite. Received NaN or inf at pair "
                             f"{int(np.flatnonzero(~np.isfinite(values))[0])}.")
    if ax is None:
        figure = _pyplot().figure(figsize=(6.4, 5.6))
        # room on the right for the colour bar's labels (the histograms are carved inside)
        ax = figure.add_axes((0.1, 0.09, 0.79, 0.84))
    else:
        figure, ax = _axes(ax)
    divider = make_axes_locatable(ax)
    top = divider.append_axes("top", size="22%", pad=0.08, sharex=ax)
    right = divider.append_axes("right", size="22%", pad=0.12, sharey=ax)
    cax = divider.append_axes("right", size="4%", pad=0.12)

    order = np.argsort(socm, kind="stable")  # high SOCM drawn last, on top
    size = float(np.clip(3000.0 / d_mu.size, 1.0, 20.0))
    points = ax.scatter(d_mu[order], d_sigma[order], c=socm[order], s=size, cmap="viridis",
                        vmin=0.0, vmax=max(1.0, float(socm.max())), linewidths=0,
                        rasterized=d_mu.size > 2000)
    figure.colorbar(points, cax=cax, label="SOCM")
    cax.tick_params(labelsize=7)

    # the axes fit the data (real pairs sit in a narrow band of d_mu), never below 0
    x_low, x_high = _data_limits(d_mu)
    y_low, y_high = _data_limits(d_sigma)
    ax.set_xlim(x_low, x_high)
    ax.set_ylim(y_low, y_high)
    if d_sigma.max() > 1.0 and y_low < 1.0:
        ax.axhline(1.0, color="0.3", linestyle="--", linewidth=0.9,
                   label=r"$d_\Sigma = 1$ (the bound when tr $\Sigma \leq 2$)")
        ax.legend(loc="upper right", fontsize=7, framealpha=0.9)
    ax.set_xlabel(r"$d_\mu$")
    ax.set_ylabel(r"$d_\Sigma$")

    top.hist(d_mu, bins=np.linspace(x_low, x_high, bins + 1), color="0.45")
    right.hist(d_sigma, bins=np.linspace(y_low, y_high, bins + 1), color="0.45",
               orientation="horizontal")
    top.tick_params(labelbottom=False, labelsize=7)
    right.tick_params(labelleft=False, labelsize=7)
    right.xaxis.set_major_locator(MaxNLocator(2, integer=True))
    top.yaxis.set_major_locator(MaxNLocator(3, integer=True))
    top.set_ylabel("pairs", fontsize=8)
    right.set_xlabel("pairs", fontsize=8)
    if title:
        top.set_title(title, fontsize=10)
    _save(figure, path)
    return figure


def _data_limits(values, *, margin: float = 0.06):
    """(low, high): the values' range widened by ``margin`` of it on each side, low >= 0."""
    low, high = float(np.min(values)), float(np.max(values))
    pad = margin * (high - low) or 0.05 * max(abs(high), 1e-3)
    return max(0.0, low - pad), high + pad


#: How ``plot_pairs_report`` marks each view: (table attribute, label, marker, colour, prefix).
_PAIR_VIEWS = (
    ("by_socm", "highest SOCM", "o", "tab:red", "S"),
    ("conflated", r"near pairs with the largest $d_\Sigma$", "s", "tab:orange", "C"),
)


def _short_id(value, width: int = 16) -> str:
    """An id for the key of the callouts: at most ``width`` characters."""
    text = str(value)
    return text if len(text) <= width else text[:width - 3] + "..."


def _id_key(scatter, report) -> None:
    """When the tables carry the user's ids: which two texts each callout is, under the
    axes (the SOCM view on the left, the near pairs on the right), clear of every point."""
    for column, (view, _, _, colour, prefix) in enumerate(_PAIR_VIEWS):
        table = getattr(report, view)
        if "id_i" not in table.columns:
            continue
        pairs = zip(table["id_i"].tolist(), table["id_j"].tolist())
        for rank, (a, b) in enumerate(pairs, start=1):
            scatter.text(0.5 * column, -0.13 - 0.04 * (rank - 1),
                         f"{prefix}{rank} {_short_id(a)} / {_short_id(b)}",
                         transform=scatter.transAxes, ha="left", va="top", fontsize=6.5,
                         color=colour, family="monospace")


def plot_pairs_report(report, ax=None, path=None, *, title=None):
    r"""The pairs of :func:`skpool.pairs.pairs_report` marked on the $(d_\mu, d_\Sigma)$ plane.

    The scatter of every pair searched (:func:`plot_pair_scatter`), with the
    listed pairs marked: red circles for the highest SOCM, orange squares for
    the near pairs with the largest :math:`d_\Sigma`, each labelled with its
    rank (``S1``, ``C1``, ...) as in the tables: beside its point, labels never
    overlapping, pairs at the same place sharing one label (``"S2, C1"``). When
    the tables carry the user's ids (``ids=``), a key under the axes names the
    two texts of each rank.

    Parameters
    ----------
    report : PairsReport
    ax : matplotlib Axes, optional
        Where to draw the scatter; a new figure when None.
    path : str or os.PathLike, optional
        Save the figure there; the format follows the extension.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        As :func:`plot_pair_scatter`'s; the scatter axes holds one extra
        collection per view, in the order ``by_socm``, ``conflated``.

    Examples
    --------
    >>> import numpy as np
    >>> from skpool.pairs import pairs_report_of_tokens
    >>> rng = np.random.default_rng(0)
    >>> report = pairs_report_of_tokens([rng.normal(size=(6, 8)) + 3.0 for _ in range(6)],
    ...                                 top=2)
    >>> figure = plot_pairs_report(report)
    >>> [len(c.get_offsets()) for c in figure.axes[0].collections]
    [15, 2, 2]
    """
    searched = getattr(report, "searched", None)
    if searched is None or not all(hasattr(report, view) for view, *_ in _PAIR_VIEWS):
        raise TypeError(f"plot_pairs_report expects a PairsReport (skpool.pairs.pairs_report). "
                        f"Received {type(report).__name__}.")
    figure = plot_pair_scatter(searched.d_mu, searched.d_sigma, searched.socm, ax=ax,
                               title=title)
    scatter = figure.axes[0] if ax is None else ax
    # the listed pairs stay inside the axes (a near pair need not be among those searched)
    listed = [getattr(report, view) for view, *_ in _PAIR_VIEWS]
    for axis_name, column, values in (("x", "d_mu", searched.d_mu),
                                      ("y", "d_sigma", searched.d_sigma)):
        every = np.concatenate([np.asarray(values, np.float64),
                                *(np.asarray(t[column], np.float64) for t in listed)])
        getattr(scatter, f"set_{axis_name}lim")(*_data_limits(every))
    marks = []  # (name, x, y, colour), in rank order: S1..Sk, then C1..Ck
    for view, label, marker, colour, prefix in _PAIR_VIEWS:
        table = getattr(report, view)
        x = np.asarray(table["d_mu"], dtype=np.float64)
        y = np.asarray(table["d_sigma"], dtype=np.float64)
        scatter.scatter(x, y, s=42, marker=marker, facecolors="none", edgecolors=colour,
                        linewidths=1.3, label=f"{label} ({prefix}1-{prefix}{len(table)})",
                        zorder=3)
        marks += [(f"{prefix}{rank + 1}", x[rank], y[rank], colour) for rank in range(len(x))]
    _label_marks(figure, scatter, marks)
    _id_key(scatter, report)
    # the pairs crowd the upper left (small d_mu, large d_Sigma): the legend goes below
    scatter.legend(loc="lower right", fontsize=7, framealpha=0.9)
    _save(figure, path)
    return figure


def _label_marks(figure, ax, marks, *, fontsize: float = 6.5):
    """Name each marked point beside it, without labels overlapping one another.

    Points closer than a marker's width share one label (``"S2, C1"``). Each
    label takes the first free place among rings of positions around its
    point, nearest first, in rank order; a label set apart from its point is
    joined to it by a short line. Working in points on the page keeps the
    spacing the same at any data scale.
    """
    if not marks:
        return
    figure.canvas.draw()  # the axes' place on the page is known after a draw
    to_points = 72.0 / figure.dpi
    where = ax.transData.transform([(x, y) for _, x, y, _ in marks]) * to_points
    groups = []  # [anchor position, names, colour]
    for (name, *_, colour), position in zip(marks, where):
        for group in groups:
            if np.hypot(*(group[0] - position)) < 5.0:
                group[1].append(name)
                break
        else:
            groups.append([position, [name], colour])
    box = ax.get_window_extent()
    left, bottom = box.x0 * to_points, box.y0 * to_points
    right, top = box.x1 * to_points, box.y1 * to_points
    height = 1.25 * fontsize
    taken = [(p[0] - 4.5, p[1] - 4.5, p[0] + 4.5, p[1] + 4.5) for p, *_ in groups]
    directions = [(1, 0), (1, 1), (1, -1), (-1, 0), (-1, 1), (-1, -1), (0, 1), (0, -1)]
    for position, names, colour in groups:
        text = ", ".join(names)
        width = 0.62 * fontsize * len(text)
        best, best_overlap = None, np.inf
        for distance in (7.0, 13.0, 20.0, 28.0, 38.0):
            for dx, dy in directions:
                cx, cy = position[0] + dx * distance, position[1] + dy * distance
                x0 = cx if dx > 0 else cx - width if dx < 0 else cx - width / 2
                rect = (x0, cy - height / 2, x0 + width, cy + height / 2)
                if rect[0] < left or rect[2] > right or rect[1] < bottom or rect[3] > top:
                    continue
                overlap = sum(max(0.0, min(rect[2], o[2]) - max(rect[0], o[0]))
                              * max(0.0, min(rect[3], o[3]) - max(rect[1], o[1]))
                              for o in taken)
                if overlap < best_overlap:
                    best, best_overlap = (rect, dx, cx, cy), overlap
                if overlap == 0.0:
                    break
            if best_overlap == 0.0:
                break
        if best is None:  # no room inside the axes: right of the point
            best = ((position[0] + 7, position[1] - height / 2, position[0] + 7 + width,
                     position[1] + height / 2), 1, position[0] + 7, position[1])
        rect, dx, cx, cy = best
        taken.append(rect)
        offset = (cx - position[0], cy - position[1])
        far = np.hypot(*offset) > 8.0
        ax.annotate(text, ax.transData.inverted().transform(position / to_points),
                    xytext=offset, textcoords="offset points", fontsize=fontsize,
                    color=colour, ha="left" if dx > 0 else "right" if dx < 0 else "center",
                    va="center", zorder=5,
                    bbox={"boxstyle": "round,pad=0.12", "facecolor": "white",
                          "edgecolor": "none", "alpha": 0.8},
                    arrowprops={"arrowstyle": "-", "color": colour, "linewidth": 0.5,
                                "shrinkA": 0, "shrinkB": 3} if far else None)


_METRIC_LABELS = {
    "mean_socm": "mean SOCM",
    "mean_d_mu": r"mean $d_\mu$",
    "mean_d_sigma": r"mean $d_\Sigma$",
    "mean_spread": r"spread ratio tr $\Sigma$",
    "mean_cosine": "within-text cosine",
}

_REFERENCE_GID = "skpool-reference"

# the paper's assumption tr(Sigma) <= 2 and its consequences, drawn as reference lines
_METRIC_REFERENCES = {
    "mean_spread": (2.0, r"tr $\Sigma$ = 2 (paper's assumption)"),
    "mean_cosine": (1.0 / 3.0, "1/3 (paper's assumption)"),
    "mean_d_sigma": (1.0, r"$d_\Sigma$ = 1"),
}


#: plot_layer_profile adds SOCM 1, the bound under the trace assumption (a bar chart of
#: SOCM near 0.1 would be squashed by it, so the comparison figure does not)
_LAYER_REFERENCES = {**_METRIC_REFERENCES,
                     "mean_socm": (1.0, r"SOCM = 1 (largest under tr $\Sigma \leq$ 2)")}


# the reference lines, named briefly enough for a panel one column wide
_COMPARISON_NOTES = {
    "mean_d_sigma": r"$d_\Sigma$ = 1",
    "mean_spread": r"tr $\Sigma$ = 2",
    "mean_cosine": "cosine 1/3 (the paper's assumption)",
}


def _check_metrics(metrics, *, function):
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    unknown = [m for m in metrics if m not in _METRIC_LABELS]
    if unknown or not metrics:
        raise ValueError(f"{function} expects metrics among {sorted(_METRIC_LABELS)}. "
                         f"Received {metrics!r}.")
    return metrics


def _stderr(records, metric):
    if metric != "mean_socm":
        return None
    errors = np.array([float(r.get("stderr") or 0.0) for r in records])
    return errors if errors.any() else None


def plot_layer_profile(profile, ax=None, path=None, *,
                       metrics=("mean_socm", "mean_spread", "mean_cosine"), label=None,
                       title=None, log_scale=False):
    r"""Collapse and token concentration across hidden layers (the paper's Figures 4 and 11).

    One panel per metric, the layer on the x axis: by default the mean SOCM
    (with its standard error when pairs were sampled), the mean spread ratio
    :math:`\operatorname{tr}\Sigma` and the mean within-text cosine. Dotted
    lines mark the paper's assumption (:math:`\operatorname{tr}\Sigma = 2`,
    cosine 1/3) and SOCM 1, the largest value under that assumption, each
    named on the line. Pass the returned figure's axes as ``ax`` to draw a
    second model on the same panels (the legend names the models).

    Parameters
    ----------
    profile : LayerProfile, sequence of records, or DataFrame
        One record per layer with a ``layer`` field and the metrics
        (:func:`skpool.layer_profile`, :func:`skpool.analysis.layer_profile`).
    ax : sequence of matplotlib Axes, optional
        One axes per metric; a new figure when None.
    path : str or os.PathLike, optional
        Save the figure there; the format follows the extension.
    metrics : sequence of str, default=("mean_socm", "mean_spread", "mean_cosine")
        Among ``mean_socm``, ``mean_d_mu``, ``mean_d_sigma``, ``mean_spread``,
        ``mean_cosine``.
    label : str, optional
        Legend label; the records' ``model`` when None.
    title : str, optional
    log_scale : bool, default=False
        A log y axis on every panel whose values are all positive (one layer
        far above the others, such as an embedding layer at SOCM 2.8, no
        longer squashes the rest); its labelled ticks (1, 2, 5 x 10^k)
        enclose every point and reference line.

    Returns
    -------
    matplotlib.figure.Figure

    Notes
    -----
    The paper's Figures 4 and 11.

    Examples
    --------
    >>> records = [{"layer": k, "mean_socm": 0.1 * k, "mean_spread": 1.0 + k,
    ...             "mean_cosine": 0.5 - 0.1 * k} for k in range(4)]
    >>> figure = plot_layer_profile(records)
    >>> [axis.get_ylabel() for axis in figure.axes]
    ['mean SOCM', 'spread ratio tr $\\Sigma$', 'within-text cosine']
    >>> figure.axes[0].lines[0].get_xdata().tolist()
    [0, 1, 2, 3]
    """
    name = "plot_layer_profile"
    records = _as_records(profile, function=name)
    metrics = _check_metrics(metrics, function=name)
    records = sorted(records, key=lambda r: r.get("layer", 0))
    layers = _record_values(records, "layer", function=name).astype(int)
    figure, axes = _axes_list(ax, len(metrics), function=name)
    if label is None:
        label = records[0].get("model") or getattr(profile, "model", None)
    for axis, metric in zip(axes, metrics):
        values = _record_values(records, metric, function=name)
        errors = _stderr(records, metric)
        axis.errorbar(layers, values, yerr=errors, marker="o", markersize=4,
                      capsize=2, label=label)
        references = [line for line in axis.lines if line.get_gid() == _REFERENCE_GID]
        if metric in _LAYER_REFERENCES and not references:
            level, note = _LAYER_REFERENCES[metric]
            references = [axis.axhline(level, color="0.5", linestyle=":", linewidth=0.9,
                                       label=note, gid=_REFERENCE_GID)]
            # named on the line itself, at its right end, not in a legend far from it
            axis.annotate(note, xy=(1.0, level), xycoords=("axes fraction", "data"),
                          xytext=(-3, 2), textcoords="offset points", ha="right",
                          va="bottom", fontsize=7, color="0.35", gid=_REFERENCE_GID,
                          bbox={"boxstyle": "round,pad=0.1", "facecolor": "white",
                                "edgecolor": "none", "alpha": 0.75})
        if log_scale and np.all(values > 0):
            low = values - (0.0 if errors is None else np.asarray(errors))
            high = values + (0.0 if errors is None else np.asarray(errors))
            drawn = [v for line in axis.lines for v in np.atleast_1d(line.get_ydata())
                     if line.get_gid() != _REFERENCE_GID]
            levels = [float(line.get_ydata()[0]) for line in references]
            _log_axis(axis, [*values[low > 0], *low[low > 0], *high, *drawn, *levels])
        axis.set_xlabel("layer (0 = embeddings)")
        axis.set_ylabel(_METRIC_LABELS[metric])
        axis.set_xticks(layers)
        axis.grid(alpha=0.3)
    if label:  # the models drawn on these axes (a second call adds its own)
        axes[0].legend(handles=[line for line in axes[0].containers
                                if not line.get_label().startswith("_")], fontsize=8)
    if title:
        figure.suptitle(title, fontsize=11)
    _save(figure, path)
    return figure


def _log_axis(axis, values) -> None:
    """A log y axis whose labelled ticks (1, 2, 5 x 10^k) enclose every value."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    values = np.asarray([v for v in values if np.isfinite(v) and v > 0], dtype=np.float64)
    low, high = float(values.min()), float(values.max())
    candidates = sorted(m * 10.0 ** k for k in range(int(np.floor(np.log10(low))) - 1,
                                                    int(np.ceil(np.log10(high))) + 2)
                        for m in (1, 2, 5))
    first = max(c for c in candidates if c <= low * (1 + 1e-9))
    last = min(c for c in candidates if c >= high * (1 - 1e-9))
    ticks = [c for c in candidates if first <= c <= last]
    if len(ticks) > 7:  # a wide range: decades only, still enclosing the values
        ticks = [c for c in ticks if np.isclose(np.log10(c), round(np.log10(c)))]
        ticks = ([first] if ticks[0] > first else []) + ticks + ([last] if ticks[-1] < last
                                                                 else [])
    axis.set_yscale("log")
    axis.yaxis.set_major_locator(FixedLocator(ticks))
    axis.yaxis.set_minor_locator(NullLocator())
    axis.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_ylim(first / 1.08, last * 1.08)


def plot_model_comparison(records, ax=None, path=None, *,
                          metrics=("mean_socm", "mean_d_mu", "mean_d_sigma", "mean_spread",
                                   "mean_cosine"),
                          labels=None, title=None):
    r"""Collapse statistics of several models side by side, sized for one paper column.

    One panel per metric, stacked, one horizontal bar per model with the
    model's name on the axis and its value at the end of the bar; the mean
    SOCM carries its standard error when pairs were sampled. Dotted lines
    mark the paper's assumption where it applies
    (:math:`\operatorname{tr}\Sigma = 2`, cosine 1/3, :math:`d_\Sigma = 1`).
    A new figure is saved at most 3.5 inches wide (one column of a
    two-column paper), so its 7- and 8-point labels print at about that size.

    Parameters
    ----------
    records : sequence of records, or DataFrame
        One record per model (e.g. the ``CollapseRecord`` list of
        :func:`skpool.analysis.compare_models`, or their dicts).
    ax : sequence of matplotlib Axes, optional
        One axes per metric; a new figure when None.
    path : str or os.PathLike, optional
        Save the figure there; the format follows the extension.
    metrics : sequence of str
        Among ``mean_socm``, ``mean_d_mu``, ``mean_d_sigma``, ``mean_spread``,
        ``mean_cosine``.
    labels : sequence of str, optional
        The models' names on the axes; when None, the records' ``model`` (a
        folder or hub id by its last part, unless two would read the same)
        with, below it, its ``layer`` and ``max_length`` when the records
        have them.
    title : str, optional
        Above the panels (the notes on the dotted reference lines go below).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> records = [{"model": "a", "mean_socm": 0.9, "mean_spread": 3.1},
    ...            {"model": "b", "mean_socm": 0.2, "mean_spread": 1.2}]
    >>> figure = plot_model_comparison(records, metrics=["mean_socm", "mean_spread"])
    >>> [float(bar.get_width()) for bar in figure.axes[0].patches]
    [0.9, 0.2]
    >>> [label.get_text() for label in figure.axes[0].get_yticklabels()]
    ['a', 'b']
    """
    name = "plot_model_comparison"
    records = _as_records(records, function=name)
    metrics = _check_metrics(metrics, function=name)
    if labels is None:
        names = [str(r.get("model", f"model {k}")) for k, r in enumerate(records)]
        labels = [_short_label(name) for name in names]
        if len(set(labels)) < len(labels):  # e.g. two folders ending in checkpoint-500
            labels = [_short_label(name, last_part=False) for name in names]
        # each model's layer and token limit under its name: they differ between models
        labels = [label + _settings_line(r) for label, r in zip(labels, records)]
    labels = [str(label) for label in labels]
    if len(labels) != len(records):
        raise ValueError(f"{name} expects one label per record ({len(records)}). "
                         f"Received {len(labels)}.")
    plt = _pyplot()
    if ax is None:
        lines = max(label.count("\n") + 1 for label in labels)
        height = (len(metrics) * (0.55 + 0.22 * lines * len(records))
                  + (0.5 if title else 0.2))
        figure, axes = plt.subplots(len(metrics), 1, figsize=(3.3, height), squeeze=False,
                                    layout="constrained")
        axes = list(axes[:, 0])
    else:
        figure, axes = _axes_list(ax, len(metrics), function=name)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    positions = np.arange(len(records))
    palette = [colors[k % len(colors)] for k in positions]
    for axis, metric in zip(axes, metrics):
        values = _record_values(records, metric, function=name)
        bars = axis.barh(positions, values, xerr=_stderr(records, metric), capsize=2,
                         color=palette, height=0.7, error_kw={"linewidth": 0.8})
        for value_label in axis.bar_label(bars, fmt="%.3g", fontsize=7, padding=2):
            # legible where a reference line passes behind it
            value_label.set_bbox({"facecolor": "white", "edgecolor": "none", "alpha": 0.75,
                                  "pad": 0.6})
        if metric in _METRIC_REFERENCES:
            axis.axvline(_METRIC_REFERENCES[metric][0], color="0.4", linestyle=":",
                         linewidth=0.9, gid=_REFERENCE_GID)
        axis.set_title(_METRIC_LABELS[metric], fontsize=8, loc="left")
        axis.set_yticks(positions, labels, fontsize=8)
        axis.invert_yaxis()  # the first model on top, as listed
        axis.tick_params(axis="x", labelsize=7)
        # room at the right end for the value labels, and for the reference line
        high = max(float(np.nanmax(values)), _METRIC_REFERENCES.get(metric, (0.0,))[0])
        axis.set_xlim(min(0.0, float(np.nanmin(values)) * 1.1), high * 1.22 or 1.0)
        axis.grid(axis="x", alpha=0.3)
    notes = [_COMPARISON_NOTES[m] for m in metrics if m in _COMPARISON_NOTES]
    if notes:  # below the panels: a title that long would widen the figure
        figure.supxlabel("dotted: " + "; ".join(notes), fontsize=7)
    if title:
        figure.suptitle(title, fontsize=9)
    _save(figure, path)
    return figure


# -- collapse against downstream scores (skpool evaluate) ---------------------------------

_MEASURE_LABELS = {"mean_socm": "mean SOCM", "matched_socm": "concentration-matched SOCM"}


def plot_socm_vs_score(records, ax=None, path=None, *, pooling="mean", measure="mean_socm",
                       title=None):
    r"""Collapse against downstream score across layers and models, one panel per task.

    Each point is one model at one layer (its number written beside it):
    collapse of the task's texts on the x axis (with its standard error),
    the task's score on the y axis (with its spread over folds or
    bootstrap); one colour per model (a legend only for several), the points
    not joined. Each panel's title gives the Spearman correlation of collapse
    and score: the evaluation's own (with its bootstrap interval) when an
    :class:`~skpool.evaluation.Evaluation` is given, else that of the points.

    Parameters
    ----------
    records : sequence of EvaluationRecord or dict, or DataFrame, or Evaluation
        Records of :func:`skpool.evaluation.evaluate`; only those of
        ``pooling`` are drawn.
    ax : sequence of matplotlib Axes, optional
        One axes per task; a new figure when None.
    path : str or os.PathLike, optional
        Save the figure there; the format follows the extension.
    pooling : str, default="mean"
    measure : {"mean_socm", "matched_socm"}, default="mean_socm"
    title : str, optional
        Above the panels; when None and the records hold one model, its name.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> records = [{"model": m, "layer": k, "pooling": "mean", "task": "t",
    ...             "metric": "accuracy", "score": 0.5 + 0.1 * k, "score_std": 0.01,
    ...             "mean_socm": 0.2 * k + i, "stderr": 0.01, "matched_socm": 0.1,
    ...             "matched_stderr": 0.0} for i, m in enumerate("ab") for k in range(3)]
    >>> figure = plot_socm_vs_score(records)
    >>> [text.get_text() for text in figure.axes[0].texts]
    ['0', '1', '2', '0', '1', '2']
    """
    name = "plot_socm_vs_score"
    correlations = [c if isinstance(c, dict) else c.to_dict()
                    for c in getattr(records, "correlations", None) or ()]
    records = _as_records(records, function=name)
    if measure not in _MEASURE_LABELS:
        raise ValueError(f"{name} expects measure among {list(_MEASURE_LABELS)}. "
                         f"Received {measure!r}.")
    chosen = [r for r in records if r.get("pooling") == pooling]
    if not chosen:
        found = sorted({str(r.get("pooling")) for r in records})
        raise ValueError(f"{name} found no record with pooling {pooling!r}. The records "
                         f"hold {found}.")
    tasks = list(dict.fromkeys(r["task"] for r in chosen))
    models = list(dict.fromkeys(r["model"] for r in chosen))
    plt = _pyplot()
    figure, axes = _axes_list(ax, len(tasks), function=name)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    error_of = {"mean_socm": "stderr", "matched_socm": "matched_stderr"}[measure]
    for axis, task in zip(axes, tasks):
        metric = "score"
        for k, model in enumerate(models):
            # a score that does not exist (None or NaN, its record says why) is not drawn
            points = sorted((r for r in chosen if r["task"] == task and r["model"] == model
                             and _has_score(r)),
                            key=lambda r: r["layer"])
            if not points:
                continue
            metric = points[0].get("metric", "score")
            x = _record_values(points, measure, function=name)
            y = _record_values(points, "score", function=name)
            color = colors[k % len(colors)]
            # points, not a path: the layers are not a trajectory in this plane
            axis.errorbar(x, y, xerr=[float(p.get(error_of) or 0.0) for p in points],
                          yerr=[float(p.get("score_std") or 0.0) for p in points], color=color,
                          marker="o", markersize=4, linestyle="none", elinewidth=0.8,
                          capsize=2, label=_short_label(model))
            for xi, yi, point in zip(x, y, points):
                axis.annotate(str(point["layer"]), (xi, yi), textcoords="offset points",
                              xytext=(4, 3), fontsize=7, color=color)
        axis.margins(x=0.1, y=0.08)  # room for the layer numbers beside the points
        drawn = [r for r in chosen if r["task"] == task and _has_score(r)]
        axis.set_title(f"{task} ({pooling} pooling)\n"
                       + _rho_line(drawn, correlations, task, pooling, measure), fontsize=9)
        axis.set_xlabel(_MEASURE_LABELS[measure])
        axis.set_ylabel({"spearman": "Spearman with human scores"}.get(metric, metric))
        axis.grid(alpha=0.3)
    from matplotlib.lines import Line2D

    handles, labels = axes[0].get_legend_handles_labels()
    if len(models) == 1:  # one model needs no legend entry: the title names it
        handles, labels = [], []
        if not title:
            title = _short_label(models[0])
    bars = (f"bars: \u00b1 1 standard error of the {_MEASURE_LABELS[measure]} (across), "
            "\u00b1 1 sd of the score over folds or bootstrap resamples (up)")
    handles.append(Line2D([], [], color="0.3", marker="|", markersize=8, linestyle="none"))
    labels.append(bars)
    figure.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 3),
                  fontsize=7, frameon=False)
    if title:
        figure.suptitle(title, fontsize=11)
    _save(figure, path)
    return figure


def _rho_line(points, correlations, task, pooling, measure) -> str:
    """``"Spearman rho = 0.61 [-0.12, 0.93], n = 8"`` for a panel of the SOCM-score figure.

    The evaluation's own correlation over every model's layers when given
    (with its bootstrap interval), otherwise the rank correlation of the
    points drawn.
    """
    for c in correlations:
        if (c.get("task") == task and c.get("pooling") == pooling
                and c.get("measure", measure) == measure and c.get("group") == "all"):
            n = c.get("n")
            if c.get("rho") is None:  # the table and the JSON say why (``note``)
                return f"Spearman \u03c1 undefined (n = {n})"
            interval = c.get("interval")
            interval = (f" [{interval[0]:.2f}, {interval[1]:.2f}]"
                        if interval and None not in interval else "")
            line = f"Spearman \u03c1 = {c['rho']:.2f}{interval}, n = {n}"
            if c.get("can_rank") is False:  # kept short: the note is in the table and JSON
                line += "\nnot a finding: the task cannot rank these points"
            return line
    x = np.array([float(p[measure]) for p in points])
    y = np.array([float(p["score"]) for p in points])
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return f"Spearman \u03c1 undefined (n = {x.size})"
    from scipy.stats import spearmanr

    return f"Spearman \u03c1 = {spearmanr(x, y).statistic:.2f}, n = {x.size}"


def _has_score(record) -> bool:
    """False for a score that does not exist (None or NaN); a missing field is reported later."""
    value = record.get("score", 0.0)
    return value is not None and not (isinstance(value, float) and np.isnan(value))


def _settings_line(record) -> str:
    """``"\nlayer 6, max_length 256"`` from a record's fields (empty when it has neither)."""
    parts = []
    if record.get("layer") is not None:
        parts.append(f"layer {record['layer']}")
    if record.get("max_length") is not None:
        parts.append(f"max_length {record['max_length']}")
    return "\n" + ", ".join(parts) if parts else ""


def _short_label(name, *, last_part: bool = True) -> str:
    """A model's name for an axis: a folder or hub id by its last part, at most 28 characters."""
    name = str(name).rstrip("/")
    if last_part and "/" in name and Path(name).name:
        name = Path(name).name
    return name if len(name) <= 28 else name[:12] + "..." + name[-13:]
