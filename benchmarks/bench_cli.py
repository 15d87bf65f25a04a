"""Wall-clock time and peak memory of the ``skpool`` command with its defaults, as a new user runs it.

Each step runs ``skpool`` in a fresh process (model loading, corpus loading
and Python start-up included) with a new, empty ``$SKPOOL_HOME``, in order:

1. ``skpool report --no-cache``: the default report (all-MiniLM-L6-v2, 200
   Wikipedia film leads, all 19,900 pairs exact) without the embedding cache;
2. ``skpool report``: the same with the cache, empty at first (encodes and
   stores every layer: what ``make demo`` does the first time);
3. ``skpool report`` again: the tokens come from the cache;
4. ``skpool report --plot``: the same, saving the pair scatter (the figure
   draws the pairs the report measured: its time over step 3's is printed,
   goal at most 1.15);
5. ``skpool layers`` and 6. ``skpool ot``: on the same texts, from the cache.

It prints one row per step (seconds and peak resident memory of the process,
best of ``--repeats``; goal for step 3: at most 800 MB), the machine (cores,
load average before and after) and the cache's size, so that the figures
quoted in the README and docs/getting-started.md come from a run:

    python benchmarks/bench_cli.py [--repeats 1] [--n-texts 200] [--steps 2 3 4]

``--steps`` runs only some of the steps (by number; the cache-filling step 2
runs anyway when a later step needs the cache).

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


def timed(args: list[str], env: dict) -> tuple[float, float]:
    """Seconds and peak resident memory (MB, 10^6 bytes) of one ``skpool`` process."""
    with tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        process = subprocess.Popen([*SKPOOL, *args], env=env, stdout=subprocess.DEVNULL,
                                   stderr=err, text=True)
        # wait4: the resource usage of this child alone (getrusage(RUSAGE_CHILDREN)
        # would give the largest of every child so far)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            err.seek(0)
            sys.exit(f"skpool {' '.join(args)} failed:\n{err.read()}")
    # ru_maxrss is in KiB on Linux, in bytes on macOS
    peak = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    return elapsed, peak / 1e6


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1,
                        help="runs of each step; the best is shown (default: 1)")
    parser.add_argument("--n-texts", default="200",
                        help="texts per command (default: 200, the command's default)")
    parser.add_argument("--steps", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6],
                        choices=range(1, 7), metavar="K",
                        help="run only these steps (default: all six)")
    options = parser.parse_args(argv)

    corpus = [] if options.n_texts == "200" else ["--n-texts", options.n_texts]
    home = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    figure = home / "pairs.png"
    steps = [
        ("report --no-cache", ["report", "--no-cache", *corpus]),
        ("report, empty cache", ["report", *corpus]),
        ("report, cached tokens", ["report", *corpus]),
        ("report --plot, cached tokens", ["report", "--plot", str(figure), *corpus]),
        ("layers, cached tokens", ["layers", *corpus]),
        ("ot, cached tokens", ["ot", *corpus]),
    ]
    wanted = set(options.steps) | ({2} if max(options.steps) > 2 else set())
    steps = [step for k, step in enumerate(steps, start=1) if k in wanted]
    print(f"skpool command timings, {datetime.date.today()}, Python "
          f"{platform.python_version()}")
    print(f"machine before: {machine()}")
    times: dict[str, list[float]] = {name: [] for name, _ in steps}
    peaks: dict[str, list[float]] = {name: [] for name, _ in steps}
    try:
        env = dict(os.environ, SKPOOL_HOME=str(home), HF_HUB_OFFLINE="1",
                   TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
        for _ in range(options.repeats):
            shutil.rmtree(home / "tokens", ignore_errors=True)
            for name, args in steps:
                seconds, peak = timed([*args, "--quiet"], env)
                times[name].append(seconds)
                peaks[name].append(peak)
                print(f"  {name:<30} {seconds:7.1f} s {peak:7.0f} MB", flush=True)
        size = subprocess.run([*SKPOOL, "cache", "info", "--json", "-"], env=env,
                              capture_output=True, text=True, check=True).stdout
        summary = json.loads(size)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print(f"machine after:  {machine()}")
    print()
    print(f"| step (skpool ... --quiet, {options.n_texts} texts) | seconds (best of "
          f"{options.repeats}) | peak resident memory (MB, largest) |")
    print("|---|---|---|")
    for name, _ in steps:
        print(f"| `{name}` | {min(times[name]):.1f} | {max(peaks[name]):.0f} |")
    plain, plotted = "report, cached tokens", "report --plot, cached tokens"
    if plain in times and plotted in times:
        print(f"\n--plot costs {min(times[plotted]) / min(times[plain]):.2f}x the cached "
              "report (goal: at most 1.15)")
    mib = summary["n_bytes"] / 2**20
    print(f"\ncache after the run: {summary['n_entries']:,} entries, {mib:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
