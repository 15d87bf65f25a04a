"""Benchmark: SOCM of all pairs, sampled corpus scores and the truncated mode.

Synthetic clouds shaped like real ones (N texts of 64-128 tokens, d = 768):
a strong common direction, a slowly decaying spectrum shared across texts
plus text-specific directions, spread ratio tr(Sigma) between 1 and 4 (real
all-MiniLM-L6-v2 clouds have 2-6, all-mpnet-base-v2 about 1).

Printed, all measured in this run:

- the per-pair route (``socm(A, B)`` one pair at a time, NumPy float64
  SVD), timed on a sample of pairs and extrapolated to all pairs;
- POT's ``ot.gaussian.bures_distance`` on d x d covariances for a few pairs
  (time per pair, how many come back NaN, agreement where finite);
- ``pairwise_socm_components`` on all N(N-1)/2 pairs: wall and CPU time,
  peak memory, ratio to the per-pair route, agreement with it;
- where the time goes, on one block of the engine (products, squares,
  eigenvalues);
- ``mean_socm(n_pairs=20_000)``: time, estimate vs the exact mean;
- the truncated mode (``rank=``): time, achieved error and guaranteed bound.

Run ``python benchmarks/bench_socm.py`` (about 5 minutes on 2 cores) or
``--n-texts 300`` for a quick look. Timings on a shared machine are noisy;
the CPU time is printed beside the wall time.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import tracemalloc

import numpy as np


def synthetic_clouds(n_texts, *, d=768, n_min=64, n_max=128, spread=(1.0, 4.0), latent=256,
                     decay=0.7, seed=0):
    """Token clouds with a common direction and slowly decaying, partly shared spectra."""
    rng = np.random.default_rng(seed)
    latent = min(latent, d)
    common = rng.standard_normal(d)
    common /= np.linalg.norm(common)
    shared, _ = np.linalg.qr(rng.standard_normal((d, latent)))
    sd = np.arange(1, latent + 1, dtype=float) ** (-decay / 2)
    clouds = []
    for _ in range(n_texts):
        n = int(rng.integers(n_min, n_max + 1))
        mean = common + 0.4 * rng.standard_normal(d) / np.sqrt(d)
        basis = (0.8 * shared * np.exp(0.5 * rng.standard_normal(latent))
                 + 0.6 * rng.standard_normal((d, latent)) / np.sqrt(d))
        E = (rng.standard_normal((n, latent)) * sd) @ basis.T
        E -= E.mean(axis=0)
        E *= np.sqrt(rng.uniform(*spread) * (mean @ mean) / (np.sum(E * E) / n))
        clouds.append((mean + E).astype(np.float32))
    return clouds


class Timer:
    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def where_the_time_goes(tokens, n_block):
    """CPU time of the three phases of the engine on one off-diagonal block.

    The block pairs texts of median length (two adjacent runs in length order),
    the typical pair of the all-pairs computation.
    """
    from threadpoolctl import threadpool_limits

    from skpool._engine import bures as pw

    f = pw.cloud_factors(tokens, dtype=np.float32)
    order = pw.length_order(f)
    mid = len(order) // 2
    ia, ib = order[mid - n_block:mid], order[mid:mid + n_block]
    la, lb = int(f.counts[ia].max()), int(f.counts[ib].max())
    pad = f.factors.shape[0] - 1
    times = {"cross-Gram products (float32 GEMM)": 0.0, "squares M M^T (float64)": 0.0,
             "eigenvalues (batched eigvalsh)": 0.0}
    with threadpool_limits(1):
        t = time.process_time()
        A = np.take(f.factors, pw._padded_rows(f.starts[ia], f.counts[ia], la, pad).ravel(), 0)
        B = np.take(f.factors, pw._padded_rows(f.starts[ib], f.counts[ib], lb, pad).ravel(), 0)
        G = (A @ B.T).reshape(n_block, la, n_block, lb)
        times["cross-Gram products (float32 GEMM)"] += time.process_time() - t
        for a0 in range(0, n_block, 4):
            t = time.process_time()
            M = np.ascontiguousarray(G[a0:a0 + 4].transpose(0, 2, 1, 3), dtype=np.float64)
            K = M @ M.swapaxes(-1, -2) if la <= lb else M.swapaxes(-1, -2) @ M
            t2 = time.process_time()
            np.linalg.eigvalsh(K)
            t3 = time.process_time()
            times["squares M M^T (float64)"] += t2 - t
            times["eigenvalues (batched eigvalsh)"] += t3 - t2
    return times, n_block * n_block, la, lb


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-texts", type=int, default=1000)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--n-jobs", type=int, default=-1)
    parser.add_argument("--n-pairs", type=int, default=20_000)
    parser.add_argument("--rank", type=int, nargs="+", default=[32])
    parser.add_argument("--baseline-pairs", type=int, default=60)
    parser.add_argument("--pot-pairs", type=int, default=6)
    parser.add_argument("--default-only", action="store_true",
                        help="only compare the default n_jobs=None with one worker")
    args = parser.parse_args(argv)

    import joblib
    from skpool import TokenSets
    from skpool.metrics import (concentration, mean_socm, pairwise_socm,
                                  pairwise_socm_components, socm, socm_components)

    n = args.n_texts
    total = n * (n - 1) // 2
    workers = joblib.effective_n_jobs(args.n_jobs)
    print(f"# bench_socm: N = {n} texts, d = {args.dim}, n_jobs = {args.n_jobs} "
          f"({workers} workers), {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}")
    with Timer() as t:
        clouds = synthetic_clouds(n, d=args.dim)
        tokens = TokenSets.from_arrays(clouds)
    conc = concentration(tokens)
    print(f"data: {tokens.n_tokens:,} tokens ({tokens.lengths.mean():.1f} per text), "
          f"tr Sigma median {conc.median_spread:.2f} (range {conc.spread.min():.2f}-"
          f"{conc.spread.max():.2f}), {conc.n_trace_violations} texts with tr Sigma > 2; "
          f"generated in {t.wall:.1f} s")

    # The default: n_jobs=None runs one task per core (one BLAS thread each); one
    # worker (the former default) leaves the other cores idle.
    pairwise_socm(clouds[:3])
    with Timer() as t_default:
        pairwise_socm(tokens)
    with Timer() as t_one:
        pairwise_socm(tokens, n_jobs=1)
    print(f"\ndefault parallelism: pairwise_socm(tokens) {t_default.wall:.1f} s wall "
          f"(n_jobs=None, {joblib.effective_n_jobs(-1)} workers) vs n_jobs=1 {t_one.wall:.1f} s: "
          f"{t_one.wall / t_default.wall:.2f}x")
    if args.default_only:
        return

    rng = np.random.default_rng(1)
    pairs = set()
    while len(pairs) < args.baseline_pairs:
        i, j = sorted(rng.choice(n, 2, replace=False).tolist())
        pairs.add((i, j))
    pairs = sorted(pairs)
    with Timer() as t:
        baseline = np.array([socm(clouds[i], clouds[j]) for i, j in pairs])
    per_pair = t.wall / len(pairs)
    print(f"\nper-pair route (socm(A, B), NumPy float64 SVD): {per_pair * 1e3:.2f} ms/pair on "
          f"{len(pairs)} pairs -> all {total:,} pairs ~ {per_pair * total:,.0f} s on 1 core "
          f"(~{per_pair * total / workers:,.0f} s on {workers} if perfectly parallel)")

    try:
        import ot
    except ImportError:
        print("POT not installed: skipping ot.gaussian.bures_distance")
    else:
        def cov(X):
            X = X.astype(np.float64)
            X = X / np.linalg.norm(X.mean(axis=0))
            X = X - X.mean(axis=0)
            return X.T @ X / len(X)

        nan, diffs = 0, []
        with Timer() as t:
            for i, j in pairs[:args.pot_pairs]:
                b = float(ot.gaussian.bures_distance(cov(clouds[i]), cov(clouds[j])))
                if np.isnan(b):
                    nan += 1
                else:
                    diffs.append(abs(b * b - 4 * socm_components(clouds[i], clouds[j]).d_sigma))
        pot = t.wall / args.pot_pairs
        agree = f"; max |B^2 difference| where finite {max(diffs):.1e}" if diffs else ""
        print(f"POT ot.gaussian.bures_distance (d x d covariances, sqrtm): {pot * 1e3:.0f} "
              f"ms/pair -> all pairs ~ {pot * total / 3600:,.1f} h; {nan} of {args.pot_pairs} "
              f"pairs came back NaN (rank-deficient covariances, n < d){agree}")

    pairwise_socm(clouds[:3])  # warm up imports and thread pools
    tracemalloc.start()
    rss = peak_rss_mib()
    with Timer() as t:
        exact = pairwise_socm_components(tokens, n_jobs=args.n_jobs)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    factors_mib = tokens.n_tokens * args.dim * 4 / 2**20
    out_mib = 5 * n * n * 8 / 2**20
    all_time = t.wall
    ours = np.array([exact.socm[i, j] for i, j in pairs])
    print(f"\nexact, all {total:,} pairs: {t.wall:.1f} s wall, {t.cpu:.1f} s CPU "
          f"({total / t.wall:,.0f} pairs/s); {per_pair * total / t.wall:.1f}x faster than the "
          f"per-pair route on 1 core ({per_pair * total / workers / t.wall:.1f}x than on "
          f"{workers}); max |SOCM difference| to it {np.abs(ours - baseline).max():.1e}")
    print(f"  peak traced memory {peak:,.0f} MiB = factors {factors_mib:,.0f} MiB (one float32 "
          f"copy of the tokens) + outputs {out_mib:,.0f} MiB (5 N x N float64) + block "
          f"temporaries (bound: working_memory, 1024 MiB); process peak RSS "
          f"{max(rss, peak_rss_mib()):,.0f} MiB")
    iu = np.triu_indices(n, k=1)
    exact_mean = float(exact.socm[iu].mean())
    over = int(np.count_nonzero(exact.socm[iu] > 1))
    print(f"  mean SOCM {exact_mean:.4f}, mean d_mu {exact.d_mu[iu].mean():.4f}, mean d_sigma "
          f"{exact.d_sigma[iu].mean():.4f}; {over:,} pairs with SOCM > 1 (texts with tr Sigma "
          f"> 2: {exact.n_trace_violations}), reported unclipped")

    times, n_pairs_block, la, lb = where_the_time_goes(tokens, min(48, n // 2))
    spent = sum(times.values())
    print(f"\nwhere the time goes (one block of {n_pairs_block:,} pairs, {la} x {lb} rows, "
          "1 thread, CPU time):")
    for name, value in times.items():
        print(f"  {name:38s} {value / n_pairs_block * 1e6:7.1f} us/pair  "
              f"{100 * value / spent:5.1f} %")
    print(f"  {'total':38s} {spent / n_pairs_block * 1e6:7.1f} us/pair -> all pairs on "
          f"{workers} core(s) ~ {spent / n_pairs_block * total / workers:,.0f} s")

    mean_socm(clouds[:3], n_pairs=2, random_state=0)
    with Timer() as t:
        sampled = mean_socm(tokens, n_pairs=args.n_pairs, random_state=0, n_jobs=args.n_jobs)
    sampled_time = t.wall
    z = (sampled.mean - exact_mean) / sampled.stderr
    print(f"\nmean_socm(n_pairs={args.n_pairs:,}): {t.wall:.2f} s wall, {t.cpu:.2f} s CPU; "
          f"{sampled.mean:.4f} +- {sampled.stderr:.4f} (exact {exact_mean:.4f}, z = {z:+.2f}); "
          f"{per_pair * args.n_pairs / t.wall:.1f}x faster than the per-pair route")
    approx_times = {}

    for rank in args.rank:
        with Timer() as t:
            approx = pairwise_socm_components(tokens, rank=rank, n_jobs=args.n_jobs)
        error = approx.socm - exact.socm
        inside = bool(np.all(error >= -1e-6) and np.all(error <= approx.socm_error + 1e-6))
        print(f"\ntruncated rank={rank}: {t.wall:.1f} s wall, {t.cpu:.1f} s CPU "
              f"({all_time / t.wall:.1f}x faster than exact)")
        print(f"  SOCM error (upper bound minus exact): median {np.median(error[iu]):.4f}, max "
              f"{error[iu].max():.4f}; relative median "
              f"{np.median(error[iu] / np.maximum(exact.socm[iu], 1e-12)):.1%}")
        print(f"  guaranteed bound: median {np.median(approx.socm_error[iu]):.4f}, max "
              f"{approx.socm_error[iu].max():.4f}; exact value inside [value - bound, value] "
              f"for every pair: {'yes' if inside else 'NO'}")
        print(f"  mean SOCM {approx.socm[iu].mean():.4f} (exact {exact_mean:.4f})")
        approx_times[rank] = t.wall

    verdict = lambda ok: "met" if ok else "NOT met"  # noqa: E731
    print(f"\ntargets (N = {n}): all pairs <= 60 s: exact {all_time:.0f} s "
          f"({verdict(all_time <= 60)})"
          + "".join(f", rank={r} {v:.0f} s ({verdict(v <= 60)})" for r, v in approx_times.items())
          + f"; mean_socm(n_pairs={args.n_pairs:,}) <= 5 s: {sampled_time:.1f} s "
          f"({verdict(sampled_time <= 5)})")


if __name__ == "__main__":
    main()
