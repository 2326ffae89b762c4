"""Small samples switch the two-proportion p-value to Fisher's exact test, named in the method."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from assay.stats.codes import ErrorCode
from assay.stats.exact import FISHER, MIN_EXPECTED, expected_counts, small_sample_test
from assay.stats.moments import Moments
from assay.stats.tests import proportion_test


def _arm(successes: int, n: int) -> Moments:
    return Moments.from_values({"y": [1.0] * successes + [0.0] * (n - successes)})


def _test(s_c: int, n_c: int, s_t: int, n_t: int):  # type: ignore[no-untyped-def]
    c, t = _arm(s_c, n_c), _arm(s_t, n_t)
    return small_sample_test(proportion_test(c, t), c, t)


def test_zero_of_300_against_7_of_300_uses_fisher() -> None:
    effect = _test(0, 300, 7, 300)
    assert effect.method == FISHER and effect.error is ErrorCode.CONTROL_MEAN_ZERO
    want = stats.fisher_exact([[7, 293], [0, 300]]).pvalue
    assert effect.p_value == pytest.approx(want, rel=1e-12)
    assert effect.diff == pytest.approx(7 / 300)


def test_large_counts_keep_the_z_test() -> None:
    effect = _test(40, 300, 60, 300)
    assert effect.method == "two-proportion z"


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 60), st.integers(2, 60), st.data())
def test_the_threshold_decides_and_fisher_matches_scipy(n_c: int, n_t: int,
                                                        data: st.DataObject) -> None:
    s_c = data.draw(st.integers(0, n_c))
    s_t = data.draw(st.integers(0, n_t))
    effect = _test(s_c, n_c, s_t, n_t)
    small = min(expected_counts(n_c, s_c, n_t, s_t)) < MIN_EXPECTED
    if effect.error is not None and effect.error is not ErrorCode.CONTROL_MEAN_ZERO:
        assert effect.method == "two-proportion z"
        return
    assert (effect.method == FISHER) == small
    if small:
        want = stats.fisher_exact([[s_t, n_t - s_t], [s_c, n_c - s_c]]).pvalue
        assert effect.p_value == pytest.approx(want, rel=1e-12)


@pytest.mark.slow
def test_fisher_keeps_the_false_positive_rate_where_z_does_not() -> None:
    """A/A with 40 units per arm and a 3% rate: Fisher is at or below 5%."""
    rng = np.random.default_rng(5)
    rejected = 0
    reps = 4000
    for _ in range(reps):
        s_c, s_t = rng.binomial(40, 0.03, 2)
        effect = _test(int(s_c), 40, int(s_t), 40)
        rejected += bool(effect.p_value <= 0.05)
    assert rejected / reps <= 0.05
