"""The driver of :func:`~skpool.evaluation.evaluate`: encode once, score every layer and pooling."""

from __future__ import annotations

import hashlib
import math
import numbers
import os
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold
from sklearn.utils import check_random_state

from .._engine.sampling import fixed_seed
from .._progress import check_progress, progress_bar
from .._validation import check_positive_int, describe
from ..encoder import TokenEncoder, TruncationWarning
from ..encoder.sources import is_model_object, model_label
from .._measure import encode_layers, measure_corpus, record_labels
from ..metrics import matched_mean_socm
from ..ot import pairwise_w2
from ..pooling import MeanPooler
from ._correlations import socm_score_correlations
from ._interventions import check_conditions, needs_study, study_layer
from ._journal import Journal, entry_key
from ._neighbours import neighbour_socm
from ._records import Evaluation, EvaluationRecord, TextDiagnostic
from ._scores import (UndefinedScore, cosines, cross_validate, default_classifier,
                      similarity_score)
from ._stats import error_by_quintile
from .poolings import DEFAULT_POOLINGS, POOLINGS
from .tasks import TASKS, Task


def _check_models(models) -> list[tuple[str, TokenEncoder]]:
    """``(label, encoder)`` pairs from names, folders, encoders or a label mapping."""
    if isinstance(models, (str, os.PathLike, TokenEncoder)) or is_model_object(models):
        models = [models]
    items = list(models.items()) if isinstance(models, Mapping) else [
        (None, model) for model in models]
    if not items:
        raise ValueError("Expected at least one model. Received none.")
    out = []
    for label, model in items:
        if isinstance(model, TokenEncoder):
            encoder = clone(model)
        elif isinstance(model, (str, os.PathLike)) or is_model_object(model):
            encoder = TokenEncoder(model=model)
        else:
            raise TypeError(f"Expected each model to be a model name, a folder, a "
                            f"SentenceTransformer, a (model, tokenizer) pair or a "
                            f"TokenEncoder. Received {describe(model)}.")
        out.append((str(label) if label is not None
                    else model_label(encoder.model, encoder.revision), encoder))
    labels = [label for label, _ in out]
    if len(set(labels)) != len(labels):
        raise ValueError(f"Expected distinct model names. Received {labels}.")
    return out


def _check_names(values, registry, *, name: str) -> list[str]:
    if isinstance(values, str):
        values = [values]
    values = list(values)
    unknown = [v for v in values if v not in registry]
    if not values or unknown:
        raise ValueError(f"Expected {name} among {list(registry)}. Received {values}.")
    return list(dict.fromkeys(values))


def _resolve_layers(layers, n_layers: int, label: str) -> list[int]:
    """Non-negative, sorted, distinct hidden-state indices of a model with ``n_layers``."""
    if layers is None:
        return list(range(n_layers + 1))
    for layer in layers:
        if isinstance(layer, bool) or not isinstance(layer, numbers.Integral):
            raise TypeError(f"Expected layers to be ints. Received {describe(layer)}.")
        if not -(n_layers + 1) <= layer <= n_layers:
            raise ValueError(
                f"Expected layers in [{-(n_layers + 1)}, {n_layers}] for {label!r} ({n_layers} "
                f"layers, so {n_layers + 1} hidden states). Received {layer}."
            )
    return sorted({int(layer) % (n_layers + 1) for layer in layers})


def evaluate(models="all-MiniLM-L6-v2", tasks=("bbc-news", "rotten-tomatoes", "lee-50"), *,
             layers=None, poolings=DEFAULT_POOLINGS, n_texts=300, max_length=None,
             n_pairs=1000, n_folds=5, classifier=None, n_bootstrap=1000, random_state=0,
             cache=None, n_jobs=None, progress=False, journal=None, baselines=(),
             interventions=None, store=None, partition_size=None) -> Evaluation:
    r"""Collapse against downstream scores for each model, layer, pooling and task.

    Each model encodes the texts of all tasks once, every requested layer
    from the same forward pass, into the token cache (``cache``, or a
    temporary folder removed at the end); each layer is then read back from
    the cache, so one encoding serves every task and pooling. For each layer
    and task it measures the mean SOCM of the task's texts (``n_pairs``
    sampled pairs, the same pairs at every layer), the concentration-matched
    SOCM on the same pairs, the concentration, and the score of each pooling:

    - classification tasks: stratified ``n_folds``-fold accuracy of the pooler
      followed by ``classifier`` (default ``StandardScaler ->
      LogisticRegression(max_iter=2000)``), the pooler fitted on each
      training fold; ``score_std`` is the standard deviation over folds;
    - similarity tasks (Lee-50): Spearman correlation with the human scores
      of the cosine of pooled vectors, or of :math:`-W_2` between the
      mean-normalized clouds (``"w2-gaussian"``, ``"w2-exact"``);
      ``score_std`` is its bootstrap standard deviation over pairs.

    At each model's last evaluated layer, the cost of mean pooling: each
    requested distributional pooling against mean pooling on the same folds
    or pairs, with a paired interval (:class:`PoolingCost`).

    Then the correlations of collapse and score (:func:`socm_score_correlations`)
    and, for each model and classification task at its last evaluated layer,
    the error rate of the first pooling by quintile of the text's spread and of its mean
    SOCM to its 5 nearest texts by mean pooling (:func:`error_by_quintile`).

    Parameters
    ----------
    models : str, path, TokenEncoder, sequence of them, or dict of name to them
        Bundled names, model folders or configured encoders (their ``layer``
        is ignored). A dict names the models in the records.
    tasks : sequence of str or Task, default=("bbc-news", "rotten-tomatoes", "lee-50")
        Names of :data:`TASKS` and tasks built from your own data
        (:meth:`Task.from_data`), mixed as you like; distinct names.
    layers : sequence of int or None, default=None
        Hidden-state indices (negative count from the end) for every model;
        None: all of them, ``0 .. n_layers``.
    poolings : sequence of str, default=DEFAULT_POOLINGS
        Names of :data:`POOLINGS`; each is run on the tasks it applies to
        (``settings["not_run"]`` of the result names the tasks a pooling
        skipped); a task that none of them applies to is an error.
    n_texts : int or None, default=300
        Texts sampled (stratified) from each classification corpus; the
        similarity task keeps all its documents unless fewer are asked for.
    max_length : int or None, default=None
        Passed to every encoder built from a name (the model's own limit
        when None); an encoder given as such keeps its own.
    n_pairs : int or None, default=1000
        SOCM pairs per task and layer (None: all pairs, exact).
    n_folds : int, default=5
    classifier : estimator or None
    n_bootstrap : int, default=1000
        Resamples for the similarity ``score_std`` and the correlation intervals.
    random_state : int, RandomState instance or None, default=0
        One seed for the samples of texts and pairs, the folds and the bootstraps.
    cache : str, path or None
        Token-cache folder to keep (and reuse in later runs); None: a
        temporary one. An encoder given with its own ``cache`` keeps it.
    n_jobs : int or None
        Workers for SOCM and exact :math:`W_2` (docs/glossary.md, ``n_jobs``).
    progress : bool, default=False
        Show a progress bar per model over its layers and tasks (on stderr).
    journal : str, path or None, default=None
        A JSON-lines file that keeps each finished (model, layer, task,
        pooling) result as soon as it is computed. Results already there,
        computed from the same settings, model, texts, layer and pooling, are
        taken instead of being computed again: a run that failed or was
        killed resumes where it stopped. The model is known by the SHA-256
        of its weights, configuration and tokenizer, not by its name or
        folder: a model retrained in place is computed again. The pooling
        costs and interventions are not kept there: a resumed run computes
        them again.
    store : str, path or None, default=None
        Encode into token stores instead of the token cache: the texts of
        all tasks into the folder ``store/model-K/layer-L`` for the K-th model
        (from 0) and each hidden layer ``L`` still to score (a store holds one
        model at one layer), with :func:`~skpool.encoder.encode_to_store`: on
        a dask cluster inside ``joblib.parallel_config(backend="dask")``,
        each store resumed when run again. One encoding pass per layer
        instead of one for all.
    partition_size : int, optional
        Texts per encoding task with ``store`` (default: that of
        :func:`~skpool.encoder.encode_to_store`).
    baselines : sequence of str, default=()
        Names of models (as in the records) that are baselines, not trained
        encoders -- e.g. a random-weights architecture: left out of the
        ``"trained"``, ``"trained-no-embedding"`` and ``"last-layer"``
        correlation groups (:func:`socm_score_correlations`).
    interventions : sequence of str, optional
        Conditions of the interventional control at each model's last layer:
        ``"rescale:F[,F...]"`` (:func:`~skpool.analysis.rescale_spread` by
        each factor) and ``"swap"`` (:func:`~skpool.analysis.swap_spread`).
        Each gives an :class:`InterventionRecord` per task beside the
        ``"none"`` condition, and its pooling cost.

    Returns
    -------
    Evaluation
        A score that does not exist (e.g. CLS pooling at the embedding layer
        gives every text the same vector, so every pair the same cosine and
        no Spearman correlation) is NaN in its record, with the reason in
        the record's ``note``; ``to_dict`` writes it as None.

    Examples
    --------
    >>> from skpool.evaluation import evaluate
    >>> result = evaluate("all-MiniLM-L6-v2", ["lee-50"], layers=[-1], poolings=["mean"],
    ...                   n_texts=8, n_pairs=20, n_bootstrap=50)
    >>> record = result.records[0]
    >>> record.task, record.metric, record.layer, record.n_texts
    ('lee-50', 'spearman', 6, 8)
    """
    model_list = _check_models(models)
    conditions = check_conditions(interventions)
    baselines = [baselines] if isinstance(baselines, str) else list(baselines)
    unknown = [b for b in baselines if b not in {label for label, _ in model_list}]
    if unknown:
        raise ValueError(f"Expected baselines among the models {[m for m, _ in model_list]}. "
                         f"Received {unknown}.")
    task_list = _check_tasks(tasks)
    pooling_names = _check_names(poolings, POOLINGS, name="poolings")
    n_texts = check_positive_int(n_texts, name="n_texts", minimum=5, allow_none=True)
    n_pairs = check_positive_int(n_pairs, name="n_pairs", allow_none=True)
    n_folds = check_positive_int(n_folds, name="n_folds", minimum=2)
    n_bootstrap = check_positive_int(n_bootstrap, name="n_bootstrap", minimum=2)
    if layers is not None:
        if isinstance(layers, (numbers.Integral, str)):
            layers = [layers]
        layers = list(layers)
        if not layers:
            raise ValueError("Expected layers to name at least one layer. Received none.")
    if classifier is None:
        classifier = default_classifier()
    elif not (hasattr(classifier, "fit") and hasattr(classifier, "predict")):
        raise TypeError(f"Expected classifier to be a scikit-learn classifier (fit and "
                        f"predict). Received {describe(classifier)}.")
    not_run = _check_applicable(pooling_names, task_list)
    seed = fixed_seed(random_state)
    progress = check_progress(progress)
    if journal is not None and not isinstance(journal, Journal):
        journal = Journal(journal)

    data = {}
    for task in task_list:
        data[task.name] = task.load(n_texts=n_texts, random_state=seed)
        if task.kind == "classification":
            _check_folds(task.name, data[task.name], n_folds, n_texts)
    all_texts = list(dict.fromkeys(t for task in task_list for t in data[task.name].texts))
    settings = {"tasks": [task.name for task in task_list], "poolings": pooling_names,
                "n_texts": n_texts, "n_pairs": n_pairs, "n_folds": n_folds,
                "n_bootstrap": n_bootstrap, "random_state": seed, "max_length": max_length,
                "not_run": not_run, "baselines": baselines,
                "interventions": [name for name, _, _ in conditions]}
    # What a result depends on besides its model, task, layer and pooling.
    shaping = {k: settings[k] for k in ("n_texts", "n_pairs", "n_folds", "n_bootstrap",
                                        "random_state")}
    shaping["classifier"] = repr(classifier)
    task_ids = {task.name: _data_fingerprint(data[task.name]) for task in task_list}

    records, diagnostics, last_layers, costs, controls = [], [], {}, [], []
    with tempfile.TemporaryDirectory(prefix="skpool-evaluate-") as scratch:
        for k, (label, base) in enumerate(model_list):
            params = {"cache": base.cache if base.cache is not None else (cache or scratch)}
            if max_length is not None and base.max_length is None:
                params["max_length"] = max_length
            encoder = clone(base).set_params(**params)
            encoder.fit()
            resolved = _resolve_layers(layers, encoder.n_layers_, label)
            last_layers[label] = int(encoder.n_layers_)
            pooling_of = {p: POOLINGS[p].resolve(label, encoder) for p in pooling_names}
            # The model by what it computes with (the SHA-256 of its weights, configuration
            # and tokenizer, as the token cache keys it), not by its folder: weights
            # retrained in place are another model. The cache's memo holds the digest, so
            # a run served from the cache and the journal still loads no model.
            model_id = {"label": label, "fingerprint": encoder._fingerprint(),
                        "max_length": encoder.max_length_,
                        "special_tokens": encoder.special_tokens}

            def key_of(layer, task, pooling):
                return entry_key(settings=shaping, model=model_id, task=task.name,
                                 kind=task.kind, data=task_ids[task.name], layer=layer,
                                 pooling=pooling, effective=pooling_of[pooling])

            steps = {(layer, task.name): [
                (name, key_of(layer, task, name),
                 _diagnose_here(task, layer == resolved[-1], name, pooling_names))
                for name in pooling_names if POOLINGS[name].applies_to(task)]
                for layer in resolved for task in task_list}
            found = {key: journal.get(key, needs_diagnostics=diagnose)
                     for todo in steps.values() for _, key, diagnose in todo
                     } if journal is not None else {}
            missing = sorted({layer for (layer, _), todo in steps.items()
                              if any(found.get(key) is None for _, key, _ in todo)})
            bar = progress_bar(progress, total=len(resolved) * len(task_list),
                               desc=f"evaluate {label}", unit="step")
            if store is not None:
                layer_tokens = _stored_layers(encoder, all_texts,
                                              Path(os.fspath(store)) / f"model-{k}",
                                              partition_size)
            else:
                layer_tokens = _cached_layers(encoder)
            if missing and store is None:
                # fill the cache with the layers still to score, a chunk at a time
                bar.set_postfix_str(f"encoding {len(all_texts)} texts")
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", TruncationWarning)
                    for start in range(0, len(all_texts), 64):
                        encoder.transform_layers(all_texts[start:start + 64], missing)
            for layer in resolved:
                for task in task_list:
                    bar.set_postfix_str(f"layer {layer}, {task.name}")
                    new, new_diagnostics = _evaluate_layer(
                        label, layer, task, data[task.name], layer_tokens,
                        steps[(layer, task.name)], found, pooling_of, journal,
                        classifier=classifier, n_pairs=n_pairs, n_folds=n_folds,
                        n_bootstrap=n_bootstrap, seed=seed, n_jobs=n_jobs)
                    records.extend(new)
                    diagnostics.extend(new_diagnostics)
                    if layer == resolved[-1] and needs_study(task, pooling_of.values(),
                                                             conditions):
                        bar.set_postfix_str(f"layer {layer}, {task.name}: pooling costs"
                                            + (", interventions" if conditions else ""))
                        tokens = layer_tokens(layer, data[task.name].texts)
                        new_costs, new_controls = study_layer(
                            label, layer, task, data[task.name], tokens,
                            poolings=set(pooling_of.values()), conditions=conditions,
                            classifier=classifier, n_pairs=n_pairs, n_folds=n_folds,
                            n_bootstrap=n_bootstrap, seed=seed, n_jobs=n_jobs)
                        costs.extend(new_costs)
                        controls.extend(new_controls)
                    bar.update(1)
            bar.close()
    correlations = socm_score_correlations(records, baselines=baselines, last_layers=last_layers,
                                           n_bootstrap=n_bootstrap, random_state=seed)
    return Evaluation(records=tuple(records), correlations=correlations,
                      diagnostics=tuple(diagnostics), settings=settings,
                      pooling_costs=tuple(costs), interventions=tuple(controls))


def _diagnose_here(task, last_layer: bool, name: str, pooling_names) -> bool:
    """Whether the per-text diagnostic goes with this result: the first pooling of a
    classification task at the model's last evaluated layer."""
    if task.kind != "classification" or not last_layer:
        return False
    first = next(p for p in pooling_names if POOLINGS[p].applies_to(task))
    return name == first


def _check_tasks(tasks) -> list[Task]:
    """Tasks from names of :data:`TASKS` and :class:`Task` objects, distinct by name."""
    if isinstance(tasks, (str, Task)):
        tasks = [tasks]
    out = []
    for task in tasks:
        if isinstance(task, Task):
            out.append(task)
        elif isinstance(task, str) and task in TASKS:
            out.append(TASKS[task])
        else:
            raise ValueError(f"Expected tasks among {list(TASKS)} or Task objects (a task "
                             f"built from your data with Task.from_data). Received "
                             f"{describe(task)}.")
    if not out:
        raise ValueError(f"Expected at least one task among {list(TASKS)}. Received none.")
    seen: dict[str, Task] = {}
    for task in out:  # a name given twice is one task; two tasks of one name are an error
        if seen.setdefault(task.name, task) is not task:
            raise ValueError(f"Expected distinct task names. Received two tasks named "
                             f"{task.name!r}; name them apart (Task.from_data(..., name=...)).")
    return list(seen.values())


def _check_applicable(pooling_names, task_list) -> dict:
    """Which requested poolings skip which tasks; an error if a task would get no score."""
    for task in task_list:
        if not any(POOLINGS[name].applies_to(task) for name in pooling_names):
            usable = [name for name, pooling in POOLINGS.items() if pooling.applies_to(task)]
            raise ValueError(
                f"Expected a pooling that can score the {task.kind} task {task.name!r}: "
                f"{', '.join(pooling_names)} "
                f"{'does' if len(pooling_names) == 1 else 'do'} not apply to {task.kind} "
                f"tasks. Received poolings {pooling_names}; choose among {usable} for it.")
    not_run = {}
    for name in pooling_names:
        skipped = [t.name for t in task_list if not POOLINGS[name].applies_to(t)]
        if skipped:
            not_run[name] = skipped
    return not_run


def _check_folds(name: str, dataset, n_folds: int, n_texts) -> None:
    counts = np.bincount(dataset.labels)
    if counts[counts > 0].min() < n_folds:
        per_class = (dict(zip(dataset.label_names, counts.tolist()))
                     if dataset.label_names is not None else counts.tolist())
        raise ValueError(
            f"Expected every class of {name} to hold at least n_folds={n_folds} texts "
            f"for stratified cross-validation. Received {per_class} texts per class "
            f"(n_texts={n_texts}); use more texts or fewer folds."
        )


def _data_fingerprint(dataset) -> str:
    """A hash of what a task's texts, labels or rated pairs are (for the journal)."""
    digest = hashlib.sha256()
    for text in dataset.texts:
        digest.update(text.encode("utf-8") + b"\0")
    for name in ("labels", "pairs", "scores"):
        values = getattr(dataset, name, None)
        if values is not None:
            digest.update(name.encode() + np.ascontiguousarray(values).tobytes())
    return digest.hexdigest()


def _cached_layers(encoder):
    """``tokens(layer, texts)`` read from the encoder's token cache (encoded if missing)."""
    def tokens(layer, texts):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TruncationWarning)
            return clone(encoder).set_params(layer=layer).transform(texts)
    return tokens


def _stored_layers(encoder, all_texts, folder, partition_size):
    """``tokens(layer, texts)`` taken from the token store ``folder/layer-L`` of all texts.

    Each layer's store is encoded (or read back) the first time it is needed.
    """
    position = {text: i for i, text in enumerate(all_texts)}
    stored = {}

    def tokens(layer, texts):
        if layer not in stored:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", TruncationWarning)
                stored[layer] = encode_layers(encoder, all_texts, [layer], folder,
                                              partition_size)[layer]
        return stored[layer].take([position[text] for text in texts])
    return tokens


def _evaluate_layer(model, layer, task, dataset, layer_tokens, todo, found, pooling_of,
                    journal, *, classifier, n_pairs, n_folds, n_bootstrap, seed, n_jobs):
    """The results of one model, layer and task: from the journal, else measured now."""
    records, diagnostics = [], []
    if all(found.get(key) is not None for _, key, _ in todo):
        for _, key, _ in todo:
            record, kept = found[key]
            records.append(record)
            diagnostics.extend(kept)
        return records, diagnostics
    tokens = layer_tokens(layer, dataset.texts)
    # The corpus numbers come from the one measuring module (as report's do); the
    # concentration-matched SOCM, on the same pairs, is evaluation's own control.
    corpus, spread = measure_corpus(
        tokens, record_labels(model, layer, task.name, n_truncated=tokens.n_truncated,
                              random_state=seed),
        n_pairs=n_pairs, random_state=seed, n_jobs=n_jobs)
    matched = matched_mean_socm(tokens, n_pairs=n_pairs, random_state=seed, n_jobs=n_jobs)
    common = dict(model=model, layer=int(layer), task=task.name, metric=task.metric,
                  mean_socm=corpus.mean_socm, stderr=corpus.stderr,
                  n_trace_violations=corpus.n_trace_violations, matched_socm=matched.mean,
                  matched_stderr=matched.stderr, mean_spread=corpus.mean_spread,
                  mean_cosine=corpus.mean_cosine, n_texts=corpus.n_texts,
                  n_pairs=corpus.n_pairs, n_truncated=corpus.n_truncated)
    for name, key, diagnose in todo:
        if found.get(key) is not None:
            record, kept = found[key]
            records.append(record)
            diagnostics.extend(kept)
            continue
        effective = POOLINGS[pooling_of[name]]
        note, new_diagnostics = "", []
        if task.kind == "classification":
            folds = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
            scores, correct = cross_validate(effective.make(), classifier, tokens,
                                             dataset.labels, folds)
            score, score_std = float(scores.mean()), float(scores.std())
            if diagnose:
                near = neighbour_socm(tokens, MeanPooler().fit_transform(tokens),
                                      n_neighbors=min(5, len(tokens) - 1))
                for by, values in (("spread", spread.spread), ("neighbour_socm", near)):
                    new_diagnostics.append(TextDiagnostic(
                        model=model, task=task.name, layer=int(layer), pooling=name, by=by,
                        bins=error_by_quintile(values, correct)))
        else:
            # Each pooling draws its bootstrap from the seed itself, so that its
            # spread does not depend on which other poolings ran (or resumed) first.
            rng = check_random_state(seed)
            try:
                if effective.kind == "distance":
                    distances = pairwise_w2(tokens, kind=effective.w2, normalize=True,
                                            n_jobs=n_jobs)
                    similarities = -distances[dataset.pairs[:, 0], dataset.pairs[:, 1]]
                else:
                    vectors = effective.make().fit_transform(tokens)
                    similarities = cosines(vectors, dataset.pairs, name)
                score, score_std = similarity_score(similarities, dataset.scores,
                                                    n_bootstrap, rng, pooling=name)
            except UndefinedScore as exc:
                score, score_std, note = math.nan, math.nan, f"no score: {exc}"
        record = EvaluationRecord(pooling=name, score=score, score_std=score_std, note=note,
                                  **common)
        if journal is not None:
            journal.add(key, record, new_diagnostics)
        records.append(record)
        diagnostics.extend(new_diagnostics)
    return records, diagnostics
