"""The constraints of the parameters every public function shares (private).

Public functions declare their parameters with scikit-learn's
``validate_params`` (as estimators declare ``_parameter_constraints``), so a
bad value is refused once, where the user passed it, with scikit-learn's
message ("The 'n_jobs' parameter of mean_socm must be ... Got 0 instead.");
functions called from inside a checked one do not check again. What the
shared words mean is written once, in docs/glossary.md.
"""

from __future__ import annotations

import numpy as np

from ._sklearn_compat import Integral, Integers, Interval, Real, StrOptions, validate_params

__all__ = ["N_JOBS", "N_PAIRS", "POSITIVE_INT", "PRECISION", "RANDOM_STATE", "SEED",
           "PROGRESS", "BOOLEAN", "WORKING_MEMORY", "validate_params"]

#: None (the joblib context's n_jobs, else every core) or a nonzero int
N_JOBS = [Integers(Integral, None, -1, closed="right"), Integers(Integral, 1, None, closed="left"),
          None]
#: a count of at least one (texts, neighbours, pairs listed)
POSITIVE_INT = [Integers(Integral, 1, None, closed="left")]
#: None (every pair) or a positive int
N_PAIRS = [*POSITIVE_INT, None]
#: the cross-Gram products' dtype (float32 products, float64 squares and eigenvalues; or all
#: float64)
PRECISION = [StrOptions({"float32", "float64"})]
#: scikit-learn's random_state (what records, reports and estimators take)
SEED = [Integers(Integral, 0, 2**32 - 1, closed="both"), np.random.RandomState, None]
#: the metrics' random_state: scikit-learn's, and a NumPy Generator
RANDOM_STATE = [*SEED[:2], np.random.Generator, None]
#: True or False (NumPy's bool too)
BOOLEAN = PROGRESS = ["boolean"]
#: MiB, or None for scikit-learn's working_memory
WORKING_MEMORY = [Interval(Real, 0, None, closed="neither"), None]
