"""A user's own data on the command line: every format, whole by default, ids in the output.

Run in-process on the tiny random BERT. The same texts written in each file
format (and given to the library as a DataFrame and a ``datasets.Dataset``)
must give the same report, number for number; ``skpool pairs --json`` rows
carry the user's ids and whole texts; a file is never sampled unless
``--n-texts`` is given; all pairs become sampled pairs past the stated
threshold, said on the first line.
"""

from __future__ import annotations

import json

import pytest

from skpool.cli import main

pd = pytest.importorskip("pandas")

# what differs between sources by construction: where the texts came from
SOURCE_FIELDS = {"dataset"}


def run(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _frame(texts):
    return pd.DataFrame({"review_id": [f"r{k:02d}" for k in range(len(texts))],
                         "sentiment": ["pos", "neg"] * (len(texts) // 2),
                         "review": texts})


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_every_format_gives_the_same_report(capsys, tmp_path, tiny_model_dir, sample_texts,
                                            table_writer):
    datasets = pytest.importorskip("datasets")
    from skpool.analysis import collapse_report
    from skpool.datasets import load_corpus
    from skpool.encoder import TokenEncoder

    frame = _frame(sample_texts)
    txt = tmp_path / "reviews.txt"
    txt.write_text("\n".join(sample_texts) + "\n", encoding="utf-8")
    records = {}
    for path in [txt, *table_writer(tmp_path, frame).values()]:
        columns = [] if path.suffix == ".txt" else ["--text-column", "review"]
        code, out, err = run(capsys, "report", "--model", tiny_model_dir, "--dataset", path,
                             *columns, "--device", "cpu", "--no-cache", "--quiet",
                             "--json", "-")
        assert code == 0, err
        [records[path.suffix]] = json.loads(out)
    for name, source in (("DataFrame", frame), ("Dataset", datasets.Dataset.from_pandas(frame))):
        corpus = load_corpus(source, text_column="review")
        encoder = TokenEncoder(model=str(tiny_model_dir), device="cpu")
        records[name] = collapse_report(corpus.texts, encoder, dataset=corpus.name,
                                        random_state=0).record.to_dict()
    reference = records[".txt"]
    assert reference["n_texts"] == len(sample_texts) and reference["exact"]
    for name, record in records.items():
        for key, value in reference.items():
            if key not in SOURCE_FIELDS | {"skpool_version"}:
                assert record[key] == value, (name, key)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_pairs_json_rows_carry_the_users_ids_and_whole_texts(capsys, tmp_path, tiny_model_dir,
                                                              sample_texts, table_writer):
    frame = _frame(sample_texts)
    path = table_writer(tmp_path, frame)[".csv"]
    code, out, err = run(capsys, "pairs", "--model", tiny_model_dir, "--dataset", path,
                         "--text-column", "review", "--id-column", "review_id",
                         "--device", "cpu", "--no-cache", "--top", 3, "--json", "-")
    assert code == 0, err
    [record] = json.loads(out)
    assert record["id_kind"] == "column" and record["id_column"] == "review_id"
    by_id = dict(zip(frame["review_id"], frame["review"]))
    for view in ("by_socm", "conflated"):
        assert len(record[view]) == 3
        for row in record[view]:
            assert by_id[row["id_i"]] == row["text_i"] == sample_texts[row["i"]]
            assert by_id[row["id_j"]] == row["text_j"] == sample_texts[row["j"]]
    # the terminal shows the ids and says what they are
    first = err.splitlines()[0]
    assert first == (f"skpool: {len(sample_texts)} texts from {path} (ids: column "
                     "'review_id')")
    assert "ids: column 'review_id'" in err and f"{record['by_socm'][0]['id_i']}: " in err


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_file_is_used_whole_unless_a_sample_is_asked(capsys, tmp_path, tiny_model_dir,
                                                       sample_texts, monkeypatch):
    from skpool.cli import defaults

    # a bundled corpus would be sampled at 3 texts; a user's file is not
    monkeypatch.setattr(defaults, "DEFAULT_N_TEXTS", 3)
    path = tmp_path / "t.txt"
    path.write_text("\n".join(sample_texts) + "\n", encoding="utf-8")
    common = ["--model", tiny_model_dir, "--dataset", path, "--device", "cpu", "--no-cache",
              "--json", "-"]
    code, out, err = run(capsys, "report", *common)
    assert code == 0, err
    assert json.loads(out)[0]["n_texts"] == len(sample_texts)
    assert "sample" not in err.splitlines()[0]
    code, out, err = run(capsys, "report", *common, "--n-texts", 4, "--seed", 2)
    assert code == 0, err
    assert json.loads(out)[0]["n_texts"] == 4
    assert err.splitlines()[0] == (f"skpool: 4 texts from {path}, a random sample of its 8 "
                                   "(--n-texts, seed 2) (ids: 1-based line numbers of the "
                                   "file)")


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_too_many_pairs_become_a_sample_said_on_the_first_line(capsys, tmp_path, tiny_model_dir,
                                                               sample_texts, monkeypatch):
    from skpool.cli import defaults

    monkeypatch.setattr(defaults, "MAX_EXACT_PAIRS", 20)  # 8 texts make 28 pairs
    monkeypatch.setattr(defaults, "SAMPLED_PAIRS", 12)
    path = tmp_path / "t.txt"
    path.write_text("\n".join(sample_texts) + "\n", encoding="utf-8")
    code, out, err = run(capsys, "report", "--model", tiny_model_dir, "--dataset", path,
                         "--device", "cpu", "--no-cache", "--quiet")
    assert code == 0, err
    first = out.splitlines()[0]
    assert "28 pairs are more than 20" in first and "12 sampled pairs" in first
    assert "12 sampled of 28" in out and "+/-" in out  # the report's own standard error
    # --pairs given: no switch, no note
    code, out, err = run(capsys, "report", "--model", tiny_model_dir, "--dataset", path,
                         "--device", "cpu", "--no-cache", "--quiet", "--pairs", 28)
    assert code == 0 and "more than" not in out


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_ot_report_table_carries_the_users_ids(tiny_model_dir, sample_texts):
    from skpool.analysis import ot_report
    from skpool.encoder import TokenEncoder

    ids = [f"r{k:02d}" for k in range(len(sample_texts))]
    encoder = TokenEncoder(model=str(tiny_model_dir), device="cpu")
    table = ot_report(sample_texts, encoder, n_pairs=6, random_state=0, ids=ids).comparison.table
    assert list(table.columns[:4]) == ["i", "j", "id_i", "id_j"] and len(table) == 6
    assert table["id_i"].tolist() == [ids[k] for k in table["i"]]
    assert table["id_j"].tolist() == [ids[k] for k in table["j"]]
    with pytest.raises(ValueError, match="ids to have one entry per measured text"):
        ot_report(sample_texts, encoder, ids=ids[:3])
