"""The one reader of a user's corpus: every format gives the same Corpus.

The same texts written as ``.txt``, ``.jsonl``, ``.csv``, ``.tsv`` and
``.parquet`` (by pyarrow, an independent writer), given as a pandas
DataFrame/Series, a ``datasets.Dataset``, and read back from a Hugging Face
datasets cache built here with datasets' own writer, must give the same
texts, ids and labels; bad input is tested in test_bad_input_data.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from skpool.datasets import Corpus, load_corpus, read_corpus

pd = pytest.importorskip("pandas")

# texts with what breaks naive readers: a comma, a quote, a tab-free newline-free
# unicode text, leading spaces inside a CSV cell
TEXTS = ["A fine film, well made.", 'She said "no" twice.', "Un café très noir.",
         "Dull and long", "  The plot never lands.", "Great acting; weak script."]
IDS = ["r07", "r02", "r11", "r05", "r01", "r09"]
LABELS = ["pos", "neg", "pos", "neg", "neg", "pos"]


def _frame():
    return pd.DataFrame({"review_id": IDS, "sentiment": LABELS, "review": TEXTS})


def test_every_format_gives_the_same_texts_ids_and_labels(tmp_path, table_writer):
    datasets = pytest.importorskip("datasets")
    paths = table_writer(tmp_path, _frame())
    sources = [*paths.values(), _frame(), datasets.Dataset.from_pandas(_frame())]
    columns = {"text_column": "review", "id_column": "review_id", "label_column": "sentiment"}
    for source in sources:
        corpus = read_corpus(source, **columns)
        assert corpus.texts == TEXTS, source
        assert corpus.ids == IDS and corpus.id_kind == "column" and corpus.id_column == "review_id"
        assert corpus.labels == LABELS and corpus.label_column == "sentiment"
        assert corpus.n_available == 6 and corpus.positions == tuple(range(6))
        assert corpus.pairs is None
    # without an id column: 1-based rows for tables, lines for .jsonl
    assert read_corpus(paths[".csv"], text_column="review").ids == [1, 2, 3, 4, 5, 6]
    assert read_corpus(paths[".csv"], text_column="review").id_kind == "row"
    assert read_corpus(paths[".jsonl"], text_column="review").id_kind == "line"


def test_txt_ids_are_line_numbers_and_text_is_stripped(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("\ufeffone cat\n\n  two dogs  \nthree\n", encoding="utf-8")
    corpus = read_corpus(path)
    assert corpus.texts == ["one cat", "two dogs", "three"]  # BOM gone, blank line skipped
    assert corpus.ids == [1, 3, 4] and corpus.id_kind == "line" and corpus.text_column == "text"


def test_bom_is_not_part_of_the_first_column_name(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufefftext,y\nhello there,1\nbye now,2\n".encode("utf-8"))
    corpus = read_corpus(path, label_column="y")
    assert corpus.text_column == "text" and corpus.labels == ["1", "2"]


def test_csv_cells_stay_strings_and_quoted_newlines_are_one_cell(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text('id,text\n007,"first line\nsecond line"\n010,plain\n', encoding="utf-8")
    corpus = read_corpus(path, id_column="id")
    assert corpus.ids == ["007", "010"]  # not 7 and 10
    assert corpus.texts == ["first line\nsecond line", "plain"]


@pytest.mark.parametrize("columns, expected", [
    ({"t": ["a b", "c d"], "n": [1, 2]}, "t"),  # the only string column
    ({"text": ["a b", "c d"], "other": ["x", "y"]}, "text"),  # named text
])
def test_text_column_is_guessed_only_when_unambiguous(columns, expected):
    assert read_corpus(pd.DataFrame(columns)).text_column == expected


def test_a_csv_column_of_numbers_is_not_text(tmp_path):
    path = tmp_path / "n.csv"
    path.write_text("id,score,review\n1,0.5,nice film\n2,1.5,bad film\n", encoding="utf-8")
    assert read_corpus(path).text_column == "review"


def test_id_and_label_columns_are_not_candidates_for_the_text():
    frame = pd.DataFrame({"sentiment": ["pos", "neg"], "review": ["good", "bad"]})
    corpus = read_corpus(frame, label_column="sentiment")
    assert corpus.text_column == "review"


def test_series_and_frame_index_give_ids():
    series = pd.Series(TEXTS[:3], index=["a", "b", "c"], name="review")
    corpus = read_corpus(series)
    assert corpus.texts == TEXTS[:3] and corpus.ids == ["a", "b", "c"]
    assert corpus.id_kind == "index"
    plain = read_corpus(pd.Series(TEXTS[:3]))
    assert plain.ids == [1, 2, 3] and plain.id_kind == "row"


def test_dataset_selection_is_read_as_selected():
    datasets = pytest.importorskip("datasets")
    dataset = datasets.Dataset.from_dict({"text": TEXTS}).select([4, 0, 2])
    assert read_corpus(dataset).texts == [TEXTS[4], TEXTS[0], TEXTS[2]]


def test_rated_pairs_share_texts_and_keep_row_ids(tmp_path):
    path = tmp_path / "sts.csv"
    path.write_text("pid,s1,s2,score\np1,a cat,a dog,0.5\np2,a dog,a cow,1\np3,a cow,a cat,4.25\n",
                    encoding="utf-8")
    corpus = read_corpus(path, id_column="pid", pair_columns=("s1", "s2"), score_column="score")
    assert corpus.texts == ["a cat", "a dog", "a cow"]
    assert corpus.pairs.tolist() == [[0, 1], [1, 2], [2, 0]]
    assert corpus.scores.tolist() == [0.5, 1.0, 4.25]
    assert corpus.pair_ids == ["p1", "p2", "p3"]
    assert corpus.ids == ["p1:s1", "p1:s2", "p2:s2"]
    # a sample keeps the pairs among the texts kept, re-indexed
    sample = load_corpus(path, id_column="pid", pair_columns=("s1", "s2"),
                         score_column="score", n_texts=2, random_state=0)
    kept = [corpus.texts.index(t) for t in sample.texts]
    expected = [(p, s) for p, s in zip(corpus.pairs.tolist(), corpus.scores)
                if p[0] in kept and p[1] in kept]
    assert [[kept[i], kept[j]] for i, j in sample.pairs.tolist()] == [p for p, _ in expected]
    assert sample.scores.tolist() == [s for _, s in expected]


def test_sample_keeps_ids_labels_and_positions_together(tmp_path):
    texts = [f"text number {k}" for k in range(40)]
    labels = ["a"] * 30 + ["b"] * 10
    frame = pd.DataFrame({"id": [f"x{k}" for k in range(40)], "text": texts, "y": labels})
    sample = load_corpus(frame, id_column="id", label_column="y", n_texts=8, random_state=1)
    assert sample.n_available == 40 and len(sample) == 8
    assert list(sample.positions) == sorted(sample.positions)
    for text, id_, label, position in zip(sample.texts, sample.ids, sample.labels,
                                          sample.positions):
        assert (text, id_, label) == (texts[position], f"x{position}", labels[position])
    assert sample.labels.count("b") == 2  # stratified: 10/40 of 8
    whole = load_corpus(frame, id_column="id")
    assert len(whole) == 40  # a user's data is used whole by default


def test_registered_corpora_carry_their_own_ids_and_labels():
    corpus = read_corpus("bbc-news")
    assert corpus.id_kind == "corpus" and corpus.ids[0].startswith("business/")
    assert set(corpus.labels) == {"business", "entertainment", "politics", "sports", "tech"}
    lee = read_corpus("lee-50")
    assert lee.pairs.shape == (1225, 2) and lee.pair_ids[0] == "lee-01~lee-02"


def test_corpus_equality_compares_arrays():
    a = Corpus(name="x", texts=["a", "b"], pairs=np.array([[0, 1]]), scores=np.array([1.0]),
               pair_ids=[1])
    b = Corpus(name="x", texts=["a", "b"], pairs=np.array([[0, 1]]), scores=np.array([1.0]),
               pair_ids=[1])
    assert a == b and a != Corpus(name="x", texts=["a", "b"])


# -- hf:NAME[:CONFIG][:SPLIT] from a datasets cache laid out as datasets lays it out -----------
def _hf_cache(root, name="owner/reviews", configs=("default",)):
    """Prepare ``name`` in a datasets cache at ``root`` with datasets' own builder."""
    datasets = pytest.importorskip("datasets")
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq
    from datasets.packaged_modules.parquet.parquet import Parquet

    files = {}
    for split, rows in (("train", slice(0, 4)), ("test", slice(4, 6))):
        files[split] = str(root.parent / f"{split}.parquet")
        pq.write_table(pa.Table.from_pandas(_frame()[rows], preserve_index=False), files[split])
    for config in configs:
        builder = Parquet(cache_dir=str(root), dataset_name=name.replace("/", "___"),
                          config_name=config, data_files=files, hash="0123abcd")
        builder.download_and_prepare()
        # a hub download's folder is named by the config alone (a local builder adds a
        # hash of its data files): <owner>___<name>/<config>/<version>/<revision>/
        # (and its files by the dataset's name without the owner: reviews-test.arrow)
        prepared = root / name.replace("/", "___")
        next(prepared.glob(f"{config}-*")).rename(prepared / config)
        for arrow in prepared.glob(f"{config}/*/*/*.arrow"):
            arrow.rename(arrow.with_name(arrow.name.split("___", 1)[1]))
    return datasets


def test_hf_dataset_is_read_from_the_local_cache(tmp_path, monkeypatch):
    root = tmp_path / "hf-cache"
    datasets = _hf_cache(root)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", root)
    test = read_corpus("hf:owner/reviews:test", text_column="review", id_column="review_id")
    assert test.texts == TEXTS[4:] and test.ids == IDS[4:]
    assert test.name == "hf:owner/reviews:default:test"
    train = read_corpus("hf:owner/reviews:default:train", text_column="review",
                        label_column="sentiment")
    assert train.texts == TEXTS[:4] and train.labels == LABELS[:4] and train.id_kind == "row"
    with pytest.raises(ValueError, match=r"splits \['test', 'train'\]"):
        read_corpus("hf:owner/reviews", text_column="review")
    # datasets' own offline reader of its cache reads the same rows
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    theirs = datasets.load_dataset("owner/reviews", split="test", cache_dir=str(root))
    assert theirs["review"] == test.texts and theirs["review_id"] == test.ids


def test_hf_dataset_missing_from_the_cache_names_folder_and_command(tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path)
    with pytest.raises(ValueError) as info:
        read_corpus("hf:someone/absent:plain:train")
    message = str(info.value)
    assert str(tmp_path) in message and "not in the local datasets cache" in message
    assert "datasets.load_dataset('someone/absent', 'plain')" in message


def test_repr_says_what_was_read_in_one_line():
    texts = [f"text number {k}" for k in range(10_000)]
    corpus = read_corpus(pd.DataFrame({"t": texts, "y": [k % 2 for k in range(10_000)]}),
                         text_column="t", label_column="y")
    shown = repr(corpus)
    assert "\n" not in shown and len(shown) < 200, shown
    assert shown.startswith("Corpus(name='DataFrame', n_texts=10000")
    assert "text_column='t'" in shown and "label_column='y'" in shown
    assert "text number" not in shown
