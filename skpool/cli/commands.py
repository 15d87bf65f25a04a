"""The ``skpool`` commands, each a measurement and a figure on one shared skeleton.

:func:`_run` does what every command does, in one order: check the output
paths, load the corpus, say what will be computed, measure, print the text,
write the JSON, draw the figure. A command supplies only its measurement
(a :class:`Measured`) and its figure. A new command is one ``run_*``
function here and one subparser in :mod:`skpool.cli.parser`.

The library (:mod:`skpool.analysis`, :mod:`skpool.plotting`) is imported
inside the functions so that ``skpool --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import defaults, formatting

#: The environment variable bounding the embedding cache, and its default: after each
#: command, the least recently used entries beyond it are removed.
CACHE_LIMIT_VARIABLE = "SKPOOL_CACHE_MAX_SIZE"
DEFAULT_CACHE_LIMIT = "4G"
#: Largest number of pairs drawn in the scatter figure of ``skpool report``.
MAX_PLOTTED_PAIRS = 20_000
#: MiB of temporaries the pairwise computations of a command may hold at once (scikit-learn's
#: ``working_memory``, whose default of 1 GiB more than doubled the peak memory of the default
#: ``skpool report``, measured by benchmarks/bench_cli.py); smaller blocks cost little time.
WORKING_MEMORY_MIB = 64


# ---------------------------------------------------------------------------------------
# The skeleton
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


@dataclass(frozen=True)
class Measured:
    """What a command measured: its records, its text, and what its figure draws."""

    records: list
    text: str
    result: object = None
    #: ``html(command) -> document``: the HTML page of ``--html`` (see skpool._html)
    html: Callable | None = None
    #: what ``--json`` writes instead of ``records``, when it is more than a list of them
    json: object = None


def _check_writable(option: str, path) -> None:
    """Fail before the long work if ``path`` cannot be written as a file."""
    target = Path(path).expanduser()
    folder = target.resolve().parent
    if not folder.is_dir():
        raise FileNotFoundError(f"{option}: folder {str(folder)!r} does not exist")
    if target.is_dir():
        raise IsADirectoryError(f"{option}: {str(path)!r} is a folder, not a file")
    existed = target.exists()
    try:
        with open(target, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise PermissionError(
            f"{option}: cannot write {str(path)!r} ({exc.strerror or exc})") from None
    if not existed:
        os.unlink(target)


def _check_outputs(args) -> None:
    """Fail before the long work if an output file cannot be written."""
    for option, path in (("--json", args.json), ("--plot", args.plot),
                         ("--html", getattr(args, "html", None))):
        if path is not None and str(path) != "-":
            _check_writable(option, path)
    if args.plot is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise ImportError(
                f"--plot needs matplotlib, which is not installed: {_install_hint('matplotlib')}"
            ) from None


def _install_hint(package: str) -> str:
    """The pip command that installs ``package`` at the version this checkout was tested with."""
    lock = Path(__file__).resolve().parents[2] / "requirements" / "lock.txt"
    if lock.is_file():  # a source checkout (skpool is not on a package index)
        return f"pip install -c {lock} {package}"
    return f"pip install {package}"


def _progress(args) -> bool:
    """Progress bars on stderr unless ``--quiet``."""
    return not args.quiet


def _cache_folder(args) -> Path | None:
    """The embedding cache: ``--cache DIR``, none with ``--no-cache``, else skpool's default."""
    from ..encoder._cache import default_cache_folder

    if getattr(args, "no_cache", False):  # the parser refuses it with --cache
        return None
    if args.cache is None:
        return default_cache_folder()
    folder = Path(args.cache).expanduser()
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(
            f"--cache: {str(args.cache)!r} is a file, not a cache folder (give the folder "
            "that holds the embedding cache, or a new folder to create one)")
    return folder


def _cache_limit() -> int:
    """The cache's size limit in bytes (``$SKPOOL_CACHE_MAX_SIZE``, default 4G)."""
    text = os.environ.get(CACHE_LIMIT_VARIABLE) or DEFAULT_CACHE_LIMIT
    try:
        return formatting.parse_size(text)
    except ValueError as exc:
        raise ValueError(f"{CACHE_LIMIT_VARIABLE}: {exc}") from None


def _trim_cache(args, out) -> None:
    """Keep the embedding cache under its limit: least recently used entries go first."""
    from ..encoder._cache import clear_cache

    folder = _cache_folder(args)
    if folder is None:
        return
    limit = _cache_limit()
    removed, freed = clear_cache(folder, max_bytes=limit)
    if removed:
        out.status(f"skpool: the embedding cache {folder} is kept under "
                   f"{formatting.size_text(limit)} ({CACHE_LIMIT_VARIABLE}): removed the "
                   f"{removed:,} least recently used entries ({formatting.size_text(freed)})")


def _encoder_params(args) -> dict:
    cache = _cache_folder(args)
    return {
        "layer": getattr(args, "layer", -1),  # skpool layers has no --layer
        "max_length": args.max_length,
        "batch_size": args.batch_size,
        "device": args.device,
        "cache": None if cache is None else str(cache),
        # every layer is stored, so that skpool layers after report reads the cache
        "cache_layers": "all",
    }


def _encoder(args, model: str):
    from ..encoder import TokenEncoder

    params = _encoder_params(args)
    if getattr(args, "store", None) is not None:
        # the token store keeps this encoding; the workers would fill caches of their own
        params["cache"] = None
    return TokenEncoder(model=model, progress=_progress(args), **params)


@contextlib.contextmanager
def _verbosity(args):
    """With ``--verbose``, skpool's logger (and so transformers' loading output) speaks."""
    if not getattr(args, "verbose", False):
        yield
        return
    logger = logging.getLogger("skpool")
    handler = logging.StreamHandler(sys.stderr)
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _load(args, out: _Output):
    """Read ``--dataset`` with its column options; sample it only when asked (a bundled
    corpus by default); choose sampled pairs when all pairs would be too many. The first
    status line says all of it."""
    from ..datasets import DATASETS, load_corpus

    n_texts = args.n_texts
    if n_texts == defaults.N_TEXTS_NOT_GIVEN:
        n_texts = defaults.DEFAULT_N_TEXTS if str(args.dataset) in DATASETS else None
    corpus = load_corpus(args.dataset, n_texts=n_texts, random_state=args.seed,
                         text_column=args.text_column, id_column=args.id_column,
                         label_column=args.label_column, pair_columns=args.pair_columns,
                         score_column=args.score_column)
    if len(corpus.texts) == corpus.n_available:
        sample = ""
    else:
        why = "--n-texts" if args.n_texts != defaults.N_TEXTS_NOT_GIVEN else \
            "the bundled corpus's default sample; --n-texts all for every text"
        sample = (f", a random sample of its {corpus.n_available:,} ({why}, seed "
                  f"{args.seed})")
    n_pairs = len(corpus.texts) * (len(corpus.texts) - 1) // 2
    note = ""
    if getattr(args, "pairs", 0) is None and n_pairs > defaults.MAX_EXACT_PAIRS:
        args.pairs = defaults.SAMPLED_PAIRS
        note = (f"; {n_pairs:,} pairs are more than {defaults.MAX_EXACT_PAIRS:,}, so SOCM is "
                f"averaged over {defaults.SAMPLED_PAIRS:,} sampled pairs with a standard error "
                "(--pairs K to choose)")
    args.first_line = (f"skpool: {len(corpus.texts):,} texts from {corpus.name}{sample} "
                       f"({corpus.describe_ids()}){note}")
    args.auto_pairs = bool(note)
    out.status(args.first_line)
    return corpus


def _write_json(args, records, out: _Output) -> None:
    if args.json is None:
        return
    text = formatting.records_to_json(records)
    if args.json == "-":
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    else:
        Path(args.json).expanduser().write_text(text + "\n", encoding="utf-8")
        what = (f"{len(records)} record(s)" if isinstance(records, list)
                else "the run (" + ", ".join(records) + ")")
        out.status(f"skpool: wrote {what} to {args.json}")


def _write_html(args, measured: Measured, out: _Output) -> None:
    if getattr(args, "html", None) is None:
        return
    from .._html import write_html

    path = write_html(args.html, measured.html(getattr(args, "command_line", None)))
    out.status(f"skpool: wrote the HTML report to {args.html} "
                f"({formatting.size_text(path.stat().st_size)})")


def _short(name: str, width: int = 32) -> str:
    name = str(name).rstrip("/")
    return name if len(name) <= width else "..." + name[-(width - 3):]


def _pair_scatter_title(record, corpus: str, pairs) -> str:
    """The pair scatter's title: model, layer, corpus and exactly which pairs are drawn."""
    total = pairs.n_pairs_total
    drawn = (f"all {total:,} pairs" if pairs.exact
             else f"{pairs.socm.size:,} sampled of {total:,} pairs (seed {record.seed})")
    return (f"{_short(record.model)} (layer {record.layer}) on {_short(corpus)}, "
            f"{record.n_texts:,} texts:\n{drawn}; mean SOCM {float(pairs.socm.mean()):.3f}")


def _pairs_note(n_pairs, n_texts) -> str:
    total = n_texts * (n_texts - 1) // 2
    if n_pairs is None or n_pairs >= total:
        return f"all {total:,} pairs (exact)"
    return f"{n_pairs:,} sampled pairs of {total:,}"


@contextlib.contextmanager
def _cluster(args, out: _Output):
    """The dask cluster of ``--scheduler``; joblib's dask backend is active inside.

    Commands with ``--store`` encode into that folder. With a local cluster and
    no ``--store``, ``args.store`` is set to a temporary folder for the run; a
    remote cluster needs a folder its workers share, so the parser requires
    ``--store`` with it.
    """
    if getattr(args, "scheduler", None) is None:
        yield
        return
    from .._cluster import dask_cluster

    encodes = hasattr(args, "store")
    with contextlib.ExitStack() as stack:
        store = getattr(args, "store", None)
        hint = (f"Finished encoding partitions are kept in {store}: run the same command "
                f"again with --store {store} to resume." if store is not None else
                "Run again with --store DIR (a folder the workers share) to keep finished "
                "encoding partitions across a fault.")
        client = stack.enter_context(dask_cluster(args.scheduler, resume_hint=hint))
        workers = len(client.scheduler_info().get("workers", {}))
        out.status(f"skpool: dask cluster at {client.scheduler.address} ({workers} workers)")
        if encodes and args.store is None:
            args.store = Path(stack.enter_context(
                tempfile.TemporaryDirectory(prefix="skpool-tokens-"))) / "store"
        yield


def _status(args, doing: str, after: str = "") -> Callable:
    """``status`` of :func:`_run` for one corpus: ``doing`` over the pairs it measures."""
    return lambda corpus: f"skpool: {doing} {_pairs_note(args.pairs, len(corpus.texts))}{after}"


def _run(args, *, status: Callable, measure: Callable, plot: Callable,
         load: Callable = None) -> int:
    """The skeleton every command runs on.

    ``status(corpus)`` says what will be computed, ``measure(corpus)``
    returns a :class:`Measured`, ``plot(corpus, measured, out)`` returns the
    figure saved to ``--plot``. ``load(args, out)`` replaces the one corpus of
    ``--dataset`` (``skpool evaluate`` loads its tasks itself).
    """
    out = _Output(args)
    _check_outputs(args)
    if _cache_folder(args) is not None:
        _cache_limit()  # a bad limit is reported before the long work
    from sklearn import config_context

    with _cluster(args, out), config_context(working_memory=WORKING_MEMORY_MIB):
        corpus = (load or _load)(args, out)
        out.status(status(corpus))
        with _verbosity(args):
            measured = measure(corpus)
        if getattr(args, "auto_pairs", False):  # the pairs were sampled without --pairs
            out.print(args.first_line.removeprefix("skpool: "))
        out.print(measured.text)
        failed = None
        # the figure and the page do not depend on the JSON, nor each other
        for write, what in ((_write_json, measured.records if measured.json is None
                                              else measured.json), (_write_html, measured)):
            try:
                write(args, what, out)
            except (OSError, ValueError) as exc:
                failed = failed or exc
        if args.plot is not None:
            import matplotlib.pyplot as plt

            plt.close(plot(corpus, measured, out))
            out.status(f"skpool: saved figure to {args.plot}")
        if failed is not None:
            raise failed
    _trim_cache(args, out)
    return 0


# ---------------------------------------------------------------------------------------
# The embedding cache
# ---------------------------------------------------------------------------------------
def run_cache_info(args) -> int:
    """``skpool cache info``: the cache folder, its entries and size, per model, and the
    journals that unfinished ``skpool evaluate`` runs left."""
    import json

    from ..encoder._cache import cache_summary
    from ..evaluation._journal import journal_files

    summary = cache_summary(_cache_folder(args))
    summary["max_bytes"] = _cache_limit()
    journals = journal_files(_journal_folder())
    summary["journals"] = {"folder": str(_journal_folder()), "n_files": len(journals),
                           "n_bytes": sum(size for _, size in journals)}
    text = formatting.format_cache(summary)
    if args.json == "-":
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
        print(text, file=sys.stderr)
        return 0
    print(text)
    if args.json is not None:
        _check_writable("--json", args.json)
        Path(args.json).expanduser().write_text(json.dumps(summary, indent=2) + "\n",
                                                encoding="utf-8")
    return 0


def run_cache_clear(args) -> int:
    """``skpool cache clear``: empty the cache, or shrink it to ``--max-size``.

    Emptying it also removes the journals of ``skpool evaluate`` runs that
    never completed (a completed run removes its own), except those a running
    evaluate holds; ``--max-size`` only trims the embeddings.
    """
    from ..encoder._cache import cache_summary, clear_cache

    folder = _cache_folder(args)
    removed, freed = clear_cache(folder, max_bytes=args.max_size)
    left = cache_summary(folder)
    print(f"removed {removed:,} entries ({formatting.size_text(freed)}) from {folder}; "
          f"{left['n_entries']:,} left ({formatting.size_text(left['n_bytes'])})")
    if args.max_size is None:
        from ..evaluation._journal import clear_journals

        journals, running = clear_journals(_journal_folder())
        print(f"removed {len(journals):,} journal(s) of unfinished evaluate runs "
              f"({formatting.size_text(sum(size for _, size in journals))}) from "
              f"{_journal_folder()}")
        if running:
            print(f"kept {len(running):,} journal(s) of evaluate runs still going: "
                  + ", ".join(str(path) for path, _ in running))
    return 0


# ---------------------------------------------------------------------------------------
# The commands
# ---------------------------------------------------------------------------------------
def run_report(args) -> int:
    """``skpool report``: the collapse report of one model on one corpus."""
    from ..analysis import collapse_report, pair_components

    def measure(corpus):
        n = len(corpus.texts)
        measured = min(args.pairs or n * (n - 1) // 2, n * (n - 1) // 2)
        # --plot (and --html) draw the report's own pairs, kept from the one computation,
        # when there are few enough to draw; beyond that a uniform sample of them
        drawn = args.plot is not None or getattr(args, "html", None) is not None
        keep = drawn and measured <= MAX_PLOTTED_PAIRS
        result = collapse_report(corpus.texts, _encoder(args, args.model),
                                 n_pairs=args.pairs, random_state=args.seed,
                                 dataset=corpus.name, n_jobs=args.n_jobs,
                                 progress=_progress(args), store=args.store, pairs=keep,
                                 partition_size=args.partition_size)
        text = formatting.format_report(result.record, n_available=corpus.n_available)
        return Measured([result.record], text, result, html=lambda command: (
            result._html_document(ids=corpus.ids, command=command, n_jobs=args.n_jobs)))

    def plot(corpus, measured, out):
        from ..plotting import plot_pair_scatter

        record, pairs = measured.result.record, measured.result.pairs
        if pairs is None:
            out.status(f"skpool: computing d_mu, d_Sigma and SOCM of "
                       f"{_pairs_note(MAX_PLOTTED_PAIRS, record.n_texts)} for the figure "
                       f"(a uniform sample of the report's {record.n_pairs:,})")
            pairs = pair_components(measured.result.tokens, n_pairs=MAX_PLOTTED_PAIRS,
                                    random_state=args.seed, n_jobs=args.n_jobs,
                                    progress=_progress(args))
        return plot_pair_scatter(
            pairs.d_mu, pairs.d_sigma, pairs.socm, path=args.plot,
            title=_pair_scatter_title(record, corpus.name, pairs))

    return _run(args, measure=measure, plot=plot, status=_status(
        args, f"encoding with {args.model}; SOCM over"))


def run_compare(args) -> int:
    """``skpool compare``: the collapse report of several models on the same texts."""
    from ..analysis import compare_models

    def measure(corpus):
        results = compare_models(corpus.texts, args.models, n_pairs=args.pairs,
                                 random_state=args.seed, dataset=corpus.name,
                                 n_jobs=args.n_jobs, progress=_progress(args),
                                 store=args.store, partition_size=args.partition_size,
                                 **_encoder_params(args))
        from ..analysis import comparison_document

        records = [r.record for r in results]
        return Measured(records, formatting.format_comparison(records, corpus.name),
                        html=lambda command: comparison_document(results, command=command))

    def plot(corpus, measured, out):
        from ..plotting import plot_model_comparison

        n = len(corpus.texts)
        return plot_model_comparison(
            measured.records, path=args.plot,
            title=f"{_short(corpus.name)}: {n:,} texts\nSOCM over {_pairs_note(args.pairs, n)}")

    return _run(args, measure=measure, plot=plot, status=_status(
        args, f"{len(args.models)} models; SOCM over"))


def _check_layers(layers, n_layers: int, model: str) -> None:
    """``--layers`` against the model's layers (known once it is loaded)."""
    for layer in layers or ():
        if not -(n_layers + 1) <= layer <= n_layers:
            raise ValueError(
                f"--layers: {model} has {n_layers} layers, so the layers are 0 (the "
                f"embedding layer) to {n_layers} (or -1 for the last, down to "
                f"{-(n_layers + 1)}); got {layer}")


def run_layers(args) -> int:
    """``skpool layers``: collapse and token concentration at every hidden layer."""
    from ..analysis import layer_profile

    def measure(corpus):
        encoder = _encoder(args, args.model).fit()
        _check_layers(args.layers, encoder.n_layers_, args.model)
        profile = layer_profile(encoder, corpus.texts, layers=args.layers,
                                n_pairs=args.pairs, random_state=args.seed,
                                dataset=corpus.name, n_jobs=args.n_jobs,
                                progress=_progress(args), store=args.store,
                                partition_size=args.partition_size)
        return Measured(list(profile.records),
                        formatting.format_layers(profile.records, corpus.name),
                        html=lambda command: profile._html_document(command=command))

    def plot(corpus, measured, out):
        from ..plotting import plot_layer_profile

        first = measured.records[0]
        # the counts every point of the figure rests on
        return plot_layer_profile(
            measured.records, path=args.plot, log_scale=args.log_scale,
            title=f"{_short(first.model)} on {_short(corpus.name)}: {first.n_texts:,} texts, "
                  f"{_pairs_note(first.n_pairs, first.n_texts)} per layer")

    return _run(args, measure=measure, plot=plot, status=_status(
        args, f"encoding every layer of {args.model}; SOCM over", " per layer"))


def run_ot(args) -> int:
    """``skpool ot``: Gaussian against exact W2 of token clouds on sampled pairs."""
    from ..analysis import ot_report

    def measure(corpus):
        result = ot_report(corpus.texts, _encoder(args, args.model), n_pairs=args.pairs,
                           ids=corpus.ids,
                           random_state=args.seed, normalize=args.normalize,
                           dataset=corpus.name, n_jobs=args.n_jobs,
                           progress=_progress(args), store=args.store,
                           partition_size=args.partition_size)
        return Measured([result.record], formatting.format_ot(result.record), result,
                        html=lambda command: result._html_document(ids=corpus.ids,
                                                                    command=command))

    def plot(corpus, measured, out):
        from ..plotting import plot_w2_comparison

        record = measured.result.record
        return plot_w2_comparison(
            measured.result.comparison, path=args.plot,
            title=f"{_short(record.model)} (layer {record.layer}) on {_short(corpus.name)}, "
                  f"{record.n_texts:,} texts")

    return _run(args, measure=measure, plot=plot, status=_status(
        args, f"encoding with {args.model}; exact and Gaussian W2 on"))


def run_pairs(args) -> int:
    """``skpool pairs``: the pairs of texts mean pooling conflates."""
    from ..pairs import pairs_report

    def measure(corpus):
        report = pairs_report(corpus.texts, _encoder(args, args.model), top=args.top,
                              max_pairs=args.pairs, w2=args.w2, positions=corpus.positions,
                              ids=corpus.ids,
                              random_state=args.seed, dataset=corpus.name,
                              n_jobs=args.n_jobs, progress=_progress(args), store=args.store,
                              partition_size=args.partition_size)
        return Measured(formatting.pairs_to_records(report, corpus),
                        formatting.format_pairs(report, n_available=corpus.n_available,
                                                ids=corpus.describe_ids()),
                        report, html=lambda command: report._html_document(command=command))

    def plot(corpus, measured, out):
        from ..plotting import plot_pairs_report

        report = measured.result
        return plot_pairs_report(report, path=args.plot,
                                 title=_pair_scatter_title(report.record, corpus.name,
                                                           report.searched))

    return _run(args, measure=measure, plot=plot, status=_status(
        args, f"encoding with {args.model}; SOCM over", ", cosine over all pairs"))


def run_neighbours(args) -> int:
    """``skpool neighbours``: every text's nearest neighbours and their SOCM."""
    from ..neighbours import neighbours_report

    def measure(corpus):
        if args.n_neighbors >= len(corpus.texts):
            raise ValueError(f"--neighbours {args.n_neighbors} needs more texts than that: "
                             f"the corpus has {len(corpus.texts)} (a text is not its own "
                             "neighbour)")
        report = neighbours_report(corpus.texts, _encoder(args, args.model),
                                   n_neighbors=args.n_neighbors, index=args.index,
                                   top=args.top, positions=corpus.positions, ids=corpus.ids,
                                   random_state=args.seed, dataset=corpus.name,
                                   n_jobs=args.n_jobs, progress=_progress(args),
                                   store=args.store, partition_size=args.partition_size)
        records = formatting.neighbours_to_records(report, corpus)
        return Measured(records,
                        formatting.format_neighbours(report, n_available=corpus.n_available,
                                                     ids=corpus.describe_ids()),
                        report, html=lambda command: report._html_document(
                            command=command, records=records))

    def plot(corpus, measured, out):  # refused while parsing
        raise AssertionError("skpool neighbours has no figure")

    return _run(args, measure=measure, plot=plot, status=lambda corpus: (
        f"skpool: encoding with {args.model}; the {args.n_neighbors} nearest neighbours of "
        f"each text ({args.index} index), SOCM of the neighbour pairs"))


def run_evaluate(args) -> int:
    """``skpool evaluate``: collapse against downstream scores, layer by layer.

    Each finished (model, layer, task, pooling) result goes to a journal under
    ``$SKPOOL_HOME/evaluate/`` named by the arguments, so that a run that fails
    or is killed keeps its finished part and a rerun with the same arguments
    resumes; the journal is removed once the outputs are written.
    """
    from ..evaluation import DEFAULT_POOLINGS, TASKS, evaluate
    from ..evaluation._journal import Journal

    models = args.model
    poolings = args.pooling or list(DEFAULT_POOLINGS)
    # held by this run: a second one with the same arguments is refused, naming this one
    journal = Journal(_journal_path(args))

    def load(args, out):
        tasks = [_evaluation_task(args, entry, out) for entry in args.dataset or list(TASKS)]
        out.status(f"skpool: tasks {', '.join(getattr(t, 'name', t) for t in tasks)}; "
                   f"{len(models)} model(s); poolings {', '.join(poolings)}")
        if len(journal):
            out.status(f"skpool: resuming: {len(journal):,} finished result(s) found in "
                       f"{journal.path}")
        else:
            out.status(f"skpool: each finished result is kept in {journal.path} until the "
                       "run completes; a rerun with the same arguments resumes from it")
        return tasks

    def measure(tasks):
        encoders = {model: _encoder(args, model) for model in models}
        result = evaluate(encoders, tasks, layers=args.layers, poolings=poolings,
                          n_texts=args.n_texts, n_pairs=args.pairs, n_folds=args.folds,
                          n_bootstrap=args.bootstrap, random_state=args.seed,
                          n_jobs=args.n_jobs, progress=_progress(args), journal=journal,
                          baselines=args.baseline, interventions=args.intervene,
                          store=args.store, partition_size=args.partition_size)
        return Measured(list(result.records), formatting.format_evaluation(result), result,
                        json=result.to_json_dict(),
                        html=lambda command: result._html_document(command=command))

    def plot(tasks, measured, out):
        from ..plotting import plot_socm_vs_score

        # the Evaluation, so that each panel carries its correlation and interval
        return plot_socm_vs_score(measured.result, path=args.plot, pooling=poolings[0],
                                  title=", ".join(_short(m, 24) for m in models))

    code = _run(args, measure=measure, plot=plot, load=load, status=lambda tasks: (
        "skpool: each model encodes every task's texts once; SOCM over "
        f"{args.pairs:,} sampled pairs per task and layer"))
    journal.remove()  # every output is written: nothing left to resume
    return code


def _evaluation_task(args, entry: str, out):
    """A bundled task's name as it is, or a :class:`~skpool.evaluation.Task` from a file."""
    from ..evaluation import TASKS, Task

    columns = {"text_column": args.text_column, "label_column": args.label_column,
               "pair_columns": args.pair_columns, "score_column": args.score_column,
               "id_column": args.id_column}
    if entry in TASKS:
        if not args.dataset or all(d in TASKS for d in args.dataset):
            given = [f"--{k.replace('_', '-')}" for k, v in columns.items() if v is not None]
            if given:
                raise ValueError(f"{' and '.join(given)} name columns of your own data files; "
                                 "the tasks given are all bundled (their columns are fixed).")
        return entry
    if args.label_column is None and args.pair_columns is None:
        raise ValueError(f"skpool evaluate needs --label-column C (classification) or "
                         f"--pair-columns A B with --score-column S (similarity) to score "
                         f"{entry}.")
    task = Task.from_data(entry, **columns)
    data = task.load()
    what = (f"{len(data.texts):,} texts, classes {', '.join(data.label_names)}"
            if task.kind == "classification" else
            f"{len(data.scores):,} rated pairs of {len(data.texts):,} texts")
    out.status(f"skpool: {task.name}: {what} (every row of {entry})")
    return task


#: The options that shape ``skpool evaluate``'s results: the same values, the same journal.
_EVALUATE_SHAPING = ("model", "dataset", "layers", "pooling", "n_texts", "pairs", "folds",
                     "bootstrap", "seed", "max_length", "text_column", "label_column",
                     "pair_columns", "score_column", "id_column")


def _journal_folder() -> Path:
    """Where ``skpool evaluate`` keeps its journals: ``$SKPOOL_HOME/evaluate``."""
    from ..encoder._cache import skpool_home

    return skpool_home() / "evaluate"


def _journal_path(args) -> Path:
    """The journal of an ``skpool evaluate`` run: ``$SKPOOL_HOME/evaluate/<hash of its options>``."""
    import hashlib
    import json

    shaping = {name: getattr(args, name, None) for name in _EVALUATE_SHAPING}
    digest = hashlib.sha256(json.dumps(shaping, sort_keys=True, default=str).encode())
    return _journal_folder() / f"run-{digest.hexdigest()[:20]}.jsonl"
