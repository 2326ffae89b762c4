"""mSPRT and asymptotic confidence sequences: formulas by hand and their equivalence."""

from __future__ import annotations

import math

import numpy as np
import pytest

from assay.stats.codes import ErrorCode
from assay.stats.estimates import ArmEstimate
from assay.stats.sequential import confidence_sequence, cs_rho, msprt


def _looks(diffs: list[float], variances: list[float], ns: list[float]
           ) -> list[tuple[ArmEstimate, ArmEstimate]]:
    return [(ArmEstimate(1.0, v / 2, n / 2, math.inf), ArmEstimate(1.0 + d, v / 2, n / 2, math.inf))
            for d, v, n in zip(diffs, variances, ns, strict=True)]


def test_msprt_hand_worked() -> None:
    # One look: diff 0.3, V = 0.01, tau = 0.2.
    res = msprt(_looks([0.3], [0.01], [1000]), tau=0.2, alpha=0.05)
    v, t2 = 0.01, 0.04
    lam = math.sqrt(v / (v + t2)) * math.exp(t2 * 0.09 / (2 * v * (v + t2)))
    half = math.sqrt(v * (v + t2) / t2 * (math.log((v + t2) / v) - 2 * math.log(0.05)))
    look = res.looks[0]
    assert look.p_value == pytest.approx(1 / lam, rel=1e-12)
    assert look.ci == pytest.approx((0.3 - half, 0.3 + half), rel=1e-12)
    # The interval excludes 0 exactly when the always-valid p-value is below alpha.
    assert (look.ci[0] > 0) == (look.p_value <= 0.05) == res.rejected


def test_running_min_and_intersection() -> None:
    res = msprt(_looks([0.05, 0.02, 0.03], [0.004, 0.002, 0.001], [100, 200, 400]), tau=0.05)
    p = [look.p_value for look in res.looks]
    assert p == sorted(p, reverse=True)
    lo = [look.ci[0] for look in res.looks]
    hi = [look.ci[1] for look in res.looks]
    assert lo == sorted(lo) and hi == sorted(hi, reverse=True)


def test_confidence_sequence_is_mixture_with_data_tau() -> None:
    looks = _looks([0.1, 0.08], [0.002, 0.001], [2000, 4000])
    res = confidence_sequence(looks, tuning_n=3000, alpha=0.05)
    rho = cs_rho(3000, 0.05)
    for look, (d, v, n) in zip(res.looks, [(0.1, 0.002, 2000), (0.08, 0.001, 4000)], strict=True):
        s2 = n * v
        half = math.sqrt(s2) * math.sqrt(2 * (n * rho**2 + 1) / (n**2 * rho**2)
                                         * math.log(math.sqrt(n * rho**2 + 1) / 0.05))
        # Waudby-Smith et al. (2024) eq. (14), evaluated by hand.
        assert look.diff == pytest.approx(d, rel=1e-12)
        lo, hi = d - half, d + half
        assert look.ci[0] >= lo - 1e-12 and look.ci[1] <= hi + 1e-12
    first = res.looks[0]
    n, v, d = 2000, 0.002, 0.1
    half = math.sqrt(n * v) * math.sqrt(2 * (n * rho**2 + 1) / (n**2 * rho**2)
                                        * math.log(math.sqrt(n * rho**2 + 1) / 0.05))
    assert first.ci == pytest.approx((d - half, d + half), rel=1e-12)


def test_cs_rho_hand_value() -> None:
    a = -2 * math.log(0.05)
    assert cs_rho(10_000, 0.05) == pytest.approx(math.sqrt((a + math.log(a + 1)) / 10_000))


def test_data_problem_look_is_skipped() -> None:
    looks = _looks([0.1, 0.1], [0.01, 0.005], [100, 200])
    looks[0] = (ArmEstimate(math.nan, math.nan, 0, math.inf, ErrorCode.ZERO_UNITS), looks[0][1])
    res = msprt(looks, tau=0.1)
    assert res.error is ErrorCode.ZERO_UNITS
    assert math.isnan(res.looks[0].diff) and math.isfinite(res.looks[1].ci[0])


def test_tau_must_be_positive() -> None:
    with pytest.raises(ValueError):
        msprt(_looks([0.1], [0.01], [10]), tau=0.0)


def test_msprt_never_rejects_more_than_fixed_test_at_single_look() -> None:
    # Always-valid intervals are wider than the fixed-horizon z interval.
    res = msprt(_looks([0.1], [0.001], [1000]), tau=0.05)
    lo, hi = res.looks[0].ci
    assert hi - lo > 2 * 1.959964 * math.sqrt(0.001)
    assert np.isfinite(lo)


def test_moments_looks_equal_estimate_looks() -> None:
    from assay.stats.estimates import mean_estimate, ratio_estimate
    from assay.stats.group_sequential import group_sequential_test
    from assay.stats.moments import Moments

    rng = np.random.default_rng(1)
    c, t = rng.normal(0, 1, 600), rng.normal(0.1, 1, 600)
    looks = [(Moments.from_values({"y": c[:k]}), Moments.from_values({"y": t[:k]}))
             for k in (200, 400, 600)]
    ests = [(mean_estimate(a), mean_estimate(b)) for a, b in looks]
    assert msprt(looks, tau=0.1) == msprt(ests, tau=0.1)
    assert confidence_sequence(looks) == confidence_sequence(ests)
    assert group_sequential_test(looks).looks == group_sequential_test(ests).looks
    r = [(Moments.from_values({"num": c[:k] + 5, "den": np.ones(k)}),
          Moments.from_values({"num": t[:k] + 5, "den": np.ones(k)})) for k in (200, 400)]
    got = msprt(r, tau=0.1, estimator=ratio_estimate)
    want = msprt([(ratio_estimate(a), ratio_estimate(b)) for a, b in r], tau=0.1)
    assert got == want
