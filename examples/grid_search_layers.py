"""Choose the encoder layer with the least second-order collapse, with GridSearchCV.

``CollapseScorer`` is an ordinary scikit-learn scorer (greater is better: it
returns minus the mean SOCM of the held-out texts), so a grid search over the
encoder's ``layer`` picks the layer whose token clouds mean pooling collapses
least. Run::

    .venv/bin/python examples/grid_search_layers.py

The token embeddings are cached where the ``skpool`` command keeps them,
``$SKPOOL_HOME/tokens`` (``~/.cache/skpool/tokens`` when ``SKPOOL_HOME`` is not
set), so a second run does not encode again; nothing is written elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline

from skpool import CollapseScorer, MeanPooler, TokenEncoder
from skpool.datasets import load_wiki_films


def main():
    texts = load_wiki_films(n_texts=60, random_state=0).texts
    home = Path(os.environ.get("SKPOOL_HOME") or "~/.cache/skpool").expanduser()
    encoder = TokenEncoder(max_length=128, cache=home / "tokens")
    pipeline = Pipeline([("pool", MeanPooler(encoder=encoder))])
    search = GridSearchCV(pipeline, {"pool__encoder__layer": [1, 2, 3, 4, 5, 6]},
                          scoring=CollapseScorer(), cv=KFold(3, shuffle=True, random_state=0))
    search.fit(texts)
    for layer, score, sd in zip(search.cv_results_["param_pool__encoder__layer"],
                                search.cv_results_["mean_test_score"],
                                search.cv_results_["std_test_score"]):
        print(f"layer {layer}: mean SOCM {-score:.4f} ± {sd:.4f} over folds")
    print("least collapse at layer", search.best_params_["pool__encoder__layer"])


if __name__ == "__main__":
    main()
