"""The ``skpool`` command line: collapse reports, model comparisons, layer profiles, OT.

``skpool report`` is the main job: encode a corpus with one model and report
its second-order collapse (mean SOCM with its standard error, mean d_mu and
d_Sigma, the texts that break the paper's trace assumption, the token
concentration and the truncations). ``skpool compare`` does it for several
models on the same texts, ``skpool layers`` for every hidden layer of one
model, and ``skpool ot`` compares the Gaussian and exact 2-Wasserstein
distances of token clouds on sampled pairs. ``skpool pairs`` names the pairs
of texts behind the score: those with the highest SOCM, and the near pairs
(highest cosine of the mean-pooled vectors) whose token clouds differ most.

- :mod:`skpool.cli.parser`     the options, each checked as it is parsed
- :mod:`skpool.cli.commands`   the commands, on one shared skeleton
- :mod:`skpool.cli.formatting` the text reports, tables and JSON records

The work is done by :mod:`skpool.analysis` and :mod:`skpool.plotting`; this
package only parses arguments, prints and saves. Errors print one line
``skpool: error: ...`` and exit with status 1 (2 for a malformed command
line); set ``SKPOOL_DEBUG=1`` to see the traceback instead.
"""

from __future__ import annotations

import os
import shlex
import sys
import warnings

from .parser import build_parser

__all__ = ["build_parser", "main"]


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if len(text) > 400:
        text = text[:397] + "..."
    return text


def main(argv=None) -> int:
    """Run the ``skpool`` command line and return its exit status.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 1 on an error (one line ``skpool: error: ...`` on
        stderr), 2 on a malformed command line, 130 when interrupted.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors: argparse has printed
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    # the HTML report prints the command that reproduces it
    args.command_line = shlex.join(["skpool", *(sys.argv[1:] if argv is None else argv)])
    debug = os.environ.get("SKPOOL_DEBUG", "") not in ("", "0")
    try:
        with warnings.catch_warnings():
            # the reports count truncated texts themselves
            warnings.filterwarnings("ignore", message=r".*were truncated")
            return args.func(args)
    except KeyboardInterrupt:
        print("skpool: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        if debug:
            raise
        print("skpool: error: out of memory; use fewer texts (--n-texts) or sample pairs "
              "(--pairs)", file=sys.stderr)
        return 1
    except (ValueError, TypeError, OSError, ImportError, RuntimeError) as exc:
        if debug:
            raise
        print(f"skpool: error: {_one_line(exc)}", file=sys.stderr)
        return 1
