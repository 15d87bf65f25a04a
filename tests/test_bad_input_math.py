"""Bad inputs and extreme scales for the math, OT and pooler functions, as one table.

Each case ends in a clear error (type and a fragment of its message) or a
correct result: finite, and equal (to a tolerance) to the same computation on
the cloud rescaled to ordinary magnitudes, since every quantity here is
homogeneous in the scale of the tokens.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from skpool import GaussianPooler, MeanPooler
from skpool.metrics import (concentration, mean_socm, pairwise_bures_squared, pairwise_socm,
                              socm, socm_components)
from skpool.ot import compare_w2, exact_w2, gaussian_w2, pairwise_w2

RNG = np.random.default_rng(42)
A = RNG.normal(size=(6, 4)) + 1.0
B = RNG.normal(size=(5, 4)) + 1.0
C = RNG.normal(size=(7, 4)) + 1.0
ZERO_MEAN = A - A.mean(axis=0)            # zero up to round-off (~1e-17 of its tokens)
ZERO_MEAN_32 = (A - A.mean(axis=0)).astype(np.float32)

# (case, call, expected error type, message fragment)
ERRORS = [
    ("socm, mean zero up to round-off", lambda: socm(ZERO_MEAN, B), ValueError,
     "zero up to round-off"),
    ("socm, float32 mean zero up to round-off", lambda: socm(ZERO_MEAN_32, B.astype(np.float32)),
     ValueError, "mean token of A"),
    ("socm_components names B", lambda: socm_components(A, ZERO_MEAN), ValueError,
     "mean token of B"),
    ("pairwise_socm names the text", lambda: pairwise_socm([A, B, ZERO_MEAN]), ValueError,
     r"tokens\[2\] \(text 2\)"),
    ("mean_socm names the text", lambda: mean_socm([ZERO_MEAN, A, B]), ValueError,
     r"tokens\[0\] \(text 0\)"),
    ("concentration names the text", lambda: concentration([A, ZERO_MEAN]), ValueError,
     r"tokens\[1\] \(text 1\)"),
    ("GaussianPooler(normalize=True) names the text",
     lambda: GaussianPooler(normalize=True).fit_transform([A, B, ZERO_MEAN]), ValueError,
     "text 2"),
    ("exact_w2(normalize=True)", lambda: exact_w2(A, ZERO_MEAN, normalize=True), ValueError,
     "mean token of B"),
    ("gaussian_w2(normalize=True)", lambda: gaussian_w2(ZERO_MEAN, B, normalize=True),
     ValueError, "mean token of A"),
    ("pairwise_w2(normalize=True)", lambda: pairwise_w2([A, ZERO_MEAN], normalize=True),
     ValueError, r"tokens\[1\]"),
    ("GaussianPooler raw features overflow float64",
     lambda: GaussianPooler().fit_transform([A * 1e200, B]), ValueError, "overflow float64"),
    ("GaussianPooler raw float32 features overflow float32",
     lambda: GaussianPooler().fit_transform([(A * 1e30).astype(np.float32)]), ValueError,
     "overflow float32"),
    ("GaussianPooler projected raw overflow",
     lambda: GaussianPooler(covariance="projected", n_components=2).fit([A * 1e200, B]),
     ValueError, "overflows float64"),
    ("compare_w2 squared terms overflow", lambda: compare_w2([A * 1e200, B * 1e200]),
     ValueError, "overflow float64"),
    ("pairwise_bures_squared raw B^2 overflows float64",
     lambda: pairwise_bures_squared([A * 1e200, B * 1e200]), ValueError, "overflow float64"),
    ("compare_w2 pair of a text with itself", lambda: compare_w2([A, B, C], pairs=[(0, 0)]),
     ValueError, r"i != j.*\(0, 0\) at position 0"),
    ("compare_w2 negative index", lambda: compare_w2([A, B, C], pairs=[(0, -1)]), ValueError,
     r"in \[0, 3\)"),
    ("compare_w2 float pairs", lambda: compare_w2([A, B, C], pairs=[(0.0, 1.0)]), ValueError,
     "integer index pairs"),
    ("compare_w2 zero pairs", lambda: compare_w2([A, B, C], pairs=0), ValueError,
     "between 1 and the 3"),
    ("compare_w2 random_state=-1", lambda: compare_w2([A, B, C], pairs=2, random_state=-1),
     ValueError, "'random_state' parameter of compare_w2 must be an int in the range "
     "\\[0, 4294967295\\].* Got -1 instead"),
    ("mean_socm random_state=-1", lambda: mean_socm([A, B, C], n_pairs=2, random_state=-1),
     ValueError, "'random_state' parameter of mean_socm must be .* Got -1"),
    ("mean_socm random_state='x'", lambda: mean_socm([A, B, C], n_pairs=2, random_state="x"),
     TypeError, "'random_state' parameter of mean_socm must be .* Got 'x'"),
    ("pairwise_socm n_jobs=0", lambda: pairwise_socm([A, B], n_jobs=0), ValueError,
     "'n_jobs' parameter of pairwise_socm must be .* or None. Got 0"),
    ("mean_socm n_jobs='x'", lambda: mean_socm([A, B], n_jobs="x"), TypeError, "n_jobs"),
    ("MeanPooler sparse input", lambda: MeanPooler().fit(sparse.csr_matrix(A)), TypeError,
     "sparse matrices are not token clouds"),
    ("GaussianPooler list of sparse", lambda: GaussianPooler().fit([sparse.csr_matrix(A)]),
     TypeError, "sparse matrices are not token clouds"),
]


@pytest.mark.parametrize("case, call, error, fragment", ERRORS, ids=[e[0] for e in ERRORS])
def test_bad_input_ends_in_a_clear_error(case, call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()


# (case, function of a list of clouds, homogeneity degree of its result)
SCALED = [
    ("socm", lambda c: socm(c[0], c[1]), 0),
    ("socm_components", lambda c: np.array(socm_components(c[0], c[1])), 0),
    ("pairwise_socm", lambda c: pairwise_socm(c), 0),
    ("pairwise_bures_squared normalize", lambda c: pairwise_bures_squared(c, normalize=True), 0),
    ("pairwise_bures_squared raw", lambda c: pairwise_bures_squared(c), 2),
    ("mean_socm", lambda c: mean_socm(c).mean, 0),
    ("concentration spread", lambda c: concentration(c).spread, 0),
    ("concentration cosine", lambda c: concentration(c).mean_cosine, 0),
    ("GaussianPooler(normalize=True)", lambda c: GaussianPooler(normalize=True).fit_transform(c),
     0),
    ("MeanPooler", lambda c: MeanPooler().fit_transform(c), 1),
    ("gaussian_w2", lambda c: gaussian_w2(c[0], c[1]), 1),
    ("gaussian_w2 normalize", lambda c: gaussian_w2(c[0], c[1], normalize=True), 0),
    ("gaussian_w2 norm weights", lambda c: gaussian_w2(c[0], c[1], weights="norm"), 1),
    ("exact_w2", lambda c: exact_w2(c[0], c[1]), 1),
    ("exact_w2 normalize", lambda c: exact_w2(c[0], c[1], normalize=True), 0),
    ("pairwise_w2 gaussian", lambda c: pairwise_w2(c), 1),
    ("pairwise_w2 exact", lambda c: pairwise_w2(c, kind="exact"), 1),
    ("compare_w2 ratio", lambda c: compare_w2(c).table["ratio"].to_numpy(), 0),
]
SCALES = [(1e200, np.float64), (1e-200, np.float64), (1e30, np.float32), (1e-30, np.float32)]


@pytest.mark.parametrize("scale, dtype", SCALES, ids=[f"{s:g}-{np.dtype(t).name}"
                                                       for s, t in SCALES])
@pytest.mark.parametrize("case, function, degree", SCALED, ids=[s[0] for s in SCALED])
def test_extreme_scales_give_the_scaled_answer(case, function, degree, scale, dtype):
    clouds = [A, B, C]
    if (case.startswith("compare_w2") or case == "pairwise_bures_squared raw") and scale > 1e100:
        pytest.skip("its squared terms do not fit float64: a clear error (table above)")
    if degree == 2 and scale < 1e-100:
        pytest.skip("squared distances near 1e-400 are below float64's range")
    reference = np.asarray(function(clouds), dtype=np.float64)
    with np.errstate(over="raise", invalid="raise"):   # no overflow or NaN along the way
        value = np.asarray(function([(X * scale).astype(dtype) for X in clouds]),
                           dtype=np.float64)
    assert np.isfinite(value).all()
    rtol = 1e-4 if dtype == np.float32 else 1e-9
    np.testing.assert_allclose(value / np.float64(scale)**degree, reference, rtol=rtol,
                               atol=rtol * np.abs(reference).max())
