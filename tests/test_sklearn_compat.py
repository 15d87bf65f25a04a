"""scikit-learn's private pieces that skpool relies on still exist and behave as used."""

import pytest
from sklearn.base import BaseEstimator

from skpool._sklearn_compat import Integral, Interval, InvalidParameterError, StrOptions, fit_context


class _Probe(BaseEstimator):
    _parameter_constraints = {
        "k": [Interval(Integral, 1, None, closed="left")],
        "mode": [StrOptions({"a", "b"})],
    }

    def __init__(self, *, k=1, mode="a"):
        self.k = k
        self.mode = mode

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X=None, y=None):
        self.fitted_ = True
        return self


def test_fit_context_validates_declared_parameters():
    assert _Probe(k=3, mode="b").fit().fitted_
    with pytest.raises(InvalidParameterError, match="'k' parameter of _Probe must be"):
        _Probe(k=0).fit()
    with pytest.raises(InvalidParameterError, match="'mode' parameter of _Probe must be"):
        _Probe(mode="c").fit()


def test_invalid_parameter_error_is_a_value_error():
    # skpool documents ValueError/TypeError for bad parameters.
    assert issubclass(InvalidParameterError, ValueError)
    assert issubclass(InvalidParameterError, TypeError)
