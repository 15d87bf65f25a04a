"""skpool: scikit-learn estimators for pooled and Gaussian text embeddings.

Mean-pooled and Gaussian (mean + covariance) features of Hugging Face
encoders, the second-order collapse metric SOCM, and optimal-transport
comparisons of token clouds.

Where things live (docs/architecture.md draws the layers):

- ``skpool.tokensets``  data: TokenSets, the token clouds of a corpus, and their checks
- ``skpool.datasets``   data: real corpora from installed registry packages, corpus files
- ``skpool.math``       the formulas on arrays (NumPy, SciPy): Gaussian view, Bures, SOCM
- ``skpool.metrics``    the checked metrics: SOCM, Bures, concentration, matched SOCM
- ``skpool.ot``         optimal-transport distances between token clouds (POT)
- ``skpool.encoder``    the Hugging Face token encoder (the only torch importer)
- ``skpool.pooling``    scikit-learn transformers: MeanPooler, GaussianPooler, CLS/max/last
                        token and the model's own pooling
- ``skpool.scoring``    CollapseScorer and collapse-aware features for pipelines
- ``skpool.analysis``   a measured corpus: collapse reports, layer profiles, OT report
- ``skpool.pairs``      the pairs of texts mean pooling conflates (``skpool pairs``)
- ``skpool.evaluation`` collapse against downstream scores (``skpool evaluate``)
- ``skpool.cli``        the ``skpool`` command line; ``skpool.plotting`` its figures

Public names are imported lazily, so ``import skpool`` does not import torch.

The definitions of the Gaussian view, SOCM and the trace assumption follow one
paper, cited here once (docs/concepts.md states every formula):

Hara, Kurita, Imaizumi, Inui, Yokoi. "Why Mean Pooling Works: Quantifying
Second-Order Collapse in Text Embeddings." ACL 2026, arXiv:2604.27398.
"""

from importlib import import_module

from ._version import __version__
from .tokensets import TokenSets

_LAZY = {
    "TokenEncoder": "skpool.encoder",
    "MeanPooler": "skpool.pooling",
    "GaussianPooler": "skpool.pooling",
    "CLSPooler": "skpool.pooling",
    "MaxPooler": "skpool.pooling",
    "LastTokenPooler": "skpool.pooling",
    "ModelPooler": "skpool.pooling",
    "socm": "skpool.metrics",
    "socm_components": "skpool.metrics",
    "pairwise_socm": "skpool.metrics",
    "pairwise_socm_components": "skpool.metrics",
    "pairwise_bures_squared": "skpool.metrics",
    "mean_socm": "skpool.metrics",
    "concentration": "skpool.metrics",
    "match_concentration": "skpool.metrics",
    "matched_mean_socm": "skpool.metrics",
    "CollapseScorer": "skpool.scoring",
    "CollapseFeatures": "skpool.scoring",
    "layer_profile": "skpool.analysis",
}

__all__ = ["TokenSets", "__version__", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'skpool' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
