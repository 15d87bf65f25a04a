"""Your own tasks in ``evaluate`` and ``skpool evaluate``: a labelled file or rated pairs.

- Bad labels and scores are refused when the task is built (or, for a class
  smaller than the folds, by ``evaluate`` before any model is loaded), naming
  the file, row and column.
- A user's classification and similarity tasks run beside the bundled ones in
  one call, scored as the bundled tasks are: the accuracy is
  ``cross_val_score`` on the same features and folds, the similarity score
  ``scipy.stats.spearmanr`` of the cosines.
- The reviews question, on the command line with the real bundled model: its
  mean-pooling accuracy equals sentence-transformers vectors (mean pooling)
  fed to ``cross_val_score`` with the same folds, written by hand.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skpool import MeanPooler, TokenEncoder
from skpool.cli import main
from skpool.evaluation import Task, evaluate

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

WORDS = ["fine", "dull", "great", "long", "bright", "slow", "warm", "flat", "sharp", "thin"]


def _write_csv(path, header, rows):
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _reviews(n=12):
    """Short texts, two classes that alternate: id, label, text."""
    return [(f"r{k}", "pos" if k % 2 else "neg", f"a {WORDS[k % 10]} film number {k}")
            for k in range(n)]


# ---------------------------------------------------------------------------------------
# Building a task; bad input
# ---------------------------------------------------------------------------------------
def test_a_task_from_a_file_a_frame_or_arrays_holds_the_same_data(tmp_path):
    rows = _reviews()
    path = _write_csv(tmp_path / "reviews.csv", ["review_id", "sentiment", "review"], rows)
    from_file = Task.from_data(path, text_column="review", label_column="sentiment",
                               id_column="review_id")
    frame = pd.DataFrame(rows, columns=["review_id", "sentiment", "review"])
    from_frame = Task.from_data(frame, text_column="review", label_column="sentiment")
    from_arrays = Task.from_data(texts=[r[2] for r in rows], labels=[r[1] for r in rows])
    assert (from_file.name, from_frame.name, from_arrays.name) == ("reviews.csv", "texts",
                                                                   "texts")
    expected = [1 if label == "pos" else 0 for _, label, _ in rows]
    for task in (from_file, from_frame, from_arrays):
        data = task.load(n_texts=5, random_state=0)  # a user's task is used whole
        assert task.kind == "classification" and task.metric == "accuracy"
        assert data.texts == [r[2] for r in rows]
        assert data.labels.tolist() == expected and data.label_names == ("neg", "pos")
    assert from_file.load().ids == [r[0] for r in rows]
    # integer labels keep their order
    numbered = Task.from_data(texts=["a", "b", "c", "d"], labels=[10, 2, 10, 2])
    assert numbered.load().labels.tolist() == [1, 0, 1, 0]
    assert numbered.load().label_names == ("2", "10")


def test_rated_pairs_make_a_similarity_task(tmp_path):
    rows = [("a cat sat", "a cat rested", 0.9), ("a dog ran", "stocks fell", 0.1),
            ("a cat sat", "stocks fell", 0.0), ("rain today", "wet weather", 0.7)]
    path = _write_csv(tmp_path / "sts.csv", ["first", "second", "score"], rows)
    task = Task.from_data(path, pair_columns=("first", "second"), score_column="score")
    data = task.load()
    assert (task.name, task.kind, task.metric) == ("sts.csv", "similarity", "spearman")
    assert [(data.texts[i], data.texts[j]) for i, j in data.pairs] == [r[:2] for r in rows]
    assert data.scores.tolist() == [r[2] for r in rows]


BAD_LABELS = [
    ("one class", [("r1", "pos", "a"), ("r2", "pos", "b"), ("r3", "pos", "c")],
     r"reviews\.csv, column 'sentiment': every text has the label 'pos'\. Expected at least "
     "two classes"),
    ("NaN label", [("r1", "pos", "a"), ("r2", "", "b"), ("r3", "neg", "c")],
     r"reviews\.csv, row 2, column 'sentiment': the label is missing"),
]


@pytest.mark.parametrize("case, rows, message", BAD_LABELS, ids=[c[0] for c in BAD_LABELS])
def test_bad_labels_name_the_file_row_and_column(tmp_path, case, rows, message):
    path = _write_csv(tmp_path / "reviews.csv", ["review_id", "sentiment", "review"], rows)
    with pytest.raises(ValueError, match=message):
        Task.from_data(path, text_column="review", label_column="sentiment")


@pytest.mark.parametrize("labels, message", [
    ([1, "a", 2, "b"], "mix strings and integers"),
    ([0.5, 1.0, 0.5, 1.0], "row 1, column 'label': the label is 0.5"),
    ([1, None, 0, 1], "row 2, column 'label': the label is missing"),
    ([1, float("nan"), 0, 1], "row 2, column 'label': the label is missing"),
])
def test_bad_labels_in_arrays(labels, message):
    with pytest.raises(ValueError, match=message):
        Task.from_data(texts=["a", "b", "c", "d"], labels=labels)


@pytest.mark.parametrize("kwargs, error, message", [
    ({}, ValueError, "Expected label_column .* or pair_columns and score_column"),
    ({"label_column": "y", "pair_columns": ("a", "b"), "score_column": "s"}, ValueError,
     "Received both"),
    ({"score_column": "s"}, ValueError, "score_column alone"),
    ({"pair_columns": ("a", "b")}, ValueError, "Expected score_column"),
])
def test_a_task_needs_labels_or_rated_pairs(tmp_path, kwargs, error, message):
    path = _write_csv(tmp_path / "t.csv", ["a", "b", "s", "y"], [("x", "y", 1, "p")] * 3)
    with pytest.raises(error, match=message):
        Task.from_data(path, **kwargs)


def test_constant_or_too_few_scores_are_refused(tmp_path):
    same = _write_csv(tmp_path / "same.csv", ["a", "b", "s"],
                      [("x one", "y one", 0.5), ("x two", "y two", 0.5), ("x", "y", 0.5)])
    with pytest.raises(ValueError, match=r"same\.csv, column 's': every pair has the score "
                                         "0.5"):
        Task.from_data(same, pair_columns=("a", "b"), score_column="s")
    two = _write_csv(tmp_path / "two.csv", ["a", "b", "s"], [("x", "y", 0.5), ("z", "w", 1)])
    with pytest.raises(ValueError, match="2 rated pair.*at least 3"):
        Task.from_data(two, pair_columns=("a", "b"), score_column="s")


def test_a_class_smaller_than_the_folds_is_refused_before_any_model_loads(tmp_path):
    rows = _reviews(12) + [("r99", "meh", "a lone review")]
    path = _write_csv(tmp_path / "reviews.csv", ["review_id", "sentiment", "review"], rows)
    task = Task.from_data(path, text_column="review", label_column="sentiment")
    # the model folder does not exist: the fold check must come first
    with pytest.raises(ValueError, match=r"every class of reviews\.csv .* n_folds=5 texts.*"
                                         r"'meh': 1"):
        evaluate(str(tmp_path / "no-such-model"), [task], poolings=["mean"])


def test_two_tasks_of_one_name_are_refused(tmp_path):
    one = Task.from_data(texts=["a", "b", "c", "d"], labels=[0, 1, 0, 1])
    two = Task.from_data(texts=["e", "f", "g", "h"], labels=[0, 1, 0, 1])
    with pytest.raises(ValueError, match="two tasks named 'texts'"):
        evaluate(str(tmp_path / "no-such-model"), [one, two])


# ---------------------------------------------------------------------------------------
# Scores of a user's tasks, beside a bundled one
# ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_user_tasks_and_a_bundled_task_run_together_scored_as_by_hand(tmp_path,
                                                                      tiny_model_dir):
    from skpool.datasets import DatasetNotInstalledError, load_lee50

    try:
        load_lee50()
    except DatasetNotInstalledError as exc:
        pytest.skip(str(exc))
    rows = _reviews(16)
    reviews = Task.from_data(_write_csv(tmp_path / "reviews.csv", ["id", "sentiment", "text"],
                                        rows), label_column="sentiment")
    pairs = [(rows[k][2], rows[k + 1][2], float((k * 7) % 5)) for k in range(0, 14)]
    sts = Task.from_data(_write_csv(tmp_path / "sts.csv", ["a", "b", "score"], pairs),
                         pair_columns=("a", "b"), score_column="score")
    encoder = TokenEncoder(model=str(tiny_model_dir), device="cpu")
    result = evaluate({"tiny": encoder}, [reviews, "lee-50", sts], layers=[-1],
                      poolings=["mean", "gaussian-diag"], n_texts=8, n_pairs=10, n_folds=2,
                      n_bootstrap=20, random_state=1)
    got = {(r.task, r.pooling): r for r in result.records}
    assert set(got) == {("reviews.csv", "mean"), ("reviews.csv", "gaussian-diag"),
                        ("lee-50", "mean"), ("sts.csv", "mean")}
    assert result.settings["not_run"] == {"gaussian-diag": ["lee-50", "sts.csv"]}

    texts = [r[2] for r in rows]
    labels = [r[1] for r in rows]
    tokens = TokenEncoder(model=str(tiny_model_dir), device="cpu").transform(texts)
    folds = StratifiedKFold(2, shuffle=True, random_state=1)
    scores = cross_val_score(make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
                             MeanPooler().fit_transform(tokens), labels, cv=folds)
    assert got[("reviews.csv", "mean")].score == pytest.approx(scores.mean(), abs=1e-12)
    assert got[("reviews.csv", "mean")].n_texts == 16  # used whole, n_texts is for bundled

    data = sts.load()
    means = MeanPooler().fit_transform(
        TokenEncoder(model=str(tiny_model_dir), device="cpu").transform(data.texts))
    i, j = data.pairs.T
    cosine = np.sum(means[i] * means[j], axis=1) / (
        np.linalg.norm(means[i], axis=1) * np.linalg.norm(means[j], axis=1))
    assert got[("sts.csv", "mean")].score == pytest.approx(
        stats.spearmanr(cosine, data.scores)[0], abs=1e-9)
    assert got[("sts.csv", "mean")].metric == "spearman"


# ---------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------
def _run(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("rows, extra, message", [
    ([("r1", "pos", "a"), ("r2", "pos", "b")], ["--label-column", "sentiment"],
     "reviews.csv, column 'sentiment': every text has the label 'pos'"),
    ([("r1", "pos", "a"), ("r2", "", "b")], ["--label-column", "sentiment"],
     "reviews.csv, row 2, column 'sentiment': the label is missing"),
    ([("r1", "pos", "a"), ("r2", "neg", "b")], ["--label-column", "stars"],
     "stars"),
    ([("r1", "pos", "a"), ("r2", "neg", "b")], [],
     "needs --label-column C (classification) or --pair-columns A B"),
])
def test_bad_user_data_is_one_error_line_before_any_model_loads(capsys, tmp_path, rows, extra,
                                                                message):
    path = _write_csv(tmp_path / "reviews.csv", ["review_id", "sentiment", "review"], rows)
    code, out, err = _run(capsys, "evaluate", "--dataset", path, "--text-column", "review",
                          *extra, "--model", tmp_path / "no-such-model", "--quiet")
    assert code == 1, err
    assert err.startswith("skpool: error: ") and err.count("\n") == 1
    assert message in err


def test_columns_without_a_file_of_ones_own_are_refused(capsys, tmp_path):
    code, out, err = _run(capsys, "evaluate", "--dataset", "lee-50", "--label-column", "y",
                          "--model", tmp_path / "no-such-model", "--quiet")
    assert code == 1 and "--label-column name columns of your own data files" in err


def test_the_parser_takes_files_and_refuses_other_names():
    from skpool.cli import build_parser

    args = build_parser().parse_args(["evaluate", "-d", "my.csv", "lee-50", "hf:imdb",
                                      "--pair-columns", "a", "b", "--score-column", "s"])
    assert args.dataset == ["my.csv", "lee-50", "hf:imdb"]
    assert args.pair_columns == ["a", "b"] and args.score_column == "s"


@pytest.mark.slow
def test_the_reviews_question_is_one_command_and_matches_sentence_transformers(
        capsys, tmp_path, bundled_model_path):
    """Mean-pooling accuracy of ``skpool evaluate --dataset reviews.csv`` equals hand-written
    sentence-transformers mean vectors + ``cross_val_score`` with the same folds."""
    from sentence_transformers import SentenceTransformer

    from skpool.datasets import DatasetNotInstalledError, load_rotten_tomatoes

    try:
        films = load_rotten_tomatoes(n_texts=40, random_state=0)
    except DatasetNotInstalledError as exc:
        pytest.skip(str(exc))
    rows = [(f"rv{k + 1}", films.label_names[label], text)
            for k, (text, label) in enumerate(zip(films.texts, films.labels))]
    path = _write_csv(tmp_path / "reviews.csv", ["review_id", "sentiment", "review"], rows)
    out_json = tmp_path / "reviews.json"
    code, out, err = _run(capsys, "evaluate", "--dataset", path, "--text-column", "review",
                          "--label-column", "sentiment", "--pooling", "mean", "cls", "max",
                          "gaussian-diag", "--layers", "-1", "--pairs", "50", "--bootstrap",
                          "20", "--device", "cpu", "--json", out_json)
    assert code == 0, err
    assert "reviews.csv: 40 texts, classes fresh, rotten" in err
    records = json.loads(out_json.read_text())["records"]  # beside the correlations
    assert [(r["task"], r["pooling"], r["metric"]) for r in records] == [
        ("reviews.csv", p, "accuracy") for p in ("mean", "cls", "max", "gaussian-diag")]
    assert all(r["layer"] == 6 and r["mean_socm"] > 0 for r in records)
    for record in records:  # the table prints each pooling's accuracy with the mean SOCM
        assert f"{record['score']:.4f}" in out and f"{record['mean_socm']:.4f}" in out

    # by hand: the bundled folder's Transformer and mean Pooling modules (not its Normalize)
    full = SentenceTransformer(str(bundled_model_path), device="cpu")
    mean_only = SentenceTransformer(modules=[full[0], full[1]], device="cpu")
    assert full[1].get_config_dict()["pooling_mode"] == "mean"
    texts, labels = [r[2] for r in rows], [r[1] for r in rows]
    vectors = mean_only.encode(texts, batch_size=16)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    scores = cross_val_score(make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
                             vectors, labels, cv=folds)
    assert records[0]["score"] == pytest.approx(scores.mean(), abs=1e-12)
    assert records[0]["score_std"] == pytest.approx(scores.std(), abs=1e-12)
