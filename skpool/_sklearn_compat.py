"""The one place skpool reaches into scikit-learn's private modules.

scikit-learn's parameter validation (``_param_validation``) and its fit context
(``_fit_context``) are private but are what every scikit-learn estimator uses to
declare its parameters once and to raise the same ``InvalidParameterError``
messages. skpool uses them the same way; importing them only here means a change
in scikit-learn breaks one module, and ``tests/test_sklearn_compat.py`` fails
loudly naming what moved.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import _fit_context as fit_context
from sklearn.utils._param_validation import (
    HasMethods,
    Integral,
    Interval,
    InvalidParameterError,
    Real,
    StrOptions,
    validate_parameter_constraints,
    validate_params,
)

__all__ = ["fit_context", "HasMethods", "Integral", "Integers", "Interval",
           "InvalidParameterError", "Numbers", "Real", "StrOptions",
           "validate_parameter_constraints", "validate_params"]


class Numbers(Interval):
    """An :class:`Interval` that refuses bools (``True`` is not a factor or a spread)."""

    def is_satisfied_by(self, val):
        return not isinstance(val, (bool, np.bool_)) and super().is_satisfied_by(val)


class Integers(Numbers):
    """An :class:`Interval` of ints that refuses bools (``True`` is not a worker count)."""
