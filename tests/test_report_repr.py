"""Result objects print in a few lines at any corpus size: the record whole, tables by shape."""

from __future__ import annotations

import numpy as np
import pytest

from skpool.analysis import collapse_report_of_tokens
from skpool.pairs import pairs_report_of_tokens

pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def clouds():
    rng = np.random.default_rng(0)
    return [rng.normal(size=(int(rng.integers(3, 9)), 8)) + 3.0 for _ in range(400)]


def reports(clouds):
    yield collapse_report_of_tokens(clouds, n_pairs=500, random_state=0)
    yield pairs_report_of_tokens(clouds, random_state=0)
    try:
        from skpool.neighbours import neighbour_collapse

        yield neighbour_collapse(clouds, n_neighbors=3)
    except ImportError:  # faiss-cpu is optional
        pass


def test_reports_print_short_and_name_every_field(clouds):
    for report in reports(clouds):
        shown = repr(report)
        assert shown.startswith(type(report).__name__ + "(record=")
        assert len(shown) < 3000, (type(report).__name__, len(shown))
        for name in report.__dataclass_fields__:
            assert f"{name}=" in shown
        # the record itself is whole: every one of its fields and values
        assert repr(report.record) in shown
