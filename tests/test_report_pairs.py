"""``collapse_report_of_tokens(pairs=True)``: the report and its pairs from one computation."""

from __future__ import annotations

import numpy as np
import pytest

from skpool import mean_socm
from skpool.analysis import collapse_report_of_tokens, pair_components


def _clouds(n=9, seed=0):
    rng = np.random.default_rng(seed)
    # wide clouds, so that some texts break tr(Sigma) <= 2 and the count is not trivially 0
    return [rng.normal(scale=rng.uniform(0.2, 3.0), size=(int(rng.integers(3, 9)), 6)) + 1.5
            for _ in range(n)]


@pytest.mark.parametrize("n_pairs, seed", [(None, None), (20, 0), (1, 4), (500, 1)])
def test_record_from_kept_pairs_is_the_mean_socm_record(n_pairs, seed):
    clouds = _clouds()
    plain = collapse_report_of_tokens(clouds, n_pairs=n_pairs, random_state=seed, n_jobs=1)
    kept = collapse_report_of_tokens(clouds, n_pairs=n_pairs, random_state=seed, n_jobs=1,
                                     pairs=True)
    assert plain.pairs is None
    reference = mean_socm(clouds, n_pairs=n_pairs, random_state=seed, n_jobs=1)
    record = kept.record
    assert record.n_pairs == reference.n_pairs == kept.pairs.socm.size
    assert record.exact == reference.exact
    assert record.n_trace_violations == reference.n_trace_violations > 0
    for name, expected in (("mean_socm", reference.mean), ("stderr", reference.stderr),
                           ("mean_d_mu", reference.mean_d_mu),
                           ("mean_d_sigma", reference.mean_d_sigma)):
        assert getattr(record, name) == pytest.approx(expected, rel=1e-6, abs=1e-12), name
    # the same pairs as pair_components with the same seed, and the record is their mean
    alone = pair_components(clouds, n_pairs=n_pairs, random_state=seed, n_jobs=1)
    np.testing.assert_array_equal(kept.pairs.i, alone.i)
    np.testing.assert_array_equal(kept.pairs.j, alone.j)
    assert record.mean_socm == float(kept.pairs.socm.mean())
    # every other field is the plain report's
    for key, value in plain.record.to_dict().items():
        if not isinstance(value, float):
            assert record.to_dict()[key] == value, key


def test_pairs_flag_is_checked():
    with pytest.raises(TypeError, match="Expected pairs to be True or False"):
        collapse_report_of_tokens(_clouds(), pairs="yes")
