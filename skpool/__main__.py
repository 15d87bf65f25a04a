"""``python -m skpool``: the same as the ``skpool`` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
