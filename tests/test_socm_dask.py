"""The all-pairs blocks run on a dask.distributed cluster through joblib's dask backend."""

from __future__ import annotations

import numpy as np
import pytest

distributed = pytest.importorskip(
    "distributed", reason="dask.distributed is not installed (pip install 'dask[distributed]')")

from skpool.metrics import mean_socm, pairwise_socm, pairwise_socm_components  # noqa: E402


@pytest.fixture(scope="module")
def texts():
    rng = np.random.default_rng(0)
    return [(rng.normal(size=(n, 12)) + 2.0).astype(np.float32)
            for n in (3, 15, 7, 1, 22, 9, 4, 13, 30, 6)]


def test_dask_backend_gives_the_same_matrix(client, texts):
    import joblib

    def executed():
        counts = client.run(lambda dask_worker: dask_worker.state.executed_count)
        return sum(counts.values())

    expected = pairwise_socm_components(texts)
    before = executed()
    with joblib.parallel_backend("dask"):
        # a small working memory makes many blocks, so both workers get tasks
        got = pairwise_socm_components(texts, working_memory=0.02)
        sampled = mean_socm(texts, n_pairs=20, random_state=0)
        exact_mean = mean_socm(texts, working_memory=0.02)
        other = pairwise_socm(texts[:4], texts[4:], working_memory=0.02)
    np.testing.assert_allclose(got.socm, expected.socm, atol=1e-8)
    np.testing.assert_allclose(got.d_sigma, expected.d_sigma, atol=1e-8)
    assert (got.socm == got.socm.T).all() and (np.diagonal(got.socm) == 0).all()
    np.testing.assert_allclose(other, expected.socm[:4, 4:], atol=1e-8)
    assert sampled == mean_socm(texts, n_pairs=20, random_state=0)
    assert exact_mean.mean == pytest.approx(mean_socm(texts).mean, abs=1e-8)
    # the blocks really ran as tasks on the cluster's workers
    assert executed() - before >= 3
