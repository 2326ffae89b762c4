"""Lan-DeMets boundaries against published values, the multivariate normal and Monte Carlo."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from assay.stats.estimates import ArmEstimate
from assay.stats.group_sequential import (
    group_sequential_test,
    gs_boundaries,
    inflation_factor,
    rejection_probability,
    spending_function,
)

FIVE = [0.2, 0.4, 0.6, 0.8, 1.0]


def test_obf_five_looks_published() -> None:
    # Published Lan-DeMets O'Brien-Fleming-type boundaries, K = 5 equally spaced, two-sided
    # alpha 0.05, as given by the Lan-DeMets programs (Reboussin, DeMets, Kim & Lan 2000,
    # Controlled Clinical Trials 21, 190-207) and gsDesign's sfLDOF to 3 decimals.
    b = gs_boundaries(FIVE, 0.05, "obf")
    np.testing.assert_allclose(b.z, [4.877, 3.357, 2.680, 2.290, 2.031], atol=6e-4)


def test_pocock_five_looks_published() -> None:
    # Lan-DeMets Pocock-type, K = 5, two-sided alpha 0.05 (gsDesign sfLDPocock: 2.438, 2.427,
    # 2.410, 2.397, 2.386).
    b = gs_boundaries(FIVE, 0.05, "pocock")
    np.testing.assert_allclose(b.z, [2.438, 2.427, 2.410, 2.397, 2.386], atol=6e-4)


def test_one_sided_equals_half_of_two_sided() -> None:
    two = gs_boundaries(FIVE, 0.05, "obf")
    one = gs_boundaries(FIVE, 0.025, "obf", "greater")
    np.testing.assert_allclose(one.z, two.z, atol=1e-6)


@pytest.mark.parametrize("kind", ["obf", "pocock"])
def test_spent_alpha_matches_multivariate_normal(kind: str) -> None:
    # Independent oracle: P(cross by look k) from scipy's multivariate normal CDF with
    # corr(Z_i, Z_j) = sqrt(t_i / t_j).
    t = np.array([0.25, 0.5, 0.75])
    b = gs_boundaries(t, 0.05, kind)  # type: ignore[arg-type]
    c = np.array(b.z)
    cov = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    for k in range(1, 4):
        mvn = sps.multivariate_normal(mean=np.zeros(k), cov=cov[:k, :k], seed=5, abseps=1e-8,
                                      releps=0, maxpts=500_000)
        spent = 1.0 - mvn.cdf(c[:k], lower_limit=-c[:k])
        assert spent == pytest.approx(b.cumulative_alpha[k - 1], abs=3e-7)
    expected = 2 * spending_function(t, 0.025, kind)  # type: ignore[arg-type]
    np.testing.assert_allclose(b.cumulative_alpha, expected, rtol=1e-12)


def test_spending_functions_hand_values() -> None:
    assert float(spending_function(1.0, 0.05, "obf")) == pytest.approx(0.05, rel=1e-12)
    assert float(spending_function(1.0, 0.05, "pocock")) == pytest.approx(0.05, rel=1e-12)
    assert float(spending_function(0.5, 0.05, "pocock")) == pytest.approx(
        0.05 * math.log(1 + (math.e - 1) * 0.5), rel=1e-12)
    assert float(spending_function(0.0, 0.05, "obf")) == 0.0


def test_rejection_probability_under_null_is_alpha() -> None:
    b = gs_boundaries([0.1, 0.3, 0.55, 0.8, 1.0], 0.05, "obf")
    assert rejection_probability(b, 0.0) == pytest.approx(0.05, abs=1e-9)


def test_power_matches_monte_carlo() -> None:
    b = gs_boundaries(FIVE, 0.05, "pocock")
    factor = inflation_factor(b, 0.8)
    # Pocock-type, K=5, alpha .05, power .8: max information ~1.21 x fixed; the independent
    # oracle is the Monte Carlo power below.
    assert 1.18 < factor < 1.24
    drift = math.sqrt(factor) * (sps.norm.ppf(0.975) + sps.norm.ppf(0.8))
    rng = np.random.default_rng(11)
    t = np.array(FIVE)
    inc = rng.normal(drift * np.diff(np.r_[0, t]), np.sqrt(np.diff(np.r_[0, t])), (200_000, 5))
    z = np.cumsum(inc, axis=1) / np.sqrt(t)
    power = np.mean(np.any(np.abs(z) >= np.array(b.z), axis=1))
    assert power == pytest.approx(0.8, abs=0.004)  # MC sd ~0.0009


def test_group_sequential_test_stops_at_first_crossing() -> None:
    looks = [(ArmEstimate(10.0, 1.0, 100, math.inf), ArmEstimate(10.0 + d, 1.0, 100, math.inf))
             for d in (1.0, 4.0, 4.5, 3.2, 0.1)]
    res = group_sequential_test(looks, alpha=0.05, spending="obf")
    z = [d / math.sqrt(2.0) for d in (1.0, 4.0, 4.5, 3.2, 0.1)]
    assert [look.statistic for look in res.looks] == pytest.approx(z, rel=1e-12)
    crossed = [abs(zk) >= bk for zk, bk in zip(z, res.boundaries.z, strict=True)]
    assert [look.crossed for look in res.looks] == crossed
    assert res.rejected and res.stopped_at == crossed.index(True)


def test_planned_looks_gives_interim_boundaries() -> None:
    looks = [(ArmEstimate(0.0, 1.0, 10, math.inf), ArmEstimate(0.5, 1.0, 10, math.inf))] * 2
    res = group_sequential_test(looks, planned_looks=5)
    assert res.boundaries.z == pytest.approx(gs_boundaries(FIVE[:2]).z, rel=1e-12)
    assert not res.rejected


def test_bad_fractions_raise() -> None:
    with pytest.raises(ValueError):
        gs_boundaries([0.5, 0.4, 1.0])
