"""Welch / z comparisons against scipy and statsmodels on the same unit-level data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from assay.stats.codes import ErrorCode
from assay.stats.estimates import ArmEstimate, mean_estimate
from assay.stats.moments import Moments
from assay.stats.tests import compare

REL = 1e-9
SM_ALT = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    return rng.lognormal(1.0, 0.8, 400), rng.lognormal(1.05, 0.9, 650)


def _est(values: np.ndarray) -> ArmEstimate:
    return mean_estimate(Moments.from_values({"y": values}))


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
@pytest.mark.parametrize("margin", [0.0, -0.2, 0.3])
def test_welch_matches_scipy_and_statsmodels(
    data: tuple[np.ndarray, np.ndarray], alternative: str, margin: float
) -> None:
    c, t = data
    effect = compare(_est(c), _est(t), alpha=0.1, alternative=alternative, margin=margin)  # type: ignore[arg-type]
    ref = sps.ttest_ind(t - margin, c, equal_var=False, alternative=alternative)
    assert effect.statistic == pytest.approx(ref.statistic, rel=REL)
    assert effect.p_value == pytest.approx(ref.pvalue, rel=REL)
    assert effect.df == pytest.approx(ref.df, rel=REL)
    cm = CompareMeans(DescrStatsW(t), DescrStatsW(c))
    lo, hi = cm.tconfint_diff(alpha=0.1, alternative=SM_ALT[alternative], usevar="unequal")
    assert effect.diff_ci[0] == pytest.approx(lo, rel=REL)
    assert effect.diff_ci[1] == pytest.approx(hi, rel=REL)
    assert effect.diff == pytest.approx(t.mean() - c.mean(), rel=REL)
    assert effect.method == "welch" and effect.error is None


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_z_matches_statsmodels(data: tuple[np.ndarray, np.ndarray], alternative: str) -> None:
    c, t = data
    effect = compare(_est(c), _est(t), test="z", alternative=alternative, margin=0.1)  # type: ignore[arg-type]
    cm = CompareMeans(DescrStatsW(t), DescrStatsW(c))
    stat, p = cm.ztest_ind(alternative=SM_ALT[alternative], usevar="unequal", value=0.1)
    assert effect.statistic == pytest.approx(stat, rel=REL)
    assert effect.p_value == pytest.approx(p, rel=REL)
    lo, hi = cm.zconfint_diff(alpha=0.05, alternative=SM_ALT[alternative], usevar="unequal")
    assert effect.diff_ci[0] == pytest.approx(lo, rel=REL)
    assert effect.diff_ci[1] == pytest.approx(hi, rel=REL)
    assert effect.df == math.inf


def test_relative_lift_delta_method_hand_worked() -> None:
    # Hand-worked: c = 10 (var 0.25), t = 11 (var 0.36), z-test.
    effect = compare(ArmEstimate(10.0, 0.25, 100, math.inf), ArmEstimate(11.0, 0.36, 100, math.inf),
                     test="z")
    se = math.sqrt(0.36 / 100 + 121 * 0.25 / 10_000)
    assert effect.rel_lift == pytest.approx(0.1, rel=REL)
    assert effect.rel_lift_se == pytest.approx(se, rel=REL)
    q = sps.norm.ppf(0.975)
    assert effect.rel_lift_ci == pytest.approx((0.1 - q * se, 0.1 + q * se), rel=REL)
    assert effect.diff_se == pytest.approx(math.sqrt(0.61), rel=REL)


def test_relative_lift_se_matches_numerical_gradient() -> None:
    c, t, vc, vt = 3.2, 3.5, 0.04, 0.09
    effect = compare(ArmEstimate(c, vc, 50, 49), ArmEstimate(t, vt, 60, 59))
    h = 1e-6
    g_t = ((t + h) / c - (t - h) / c) / (2 * h)
    g_c = (t / (c + h) - t / (c - h)) / (2 * h)
    assert effect.rel_lift_se == pytest.approx(math.sqrt(g_t**2 * vt + g_c**2 * vc), rel=1e-7)


def test_control_zero_keeps_the_difference() -> None:
    effect = compare(ArmEstimate(0.0, 0.01, 30, 29), ArmEstimate(0.5, 0.02, 30, 29))
    assert effect.error is ErrorCode.CONTROL_MEAN_ZERO
    assert effect.diff == 0.5 and effect.diff_se == pytest.approx(math.sqrt(0.03), rel=REL)
    assert np.isfinite(effect.p_value) and np.isfinite(effect.diff_ci[0])
    assert math.isnan(effect.rel_lift) and math.isnan(effect.rel_lift_ci[0])


def test_arm_error_propagates() -> None:
    bad = mean_estimate(Moments.zero(["y"]))
    effect = compare(bad, ArmEstimate(1.0, 0.1, 10, 9))
    assert effect.error is ErrorCode.ZERO_UNITS
    assert math.isnan(effect.diff) and math.isnan(effect.p_value)


def test_zero_variance_is_a_code() -> None:
    c = _est(np.full(10, 2.0))
    t = _est(np.full(12, 2.0))
    effect = compare(c, t)
    assert effect.error is ErrorCode.ZERO_VARIANCE
    assert effect.diff == 0.0 and math.isnan(effect.p_value)


def test_one_arm_constant_is_fine(data: tuple[np.ndarray, np.ndarray]) -> None:
    c = np.zeros(300)
    t = data[1]
    effect = compare(_est(c), _est(t))
    ref = sps.ttest_ind(t, c, equal_var=False)
    assert effect.error is ErrorCode.CONTROL_MEAN_ZERO  # lift undefined, test stands
    assert effect.p_value == pytest.approx(ref.pvalue, rel=REL)
    assert effect.df == pytest.approx(ref.df, rel=REL)
