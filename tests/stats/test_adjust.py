"""Regression adjustment and post-stratification against statsmodels OLS and unit-level data."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats as sps

from assay.stats.adjust import poststratified_estimates, regression_estimates
from assay.stats.codes import ErrorCode
from assay.stats.estimates import cuped_estimates
from assay.stats.moments import Moments
from assay.stats.tests import compare

REL = 1e-9


def _data(seed: int = 5) -> dict[str, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = {}
    for arm, n, shift in (("control", 800, 0.0), ("treatment", 950, 0.3)):
        x1 = rng.normal(5, 2, n)
        x2 = rng.gamma(2, 1, n)
        y = 1.5 * x1 - 0.7 * x2 + rng.normal(shift, 1.5, n)
        out[arm] = {"y": y, "x1": x1, "x2": x2, "x3": 2 * x1 + 1}  # x3 collinear with x1
    return out


def test_regression_matches_pooled_ols_and_welch_on_residuals() -> None:
    data = _data()
    cov = ("x1", "x2")
    res = regression_estimates({a: Moments.from_values(v) for a, v in data.items()}, "y", cov)
    y = np.concatenate([v["y"] for v in data.values()])
    x = np.column_stack([np.concatenate([v[c] for v in data.values()]) for c in cov])
    beta = sm.OLS(y, sm.add_constant(x)).fit().params[1:]
    assert [res.coefficients[c] for c in cov] == pytest.approx(beta, rel=REL)
    adj = {a: v["y"] - np.column_stack([v[c] for c in cov]) @ beta + x.mean(0) @ beta
           for a, v in data.items()}
    for a, vals in adj.items():
        assert res.estimates[a].point == pytest.approx(vals.mean(), rel=REL)
        assert res.estimates[a].variance == pytest.approx(vals.var(ddof=1) / vals.size, rel=REL)
    effect = compare(res.estimates["control"], res.estimates["treatment"])
    ref = sps.ttest_ind(adj["treatment"], adj["control"], equal_var=False)
    assert effect.p_value == pytest.approx(ref.pvalue, rel=REL)
    assert res.variance_reduction > 0.8


def test_one_covariate_equals_cuped() -> None:
    data = _data(6)
    moments = {a: Moments.from_values({"y": v["y"], "x": v["x1"]}) for a, v in data.items()}
    reg = regression_estimates(moments, "y", ("x",))
    cup = cuped_estimates(moments)
    assert reg.coefficients["x"] == pytest.approx(cup.theta, rel=REL)
    for a in data:
        assert reg.estimates[a].point == pytest.approx(cup.estimates[a].point, rel=REL)
        assert reg.estimates[a].variance == pytest.approx(cup.estimates[a].variance, rel=REL)
    assert reg.variance_reduction == pytest.approx(cup.variance_reduction, rel=REL)


def test_collinear_covariate_does_not_break() -> None:
    data = _data(7)
    moments = {a: Moments.from_values(v) for a, v in data.items()}
    both = regression_estimates(moments, "y", ("x1", "x3", "x2"))
    one = regression_estimates(moments, "y", ("x1", "x2"))
    for a in data:
        assert both.estimates[a].point == pytest.approx(one.estimates[a].point, rel=1e-7)
        assert both.estimates[a].variance == pytest.approx(one.estimates[a].variance, rel=1e-7)


def _strata_data(seed: int = 9):
    rng = np.random.default_rng(seed)
    out = {}
    for arm, shift in (("control", 0.0), ("treatment", 0.2)):
        s = rng.choice(["a", "b", "c"], size=1200, p=[0.5, 0.3, 0.2])
        y = np.select([s == "a", s == "b"], [1.0, 3.0], 6.0) + rng.normal(shift, 1.0, s.size)
        out[arm] = (s, y)
    return out


def test_poststratification_point_equals_lin_regression() -> None:
    # Miratrix et al. (2013): the post-stratified difference equals the treatment coefficient of
    # OLS with centred stratum dummies fully interacted with treatment (Lin 2013).
    data = _strata_data()
    arms = {a: {k: Moments.from_values({"y": y[s == k]}) for k in "abc"} for a, (s, y) in
            data.items()}
    res = poststratified_estimates(arms)
    s = np.concatenate([data["control"][0], data["treatment"][0]])
    y = np.concatenate([data["control"][1], data["treatment"][1]])
    t = np.r_[np.zeros(1200), np.ones(1200)]
    d = np.column_stack([(s == k).astype(float) for k in "bc"])
    d -= d.mean(axis=0)
    design = sm.add_constant(np.column_stack([t, d, d * t[:, None]]))
    coef = sm.OLS(y, design).fit().params[1]
    diff = res.estimates["treatment"].point - res.estimates["control"].point
    assert diff == pytest.approx(coef, rel=REL)
    # Variance by hand: sum_k w_k^2 s_k^2 / n_k within the arm.
    sc, yc = data["control"]
    w = {k: np.mean(s == k) for k in "abc"}
    var = sum(w[k] ** 2 * yc[sc == k].var(ddof=1) / np.sum(sc == k) for k in "abc")
    assert res.estimates["control"].variance == pytest.approx(var, rel=REL)
    assert res.variance_reduction > 0.5


def test_poststratification_small_stratum_is_a_code() -> None:
    arms = {"control": {"a": Moments.from_values({"y": [1.0, 2.0, 3.0]}),
                        "b": Moments.from_values({"y": [5.0]})},
            "treatment": {"a": Moments.from_values({"y": [1.0, 2.5]}),
                          "b": Moments.from_values({"y": [4.0, 6.0]})}}
    res = poststratified_estimates(arms)
    assert res.estimates["control"].error is ErrorCode.TOO_FEW_UNITS
    assert res.estimates["treatment"].error is None
    known = poststratified_estimates(arms, weights={"a": 3, "b": 1})
    assert known.weights == pytest.approx({"a": 0.75, "b": 0.25})
    assert known.estimates["treatment"].point == pytest.approx(0.75 * 1.75 + 0.25 * 5.0)
