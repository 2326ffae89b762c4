"""A shop whose revenue is predictable before exposure: covariates of every kind.

Each unit has a tenure (a number on its exposure rows), a plan (a category on its exposure
rows), orders before and after exposure (``revenue`` and its pre-period), sessions before
exposure (another metric's pre-period) and a model's prediction of its revenue dated before
exposure (CUPAC). Built with numpy as Arrow tables so that every engine gets the same rows;
:func:`unit_rows` recomputes every unit's outcome and covariates with pandas, sharing no code
with the compiler.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

START = dt.datetime(2026, 5, 4)
END = dt.datetime(2026, 5, 11)  # exclusive
WINDOW = dt.timedelta(days=7)
PRE = dt.timedelta(days=14)
LEVELS = ("free", "pro", "team")

PROJECT = """\
name: covariates
exposures: {table: exposures, unit_id: user_id, timestamp: exposed_at}
sources:
  orders: {table: orders, unit: user_id, timestamp: ordered_at}
  sessions: {table: sessions, unit: user_id, timestamp: started_at}
  predictions: {table: predictions, unit: user_id, timestamp: predicted_at}
"""

METRICS = """\
metrics:
  - name: revenue
    source: orders
    value: amount
    window: [0d, 7d]
    pre_window: [-14d, 0d]
    covariates:
      - sessions
      - {attribute: tenure_days}
      - {attribute: plan, levels: [free, pro, team]}
      - {prediction: predicted_revenue, source: predictions}
  - name: sessions
    source: sessions
    aggregation: count
    window: [0d, 7d]
    pre_window: [-14d, 0d]
  - name: converted
    kind: proportion
    source: orders
    window: [0d, 7d]
    covariates: [{prediction: predicted_revenue, source: predictions}]
  - name: spend
    source: orders
    value: amount
    window: [0d, 7d]
  - name: ordered
    kind: proportion
    source: orders
    window: [0d, 7d]
"""

EXPERIMENT = """\
variants:
  - {name: control, weight: 1, control: true}
  - {name: treatment, weight: 1}
start: 2026-05-04
end: 2026-05-10
cuped: true
correction: none
metrics:
  primary: [revenue]
  secondary: [converted]
"""


STRATIFIED = """\
variants:
  - {name: control, weight: 1, control: true}
  - {name: treatment, weight: 1}
start: 2026-05-04
end: 2026-05-10
correction: none
stratify_by: plan
metrics:
  primary: [spend]
  secondary: [ordered, revenue]
"""


@dataclass(frozen=True)
class Shop:
    """The raw tables."""

    exposures: pa.Table
    orders: pa.Table
    sessions: pa.Table
    predictions: pa.Table


def build_shop(n_units: int = 1500, seed: int = 11, lift: float = 2.0) -> Shop:
    """Every table; treatment adds ``lift`` to each order's amount."""
    rng = np.random.default_rng(seed)
    ids = [f"u{i:05d}" for i in range(n_units)]
    arm = rng.integers(0, 2, n_units)
    t0 = [START + dt.timedelta(seconds=int(s)) for s in rng.integers(0, 5 * 86400, n_units)]
    tenure = rng.integers(1, 2000, n_units).astype(float)
    plan = rng.choice(LEVELS, n_units)
    spend = rng.gamma(2.0, 10.0, n_units) * (1 + 0.4 * (plan == "pro") + 0.8 * (plan == "team"))
    exposures: dict[str, list[object]] = {k: [] for k in (
        "experiment_id", "user_id", "variant", "exposed_at", "tenure_days", "plan")}
    orders: dict[str, list[object]] = {"user_id": [], "ordered_at": [], "amount": []}
    sessions: dict[str, list[object]] = {"user_id": [], "started_at": []}
    for i, uid in enumerate(ids):
        for k in range(1 + int(rng.random() < 0.2)):  # some units are exposed twice
            exposures["experiment_id"].append("exp")
            exposures["user_id"].append(uid)
            exposures["variant"].append("treatment" if arm[i] else "control")
            exposures["exposed_at"].append(t0[i] + dt.timedelta(hours=5 * k))
            exposures["tenure_days"].append(tenure[i] + k)  # the first row's value counts
            exposures["plan"].append(plan[i])
        rate = spend[i] / 20
        for side, days in ((-1, 14), (1, 9)):
            for _ in range(rng.poisson(rate * days / 7)):
                orders["user_id"].append(uid)
                orders["ordered_at"].append(
                    t0[i] + dt.timedelta(seconds=side * float(rng.uniform(1, days * 86400))))
                bump = lift if side > 0 and arm[i] else 0.0
                orders["amount"].append(round(float(rng.gamma(4.0, spend[i] / 8)) + bump, 2))
        for _ in range(rng.poisson(2 + rate * 3)):
            sessions["user_id"].append(uid)
            sessions["started_at"].append(
                t0[i] + dt.timedelta(seconds=-float(rng.uniform(1, 20 * 86400))))
    exposures["experiment_id"] += ["other"] * 50  # another experiment's rows are not read
    exposures["user_id"] += ids[:50]
    exposures["variant"] += ["control"] * 50
    exposures["exposed_at"] += t0[:50]
    exposures["tenure_days"] += [1e6] * 50
    exposures["plan"] += ["team"] * 50
    known = rng.random(n_units) < 0.9  # 10% of units have no prediction: they count as 0
    predictions = {
        "user_id": [u for u, k in zip(ids, known, strict=True) if k],
        "predicted_at": [t - dt.timedelta(days=1) for t, k in zip(t0, known, strict=True) if k],
        "predicted_revenue": [float(s * 0.9 + rng.normal(0, 3))
                              for s, k in zip(spend, known, strict=True) if k],
    }
    return Shop(
        pa.table({**exposures,
                  "exposed_at": pa.array(exposures["exposed_at"], pa.timestamp("us"))}),
        pa.table({**orders, "ordered_at": pa.array(orders["ordered_at"], pa.timestamp("us"))}),
        pa.table({**sessions, "started_at": pa.array(sessions["started_at"], pa.timestamp("us"))}),
        pa.table({**predictions,
                  "predicted_at": pa.array(predictions["predicted_at"], pa.timestamp("us"))}),
    )


def write_project(root: Path, metrics: str = METRICS, experiment: str = EXPERIMENT) -> Path:
    """The project files (tables are loaded into whichever warehouse the test uses)."""
    (root / "metrics").mkdir(parents=True, exist_ok=True)
    (root / "experiments").mkdir(exist_ok=True)
    (root / "assay_project.yml").write_text(PROJECT, encoding="utf-8")
    (root / "metrics" / "shop.yml").write_text(metrics, encoding="utf-8")
    (root / "experiments" / "exp.yml").write_text(experiment, encoding="utf-8")
    return root


def unit_rows(shop: Shop) -> pd.DataFrame:
    """One row per analysed unit: variant, the outcomes and every covariate (pandas)."""
    exp = shop.exposures.to_pandas()
    exp = exp[(exp.experiment_id == "exp") & (exp.exposed_at >= START) & (exp.exposed_at < END)]
    first = exp.sort_values("exposed_at").groupby("user_id").first()
    units = first[["variant", "exposed_at", "tenure_days", "plan"]].rename(
        columns={"exposed_at": "t0"})
    orders = shop.orders.to_pandas().merge(units[["t0"]], left_on="user_id", right_index=True)
    rel = orders.ordered_at - orders.t0
    post = orders[(rel >= dt.timedelta(0)) & (rel < WINDOW)]
    pre = orders[(rel >= -PRE) & (rel < dt.timedelta(0))]
    units["revenue"] = post.groupby("user_id").amount.sum().reindex(units.index).fillna(0.0)
    units["converted"] = (post.groupby("user_id").size().reindex(units.index).fillna(0) > 0
                          ).astype(float)
    units["revenue_pre"] = pre.groupby("user_id").amount.sum().reindex(units.index).fillna(0.0)
    sessions = shop.sessions.to_pandas().merge(units[["t0"]], left_on="user_id",
                                               right_index=True)
    srel = sessions.started_at - sessions.t0
    spre = sessions[(srel >= -PRE) & (srel < dt.timedelta(0))]
    units["sessions_pre"] = spre.groupby("user_id").size().reindex(units.index).fillna(0.0)
    preds = shop.predictions.to_pandas().merge(units[["t0"]], left_on="user_id",
                                               right_index=True)
    before = preds[preds.predicted_at < preds.t0]
    units["prediction"] = before.groupby("user_id").predicted_revenue.mean().reindex(
        units.index).fillna(0.0)
    for level in LEVELS[1:]:
        units[f"plan_{level}"] = (units.plan == level).astype(float)
    return units.reset_index()
