"""An independent recomputation of the shop analysis from raw rows, with pandas.

Shares no code with the SQL compiler: unit-level values come from plain pandas filtering and
grouping, and statistics from scipy/statsmodels on those unit-level arrays.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from tests.analysis.shop import END, START, Shop

DAY = pd.Timedelta(days=1)


def analysed_units(shop: Shop, declared: tuple[str, ...]) -> pd.DataFrame:
    """unit -> t0, variant, platform at first exposure; the units the analysis must keep."""
    e = shop.exposures.to_pandas()
    e = e[(e.experiment_id == "exp") & e.user_id.notna()]
    e = e[(e.exposed_at >= START) & (e.exposed_at < END)]
    e = e.sort_values(["user_id", "exposed_at"])
    per_unit = e.groupby("user_id").agg(
        t0=("exposed_at", "min"),
        n_variants=("variant", "nunique"),
        variant=("variant", "first"),
        platform=("platform", "first"),
    )
    per_unit = per_unit[(per_unit.n_variants == 1) & per_unit.variant.isin(declared)]
    return per_unit.drop(columns="n_variants")


def window_values(
    units: pd.DataFrame,
    events: pd.DataFrame,
    ts: str,
    start: dt.timedelta,
    end: dt.timedelta,
    how: str,
    value: str | None = None,
    keep: pd.Series | None = None,
) -> pd.Series:
    """Per-unit aggregate of events in ``[t0 + start, t0 + end)``; NaN/0 for none as SQL does."""
    ev = events if keep is None else events[keep]
    joined = ev.merge(units[["t0"]], left_on="user_id", right_index=True)
    inside = joined[(joined[ts] >= joined.t0 + start) & (joined[ts] < joined.t0 + end)]
    grouped = inside.groupby("user_id")
    if how == "sum":
        out = grouped[value].sum(min_count=1)  # all-NULL sums are NULL, then 0 below
        return out.reindex(units.index).fillna(0.0)
    if how == "count":
        return grouped.size().reindex(units.index).fillna(0).astype(float)
    if how == "any":
        return (grouped.size().reindex(units.index).fillna(0) > 0).astype(float)
    if how == "avg":
        return grouped[value].mean().reindex(units.index)
    raise ValueError(how)


def unit_table(shop: Shop, declared: tuple[str, ...] = ("control", "treatment")) -> pd.DataFrame:
    """Every per-unit variable the shop metrics need."""
    units = analysed_units(shop, declared)
    orders = shop.orders.to_pandas()
    sessions = shop.sessions.to_pandas()
    paid = orders.status != "cancelled"
    d14, d7 = dt.timedelta(days=14), dt.timedelta(days=7)
    zero = dt.timedelta(0)
    out = units.copy()
    out["revenue"] = window_values(units, orders, "created_at", zero, d14, "sum", "amount", paid)
    out["revenue_pre"] = window_values(
        units, orders, "created_at", -d14, zero, "sum", "amount", paid
    )
    out["orders"] = window_values(units, orders, "created_at", zero, d14, "count", keep=paid)
    out["orders_pre"] = window_values(units, orders, "created_at", -d14, zero, "count", keep=paid)
    out["conversion"] = window_values(units, orders, "created_at", zero, d14, "any", keep=paid)
    raw = window_values(units, orders, "created_at", zero, d14, "sum", "amount")
    cap = np.percentile(raw.to_numpy(), 95)  # linear interpolation, as QUANTILE_CONT
    out["revenue_capped"] = np.minimum(raw, cap)
    out["session_length"] = window_values(
        units, sessions, "started_at", zero, d7, "avg", "duration_s"
    )
    out["null_revenue_events"] = _null_events(units, orders[paid], zero, d14)
    return out


def _null_events(
    units: pd.DataFrame, orders: pd.DataFrame, start: dt.timedelta, end: dt.timedelta
) -> pd.Series:
    joined = orders.merge(units[["t0"]], left_on="user_id", right_index=True)
    inside = joined[
        (joined.created_at >= joined.t0 + start) & (joined.created_at < joined.t0 + end)
    ]
    return inside[inside.amount.isna()].groupby("user_id").size().reindex(units.index).fillna(0)
