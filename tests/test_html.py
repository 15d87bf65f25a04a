"""The HTML reports, opened in a real browser (Debian's Chromium driven by Playwright).

Each command writes its page with ``--html`` on the tiny random BERT and a corpus
holding hostile lines; the page is opened from disk with the network watched.
Every page must: log no console error, request nothing but its own file, show the
numbers and texts of the command's ``--json``, sort and filter its tables, keep its
title and DOM whatever the texts hold, and leave a screenshot. Without Chromium or
Playwright the module is skipped with one line saying which is missing (what needs
no browser is ``tests/test_html_page.py``).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from skpool import TokenEncoder, pairwise_socm
from skpool._html import render_fragment, write_html
from skpool.analysis import CollapseReport, collapse_report_of_tokens
from skpool.cli import main
from skpool.datasets import read_corpus

CHROMIUM = "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    CHROMIUM = shutil.which("chromium")
try:
    from playwright import sync_api
except ImportError:
    sync_api = None
if sync_api is None or CHROMIUM is None:
    pytest.skip("the HTML report browser tests need "
                + ("Playwright's Python package (pip install playwright)" if sync_api is None
                   else "Debian's chromium (apt-get install chromium)")
                + "; skipped", allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        # the system browser: Playwright's own download cannot work offline
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


class Opened:
    """A page opened from disk, with its console errors and every request it made."""

    def __init__(self, browser, path: Path):
        self.errors, self.requests = [], []
        self.page = browser.new_page(viewport={"width": 1280, "height": 800})
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error"
                     else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.url = path.resolve().as_uri()
        self.page.goto(self.url)
        self.page.wait_for_load_state("load")

    def check_clean(self, tmp_path, name):
        assert self.errors == []
        assert self.requests == [self.url]
        self.page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000

    def cells(self, table: str, column: int) -> list:
        return self.page.eval_on_selector_all(
            f"#{table} tbody tr", f"rows => rows.map(r => r.cells[{column}].textContent)")

    def column_of(self, table: str, header: str) -> int:
        headers = self.page.eval_on_selector_all(f"#{table} thead th",
                                                 "hs => hs.map(h => h.textContent)")
        return headers.index(header)

    def check_sorting(self, table: str, column: int) -> None:
        """A click on the column's header sorts it descending, a second one ascending."""
        header = self.page.locator(f"#{table} thead th").nth(column)
        for descending in (True, False):
            header.click()
            values = [float(v) for v in self.cells(table, column)]
            assert values == sorted(values, reverse=descending)

    def check_filtering(self, table: str, query: str) -> None:
        """Typing ``query`` in the table's filter keeps (only) the rows that hold it."""
        self.page.fill(f"input[data-filter='{table}']", query)
        visible = self.page.eval_on_selector_all(
            f"#{table} tbody tr", "rows => rows.filter(r => r.style.display !== 'none')"
                                  ".map(r => r.textContent)")
        assert visible and all(query in v.lower() for v in visible)


@pytest.fixture
def hostile_corpus(tmp_path, sample_texts, hostile_texts):
    path = tmp_path / "hostile.txt"
    path.write_text("\n".join([*hostile_texts, *sample_texts]) + "\n", encoding="utf-8")
    return path, [*hostile_texts, *sample_texts]


def run(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured


def tiny(tiny_model_dir, corpus, *extra):
    return ["--model", tiny_model_dir, "--dataset", corpus, "--n-texts", "all", "--device",
            "cpu", "--quiet", "--no-cache", *extra]


def check_hostile_texts_are_text(opened, expected_title):
    page = opened.page
    assert page.title() == expected_title
    # the texts are in the DOM as text: no element came out of them
    assert page.evaluate("document.querySelectorAll('main img, main script').length") == 0
    shown = page.evaluate("Array.from(document.querySelectorAll('td.text')).map(c => "
                          "c.textContent)")
    assert "<script>document.title='x'</script>" in shown
    assert "<img src=x onerror=\"document.title='y'\">" in shown


def open_hostile_page(browser, capsys, tmp_path, command, args, title_start):
    """Run ``command`` on the hostile corpus with --html and --json, open its page, check it
    clean (no console error, no request, a screenshot) and its title and texts unharmed;
    return the opened page, its title and the first JSON record."""
    html, out_json = tmp_path / f"{command}.html", tmp_path / f"{command}.json"
    run(capsys, command, *args, "--html", html, "--json", out_json)
    opened = Opened(browser, html)
    opened.check_clean(tmp_path, command)
    title = opened.page.title()
    assert title.startswith(title_start) and "script" not in title
    check_hostile_texts_are_text(opened, title)
    return opened, title, json.loads(out_json.read_text())[0]


def test_report_page_in_the_browser(browser, capsys, tmp_path, tiny_model_dir, hostile_corpus):
    corpus, texts = hostile_corpus
    opened, title, record = open_hostile_page(browser, capsys, tmp_path, "report",
                                              tiny(tiny_model_dir, corpus), "Collapse report: ")
    page = opened.page
    # the header and the verdict hold the JSON's numbers
    assert f"Mean SOCM {record['mean_socm']:.4f}" in page.inner_text("#verdict")
    assert f"{record['n_trace_violations']} of {record['n_texts']} texts" in \
        page.inner_text("#verdict") or record["n_trace_violations"] == 0
    assert page.inner_text("#records").count(f"{record['mean_socm']:.4f}") == 1
    # the top pair, computed here independently, with its two full texts side by side
    tokens = TokenEncoder(model=str(tiny_model_dir), device="cpu").fit_transform(texts)
    socm = pairwise_socm(tokens)
    i, j = np.unravel_index(np.argmax(np.triu(socm, k=1)), socm.shape)
    first = page.eval_on_selector("#top-pairs tbody tr", "r => Array.from(r.cells).map("
                                  "c => c.textContent)")
    # the page names texts by the user's ids: for a .txt file, their line numbers
    ids = read_corpus(corpus).ids
    assert first[:5] == ["S1", str(ids[i]), texts[i], str(ids[j]), texts[j]]
    assert float(first[8]) == pytest.approx(socm[i, j], abs=6e-5)
    opened.check_sorting("top-pairs", opened.column_of("top-pairs", "SOCM"))
    opened.check_filtering("spread-table", "dog")
    # hovering a point shows its pair's ids and texts
    page.hover("#pair-scatter circle[data-set='top-pairs'][data-k='0']")
    tip = page.inner_text("#skpool-tip")
    assert tip.startswith(f"pair {ids[i]} \u2013 {ids[j]}") and texts[i][:40] in tip
    assert page.title() == title and opened.errors == []


def test_pairs_page_in_the_browser(browser, capsys, tmp_path, tiny_model_dir, hostile_corpus):
    corpus, texts = hostile_corpus
    opened, _, record = open_hostile_page(browser, capsys, tmp_path, "pairs",
                                          tiny(tiny_model_dir, corpus, "--top", 4), "")
    for table, view in (("top-pairs", "by_socm"), ("near-pairs", "conflated")):
        rows = opened.page.eval_on_selector_all(
            f"#{table} tbody tr", "rows => rows.map(r => Array.from(r.cells).map("
                                  "c => c.textContent))")
        assert len(rows) == len(record[view])
        columns = opened.page.eval_on_selector_all(f"#{table} thead th",
                                                   "hs => hs.map(h => h.textContent)")
        for row, pair in zip(rows, record[view]):
            assert row[1:5] == [str(pair["i"]), texts[pair["i"]], str(pair["j"]),
                                texts[pair["j"]]]
            assert row[columns.index("SOCM")] == f"{pair['socm']:.4f}"
            assert row[columns.index("d_\u03a3")] == f"{pair['d_sigma']:.4f}"


def test_neighbours_page_in_the_browser(browser, capsys, tmp_path, tiny_model_dir,
                                       hostile_corpus):
    pytest.importorskip("faiss")
    corpus, texts = hostile_corpus
    opened, title, record = open_hostile_page(
        browser, capsys, tmp_path, "neighbours",
        tiny(tiny_model_dir, corpus, "-K", 3, "--top", 5), "Every text's nearest neighbours: ")
    page = opened.page
    # the page embeds exactly what --json wrote
    assert json.loads(page.inner_text("#skpool-record")) == [record]
    top = record["top_pairs"][0]
    assert f"Max neighbour SOCM {top['socm']:.4f}" in page.inner_text("#verdict")
    # the top pair: the user's ids (line numbers) and both full texts side by side
    rows = page.eval_on_selector_all("#top-pairs tbody tr", "rows => rows.map(r => "
                                     "Array.from(r.cells).map(c => c.textContent))")
    columns = page.eval_on_selector_all("#top-pairs thead th", "hs => hs.map(h => h.textContent)")
    assert len(rows) == len(record["top_pairs"])
    for row, pair in zip(rows, record["top_pairs"]):
        assert row[:5] == [f"N{pair['rank']}", str(pair["id_i"]), texts[pair["i"]],
                           str(pair["id_j"]), texts[pair["j"]]]
        assert row[columns.index("SOCM")] == f"{pair['socm']:.4f}"
    # every text's row: its neighbours' ids and max SOCM, as in the JSON
    column = opened.column_of("texts-table", "max SOCM")
    shown = dict(zip(opened.cells("texts-table", 0), opened.cells("texts-table", column)))
    assert shown == {str(t["id"]): f"{t['max_socm']:.4f}" for t in record["texts"]}
    neighbours = dict(zip(opened.cells("texts-table", 0), opened.cells(
        "texts-table", opened.column_of("texts-table", "neighbours (nearest first)"))))
    assert neighbours == {str(t["id"]): ", ".join(map(str, t["neighbours"]))
                          for t in record["texts"]}
    opened.check_sorting("texts-table", column)
    opened.check_filtering("texts-table", "dog")
    assert page.title() == title and opened.errors == []


def test_layers_compare_ot_pages_in_the_browser(browser, capsys, tmp_path, tiny_model_dir,
                                                hostile_corpus):
    corpus, _ = hostile_corpus
    for command, extra in (("layers", []), ("compare", []), ("ot", ["--pairs", 78])):
        html, out_json = tmp_path / f"{command}.html", tmp_path / f"{command}.json"
        args = tiny(tiny_model_dir, corpus, *extra, "--html", html, "--json", out_json)
        if command == "compare":
            args = [str(tiny_model_dir), str(tiny_model_dir), *args[2:]]
        run(capsys, command, *args)
        records = json.loads(out_json.read_text())
        opened = Opened(browser, html)
        opened.check_clean(tmp_path, command)
        text = opened.page.inner_text("main")
        for record in records:
            key = "mean_socm" if command != "ot" else "median_ratio"
            assert f"{record[key]:.4f}" in text, (command, key)
        if command == "layers":
            assert len(opened.cells("records", 0)) == len(records) == 3
            assert opened.page.locator("svg.chart").count() == 3
        if command == "ot":
            # every pair of the 13 texts, so every text is on the page
            assert opened.page.locator("#w2-scatter circle.pt").count() == 78
            check_hostile_texts_are_text(opened, opened.page.title())


#: How the page names each correlation group (written here, not imported from the page).
GROUP_WORDS = {"all": "all points", "trained": "trained models",
               "trained-no-embedding": "trained, without the embedding layer",
               "within-model": "within one model", "last-layer": "last layer of each trained model"}


@pytest.mark.slow
def test_evaluate_page_in_the_browser(browser, capsys, tmp_path, tiny_model_dir,
                                      tiny_model_builder):
    from skpool.datasets import DatasetNotInstalledError, load_lee50

    try:
        load_lee50()
    except DatasetNotInstalledError as exc:
        pytest.skip(str(exc))
    # a second tiny model marked as the baseline, so that every group exists
    baseline = tiny_model_builder(tmp_path / "baseline", seed=1)
    out_json, out_html = tmp_path / "e.json", tmp_path / "e.html"
    run(capsys, "evaluate", "--model", tiny_model_dir, baseline, "--baseline", baseline,
        "--dataset", "lee-50", "bbc-news", "--n-texts", 10, "--layers", 0, 1, 2, "--pooling",
        "mean", "w2-gaussian", "--pairs", 20, "--folds", 2, "--bootstrap", 30, "--intervene",
        "rescale:0.5", "swap", "--device", "cpu", "--quiet", "--json", out_json, "--html",
        out_html)
    document = json.loads(out_json.read_text())
    opened = Opened(browser, out_html)
    opened.check_clean(tmp_path, "evaluate")

    # the correlation table: one row per JSON correlation, in its order, with its numbers
    correlations = document["correlations"]
    table = "correlations"
    groups = opened.cells(table, opened.column_of(table, "group"))
    assert len(groups) == len(correlations)
    expected = [GROUP_WORDS[c["group"]] + (f": {c['model']}" if c["model"] else "")
                for c in correlations]
    assert groups == expected
    assert {g.split(":")[0] for g in groups} == set(GROUP_WORDS.values())
    for header, key in (("\u03c1", "rho"), ("p", "p"), ("n", "n"),
                        ("partial \u03c1", "partial_rho")):
        shown = opened.cells(table, opened.column_of(table, header))
        assert shown == [("\u2013" if c[key] is None else f"{c[key]:.4f}"
                          if isinstance(c[key], float) else str(c[key])) for c in correlations]
    intervals = opened.cells(table, opened.column_of(table, "95% interval"))
    assert intervals == ["\u2013" if c["interval"] is None
                         else f"{c['interval'][0]:.2f} to {c['interval'][1]:.2f}"
                         for c in correlations]

    # the table fits the page at 1280 px: no sideways scrolling, neither its own nor the page's
    widths = opened.page.evaluate(
        "() => { const t = document.getElementById('correlations'); return [t.scrollWidth, "
        "t.parentElement.clientWidth, document.documentElement.scrollWidth, innerWidth]; }")
    assert widths[0] <= widths[1] and widths[2] <= widths[3], widths
    # each note is written once below the table; a row's numbers give back its JSON note
    notes = opened.page.eval_on_selector_all("#correlation-notes li",
                                             "ls => ls.map(l => l.textContent)")
    assert len(notes) == len(set(notes))
    refs = opened.cells(table, opened.column_of(table, "notes"))
    assert ["; ".join(notes[int(k) - 1] for k in ref.split(", ") if k) for ref in refs] == [
        c["note"] for c in correlations]

    # the verdict and every panel read the "all" group of mean SOCM; the verdict says each
    # thing once: a sentence per task and pooling, what "cannot rank" means in one more
    sentences = opened.page.eval_on_selector_all("#verdict p", "ps => ps.map(p => p.textContent)")
    assert sum("fold/bootstrap error" in s for s in sentences) == 1
    titles = opened.page.eval_on_selector_all("svg.chart text.title",
                                              "ts => ts.map(t => t.textContent)")
    for c in correlations:
        if c["group"] != "all" or c["measure"] != "mean_socm":
            continue
        (sentence,) = [s for s in sentences if s.startswith(f"{c['task']}, {c['pooling']} ")]
        if c["can_rank"] is False:
            # named with the groups that hold the same points, if any
            assert re.search(f"points the task cannot rank: all points( = [^(;]*)? "
                             f"\\({c['n']} points\\)", sentence), sentence
        else:
            assert re.search(f"all points[^;]*: \u03c1 = {c['rho']:.2f}", sentence)
        assert any(t.startswith(f"{c['task']}:  Spearman \u03c1 = {c['rho']:.2f}") for t in titles)

    # what mean pooling costs, and the interventions with mean pooling's score unchanged
    for cost in document["pooling_costs"]:
        if cost["condition"] == "none":
            assert f"gap {cost['difference']:+.4f}" in opened.page.inner_text("main")
    rows = document["interventions"]
    table = "interventions"
    assert opened.cells(table, opened.column_of(table, "condition")) == [
        r["condition"] for r in rows]
    assert opened.cells(table, opened.column_of(table, "mean SOCM")) == [
        f"{r['mean_socm']:.4f}" for r in rows]
    assert opened.cells(table, opened.column_of(table, "mean-pooling score identical")) \
        == ["yes"] * len(rows) == ["yes" if r["mean_score_unchanged"] else "no" for r in rows]
    # the points are not joined: no path in the score panels
    assert opened.page.locator("svg.chart path").count() == 0


def test_render_fragment_runs_in_a_notebook_like_frame(browser, tmp_path, hostile_texts):
    rng = np.random.default_rng(0)
    clouds = [rng.normal(size=(5, 8)) + 2.0 for _ in range(12)]
    report = collapse_report_of_tokens(clouds, random_state=0)
    report = CollapseReport(record=report.record, tokens=report.tokens,
                            concentration=report.concentration,
                            texts=(*hostile_texts, *(f"t{k}" for k in range(7))))
    host = tmp_path / "notebook.html"
    host.write_text(f"<!DOCTYPE html><title>nb</title>{render_fragment(report._html_document())}",
                    encoding="utf-8")
    opened = Opened(browser, host)
    assert opened.errors == [] and opened.page.title() == "nb"
    frame = opened.page.frames[1]
    frame.wait_for_selector("main h1")
    assert frame.title().startswith("Collapse report")
    assert frame.evaluate("document.querySelectorAll('main img').length") == 0
