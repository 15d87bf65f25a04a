"""Wall-clock time of the ``skpool`` command with its defaults, as a new user runs it.

Each step runs ``skpool`` in a fresh process (model loading, corpus loading
and Python start-up included) with a new, empty ``$SKPOOL_HOME``, in order:

1. ``skpool report --no-cache``: the default report (all-MiniLM-L6-v2, 200
   Wikipedia film leads, all 19,900 pairs exact) without the embedding cache;
2. ``skpool report``: the same with the cache, empty at first (encodes and
   stores every layer: what ``make demo`` does the first time);
3. ``skpool report`` again: the tokens come from the cache;
4. ``skpool layers`` and 5. ``skpool ot``: on the same texts, from the cache.

It prints one row per step (seconds, best of ``--repeats``), the machine
(cores, load average before and after) and the cache's size, so that the
figures quoted in the README and docs/getting-started.md come from a run:

    python benchmarks/bench_cli.py [--repeats 1] [--n-texts 200]

On 2 CPU cores the whole run takes several minutes.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SKPOOL = [sys.executable, "-m", "skpool"]


def machine() -> str:
    cores = os.cpu_count()
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{platform.system()} {platform.machine()}, {cores} cores, load average {load}"


def timed(args: list[str], env: dict) -> float:
    start = time.perf_counter()
    done = subprocess.run([*SKPOOL, *args], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"skpool {' '.join(args)} failed:\n{done.stderr}")
    return elapsed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1,
                        help="runs of each step; the best is shown (default: 1)")
    parser.add_argument("--n-texts", default="200",
                        help="texts per command (default: 200, the command's default)")
    options = parser.parse_args(argv)

    corpus = [] if options.n_texts == "200" else ["--n-texts", options.n_texts]
    steps = [
        ("report --no-cache", ["report", "--no-cache", *corpus]),
        ("report, empty cache", ["report", *corpus]),
        ("report, cached tokens", ["report", *corpus]),
        ("layers, cached tokens", ["layers", *corpus]),
        ("ot, cached tokens", ["ot", *corpus]),
    ]
    print(f"skpool command timings, {datetime.date.today()}, Python "
          f"{platform.python_version()}")
    print(f"machine before: {machine()}")
    times: dict[str, list[float]] = {name: [] for name, _ in steps}
    home = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    try:
        env = dict(os.environ, SKPOOL_HOME=str(home), HF_HUB_OFFLINE="1",
                   TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
        for _ in range(options.repeats):
            shutil.rmtree(home / "tokens", ignore_errors=True)
            for name, args in steps:
                times[name].append(timed([*args, "--quiet"], env))
                print(f"  {name:<24} {times[name][-1]:7.1f} s", flush=True)
        size = subprocess.run([*SKPOOL, "cache", "info", "--json", "-"], env=env,
                              capture_output=True, text=True, check=True).stdout
        summary = json.loads(size)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print(f"machine after:  {machine()}")
    print()
    print(f"| step (skpool ... --quiet, {options.n_texts} texts) | seconds (best of "
          f"{options.repeats}) |")
    print("|---|---|")
    for name, _ in steps:
        print(f"| `{name}` | {min(times[name]):.1f} |")
    mib = summary["n_bytes"] / 2**20
    print(f"\ncache after the run: {summary['n_entries']:,} entries, {mib:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
