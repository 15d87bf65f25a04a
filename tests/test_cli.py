"""The ``skpool`` command line, run in-process on the tiny random BERT.

Every record the CLI writes is checked against the library called directly
(TokenEncoder + mean_socm + concentration, layer by layer, compare_w2), and
every error path must print one line ``skpool: error: ...`` and exit
non-zero without a traceback.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from skpool import TokenEncoder, concentration, mean_socm
from skpool.cli import main

REQUIRED_FIELDS = {
    "model", "layer", "n_texts", "n_pairs", "exact", "mean_socm", "stderr", "mean_d_mu",
    "mean_d_sigma", "n_trace_violations", "mean_spread", "n_truncated", "max_length",
    "dataset", "seed", "skpool_version",
}


@pytest.fixture
def corpus_jsonl(tmp_path, sample_texts):
    path = tmp_path / "texts.jsonl"
    lines = [json.dumps({"id": i, "text": t}) for i, t in enumerate(sample_texts)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def tiny_args(tiny_model_dir, dataset, *extra):
    return ["--model", tiny_model_dir, "--dataset", dataset, "--n-texts", "all",
            "--device", "cpu", "--quiet", *extra]


def tokens_of(tiny_model_dir, texts, **params):
    encoder = TokenEncoder(model=str(tiny_model_dir), device="cpu", **params)
    return encoder, encoder.fit_transform(texts)


# ---------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_report_txt_json_matches_library(capsys, tmp_path, tiny_model_dir, corpus_txt,
                                          sample_texts):
    out_json = tmp_path / "r.json"
    code, out, err = run(capsys, "report", *tiny_args(tiny_model_dir, corpus_txt),
                         "--json", out_json)
    assert code == 0, err
    assert err == ""  # --quiet: nothing on stderr
    records = json.loads(out_json.read_text())
    assert isinstance(records, list) and len(records) == 1
    record = records[0]
    assert REQUIRED_FIELDS <= set(record)

    encoder, tokens = tokens_of(tiny_model_dir, [t.strip() for t in sample_texts])
    expected = mean_socm(tokens)
    conc = concentration(tokens)
    n = len(sample_texts)
    assert record["n_texts"] == n
    assert record["n_pairs"] == n * (n - 1) // 2 and record["exact"] is True
    assert record["stderr"] == 0.0
    assert record["mean_socm"] == pytest.approx(expected.mean, rel=1e-6)
    assert record["mean_d_mu"] == pytest.approx(expected.mean_d_mu, rel=1e-6)
    assert record["mean_d_sigma"] == pytest.approx(expected.mean_d_sigma, rel=1e-6)
    assert record["n_trace_violations"] == int((np.asarray(conc.spread) > 2).sum())
    assert record["mean_spread"] == pytest.approx(float(np.mean(conc.spread)), rel=1e-6)
    assert record["mean_cosine"] == pytest.approx(float(np.mean(conc.mean_cosine)), rel=1e-6)
    assert record["n_truncated"] == tokens.n_truncated == 1  # the one > 64-token text
    assert record["max_length"] == 64
    assert record["layer"] == encoder.n_layers_ == 2  # -1 is reported as the last layer
    assert record["model"] == str(tiny_model_dir)
    assert record["dataset"] == str(corpus_txt)
    assert record["seed"] == 0
    # the text report carries the same numbers
    assert f"{expected.mean:.4f}" in out
    assert "tr(Sigma) > 2" in out and "never clipped" in out
    assert f"1 of {n} texts cut at 64 tokens" in out


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_report_jsonl_sampled_pairs_stdout_json_and_plot(capsys, tmp_path, tiny_model_dir,
                                                         corpus_jsonl, sample_texts):
    figure = tmp_path / "pairs.png"
    code, out, err = run(capsys, "report", *tiny_args(tiny_model_dir, corpus_jsonl),
                         "--pairs", 9, "--seed", 3, "--json", "-", "--plot", figure)
    assert code == 0, err
    records = json.loads(out)  # stdout holds only the JSON; the text went to stderr
    assert "mean SOCM" in err
    record = records[0]
    _, tokens = tokens_of(tiny_model_dir, sample_texts)
    expected = mean_socm(tokens, n_pairs=9, random_state=3)
    assert record["exact"] is False and record["n_pairs"] == 9
    assert record["mean_socm"] == pytest.approx(expected.mean, rel=1e-6)
    assert record["stderr"] == pytest.approx(expected.stderr, rel=1e-6)
    assert record["stderr"] > 0
    assert figure.stat().st_size > 10_000
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("pairs", [None, 9])
def test_report_plot_draws_the_pairs_the_report_measured(capsys, tmp_path, monkeypatch,
                                                         tiny_model_dir, corpus_txt, pairs):
    # --plot used to compute every pair's SOCM a second time for the figure
    import skpool.analysis
    import skpool.plotting

    calls, drawn = [], []
    real_components = skpool.analysis.pair_components
    monkeypatch.setattr(skpool.analysis, "pair_components",
                        lambda *a, **k: calls.append(k) or real_components(*a, **k))
    real_scatter = skpool.plotting.plot_pair_scatter
    monkeypatch.setattr(skpool.plotting, "plot_pair_scatter",
                        lambda d_mu, d_sigma, socm, **k: drawn.append(socm)
                        or real_scatter(d_mu, d_sigma, socm, **k))
    sampled = () if pairs is None else ("--pairs", pairs, "--seed", 3)
    code, out, err = run(capsys, "report", *tiny_args(tiny_model_dir, corpus_txt), *sampled,
                         "--json", "-", "--plot", tmp_path / "f.png")
    assert code == 0, err
    with_plot = json.loads(out)[0]
    assert len(calls) == 1 and len(drawn) == 1  # the pairs are computed once
    assert drawn[0].size == with_plot["n_pairs"]
    assert float(np.mean(drawn[0])) == with_plot["mean_socm"]  # the very pairs averaged
    code, out, err = run(capsys, "report", *tiny_args(tiny_model_dir, corpus_txt), *sampled,
                         "--json", "-")
    assert code == 0, err
    without = json.loads(out)[0]
    for key, value in without.items():
        if isinstance(value, float):
            assert with_plot[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
        else:
            assert with_plot[key] == value, key


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_report_layer_and_max_length_options(capsys, tiny_model_dir, corpus_txt, sample_texts):
    code, out, err = run(capsys, "report", *tiny_args(tiny_model_dir, corpus_txt),
                         "--layer", 1, "--max-length", 16, "--json", "-")
    assert code == 0, err
    record = json.loads(out)[0]
    encoder, tokens = tokens_of(tiny_model_dir, sample_texts, layer=1, max_length=16)
    assert record["layer"] == 1 and record["max_length"] == 16
    assert record["n_truncated"] == tokens.n_truncated > 1
    assert record["mean_socm"] == pytest.approx(mean_socm(tokens).mean, rel=1e-6)


# ---------------------------------------------------------------------------------------
# compare, layers, ot
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def second_tiny_model(tmp_path_factory):
    """Another tiny random BERT (seed 1), built with the shared conftest helper."""
    spec = importlib.util.spec_from_file_location("_conftest_h5", Path(__file__).with_name(
        "conftest.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_tiny_model(tmp_path_factory.mktemp("tiny-bert-2"), seed=1)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_compare_two_models(capsys, tmp_path, tiny_model_dir, second_tiny_model, corpus_txt):
    figure = tmp_path / "compare.svg"
    models = [tiny_model_dir, second_tiny_model]
    code, out, err = run(capsys, "compare", *models, "--dataset", corpus_txt, "--n-texts", 5,
                         "--seed", 1, "--device", "cpu", "--quiet", "--json", "-",
                         "--plot", figure)
    assert code == 0, err
    records = json.loads(out)
    assert [r["model"] for r in records] == [str(m) for m in models]
    assert all(r["n_texts"] == 5 and r["n_pairs"] == 10 for r in records)
    assert records[0]["mean_socm"] != records[1]["mean_socm"]  # different weights
    # each record is what `report` gives for that model on the same 5 texts and pairs
    for model, record in zip(models, records):
        code, out, _ = run(capsys, "report", "--model", model, "--dataset", corpus_txt,
                           "--n-texts", 5, "--seed", 1, "--device", "cpu", "--quiet",
                           "--json", "-")
        alone = json.loads(out)[0]
        assert alone.keys() == record.keys()
        for key, value in record.items():
            if isinstance(value, float):  # two encoding runs: equal up to round-off
                assert alone[key] == pytest.approx(value, rel=1e-6, abs=1e-12), key
            else:
                assert alone[key] == value, key
    assert figure.read_text().lstrip().startswith("<?xml")
    assert "mean SOCM" not in out  # --json - keeps stdout pure JSON


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_layers_records_match_transform_layers(capsys, tmp_path, tiny_model_dir, corpus_txt,
                                               sample_texts):
    figure = tmp_path / "layers.pdf"
    code, out, err = run(capsys, "layers", *tiny_args(tiny_model_dir, corpus_txt),
                         "--json", "-", "--plot", figure)
    assert code == 0, err
    records = json.loads(out)
    assert [r["layer"] for r in records] == [0, 1, 2]
    layers = TokenEncoder(model=str(tiny_model_dir), device="cpu").transform_layers(
        sample_texts)
    for record in records:
        tokens = layers[record["layer"]]
        assert REQUIRED_FIELDS <= set(record)
        assert record["mean_socm"] == pytest.approx(mean_socm(tokens).mean, rel=1e-6)
        assert record["mean_spread"] == pytest.approx(
            float(np.mean(concentration(tokens).spread)), rel=1e-6)
        assert record["n_truncated"] == 1
    assert figure.read_bytes()[:5] == b"%PDF-"

    code, out, err = run(capsys, "layers", *tiny_args(tiny_model_dir, corpus_txt),
                         "--layers", 2, 0, "--json", "-")
    assert code == 0, err
    assert sorted(r["layer"] for r in json.loads(out)) == [0, 2]


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_ot_reports_gelbrich_bound(capsys, tmp_path, tiny_model_dir, corpus_txt):
    figure = tmp_path / "w2.png"
    code, out, err = run(capsys, "ot", *tiny_args(tiny_model_dir, corpus_txt),
                         "--pairs", 6, "--json", "-", "--plot", figure)
    assert code == 0, err
    record = json.loads(out)[0]
    assert record["n_pairs"] == 6
    assert record["normalize"] is False
    assert record["n_gelbrich_violations"] == 0
    assert 0 < record["mean_gaussian_w2"] <= record["mean_exact_w2"]
    assert figure.stat().st_size > 5_000


# ---------------------------------------------------------------------------------------
# errors: one line, non-zero, no traceback
# ---------------------------------------------------------------------------------------
def _bad_jsonl(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "fine"}\n{"text": "oops"\n', encoding="utf-8")
    return path


def _no_text_field(tmp_path):
    path = tmp_path / "notext.jsonl"
    path.write_text('{"text": "fine"}\n{"body": "no text field"}\n', encoding="utf-8")
    return path


def _one_text(tmp_path):
    path = tmp_path / "one.txt"
    path.write_text("only one text here\n\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("make_args, fragment", [
    (lambda tmp, tiny: ["report", "--dataset", tmp / "missing.txt", "--model", tiny],
     "does not exist"),
    (lambda tmp, tiny: ["report", "--dataset", _bad_jsonl(tmp), "--model", tiny],
     "line 2"),
    (lambda tmp, tiny: ["report", "--dataset", _no_text_field(tmp), "--model", tiny],
     "notext.jsonl, line 2, column 'text'"),
    (lambda tmp, tiny: ["report", "--dataset", _one_text(tmp), "--model", tiny],
     "at least two texts"),
    (lambda tmp, tiny: ["report", "--dataset", "wiki-flms", "--model", tiny],
     "wiki-films"),
    (lambda tmp, tiny: ["report", "--dataset", tmp / "texts.xlsx", "--model", tiny],
     ".txt/.jsonl/.csv/.tsv/.parquet"),
    (lambda tmp, tiny: ["report", "--dataset", tmp / "texts.csv", "--model", tiny],
     "does not exist"),
    (lambda tmp, tiny: ["layers", "--dataset", _one_text(tmp), "--model", tiny],
     "at least two texts"),
    (lambda tmp, tiny: ["report", "--plot", tmp / "nofolder" / "x.png", "--model", tiny],
     "does not exist"),
])
def test_errors_print_one_line(capsys, tmp_path, tiny_model_dir, make_args, fragment):
    code, out, err = run(capsys, *make_args(tmp_path, tiny_model_dir), "--quiet")
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("skpool: error: ")
    assert fragment in lines[0]
    assert "Traceback" not in err + out


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_unknown_model_is_one_line(capsys, tmp_path, corpus_txt):
    for model in ["no-such-model-name", str(tmp_path / "no-such-folder")]:
        code, out, err = run(capsys, "report", "--model", model, "--dataset", corpus_txt,
                             "--quiet", "--device", "cpu")
        assert code == 1
        assert len(err.strip().splitlines()) == 1, err
        assert err.startswith("skpool: error: ") and "no-such" in err
        assert "Traceback" not in err


@pytest.mark.parametrize("args", [
    ["report", "--n-texts", "1"],
    ["report", "--plot", "figure.jpg"],
    ["report", "--pairs", "0"],
    ["frobnicate"],
    ["compare"],
])
def test_usage_errors_exit_2(capsys, args):
    code, out, err = run(capsys, *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("skpool"), err
    assert "error:" in lines[0] and "--help" in lines[0]


def test_debug_env_shows_the_traceback(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("SKPOOL_DEBUG", "1")
    with pytest.raises(FileNotFoundError):
        main(["report", "--dataset", str(tmp_path / "missing.txt")])


def test_help_in_a_subprocess():
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    done = subprocess.run([sys.executable, "-m", "skpool", "--help"], capture_output=True,
                          text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    for command in ("report", "compare", "layers", "ot"):
        assert command in done.stdout
    assert "torch" not in done.stderr
    done = subprocess.run([sys.executable, "-m", "skpool", "report", "--help"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0
    for option in ("--model", "--dataset", "--n-texts", "--layer", "--max-length", "--pairs",
                   "--seed", "--json", "--plot", "--batch-size", "--quiet"):
        assert option in done.stdout


def test_help_does_not_import_torch():
    code = ("import sys; from skpool.cli import main; "
            "rc = main(['report', '--help']); "
            "print('torch' in sys.modules, 'matplotlib' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "False False"


# ---------------------------------------------------------------------------------------
# the real thing
# ---------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_report_bundled_model_on_wiki_films(capsys, bundled_model_path):
    code, out, err = run(capsys, "report", "--n-texts", 20, "--quiet", "--json", "-")
    assert code == 0, err
    record = json.loads(out)[0]
    assert record["model"] == "all-MiniLM-L6-v2"
    assert record["dataset"] == "wiki-films"
    assert record["n_texts"] == 20 and record["n_pairs"] == 190 and record["exact"]
    assert record["layer"] == 6 and record["max_length"] == 256
    # the last layer of all-MiniLM-L6-v2 breaks the trace assumption on film
    # leads, and the values are not clipped
    assert record["n_trace_violations"] > 0
    assert record["mean_spread"] > 2
    assert np.isfinite(record["mean_socm"]) and record["mean_socm"] > 0


@pytest.mark.parametrize("name, loader", [("wiki-films", "load_wiki_films"),
                                          ("bbc-news", "load_bbc_news"),
                                          ("rotten-tomatoes", "load_rotten_tomatoes")])
def test_named_corpora_are_the_library_samples(name, loader):
    from skpool import datasets
    from skpool.datasets import load_corpus

    corpus = load_corpus(name, n_texts=12, random_state=3)
    assert corpus.texts == getattr(datasets, loader)(n_texts=12, random_state=3).texts
    assert corpus.n_available == len(getattr(datasets, loader)().texts) > 12
