"""Fieller's interval, A/B/n, family adjustment and the vectorised batch path."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from assay.stats.batch import compare_batch, mean_arrays, ratio_arrays
from assay.stats.codes import ErrorCode
from assay.stats.estimates import ArmEstimate, mean_estimate, ratio_estimate
from assay.stats.moments import Moments
from assay.stats.multiple import adjust_effects, interval_alpha
from assay.stats.tests import compare, compare_to_control


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_fieller_endpoints_invert_the_ratio_test(alternative: str) -> None:
    c, vc, t, vt = 5.0, 0.09, 5.6, 0.16
    e = compare(ArmEstimate(c, vc, 40, 39), ArmEstimate(t, vt, 50, 49), lift_interval="fieller",
                alternative=alternative)  # type: ignore[arg-type]
    assert e.rel_lift_method == "fieller"
    df = e.df
    q = sps.t.ppf(0.975 if alternative == "two-sided" else 0.95, df)
    for end in e.rel_lift_ci:
        if math.isinf(end):
            continue
        r = end + 1.0
        assert abs(t - r * c) / math.sqrt(vt + r**2 * vc) == pytest.approx(q, rel=1e-10)
    # Fieller is asymmetric around the point (skewed up for a ratio), the delta CI symmetric.
    delta = compare(ArmEstimate(c, vc, 40, 39), ArmEstimate(t, vt, 50, 49), alternative=alternative)  # type: ignore[arg-type]
    assert delta.rel_lift_method == "delta"
    if alternative == "two-sided":
        lo, hi = e.rel_lift_ci
        assert hi - e.rel_lift > e.rel_lift - lo


def test_fieller_unbounded_when_control_is_noise() -> None:
    e = compare(ArmEstimate(0.1, 1.0, 40, 39), ArmEstimate(1.0, 1.0, 40, 39),
                lift_interval="fieller")
    assert e.rel_lift_ci == (-math.inf, math.inf)


def test_compare_to_control_abn() -> None:
    c = ArmEstimate(1.0, 0.01, 100, 99)
    arms = {"b": ArmEstimate(1.1, 0.01, 100, 99), "c": ArmEstimate(0.95, 0.02, 100, 99)}
    out = compare_to_control(c, arms, alpha=0.1, test="z")
    assert set(out) == {"b", "c"}
    assert out["b"] == compare(c, arms["b"], alpha=0.1, test="z")


def test_adjust_effects_bonferroni_and_bh() -> None:
    c = ArmEstimate(1.0, 0.01, 100, 99)
    effects = [compare(c, ArmEstimate(1.0 + d, 0.01, 100, 99)) for d in (0.5, 0.1, 0.3, 0.02)]
    p = np.array([e.p_value for e in effects])
    bonf = adjust_effects(effects, "bonferroni", 0.05)
    np.testing.assert_allclose([a.p_value_adjusted for a in bonf],
                               multipletests(p, method="bonferroni")[1], rtol=1e-12)
    q = sps.t.ppf(1 - 0.05 / 4 / 2, effects[1].df)
    assert bonf[1].diff_ci == pytest.approx(
        (effects[1].diff - q * effects[1].diff_se, effects[1].diff + q * effects[1].diff_se))
    bh = adjust_effects(effects, "bh", 0.05)
    rejected = int(np.sum(multipletests(p, alpha=0.05, method="fdr_bh")[0]))
    assert bh[0].interval_alpha == pytest.approx(rejected * 0.05 / 4)
    assert interval_alpha([np.nan, 0.5], "holm") == 0.05


def test_batch_equals_scalar_cell_by_cell() -> None:
    rng = np.random.default_rng(12)
    cells = 300
    ns = rng.integers(0, 40, (2, cells)).astype(float)
    ns[:, :3] = [[0, 1, 5], [5, 5, 1]]
    arms = []
    for side in range(2):
        ms = []
        for i in range(cells):
            k = int(ns[side, i])
            y = rng.lognormal(0, 1, k) if i % 7 else np.full(k, 2.0)
            num = rng.poisson(2, k).astype(float)
            den = rng.poisson(3, k).astype(float) if i % 11 else np.zeros(k)
            ms.append(Moments.from_values({"y": y, "num": num, "den": den}) if k else
                      Moments.zero(["y", "num", "den"]))
        arms.append(ms)

    def stack(ms: list[Moments], a: str, b: str | None = None) -> np.ndarray:
        if b is None:
            return np.array([m.sums[m.index(a)] for m in ms])
        return np.array([m.cross[m.index(a), m.index(b)] for m in ms])

    seen: set[object] = set()
    for kind in ("mean", "ratio"):
        arrays = []
        for ms in arms:
            n = np.array([m.n for m in ms])
            arrays.append(mean_arrays(n, stack(ms, "y"), stack(ms, "y", "y")) if kind == "mean"
                          else ratio_arrays(n, stack(ms, "num"), stack(ms, "den"),
                                            stack(ms, "num", "num"), stack(ms, "num", "den"),
                                            stack(ms, "den", "den")))
        batch = compare_batch(arrays[0], arrays[1], test="welch")
        est = mean_estimate if kind == "mean" else ratio_estimate
        for i in range(cells):
            want = compare(est(arms[0][i]), est(arms[1][i]))
            got = batch.effect(i)
            assert got.error == want.error, (kind, i)
            seen.add(got.error)
            for field in ("diff", "diff_se", "statistic", "df", "p_value", "rel_lift"):
                np.testing.assert_allclose(getattr(got, field), getattr(want, field), rtol=1e-9,
                                           equal_nan=True, err_msg=f"{kind} {i} {field}")
            np.testing.assert_allclose(got.diff_ci, want.diff_ci, rtol=1e-9, equal_nan=True)
    assert {ErrorCode.ZERO_UNITS, ErrorCode.TOO_FEW_UNITS, ErrorCode.ZERO_VARIANCE,
            ErrorCode.DENOMINATOR_ZERO, None} <= seen
    assert len(batch.to_effects()) == cells
