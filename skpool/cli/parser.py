"""The ``skpool`` argument parser: the subcommands on one set of shared options.

Every option is checked here, as argparse parses it, so that a bad value is
one usage line naming the option before any corpus or model is read.

This module is imported before the command line is read, so ``skpool --help``
and every usage error must not pay for the measuring stack: it imports only
the standard library and skpool's light modules (NumPy at most). **Never import
torch, transformers, scikit-learn, SciPy, matplotlib, pandas, dask or POT here,
nor a skpool module that does** (:mod:`skpool.evaluation`, :mod:`skpool.analysis`,
...): the commands import them inside their functions, reached through
:func:`_command`. ``tests/test_cli_imports.py`` measures it with
``python -X importtime``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .defaults import DEFAULT_N_TEXTS, MAX_EXACT_PAIRS, N_TEXTS_NOT_GIVEN, SAMPLED_PAIRS
from .formatting import parse_size

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_DATASET = "wiki-films"

#: Pairs for ``skpool ot`` (each needs an exact transport problem).
DEFAULT_OT_PAIRS = 200
#: ``skpool evaluate``: texts per classification corpus, and SOCM pairs per task and layer.
DEFAULT_EVALUATE_TEXTS = 300
DEFAULT_EVALUATE_PAIRS = 1000
#: Largest number of pairs whose SOCM ``skpool pairs`` computes by default.
DEFAULT_SEARCHED_PAIRS = 20_000
#: What --model accepts, said the same way in every help text and page.
MODEL_KINDS = ("a bundled model name (all-MiniLM-L6-v2, all-mpnet-base-v2), a local Hugging "
               "Face model folder, or a hub id (owner/name, or owner/name@revision) read "
               "offline from the local Hugging Face cache")
FIGURE_SUFFIXES = (".png", ".svg", ".pdf")
#: The names of ``skpool.evaluation.TASKS`` and ``POOLINGS``, written out because that
#: module imports scikit-learn and torch (tests/test_cli_imports.py checks they agree).
TASK_NAMES = ("bbc-news", "rotten-tomatoes", "lee-50")
POOLING_NAMES = ("mean", "cls", "max", "last", "model", "gaussian-diag", "gaussian-projected",
                 "w2-gaussian", "w2-exact")
#: Largest seed NumPy's legacy generator (scikit-learn's ``check_random_state``) takes.
MAX_SEED = 2**32 - 1


# ---------------------------------------------------------------------------------------
# Argument types
# ---------------------------------------------------------------------------------------
def _n_texts(text: str):
    if text == N_TEXTS_NOT_GIVEN:  # argparse passes a string default through the type
        return text
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


def _seed_option(text: str) -> int:
    value = _int(text)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(
            f"expected an integer in [0, 2**32 - 1] (a NumPy seed), got {value}")
    return value


def _n_jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a nonzero integer (-1 = every core), got {text!r}")
    if value == 0:
        raise argparse.ArgumentTypeError("expected a nonzero integer (-1 = every core), got 0")
    return value


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _task(text: str) -> str:
    from .._reader import FILE_SUFFIXES  # NumPy only

    if text in TASK_NAMES or text.startswith("hf:") or text.lower().endswith(FILE_SUFFIXES):
        return text
    raise argparse.ArgumentTypeError(
        f"expected a task among {', '.join(TASK_NAMES)}, a data file of your own "
        f"({', '.join(FILE_SUFFIXES)}) or hf:NAME[:CONFIG][:SPLIT], got {text!r}")


def _pooling(text: str) -> str:
    if text not in POOLING_NAMES:
        raise argparse.ArgumentTypeError(
            f"expected a pooling among {', '.join(POOLING_NAMES)}, got {text!r}")
    return text


def _scheduler(text: str) -> str:
    from .._cluster import parse_scheduler

    try:
        parse_scheduler(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text.strip()


def _figure_path(text: str) -> Path:
    path = Path(text)
    if path.suffix.lower() not in FIGURE_SUFFIXES:
        raise argparse.ArgumentTypeError(
            f"expected a figure file ending in .png, .svg or .pdf, got {text!r}"
        )
    return path


def _html_path(text: str) -> Path:
    path = Path(text)
    if path.suffix.lower() not in (".html", ".htm"):
        raise argparse.ArgumentTypeError(f"expected a file ending in .html or .htm, got {text!r}")
    return path


# ---------------------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------------------
def _command(name: str):
    """The command ``skpool.cli.commands.<name>``, imported only when it runs.

    Commands import the measuring stack; the parser must not (see the module
    docstring), so subparsers name their command through this.
    """

    def run(args):
        from . import commands

        return getattr(commands, name)(args)

    run.__name__ = run.__qualname__ = name
    return run


class _Several(argparse.Action):
    """``nargs="+"`` that may be repeated: the values add up, and replace the default."""

    def __call__(self, parser, namespace, values, option_string=None):
        current = getattr(namespace, self.dest)
        earlier = [] if current is self.default or current is None else current
        setattr(namespace, self.dest, [*earlier, *values])


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, like every other error.

    ``checks``: functions of the parsed namespace returning an error message (or
    None) for options that are wrong together; they run as the command line is
    parsed, so such a conflict is a usage error (status 2) like a bad value.
    """

    def __init__(self, *args, checks=(), **kwargs):
        super().__init__(*args, **kwargs)
        self._checks = tuple(checks)

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        for check in self._checks:
            message = check(namespace)
            if message:
                self.error(message)
        return namespace, extras

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# ---------------------------------------------------------------------------------------
# Options that are wrong together (checked once the command's options are parsed)
# ---------------------------------------------------------------------------------------
def _check_scheduler_store(args) -> str | None:
    """A remote cluster's workers write the tokens into --store: it must be given."""
    from .._cluster import parse_scheduler

    scheduler = getattr(args, "scheduler", None)
    if (scheduler is None or not hasattr(args, "store") or args.store is not None
            or parse_scheduler(scheduler)[0] == "local"):
        return None
    return (f"--scheduler {scheduler} needs --store DIR: the workers write the token "
            "embeddings there, so DIR must be on a file system they share with this machine")


def _check_partition_size(args) -> str | None:
    """``--partition-size`` shapes the encoding of a store: alone it would be ignored."""
    if (getattr(args, "partition_size", None) is None or getattr(args, "store", None) is not None
            or getattr(args, "scheduler", None) is not None):
        return None
    return (f"--partition-size {args.partition_size} needs --store DIR or --scheduler: only "
            "the encoding into a token store is split into partitions")


def _check_layers(args) -> str | None:
    """``--layers``: each layer once (the range depends on the model, checked when it loads)."""
    layers = getattr(args, "layers", None) or []
    repeated = sorted({layer for layer in layers if layers.count(layer) > 1})
    if repeated:
        return (f"argument --layers: each layer once, got {', '.join(map(str, repeated))} "
                "more than once")
    return None


def _check_no_figure(args) -> str | None:
    """``skpool neighbours`` has no figure (its page is ``--html``): say so before any work."""
    if getattr(args, "plot", None) is not None:
        return "argument --plot: skpool neighbours has no figure; use --html or --json"
    return None


COMMAND_CHECKS = (_check_scheduler_store, _check_partition_size, _check_layers)


def _cache_option(parser) -> None:
    parser.add_argument(
        "--cache", metavar="DIR", type=Path, default=None,
        help="folder of the embedding cache (default: $SKPOOL_HOME/tokens, "
             "~/.cache/skpool/tokens when SKPOOL_HOME is not set)")


def _column_options(corpus) -> None:
    """Which columns of a user's table hold the texts, ids, labels and rated pairs."""
    corpus.add_argument(
        "--text-column", default=None, metavar="C",
        help="the column of the texts (default: the column named 'text', else the only "
             "column holding text; otherwise the error lists the columns)")
    corpus.add_argument(
        "--id-column", default=None, metavar="C",
        help="the column of each text's id, shown beside every text and pair (default: the "
             "1-based row number, or line number for .txt/.jsonl)")
    corpus.add_argument(
        "--label-column", default=None, metavar="C",
        help="the column of each text's label (classification tasks)")
    corpus.add_argument(
        "--pair-columns", nargs=2, default=None, metavar=("A", "B"),
        help="rated pairs: the two text columns of each row (with --score-column)")
    corpus.add_argument(
        "--score-column", default=None, metavar="S",
        help="rated pairs: the column of each pair's score (a number in every row)")


def _common_options(*, model: bool, pairs_default, pairs_help: str,
                    layer: bool = True, dataset: bool = True, pairs: bool = True,
                    n_texts_default: int = DEFAULT_N_TEXTS) -> argparse.ArgumentParser:
    """Options shared by every subcommand (a parent parser); ``layer``: offer ``--layer``;
    ``dataset``: offer the one-corpus ``--dataset``; ``pairs``: offer ``--pairs``."""
    parent = _Parser(add_help=False)
    if model:
        parent.add_argument(
            "--model", "-m", default=DEFAULT_MODEL, metavar="M",
            help=f"{MODEL_KINDS} (default: {DEFAULT_MODEL}, installed with the project)")
    corpus = parent.add_argument_group("corpus")
    if dataset:
        corpus.add_argument(
            "--dataset", "-d", default=DEFAULT_DATASET, metavar="D",
            help="'wiki-films' (English Wikipedia film leads, default), 'bbc-news', "
                 "'rotten-tomatoes', 'lee-50'; a file of your own: .txt (one text per line, "
                 "blank lines skipped), .jsonl, .csv, .tsv or .parquet (UTF-8, columns "
                 "chosen with --text-column etc.); or hf:NAME[:CONFIG][:SPLIT], a Hugging "
                 "Face dataset already in the local datasets cache (read offline)")
        corpus.add_argument(
            "--n-texts", "-n", type=_n_texts, default=N_TEXTS_NOT_GIVEN, metavar="N",
            help=f"use a random sample of N texts, said on the first line; 'all' uses every "
                 f"text (default: every text of your own data, a sample of {DEFAULT_N_TEXTS} "
                 "of a bundled corpus)")
        _column_options(corpus)
    else:
        corpus.add_argument(
            "--n-texts", "-n", type=_n_texts, default=n_texts_default, metavar="N",
            help=f"use a random sample of N texts per corpus (default: {n_texts_default}); "
                 "'all' uses every text. All-pairs SOCM grows with N^2: beyond a few hundred "
                 "texts, sample pairs with --pairs")
    corpus.add_argument(
        "--seed", type=_seed_option, default=0, metavar="S",
        help="seed of the text sample and of the pair sample (default: 0)")
    encoding = parent.add_argument_group("encoding")
    if layer:
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
    caching = encoding.add_mutually_exclusive_group()
    _cache_option(caching)
    caching.add_argument(
        "--no-cache", action="store_true",
        help="neither read nor write the embedding cache. By default every text's token "
             "embeddings (all layers) are kept there, so report, pairs, ot and layers on "
             "the same texts and model encode once; see 'skpool cache info'")
    metric = parent.add_argument_group("pairs")
    if pairs:  # not for neighbours, whose pairs are the neighbour pairs
        metric.add_argument(
            "--pairs", "-k", type=_positive_int, default=pairs_default, metavar="K",
            help=pairs_help)
    metric.add_argument(
        "--n-jobs", "-j", type=_n_jobs, default=-1, metavar="J",
        help="CPU workers for the pairwise computations (joblib's convention: -1 = every "
             "core, the default; 1 = one)")
    cluster = parent.add_argument_group("cluster (needs dask: pip install 'dask[distributed]')")
    cluster.add_argument(
        "--scheduler", type=_scheduler, default=None, metavar="S",
        help="run on a dask cluster: 'local' starts one single-threaded worker process per "
             "core here, 'local:N' N of them; an address (tcp://host:8786) or a scheduler "
             "file (.json) joins a running scheduler. Encoding partitions (every command; "
             "layers and evaluate one store per layer) and pair blocks run as tasks on its workers (default: this process, "
             "--n-jobs cores)")
    output = parent.add_argument_group("output")
    output.add_argument(
        "--json", metavar="PATH", default=None,
        help="also write the results as a JSON list of records to PATH ('-' for stdout; "
             "the text report then goes to stderr)")
    output.add_argument(
        "--plot", type=_figure_path, metavar="PATH", default=None,
        help="save the figure to PATH (.png, .svg or .pdf; needs matplotlib)")
    output.add_argument(
        "--html", type=_html_path, metavar="FILE", default=None,
        help="also write a self-contained HTML report to FILE (.html or .htm): the verdict, "
             "interactive figures, sortable tables with the full texts and the JSON record; "
             "it opens offline in any browser")
    chatter = output.add_mutually_exclusive_group()
    chatter.add_argument(
        "--quiet", "-q", action="store_true",
        help="no progress bars or status lines on stderr: only the results")
    chatter.add_argument(
        "--verbose", "-v", action="store_true",
        help="also show what transformers says while loading the model (its 'Loading "
             "weights' bar and messages)")
    return parent


def _add_store_option(command: argparse.ArgumentParser) -> None:
    """``--store DIR``, for the commands that encode a corpus (all but ``cache``)."""
    command.add_argument(
        "--store", type=Path, default=None, metavar="DIR",
        help="encode into the token store DIR (one contiguous array on disk) and measure it "
             "memory-mapped; a run started again with the same texts, model and settings "
             "resumes from it, a finished store is read back without encoding. With a "
             "remote --scheduler DIR must be on a file system the workers share (default: "
             "a temporary folder with --scheduler local, else no store)")
    command.add_argument(
        "--partition-size", type=_positive_int, default=None, metavar="N",
        help="texts per encoding task with --store (default 256): smaller partitions spread "
             "a small corpus over more workers and lose less work to a fault; a resumed run "
             "needs the value it started with")


def build_parser() -> argparse.ArgumentParser:
    """Return the ``skpool`` argument parser with its subcommands."""
    from .._version import __version__

    socm_pairs = ("average SOCM over K distinct pairs drawn at random, with a standard "
                  f"error (default: all N(N-1)/2 pairs, exact, up to {MAX_EXACT_PAIRS:,} pairs; "
                  f"beyond, {SAMPLED_PAIRS:,} sampled pairs, which the first line says)")
    parser = _Parser(
        prog="skpool",
        description="Measure how much mean pooling collapses the token embeddings of a "
                    "text encoder (SOCM, Hara et al., ACL 2026), offline.",
        epilog="Run 'skpool COMMAND --help' for the options of a command. Set "
               "SKPOOL_DEBUG=1 to see tracebacks.")
    parser.add_argument("--version", action="version", version=f"skpool {__version__}")
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND")
    subcommands.required = True

    common = _common_options(model=True, pairs_default=None, pairs_help=socm_pairs)
    report = subcommands.add_parser(
        "report", checks=COMMAND_CHECKS, parents=[common],
        help="collapse report of one model on one corpus (the main job)",
        description="Encode a corpus with one model and report its second-order collapse: "
                    "mean SOCM +/- standard error, mean d_mu and d_Sigma, the number of "
                    "pairs, the texts breaking the paper's trace assumption tr(Sigma) <= 2, "
                    "the token concentration (spread ratio, within-text cosine) and the "
                    "truncations. --plot saves the d_mu-d_Sigma scatter of the pairs "
                    "coloured by SOCM (the paper's Figure 17).")
    _add_store_option(report)
    report.set_defaults(func=_command("run_report"))

    common_nomodel = _common_options(model=False, pairs_default=None, pairs_help=socm_pairs)
    compare = subcommands.add_parser(
        "compare", checks=COMMAND_CHECKS, parents=[common_nomodel],
        help="the collapse report of several models on the same texts",
        description="Run the collapse report for several models (bundled names, local "
                    "folders or hub ids, e.g. a backbone and its fine-tuned version) on the same "
                    "texts and pairs, and print them side by side. --plot saves one bar panel "
                    "per statistic, the models named on the axes, one paper column wide.")
    compare.add_argument("models", nargs="+", metavar="MODEL",
                         help=MODEL_KINDS)
    _add_store_option(compare)  # one store per model: DIR/model-0, DIR/model-1, ...
    compare.set_defaults(func=_command("run_compare"))

    common_layers = _common_options(model=True, pairs_default=None, pairs_help=socm_pairs,
                                    layer=False)
    layers = subcommands.add_parser(
        "layers", checks=COMMAND_CHECKS, parents=[common_layers],
        help="collapse and token concentration at every hidden layer",
        description="The layer profile of one model: mean SOCM, spread ratio tr(Sigma) and "
                    "mean within-text cosine at every hidden layer, from one encoding pass "
                    "(the paper's Figures 4 and 11). --plot saves the line figure, with a "
                    "reference line at SOCM 1.")
    layers.add_argument("--layers", type=_int, nargs="+", default=None, metavar="L",
                        help="only these hidden layers: 0 is the embedding layer, -1 the "
                             "last (default: every layer)")
    layers.add_argument("--log-scale", action="store_true",
                        help="--plot: the SOCM and spread panels on a log scale (an "
                             "embedding layer far above 1 squashes the other layers)")
    _add_store_option(layers)  # one store per layer: DIR/layer-0, DIR/layer-1, ...
    layers.set_defaults(func=_command("run_layers"))

    common_ot = _common_options(
        model=True, pairs_default=DEFAULT_OT_PAIRS,
        pairs_help=f"number of distinct text pairs compared (default: {DEFAULT_OT_PAIRS}); "
                   "each needs an exact transport problem")
    ot = subcommands.add_parser(
        "ot", checks=COMMAND_CHECKS, parents=[common_ot],
        help="Gaussian vs exact 2-Wasserstein distance of token clouds",
        description="Compare, on sampled pairs of texts, the exact W2 between the token "
                    "clouds (POT's emd2) with the Gaussian W2 from their means and "
                    "covariances, which never exceeds it (Gelbrich bound). --plot saves the "
                    "scatter figure.")
    ot.add_argument("--normalize", action="store_true",
                    help="use the mean-normalized clouds X / ||mean(X)|| of SOCM instead of "
                         "the raw token embeddings")
    _add_store_option(ot)
    ot.set_defaults(func=_command("run_ot"))

    common_pairs = _common_options(
        model=True, pairs_default=DEFAULT_SEARCHED_PAIRS,
        pairs_help=f"compute SOCM for at most K pairs (default: {DEFAULT_SEARCHED_PAIRS:,}): "
                   "all N(N-1)/2 pairs when there are at most K, otherwise K pairs drawn at "
                   "random, which the output says")
    pairs = subcommands.add_parser(
        "pairs", checks=COMMAND_CHECKS, parents=[common_pairs],
        help="the pairs of texts mean pooling conflates",
        description="List the pairs of texts with the highest SOCM and, as a second view, "
                    "the near pairs (the 1% of all pairs with the highest cosine of the "
                    "mean-pooled vectors, as a retrieval system compares them) whose token "
                    "clouds differ most (largest d_Sigma). Each text is shown by its id "
                    "(--id-column, else its row or line number) and a snippet; --json "
                    "writes the ids (id_i, id_j), the whole texts and i, j (0-based "
                    "positions in the corpus as read). --plot marks the listed pairs on the "
                    "d_mu-d_Sigma scatter.")
    pairs.add_argument("--top", type=_positive_int, default=10, metavar="K",
                       help="pairs listed per view (default: 10)")
    pairs.add_argument("--w2", action="store_true",
                       help="add the Gaussian and exact W2 (not squared) of the raw token "
                            "clouds of each listed pair")
    _add_store_option(pairs)
    pairs.set_defaults(func=_command("run_pairs"))

    common_neighbours = _common_options(
        model=True, pairs_default=None, pairs=False, pairs_help="")
    neighbours = subcommands.add_parser(
        "neighbours", checks=(*COMMAND_CHECKS, _check_no_figure), parents=[common_neighbours],
        help="every text's nearest neighbours and the SOCM of each neighbour pair",
        description="Find the K nearest neighbours of every text by the cosine of the "
                    "mean-pooled vectors (what a retrieval system confuses), with Faiss "
                    "(pip install faiss-cpu), and compute the exact d_mu, d_Sigma and SOCM "
                    "of the N*K neighbour pairs, each pair once: the work grows as N*K, not "
                    "N^2. Prints the most conflated neighbour pairs and the texts with the "
                    "highest SOCM to their neighbours; --json writes every text's row (its "
                    "neighbours' ids, max and mean SOCM over them, spread) and the pairs; "
                    "--html writes them as a page (full texts side by side, sortable).")
    neighbours.add_argument("--neighbours", "-K", dest="n_neighbors", type=_positive_int,
                            default=10, metavar="K",
                            help="neighbours per text (default: 10; fewer than the texts)")
    neighbours.add_argument("--index", choices=("exact", "hnsw"), default="exact",
                            help="exact: flat inner-product search, every text against every "
                                 "other (default); hnsw: approximate, for large corpora, "
                                 "its recall measured on 1,000 texts and printed")
    neighbours.add_argument("--top", type=_positive_int, default=10, metavar="T",
                            help="pairs and texts listed (default: 10)")
    _add_store_option(neighbours)
    neighbours.set_defaults(func=_command("run_neighbours"))

    common_evaluate = _common_options(
        model=False, layer=False, dataset=False, pairs_default=DEFAULT_EVALUATE_PAIRS,
        n_texts_default=DEFAULT_EVALUATE_TEXTS,
        pairs_help=f"SOCM pairs sampled per task and layer, the same pairs at every layer "
                   f"(default: {DEFAULT_EVALUATE_PAIRS:,})")
    evaluate = subcommands.add_parser(
        "evaluate", checks=COMMAND_CHECKS, parents=[common_evaluate],
        help="does collapse predict the downstream score? (layers x poolings x tasks)",
        description="For each model, hidden layer and pooling: the mean SOCM of each task's "
                    "texts (standard error, trace violations, concentration-matched SOCM, "
                    "spread, within-text cosine) beside the task's score: 5-fold accuracy on "
                    "BBC News and Rotten Tomatoes, Spearman correlation with human similarity "
                    "on Lee-50. Then the Spearman correlation of SOCM and score across layers "
                    "and models (p-value, bootstrap interval, partial correlation given "
                    "concentration) and the error rate by quintile of spread and of SOCM to "
                    "the nearest texts. Each model encodes every task's texts once (all "
                    "layers, through the embedding cache; with --store or --scheduler once per "
                    "layer, into a token store per layer). --plot saves SOCM against score, "
                    "one colour per model, layers labelled.")
    evaluate.add_argument(
        "--model", "-m", nargs="+", action=_Several, default=[DEFAULT_MODEL], metavar="M",
        help=f"one or several models, the option repeated or several names: {MODEL_KINDS} "
             f"(default: {DEFAULT_MODEL})")
    evaluate.add_argument(
        "--dataset", "-d", nargs="+", action=_Several, type=_task, default=None,
        metavar="TASK",
        help="tasks: bbc-news, rotten-tomatoes (accuracy), lee-50 (Spearman with human "
             "similarity), or your own data: a .csv, .tsv, .jsonl, .parquet or .txt file or "
             "hf:NAME[:CONFIG][:SPLIT], a classification task with --label-column, a "
             "similarity task with --pair-columns and --score-column; several or repeated, "
             "mixed (default: the three bundled tasks). --n-texts samples each bundled "
             f"classification corpus (default: {DEFAULT_EVALUATE_TEXTS}); Lee-50 keeps its "
             "50 documents unless fewer are asked for; your own files are used whole")
    yours = evaluate.add_argument_group(
        "your data", "which columns of your files hold what (the same for every file given): "
        "a classification task (--label-column, strings or integers) is scored by stratified "
        "k-fold accuracy as the bundled tasks; a similarity task (--pair-columns with "
        "--score-column) as Lee-50, by the Spearman correlation with the scores")
    _column_options(yours)
    evaluate.add_argument(
        "--layers", type=_int, nargs="+", default=None, metavar="L",
        help="hidden layers, the same for every model: 0 is the embedding layer, -1 the last "
             "(default: every layer)")
    evaluate.add_argument(
        "--pooling", "-p", nargs="+", action=_Several, type=_pooling, default=None,
        metavar="P",
        help="poolings: mean, cls, max, last, model (the model's own), gaussian-diag, "
             "gaussian-projected (classification only), w2-gaussian, w2-exact (similarity "
             "only); the figure shows the first (default: mean cls max gaussian-diag "
             "gaussian-projected w2-gaussian w2-exact)")
    evaluate.add_argument("--folds", type=_positive_int, default=5, metavar="F",
                          help="stratified cross-validation folds (default: 5)")
    evaluate.add_argument("--bootstrap", type=_positive_int, default=1000, metavar="B",
                          help="bootstrap resamples for the intervals and the similarity "
                               "spreads (default: 1000)")
    evaluate.add_argument(
        "--baseline", nargs="+", action=_Several, default=[], metavar="M",
        help="models of --model that are baselines, not trained encoders (e.g. a "
             "random-weights architecture): left out of the 'trained', "
             "'trained-no-embedding' and 'last-layer' correlation groups")
    evaluate.add_argument(
        "--intervene", nargs="+", action=_Several, default=None, metavar="I",
        help="the interventional control at each model's last layer: 'rescale:F[,F...]' "
             "moves every text's tokens about their mean by each factor F, 'swap' gives "
             "every text another text's normalized spread; the means (so mean pooling's "
             "vectors) stay. Reports mean SOCM, d_Sigma, the mean-pooling score (checked "
             "unchanged) and the Gaussian / -W2 score per condition")
    _add_store_option(evaluate)  # one store per model and layer: DIR/model-K/layer-L
    evaluate.set_defaults(func=_command("run_evaluate"))

    cache = subcommands.add_parser(
        "cache", help="what the embedding cache holds; empty or shrink it",
        description="The commands keep every text's token embeddings in a cache folder "
                    "(default: $SKPOOL_HOME/tokens), so that later commands on the same "
                    "texts and model do not encode again. 'info' shows the folder, its "
                    "entries and size per model, and the journals of unfinished 'skpool "
                    "evaluate' runs; 'clear' empties it and removes those journals, or with "
                    "--max-size removes the least recently used entries until it fits.")
    actions = cache.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    info = actions.add_parser("info", help="folder, entries and size, per model",
                              description="Show the cache folder, its entries and size, per "
                                          "model and settings, and how many 'skpool "
                                          "evaluate' runs left a journal to resume from "
                                          "($SKPOOL_HOME/evaluate).")
    _cache_option(info)
    info.add_argument("--json", metavar="PATH", default=None,
                      help="also write the summary as JSON to PATH ('-' for stdout)")
    info.set_defaults(func=_command("run_cache_info"))
    clear = actions.add_parser(
        "clear", help="empty the cache, or shrink it to --max-size",
        description="Remove the cache's entries: all of them, and the journals that "
                    "unfinished 'skpool evaluate' runs left in $SKPOOL_HOME/evaluate (a "
                    "rerun then starts over); or with --max-size only the least recently "
                    "used entries, until the rest fits.")
    _cache_option(clear)
    clear.add_argument("--max-size", type=_size, default=None, metavar="SIZE",
                       help="keep the most recently used entries that fit in SIZE (e.g. "
                            "500M, 2G; units of 1024 bytes) and remove the rest")
    clear.set_defaults(func=_command("run_cache_clear"))
    return parser
