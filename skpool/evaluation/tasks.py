"""The downstream tasks :func:`~skpool.evaluation.evaluate` runs, by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..datasets import load_bbc_news, load_lee50, load_rotten_tomatoes

__all__ = ["Task", "TASKS"]


@dataclass(frozen=True)
class Task:
    """A downstream task: its kind, metric and loader."""

    name: str
    kind: str       # "classification" or "similarity"
    metric: str     # "accuracy" or "spearman"
    load: Callable


#: Downstream tasks by name (as ``skpool evaluate --dataset`` takes them).
TASKS: dict[str, Task] = {
    "bbc-news": Task("bbc-news", "classification", "accuracy", load_bbc_news),
    "rotten-tomatoes": Task("rotten-tomatoes", "classification", "accuracy",
                            load_rotten_tomatoes),
    "lee-50": Task("lee-50", "similarity", "spearman", load_lee50),
}
