"""What mean pooling costs and the interventional control, against hand-written code."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skpool import GaussianPooler, MeanPooler, TokenEncoder, mean_socm
from skpool.analysis import rescale_spread
from skpool.evaluation import (evaluate, paired_fold_difference, paired_spearman_difference,
                               parse_interventions)

SEED = 0
N_TEXTS = 20

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


# ---------------------------------------------------------------------------------------
# Pure functions
# ---------------------------------------------------------------------------------------
def test_parse_interventions():
    assert parse_interventions("swap") == [("swap", "swap", None)]
    assert parse_interventions(["rescale:2,0.5,2.0", "swap", "swap"]) == [
        ("rescale:2", "rescale", 2.0), ("rescale:0.5", "rescale", 0.5),
        ("swap", "swap", None)]
    for bad, words in (("scale:2", "'rescale:F"), ("rescale:", "'rescale:F"),
                       ("rescale:-1", "non-negative"), ("rescale:x", "non-negative"),
                       ("swap:3", "'rescale:F")):
        with pytest.raises(ValueError, match=words):
            parse_interventions(bad)
    with pytest.raises(TypeError, match="string"):
        parse_interventions([2.0])


def test_paired_fold_difference_is_the_corrected_t_interval():
    a = np.array([0.80, 0.85, 0.90, 0.85, 0.80])
    b = np.array([0.75, 0.80, 0.80, 0.80, 0.82])
    gap = paired_fold_difference(a, b, confidence=0.9)
    d = a - b
    half = stats.t.ppf(0.95, 4) * d.std(ddof=1) * np.sqrt(1 / 5 + 1 / 4)
    assert gap.difference == pytest.approx(d.mean())
    assert (gap.ci_low, gap.ci_high) == pytest.approx((d.mean() - half, d.mean() + half))
    assert gap.n == 5 and gap.method == "corrected paired t over folds"
    with pytest.raises(ValueError, match="at least 2 folds"):
        paired_fold_difference([0.5], [0.4])


def test_paired_spearman_difference_resamples_the_same_pairs():
    rng = np.random.default_rng(1)
    human = rng.random(40)
    a = human + rng.normal(scale=0.1, size=40)
    b = human + rng.normal(scale=0.5, size=40)
    gap = paired_spearman_difference(a, b, human, n_bootstrap=300, random_state=3)
    assert gap.difference == pytest.approx(stats.spearmanr(a, human)[0]
                                           - stats.spearmanr(b, human)[0])
    rows = np.random.RandomState(3).randint(0, 40, size=(300, 40))
    values = [stats.spearmanr(a[r], human[r])[0] - stats.spearmanr(b[r], human[r])[0]
              for r in rows]
    assert (gap.ci_low, gap.ci_high) == pytest.approx(tuple(np.percentile(values, [2.5, 97.5])))


# ---------------------------------------------------------------------------------------
# evaluate(interventions=...) on the tiny random BERT and real task texts
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def controlled(tiny_model_dir):
    from skpool.datasets import DatasetNotInstalledError, load_bbc_news, load_lee50

    try:
        load_bbc_news(n_texts=N_TEXTS, random_state=SEED)
        load_lee50()
    except DatasetNotInstalledError as exc:
        pytest.skip(str(exc))
    encoder = TokenEncoder(model=str(tiny_model_dir), device="cpu")
    return evaluate({"tiny": encoder}, ["bbc-news", "lee-50"], layers=[0, -1],
                    poolings=["mean", "gaussian-diag", "w2-gaussian"], n_texts=N_TEXTS,
                    n_pairs=40, n_folds=2, n_bootstrap=50, random_state=SEED,
                    interventions=["rescale:0.5,2", "swap"])


@pytest.mark.slow
def test_mean_pooling_is_unchanged_and_socm_moves_by_f_squared(controlled):
    rows = {(r.task, r.condition): r for r in controlled.interventions}
    assert sorted(rows) == sorted((task, c) for task in ("bbc-news", "lee-50")
                                  for c in ("none", "rescale:0.5", "rescale:2", "swap"))
    for (task, condition), row in rows.items():
        none = rows[(task, "none")]
        assert row.layer == 2
        assert row.mean_score_unchanged is True
        assert row.mean_pooling_score == none.mean_pooling_score
        assert row.mean_vector_change < 1e-5
        if condition.startswith("rescale"):
            f = float(condition.split(":")[1])
            assert row.mean_d_mu == pytest.approx(none.mean_d_mu, rel=1e-5)
            assert row.mean_d_sigma == pytest.approx(f * f * none.mean_d_sigma, rel=1e-4)
            assert row.mean_socm == pytest.approx(f * f * none.mean_socm, rel=1e-4)
            assert row.mean_spread == pytest.approx(f * f * none.mean_spread, rel=1e-4)
        if condition == "swap":
            assert row.mean_d_mu == pytest.approx(none.mean_d_mu, rel=1e-5)
    assert rows[("bbc-news", "none")].pooling == "gaussian-diag"
    assert rows[("lee-50", "none")].pooling == "w2-gaussian"


@pytest.mark.slow
def test_intervention_scores_are_hand_written_scikit_learn(controlled, tiny_model_dir):
    from skpool.datasets import load_bbc_news

    news = load_bbc_news(n_texts=N_TEXTS, random_state=SEED)
    tokens = TokenEncoder(model=str(tiny_model_dir), device="cpu", layer=-1).transform(
        news.texts)
    folds = StratifiedKFold(2, shuffle=True, random_state=SEED)
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    halved = rescale_spread(tokens, 0.5)
    mean_acc = cross_val_score(classifier, MeanPooler().fit_transform(halved), news.labels,
                               cv=folds)
    gauss_acc = cross_val_score(classifier, GaussianPooler(covariance="diag").fit_transform(
        halved), news.labels, cv=folds)
    row = next(r for r in controlled.interventions
               if r.task == "bbc-news" and r.condition == "rescale:0.5")
    assert row.mean_pooling_score == pytest.approx(mean_acc.mean(), abs=1e-12)
    assert row.score == pytest.approx(gauss_acc.mean(), abs=1e-12)
    assert row.mean_socm == pytest.approx(mean_socm(halved, n_pairs=40, random_state=SEED).mean,
                                          rel=1e-9)
    cost = next(c for c in controlled.pooling_costs
                if c.task == "bbc-news" and c.condition == "rescale:0.5")
    assert cost.difference == pytest.approx(gauss_acc.mean() - mean_acc.mean(), abs=1e-12)
    assert cost.method == "corrected paired t over folds" and cost.n == 2


@pytest.mark.slow
def test_pooling_costs_at_the_last_layer_match_the_records(controlled):
    none = [c for c in controlled.pooling_costs if c.condition == "none"]
    assert {(c.task, c.pooling) for c in none} == {("bbc-news", "gaussian-diag"),
                                                   ("lee-50", "w2-gaussian")}
    records = {(r.task, r.pooling): r for r in controlled.records if r.layer == 2}
    for cost in none:
        assert cost.layer == 2
        assert cost.score == pytest.approx(records[(cost.task, cost.pooling)].score, abs=1e-12)
        assert cost.mean_score == pytest.approx(records[(cost.task, "mean")].score, abs=1e-12)
        assert cost.ci_low <= cost.difference <= cost.ci_high
    document = controlled.to_json_dict()
    assert len(document["interventions"]) == 8 and document["settings"]["interventions"] == [
        "rescale:0.5", "rescale:2", "swap"]
    assert {"difference", "ci_low", "ci_high", "condition"} <= set(document["pooling_costs"][0])


def test_bad_interventions_fail_before_any_encoding():
    with pytest.raises(ValueError, match="'rescale:F"):
        evaluate("no-such-model-folder", ["lee-50"], interventions=["shuffle"])
