"""``evaluate`` never loses finished work and never ends with nothing to show.

- A score that does not exist (CLS pooling at the embedding layer gives every
  Lee-50 text the same vector) is NaN with a reason, JSON ``null``, and the
  JSON and the figure are both written.
- A task that none of the requested poolings can score is an error before any
  work; a pooling that skips some tasks says so.
- Each finished result is in the journal as soon as it exists: a run killed
  from outside (a real subprocess, SIGKILL) leaves its finished part on disk,
  and the same command run again resumes from it and ends with the same JSON
  as an uninterrupted run.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from skpool import TokenEncoder
from skpool.cli import main
from skpool.evaluation import EvaluationRecord, evaluate
from skpool.evaluation._journal import Journal

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def corpora_installed():
    from skpool.datasets import DatasetNotInstalledError, load_bbc_news, load_lee50

    try:
        load_lee50()
        load_bbc_news()
    except DatasetNotInstalledError as exc:
        pytest.skip(str(exc))


def _record(**changes):
    values = dict(model="m", layer=0, pooling="cls", task="lee-50", metric="spearman",
                  score=0.5, score_std=0.1, mean_socm=1.0, stderr=0.1, n_trace_violations=0,
                  matched_socm=0.2, matched_stderr=0.01, mean_spread=3.0, mean_cosine=0.4,
                  n_texts=8, n_pairs=10, n_truncated=0)
    values.update(changes)
    return EvaluationRecord(**values)


# ---------------------------------------------------------------------------------------
# Records and the journal
# ---------------------------------------------------------------------------------------
def test_a_missing_score_is_null_with_its_reason_and_reads_back_as_nan():
    record = _record(score=math.nan, score_std=math.nan, note="no score: constant")
    written = record.to_dict()
    assert written["score"] is None and written["score_std"] is None
    assert written["note"] == "no score: constant"
    json.dumps(written, allow_nan=False)  # what --json needs
    back = EvaluationRecord.from_dict(written)
    assert math.isnan(back.score) and back.mean_socm == record.mean_socm
    assert _record().to_dict()["score"] == 0.5


def test_the_journal_keeps_finished_results_and_drops_a_line_cut_short(tmp_path):
    path = tmp_path / "run.jsonl"
    journal = Journal(path)
    assert len(journal) == 0 and not path.exists()
    journal.add("a", _record())
    journal.add("b", _record(score=math.nan, note="no score: constant"))
    with open(path, "a", encoding="utf-8") as handle:  # what a kill mid-write leaves
        handle.write('{"key": "c", "record": {"model": "m", "lay')
    again = Journal(path)
    assert len(again) == 2 and again.get("c") is None
    record, diagnostics = again.get("a")
    assert record == _record() and diagnostics == ()
    assert math.isnan(again.get("b")[0].score)
    assert again.get("a", needs_diagnostics=True) is None  # written without the diagnostic
    again.add("c", _record(layer=1))
    assert len(Journal(path)) == 3  # the new line did not continue the cut one
    Journal(path).remove()
    assert not path.exists()


# ---------------------------------------------------------------------------------------
# Poolings a task cannot use
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("task, poolings, message", [
    ("lee-50", ["gaussian-projected"], "similarity task 'lee-50': gaussian-projected does "
                                       "not apply"),
    ("bbc-news", ["w2-exact", "w2-gaussian"], "classification task 'bbc-news': w2-exact, "
                                              "w2-gaussian do not apply"),
])
def test_a_task_no_pooling_can_score_is_an_error_before_any_work(tiny_model_dir, task,
                                                                 poolings, message):
    encoder = TokenEncoder(model=str(tiny_model_dir), device="cpu")
    with pytest.raises(ValueError, match=message):
        evaluate(encoder, [task], poolings=poolings)


def test_the_command_says_so_with_status_1(capsys, tiny_model_dir):
    code = main(["evaluate", "--model", str(tiny_model_dir), "-d", "lee-50", "-n", "8",
                 "--layers", "-1", "-p", "gaussian-projected", "--bootstrap", "20",
                 "--device", "cpu", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    assert "pooling that can score the similarity task 'lee-50'" in err
    assert "choose among ['mean', 'cls'" in err


# ---------------------------------------------------------------------------------------
# A score that does not exist
# ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_cls_at_the_embedding_layer_is_null_with_a_reason_and_json_and_figure_are_written(
        capsys, tmp_path, tiny_model_dir, corpora_installed):
    pytest.importorskip("matplotlib")
    out_json, figure = tmp_path / "e.json", tmp_path / "e.png"
    code = main(["evaluate", "--model", str(tiny_model_dir), "-d", "lee-50", "bbc-news",
                 "-n", "10", "--layers", "0", "-1", "-p", "cls", "gaussian-diag",
                 "--pairs", "10", "--folds", "2", "--bootstrap", "20", "--device", "cpu",
                 "--quiet", "--json", str(out_json), "--plot", str(figure)])
    out, err = capsys.readouterr()
    assert code == 0, err
    records = json.loads(out_json.read_text())["records"]
    missing = [r for r in records if r["score"] is None]
    assert [(r["task"], r["layer"], r["pooling"]) for r in missing] == [("lee-50", 0, "cls")]
    assert "same cls similarity" in missing[0]["note"] and missing[0]["score_std"] is None
    assert all(r["note"] == "" and r["score"] is not None for r in records if r not in missing)
    assert figure.stat().st_size > 0
    # the table shows '-' and says why; the skipped pooling is named
    assert "score '-' (" in out and "layer 0, lee-50, cls): no score:" in out
    assert "gaussian-diag does not apply to lee-50" in out
    # the correlation leaves the missing point out and says so
    assert "without a score left out" in out


# ---------------------------------------------------------------------------------------
# Resuming
# ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_journal_hands_back_its_results_instead_of_computing_them(tmp_path, tiny_model_dir,
                                                                    corpora_installed):
    encoder = {"tiny": TokenEncoder(model=str(tiny_model_dir), device="cpu")}
    settings = dict(layers=[1, 2], poolings=["mean", "w2-gaussian"], n_texts=10, n_pairs=10,
                    n_folds=2, n_bootstrap=20, random_state=0)
    path = tmp_path / "journal.jsonl"
    first = evaluate(encoder, ["lee-50", "bbc-news"], journal=path, **settings)
    lines = path.read_text().splitlines()
    assert len(lines) == len(first.records) == 2 * (2 + 1)
    # change one stored score: a resumed run must show it (it was read, not recomputed)
    entry = json.loads(lines[0])
    entry["record"]["score"] = 0.123
    lines[0] = json.dumps(entry)
    path.write_text("\n".join(lines) + "\n")
    again = evaluate(encoder, ["lee-50", "bbc-news"], journal=path, **settings)
    assert again.records[0].score == 0.123
    assert again.records[1:] == first.records[1:] and again.diagnostics == first.diagnostics
    # other settings never take those results: the changed score is not handed back
    other = evaluate(encoder, ["lee-50"], journal=path, **{**settings, "n_pairs": 12,
                                                            "layers": [1]})
    assert other.records[0].n_pairs == 12
    assert other.records[0].score == pytest.approx(first.records[0].score, abs=1e-12)


def _retrained_task():
    """A small classification task of the tiny model's words (no corpus package needed)."""
    from skpool.evaluation import Task

    words = ("the film story man woman city war love life world time year day night news game "
             "team music book house car dog cat bird tree river sea sun moon").split()
    texts = [" ".join(words[(7 * i + j) % len(words)] for j in range(4 + i % 5))
             for i in range(16)]
    return Task.from_data(texts=texts, labels=[i % 2 for i in range(16)], name="words")


def test_a_model_retrained_in_place_is_computed_again_and_an_unchanged_one_resumed(
        tmp_path, tiny_model_builder, monkeypatch):
    from skpool.encoder import _torch, clear_model_cache

    folder = tiny_model_builder(tmp_path / "model", seed=0)
    task, cache, path = _retrained_task(), tmp_path / "cache", tmp_path / "journal.jsonl"
    settings = dict(layers=[1, 2], poolings=["mean", "max"], n_pairs=15, n_folds=2,
                    n_bootstrap=20, random_state=0)

    def run(**where):
        encoder = TokenEncoder(model=str(folder), device="cpu")
        return evaluate({"tiny": encoder}, [task], **where, **settings)

    first = run(cache=cache, journal=path)
    assert len(Journal(path)) == len(first.records) == 2 * 2
    # mark every kept score: only a result read back from the journal can carry it
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    for entry in lines:
        entry["record"]["score"] = 0.123
    path.write_text("".join(json.dumps(entry) + "\n" for entry in lines))

    loads = []
    real_load = _torch.load
    monkeypatch.setattr(_torch, "load", lambda *a, **k: loads.append(a[0].location)
                        or real_load(*a, **k))
    clear_model_cache()  # as a new process: a load would have to come from disk
    unchanged = run(cache=cache, journal=path)
    assert [r.score for r in unchanged.records] == [0.123] * 4  # resumed, every result
    assert loads == []  # served from the cache's memo and the journal: no model loaded

    tiny_model_builder(folder, seed=1)  # retrained in place: same folder, names, shapes
    clear_model_cache()
    retrained = run(cache=cache, journal=path)
    assert loads == [str(folder)]
    assert all(r.score != 0.123 for r in retrained.records)  # nothing resumed
    assert len(Journal(path)) == 2 * 4  # the old results stay, under the old weights' key
    fresh = run()  # no cache, no journal: the new weights from scratch
    assert retrained.records == fresh.records
    # and the weights did change what is measured
    assert all(a.mean_socm != b.mean_socm for a, b in zip(retrained.records, first.records))


def _command(tiny_model_dir, out_json, *quiet):
    return [sys.executable, "-m", "skpool", "evaluate", "--model", str(tiny_model_dir),
            "-d", "lee-50", "bbc-news", "-n", "16", "--layers", "0", "1", "2",
            "-p", "mean", "cls", "max", "gaussian-diag", "w2-exact", "--pairs", "20",
            "--folds", "2", "--bootstrap", "50", "--device", "cpu", *quiet,
            "--json", str(out_json)]


def _environment(home):
    return {**os.environ, "SKPOOL_HOME": str(home), "PYTHONPATH": str(REPO),
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def _started_run(tiny_model_dir, home, out_json, n_results=2):
    """Start :func:`_command` in a subprocess and wait until its journal holds ``n_results``
    finished results; return the running process and the journal's path."""
    process = subprocess.Popen(_command(tiny_model_dir, out_json, "--quiet"),
                               env=_environment(home), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    journal_folder = home / "evaluate"
    deadline = time.monotonic() + 240
    found = []
    while time.monotonic() < deadline and process.poll() is None:
        found = list(journal_folder.glob("*.jsonl")) if journal_folder.is_dir() else []
        if found and found[0].read_text().count("\n") >= n_results:
            break
        time.sleep(0.02)
    assert process.poll() is None, "the run ended before it could be caught: " + (
        process.stderr.read().decode())
    (journal,) = found
    return process, journal


def _killed_run(tiny_model_dir, home, out_json, n_results=2):
    """:func:`_started_run`, SIGKILLed once its journal holds ``n_results`` finished results;
    return the journal's path."""
    process, journal = _started_run(tiny_model_dir, home, out_json, n_results)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert not out_json.exists()
    return journal


@pytest.mark.slow
def test_a_killed_run_keeps_its_finished_part_and_the_same_command_resumes(
        tmp_path, tiny_model_dir, corpora_installed):
    home = tmp_path / "home"
    env = _environment(home)
    out_json = tmp_path / "e.json"
    total = 3 * (4 + 4)  # layers x (lee-50: mean cls max w2-exact; bbc: mean cls max diag)
    found = [_killed_run(tiny_model_dir, home, out_json)]
    kept = len(Journal(found[0]))
    assert 2 <= kept < total  # the finished part is on disk, the rest is not

    rerun = subprocess.run(_command(tiny_model_dir, out_json), env=env, capture_output=True,
                           text=True, timeout=600)  # not --quiet: its status lines are read
    assert rerun.returncode == 0, rerun.stderr
    assert f"resuming: {kept} finished result(s) found" in rerun.stderr
    assert not found[0].exists()  # the run completed: its journal is gone
    records = json.loads(out_json.read_text())["records"]
    assert len(records) == total

    uninterrupted = evaluate(
        {str(tiny_model_dir): TokenEncoder(model=str(tiny_model_dir), device="cpu")},
        ["lee-50", "bbc-news"], layers=[0, 1, 2],
        poolings=["mean", "cls", "max", "gaussian-diag", "w2-exact"], n_texts=16, n_pairs=20,
        n_folds=2, n_bootstrap=50, random_state=0).to_dicts()
    assert [(r["task"], r["layer"], r["pooling"]) for r in records] == [
        (r["task"], r["layer"], r["pooling"]) for r in uninterrupted]
    for ours, theirs in zip(records, uninterrupted):
        for key, value in theirs.items():
            if isinstance(value, float):
                assert ours[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
            else:
                assert ours[key] == value, key


@pytest.mark.slow
def test_cache_info_counts_the_journal_of_a_killed_run_and_cache_clear_removes_it(
        capsys, tmp_path, tiny_model_dir, corpora_installed, monkeypatch):
    from skpool.cli.formatting import size_text

    home = tmp_path / "home"
    journal = _killed_run(tiny_model_dir, home, tmp_path / "e.json", n_results=1)
    size = journal.stat().st_size
    monkeypatch.setenv("SKPOOL_HOME", str(home))

    assert main(["cache", "info", "--json", "-"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["journals"] == {"folder": str(home / "evaluate"), "n_files": 1,
                                           "n_bytes": size}
    assert f"1 unfinished, their journals {size_text(size)} in {home / 'evaluate'}" in err

    # shrinking the cache keeps the journal: only emptying it removes the journals
    assert main(["cache", "clear", "--max-size", "1G"]) == 0
    assert journal.exists() and "journal" not in capsys.readouterr().out
    assert main(["cache", "clear"]) == 0
    out = capsys.readouterr().out
    assert (f"removed 1 journal(s) of unfinished evaluate runs ({size_text(size)}) from "
            f"{home / 'evaluate'}") in out
    assert "removed 0 entries" not in out  # the run had filled the embedding cache too
    assert not journal.exists() and list((home / "evaluate").iterdir()) == []
    assert main(["cache", "info"]) == 0
    assert "evaluate runs    none unfinished" in capsys.readouterr().out


@pytest.mark.slow
def test_a_running_evaluate_holds_its_journal(capsys, tmp_path, tiny_model_dir,
                                              corpora_installed, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("SKPOOL_HOME", str(home))
    process, journal = _started_run(tiny_model_dir, home, tmp_path / "e.json", n_results=1)
    try:
        # a second run with the same arguments is refused at once, naming the first
        second = subprocess.run(_command(tiny_model_dir, tmp_path / "f.json", "--quiet"),
                                env=_environment(home), capture_output=True, text=True,
                                timeout=120)
        assert second.returncode != 0
        assert f"process {process.pid} on" in second.stderr
        assert "is writing the evaluation journal" in second.stderr
        assert "Traceback" not in second.stderr and not (tmp_path / "f.json").exists()
        # cache clear leaves the running run's journal alone, and says so
        assert main(["cache", "clear"]) == 0
        out = capsys.readouterr().out
        assert f"kept 1 journal(s) of evaluate runs still going: {journal}" in out
        assert journal.exists()
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    # killed: the kernel dropped its lock, so the journal (and the lock file) can go
    assert main(["cache", "clear"]) == 0
    assert "removed 1 journal(s)" in capsys.readouterr().out
    assert list((home / "evaluate").iterdir()) == []


def test_a_journal_is_held_by_one_process_and_taken_over_by_the_same_one(tmp_path):
    path = tmp_path / "run.jsonl"
    first = Journal(path)
    holder = subprocess.run(
        [sys.executable, "-c", "import sys; from skpool.evaluation._journal import Journal; "
         "Journal(sys.argv[1])", str(path)],
        env=_environment(tmp_path / "home"), capture_output=True, text=True, timeout=120)
    assert holder.returncode != 0
    assert f"Another run (process {os.getpid()} on" in holder.stderr
    assert "ValueError" in holder.stderr
    again = Journal(path)  # this process again: taken over (a notebook's rerun)
    first.close()  # the old object lets go of nothing it no longer holds
    from skpool.evaluation._journal import in_use

    assert in_use(path)
    again.close()
    assert not in_use(path) and not path.with_name("run.jsonl.lock").exists()
    other = subprocess.run(
        [sys.executable, "-c", "import sys; from skpool.evaluation._journal import Journal; "
         "print(len(Journal(sys.argv[1])))", str(path)],
        env=_environment(tmp_path / "home"), capture_output=True, text=True, timeout=120)
    assert other.returncode == 0 and other.stdout.strip() == "0", other.stderr
