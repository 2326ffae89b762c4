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
        raw = [m.recentred(np.zeros(len(m.names))) for m in ms]  # the array API takes raw sums
        if b is None:
            return np.array([m.sums[m.index(a)] for m in raw])
        return np.array([m.cross[m.index(a), m.index(b)] for m in raw])

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


def test_moment_arrays_read_the_contract_columns() -> None:
    from assay.stats.batch import MomentArrays
    from assay.stats.moments import cross_column, sum_column

    rng = np.random.default_rng(21)
    cells = [Moments.from_values({"y": rng.normal(size=k), "x": rng.normal(size=k)})
             for k in (3, 10, 25)]
    rows = []
    for m in cells:
        row: dict[str, float | None] = {"n": m.n}
        for i, a in enumerate(m.names):
            row[sum_column(a)] = m.sums[i]
            for j, b in enumerate(m.names):
                row[cross_column(a, b)] = m.cross[i, j]
        rows.append(row)
    rows.append({k: None for k in rows[0]})  # an empty cell: SQL NULLs
    columns = {k: [r[k] if r[k] is not None else np.nan for r in rows] for k in rows[0]}
    stacked = MomentArrays.from_columns(("y", "x"), columns)
    for i, row in enumerate(rows):
        want = Moments.from_row(("y", "x"), row)
        assert stacked.n[i] == want.n
        np.testing.assert_array_equal(stacked.sums[i], want.sums)
        np.testing.assert_array_equal(stacked.cross[i], want.cross)


def test_cuped_batch_equals_scalar_cell_by_cell() -> None:
    from assay.stats.batch import MomentArrays, cuped_batch
    from assay.stats.estimates import cuped_estimates

    rng = np.random.default_rng(22)
    cells, arms = 200, ("control", "t1", "t2")
    per_arm: dict[str, list[Moments]] = {a: [] for a in arms}
    for i in range(cells):
        for a in arms:
            k = int(rng.integers(0, 30)) if i % 5 else 1
            x = rng.normal(size=k) if i % 9 else np.ones(k)  # constant covariate: theta = 0
            y = 0.6 * x + rng.normal(size=k)
            per_arm[a].append(Moments.from_values({"y": y, "x": x}) if k else
                              Moments.zero(["y", "x"]))
    stacked = [MomentArrays.from_moments(per_arm[a]) for a in arms]
    est, theta, reduction = cuped_batch(stacked)
    for i in range(cells):
        want = cuped_estimates({a: per_arm[a][i] for a in arms})
        np.testing.assert_allclose(theta[i], want.theta, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(reduction[i], want.variance_reduction, rtol=1e-9,
                                   atol=1e-12, equal_nan=True)
        for j, a in enumerate(arms):
            w = want.estimates[a]
            assert est[j].error[i] == w.error
            np.testing.assert_allclose([est[j].point[i], est[j].variance[i], est[j].df[i]],
                                       [w.point, w.variance, w.df], rtol=1e-9, atol=1e-12,
                                       equal_nan=True)


def test_mean_and_ratio_batch_equal_scalar_cell_by_cell() -> None:
    """The stacked-moment entry points read the right columns and match the scalar estimates,
    empty cells and zero denominators included."""
    from assay.stats.batch import MomentArrays, mean_batch, ratio_batch

    rng = np.random.default_rng(23)
    cells: list[Moments] = []
    for i in range(120):
        k = 0 if i % 17 == 0 else int(rng.integers(1, 40))
        den = rng.poisson(2.0, size=k).astype(float) if i % 11 else np.zeros(k)
        num = den * rng.lognormal(size=k) + rng.normal(size=k)
        cells.append(Moments.from_values({"num": num, "den": den}) if k
                     else Moments.zero(["num", "den"]))
    stacked = MomentArrays.from_moments(cells)
    for got, scalar in ((ratio_batch(stacked), ratio_estimate),
                        (mean_batch(stacked, "num"), lambda m: mean_estimate(m, "num"))):
        for i, m in enumerate(cells):
            want = scalar(m)
            assert got.error[i] == want.error
            np.testing.assert_allclose([got.point[i], got.variance[i], got.df[i]],
                                       [want.point, want.variance, want.df], rtol=1e-9,
                                       atol=1e-12, equal_nan=True)
