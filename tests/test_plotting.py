"""Figures of skpool.plotting: files written, axes, labels and data checked (no display)."""

from __future__ import annotations

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from skpool.plotting import (  # noqa: E402
    plot_layer_profile,
    plot_model_comparison,
    plot_pair_scatter,
    plot_socm_landscape,
)

MAGIC = {".png": b"\x89PNG", ".pdf": b"%PDF-", ".svg": b"<?xml"}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _layer_records(model="m", n_layers=3, stderr=0.0):
    return [
        {"model": model, "layer": k, "mean_socm": 0.2 + 0.1 * k, "stderr": stderr,
         "mean_d_mu": 0.1, "mean_d_sigma": 0.5 + 0.2 * k, "mean_spread": 1.0 + k,
         "mean_cosine": 0.6 - 0.1 * k}
        for k in range(n_layers + 1)
    ]


# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".png", ".pdf", ".svg"])
def test_every_figure_saves_by_extension(tmp_path, suffix):
    rng = np.random.default_rng(0)
    figures = {
        "landscape": lambda p: plot_socm_landscape(path=p, resolution=11),
        "scatter": lambda p: plot_pair_scatter(rng.uniform(0, 1, 30), rng.uniform(0, 2, 30),
                                               path=p),
        "layers": lambda p: plot_layer_profile(_layer_records(), path=p),
        "models": lambda p: plot_model_comparison(_layer_records()[:2], path=p),
    }
    for name, draw in figures.items():
        path = tmp_path / f"{name}{suffix}"
        figure = draw(path)
        assert isinstance(figure, matplotlib.figure.Figure)
        assert path.read_bytes()[:5].startswith(MAGIC[suffix]), name


def test_unknown_extension_is_refused(tmp_path):
    with pytest.raises(ValueError, match="extension|format"):
        plot_socm_landscape(path=tmp_path / "figure.docx", resolution=5)


# ---------------------------------------------------------------------------------------
def test_socm_landscape_values_are_the_formula():
    figure = plot_socm_landscape(resolution=11)
    ax = figure.axes[0]
    mesh = ax.collections[0]
    values = np.asarray(mesh.get_array()).reshape(11, 11)  # rows: d_sigma, columns: d_mu
    grid = np.linspace(0, 1, 11)
    expected = np.outer(grid, 1.0 - grid)  # (1 - d_mu) * d_sigma
    np.testing.assert_allclose(values, expected, atol=1e-12)
    # corners: the collapse corner (d_mu=0, d_sigma=1) is the maximum 1, the rest 0
    assert values[-1, 0] == 1.0 and values[0, 0] == values[0, -1] == values[-1, -1] == 0.0
    assert "d_\\mu" in ax.get_xlabel() and "d_\\Sigma" in ax.get_ylabel()
    assert tuple(map(float, ax.get_xlim())) == (0.0, 1.0)
    assert figure.axes[1].get_ylabel() == "SOCM"  # the colour bar


def test_socm_landscape_draws_on_given_axes():
    figure, ax = plt.subplots()
    assert plot_socm_landscape(ax=ax, resolution=5) is figure
    with pytest.raises(ValueError, match="resolution"):
        plot_socm_landscape(resolution=1)


# ---------------------------------------------------------------------------------------
def test_pair_scatter_points_colours_and_margins():
    rng = np.random.default_rng(1)
    d_mu = rng.uniform(0, 0.6, 200)
    d_sigma = rng.uniform(0.3, 1.8, 200)  # above 1: real MiniLM pairs do this
    figure = plot_pair_scatter(d_mu, d_sigma, title="t")
    scatter, top, right, colorbar = figure.axes
    points = scatter.collections[0]
    offsets = np.asarray(points.get_offsets())
    assert offsets.shape == (200, 2)
    # every pair is drawn (order may change), coloured by (1 - d_mu) d_sigma by default
    order = np.lexsort((offsets[:, 1], offsets[:, 0]))
    expect = np.lexsort((d_sigma, d_mu))
    np.testing.assert_allclose(offsets[order], np.c_[d_mu, d_sigma][expect])
    colours = np.asarray(points.get_array())
    np.testing.assert_allclose(np.sort(colours), np.sort((1 - d_mu) * d_sigma))
    # d_sigma > 1 is shown, not clipped, with the d_sigma = 1 line
    assert scatter.get_ylim()[1] >= d_sigma.max()
    assert any(np.allclose(line.get_ydata(), 1.0) for line in scatter.lines)
    # marginal histograms count every pair
    assert sum(p.get_height() for p in top.patches) == 200
    assert sum(p.get_width() for p in right.patches) == 200
    assert colorbar.get_ylabel() == "SOCM"
    assert top.get_title() == "t"


def test_pair_scatter_given_socm_and_axes():
    figure, ax = plt.subplots()
    socm = np.array([0.1, 0.2, 0.3])
    assert plot_pair_scatter([0.1, 0.2, 0.3], [0.2, 0.3, 0.4], socm, ax=ax) is figure
    np.testing.assert_allclose(np.sort(ax.collections[0].get_array()), socm)
    # the axes fit the data (a margin of 6% of the range), and below 1 no d_sigma = 1 line
    np.testing.assert_allclose(ax.get_xlim(), (0.1 - 0.012, 0.3 + 0.012))
    np.testing.assert_allclose(ax.get_ylim(), (0.2 - 0.012, 0.4 + 0.012))
    assert not ax.lines


@pytest.mark.parametrize("args, message", [
    (([], []), "non-empty"),
    (([0.1, 0.2], [0.1]), "one value per pair"),
    (([0.1, 0.2], [0.1, 0.2], [0.3]), "one value per pair"),
    (([0.1, np.nan], [0.1, 0.2]), "finite"),
])
def test_pair_scatter_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        plot_pair_scatter(*args)


# ---------------------------------------------------------------------------------------
def test_layer_profile_lines_follow_the_records():
    records = _layer_records(stderr=0.01)[::-1]  # any order: sorted by layer
    figure = plot_layer_profile(records, title="T")
    socm_ax, spread_ax, cosine_ax = figure.axes
    line = socm_ax.lines[0]
    assert line.get_xdata().tolist() == [0, 1, 2, 3]
    np.testing.assert_allclose(line.get_ydata(), [0.2, 0.3, 0.4, 0.5])
    np.testing.assert_allclose(spread_ax.lines[0].get_ydata(), [1, 2, 3, 4])
    np.testing.assert_allclose(cosine_ax.lines[0].get_ydata(), [0.6, 0.5, 0.4, 0.3])
    assert socm_ax.get_ylabel() == "mean SOCM"
    assert "layer" in socm_ax.get_xlabel()
    # the standard error is drawn on the SOCM panel only
    assert socm_ax.containers[0].has_yerr and not spread_ax.containers[0].has_yerr
    # the paper's assumption: tr Sigma = 2 and cosine 1/3, and SOCM 1, its bound
    refs = {ax: [ln.get_ydata()[0] for ln in ax.lines if ln.get_gid() == "skpool-reference"]
            for ax in (socm_ax, spread_ax, cosine_ax)}
    assert refs[socm_ax] == [1.0]
    assert refs[spread_ax] == [2.0] and refs[cosine_ax] == [pytest.approx(1 / 3)]
    assert figure.get_suptitle() == "T"
    legend = [t.get_text() for t in socm_ax.get_legend().get_texts()]
    assert legend == ["m"]
    # each reference line is named on the line itself, at its level
    for ax, name in ((socm_ax, "SOCM = 1"), (spread_ax, "tr $\\Sigma$ = 2"),
                     (cosine_ax, "1/3")):
        notes = [t for t in ax.texts if t.get_gid() == "skpool-reference"]
        assert len(notes) == 1 and notes[0].get_text().startswith(name)
        assert notes[0].xy[1] == [ln.get_ydata()[0] for ln in ax.lines
                                  if ln.get_gid() == "skpool-reference"][0]
    assert all(ax.get_yscale() == "linear" for ax in figure.axes)


def test_layer_profile_log_scale_on_positive_panels():
    records = _layer_records()
    records[0]["mean_socm"] = 2.8  # an embedding layer far above the rest
    records[1]["mean_cosine"] = -0.1  # a negative value: that panel stays linear
    figure = plot_layer_profile(records, log_scale=True)
    socm_ax, spread_ax, cosine_ax = figure.axes
    assert socm_ax.get_yscale() == "log" and spread_ax.get_yscale() == "log"
    assert cosine_ax.get_yscale() == "linear"
    np.testing.assert_allclose(socm_ax.lines[0].get_ydata(), [2.8, 0.3, 0.4, 0.5])
    # the labelled ticks enclose every point and the reference line (SOCM 1, tr 2)
    for ax, values in ((socm_ax, [2.8, 0.3, 0.4, 0.5, 1.0]), (spread_ax, [1, 2, 3, 4])):
        ticks = ax.get_yticks()
        low, high = ax.get_ylim()
        assert ticks[0] <= min(values) and ticks[-1] >= max(values)
        assert low <= ticks[0] and ticks[-1] <= high
        assert all(round(t / 10 ** np.floor(np.log10(t)), 9) in (1, 2, 5) for t in ticks)


def test_layer_profile_overlays_a_second_model():
    figure = plot_layer_profile(_layer_records("first"))
    plot_layer_profile(_layer_records("second"), ax=figure.axes[:3])
    legend = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert legend == ["first", "second"]
    # one reference line per panel, not one per model, named once
    assert sum(ln.get_gid() == "skpool-reference" for ln in figure.axes[1].lines) == 1
    assert sum(t.get_gid() == "skpool-reference" for t in figure.axes[1].texts) == 1


def test_layer_profile_accepts_a_layer_profile_object():
    from skpool.analysis import CollapseRecord, LayerProfile

    records = tuple(CollapseRecord(layer=k, n_texts=3, n_pairs=3, exact=True, mean_socm=0.1 * k,
                                stderr=0.0, mean_d_mu=0.1, mean_d_sigma=0.2,
                                n_trace_violations=0, mean_spread=1.0, median_spread=1.0, max_spread=1.5,
                                mean_cosine=0.5) for k in range(3))
    figure = plot_layer_profile(LayerProfile(records=records, model="x"),
                                metrics=["mean_socm"])
    assert len(figure.axes) == 1
    np.testing.assert_allclose(figure.axes[0].lines[0].get_ydata(), [0.0, 0.1, 0.2])


@pytest.mark.parametrize("kwargs, error, message", [
    ({"profile": []}, ValueError, "at least one record"),
    ({"profile": "records"}, TypeError, "sequence of records"),
    ({"profile": [{"layer": 0}]}, ValueError, "mean_socm"),
    ({"profile": _layer_records(), "metrics": ["socm"]}, ValueError, "metrics"),
    ({"profile": _layer_records(), "ax": [None]}, ValueError, "Axes"),
])
def test_layer_profile_bad_input(kwargs, error, message):
    with pytest.raises(error, match=message):
        plot_layer_profile(**kwargs)


# ---------------------------------------------------------------------------------------
def test_model_comparison_bars():
    records = [{"model": "a", "mean_socm": 0.9, "stderr": 0.05, "mean_spread": 3.0},
               {"model": "b", "mean_socm": 0.2, "stderr": 0.01, "mean_spread": 1.0}]
    figure = plot_model_comparison(records, metrics=["mean_socm", "mean_spread"], title="T")
    socm_ax, spread_ax = figure.axes
    assert [float(p.get_width()) for p in socm_ax.patches] == [0.9, 0.2]
    assert [float(p.get_width()) for p in spread_ax.patches] == [3.0, 1.0]
    # one colour per model, the same in every panel
    assert socm_ax.patches[0].get_facecolor() == spread_ax.patches[0].get_facecolor()
    assert socm_ax.patches[0].get_facecolor() != socm_ax.patches[1].get_facecolor()
    from matplotlib.container import BarContainer

    bars = [c for c in socm_ax.containers if isinstance(c, BarContainer)]
    assert bars[0].errorbar is not None  # sampled: error bars on the SOCM panel only
    assert all(c.errorbar is None for c in spread_ax.containers
               if isinstance(c, BarContainer))
    # the models are named on every panel's axis, the first on top
    for axis in (socm_ax, spread_ax):
        assert [t.get_text() for t in axis.get_yticklabels()] == ["a", "b"]
        assert axis.yaxis_inverted()
    # the value written at the end of each bar
    assert [t.get_text() for t in socm_ax.texts] == ["0.9", "0.2"]
    assert socm_ax.get_title(loc="left") == "mean SOCM"
    # the reference line of the spread panel is named below the panels
    assert [line.get_xdata()[0] for line in spread_ax.lines
            if line.get_gid() == "skpool-reference"] == [2.0]
    assert "tr $\\Sigma$ = 2" in figure.get_supxlabel()
    with pytest.raises(ValueError, match="one label per record"):
        plot_model_comparison(records, labels=["only one"])


def test_model_comparison_fits_one_paper_column(tmp_path):
    records = [{"model": name, "mean_socm": 0.1 * k, "stderr": 0.0, "mean_d_mu": 0.3,
                "mean_d_sigma": 0.5, "mean_spread": 2.5, "mean_cosine": 0.3}
               for k, name in enumerate(["all-MiniLM-L6-v2", "all-mpnet-base-v2",
                                         "/home/someone/models/a-fine-tuned-minilm-v3"])]
    path = tmp_path / "compare.png"
    figure = plot_model_comparison(records, path=path, title="wiki-films: 200 texts")
    # saved at 150 dpi: at most 3.5 inches wide (one column), labels at 7-8 points
    from matplotlib.image import imread

    height, width = imread(path).shape[:2]
    assert width <= 3.5 * 150
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()] == [
        "all-MiniLM-L6-v2", "all-mpnet-base-v2", "a-fine-tuned-minilm-v3"]
    assert all(t.get_fontsize() >= 7 for axis in figure.axes for t in axis.texts)
    assert all(t.get_fontsize() >= 8 for t in figure.axes[0].get_yticklabels())


def test_w2_comparison_title_names_the_run_and_the_gelbrich_bound():
    from skpool.ot import compare_w2
    from skpool.plotting import plot_w2_comparison

    rng = np.random.default_rng(0)
    result = compare_w2([rng.normal(size=(8, 3)) for _ in range(5)])
    figure = plot_w2_comparison(result, title="model-x (layer 3) on films, 5 texts")
    # one title line; the findings in a box above the diagonal (no point is there)
    assert figure.axes[0].get_title() == "model-x (layer 3) on films, 5 texts"
    lines = figure.axes[0].texts[0].get_text().splitlines()
    assert lines[0] == "10 pairs, raw token clouds"
    assert lines[-1] == "Gelbrich bound (Gaussian $\\leq$ exact) violated by 0 pairs"
    points = figure.axes[0].collections[0].get_offsets()
    np.testing.assert_allclose(points[:, 0], result.table["exact_w2"])
    np.testing.assert_allclose(points[:, 1], result.table["gaussian_w2"])
    # a plain table has no summary: only the pairs line
    figure = plot_w2_comparison(result.table)
    assert figure.axes[0].texts[0].get_text() == "10 pairs, raw token clouds"


def test_pairs_report_marks_the_listed_pairs():
    from skpool.pairs import pairs_report_of_tokens
    from skpool.plotting import plot_pairs_report

    rng = np.random.default_rng(1)
    clouds = [rng.normal(size=(int(rng.integers(3, 8)), 5)) * rng.uniform(0.3, 1.5) + 2.0
              for _ in range(9)]
    report = pairs_report_of_tokens(clouds, top=3, near_fraction=0.25)
    figure = plot_pairs_report(report, title="T")
    scatter = figure.axes[0]
    every, by_socm, conflated = scatter.collections
    assert len(every.get_offsets()) == 36 == report.searched.socm.size
    # the scatter holds every searched pair (drawn in order of SOCM)
    order = np.argsort(report.searched.socm, kind="stable")
    np.testing.assert_allclose(every.get_offsets(),
                               np.c_[report.searched.d_mu[order], report.searched.d_sigma[order]])
    for marks, table in ((by_socm, report.by_socm), (conflated, report.conflated)):
        np.testing.assert_allclose(marks.get_offsets(), table[["d_mu", "d_sigma"]].to_numpy())
    # each marked pair is named once, beside its point (pairs at one place share a label)
    labels = {name: t.xy for t in scatter.texts for name in t.get_text().split(", ")}
    assert sorted(labels) == ["C1", "C2", "C3", "S1", "S2", "S3"]
    assert sum(len(t.get_text().split(", ")) for t in scatter.texts) == 6
    to_pixels = scatter.transData.transform
    for prefix, table in (("S", report.by_socm), ("C", report.conflated)):
        for rank, row in table.iterrows():
            shift = to_pixels(labels[f"{prefix}{rank}"]) - to_pixels((row["d_mu"],
                                                                      row["d_sigma"]))
            assert np.hypot(*shift) < 8  # the label's point, or one a marker's width away
    # no two labels overlap
    figure.canvas.draw()
    boxes = [t.get_window_extent() for t in scatter.texts]
    assert not any(a.overlaps(b) for k, a in enumerate(boxes) for b in boxes[k + 1:])
    # the axes fit the pairs, not the unit square
    assert scatter.get_xlim()[1] < 1.0 or report.searched.d_mu.max() > 0.9
    with pytest.raises(TypeError, match="PairsReport"):
        plot_pairs_report(report.by_socm)
    # with the user's ids, a key names the two texts of each rank
    ids = [f"review-{k}" for k in range(9)]
    keyed = plot_pairs_report(pairs_report_of_tokens(clouds, top=3, near_fraction=0.25,
                                                     ids=ids)).axes[0]
    key = [t.get_text() for t in keyed.texts if " / " in t.get_text()]
    assert key == [f"{prefix}{rank} review-{i} / review-{j}"
                   for prefix, table in (("S", report.by_socm), ("C", report.conflated))
                   for rank, (i, j) in enumerate(zip(table["i"].tolist(), table["j"].tolist()),
                                                 start=1)]


def test_model_comparison_names_folders_by_their_last_part_unless_ambiguous():
    def records(*names):
        return [{"model": name, "mean_socm": 0.5} for name in names]

    figure = plot_model_comparison(records("sentence-transformers/all-MiniLM-L6-v2",
                                           "/models/my-finetuned"), metrics=["mean_socm"])
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()] == [
        "all-MiniLM-L6-v2", "my-finetuned"]
    figure = plot_model_comparison(records("/runs/a/checkpoint-500", "/runs/b/checkpoint-500"),
                                   metrics=["mean_socm"])
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()] == [
        "/runs/a/checkpoint-500", "/runs/b/checkpoint-500"]


def test_model_comparison_says_each_models_layer_and_max_length():
    from skpool.analysis import CollapseRecord
    from skpool.cli.formatting import format_comparison

    records = [CollapseRecord(model=name, layer=layer, max_length=limit, n_texts=20,
                              n_pairs=190, exact=True, mean_socm=0.1, stderr=0.0,
                              mean_d_mu=0.3, mean_d_sigma=0.2, n_trace_violations=0,
                              mean_spread=1.0, median_spread=1.0, max_spread=1.5,
                              mean_cosine=0.5)
               for name, layer, limit in (("all-MiniLM-L6-v2", 6, 256),
                                          ("all-mpnet-base-v2", 12, 384))]
    figure = plot_model_comparison(records, metrics=["mean_socm"])
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()] == [
        "all-MiniLM-L6-v2\nlayer 6, max_length 256", "all-mpnet-base-v2\nlayer 12, max_length 384"]
    # the text table gives each model's limit in its own row
    table = format_comparison(records, "films").splitlines()
    header = next(line for line in table if line.startswith("model"))
    assert header.split()[:3] == ["model", "layer", "max_length"]
    rows = [line.split() for line in table if line.startswith("all-")]
    assert [row[:3] for row in rows] == [["all-MiniLM-L6-v2", "6", "256"],
                                         ["all-mpnet-base-v2", "12", "384"]]
