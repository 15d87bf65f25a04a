"""Where a warning points: the user's line, not skpool's, scikit-learn's or joblib's (private)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import joblib
import sklearn

__all__ = ["user_frame", "user_stacklevel"]


# Frames inside these packages are skipped when a warning is attributed: it
# points at the user's line, not at a pipeline step or scikit-learn's wrappers.
_LIBRARY_FOLDERS = tuple(
    str(Path(module.__file__).resolve().parent) + os.sep
    for module in (sys.modules[__name__.split(".")[0]], sklearn, joblib)
)


def user_frame(depth: int):
    """The first frame outside skpool, scikit-learn and joblib, and its ``stacklevel``.

    ``depth`` 1 counts from the function that calls this one (stacklevel 1
    for its ``warnings.warn``), 2 from that function's caller.
    """
    frame, level = sys._getframe(depth), 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_LIBRARY_FOLDERS):
        frame, level = frame.f_back, level + 1
    return frame, level


def user_stacklevel() -> int:
    """The ``stacklevel`` that makes the caller's ``warnings.warn`` point at user code."""
    return user_frame(depth=2)[1]
