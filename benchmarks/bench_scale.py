"""Scaling figures: encoding on 1 vs N dask workers, SOCM and exact OT pairs per second,
and the driver's peak memory on a memory-mapped corpus larger than its working memory.

    python benchmarks/bench_scale.py [--workers 1 2] [--n-texts 400] [--models all-MiniLM-L6-v2]
                                     [--memory-texts 6000 12000] [--skip encode,pairs,memory]

Sections (docs/scaling.md is written from this script's output):

encode
    ``encode_to_store`` of real texts (Wikipedia film leads) on a ``LocalCluster``
    of W single-threaded worker processes, for each W of ``--workers``. Every
    worker loads the model on a warm-up corpus first, so the timed runs are the
    steady state of a long job. Printed: wall-clock texts/s (best of
    ``--repeats``) and texts per CPU second (workers and this process), the
    per-core figure that other processes on a shared machine do not distort.
    With one worker joblib skips dispatching and encodes in this process, on
    one torch thread: the same single core.
pairs
    SOCM pairs per second (all pairs of ``--pair-texts`` encoded film leads, one
    process, one BLAS thread: per core) and exact W2 pairs per second (POT's
    network simplex on sampled pairs, per core).
memory
    Synthetic token stores (``--memory-texts`` texts of 20-60 tokens of
    dimension 384, float32) are written to disk; a fresh child process then
    runs ``concentration`` and a sampled ``mean_socm`` on each with
    ``working_memory=64`` MiB, memory-mapped (``mmap_mode="r"``), and the
    largest once more read into memory. Printed: the peak of the child's anonymous
    resident memory (its heap: what it must hold) and its peak total resident
    memory (``VmHWM``, which also counts pages of the memory-mapped file;
    those are page cache the kernel reclaims when memory runs short).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402


def film_leads(n_texts: int) -> list[str]:
    from skpool.datasets import load_wiki_films

    texts = load_wiki_films().texts
    return [texts[i % len(texts)] for i in range(n_texts)]


# ---------------------------------------------------------------------------------------
# encode
# ---------------------------------------------------------------------------------------
def bench_encode(models, worker_counts, n_texts, partition_size, repeats):
    import distributed
    import torch
    from joblib import parallel_config

    from skpool import TokenEncoder
    from skpool.encoder._distributed import encode_to_store

    texts = film_leads(n_texts)
    # joblib runs the tasks in this process when the cluster has a single core (it
    # skips dispatching for n_jobs == 1): that one core is then this process's
    torch.set_num_threads(1)
    rows = []
    for model in models:
        for workers in worker_counts:
            with distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                          processes=True, dashboard_address=None,
                                          silence_logs=40) as cluster, \
                    distributed.Client(cluster) as client, \
                    parallel_config(backend="dask"), \
                    tempfile.TemporaryDirectory() as folder, \
                    warnings.catch_warnings():
                warnings.simplefilter("ignore")
                encoder = TokenEncoder(model, device="cpu")
                # warm-up: one short partition per worker loads the model everywhere
                warm = [f"warm-up text number {k}" for k in range(2 * workers)]
                encode_to_store(warm, os.path.join(folder, "warm"), encoder, partition_size=2)
                loaded = client.run(_models_loaded)
                best = None
                for repeat in range(repeats):
                    cpu_before = sum(client.run(_cpu_seconds).values()) + _cpu_seconds()
                    start = time.perf_counter()
                    tokens = encode_to_store(texts, os.path.join(folder, f"store{repeat}"),
                                             encoder, partition_size=partition_size)
                    seconds = time.perf_counter() - start
                    cpu = (sum(client.run(_cpu_seconds).values()) + _cpu_seconds()
                           - cpu_before)
                    if best is None or seconds < best[0]:
                        best = (seconds, cpu)
                seconds, cpu = best
                rows.append({
                    "model": model, "workers": workers, "texts": len(texts),
                    "tokens": tokens.n_tokens, "seconds": seconds, "worker_cpu_seconds": cpu,
                    "texts_per_s": len(texts) / seconds,
                    "texts_per_cpu_s": len(texts) / cpu,
                    "bytes_per_text": tokens.n_tokens * tokens.dim * 4 / len(texts),
                    "workers_with_model": sum(loaded.values()),
                })
                print(f"encode  {model:<18} workers={workers}  {len(texts)} texts: best of "
                      f"{repeats} {seconds:6.1f} s wall = {rows[-1]['texts_per_s']:6.1f} "
                      f"texts/s; {cpu:6.1f} worker CPU s = "
                      f"{rows[-1]['texts_per_cpu_s']:.1f} texts per CPU second;  "
                      f"{tokens.n_tokens / len(texts):.1f} tokens/text, "
                      f"{rows[-1]['bytes_per_text'] / 1e3:.1f} kB/text on disk", flush=True)
    return rows


def _cpu_seconds():
    """User + system CPU seconds of this (worker) process, all its threads."""
    times = os.times()
    return times.user + times.system


def _models_loaded():
    from skpool.encoder import _torch

    return len(_torch._LOADED)


# ---------------------------------------------------------------------------------------
# pairs
# ---------------------------------------------------------------------------------------
def bench_pairs(model, n_texts, n_ot_pairs):
    from threadpoolctl import threadpool_limits

    from skpool import TokenEncoder, mean_socm
    from skpool.ot import compare_w2

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tokens = TokenEncoder(model, device="cpu").fit_transform(film_leads(n_texts))
    rows = {}

    def timed(call):
        """Run ``call`` once; return its result, wall seconds and CPU seconds."""
        wall, cpu = time.perf_counter(), time.process_time()
        result = call()
        return result, time.perf_counter() - wall, time.process_time() - cpu

    # one thread, one task at a time: the figures are per core
    with threadpool_limits(limits=1):
        mean_socm(tokens[:40], n_jobs=1)  # warm-up
        result, wall, cpu = timed(lambda: mean_socm(tokens, n_jobs=1))
        rows["socm_all_pairs_per_cpu_s"] = result.n_pairs / cpu
        print(f"socm    {model:<18} all {result.n_pairs} pairs of {len(tokens)} texts "
              f"({tokens.lengths.mean():.1f} tokens/text): {wall:.2f} s wall, {cpu:.2f} CPU s "
              f"= {rows['socm_all_pairs_per_cpu_s']:.0f} pairs per CPU second", flush=True)
        sampled, wall, cpu = timed(lambda: mean_socm(
            tokens, n_pairs=result.n_pairs // 10, random_state=0, n_jobs=1))
        rows["socm_sampled_pairs_per_cpu_s"] = sampled.n_pairs / cpu
        # the spread of SOCM over pairs: the standard error of K sampled pairs is sd / sqrt(K)
        rows["socm_pair_sd"] = sampled.stderr * math.sqrt(sampled.n_pairs) / math.sqrt(
            1.0 - sampled.n_pairs / result.n_pairs)
        print(f"socm    {model:<18} {sampled.n_pairs} sampled pairs: {wall:.2f} s wall, "
              f"{cpu:.2f} CPU s = {rows['socm_sampled_pairs_per_cpu_s']:.0f} pairs per CPU "
              f"second; mean {sampled.mean:.4f} +/- {sampled.stderr:.4f} (exact "
              f"{result.mean:.4f}), SD over pairs {rows['socm_pair_sd']:.3f}", flush=True)
        compare, wall, cpu = timed(lambda: compare_w2(tokens, pairs=n_ot_pairs,
                                                      random_state=0, n_jobs=1))
        rows["exact_ot_pairs_per_cpu_s"] = compare.n_pairs / cpu
        print(f"ot      {model:<18} {compare.n_pairs} exact W2 pairs (with their Gaussian "
              f"W2): {wall:.2f} s wall, {cpu:.2f} CPU s = "
              f"{rows['exact_ot_pairs_per_cpu_s']:.1f} pairs per CPU second", flush=True)
    rows["tokens_per_text"] = float(tokens.lengths.mean())
    return rows


# ---------------------------------------------------------------------------------------
# memory
# ---------------------------------------------------------------------------------------
def write_synthetic_store(path, n_texts, dim=384, seed=0):
    """A store of random token clouds, written a chunk at a time (bounded memory)."""
    from skpool import _store

    rng = np.random.default_rng(seed)
    lengths = rng.integers(20, 61, size=n_texts)
    offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64)
    folder = os.fspath(path)
    os.makedirs(folder, exist_ok=True)
    data = np.lib.format.open_memmap(os.path.join(folder, "data.npy"), mode="w+",
                                     dtype=np.float32, shape=(int(offsets[-1]), dim))
    direction = rng.normal(size=dim).astype(np.float32)
    for r0 in range(0, data.shape[0], 100_000):
        r1 = min(data.shape[0], r0 + 100_000)
        data[r0:r1] = rng.normal(size=(r1 - r0, dim)).astype(np.float32) + direction
    data.flush()
    del data
    np.save(os.path.join(folder, "offsets.npy"), offsets)
    np.save(os.path.join(folder, "truncated.npy"), np.zeros(n_texts, dtype=bool))
    header = _store._header(_store._Shape(int(offsets[-1]), dim, np.float32), offsets,
                            np.zeros(n_texts, dtype=bool), model=None, texts_sha256=None)
    _store._write_json(_store.Path(folder) / _store.HEADER, header)
    return int(offsets[-1]) * dim * 4


def _memory_child(path, mode, working_memory, n_pairs):
    """Run in a fresh process: print the peak memory of measuring the store at ``path``."""
    import sklearn

    from skpool import TokenSets, concentration, mean_socm

    peak = {"anon": 0}
    stop = threading.Event()

    def rss_anon():
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
        return 0

    def sample():
        while not stop.is_set():
            peak["anon"] = max(peak["anon"], rss_anon())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    baseline = rss_anon()
    sampler.start()
    start = time.perf_counter()
    with sklearn.config_context(working_memory=working_memory):
        tokens = TokenSets.load(path, mmap_mode=None if mode == "memory" else "r")
        loaded = time.perf_counter()
        spread = concentration(tokens).spread
        measured = time.perf_counter()
        result = mean_socm(tokens, n_pairs=n_pairs, random_state=0)
    seconds = time.perf_counter() - start
    timings = {"load_s": loaded - start, "concentration_s": measured - loaded,
               "mean_socm_s": time.perf_counter() - measured}
    stop.set()
    sampler.join()
    peak["anon"] = max(peak["anon"], rss_anon())
    with open("/proc/self/status") as status:
        hwm = next(int(line.split()[1]) * 1024 for line in status
                   if line.startswith("VmHWM:"))
    print(json.dumps({"mode": mode, "peak_anon": peak["anon"], "baseline_anon": baseline,
                      "vm_hwm": hwm, "seconds": seconds, "mean_socm": result.mean,
                      "mean_spread": float(spread.mean()), **timings}))


def bench_memory(sizes, working_memory, n_pairs):
    """Memory-mapped runs for each corpus size; the largest also read into memory."""
    rows = []
    for n_texts in sizes:
        modes = ("mmap", "memory") if n_texts == max(sizes) else ("mmap",)
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "store")
            size = write_synthetic_store(path, n_texts)
            print(f"memory  synthetic store: {n_texts} texts, {size / 2**20:.0f} MiB of float32 "
                  f"tokens; working_memory={working_memory} MiB; concentration + mean_socm "
                  f"({n_pairs} sampled pairs)", flush=True)
            for mode in modes:
                out = subprocess.run(
                    [sys.executable, __file__, "--_memory-child", path, mode,
                     str(working_memory), str(n_pairs)],
                    capture_output=True, text=True, check=True)
                row = json.loads(out.stdout.strip().splitlines()[-1])
                row["store_bytes"] = size
                row["n_texts"] = n_texts
                rows.append(row)
                print(f"memory  {mode:<6}  peak anonymous RSS {row['peak_anon'] / 2**20:7.0f} "
                      f"MiB (at start {row['baseline_anon'] / 2**20:.0f} MiB), peak total RSS "
                      f"{row['vm_hwm'] / 2**20:7.0f} MiB; {row['seconds']:.1f} s (load "
                      f"{row['load_s']:.1f}, concentration {row['concentration_s']:.1f}, "
                      f"mean_socm {row['mean_socm_s']:.1f}); mean SOCM {row['mean_socm']:.6f}",
                      flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--n-texts", type=int, default=400)
    parser.add_argument("--partition-size", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed encoding runs per setting; the fastest is kept")
    parser.add_argument("--models", nargs="+", default=["all-MiniLM-L6-v2"])
    parser.add_argument("--pair-texts", type=int, default=300)
    parser.add_argument("--ot-pairs", type=int, default=100)
    parser.add_argument("--memory-texts", type=int, nargs="+", default=[6_000, 12_000])
    parser.add_argument("--working-memory", type=float, default=64)
    parser.add_argument("--memory-pairs", type=int, default=20_000)
    parser.add_argument("--skip", default="", help="comma-separated sections to skip")
    parser.add_argument("--json", help="also write every figure to this file")
    parser.add_argument("--_memory-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._memory_child:
        path, mode, working_memory, n_pairs = args._memory_child
        _memory_child(path, mode, float(working_memory), int(n_pairs))
        return
    skip = set(filter(None, args.skip.split(",")))
    print(f"cpu cores: {os.cpu_count()}", flush=True)
    figures = {}
    if "encode" not in skip:
        figures["encode"] = bench_encode(args.models, args.workers, args.n_texts,
                                         args.partition_size, args.repeats)
    if "pairs" not in skip:
        figures["pairs"] = {m: bench_pairs(m, args.pair_texts, args.ot_pairs)
                            for m in args.models}
    if "memory" not in skip:
        figures["memory"] = bench_memory(args.memory_texts, args.working_memory,
                                         args.memory_pairs)
    if args.json:
        with open(args.json, "w") as stream:
            json.dump(figures, stream, indent=1)


if __name__ == "__main__":
    main()
