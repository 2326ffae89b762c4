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
from tests.metrics.covariates_data import Shop, build_shop, unit_rows, write_project

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
    assert r.covariates == list(REVENUE)
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
    assert r.error is None and r.covariates == ["predicted_revenue"]
    assert r.diff == pytest.approx(ref["diff"], rel=REL)
    assert r.diff_se == pytest.approx(ref["se"], rel=REL)
    z = float(ref["diff"]) / float(ref["se"])  # type: ignore[arg-type]
    assert r.p_value == pytest.approx(2 * stats.norm.sf(abs(z)), rel=REL)
    assert r.cuped_variance_reduction == pytest.approx(ref["reduction"], rel=REL)


def test_the_json_names_the_covariates_and_their_variance_reduction(
    result: AnalysisResult,
) -> None:
    [revenue] = [r for r in result.to_dict()["results"] if r["metric"] == "revenue"]
    assert revenue["covariates"] == list(REVENUE)
    assert set(revenue["covariate_coefficients"]) == set(REVENUE)
    assert 0 < revenue["cuped_variance_reduction"] < 1
