"""The ``skpool`` command line: collapse reports, model comparisons, layer profiles, OT.

``skpool report`` is the main job: encode a corpus with one model and report
its second-order collapse (mean SOCM with its standard error, mean d_mu and
d_Sigma, the texts that break the paper's trace assumption, the token
concentration and the truncations). ``skpool compare`` does it for several
models on the same texts, ``skpool layers`` for every hidden layer of one
model, and ``skpool ot`` compares the Gaussian and exact 2-Wasserstein
distances of token clouds on sampled pairs.

The work is done by :mod:`skpool.report`, :mod:`skpool.scoring`,
:mod:`skpool.ot` and :mod:`skpool.plotting`; this module only parses
arguments, prints and saves. Errors print one line ``skpool: error: ...``
and exit with status 1 (2 for a malformed command line); set
``SKPOOL_DEBUG=1`` to see the traceback instead.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

__all__ = ["build_parser", "main"]

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_DATASET = "wiki-films"
#: Texts per run by default: about a minute on 2 CPU cores with the bundled model.
DEFAULT_N_TEXTS = 200
#: Pairs for ``skpool ot`` (each needs an exact transport problem).
DEFAULT_OT_PAIRS = 200
#: Largest number of pairs drawn in the scatter figure of ``skpool report``.
MAX_PLOTTED_PAIRS = 20_000
FIGURE_SUFFIXES = (".png", ".svg", ".pdf")


# ---------------------------------------------------------------------------------------
# Argument types
# ---------------------------------------------------------------------------------------
def _n_texts(text: str):
    if text.lower() == "all":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 2 or 'all', got {text!r}")
    if value < 2:
        raise argparse.ArgumentTypeError(
            f"expected an integer >= 2 or 'all' (SOCM compares pairs of texts), got {value}"
        )
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}")


def _figure_path(text: str) -> Path:
    path = Path(text)
    if path.suffix.lower() not in FIGURE_SUFFIXES:
        raise argparse.ArgumentTypeError(
            f"expected a figure file ending in .png, .svg or .pdf, got {text!r}"
        )
    return path


# ---------------------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, like every other error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _common_options(*, model: bool, pairs_default, pairs_help: str) -> argparse.ArgumentParser:
    """Options shared by every subcommand (a parent parser)."""
    parent = _Parser(add_help=False)
    if model:
        parent.add_argument(
            "--model", "-m", default=DEFAULT_MODEL, metavar="M",
            help="bundled model name or local Hugging Face model folder "
                 f"(default: {DEFAULT_MODEL}, installed with the project)")
    corpus = parent.add_argument_group("corpus")
    corpus.add_argument(
        "--dataset", "-d", default=DEFAULT_DATASET, metavar="D",
        help="'wiki-films' (English Wikipedia film leads, default), 'bbc-news', "
             "'rotten-tomatoes', or a path: a .txt file (one text per line, blank lines "
             "skipped) or a .jsonl file (a \"text\" field per line)")
    corpus.add_argument(
        "--n-texts", "-n", type=_n_texts, default=DEFAULT_N_TEXTS, metavar="N",
        help=f"use a random sample of N texts (default: {DEFAULT_N_TEXTS}, about a minute "
             "on 2 CPU cores with the default model); 'all' uses every text")
    corpus.add_argument(
        "--seed", type=_int, default=0, metavar="S",
        help="seed of the text sample and of the pair sample (default: 0)")
    encoding = parent.add_argument_group("encoding")
    encoding.add_argument(
        "--layer", type=_int, default=-1, metavar="L",
        help="hidden layer whose token embeddings are used: 0 is the embedding layer, "
             "-1 the last layer (default: -1)")
    encoding.add_argument(
        "--max-length", type=_positive_int, default=None, metavar="T",
        help="truncate texts to T tokens (default: the model's own limit); truncated "
             "texts are counted in the report")
    encoding.add_argument(
        "--batch-size", type=_positive_int, default=32, metavar="B",
        help="texts per forward pass (default: 32)")
    encoding.add_argument(
        "--device", default="auto", metavar="DEV",
        help="torch device for encoding: 'auto' (GPU when present), 'cpu', 'cuda', ... "
             "(default: auto)")
    metric = parent.add_argument_group("pairs")
    metric.add_argument(
        "--pairs", "-k", type=_positive_int, default=pairs_default, metavar="K",
        help=pairs_help)
    metric.add_argument(
        "--n-jobs", "-j", type=_int, default=-1, metavar="J",
        help="CPU workers for the pairwise computations (joblib's convention: -1 = every "
             "core, the default; 1 = one)")
    output = parent.add_argument_group("output")
    output.add_argument(
        "--json", metavar="PATH", default=None,
        help="also write the results as a JSON list of records to PATH ('-' for stdout; "
             "the text report then goes to stderr)")
    output.add_argument(
        "--plot", type=_figure_path, metavar="PATH", default=None,
        help="save the figure to PATH (.png, .svg or .pdf; needs matplotlib)")
    output.add_argument(
        "--quiet", "-q", action="store_true",
        help="no progress bars or status lines on stderr")
    return parent


def build_parser() -> argparse.ArgumentParser:
    """Return the ``skpool`` argument parser with its four subcommands."""
    from . import __version__

    socm_pairs = ("average SOCM over K distinct pairs drawn at random, with a standard "
                  "error (default: all N(N-1)/2 pairs, exact)")
    parser = _Parser(
        prog="skpool",
        description="Measure how much mean pooling collapses the token embeddings of a "
                    "text encoder (SOCM, Hara et al., ACL 2026), offline.",
        epilog="Run 'skpool COMMAND --help' for the options of a command. Set "
               "SKPOOL_DEBUG=1 to see tracebacks.")
    parser.add_argument("--version", action="version", version=f"skpool {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    common = _common_options(model=True, pairs_default=None, pairs_help=socm_pairs)
    report = commands.add_parser(
        "report", parents=[common],
        help="collapse report of one model on one corpus (the main job)",
        description="Encode a corpus with one model and report its second-order collapse: "
                    "mean SOCM +/- standard error, mean d_mu and d_Sigma, the number of "
                    "pairs, the texts breaking the paper's trace assumption tr(Sigma) <= 2, "
                    "the token concentration (spread ratio, within-text cosine) and the "
                    "truncations. --plot saves the d_mu-d_Sigma scatter of the pairs "
                    "coloured by SOCM (the paper's Figure 17).")
    report.set_defaults(func=_run_report)

    common_nomodel = _common_options(model=False, pairs_default=None, pairs_help=socm_pairs)
    compare = commands.add_parser(
        "compare", parents=[common_nomodel],
        help="the collapse report of several models on the same texts",
        description="Run the collapse report for several models (bundled names or local "
                    "folders, e.g. a backbone and its fine-tuned version) on the same "
                    "texts and pairs, and print them side by side. --plot saves a grouped "
                    "bar figure.")
    compare.add_argument("models", nargs="+", metavar="MODEL",
                         help="bundled model name or local Hugging Face model folder")
    compare.set_defaults(func=_run_compare)

    layers = commands.add_parser(
        "layers", parents=[common],
        help="collapse and token concentration at every hidden layer",
        description="The layer profile of one model: mean SOCM, spread ratio tr(Sigma) and "
                    "mean within-text cosine at every hidden layer, from one encoding pass "
                    "(the paper's Figures 4 and 11). --plot saves the line figure. "
                    "--layer is ignored; use --layers to choose layers.")
    layers.add_argument("--layers", type=_int, nargs="+", default=None, metavar="L",
                        help="only these hidden layers (default: all, 0 = embeddings)")
    layers.set_defaults(func=_run_layers)

    common_ot = _common_options(
        model=True, pairs_default=DEFAULT_OT_PAIRS,
        pairs_help=f"number of distinct text pairs compared (default: {DEFAULT_OT_PAIRS}); "
                   "each needs an exact transport problem")
    ot = commands.add_parser(
        "ot", parents=[common_ot],
        help="Gaussian vs exact 2-Wasserstein distance of token clouds",
        description="Compare, on sampled pairs of texts, the exact W2 between the token "
                    "clouds (POT's emd2) with the Gaussian W2 from their means and "
                    "covariances, which never exceeds it (Gelbrich bound). --plot saves the "
                    "scatter figure.")
    ot.add_argument("--normalize", action="store_true",
                    help="use the mean-normalized clouds X / ||mean(X)|| of SOCM instead of "
                         "the raw token embeddings")
    ot.set_defaults(func=_run_ot)
    return parser


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------
class _Output:
    """Where text goes: stdout, or stderr when stdout carries the JSON."""

    def __init__(self, args):
        self.quiet = args.quiet
        self.text = sys.stderr if args.json == "-" else sys.stdout

    def status(self, message: str) -> None:
        if not self.quiet:
            print(message, file=sys.stderr, flush=True)

    def print(self, message: str = "") -> None:
        print(message, file=self.text, flush=True)


def _check_outputs(args) -> None:
    """Fail before the long work if an output file cannot be written."""
    for option, path in (("--json", args.json), ("--plot", args.plot)):
        if path is None or str(path) == "-":
            continue
        folder = Path(path).expanduser().resolve().parent
        if not folder.is_dir():
            raise FileNotFoundError(f"{option}: folder {str(folder)!r} does not exist")
    if args.plot is not None:
        _require_matplotlib()


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError(
            "--plot needs matplotlib, which is not installed: pip install 'skpool[plot]'"
        ) from None


def _encoder_params(args) -> dict:
    return {
        "layer": args.layer,
        "max_length": args.max_length,
        "batch_size": args.batch_size,
        "device": args.device,
        "progress": not args.quiet,
    }


def _load(args, out: _Output):
    from .report import load_corpus

    corpus = load_corpus(args.dataset, n_texts=args.n_texts, random_state=args.seed)
    sample = ("" if len(corpus.texts) == corpus.n_available
              else f" (random sample of {corpus.n_available:,}, seed {args.seed})")
    out.status(f"skpool: {len(corpus.texts):,} texts from {corpus.name}{sample}")
    return corpus


def _write_json(args, records, out: _Output) -> None:
    from .report import records_to_json

    if args.json is None:
        return
    text = records_to_json(records)
    if args.json == "-":
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    else:
        Path(args.json).expanduser().write_text(text + "\n", encoding="utf-8")
        out.status(f"skpool: wrote {len(records)} record(s) to {args.json}")


def _save_figure(figure, args, out: _Output) -> None:
    import matplotlib.pyplot as plt

    plt.close(figure)
    out.status(f"skpool: saved figure to {args.plot}")


def _short(name: str, width: int = 32) -> str:
    name = str(name).rstrip("/")
    return name if len(name) <= width else "..." + name[-(width - 3):]


def _pairs_note(n_pairs, n_texts) -> str:
    total = n_texts * (n_texts - 1) // 2
    if n_pairs is None or n_pairs >= total:
        return f"all {total:,} pairs (exact)"
    return f"{n_pairs:,} sampled pairs of {total:,}"


# ---------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------
def _run_report(args) -> int:
    from .report import collapse_report, format_report, pair_components
    from .encoder import TokenEncoder

    out = _Output(args)
    _check_outputs(args)
    corpus = _load(args, out)
    encoder = TokenEncoder(model=args.model, **_encoder_params(args))
    out.status(f"skpool: encoding with {args.model}; SOCM over "
               f"{_pairs_note(args.pairs, len(corpus.texts))}")
    result = collapse_report(corpus.texts, encoder, n_pairs=args.pairs,
                             random_state=args.seed, dataset=corpus.name, n_jobs=args.n_jobs)
    out.print(format_report(result.record, n_available=corpus.n_available))
    _write_json(args, [result.record], out)
    if args.plot is not None:
        from .plotting import plot_pair_scatter

        out.status("skpool: computing d_mu, d_Sigma and SOCM per pair for the figure")
        pairs = pair_components(result.tokens, max_pairs=MAX_PLOTTED_PAIRS,
                                random_state=args.seed, n_jobs=args.n_jobs)
        among = (f"all {pairs.socm.size:,} pairs" if pairs.n_texts == result.record.n_texts
                 else f"all {pairs.socm.size:,} pairs of {pairs.n_texts:,} random texts")
        figure = plot_pair_scatter(
            pairs.d_mu, pairs.d_sigma, pairs.socm, path=args.plot,
            title=f"{_short(result.record.model)} (layer {result.record.layer}) on "
                  f"{_short(corpus.name)}: {among}")
        _save_figure(figure, args, out)
    return 0


_COMPARE_COLUMNS = [
    ("model", "model"), ("layer", "layer"), ("n_pairs", "pairs"),
    ("mean_socm", "mean SOCM"), ("stderr", "SE"), ("mean_d_mu", "d_mu"),
    ("mean_d_sigma", "d_Sigma"), ("n_trace_violations", "tr>2"),
    ("mean_spread", "spread"), ("mean_cosine", "cosine"), ("n_truncated", "truncated"),
]


def _run_compare(args) -> int:
    from .report import compare_models, format_table

    out = _Output(args)
    _check_outputs(args)
    corpus = _load(args, out)
    out.status(f"skpool: {len(args.models)} models; SOCM over "
               f"{_pairs_note(args.pairs, len(corpus.texts))}")
    results = compare_models(corpus.texts, args.models, n_pairs=args.pairs,
                             random_state=args.seed, dataset=corpus.name, n_jobs=args.n_jobs,
                             **_encoder_params(args))
    records = [r.record for r in results]
    out.print(f"{corpus.name}: {len(corpus.texts):,} texts; tr>2 = texts breaking the "
              "paper's trace assumption (values not clipped); spread = mean tr(Sigma); "
              "cosine = mean within-text cosine")
    out.print(format_table(records, _COMPARE_COLUMNS))
    _write_json(args, records, out)
    if args.plot is not None:
        from .plotting import plot_model_comparison

        figure = plot_model_comparison(records, path=args.plot,
                                       title=f"{corpus.name}: {len(corpus.texts):,} texts")
        _save_figure(figure, args, out)
    return 0


_LAYER_COLUMNS = [
    ("layer", "layer"), ("n_pairs", "pairs"), ("mean_socm", "mean SOCM"), ("stderr", "SE"),
    ("mean_d_mu", "d_mu"), ("mean_d_sigma", "d_Sigma"), ("n_trace_violations", "tr>2"),
    ("mean_spread", "spread"), ("mean_cosine", "cosine"),
]


def _run_layers(args) -> int:
    from .encoder import TokenEncoder
    from .report import format_table, layer_report

    out = _Output(args)
    _check_outputs(args)
    corpus = _load(args, out)
    encoder = TokenEncoder(model=args.model, **_encoder_params(args))
    out.status(f"skpool: encoding every layer of {args.model}; SOCM over "
               f"{_pairs_note(args.pairs, len(corpus.texts))} per layer")
    records = layer_report(corpus.texts, encoder, layers=args.layers, n_pairs=args.pairs,
                           random_state=args.seed, dataset=corpus.name, n_jobs=args.n_jobs)
    out.print(f"{records[0].model} on {corpus.name}: {len(corpus.texts):,} texts, "
              f"{records[0].n_truncated:,} truncated; spread = mean tr(Sigma); cosine = mean "
              "within-text cosine; tr>2 = texts breaking the paper's trace assumption")
    out.print(format_table(records, _LAYER_COLUMNS))
    _write_json(args, records, out)
    if args.plot is not None:
        from .plotting import plot_layer_profile

        figure = plot_layer_profile(records, path=args.plot,
                                    title=f"{records[0].model} on {corpus.name}")
        _save_figure(figure, args, out)
    return 0


def _run_ot(args) -> int:
    from .encoder import TokenEncoder
    from .report import format_ot, ot_report

    out = _Output(args)
    _check_outputs(args)
    corpus = _load(args, out)
    encoder = TokenEncoder(model=args.model, **_encoder_params(args))
    out.status(f"skpool: encoding with {args.model}; exact and Gaussian W2 on "
               f"{_pairs_note(args.pairs, len(corpus.texts))}")
    result = ot_report(corpus.texts, encoder, n_pairs=args.pairs, random_state=args.seed,
                       normalize=args.normalize, dataset=corpus.name, n_jobs=args.n_jobs)
    out.print(format_ot(result))
    _write_json(args, [result.record], out)
    if args.plot is not None:
        from .plotting import plot_w2_comparison

        figure = plot_w2_comparison(result.comparison, path=args.plot)
        _save_figure(figure, args, out)
    return 0


# ---------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------
def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if len(text) > 400:
        text = text[:397] + "..."
    return text


def main(argv=None) -> int:
    """Run the ``skpool`` command line and return its exit status.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 1 on an error (one line ``skpool: error: ...`` on
        stderr), 2 on a malformed command line, 130 when interrupted.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors: argparse has printed
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    debug = os.environ.get("SKPOOL_DEBUG", "") not in ("", "0")
    try:
        with warnings.catch_warnings():
            # the reports count truncated texts themselves
            warnings.filterwarnings("ignore", message=r".*were truncated")
            return args.func(args)
    except KeyboardInterrupt:
        print("skpool: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        if debug:
            raise
        print("skpool: error: out of memory; use fewer texts (--n-texts) or sample pairs "
              "(--pairs)", file=sys.stderr)
        return 1
    except (ValueError, TypeError, OSError, ImportError, RuntimeError) as exc:
        if debug:
            raise
        print(f"skpool: error: {_one_line(exc)}", file=sys.stderr)
        return 1
