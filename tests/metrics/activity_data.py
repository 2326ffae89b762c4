"""A small product-activity dataset for the activity kinds (funnel, retention, participation).

Units are exposed over five days; each has events ``view``, ``cart``, ``purchase`` and ``visit``
at random offsets from two days before to ten days after its exposure, some out of order (a cart
before any view), some at the exposure moment itself, and the data stop at ``DATA_END`` so that
late units' windows are cut. The treatment raises every step's rate. The ``oracle_*`` functions
recompute the per-unit values with pandas from the same rows, sharing no code with the compiler.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

START = dt.datetime(2026, 5, 4)
DATA_END = START + dt.timedelta(days=9)
EVENTS = ("view", "cart", "purchase", "visit")

PROJECT = """\
name: shop_activity
exposures: {table: exposures}
sources:
  events: {table: events, unit: unit_id, timestamp: ts}
"""
METRICS = """\
metrics:
  - name: checkout
    kind: funnel
    source: events
    window: [0d, 7d]
    steps:
      - {name: view, filter: "event = 'view'"}
      - {name: cart, filter: "event = 'cart'"}
      - {name: purchase, filter: "event = 'purchase'"}
  - name: returned
    kind: retention
    source: events
    filter: "event = 'visit'"
    window: [0d, 5d]
  - name: active_days
    kind: participation
    source: events
    window: [0d, 6d]
"""


def experiment_yaml(segments: bool = False) -> str:
    """The experiment reading every activity metric (optionally segmented by ``platform``)."""
    text = """\
variants:
  - {name: control, weight: 1, control: true}
  - {name: treatment, weight: 1}
start: 2026-05-04
end: 2026-05-08
metrics:
  primary: [checkout]
  secondary: [returned, active_days]
"""
    return text + ("segments: [platform]\n" if segments else "")


def write_project(root: Path, metrics: str = METRICS, segments: bool = False) -> Path:
    """The project's files under ``root``."""
    (root / "metrics").mkdir(parents=True, exist_ok=True)
    (root / "experiments").mkdir(exist_ok=True)
    (root / "assay_project.yml").write_text(PROJECT, encoding="utf-8")
    (root / "metrics" / "m.yml").write_text(metrics, encoding="utf-8")
    (root / "experiments" / "exp.yml").write_text(experiment_yaml(segments), encoding="utf-8")
    return root


def build_tables(n_units: int = 1500, seed: int = 12, effect: float = 0.4) -> dict[str, pa.Table]:
    """Exposures and events (``effect``: the treatment's extra events per type, relative)."""
    rng = np.random.default_rng(seed)
    ids = [f"u{i}" for i in range(n_units)]
    arm = rng.integers(0, 2, n_units)
    t0 = [START + dt.timedelta(microseconds=int(s)) for s in rng.integers(0, 5 * 86400e6, n_units)]
    unit, ts, event = [], [], []
    # events per unit and the days (from exposure) they fall in: later steps tend to come later
    rates = {"view": (1.2, -1, 6), "cart": (0.9, 0, 7), "purchase": (0.8, 0.5, 8),
             "visit": (1.5, -2, 10)}
    for i, uid in enumerate(ids):
        for name, (rate, first, last) in rates.items():
            for _ in range(rng.poisson(rate * (1 + effect * arm[i]))):
                offset = dt.timedelta(seconds=float(rng.uniform(first, last) * 86400))
                unit.append(uid)
                ts.append(t0[i] + offset)
                event.append(name)
        if rng.random() < 0.2:  # an event at the exposure moment: never a return
            unit.append(uid)
            ts.append(t0[i])
            event.append("visit")
    keep = [k for k, moment in enumerate(ts) if moment < DATA_END]
    platform = rng.choice(["ios", "web"], n_units)
    return {
        "exposures": pa.table({"experiment_id": ["exp"] * n_units, "unit_id": ids,
                               "variant": ["treatment" if a else "control" for a in arm],
                               "timestamp": pa.array(t0, pa.timestamp("us")),
                               "platform": platform.tolist()}),
        "events": pa.table({"unit_id": [unit[k] for k in keep],
                            "ts": pa.array([ts[k] for k in keep], pa.timestamp("us")),
                            "event": [event[k] for k in keep]}),
    }


def _frames(tables: dict[str, pa.Table]) -> tuple[pd.DataFrame, pd.DataFrame]:
    units = tables["exposures"].to_pandas().set_index("unit_id")
    events = tables["events"].to_pandas()
    events = events.merge(units[["timestamp"]], left_on="unit_id", right_index=True)
    events["rel"] = events.ts - events.timestamp
    return units, events


def oracle_funnel(tables: dict[str, pa.Table], steps: tuple[str, ...],
                  days: int = 7) -> pd.DataFrame:
    """Per unit: 1/0 for each step reached in order within ``[t0, t0 + days)``."""
    units, events = _frames(tables)
    inside = events[(events.rel >= pd.Timedelta(0)) & (events.rel < pd.Timedelta(days=days))]
    out = pd.DataFrame(index=units.index)
    previous = None
    for step in steps:
        rows = inside[inside.event == step]
        if previous is not None:
            rows = rows[rows.ts >= rows.unit_id.map(previous)]
        first = rows.groupby("unit_id").ts.min()
        out[step] = out.index.isin(first.index).astype(float)
        previous = first
    out["variant"] = units.variant
    return out


def horizon(tables: dict[str, pa.Table]) -> pd.Timestamp:
    """The latest event time (how far the data reach)."""
    return tables["events"].to_pandas().ts.max()


def oracle_retention(tables: dict[str, pa.Table], start: int, end: int,
                     event: str = "visit") -> pd.DataFrame:
    """Per unit with a complete window: 1 if an ``event`` falls in ``[t0 + start, t0 + end)``
    strictly after ``t0``, else 0."""
    units, events = _frames(tables)
    hit = events[(events.event == event) & (events.rel > pd.Timedelta(0))
                 & (events.rel >= pd.Timedelta(days=start)) & (events.rel < pd.Timedelta(days=end))]
    y = units.index.isin(hit.unit_id).astype(float)
    frame = pd.DataFrame({"y": y, "variant": units.variant}, index=units.index)
    complete = units.timestamp + pd.Timedelta(days=end) <= horizon(tables)
    return frame[complete]


def oracle_participation(tables: dict[str, pa.Table], start: int, end: int) -> pd.DataFrame:
    """Per unit with an observed day: share of its observed 24-hour slots with an event."""
    units, events = _frames(tables)
    h = horizon(tables)
    rows = []
    for uid, t0 in units.timestamp.items():
        observed = [d for d in range(start, end) if t0 + pd.Timedelta(days=d + 1) <= h]
        if not observed:
            continue
        mine = events[events.unit_id == uid].rel
        active = sum(((mine >= pd.Timedelta(days=d)) & (mine < pd.Timedelta(days=d + 1))).any()
                     for d in observed)
        rows.append((uid, active / len(observed), units.variant[uid]))
    return pd.DataFrame(rows, columns=["unit_id", "y", "variant"]).set_index("unit_id")
