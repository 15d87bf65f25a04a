"""How skpool's computations run: below the formulas of :mod:`skpool.math` (private).

The formulas in :mod:`skpool.math` are short functions on arrays. This package
holds the machinery that runs them over a corpus, and can be changed without
touching a formula:

- :mod:`~skpool._engine.parallel`: ``n_jobs`` (its one meaning, see
  docs/glossary.md), joblib tasks with a progress bar (:func:`parallel_map`),
  one BLAS thread per task;
- :mod:`~skpool._engine.backends`: the array backends (NumPy, or torch on a
  device) a block of products runs on;
- :mod:`~skpool._engine.chunks`: working memory, and the chunk budget that
  follows from it;
- :mod:`~skpool._engine.sampling`: the random-state convention and the one
  sampler of text pairs;
- :mod:`~skpool._engine.bures`: texts sorted by length and cut into blocks,
  the blocked all-pairs and sampled-pairs squared Bures distances, scratch
  arrays beside a memory-mapped corpus.
"""
