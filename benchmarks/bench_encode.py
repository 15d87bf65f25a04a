"""TokenEncoder + mean of tokens against SentenceTransformer.encode, same model, same run.

Encodes the same real texts (Wikipedia film leads) with both, on CPU, with the
same batch size and torch threads; both are warmed up, then timed in
alternation; prints wall-clock and process CPU times, their ratios (target
<= 1.05), peak memory and the largest difference of the (normalised) pooled
vectors. On a shared machine wall-clock times swing with other processes'
load; the CPU-time ratio is the steadier figure.

    python benchmarks/bench_encode.py [--n-texts 300] [--batch-size 32] [--repeats 5]

Peak resident memory of each method is measured in a fresh child process
(``resource.getrusage``), since a process's peak only grows.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402


def film_leads(n_texts: int) -> list[str]:
    from skpool.datasets import load_wiki_films

    return load_wiki_films().texts[:n_texts]


def pooled(tokens) -> np.ndarray:
    """Mean of each text's tokens, then unit norm (the model's Normalize module)."""
    sums = np.add.reduceat(tokens.data, tokens.offsets[:-1], axis=0)
    means = sums / tokens.lengths[:, None]
    return means / np.linalg.norm(means, axis=1, keepdims=True)


def make_methods(batch_size: int):
    from sentence_transformers import SentenceTransformer

    from skpool import TokenEncoder
    from skpool.encoder.models import resolve_model

    path = resolve_model("all-MiniLM-L6-v2").location
    encoder = TokenEncoder(path, batch_size=batch_size, device="cpu").fit()
    model = SentenceTransformer(path, device="cpu")

    last = {}

    def skpool_run(texts):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # long leads are truncated by both, by design
            last["tokens"] = encoder.transform(texts)
        return pooled(last["tokens"])

    def st_run(texts):
        return model.encode(texts, batch_size=batch_size, convert_to_numpy=True)

    return {"skpool": skpool_run, "sentence-transformers": st_run}, encoder, last


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB.

    VmHWM (Linux) restarts at exec; ru_maxrss would carry the parent's peak
    into a child process.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024  # bytes on macOS, kB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def child_memory(method: str, n_texts: int, batch_size: int) -> float:
    """Peak RSS (MB) of a fresh process that loads the model and encodes once."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", method, "--n-texts", str(n_texts),
         "--batch-size", str(batch_size), "--threads", str(_threads())],
        capture_output=True, text=True, check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-texts", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--child", choices=["skpool", "sentence-transformers", "baseline"])
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    texts = film_leads(args.n_texts)

    if args.child:
        if args.child != "baseline":
            methods, _, _ = make_methods(args.batch_size)
            methods[args.child](texts)
        else:
            make_methods(args.batch_size)
        print(peak_rss_mb())
        return

    methods, encoder, last = make_methods(args.batch_size)
    warm = texts[:2 * args.batch_size]
    results = {name: run(warm) for name, run in methods.items()}  # warm-up
    wall = {name: [] for name in methods}
    cpu = {name: [] for name in methods}
    names = list(methods)
    for repeat in range(args.repeats):
        # Alternate the order so neither method always runs first after a pause.
        for name in (names if repeat % 2 == 0 else names[::-1]):
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            results[name] = methods[name](texts)
            wall[name].append(time.perf_counter() - start_wall)
            cpu[name].append(time.process_time() - start_cpu)
    ours, theirs = results["skpool"], results["sentence-transformers"]
    diff = float(np.abs(ours - theirs).max())
    tokens = last["tokens"]

    print(f"texts: {len(texts)} Wikipedia film leads, {int(tokens.lengths.sum()):,} tokens "
          f"(max_length {encoder.max_length_}, {encoder.n_truncated_} truncated), "
          f"batch_size {args.batch_size}, torch threads {torch.get_num_threads()}, CPU, "
          f"{args.repeats} alternating repeats, load average {os.getloadavg()[0]:.1f}")
    for name in methods:
        print(f"  {name:22s} wall best {min(wall[name]):7.3f} s  median "
              f"{statistics.median(wall[name]):7.3f} s   CPU time median "
              f"{statistics.median(cpu[name]):7.3f} s")
    # Paired ratios (the two runs of one repeat are seconds apart, so they share
    # the machine's load); CPU time is what other processes disturb least.
    for label, table in (("wall", wall), ("CPU time", cpu)):
        pairs = [a / b for a, b in zip(table["skpool"], table["sentence-transformers"])]
        best = min(table["skpool"]) / min(table["sentence-transformers"])
        print(f"ratio skpool / sentence-transformers, {label:8s}: median of pairs "
              f"{statistics.median(pairs):.3f}, best/best {best:.3f}   (target <= 1.05)")
    print(f"max |difference| of normalised pooled vectors: {diff:.2e}")
    print(f"TokenSets output: {tokens.data.nbytes / 2**20:.1f} MiB float32 "
          f"({tokens.n_tokens:,} x {tokens.dim})")
    print(f"peak RSS of this process (both methods): {peak_rss_mb():.0f} MB")
    if not args.no_memory:
        base = child_memory("baseline", args.n_texts, args.batch_size)
        for name in methods:
            peak = child_memory(name, args.n_texts, args.batch_size)
            print(f"  peak RSS, fresh process, {name:22s} {peak:6.0f} MB "
                  f"({peak - base:+.0f} MB over loading both models: {base:.0f} MB)")


if __name__ == "__main__":
    main()
