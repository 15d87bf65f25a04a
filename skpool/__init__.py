"""skpool: scikit-learn estimators for pooled and Gaussian text embeddings.

Mean-pooled and Gaussian (mean + covariance) features of Hugging Face
encoders, the second-order collapse metric SOCM, and optimal-transport
comparisons of token clouds.
"""

from .tokensets import TokenSets

__version__ = "0.1.0"

__all__ = ["TokenSets", "__version__"]
