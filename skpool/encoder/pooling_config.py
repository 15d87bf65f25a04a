"""Which pooling a sentence-transformers model was trained with.

A sentence-transformers model folder lists its modules in ``modules.json``;
the ``sentence_transformers.models.Pooling`` module's folder (usually
``1_Pooling``) holds a ``config.json`` of ``pooling_mode_*`` flags. Reading
them needs no torch and no sentence-transformers: only two small JSON files.
A ``SentenceTransformer`` object carries the same choice on its Pooling
module, which is read instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .._validation import describe
from .sources import resolve_model

__all__ = ["ModelPooling", "read_model_pooling", "POOLING_FLAGS", "POOLING_MODE_NAMES"]

#: sentence-transformers' ``pooling_mode_*`` flags and the name skpool gives each mode.
POOLING_FLAGS = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_lasttoken": "last",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len",
    "pooling_mode_weightedmean_tokens": "weightedmean",
}

#: The same modes as newer sentence-transformers write them (``"pooling_mode"``).
POOLING_MODE_NAMES = {
    "cls": "cls",
    "mean": "mean",
    "max": "max",
    "lasttoken": "last",
    "mean_sqrt_len_tokens": "mean_sqrt_len",
    "weightedmean": "weightedmean",
}


def _is_pooling_module(entry) -> bool:
    """``sentence_transformers.models.Pooling`` and its later homes."""
    kind = entry.get("type") if isinstance(entry, dict) else None
    return (isinstance(kind, str) and kind.startswith("sentence_transformers.")
            and kind.rsplit(".", 1)[-1] == "Pooling")


@dataclass(frozen=True)
class ModelPooling:
    """The pooling a model declares.

    Attributes
    ----------
    modes : tuple of str
        The modes switched on, in ``POOLING_FLAGS`` order (sentence-transformers
        concatenates them when there are several): ``"cls"``, ``"mean"``,
        ``"max"``, ``"last"``, ``"mean_sqrt_len"``, ``"weightedmean"``.
    path : pathlib.Path or None
        The ``config.json`` they were read from; ``None`` for a
        ``SentenceTransformer`` object.
    model : str
        The model, as reports name it.
    where : str
        Where the choice was read, for messages: ``"1_Pooling/config.json"``,
        or ``"Pooling module"`` of an object.
    """

    modes: tuple
    path: Path | None
    model: str = ""
    where: str = ""


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(
            f"Expected {str(path)!r} to be a readable JSON file of the model folder. "
            f"Reading it failed: {exc}"
        ) from None


def _pooling_folder(folder: Path) -> Path | None:
    """The Pooling module's folder: from ``modules.json``, else ``1_Pooling``."""
    modules_file = folder / "modules.json"
    if modules_file.is_file():
        modules = _read_json(modules_file)
        if not isinstance(modules, list):
            raise ValueError(
                f"Expected {str(modules_file)!r} to hold a JSON list of modules. "
                f"Received {describe(modules)}."
            )
        for entry in modules:
            if _is_pooling_module(entry):
                return folder / str(entry.get("path", ""))
        return None
    fallback = folder / "1_Pooling"
    return fallback if fallback.is_dir() else None


def _named_modes(value, path: Path) -> list[str]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"Expected pooling_mode in {str(path)!r} to be a mode name or a list "
                         f"of them. Received {describe(value)}.")
    unknown = [n for n in names if n not in POOLING_MODE_NAMES]
    if unknown:
        raise ValueError(f"Expected pooling_mode in {str(path)!r} to name modes among "
                         f"{list(POOLING_MODE_NAMES)}. Received {unknown}.")
    return [POOLING_MODE_NAMES[n] for n in names]


def _object_modes(module) -> list[str]:
    """The modes of a sentence-transformers Pooling module (either generation of it)."""
    value = getattr(module, "pooling_mode", None)
    if value is not None:  # sentence-transformers >= 6: one name or a tuple of names
        names = [value] if isinstance(value, str) else list(value)
        return [POOLING_MODE_NAMES.get(n, n) for n in names]
    return [mode for flag, mode in POOLING_FLAGS.items() if getattr(module, flag, False)]


def read_model_pooling(model, revision=None) -> ModelPooling | None:
    """Read the pooling a sentence-transformers model was trained with.

    Parameters
    ----------
    model : str, os.PathLike, SentenceTransformer or (model, tokenizer)
        Any model source :class:`~skpool.TokenEncoder` takes.
    revision : str, optional
        The revision of a hub id.

    Returns
    -------
    ModelPooling or None
        None when the model declares no pooling (plain Hugging Face weights,
        a folder without a Pooling module, a ``(model, tokenizer)`` pair).

    Raises
    ------
    ValueError
        If the pooling configuration exists but is not valid JSON, or names
        no mode, or its flags are not booleans.

    Examples
    --------
    >>> read_model_pooling("all-MiniLM-L6-v2").modes
    ('mean',)
    """
    source = resolve_model(model, revision)
    if source.path is None:
        if source.pooling_module is None:
            return None
        modes = _object_modes(source.pooling_module)
        if not modes:
            raise ValueError(f"Expected the Pooling module of {source.name} to switch on one "
                             "pooling mode. Received none.")
        return ModelPooling(modes=tuple(modes), path=None, model=source.name,
                            where="Pooling module")
    folder = _pooling_folder(source.path)
    if folder is None or not (folder / "config.json").is_file():
        return None
    path = folder / "config.json"
    config = _read_json(path)
    if not isinstance(config, dict):
        raise ValueError(f"Expected {str(path)!r} to hold a JSON object. Received "
                         f"{describe(config)}.")
    if "pooling_mode" in config:  # newer sentence-transformers: one name or a list
        modes = _named_modes(config["pooling_mode"], path)
    else:  # the pooling_mode_* flags of earlier versions
        modes = []
        for flag, mode in POOLING_FLAGS.items():
            value = config.get(flag, False)
            if not isinstance(value, bool):
                raise ValueError(f"Expected {flag} in {str(path)!r} to be true or false. "
                                 f"Received {describe(value)}.")
            if value:
                modes.append(mode)
    if not modes:
        raise ValueError(f"Expected {str(path)!r} to switch on one pooling mode. "
                         "Received none.")
    return ModelPooling(modes=tuple(modes), path=path, model=source.name,
                        where=f"{path.parent.name}/{path.name}")
