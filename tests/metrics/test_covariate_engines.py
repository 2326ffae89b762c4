"""Regression adjustment on covariates through DuckDB, PostgreSQL and Spark, against statsmodels.

The reference pulls every unit's outcome and covariates with pandas (``covariates_data.unit_rows``)
and fits OLS ``y ~ arm + centred covariates`` with statsmodels: the arm's coefficient is the
adjusted difference, the covariates' coefficients are the slopes, and the standard error is
Welch's on the OLS residuals of each arm (the slopes taken as known, as CUPED does).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats
from tests.metrics.covariates_data import (
    STRATIFIED,
    Shop,
    build_shop,
    unit_rows,
    write_project,
)

from assay.analysis import AnalysisResult, analyze
from assay.spec import load_project
from assay.warehouse.base import Warehouse

REL = 1e-9
REVENUE = {"revenue (pre)": "revenue_pre", "sessions (pre)": "sessions_pre",
           "tenure_days": "tenure_days", "plan=pro": "plan_pro", "plan=team": "plan_team",
           "predicted_revenue": "prediction"}
CONVERTED = {"predicted_revenue": "prediction"}


@pytest.fixture(scope="module")
def shop() -> Shop:
    return build_shop()


@pytest.fixture
def result(warehouse: Warehouse, shop: Shop, tmp_path: Path) -> AnalysisResult:
    for name in ("exposures", "orders", "sessions", "predictions"):
        warehouse.write_table(name, getattr(shop, name), mode="replace")
    project = load_project(write_project(tmp_path))
    return analyze(project, "exp", warehouse=warehouse)


def ols_reference(units: pd.DataFrame, y: str, covariates: list[str]) -> dict[str, object]:
    """statsmodels OLS of ``y`` on the arm and centred covariates, and Welch on its residuals."""
    x = units[covariates] - units[covariates].mean()
    design = sm.add_constant(pd.concat([(units.variant == "treatment").astype(float)
                                        .rename("arm"), x], axis=1))
    fit = sm.OLS(units[y].to_numpy(dtype=float), design).fit()
    v = {}
    raw = {}
    for arm in ("control", "treatment"):
        inside = (units.variant == arm).to_numpy()
        v[arm] = float(np.var(fit.resid[inside], ddof=1)) / inside.sum()
        raw[arm] = float(np.var(units[y][inside], ddof=1)) / inside.sum()
    n = {arm: int((units.variant == arm).sum()) for arm in ("control", "treatment")}
    se = math.sqrt(v["control"] + v["treatment"])
    df = (v["control"] + v["treatment"]) ** 2 / sum(v[a] ** 2 / (n[a] - 1) for a in v)
    return {"diff": float(fit.params["arm"]), "se": se, "df": df,
            "slopes": {c: float(fit.params[c]) for c in covariates},
            "reduction": 1 - (v["control"] + v["treatment"]) / (raw["control"] + raw["treatment"]),
            "n": n}


def test_revenue_adjusted_on_six_covariates_matches_statsmodels(
    result: AnalysisResult, shop: Shop
) -> None:
    ref = ols_reference(unit_rows(shop), "revenue", list(REVENUE.values()))
    r = next(x for x in result.results if x.metric == "revenue")
    assert r.error is None
    assert (r.n_control, r.n_treatment) == (ref["n"]["control"], ref["n"]["treatment"])
    assert list(r.covariate_coefficients) == list(REVENUE)  # named, in order
    slopes = ref["slopes"]
    assert isinstance(slopes, dict)
    for label, column in REVENUE.items():
        assert r.covariate_coefficients[label] == pytest.approx(slopes[column], rel=REL)
    assert r.diff == pytest.approx(ref["diff"], rel=REL)
    assert r.diff_se == pytest.approx(ref["se"], rel=REL)
    assert r.df == pytest.approx(ref["df"], rel=REL)
    t = float(ref["diff"]) / float(ref["se"])  # type: ignore[arg-type]
    assert r.p_value == pytest.approx(2 * stats.t.sf(abs(t), ref["df"]), rel=REL)
    assert r.cuped_variance_reduction == pytest.approx(ref["reduction"], rel=REL)
    assert r.cuped_variance_reduction > 0.3  # the covariates predict revenue
    assert "regression adjustment (6 covariates)" in r.method


def test_a_proportion_adjusted_on_a_prediction_matches_statsmodels(
    result: AnalysisResult, shop: Shop
) -> None:
    ref = ols_reference(unit_rows(shop), "converted", list(CONVERTED.values()))
    r = next(x for x in result.results if x.metric == "converted")
    assert r.error is None and list(r.covariate_coefficients) == ["predicted_revenue"]
    assert r.diff == pytest.approx(ref["diff"], rel=REL)
    assert r.diff_se == pytest.approx(ref["se"], rel=REL)
    z = float(ref["diff"]) / float(ref["se"])  # type: ignore[arg-type]
    assert r.p_value == pytest.approx(2 * stats.norm.sf(abs(z)), rel=REL)
    assert r.cuped_variance_reduction == pytest.approx(ref["reduction"], rel=REL)


def test_the_json_names_the_covariates_and_their_variance_reduction(
    result: AnalysisResult,
) -> None:
    [revenue] = [r for r in result.to_dict()["results"] if r["metric"] == "revenue"]
    assert list(revenue["covariate_coefficients"]) == list(REVENUE)
    assert 0 < revenue["cuped_variance_reduction"] < 1


@pytest.fixture
def stratified(warehouse: Warehouse, shop: Shop, tmp_path: Path) -> AnalysisResult:
    for name in ("exposures", "orders", "sessions", "predictions"):
        warehouse.write_table(name, getattr(shop, name), mode="replace")
    project = load_project(write_project(tmp_path, experiment=STRATIFIED))
    return analyze(project, "exp", warehouse=warehouse)


def poststratified_reference(units: pd.DataFrame, y: str) -> dict[str, float]:
    """sum_k w_k ybar_ak, Var = sum_k w_k^2 s_ak^2 / n_ak (w_k: pooled shares), with pandas;
    and the arm coefficient of statsmodels OLS ``y ~ arm * centred stratum dummies`` (Lin 2013:
    the same point)."""
    w = units.plan.value_counts(normalize=True)
    point, var = {}, {}
    for arm, rows in units.groupby("variant"):
        by = rows.groupby("plan")[y]
        point[arm] = float((w * by.mean()).sum())
        var[arm] = float((w**2 * by.var(ddof=1) / by.size()).sum())
    dummies = pd.get_dummies(units.plan, drop_first=True, dtype=float)
    dummies -= dummies.mean()
    arm = (units.variant == "treatment").astype(float).rename("arm")
    design = sm.add_constant(pd.concat(
        [arm, dummies, dummies.mul(arm, axis=0).add_prefix("arm_")], axis=1))
    fit = sm.OLS(units[y].to_numpy(dtype=float), design).fit()
    raw = units.groupby("variant")[y].agg(lambda v: np.var(v, ddof=1) / len(v))
    return {"diff": point["treatment"] - point["control"], "ols": float(fit.params["arm"]),
            "se": math.sqrt(var["control"] + var["treatment"]),
            "reduction": 1 - (var["control"] + var["treatment"]) / float(raw.sum())}


@pytest.mark.parametrize("metric", ["spend", "ordered"])
def test_poststratified_on_plan_matches_pandas_and_statsmodels(
    stratified: AnalysisResult, shop: Shop, metric: str
) -> None:
    units = unit_rows(shop).assign(spend=lambda d: d.revenue, ordered=lambda d: d.converted)
    ref = poststratified_reference(units, metric)
    r = next(x for x in stratified.results if x.metric == metric)
    assert r.error is None and "post-stratified on plan (3)" in r.method
    assert ref["diff"] == pytest.approx(ref["ols"], rel=1e-9)  # the two references agree
    assert r.diff == pytest.approx(ref["diff"], rel=REL)
    assert r.diff_se == pytest.approx(ref["se"], rel=REL)
    assert r.cuped_variance_reduction == pytest.approx(ref["reduction"], rel=REL)
    assert r.cuped_variance_reduction > 0.0


def test_a_metric_with_covariates_is_regression_adjusted_not_stratified(
    stratified: AnalysisResult,
) -> None:
    r = next(x for x in stratified.results if x.metric == "revenue")
    assert "post-stratified" not in r.method and "regression adjustment" in r.method
    assert {s.segment for s in stratified.segments} == {"plan"}  # the strata, reported too


def test_each_covariate_is_checked_for_balance_before_exposure(shop: Shop, tmp_path: Path
                                                               ) -> None:
    from scipy.stats import ttest_ind

    from assay.analysis.compute import covariate_balance, split_rows
    from assay.metrics.compile import compile_analysis
    from assay.warehouse.duckdb import DuckDBWarehouse

    wh = DuckDBWarehouse(":memory:")
    for name in ("exposures", "orders", "sessions", "predictions"):
        wh.write_table(name, getattr(shop, name), mode="replace")
    compiled = compile_analysis(load_project(write_project(tmp_path)), "exp", "duckdb")
    rows = wh.execute(compiled.statements()["metrics"]).to_pylist()
    balance = dict(covariate_balance(compiled.plan, split_rows(rows, [])[0]))
    units = unit_rows(shop)
    expected = {**REVENUE, "revenue": "revenue_pre"}  # CUPED's own, under the metric's name
    del expected["revenue (pre)"]
    for label, column in expected.items():
        arms = [units[units.variant == v][column] for v in ("control", "treatment")]
        assert balance[label] == pytest.approx(ttest_ind(*arms, equal_var=False).pvalue,
                                               rel=1e-6), label
