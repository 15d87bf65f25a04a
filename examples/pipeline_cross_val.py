"""Classify BBC News topics with mean-pooled MiniLM embeddings and a logistic regression.

A scikit-learn ``Pipeline`` of ``MeanPooler(encoder=TokenEncoder(...))`` and
``LogisticRegression`` is cross-validated on a stratified sample of the BBC
News articles (5 topics). The encoder's disk cache makes every fold after the
first reuse the encodings of the first, and all folds share one loaded model.
Run (about a minute on two CPU cores)::

    .venv/bin/python examples/pipeline_cross_val.py [--n-texts 300] [--max-length 128]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline

from skpool import MeanPooler, TokenEncoder
from skpool.datasets import load_bbc_news


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-texts", type=int, default=300, help="articles in the sample")
    parser.add_argument("--max-length", type=int, default=128, help="tokens kept per article")
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args(argv)

    news = load_bbc_news(n_texts=args.n_texts, random_state=0)  # stratified sample
    texts, labels = news.texts, news.labels
    counts = np.bincount(labels, minlength=len(news.label_names))
    print(f"{len(texts)} BBC News articles: "
          + ", ".join(f"{t} {c}" for t, c in zip(news.label_names, counts)))

    with tempfile.TemporaryDirectory() as cache:
        encoder = TokenEncoder(max_length=args.max_length, cache=cache)
        pipe = Pipeline([("pool", MeanPooler(encoder=encoder)),
                         ("clf", LogisticRegression(max_iter=1000))])
        start = time.perf_counter()
        with warnings.catch_warnings():
            # Most articles are longer than max_length; the encoder says so once per call.
            warnings.simplefilter("ignore")
            scores = cross_val_score(pipe, texts, labels,
                                     cv=StratifiedKFold(args.folds, shuffle=True,
                                                        random_state=0))
        seconds = time.perf_counter() - start

    for fold, score in enumerate(scores, 1):
        print(f"fold {fold}: accuracy {score:.3f}")
    print(f"mean accuracy {scores.mean():.3f} ± {scores.std():.3f} "
          f"({args.folds}-fold, max_length={args.max_length}, {seconds:.0f} s)")


if __name__ == "__main__":
    main()
