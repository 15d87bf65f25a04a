"""SOCM, its all-pairs engine, the corpus score and concentration.

Every value is checked against a slow, obvious implementation written here:
d x d covariances and symmetric eigendecompositions with clamping for the
matrix square roots, and brute-force O(n^2) cosines.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skpool import TokenSets
from skpool._engine import bures as _pairwise
from skpool._engine.sampling import check_random_state, pair_from_linear, sample_pairs
from skpool.metrics import bures_squared
from skpool.metrics import (
    Concentration,
    MeanSOCMResult,
    PairwiseSOCM,
    SOCMComponents,
    concentration,
    mean_socm,
    pairwise_bures_squared,
    pairwise_socm,
    pairwise_socm_components,
    socm,
    socm_components,
)


# ---------------------------------------------------------------------------------------
# The slow, obvious reference
# ---------------------------------------------------------------------------------------
def ref_view(X, normalize=True):
    X = np.asarray(X, dtype=np.float64)
    m = X.mean(axis=0)
    if normalize:
        X = X / np.linalg.norm(m)
    mu = X.mean(axis=0)
    centred = X - mu
    return mu, centred.T @ centred / X.shape[0]


def psd_sqrt(S):
    w, V = np.linalg.eigh((S + S.T) / 2)
    return (V * np.sqrt(np.clip(w, 0.0, None))) @ V.T


def ref_bures2(S1, S2):
    r = psd_sqrt(S1)
    value = np.trace(S1) + np.trace(S2) - 2.0 * np.trace(psd_sqrt(r @ S2 @ r))
    return max(value, 0.0)


def ref_socm(A, B):
    mu1, S1 = ref_view(A)
    mu2, S2 = ref_view(B)
    d_mu = float(np.sum((mu1 - mu2) ** 2) / 4)
    d_sigma = ref_bures2(S1, S2) / 4
    return (1 - d_mu) * d_sigma, d_mu, d_sigma


def ref_matrix(X, Y=None):
    Y = X if Y is None else Y
    return np.array([[ref_socm(a, b)[0] for b in Y] for a in X])


def cloud(rng, n, d, *, anisotropy=0.0, offset=2.0, dtype=np.float64):
    """Random cloud with a common direction; ``anisotropy`` decades of spread across axes."""
    scales = 10.0 ** (-anisotropy * np.linspace(0, 1, d))
    return (rng.normal(size=(n, d)) * scales + offset).astype(dtype)


def corpus(seed, sizes, d, **kw):
    rng = np.random.default_rng(seed)
    return [cloud(rng, n, d, **kw) for n in sizes]


# ---------------------------------------------------------------------------------------
# One pair
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("n_a", "n_b", "d", "anisotropy", "dtype"),
    [
        (3, 7, 10, 0.0, np.float64),      # n < d: rank-deficient covariances
        (1, 5, 4, 0.0, np.float64),       # n = 1: zero covariance
        (1, 1, 3, 0.0, np.float64),
        (60, 45, 8, 0.0, np.float64),     # n > d
        (20, 30, 12, 0.0, np.float32),    # float32 input
        (25, 25, 16, 4.0, np.float64),    # very anisotropic: four decades of spread
        (40, 9, 16, 6.0, np.float32),
    ],
)
def test_socm_components_match_reference(n_a, n_b, d, anisotropy, dtype):
    rng = np.random.default_rng(n_a * 100 + n_b)
    A = cloud(rng, n_a, d, anisotropy=anisotropy, dtype=dtype)
    B = cloud(rng, n_b, d, anisotropy=anisotropy, dtype=dtype)
    got = socm_components(A, B)
    want = ref_socm(A, B)
    assert isinstance(got, SOCMComponents)
    assert all(isinstance(v, float) for v in got)
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)
    s, d_mu, d_sigma = got  # unpacks as a 3-tuple
    assert s == pytest.approx((1 - d_mu) * d_sigma, abs=1e-15)
    assert socm(A, B) == got.socm


def test_closed_form_two_axes():
    # same mean (0, 0, 1); spread a along x for A and along y for B:
    # Sigma_A = a^2 e_x e_x^T, Sigma_B = a^2 e_y e_y^T, B^2 = 2 a^2, d_sigma = a^2 / 2
    for a in (0.5, 1.0):
        A = np.array([[a, 0, 1], [-a, 0, 1]])
        B = np.array([[0, a, 1], [0, -a, 1]])
        s, d_mu, d_sigma = socm_components(A, B)
        assert d_mu == pytest.approx(0.0, abs=1e-15)
        assert d_sigma == pytest.approx(a * a / 2, abs=1e-12)
        assert s == pytest.approx(a * a / 2, abs=1e-12)


def test_self_is_exactly_zero():
    rng = np.random.default_rng(0)
    A = cloud(rng, 9, 5, anisotropy=3.0, dtype=np.float32)
    assert socm(A, A) == 0.0
    assert socm_components(A, A.copy()) == (0.0, 0.0, 0.0)
    S = pairwise_socm([A, A, cloud(rng, 4, 5)])
    assert S[0, 0] == 0.0 and S[1, 1] == 0.0 and S[2, 2] == 0.0


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n_a=st.integers(1, 12), n_b=st.integers(1, 12),
       d=st.integers(1, 9))
def test_symmetric(seed, n_a, n_b, d):
    rng = np.random.default_rng(seed)
    A, B = cloud(rng, n_a, d), cloud(rng, n_b, d)
    assert socm(A, B) == pytest.approx(socm(B, A), abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 12), d=st.integers(2, 9),
       scale=st.floats(0.1, 10.0))
def test_zero_when_covariances_match(seed, n, d, scale):
    # B = c (X~ - mu + u) with a unit vector u: its normalized cloud is X~ - mu + u,
    # so Sigma_B = Sigma_A while the mean direction moves to u (d_mu > 0).
    rng = np.random.default_rng(seed)
    A = cloud(rng, n, d, anisotropy=2.0)
    normalized = A / np.linalg.norm(A.mean(axis=0))
    u = rng.normal(size=d)
    u /= np.linalg.norm(u)
    B = scale * (normalized - normalized.mean(axis=0) + u)
    s, d_mu, d_sigma = socm_components(A, B)
    assert d_sigma == pytest.approx(0.0, abs=1e-9)
    assert s == pytest.approx(0.0, abs=1e-9)
    assert d_mu == pytest.approx(ref_socm(A, B)[1], abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 12), d=st.integers(1, 9))
def test_zero_when_means_are_opposite(seed, n, d):
    A = cloud(np.random.default_rng(seed), n, d)
    s, d_mu, _ = socm_components(A, -A)
    assert d_mu == pytest.approx(1.0, abs=1e-12)
    assert s == pytest.approx(0.0, abs=1e-12)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 12), d=st.integers(2, 9))
def test_monotone_in_d_sigma_and_d_mu(seed, n, d):
    rng = np.random.default_rng(seed)
    A = cloud(rng, n, d, anisotropy=1.0)
    normalized = A / np.linalg.norm(A.mean(axis=0))
    mu = normalized.mean(axis=0)
    trace = float(np.sum((normalized - mu) ** 2) / n)
    # Same mean, Sigma_B = s^2 Sigma_A: B^2 = (1 - s)^2 tr(Sigma_A), growing for s >= 1.
    previous = -1.0
    for s in (1.0, 1.5, 2.0, 3.0):
        B = mu + s * (normalized - mu)
        value, d_mu, d_sigma = socm_components(A, B)
        assert d_mu == pytest.approx(0.0, abs=1e-12)
        assert d_sigma == pytest.approx((1 - s) ** 2 * trace / 4, rel=1e-9, abs=1e-12)
        assert value >= previous - 1e-12
        previous = value
    # Same covariance, mean direction turning away from mu: d_mu grows, SOCM falls.
    B0 = mu + 2.0 * (normalized - mu)
    w = rng.normal(size=d)
    w -= (w @ mu) * mu
    w /= np.linalg.norm(w)
    previous_value, previous_d_mu = math.inf, -1.0
    for angle in np.linspace(0.0, np.pi, 5):
        u = np.cos(angle) * mu + np.sin(angle) * w
        value, d_mu, d_sigma = socm_components(A, B0 - mu + u)
        assert d_mu >= previous_d_mu - 1e-12
        assert value <= previous_value + 1e-12
        previous_value, previous_d_mu = value, d_mu


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n_a=st.integers(1, 10), n_b=st.integers(1, 10),
       d=st.integers(1, 8), ta=st.floats(0.0, 2.0), tb=st.floats(0.0, 2.0))
def test_range_under_trace_assumption(seed, n_a, n_b, d, ta, tb):
    rng = np.random.default_rng(seed)

    def with_trace(n, target):
        X = cloud(rng, n, d, anisotropy=1.0)
        normalized = X / np.linalg.norm(X.mean(axis=0))
        mu = normalized.mean(axis=0)
        dev = normalized - mu
        tr = np.sum(dev**2) / n
        return mu + dev * (np.sqrt(target / tr) if tr > 0 else 0.0)

    s, d_mu, d_sigma = socm_components(with_trace(n_a, ta), with_trace(n_b, tb))
    assert 0.0 <= d_mu <= 1.0
    assert 0.0 <= d_sigma <= 1.0 + 1e-12
    assert 0.0 <= s <= 1.0 + 1e-12


def test_trace_violation_is_reported_not_clipped():
    # tr Sigma = a^2 = 4 > 2 for both texts: d_sigma = a^2 / 2 = 2 and SOCM = 2.
    A = np.array([[2.0, 0, 1], [-2.0, 0, 1]])
    B = np.array([[0, 2.0, 1], [0, -2.0, 1]])
    assert socm(A, B) == pytest.approx(2.0)
    P = pairwise_socm_components([A, B])
    assert P.socm[0, 1] == pytest.approx(2.0) and P.n_trace_violations == 2
    result = mean_socm([A, B])
    assert result.mean == pytest.approx(2.0) and result.n_trace_violations == 2
    assert concentration([A, B]).n_trace_violations == 2


# ---------------------------------------------------------------------------------------
# All pairs
# ---------------------------------------------------------------------------------------
SIZES = [1, 3, 7, 2, 12, 5, 9, 30, 4, 1, 16, 6]   # n = 1, n < d and n > d (d = 10)


@pytest.fixture(scope="module")
def texts():
    return corpus(7, SIZES, 10, anisotropy=2.0, dtype=np.float32)


@pytest.fixture(scope="module")
def reference(texts):
    return ref_matrix(texts)


def test_pairwise_matches_per_pair_loop(texts, reference):
    P = pairwise_socm_components(texts)
    assert isinstance(P, PairwiseSOCM) and P.exact
    for matrix in (P.socm, P.d_mu, P.d_sigma):
        assert matrix.shape == (len(texts), len(texts)) and matrix.dtype == np.float64
        assert (matrix == matrix.T).all()
        assert (np.diagonal(matrix) == 0.0).all()
    np.testing.assert_allclose(P.socm, reference, atol=1e-6)
    loop = np.array([[socm_components(a, b) for b in texts] for a in texts])
    np.testing.assert_allclose(P.d_mu, loop[..., 1], atol=1e-12)
    np.testing.assert_allclose(P.d_sigma, loop[..., 2], atol=1e-6)
    assert (P.socm_error == 0).all() and (P.d_sigma_error == 0).all()
    np.testing.assert_allclose(P.spread, [np.trace(ref_view(t)[1]) for t in texts], rtol=1e-9)
    assert P.ranks.tolist() == np.minimum(np.maximum(np.asarray(SIZES) - 1, 1), 10).tolist()
    np.testing.assert_array_equal(pairwise_socm(texts), P.socm)


def test_float64_precision_is_closer(texts, reference):
    P = pairwise_socm(texts, precision="float64")
    np.testing.assert_allclose(P, reference, atol=1e-8)


def test_other_is_rectangular(texts, reference):
    rows, cols = [0, 4, 7, 1], [2, 3, 5, 6, 8, 10, 11]
    P = pairwise_socm_components([texts[i] for i in rows], TokenSets.from_arrays(
        [texts[j] for j in cols]))
    assert P.socm.shape == (4, 7)
    np.testing.assert_allclose(P.socm, reference[np.ix_(rows, cols)], atol=1e-6)
    assert P.spread.shape == (4,) and P.spread_other.shape == (7,)


@pytest.mark.parametrize("working_memory", [1e-4, 0.05])
def test_tiny_working_memory_and_jobs(texts, reference, working_memory):
    S = pairwise_socm(texts, working_memory=working_memory, n_jobs=2)
    np.testing.assert_allclose(S, reference, atol=1e-6)
    assert (S == S.T).all()


def test_torch_path_matches_numpy(texts):
    pytest.importorskip("torch")
    for precision in ("float32", "float64"):
        a = pairwise_socm_components(texts, precision=precision)
        b = pairwise_socm_components(texts, precision=precision, device="cpu")
        np.testing.assert_allclose(b.socm, a.socm, atol=1e-6)
        np.testing.assert_allclose(b.d_sigma, a.d_sigma, atol=1e-6)
    rows = texts[:5]
    np.testing.assert_allclose(pairwise_socm(rows, texts, device="cpu"),
                               pairwise_socm(rows, texts), atol=1e-6)
    np.testing.assert_allclose(pairwise_socm(texts, device="cpu", rank=3),
                               pairwise_socm(texts, rank=3), atol=1e-6)


def test_large_dimension_float32_products():
    # d = 160 with 40-90 tokens: the regime of real encoders (n < d)
    texts = corpus(3, [40, 90, 64], 160, anisotropy=1.0, dtype=np.float32)
    np.testing.assert_allclose(pairwise_socm(texts), ref_matrix(texts), atol=1e-6)


def test_pairwise_bures_squared_raw_and_normalized(texts):
    subset = texts[:6]
    raw = pairwise_bures_squared(subset)
    loop = np.array([[bures_squared(a, b) for b in subset] for a in subset])
    np.testing.assert_allclose(raw, loop, atol=1e-6)
    assert (np.diagonal(raw) == 0).all() and (raw == raw.T).all()
    normalized = pairwise_bures_squared(subset, subset[:2], normalize=True)
    loop = np.array([[bures_squared(a, b, normalize=True) for b in subset[:2]] for a in subset])
    np.testing.assert_allclose(normalized, loop, atol=1e-6)


def test_degenerate_clouds_never_nan():
    # single tokens everywhere: every covariance is 0, so every SOCM is 0
    texts = [np.array([[1.0, 2.0, 3.0]]), np.array([[3.0, -1.0, 0.5]]), np.array([[1, 1, 1.0]])]
    P = pairwise_socm_components(texts)
    assert np.isfinite(P.socm).all() and (P.socm == 0).all()
    assert mean_socm(texts).mean == 0.0
    assert np.isfinite(mean_socm(texts, n_pairs=2, random_state=0).stderr)


# ---------------------------------------------------------------------------------------
# Truncated mode
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def spread_texts():
    # d = 24, up to 30 tokens, two decades of anisotropy: spectra that decay
    return corpus(11, [3, 30, 8, 17, 25, 12, 1, 20, 28, 9], 24, anisotropy=2.0)


@pytest.fixture(scope="module")
def spread_reference(spread_texts):
    return ref_matrix(spread_texts)


@pytest.mark.parametrize(("rank", "tol"), [(1, None), (3, None), (8, None), (None, 0.5),
                                           (None, 0.1), (5, 0.2)])
def test_truncated_bound_holds(spread_texts, spread_reference, rank, tol):
    P = pairwise_socm_components(spread_texts, rank=rank, tol=tol)
    assert not P.exact
    exact = spread_reference
    # the returned values are upper bounds and the exact ones lie within the error bound
    assert (P.socm >= exact - 1e-6).all()
    assert (P.socm - P.socm_error <= exact + 1e-6).all()
    assert (P.socm_error >= 0).all() and (np.diagonal(P.socm) == 0).all()
    assert (P.socm == P.socm.T).all() and (P.socm_error == P.socm_error.T).all()
    np.testing.assert_allclose(P.socm_error, (1 - P.d_mu) * P.d_sigma_error, atol=1e-15)
    if rank is not None:
        assert P.ranks.max() <= rank
    if tol is not None and rank is None:
        # a priori: B^2 error <= 2 tol sqrt(tr_i tr_j)
        limit = 2 * tol * np.sqrt(np.outer(P.spread, P.spread)) / 4
        assert (P.d_sigma_error <= limit + 1e-9).all()


def test_truncated_other_and_full_rank_is_exact(spread_texts, spread_reference):
    rows, cols = spread_texts[:4], spread_texts[4:]
    P = pairwise_socm_components(rows, cols, rank=2)
    exact = spread_reference[:4, 4:]
    assert (P.socm >= exact - 1e-6).all() and (P.socm - P.socm_error <= exact + 1e-6).all()
    # keeping every direction is the exact computation, with a zero error bound
    full = pairwise_socm_components(spread_texts, rank=64)
    np.testing.assert_allclose(full.socm, spread_reference, atol=1e-6)
    assert full.socm_error.max() < 1e-6


def test_truncation_is_tighter_with_more_directions(spread_texts, spread_reference):
    errors = [np.abs(pairwise_socm(spread_texts, rank=k) - spread_reference).max()
              for k in (1, 4, 12)]
    assert errors[0] > errors[1] > errors[2]


# ---------------------------------------------------------------------------------------
# Corpus score
# ---------------------------------------------------------------------------------------
def test_mean_socm_exact(texts, reference):
    result = mean_socm(texts)
    assert isinstance(result, MeanSOCMResult)
    iu = np.triu_indices(len(texts), k=1)
    assert result.exact and result.stderr == 0.0
    assert result.n_pairs == result.n_pairs_total == len(iu[0])
    assert result.n_texts == len(texts)
    assert result.mean == pytest.approx(reference[iu].mean(), abs=1e-6)
    loop = np.array([socm_components(texts[i], texts[j]) for i, j in zip(*iu)])
    assert result.mean_d_mu == pytest.approx(loop[:, 1].mean(), abs=1e-12)
    assert result.mean_d_sigma == pytest.approx(loop[:, 2].mean(), abs=1e-6)
    traces = np.array([np.trace(ref_view(t)[1]) for t in texts])
    assert result.n_trace_violations == int((traces > 2).sum())
    # n_pairs at or above the number of pairs is the exact computation
    assert mean_socm(texts, n_pairs=10**6) == result
    # many small blocks, two workers: the same sums
    small = mean_socm(texts, working_memory=1e-4, n_jobs=2)
    assert small.mean == pytest.approx(result.mean, abs=1e-8)
    assert small.mean_d_sigma == pytest.approx(result.mean_d_sigma, abs=1e-8)


def test_mean_socm_sample_with_fpc(texts, reference):
    n = len(texts)
    total = n * (n - 1) // 2
    almost = mean_socm(texts, n_pairs=total - 1, random_state=3)
    assert not almost.exact and almost.n_pairs == total - 1
    iu = np.triu_indices(n, k=1)
    values = reference[iu]
    # one pair left out: the finite-population correction shrinks the SE to ~ s / N
    assert almost.stderr == pytest.approx(
        math.sqrt(values.var(ddof=1) / (total - 1) * (1 / total)), rel=0.2)
    one = mean_socm(texts, n_pairs=1, random_state=0)
    assert one.n_pairs == 1 and one.stderr == math.inf
    a = mean_socm(texts, n_pairs=20, random_state=np.random.default_rng(5))
    b = mean_socm(texts, n_pairs=20, random_state=np.random.default_rng(5))
    assert a == b


def test_sampled_pairs_are_distinct_and_uniform():
    i, j = pair_from_linear(np.arange(45), 10)
    assert list(zip(i.tolist(), j.tolist())) == [(a, b) for a in range(10) for b in range(a + 1, 10)]
    rng = check_random_state(0)
    i, j = sample_pairs(10**6, 5000, rng)   # 5e11 pairs: never enumerated
    assert (i < j).all() and (j < 10**6).all() and (i >= 0).all()
    assert len(set(zip(i.tolist(), j.tolist()))) == 5000
    # uniform over the 45 pairs of 10 texts: each pair drawn ~ k/45 times over many draws
    counts = np.zeros((10, 10))
    for seed in range(400):
        i, j = sample_pairs(10, 9, check_random_state(seed))
        counts[i, j] += 1
    drawn = counts[np.triu_indices(10, k=1)]
    assert drawn.sum() == 400 * 9 and drawn.min() > 50 and drawn.max() < 110  # mean 80


def test_sampled_mean_covers_exact_mean():
    texts = corpus(5, [3 + (k * 7) % 11 for k in range(30)], 6, anisotropy=1.0)
    exact = mean_socm(texts).mean
    means, covered = [], 0
    for seed in range(120):
        r = mean_socm(texts, n_pairs=60, random_state=seed)
        means.append(r.mean)
        covered += abs(r.mean - exact) <= 2 * r.stderr
    assert covered / 120 >= 0.88
    # unbiased: the average of the estimates is close to the exact mean
    assert abs(np.mean(means) - exact) < 3 * np.std(means) / math.sqrt(120)


# ---------------------------------------------------------------------------------------
# Concentration
# ---------------------------------------------------------------------------------------
def test_concentration_matches_brute_force(texts):
    c = concentration(texts, working_memory=1e-3)   # many chunks
    assert isinstance(c, Concentration)
    spread = [np.trace(ref_view(t)[1]) for t in texts]
    np.testing.assert_allclose(c.spread, spread, rtol=1e-9, atol=1e-12)
    cosine = []
    for t in texts:
        unit = t.astype(np.float64) / np.linalg.norm(t.astype(np.float64), axis=1, keepdims=True)
        cosine.append((unit @ unit.T).mean())
    np.testing.assert_allclose(c.mean_cosine, cosine, rtol=1e-9)
    assert c.n_tokens.tolist() == SIZES
    np.testing.assert_allclose(c.spread, pairwise_socm_components(texts).spread, rtol=1e-9)
    assert c.mean_spread == pytest.approx(np.mean(spread))
    assert c.median_spread == pytest.approx(np.median(spread))
    assert c.average_cosine == pytest.approx(np.mean(cosine))
    assert c.n_trace_violations == int((np.array(spread) > 2).sum())
    single = concentration([np.array([[3.0, 4.0]])])
    assert single.spread[0] == 0.0 and single.mean_cosine[0] == pytest.approx(1.0)


def test_concentration_to_frame(texts):
    pd = pytest.importorskip("pandas")
    frame = concentration(texts).to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["n_tokens", "spread", "mean_cosine"]
    assert len(frame) == len(texts)


# ---------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------
def test_zero_mean_is_named():
    A = np.array([[1.0, 2.0], [-1.0, -2.0]])     # mean token is the zero vector
    good = np.array([[1.0, 1.0]])
    with pytest.raises(ValueError, match="mean token of A"):
        socm(A, good)
    with pytest.raises(ValueError, match="mean token of B"):
        socm_components(good, A)
    with pytest.raises(ValueError, match=r"tokens\[2\] \(text 2\)"):
        pairwise_socm([good, good, A])
    with pytest.raises(ValueError, match=r"other\[1\] \(text 1\)"):
        pairwise_socm([good], [good, A])
    with pytest.raises(ValueError, match=r"tokens\[1\] \(text 1\)"):
        mean_socm([good, A])
    with pytest.raises(ValueError, match=r"tokens\[0\] \(text 0\)"):
        concentration([A])


def test_bad_clouds():
    good = np.ones((3, 4))
    with pytest.raises(ValueError, match="finite"):
        socm(np.array([[np.nan, 1.0, 1.0, 1.0]]), good)
    with pytest.raises(ValueError, match="dimension"):
        socm(good, np.ones((2, 5)))
    with pytest.raises(ValueError, match="dimension"):
        pairwise_socm([good], [np.ones((2, 5))])
    with pytest.raises(ValueError, match="at least one token"):
        socm(np.ones((0, 4)), good)
    with pytest.raises(ValueError, match=r"tokens\[1\]"):
        pairwise_socm([good, np.array([[1.0, np.inf, 0, 0]])])
    with pytest.raises(TypeError):
        socm("text", good)
    with pytest.raises(ValueError, match="zero vector"):
        concentration([np.array([[1.0, 1.0], [0.0, 0.0], [2.0, 1.0]])])
    with pytest.raises(ValueError, match=r"Token 1 of tokens\[0\]"):
        concentration([np.array([[1.0, 1.0], [0.0, 0.0], [2.0, 1.0]])])


def test_bad_parameters():
    texts = [np.ones((2, 3)) + np.eye(2, 3), np.ones((3, 3)) + np.eye(3)]
    with pytest.raises(ValueError, match="at least 2 texts"):
        mean_socm(texts[:1])
    with pytest.raises(ValueError, match="n_pairs"):
        mean_socm(texts, n_pairs=0)
    with pytest.raises(TypeError, match="n_pairs"):
        mean_socm(texts, n_pairs=2.5)
    with pytest.raises(TypeError, match="random_state"):
        mean_socm(texts + texts, n_pairs=2, random_state="seed")
    with pytest.raises(ValueError, match="rank"):
        pairwise_socm(texts, rank=0)
    with pytest.raises(ValueError, match="tol"):
        pairwise_socm(texts, tol=1.5)
    with pytest.raises(ValueError, match="precision"):
        pairwise_socm(texts, precision="float16")
    with pytest.raises(ValueError, match="working_memory"):
        pairwise_socm(texts, working_memory=-1)
    with pytest.raises(ValueError, match="device"):
        pairwise_socm(texts, device="tpu")
    with pytest.raises(TypeError, match="normalize"):
        pairwise_bures_squared(texts, normalize="yes")


def test_cuda_request_without_gpu():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ValueError, match="CUDA"):
        pairwise_socm([np.ones((2, 3)) + np.eye(2, 3)] * 2, device="cuda")


def test_engine_blocks_cover_every_text():
    counts = np.array([5, 1, 9, 3, 3, 7, 2])
    blocks = _pairwise._text_blocks(np.argsort(counts, kind="stable"), counts, max_rows=10)
    assert sorted(np.concatenate(blocks).tolist()) == list(range(7))
    for block in blocks:
        assert block.size == 1 or block.size * counts[block].max() <= 10
