"""The formulas of skpool, as short functions on arrays.

Nothing here imports anything but NumPy, SciPy, the standard library and
``skpool.math`` itself (tests/test_architecture.py checks it): the Gaussian
view of a token cloud and the exact Bures distance through a cross-Gram
nuclear norm (:mod:`skpool.math.gaussian`), SOCM and concentration
(:mod:`skpool.math.socm`), per-text moments for the poolers
(:mod:`skpool.math.moments`) and the ragged-corpus arithmetic they share.
The checked public functions are in :mod:`skpool.metrics`; how they run over a
corpus (blocks, workers, devices) is ``skpool._engine``.
"""
