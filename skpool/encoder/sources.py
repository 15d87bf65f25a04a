"""Where a model comes from: the one place that turns what the user named into a model.

``TokenEncoder(model=...)`` takes five kinds of source; :func:`resolve_model`
is the only function that tells them apart, and everything downstream (the
loader, the default ``max_length``, the pooling a model declares, the token
cache, the token store, dask workers) works from the :class:`ModelSource` it
returns:

=========================  ==================================================
``"bundled"``              a name of :data:`~skpool.encoder.BUNDLED_MODELS`
                           (``"all-MiniLM-L6-v2"``): the folder its registry
                           package installs
``"local"``                a Hugging Face (or sentence-transformers) folder
``"hub"``                  a hub id (``"owner/name"``), with ``revision=``
                           (or ``"owner/name@revision"``),
                           read offline from the local Hugging Face cache
                           (``$HF_HUB_CACHE``): the snapshot folder the
                           revision points to
``"sentence-transformers"``  a ``SentenceTransformer`` object: its
                           Transformer module's model and tokenizer, its
                           ``max_seq_length`` and its Pooling module
``"pair"``                 a ``(transformers model, tokenizer)`` pair
=========================  ==================================================

Objects are used as they are, never copied. The identity of a model (what
the token cache and the token store are keyed by, and what dask workers
check) is not where it came from but a digest of what it computes with: its
weights, its configuration and its tokenizer (see
``skpool.encoder._torch.Loaded.fingerprint``). So the same weights reached
two ways (a folder and a ``SentenceTransformer`` loaded from it) share cache
entries, and different weights never do.

Nothing here imports torch or transformers: resolving a name reads small
JSON files and folder listings, so errors about a bad ``model`` argument come
before any heavy import.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from .._validation import describe
from ._cache import folder_state
from .models import bundled_names, find_bundled

__all__ = ["ModelSource", "ModelReference", "resolve_model", "model_label", "is_model_object",
           "hub_cache_folder", "position_limit", "default_max_length"]

#: What ``model`` may be, for error messages.
EXPECTED = ("a bundled name, a local model folder, a hub id in the local Hugging Face cache, "
            "a SentenceTransformer or a (transformers model, tokenizer) pair")

# sentence-transformers modules after the Transformer that leave its token
# embeddings as they are (they only make or change the sentence embedding).
_SENTENCE_MODULES = frozenset({"Pooling", "Normalize", "Dense"})


@dataclass(frozen=True)
class ModelSource:
    """A resolved ``model`` argument.

    Attributes
    ----------
    kind : {"bundled", "local", "hub", "sentence-transformers", "pair"}
    name : str
        How messages and reports name the model: the name, folder or hub id
        as given (``owner/name@revision`` with a revision), or
        ``"SentenceTransformer(<where it was loaded from>)"`` for an object.
    path : pathlib.Path or None
        The model folder (the snapshot folder for a hub id); ``None`` for
        objects.
    revision : str or None
        The hub revision asked for.
    model : transformers.PreTrainedModel or None
        For objects: the base model that computes the hidden states (the
        user's own object, or a submodule of it).
    tokenizer : transformers.PreTrainedTokenizerBase or None
        For objects: their tokenizer.
    max_seq_length : int or None
        The sentence-transformers ``max_seq_length``, from the folder's
        ``sentence_bert_config.json`` or the object.
    pooling_module : object or None
        A ``SentenceTransformer``'s Pooling module (``None`` otherwise; a
        folder's pooling is read from its files by
        :func:`~skpool.encoder.pooling_config.read_model_pooling`).
    """

    kind: str
    name: str
    path: Path | None
    revision: str | None = None
    model: object = field(default=None, repr=False, compare=False)
    tokenizer: object = field(default=None, repr=False, compare=False)
    max_seq_length: int | None = None
    pooling_module: object = field(default=None, repr=False, compare=False)

    @property
    def is_object(self) -> bool:
        """Whether the model is a live object (nothing to load from disk)."""
        return self.path is None

    @property
    def location(self) -> str:
        """What transformers loads (the folder), or the name of an object source."""
        return self.name if self.path is None else str(self.path)

    @property
    def key(self) -> tuple:
        """What identifies the loaded model within this process.

        A folder is loaded once per process, device and state of its files
        (names, sizes, modification times: a model retrained into the same
        folder is loaded again); an object is its own loaded model (keyed by
        identity, since it is the user's, not a copy).
        """
        if self.path is not None:
            return ("folder", str(self.path), tuple(map(tuple, folder_state(self.path))))
        return ("object", id(self.model), id(self.tokenizer))

    def find_file(self, filename: str) -> Path | None:
        """A file of the model folder, or ``None`` if there is none."""
        if self.path is not None:
            candidate = self.path / filename
            return candidate if candidate.is_file() else None
        return None


def hub_cache_folder() -> Path:
    """The local Hugging Face hub cache: ``$HF_HUB_CACHE``, by default ``~/.cache/huggingface/hub``."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def _download_command(repo_id: str, revision: str | None) -> str:
    return f"hf download {repo_id}" + (f" --revision {revision}" if revision else "")


def _from_hub_cache(repo_id: str, revision: str | None) -> ModelSource:
    """The snapshot folder of ``repo_id`` at ``revision``, from the local cache only."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    cache = hub_cache_folder()
    shown = repo_id + (f"@{revision}" if revision else "")
    try:
        folder = Path(snapshot_download(repo_id, revision=revision, local_files_only=True))
    except HFValidationError:
        raise ValueError(
            f"Could not load model {repo_id!r}: it is neither a bundled name "
            f"({', '.join(repr(n) for n in bundled_names())}), nor an existing local model "
            f"folder, nor a valid hub id (owner/name). Expected {EXPECTED}."
        ) from None
    except (LocalEntryNotFoundError, OSError, ValueError) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise ValueError(
            f"Could not load model {shown!r}: it is neither a bundled name "
            f"({', '.join(repr(n) for n in bundled_names())}), nor an existing local model "
            f"folder, nor in the local Hugging Face cache {str(cache)!r} at revision "
            f"{revision or 'main'!r}. skpool reads hub models offline; download it once with: "
            f"{_download_command(repo_id, revision)} (or pass a local model folder). "
            f"The cache lookup said: {reason}"
        ) from None
    if not (folder / "config.json").is_file():
        raise ValueError(
            f"The model {shown!r} in the local Hugging Face cache ({str(folder)!r}) holds no "
            f"config.json: the download is incomplete. Download it again with: "
            f"{_download_command(repo_id, revision)}"
        )
    return ModelSource("hub", shown, folder.resolve(), revision,
                       max_seq_length=_folder_max_seq_length(folder))


def _folder_max_seq_length(folder: Path) -> int | None:
    """``max_seq_length`` of a sentence-transformers folder (``sentence_bert_config.json``)."""
    config = folder / "sentence_bert_config.json"
    if not config.is_file():
        return None
    try:
        value = json.loads(config.read_text(encoding="utf-8")).get("max_seq_length")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _check_no_revision(revision, what: str) -> None:
    if revision is not None:
        raise ValueError(
            f"Expected revision=None for {what}: a revision selects a version of a hub id "
            f"(owner/name) in the Hugging Face cache. Received revision={revision!r}."
        )


def _torch_module_class():
    """``torch.nn.Module`` if torch is imported (an object of it cannot exist otherwise)."""
    torch = sys.modules.get("torch")
    return None if torch is None else torch.nn.Module


def _is_sentence_transformer(obj) -> bool:
    return any(cls.__name__ == "SentenceTransformer"
               and cls.__module__.startswith("sentence_transformers")
               for cls in type(obj).__mro__)


def _loaded_from(model) -> str:
    """Where a transformers model was loaded from (its config's ``_name_or_path``)."""
    config = getattr(model, "config", None)
    where = getattr(config, "_name_or_path", "") or ""
    return str(where) if where else f"{type(model).__name__} object"


def _from_sentence_transformer(st) -> ModelSource:
    modules = list(st._modules.values())
    first = modules[0] if modules else None
    model = getattr(first, "auto_model", None)
    tokenizer = getattr(first, "tokenizer", None)
    name = f"SentenceTransformer({_loaded_from(model) if model is not None else '?'})"
    if model is None or tokenizer is None:
        raise TypeError(
            f"Expected the SentenceTransformer's first module to be a Transformer module with "
            f"a transformers model and a tokenizer (a text encoder). Received "
            f"{name} whose first module is {type(first).__name__}."
        )
    others = [type(module).__name__ for module in modules[1:]]
    changing = [kind for kind in others if kind not in _SENTENCE_MODULES]
    dense_on_tokens = [module for module in modules[1:] if type(module).__name__ == "Dense"
                       and getattr(module, "module_input_name",
                                   "sentence_embedding") != "sentence_embedding"]
    if changing or dense_on_tokens:
        raise ValueError(
            f"{name} has modules after its Transformer that change the token embeddings "
            f"({changing or ['Dense on token_embeddings']}); skpool reads the Transformer's "
            f"hidden states, which would not be this model's token embeddings. Expected only "
            f"{sorted(_SENTENCE_MODULES)} after the Transformer."
        )
    pooling = next((module for module in modules[1:] if type(module).__name__ == "Pooling"),
                   None)
    limit = getattr(st, "max_seq_length", None)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
        limit = None
    return ModelSource("sentence-transformers", name, None, None,
                       model=getattr(model, "base_model", model), tokenizer=tokenizer,
                       max_seq_length=limit, pooling_module=pooling)


def _is_tokenizer(obj) -> bool:
    return callable(obj) and hasattr(obj, "get_vocab") and hasattr(obj, "pad_token_id")


def _from_pair(pair) -> ModelSource:
    model, tokenizer = pair
    module = _torch_module_class()
    if module is not None and isinstance(tokenizer, module) and _is_tokenizer(model):
        raise TypeError(
            "Expected model=(transformers model, tokenizer), in that order. Received "
            f"({type(model).__name__}, {type(tokenizer).__name__}): swap them."
        )
    if module is None or not isinstance(model, module) or not hasattr(model, "config"):
        raise TypeError(
            "Expected the first item of model=(model, tokenizer) to be a transformers model "
            f"(a torch module with a config). Received {describe(model)}."
        )
    if not _is_tokenizer(tokenizer):
        raise TypeError(
            "Expected the second item of model=(model, tokenizer) to be a transformers "
            f"tokenizer. Received {describe(tokenizer)}."
        )
    base = getattr(model, "base_model", model)
    name = f"{type(model).__name__}({_loaded_from(model)})"
    return ModelSource("pair", name, None, None, model=base, tokenizer=tokenizer)


def resolve_model(model, revision=None) -> ModelSource:
    """Resolve ``model`` to a :class:`ModelSource`, without loading weights.

    An existing folder wins (as in sentence-transformers), then a bundled
    name, then a hub id in the local Hugging Face cache; objects are taken
    as they are.

    Parameters
    ----------
    model : str, os.PathLike, SentenceTransformer or (model, tokenizer)
        See :class:`~skpool.TokenEncoder`.
    revision : str, optional
        A branch, tag or commit of a hub id; only for hub ids.

    Returns
    -------
    ModelSource

    Raises
    ------
    ValueError
        If a folder has no config.json, a name is neither bundled, a folder
        nor a hub id in the local cache (the message names the cache folder
        and the download command), or ``revision`` is given for anything but
        a hub id.
    TypeError
        If ``model`` is none of the accepted kinds (the message describes it
        in a few words, never a whole model's repr).

    Examples
    --------
    >>> resolve_model("all-MiniLM-L6-v2").kind
    'bundled'
    """
    if isinstance(model, (str, os.PathLike)) and not isinstance(model, bool):
        return _from_name(model, revision)
    if isinstance(model, ModelReference):
        raise model.error()
    if _is_sentence_transformer(model):
        _check_no_revision(revision, "a SentenceTransformer object")
        return _from_sentence_transformer(model)
    if isinstance(model, (tuple, list)) and len(model) == 2:
        _check_no_revision(revision, "a (model, tokenizer) pair")
        return _from_pair(model)
    module = _torch_module_class()
    if module is not None and isinstance(model, module) and hasattr(model, "config"):
        raise TypeError(
            f"Expected model to be {EXPECTED}. Received a {type(model).__name__} without its "
            "tokenizer: pass model=(model, tokenizer)."
        )
    raise TypeError(f"Expected model to be {EXPECTED}. Received {describe(model)}.")


def _from_name(model, revision) -> ModelSource:
    text = os.fspath(model)
    if not isinstance(text, str):
        raise TypeError(f"Expected model to be {EXPECTED}. Received {describe(model)}.")
    path = Path(text).expanduser()
    if path.is_dir():
        _check_no_revision(revision, f"the local folder {text!r}")
        path = path.resolve()
        if not (path / "config.json").is_file():
            raise ValueError(
                f"Expected model to be a Hugging Face model folder holding a config.json. "
                f"Received the folder {str(path)!r}, which has no config.json."
            )
        return ModelSource("local", text, path, max_seq_length=_folder_max_seq_length(path))
    if path.exists():
        raise ValueError(
            f"Expected model to be a bundled name, a model folder or a hub id. "
            f"Received {text!r}, which is a file, not a folder."
        )
    entry = find_bundled(text)
    if entry is not None:
        _check_no_revision(revision, f"the bundled model {text!r}")
        folder = entry.path().resolve()
        return ModelSource("bundled", text, folder,
                           max_seq_length=_folder_max_seq_length(folder))
    if "@" in text:  # "owner/name@revision" (hub ids never hold an "@"), as the CLI takes it
        text, _, named = text.rpartition("@")
        if revision is not None and revision != named:
            raise ValueError(
                f"Expected one revision for the hub id {text!r}. Received {named!r} in the "
                f"name and revision={revision!r}."
            )
        revision = named
    return _from_hub_cache(text, revision)


def model_label(model, revision=None) -> str:
    """How reports name a ``model`` argument: the name as given, or a short description.

    Strings and paths are returned as given (``str``); objects as their
    :attr:`ModelSource.name`, never their repr.

    Examples
    --------
    >>> model_label("all-MiniLM-L6-v2")
    'all-MiniLM-L6-v2'
    """
    if isinstance(model, (str, os.PathLike)):
        text = os.fspath(model)
        return f"{text}@{revision}" if revision else str(text)
    if isinstance(model, ModelReference):
        return model.name
    try:
        return resolve_model(model).name
    except (TypeError, ValueError):
        return describe(model)


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

    The sentence-transformers ``max_seq_length`` (of the folder's
    ``sentence_bert_config.json`` or the ``SentenceTransformer`` object) so
    defaults match sentence-transformers, else the tokenizer's
    ``model_max_length``; either is bounded by the position embeddings
    (:func:`position_limit`).

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
    limit = source.max_seq_length
    if limit is None and isinstance(tokenizer_limit, int) and 0 < tokenizer_limit < _NO_LIMIT:
        limit = tokenizer_limit
    if limit is None:
        limit = positions
    elif positions is not None:
        limit = min(limit, positions)
    if limit is None:
        raise ValueError(
            f"The model {source.name!r} declares no sequence limit (no sentence-transformers "
            "max_seq_length, no tokenizer model_max_length, no max_position_embeddings). "
            "Pass max_length explicitly."
        )
    return int(limit)


# ---------------------------------------------------------------------------------------
# Pickling an encoder built from an object: the object travels by reference
# ---------------------------------------------------------------------------------------
# token -> weak references to the object(s) of a model argument, in this process.
_REFERENCES: dict = {}
_TOKENS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class ModelReference:
    """What a pickled encoder holds in place of a model object.

    An in-memory model is never copied by pickling: within the process that
    made it, unpickling gives back the same object (``copy.deepcopy``, joblib
    threads, a dask cluster of threads); anywhere else (another process, a
    dask worker, after the object was deleted) the reference cannot be
    followed, and using the encoder raises a ``ValueError`` that says so.

    Attributes
    ----------
    name : str
        The model's :attr:`ModelSource.name`.
    pid : int
        The process that holds the object.
    token : str
        Its key in that process.
    """

    name: str
    pid: int
    token: str

    @classmethod
    def to(cls, model) -> "ModelReference":
        """A reference to the object(s) of ``model`` (a SentenceTransformer or a pair)."""
        anchor = model[0] if isinstance(model, (tuple, list)) else model
        token = _TOKENS.get(anchor)
        if token is None:
            token = uuid.uuid4().hex
            _TOKENS[anchor] = token
        if isinstance(model, (tuple, list)):
            _REFERENCES[token] = (type(model), tuple(weakref.ref(part) for part in model))
        else:
            _REFERENCES[token] = (None, (weakref.ref(model),))
        return cls(model_label(model), os.getpid(), token)

    def follow(self):
        """The object in this process, or ``self`` when it cannot be reached."""
        if self.pid != os.getpid() or self.token not in _REFERENCES:
            return self
        container, refs = _REFERENCES[self.token]
        parts = [ref() for ref in refs]
        if any(part is None for part in parts):
            return self
        return parts[0] if container is None else container(parts)

    def error(self) -> ValueError:
        return ValueError(
            f"This encoder was built from the in-memory model {self.name} and unpickled "
            f"where that object does not exist (another process, such as a dask worker or a "
            f"joblib process, or after the object was deleted). Model objects travel by "
            f"reference within their own process only, never as copies of their weights. "
            f"Save the model to a folder (SentenceTransformer.save(folder), or "
            f"model.save_pretrained(folder) and tokenizer.save_pretrained(folder)) and pass "
            f"the folder."
        )


def is_model_object(model) -> bool:
    """Whether ``model`` is an object source: a SentenceTransformer or a (model, tokenizer) pair."""
    if _is_sentence_transformer(model):
        return True
    module = _torch_module_class()
    return (isinstance(model, (tuple, list)) and len(model) == 2 and module is not None
            and isinstance(model[0], module))
