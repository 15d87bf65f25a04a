"""Cost of ``neighbour_collapse`` as the corpus grows: the index and the exact neighbour pairs.

    python benchmarks/bench_neighbours.py [--sizes 10000 100000] [--k 10] [--folder DIR]

For each size N a synthetic token store is written to disk (N texts of 20-60
tokens of dimension 384, float32; the clouds' means drawn around 200 random
directions so that neighbours are meaningful), then a fresh child process
runs ``neighbour_collapse(TokenSets.load(store, mmap_mode="r"), k)`` (exact
flat index, float32 products, every core of this machine). The child times
three phases by wrapping the module's functions: the per-text factors (one
pass over the store), the index (faiss: build and search), the exact pairs
(``paired_components`` of the distinct neighbour pairs), and samples its
memory every 20 ms. Printed per size: wall time and peak resident memory of
each phase (``VmRSS``, which counts pages of the memory-mapped store and its
scratch files, page cache the kernel can reclaim, and ``RssAnon``, the heap
the process must hold), the cost per text, and the brute-force alternative:
the same pair machinery over all N(N-1)/2 pairs, projected from the measured
cost per pair. Run it on a quiet machine and give ``uptime``'s load with it.

``--data-limit-gib G`` runs the measured process under ``RLIMIT_DATA = G`` GiB
(Linux counts its heap and private writable mappings, not the shared pages of
the memory-mapped store and scratch files): a run that finishes shows that the
driver never needed more, whatever its resident size says.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

DIM = 384
#: Texts generated and written at once (bounds the writer's memory).
CHUNK = 2000


def write_store(folder: Path, n: int, *, seed: int = 0) -> Path:
    """N synthetic clouds, 20-60 tokens of dimension 384, as a token store in ``folder``."""
    from numpy.lib.format import open_memmap

    from skpool._store import save_arrays

    rng = np.random.default_rng(seed)
    lengths = rng.integers(20, 61, size=n)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    centres = rng.normal(size=(200, DIM)).astype(np.float32)
    scratch = folder.with_name(folder.name + ".data.npy")
    data = open_memmap(scratch, mode="w+", dtype=np.float32, shape=(int(offsets[-1]), DIM))
    for a in range(0, n, CHUNK):
        b = min(n, a + CHUNK)
        rows = int(offsets[b] - offsets[a])
        tokens = rng.normal(size=(rows, DIM)).astype(np.float32)
        which = np.repeat(rng.integers(200, size=b - a), lengths[a:b])
        tokens += 0.3 * centres[which]
        data[offsets[a]:offsets[b]] = tokens
    data.flush()
    save_arrays(folder, data, offsets, np.zeros(n, dtype=bool))
    del data
    scratch.unlink()
    return folder


def _memory() -> tuple[int, int]:
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon"):
                fields[key] = int(value.split()[0]) * 1024
    return fields.get("VmRSS", 0), fields.get("RssAnon", 0)


def child(store: str, k: int) -> dict:
    """Run neighbour_collapse on the memory-mapped store; time and watch each phase."""
    import skpool.neighbours as module
    from skpool import TokenSets

    samples: list[tuple[float, int, int]] = []
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            samples.append((time.perf_counter(), *_memory()))
            time.sleep(0.02)

    phases: dict[str, list[float]] = {}

    def timed(name, function):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                phases[name] = [start, time.perf_counter()]
        return wrapper

    module.cloud_factors = timed("factors", module.cloud_factors)
    module._knn = timed("index", module._knn)
    module.paired_components = timed("pairs", module.paired_components)
    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    start = time.perf_counter()
    tokens = TokenSets.load(store, mmap_mode="r")
    report = module.neighbour_collapse(tokens, k, n_jobs=-1)
    total = time.perf_counter() - start
    stop.set()
    thread.join()
    out = {"n_texts": len(tokens), "k": k, "n_pairs": report.record.n_pairs,
           "n_tokens": int(tokens.offsets[-1]), "total_s": total}
    for name, (a, b) in phases.items():
        inside = [s for s in samples if a <= s[0] <= b] or samples[-1:]
        out[name] = {"s": b - a, "peak_rss": max(s[1] for s in inside),
                     "peak_anon": max(s[2] for s in inside)}
    out["peak_rss"] = max(s[1] for s in samples)
    out["peak_anon"] = max(s[2] for s in samples)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--folder", type=Path, default=None,
                        help="where the stores are written (default: a temporary folder)")
    parser.add_argument("--data-limit-gib", type=float, default=None,
                        help="run the measured process under this RLIMIT_DATA (its heap and "
                             "private mappings: the memory it must hold, not the pages of "
                             "the memory-mapped store); past it an allocation fails")
    parser.add_argument("--child", nargs=3, metavar=("STORE", "K", "LIMIT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        store, k, limit = args.child
        if limit != "none":
            import resource

            cap = int(float(limit) * 2**30)
            resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))
        print(json.dumps(child(store, int(k))))
        return
    print(f"uptime: {os.popen('uptime').read().strip()}")
    if args.folder is not None:
        args.folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.folder) as folder:
        for n in args.sizes:
            start = time.perf_counter()
            store = write_store(Path(folder) / f"store-{n}", n)
            written = time.perf_counter() - start
            result = subprocess.run(
                [sys.executable, __file__, "--child", str(store), str(args.k),
                 "none" if args.data_limit_gib is None else str(args.data_limit_gib)],
                check=True, capture_output=True, text=True)
            r = json.loads(result.stdout.strip().splitlines()[-1])
            per_pair = r["pairs"]["s"] / r["n_pairs"]
            all_pairs = n * (n - 1) // 2
            print(f"\nN = {n:,} texts ({r['n_tokens']:,} tokens x {DIM}, float32, store "
                  f"written in {written:.0f} s), k = {args.k}: {r['n_pairs']:,} distinct "
                  "neighbour pairs")
            if args.data_limit_gib is not None:
                print(f"  (measured under RLIMIT_DATA = {args.data_limit_gib:g} GiB)")
            for name in ("factors", "index", "pairs"):
                p = r[name]
                print(f"  {name:8s} {p['s']:8.1f} s   peak RSS {p['peak_rss'] / 2**30:5.2f} GiB"
                      f"   peak anonymous {p['peak_anon'] / 2**30:5.2f} GiB")
            print(f"  total    {r['total_s']:8.1f} s   peak RSS {r['peak_rss'] / 2**30:5.2f} GiB"
                  f"   peak anonymous {r['peak_anon'] / 2**30:5.2f} GiB")
            print(f"  per text {1e3 * r['total_s'] / n:8.3f} ms (index "
                  f"{1e3 * r['index']['s'] / n:.3f} ms, pairs "
                  f"{1e3 * r['pairs']['s'] / n:.3f} ms)")
            print(f"  brute force: {all_pairs:,} pairs at {1e3 * per_pair:.3f} ms per pair "
                  f"= {all_pairs * per_pair / 3600:,.1f} h projected")
            print(f"  {json.dumps(r)}")
    print(f"uptime: {os.popen('uptime').read().strip()}")


if __name__ == "__main__":
    main()
