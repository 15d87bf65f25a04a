"""neighbour_collapse against brute force, socm_components, and its bad inputs."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from skpool import TokenSets, socm_components
from skpool.cli import main
from skpool.neighbours import neighbour_collapse

pytest.importorskip("faiss")


def clouds(n, *, seed=0, d=12, tokens=(14, 30)):
    """Random clouds whose means spread over a few directions.

    More tokens than dimensions by default (full-rank covariances);
    ``tokens=(4, 40), d=48`` gives the usual case of real text, fewer tokens
    than dimensions (rank-deficient covariances).
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(20, d))
    return [rng.normal(size=(int(rng.integers(*tokens)), d)) * rng.uniform(0.3, 1.5)
            + centres[rng.integers(20)] for _ in range(n)]


def brute_force_cosine(sets):
    means = np.stack([np.asarray(c, dtype=np.float64).mean(axis=0) for c in sets])
    unit = means / np.linalg.norm(means, axis=1, keepdims=True)
    cosine = unit @ unit.T
    np.fill_diagonal(cosine, -np.inf)
    return cosine


@pytest.fixture(scope="module")
def two_thousand():
    sets = clouds(2000)
    return sets, neighbour_collapse(sets, n_neighbors=10, precision="float64", top=25)


def test_neighbours_are_brute_force_ones(two_thousand):
    sets, report = two_thousand
    cosine = brute_force_cosine(sets)
    k = 10
    order = np.sort(cosine, axis=1)[:, ::-1]
    kth, next_ = order[:, k - 1], order[:, k]
    checked = 0
    for i in range(len(sets)):
        found = report.neighbours[i]
        assert i not in found and np.unique(found).size == k
        # every neighbour found is at least as near as the k-th true one (float32 search)
        assert cosine[i, found].min() >= kth[i] - 1e-5
        if kth[i] - next_[i] > 1e-5:  # no tie at the boundary: the sets agree exactly
            truth = np.argsort(-cosine[i], kind="stable")[:k]
            assert set(found.tolist()) == set(truth.tolist())
            checked += 1
    assert checked > 1900
    # the cosines reported are the float64 ones of the pairs
    rows = np.repeat(np.arange(len(sets)), k)
    np.testing.assert_allclose(report.cosine.ravel(), cosine[rows, report.neighbours.ravel()],
                               atol=1e-12)


def assert_socm_components(sets, report, picks):
    for p in picks:
        i, j = int(report.pair_i[p]), int(report.pair_j[p])
        expected = socm_components(sets[i], sets[j])
        assert abs(report.pair_socm[p] - expected.socm) <= 1e-10
        assert abs(report.pair_d_mu[p] - expected.d_mu) <= 1e-10
        assert abs(report.pair_d_sigma[p] - expected.d_sigma) <= 1e-10


def test_rank_deficient_clouds_equal_socm_components():
    # fewer tokens than dimensions, as in real text: every centred cloud has a zero
    # singular value the engine must not turn into a sqrt(eps) error (it did: 2e-9)
    sets = clouds(2000, seed=3, d=48, tokens=(4, 40))
    report = neighbour_collapse(sets, n_neighbors=10, precision="float64", top=5)
    rng = np.random.default_rng(2)
    assert_socm_components(sets, report, np.concatenate([
        rng.choice(report.pair_i.size, 300, replace=False), np.argsort(-report.pair_socm)[:20],
        np.argsort(report.pair_socm)[:20]]))


def test_socm_equals_socm_components(two_thousand):
    sets, report = two_thousand
    rng = np.random.default_rng(1)
    picks = np.concatenate([rng.choice(report.pair_i.size, 300, replace=False),
                            np.argsort(-report.pair_socm)[:20]])
    assert_socm_components(sets, report, picks)
    # each unordered pair once, and every (text, neighbour) among them
    assert np.all(report.pair_i < report.pair_j)
    keys = report.pair_i * 2000 + report.pair_j
    assert np.unique(keys).size == keys.size
    n = len(sets)
    rows = np.repeat(np.arange(n), 10)
    cols = report.neighbours.ravel()
    wanted = np.unique(np.minimum(rows, cols) * n + np.maximum(rows, cols))
    np.testing.assert_array_equal(wanted, keys)
    # the per-text summaries are those of its own neighbours' pairs
    lookup = dict(zip(keys.tolist(), report.pair_socm.tolist()))
    for i in rng.choice(n, 50, replace=False):
        values = [lookup[min(i, j) * n + max(i, j)] for j in report.neighbours[i]]
        row = report.texts_table.iloc[i]
        assert row["max_socm"] == pytest.approx(max(values), abs=1e-15)
        assert row["mean_socm"] == pytest.approx(np.mean(values), abs=1e-14)
    top = report.top_pairs
    assert top["socm"].tolist() == sorted(report.pair_socm, reverse=True)[:25]


def test_memory_mapped_store_gives_the_same_result(tmp_path):
    sets = clouds(300, seed=3)
    TokenSets.from_arrays(sets).save(tmp_path / "store")
    loaded = TokenSets.load(tmp_path / "store", mmap_mode="r")
    a = neighbour_collapse(sets, n_neighbors=5, precision="float64")
    b = neighbour_collapse(loaded, n_neighbors=5, precision="float64")
    np.testing.assert_array_equal(a.neighbours, b.neighbours)
    np.testing.assert_allclose(a.pair_socm, b.pair_socm, rtol=0, atol=1e-12)


def test_hnsw_states_its_recall():
    sets = clouds(2000, seed=4)
    report = neighbour_collapse(sets, n_neighbors=10, index="hnsw", n_recall_queries=500,
                                random_state=0)
    exact = neighbour_collapse(sets, n_neighbors=10)
    rng = np.random.RandomState(0)
    queries = np.sort(rng.choice(2000, size=500, replace=False))
    hits = sum(np.intersect1d(report.neighbours[q], exact.neighbours[q]).size
               for q in queries)
    assert report.record.n_recall_queries == 500
    assert report.record.recall == pytest.approx(hits / 5000, abs=0.01)  # ties aside
    assert report.record.recall > 0.9


def test_duplicates_are_reported_at_socm_zero():
    sets = clouds(30, seed=5)
    sets[7] = sets[3].copy()
    report = neighbour_collapse(sets, n_neighbors=3, precision="float64",
                                ids=[f"t{k}" for k in range(30)], top=200)
    assert 7 in report.neighbours[3] and 3 in report.neighbours[7]
    assert report.record.n_duplicate_pairs == 1
    row = report.top_pairs[(report.top_pairs["i"] == 3) & (report.top_pairs["j"] == 7)]
    assert len(row) == 1
    assert row["cosine"].item() == pytest.approx(1.0, abs=1e-12)
    assert row["socm"].item() == pytest.approx(0.0, abs=1e-10)
    assert report.texts_table.loc[3, "neighbours"][0] == "t7"


@pytest.mark.parametrize("k, fragment", [(0, "n_neighbors"), (10, "below the number of texts"),
                                         (11, "below the number of texts")])
def test_bad_k(k, fragment):
    with pytest.raises(ValueError, match=fragment):
        neighbour_collapse(clouds(10), n_neighbors=k)


def test_zero_mean_text_is_named():
    sets = clouds(10)
    sets[4] = np.vstack([sets[4][:2], -sets[4][:2]])
    with pytest.raises(ValueError, match=r"4"):
        neighbour_collapse(sets, n_neighbors=2)


def test_the_search_uses_every_core_here_and_leaves_faiss_as_it_was(monkeypatch):
    """n_jobs=-1 is every core of this machine for the search (Faiss reads -1 as one
    thread), and Faiss' process-wide thread count is restored afterwards."""
    import faiss
    from joblib import cpu_count

    before = faiss.omp_get_max_threads()
    set_to = []
    real = faiss.omp_set_num_threads
    monkeypatch.setattr(faiss, "omp_set_num_threads", lambda n: (set_to.append(n), real(n)))
    neighbour_collapse(clouds(10), n_neighbors=2, n_jobs=-1)
    neighbour_collapse(clouds(10), n_neighbors=2, n_jobs=1)
    assert set_to == [cpu_count(), before, 1, before]
    assert faiss.omp_get_max_threads() == before


def test_bad_index():
    with pytest.raises(ValueError, match="index"):
        neighbour_collapse(clouds(10), n_neighbors=2, index="ivf")


def test_cli_json_matches_library(capsys, tmp_path, tiny_model_dir, sample_texts):
    from skpool import TokenEncoder

    path = tmp_path / "texts.txt"
    path.write_text("\n".join(sample_texts) + "\n", encoding="utf-8")
    code = main(["neighbours", "--model", str(tiny_model_dir), "--dataset", str(path),
                 "--device", "cpu", "--quiet", "-K", "3", "--top", "4", "--json", "-"])
    out = capsys.readouterr().out
    assert code == 0
    record = json.loads(out)[0]
    with warnings.catch_warnings():  # the long sample text is truncated, as in the CLI
        warnings.simplefilter("ignore")
        tokens = TokenEncoder(model=str(tiny_model_dir), device="cpu").fit_transform(
            sample_texts)
    expected = neighbour_collapse(tokens, 3, top=4)
    assert [row["neighbours"] for row in record["texts"]] == \
        (expected.neighbours + 1).tolist()  # ids: 1-based line numbers
    np.testing.assert_allclose([row["mean_socm"] for row in record["texts"]],
                               expected.texts_table["mean_socm"], rtol=1e-6, atol=1e-9)
    assert [row["text_i"] for row in record["top_pairs"]] == \
        [sample_texts[i] for i in expected.top_pairs["i"]]


@pytest.mark.parametrize("extra, fragment", [(["-K", "8"], "needs more texts"),
                                             (["--plot", "x.png"], "no figure"),
                                             (["--index", "ivf"], "invalid choice")])
def test_cli_bad_options(capsys, tmp_path, tiny_model_dir, sample_texts, extra, fragment):
    path = tmp_path / "texts.txt"
    path.write_text("\n".join(sample_texts) + "\n", encoding="utf-8")
    try:
        code = main(["neighbours", "--model", str(tiny_model_dir), "--dataset", str(path),
                     "--device", "cpu", "--quiet", *extra])
    except SystemExit as exc:
        code = exc.code
    assert code != 0
    assert fragment in capsys.readouterr().err
