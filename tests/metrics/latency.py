"""A small latency dataset for quantile metrics: units with correlated requests.

Each unit has its own speed (a log-normal factor shared by all its requests), so requests of
one unit are correlated: the clustered variance of an event-level quantile differs from the iid
one. Some units have no requests in the window. Built with numpy as Arrow tables so that every
engine gets the same rows; :func:`oracle_values` recomputes the values the quantiles are taken
of with pandas, sharing no code with the compiler.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

START = dt.datetime(2026, 3, 2)
END = dt.datetime(2026, 3, 9)  # exclusive
WINDOW = dt.timedelta(days=7)

PROJECT = """\
name: latency
exposures:
  table: exposures
sources:
  requests: {table: requests, unit: unit_id, timestamp: ts}
"""

METRICS = """\
metrics:
  - name: p95_latency
    kind: quantile
    quantile: 0.95
    quantile_of: event
    source: requests
    value: latency_ms
    filter: status = 'ok'
    window: [0d, 7d]
  - name: median_total_ms
    kind: quantile
    quantile: 0.5
    source: requests
    value: latency_ms
    window: [0d, 7d]
  - name: p90_mean_ms
    kind: quantile
    quantile: 0.9
    source: requests
    value: latency_ms
    aggregation: avg
    window: [0d, 7d]
  - name: requests
    source: requests
    aggregation: count
    window: [0d, 7d]
"""

EXPERIMENT = """\
variants:
  - {name: control, weight: 1, control: true}
  - {name: faster, weight: 1}
start: 2026-03-02
end: 2026-03-08
metrics:
  primary: [p95_latency]
  secondary: [median_total_ms, p90_mean_ms, requests]
correction: holm
"""


@dataclass(frozen=True)
class Latency:
    """The raw tables."""

    exposures: pa.Table
    requests: pa.Table


def build_latency(n_units: int = 1200, seed: int = 5, speedup: float = 0.75) -> Latency:
    """Exposures and requests; the ``faster`` arm's latencies are ``speedup`` times control's."""
    rng = np.random.default_rng(seed)
    ids = [f"u{i:05d}" for i in range(n_units)]
    arm = rng.integers(0, 2, n_units)
    t0 = [START + dt.timedelta(seconds=int(s)) for s in rng.integers(0, 6 * 86400, n_units)]
    speed = rng.lognormal(0.0, 0.3, n_units)
    unit, ts, latency, status = [], [], [], []
    for i, uid in enumerate(ids):
        for _ in range(rng.poisson(4.0)):
            unit.append(uid)
            ts.append(t0[i] + dt.timedelta(seconds=float(rng.uniform(-2, 9) * 86400)))
            value = float(rng.lognormal(4.0, 0.6) * speed[i] * (speedup if arm[i] else 1.0))
            latency.append(None if rng.random() < 0.02 else round(value, 3))
            status.append("error" if rng.random() < 0.05 else "ok")
    exposures = pa.table({
        "experiment_id": pa.array(["exp"] * n_units, pa.string()),
        "unit_id": pa.array(ids, pa.string()),
        "variant": pa.array(["faster" if a else "control" for a in arm], pa.string()),
        "timestamp": pa.array(t0, pa.timestamp("us")),
    })
    requests = pa.table({
        "unit_id": pa.array(unit, pa.string()),
        "ts": pa.array(ts, pa.timestamp("us")),
        "latency_ms": pa.array(latency, pa.float64()),
        "status": pa.array(status, pa.string()),
    })
    return Latency(exposures, requests)


def write_latency_project(root: Path) -> Path:
    """The project files (tables are loaded into whichever warehouse the test uses)."""
    (root / "metrics").mkdir(parents=True, exist_ok=True)
    (root / "experiments").mkdir(exist_ok=True)
    (root / "assay_project.yml").write_text(PROJECT, encoding="utf-8")
    (root / "metrics" / "latency.yml").write_text(METRICS, encoding="utf-8")
    (root / "experiments" / "exp.yml").write_text(EXPERIMENT, encoding="utf-8")
    return root


def oracle_values(data: Latency) -> dict[str, pd.DataFrame]:
    """Per metric: the rows a quantile is taken of (``variant``, ``unit_id``, ``v``), pandas."""
    exposures = data.exposures.to_pandas()
    units = exposures[(exposures.timestamp >= START) & (exposures.timestamp < END)]
    units = units.groupby("unit_id").agg(t0=("timestamp", "min"), variant=("variant", "first"))
    req = data.requests.to_pandas().merge(units, left_on="unit_id", right_index=True)
    inside = req[(req.ts >= req.t0) & (req.ts < req.t0 + WINDOW)]
    events = inside[(inside.status == "ok") & inside.latency_ms.notna()]
    per_unit_sum = inside.groupby("unit_id").latency_ms.sum(min_count=1)
    totals = per_unit_sum.reindex(units.index).fillna(0.0)
    means = inside.groupby("unit_id").latency_ms.mean().reindex(units.index)
    return {
        "p95_latency": events[["variant", "unit_id"]].assign(v=events.latency_ms),
        "median_total_ms": units[["variant"]].assign(v=totals).reset_index(),
        "p90_mean_ms": units[["variant"]].assign(v=means).dropna().reset_index(),
    }
