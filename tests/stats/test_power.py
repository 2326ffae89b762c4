"""Power, sample size and MDE against statsmodels."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.power import NormalIndPower, TTestIndPower
from statsmodels.stats.proportion import power_proportions_2indep

from assay.stats.group_sequential import gs_boundaries, inflation_factor
from assay.stats.moments import Moments
from assay.stats.power import (
    mde_mean,
    mde_proportion,
    metric_from_history,
    msprt_inflation,
    power_mean,
    power_proportion,
    sample_size_mean,
    sample_size_proportion,
)

REL = 1e-9
SM_ALT = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
@pytest.mark.parametrize("ratio", [1.0, 2.5])
def test_power_mean_matches_statsmodels(alternative: str, ratio: float) -> None:
    d = 0.08 if alternative != "less" else -0.08
    for test, ref in (("z", NormalIndPower()), ("t", TTestIndPower())):
        got = power_mean(d * 3.0, 3.0, 1500, ratio=ratio, alpha=0.05, alternative=alternative,  # type: ignore[arg-type]
                         test=test)  # type: ignore[arg-type]
        want = ref.power(d, 1500, 0.05, ratio=ratio, alternative=SM_ALT[alternative])
        assert got == pytest.approx(want, rel=REL)


@pytest.mark.parametrize("test", ["z", "t"])
@pytest.mark.parametrize("ratio", [1.0, 0.5])
def test_sample_size_matches_statsmodels(test: str, ratio: float) -> None:
    ref = NormalIndPower() if test == "z" else TTestIndPower()
    got = sample_size_mean(0.5, 4.0, power=0.9, ratio=ratio, alpha=0.01, test=test)  # type: ignore[arg-type]
    want = ref.solve_power(0.125, alpha=0.01, power=0.9, ratio=ratio)
    assert got == pytest.approx(want, rel=1e-8)
    # Exactness: the achieved power at the solved size is the target.
    assert ref.power(0.125, got, 0.01, ratio=ratio) == pytest.approx(0.9, rel=1e-10)


def test_mde_inverts_power() -> None:
    d = mde_mean(2.0, 4000, power=0.8)
    # statsmodels' own solve_power for the effect size stops at ~1e-5 relative, so the oracle
    # is its power function evaluated at our MDE.
    assert NormalIndPower().power(d / 2.0, 4000, 0.05) == pytest.approx(0.8, rel=REL)
    t = mde_mean(2.0, 4000, power=0.8, ratio=3.0, test="t", alternative="greater")
    assert TTestIndPower().power(t / 2.0, 4000, 0.05, ratio=3.0, alternative="larger") == (
        pytest.approx(0.8, rel=REL))


@pytest.mark.parametrize("alternative", ["two-sided", "greater"])
@pytest.mark.parametrize("ratio", [1.0, 2.0])
def test_power_proportion_matches_statsmodels(alternative: str, ratio: float) -> None:
    # statsmodels: sample 1 = treatment (p2 + diff, nobs1), sample 2 = control (nobs1 * ratio).
    got = power_proportion(0.10, 0.115, 3000 * ratio, ratio=1 / ratio, alternative=alternative)  # type: ignore[arg-type]
    want = power_proportions_2indep(0.015, 0.10, 3000, ratio=ratio,
                                    alternative=SM_ALT[alternative], return_results=False)
    assert got == pytest.approx(want, rel=REL)


def test_sample_size_proportion_hits_target_power() -> None:
    n = sample_size_proportion(0.05, 0.055, power=0.8)
    assert power_proportions_2indep(0.005, 0.05, n, return_results=False) == pytest.approx(
        0.8, rel=1e-10)
    d = mde_proportion(0.05, n)
    assert d == pytest.approx(0.005, rel=1e-8)


def test_textbook_sample_size() -> None:
    # Classic rule: n = 2 (z_.975 + z_.8)^2 sigma^2 / delta^2 = 15.70 per arm for d = 1 sd,
    # +1 unit of the t-test (Cohen 1988, table 2.4.1: n = 17 for d = 1.0 at power .8).
    assert sample_size_mean(1.0, 1.0) == pytest.approx(15.70, abs=0.01)
    assert math.ceil(sample_size_mean(1.0, 1.0, test="t")) == 17


def test_gs_inflation_obf() -> None:
    # OBF-type, 5 looks, alpha .05 two-sided, power .8: R ~ 1.025 (the Pocock case is checked
    # against Monte Carlo in test_group_sequential; OBF costs only a few percent).
    r = inflation_factor(gs_boundaries([0.2, 0.4, 0.6, 0.8, 1.0]), 0.8)
    assert r == pytest.approx(1.025, abs=0.002)


def test_msprt_inflation_is_above_one() -> None:
    n = sample_size_mean(0.1, 1.0)
    r = msprt_inflation(0.1, 1.0, n, power=0.8)
    assert 1.2 < r < 3.0


def test_metric_from_history() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(10, 2, 5000)
    y = 0.5 * x + rng.normal(0, 1, 5000)
    m = Moments.from_values({"y": y, "x": x})
    h = metric_from_history(m, "mean", x="x")
    assert h["baseline"] == pytest.approx(y.mean(), rel=REL)
    assert h["std"] == pytest.approx(np.std(y, ddof=1), rel=REL)
    assert h["cuped_reduction"] == pytest.approx(np.corrcoef(y, x)[0, 1] ** 2, rel=REL)
    num, den = rng.poisson(3, 5000).astype(float), rng.poisson(9, 5000).astype(float) + 1
    r = metric_from_history(Moments.from_values({"num": num, "den": den}), "ratio")
    lin = (num - num.sum() / den.sum() * den) / den.mean()
    assert r["std"] == pytest.approx(np.std(lin, ddof=1), rel=REL)
    p = metric_from_history(Moments.from_values({"y": (y > 5).astype(float)}), "proportion")
    assert p["std"] == pytest.approx(math.sqrt(p["baseline"] * (1 - p["baseline"])), rel=REL)
