"""Exact W2 (POT, parallel) vs Gaussian W2 (shared cross-Gram code) on all pairs.

The workload of the issue: all pairs of 200 real texts of about 100 tokens
each, d = 384 (all-MiniLM-L6-v2, last layer; Wikipedia film leads encoded
with ``max_length=100``, so most texts are cut to exactly 100 tokens). It
times

- the exact route, ``pairwise_w2(kind="exact", n_jobs=-1)``: one network
  simplex (``ot.emd2``) per pair, pairs spread over all cores;
- the Gaussian route, ``pairwise_w2(kind="gaussian")``: the exact cross-Gram
  Bures distance shared with SOCM, no transport problem;

and prints both times, their ratio, the speed-up of ``n_jobs=2`` over
``n_jobs=1`` for the exact route (on the pairs of the first ``--speedup-texts``
texts, to keep the run short), the median Gaussian/exact ratio and the number
of Gelbrich-bound violations. Worker start-up (loky processes importing POT,
which imports torch) is timed separately as a warm-up.

Without the model or the texts installed it falls back to synthetic clouds of
the same shape and says so.

Run::

    .venv/bin/python benchmarks/bench_ot.py                    # 200 texts, 19,900 pairs
    .venv/bin/python benchmarks/bench_ot.py --n-texts 60       # a quick look
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
from joblib import effective_n_jobs  # noqa: E402

from skpool import TokenSets  # noqa: E402
from skpool.ot import pairwise_w2  # noqa: E402
from skpool.ot._compare import GELBRICH_RTOL  # noqa: E402


def real_tokens(n_texts: int, max_length: int, seed: int):
    from skpool import TokenEncoder
    from skpool.datasets import load_wiki_films

    films = load_wiki_films(n_texts=n_texts, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # truncation to max_length is the point here
        tokens = TokenEncoder(max_length=max_length).fit_transform(films.texts)
    return tokens, (f"{len(tokens)} Wikipedia film leads, all-MiniLM-L6-v2 last layer, "
                    f"max_length={max_length}")


def synthetic_tokens(n_texts: int, n_tokens: int, seed: int):
    # Anisotropic clouds around a shared direction, like contextual embeddings.
    rng = np.random.default_rng(seed)
    d = 384
    common = rng.normal(size=d)
    basis = rng.normal(size=(32, d)) / np.sqrt(32)
    clouds = []
    for _ in range(n_texts):
        n = int(rng.integers(n_tokens // 2, n_tokens + 1))
        topic = rng.normal(size=d) * 0.3
        clouds.append((common + topic + rng.normal(size=(n, 32)) @ basis
                       + 0.2 * rng.normal(size=(n, d))).astype(np.float32))
    return TokenSets.from_arrays(clouds), f"{n_texts} SYNTHETIC clouds (d=384)"


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    value = function(*args, **kwargs)
    return value, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-texts", type=int, default=200)
    parser.add_argument("--max-length", type=int, default=100)
    parser.add_argument("--speedup-texts", type=int, default=60,
                        help="texts whose pairs time n_jobs=1 against n_jobs=2")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--synthetic", action="store_true", help="skip the real model")
    args = parser.parse_args(argv)

    source = "real"
    if args.synthetic:
        tokens, what = synthetic_tokens(args.n_texts, args.max_length, args.seed)
        source = "synthetic (asked for)"
    else:
        try:
            tokens, what = real_tokens(args.n_texts, args.max_length, args.seed)
        except (ImportError, OSError, FileNotFoundError) as exc:
            tokens, what = synthetic_tokens(args.n_texts, args.max_length, args.seed)
            source = f"synthetic FALLBACK (real model or texts unavailable: {exc})"
    n = len(tokens)
    lengths = tokens.lengths
    print(f"data: {what} [{source}]")
    print(f"      tokens per text median {int(np.median(lengths))} (min {lengths.min()}, "
          f"max {lengths.max()}), d = {tokens.dim}, {n * (n - 1) // 2:,} pairs")
    print(f"      {os.cpu_count()} CPUs, n_jobs=-1 uses {effective_n_jobs(-1)}; "
          f"load average before start {os.getloadavg()[0]:.1f}")

    _, warm = timed(pairwise_w2, tokens[:2 * effective_n_jobs(-1) + 1], kind="exact",
                    n_jobs=-1)
    print(f"warm-up (start workers, import POT in them): {warm:.1f} s")

    exact, t_exact = timed(pairwise_w2, tokens, kind="exact", n_jobs=-1)
    gauss, t_gauss = timed(pairwise_w2, tokens, kind="gaussian", n_jobs=-1)
    _, t_gauss_1 = timed(pairwise_w2, tokens, kind="gaussian", n_jobs=1)
    print(f"exact W2, all pairs, POT emd2, n_jobs=-1 : {t_exact:8.2f} s "
          f"({t_exact / (n * (n - 1) / 2) * 1e3:.2f} ms per pair)")
    print(f"Gaussian W2, all pairs, n_jobs=-1        : {t_gauss:8.2f} s "
          f"({t_gauss / (n * (n - 1) / 2) * 1e3:.3f} ms per pair; n_jobs=1: {t_gauss_1:.2f} s)")
    print(f"exact / Gaussian time (both n_jobs=-1)  : {t_exact / t_gauss:8.1f} x")

    m = min(args.speedup_texts, n)
    subset = tokens[:m]
    one, t_one = timed(pairwise_w2, subset, kind="exact", n_jobs=1)
    two, t_two = timed(pairwise_w2, subset, kind="exact", n_jobs=2)
    # Worker processes run BLAS single-threaded: equal up to round-off, not bitwise.
    assert np.allclose(one, two, rtol=1e-12, atol=0)
    print(f"exact, {m * (m - 1) // 2:,} pairs of {m} texts: n_jobs=1 {t_one:.2f} s, "
          f"n_jobs=2 {t_two:.2f} s -> speed-up {t_one / t_two:.2f} x")

    i, j = np.triu_indices(n, k=1)
    duplicates = int(np.sum(exact[i, j] == 0))
    ratio = np.where(exact[i, j] > 0, gauss[i, j] / np.where(exact[i, j] > 0, exact[i, j], 1),
                     1.0)
    traces = np.array([np.sum((X - X.mean(0, dtype=np.float64)) ** 2) / len(X) for X in tokens])
    excess = gauss[i, j] ** 2 - exact[i, j] ** 2
    violations = int(np.sum(excess > GELBRICH_RTOL * (traces[i] + traces[j])))
    print(f"Gaussian / exact W2: median {np.median(ratio):.4f} (min {ratio.min():.4f}, "
          f"max {ratio.max():.4f}); Gelbrich violations {violations}; "
          f"{duplicates} pair(s) of identical texts (W2 = 0, ratio taken as 1)")
    print(f"load average after: {os.getloadavg()[0]:.1f} (timings on a shared machine "
          "are upper bounds)")


if __name__ == "__main__":
    main()
