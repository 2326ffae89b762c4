"""Quantile comparisons: order statistics, the density-based variance, and A/A coverage."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from assay.stats.codes import ErrorCode
from assay.stats.quantiles import (
    QuantileArm,
    band_ranks,
    compare_quantiles,
    quantile_estimate,
)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 100_000), nu=st.floats(0.01, 0.99))
def test_rank_k_is_the_inverse_empirical_cdf(n: int, nu: float) -> None:
    k, lo, hi = band_ranks(n, nu)
    x = np.arange(1.0, n + 1.0)
    assert x[k - 1] == np.quantile(x, nu, method="inverted_cdf")
    assert 1 <= lo <= k <= hi <= n


@pytest.mark.parametrize("nu", [0.5, 0.9, 0.99])
def test_iid_variance_matches_the_asymptotic_formula(nu: float) -> None:
    """Averaged over 20 samples: one density estimate from two order statistics is noisy
    (~10% here), its mean is not."""
    rng = np.random.default_rng(1)
    n = 100_000
    estimates = [quantile_estimate(QuantileArm.from_values(rng.normal(size=n), nu), nu)
                 for _ in range(20)]
    q = stats.norm.ppf(nu)
    theory = nu * (1 - nu) / (n * stats.norm.pdf(q) ** 2)
    assert np.mean([e.point for e in estimates]) == pytest.approx(q, abs=0.01)
    assert np.mean([e.variance for e in estimates]) == pytest.approx(theory, rel=0.06)


def test_singleton_clusters_give_the_iid_variance() -> None:
    rng = np.random.default_rng(2)
    x = rng.exponential(size=50_000)
    iid = quantile_estimate(QuantileArm.from_values(x, 0.95), 0.95)
    clustered = quantile_estimate(QuantileArm.from_values(x, 0.95, np.arange(len(x))), 0.95)
    assert clustered.variance == pytest.approx(iid.variance, rel=1e-3)
    assert clustered.n == len(x)


def test_correlated_events_widen_the_clustered_variance() -> None:
    rng = np.random.default_rng(3)
    units = np.repeat(np.arange(2000), 10)
    x = rng.lognormal(0.0, 0.5, 2000)[units] * rng.lognormal(0.0, 0.3, len(units))
    iid = quantile_estimate(QuantileArm.from_values(x, 0.9), 0.9)
    clustered = quantile_estimate(QuantileArm.from_values(x, 0.9, units), 0.9)
    assert clustered.variance > 2 * iid.variance


def test_too_few_observations_for_the_band_is_an_error_not_a_number() -> None:
    small = QuantileArm.from_values(np.arange(100.0), 0.99)
    assert quantile_estimate(small, 0.99).error is ErrorCode.TOO_FEW_UNITS
    empty = QuantileArm.from_values(np.array([]), 0.5)
    assert quantile_estimate(empty, 0.5).error is ErrorCode.ZERO_UNITS
    effect = compare_quantiles(small, small, 0.99)
    assert effect.error is ErrorCode.TOO_FEW_UNITS and math.isnan(effect.p_value)


def test_tied_values_give_zero_variance() -> None:
    arm = QuantileArm.from_values(np.r_[np.zeros(900), np.ones(100)], 0.5)
    assert compare_quantiles(arm, arm, 0.5).error is ErrorCode.ZERO_VARIANCE


def _aa_coverage(reps: int, nu: float, clustered: bool, honour_clusters: bool = True,
                 seed: int = 7) -> tuple[float, float]:
    """Share of A/A replicates whose diff and relative-diff 95% intervals cover 0."""
    rng = np.random.default_rng(seed)
    covered = covered_rel = 0
    for _ in range(reps):
        arms = []
        for _arm in range(2):
            if clustered:
                counts = rng.poisson(5.0, 400) + 1
                units = np.repeat(np.arange(400), counts)
                speed = rng.lognormal(0.0, 0.4, 400)[units]
                x = speed * rng.lognormal(3.0, 0.5, len(units))
                arms.append(QuantileArm.from_values(x, nu, units if honour_clusters else None))
            else:
                arms.append(QuantileArm.from_values(rng.lognormal(3.0, 0.8, 1500), nu))
        effect = compare_quantiles(arms[0], arms[1], nu)
        covered += effect.diff_ci[0] <= 0.0 <= effect.diff_ci[1]
        covered_rel += effect.rel_lift_ci[0] <= 0.0 <= effect.rel_lift_ci[1]
    return covered / reps, covered_rel / reps


@pytest.mark.slow
@pytest.mark.parametrize(("nu", "clustered"), [(0.5, False), (0.95, False), (0.9, True)])
def test_aa_coverage_is_95_percent(nu: float, clustered: bool) -> None:
    diff, rel = _aa_coverage(4000, nu, clustered)
    assert diff == pytest.approx(0.95, abs=0.01)
    assert rel == pytest.approx(0.95, abs=0.01)


@pytest.mark.slow
def test_ignoring_the_clusters_undercovers() -> None:
    """The check above can fail: treating correlated events as iid loses coverage."""
    diff, _ = _aa_coverage(1000, 0.9, clustered=True, honour_clusters=False)
    assert diff < 0.90
