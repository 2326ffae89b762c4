"""Shifted moments: an offset of 1e9 changes no p-value or variance (DuckDB, PostgreSQL, Spark).

Every unit has requests before and after exposure, with integer latencies, so the per-unit
``max``/``min`` with 1e9 added are exact doubles and the two metrics differ by the offset alone.
With raw sums of squares the offset metric's variance is lost to cancellation (the last test
shows it), so this comparison can fail.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from assay.analysis import AnalysisResult, analyze
from assay.metrics.compile import compile_analysis
from assay.spec import load_project
from assay.stats.estimates import mean_estimate
from assay.stats.moments import Moments
from assay.warehouse.base import Warehouse

OFFSET = 1_000_000_000
START = dt.datetime(2026, 4, 6)

PROJECT = """\
name: offset
exposures: {table: exposures}
sources:
  requests: {table: requests, unit: unit_id, timestamp: ts}
"""


def _metric(name: str, value: str, aggregation: str) -> str:
    return (f"  - name: {name}\n    source: requests\n    value: {value}\n"
            f"    aggregation: {aggregation}\n    window: [0d, 7d]\n    pre_window: [-7d, 0d]\n")


METRICS = "metrics:\n" + "".join([
    _metric("slowest", "latency_ms", "max"),
    _metric("slowest_offset", f"latency_ms + {OFFSET}", "max"),
    _metric("fastest", "latency_ms", "min"),
    _metric("fastest_offset", f"latency_ms + {OFFSET}", "min"),
])

EXPERIMENT = """\
variants:
  - {name: control, weight: 1, control: true}
  - {name: treatment, weight: 1}
start: 2026-04-06
end: 2026-04-12
cuped: true
correction: none
metrics:
  primary: [slowest, slowest_offset, fastest, fastest_offset]
"""


def _tables(n_units: int = 600, seed: int = 3) -> dict[str, pa.Table]:
    rng = np.random.default_rng(seed)
    ids = [f"u{i}" for i in range(n_units)]
    arm = rng.integers(0, 2, n_units)
    t0 = [START + dt.timedelta(seconds=int(s)) for s in rng.integers(0, 5 * 86400, n_units)]
    level = rng.normal(100, 10, n_units)
    unit, ts, latency = [], [], []
    for i, uid in enumerate(ids):
        for side in (-1, 1):
            for _ in range(1 + rng.poisson(1.0)):
                unit.append(uid)
                ts.append(t0[i] + dt.timedelta(seconds=side * float(rng.uniform(60, 6 * 86400))))
                shift = 4 * arm[i] if side > 0 else 0
                latency.append(int(np.rint(level[i] + shift + rng.normal(0, 8))))
    return {
        "exposures": pa.table({
            "experiment_id": ["exp"] * n_units, "unit_id": ids,
            "variant": ["treatment" if a else "control" for a in arm],
            "timestamp": pa.array(t0, pa.timestamp("us")),
        }),
        "requests": pa.table({
            "unit_id": unit, "ts": pa.array(ts, pa.timestamp("us")),
            "latency_ms": pa.array(latency, pa.int64()),
        }),
    }


def _project(root: Path) -> Path:
    (root / "metrics").mkdir(parents=True, exist_ok=True)
    (root / "experiments").mkdir(exist_ok=True)
    (root / "assay_project.yml").write_text(PROJECT, encoding="utf-8")
    (root / "metrics" / "m.yml").write_text(METRICS, encoding="utf-8")
    (root / "experiments" / "exp.yml").write_text(EXPERIMENT, encoding="utf-8")
    return root


@pytest.fixture
def result(warehouse: Warehouse, tmp_path: Path) -> AnalysisResult:
    for name, table in _tables().items():
        warehouse.write_table(name, table, mode="replace")
    return analyze(load_project(_project(tmp_path)), "exp", warehouse=warehouse)


@pytest.mark.parametrize("metric", ["slowest", "fastest"])
def test_an_offset_of_1e9_changes_no_p_value_or_variance(result: AnalysisResult,
                                                         metric: str) -> None:
    plain = next(r for r in result.results if r.metric == metric)
    shifted = next(r for r in result.results if r.metric == f"{metric}_offset")
    assert plain.error is None and shifted.error is None
    assert shifted.p_value == pytest.approx(plain.p_value, rel=1e-9)
    assert shifted.diff_se**2 == pytest.approx(plain.diff_se**2, rel=1e-9)
    assert shifted.diff == pytest.approx(plain.diff, rel=1e-9)
    assert shifted.cuped_variance_reduction == pytest.approx(plain.cuped_variance_reduction,
                                                             rel=1e-9)
    assert shifted.mean_control - OFFSET == pytest.approx(plain.mean_control, abs=1e-6)
    assert "c__y" in result.sql["metrics"]


def test_only_the_offset_metrics_are_shifted(tmp_path: Path) -> None:
    project = load_project(_project(tmp_path))
    plain = compile_analysis(project, "exp", dialect="duckdb")
    assert set(plain.probes) and "c__" not in plain.statements()["metrics"]


def test_raw_sums_lose_the_variance_that_shifted_moments_keep() -> None:
    rng = np.random.default_rng(0)
    for offset in (1e8, 1e9):
        values = offset + rng.normal(0.0, 1.0, 5000)
        shifted = mean_estimate(Moments.from_values({"y": values}))
        assert shifted.variance == pytest.approx(np.var(values, ddof=1) / 5000, rel=1e-9)
        raw = Moments.from_values({"y": values}).recentred(np.zeros(1))
        assert mean_estimate(raw).variance != pytest.approx(shifted.variance, rel=1e-2)
