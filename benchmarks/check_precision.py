"""How far the all-pairs engine's SOCM lies from the one-pair SVD route, on rank-deficient clouds.

    python benchmarks/check_precision.py [--texts 300] [--dim 64] [--neighbours 5]

Clouds of 3-40 tokens in ``--dim`` dimensions (fewer tokens than dimensions,
as in real text: every covariance is rank-deficient), means around a shared
offset. The engine's SOCM of each distinct neighbour pair
(``neighbour_collapse``, the same pair arithmetic as ``mean_socm`` and
``pairwise_socm``) is compared with ``socm_components`` (a float64 SVD of
the pair's cross-Gram matrix, computed independently per pair), for float64
and the default float32 products. Prints the largest absolute difference.
"""

from __future__ import annotations

import argparse

import numpy as np

from skpool import socm_components
from skpool.neighbours import neighbour_collapse


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=300)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--neighbours", type=int, default=5)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(1)
    clouds = [rng.normal(size=(int(rng.integers(3, 40)), args.dim)) * rng.uniform(0.3, 1.5)
              + rng.normal(size=args.dim) * 0.5 for _ in range(args.texts)]
    for precision in ("float64", "float32"):
        report = neighbour_collapse(clouds, n_neighbors=args.neighbours, precision=precision)
        worst = max(abs(report.pair_socm[p]
                        - socm_components(clouds[report.pair_i[p]], clouds[report.pair_j[p]]).socm)
                    for p in range(report.pair_i.size))
        print(f"{precision}: {report.pair_i.size} neighbour pairs of {args.texts} clouds "
              f"(3-39 tokens x {args.dim} dims), max |SOCM - socm_components| = {worst:.2e} "
              f"(largest SOCM {report.pair_socm.max():.4f})")


if __name__ == "__main__":
    main()
