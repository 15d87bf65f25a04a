"""Bad user data is a clear error naming the file, row and column, before any model loads.

Each case reads a corpus through :func:`skpool.datasets.read_corpus` (what
every command's ``--dataset`` goes through) and checks the error type and
the fragments that locate the fault. Label checks (one class, missing
labels) belong to the task that uses the labels; the reader only exposes them.
"""

from __future__ import annotations

import pytest

from skpool.datasets import load_corpus, read_corpus

pd = pytest.importorskip("pandas")


def _file(tmp, name, content):
    path = tmp / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


REVIEWS = "review_id,sentiment,review\nr1,pos,A fine film.\nr2,neg,Dull.\n"

# (case, call(tmp), exception, fragments of the message)
CASES = [
    ("missing column",
     lambda t: read_corpus(_file(t, "r.csv", REVIEWS), text_column="body"), ValueError,
     ["r.csv", "no column 'body'", "'review_id'", "'review' (text)"]),
    ("missing id column",
     lambda t: read_corpus(_file(t, "r.csv", REVIEWS), text_column="review", id_column="rid"),
     ValueError, ["no column 'rid'", "id_column"]),
    ("ambiguous text column",
     lambda t: read_corpus(_file(t, "r.csv", REVIEWS)), ValueError,
     ["r.csv", "Cannot tell which column", "'sentiment'", "'review'", "--text-column"]),
    ("no text column at all",
     lambda t: read_corpus(pd.DataFrame({"a": [1, 2], "b": [3.0, 4.0]})), ValueError,
     ["DataFrame", "no column holds text", "'a' (numbers)"]),
    ("empty file", lambda t: read_corpus(_file(t, "e.csv", "")), ValueError,
     ["e.csv", "holds no texts"]),
    ("header and no rows", lambda t: read_corpus(_file(t, "h.csv", "text,y\n")), ValueError,
     ["h.csv", "header and no rows"]),
    ("empty .txt", lambda t: read_corpus(_file(t, "e.txt", "\n\n")), ValueError,
     ["e.txt", "holds no texts"]),
    ("empty text cell",
     lambda t: read_corpus(_file(t, "c.csv", "id,text\na,fine\nb,\nc,ok\n")), ValueError,
     ["c.csv, row 2 (line 3), column 'text'", "missing"]),
    ("whitespace text cell",
     lambda t: read_corpus(_file(t, "c.csv", "id,text\na,fine\nb,\"   \"\n")), ValueError,
     ["c.csv, row 2 (line 3), column 'text'", "empty"]),
    ("NaN text cell in a frame",
     lambda t: read_corpus(pd.DataFrame({"text": ["a b", float("nan"), "c"]})), ValueError,
     ["DataFrame, row 2, column 'text'", "NaN"]),
    ("a number in the text column",
     lambda t: read_corpus(pd.DataFrame({"text": ["a b", 3]})), ValueError,
     ["DataFrame, row 2, column 'text'", "int 3"]),
    ("empty text in .jsonl",
     lambda t: read_corpus(_file(t, "j.jsonl", '{"text": "fine"}\n\n{"text": ""}\n')),
     ValueError, ["j.jsonl, line 3, column 'text'", "empty"]),
    ("missing text field in .jsonl",
     lambda t: read_corpus(_file(t, "j.jsonl", '{"text": "fine"}\n{"body": "x"}\n')),
     ValueError, ["j.jsonl, line 2, column 'text'", "missing"]),
    ("jsonl line not an object",
     lambda t: read_corpus(_file(t, "j.jsonl", '{"text": "fine"}\n["x"]\n')), ValueError,
     ["line 2", "j.jsonl", "JSON object"]),
    ("duplicate ids",
     lambda t: read_corpus(_file(t, "d.csv", "id,text\na,one\nb,two\na,three\n"),
                           id_column="id"), ValueError,
     ["d.csv, row 3 (line 4), column 'id'", "'a'", "row 1", "unique"]),
    ("missing id",
     lambda t: read_corpus(pd.DataFrame({"id": ["a", None], "text": ["x y", "z"]}),
                           id_column="id"), ValueError,
     ["DataFrame, row 2, column 'id'", "id is missing"]),
    ("non-UTF-8 bytes",
     lambda t: read_corpus(_file(t, "l.csv", b"text\nfine\ncaf\xe9 noir\n")), ValueError,
     ["l.csv", "not UTF-8", "line 3"]),
    ("a row with too many cells",
     lambda t: read_corpus(_file(t, "w.csv", "id,text\na,one\nb,two,extra\n")), ValueError,
     ["w.csv", "row 2 (line 3)", "Expected 2 cells"]),
    ("pair row without a score",
     lambda t: read_corpus(_file(t, "p.csv", "a,b,s\nx y,z w,0.5\nu v,q r,\n"),
                           pair_columns=("a", "b"), score_column="s"), ValueError,
     ["p.csv, row 2 (line 3), column 's'", "no score"]),
    ("pair score not a number",
     lambda t: read_corpus(_file(t, "p.csv", "a,b,s\nx y,z w,high\n"),
                           pair_columns=("a", "b"), score_column="s"), ValueError,
     ["p.csv, row 1 (line 2), column 's'", "finite number", "'high'"]),
    ("pair score infinite",
     lambda t: read_corpus(pd.DataFrame({"a": ["x"], "b": ["y"], "s": [float("inf")]}),
                           pair_columns=("a", "b"), score_column="s"), ValueError,
     ["DataFrame, row 1, column 's'", "finite"]),
    ("pair columns without a score column",
     lambda t: read_corpus(pd.DataFrame({"a": ["x"], "b": ["y"]}), pair_columns=("a", "b")),
     ValueError, ["score_column", "--score-column"]),
    ("pair text missing",
     lambda t: read_corpus(pd.DataFrame({"a": ["x", "y"], "b": ["y", None], "s": [1, 2]}),
                           pair_columns=("a", "b"), score_column="s"), ValueError,
     ["DataFrame, row 2, column 'b'", "missing"]),
    ("parquet file that is not parquet",
     lambda t: read_corpus(_file(t, "fake.parquet", "text\nnot parquet at all\n")),
     ValueError, ["fake.parquet", "parquet file"]),
    ("hf name not in the cache",
     lambda t: read_corpus("hf:nobody/nothing"), ValueError,
     ["'nobody/nothing'", "not in the local datasets cache", "load_dataset('nobody/nothing')"]),
    ("hf name malformed", lambda t: read_corpus("hf:a:b:c:d"), ValueError,
     ["hf:NAME:CONFIG:SPLIT", "'hf:a:b:c:d'"]),
    ("unknown suffix", lambda t: read_corpus(_file(t, "x.xlsx", "x")), ValueError,
     [".csv", "'wiki-films'", "x.xlsx"]),
    ("missing file", lambda t: read_corpus(t / "none.csv"), FileNotFoundError,
     ["none.csv", "does not exist"]),
    ("columns for a .txt file",
     lambda t: read_corpus(_file(t, "t.txt", "one\ntwo\n"), id_column="id"), ValueError,
     ["t.txt", ".txt file", "line numbers"]),
    ("columns for a registered corpus",
     lambda t: read_corpus("bbc-news", text_column="text"), ValueError,
     ["registered corpus"]),
    ("not a source", lambda t: read_corpus(["a", "b"]), TypeError,
     ["DataFrame", "list"]),
    ("one text left", lambda t: load_corpus(pd.DataFrame({"text": ["only one"]})), ValueError,
     ["at least two texts"]),
]


@pytest.mark.parametrize("case, call, error, fragments", CASES, ids=[c[0] for c in CASES])
def test_bad_data_is_a_clear_error(case, call, error, fragments, tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets")
    # an empty cache: the hf: cases must never find anything on this machine
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    with pytest.raises(error) as info:
        call(tmp_path)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_labels_are_exposed_as_read_for_the_task_to_check():
    frame = pd.DataFrame({"text": ["a b", "c d", "e f"], "y": ["x", None, float("nan")]})
    assert read_corpus(frame, label_column="y").labels == ["x", None, None]


@pytest.mark.parametrize("module, source", [
    ("pyarrow", lambda t: _file(t, "x.parquet", "not read")),
    ("datasets", lambda t: "hf:someone/something"),
])
def test_a_missing_optional_reader_is_a_one_line_install_hint(module, source, tmp_path,
                                                               monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, module, None)  # import fails
    with pytest.raises(ImportError) as info:
        read_corpus(source(tmp_path))
    assert f"needs {module}, which is not installed: pip install {module}" in str(info.value)
