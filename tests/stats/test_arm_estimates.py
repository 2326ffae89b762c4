"""Per-arm estimates against unit-level computations (numpy, scipy) on the same data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from assay.stats.codes import ErrorCode
from assay.stats.estimates import (
    cuped_estimates,
    cuped_ratio_estimates,
    mean_estimate,
    ratio_estimate,
)
from assay.stats.moments import Moments
from assay.stats.tests import compare

REL = 1e-9
Arms = dict[str, dict[str, np.ndarray]]


def _arm(rng: np.random.Generator, n: int, shift: float) -> dict[str, np.ndarray]:
    x = rng.gamma(2.0, 3.0, n)
    y = 0.7 * x + rng.normal(shift, 2.0, n)
    den = rng.poisson(5, n) + 1.0
    num = rng.binomial(den.astype(int), 0.2 + 0.01 * shift).astype(float)
    den_pre = rng.poisson(5, n) + 1.0
    num_pre = rng.binomial(den_pre.astype(int), 0.2).astype(float) + 0.3 * num
    return {"y": y, "x": x, "num": num, "den": den, "num_pre": num_pre, "den_pre": den_pre}


@pytest.fixture
def arms() -> Arms:
    rng = np.random.default_rng(20261122)
    return {"control": _arm(rng, 900, 0.0), "treatment": _arm(rng, 1100, 0.4)}


def test_mean_estimate_matches_numpy(arms: Arms) -> None:
    y = arms["control"]["y"]
    est = mean_estimate(Moments.from_values({"y": y}))
    assert est.point == pytest.approx(np.mean(y), rel=REL)
    assert est.variance == pytest.approx(np.var(y, ddof=1) / y.size, rel=REL)
    assert est.n == y.size and est.df == y.size - 1 and est.error is None


@pytest.mark.parametrize(
    ("values", "code"), [([], ErrorCode.ZERO_UNITS), ([3.0], ErrorCode.TOO_FEW_UNITS)]
)
def test_mean_estimate_codes(values: list[float], code: ErrorCode) -> None:
    m = Moments.zero(["y"]) if not values else Moments.from_values({"y": values})
    est = mean_estimate(m)
    assert est.error is code
    assert math.isnan(est.point) and math.isnan(est.variance)


def test_ratio_estimate_equals_linearised_unit_values(arms: Arms) -> None:
    # Independent oracle: the delta-method variance equals var(L)/n of the unit-level
    # linearisation L = (num - R den) / mean(den) (Deng et al. 2018, section 3).
    a = arms["treatment"]
    num, den = a["num"], a["den"]
    est = ratio_estimate(Moments.from_values({"num": num, "den": den}))
    r = num.sum() / den.sum()
    lin = (num - r * den) / den.mean()
    assert est.point == pytest.approx(r, rel=REL)
    assert est.variance == pytest.approx(np.var(lin, ddof=1) / num.size, rel=REL)
    assert est.df == math.inf


def test_ratio_estimate_denominator_zero() -> None:
    est = ratio_estimate(Moments.from_values({"num": [1.0, 2.0, 0.0], "den": [0.0, 0.0, 0.0]}))
    assert est.error is ErrorCode.DENOMINATOR_ZERO and math.isnan(est.point)


def test_cuped_matches_scipy_welch_on_adjusted_values(arms: Arms) -> None:
    moments = {k: Moments.from_values({"y": v["y"], "x": v["x"]}) for k, v in arms.items()}
    res = cuped_estimates(moments)
    y = np.concatenate([v["y"] for v in arms.values()])
    x = np.concatenate([v["x"] for v in arms.values()])
    theta = np.cov(y, x, ddof=1)[0, 1] / np.var(x, ddof=1)
    assert res.theta == pytest.approx(theta, rel=REL)
    adj = {k: v["y"] - theta * (v["x"] - x.mean()) for k, v in arms.items()}
    for k, values in adj.items():
        assert res.estimates[k].point == pytest.approx(values.mean(), rel=REL)
        assert res.estimates[k].variance == pytest.approx(np.var(values, ddof=1) / values.size,
                                                         rel=REL)
    effect = compare(res.estimates["control"], res.estimates["treatment"])
    ref = sps.ttest_ind(adj["treatment"], adj["control"], equal_var=False)
    assert effect.statistic == pytest.approx(ref.statistic, rel=REL)
    assert effect.p_value == pytest.approx(ref.pvalue, rel=REL)
    assert effect.df == pytest.approx(ref.df, rel=REL)
    raw = sum(np.var(v["y"], ddof=1) / v["y"].size for v in arms.values())
    adjusted = sum(np.var(v, ddof=1) / v.size for v in adj.values())
    assert res.variance_reduction == pytest.approx(1 - adjusted / raw, rel=REL)
    assert res.variance_reduction > 0.5  # y = 0.7 x + noise: a strong covariate


def test_cuped_constant_covariate_is_no_adjustment() -> None:
    rng = np.random.default_rng(1)
    arms = {k: Moments.from_values({"y": rng.normal(size=50), "x": np.ones(50)}) for k in "ab"}
    res = cuped_estimates(arms)
    assert res.theta == 0.0 and res.variance_reduction == pytest.approx(0.0, abs=1e-15)
    for k, m in arms.items():
        plain = mean_estimate(m)
        assert res.estimates[k].point == pytest.approx(plain.point, rel=REL)
        assert res.estimates[k].variance == pytest.approx(plain.variance, rel=REL)


def test_cuped_empty_arm_is_a_code_not_an_exception() -> None:
    rng = np.random.default_rng(2)
    arms = {"a": Moments.from_values({"y": rng.normal(size=30), "x": rng.normal(size=30)}),
            "b": Moments.zero(["y", "x"])}
    res = cuped_estimates(arms)
    assert res.estimates["b"].error is ErrorCode.ZERO_UNITS
    assert res.estimates["a"].error is None


def test_cuped_ratio_matches_unit_level_linearisation(arms: Arms) -> None:
    names = ("num", "den", "num_pre", "den_pre")
    moments = {k: Moments.from_values({n: v[n] for n in names}) for k, v in arms.items()}
    res = cuped_ratio_estimates(moments)
    lin_y, lin_x = {}, {}
    for k, v in arms.items():
        r, p = v["num"].sum() / v["den"].sum(), v["num_pre"].sum() / v["den_pre"].sum()
        lin_y[k] = (v["num"] - r * v["den"]) / v["den"].mean()
        lin_x[k] = (v["num_pre"] - p * v["den_pre"]) / v["den_pre"].mean()
    ly, lx = np.concatenate(list(lin_y.values())), np.concatenate(list(lin_x.values()))
    theta = np.sum(ly * lx) / np.sum(lx * lx)  # each arm's linearisations have mean zero
    assert res.theta == pytest.approx(theta, rel=REL)
    p_pooled = (sum(v["num_pre"].sum() for v in arms.values())
                / sum(v["den_pre"].sum() for v in arms.values()))
    for k, v in arms.items():
        adj = lin_y[k] - theta * lin_x[k]
        point = v["num"].sum() / v["den"].sum() - theta * (
            v["num_pre"].sum() / v["den_pre"].sum() - p_pooled)
        assert res.estimates[k].point == pytest.approx(point, rel=REL)
        assert res.estimates[k].variance == pytest.approx(np.var(adj, ddof=1) / adj.size, rel=REL)
        assert res.estimates[k].df == math.inf
    assert 0 < res.variance_reduction < 1


def test_cuped_ratio_zero_denominator_arm() -> None:
    rng = np.random.default_rng(3)
    good = {n: rng.poisson(3, 40).astype(float) + 1 for n in ("num", "den", "num_pre", "den_pre")}
    bad = {**good, "den": np.zeros(40)}
    res = cuped_ratio_estimates({"a": Moments.from_values(good), "b": Moments.from_values(bad)})
    assert res.estimates["b"].error is ErrorCode.DENOMINATOR_ZERO
    assert res.estimates["a"].error is None and np.isfinite(res.estimates["a"].variance)
