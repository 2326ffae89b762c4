"""Quantile metrics through DuckDB, PostgreSQL and Spark against numpy on rows pulled separately.

The reference takes the values with pandas (``latency.oracle_values``), the quantile and its
band with ``numpy.quantile(method="inverted_cdf")`` at the band's levels, and the clustered
variance by linearisation (``S_i - r M_i``), not by the moments formula the engine uses.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from tests.metrics.latency import Latency, build_latency, oracle_values, write_latency_project

from assay.analysis import AnalysisResult, analyze
from assay.spec import load_project
from assay.stats.quantiles import BAND_Z
from assay.warehouse.base import Warehouse

REL = 1e-9


@pytest.fixture(scope="module")
def data() -> Latency:
    return build_latency()


@pytest.fixture
def result(warehouse: Warehouse, data: Latency, tmp_path: Path) -> AnalysisResult:
    warehouse.write_table("exposures", data.exposures, mode="replace")
    warehouse.write_table("requests", data.requests, mode="replace")
    project = load_project(write_latency_project(tmp_path))
    return analyze(project, "exp", warehouse=warehouse)


def _reference(rows: pd.DataFrame, nu: float, clustered: bool) -> tuple[float, float, float]:
    """(quantile, variance of it, units) of one arm, independently of the engine's code."""
    x = np.sort(rows.v.to_numpy(dtype=float))
    n = len(x)
    half = BAND_Z * math.sqrt(nu * (1 - nu) / n)
    q = float(np.quantile(x, nu, method="inverted_cdf"))
    lo = float(np.quantile(x, nu - half, method="inverted_cdf"))
    hi = float(np.quantile(x, nu + half, method="inverted_cdf"))
    variance = ((hi - lo) / (2 * BAND_Z)) ** 2
    if not clustered:
        return q, variance, n
    per_unit = rows.assign(below=rows.v <= q).groupby("unit_id").agg(
        m=("v", "size"), s=("below", "sum")
    )
    m, s = per_unit.m.to_numpy(dtype=float), per_unit.s.to_numpy(dtype=float)
    r = s.sum() / m.sum()
    sigma2 = np.var(s - r * m, ddof=1) / (len(m) * m.mean() ** 2)
    return q, variance * sigma2 * n / (nu * (1 - nu)), len(m)


@pytest.mark.parametrize(
    ("metric", "nu", "clustered"),
    [("p95_latency", 0.95, True), ("median_total_ms", 0.5, False), ("p90_mean_ms", 0.9, False)],
)
def test_quantile_difference_matches_numpy(  # type: ignore[no-untyped-def]
    result: AnalysisResult, data: Latency, metric: str, nu: float, clustered: bool
) -> None:
    rows = oracle_values(data)[metric]
    qc, vc, nc = _reference(rows[rows.variant == "control"], nu, clustered)
    qt, vt, nt = _reference(rows[rows.variant == "faster"], nu, clustered)
    r = next(x for x in result.results if x.metric == metric)
    assert r.kind == "quantile" and r.error is None
    assert (r.mean_control, r.mean_treatment) == pytest.approx((qc, qt), rel=REL)
    assert (r.n_control, r.n_treatment) == (nc, nt)
    se = math.sqrt(vc + vt)
    z = stats.norm.ppf(0.975)
    assert r.diff == pytest.approx(qt - qc, rel=REL)
    assert r.diff_se == pytest.approx(se, rel=1e-7)
    assert r.diff_ci == pytest.approx((qt - qc - z * se, qt - qc + z * se), rel=1e-7)
    assert r.p_value == pytest.approx(2 * stats.norm.sf(abs(qt - qc) / se), rel=1e-6)
    rel_se = math.sqrt(vt / qc**2 + qt**2 * vc / qc**4)
    assert r.rel_lift == pytest.approx(qt / qc - 1, rel=REL)
    assert r.rel_lift_ci == pytest.approx(
        (qt / qc - 1 - z * rel_se, qt / qc - 1 + z * rel_se), rel=1e-7
    )
    assert f"p{100 * nu:g}" in r.method
    assert ("clusters" in r.method) == clustered


def test_quantiles_join_the_corrected_family_in_spec_order(result: AnalysisResult) -> None:
    names = [r.metric for r in result.results]
    assert names == ["p95_latency", "median_total_ms", "p90_mean_ms", "requests"]
    assert all(r.p_value_adjusted >= r.p_value for r in result.results)
    assert any(name.startswith("quantiles:") for name in result.sql)


def test_a_quarter_faster_is_found_at_p95(result: AnalysisResult) -> None:
    r = next(x for x in result.results if x.metric == "p95_latency")
    assert r.significant and r.diff < 0
    assert r.rel_lift_ci[0] < -0.25 < r.rel_lift_ci[1]
