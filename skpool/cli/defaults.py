"""Defaults of the command line that both the parser (help texts) and the commands use.

Only the standard library: the parser imports this before it reads the command line.
"""

#: Texts sampled from a bundled corpus by default (the time of a default report is
#: measured by benchmarks/bench_cli.py and quoted in the README). A user's own file
#: is used whole unless --n-texts is given.
DEFAULT_N_TEXTS = 200
#: ``--n-texts`` not given: the sample above for a bundled corpus, every text of a user's.
N_TEXTS_NOT_GIVEN = "default"
#: Without --pairs, SOCM is exact over all N(N-1)/2 pairs up to this many pairs (about
#: 317 texts; ~80 CPU seconds of pairs with all-MiniLM-L6-v2 at the ~600 pairs per CPU
#: second of docs/scaling.md); beyond it, SAMPLED_PAIRS pairs are drawn with a standard
#: error, which the first line of the output says.
MAX_EXACT_PAIRS = 50_000
SAMPLED_PAIRS = 20_000
