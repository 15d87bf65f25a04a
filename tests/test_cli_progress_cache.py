"""The command line's progress bars, --quiet and --verbose, and its embedding cache.

Every command shows tqdm bars on stderr while it works and nothing but its
results with ``--quiet`` (the results themselves are the same). The cache is
on by default under ``$SKPOOL_HOME``: a second command on the same texts and
model runs no forward pass (counted), and gives the same numbers as encoding
again. Each test here has its own ``$SKPOOL_HOME``.
"""

from __future__ import annotations

import json
import os
import time

import pytest

import skpool
import skpool.analysis
import skpool.metrics
import skpool.ot
from skpool.cli import main
from skpool.encoder import clear_model_cache
from skpool.encoder import _torch as torch_backend
from skpool.encoder._cache import cache_summary, clear_cache


@pytest.fixture
def home(tmp_path, monkeypatch):
    folder = tmp_path / "skpool-home"
    monkeypatch.setenv("SKPOOL_HOME", str(folder))
    return folder


@pytest.fixture
def corpus(tmp_path, sample_texts):
    path = tmp_path / "texts.txt"
    path.write_text("\n".join(sample_texts) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def forward_passes(monkeypatch):
    """The number of encoding calls that reach the model (cache misses)."""
    calls = []
    encode = torch_backend.encode

    def counting(loaded, tokens, layers, **kwargs):
        calls.append(len(tokens.keep))
        return encode(loaded, tokens, layers, **kwargs)

    monkeypatch.setattr(torch_backend, "encode", counting)
    return calls


def run(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def options(model, corpus, *extra):
    return ["--model", model, "--dataset", corpus, "--n-texts", "all", "--device", "cpu",
            "--n-jobs", "1", *extra]


# ---------------------------------------------------------------------------------------
# Progress and quiet
# ---------------------------------------------------------------------------------------
COMMANDS = {
    # command, extra options, the bars its slow steps must show
    "report": ([], ["Encoding", "SOCM (all pairs)"]),
    "report-sampled": (["--pairs", "10"], ["Encoding", "SOCM (sampled pairs)"]),
    "compare": ([], ["Encoding", "SOCM (all pairs)"]),
    "layers": ([], ["Encoding", "SOCM per layer"]),
    "ot": (["--pairs", "10"], ["Encoding", "Exact W2"]),
    "pairs": (["--top", "2"], ["Encoding", "cosine (all pairs)", "SOCM (all pairs)"]),
    "neighbours": (["--neighbours", "2", "--top", "2"],
                   ["Encoding", "neighbours (exact index)", "SOCM (neighbour pairs)"]),
    # its tables are its results, as every command's are: --quiet keeps them all
    "evaluate": (["--label-column", "label", "--layers", "-1", "-p", "mean", "--pairs", "10",
                  "--folds", "2", "--bootstrap", "20"], ["evaluate ", "encoding 8 texts"]),
}


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_shows_progress_and_quiet_silences_it(capsys, home, tmp_path,
                                                            tiny_model_dir, corpus,
                                                            sample_texts, name):
    extra, bars = COMMANDS[name]
    command = name.split("-")[0]
    if command == "evaluate":  # a labelled corpus: a classification task
        corpus = tmp_path / "labelled.csv"
        corpus.write_text("text,label\n" + "".join(f'"{t}",{i % 2}\n'
                                                    for i, t in enumerate(sample_texts)),
                          encoding="utf-8")
    args = options(str(tiny_model_dir), corpus, "--no-cache", *extra)
    if command == "compare":  # the models are positional
        args = [str(tiny_model_dir), *args[2:]]
    code, out, err = run(capsys, command, *args)
    assert code == 0, err
    for bar in bars:
        assert bar in err, f"no {bar!r} bar on stderr:\n{err}"
    assert bars[0] not in out  # bars never go to stdout

    code, quiet_out, quiet_err = run(capsys, command, *args, "--quiet")
    assert code == 0
    assert quiet_err == ""
    assert quiet_out == out  # the same results, and only them


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_report_figure_pairs_have_a_bar(capsys, home, tmp_path, tiny_model_dir, corpus):
    pytest.importorskip("matplotlib")
    figure = tmp_path / "pairs.png"
    code, _, err = run(capsys, "report", *options(str(tiny_model_dir), corpus),
                       "--plot", figure)
    assert code == 0, err
    # one bar: the figure draws the pairs of the report's own pass, not a second one
    assert err.count("SOCM (all pairs): 100%") == 1
    assert figure.stat().st_size > 0


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_transformers_loading_output_only_with_verbose(capsys, home, tiny_model_dir, corpus):
    args = options(str(tiny_model_dir), corpus, "--no-cache", "--pairs", "3")
    clear_model_cache()
    code, _, err = run(capsys, "report", *args)
    assert code == 0
    assert "Loading weights" not in err
    clear_model_cache()
    code, _, err = run(capsys, "report", *args, "--verbose")
    assert code == 0
    assert "Loading weights" in err


def test_quiet_and_verbose_exclude_each_other(capsys):
    code, _, err = run(capsys, "report", "--quiet", "--verbose")
    assert code == 2 and "not allowed with" in err


# ---------------------------------------------------------------------------------------
# The embedding cache
# ---------------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_report_then_ot_pairs_layers_encode_once(capsys, home, tmp_path, tiny_model_dir,
                                                corpus, sample_texts, forward_passes):
    args = options(str(tiny_model_dir), corpus, "--quiet")
    code, _, err = run(capsys, "report", *args, "--json", tmp_path / "cached.json")
    assert code == 0, err
    assert forward_passes == [len(sample_texts)]  # one pass over every text
    assert (home / "tokens").is_dir()  # the default folder, under $SKPOOL_HOME

    for command, extra in (("ot", ["--pairs", "5"]), ("pairs", ["--top", "2"]), ("layers", []),
                           ("report", ["--pairs", "7"])):
        code, _, err = run(capsys, command, *args, *extra)
        assert code == 0, err
    assert forward_passes == [len(sample_texts)]  # nothing encoded again

    # the cached tokens give the numbers a fresh encoding gives
    code, _, err = run(capsys, "report", *args, "--no-cache", "--json",
                       tmp_path / "fresh.json")
    assert code == 0, err
    assert len(forward_passes) == 2
    cached = json.loads((tmp_path / "cached.json").read_text())[0]
    fresh = json.loads((tmp_path / "fresh.json").read_text())[0]
    for key in ("mean_socm", "mean_d_mu", "mean_d_sigma", "mean_spread", "mean_cosine"):
        assert cached[key] == pytest.approx(fresh[key], rel=1e-6), key
    assert cached["n_truncated"] == fresh["n_truncated"] >= 1


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_cache_option_no_cache_and_cache_info_clear(capsys, home, tmp_path, tiny_model_dir,
                                                    corpus, sample_texts, forward_passes):
    folder = tmp_path / "elsewhere"
    args = options(str(tiny_model_dir), corpus, "--quiet")
    assert run(capsys, "report", *args, "--no-cache")[0] == 0
    assert not (home / "tokens").exists() and not folder.exists()
    assert run(capsys, "report", *args, "--cache", folder)[0] == 0
    assert not (home / "tokens").exists()
    assert run(capsys, "ot", *args, "--cache", folder, "--pairs", "4")[0] == 0
    assert len(forward_passes) == 2  # --no-cache, then the first run with --cache

    code, out, err = run(capsys, "cache", "info", "--cache", folder, "--json", "-")
    assert code == 0, err
    summary = json.loads(out)
    n_layers = 2  # the tiny model: hidden states 0, 1, 2 are all stored
    assert summary["n_entries"] == len(sample_texts) * (n_layers + 1)
    (model,) = summary["models"]
    assert model["model"] == str(tiny_model_dir)
    assert model["n_texts"] == len(sample_texts) and model["layers"] == [0, 1, 2]
    assert model["n_bytes"] == summary["n_bytes"] > 0
    assert str(tiny_model_dir)[-20:] in err and "entries" in err  # the text, on stderr

    code, out, _ = run(capsys, "cache", "clear", "--cache", folder, "--max-size", "1G")
    assert code == 0 and "removed 0 entries" in out
    code, out, _ = run(capsys, "cache", "clear", "--cache", folder)
    assert code == 0 and f"removed {summary['n_entries']} entries" in out
    assert cache_summary(folder)["n_entries"] == 0
    code, out, _ = run(capsys, "cache", "info", "--cache", folder)
    assert code == 0 and "none" in out


def test_cache_and_no_cache_exclude_each_other(capsys, home, tmp_path, tiny_model_dir,
                                              corpus):
    code, out, err = run(capsys, "report", *options(str(tiny_model_dir), corpus, "--quiet"),
                         "--cache", tmp_path / "c", "--no-cache")
    # refused while parsing, before the corpus or the model is read
    assert code == 2 and out == ""
    assert err.startswith("skpool report: error: argument --no-cache: not allowed with "
                          "argument --cache")


def test_cache_info_of_the_default_folder_before_any_run(capsys, home):
    code, out, _ = run(capsys, "cache", "info")
    assert code == 0
    assert str(home / "tokens") in out and "none" in out


@pytest.mark.parametrize("size", ["ten", "-1G", "5X", "inf"])
def test_cache_clear_bad_size_is_a_usage_error(capsys, size):
    code, _, err = run(capsys, "cache", "clear", f"--max-size={size}")
    assert code == 2 and "--max-size" in err and "500M" in err


def test_clear_cache_to_a_size_removes_least_recently_used_first(tmp_path):
    root = tmp_path / "skpool-tokens-v1" / "ns"
    now = time.time()
    for k in range(6):  # entries of 100, 200, ... 600 bytes, used k hours ago
        path = root / "ab" / f"{k:064x}-0.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * (100 * (k + 1)))
        os.utime(path, (now - 3600 * k, now - 3600 * k))
    assert cache_summary(tmp_path)["n_bytes"] == 2100
    removed, freed = clear_cache(tmp_path, max_bytes=700)
    # the least recently used (k = 5, 4, 3: 600 + 500 + 400 bytes) go first,
    # until the rest (100 + 200 + 300 = 600) fits in 700
    assert (removed, freed) == (3, 1500)
    left = sorted(p.name[:64] for p in root.glob("*/*.npz"))
    assert left == [f"{k:064x}" for k in range(3)]
    assert clear_cache(tmp_path) == (3, 600)
    assert not (tmp_path / "skpool-tokens-v1").exists()


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_cache_reads_refresh_last_use(home, tiny_model_dir, sample_texts):
    from skpool import TokenEncoder

    folder = home / "tokens"
    encoder = TokenEncoder(model=str(tiny_model_dir), device="cpu", cache=str(folder))
    encoder.fit_transform(sample_texts[:2])
    entries = sorted(folder.rglob("*.npz"))
    past = time.time() - 86_400
    for path in entries:
        os.utime(path, (past, past))
    encoder.transform(sample_texts[:1])
    used = [path.stat().st_mtime > past + 3600 for path in entries]
    assert sum(used) == 1  # the text read again, its one stored layer


# ---------------------------------------------------------------------------------------
# skpool layers: --layers only
# ---------------------------------------------------------------------------------------
def test_layers_help_has_no_layer_option(capsys):
    assert main(["layers", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--layers" in out and "--log-scale" in out
    assert "--layer " not in out and "--layer L" not in out and "ignored" not in out


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("layer", ["9", "-4"])
def test_layers_out_of_range_names_the_option(capsys, home, tiny_model_dir, corpus, layer):
    code, _, err = run(capsys, "layers", *options(str(tiny_model_dir), corpus, "--quiet"),
                       "--layers", "0", layer)
    assert code == 1
    assert err.startswith("skpool: error: --layers:") and f"got {layer}" in err
    assert "transform_layers" not in err and "0 (the embedding layer) to 2" in err


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("log_scale", [False, True])
def test_layers_log_scale_figure(capsys, monkeypatch, home, tmp_path, tiny_model_dir, corpus,
                                 log_scale):
    pytest.importorskip("matplotlib")
    from skpool import plotting

    drawn = []
    draw = plotting.plot_layer_profile

    def recording(*args, **kwargs):
        figure = draw(*args, **kwargs)
        drawn.append([axis.get_yscale() for axis in figure.axes])
        return figure

    monkeypatch.setattr(plotting, "plot_layer_profile", recording)
    figure = tmp_path / "layers.png"
    code, _, err = run(capsys, "layers", *options(str(tiny_model_dir), corpus, "--quiet"),
                       "--plot", figure, *(["--log-scale"] if log_scale else []))
    assert code == 0, err
    assert figure.stat().st_size > 0
    # SOCM and the spread ratio are positive at every layer: both panels follow the option
    assert drawn[0][:2] == (["log", "log"] if log_scale else ["linear", "linear"])


# ---------------------------------------------------------------------------------------
# Reading the numbers
# ---------------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_reports_say_how_to_read_socm_and_where_it_was_measured(capsys, home, tiny_model_dir,
                                                                corpus):
    args = options(str(tiny_model_dir), corpus, "--quiet", "--max-length", "32")
    code, report, _ = run(capsys, "report", *args)
    assert code == 0
    socm_line = next(line for line in report.splitlines() if line.startswith("mean SOCM"))
    for label in ("mean SOCM", "mean d_mu", "mean d_Sigma"):
        line = next(line for line in report.splitlines() if line.startswith(label))
        assert "[texts.txt, 8 texts, max_length 32]" in line, line  # the file, by name
    flat = " ".join(report.split())
    assert "higher = more collapse" in flat
    assert "0.018 to 0.396 for twelve encoders on 1,000 Wikipedia texts" in flat
    assert "(0.100 for all-mpnet-base-v2)" in flat
    assert "[0, 1]" in flat and "tr(Sigma) <= 2" in flat  # the range holds under the assumption
    assert len(socm_line) <= 100 and max(len(line) for line in report.splitlines()) <= 100

    for command in (["layers", *args], ["compare", str(tiny_model_dir), *args[2:]]):
        code, table, _ = run(capsys, *command)
        assert code == 0
        flat = " ".join(table.split())
        assert "8 texts, max_length 32" in flat
        assert "higher = more collapse" in flat and "0.018 to 0.396" in flat
        assert max(len(line) for line in table.splitlines()[:3]) <= 88


def test_user_guide_lists_each_commands_json_fields():
    import dataclasses
    import re
    from pathlib import Path

    from skpool.analysis import CollapseRecord, OTRecord

    guide = (Path(__file__).resolve().parents[1] / "docs" / "user-guide.md").read_text(
        encoding="utf-8")
    for marker, record in (("- `skpool report`, `compare` and `layers`:", CollapseRecord),
                           ("- `skpool ot`:", OTRecord)):
        item = guide[guide.index(marker):]
        item = item[:item.index("(`skpool.analysis.")]
        listed = re.findall(r"`(\w+)`", item[item.index("the fields"):])
        assert sorted(listed) == sorted(f.name for f in dataclasses.fields(record)), marker


# ---------------------------------------------------------------------------------------
# The library: quiet by default, the same numbers with a bar
# ---------------------------------------------------------------------------------------
def _clouds(n=40, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    return [rng.normal(size=(int(rng.integers(3, 30)), 12)) + 1.0 for _ in range(n)]


@pytest.mark.parametrize("call, bar", [
    (lambda c, p: skpool.mean_socm(c, n_jobs=2, working_memory=0.05, progress=p).mean,
     "SOCM (all pairs)"),
    (lambda c, p: skpool.mean_socm(c, 300, random_state=0, n_jobs=2, progress=p).mean,
     "SOCM (sampled pairs)"),
    (lambda c, p: skpool.pairwise_socm(c, n_jobs=2, working_memory=0.05, progress=p),
     "SOCM (all pairs)"),
    (lambda c, p: skpool.metrics.pairwise_bures_squared(c, progress=p), "Bures (all pairs)"),
    (lambda c, p: skpool.ot.compare_w2(c, 30, random_state=0, n_jobs=2,
                                      progress=p).table["exact_w2"].to_numpy(), "Exact W2"),
    (lambda c, p: skpool.analysis.pair_components(c, n_pairs=50, random_state=0,
                                                  progress=p).socm, "SOCM (sampled pairs)"),
])
def test_library_progress_is_off_by_default_and_changes_nothing(capsys, call, bar):
    import numpy as np

    clouds = _clouds()
    quiet = call(clouds, False)
    assert capsys.readouterr().err == ""
    shown = call(clouds, True)
    err = capsys.readouterr().err
    assert bar in err and "100%" in err
    # the same tasks in the same order: the same numbers, bit for bit
    np.testing.assert_array_equal(np.asarray(shown), np.asarray(quiet))


def test_library_progress_must_be_a_bool():
    with pytest.raises(TypeError, match="'progress' parameter of mean_socm must be an instance of 'bool'"):
        skpool.mean_socm(_clouds(4), progress="yes")


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_commands_keep_the_cache_under_its_limit(capsys, monkeypatch, home, tiny_model_dir,
                                                 corpus, forward_passes):
    args = options(str(tiny_model_dir), corpus)
    assert run(capsys, "report", *args, "--quiet")[0] == 0
    full = cache_summary(home / "tokens")["n_bytes"]
    monkeypatch.setenv("SKPOOL_CACHE_MAX_SIZE", str(full // 2))
    code, _, err = run(capsys, "ot", *args, "--pairs", "3")
    assert code == 0
    assert "SKPOOL_CACHE_MAX_SIZE" in err and "least recently used" in err
    left = cache_summary(home / "tokens")
    assert 0 < left["n_bytes"] <= full // 2
    # ot read the last layer (2) of every text: those entries were used last and are kept
    kept = [int(p.stem.rpartition("-")[2]) for p in (home / "tokens").rglob("*.npz")]
    assert kept.count(2) == 8 and len(kept) < 24
    assert len(forward_passes) == 1

    code, out, _ = run(capsys, "cache", "info", "--json", "-")
    assert json.loads(out)["max_bytes"] == full // 2

    monkeypatch.setenv("SKPOOL_CACHE_MAX_SIZE", "lots")
    code, out, err = run(capsys, "report", *args, "--quiet")
    assert code == 1 and out == ""
    assert err.startswith("skpool: error: SKPOOL_CACHE_MAX_SIZE: expected a size")
    assert len(forward_passes) == 1  # refused before any work


@pytest.mark.parametrize("action", ["clear", "info"])
def test_cache_that_is_a_file_is_named_not_emptied(capsys, home, tmp_path, action):
    # "removed 0 entries" would hide that --cache names the wrong thing
    path = tmp_path / "notes.txt"
    path.write_text("not a cache\n", encoding="utf-8")
    code, out, err = run(capsys, "cache", action, "--cache", path)
    assert code == 1 and out == ""
    assert err.startswith(f"skpool: error: --cache: {str(path)!r} is a file, not a cache folder")
    assert path.read_text(encoding="utf-8") == "not a cache\n"


def test_report_cache_that_is_a_file_fails_before_the_model(capsys, home, tmp_path, corpus):
    path = tmp_path / "notes.txt"
    path.write_text("x\n", encoding="utf-8")
    code, out, err = run(capsys, "report", "--dataset", corpus, "--model", "/nonexistent/m",
                         "--cache", path, "--quiet")
    assert code == 1 and "is a file, not a cache folder" in err and "/nonexistent" not in err
