"""Tests of skpool.ot against closed forms, POT called directly and slow references."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning

ot = pytest.importorskip("ot")

from skpool import TokenSets  # noqa: E402
from skpool.ot import W2Comparison, compare_w2, exact_w2, gaussian_w2, pairwise_w2  # noqa: E402
from skpool.ot import _compare  # noqa: E402
from skpool._engine.sampling import pair_from_linear  # noqa: E402


# -- independent references -----------------------------------------------------------------

def pot_w2(A, B, a=None, b=None):
    """W2 by calling POT on the raw (uncentred) clouds, as the definition writes it."""
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    a = np.full(len(A), 1 / len(A)) if a is None else np.asarray(a, float) / np.sum(a)
    b = np.full(len(B), 1 / len(B)) if b is None else np.asarray(b, float) / np.sum(b)
    return float(np.sqrt(max(ot.emd2(a, b, ot.dist(A, B, metric="sqeuclidean")), 0.0)))


def psd_sqrt(S):
    w, V = np.linalg.eigh(S)
    return (V * np.sqrt(np.clip(w, 0, None))) @ V.T


def slow_gaussian_w2(A, B, a=None, b=None):
    """d x d covariances and eigen-decompositions: the textbook formula."""
    A = np.asarray(A, float)
    B = np.asarray(B, float)
    a = np.full(len(A), 1 / len(A)) if a is None else np.asarray(a, float) / np.sum(a)
    b = np.full(len(B), 1 / len(B)) if b is None else np.asarray(b, float) / np.sum(b)
    m1, m2 = a @ A, b @ B
    S1 = (A - m1).T @ ((A - m1) * a[:, None])
    S2 = (B - m2).T @ ((B - m2) * b[:, None])
    R = psd_sqrt(S1)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(R @ S2 @ R), 0, None)).sum()
    return float(np.sqrt(max(np.sum((m1 - m2) ** 2) + np.trace(S1) + np.trace(S2) - 2 * cross,
                             0.0)))


def clouds_of(rng, sizes, d, shift=0.0):
    return [rng.normal(size=(n, d)) + shift * rng.normal(size=d) for n in sizes]


# -- closed forms -------------------------------------------------------------------------------

@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("weights", [None, "norm"])
def test_distance_to_itself_is_exactly_zero(normalize, weights):
    A = np.random.default_rng(0).normal(size=(7, 5)).astype(np.float32) + 1.0
    assert exact_w2(A, A.copy(), normalize=normalize, weights=weights) == 0.0
    assert gaussian_w2(A, A.copy(), normalize=normalize, weights=weights) == 0.0


@pytest.mark.parametrize("n, d", [(6, 3), (4, 10)])
def test_translation_gives_the_norm_of_the_shift(n, d):
    rng = np.random.default_rng(1)
    A = rng.normal(size=(n, d))
    v = rng.normal(size=d) * 3
    expected = np.linalg.norm(v)
    assert exact_w2(A, A + v) == pytest.approx(expected, rel=1e-12)
    assert gaussian_w2(A, A + v) == pytest.approx(expected, rel=1e-12)
    # Same covariance, so the Gaussian formula is exact here.
    assert gaussian_w2(A, A + v) == pytest.approx(exact_w2(A, A + v), rel=1e-12)


def test_single_points_give_their_distance():
    x, y = np.array([[1.0, 2.0, 2.0]]), np.array([[0.0, 0.0, 0.0]])
    assert exact_w2(x, y) == pytest.approx(3.0, rel=1e-15)
    assert gaussian_w2(x, y) == pytest.approx(3.0, rel=1e-15)


def test_point_against_a_cloud():
    # Only one coupling exists: W2^2 = mean_k ||x_k - y||^2 = ||m - y||^2 + tr(Sigma).
    rng = np.random.default_rng(2)
    A, y = rng.normal(size=(9, 4)), rng.normal(size=(1, 4))
    expected = np.sqrt(np.mean(np.sum((A - y) ** 2, axis=1)))
    assert exact_w2(A, y) == pytest.approx(expected, rel=1e-12)
    assert gaussian_w2(A, y) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_one_dimensional_clouds_match_sorted_quantiles(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=25), rng.exponential(size=25) * 2
    expected = np.sqrt(np.mean((np.sort(a) - np.sort(b)) ** 2))
    assert exact_w2(a[:, None], b[:, None]) == pytest.approx(expected, rel=1e-10)
    assert gaussian_w2(a[:, None], b[:, None]) <= expected * (1 + 1e-12)


@pytest.mark.parametrize("sizes, d", [((13, 21), 5), ((3, 8), 12), ((1, 6), 3)])
def test_exact_agrees_with_pot_called_directly(sizes, d):
    rng = np.random.default_rng(3)
    A, B = clouds_of(rng, sizes, d, shift=4.0)
    assert exact_w2(A, B) == pytest.approx(pot_w2(A, B), rel=1e-10)
    assert exact_w2(A.astype(np.float32), B.astype(np.float32)) == pytest.approx(
        pot_w2(A.astype(np.float32), B.astype(np.float32)), rel=1e-8)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n1=st.integers(1, 12), n2=st.integers(1, 12),
       d=st.integers(1, 6), scale=st.floats(0.01, 100.0))
def test_gelbrich_bound_on_random_clouds(seed, n1, n2, d, scale):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n1, d)) * scale
    B = rng.standard_t(3, size=(n2, d)) * scale + rng.normal(size=d)
    exact, gauss = exact_w2(A, B), gaussian_w2(A, B)
    assert np.isfinite(exact) and np.isfinite(gauss)
    assert gauss <= exact * (1 + 1e-9) + 1e-12 * scale
    assert exact == pytest.approx(pot_w2(A, B), rel=1e-9, abs=1e-12 * scale)


@pytest.mark.parametrize("n, d", [(30, 4), (5, 9)])
def test_affine_image_under_symmetric_psd_map_is_an_equality_case(n, d):
    # x -> S x + v with S symmetric PSD is the gradient of a convex function, so
    # it is the optimal map for the clouds and for their Gaussians alike.
    rng = np.random.default_rng(4)
    A = rng.normal(size=(n, d)) + 2.0
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    S = (Q * rng.uniform(0.0, 3.0, size=d)) @ Q.T
    S[:, :] = (S + S.T) / 2
    v = rng.normal(size=d)
    B = A @ S + v
    expected = np.sqrt(np.mean(np.sum((A - B) ** 2, axis=1)))
    assert exact_w2(A, B) == pytest.approx(expected, rel=1e-9)
    assert gaussian_w2(A, B) == pytest.approx(expected, rel=1e-9)
    # Shuffling B's tokens changes nothing: the measures are the same.
    assert exact_w2(A, B[rng.permutation(n)]) == pytest.approx(expected, rel=1e-9)


def test_gaussian_agrees_with_pot_on_full_rank_covariances():
    rng = np.random.default_rng(5)
    A, B = clouds_of(rng, (40, 55), 6, shift=1.0)
    pot_value = ot.gaussian.bures_wasserstein_distance(
        A.mean(0), B.mean(0), np.cov(A.T, bias=True), np.cov(B.T, bias=True))
    assert gaussian_w2(A, B) == pytest.approx(float(pot_value), rel=1e-8)
    assert gaussian_w2(A, B) == pytest.approx(slow_gaussian_w2(A, B), rel=1e-10)


def test_gaussian_stays_finite_where_pot_fails():
    rng = np.random.default_rng(6)
    A, B = clouds_of(rng, (3, 4), 20, shift=1.0)          # n < d: singular covariances
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            pot_value = float(ot.gaussian.bures_wasserstein_distance(
                A.mean(0), B.mean(0), np.cov(A.T, bias=True), np.cov(B.T, bias=True)))
        except np.linalg.LinAlgError:
            pot_value = np.nan
    value = gaussian_w2(A, B)
    assert np.isfinite(value)
    assert value == pytest.approx(slow_gaussian_w2(A, B), rel=1e-6)
    assert value <= exact_w2(A, B)
    if np.isfinite(pot_value):      # POT may also be merely inaccurate here
        assert abs(pot_value - value) >= 0.0


def test_normalize_divides_each_cloud_by_the_norm_of_its_mean():
    rng = np.random.default_rng(7)
    A, B = clouds_of(rng, (8, 11), 5, shift=3.0)
    An, Bn = A / np.linalg.norm(A.mean(0)), B / np.linalg.norm(B.mean(0))
    assert exact_w2(A, B, normalize=True) == pytest.approx(pot_w2(An, Bn), rel=1e-10)
    assert gaussian_w2(A, B, normalize=True) == pytest.approx(slow_gaussian_w2(An, Bn),
                                                             rel=1e-8)
    # Scale invariance of the normalized view.
    assert exact_w2(A * 7.0, B, normalize=True) == pytest.approx(
        exact_w2(A, B, normalize=True), rel=1e-10)


# -- solvers and weights ----------------------------------------------------------------------

def test_sinkhorn_approaches_emd_for_small_reg():
    rng = np.random.default_rng(8)
    A, B = clouds_of(rng, (15, 20), 3, shift=1.0)
    exact = exact_w2(A, B)
    # Converged entropic plans are feasible, so their cost is at least W2^2
    # and falls towards it with reg.
    values = [exact_w2(A, B, method="sinkhorn", reg=reg) for reg in (1.0, 0.3, 0.1)]
    assert values[0] > values[1] > values[2] >= exact
    assert values[2] == pytest.approx(exact, rel=1e-3)


def test_unconverged_solves_warn_with_pots_reason():
    rng = np.random.default_rng(9)
    A, B = clouds_of(rng, (30, 30), 4)
    with pytest.warns(ConvergenceWarning, match="numItermax reached"):
        exact_w2(A, B, numItermax=3)
    with pytest.warns(ConvergenceWarning, match="Sinkhorn did not converge"):
        exact_w2(A, B, method="sinkhorn", reg=1e-3, numItermax=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exact_w2(A, B)              # converged: silent


def test_explicit_weights_match_pot_and_the_slow_gaussian():
    rng = np.random.default_rng(10)
    A, B = clouds_of(rng, (9, 14), 4, shift=2.0)
    a, b = rng.uniform(0.1, 2.0, size=9), rng.uniform(0.1, 2.0, size=14)
    assert exact_w2(A, B, weights=(a, b)) == pytest.approx(pot_w2(A, B, a, b), rel=1e-10)
    assert gaussian_w2(A, B, weights=(a, b)) == pytest.approx(
        slow_gaussian_w2(A, B, a, b), rel=1e-8)
    assert gaussian_w2(A, B, weights=(a, b)) <= exact_w2(A, B, weights=(a, b))


def test_zero_mass_tokens_are_as_good_as_absent():
    rng = np.random.default_rng(11)
    A, B = clouds_of(rng, (10, 7), 3)
    a = np.ones(10)
    a[[2, 5]] = 0.0
    keep = a > 0
    assert exact_w2(A, B, weights=(a, np.ones(7))) == pytest.approx(exact_w2(A[keep], B),
                                                                    rel=1e-10)
    assert gaussian_w2(A, B, weights=(a, np.ones(7))) == pytest.approx(
        gaussian_w2(A[keep], B), rel=1e-10)


def test_norm_weights_are_proportional_to_token_norms():
    rng = np.random.default_rng(12)
    A, B = clouds_of(rng, (6, 8), 5, shift=1.0)
    a, b = np.linalg.norm(A, axis=1), np.linalg.norm(B, axis=1)
    assert exact_w2(A, B, weights="norm") == pytest.approx(exact_w2(A, B, weights=(a, b)),
                                                           rel=1e-12)
    assert gaussian_w2(A, B, weights="norm") == pytest.approx(
        gaussian_w2(A, B, weights=(a, b)), rel=1e-12)
    assert exact_w2(A, B, weights="uniform") == exact_w2(A, B)


# -- pairwise ---------------------------------------------------------------------------------

@pytest.fixture
def corpus():
    rng = np.random.default_rng(13)
    sizes = rng.integers(1, 15, size=7)
    return [rng.normal(size=(n, 6)).astype(np.float32) + rng.normal(size=6) for n in sizes]


@pytest.mark.parametrize("kind, single", [("exact", exact_w2), ("gaussian", gaussian_w2)])
@pytest.mark.parametrize("options", [{}, {"normalize": True}, {"weights": "norm"}])
def test_pairwise_matches_a_loop(corpus, kind, single, options):
    D = pairwise_w2(corpus, kind=kind, **options)
    loop = np.array([[single(x, y, **options) for y in corpus] for x in corpus])
    assert D.dtype == np.float64 and D.shape == (7, 7)
    np.testing.assert_allclose(D, loop, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(D, D.T)
    np.testing.assert_array_equal(np.diag(D), 0.0)


def test_duplicate_texts_are_at_distance_exactly_zero(corpus):
    clouds = corpus[:3] + [corpus[1].copy()]
    for kind in ("exact", "gaussian"):
        assert pairwise_w2(clouds, kind=kind)[1, 3] == 0.0
    row = compare_w2(clouds, [(1, 3)]).table.iloc[0]
    # exact zeros by construction: the same measure is detected, not computed
    assert (row["exact_w2"], row["gaussian_w2"], row["ratio"]) == (0.0, 0.0, 1.0)
    assert (row["mean_term"], row["bures_term"], row["centred_term"]) == (0.0, 0.0, 0.0)


def test_the_same_cloud_in_another_token_order_is_the_same_measure(corpus):
    A = corpus[2]
    shuffled = A[np.random.default_rng(0).permutation(len(A))]
    for single in (exact_w2, gaussian_w2):
        assert single(A, A[::-1]) == 0.0
        assert single(A, shuffled, weights="norm") == 0.0
    clouds = [A, corpus[0], A[::-1]]
    for kind in ("exact", "gaussian"):
        assert pairwise_w2(clouds, kind=kind)[0, 2] == 0.0
    row = compare_w2(clouds, [(0, 2)]).table.iloc[0]
    assert (row["exact_w2"], row["gaussian_w2"], row["ratio"]) == (0.0, 0.0, 1.0)
    # masses travel with their points: other masses are another measure
    masses = np.arange(1.0, len(A) + 1)
    assert exact_w2(A, A[::-1], weights=(masses, masses)) > 0.0
    assert exact_w2(A, A[::-1], weights=(masses, masses[::-1])) == 0.0


def test_pairwise_gaussian_engine_on_larger_clouds():
    # The shared blocked engine (eigenvalues of squared cross-Grams) against one
    # SVD per pair, with clouds both shorter and longer than d.
    rng = np.random.default_rng(16)
    clouds = [rng.normal(size=(n, 40)) * rng.uniform(0.5, 2, size=40) + 1.0
              for n in (5, 30, 60, 90)]
    D = pairwise_w2(clouds)
    loop = np.array([[gaussian_w2(x, y) for y in clouds] for x in clouds])
    np.testing.assert_allclose(D, loop, rtol=1e-7)


@pytest.mark.parametrize("kind", ["exact", "gaussian"])
def test_pairwise_between_two_corpora(corpus, kind):
    train, test = TokenSets.from_arrays(corpus[:4]), corpus[4:]
    D = pairwise_w2(test, train, kind=kind)
    single = exact_w2 if kind == "exact" else gaussian_w2
    loop = np.array([[single(x, y) for y in train] for x in test])
    assert D.shape == (3, 4)
    np.testing.assert_allclose(D, loop, rtol=1e-9, atol=1e-12)


def test_pairwise_in_parallel_gives_the_same_matrix(corpus):
    one = pairwise_w2(corpus, kind="exact", n_jobs=1)
    np.testing.assert_allclose(pairwise_w2(corpus, kind="exact", n_jobs=2), one, rtol=1e-12)
    np.testing.assert_allclose(pairwise_w2(corpus, n_jobs=2), pairwise_w2(corpus), rtol=1e-12)
    # Gelbrich, entry by entry.
    assert (pairwise_w2(corpus) <= one * (1 + 1e-9) + 1e-12).all()


def test_pairwise_warns_once_naming_unconverged_pairs():
    rng = np.random.default_rng(14)
    clouds = clouds_of(rng, (30, 30, 30), 3)
    with pytest.warns(ConvergenceWarning, match=r"3 pair\(s\) \(0, 1\), \(0, 2\), \(1, 2\)"):
        pairwise_w2(clouds, kind="exact", numItermax=3, n_jobs=2)


def test_pairwise_sinkhorn_matches_the_single_pair_function(corpus):
    D = pairwise_w2(corpus[:3], kind="exact", method="sinkhorn", reg=0.5)
    assert D[0, 1] == pytest.approx(exact_w2(corpus[0], corpus[1], method="sinkhorn",
                                             reg=0.5), rel=1e-12)


def _labelled_clouds(rng, n_per_class=10):
    clouds, labels = [], []
    for label in (0, 1):
        spread = np.full(5, 0.3)
        spread[label] = 3.0              # class = the axis the tokens spread along
        for _ in range(n_per_class):
            clouds.append(rng.normal(size=(rng.integers(15, 25), 5)) * spread)
            labels.append(label)
    return clouds, np.array(labels)


@pytest.mark.parametrize("kind", ["gaussian", "exact"])
def test_matrices_work_as_sklearn_precomputed_metrics_and_kernels(kind):
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.svm import SVC

    rng = np.random.default_rng(15)
    train, y_train = _labelled_clouds(rng)
    test, y_test = _labelled_clouds(rng)
    # Same means, different shapes: only the second-order part separates them.
    D_train = pairwise_w2(train, kind=kind)
    D_test = pairwise_w2(test, train, kind=kind)
    knn = KNeighborsClassifier(n_neighbors=3, metric="precomputed").fit(D_train, y_train)
    assert knn.score(D_test, y_test) == 1.0
    gamma = 1.0 / np.median(D_train[D_train > 0] ** 2)
    svc = SVC(kernel="precomputed").fit(np.exp(-gamma * D_train ** 2), y_train)
    assert svc.score(np.exp(-gamma * D_test ** 2), y_test) == 1.0


# -- compare_w2 ------------------------------------------------------------------------------

def test_compare_table_and_summary(corpus):
    from scipy.stats import spearmanr

    result = compare_w2(corpus, n_jobs=2)
    table = result.table
    assert isinstance(result, W2Comparison)
    assert list(table.columns) == ["i", "j", "n_i", "n_j", "gaussian_w2", "exact_w2", "ratio",
                                   "mean_term", "bures_term", "centred_term"]
    assert result.n_pairs == len(table) == 21
    assert (table["i"] < table["j"]).all()
    exact = pairwise_w2(corpus, kind="exact")
    gauss = pairwise_w2(corpus)
    np.testing.assert_allclose(table["exact_w2"], exact[table["i"], table["j"]], rtol=1e-10)
    np.testing.assert_allclose(table["gaussian_w2"], gauss[table["i"], table["j"]], rtol=1e-10)
    np.testing.assert_allclose(table["gaussian_w2"] ** 2, table["mean_term"] + table["bures_term"],
                               rtol=1e-12)
    np.testing.assert_allclose(table["exact_w2"] ** 2, table["mean_term"] + table["centred_term"],
                               rtol=1e-12)
    np.testing.assert_allclose(table["ratio"], table["gaussian_w2"] / table["exact_w2"])
    np.testing.assert_array_equal(table["n_i"], [len(corpus[i]) for i in table["i"]])
    assert result.n_gelbrich_violations == 0
    assert (table["ratio"] <= 1 + 1e-9).all()
    assert result.median_ratio == pytest.approx(np.median(table["ratio"]))
    assert result.spearman == pytest.approx(
        spearmanr(table["gaussian_w2"], table["exact_w2"]).statistic)
    assert "21 pairs" in result.summary() and "violations 0" in result.summary()
    assert "n_pairs=21" in repr(result)


def test_compare_random_pairs_are_distinct_and_reproducible(corpus):
    first = compare_w2(corpus, 8, random_state=0).table
    again = compare_w2(corpus, 8, random_state=0).table
    assert len(first) == 8
    assert len({(i, j) for i, j in zip(first["i"], first["j"])}) == 8
    assert (first["i"] < first["j"]).all()
    np.testing.assert_array_equal(first[["i", "j"]], again[["i", "j"]])
    everything = compare_w2(corpus, 21, random_state=1).table
    assert len(everything) == 21


def test_compare_given_pairs(corpus):
    result = compare_w2(corpus, [(3, 1), (0, 6)])
    assert result.table[["i", "j"]].values.tolist() == [[3, 1], [0, 6]]
    assert result.table["exact_w2"][0] == pytest.approx(exact_w2(corpus[3], corpus[1]),
                                                        rel=1e-10)


@pytest.mark.parametrize("n", [2, 3, 7, 40])
def test_linear_pair_index_matches_triu_indices(n):
    i, j = pair_from_linear(np.arange(n * (n - 1) // 2), n)
    ti, tj = np.triu_indices(n, k=1)
    np.testing.assert_array_equal(i, ti)
    np.testing.assert_array_equal(j, tj)


def test_a_gelbrich_violation_is_loud(corpus, monkeypatch):
    real = _compare.bures_sq

    def broken(corpus, pairs, **kwargs):
        values = real(corpus, pairs, **kwargs)
        values[0] += 100.0         # pretend the Gaussian route overshot on pair 0
        return values

    monkeypatch.setattr(_compare, "bures_sq", broken)
    with pytest.warns(RuntimeWarning,
                      match=r"Gelbrich bound violated for 1 of 21 pairs .*\(0, 1\)"):
        result = compare_w2(corpus)
    assert result.n_gelbrich_violations == 1


def test_compare_without_pandas_says_how_to_install(corpus, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="pip install pandas"):
        compare_w2(corpus)


# -- plotting ---------------------------------------------------------------------------------

def test_plot_w2_comparison_saves_by_extension(corpus, tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from skpool.plotting import plot_w2_comparison

    result = compare_w2(corpus)
    figure = plot_w2_comparison(result, path=tmp_path / "w2.png")
    assert (tmp_path / "w2.png").read_bytes()[:4] == b"\x89PNG"
    ax = figure.axes[0]
    x, y = ax.collections[0].get_offsets().T
    np.testing.assert_allclose(x, result.table["exact_w2"])
    np.testing.assert_allclose(y, result.table["gaussian_w2"])
    line = ax.lines[0]
    np.testing.assert_allclose(line.get_xdata(), line.get_ydata())     # the y = x line
    plt.close(figure)

    figure, axes = plt.subplots(1, 2)
    assert plot_w2_comparison(result.table, ax=axes[1], path=tmp_path / "w2.svg") is figure
    assert (tmp_path / "w2.svg").read_text().lstrip().startswith("<?xml")
    with pytest.raises(ValueError, match=r"\.png"):
        plot_w2_comparison(result, path=tmp_path / "w2.docx")
    with pytest.raises(ValueError, match="exact_w2"):
        plot_w2_comparison({"gaussian_w2": [1.0]})
    plt.close("all")


# -- bad input --------------------------------------------------------------------------------

GOOD = np.ones((3, 4)) + np.arange(4)


@pytest.mark.parametrize("function", [exact_w2, gaussian_w2])
@pytest.mark.parametrize("A, B, error, message", [
    (GOOD, np.ones((3, 5)), ValueError, r"same dimension d.*A with d=4.*B with d=5"),
    (np.empty((0, 4)), GOOD, ValueError, r"A .*at least one token"),
    (GOOD, np.array([[1.0, np.nan, 0, 0]]), ValueError, r"B to be finite.*token 0"),
    (GOOD, np.array([[1.0, 0, 0, 0], [0, np.inf, 0, 0]]), ValueError, r"B to be finite.*token 1"),
    (np.ones(4), GOOD, ValueError, r"A to be a \(n_tokens, d\) array"),
    ("text", GOOD, TypeError, r"A to be a 2-D array"),
])
def test_bad_clouds(function, A, B, error, message):
    with pytest.raises(error, match=message):
        function(A, B)


@pytest.mark.parametrize("function", [exact_w2, gaussian_w2])
def test_normalize_rejects_a_cloud_without_direction(function):
    with pytest.raises(ValueError, match="B has norm 0"):
        function(GOOD, np.array([[1.0, 0, 0, 0], [-1.0, 0, 0, 0]]), normalize=True)


@pytest.mark.parametrize("function", [exact_w2, gaussian_w2])
@pytest.mark.parametrize("weights, message", [
    ((np.array([1.0, -1.0, 1.0]), np.ones(3)), r"weights\[0\].*non-negative.*-1.0 at token 1"),
    ((np.ones(3), np.array([1.0, np.nan, 1.0])), r"weights\[1\].*finite.*token 1"),
    ((np.ones(2), np.ones(3)), r"weights\[0\].*3 token masses.*shape \(2,\)"),
    ((np.zeros(3), np.ones(3)), r"weights\[0\].*positive sum"),
    ((np.ones(3),), r"pair \(a, b\).*length 1"),
    ("sqrt", r"weights to be None, one of \['uniform', 'norm'\] or a pair"),
    ((np.ones(3), "x"), r"weights\[1\]"),
])
def test_bad_weights(function, weights, message):
    with pytest.raises(ValueError, match=message):
        function(GOOD, GOOD + 1, weights=weights)


def test_norm_weights_of_an_all_zero_cloud():
    with pytest.raises(ValueError, match="weights='norm'.*B.*norm 0"):
        exact_w2(GOOD, np.zeros((2, 4)), weights="norm")


@pytest.mark.parametrize("options, message", [
    ({"method": "sinkhorn"}, r"needs the entropic regularization reg"),
    ({"method": "sinkhorn", "reg": -1.0}, r"reg to be a positive finite float"),
    ({"method": "sinkhorn", "reg": float("nan")}, r"reg to be a positive finite float"),
    ({"reg": 0.1}, r"method='emd' takes none"),
    ({"method": "exact"}, r"method to be one of \['emd', 'sinkhorn'\]"),
    ({"numItermax": 0}, r"numItermax to be a positive int"),
])
def test_bad_solver_options(options, message):
    with pytest.raises(ValueError, match=message):
        exact_w2(GOOD, GOOD + 1, **options)


def test_bad_pairwise_arguments(corpus):
    with pytest.raises(ValueError, match=r"kind to be one of \['gaussian', 'exact'\]"):
        pairwise_w2(corpus, kind="bures")
    with pytest.raises(ValueError, match="need kind='exact'"):
        pairwise_w2(corpus, method="sinkhorn", reg=1.0)
    with pytest.raises(TypeError, match="unexpected keyword.*'gamma'"):
        pairwise_w2(corpus, kind="exact", gamma=1.0)
    with pytest.raises(ValueError, match=r"other to have the dimension d=6.*d=3"):
        pairwise_w2(corpus, [np.ones((2, 3))])
    with pytest.raises(ValueError, match=r"tokens\[1\] \(text 1\) to be finite"):
        pairwise_w2([GOOD, np.full((2, 4), np.nan)])
    with pytest.raises(ValueError, match=r"tokens\[1\] \(text 1\) has norm 0"):
        pairwise_w2([GOOD, np.array([[1.0, 0, 0, 0], [-1.0, 0, 0, 0]])], normalize=True)
    with pytest.raises(ValueError, match="weights to be None, 'uniform' or 'norm'"):
        pairwise_w2(corpus, weights=(np.ones(3), np.ones(3)))
    with pytest.raises(ValueError, match="n_jobs"):
        pairwise_w2(corpus, n_jobs=0)


def test_bad_compare_arguments(corpus):
    with pytest.raises(ValueError, match="at least 2 texts"):
        compare_w2(corpus[:1])
    with pytest.raises(ValueError, match=r"between 1 and the 21 distinct pairs.*pairs=22"):
        compare_w2(corpus, 22)
    with pytest.raises(ValueError, match=r"in \[0, 7\).*\(1, 7\) at position 1"):
        compare_w2(corpus, [(0, 1), (1, 7)])
    with pytest.raises(ValueError, match=r"shape \(n_pairs, 2\)"):
        compare_w2(corpus, [(0, 1, 2)])
    with pytest.raises(TypeError, match="Expected pairs"):
        compare_w2(corpus, 2.5)


# -- real token clouds ------------------------------------------------------------------------

FILM_LEADS = [
    "Casablanca is a 1942 American romantic drama film directed by Michael Curtiz.",
    "The Godfather is a 1972 American crime film directed by Francis Ford Coppola, "
    "based on the novel by Mario Puzo.",
    "Toy Story is a 1995 American computer-animated comedy film produced by Pixar.",
    "Alien is a 1979 science fiction horror film directed by Ridley Scott.",
    "Amelie is a 2001 French romantic comedy film directed by Jean-Pierre Jeunet.",
    "Seven Samurai is a 1954 Japanese epic samurai film co-written and directed by "
    "Akira Kurosawa.",
]


@pytest.mark.slow
def test_gelbrich_bound_on_real_token_clouds(bundled_model_path):
    from skpool import TokenEncoder

    tokens = TokenEncoder(model=str(bundled_model_path), device="cpu").fit_transform(FILM_LEADS)
    assert tokens.dim == 384
    for normalize in (False, True):
        result = compare_w2(tokens, normalize=normalize)
        assert result.n_pairs == 15
        assert result.n_gelbrich_violations == 0
        ratio = result.table["ratio"]
        assert ((ratio > 0) & (ratio <= 1 + 1e-9)).all()
        # The Gaussian view keeps most of the distance and its order.
        assert result.spearman > 0.5
        assert np.isfinite(result.table.to_numpy(dtype=float)).all()
