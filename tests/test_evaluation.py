"""The evaluation library: its numbers against scikit-learn and SciPy called directly.

``evaluate`` runs on the tiny random BERT (real corpora, a handful of texts):
its accuracies must be those of ``cross_val_score`` on the same features and
folds, its similarity scores those of ``scipy.stats.spearmanr`` on the same
similarities, its SOCM that of ``mean_socm`` on the same tokens.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skpool import (CLSPooler, GaussianPooler, MeanPooler, TokenEncoder, concentration,
                    matched_mean_socm, mean_socm)
from skpool.evaluation import (EvaluationRecord, error_by_quintile, evaluate,
                               neighbour_socm, partial_spearman,
                               spearman_interval)
from skpool.ot import pairwise_w2

pytestmark = pytest.mark.filterwarnings("ignore::skpool.encoder.TruncationWarning")


# ---------------------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------------------
def test_spearman_interval_matches_scipy_and_a_slow_bootstrap():
    rng = np.random.default_rng(0)
    x = rng.normal(size=15)
    y = x + rng.normal(size=15)
    result = spearman_interval(x, y, n_bootstrap=300, confidence=0.9, random_state=1)
    reference = stats.spearmanr(x, y)
    assert result.rho == pytest.approx(reference.statistic, abs=1e-12)
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    # the same resamples, one scipy call each
    draws = np.random.RandomState(1).randint(0, 15, size=(300, 15))
    slow = [stats.spearmanr(x[r], y[r]).statistic for r in draws]
    slow = np.array([v for v in slow if np.isfinite(v)])
    assert result.n_bootstrap == slow.size
    np.testing.assert_allclose([result.ci_low, result.ci_high],
                               np.percentile(slow, [5.0, 95.0]), atol=1e-12)
    assert result.ci_low <= result.rho <= result.ci_high


def test_spearman_interval_refuses_what_has_no_correlation():
    with pytest.raises(ValueError, match="at least 3 points"):
        spearman_interval([1, 2], [2, 1])
    with pytest.raises(ValueError, match="Expected y to vary"):
        spearman_interval([1, 2, 3], [5, 5, 5])
    with pytest.raises(ValueError, match="Expected y to hold 3 values"):
        spearman_interval([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="finite.*index 1"):
        spearman_interval([1, np.nan, 3], [1, 2, 3])
    with pytest.raises(ValueError, match="confidence"):
        spearman_interval([1, 2, 3], [1, 3, 2], confidence=1.0)


def _ranks(*columns):
    return [stats.rankdata(c) for c in columns]


def test_partial_spearman_one_covariate_closed_form():
    rng = np.random.default_rng(3)
    z = rng.normal(size=30)
    x = z + rng.normal(size=30)
    y = z + rng.normal(size=30)
    r_xy = stats.spearmanr(x, y).statistic
    r_xz = stats.spearmanr(x, z).statistic
    r_yz = stats.spearmanr(y, z).statistic
    expected = (r_xy - r_xz * r_yz) / np.sqrt((1 - r_xz ** 2) * (1 - r_yz ** 2))
    result = partial_spearman(x, y, z)
    assert result.rho == pytest.approx(expected, abs=1e-10)
    t = expected * np.sqrt(27 / (1 - expected ** 2))
    assert result.p_value == pytest.approx(2 * stats.t.sf(abs(t), 27), rel=1e-8)


def test_partial_spearman_two_covariates_against_the_precision_matrix():
    """A slow, independent route: invert the rank-correlation matrix."""
    rng = np.random.default_rng(4)
    z1, z2 = rng.normal(size=(2, 25))
    x = z1 - z2 + rng.normal(size=25)
    y = z1 + 0.5 * z2 + rng.normal(size=25)
    ranks = np.column_stack(_ranks(x, y, z1, z2))
    precision = np.linalg.inv(np.corrcoef(ranks, rowvar=False))
    expected = -precision[0, 1] / np.sqrt(precision[0, 0] * precision[1, 1])
    # and by explicit residuals of the ranks on [1, z1, z2]
    design = np.column_stack([np.ones(25), ranks[:, 2:]])
    residual = [ranks[:, k] - design @ np.linalg.solve(design.T @ design, design.T @ ranks[:, k])
                for k in (0, 1)]
    by_residuals = np.corrcoef(residual[0], residual[1])[0, 1]
    result = partial_spearman(x, y, np.column_stack([z1, z2]))
    assert result.rho == pytest.approx(expected, abs=1e-10)
    assert result.rho == pytest.approx(by_residuals, abs=1e-10)
    assert result.n == 25 and result.n_covariates == 2


def test_partial_spearman_refuses_too_few_points_and_explained_variables():
    with pytest.raises(ValueError, match="at least 5 points to control for 2"):
        partial_spearman([1, 2, 3, 4], [4, 3, 1, 2], np.ones((4, 2)))
    with pytest.raises(ValueError, match="ranks of x are a linear function"):
        partial_spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5], [10, 20, 30, 40, 50])
    with pytest.raises(ValueError, match=r"covariates of shape \(5,\)"):
        partial_spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5], np.ones((4, 1)))


def test_error_by_quintile_is_the_error_rate_of_each_fifth():
    rng = np.random.default_rng(5)
    spread = rng.permutation(np.arange(23.0))
    correct = rng.random(23) < 0.7
    bins = error_by_quintile(spread, correct)
    order = np.argsort(spread)
    sizes = [5, 5, 5, 4, 4]
    start = 0
    for b, size in zip(bins, sizes):
        members = order[start:start + size]
        start += size
        assert b.n_texts == size
        assert b.low == spread[members].min() and b.high == spread[members].max()
        assert b.error_rate == pytest.approx(1.0 - correct[members].mean(), abs=1e-12)
    with pytest.raises(ValueError, match="boolean array of shape"):
        error_by_quintile(spread, correct.astype(int))
    with pytest.raises(ValueError, match="at most one bin per text"):
        error_by_quintile([1.0, 2.0], [True, False], n_bins=3)


def test_neighbour_socm_against_brute_force():
    from skpool import socm

    rng = np.random.default_rng(7)
    clouds = [rng.normal(size=(int(rng.integers(2, 7)), 4)) + 2.0 for _ in range(8)]
    vectors = rng.normal(size=(8, 3))
    out = neighbour_socm(clouds, vectors, n_neighbors=3)
    for i in range(8):
        cosines = [(-np.dot(vectors[i], vectors[j]) / np.linalg.norm(vectors[i])
                    / np.linalg.norm(vectors[j]), j) for j in range(8) if j != i]
        nearest = [j for _, j in sorted(cosines)[:3]]
        assert out[i] == pytest.approx(np.mean([socm(clouds[i], clouds[j]) for j in nearest]),
                                       rel=1e-9)
    with pytest.raises(ValueError, match="n_neighbors below the number of texts"):
        neighbour_socm(clouds, vectors, n_neighbors=8)
    with pytest.raises(ValueError, match=r"shape \(8, k\)"):
        neighbour_socm(clouds, vectors[:5])


def _record(model, layer, score, socm_value, matched, spread, cosine, task="t", pooling="mean"):
    return EvaluationRecord(model=model, layer=layer, pooling=pooling, task=task,
                            metric="accuracy", score=score, score_std=0.0, mean_socm=socm_value,
                            stderr=0.0, n_trace_violations=0, matched_socm=matched,
                            matched_stderr=0.0, mean_spread=spread, mean_cosine=cosine,
                            n_texts=10, n_pairs=45, n_truncated=0)


# The grouped correlations are tested in test_evaluation_groups.py.


# ---------------------------------------------------------------------------------------
# The Lee-50 similarity data
# ---------------------------------------------------------------------------------------
@pytest.mark.slow
def test_lee50_reads_every_document_and_pair():
    from skpool.datasets import DATASETS, DatasetNotInstalledError, load_corpus, load_lee50

    try:
        lee = load_lee50()
    except DatasetNotInstalledError as exc:
        pytest.skip(str(exc))
    assert len(lee) == 50 and lee.pairs.shape == (1225, 2)
    assert (lee.pairs[:, 0] < lee.pairs[:, 1]).all() and len(set(map(tuple, lee.pairs))) == 1225
    assert 0.0 <= lee.scores.min() and lee.scores.max() <= 1.0
    assert any("\u00a3" in text for text in lee.texts)  # the one Windows-1252 byte is a pound sign
    sample = load_lee50(n_texts=12, random_state=0)
    assert sample.pairs.shape == (66, 2)
    full_score = {(lee.ids[i], lee.ids[j]): s for (i, j), s in zip(lee.pairs, lee.scores)}
    for (i, j), score in zip(sample.pairs, sample.scores):
        assert full_score[(sample.ids[i], sample.ids[j])] == score
    assert DATASETS["lee-50"] is load_lee50
    assert load_corpus("lee-50", n_texts=5, random_state=0).n_available == 50


# ---------------------------------------------------------------------------------------
# evaluate on the tiny model and real corpora, against direct calls
# ---------------------------------------------------------------------------------------
SEED = 3
N_TEXTS = 20


@pytest.fixture(scope="module")
def tiny_evaluation(tiny_model_dir):
    from skpool.datasets import DatasetNotInstalledError, load_bbc_news, load_lee50

    try:  # the corpora are read by path: importing their packages is not a test of them
        load_lee50()
        load_bbc_news()
    except DatasetNotInstalledError as exc:
        pytest.skip(str(exc))
    encoder = TokenEncoder(model=str(tiny_model_dir), device="cpu")
    return evaluate({"tiny": encoder}, ["bbc-news", "lee-50"], layers=[1, -1],
                    poolings=["mean", "cls", "gaussian-projected", "w2-gaussian"],
                    n_texts=N_TEXTS, n_pairs=30, n_folds=2, n_bootstrap=50,
                    random_state=SEED)


def _tiny_tokens(tiny_model_dir, texts, layer):
    return TokenEncoder(model=str(tiny_model_dir), device="cpu", layer=layer).transform(texts)


def _classifier():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


@pytest.mark.slow
def test_evaluate_accuracy_is_cross_val_score_on_the_same_features(tiny_evaluation,
                                                                   tiny_model_dir):
    from skpool.datasets import load_bbc_news

    news = load_bbc_news(n_texts=N_TEXTS, random_state=SEED)
    folds = StratifiedKFold(2, shuffle=True, random_state=SEED)
    for layer in (1, 2):
        tokens = _tiny_tokens(tiny_model_dir, news.texts, layer)
        by_pooling = {r.pooling: r for r in tiny_evaluation.records
                      if r.task == "bbc-news" and r.layer == layer}
        assert set(by_pooling) == {"mean", "cls", "gaussian-projected"}  # no W2 for classes
        for name, pooler in (("mean", MeanPooler()), ("cls", CLSPooler())):
            scores = cross_val_score(_classifier(), pooler.fit_transform(tokens), news.labels,
                                     cv=folds)
            assert by_pooling[name].score == pytest.approx(scores.mean(), abs=1e-12)
            assert by_pooling[name].score_std == pytest.approx(scores.std(), abs=1e-12)
        # a pooler that learns (a PCA basis) is fitted inside each fold
        scores = cross_val_score(
            make_pipeline(GaussianPooler(covariance="projected", n_components=16),
                          _classifier()), tokens.to_list(), news.labels, cv=folds)
        assert by_pooling["gaussian-projected"].score == pytest.approx(scores.mean(), abs=1e-12)
        reference = mean_socm(tokens, n_pairs=30, random_state=SEED)
        record = by_pooling["mean"]
        assert record.mean_socm == pytest.approx(reference.mean, rel=1e-6)
        assert record.stderr == pytest.approx(reference.stderr, rel=1e-6)
        assert record.n_trace_violations == reference.n_trace_violations
        assert record.matched_socm == pytest.approx(
            matched_mean_socm(tokens, n_pairs=30, random_state=SEED).mean, rel=1e-6)
        assert record.mean_spread == pytest.approx(concentration(tokens).mean_spread, rel=1e-9)
        assert record.n_texts == N_TEXTS and record.metric == "accuracy"


@pytest.mark.slow
def test_evaluate_similarity_is_spearmanr_of_the_same_similarities(tiny_evaluation,
                                                                   tiny_model_dir):
    from skpool.datasets import load_lee50

    lee = load_lee50(n_texts=N_TEXTS, random_state=SEED)
    i, j = lee.pairs.T
    tokens = _tiny_tokens(tiny_model_dir, lee.texts, -1)
    by_pooling = {r.pooling: r for r in tiny_evaluation.records
                  if r.task == "lee-50" and r.layer == 2}
    assert set(by_pooling) == {"mean", "cls", "w2-gaussian"}  # no feature table for pairs
    means = MeanPooler().fit_transform(tokens).astype(np.float64)
    cosine = np.sum(means[i] * means[j], axis=1) / (
        np.linalg.norm(means[i], axis=1) * np.linalg.norm(means[j], axis=1))
    assert by_pooling["mean"].score == pytest.approx(stats.spearmanr(cosine, lee.scores)[0],
                                                     abs=1e-9)
    w2 = pairwise_w2(tokens, kind="gaussian", normalize=True)
    assert by_pooling["w2-gaussian"].score == pytest.approx(
        stats.spearmanr(-w2[i, j], lee.scores)[0], abs=1e-9)
    assert all(0 < r.score_std < 1 for r in by_pooling.values())
    assert by_pooling["mean"].metric == "spearman" and by_pooling["mean"].n_texts == N_TEXTS


@pytest.mark.slow
def test_evaluate_reports_correlations_and_the_spread_diagnostic(tiny_evaluation):
    result = tiny_evaluation
    assert all("at least 4 are needed" in c.note for c in result.correlations)
    assert {c.group for c in result.correlations} >= {"all", "trained", "last-layer"}
    by_spread, by_neighbours = result.diagnostics
    for diagnostic in result.diagnostics:
        assert (diagnostic.model, diagnostic.task, diagnostic.layer, diagnostic.pooling) == (
            "tiny", "bbc-news", 2, "mean")
        assert sum(b.n_texts for b in diagnostic.bins) == N_TEXTS
    assert (by_spread.by, by_neighbours.by) == ("spread", "neighbour_socm")
    # every text's error counted once in each table: the same overall error rate
    assert sum(b.error_rate * b.n_texts for b in by_spread.bins) == pytest.approx(
        sum(b.error_rate * b.n_texts for b in by_neighbours.bins), abs=1e-9)
    record = result.to_dicts()[0]
    for key in ("model", "layer", "pooling", "task", "metric", "score", "score_std",
                "mean_socm", "stderr", "n_trace_violations"):
        assert key in record


def test_evaluate_names_bad_arguments(tiny_model_dir):
    encoder = TokenEncoder(model=str(tiny_model_dir), device="cpu")
    with pytest.raises(ValueError, match="tasks among"):
        evaluate(encoder, ["imdb"])
    with pytest.raises(ValueError, match="poolings among"):
        evaluate(encoder, ["lee-50"], poolings=["median"])
    with pytest.raises(TypeError, match=r"model name, a folder, a SentenceTransformer, a "
                                        r"\(model, tokenizer\) pair or a TokenEncoder"):
        evaluate([3], ["lee-50"])
    with pytest.raises(TypeError, match="classifier to be a scikit-learn classifier"):
        evaluate(encoder, ["bbc-news"], classifier="logistic")


@pytest.mark.slow
def test_evaluate_names_what_the_data_and_model_cannot_do(tiny_model_dir):
    encoder = TokenEncoder(model=str(tiny_model_dir), device="cpu")
    with pytest.raises(ValueError, match=r"layers in \[-3, 2\].*Received 5"):
        evaluate(encoder, ["lee-50"], layers=[5], n_texts=6)
    with pytest.raises(ValueError, match="at least n_folds=5 texts.*fewer folds"):
        evaluate(encoder, ["bbc-news"], n_texts=10)


# ---------------------------------------------------------------------------------------
# The figure
# ---------------------------------------------------------------------------------------
def test_plot_socm_vs_score_titles_take_the_evaluation_s_all_points_group():
    """A panel's rho is the evaluation's 'all' group (its interval and n), and says when
    the task cannot rank the points, in a short line (the note is in the table)."""
    pytest.importorskip("matplotlib")
    from skpool.evaluation import Evaluation, socm_score_correlations
    from skpool.plotting import plot_socm_vs_score

    records = [_record(model, layer, 0.5 + 0.05 * layer, 0.1 * layer + k, 0.2, 1.0, 0.5)
               for k, model in enumerate(("a", "b")) for layer in range(4)]
    correlations = socm_score_correlations(records, baselines=("b",), n_bootstrap=200,
                                           random_state=0)
    figure = plot_socm_vs_score(Evaluation(records=tuple(records),
                                           correlations=correlations, diagnostics=()))
    title = figure.axes[0].get_title().splitlines()
    (group,) = [c.to_dict() for c in correlations
                if c.group == "all" and c.measure == "mean_socm" and c.pooling == "mean"]
    low, high = group["interval"]
    assert title[1] == f"Spearman \u03c1 = {group['rho']:.2f} [{low:.2f}, {high:.2f}], n = 8"
    # every score has zero error here, so the ranking check decides by the spread alone
    assert (title[2:] == ["not a finding: the task cannot rank these points"]) == (
        group["can_rank"] is False)


def test_plot_socm_vs_score_draws_each_model_layer_as_a_labelled_point(tmp_path):
    pytest.importorskip("matplotlib")
    from skpool.plotting import plot_socm_vs_score

    records = [_record(model, layer, 0.5 + 0.05 * layer, 0.1 * layer + k, 0.2, 1.0, 0.5,
                       task=task)
               for k, model in enumerate(("a", "b")) for task in ("t1", "t2")
               for layer in range(4)]
    records.append(_record("a", 0, 0.9, 0.3, 0.2, 1.0, 0.5, pooling="cls"))
    path = tmp_path / "socm_vs_score.png"
    figure = plot_socm_vs_score(records, path=path)
    assert path.stat().st_size > 0
    titles = [axis.get_title().splitlines() for axis in figure.axes]
    assert [t[0] for t in titles] == ["t1 (mean pooling)", "t2 (mean pooling)"]
    # each panel gives the rank correlation of its 8 points: Pearson of average ranks
    x = np.array([0.1 * layer + k for k in range(2) for layer in range(4)])
    y = np.array([0.5 + 0.05 * layer for _ in range(2) for layer in range(4)])
    ranks_y = np.array([np.mean(np.flatnonzero(np.sort(y) == v)) for v in y])
    rho = np.corrcoef(np.argsort(np.argsort(x)), ranks_y)[0, 1]
    assert titles[0][1] == f"Spearman \u03c1 = {rho:.2f}, n = 8"
    first = figure.axes[0]
    assert [t.get_text() for t in first.texts] == ["0", "1", "2", "3"] * 2
    x, y = first.lines[0].get_data()  # model "a", its layers in order
    assert list(x) == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert list(y) == pytest.approx([0.5, 0.55, 0.6, 0.65])
    # points, not a trajectory: nothing joins the layers
    assert first.lines[0].get_linestyle() == "None"
    # a legend for the two models and one saying what the bars are
    legend = [t.get_text() for t in figure.legends[0].get_texts()]
    assert legend[:2] == ["a", "b"] and legend[2].startswith("bars: \u00b1 1 standard error")
    matched = plot_socm_vs_score(records, measure="matched_socm")
    assert matched.axes[0].get_xlabel() == "concentration-matched SOCM"
    with pytest.raises(ValueError, match=r"no record with pooling 'max'.*\['cls', 'mean'\]"):
        plot_socm_vs_score(records, pooling="max")
    with pytest.raises(ValueError, match="measure among"):
        plot_socm_vs_score(records, measure="socm")
