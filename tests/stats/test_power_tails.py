"""The t-test power stays a number for large noncentrality (scipy's far tail can be NaN)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.stats.power import mde_mean, power_mean


def test_the_reported_cases_are_numbers() -> None:
    assert power_mean(4, 15, 3000, test="t") == pytest.approx(1.0)
    assert mde_mean(15, 3000, test="t") == pytest.approx(mde_mean(15, 3000, test="z"), rel=1e-3)


@settings(max_examples=150, deadline=None)
@given(diff=st.floats(0.0, 200.0), n=st.floats(3.0, 1e6),
       alternative=st.sampled_from(["two-sided", "greater", "less"]))
def test_t_power_is_a_probability_close_to_the_z_power(diff: float, n: float,
                                                       alternative: str) -> None:
    t = power_mean(diff, 15.0, n, test="t", alternative=alternative)  # type: ignore[arg-type]
    z = power_mean(diff, 15.0, n, test="z", alternative=alternative)  # type: ignore[arg-type]
    assert math.isfinite(t) and 0.0 <= t <= 1.0
    if n > 1000:
        assert t == pytest.approx(z, abs=2e-3)


def test_mde_t_is_monotone_in_sample_size() -> None:
    mdes = [mde_mean(15, n, test="t") for n in np.geomspace(10, 1e6, 30)]
    assert all(np.isfinite(mdes)) and all(a > b for a, b in itertools.pairwise(mdes))
