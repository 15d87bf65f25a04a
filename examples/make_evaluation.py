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
- then the Spearman correlation of collapse and score over groups of
  (model, layer) points -- all points, the trained models only (the
  random-weights architecture is a baseline), trained without layer 0,
  within each model, each trained model's last layer -- with its p-value,
  bootstrap interval, the partial correlation given concentration and the
  check that the task can rank the points at all;
- at each model's last layer, what mean pooling costs (Gaussian features or
  -W2 minus mean pooling, paired interval) and the interventional control
  (every text's spread rescaled or swapped, its mean token kept);
- and the error rate by spread quintile.

The section is written between two marker lines of docs/results.md (added
at the end the first time), so ``examples/make_results.py`` and this script
each regenerate their own part. Whatever the numbers say is what is written;
the sentences that summarise them are generated from the numbers.

Options make a smaller run (``--n-texts 30 --pairs 50 --skip-mpnet``) and
write elsewhere (``--docs DIR``). ``--dry-run`` prints the section instead
of writing it.
"""

from __future__ import annotations

import argparse
import pickle
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
from scipy.stats import spearmanr  # noqa: E402

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
INTERVENTIONS = ("rescale:0.5,2", "swap")
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
    parser.add_argument("--minilm-layers", type=int, nargs="+", default=None,
                        help="all-MiniLM-L6-v2's hidden layers (default: all 7)")
    parser.add_argument("--untrained-layers", type=int, nargs="+", default=None,
                        help="the random-weights MiniLM's hidden layers (default: all 7)")
    parser.add_argument("--poolings", nargs="+", default=list(POOLINGS),
                        help=f"default: {' '.join(POOLINGS)}")
    parser.add_argument("--no-exact", action="store_true",
                        help="skip -W2 with exact transport at the last layer")
    parser.add_argument("--skip-mpnet", action="store_true")
    parser.add_argument("--docs", type=Path, default=REPO / "docs")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the section, write nothing")
    parser.add_argument("--save", type=Path, default=None,
                        help="also pickle the measurements here (to render them again)")
    parser.add_argument("--load", type=Path, default=None,
                        help="render the measurements a --save run pickled; measure nothing")
    args = parser.parse_args(argv)
    given = sys.argv[1:] if argv is None else list(argv)
    if args.load is not None:
        with open(args.load, "rb") as file:
            saved = pickle.load(file)
    else:
        saved = measure(args, given)
        if args.save is not None:
            with open(args.save, "wb") as file:
                pickle.dump(saved, file)
    if args.load is not None:  # the settings of the run that measured, not of this call
        docs = args.docs
        args = parser.parse_args(saved["argv"])
        args.docs = docs
    args.argv_used = saved["argv"]
    records, steps = saved["records"], list(saved["steps"])
    start = time.perf_counter()
    correlations = socm_score_correlations(records, baselines=[UNTRAINED],
                                           last_layers=saved["last_layers"],
                                           n_bootstrap=args.bootstrap, random_state=SEED)
    steps.append(("correlations", time.perf_counter() - start))
    total = sum(seconds for _, seconds in steps)
    steps.append(("total", total))
    section = render(args, records, correlations, saved["diagnostics"], saved["costs"],
                     saved["controls"], steps, saved["n_models"])
    if args.dry_run:
        print(section)
        return 0
    figures = args.docs / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    plot_socm_vs_score(records, path=figures / "socm_vs_score.png", pooling="mean")
    plot_socm_vs_score(records, path=figures / "matched_socm_vs_score.png", pooling="mean",
                       measure="matched_socm")
    write_section(args.docs / "results.md", section)
    print(f"[make_evaluation] wrote the section of {args.docs / 'results.md'} in {total:.0f} s")
    return 0


def measure(args, given) -> dict:
    """Run every model; return what render needs (picklable)."""
    steps = []
    steps = []
    common = dict(tasks=("bbc-news", "rotten-tomatoes", "lee-50"), poolings=args.poolings,
                  n_texts=args.n_texts, n_pairs=args.pairs, n_bootstrap=args.bootstrap,
                  random_state=SEED, progress=True)
    results, last_layers = [], {}
    with tempfile.TemporaryDirectory() as scratch, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # truncation is counted in the records
        runs = [("all-MiniLM-L6-v2", TokenEncoder("all-MiniLM-L6-v2"), args.minilm_layers)]
        if not args.skip_mpnet:
            runs.append(("all-mpnet-base-v2", TokenEncoder("all-mpnet-base-v2"),
                         args.mpnet_layers))
        untrained = build_untrained_minilm(Path(scratch) / "untrained", seed=SEED)
        runs.append((UNTRAINED, TokenEncoder(str(untrained)), args.untrained_layers))
        for index, (label, encoder, layers) in enumerate(runs):
            start = time.perf_counter()
            cache = Path(scratch) / f"cache-{index}"  # the W2-exact run below reads it back
            encoder.set_params(max_length=args.max_length, device="cpu")
            sweep = evaluate({label: encoder}, layers=layers, cache=cache,
                             interventions=INTERVENTIONS, **common)
            # exact transport is the slow similarity: at the last layer only
            last = max(r.layer for r in sweep.records)
            results.append(sweep)
            if not args.no_exact:
                results.append(evaluate(
                    {label: encoder}, ["lee-50"], layers=[last], poolings=["w2-exact"],
                    cache=cache, **{k: v for k, v in common.items()
                                    if k not in ("tasks", "poolings")}))
            last_layers[label] = encoder.fit().n_layers_
            steps.append((label, time.perf_counter() - start))
    shown, skip = [], False
    for a in given:  # the options that shape the numbers, not where they go
        if skip:
            skip = False
        elif a in ("--save", "--load", "--docs"):
            skip = True
        elif a != "--dry-run":
            shown.append(a)
    return {"argv": shown,
            "records": [r for result in results for r in result.records],
            "diagnostics": [d for result in results for d in result.diagnostics],
            "costs": [c for result in results for c in result.pooling_costs],
            "controls": [c for result in results for c in result.interventions],
            "steps": steps, "last_layers": last_layers, "n_models": len(runs)}


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


GROUP_TITLES = {
    "all": "all points",
    "trained": "trained models",
    "trained-no-embedding": "trained, without layer 0",
    "within-model": "within one model",
    "last-layer": "trained models' last layers",
}


def _describe(records, keep, what) -> str:
    """One line of ranges for the mean-pooling points ``keep`` selects, from the numbers."""
    rows = [r for r in records if r.pooling == "mean" and keep(r)]
    if not rows:
        return f"{what}: no points"

    def span(values, digits):
        return f"{min(values):.{digits}f}–{max(values):.{digits}f}"

    scores = "; ".join(
        f"{task} score {span([r.score for r in rows if r.task == task], 3)}"
        for task in TASK_TITLES if any(r.task == task for r in rows))
    return (f"{what}: tr(Σ) {span([r.mean_spread for r in rows], 2)}, mean SOCM "
            f"{span([r.mean_socm for r in rows], 3)}, {scores}.")


def _layers_by_model(records) -> dict:
    out = {}
    for r in records:
        out.setdefault(r.model, set()).add(r.layer)
    return {model: sorted(layers) for model, layers in out.items()}


def _group(c) -> str:
    return GROUP_TITLES[c.group] + (f": {c.model}" if c.model else "")


def _reading(c) -> str:
    """What one correlation supports, decided from its own numbers."""
    if c.rho is None:
        return f"undefined ({c.note.split(';')[0]})"
    numbers = (f"ρ = {c.rho:+.2f} (p {c.p:.2g}, 95% interval [{c.ci_low:+.2f}, "
               f"{c.ci_high:+.2f}], {c.n} points)")
    if c.can_rank is False:
        return (f"{numbers}, but the scores of these points spread by SD {c.score_sd:.3f}, "
                f"within their fold/bootstrap error ({c.score_error:.3f}): the task cannot "
                "rank them, so this is not a finding")
    if c.p < 0.05 and (c.ci_low > 0 or c.ci_high < 0):
        verdict = "a correlation these points support"
    else:
        verdict = "not distinguishable from no correlation"
    partial = ("" if c.partial_rho is None else
               f"; given tr(Σ) and within-text cosine, partial ρ = {c.partial_rho:+.2f} "
               f"(p {c.partial_p:.2g})")
    return f"{numbers}: {verdict}{partial}"


def render(args, records, correlations, diagnostics, costs, controls, steps,
           n_models) -> str:
    out = []
    add = out.append
    cpu = os.cpu_count()
    versions = f"skpool {skpool.__version__}, Python {platform.python_version()}"
    argv_used = args.argv_used
    add("## 6. Does collapse predict the downstream score?\n")
    add(f"Generated by `.venv/bin/python examples/make_evaluation.py` ({versions}; seed "
        f"{SEED}; {args.n_texts} texts per classification corpus, stratified; all 50 Lee "
        f"documents and their 1,225 human-rated pairs; max_length {args.max_length} for every "
        f"model; mean SOCM over {args.pairs} sampled pairs per task and layer, the same pairs "
        "at every layer; 5-fold stratified accuracy of StandardScaler -> LogisticRegression; "
        f"{args.bootstrap} bootstrap resamples; poolings {', '.join(args.poolings)}; layers "
        + "; ".join(f"{model} {', '.join(str(x) for x in layers)}" for model, layers in
                    _layers_by_model(records).items())
        + f"; interventions {' '.join(INTERVENTIONS)} at each model's last layer; run as "
        f"`examples/make_evaluation.py {' '.join(argv_used)}`, kept small for 2 shared CPU "
        "cores). The same measurement is `skpool evaluate`.\n")
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

    add("### Correlation of collapse and score, by group of points\n")
    add("Each point is one model at one layer. Spearman ρ over the points of a group, with "
        "its p-value and a 95% percentile bootstrap interval over points; *partial* controls "
        "for the mean spread tr(Σ) and the mean within-text cosine (ranks regressed out, t "
        "test with n − 4 degrees of freedom). The groups: *all points*; *trained models* "
        f"(the {UNTRAINED} is a baseline, left out); *trained, without layer 0* (the "
        "embedding output); *within one model* (its layers; not independent, so the "
        "p-values are optimistic); *trained models' last layers* (the paper's comparison "
        "across encoders). *ranks* is the ranking check: whether the scores of the group's "
        "points differ by more than their own fold (accuracy) or bootstrap (Spearman) "
        "error, a χ² test at 5%; where it says *no*, the task cannot rank these points and "
        "the correlation is not a finding. Mean pooling's scores; the other poolings are in "
        "the `correlations` of `skpool evaluate --json`.\n")
    shown = [c for c in correlations if c.pooling == "mean"]
    add(table(shown, [
        (lambda c: c.task, "task"), (lambda c: _group(c), "points"),
        (lambda c: c.measure, "collapse"), (lambda c: c.n, "n"),
        (lambda c: fmt(c.rho, 2), "ρ"), (lambda c: fmt(c.p, 3), "p"),
        (lambda c: "–" if c.ci_low is None else f"[{c.ci_low:+.2f}, {c.ci_high:+.2f}]",
         "95% interval"),
        (lambda c: fmt(c.partial_rho, 2), "partial ρ"), (lambda c: fmt(c.partial_p, 3),
                                                         "partial p"),
        (lambda c: {True: "yes", False: "no", None: "–"}[c.can_rank], "ranks"),
        (lambda c: (f"{c.score_sd:.3f} / {c.score_error:.3f}" if c.score_sd is not None
                    else "–"), "score SD / error"),
    ]) + "\n")
    add("In words, mean SOCM against mean pooling's score:\n")
    for task in TASK_TITLES:
        for group in ("all", "trained", "trained-no-embedding", "last-layer"):
            found = [c for c in shown if c.task == task and c.group == group
                     and c.measure == "mean_socm"]
            if found:
                add(f"- {task}, {GROUP_TITLES[group]}: {_reading(found[0])}.")
    add("")
    trained = [m for m in dict.fromkeys(r.model for r in records) if m != UNTRAINED]
    add(f"What this can and cannot test. The paper's claim is across encoders: over twelve "
        "trained models' last layers, mean SOCM correlates with the MTEB average at "
        f"ρ = −0.678. Here there {'is' if len(trained) == 1 else 'are'} {len(trained)} "
        f"trained model{'' if len(trained) == 1 else 's'}, so the last-layer group holds "
        f"{len(trained)} point{'' if len(trained) == 1 else 's'} per task, too few for any "
        "correlation: this run "
        "cannot test the paper's claim, for or against. What it can test is a different "
        "question: whether, across the layers of these models, the collapse of a task's "
        "texts goes with the score of a probe on that layer. The all-points numbers mix "
        "what the groups separate:\n")
    add("- " + _describe(records, lambda r: r.model == UNTRAINED, "the random-weights baseline"))
    add("- " + _describe(records, lambda r: r.model != UNTRAINED and r.layer == 0,
                         "the trained models' embedding layer (layer 0)"))
    add("- " + _describe(records, lambda r: r.model != UNTRAINED and r.layer > 0,
                         "the trained models' other layers"))
    follow = []
    for task in TASK_TITLES:
        rows = [r for r in records if r.task == task and r.pooling == "mean"]
        if len(rows) >= 3:
            rho = spearmanr([r.mean_socm for r in rows], [r.mean_spread for r in rows])[0]
            follow.append(f"{task} {rho:+.2f}")
    if follow:
        strong = all(abs(float(f.split()[-1])) >= 0.8 for f in follow)
        add("\nAcross all points, the Spearman correlation of mean SOCM with the mean "
            f"spread tr(Σ) is {', '.join(follow)}"
            + (": across layers SOCM nearly ranks the points as concentration does, so a "
               "correlation with SOCM is largely one with concentration; the partial "
               "correlation removes it." if strong else
               "; the partial correlation removes what concentration explains.") + "\n")

    add("### What mean pooling costs here\n")
    add("At each model's last layer: a distributional pooling's score minus mean pooling's, "
        "on the same 5 folds (accuracy; a corrected paired t interval, Nadeau and Bengio, "
        "since folds share training texts) or the same 1,225 pairs (Spearman; a paired "
        "bootstrap over pairs). Positive: mean pooling costs that much here. The condition "
        "is the intervention applied first (below); under *swap* every text carries "
        "another text's second-order spread, so a gap that vanishes there was carried by "
        "the text-specific second-order information.\n")
    add(table(costs, [
        (lambda c: f"{c.model} (layer {c.layer})", "model"), (lambda c: c.task, "task"),
        (lambda c: c.condition, "condition"), (lambda c: c.pooling, "pooling"),
        (lambda c: f"{c.score:.3f}", "score"), (lambda c: f"{c.mean_score:.3f}", "mean pooling"),
        (lambda c: f"{c.difference:+.3f} [{c.ci_low:+.3f}, {c.ci_high:+.3f}]",
         "difference [95% interval]"),
    ]) + "\n")
    supported = [c for c in costs if c.condition == "none" and c.model != UNTRAINED
                 and (c.ci_low > 0 or c.ci_high < 0)]
    if supported:
        add("Trained models where the interval of the gap excludes 0 (texts as encoded): "
            + "; ".join(f"{c.model}, {c.task}, {c.pooling}: {c.difference:+.3f}"
                        for c in supported) + ".\n")
    else:
        add("For the trained models, no interval of the gap (texts as encoded) excludes 0: "
            "with these texts and folds, no distributional pooling is shown to beat or to "
            "lose to mean pooling.\n")

    add("### The interventional control\n")
    add("At each model's last layer, every text's tokens are changed while its mean token "
        "stays (`skpool.analysis`): *rescale:f* moves them about their mean by f "
        "(`rescale_spread`: d_μ unchanged, d_Σ and SOCM times f² exactly), *swap* gives "
        "every text another text's mean-normalized deviations (`swap_spread`: the corpus "
        "keeps its spreads, each text gets someone else's). Mean-pooled vectors are the "
        "same by construction; *unchanged* is the check that mean pooling's score, "
        "recomputed on the changed tokens, equals the original exactly. The distributional "
        "score is Gaussian features (diagonal) for classification, −W2 (Gaussian) for "
        "Lee-50.\n")
    add(table(controls, [
        (lambda r: f"{r.model} (layer {r.layer})", "model"), (lambda r: r.task, "task"),
        (lambda r: r.condition, "condition"), (lambda r: f"{r.mean_socm:.4f}", "mean SOCM"),
        (lambda r: f"{r.mean_d_mu:.4f}", "d_μ"), (lambda r: f"{r.mean_d_sigma:.4f}", "d_Σ"),
        (lambda r: f"{r.mean_spread:.2f}", "spread"),
        (lambda r: f"{r.mean_pooling_score:.3f}", "mean pooling"),
        (lambda r: "yes" if r.mean_score_unchanged else "NO", "unchanged"),
        (lambda r: f"{r.score:.3f} ± {r.score_std:.3f}", "distributional"),
    ]) + "\n")
    n_unchanged = sum(r.mean_score_unchanged for r in controls)
    ratios = {}
    base = {(r.model, r.task): r.mean_socm for r in controls if r.condition == "none"}
    for r in controls:
        if r.condition.startswith("rescale:"):
            ratios.setdefault(r.condition, []).append(r.mean_socm / base[(r.model, r.task)])
    moved = "; ".join(
        f"under {name} it is {min(v):.4f}–{max(v):.4f} times the original "
        f"(f² = {float(name.split(':')[1]) ** 2:g})" for name, v in ratios.items())
    add(f"Mean pooling's score is unchanged in {n_unchanged} of {len(controls)} "
        f"(model, task, condition) rows. Mean SOCM: {moved}. A collapse metric that moves "
        "while mean pooling cannot is measuring something mean pooling never used; whether "
        "that something carries task signal is what the distributional column and the "
        "*swap* rows of the cost table show.\n")

    add("### Poolings at the last evaluated layer\n")
    if any(r.pooling == "w2-exact" for r in records):
        add("*-W2 with exact transport is measured at this layer only (1,225 transport "
            "problems per layer).*\n")
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
