"""tea-tasting's analysis of the benchmark experiment through its DuckDB backend (via Ibis).

tea-tasting analyses a table with ONE ROW PER UNIT and a variant column: it has no exposure
handling, no event windows and no metric layer, so the per-unit table is built here the way a
competent tea-tasting user would build it with Ibis (lazily, so DuckDB runs it inside the same
query tea-tasting sends):

* exposures of ``bench`` in ``[start, end)`` deduplicated to the first exposure per unit;
  units seen in two variants dropped (and counted, with repeats and out-of-date exposures, by
  one extra small Ibis query, as assay reports them);
* per source, events in the union of all windows joined to the units on the unit id and
  ``[t0 - 28d, t0 + 14d)``, one GROUP BY unit with conditional sums/counts for every metric
  (window ``[t0, t0 + 14d)``) and its CUPED covariate (``[t0 - 28d, t0)``);
* both per-unit aggregates LEFT JOINed to the units, missing values 0, ``revenue_capped`` capped.

Then ``tea_tasting.Experiment`` with ``Mean(..., covariate=...)`` for the 9 event metrics,
``RatioOfMeans`` with numerator and denominator covariates for ``aov`` and ``SampleRatio``
(SRM). tea-tasting computes per-variant count, means, variances and covariances in one
aggregate query over that table, then CUPED/delta-method statistics in Python.

Differences from ``assay analyze``: tea-tasting's SRM check is a binomial test on the counts;
the exposure diagnostics are computed by the helper query here, not by tea-tasting; tea-tasting
applies no multiple-testing correction by default. Prints one JSON line::

    .venv/bin/python benchmarks/tea_tasting_bench.py benchmarks/data/u1000000/warehouse.duckdb
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import time
from pathlib import Path
from typing import Any

import ibis
import tea_tasting as tt
from ibis import _

START = dt.datetime(2026, 1, 5)
END = dt.datetime(2026, 1, 26)
WINDOW = ibis.interval(days=14)
PRE = ibis.interval(days=28)
EVENTS_FROM = START - dt.timedelta(days=28)
EVENTS_TO = END + dt.timedelta(days=14)

# name -> (source, value column or None for a count, filter or None, kind)
METRICS: dict[str, tuple[str, str | None, str | None, str]] = {
    "revenue": ("orders", "amount", "completed", "sum"),
    "orders": ("orders", None, "completed", "count"),
    "conversion": ("orders", None, "completed", "any"),
    "refund_amount": ("orders", "refund", "refunded", "sum"),
    "revenue_capped": ("orders", "amount", "completed", "sum"),
    "sessions": ("sessions", None, None, "count"),
    "session_duration": ("sessions", "duration", None, "sum"),
    "pages": ("sessions", "pages", None, "sum"),
    "engaged": ("sessions", None, "engaged", "any"),
}
CAPS = {"revenue_capped": 1000}
SOURCES = {"orders": ("orders", "created_at"), "sessions": ("sessions", "started_at")}


def exposure_units(con: Any) -> tuple[Any, Any]:
    """(clean units: unit_id, variant, t0; per-unit exposure summary)."""
    exp = con.table("exposures")
    inside = exp.filter(
        (exp.experiment_id == "bench") & (exp["timestamp"] >= START) & (exp["timestamp"] < END))
    per_unit = inside.group_by("unit_id").aggregate(
        t0=_["timestamp"].min(), variant=_.variant.min(), variant_max=_.variant.max(),
        n_rows=_.count())
    units = per_unit.filter(per_unit.variant == per_unit.variant_max).select(
        "unit_id", "variant", "t0")
    return units, per_unit


def _predicate(name: str | None, events: Any) -> Any:
    if name == "completed":
        return events.status == "completed"
    if name == "refunded":
        return events.refund > 0
    if name == "engaged":
        return events.pages >= 10
    return None


def source_aggregate(con: Any, units: Any, source: str) -> Any:
    """Per unit: every metric of ``source`` and its pre-period covariate, in one GROUP BY."""
    table, ts = SOURCES[source]
    events = con.table(table)
    events = events.filter((events[ts] >= EVENTS_FROM) & (events[ts] < EVENTS_TO))
    u = units.select(unit_id_u="unit_id", t0="t0")
    joined = events.join(u, [events.user_id == u.unit_id_u, events[ts] >= u.t0 - PRE,
                             events[ts] < u.t0 + WINDOW])
    aggs: dict[str, Any] = {}
    for name, (src, value, flt, kind) in METRICS.items():
        if src != source:
            continue
        for suffix, side in (("", joined[ts] >= joined.t0), ("__pre", joined[ts] < joined.t0)):
            pred = _predicate(flt, joined)
            where = side if pred is None else side & pred
            if kind == "sum":
                aggs[name + suffix] = joined[value].sum(where=where)
            elif kind == "count":
                aggs[name + suffix] = joined.count(where=where)
            else:
                aggs[name + suffix] = (joined.count(where=where) > 0).cast("int64")
    return joined.group_by(unit_id_e=joined.user_id).aggregate(**aggs)


def per_unit_table(con: Any) -> tuple[Any, Any]:
    """The lazy per-unit table tea-tasting analyses, and the exposure summary."""
    units, per_unit = exposure_units(con)
    table = units
    for source in SOURCES:
        agg = source_aggregate(con, units, source)
        table = table.left_join(agg, table.unit_id == agg.unit_id_e).drop("unit_id_e")
    values = {}
    for name in METRICS:
        for col in (name, name + "__pre"):
            filled = table[col].fill_null(0)
            values[col] = ibis.least(filled, CAPS[name]) if name in CAPS else filled
    return table.select("variant", **values), per_unit


def experiment() -> tt.Experiment:
    """Mean with CUPED covariate for the 9 event metrics, ratio with covariates, SRM."""
    metrics: dict[str, Any] = {
        name: tt.Mean(name, covariate=name + "__pre") for name in METRICS}
    metrics["aov"] = tt.RatioOfMeans(numer="revenue", denom="orders",
                                     numer_covariate="revenue__pre",
                                     denom_covariate="orders__pre")
    metrics["sample_ratio"] = tt.SampleRatio()
    return tt.Experiment(metrics)


def run(db: Path, threads: int | None = None) -> dict[str, Any]:
    """Analyse once; return seconds (connect to results), peak RSS and a summary."""
    began = time.perf_counter()
    con = ibis.duckdb.connect(str(db), read_only=True)
    if threads:
        con.raw_sql(f"SET threads = {int(threads)}")
    table, per_unit = per_unit_table(con)
    result = experiment().analyze(table, control="control")
    diagnostics = per_unit.aggregate(
        units_multiple_variants=(per_unit.variant != per_unit.variant_max).sum(),
        repeat_exposures=(per_unit.n_rows - 1).sum()).to_pyarrow().to_pylist()[0]
    exp = con.table("exposures")
    diagnostics["exposures_outside_dates"] = exp.filter(
        (exp.experiment_id == "bench") & ~((exp["timestamp"] >= START) & (exp["timestamp"] < END))
    ).count().to_pyarrow().as_py()
    seconds = time.perf_counter() - began
    rows = {r["metric"]: {k: r[k] for k in ("control", "treatment", "rel_effect_size", "pvalue")
                          if k in r} for r in result.to_dicts()}
    con.disconnect()
    return {"seconds": round(seconds, 4),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "diagnostics": diagnostics, "results": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description="tea-tasting's analysis, once; prints JSON.")
    parser.add_argument("db", type=Path)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--print-sql", action="store_true")
    args = parser.parse_args()
    if args.print_sql:
        con = ibis.duckdb.connect(str(args.db), read_only=True)
        print(ibis.to_sql(per_unit_table(con)[0], dialect="duckdb"))
        return
    print(json.dumps(run(args.db, args.threads), default=str))


if __name__ == "__main__":
    main()
