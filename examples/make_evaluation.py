"""Regenerate the "Does collapse predict the downstream score?" section of docs/results.md.

    .venv/bin/python examples/make_evaluation.py      # about 10-15 minutes on 2 CPU cores

Three encoders, every number measured by :func:`skpool.evaluation.evaluate` on
the real tasks installed by ``requirements/data.txt``:

- the bundled all-MiniLM-L6-v2 (all 7 hidden states), the bundled
  all-mpnet-base-v2 (every other hidden state, to keep the run short) and the
  MiniLM architecture with random weights (all 7), the untrained third point;
- BBC News and Rotten Tomatoes (5-fold accuracy of StandardScaler ->
  LogisticRegression on each pooling) and Lee-50 (Spearman correlation with
  the human pair similarities: cosine of pooled vectors, or -W2 between
  mean-normalized token clouds);
- for every layer and task: mean SOCM (sampled pairs, standard error), the
  concentration-matched SOCM on the same pairs, the mean spread and
  within-text cosine;
- then the Spearman correlation of collapse and score across layers and
  models with its p-value and bootstrap interval, the partial correlation
  given concentration, and the error rate by spread quintile.

The section is written between two marker lines of docs/results.md (added
at the end the first time), so ``examples/make_results.py`` and this script
each regenerate their own part. Whatever the numbers say is what is written;
the sentences that summarise them are generated from the numbers.

Options make a smaller run (``--n-texts 30 --pairs 50 --skip-mpnet``) and
write elsewhere (``--docs DIR``).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

import skpool  # noqa: E402
from skpool import TokenEncoder  # noqa: E402
from skpool.evaluation import evaluate, socm_score_correlations  # noqa: E402
from skpool.plotting import plot_socm_vs_score  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_models import build_untrained_minilm  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SEED = 0
BEGIN = "<!-- BEGIN examples/make_evaluation.py: generated, do not edit by hand -->"
END = "<!-- END examples/make_evaluation.py -->"
UNTRAINED = "MiniLM architecture, random weights"
POOLINGS = ("mean", "cls", "max", "gaussian-diag", "gaussian-projected", "w2-gaussian")
TASK_TITLES = {"bbc-news": "BBC News (5 topics), accuracy",
               "rotten-tomatoes": "Rotten Tomatoes (fresh/rotten), accuracy",
               "lee-50": "Lee-50, Spearman with human similarity"}


def fmt(value, digits=3):
    if value is None:
        return "–"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    return f"{value:.{digits}f}"


def table(rows, columns) -> str:
    lines = ["| " + " | ".join(h for _, h in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(cell(row)) for cell, _ in columns) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-texts", type=int, default=200,
                        help="texts per classification corpus (default: 200)")
    parser.add_argument("--max-length", type=int, default=128,
                        help="tokens per text for every model (default: 128)")
    parser.add_argument("--pairs", type=int, default=300,
                        help="SOCM pairs per task and layer (default: 300)")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--mpnet-layers", type=int, nargs="+", default=[0, 2, 4, 6, 8, 10, 12])
    parser.add_argument("--skip-mpnet", action="store_true")
    parser.add_argument("--docs", type=Path, default=REPO / "docs")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    steps = []
    common = dict(tasks=("bbc-news", "rotten-tomatoes", "lee-50"), poolings=POOLINGS,
                  n_texts=args.n_texts, n_pairs=args.pairs, n_bootstrap=args.bootstrap,
                  random_state=SEED, progress=True)
    results = []
    with tempfile.TemporaryDirectory() as scratch, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # truncation is counted in the records
        runs = [("all-MiniLM-L6-v2", TokenEncoder("all-MiniLM-L6-v2"), None)]
        if not args.skip_mpnet:
            runs.append(("all-mpnet-base-v2", TokenEncoder("all-mpnet-base-v2"),
                         args.mpnet_layers))
        untrained = build_untrained_minilm(Path(scratch) / "untrained", seed=SEED)
        runs.append((UNTRAINED, TokenEncoder(str(untrained)), None))
        for index, (label, encoder, layers) in enumerate(runs):
            start = time.perf_counter()
            cache = Path(scratch) / f"cache-{index}"  # the W2-exact run below reads it back
            encoder.set_params(max_length=args.max_length, device="cpu")
            sweep = evaluate({label: encoder}, layers=layers, cache=cache, **common)
            # exact transport is the slow similarity: at the last layer only
            last = max(r.layer for r in sweep.records)
            exact = evaluate({label: encoder}, ["lee-50"], layers=[last], poolings=["w2-exact"],
                             cache=cache, **{k: v for k, v in common.items()
                                             if k not in ("tasks", "poolings")})
            results += [sweep, exact]
            steps.append((label, time.perf_counter() - start))
    records = [r for result in results for r in result.records]
    diagnostics = [d for result in results for d in result.diagnostics]
    start = time.perf_counter()
    correlations = socm_score_correlations(records, n_bootstrap=args.bootstrap,
                                           random_state=SEED)
    steps.append(("correlations", time.perf_counter() - start))

    figures = args.docs / "figures"
    figures.mkdir(parents=True, exist_ok=True)

    plot_socm_vs_score(records, path=figures / "socm_vs_score.png", pooling="mean")
    plot_socm_vs_score(records, path=figures / "matched_socm_vs_score.png", pooling="mean",
                       measure="matched_socm")
    total = time.perf_counter() - started
    steps.append(("total", total))
    section = render(args, records, correlations, diagnostics, steps, len(runs))
    write_section(args.docs / "results.md", section)
    print(f"[make_evaluation] wrote the section of {args.docs / 'results.md'} in {total:.0f} s")
    return 0


def write_section(path: Path, section: str) -> None:
    block = f"{BEGIN}\n{section.rstrip()}\n{END}\n"
    page = path.read_text(encoding="utf-8") if path.exists() else ""
    if BEGIN in page and END in page:
        head, rest = page.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        page = head + block + tail
    else:
        page = page.rstrip("\n") + ("\n\n" if page else "") + block
    path.write_text(page, encoding="utf-8")


def _sentence(c) -> str:
    if c.spearman is None:
        return f"undefined ({c.note})"
    partial = ("–" if c.partial_spearman is None
               else f"{c.partial_spearman:+.2f} (p {c.partial_p_value:.2g})")
    return (f"{c.spearman:+.2f} (p {c.p_value:.2g}, 95% bootstrap interval "
            f"[{c.ci_low:+.2f}, {c.ci_high:+.2f}], {c.n_points} points); partial given "
            f"concentration {partial}")


def render(args, records, correlations, diagnostics, steps, n_models) -> str:
    out = []
    add = out.append
    cpu = os.cpu_count()
    versions = f"skpool {skpool.__version__}, Python {platform.python_version()}"
    add("## 6. Does collapse predict the downstream score?\n")
    add(f"Generated by `.venv/bin/python examples/make_evaluation.py` ({versions}; seed "
        f"{SEED}; {args.n_texts} texts per classification corpus, stratified; all 50 Lee "
        f"documents and their 1,225 human-rated pairs; max_length {args.max_length} for every "
        f"model; mean SOCM over {args.pairs} sampled pairs per task and layer, the same pairs "
        "at every layer; 5-fold stratified accuracy of StandardScaler -> LogisticRegression; "
        f"{args.bootstrap} bootstrap resamples). The same measurement is `skpool evaluate`.\n")
    add("Accuracy `± std` is the spread over the 5 folds; the Lee-50 Spearman `± std` is its "
        "bootstrap spread over pairs. SOCM `± SE` is the standard error of the pair sample. "
        "*matched* is the concentration-matched SOCM (every text's centred, mean-normalized "
        "cloud rescaled to tr(Σ) = 1, means kept): what is left is the shape of the token "
        "spread, not its size. *spread* is the mean tr(Σ), *cosine* the mean within-text "
        "cosine, *tr>2* the texts breaking the paper's assumption.\n")

    add("### Mean pooling, layer by layer\n")
    for task, title in TASK_TITLES.items():
        rows = [r for r in records if r.task == task and r.pooling == "mean"]
        if not rows:
            continue
        add(f"**{title}**\n")
        add(table(rows, [
            (lambda r: r.model, "model"), (lambda r: r.layer, "layer"),
            (lambda r: f"{r.score:.3f} ± {r.score_std:.3f}", "score"),
            (lambda r: f"{r.mean_socm:.4f} ± {r.stderr:.4f}", "mean SOCM"),
            (lambda r: f"{r.matched_socm:.4f}", "matched"),
            (lambda r: f"{r.mean_spread:.2f}", "spread"),
            (lambda r: f"{r.mean_cosine:.3f}", "cosine"),
            (lambda r: r.n_trace_violations, "tr>2"), (lambda r: r.n_truncated, "truncated"),
        ]) + "\n")
    add("![SOCM against score](figures/socm_vs_score.png)\n")
    add("*Mean SOCM of each task's texts against the task's score with mean pooling, one "
        "colour per model, each point a hidden layer (its number beside it); "
        "`skpool.plotting.plot_socm_vs_score`.*\n")
    add("![matched SOCM against score](figures/matched_socm_vs_score.png)\n")
    add("*The same with the concentration-matched SOCM.*\n")

    add("### Correlation of collapse and score across layers and models\n")
    add("Spearman ρ over the (model, layer) points, with its p-value and a 95% percentile "
        "bootstrap interval over points; *partial* controls for the mean spread and the mean "
        "within-text cosine (ranks regressed out, t test with n − 4 degrees of freedom). "
        "Points within one model are layers of the same network and are not independent: "
        "the p-values are optimistic.\n")
    add(table([c for c in correlations if c.pooling in ("mean", "gaussian-diag", "w2-gaussian")],
              [(lambda c: c.task, "task"), (lambda c: c.pooling, "pooling"),
               (lambda c: c.scope, "points"), (lambda c: c.measure, "collapse"),
               (lambda c: c.n_points, "n"), (lambda c: fmt(c.spearman, 2), "ρ"),
               (lambda c: fmt(c.p_value, 3), "p"),
               (lambda c: "–" if c.ci_low is None else f"[{c.ci_low:+.2f}, {c.ci_high:+.2f}]",
                "95% interval"),
               (lambda c: fmt(c.partial_spearman, 2), "partial ρ"),
               (lambda c: fmt(c.partial_p_value, 3), "partial p"),
               (lambda c: c.note or "", "note")]) + "\n")
    add("In words, over all models' layers with mean pooling:\n")
    for task in TASK_TITLES:
        for measure, name in (("mean_socm", "mean SOCM"),
                              ("matched_socm", "concentration-matched SOCM")):
            found = [c for c in correlations if c.task == task and c.pooling == "mean"
                     and c.scope == "all models" and c.measure == measure]
            if found:
                add(f"- {task}, {name} vs score: ρ = {_sentence(found[0])}.")
    add("")
    add("The correlations for every pooling are in the `socm_score_correlations` output of "
        "the same run (`skpool evaluate` prints them all).\n")

    add("### Poolings at the last evaluated layer\n")
    add("*-W2 with exact transport is measured at this layer only (1,225 transport problems "
        "per layer).*\n")
    last = {}
    for r in records:
        last[r.model] = max(last.get(r.model, 0), r.layer)
    rows = [r for r in records if r.layer == last[r.model]]
    poolings = list(dict.fromkeys(r.pooling for r in rows))
    models = list(dict.fromkeys(r.model for r in rows))
    grid = []
    for model in models:
        for task in TASK_TITLES:
            cells = {r.pooling: r for r in rows if r.model == model and r.task == task}
            if cells:
                grid.append((model, task, cells))
    add(table(grid, [(lambda g: f"{g[0]} (layer {last[g[0]]})", "model"),
                     (lambda g: g[1], "task")] + [
        ((lambda p: lambda g: (f"{g[2][p].score:.3f} ± {g[2][p].score_std:.3f}"
                               if p in g[2] else "–"))(p), p) for p in poolings]) + "\n")
    add("*Gaussian features (mean and variances, or mean and a 16-direction projected "
        "covariance) are classification features only; -W2 between token clouds (Gaussian "
        "closed form or exact transport, mean-normalized clouds) is a similarity only.*\n")

    add("### Which texts are misclassified?\n")
    add("Out-of-fold errors of mean pooling at each model's last evaluated layer, the texts "
        "cut into five equal groups (1 = smallest values) by their spread tr(Σ), and by their "
        "mean SOCM to their 5 nearest texts under mean pooling (cosine of mean vectors): "
        "texts that mean pooling puts close to others whose tokens spread differently.\n")
    labels = {"spread": "tr(Σ)", "neighbour_socm": "SOCM to 5 nearest"}
    add(table([(d, b) for d in diagnostics for b in d.bins], [
        (lambda x: x[0].model, "model"), (lambda x: x[0].task, "task"),
        (lambda x: labels[x[0].by], "grouped by"), (lambda x: x[1].bin, "quintile"),
        (lambda x: f"{x[1].low:.3f}–{x[1].high:.3f}", "range"),
        (lambda x: x[1].n_texts, "texts"), (lambda x: f"{x[1].error_rate:.3f}", "error rate"),
    ]) + "\n")

    add("### Timings of this run\n")
    add(table(steps, [(lambda s: s[0], "step"), (lambda s: f"{s[1]:.0f}", "seconds")]) + "\n")
    add(f"*Wall-clock seconds on {cpu} CPU cores (shared with other work while it ran), "
        f"{n_models} models, encoding and model loading included.*\n")
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
