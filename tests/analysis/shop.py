"""A small, deterministic shop dataset with every edge case the analysis must handle.

Built with numpy as Arrow tables so the same data can be loaded into any engine. The oracle
(`oracle.py`) recomputes everything from these raw tables with pandas, independently of the SQL.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

START = dt.datetime(2026, 1, 5)
END_DATE = dt.date(2026, 1, 19)  # inclusive: exposures before 2026-01-20 count
END = dt.datetime(2026, 1, 20)
LONG_ID = "L" * 500
ODD_IDS = ["usér_1", "用户_2", "🙂_3", "o'brien", 'quote"d', LONG_ID]


@dataclass(frozen=True)
class Shop:
    """The raw tables."""

    exposures: pa.Table
    orders: pa.Table
    sessions: pa.Table


def build_shop(
    n_units: int = 3000,
    seed: int = 11,
    effect: float = 0.1,
    variants: tuple[str, ...] = ("control", "treatment"),
) -> Shop:
    """Units with a persistent propensity, exposures with defects, orders and sessions."""
    rng = np.random.default_rng(seed)
    ids = [f"u{i:05d}" for i in range(n_units - len(ODD_IDS))] + ODD_IDS
    arm = rng.integers(0, len(variants), n_units)
    t0 = np.array(
        [START + dt.timedelta(seconds=int(s)) for s in rng.integers(0, 14 * 86400, n_units)]
    )
    propensity = rng.lognormal(0.0, 0.6, n_units)
    exposures = _exposures(rng, ids, arm, t0, variants)
    orders = _orders(rng, ids, arm, t0, propensity, effect)
    sessions = _sessions(rng, ids, arm, t0, propensity)
    return Shop(exposures, orders, sessions)


def _exposures(
    rng: np.random.Generator,
    ids: list[str],
    arm: np.ndarray,
    t0: np.ndarray,
    variants: tuple[str, ...],
) -> pa.Table:
    rows: list[tuple[str, str | None, str, dt.datetime, str]] = []
    platforms = ["ios", "android", "web"]
    for i, unit in enumerate(ids):
        platform = platforms[i % 3]
        rows.append(("exp", unit, variants[arm[i]], t0[i], platform))
        if i % 20 == 0:  # duplicate exposure, later
            rows.append(("exp", unit, variants[arm[i]], t0[i] + dt.timedelta(hours=3), "web"))
    for i in range(10):  # units seen in two variants: excluded
        rows.append(
            (
                "exp",
                ids[i],
                variants[(arm[i] + 1) % len(variants)],
                t0[i] + dt.timedelta(hours=1),
                "web",
            )
        )
    for i in range(5):  # units only exposed after the end: excluded
        rows.append(("exp", f"late{i}", variants[0], END + dt.timedelta(days=2), "web"))
    for _ in range(3):  # no unit id
        rows.append(("exp", None, variants[0], START + dt.timedelta(days=1), "web"))
    for i in range(4):  # a variant the spec does not declare
        rows.append(("exp", f"ghost{i}", "ghost", START + dt.timedelta(days=2), "web"))
    rows.append(("other_exp", ids[50], "control", START, "web"))  # another experiment
    columns = list(zip(*rows, strict=True))
    return pa.table(
        {
            "experiment_id": pa.array(columns[0], pa.string()),
            "user_id": pa.array(columns[1], pa.string()),
            "variant": pa.array(columns[2], pa.string()),
            "exposed_at": pa.array(columns[3], pa.timestamp("us")),
            "platform": pa.array(columns[4], pa.string()),
        }
    )


def _orders(
    rng: np.random.Generator,
    ids: list[str],
    arm: np.ndarray,
    t0: np.ndarray,
    propensity: np.ndarray,
    effect: float,
) -> pa.Table:
    unit, ts, amount, status = [], [], [], []
    for i, uid in enumerate(ids):
        lift = 1.0 + effect * (arm[i] == 1)
        for when, scale in ((-1, 1.0), (1, lift)):  # pre-period, then post-exposure
            for _ in range(rng.poisson(0.8 * propensity[i])):
                offset = rng.uniform(0, 20 * 86400) if when > 0 else -rng.uniform(1, 20 * 86400)
                unit.append(uid)
                ts.append(t0[i] + dt.timedelta(seconds=float(offset)))
                value = float(rng.lognormal(3.0, 1.0) * scale)
                amount.append(None if rng.random() < 0.02 else round(value, 2))
                status.append("cancelled" if rng.random() < 0.05 else "paid")
    return pa.table(
        {
            "user_id": pa.array(unit, pa.string()),
            "created_at": pa.array(ts, pa.timestamp("us")),
            "amount": pa.array(amount, pa.float64()),
            "status": pa.array(status, pa.string()),
        }
    )


def _sessions(
    rng: np.random.Generator,
    ids: list[str],
    arm: np.ndarray,
    t0: np.ndarray,
    propensity: np.ndarray,
) -> pa.Table:
    unit, ts, duration = [], [], []
    for i, uid in enumerate(ids):
        for _ in range(rng.poisson(1.5 * propensity[i])):
            unit.append(uid)
            ts.append(t0[i] + dt.timedelta(seconds=float(rng.uniform(-10, 20) * 86400)))
            duration.append(float(rng.gamma(2.0, 60.0)))
    return pa.table(
        {
            "user_id": pa.array(unit, pa.string()),
            "started_at": pa.array(ts, pa.timestamp("us")),
            "duration_s": pa.array(duration, pa.float64()),
        }
    )


PROJECT = """\
name: shop
warehouse: duckdb:///warehouse.duckdb
exposures:
  table: exposures
  unit_id: user_id
  timestamp: exposed_at
sources:
  orders: {table: orders, unit: user_id, timestamp: created_at}
  sessions: {table: sessions, unit: user_id, timestamp: started_at}
"""

METRICS = """\
metrics:
  - name: revenue
    source: orders
    value: amount
    filter: status <> 'cancelled'
    window: [0d, 14d]
    pre_window: [-14d, 0d]
  - name: orders
    source: orders
    aggregation: count
    filter: status <> 'cancelled'
    window: [0d, 14d]
    pre_window: [-14d, 0d]
  - name: conversion
    kind: proportion
    source: orders
    filter: status <> 'cancelled'
    window: [0d, 14d]
  - name: aov
    kind: ratio
    numerator: revenue
    denominator: orders
  - name: revenue_capped
    source: orders
    value: amount
    window: [0d, 14d]
    capping: {winsorize: 0.95}
  - name: session_length
    source: sessions
    value: duration_s
    aggregation: avg
    window: [0d, 7d]
"""


def experiment_yaml(
    cuped: bool = True, variants: tuple[str, ...] = ("control", "treatment"), segments: bool = True
) -> str:
    """The experiment spec over the shop data."""
    arms = "\n".join(
        f"  - {{name: {v}, weight: 1{', control: true' if i == 0 else ''}}}"
        for i, v in enumerate(variants)
    )
    return (
        f"variants:\n{arms}\nstart: {START.date()}\nend: {END_DATE}\n"
        "metrics:\n  primary: [revenue]\n"
        "  secondary: [orders, conversion, aov, revenue_capped, session_length]\n"
        f"cuped: {str(cuped).lower()}\ncorrection: holm\n"
            "rank_tests: [orders, session_length, revenue]\n"
            "bootstrap: [revenue, aov]\nbootstrap_replicates: 60\n"
        + ("segments: [platform]\n" if segments else "")
    )


def write_project(
    root: Path,
    shop: Shop,
    *,
    cuped: bool = True,
    variants: tuple[str, ...] = ("control", "treatment"),
    warehouse: str | None = None,
    segments: bool = True,
) -> Path:
    """Write the project files (and, for the default DuckDB URL, the warehouse file)."""
    (root / "metrics").mkdir(parents=True, exist_ok=True)
    (root / "experiments").mkdir(exist_ok=True)
    project = (
        PROJECT if warehouse is None else PROJECT.replace("duckdb:///warehouse.duckdb", warehouse)
    )
    (root / "assay_project.yml").write_text(project, encoding="utf-8")
    (root / "metrics" / "shop.yml").write_text(METRICS, encoding="utf-8")
    (root / "experiments" / "exp.yml").write_text(
        experiment_yaml(cuped, variants, segments), encoding="utf-8"
    )
    if warehouse is None:
        from assay.warehouse.duckdb import DuckDBWarehouse

        wh = DuckDBWarehouse(root / "warehouse.duckdb")
        for name in ("exposures", "orders", "sessions"):
            wh.write_table(name, getattr(shop, name), mode="replace")
        wh.close()
    return root
