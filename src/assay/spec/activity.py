"""Shape rules of the activity kinds: ``funnel``, ``retention`` and ``participation``.

Kept apart from :mod:`assay.spec.models` (which calls :func:`check_activity_fields` from a
validator of ``MetricSpec``) so that the kinds' rules read in one place. Imports no model at
run time: ``models`` imports this module.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assay.spec.models import MetricSpec

ACTIVITY_KINDS = ("funnel", "retention", "participation")
"""Kinds computed by their own statement from per-unit activity (:mod:`assay.metrics.kinds`)."""
DISTINCT_COUNTS = ("count_distinct", "approx_count_distinct")
"""Aggregations counting distinct values per unit: exact, and by a HyperLogLog sketch."""
APPROX_DISTINCT_DIALECTS = ("duckdb", "spark", "databricks", "bigquery", "snowflake", "trino")
"""Dialects with a built-in HyperLogLog distinct count (PostgreSQL has none without an
extension): where ``approx_count_distinct`` may be used."""
MAX_PARTICIPATION_DAYS = 366
"""Longest daily-participation window: the SQL has one term per day of it."""
_DAY = dt.timedelta(days=1)


def check_activity_fields(metric: MetricSpec) -> None:
    """Raise ``ValueError`` (pydantic locates it) when ``metric`` breaks its kind's shape."""
    if metric.kind not in ACTIVITY_KINDS:
        if metric.steps is not None:
            raise ValueError("`steps` belong to funnel metrics (kind: funnel)")
        return
    extra = [f for f in ("value", "capping", "pre_window", "numerator", "denominator", "dbt")
             if getattr(metric, f) is not None]
    extra += ["aggregation"] if "aggregation" in metric.model_fields_set else []
    if extra:
        raise ValueError(f"a {metric.kind} metric takes no `{extra[0]}`: it counts units' "
                         "qualifying events, not values")
    if metric.kind == "funnel":
        _funnel(metric)
        return
    if metric.steps is not None:
        raise ValueError("`steps` belong to funnel metrics (kind: funnel)")
    window = metric.window
    if window is None:
        raise ValueError(f"a {metric.kind} metric needs a `window` after first exposure, "
                         "e.g. [1d, 8d]")
    if window.start < dt.timedelta(0):
        raise ValueError(f"a {metric.kind} window starts at or after first exposure (0d or "
                         "later)")
    if metric.kind == "participation":
        if window.start % _DAY or window.end % _DAY:
            raise ValueError("a participation window is whole days, e.g. [0d, 14d]")
        if (window.end - window.start) / _DAY > MAX_PARTICIPATION_DAYS:
            raise ValueError(f"a participation window is at most {MAX_PARTICIPATION_DAYS} days")


def _funnel(metric: MetricSpec) -> None:
    steps = metric.steps or []
    if len(steps) < 2:
        raise ValueError("a funnel needs at least two `steps`, in order")
    names = [s.name for s in steps]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"funnel step names must be unique; repeated: {', '.join(dupes)}")
    if metric.filter is not None:
        raise ValueError("a funnel takes its filters per step (`steps: [{name, filter}]`)")
    if metric.window is not None and metric.window.start < dt.timedelta(0):
        raise ValueError("a funnel window starts at or after first exposure (0d or later)")
