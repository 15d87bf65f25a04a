r"""Encoding a corpus in partitions, on many workers, into a token store on disk.

:func:`encode_to_store` cuts the texts into partitions of ``partition_size``
texts; each partition is one joblib task that encodes its texts and writes
them to the store folder (atomically, see :mod:`skpool._store`). The tasks
go wherever joblib sends them, so the cluster is chosen the way scikit-learn
users already choose it::

    from dask.distributed import Client
    from joblib import parallel_config

    with Client("tcp://scheduler:8786"), parallel_config(backend="dask"):
        tokens = encode_to_store(texts, "/shared/tokens", TokenEncoder())

Why joblib's backend and not a ``client=`` argument: it is how every
scikit-learn estimator (``GridSearchCV``, ``cross_val_score``, forests) and
skpool's own SOCM blocks reach a dask cluster, so one ``with`` block sends
the encoding *and* the collapse measurement to the same cluster; outside a
dask context the same call runs on local processes (``n_jobs``) or in this
process, and nothing in skpool needs dask installed.

Each worker process loads the model once: the encoder is shipped without
its weights, and loading goes through the process-wide model cache of
:mod:`skpool.encoder._torch` (keyed by model location and device), so every
later partition on that worker reuses the loaded model. The driver loads the
model too, for its fingerprint (weights, configuration and tokenizer, see
:mod:`skpool.encoder.sources`): the store is keyed by it, and a worker whose
model has another fingerprint (another copy of the folder, files changed
during the run) refuses to write, naming the model and the worker. An
encoder built from a model object cannot run on other processes (the object
is not copied): its workers raise an error asking for a folder.

Faults: a worker that dies mid-partition leaves at most a hidden temporary
folder; the scheduler (dask, or joblib's loky) runs the partition again
elsewhere. A run that is interrupted altogether resumes: calling
:func:`encode_to_store` again with the same arguments encodes only the
partitions that are missing.
"""

from __future__ import annotations

import os
import re
import socket
import warnings
from numbers import Integral

import numpy as np

from .._engine.parallel import joblib_parallel
from .._params import N_JOBS, validate_params
from .._store import DamagedStore, PartitionedStore, texts_digest
from .._validation import check_texts, describe
from ..tokensets import TokenSets
from .encoder import TokenEncoder, TruncationWarning

__all__ = ["encode_to_store", "DEFAULT_PARTITION_SIZE"]

#: Texts per partition: a few seconds of one CPU core for a small model, so a
#: lost worker costs little work, and 10^6 texts make a few thousand tasks.
DEFAULT_PARTITION_SIZE = 256


def _model_identity(encoder: TokenEncoder) -> dict:
    """What the stored embeddings depend on: the model's fingerprint and the settings.

    Loads the model (once per process). Not where the model came from: the
    same weights named as a folder, a bundled name, a hub id or an object
    give the same identity.
    """
    layer = encoder._prepare(None)[0]
    return {
        "fingerprint": encoder._fingerprint(),
        "layer": int(layer),
        "max_length": int(encoder.max_length_),
        "special_tokens": encoder.special_tokens,
    }


def _check_worker_model(encoder: TokenEncoder, store: PartitionedStore, k: int) -> None:
    """Refuse to encode with a model other than the driver's (runs on a worker)."""
    encoder._prepare(None)
    expected = (store.model or {}).get("fingerprint")
    found = encoder._fingerprint()
    if found != expected:
        raise ValueError(
            f"The model {encoder.model_name_!r} loaded on worker {socket.gethostname()} "
            f"(process {os.getpid()}) from {encoder.model_path_ or 'an object'} is not the "
            f"driver's: its fingerprint {found[:16]} differs from the driver's "
            f"{str(expected)[:16]} (its weights, config.json or tokenizer differ: another "
            f"copy or revision of the model, or files changed during the run). Partition {k} "
            f"was not written to the store {str(store.path)!r}. Give every worker the same "
            "model files and run again; finished partitions are kept."
        )


def _encode_partition(encoder: TokenEncoder, store: PartitionedStore, k: int, texts: list):
    """Encode partition ``k`` (runs on a worker) and write it to the store.

    Returns ``(k, n_tokens)``; the embeddings stay on disk.
    """
    _check_worker_model(encoder, store, k)
    try:
        with warnings.catch_warnings():
            # truncation is counted once for the whole corpus by the caller
            warnings.simplefilter("ignore", TruncationWarning)
            tokens = encoder.transform(texts)
    except ValueError as exc:
        # the encoder names texts by their index in the partition: make it the corpus's
        first = int(store.bounds[k])
        message = re.sub(r"\b([Tt]ext) (\d+)\b",
                         lambda m: f"{m.group(1)} {first + int(m.group(2))}", str(exc))
        raise ValueError(
            f"While encoding partition {k} (texts {first} to {first + len(texts) - 1}): "
            f"{message}"
        ) from None
    store.write_part(k, tokens.data, tokens.offsets, tokens.truncated)
    return k, tokens.n_tokens


def _partitions_to_do(store: PartitionedStore) -> list[int] | None:
    """The partitions still to encode, or None if the store is finished.

    The folder is a cache of this encoding (the texts and the model are at
    hand), so a store whose header or arrays cannot be used, or a plan that
    cannot be read, is removed with a warning and encoded again: nothing that
    could be used is lost.
    """
    try:
        if store.complete():
            return None
        return store.open()
    except DamagedStore as exc:
        warnings.warn(f"{exc} It is encoded again.", UserWarning, stacklevel=3)
        store.discard()
        return store.open()


@validate_params({"n_jobs": N_JOBS}, prefer_skip_nested_validation=True)
def encode_to_store(texts, path, encoder=None, *, partition_size=DEFAULT_PARTITION_SIZE,
                    n_jobs=None) -> TokenSets:
    """Encode texts in partitions into a token store on disk; return it memory-mapped.

    Each partition of ``partition_size`` texts is one joblib task: inside
    ``joblib.parallel_config(backend="dask")`` (with a dask ``Client``) the
    partitions run on the dask cluster's workers, which must see ``path``
    (a shared file system); otherwise they run on ``n_jobs`` local processes.
    A run that stops part way resumes where it stopped when called again.

    Parameters
    ----------
    texts : sequence of str of length n_texts
    path : str or os.PathLike
        The store folder: new or empty, or one an earlier call with the same
        texts, model and settings started (it is finished) or finished (it
        is read back, nothing is encoded).
    encoder : TokenEncoder, optional
        Its parameters (model, layer, max_length, special_tokens, device,
        batch_size) are used on every worker. Default ``TokenEncoder()``.
    partition_size : int, default=256
        Texts per task. Resuming needs the value the run started with.
    n_jobs : int, optional
        Partitions encoded at once (joblib's meaning; all of a dask cluster's
        workers inside a dask context).

    Returns
    -------
    TokenSets
        The whole corpus, memory-mapped read-only from ``path``
        (``TokenSets.load(path, mmap_mode="r")``).

    Raises
    ------
    ValueError
        If ``path`` holds a store of other texts, another model or settings or
        another skpool version (stores are never mixed), or is a non-empty
        folder that is not a store; if a text cannot be encoded (the message
        names its index in ``texts``); if ``n_jobs`` is 0.

    Warns
    -----
    TruncationWarning
        When texts were cut at ``max_length`` (counted over the whole corpus).
    UserWarning
        When ``path`` holds a damaged store (an unreadable header or plan,
        arrays that disagree with their header, a finished partition cut
        short): the damaged part is encoded again.

    Examples
    --------
    >>> import tempfile
    >>> from skpool import TokenEncoder
    >>> from skpool.encoder import encode_to_store
    >>> folder = tempfile.mkdtemp()
    >>> tokens = encode_to_store(["A cat sat.", "Dogs bark.", "Birds sing."], folder,
    ...                          TokenEncoder(), partition_size=2)
    >>> len(tokens), tokens.dim
    (3, 384)
    """
    from joblib import delayed
    from sklearn.base import clone

    texts = check_texts(texts)
    if isinstance(path, bool) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"Expected path to be a folder path (str or os.PathLike). "
                        f"Received {describe(path)}.")
    if encoder is None:
        encoder = TokenEncoder()
    elif not isinstance(encoder, TokenEncoder):
        raise TypeError(f"Expected encoder to be a TokenEncoder. Received {describe(encoder)}.")
    if (isinstance(partition_size, bool) or not isinstance(partition_size, Integral)
            or partition_size < 1):
        raise ValueError(
            "Expected partition_size to be a positive int (texts per task). "
            f"Received {describe(partition_size)}."
        )
    progress = bool(encoder.progress)
    # one bar over the partitions here, rather than one per partition on the workers
    encoder = clone(encoder).set_params(progress=False)
    encoder._check_params()
    bounds = np.r_[np.arange(0, len(texts), int(partition_size)), len(texts)]
    store = PartitionedStore(path, model=_model_identity(encoder),
                             texts_sha256=texts_digest(texts), bounds=bounds)
    todo = _partitions_to_do(store)
    if todo is not None:
        if todo:
            done = joblib_parallel(n_jobs=n_jobs, batch_size=1,
                                   return_as="generator_unordered")(
                delayed(_encode_partition)(encoder, store, k,
                                           texts[bounds[k]:bounds[k + 1]])
                for k in todo
            )
            bar = None
            if progress:
                from tqdm.auto import tqdm

                bar = tqdm(total=len(todo), desc="Encoding partitions", unit="partition")
            try:
                for _ in done:
                    if bar is not None:
                        bar.update(1)
            finally:
                if bar is not None:
                    bar.close()
        store.finalize()
    tokens = TokenSets.load(store.path, mmap_mode="r")
    if tokens.n_truncated:
        warnings.warn(
            TruncationWarning(
                f"{tokens.n_truncated} of {len(tokens)} texts were longer than the "
                "encoder's max_length and were truncated (see TokenSets.truncated)."
            ),
            stacklevel=2,
        )
    return tokens
