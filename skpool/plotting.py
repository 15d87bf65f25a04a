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
        The first line of the title (e.g. model, layer and corpus); the
        number of pairs, the clouds and, for a comparison result, its summary
        (median ratio, Spearman, Gelbrich-bound violations) follow.

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
    >>> figure.axes[0].get_title().splitlines()[-1]
    'Gelbrich bound (Gaussian $\\leq$ exact) violated by 0 pairs'
    """
    columns = _columns(table_or_result, ("exact_w2", "gaussian_w2"),
                       function="plot_w2_comparison")
    exact, gaussian = columns["exact_w2"], columns["gaussian_w2"]
    figure, ax = _axes(ax, figsize=(3.4, 4.0))  # one paper column
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
    if title:
        lines.insert(0, str(title))
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
    ax.set_title("\n".join(lines), fontsize=8)
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
    Values of :math:`d_\Sigma` above 1 (texts breaking the trace assumption
    :math:`\operatorname{tr}\Sigma \le 2`, as the last layer of
    all-MiniLM-L6-v2 does) are shown, never clipped: the axis grows to hold
    them and a dashed line marks :math:`d_\Sigma = 1`.

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

    x_high = 1.02 * max(1.0, float(d_mu.max()))
    y_high = 1.04 * max(1.0, float(d_sigma.max()))
    ax.set_xlim(0.0, x_high)
    ax.set_ylim(0.0, y_high)
    if d_sigma.max() > 1.0:
        ax.axhline(1.0, color="0.3", linestyle="--", linewidth=0.9,
                   label=r"$d_\Sigma = 1$ (the bound when tr $\Sigma \leq 2$)")
        ax.legend(loc="upper right", fontsize=7, framealpha=0.9)
    ax.set_xlabel(r"$d_\mu$")
    ax.set_ylabel(r"$d_\Sigma$")

    top.hist(d_mu, bins=np.linspace(0.0, x_high, bins + 1), color="0.45")
    right.hist(d_sigma, bins=np.linspace(0.0, y_high, bins + 1), color="0.45",
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


#: How ``plot_pairs_report`` marks each view: (table attribute, label, marker, colour, prefix).
_PAIR_VIEWS = (
    ("by_socm", "highest SOCM", "o", "tab:red", "S"),
    ("conflated", r"near pairs with the largest $d_\Sigma$", "s", "tab:orange", "C"),
)


def plot_pairs_report(report, ax=None, path=None, *, title=None):
    r"""The pairs of :func:`skpool.pairs.pairs_report` marked on the $(d_\mu, d_\Sigma)$ plane.

    The scatter of every pair searched (:func:`plot_pair_scatter`), with the
    listed pairs marked: red circles for the highest SOCM, orange squares for
    the near pairs with the largest :math:`d_\Sigma`, each labelled with its
    rank (``S1``, ``C1``, ...) as in the tables.

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
    # everything the listed pairs reach stays inside the axes
    reach = [float(np.max(getattr(report, view)["d_sigma"])) for view, *_ in _PAIR_VIEWS
             if len(getattr(report, view))]
    if reach and max(reach) * 1.04 > scatter.get_ylim()[1]:
        scatter.set_ylim(0.0, 1.06 * max(reach))
    low, high = scatter.get_ylim()
    for view, label, marker, colour, prefix in _PAIR_VIEWS:
        table = getattr(report, view)
        x = np.asarray(table["d_mu"], dtype=np.float64)
        y = np.asarray(table["d_sigma"], dtype=np.float64)
        scatter.scatter(x, y, s=42, marker=marker, facecolors="none", edgecolors=colour,
                        linewidths=1.3, label=f"{label} ({prefix}1-{prefix}{len(table)})",
                        zorder=3)
        if not len(table):
            continue
        # the listed pairs sit close together: their labels stand in a column beside
        # them (SOCM right, near pairs left), one line apart, each joined to its point
        right = prefix == "S"
        column = float(x.max()) + 0.07 if right else float(x.min()) - 0.07
        step, previous = 0.045 * (high - low), np.inf
        for rank in np.argsort(-y, kind="stable"):
            place = min(float(y[rank]), previous - step)
            previous = place
            scatter.annotate(f"{prefix}{rank + 1}", (x[rank], y[rank]), xytext=(column, place),
                             textcoords="data", fontsize=6.5, color=colour,
                             ha="left" if right else "right", va="center",
                             arrowprops={"arrowstyle": "-", "color": colour, "linewidth": 0.5,
                                         "shrinkA": 1, "shrinkB": 3})
    # the pairs crowd the upper left (small d_mu, large d_Sigma): the legend goes below
    scatter.legend(loc="lower right", fontsize=7, framealpha=0.9)
    _save(figure, path)
    return figure


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
    cosine 1/3) and SOCM 1, the largest value under that assumption. Pass the
    returned figure's axes as ``ax`` to draw a second model on the same panels.

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
        longer squashes the rest).

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
        axis.errorbar(layers, values, yerr=_stderr(records, metric), marker="o", markersize=4,
                      capsize=2, label=label)
        if log_scale and np.all(values > 0):
            from matplotlib.ticker import FuncFormatter

            axis.set_yscale("log")
            plain = FuncFormatter(lambda value, _: f"{value:g}")  # 0.6, 2, 10: not 2x10^0
            axis.yaxis.set_major_formatter(plain)
            axis.yaxis.set_minor_formatter(plain)
        references = [line for line in axis.lines if line.get_gid() == _REFERENCE_GID]
        if metric in _LAYER_REFERENCES and not references:
            level, note = _LAYER_REFERENCES[metric]
            references = [axis.axhline(level, color="0.5", linestyle=":", linewidth=0.9,
                                       label=note, gid=_REFERENCE_GID)]
        if references:  # another model may be drawn on these axes later: legend then
            axis.legend(handles=references, fontsize=7, loc="best")
        axis.set_xlabel("layer (0 = embeddings)")
        axis.set_ylabel(_METRIC_LABELS[metric])
        axis.set_xticks(layers)
        axis.grid(alpha=0.3)
    if label:
        # the models, then the first panel's reference line (e.g. SOCM = 1)
        axes[0].legend(handles=[line for line in axes[0].containers
                                if not line.get_label().startswith("_")]
                       + [line for line in axes[0].lines if line.get_gid() == _REFERENCE_GID],
                       fontsize=8)
    if title:
        figure.suptitle(title, fontsize=11)
    _save(figure, path)
    return figure


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
        The models' names on the axes; the records' ``model`` when None
        (a folder or hub id by its last part, unless two would read the same).
    title : str, optional

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
    labels = [str(label) for label in labels]
    if len(labels) != len(records):
        raise ValueError(f"{name} expects one label per record ({len(records)}). "
                         f"Received {len(labels)}.")
    plt = _pyplot()
    if ax is None:
        height = len(metrics) * (0.55 + 0.22 * len(records)) + (0.5 if title else 0.2)
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
        axis.bar_label(bars, fmt="%.3g", fontsize=7, padding=2)
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
    bootstrap); one colour per model, the layers of a model joined in order.

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
            axis.errorbar(x, y, xerr=[float(p.get(error_of) or 0.0) for p in points],
                          yerr=[float(p.get("score_std") or 0.0) for p in points], color=color,
                          marker="o", markersize=4, linewidth=0.8, capsize=2,
                          label=_short_label(model))
            for xi, yi, point in zip(x, y, points):
                axis.annotate(str(point["layer"]), (xi, yi), textcoords="offset points",
                              xytext=(4, 3), fontsize=7, color=color)
        axis.set_title(f"{task} ({pooling} pooling)", fontsize=10)
        axis.set_xlabel(_MEASURE_LABELS[measure])
        axis.set_ylabel({"spearman": "Spearman with human scores"}.get(metric, metric))
        axis.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 3),
                  fontsize=8, frameon=False)
    if title:
        figure.suptitle(title, fontsize=11)
    _save(figure, path)
    return figure


def _has_score(record) -> bool:
    """False for a score that does not exist (None or NaN); a missing field is reported later."""
    value = record.get("score", 0.0)
    return value is not None and not (isinstance(value, float) and np.isnan(value))


def _short_label(name, *, last_part: bool = True) -> str:
    """A model's name for an axis: a folder or hub id by its last part, at most 28 characters."""
    name = str(name).rstrip("/")
    if last_part and "/" in name and Path(name).name:
        name = Path(name).name
    return name if len(name) <= 28 else name[:12] + "..." + name[-13:]
