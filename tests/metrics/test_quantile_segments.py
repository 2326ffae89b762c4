"""Quantile metrics by segment, through DuckDB, PostgreSQL and Spark, against numpy.

Each segment value's quantiles are ranked on their own in the warehouse (a statement per metric
and segment); the reference (``test_quantile_engines._reference``) takes numpy's quantiles of
the same cell's rows pulled with pandas.
"""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow as pa
import pytest
from tests.metrics.latency import Latency, build_latency, oracle_values, write_latency_project
from tests.metrics.test_quantile_engines import _reference

from assay.analysis import AnalysisResult, analyze
from assay.spec import load_project
from assay.warehouse.base import Warehouse


def _regions(n: int) -> list[str | None]:
    return [None if i % 10 == 0 else ("eu" if i % 3 else "us") for i in range(n)]


@pytest.fixture(scope="module")
def data() -> Latency:
    plain = build_latency()
    regions = pa.array(_regions(plain.exposures.num_rows), pa.string())
    return Latency(plain.exposures.append_column("region", regions), plain.requests)


@pytest.fixture
def result(warehouse: Warehouse, data: Latency, tmp_path: Path) -> AnalysisResult:
    warehouse.write_table("exposures", data.exposures, mode="replace")
    warehouse.write_table("requests", data.requests, mode="replace")
    root = write_latency_project(tmp_path)
    spec = root / "experiments" / "exp.yml"
    spec.write_text(spec.read_text(encoding="utf-8") + "segments: [region]\n", encoding="utf-8")
    return analyze(load_project(root), "exp", warehouse=warehouse)


@pytest.mark.parametrize(
    ("metric", "nu", "clustered"),
    [("p95_latency", 0.95, True), ("median_total_ms", 0.5, False), ("p90_mean_ms", 0.9, False)],
)
def test_quantiles_by_segment_match_numpy(
    result: AnalysisResult, data: Latency, metric: str, nu: float, clustered: bool
) -> None:
    region = dict(zip(data.exposures.column("unit_id").to_pylist(),
                      data.exposures.column("region").to_pylist(), strict=True))
    rows = oracle_values(data)[metric]
    rows = rows.assign(region=rows.unit_id.map(region))
    cells = {r.segment_value: r for r in result.segments if r.metric == metric}
    assert set(cells) == {"eu", "us", None}
    assert all(r.segment == "region" and r.kind == "quantile" for r in cells.values())
    for value in ("eu", "us"):
        mine = rows[rows.region == value]
        qc, vc, nc = _reference(mine[mine.variant == "control"], nu, clustered)
        qt, vt, nt = _reference(mine[mine.variant == "faster"], nu, clustered)
        r = cells[value]
        assert r.error is None
        assert (r.n_control, r.n_treatment) == (nc, nt)
        assert (r.mean_control, r.mean_treatment) == pytest.approx((qc, qt), rel=1e-9)
        assert r.diff_se == pytest.approx(math.sqrt(vc + vt), rel=1e-7)
    missing = rows[rows.region.isna()]
    assert cells[None].n_control + cells[None].n_treatment == (
        missing.unit_id.nunique() if clustered else len(missing))


def test_segment_statements_are_recorded(result: AnalysisResult) -> None:
    assert "quantiles:p95_latency:region" in result.sql
    overall = [r.metric for r in result.results]
    assert overall == ["p95_latency", "median_total_ms", "p90_mean_ms", "requests"]
