"""rescale_spread and swap_spread: the exact relations they promise, against independent code."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skpool import MeanPooler, TokenSets, concentration, socm_components
from skpool.analysis import rescale_spread, swap_spread
from skpool.metrics import pairwise_socm_components


def corpus(seed=0, n_texts=6, d=5, dtype=np.float64):
    """Clouds of different lengths, spreads and mean norms (offset so no mean is near 0)."""
    rng = np.random.default_rng(seed)
    clouds = []
    for i in range(n_texts):
        n = 2 + (i * 3) % 7
        centre = rng.normal(size=d) + 3.0 * (1 + i % 3)
        clouds.append((centre + rng.normal(size=(n, d)) * (0.3 + 0.4 * i)).astype(dtype))
    return clouds


def components_matrix(clouds):
    """(d_mu, d_sigma, socm) of every pair, one pair at a time (float64 socm_components)."""
    n = len(clouds)
    out = np.zeros((3, n, n))
    for a in range(n):
        for b in range(n):
            if a != b:
                s, d_mu, d_sigma = socm_components(clouds[a], clouds[b])
                out[:, a, b] = d_mu, d_sigma, s
    return out


# ---------------------------------------------------------------------------------------
# rescale_spread
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("factor", [0.0, 0.5, 1.0, 2.0, 3.7])
def test_rescale_keeps_means_and_scales_socm_by_f_squared(factor):
    clouds = corpus(1)
    moved = rescale_spread(clouds, factor)
    assert isinstance(moved, TokenSets)
    assert moved.lengths.tolist() == [len(c) for c in clouds]
    for original, new in zip(clouds, moved):
        m = original.mean(axis=0)
        np.testing.assert_allclose(new.mean(axis=0), m, rtol=0, atol=1e-6 * np.abs(m).max())
        # the tokens themselves: m + f (x - m), written out
        np.testing.assert_allclose(new, m + factor * (original - m), rtol=1e-12, atol=1e-12)
    d_mu, d_sigma, s = components_matrix(clouds)
    d_mu2, d_sigma2, s2 = components_matrix(list(moved))
    np.testing.assert_allclose(d_mu2, d_mu, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(d_sigma2, factor ** 2 * d_sigma, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(s2, factor ** 2 * s, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(concentration(moved).spread,
                               factor ** 2 * concentration(clouds).spread, rtol=1e-9, atol=1e-12)


def test_rescale_relation_holds_for_the_corpus_metric():
    clouds = corpus(2, n_texts=8)
    before = pairwise_socm_components(clouds, precision="float64", n_jobs=1)
    after = pairwise_socm_components(rescale_spread(clouds, 2.0), precision="float64", n_jobs=1)
    np.testing.assert_allclose(after.d_mu, before.d_mu, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(after.d_sigma, 4.0 * before.d_sigma, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(after.socm, 4.0 * before.socm, rtol=1e-6, atol=1e-12)


def test_rescale_float32_stays_float32_with_means_kept():
    clouds = corpus(3, dtype=np.float32)
    moved = rescale_spread(TokenSets.from_arrays(clouds), 0.5)
    assert moved.dtype == np.float32
    np.testing.assert_allclose(MeanPooler().fit_transform(moved),
                               MeanPooler().fit_transform(clouds), rtol=1e-6, atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(factor=st.floats(0.05, 20.0), seed=st.integers(0, 10_000))
def test_rescale_property(factor, seed):
    clouds = corpus(seed, n_texts=3, d=4)
    d_mu, d_sigma, s = components_matrix(clouds)
    d_mu2, d_sigma2, s2 = components_matrix(list(rescale_spread(clouds, factor)))
    np.testing.assert_allclose(d_mu2, d_mu, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(s2, factor ** 2 * s, rtol=1e-6, atol=1e-12)


def test_rescale_keeps_truncation_flags():
    tokens = TokenSets.from_arrays(corpus(4, n_texts=3))
    flagged = TokenSets(tokens.data, tokens.offsets, truncated=np.array([True, False, True]))
    assert rescale_spread(flagged, 2.0).truncated.tolist() == [True, False, True]


@pytest.mark.parametrize("factor, error, words", [
    (-1.0, ValueError, r"'factor' parameter of rescale_spread must be a float in the range "
                       r"\[0.0, inf\). Got -1.0"),
    (float("nan"), ValueError, r"'factor' .* Got nan"),
    (float("inf"), ValueError, r"'factor' .* Got inf"),
    ("2", TypeError, r"'factor' .* Got '2'"),
    (True, TypeError, r"'factor' .* Got True"),
])
def test_rescale_bad_factor(factor, error, words):
    with pytest.raises(error, match=words):
        rescale_spread(corpus(), factor)


def test_rescale_overflow_names_the_text():
    clouds = [np.ones((2, 3)), np.array([[1e308, 0, 0], [-1e308, 1, 1]])]
    with pytest.raises(ValueError, match=r"tokens\[1\] \(text 1\).*not finite"):
        rescale_spread(clouds, 10.0)


# ---------------------------------------------------------------------------------------
# swap_spread
# ---------------------------------------------------------------------------------------
def slow_swap(clouds, donors):
    """The definition, one text at a time, with no shared code."""
    out = []
    for i, j in enumerate(donors):
        mi, mj = clouds[i].mean(axis=0), clouds[j].mean(axis=0)
        out.append(mi + np.linalg.norm(mi) / np.linalg.norm(mj) * (clouds[j] - mj))
    return out


def find_donors(clouds, swapped):
    """The donor of each swapped text: the original whose normalized deviations it holds."""
    donors = []
    for i, cloud in enumerate(swapped):
        mi = cloud.mean(axis=0)
        deviations = (cloud - mi) / np.linalg.norm(mi)
        found = [j for j, c in enumerate(clouds) if len(c) == len(cloud) and np.allclose(
            deviations, (c - c.mean(axis=0)) / np.linalg.norm(c.mean(axis=0)), atol=1e-10)]
        assert len(found) == 1, (i, found)
        donors.append(found[0])
    return np.array(donors)


def test_swap_keeps_means_and_mean_pooled_vectors():
    clouds = corpus(5, n_texts=7)
    swapped = swap_spread(clouds, random_state=0)
    assert len(swapped) == len(clouds)
    for original, new in zip(clouds, swapped):
        m = original.mean(axis=0)
        np.testing.assert_allclose(new.mean(axis=0), m, rtol=0, atol=1e-6 * np.abs(m).max())
    np.testing.assert_allclose(MeanPooler().fit_transform(swapped),
                               MeanPooler().fit_transform(clouds), rtol=1e-12, atol=1e-12)


def test_swap_equals_the_definition_and_permutes_d_sigma():
    clouds = corpus(6, n_texts=6)
    swapped = swap_spread(clouds, random_state=3)
    donors = find_donors(clouds, swapped)
    # one cycle through every text: a permutation, no text its own donor
    assert sorted(donors.tolist()) == list(range(len(clouds)))
    assert (donors != np.arange(len(clouds))).all()
    assert swapped.lengths.tolist() == [len(clouds[j]) for j in donors]
    for new, expected in zip(swapped, slow_swap(clouds, donors)):
        np.testing.assert_allclose(new, expected, rtol=1e-12, atol=1e-12)
    d_mu, d_sigma, _ = components_matrix(clouds)
    d_mu2, d_sigma2, s2 = components_matrix(list(swapped))
    np.testing.assert_allclose(d_mu2, d_mu, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(d_sigma2, d_sigma[np.ix_(donors, donors)], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(s2, (1 - d_mu) * d_sigma[np.ix_(donors, donors)], rtol=1e-6,
                               atol=1e-12)
    # the same normalized spreads, reassigned
    np.testing.assert_allclose(concentration(swapped).spread,
                               concentration(clouds).spread[donors], rtol=1e-9)


def test_swap_is_seeded_and_differs_between_seeds():
    clouds = corpus(7, n_texts=9)
    assert swap_spread(clouds, random_state=1) == swap_spread(clouds, random_state=1)
    seeds = {tuple(find_donors(clouds, swap_spread(clouds, random_state=s))) for s in range(6)}
    assert len(seeds) > 1


def test_swap_two_texts_exchange():
    clouds = corpus(8, n_texts=2)
    assert find_donors(clouds, swap_spread(clouds, random_state=0)).tolist() == [1, 0]


def test_swap_float32_keeps_dtype_and_means():
    clouds = corpus(9, dtype=np.float32)
    swapped = swap_spread(clouds, random_state=0)
    assert swapped.dtype == np.float32
    np.testing.assert_allclose(MeanPooler().fit_transform(swapped),
                               MeanPooler().fit_transform(clouds), rtol=1e-6, atol=1e-5)


def test_swap_keeps_each_texts_own_truncation_flag():
    tokens = TokenSets.from_arrays(corpus(10, n_texts=3))
    flagged = TokenSets(tokens.data, tokens.offsets, truncated=np.array([True, False, False]))
    assert swap_spread(flagged, random_state=0).truncated.tolist() == [True, False, False]


def test_swap_needs_two_texts():
    with pytest.raises(ValueError, match="at least two texts.*Received 1"):
        swap_spread(corpus(n_texts=1))


def test_swap_names_a_text_without_direction():
    clouds = corpus(11, n_texts=3)
    clouds[2] = np.array([[1.0, 2.0, 0.0, 0.0, 0.0], [-1.0, -2.0, 0.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match=r"tokens\[2\] \(text 2\).*no direction"):
        swap_spread(clouds, random_state=0)


def test_swap_bad_random_state():
    with pytest.raises((TypeError, ValueError), match="random_state"):
        swap_spread(corpus(), random_state="seed")
