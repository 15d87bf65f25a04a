"""``skpool --help`` and usage errors read the command line before the measuring stack.

Each case runs ``python -X importtime -m skpool ...`` in a fresh interpreter and
reads every module it imported from the timing lines on stderr.
"""

import os
import subprocess
import sys

import pytest

#: What ``--help`` and a usage error must not import (top-level package names).
HEAVY = {"torch", "transformers", "sklearn", "scipy", "matplotlib", "pandas", "dask",
         "distributed", "ot"}


def _imported(*argv):
    """Exit status, stderr without the timing lines, and the top-level modules imported."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "skpool", *argv],
                          capture_output=True, text=True, env=env, timeout=120)
    modules, other = set(), []
    for line in done.stderr.splitlines():
        if line.startswith("import time:"):
            name = line.rsplit("|", 1)[-1].strip()
            modules.add(name.split(".")[0])
        else:
            other.append(line)
    return done.returncode, "\n".join(other), modules


@pytest.mark.parametrize("argv, code", [
    (["--help"], 0),
    (["evaluate", "--help"], 0),
    (["report", "--n-texts", "1"], 2),
    (["evaluate", "--pooling", "junk"], 2),
    (["report", "--cache", "somewhere", "--no-cache"], 2),
    (["frobnicate"], 2),
])
def test_help_and_usage_errors_import_no_heavy_package(argv, code):
    rc, stderr, modules = _imported(*argv)
    assert rc == code, stderr
    # the timing lines were read: the package itself and NumPy are among them
    assert {"skpool", "argparse"} <= modules
    assert not modules & HEAVY, f"skpool {' '.join(argv)} imported {sorted(modules & HEAVY)}"
    if code == 2:
        assert "skpool" in stderr and "error:" in stderr


def test_parser_names_agree_with_the_evaluation_registries():
    from skpool.cli.parser import POOLING_NAMES, TASK_NAMES
    from skpool.evaluation import POOLINGS, TASKS

    assert tuple(TASKS) == TASK_NAMES
    assert tuple(POOLINGS) == POOLING_NAMES
