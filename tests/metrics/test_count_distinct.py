"""count_distinct: distinct values per unit (items viewed), exact, through three engines."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pa_frames
import pyarrow as pa
import pytest
from scipy import stats

from assay.analysis import AnalysisResult, analyze
from assay.errors import SpecError
from assay.spec import load_project
from assay.warehouse.base import Warehouse

START = dt.datetime(2026, 5, 4)
PROJECT = """\
name: views
exposures: {table: exposures}
sources:
  views: {table: views, unit: unit_id, timestamp: ts}
"""
METRICS = """\
metrics:
  - name: items_viewed
    source: views
    value: item_id
    aggregation: count_distinct
    window: [0d, 7d]
    pre_window: [-7d, 0d]
"""
EXPERIMENT = """\
variants:
  - {name: control, weight: 1, control: true}
  - {name: treatment, weight: 1}
start: 2026-05-04
end: 2026-05-10
metrics:
  primary: [items_viewed]
"""


def _tables(n_units: int = 900, seed: int = 8) -> dict[str, pa.Table]:
    rng = np.random.default_rng(seed)
    ids = [f"u{i}" for i in range(n_units)]
    arm = rng.integers(0, 2, n_units)
    t0 = [START + dt.timedelta(seconds=int(s)) for s in rng.integers(0, 5 * 86400, n_units)]
    unit, ts, item = [], [], []
    for i, uid in enumerate(ids):
        for _ in range(rng.poisson(6 + 2 * arm[i])):
            unit.append(uid)
            ts.append(t0[i] + dt.timedelta(seconds=float(rng.uniform(-7, 9) * 86400)))
            item.append(f"item{rng.integers(0, 12)}" if rng.random() > 0.03 else None)
    return {
        "exposures": pa.table({"experiment_id": ["exp"] * n_units, "unit_id": ids,
                               "variant": ["treatment" if a else "control" for a in arm],
                               "timestamp": pa.array(t0, pa.timestamp("us"))}),
        "views": pa.table({"unit_id": unit, "ts": pa.array(ts, pa.timestamp("us")),
                           "item_id": pa.array(item, pa.string())}),
    }


def _project(root: Path, metrics: str = METRICS) -> Path:
    (root / "metrics").mkdir(parents=True, exist_ok=True)
    (root / "experiments").mkdir(exist_ok=True)
    (root / "assay_project.yml").write_text(PROJECT, encoding="utf-8")
    (root / "metrics" / "m.yml").write_text(metrics, encoding="utf-8")
    (root / "experiments" / "exp.yml").write_text(EXPERIMENT, encoding="utf-8")
    return root


@pytest.fixture
def result(warehouse: Warehouse, tmp_path: Path) -> AnalysisResult:
    for name, table in _tables().items():
        warehouse.write_table(name, table, mode="replace")
    return analyze(load_project(_project(tmp_path)), "exp", warehouse=warehouse)


def test_distinct_items_match_pandas_nunique_and_welch(result: AnalysisResult) -> None:
    tables = _tables()
    e = tables["exposures"].to_pandas().set_index("unit_id")
    v = tables["views"].to_pandas().merge(e[["timestamp", "variant"]], left_on="unit_id",
                                          right_index=True)
    inside = v[(v.ts >= v.timestamp) & (v.ts < v.timestamp + pa_frames.Timedelta(days=7))]
    distinct = inside.groupby("unit_id").item_id.nunique().reindex(e.index).fillna(0)
    c = distinct[e.variant == "control"].to_numpy(float)
    t = distinct[e.variant == "treatment"].to_numpy(float)
    [r] = result.results
    assert (r.mean_control, r.mean_treatment) == pytest.approx((c.mean(), t.mean()), rel=1e-12)
    assert (r.n_control, r.n_treatment) == (len(c), len(t))
    assert r.p_value == pytest.approx(stats.ttest_ind(t, c, equal_var=False).pvalue, rel=1e-9)


def test_count_distinct_needs_a_value(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="count_distinct"):
        load_project(_project(tmp_path, METRICS.replace("    value: item_id\n", "")))


APPROX = METRICS.replace("aggregation: count_distinct", "aggregation: approx_count_distinct")


def test_approx_count_distinct_is_close_to_exact_or_refused(warehouse: Warehouse,
                                                           tmp_path: Path) -> None:
    """A HyperLogLog count where the engine has one (DuckDB, Spark): close to pandas'
    ``nunique`` on these small sets; PostgreSQL has none built in: a located spec error."""
    tables = _tables()
    for name, table in tables.items():
        warehouse.write_table(name, table, mode="replace")
    project = load_project(_project(tmp_path, APPROX))
    if warehouse.dialect == "postgres":
        with pytest.raises(SpecError, match=r"m.yml:5: metrics\[0\].aggregation: the postgres "
                                            "warehouse has no built-in approximate distinct"):
            analyze(project, "exp", warehouse=warehouse)
        return
    result = analyze(project, "exp", warehouse=warehouse)
    [r] = result.results
    e = tables["exposures"].to_pandas().set_index("unit_id")
    v = tables["views"].to_pandas().merge(e[["timestamp", "variant"]], left_on="unit_id",
                                          right_index=True)
    inside = v[(v.ts >= v.timestamp) & (v.ts < v.timestamp + pa_frames.Timedelta(days=7))]
    distinct = inside.groupby("unit_id").item_id.nunique().reindex(e.index).fillna(0)
    exact = (distinct[e.variant == "control"].mean(), distinct[e.variant == "treatment"].mean())
    assert (r.mean_control, r.mean_treatment) == pytest.approx(exact, rel=0.03)
    assert r.n_control + r.n_treatment == len(e)
    assert "APPROX_COUNT_DISTINCT" in result.sql["metrics"]


def test_approx_count_distinct_is_refused_where_the_project_has_no_sketch(
    tmp_path: Path,
) -> None:
    root = _project(tmp_path, APPROX)
    (root / "assay_project.yml").write_text(
        PROJECT + "warehouse: postgresql://127.0.0.1:1/none\n", encoding="utf-8")
    with pytest.raises(SpecError, match="approx_count_distinct` runs on duckdb, spark"):
        load_project(root)
