"""STAGING (engineer D): plot_socm_vs_score, to be moved into skpool/plotting.py."""

from __future__ import annotations

from .plotting import _as_records, _axes_list, _pyplot, _record_values, _save, _short_label

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
            points = sorted((r for r in chosen if r["task"] == task and r["model"] == model),
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
        axis.set_ylabel(metric)
        axis.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 3),
                  fontsize=8, frameon=False)
    if title:
        figure.suptitle(title, fontsize=11)
    _save(figure, path)
    return figure


