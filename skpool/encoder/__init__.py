"""The Hugging Face token encoder: texts to token embeddings.

``skpool.encoder._torch`` is the only module of skpool that imports torch and
transformers; it is imported when a model is first needed, so importing this
package stays light.
"""

from .encoder import TokenEncoder, TruncationWarning
from ._distributed import encode_to_store
from .models import BUNDLED_MODELS, BundledModel, bundled_names

__all__ = [
    "TokenEncoder",
    "TruncationWarning",
    "encode_to_store",
    "BUNDLED_MODELS",
    "BundledModel",
    "bundled_names",
    "clear_model_cache",
]


def clear_model_cache() -> int:
    """Forget the models loaded in this process (they reload on next use).

    Returns
    -------
    int
        How many (model, device) entries were dropped.
    """
    import sys

    backend = sys.modules.get(__name__ + "._torch")
    return 0 if backend is None else backend.clear_loaded()
