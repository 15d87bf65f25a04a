"""The one module of skpool that imports torch and transformers.

It loads models (once per process and device), tokenizes, and runs the
forward passes that turn token ids into hidden states. Everything else in
skpool sees NumPy arrays.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import threading
import warnings
import weakref
from dataclasses import dataclass, field

import numpy as np
import torch
import transformers
from transformers import AutoConfig, AutoModel, AutoTokenizer
from transformers.utils import logging as hf_logging

from .._device import check_torch_device
from .sources import ModelSource, default_max_length, position_limit

__all__ = ["Loaded", "Tokenized", "load", "adopt", "clear_loaded", "resolve_device", "tokenize",
           "encode"]

# transformers renamed from_pretrained's torch_dtype to dtype in 4.56.
_DTYPE_KEYWORD = ("dtype" if tuple(int(p) for p in transformers.__version__.split(".")[:2])
                  >= (4, 56) else "torch_dtype")

_LOCK = threading.RLock()
_LOADED: dict[tuple[str, str], "Loaded"] = {}
# A tokenizer's truncation settings live in its (shared) backend; calls with
# different max_length from different threads must not interleave.
_TOKENIZE_LOCK = threading.Lock()


@dataclass(frozen=True)
class Loaded:
    """A model and tokenizer ready for inference, with what skpool needs to know."""

    model: object
    tokenizer: object
    config: object
    n_layers: int
    dim: int
    default_max_length: int
    position_limit: int | None
    device: str
    # Whether hidden states can be taken by hooks on the layer stack (checked
    # against output_hidden_states at load), so a pass stops at the deepest
    # requested layer and keeps only the requested ones.
    stops_early: bool = False
    # False for the user's own object: it may change between calls (training),
    # so its fingerprint is checked again on every use, and it is not hooked.
    owned: bool = True
    # Weights transformers initialised because the checkpoint lacks them
    # (random on each load): left out of the fingerprint.
    missing_keys: frozenset = frozenset()

    def fingerprint(self) -> str:
        """A digest of what the outputs depend on: weights, configuration, tokenizer.

        Not where the model came from: the same weights reached as a folder,
        a hub id or a ``SentenceTransformer`` object give the same digest,
        and any change of a weight, a configuration entry that shapes the
        computation or the tokenizer gives another. Computed once for a model
        skpool loaded itself; for a user's object, again whenever one of its
        tensors was changed since the last time (torch's version counters).
        """
        if self.owned:
            cached = self.__dict__.get("_fingerprint")
            if cached is None:
                cached = _fingerprint(self.model, self.tokenizer, self.config, self.missing_keys)
                object.__setattr__(self, "_fingerprint", cached)
            return cached
        return _fingerprint(self.model, self.tokenizer, self.config, self.missing_keys)


def resolve_device(device: str) -> str:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ... into a checked torch device string."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        # worded like scikit-learn's parameter errors, as TokenEncoder's others are
        raise ValueError(
            "The 'device' parameter of TokenEncoder must be 'auto', 'cpu', 'cuda' or "
            f"'cuda:<index>' (any torch device). Got {device!r} instead."
        ) from None
    return check_torch_device(device, name="device", fallback="device='cpu' or device='auto'")


@contextlib.contextmanager
def _quiet(enabled: bool):
    """Silence transformers' loading bars and info/warning logs while loading."""
    if not enabled:
        yield
        return
    bars = hf_logging.is_progress_bar_enabled()
    verbosity = hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def _n_layers(config) -> int:
    for name in ("num_hidden_layers", "n_layers", "num_layers"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    raise ValueError(
        f"Cannot tell how many layers the model of type {getattr(config, 'model_type', '?')!r} "
        "has (its config has no num_hidden_layers)."
    )


def _dim(config) -> int:
    for name in ("hidden_size", "d_model", "dim"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    raise ValueError("Cannot tell the model's hidden size (its config has no hidden_size).")


# Files from which transformers can build a tokenizer; a folder with none of
# them gets a stand-in tokenizer of the special tokens only.
_TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "merges.txt",
                    "sentencepiece.bpe.model", "spiece.model", "tokenizer.model")
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json",
                 "pytorch_model.bin.index.json")


def _folder_files(source: ModelSource, names) -> list[str]:
    return [] if source.path is None else [n for n in names if (source.path / n).is_file()]


def _check_tokenizer_fits(source: ModelSource, config, tokenizer) -> None:
    """Refuse a tokenizer that cannot be the model's own.

    Without tokenizer files transformers silently builds one of the special
    tokens alone, every word becomes ``[UNK]``, and all texts look alike.
    """
    vocab_size = getattr(config, "vocab_size", None)
    if not isinstance(vocab_size, int) or vocab_size <= 0:
        return
    size = len(tokenizer)
    # Ids beyond the embedding matrix would fail deep inside torch; a
    # tokenizer far smaller than the embedding matrix is not the model's.
    largest_id = max(tokenizer.get_vocab().values(), default=-1)
    if size * 2 >= vocab_size and largest_id < vocab_size:
        return
    message = [
        f"The tokenizer of the model {source.location!r} does not fit its model: transformers "
        f"built a tokenizer of {size} tokens (largest id {largest_id}) for a model whose "
        f"vocabulary (config.json vocab_size) has {vocab_size} entries."
    ]
    if source.path is not None:
        found = _folder_files(source, _TOKENIZER_FILES)
        message.append(f"The folder holds the tokenizer files {found}." if found else
                       f"The folder holds none of the tokenizer files {list(_TOKENIZER_FILES)}.")
        message.append("Copy the model's own tokenizer files (what tokenizer.save_pretrained "
                       "writes) into it.")
    raise ValueError(" ".join(message))


def _shape_mismatches(source: ModelSource, config) -> list[str]:
    """Tensors whose stored shape differs from the one ``config.json`` describes."""
    try:
        from safetensors import safe_open

        stored = {}
        for path in sorted(source.path.glob("*.safetensors")):
            with safe_open(str(path), framework="pt") as handle:
                for name in handle.keys():
                    stored[name] = list(handle.get_slice(name).get_shape())
        with torch.device("meta"):
            described = AutoModel.from_config(config)
        expected = {name: list(t.shape) for name, t in described.state_dict().items()}
    except Exception:  # noqa: BLE001 - only a better message is at stake
        return []
    found = []
    for name, shape in expected.items():
        shape_there = stored.get(name)
        if shape_there is None:  # checkpoints of task heads prefix the base model's names
            shape_there = next((s for key, s in stored.items() if key.endswith("." + name)),
                               None)
        if shape_there is not None and shape_there != shape:
            found.append(f"{name} is {shape_there} in the weights, {shape} by config.json")
    return found


def _weights_error(source: ModelSource, exc: BaseException, config=None) -> ValueError:
    reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
    found = _folder_files(source, _WEIGHT_FILES)
    if found and config is not None and (
            "mismatched_sizes" in str(exc) or "size mismatch" in str(exc)):
        # The weights read fine; config.json describes tensors of other shapes.
        mismatches = _shape_mismatches(source, config)
        shown = "; ".join(mismatches[:3]) + (
            f"; and {len(mismatches) - 3} more" if len(mismatches) > 3 else "")
        sizes = ", ".join(f"{name}={getattr(config, name)}" for name in
                          ("hidden_size", "intermediate_size", "num_attention_heads",
                           "vocab_size", "max_position_embeddings") if hasattr(config, name))
        return ValueError(
            f"The weights of the model folder {source.location!r} do not fit its "
            f"config.json ({sizes}): "
            f"{shown or 'transformers reports tensors of other sizes'}. The weights file "
            f"is readable; config.json was edited or belongs to another model. Restore the "
            f"config.json that came with the weights."
        )
    if not found:
        return ValueError(
            f"Could not read the weights of the model folder {source.location!r}: it holds no "
            f"weights file (one of {list(_WEIGHT_FILES)}). transformers said: {reason}"
        )
    sizes = ", ".join(f"{name} ({(source.path / name).stat().st_size:,} bytes)"
                      for name in found)
    return ValueError(
        f"Could not read the weights of the model folder {source.location!r}: {sizes}; the "
        f"file is probably truncated or corrupt (an interrupted download or copy). Copy it "
        f"again. transformers said: {reason}"
    )


def load(source: ModelSource, device: str, *, quiet: bool = True) -> Loaded:
    """Load (or fetch from the process-wide cache) the model of ``source`` on ``device``.

    Every failure of transformers (missing files, unsupported architecture,
    truncated weights, a config.json that does not fit the weights) becomes
    a ``ValueError`` naming the model folder, and a tokenizer that does not
    fit the model (missing tokenizer files) is refused. Hub ids arrive here
    as their snapshot folder in the local cache (see
    :func:`~skpool.encoder.sources.resolve_model`); objects go through
    :func:`adopt` instead.
    """
    key = (source.key, device)
    with _LOCK:
        loaded = _LOADED.get(key)
        if loaded is not None:
            return loaded
        try:
            with _quiet(quiet):
                config = AutoConfig.from_pretrained(source.location)
                tokenizer = AutoTokenizer.from_pretrained(source.location)
        except (OSError, ValueError, KeyError, ImportError, RuntimeError) as exc:
            reason = " ".join(str(exc).split())[:400]
            raise ValueError(
                f"Could not load the model folder {source.location!r} with transformers: "
                f"{reason}"
            ) from None
        _check_tokenizer_fits(source, config, tokenizer)
        try:
            with _quiet(quiet):
                # float32 whatever the checkpoint stores: results are compared
                # against float32 references and the cache is float32.
                model, info = AutoModel.from_pretrained(
                    source.location, config=config, output_loading_info=True,
                    **{_DTYPE_KEYWORD: torch.float32})
        except Exception as exc:  # noqa: BLE001 - safetensors, pickle, zip errors have no common base
            raise _weights_error(source, exc, config) from None
        model.eval()
        model.to(device)
        n_layers = _n_layers(config)
        tokenizer_limit = getattr(tokenizer, "model_max_length", None)
        stops_early = _install_layer_hooks(model, tokenizer, n_layers, device)
        loaded = Loaded(
            model=model,
            tokenizer=tokenizer,
            config=config,
            n_layers=n_layers,
            dim=_dim(config),
            default_max_length=default_max_length(source, config, tokenizer_limit),
            position_limit=position_limit(config),
            device=device,
            stops_early=stops_early,
            missing_keys=frozenset(info.get("missing_keys") or ()),
        )
        if source.path is not None:
            # the same folder with other files (a model retrained in place): the old
            # weights are not needed again, so they are not kept alive
            for old in [k for k in _LOADED if k[0][:2] == key[0][:2] and k[1] == device]:
                del _LOADED[old]
        _LOADED[key] = loaded
        return loaded


def adopt(source: ModelSource, device: str) -> Loaded:
    """Use the model and tokenizer of an object source as they are (no copy, no move).

    The model runs where it is: ``device="auto"`` means its own device, and
    any other device must be that one (moving it would change the user's
    object). Its training mode is switched to evaluation only while it
    encodes (see :func:`encode`), and no hooks are added to it.
    """
    model, tokenizer = source.model, source.tokenizer
    first = next(model.parameters(), None)
    where = torch.device("cpu") if first is None else first.device
    if device != "auto":
        wanted = torch.device(resolve_device(device))
        if wanted.type != where.type or (wanted.index is not None and wanted.index != (
                where.index if where.index is not None else 0)):
            raise ValueError(
                f"The 'device' parameter of TokenEncoder must be 'auto' or the device the "
                f"model object is on ({str(where)!r}) for {source.name}: skpool uses the "
                f"object as it is and does not move it. Got {device!r} instead; move the "
                f"model first (model.to({device!r})) or pass device='auto'."
            )
    config = model.config
    _check_tokenizer_fits(source, config, tokenizer)
    return Loaded(
        model=model,
        tokenizer=tokenizer,
        config=config,
        n_layers=_n_layers(config),
        dim=_dim(config),
        default_max_length=default_max_length(source, config,
                                              getattr(tokenizer, "model_max_length", None)),
        position_limit=position_limit(config),
        device=str(where),
        stops_early=False,
        owned=False,
    )


# Configuration entries that do not change the hidden states (how the model
# was loaded, what generation or a task head would use): left out of the
# fingerprint, so transformers and sentence-transformers loads of one folder agree.
_CONFIG_NOISE = frozenset({
    "_name_or_path", "transformers_version", "_commit_hash", "torch_dtype", "dtype",
    "architectures", "use_cache", "_attn_implementation", "_attn_implementation_autoset",
    "_attn_implementation_internal", "output_hidden_states", "output_attentions",
    "return_dict", "id2label", "label2id", "tokenizer_class", "finetuning_task",
    "problem_type", "gradient_checkpointing",
})

# For a user's model object: the version counters of its tensors when its
# weights were last digested, and that digest (in-place updates such as an
# optimizer step bump the counters, so a trained object is digested again).
_OBJECT_DIGESTS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _tensor_signature(state: dict) -> tuple:
    return tuple((name, t.data_ptr(), t._version, str(t.dtype), tuple(t.shape), str(t.device))
                 for name, t in state.items())


def _weights_digest(state: dict, missing: frozenset) -> str:
    digest = hashlib.sha256()
    for name in sorted(state):
        if name in missing:
            continue
        tensor = state[name].detach()
        digest.update(f"\0{name}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        flat = tensor.to("cpu").contiguous().reshape(-1)
        if flat.numel():
            digest.update(flat.view(torch.uint8).numpy())
    return digest.hexdigest()


def _tokenizer_digest(tokenizer) -> str:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        text = backend.to_str()
        # Left out: the truncation and padding of the last call, not the
        # tokenizer. The tokenizers library writes them before
        # "added_tokens", so the rest is hashed as it is (re-serializing a
        # large vocabulary would cost tenths of a second per call).
        start = text.find('"added_tokens":')
        if start > 0 and '"truncation":' in text[:start] and '"padding":' in text[:start]:
            return hashlib.sha256(text[start:].encode()).hexdigest()
        spec = json.loads(text)
        spec.pop("truncation", None)
        spec.pop("padding", None)
    else:
        spec = {"class": type(tokenizer).__name__,
                "vocab": sorted(tokenizer.get_vocab().items()),
                "special": list(getattr(tokenizer, "all_special_tokens", [])),
                "lower": getattr(tokenizer, "do_lower_case", None)}
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()


def _fingerprint(model, tokenizer, config, missing: frozenset) -> str:
    state = model.state_dict()
    entry = _OBJECT_DIGESTS.get(model)
    signature = _tensor_signature(state)
    if entry is not None and entry[0] == signature:
        weights = entry[1]
    else:
        weights = _weights_digest(state, missing)
        _OBJECT_DIGESTS[model] = (signature, weights)
    settings = {k: v for k, v in config.to_dict().items() if k not in _CONFIG_NOISE}
    digest = hashlib.sha256()
    digest.update(type(model).__name__.encode())
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    digest.update(_tokenizer_digest(tokenizer).encode())
    digest.update(weights.encode())
    return digest.hexdigest()


class _StopForward(Exception):
    """Raised by a layer hook once the deepest requested hidden state is taken."""


@dataclass
class _Capture:
    """What one forward pass (in one thread) wants from the layer hooks."""

    wanted: frozenset
    stop_at: int | None  # hidden-state index after which the pass stops; None: run to the end
    taken: dict = field(default_factory=dict)


# Per thread and per context: the layer hooks are installed once per model and
# shared by every thread, each of which sees only its own request.
_CAPTURE: contextvars.ContextVar[_Capture | None] = contextvars.ContextVar(
    "skpool_capture", default=None)


def _layer_stack(model, n_layers: int):
    """The ModuleList of the model's transformer layers (the first one of that length)."""
    for module in model.modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == n_layers:
            return module
    return None


def _install_layer_hooks(model, tokenizer, n_layers: int, device: str) -> bool:
    """Hook the layer stack so hidden state ``k`` is taken as it is computed.

    Hidden state 0 is the input of the first layer, hidden state ``k`` the
    output of layer ``k - 1``, exactly what ``output_hidden_states`` returns
    for encoders without a final norm (BERT, MPNet, RoBERTa, ...). A probe
    text checks that equality on this model; where it fails (or no layer
    stack is found) every pass runs in full with ``output_hidden_states``.
    """
    stack = _layer_stack(model, n_layers)
    if stack is None:
        return False

    def take(index, value):
        request = _CAPTURE.get()
        if request is None:
            return
        if index in request.wanted:
            request.taken[index] = value
        if index == request.stop_at:
            raise _StopForward

    def first_input(module, args, kwargs):
        take(0, args[0] if args else kwargs.get("hidden_states"))

    def output_of(index):
        def hook(module, args, output):
            take(index, output[0] if isinstance(output, (tuple, list)) else output)
        return hook

    handles = [stack[0].register_forward_pre_hook(first_input, with_kwargs=True)]
    handles += [layer.register_forward_hook(output_of(k + 1)) for k, layer in enumerate(stack)]
    try:
        probe = tokenizer(["a probe text, to check the hooks: two lines", "short"],
                          padding=True, return_tensors="pt")
        probe = {k: v.to(device) for k, v in probe.items()
                 if k in ("input_ids", "attention_mask", "token_type_ids")}
        with torch.inference_mode():
            full = model(**probe, output_hidden_states=True, return_dict=True).hidden_states
            taken = _run_capturing(model, probe, list(range(n_layers + 1)), n_layers)
        agrees = len(full) == n_layers + 1 and all(
            taken.get(k) is not None and taken[k].shape == full[k].shape
            and torch.allclose(taken[k], full[k], rtol=1e-5, atol=1e-6)
            for k in range(n_layers + 1))
    except Exception:  # noqa: BLE001 - any surprise means: use the plain full pass
        agrees = False
    if not agrees:
        for handle in handles:
            handle.remove()
    return agrees


def _run_capturing(model, inputs: dict, layers: list[int], n_layers: int) -> dict:
    """Hidden states ``layers`` of one forward pass, stopping after the deepest one."""
    deepest = max(layers)
    request = _Capture(frozenset(layers), deepest if deepest < n_layers else None)
    token = _CAPTURE.set(request)
    try:
        model(**inputs, return_dict=True)
    except _StopForward:
        pass
    finally:
        _CAPTURE.reset(token)
    return request.taken


def clear_loaded() -> int:
    """Forget every loaded model; return how many were dropped."""
    with _LOCK:
        count = len(_LOADED)
        _LOADED.clear()
    return count


@dataclass(frozen=True)
class Tokenized:
    """Token ids of a corpus, truncated at ``max_length``.

    Attributes
    ----------
    input_ids : list of list of int
        One sequence per text, special tokens included.
    token_type_ids : list of list of int or None
        Only for models that take them.
    keep : list of ndarray of bool
        For each text, which positions become output tokens.
    truncated : ndarray of bool of shape (n_texts,)
    """

    input_ids: list
    token_type_ids: list | None
    keep: list
    truncated: np.ndarray


def tokenize(tokenizer, texts: list[str], max_length: int, exclude_special: bool) -> Tokenized:
    """Tokenize ``texts`` as sentence-transformers does (``truncation=True``).

    Overflowing windows are requested only to learn which texts were cut:
    the first window of each text is exactly what plain truncation returns.
    """
    wants_types = "token_type_ids" in getattr(tokenizer, "model_input_names", ())
    with _TOKENIZE_LOCK:
        encoded = tokenizer(
            texts,
            truncation=True,
            max_length=max_length,
            return_overflowing_tokens=True,
            return_special_tokens_mask=exclude_special,
            return_attention_mask=False,
            return_token_type_ids=wants_types,
            verbose=False,
        )
    n = len(texts)
    mapping = encoded.get("overflow_to_sample_mapping")
    if mapping is not None:
        mapping = np.asarray(mapping, dtype=np.int64)
        counts = np.bincount(mapping, minlength=n)
        first = np.searchsorted(mapping, np.arange(n), side="left")
        truncated = counts > 1
    else:  # tokenizers that do not report windows: measure without truncation
        with _TOKENIZE_LOCK:
            full = tokenizer(texts, truncation=False, return_attention_mask=False,
                             return_token_type_ids=False, verbose=False)["input_ids"]
        truncated = np.array([len(ids) > max_length for ids in full], dtype=bool)
        first = np.arange(n)
    ids = encoded["input_ids"]
    input_ids = [ids[j] for j in first]
    token_type_ids = None
    if wants_types and "token_type_ids" in encoded:
        types = encoded["token_type_ids"]
        token_type_ids = [types[j] for j in first]
    if exclude_special:
        special = encoded["special_tokens_mask"]
        keep = [np.asarray(special[j], dtype=np.int8) == 0 for j in first]
    else:
        keep = [np.ones(len(seq), dtype=bool) for seq in input_ids]
    return Tokenized(input_ids, token_type_ids, keep, truncated)


# A batch is closed early when the next text is shorter than this share of the
# batch's longest (once it holds a quarter of batch_size): fewer padded positions
# on mixed lengths, batches still large enough to keep the matrix products efficient.
_MIN_FILL = 0.8


def _batches(sorted_lengths: np.ndarray, order: np.ndarray, batch_size: int) -> list:
    """Cut ``order`` (texts longest first) into batches of at most ``batch_size`` texts."""
    smallest = max(1, batch_size // 4)
    batches, start = [], 0
    while start < order.size:
        width = sorted_lengths[start]
        stop = min(start + batch_size, order.size)
        short = np.flatnonzero(sorted_lengths[start + smallest:stop] < _MIN_FILL * width)
        if short.size:
            stop = start + smallest + int(short[0])
        batches.append(order[start:stop])
        start = stop
    return batches


def encode(loaded: Loaded, tokens: Tokenized, layers: list[int], *, batch_size: int,
           progress: bool = False, returned=None,
           sink=None) -> tuple[dict[int, np.ndarray], np.ndarray]:
    """Run the model and gather the kept positions of the requested hidden layers.

    Parameters
    ----------
    loaded : Loaded
    tokens : Tokenized
        Every text keeps at least one position.
    layers : list of int
        Non-negative hidden-state indices (0 = embeddings output,
        ``loaded.n_layers`` = last layer) computed.
    batch_size : int
    progress : bool
    returned : list of int, optional
        The layers gathered into ``data`` (default: all of ``layers``).
    sink : callable, optional
        ``sink(j, rows)`` is called as each batch finishes, for each text ``j``
        (its index in ``tokens``) of the batch, with ``rows`` a dict of layer to
        that text's kept rows (float32) for every computed layer: a cache
        written batch by batch holds every layer without this function
        keeping more than ``returned`` for the whole corpus.

    Returns
    -------
    data : dict of int to ndarray of shape (n_tokens_total, d), float32
        The kept token embeddings of every text, in input order, for the
        ``returned`` layers.
    offsets : ndarray of shape (n_texts + 1,)
    """
    model = loaded.model
    device = torch.device(loaded.device)
    counts = np.fromiter((k.sum() for k in tokens.keep), dtype=np.int64, count=len(tokens.keep))
    offsets = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    returned = layers if returned is None else returned
    data = {layer: np.empty((int(offsets[-1]), loaded.dim), dtype=np.float32)
            for layer in returned}
    # Only the last layer wanted: last_hidden_state, without materialising
    # every intermediate layer. With the layer hooks: only the requested
    # layers, and the pass stops after the deepest of them.
    need_all = layers != [loaded.n_layers] and not loaded.stops_early
    lengths = np.fromiter((len(s) for s in tokens.input_ids), dtype=np.int64,
                          count=len(tokens.input_ids))
    # Longest first (as sentence-transformers): a too-large batch fails at once.
    order = np.argsort(-lengths, kind="stable")
    pad_id = loaded.tokenizer.pad_token_id
    pad_id = 0 if pad_id is None else int(pad_id)
    batches = _batches(lengths[order], order, batch_size)
    # A user's model object may be in training mode (dropout): evaluate it as
    # sentence-transformers' encode does, and give it back as it came.
    training = bool(getattr(model, "training", False))
    if training:
        model.eval()

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(batches), desc="Encoding", unit="batch")
    try:
        with torch.inference_mode():
            for batch in batches:
                width = int(lengths[batch].max())
                ids = np.full((batch.size, width), pad_id, dtype=np.int64)
                mask = np.zeros((batch.size, width), dtype=np.int64)
                keep = np.zeros((batch.size, width), dtype=bool)
                types = None if tokens.token_type_ids is None else np.zeros_like(ids)
                for row, j in enumerate(batch):
                    n = lengths[j]
                    ids[row, :n] = tokens.input_ids[j]
                    mask[row, :n] = 1
                    keep[row, :n] = tokens.keep[j]
                    if types is not None:
                        types[row, :n] = tokens.token_type_ids[j]
                inputs = {
                    "input_ids": torch.from_numpy(ids).to(device),
                    "attention_mask": torch.from_numpy(mask).to(device),
                }
                if types is not None:
                    inputs["token_type_ids"] = torch.from_numpy(types).to(device)
                if loaded.stops_early:
                    hidden_states = _run_capturing(model, inputs, layers, loaded.n_layers)
                else:
                    output = model(**inputs, output_hidden_states=need_all, return_dict=True)
                    hidden_states = (output.hidden_states if need_all
                                     else {loaded.n_layers: output.last_hidden_state})
                    del output
                keep_t = torch.from_numpy(keep).to(device)
                # Where each gathered row goes: the kept rows of the batch's
                # texts, in batch order, map to their texts' slots in input order.
                starts = offsets[batch]
                sizes = counts[batch]
                local = np.zeros(batch.size, dtype=np.int64)
                np.cumsum(sizes[:-1], out=local[1:])
                dest = np.repeat(starts - local, sizes) + np.arange(int(sizes.sum()))
                gathered = {}
                for layer in layers:
                    rows = hidden_states[layer][keep_t].to(dtype=torch.float32).cpu().numpy()
                    if layer in data:
                        data[layer][dest] = rows
                    gathered[layer] = rows
                if sink is not None:
                    for row, j in enumerate(batch):
                        sink(int(j), {layer: rows[local[row]:local[row] + sizes[row]]
                                      for layer, rows in gathered.items()})
                # Free this batch's activations before the next forward pass
                # allocates its own (lower peak memory).
                del hidden_states, rows, gathered, inputs, keep_t
                if bar is not None:
                    bar.update(1)
    finally:
        if training:
            model.train()
        if bar is not None:
            bar.close()
    return data, offsets


def versions() -> dict[str, str]:
    """Versions of the libraries that shape the numbers (for cache keys and reports)."""
    return {"torch": torch.__version__, "transformers": transformers.__version__}
