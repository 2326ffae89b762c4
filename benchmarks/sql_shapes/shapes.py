"""Candidate SQL shapes for assay's analysis query over the benchmark experiment.

Every shape computes exactly the same thing (checked by ``explore.py`` against ``reference``):

* exposures of experiment ``bench`` inside ``[2026-01-05, 2026-01-26)``; per unit the first
  exposure time ``t0`` and its variant; units seen in two variants are excluded and counted; repeat
  exposures and exposures outside the dates are counted;
* for the 9 event metrics of ``generate.metric_specs()``, per unit, the aggregate over its events in
  ``[t0, t0 + 14d)`` (``y``) and over ``[t0 - 28d, t0)`` (the CUPED covariate ``x``, named
  ``<metric>__pre``); sums and counts are 0 without events, proportions 0/1, ``revenue_capped``
  capped at 1000 per unit (covariate too);
* per variant: ``n``, ``s__<var>`` for all 18 variables and ``ss__<a>__<b>`` for ``y*y``, ``x*x``,
  ``x*y`` of every metric plus the 4 extra products the ratio ``aov = revenue / orders`` needs with
  CUPED; and the exposure diagnostics as constant columns.

This file writes one ``.sql`` file per shape (plain SQL, readable, what the compiler should emit)
so that the winner can be read and rerun as is. The files are derived, so they are not kept in
git: ``explore.py`` and ``run.py --stand-in`` write the ones they race, or run this to write all::

    .venv/bin/python benchmarks/sql_shapes/shapes.py
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent

START = "TIMESTAMP '2026-01-05 00:00:00'"
END = "TIMESTAMP '2026-01-26 00:00:00'"
WINDOW = "INTERVAL 14 DAY"
PRE = "INTERVAL 28 DAY"
# Union of every unit's windows: [start - 28d, end + 14d).
EVENTS_FROM = "TIMESTAMP '2025-12-08 00:00:00'"
EVENTS_TO = "TIMESTAMP '2026-02-09 00:00:00'"


@dataclass(frozen=True)
class Metric:
    """One event metric of the benchmark (ratio metrics are built from two of these)."""

    name: str
    source: str
    value: str | None
    filter: str | None
    aggregation: str  # sum | count | any (proportion)
    cap: float | None = None


@dataclass(frozen=True)
class Src:
    """An event source: table, unit column, timestamp column."""

    table: str
    unit: str
    ts: str


SOURCES = {
    "orders": Src("orders", "user_id", "created_at"),
    "sessions": Src("sessions", "user_id", "started_at"),
}

METRICS = [
    Metric("revenue", "orders", "amount", "status = 'completed'", "sum"),
    Metric("orders", "orders", None, "status = 'completed'", "count"),
    Metric("conversion", "orders", None, "status = 'completed'", "any"),
    Metric("refund_amount", "orders", "refund", "refund > 0", "sum"),
    Metric("revenue_capped", "orders", "amount", "status = 'completed'", "sum", cap=1000),
    Metric("sessions", "sessions", None, None, "count"),
    Metric("session_duration", "sessions", "duration", None, "sum"),
    Metric("pages", "sessions", "pages", None, "sum"),
    Metric("engaged", "sessions", None, "pages >= 10", "any"),
]
RATIOS = [("aov", "revenue", "orders")]


def variables() -> list[str]:
    """Per-unit variables, in output order: ``<metric>`` then ``<metric>__pre``."""
    out: list[str] = []
    for m in METRICS:
        out += [m.name, f"{m.name}__pre"]
    return out


def products() -> list[tuple[str, str]]:
    """Pairs whose product sums are needed (sorted within a pair, each once)."""
    pairs: list[tuple[str, str]] = []
    for m in METRICS:
        y, x = m.name, f"{m.name}__pre"
        pairs += [(y, y), (x, x), (x, y)]
    for _, num, den in RATIOS:
        for a in (num, f"{num}__pre"):
            for b in (den, f"{den}__pre"):
                pairs.append((a, b))
    seen: dict[tuple[str, str], None] = {}
    for a, b in pairs:
        seen[tuple(sorted((a, b)))] = None  # type: ignore[index]
    return list(seen)


# ---------------------------------------------------------------------------------------------
# Shared pieces


def exposure_ctes(bounds: bool) -> str:
    """``exposed`` (per unit) and ``units`` (clean units, with window bounds if ``bounds``)."""
    extra = (f",\n           t0 - {PRE} AS pre_from, t0 + {WINDOW} AS win_to" if bounds else "")
    return f"""exposed AS (
    SELECT unit_id, min("timestamp") AS t0, min(variant) AS variant,
           max(variant) AS variant_max, count(*) AS n_rows
    FROM exposures
    WHERE experiment_id = 'bench' AND "timestamp" >= {START} AND "timestamp" < {END}
    GROUP BY unit_id
),
units AS (
    SELECT unit_id, variant, t0{extra}
    FROM exposed WHERE variant = variant_max
),
diagnostics AS (
    SELECT count(*) FILTER (WHERE variant <> variant_max) AS units_multiple_variants,
           coalesce(sum(n_rows - 1), 0) AS repeat_exposures,
           (SELECT count(*) FROM exposures
            WHERE experiment_id = 'bench' AND NOT ("timestamp" >= {START} AND "timestamp" < {END})
           ) AS exposures_outside_dates
    FROM exposed
)"""


def unit_aggregate(m: Metric, cond: str, filter_style: str) -> str:
    """The per-unit aggregate of metric ``m`` over events satisfying window ``cond``.

    ``filter_style``: ``filter`` (``agg(x) FILTER (WHERE ...)``), ``case`` (``agg(CASE ...)``), or
    ``shared`` (as ``filter``, but a proportion is ``count(*) FILTER (...) > 0`` so that it is
    the same aggregate as a count metric with the same filter and DuckDB computes it once).
    """
    where = cond if m.filter is None else f"{cond} AND {m.filter}"
    if filter_style == "shared" and m.aggregation == "any":
        return f"(count(*) FILTER (WHERE {where}) > 0)::INTEGER"
    if filter_style in ("filter", "shared"):
        if m.aggregation == "sum":
            return f"sum({m.value}) FILTER (WHERE {where})"
        if m.aggregation == "count":
            return f"count(*) FILTER (WHERE {where})"
        return f"max(1) FILTER (WHERE {where})"
    if m.aggregation == "sum":
        return f"sum(CASE WHEN {where} THEN {m.value} END)"
    if m.aggregation == "count":
        return f"count(CASE WHEN {where} THEN 1 END)"
    return f"max(CASE WHEN {where} THEN 1 END)"


def finish(expr: str, m: Metric) -> str:
    """Unit value from the raw aggregate: 0 without events, then capping."""
    value = f"coalesce({expr}, 0)"
    return f"least({value}, {m.cap})" if m.cap is not None else value


def final_select(per_unit: str) -> str:
    """The per-variant sufficient statistics over the ``unit_values`` CTE, with diagnostics."""
    cols = ["count(*) AS n"]
    cols += [f"sum({v}) AS s__{v}" for v in variables()]
    cols += [f"sum({a} * {b}) AS ss__{a}__{b}" for a, b in products()]
    body = ",\n       ".join(cols)
    return f"""{per_unit}
SELECT variant, {body},
       any_value(d.units_multiple_variants) AS units_multiple_variants,
       any_value(d.repeat_exposures) AS repeat_exposures,
       any_value(d.exposures_outside_dates) AS exposures_outside_dates
FROM unit_values CROSS JOIN diagnostics AS d
GROUP BY variant
ORDER BY variant"""


def source_metrics(source: str) -> list[Metric]:
    """The metrics read from one source."""
    return [m for m in METRICS if m.source == source]


# ---------------------------------------------------------------------------------------------
# Shapes


def reference() -> str:
    """Obviously-correct and slow: one correlated-free LEFT JOIN + GROUP BY per metric window."""
    ctes = [exposure_ctes(bounds=False)]
    selects = []
    for m in METRICS:
        s = SOURCES[m.source]
        for suffix, lo, hi in (("", "u.t0", f"u.t0 + {WINDOW}"),
                               ("__pre", f"u.t0 - {PRE}", "u.t0")):
            name = f"m_{m.name}{suffix}"
            flt = "" if m.filter is None else f" AND {m.filter}"
            if m.aggregation == "sum":
                agg = f"sum(e.{m.value})"
            elif m.aggregation == "count":
                agg = f"count(e.{s.unit})"
            else:
                agg = f"max(CASE WHEN e.{s.unit} IS NOT NULL THEN 1 END)"
            ctes.append(f"""{name} AS (
    SELECT u.unit_id, {agg} AS v
    FROM units AS u LEFT JOIN {s.table} AS e
      ON e.{s.unit} = u.unit_id AND e.{s.ts} >= {lo} AND e.{s.ts} < {hi}{flt}
    GROUP BY u.unit_id
)""")
            selects.append(f"{finish(f'{name}.v', m)} AS {m.name}{suffix}")
    joins = "\n    ".join(
        f"JOIN m_{m.name}{sfx} USING (unit_id)" for m in METRICS for sfx in ("", "__pre"))
    ctes.append(f"""unit_values AS (
    SELECT units.variant, {', '.join(selects)}
    FROM units
    {joins}
)""")
    return final_select("WITH " + ",\n".join(ctes))


def straight() -> str:
    """The straightforward statement: units LEFT JOIN all events by key, CASE windows per row."""
    ctes = [exposure_ctes(bounds=False)]
    for source, s in SOURCES.items():
        aggs = []
        for m in source_metrics(source):
            win = f"e.{s.ts} >= u.t0 AND e.{s.ts} < u.t0 + {WINDOW}"
            pre = f"e.{s.ts} >= u.t0 - {PRE} AND e.{s.ts} < u.t0"
            aggs.append(f"{unit_aggregate(_qualify(m), win, 'case')} AS {m.name}")
            aggs.append(f"{unit_aggregate(_qualify(m), pre, 'case')} AS {m.name}__pre")
        ctes.append(f"""agg_{source} AS (
    SELECT u.unit_id, {', '.join(aggs)}
    FROM units AS u LEFT JOIN {s.table} AS e ON e.{s.unit} = u.unit_id
    GROUP BY u.unit_id
)""")
    ctes.append(_unit_values("units JOIN agg_orders USING (unit_id) JOIN agg_sessions "
                             "USING (unit_id)"))
    return final_select("WITH " + ",\n".join(ctes))


def source_pass(filter_style: str = "filter", pushdown: bool = True, bounds: bool = True,
                equi_only: bool = False) -> str:
    """Per source: time-filtered scan, INNER join to a small (unit, bounds) projection with the
    window union in the join condition, one GROUP BY unit with all metrics and covariates; then
    LEFT JOIN the per-unit aggregates to the units."""
    ctes = [exposure_ctes(bounds=bounds)]
    for source, s in SOURCES.items():
        build = _source_cte_equi if equi_only else _source_cte
        ctes.append(build(source, s, filter_style, pushdown, bounds))
    ctes.append(_unit_values("units LEFT JOIN agg_orders USING (unit_id) "
                             "LEFT JOIN agg_sessions USING (unit_id)"))
    return final_select("WITH " + ",\n".join(ctes))


def union_pass() -> str:
    """Both sources in one stream: one join and one GROUP BY unit for all 9 metrics."""
    ctes = [exposure_ctes(bounds=True)]
    o, s = SOURCES["orders"], SOURCES["sessions"]
    ctes.append(f"""events AS (
    SELECT {o.unit} AS unit_id, {o.ts} AS ts, 1 AS src, amount, refund, status,
           NULL::DOUBLE AS duration, NULL::INTEGER AS pages
    FROM {o.table} WHERE {o.ts} >= {EVENTS_FROM} AND {o.ts} < {EVENTS_TO}
    UNION ALL
    SELECT {s.unit}, {s.ts}, 2, NULL, NULL, NULL, duration, pages
    FROM {s.table} WHERE {s.ts} >= {EVENTS_FROM} AND {s.ts} < {EVENTS_TO}
)""")
    aggs = []
    for m in METRICS:
        src = 1 if m.source == "orders" else 2
        mm = Metric(m.name, m.source, m.value,
                    f"src = {src}" + ("" if m.filter is None else f" AND {m.filter}"),
                    m.aggregation, m.cap)
        aggs.append(f"{unit_aggregate(mm, 'e.ts >= u.t0', 'filter')} AS {m.name}")
        aggs.append(f"{unit_aggregate(mm, 'e.ts < u.t0', 'filter')} AS {m.name}__pre")
    ctes.append(f"""agg_events AS (
    SELECT u.unit_id, {', '.join(aggs)}
    FROM events AS e JOIN units AS u
      ON e.unit_id = u.unit_id AND e.ts >= u.pre_from AND e.ts < u.win_to
    GROUP BY u.unit_id
)""")
    ctes.append(_unit_values("units LEFT JOIN agg_events USING (unit_id)", both=False))
    return final_select("WITH " + ",\n".join(ctes))


def union_equi(side: bool = False) -> str:
    """Both sources in ONE stream (as the floor reads them), an equality-only join to the units'
    bounds, ONE ``GROUP BY unit`` for every metric and covariate, then one LEFT JOIN to units.

    ``side``: compute the window side once per event (1 in ``[t0, t0+14d)``, 0 in the pre-period,
    NULL outside) so that each aggregate's FILTER is a single comparison.
    """
    ctes = [exposure_ctes(bounds=True)]
    o, s = SOURCES["orders"], SOURCES["sessions"]
    ctes.append(f"""events AS (
    SELECT {o.unit} AS unit_id, {o.ts} AS ts, 1 AS src, amount, refund, status,
           NULL::DOUBLE AS duration, NULL::INTEGER AS pages
    FROM {o.table} WHERE {o.ts} >= {EVENTS_FROM} AND {o.ts} < {EVENTS_TO}
    UNION ALL
    SELECT {s.unit}, {s.ts}, 2, NULL, NULL, NULL, duration, pages
    FROM {s.table} WHERE {s.ts} >= {EVENTS_FROM} AND {s.ts} < {EVENTS_TO}
)""")
    if side:
        win, pre = "side = 1", "side = 0"
        ctes.append("""sided AS (
    SELECT e.*, CASE WHEN e.ts >= u.t0 THEN CASE WHEN e.ts < u.win_to THEN 1 END
                     WHEN e.ts >= u.pre_from THEN 0 END AS side
    FROM events AS e JOIN units AS u ON e.unit_id = u.unit_id
)""")
        source = "sided"
    else:
        win, pre = "ts >= t0 AND ts < win_to", "ts >= pre_from AND ts < t0"
        ctes.append("""sided AS (
    SELECT e.*, u.t0, u.pre_from, u.win_to
    FROM events AS e JOIN units AS u ON e.unit_id = u.unit_id
)""")
        source = "sided"
    aggs = []
    for m in METRICS:
        src = 1 if m.source == "orders" else 2
        mm = Metric(m.name, m.source, m.value,
                    f"src = {src}" + ("" if m.filter is None else f" AND {m.filter}"),
                    m.aggregation, m.cap)
        aggs.append(f"{unit_aggregate(mm, win, 'shared')} AS {m.name}")
        aggs.append(f"{unit_aggregate(mm, pre, 'shared')} AS {m.name}__pre")
    ctes.append(f"""agg_events AS (
    SELECT unit_id,
           {(',' + chr(10) + '           ').join(aggs)}
    FROM {source}
    GROUP BY unit_id
)""")
    ctes.append(_unit_values("units LEFT JOIN agg_events USING (unit_id)", both=False))
    return final_select("WITH " + ",\n".join(ctes))


def per_source_stats(variant_key: str = "any_value", filter_style: str = "shared") -> str:
    """Each source is a pipeline of its own, never joined to the other at unit level.

    ``units LEFT JOIN <time-filtered events> ON unit`` (equality only; DuckDB builds on the units,
    probes with the events and emits unmatched units, so units without events are kept with no
    second join), ONE ``GROUP BY unit`` with every metric and covariate of the source as
    FILTERed aggregates (windows as bounds in the FILTER), then the per-variant moments of that
    source. Every product the stats need (y*y, x*x, x*y, and num*den of a ratio) is within one
    source, so the sources meet only at the per-variant rows.

    ``variant_key``: ``any_value`` (variant as an aggregate) or ``group`` (GROUP BY unit, variant).
    """
    ctes = [exposure_ctes(bounds=True)]
    for source, s in SOURCES.items():
        ms = source_metrics(source)
        win = f"e.{s.ts} >= u.t0 AND e.{s.ts} < u.win_to"
        pre = f"e.{s.ts} >= u.pre_from AND e.{s.ts} < u.t0"
        aggs = []
        for m in ms:
            aggs.append(f"{unit_aggregate(_qualify(m), win, filter_style)} AS {m.name}")
            aggs.append(f"{unit_aggregate(_qualify(m), pre, filter_style)} AS {m.name}__pre")
        cols = sorted({c for c in ("amount", "refund", "status", "duration", "pages")
                       if any(c in (m.value or "") + (m.filter or "") for m in ms)})
        if variant_key == "group":
            head, group = "u.unit_id, u.variant", "u.unit_id, u.variant"
        else:
            head, group = "u.unit_id, any_value(u.variant) AS variant", "u.unit_id"
        sep = ",\n           "
        ctes.append(f"""unit_{source} AS (
    SELECT {head},
           {sep.join(aggs)}
    FROM units AS u
    LEFT JOIN (SELECT {s.unit}, {s.ts}, {', '.join(cols)} FROM {s.table}
               WHERE {s.ts} >= {EVENTS_FROM} AND {s.ts} < {EVENTS_TO}) AS e
      ON e.{s.unit} = u.unit_id
    GROUP BY {group}
)""")
        values = []
        for m in ms:
            for sfx in ("", "__pre"):
                values.append(f"{finish(m.name + sfx, m)} AS {m.name}{sfx}")
        names = {m.name for m in ms}
        stats = ["count(*) AS n"] if source == "orders" else []
        stats += [f"sum({v}) AS s__{v}" for v in variables() if v.removesuffix("__pre") in names]
        stats += [f"sum({a} * {b}) AS ss__{a}__{b}" for a, b in products()
                  if a.removesuffix("__pre") in names]
        ctes.append(f"""stats_{source} AS (
    SELECT variant,
           {sep.join(stats)}
    FROM (SELECT variant, {', '.join(values)} FROM unit_{source})
    GROUP BY variant
)""")
    return "WITH " + ",\n".join(ctes) + """
SELECT *
FROM stats_orders JOIN stats_sessions USING (variant) CROSS JOIN diagnostics
ORDER BY variant"""


def units_with_events(variant_code: bool = False, filter_style: str = "shared",
                      late_variant: bool = False) -> str:
    """Per source, only units that have events: INNER equality join, GROUP BY the event's unit.

    A unit without events contributes 0 to every sum and cross-product sum (sum/count are 0,
    a proportion is 0, a cap above 0 keeps 0), so the per-variant moments over the units that
    have events are the moments over all units; only ``n`` must count every unit, and it comes
    from the units themselves. No outer join and no unit-level join between sources: the
    inner equality join stays eligible for DuckDB's perfect hash join, and the GROUP BY key is the
    probe side's column.

    (A compiler must fall back to ``units LEFT JOIN`` for a variable whose no-event value is not
    0, e.g. a capping ``min`` above 0, and to a unit-level join for a ratio whose numerator and
    denominator come from different sources.)

    ``variant_code``: carry the arm as a small integer (from the spec's variant list) instead of
    the variant string through the join and the per-unit GROUP BY.
    ``late_variant``: do not carry the variant through the event-level GROUP BY at all; join the
    per-unit rows back to ``units`` (an equality join on ~N rows) to get it.
    """
    ctes = [exposure_ctes(bounds=True)]
    if variant_code:
        ctes[0] = ctes[0].replace(
            "SELECT unit_id, variant, t0,",
            "SELECT unit_id, variant, CASE variant WHEN 'control' THEN 0 WHEN 'treatment' THEN 1 "
            "END AS arm, t0,")
    key = "arm" if variant_code else "variant"
    sep = ",\n           "
    for source, s in SOURCES.items():
        ms = source_metrics(source)
        win = f"e.{s.ts} >= u.t0 AND e.{s.ts} < u.win_to"
        pre = f"e.{s.ts} >= u.pre_from AND e.{s.ts} < u.t0"
        aggs = []
        for m in ms:
            aggs.append(f"{unit_aggregate(_qualify(m), win, filter_style)} AS {m.name}")
            aggs.append(f"{unit_aggregate(_qualify(m), pre, filter_style)} AS {m.name}__pre")
        carried = "" if late_variant else f" any_value(u.{key}) AS {key},"
        ctes.append(f"""unit_{source} AS (
    SELECT e.{s.unit} AS unit_id,{carried}
           {sep.join(aggs)}
    FROM {s.table} AS e JOIN units AS u ON e.{s.unit} = u.unit_id
    WHERE e.{s.ts} >= {EVENTS_FROM} AND e.{s.ts} < {EVENTS_TO}
    GROUP BY e.{s.unit}
)""")
        values = [f"{finish(m.name + sfx, m)} AS {m.name}{sfx}"
                  for m in ms for sfx in ("", "__pre")]
        names = {m.name for m in ms}
        stats = [f"sum({v}) AS s__{v}" for v in variables() if v.removesuffix("__pre") in names]
        stats += [f"sum({a} * {b}) AS ss__{a}__{b}" for a, b in products()
                  if a.removesuffix("__pre") in names]
        late = " JOIN units USING (unit_id)" if late_variant else ""
        ctes.append(f"""stats_{source} AS (
    SELECT {key},
           {sep.join(stats)}
    FROM (SELECT {key}, {', '.join(values)} FROM unit_{source}{late})
    GROUP BY {key}
)""")
    ctes.append(f"""arms AS (
    SELECT variant, {"any_value(arm) AS arm, " if variant_code else ""}count(*) AS n
    FROM units GROUP BY variant
)""")
    joins = " ".join(f"LEFT JOIN stats_{src} USING ({key})" for src in SOURCES)
    cols = ["arms.variant", "arms.n"]
    cols += [f"coalesce(s__{v}, 0) AS s__{v}" for v in variables()]
    cols += [f"coalesce(ss__{a}__{b}, 0) AS ss__{a}__{b}" for a, b in products()]
    cols += ["d.*"]
    return "WITH " + ",\n".join(ctes) + f"""
SELECT {sep.join(cols)}
FROM arms {joins} CROSS JOIN diagnostics AS d
ORDER BY arms.variant"""


US_PER_DAY = 86_400_000_000


def relative(filter_style: str = "shared", pushdown: bool = True, range_join: bool = False,
             split: str = "rel") -> str:
    """``units_with_events`` with windows as integer offsets from ``t0``.

    The join carries ONE payload column, ``t0`` in epoch microseconds; each event's offset
    ``rel = epoch_us(ts) - t0_us`` is computed once and every window is ``rel >= a AND rel < b``
    with integer constants (``[0d, 14d)`` is ``[0, 1209600000000)``). This removes the per-row
    gather of three timestamp columns from the join's build side and the timestamp comparisons.

    ``range_join``: also put the union of the unit's windows in the join condition
    (``ts >= t0 - 28d AND ts < t0 + 14d``, as timestamps carried from ``units``), so that events
    outside every window never reach the GROUP BY. This loses DuckDB's perfect hash join (only
    used for small dense key ranges) but drops ~1/3 of the rows before the GROUP BY.
    """
    ctes = [exposure_ctes(bounds=False)]
    if range_join:
        ctes.append(f"""unit_t0 AS (
    SELECT unit_id, epoch_us(t0) AS t0_us, t0 - {PRE} AS lo, t0 + {WINDOW} AS hi FROM units
)""")
    else:
        ctes.append("""unit_t0 AS (
    SELECT unit_id, epoch_us(t0) AS t0_us FROM units
)""")
    win_lo, win_hi = 0, 14 * US_PER_DAY
    pre_lo, pre_hi = -28 * US_PER_DAY, 0
    win = f"rel >= {win_lo} AND rel < {win_hi}"
    pre = f"rel >= {pre_lo} AND rel < {pre_hi}"
    sep = ",\n           "
    for source, s in SOURCES.items():
        ms = source_metrics(source)
        cols = sorted({c for c in ("amount", "refund", "status", "duration", "pages")
                       if any(c in (m.value or "") + (m.filter or "") for m in ms)})
        where = (f"\n        WHERE e.{s.ts} >= {EVENTS_FROM} AND e.{s.ts} < {EVENTS_TO}"
                 if pushdown else "")
        on = f" AND e.{s.ts} >= u.lo AND e.{s.ts} < u.hi" if range_join else ""
        ctes.append(f"""events_{source} AS (
    SELECT e.{s.unit} AS unit_id, epoch_us(e.{s.ts}) - u.t0_us AS rel,
           {', '.join('e.' + c for c in cols)}
    FROM {s.table} AS e JOIN unit_t0 AS u ON e.{s.unit} = u.unit_id{on}{where}
)""")
        aggs = []
        w, p = (win, pre) if not range_join else ("rel >= 0", "rel < 0")
        for m in ms:
            aggs.append(f"{unit_aggregate(m, w, filter_style)} AS {m.name}")
            aggs.append(f"{unit_aggregate(m, p, filter_style)} AS {m.name}__pre")
        ctes.append(f"""unit_{source} AS (
    SELECT unit_id,
           {sep.join(aggs)}
    FROM events_{source}
    GROUP BY unit_id
)""")
        values = [f"{finish(m.name + sfx, m)} AS {m.name}{sfx}"
                  for m in ms for sfx in ("", "__pre")]
        names = {m.name for m in ms}
        stats = [f"sum({v}) AS s__{v}" for v in variables() if v.removesuffix("__pre") in names]
        stats += [f"sum({a} * {b}) AS ss__{a}__{b}" for a, b in products()
                  if a.removesuffix("__pre") in names]
        ctes.append(f"""stats_{source} AS (
    SELECT variant,
           {sep.join(stats)}
    FROM (SELECT units.variant, {', '.join(values)}
          FROM unit_{source} JOIN units USING (unit_id))
    GROUP BY variant
)""")
    ctes.append("""arms AS (
    SELECT variant, count(*) AS n FROM units GROUP BY variant
)""")
    joins = " ".join(f"LEFT JOIN stats_{src} USING (variant)" for src in SOURCES)
    cols = ["arms.variant", "arms.n"]
    cols += [f"coalesce(s__{v}, 0) AS s__{v}" for v in variables()]
    cols += [f"coalesce(ss__{a}__{b}, 0) AS ss__{a}__{b}" for a, b in products()]
    cols += ["d.*"]
    return "WITH " + ",\n".join(ctes) + f"""
SELECT {sep.join(cols)}
FROM arms {joins} CROSS JOIN diagnostics AS d
ORDER BY arms.variant"""


def _source_cte(source: str, s: Src, filter_style: str, pushdown: bool, bounds: bool) -> str:
    aggs = []
    for m in source_metrics(source):
        aggs.append(f"{unit_aggregate(_qualify(m), f'e.{s.ts} >= u.t0', filter_style)} AS {m.name}")
        aggs.append(
            f"{unit_aggregate(_qualify(m), f'e.{s.ts} < u.t0', filter_style)} AS {m.name}__pre")
    where = f"\n    WHERE e.{s.ts} >= {EVENTS_FROM} AND e.{s.ts} < {EVENTS_TO}" if pushdown else ""
    lo, hi = ("u.pre_from", "u.win_to") if bounds else (f"u.t0 - {PRE}", f"u.t0 + {WINDOW}")
    return f"""agg_{source} AS (
    SELECT u.unit_id, {', '.join(aggs)}
    FROM {s.table} AS e JOIN units AS u
      ON e.{s.unit} = u.unit_id AND e.{s.ts} >= {lo} AND e.{s.ts} < {hi}{where}
    GROUP BY u.unit_id
)"""


def _source_cte_equi(source: str, s: Src, filter_style: str, pushdown: bool, bounds: bool) -> str:
    """Join on the unit key alone; each window is a pair of bounds in the aggregate's FILTER.

    A hash join with range conditions evaluates them as residual predicates on every match and
    cannot use DuckDB's perfect hash join; an equality-only join can.
    """
    del bounds
    aggs = []
    win = f"e.{s.ts} >= u.t0 AND e.{s.ts} < u.win_to"
    pre = f"e.{s.ts} >= u.pre_from AND e.{s.ts} < u.t0"
    for m in source_metrics(source):
        aggs.append(f"{unit_aggregate(_qualify(m), win, filter_style)} AS {m.name}")
        aggs.append(f"{unit_aggregate(_qualify(m), pre, filter_style)} AS {m.name}__pre")
    where = f"\n    WHERE e.{s.ts} >= {EVENTS_FROM} AND e.{s.ts} < {EVENTS_TO}" if pushdown else ""
    return f"""agg_{source} AS (
    SELECT e.{s.unit} AS unit_id,
           {(',' + chr(10) + '           ').join(aggs)}
    FROM {s.table} AS e JOIN units AS u ON e.{s.unit} = u.unit_id{where}
    GROUP BY e.{s.unit}
)"""


def _qualify(m: Metric) -> Metric:
    """Prefix event columns with ``e.`` (the metric fragments name bare event columns)."""
    def q(text: str | None) -> str | None:
        if text is None:
            return None
        for col in ("amount", "refund", "status", "duration", "pages"):
            text = text.replace(col, f"e.{col}")
        return text
    return Metric(m.name, m.source, q(m.value), q(m.filter), m.aggregation, m.cap)


def _unit_values(from_clause: str, both: bool = True) -> str:
    del both
    cols = []
    for m in METRICS:
        for sfx in ("", "__pre"):
            cols.append(f"{finish(m.name + sfx, m)} AS {m.name}{sfx}")
    return f"""unit_values AS (
    SELECT units.variant, {', '.join(cols)}
    FROM {from_clause}
)"""


SHAPES = {
    "reference": reference,
    "straight": straight,
    "source_pass": source_pass,
    "source_pass_case": lambda: source_pass(filter_style="case"),
    "source_pass_nopush": lambda: source_pass(pushdown=False),
    "source_pass_nobounds": lambda: source_pass(bounds=False),
    "union_pass": union_pass,
    "union_equi": union_equi,
    "union_equi_side": lambda: union_equi(side=True),
    "pss": per_source_stats,
    "pss_group": lambda: per_source_stats(variant_key="group"),
    "pss_filter": lambda: per_source_stats(filter_style="filter"),
    "uwe": units_with_events,
    "uwe_code": lambda: units_with_events(variant_code=True),
    "uwe_late": lambda: units_with_events(late_variant=True),
    "rel": relative,
    "rel_filter": lambda: relative(filter_style="filter"),
    "rel_nopush": lambda: relative(pushdown=False),
    "rel_range": lambda: relative(range_join=True),
    "equi": lambda: source_pass(equi_only=True),
    "equi_shared": lambda: source_pass(equi_only=True, filter_style="shared"),
    "equi_shared_nopush": lambda: source_pass(equi_only=True, filter_style="shared",
                                              pushdown=False),
}


def write(name: str) -> Path:
    """Write shape ``name``'s SQL file (a hand-written one, e.g. ``rel_arm``, is left as is)."""
    path = HERE / f"{name}.sql"
    if name in SHAPES:
        path.write_text(SHAPES[name]() + ";\n")
    return path


def main() -> None:
    for name in SHAPES:
        print(f"wrote {write(name).name}")


if __name__ == "__main__":
    main()
