"""The scan side of an analysis: exposures to units, and each source to per-unit rows (SQLGlot).

* ``exposure_query``: per declared-or-not variant, units and exposure rows, plus totals of rows
  with no unit id and rows outside the experiment's dates (SRM and exposure health);
* ``units_query``: first exposure per unit, units seen in several (or undeclared) variants left
  out, with the arm as a small integer;
* ``source_scan``: one pass over a source, the time range pushed into the scan, the join to the
  units on the key alone carrying ``t0`` and the arm, every measure of the source aggregated per
  (unit, arm) with its window as an integer offset from ``t0``.

:mod:`assay.metrics.compile` reduces these rows to sufficient statistics. Pure: no connection.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlglot import exp

from assay.metrics.plan import AnalysisPlan, Measure, window_bounds
from assay.spec.models import ExperimentSpec, Source
from assay.spec.project import Project
from assay.spec.sqlcheck import parse_expression, parse_query

UNIT, VARIANT, TS, ARM = "unit_id", "variant", "ts", "arm"
VARIANT_MAX, T0, T0_US = "variant_max", "t0", "t0_us"
# Dialect differences, as data.
# Engines with a cheap timestamp -> epoch microseconds function: windows become integer
# offsets from t0 (exact durations), measured 2x faster than timestamp + interval comparisons.
#: Dialect -> its timestamp to epoch microseconds function (absent: compare timestamps).
EPOCH_MICROS: Mapping[str, str] = {
    "duckdb": "EPOCH_US",
    "spark": "UNIX_MICROS",
    "databricks": "UNIX_MICROS",
    "bigquery": "UNIX_MICROS",
}
# Dialects without ARG_MIN/MIN_BY take the segment value at first exposure another way.
_NO_ARG_MIN = {"postgres"}


def col(name: str, table: str | None = None) -> exp.Column:
    """A quoted column reference."""
    return exp.column(name, table=table, quoted=True)


def alias(expression: exp.Expr, name: str) -> exp.Expr:
    """``expression AS "name"``."""
    return exp.alias_(expression, name, quoted=True)


def with_ctes(query: exp.Query, ctes: list[tuple[str, exp.Query]]) -> exp.Query:
    """``WITH <name> AS (<cte>), ... <query>``: a copy of ``query`` with ``ctes`` in order.

    Copies the query once and each CTE once; adding them one ``with_`` at a time copied the
    whole growing statement each time (a fifth of the checks' compile time on the demo).
    """
    query = query.copy()
    for name, cte in ctes:
        query = query.with_(name, cte.copy(), copy=False)
    return query


def relation(table: str | None, sql: str | None, dialect: str, name: str) -> exp.Expr:
    """A source given as a table (every part quoted) or a SQL query, aliased ``name``."""
    if sql is not None:
        return parse_query(sql, dialect).subquery(name)
    ref = exp.to_table(table or "", dialect=dialect)
    for part in ("this", "db", "catalog"):
        ident = ref.args.get(part)
        if isinstance(ident, exp.Identifier):
            ident.set("quoted", True)
    return ref.as_(name, quoted=True)


def timestamp_literal(moment: dt.datetime) -> exp.Expr:
    """``CAST('<moment>' AS TIMESTAMP)``."""
    return exp.cast(exp.Literal.string(moment.isoformat(sep=" ")), exp.DataType.Type.TIMESTAMP)


def _in_dates(ts: exp.Expr, experiment: ExperimentSpec) -> exp.Expr | None:
    conditions: list[exp.Expr] = []
    start, end = experiment.start_at(), experiment.end_at()
    if start is not None:
        conditions.append(ts.copy() >= timestamp_literal(start))
    if end is not None:
        conditions.append(ts.copy() < timestamp_literal(end))
    return exp.and_(*conditions) if conditions else None


def exposures_of(project: Project, experiment: ExperimentSpec) -> exp.Select:
    """This experiment's exposure rows with canonical column names."""
    src = project.spec.exposures
    select = exp.select(
        alias(col(src.unit_id, "x"), UNIT),
        alias(col(src.variant, "x"), VARIANT),
        alias(col(src.timestamp, "x"), TS),
        *(alias(col(s, "x"), s) for s in experiment.segments),
    ).from_(relation(src.table, src.sql, project.dialect, "x"))
    return select.where(col(src.experiment_id, "x").eq(exp.Literal.string(experiment.id)))


def exposure_query(exposures: exp.Select, experiment: ExperimentSpec) -> exp.Query:
    """One scan of the experiment's exposures: every count the trust checks need.

    Rows grouped by ``kind``: ``arm`` (units whose exposures in the dates all name ``variant``),
    ``multi`` (units seen in several variants), ``no_variant`` (units whose exposures in the
    dates all have a NULL variant), ``outside`` (units exposed only outside the dates),
    ``missing`` (rows without a unit id). ``exposure_rows`` counts rows inside the dates,
    ``outside_rows`` those outside, ``all_rows`` both.
    """
    dates = _in_dates(col(TS), experiment)
    inside = dates if dates is not None else exp.true()

    def within(aggregate: exp.Expr) -> exp.Expr:
        return _filtered(aggregate, inside.copy())

    per_unit = (
        exp.select(
            col(UNIT),
            alias(within(exp.Min(this=col(VARIANT))), VARIANT),
            alias(within(exp.Max(this=col(VARIANT))), VARIANT_MAX),
            alias(within(exp.Count(this=exp.Star())), "rows"),
            alias(exp.Count(this=exp.Star()), "all_rows"),
        )
        .from_("e")
        .group_by(col(UNIT))
    )
    kind = (
        exp.Case()
        .when(col(UNIT).is_(exp.null()), exp.Literal.string("missing"))
        .when(col("rows").eq(exp.Literal.number(0)), exp.Literal.string("outside"))
        .when(col(VARIANT).is_(exp.null()), exp.Literal.string("no_variant"))
        .when(col(VARIANT).eq(col(VARIANT_MAX)), exp.Literal.string("arm"))
        .else_(exp.Literal.string("multi"))
    )
    arm = exp.Case().when(
        exp.and_(col(UNIT).is_(exp.null()).not_(), col(VARIANT).eq(col(VARIANT_MAX))),
        col(VARIANT),
    )
    return (
        exp.select(
            alias(kind, "kind"),
            alias(arm, VARIANT),
            alias(exp.Count(this=exp.Star()), "units"),
            alias(exp.Sum(this=col("rows")), "exposure_rows"),
            alias(
                exp.Sum(this=exp.Sub(this=col("all_rows"), expression=col("rows"))), "outside_rows"
            ),
            alias(exp.Sum(this=col("all_rows")), "all_rows"),
        )
        .from_("u")
        .group_by(exp.Literal.number(1), exp.Literal.number(2))
        .order_by(exp.Literal.number(1), exp.Literal.number(2))
        .with_("e", exposures)
        .with_("u", per_unit)
    )


def units_query(experiment: ExperimentSpec, dialect: str) -> exp.Query:
    """First exposure per unit; units in several (or undeclared) variants are left out.

    Variants are compared as small integers (the declared variant's position, -1 for any other
    name): grouping 10M units on an integer took 35% less CPU and 40% less memory than on the
    variant text in the benchmark.
    """
    names = [v.name for v in experiment.variants]
    coded = exp.select(
        col(UNIT), col(TS), _variant_code(names), *(col(s) for s in experiment.segments)
    ).from_("e")
    per_unit = (
        exp.select(
            col(UNIT),
            alias(exp.Min(this=col(TS)), T0),
            alias(exp.Min(this=col(ARM)), ARM),
            alias(exp.Max(this=col(ARM)), "arm_max"),
            *(_first_value(s, dialect) for s in experiment.segments),
        )
        .from_(coded.subquery("c"))
        .where(col(UNIT).is_(exp.null()).not_())
        .group_by(col(UNIT))
    )
    dates = _in_dates(col(TS), experiment)
    if dates is not None:
        per_unit = per_unit.where(dates)
    micros = EPOCH_MICROS.get(dialect)
    t0_us = [alias(exp.func(micros, col(T0)), T0_US)] if micros else []
    return (
        exp.select(
            col(UNIT),
            col(T0),
            *t0_us,
            alias(_variant_name(names), VARIANT),
            col(ARM),
            *(col(s) for s in experiment.segments),
        )
        .from_(per_unit.subquery("f"))
        .where(col(ARM).eq(col("arm_max")))
        .where(col(ARM) >= exp.Literal.number(0))
    )


def _variant_code(names: list[str]) -> exp.Expr:
    """``arm``: the declared variant's position, -1 for another name, NULL for NULL."""
    small = exp.DataType.Type.TINYINT if len(names) < 128 else exp.DataType.Type.SMALLINT
    code = exp.Case().when(col(VARIANT).is_(exp.null()), exp.null())
    for i, name in enumerate(names):
        code = code.when(col(VARIANT).eq(exp.Literal.string(name)), exp.Literal.number(i))
    return alias(exp.cast(code.else_(exp.Literal.number(-1)), small), ARM)


def _variant_name(names: list[str]) -> exp.Case:
    """The declared variant's name from its ``arm`` code."""
    variant = exp.Case()
    for i, name in enumerate(names):
        variant = variant.when(col(ARM).eq(exp.Literal.number(i)), exp.Literal.string(name))
    return variant


def _first_value(segment: str, dialect: str) -> exp.Expr:
    if dialect in _NO_ARG_MIN:
        ordered = exp.ArrayAgg(
            this=exp.Order(this=col(segment), expressions=[exp.Ordered(this=col(TS))])
        )
        # SQLGlot's generic index is 0-based; it writes [1] for 1-based PostgreSQL arrays.
        first = exp.Bracket(this=exp.paren(ordered), expressions=[exp.Literal.number(0)])
        return alias(first, segment)
    return alias(exp.ArgMin(this=col(segment), expression=col(TS)), segment)


def _interval(delta: dt.timedelta) -> exp.Interval:
    seconds = int(abs(delta).total_seconds())
    count, unit = (seconds // 86400, "DAY") if seconds % 86400 == 0 else (seconds, "SECOND")
    return exp.Interval(this=exp.Literal.string(str(count)), unit=exp.Var(this=unit))


def shifted(moment: exp.Expr, delta: dt.timedelta) -> exp.Expr:
    """``moment + delta`` as SQL (subtraction for negative offsets, nothing for zero)."""
    if delta == dt.timedelta(0):
        return moment
    if delta < dt.timedelta(0):
        return exp.Sub(this=moment, expression=_interval(delta))
    return exp.Add(this=moment, expression=_interval(delta))


def _scan_range(experiment: ExperimentSpec, measures: list[Measure]) -> exp.Expr | None:
    """Time range of events any measure can use, pushed into the source scan."""
    first, last = window_bounds(measures)
    start, end = experiment.start_at(), experiment.end_at()
    ts = col("__ts")
    conditions: list[exp.Expr] = []
    if start is not None and first is not None:
        conditions.append(ts.copy() >= timestamp_literal(start + first))
    if end is not None:
        horizon = end if last is None else max(end, end + last)
        conditions.append(ts.copy() < timestamp_literal(horizon))
    return exp.and_(*conditions) if conditions else None


def source_scan(
    project: Project,
    plan: AnalysisPlan,
    source: Source,
    measures: list[tuple[Measure, str]],
    dialect: str,
) -> exp.Query:
    """One pass over a source: every measure of it aggregated per unit, relative to t0.

    The join to the units is on the unit key alone and carries ``t0`` (in epoch microseconds
    where the engine has a cheap function for it) and the unit's arm as a small integer, so the
    engine can use its fastest equality join and the per-unit rows need no join back to the
    units; windows are integer offsets from ``t0``, computed once per event, and each measure
    is a ``FILTER``ed aggregate over the same pass.
    """
    experiment = plan.experiment
    joined, values, filters = joined_events(experiment, source, measures, dialect)
    micros = EPOCH_MICROS.get(dialect)
    aggregates: list[exp.Expr] = []
    for measure, name in measures:
        value = col(values[measure.value]) if measure.value is not None else None
        condition = in_window(measure, filters, experiment, micros is not None)
        aggregates.append(alias(aggregate(measure.aggregation, condition, value), name))
        if value is not None and plan.counts_nulls(measure):
            nulls = exp.and_(condition.copy(), value.copy().is_(exp.null()))
            aggregates.append(alias(_filtered(exp.Count(this=exp.Star()), nulls), f"{name}__nulls"))
    return (
        exp.select(col(UNIT), col(ARM), *aggregates)
        .from_(joined.subquery("j"))
        .group_by(col(UNIT), col(ARM))
    )


def source_events(experiment: ExperimentSpec, measure: Measure, dialect: str) -> exp.Select:
    """Every qualifying event of ``measure`` with a value: ``(unit_id, variant, v)``.

    The same scan, join and window test as :func:`source_scan`, without the per-unit
    aggregation (event-level quantiles need the events themselves).
    """
    joined, values, filters = joined_events(experiment, measure.source, [(measure, "")], dialect)
    value = col(values[measure.value or ""])
    condition = in_window(measure, filters, experiment, dialect in EPOCH_MICROS)
    names = [v.name for v in experiment.variants]
    return (
        exp.select(col(UNIT), alias(_variant_name(names), VARIANT), alias(value, "v"))
        .from_(joined.subquery("j"))
        .where(exp.and_(condition, value.copy().is_(exp.null()).not_()))
    )


def joined_events(
    experiment: ExperimentSpec,
    source: Source,
    measures: list[tuple[Measure, str]],
    dialect: str,
) -> tuple[exp.Select, dict[str, str], dict[str, str]]:
    """A source's events in the scan range joined to the units (on the key alone), with
    each distinct value and filter expression as a column (``v0``, ``f0`` ...)."""
    values: dict[str, str] = {}
    filters: dict[str, str] = {}
    for measure, _ in measures:
        if measure.value is not None:
            values.setdefault(measure.value, f"v{len(values)}")
        if measure.filter is not None:
            filters.setdefault(measure.filter, f"f{len(filters)}")
    rows = exp.select(
        alias(col(source.unit, "s"), "__unit"),
        alias(col(source.timestamp, "s"), "__ts"),
        *(alias(parse_expression(text, dialect), name) for text, name in values.items()),
        *(alias(parse_expression(text, dialect), name) for text, name in filters.items()),
    ).from_(relation(source.table, source.sql, dialect, "s"))
    in_range = _scan_range(experiment, [m for m, _ in measures])
    if in_range is not None:
        rows = exp.select("*").from_(rows.subquery("r")).where(in_range)
    micros = EPOCH_MICROS.get(dialect)
    carried = T0_US if micros else T0
    offset: list[exp.Expr] = []
    if micros:
        rel = exp.Sub(this=exp.func(micros, col("__ts", "ev")), expression=col(T0_US, "u"))
        offset = [alias(rel, "__rel")]
    joined = (
        exp.select(
            col(UNIT, "u"),
            col(ARM, "u"),
            col(carried, "u"),
            *offset,
            *(col(c, "ev") for c in ("__ts", *values.values(), *filters.values())),
        )
        .from_(rows.subquery("ev"))
        .join(
            exp.select(col(UNIT), col(carried), col(ARM)).from_("units").subquery("u"),
            on=col("__unit", "ev").eq(col(UNIT, "u")),
            join_type="inner",
        )
    )
    return joined, values, filters


def in_window(
    measure: Measure, filters: dict[str, str], experiment: ExperimentSpec, relative: bool
) -> exp.Expr:
    """The event qualifies: its filter holds and it falls in the measure's window."""
    conditions: list[exp.Expr] = []
    if measure.filter is not None:
        conditions.append(col(filters[measure.filter]))
    start = measure.window.start if measure.window is not None else dt.timedelta(0)
    end = measure.window.end if measure.window is not None else None
    if relative:
        rel = col("__rel")
        conditions.append(rel.copy() >= exp.Literal.number(micros(start)))
        if end is not None:
            conditions.append(rel.copy() < exp.Literal.number(micros(end)))
    else:
        ts, t0 = col("__ts"), col(T0)
        conditions.append(ts.copy() >= shifted(t0.copy(), start))
        if end is not None:
            conditions.append(ts.copy() < shifted(t0.copy(), end))
    experiment_end = experiment.end_at()
    if measure.window is None and experiment_end is not None:
        conditions.append(col("__ts") < timestamp_literal(experiment_end))
    return exp.and_(*conditions)


def micros(delta: dt.timedelta) -> int:
    """A duration in whole microseconds (the offsets of the integer window tests)."""
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def _filtered(aggregate: exp.Expr, condition: exp.Expr) -> exp.Expr:
    return exp.Filter(this=aggregate, expression=exp.Where(this=condition))


def aggregate(aggregation: str, condition: exp.Expr, value: exp.Expr | None) -> exp.Expr:
    counted = _filtered(exp.Count(this=exp.Star()), condition)
    if aggregation == "any":
        # the same aggregate as a count with this filter: the engine computes it once
        return exp.cast(
            exp.GT(this=counted, expression=exp.Literal.number(0)), exp.DataType.Type.INT
        )
    if aggregation == "count" or (value is None and aggregation == "sum"):
        return counted
    if aggregation == "count_distinct" and value is not None:
        # exact on every engine; sketches (HLL) are not used
        return _filtered(exp.Count(this=exp.Distinct(expressions=[value])), condition)
    if aggregation == "approx_count_distinct" and value is not None:
        # a HyperLogLog sketch where the engine has one (validation refuses the others)
        return _filtered(exp.ApproxDistinct(this=value), condition)
    functions = {"sum": exp.Sum, "avg": exp.Avg, "max": exp.Max, "min": exp.Min}
    return _filtered(functions[aggregation](this=value or exp.Literal.number(1)), condition)


COUNTS = ("count", "count_distinct", "approx_count_distinct", "any")
"""Aggregations whose per-unit values are counts: never shifted, never probed."""

PROBE_ROWS = 10_000
"""Events read by :func:`shift_probe` (a streaming ``LIMIT``: the engine stops early)."""


def shift_probe(
    experiment: ExperimentSpec, source: Source, measures: list[tuple[Measure, str]], dialect: str
) -> exp.Query | None:
    """A cheap first aggregate over a few events of ``source``: per value expression its mean
    (``<v>__mean``) and standard deviation (``<v>__sd``), and ``events`` / ``units`` read.

    :func:`assay.metrics.compile.shift_constants` turns them into the constants that the
    metrics statement centres each measure on (numerically stable moments). None when no
    measure of the source has a value.
    """
    values = probe_columns(measures)
    if not values:
        return None
    rows = exp.select(
        alias(col(source.unit, "s"), "__unit"),
        alias(col(source.timestamp, "s"), "__ts"),
        *(alias(parse_expression(text, dialect), name) for text, name in values.items()),
    ).from_(relation(source.table, source.sql, dialect, "s"))
    in_range = _scan_range(experiment, [m for m, _ in measures])
    sample = exp.select("*").from_(rows.subquery("r"))
    if in_range is not None:
        sample = sample.where(in_range)
    sample = sample.limit(PROBE_ROWS)
    stats: list[exp.Expr] = [
        alias(exp.Count(this=exp.Star()), "events"),
        alias(exp.Count(this=exp.Distinct(expressions=[col("__unit")])), "units"),
    ]
    for name in values.values():
        value = exp.cast(col(name), exp.DataType.Type.DOUBLE)
        stats.append(alias(exp.Avg(this=value), f"{name}__mean"))
        stats.append(alias(exp.Stddev(this=value.copy()), f"{name}__sd"))
    return exp.select(*stats).from_(sample.subquery("sample"))


def probe_columns(measures: list[tuple[Measure, str]]) -> dict[str, str]:
    """Value expression -> its probe column prefix (as :func:`shift_probe` names them)."""
    values: dict[str, str] = {}
    for measure, _ in measures:
        if measure.value is not None and measure.aggregation not in COUNTS:
            values.setdefault(measure.value, f"v{len(values)}")
    return values
