"""Progress bars on stderr for skpool's slow steps, or nothing (private).

Every public function with a slow step takes ``progress`` (a bool, False by
default: a library call prints nothing unless asked); the ``skpool`` command
passes True unless ``--quiet``. The bars are tqdm's, on stderr.

:func:`progress_bar` gives a tqdm bar or a silent stand-in with the same
methods, so the computing code never branches on ``progress``.
:func:`skpool._engine.parallel.parallel_map` runs joblib tasks and advances a
bar as each task's result comes back.
"""

from __future__ import annotations

import numpy as np

from ._validation import describe

__all__ = ["SilentBar", "check_progress", "progress_bar"]


class SilentBar:
    """What :func:`progress_bar` returns when nothing is shown."""

    def update(self, n=1) -> None:
        pass

    def set_postfix_str(self, text: str = "", refresh: bool = True) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> bool:
        return False


def check_progress(progress, *, name: str = "progress") -> bool:
    """Return ``progress`` as a bool, or raise a TypeError naming the parameter."""
    if isinstance(progress, (bool, np.bool_)):
        return bool(progress)
    raise TypeError(f"Expected {name} to be True or False. Received {describe(progress)}.")


def progress_bar(show: bool, *, total: int | None, desc: str, unit: str = "it",
                 unit_scale: bool = False, leave: bool = True):
    """A tqdm bar on stderr when ``show``, otherwise a silent stand-in.

    Parameters
    ----------
    show : bool
    total : int or None
        Units of work (None: unknown, the bar counts without a percentage).
    desc : str
        What is being done, e.g. ``"SOCM (all pairs)"``.
    unit : str, default="it"
        The unit counted; tqdm shows its rate as ``<unit>/s``.
    unit_scale : bool, default=False
        Abbreviate large counts and rates (``12.3k pair/s``).
    leave : bool, default=True
        Keep the finished bar on screen (False for bars nested in a loop).

    Returns
    -------
    tqdm.tqdm or a silent object with ``update``, ``set_postfix_str`` and ``close``
    """
    if not show:
        return SilentBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, unit_scale=unit_scale, leave=leave,
                dynamic_ncols=True)
