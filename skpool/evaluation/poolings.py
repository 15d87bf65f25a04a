"""The pooling options :func:`~skpool.evaluation.evaluate` scores, by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..encoder.pooling_config import read_model_pooling
from ..pooling import CLSPooler, GaussianPooler, LastTokenPooler, MaxPooler, MeanPooler
from .tasks import Task

__all__ = ["Pooling", "POOLINGS", "DEFAULT_POOLINGS"]


@dataclass(frozen=True)
class Pooling:
    """How one pooling option turns token clouds into features or similarities.

    ``kind`` is ``"vector"`` (one vector per text: classification features,
    cosine similarity), ``"features"`` (a feature table: classification only)
    or ``"distance"`` (:math:`-W_2` between clouds: similarity only).
    """

    name: str
    kind: str
    make: Callable | None = None
    w2: str | None = None

    def applies_to(self, task: Task) -> bool:
        if self.kind == "features":
            return task.kind == "classification"
        if self.kind == "distance":
            return task.kind == "similarity"
        return True

    def resolve(self, label: str, encoder) -> str:
        """The name of the pooling this option runs for ``encoder``.

        Itself, except ``"model"``: the pooling the model declares (its
        sentence-transformers configuration), which must be one of
        ``mean``, ``cls``, ``max`` or ``last``.
        """
        if self.name != "model":
            return self.name
        declared = read_model_pooling(encoder.model, getattr(encoder, "revision", None))
        if declared is None or len(declared.modes) != 1 or declared.modes[0] not in _MODE_POOLING:
            found = "none" if declared is None else list(declared.modes)
            raise ValueError(f"pooling 'model' needs a model that declares one of "
                             f"{list(_MODE_POOLING)} pooling; {label!r} declares {found}.")
        return _MODE_POOLING[declared.modes[0]]


#: Pooling options by name. ``"model"`` is the model's own (resolved per model).
POOLINGS: dict[str, Pooling] = {
    "mean": Pooling("mean", "vector", MeanPooler),
    "cls": Pooling("cls", "vector", CLSPooler),
    "max": Pooling("max", "vector", MaxPooler),
    "last": Pooling("last", "vector", LastTokenPooler),
    "model": Pooling("model", "vector"),
    "gaussian-diag": Pooling("gaussian-diag", "features",
                             lambda: GaussianPooler(covariance="diag")),
    "gaussian-projected": Pooling("gaussian-projected", "features",
                                  lambda: GaussianPooler(covariance="projected", n_components=16)),
    "w2-gaussian": Pooling("w2-gaussian", "distance", w2="gaussian"),
    "w2-exact": Pooling("w2-exact", "distance", w2="exact"),
}
_MODE_POOLING = {"mean": "mean", "cls": "cls", "max": "max", "last": "last"}

DEFAULT_POOLINGS = ("mean", "cls", "max", "gaussian-diag", "gaussian-projected",
                    "w2-gaussian", "w2-exact")
