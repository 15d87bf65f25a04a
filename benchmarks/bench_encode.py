"""TokenEncoder against SentenceTransformer.encode: both bundled models, last and middle layer.

For each bundled model (all-MiniLM-L6-v2, all-mpnet-base-v2) and each corpus
(Wikipedia film leads: mixed lengths, mostly under the limit; BBC News
articles: long, most cut at the limit), in one run on one machine:

- texts/s of ``SentenceTransformer.encode`` and of skpool's encoder plus a
  mean of the tokens, at the last layer and at a middle layer (skpool stops
  the forward pass there; sentence-transformers has no such option, so its
  time is a full pass);
- the ratio (sentence-transformers time / skpool time: > 1 means skpool is
  faster) and the largest difference of the normalised pooled vectors
  (last layer: against ``encode``; middle layer: against the mask-weighted
  mean of ``output_hidden_states`` of sentence-transformers' own module);
- where the time goes: tokenize, forward pass, the rest (padding, gathering
  and copying tokens out; for sentence-transformers its pooling);
- ``transform_layers`` of every hidden state against one last-layer encoding
  (one forward pass per batch serves all layers).

Both methods are warmed up, then timed alternately; best of ``--repeats``.
The default run takes a few minutes on 2 CPU cores:

    python benchmarks/bench_encode.py [--n-films 64] [--n-bbc 16] [--repeats 2]
                                      [--models all-MiniLM-L6-v2 all-mpnet-base-v2]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from contextlib import contextmanager

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

MODELS = {"all-MiniLM-L6-v2": 3, "all-mpnet-base-v2": 6}  # name -> a middle layer


def corpora(n_films: int, n_bbc: int) -> dict[str, list[str]]:
    from skpool.datasets import load_bbc_news, load_wiki_films

    return {
        "film leads": load_wiki_films().texts[:n_films],
        "BBC news": load_bbc_news(n_texts=n_bbc, random_state=0).texts,
    }


def unit_means(tokens) -> np.ndarray:
    """Mean of each text's tokens, then unit norm (the models' Normalize module)."""
    sums = np.add.reduceat(tokens.data.astype(np.float64), tokens.offsets[:-1], axis=0)
    means = sums / tokens.lengths[:, None]
    return means / np.linalg.norm(means, axis=1, keepdims=True)


class Clock:
    """Seconds spent in tokenize / forward (on CUDA, each part waits for the device)."""

    def __init__(self, device="cpu"):
        self.parts = {"tokenize": 0.0, "forward": 0.0}
        self.sync = _synchronizer(device)

    def reset(self):
        for key in self.parts:
            self.parts[key] = 0.0

    def wrap(self, part, function):
        def timed(*args, **kwargs):
            self.sync()
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.sync()
                self.parts[part] += time.perf_counter() - start
        return timed


def _synchronizer(device):
    import torch

    if str(device).startswith("cuda"):
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


@contextmanager
def skpool_clock(clock: Clock):
    """Time skpool's tokenizer call and forward passes (module functions, patched)."""
    from skpool.encoder import _torch

    saved = _torch.tokenize, _torch._run_capturing
    _torch.tokenize = clock.wrap("tokenize", saved[0])
    _torch._run_capturing = clock.wrap("forward", saved[1])
    try:
        yield
    finally:
        _torch.tokenize, _torch._run_capturing = saved


def st_clock(model, clock: Clock):
    """Time sentence-transformers' preprocess (tokenizer) and forward (hooks on the model)."""
    model.preprocess = clock.wrap("tokenize", model.preprocess)
    starts = []

    def begin(*args):
        clock.sync()
        starts.append(time.perf_counter())

    def done(*args):
        clock.sync()
        clock.parts["forward"] += time.perf_counter() - starts.pop()

    model.register_forward_pre_hook(begin)

    model.register_forward_hook(done)


def st_middle_layer(model, texts, layer, batch_size) -> np.ndarray:
    """Mask-weighted mean of hidden state ``layer`` through sentence-transformers' own module."""
    import torch

    transformer = model[0]
    out = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            features = model.preprocess(texts[start:start + batch_size])
            inputs = {k: v.to(model.device) for k, v in features.items()
                      if k in ("input_ids", "attention_mask", "token_type_ids")}
            hidden = transformer.auto_model(**inputs, output_hidden_states=True).hidden_states
            mask = inputs["attention_mask"].unsqueeze(-1).to(torch.float32)
            means = (hidden[layer] * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.append(means.double().cpu().numpy())
    means = np.concatenate(out)
    return means / np.linalg.norm(means, axis=1, keepdims=True)


def bench_model(name, middle, texts_by_corpus, batch_size, repeats, device):
    import torch
    from sentence_transformers import SentenceTransformer

    from skpool import TokenEncoder

    encoder = TokenEncoder(name, batch_size=batch_size, device=device).fit()
    st_model = SentenceTransformer(encoder.model_path_, device=device)
    st_model.max_seq_length = encoder.max_length_
    ours, theirs = Clock(device), Clock(device)
    st_clock(st_model, theirs)
    print(f"\n== {name}: {encoder.n_layers_} layers, d={encoder.embedding_dim_}, "
          f"max_length {encoder.max_length_}, middle layer {middle}, batch_size {batch_size}, "
          f"{device}, torch threads {torch.get_num_threads()}, forward stops early: "
          f"{encoder._loaded.stops_early}")

    for corpus, texts in texts_by_corpus.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # long texts are truncated by both, by design
            lengths = encoder.transform(texts).lengths
        truncated = int((lengths >= encoder.max_length_).sum())
        ordered = np.sort(lengths)[::-1]
        ours_batches = [ordered[b] for b in _torch_batches(ordered, batch_size)]
        print(f"-- {corpus}: {len(texts)} texts, {int(lengths.sum()):,} tokens "
              f"(median {int(np.median(lengths))}, {truncated} at the limit); padded positions: "
              f"{_padding(ours_batches):.1%} with skpool's batches, "
              f"{_padding(_fixed_batches(lengths, batch_size)):.1%} with {batch_size} texts each "
              f"(sentence-transformers' rule), "
              f"{_padding(_budget_batches(lengths, batch_size)):.1%} with a token budget of "
              f"batch_size x the median length")

        def skpool_run(layer, texts=texts):
            encoder.set_params(layer=layer)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return unit_means(encoder.transform(texts))

        def st_run(texts=texts):
            return st_model.encode(texts, batch_size=batch_size, convert_to_numpy=True)

        runs = {"sentence-transformers": st_run,
                "skpool last": lambda texts=texts: skpool_run(-1, texts),
                f"skpool layer {middle}": lambda texts=texts: skpool_run(middle, texts)}
        clocks = {"sentence-transformers": theirs}
        for run in runs.values():  # warm-up: one batch of the longest texts
            run(sorted(texts, key=len)[-batch_size:])
        best = {label: np.inf for label in runs}
        best_cpu = {label: np.inf for label in runs}
        parts = {}
        results = {}
        for repeat in range(repeats):
            order = list(runs) if repeat % 2 == 0 else list(runs)[::-1]
            for label in order:
                clock = clocks.get(label, ours)
                clock.reset()
                with skpool_clock(ours):
                    start, start_cpu = time.perf_counter(), time.process_time()
                    results[label] = runs[label]()
                    elapsed = time.perf_counter() - start
                best_cpu[label] = min(best_cpu[label], time.process_time() - start_cpu)
                if elapsed < best[label]:
                    best[label] = elapsed
                    parts[label] = dict(clock.parts, rest=elapsed - sum(clock.parts.values()))
        reference_mid = st_middle_layer(st_model, texts, middle, batch_size)
        diffs = {
            "sentence-transformers": 0.0,
            "skpool last": float(np.abs(results["skpool last"] - results["sentence-transformers"]).max()),
            f"skpool layer {middle}": float(np.abs(results[f"skpool layer {middle}"]
                                                   - reference_mid).max()),
        }
        st_time, st_cpu = best["sentence-transformers"], best_cpu["sentence-transformers"]
        for label in runs:
            p = parts[label]
            ratio = ("" if label == "sentence-transformers" else
                     f"ratio {st_time / best[label]:4.2f}x (CPU time {st_cpu / best_cpu[label]:4.2f}x)")
            print(f"   {label:22s} {len(texts) / best[label]:7.1f} texts/s {best[label]:7.2f} s  "
                  f"{ratio:31s} max|diff| {diffs[label]:.1e}  tokenize {p['tokenize']:5.2f} s, "
                  f"forward {p['forward']:6.2f} s, rest {p['rest']:5.2f} s")

    texts = next(iter(texts_by_corpus.values()))
    encoder.set_params(layer=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        encoder.transform(texts)
        last = time.perf_counter() - start
        start = time.perf_counter()
        every = encoder.transform_layers(texts)
        all_layers = time.perf_counter() - start
    print(f"-- transform_layers, all {len(every)} hidden states of the first corpus: "
          f"{all_layers:.2f} s against {last:.2f} s for the last layer alone "
          f"({all_layers / last:.2f}x)")


def _torch_batches(ordered: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """skpool's own batches (as index arrays into ``ordered``, longest first)."""
    from skpool.encoder import _torch

    return _torch._batches(ordered, np.arange(ordered.size), batch_size)


def _fixed_batches(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Longest first, ``batch_size`` texts each."""
    ordered = np.sort(lengths)[::-1]
    return [ordered[i:i + batch_size] for i in range(0, ordered.size, batch_size)]


def _budget_batches(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """The alternative: longest first, as many texts as fit ``batch_size x median`` positions."""
    ordered = np.sort(lengths)[::-1]
    budget = batch_size * float(np.median(lengths))
    batches, start = [], 0
    while start < ordered.size:
        count = max(1, int(budget // ordered[start]))
        batches.append(ordered[start:start + count])
        start += count
    return batches


def _padding(batches: list[np.ndarray]) -> float:
    """Share of padded positions when each batch is padded to its longest text."""
    positions = sum(int(b[0]) * b.size for b in batches)
    return 1.0 - sum(int(b.sum()) for b in batches) / positions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-films", type=int, default=64)
    parser.add_argument("--n-bbc", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:1, ...")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    texts = corpora(args.n_films, args.n_bbc)
    where = (torch.cuda.get_device_name(args.device) if args.device.startswith("cuda")
             else "CPU")
    print(f"{where}, {os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f}; best of "
          f"{args.repeats} alternating runs; ratio = sentence-transformers time / skpool time "
          "(wall clock; in brackets the process CPU time, steadier on a shared machine)")
    for name in args.models:
        bench_model(name, MODELS[name], texts, args.batch_size, args.repeats, args.device)


if __name__ == "__main__":
    main()
