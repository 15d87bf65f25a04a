"""Bad input to the command line and the data layer: each case is one clear error.

Two tables. ``CLI_CASES``: an argument list for ``skpool``, the exit status
and a fragment of the one ``skpool: error: ...`` line; the model is a folder
that does not exist, so a case that got as far as loading a model would fail
with the model's message instead of the option's. ``LIBRARY_CASES``: a call
into the data layer or the analysis functions, the exception type and a
fragment of its message.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from skpool import CollapseFeatures, CollapseScorer, MeanPooler
from skpool.analysis import (collapse_report, collapse_report_of_tokens, compare_models,
                             layer_profile, ot_report, pair_components)
from skpool.cli import main
from skpool.datasets import load_corpus, load_rotten_tomatoes, load_wiki_films, read_corpus
from skpool._validation import check_texts

NO_MODEL = "/nonexistent/skpool-model"


def _write(folder: Path, name: str, content, mode="w"):
    path = folder / name
    if mode == "wb":
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _corpus(folder):
    return _write(folder, "texts.txt", "a first text\na second text\na third text\n")


def _unwritable(folder):
    """A path the test process cannot write (root writes through file modes)."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        if not Path("/proc/version").exists():
            pytest.skip("no unwritable path for root on this system")
        return Path("/proc/version")
    locked = folder / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    return locked / "out.json"


# (case, argv builder(tmp) -> list, exit status, fragment of the error line)
CLI_CASES = [
    ("n-jobs zero", lambda t: ["report", "--n-jobs", "0"], 2, "--n-jobs"),
    ("n-jobs not a number", lambda t: ["report", "--n-jobs", "x"], 2, "--n-jobs"),
    ("negative seed with pairs", lambda t: ["report", "--seed", "-1", "--pairs", "5"], 2,
     "--seed"),
    ("seed too large", lambda t: ["ot", "--seed", str(2**32)], 2, "--seed"),
    ("n-texts one", lambda t: ["report", "--n-texts", "1"], 2, "--n-texts"),
    ("cache with no-cache", lambda t: ["pairs", "--cache", str(t), "--no-cache"], 2,
     "not allowed with argument --cache"),
    ("remote scheduler without store",
     lambda t: ["report", "--scheduler", "tcp://127.0.0.1:1"], 2, "needs --store DIR"),
    ("partition size without a store",
     lambda t: ["pairs", "--partition-size", "16"], 2, "--partition-size 16 needs --store DIR"),
    ("layers on a remote scheduler without store",
     lambda t: ["layers", "--scheduler", "tcp://127.0.0.1:1"], 2, "needs --store DIR"),
    ("evaluate partition size without a store",
     lambda t: ["evaluate", "--partition-size", "8"], 2, "--partition-size 8 needs --store DIR"),
    ("layers given twice", lambda t: ["layers", "--layers", "1", "2", "1"], 2,
     "--layers: each layer once, got 1"),
    ("evaluate layers given twice", lambda t: ["evaluate", "--layers", "-1", "-1"], 2,
     "--layers"),
    ("layers not integers", lambda t: ["layers", "--layers", "0-3"], 2, "--layers"),
    ("pairs zero", lambda t: ["report", "--pairs", "0"], 2, "--pairs"),
    ("max-length zero", lambda t: ["layers", "--max-length", "0"], 2, "--max-length"),
    ("plot with an unknown suffix", lambda t: ["report", "--plot", str(t / "x.gif")], 2,
     "--plot"),
    ("json is a folder", lambda t: ["report", "--dataset", str(_corpus(t)), "--json", str(t)],
     1, "--json"),
    ("json in a missing folder",
     lambda t: ["report", "--dataset", str(_corpus(t)), "--json", str(t / "no" / "r.json")],
     1, "does not exist"),
    ("json unwritable",
     lambda t: ["report", "--dataset", str(_corpus(t)), "--json", str(_unwritable(t))],
     1, "--json"),
    ("plot is a folder",
     lambda t: ["report", "--dataset", str(_corpus(t)), "--plot", str(t / "fig.png")],
     1, "--plot"),
    ("missing corpus file", lambda t: ["report", "--dataset", str(t / "missing.txt")], 1,
     "does not exist"),
    ("unknown corpus name", lambda t: ["compare", "m1", "--dataset", "wiki-flms"], 1,
     "wiki-films"),
    ("corpus file with another suffix", lambda t: ["report", "--dataset", str(t / "x.xlsx")],
     1, ".txt/.jsonl/.csv/.tsv/.parquet"),
    ("invalid JSON line",
     lambda t: ["report", "--dataset", str(_write(t, "bad.jsonl", '{"text": "a"}\n{"text"\n'))],
     1, "line 2"),
    ("JSON line without text",
     lambda t: ["report", "--dataset", str(_write(t, "b.jsonl", '{"text": "a"}\n{"x": 1}\n'))],
     1, "b.jsonl, line 2, column 'text'"),
    ("lone surrogate in a JSON line",
     lambda t: ["ot", "--dataset",
                str(_write(t, "s.jsonl", '{"text": "fine"}\n{"text": "abc\\ud800def"}\n'))],
     1, "s.jsonl, line 2, column 'text'"),
    ("file that is not UTF-8",
     lambda t: ["layers", "--dataset", str(_write(t, "latin.txt", b"caf\xe9\nok\n", "wb"))],
     1, "UTF-8"),
    ("one text only", lambda t: ["report", "--dataset", str(_write(t, "one.txt", "x\n\n"))],
     1, "at least two texts"),
]


@pytest.mark.parametrize("case, make_argv, status, fragment", CLI_CASES,
                         ids=[c[0] for c in CLI_CASES])
def test_cli_bad_input_is_one_line(case, make_argv, status, fragment, tmp_path, capsys):
    if case == "plot is a folder":
        (tmp_path / "fig.png").mkdir()
    argv = [*make_argv(tmp_path), "--quiet"]
    if argv[0] != "compare":
        argv += ["--model", NO_MODEL]
    code = main(argv)
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == status, captured.err
    assert len(lines) == 1, captured.err
    # "skpool: error: ..." or, for a malformed command line, "skpool report: error: ..."
    assert re.match(r"skpool( [a-z]+)?: error: ", lines[0]), lines[0]
    assert fragment in lines[0]
    assert "Traceback" not in captured.err + captured.out
    assert NO_MODEL not in lines[0]  # the option failed before any model was looked at
    assert captured.out == ""


def test_output_probe_leaves_no_file(tmp_path, capsys):
    # the up-front check of --json must not leave an empty file behind when the run fails
    target = tmp_path / "report.json"
    code = main(["report", "--dataset", str(tmp_path / "missing.txt"), "--json", str(target),
                 "--model", NO_MODEL, "--quiet"])
    assert code == 1 and not target.exists()
    capsys.readouterr()


# -- the data layer and the analysis functions ------------------------------------------------
def _clouds(n=4):
    rng = np.random.default_rng(0)
    return [rng.normal(size=(3, 4)) + 2.0 for _ in range(n)]


def _latin1(tmp):
    return _write(tmp, "latin.txt", b"caf\xe9\n", "wb")


# (case, call(tmp), exception type, fragment of the message)
LIBRARY_CASES = [
    ("corpus name of a wrong type", lambda t: load_corpus(3), TypeError, "corpus name"),
    ("unknown corpus name", lambda t: load_corpus("wiki-flms"), ValueError, "'wiki-films'"),
    ("corpus sample of one", lambda t: load_corpus("wiki-films", n_texts=1), ValueError,
     "n_texts"),
    ("corpus seed negative", lambda t: load_corpus(str(_corpus(t)), n_texts=2,
                                                  random_state=-1), ValueError, "random_state"),
    ("missing file", lambda t: read_corpus(t / "none.txt"), FileNotFoundError,
     "does not exist"),
    ("file not UTF-8", lambda t: read_corpus(_latin1(t)), ValueError, "UTF-8"),
    ("lone surrogate", lambda t: check_texts(["ok", "abc\ud800def"]), ValueError, "index 1"),
    ("a single string", lambda t: check_texts("one text"), TypeError, "wrap it in a list"),
    ("a None text", lambda t: check_texts(["a", None]), TypeError, "index 1"),
    ("return_X_y not a bool", lambda t: load_wiki_films(return_X_y="yes"), TypeError,
     "return_X_y"),
    ("unknown category", lambda t: load_rotten_tomatoes(categories=["meh"]), ValueError,
     "categories"),
    ("report seed negative", lambda t: collapse_report_of_tokens(_clouds(), random_state=-1),
     ValueError, "random_state"),
    ("report seed a Generator (scikit-learn's convention: int or RandomState)",
     lambda t: collapse_report_of_tokens(_clouds(), random_state=np.random.default_rng(0)),
     TypeError, "RandomState"),
    ("report n_jobs zero", lambda t: collapse_report(["a", "b"], NO_MODEL, n_jobs=0),
     ValueError, "n_jobs"),
    ("report n_jobs text", lambda t: ot_report(["a", "b"], NO_MODEL, n_jobs="x"), TypeError,
     "n_jobs"),
    ("one text for a report", lambda t: collapse_report(["a"], NO_MODEL), ValueError,
     "at least two texts"),
    ("pairs seed negative", lambda t: pair_components(_clouds(), random_state=-1), ValueError,
     "random_state"),
    ("layer profile of one text", lambda t: layer_profile(NO_MODEL, ["a"]), ValueError,
     "at least 2 texts"),
    ("layer profile of a pooler", lambda t: layer_profile(MeanPooler(), ["a", "b"]), TypeError,
     "TokenEncoder"),
    ("models as one string", lambda t: compare_models(["a", "b"], "model"), ValueError,
     "list of model names"),
    ("scorer seed negative",
     lambda t: CollapseScorer(random_state=-1)(MeanPooler().fit(_clouds()), _clouds()),
     ValueError, "random_state"),
    ("scorer n_jobs zero",
     lambda t: CollapseScorer(n_jobs=0)(MeanPooler().fit(_clouds()), _clouds()),
     ValueError, "n_jobs"),
    ("features seed negative", lambda t: CollapseFeatures(random_state=-1).fit(_clouds()),
     ValueError, "random_state"),
    ("features n_jobs zero", lambda t: CollapseFeatures(n_jobs=0).fit(_clouds()), ValueError,
     "n_jobs"),
    ("features no landmarks", lambda t: CollapseFeatures(n_landmarks=0).fit(_clouds()),
     ValueError, "n_landmarks"),
]


@pytest.mark.parametrize("case, call, error, fragment", LIBRARY_CASES,
                         ids=[c[0] for c in LIBRARY_CASES])
def test_library_bad_input_is_a_clear_error(case, call, error, fragment, tmp_path):
    with pytest.raises(error) as info:
        call(tmp_path)
    assert fragment in str(info.value)
    # raised by skpool (or scikit-learn's parameter validation), not deep inside NumPy
    module = info.traceback[-1].frame.f_globals.get("__name__", "")
    assert module.startswith(("skpool", "sklearn.utils._param_validation")), module


def test_tables_cover_every_option_check():
    # each up-front CLI check is in the table once at least
    text = json.dumps([c[0] for c in CLI_CASES])
    for word in ("n-jobs", "seed", "json", "plot"):
        assert word in text
