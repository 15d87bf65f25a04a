"""``skpool evaluate`` run in-process on the tiny random BERT and real task texts.

Its JSON records must be those of :func:`skpool.evaluation.evaluate` called
directly with the same arguments, its figure must be written, and bad
arguments must be one usage line.
"""

from __future__ import annotations

import json
import re

import pytest

from skpool import TokenEncoder
from skpool.cli import main
from skpool.evaluation import evaluate

REQUIRED = {"model", "layer", "pooling", "task", "metric", "score", "score_std", "mean_socm",
            "stderr", "n_trace_violations"}

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def run(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def lee_installed():
    from skpool.datasets import DatasetNotInstalledError, load_lee50

    try:
        load_lee50()
    except DatasetNotInstalledError as exc:
        pytest.skip(str(exc))


@pytest.mark.slow
def test_evaluate_json_and_plot_match_the_library(capsys, tmp_path, tiny_model_dir,
                                                  lee_installed):
    pytest.importorskip("matplotlib")
    out_json, figure, page = tmp_path / "e.json", tmp_path / "e.png", tmp_path / "e.html"
    code, out, err = run(capsys, "evaluate", "--model", tiny_model_dir, "--dataset", "lee-50",
                         "bbc-news", "--n-texts", 10, "--layers", 0, -1, "--pooling", "mean",
                         "w2-gaussian", "--pairs", 20, "--folds", 2, "--bootstrap", 30,
                         "--device", "cpu", "--quiet", "--json", out_json, "--plot", figure,
                         "--html", page)
    assert code == 0, err
    assert err == ""
    document = json.loads(out_json.read_text())
    assert set(document) == {"settings", "records", "correlations", "diagnostics",
                             "pooling_costs", "interventions"}
    assert document["interventions"] == []  # only with --intervene
    assert [(c["task"], c["pooling"], c["condition"]) for c in document["pooling_costs"]] == [
        ("lee-50", "w2-gaussian", "none")]
    records = document["records"]
    assert len(records) == 2 * (2 + 1)  # layers x (lee: mean, w2; bbc: mean)
    assert all(REQUIRED <= set(r) for r in records)
    reference = evaluate({str(tiny_model_dir): TokenEncoder(model=str(tiny_model_dir),
                                                            device="cpu")},
                         ["lee-50", "bbc-news"], layers=[0, -1],
                         poolings=["mean", "w2-gaussian"], n_texts=10, n_pairs=20, n_folds=2,
                         n_bootstrap=30, random_state=0).to_dicts()
    assert [(r["task"], r["layer"], r["pooling"]) for r in records] == [
        (r["task"], r["layer"], r["pooling"]) for r in reference]
    for ours, theirs in zip(records, reference):
        for key in ("score", "score_std", "mean_socm", "stderr", "matched_socm"):
            assert ours[key] == pytest.approx(theirs[key], rel=1e-6, abs=1e-9), key
    assert figure.stat().st_size > 0
    assert "mean SOCM" in out and "partial rho" in out and "quintile" in out
    # the HTML page embeds exactly what --json wrote (opened in a browser by test_html)
    html = page.read_text(encoding="utf-8")
    embedded = html.split('id="skpool-record">', 1)[1].split("</script>", 1)[0]
    assert json.loads(embedded) == document
    assert 'id="correlations"' in html and "skpool evaluate --model" in html
    correlations = document["correlations"]
    assert {c["group"] for c in correlations} == {"all", "trained", "trained-no-embedding",
                                                  "last-layer"}
    assert all(set(c) >= {"task", "pooling", "group", "n", "rho", "p", "interval",
                          "partial_rho", "partial_p", "can_rank", "note"} for c in correlations)
    # the text gives each correlation's notes by number, each note listed once below
    parts = {part for c in correlations for part in c["note"].split("; ") if part}
    listed = re.findall(r"^ *\d+\. (.*)$", out, re.M)
    assert sorted(listed) == sorted(parts) and len(parts) < len(correlations)
    no_embedding = [c for c in correlations if c["group"] == "trained-no-embedding"]
    assert {c["n"] for c in no_embedding} == {1}  # layer 0 left out of the two layers
    bins = document["diagnostics"]
    assert {b["by"] for b in bins} == {"spread", "neighbour_socm"}
    assert sum(b["n_texts"] for b in bins if b["by"] == "spread") == 10


@pytest.mark.slow
def test_evaluate_json_to_stdout_keeps_it_pure(capsys, tiny_model_dir, lee_installed):
    code, out, err = run(capsys, "evaluate", "--model", tiny_model_dir, "--dataset", "lee-50",
                         "--n-texts", 8, "--layers", -1, "--pooling", "mean", "--pairs", 10,
                         "--bootstrap", 20, "--device", "cpu", "--quiet", "--json", "-")
    assert code == 0, err
    records = json.loads(out)["records"]
    assert [r["pooling"] for r in records] == ["mean"] and records[0]["metric"] == "spearman"
    assert "mean SOCM" in err  # the text report moved to stderr


@pytest.mark.parametrize("args, message", [
    (["--pooling", "median"], "expected a pooling among mean, cls"),
    (["--dataset", "imdb"], "expected a task among bbc-news"),
    (["--layers", "x"], "expected an integer"),
    (["--plot", "figure.gif"], "expected a figure file"),
])
def test_evaluate_usage_errors_are_one_line(capsys, args, message):
    code, out, err = run(capsys, "evaluate", *args)
    assert code == 2
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.slow
def test_evaluate_intervene_reports_every_condition(capsys, tiny_model_dir, lee_installed):
    code, out, err = run(capsys, "evaluate", "--model", tiny_model_dir, "--dataset", "lee-50",
                         "--n-texts", 8, "--layers", -1, "--pooling", "mean", "--pairs", 10,
                         "--bootstrap", 20, "--device", "cpu", "--quiet",
                         "--intervene", "rescale:0.5,2", "swap", "--json", "-")
    assert code == 0, err
    rows = json.loads(out)["interventions"]
    assert [r["condition"] for r in rows] == ["none", "rescale:0.5", "rescale:2", "swap"]
    assert all(r["mean_score_unchanged"] for r in rows)
    assert rows[1]["mean_socm"] == pytest.approx(rows[0]["mean_socm"] / 4, rel=1e-4)
    assert "Interventions" in err and "What mean pooling costs" in err


@pytest.mark.slow
@pytest.mark.parametrize("args, message", [
    (["--intervene", "rescale:-2"], "Expected rescale factors to be non-negative"),
    (["--layers", 7], "Expected layers in [-3, 2]"),
    (["--baseline", "random-bert"], "Expected baselines among the models"),
])
def test_evaluate_library_errors_are_one_line(capsys, tiny_model_dir, lee_installed, args,
                                              message):
    code, out, err = run(capsys, "evaluate", "--model", tiny_model_dir, "--dataset", "lee-50",
                         *args, "--device", "cpu", "--quiet")
    assert code == 1
    assert err.startswith(f"skpool: error: {message}") and err.count("\n") == 1


def test_several_models_and_tasks_add_up_and_replace_the_default():
    from skpool.cli import build_parser

    parser = build_parser()
    default = parser.parse_args(["evaluate"])
    assert default.model == ["all-MiniLM-L6-v2"] and default.dataset is None
    assert default.n_texts == 300 and default.pairs == 1000
    args = parser.parse_args(["evaluate", "--model", "a", "b", "-m", "c", "--dataset", "lee-50",
                              "-d", "bbc-news", "--pooling", "mean", "-p", "cls"])
    assert args.model == ["a", "b", "c"]
    assert args.dataset == ["lee-50", "bbc-news"] and args.pooling == ["mean", "cls"]
    assert parser.parse_args(["evaluate"]).model == ["all-MiniLM-L6-v2"]  # default untouched
    assert default.baseline == [] and default.intervene is None
    assert parser.parse_args(["evaluate", "-m", "a", "b", "--baseline", "b"]).baseline == ["b"]


def test_help_states_the_defaults_the_commands_use(capsys):
    # each command's --n-texts help names the default it parses to
    from skpool.cli import build_parser
    from skpool.cli.defaults import DEFAULT_N_TEXTS, N_TEXTS_NOT_GIVEN

    parser = build_parser()
    for command in ("evaluate", "report", "layers"):
        default = parser.parse_args([command]).n_texts
        with pytest.raises(SystemExit):
            parser.parse_args([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        option = text[text.index("--n-texts N, -n N"):]
        if default == N_TEXTS_NOT_GIVEN:  # a user's data whole, a bundled corpus sampled
            assert (f"(default: every text of your own data, a sample of {DEFAULT_N_TEXTS} "
                    "of a bundled corpus)") in option[:250], (command, option[:250])
        else:
            assert f"(default: {default})" in option[:200], (command, option[:200])
