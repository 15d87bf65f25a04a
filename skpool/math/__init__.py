"""The mathematics of skpool, as plain NumPy functions.

Nothing here imports torch or transformers: the Gaussian view of a token cloud
(:mod:`skpool.math.gaussian`), the exact Bures distance through a cross-Gram
nuclear norm, and the collapse metric SOCM (:mod:`skpool.math.socm`).
"""
