"""The HTML report's page, without a browser: escaping, the embedded JSON, the size bound,
the listed pairs against an independent computation, bad input.

The same pages opened in a real browser are ``tests/test_html.py``.
"""

from __future__ import annotations

import html
import json
import re

import numpy as np
import pytest

from skpool import socm_components
from skpool._html import MAX_POINTS, MAX_TABLE_ROWS, render_html, write_html
from skpool.analysis import CollapseReport, collapse_report_of_tokens
from skpool.cli import main


def embedded(page: str, ident: str):
    match = re.search(rf'<script type="application/json" id="{ident}">(.*?)</script>', page,
                      re.S)
    assert match, ident
    return json.loads(match.group(1))


def random_report(n=12, seed=0, texts=None):
    rng = np.random.default_rng(seed)
    clouds = [rng.normal(size=(int(rng.integers(3, 9)), 8)) + rng.normal(size=8) + 2.0
              for _ in range(n)]
    report = collapse_report_of_tokens(clouds, model="<i>m</i>", dataset="<b>d</b>",
                                       random_state=0)
    if texts is not None:
        report = CollapseReport(record=report.record, tokens=report.tokens,
                                concentration=report.concentration, texts=tuple(texts))
    return clouds, report


def test_user_strings_are_escaped_and_the_json_is_the_record(tmp_path, hostile_texts):
    texts = [*hostile_texts, *(f"text {k} </script><!--" for k in range(7))]
    _, report = random_report(texts=texts)
    page = report.to_html(tmp_path / "r.html", command="skpool report --dataset '<x>'") \
        .read_text(encoding="utf-8")
    for raw in (*hostile_texts[:3], "<i>m</i>", "<b>d</b>", "'<x>'", "</script><!--"):
        assert raw not in page, raw
    # the only script elements are the page's own three
    assert page.count("<script") == 3
    assert embedded(page, "skpool-record") == [report.record.to_dict()]
    details = embedded(page, "skpool-details")
    assert set(details["texts"].values()) <= set(texts)
    shown = {**details["snippets"], **details["texts"]}
    assert hostile_texts[0] in shown.values() and hostile_texts[1] in shown.values()


def test_listed_pairs_are_those_of_the_pairwise_matrices():
    clouds, report = random_report(n=30, seed=3)
    # pair by pair through the public two-text function
    n = len(clouds)
    socm, d_mu, d_sigma = (np.zeros((n, n)) for _ in range(3))
    for a in range(n):
        for b in range(a + 1, n):
            socm[a, b], d_mu[a, b], d_sigma[a, b] = socm_components(clouds[a], clouds[b])
    upper = np.triu_indices(n, k=1)
    details = report._html_document()["details"]
    # the highest SOCM, in order
    order = np.argsort(-socm[upper], kind="stable")[:len(details["top_pairs"])]
    assert [(r["i"], r["j"]) for r in details["top_pairs"]] == [
        (int(upper[0][k]), int(upper[1][k])) for k in order]
    for row in details["top_pairs"]:
        assert row["socm"] == pytest.approx(socm[row["i"], row["j"]], rel=1e-6)
        assert row["cosine"] == pytest.approx(1 - 2 * d_mu[row["i"], row["j"]], rel=1e-6)
    # the near pairs: the 10 (at least top) smallest d_mu, by decreasing d_sigma
    near = np.argsort(d_mu[upper], kind="stable")[:max(10, int(np.ceil(0.01 * upper[0].size)))]
    expected = sorted(((int(upper[0][k]), int(upper[1][k])) for k in near),
                      key=lambda p: -d_sigma[p])
    assert [(r["i"], r["j"]) for r in details["near_pairs"]] == expected[:10]
    assert details["points"]["n_computed"] == upper[0].size == len(details["points"]["socm"])


@pytest.mark.parametrize("words", [170, 2400])
def test_the_page_stays_bounded_for_2000_texts(words):
    # 2,000 texts of about 1,000 (or 14,000: every text cut) characters and 20,000 pairs:
    # the size the docs promise
    rng = np.random.default_rng(0)
    n, n_pairs = 2000, 20_000
    ids = list(range(n))
    vocabulary = "the film of a man who found love in the city at night".split()
    texts = [" ".join(rng.choice(vocabulary, size=words)) for _ in range(n)]
    i, j = rng.integers(0, n, n_pairs), rng.integers(0, n, n_pairs)
    d_mu, d_sigma = rng.uniform(0, 0.6, n_pairs), rng.uniform(0, 1.5, n_pairs)

    class Components:
        pass

    from skpool import _html_documents as pages

    components = Components()
    components.i, components.j, components.d_mu, components.d_sigma = i, j, d_mu, d_sigma
    components.socm, components.n_pairs_total, components.exact = (1 - d_mu) * d_sigma, \
        n * (n - 1) // 2, False
    spread = rng.uniform(0.5, 3, n)
    details = pages.pair_details(components, spread=spread, ids=ids)
    details.update(pages.spread_details(spread, rng.uniform(0, 1, n), ids))
    listed = [r[s] for v in ("top_pairs", "near_pairs") for r in details[v] for s in "ij"]
    details.update(pages.text_details(texts, ids, full=[*listed, *pages.widest(spread, ids)],
                                      hover=ids))
    record = {"model": "m", "layer": 6, "dataset": "d", "n_texts": n, "n_pairs": n_pairs,
              "exact": False, "mean_socm": 0.3, "stderr": 0.01, "n_trace_violations": 600}
    page = render_html({"kind": "report", "records": [record], "details": details})
    assert len(page.encode("utf-8")) < 5 * 2**20
    assert page.count('data-set="points"') == MAX_POINTS
    assert "2,000 of them drawn here" in page


def test_numbers_that_json_cannot_hold_become_null_and_a_dash():
    records = [{"model": "m", "layer": k, "dataset": "d", "mean_socm": value, "n_texts": 5}
               for k, value in enumerate([0.25, float("nan"), float("inf")])]
    page = render_html({"kind": "layers", "records": records})
    assert [r["mean_socm"] for r in embedded(page, "skpool-record")] == [0.25, None, None]
    assert page.count("<td>\u2013</td>") >= 2


def test_long_tables_are_cut_with_a_note():
    records = [{"model": "m", "layer": k, "dataset": "d", "mean_socm": 0.1, "n_texts": 5}
               for k in range(MAX_TABLE_ROWS + 7)]
    page = render_html({"kind": "layers", "records": records})
    assert f"The first {MAX_TABLE_ROWS} of {MAX_TABLE_ROWS + 7} rows" in page
    # and at once, beside the filter box at the top of the table
    assert f'-count">the first {MAX_TABLE_ROWS} of {MAX_TABLE_ROWS + 7} rows</span>' in page
    assert len(embedded(page, "skpool-record")) == MAX_TABLE_ROWS + 7


def test_notebook_view_is_the_page_in_a_sandboxed_frame():
    _, report = random_report(texts=[f"t{k} <b>" for k in range(12)])
    fragment = report._repr_html_()
    assert fragment.startswith("<iframe srcdoc=") and 'sandbox="allow-scripts"' in fragment
    assert "<script" not in fragment and "&lt;script" in fragment


@pytest.mark.parametrize("document, error, message", [
    ({"kind": "plot"}, ValueError, "Expected document['kind'] among report"),
    ([], TypeError, "Expected document to be a dict. Received list"),
])
def test_bad_documents(document, error, message):
    with pytest.raises(error, match=re.escape(message)):
        render_html(document)


def test_texts_must_match_the_measured_corpus(tmp_path):
    _, report = random_report()
    with pytest.raises(ValueError, match=r"one entry per measured text \(12\)\. Received 3"):
        report.to_html(tmp_path / "r.html", texts=["a", "b", "c"])
    with pytest.raises(IsADirectoryError, match="Expected an HTML file path"):
        write_html(tmp_path, {"kind": "report"})


def test_html_option_needs_an_html_file(capsys):
    assert main(["report", "--html", "out.png"]) == 2
    assert "expected a file ending in .html or .htm, got 'out.png'" in capsys.readouterr().err


def evaluate_document(can_rank=True, unchanged=True):
    """An evaluate page's document with one task's groups, a pooling cost, three conditions."""
    record = {"model": "m", "pooling": "mean", "task": "lee-50", "metric": "spearman",
              "score_std": 0.02, "stderr": 0.01, "mean_spread": 1.0, "mean_cosine": 0.5}
    records = [{**record, "layer": layer, "score": 0.3 + 0.01 * layer,
                "mean_socm": 0.1 + 0.02 * layer} for layer in range(6)]
    group = {"task": "lee-50", "pooling": "mean", "measure": "mean_socm", "model": "", "n": 6,
             "p": 0.11, "partial_rho": 0.4, "partial_p": 0.3, "can_rank": can_rank,
             "note": "" if can_rank else "the task cannot rank these points"}
    correlations = [{**group, "group": "all", "rho": 0.61, "interval": [-0.12, 0.93]},
                    {**group, "group": "trained", "rho": -0.37, "interval": [-0.9, 0.4]},
                    {**group, "group": "within-model", "model": "<b>m</b>", "rho": 0.2,
                     "interval": None}]
    costs = [{"model": "m", "layer": 5, "task": "lee-50", "metric": "spearman",
              "condition": "none", "pooling": "w2-gaussian", "mean_score": 0.35, "score": 0.45,
              "difference": 0.1, "ci_low": 0.02, "ci_high": 0.18, "method": "bootstrap",
              "n": 15}]
    interventions = [{"model": "m", "layer": 5, "task": "lee-50", "condition": condition,
                      "mean_socm": 0.2 * f * f, "mean_d_sigma": 0.21 * f * f,
                      "mean_pooling_score": 0.35,
                      "mean_score_unchanged": unchanged or condition != "swap",
                      "pooling": "w2-gaussian", "score": 0.4, "score_std": 0.05}
                     for condition, f in (("none", 1.0), ("rescale:0.5", 0.5), ("swap", 1.0))]
    return {"kind": "evaluate", "records": records,
            "details": {"correlations": correlations, "pooling_costs": costs,
                        "interventions": interventions}}


def verdict_text(page: str) -> str:
    return re.search(r'<section class="verdict" id="verdict">(.*?)</section>', page, re.S)[1]


def test_evaluate_page_reads_the_grouped_correlations():
    page = render_html(evaluate_document())
    verdict = verdict_text(page)
    assert ("all points: \u03c1 = 0.61 (95% interval -0.12 to 0.93) over 6 points, p = 0.11; "
            "trained models: \u03c1 = -0.37") in verdict
    # the panel draws every point, so its title gives the "all" group, not another group
    title = re.search(r'class="title">(lee-50:.*?)</text>', page)[1]
    assert title == "lee-50:  Spearman \u03c1 = 0.61 [-0.12, 0.93], n = 6 (all points)"
    assert "cannot rank these" not in page
    table = re.search(r'<table class="data" id="correlations">(.*?)</table>', page, re.S)[1]
    assert "within one model: &lt;b&gt;m&lt;/b&gt;" in table and "-0.12 to 0.93" in table
    assert "gap +0.1000, paired 95% interval +0.0200 to +0.1800 over 15 pairs: mean pooling " \
           "costs this much here" in page
    assert "identical in all 3 conditions" in page
    rows = re.search(r'<table class="data" id="interventions">(.*?)</table>', page, re.S)[1]
    assert rows.count("<tr>") == 4 and "rescale:0.5" in rows and "0.0500" in rows


def test_evaluate_page_says_when_the_task_cannot_rank_the_points():
    page = render_html(evaluate_document(can_rank=False, unchanged=False))
    verdict = verdict_text(page)
    # in words, and no correlation presented as a finding; why, said once
    assert ("lee-50, mean pooling, mean SOCM against the score: points the task cannot rank: "
            "all points (6 points) and trained models (6 points).") in verdict
    assert verdict.count("fold/bootstrap error") == 1
    assert "\u03c1" not in verdict and "0.61" not in verdict
    assert "the task cannot rank these points: \u03c1 is not a finding" in page
    assert "NOT identical under swap" in page


def test_neighbours_page_against_brute_force_neighbours(hostile_texts):
    """The page's numbers from its own record and from a brute-force neighbour search."""
    from skpool import pairwise_socm
    from skpool.neighbours import neighbour_collapse

    pytest.importorskip("faiss")
    rng = np.random.default_rng(5)
    n, k = 14, 3
    clouds = [rng.normal(size=(int(rng.integers(12, 20)), 6)) * rng.uniform(0.3, 1.6)
              + rng.normal(size=6) + 1.0 for _ in range(n)]
    texts = [*hostile_texts, *(f"text {t} </script><!--" for t in range(n - len(hostile_texts)))]
    ids = [f"<id{t}>" for t in range(n)]
    report = neighbour_collapse(clouds, k, texts=texts, ids=ids, top=4, precision="float64",
                                model="<i>m</i>", dataset="<b>d</b>")
    page = render_html(report._html_document(command="skpool neighbours '<x>'"))
    for raw in (*hostile_texts[:3], "<i>m</i>", "<b>d</b>", "'<x>'", "</script><!--", "<id0>"):
        assert raw not in page, raw
    assert page.count("<script") == 3
    # the page embeds exactly the --json record
    assert embedded(page, "skpool-record") == json.loads(json.dumps(report.to_records()))
    # brute force: each text's k nearest by cosine of the means, each unordered pair once
    means = np.stack([c.mean(axis=0) for c in clouds])
    unit = means / np.linalg.norm(means, axis=1, keepdims=True)
    cosine = unit @ unit.T
    np.fill_diagonal(cosine, -np.inf)
    pairs = {tuple(sorted((a, int(b)))) for a in range(n) for b in np.argsort(-cosine[a])[:k]}
    socm = pairwise_socm(clouds)
    mean = np.mean([socm[a, b] for a, b in pairs])
    (a, b), best = max(((p, socm[p]) for p in pairs), key=lambda item: item[1])
    spread = report.texts_table["spread"].to_numpy()  # the record's (its own tests check it)
    assert f"Mean SOCM {mean:.4f} over the {len(pairs)} neighbour pairs" in page
    assert f"Max neighbour SOCM {best:.4f}" in page
    assert f"between texts &lt;id{a}&gt; and &lt;id{b}&gt;" in page
    n_over = int(np.count_nonzero(spread > 2.0))
    assert (f"{n_over} of {n} texts" in page) if n_over else "No text has tr" in page
    # the top pair's full texts side by side, under the user's ids
    row = re.search(r'<tr id="top-pairs-1">(.*?)</tr>', page, re.S).group(1)
    cells = [html.unescape(re.sub(r"<[^>]+>", "", c))
             for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    assert cells[:5] == ["N1", ids[a], texts[a], ids[b], texts[b]]
    assert 'id="texts-table"' in page and "k = 3 per text" in page
    assert "exact (flat inner product" in page


def test_neighbours_page_states_an_approximate_index_and_its_recall():
    document = {"kind": "neighbours", "records": [{
        "model": "m", "layer": 6, "dataset": "d", "n_texts": 50, "n_neighbors": 5,
        "index": "hnsw", "recall": 0.9875, "n_recall_queries": 40, "n_pairs": 180,
        "texts": [], "top_pairs": []}]}
    page = render_html(document)
    assert "hnsw (approximate): recall@k 0.9875 measured on 40 texts" in page
    assert "180 distinct neighbour pairs" in page and "No pairs in this record." in page


def test_neighbours_page_size_does_not_grow_with_the_corpus(monkeypatch):
    """Past PAGE_TEXTS texts the page keeps the most at risk; counts stay over every text."""
    from skpool import neighbours
    from skpool.neighbours import neighbour_collapse

    pytest.importorskip("faiss")
    monkeypatch.setattr(neighbours, "PAGE_TEXTS", 10)
    rng = np.random.default_rng(3)
    n = 40
    clouds = [rng.normal(size=(int(rng.integers(8, 14)), 5)) * rng.uniform(0.3, 2.0)
              + rng.normal(size=5) + 1.0 for _ in range(n)]
    report = neighbour_collapse(clouds, 3, texts=[f"text {t}" for t in range(n)], top=4)
    document = report._html_document()
    record = document["records"][0]
    rows = report.to_records()[0]["texts"]
    kept = sorted(rows, key=lambda row: -row["max_socm"])[:10]
    assert [row["max_socm"] for row in record["texts"]] == [row["max_socm"] for row in kept]
    assert record["texts_left_to_json"] == n - 10
    spread = np.array([row["spread"] for row in rows])
    assert document["details"]["summary"]["n_trace_violations"] == int((spread > 2).sum())
    page = render_html(document)
    assert f"the other {n - 10} are in the command's --json" in page


def test_evaluate_page_says_each_thing_once():
    """Groups over the same points share one clause; notes are numbered and listed once."""
    document = evaluate_document()
    same = {**document["details"]["correlations"][0], "group": "trained",
            "note": "no baseline: the same points as 'all'; 2 points left out"}
    few = {**same, "group": "last-layer", "rho": None, "p": None, "interval": None, "n": 1,
           "note": "1 point: at least 4 are needed; no baseline: the same points as 'all'"}
    document["details"]["correlations"] = [document["details"]["correlations"][0], same, few]
    unranked = {**same, "group": "trained-no-embedding", "can_rank": False, "n": 5}
    document["details"]["correlations"].append(unranked)
    document["details"]["correlations"].append({**unranked, "group": "trained", "model": "x"})
    page = render_html(document)
    verdict = verdict_text(page)
    assert ("points the task cannot rank: trained, without the embedding layer = trained "
            "models: x (5 points)") in verdict
    assert ("all points and trained models: \u03c1 = 0.61 (95% interval -0.12 to 0.93) over 6 "
            "points, p = 0.11; ") in verdict
    assert "too few points for a correlation: last layer of each trained model (1 point)." \
        in verdict
    assert verdict.count("0.61") == 1
    table = re.search(r'<table class="data" id="correlations">(.*?)</table>', page, re.S)[1]
    notes = re.findall(r"<td dir=\"auto\">([0-9, ]*)</td></tr>", table)
    assert notes == ["", "1, 2", "3, 1", "1, 2", "1, 2"]
    listed = re.search(r'<ol class="notes" id="correlation-notes">(.*?)</ol>', page, re.S)[1]
    assert re.findall(r"<li>(.*?)</li>", listed) == [
        "no baseline: the same points as &#x27;all&#x27;", "2 points left out",
        "1 point: at least 4 are needed"]
