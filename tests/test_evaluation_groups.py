"""Grouped correlations of collapse and score, and the check that a task can rank its points.

Every value is compared with scipy on the points the group should hold, chosen here by hand.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from skpool.evaluation import (EvaluationRecord, partial_spearman, ranking_check,
                               socm_score_correlations)


def _record(model, layer, score, socm_value, matched, spread, cosine, *, score_std=0.0,
            task="t", pooling="mean"):
    return EvaluationRecord(model=model, layer=layer, pooling=pooling, task=task,
                            metric="accuracy", score=score, score_std=score_std,
                            mean_socm=socm_value, stderr=0.0, n_trace_violations=0,
                            matched_socm=matched, matched_stderr=0.0, mean_spread=spread,
                            mean_cosine=cosine, n_texts=10, n_pairs=45, n_truncated=0)


@pytest.fixture
def records():
    rng = np.random.default_rng(6)
    out = []
    for model, n_layers in (("a", 6), ("b", 8), ("random", 6)):
        for layer in range(n_layers + 1):
            out.append(_record(model, layer, *rng.random(5), score_std=0.001))
    return out


def expected_points(records, group, model=""):
    trained = [r for r in records if r.model != "random"]
    if group == "all":
        return records
    if group == "trained":
        return trained
    if group == "trained-no-embedding":
        return [r for r in trained if r.layer > 0]
    if group == "within-model":
        return [r for r in records if r.model == model]
    last = {"a": 6, "b": 8}
    return [r for r in trained if r.layer == last[r.model]]


def test_groups_hold_the_right_points_and_match_scipy(records):
    out = socm_score_correlations(records, baselines=["random"], n_bootstrap=200,
                                  random_state=0)
    assert [(c.group, c.model, c.measure) for c in out] == [
        (group, model, measure)
        for group, model in (("all", ""), ("trained", ""), ("trained-no-embedding", ""),
                             ("within-model", "a"), ("within-model", "b"),
                             ("within-model", "random"), ("last-layer", ""))
        for measure in ("mean_socm", "matched_socm")]
    for c in out:
        points = expected_points(records, c.group, c.model)
        assert c.n == len(points)
        if c.group == "last-layer":  # two trained models: too few to correlate
            assert c.rho is None and "at least 4 are needed" in c.note
            assert "twelve trained models" in c.note and c.models == ("a", "b")
            continue
        x = [getattr(r, c.measure) for r in points]
        y = [r.score for r in points]
        reference = stats.spearmanr(x, y)
        assert c.rho == pytest.approx(reference.statistic, abs=1e-12)
        assert c.p == pytest.approx(reference.pvalue, rel=1e-9)
        assert c.ci_low <= c.rho <= c.ci_high
        covariates = [[r.mean_spread, r.mean_cosine] for r in points]
        assert c.partial_rho == pytest.approx(partial_spearman(x, y, covariates).rho,
                                              abs=1e-12)
        assert c.can_rank is True  # random scores in [0, 1], errors 0.001
        assert c.score_sd == pytest.approx(np.std(y, ddof=1))


def test_to_dict_has_the_documented_keys(records):
    first = socm_score_correlations(records, baselines=["random"], n_bootstrap=50,
                                    random_state=0)[0]
    row = first.to_dict()
    assert list(row) == ["task", "pooling", "group", "model", "measure", "n", "rho", "p",
                         "interval", "partial_rho", "partial_p", "can_rank", "score_sd",
                         "score_error", "rank_p", "models", "note"]
    assert row["interval"] == [first.ci_low, first.ci_high]
    assert row["models"] == ["a", "b", "random"]


def test_last_layers_given_by_the_caller(records):
    out = socm_score_correlations(records, baselines=["random"], last_layers={"a": 3, "b": 4},
                                  n_bootstrap=50, random_state=0)
    last = next(c for c in out if c.group == "last-layer")
    assert last.n == 2  # a at layer 3, b at layer 4


def test_without_baselines_trained_is_all_and_says_so(records):
    out = socm_score_correlations(records, n_bootstrap=50, random_state=0)
    trained = next(c for c in out if c.group == "trained")
    assert trained.n == len(records) and "no model is marked as a baseline" in trained.note


def test_one_model_has_no_within_model_group():
    rows = [_record("m", layer, 0.1 * layer, 0.2 * layer, 0.3, 1.0 + layer, 0.5)
            for layer in range(5)]
    groups = {c.group for c in socm_score_correlations(rows, n_bootstrap=20, random_state=0)}
    assert groups == {"all", "trained", "trained-no-embedding", "last-layer"}


def test_a_task_that_cannot_rank_its_points_is_not_a_finding():
    # scores spread by 0.01 across layers, each with a fold error of 0.03
    rows = [_record("m", layer, 0.94 + 0.002 * layer, 0.1 * layer, 0.05 * layer,
                    1.0 + layer, 0.5 - 0.01 * layer ** 2, score_std=0.03) for layer in range(7)]
    out = socm_score_correlations(rows, n_bootstrap=50, random_state=0)
    assert out[-1].group == "last-layer" and out[-1].can_rank is None  # one point
    for c in out[:-2]:
        assert c.can_rank is False and "cannot rank these points" in c.note
        assert "not a finding" in c.note
    assert out[0].rho == pytest.approx(1.0)  # still reported, with the warning


def test_points_without_a_score_are_left_out():
    rows = [_record("m", layer, 0.1 * layer, 0.2 * layer, 0.3, 1.0 + layer, 0.5)
            for layer in range(6)]
    rows[2] = _record("m", 2, float("nan"), 0.4, 0.3, 3.0, 0.5)
    first = socm_score_correlations(rows, n_bootstrap=20, random_state=0)[0]
    assert first.n == 5 and "1 point(s) without a score left out" in first.note


def test_missing_values_say_why():
    few = [_record("a", layer, 0.1 * layer, 0.2 * layer, 0.3, 1.0, 0.5) for layer in range(3)]
    raw = socm_score_correlations(few)[0]
    assert raw.rho is None and "3 points: at least 4" in raw.note
    flat = [_record("a", layer, 0.5, 0.1 * layer, 0.3, 1.0 + layer, 0.5 - layer / 10)
            for layer in range(6)]
    raw = socm_score_correlations(flat)[0]
    assert raw.rho is None and "Expected the score to vary" in raw.note


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(baselines=["nobody"]), ValueError, "baselines among the evaluated models"),
    (dict(last_layers=[6]), TypeError, "last_layers to be a dict"),
])
def test_bad_arguments(records, kwargs, error, words):
    with pytest.raises(error, match=words):
        socm_score_correlations(records, **kwargs)
    with pytest.raises(TypeError, match="EvaluationRecord objects"):
        socm_score_correlations([{"score": 1.0}])


# ---------------------------------------------------------------------------------------
# ranking_check
# ---------------------------------------------------------------------------------------
def test_ranking_check_is_the_chi_square_test_of_equal_scores():
    scores = np.array([0.94, 0.95, 0.97, 0.96, 0.975])
    errors = np.array([0.02, 0.03, 0.025, 0.02, 0.01])
    check = ranking_check(scores, errors)
    q = np.sum((scores - scores.mean()) ** 2) / np.mean(errors ** 2)
    assert check.statistic == pytest.approx(q)
    assert check.p_value == pytest.approx(stats.chi2.sf(q, df=4))
    assert check.can_rank is False and check.n == 5


def test_ranking_check_calibration_under_noise_alone():
    # equal true scores measured with their error: "can rank" about 5% of the time
    rng = np.random.default_rng(0)
    errors = rng.uniform(0.01, 0.03, size=12)
    hits = [ranking_check(0.9 + rng.normal(size=12) * errors, errors).can_rank
            for _ in range(2000)]
    assert 0.03 < np.mean(hits) < 0.08


def test_ranking_check_edges():
    assert ranking_check([0.5, 0.6], [0.0, 0.0]).can_rank is True
    assert ranking_check([0.5, 0.5], [0.0, 0.0]).can_rank is False
    with pytest.raises(ValueError, match="at least 2 scores"):
        ranking_check([0.5], [0.1])
    with pytest.raises(ValueError, match="non-negative"):
        ranking_check([0.5, 0.6], [0.1, -0.1])
    with pytest.raises(ValueError, match="errors to hold 2 values"):
        ranking_check([0.5, 0.6], [0.1])
