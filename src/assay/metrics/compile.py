"""Compile an experiment's analysis to SQL (SQLGlot expressions; pure, no connection).

Two statements per experiment:

* the **exposure query**: per declared-or-not variant, units and exposure rows, plus totals of
  rows with no unit id and rows outside the experiment's dates (SRM and exposure health);
* the **metrics query**: first exposure per unit (units seen in several variants dropped), each
  source scanned once with the time range pushed into the scan and every measure of that source
  aggregated per unit in the same pass, capped, and reduced to per-variant (x segment) sufficient
  statistics named by :mod:`assay.stats.moments`.

A metric whose variables all come from one source and are 0 for a unit without events (the usual
case) is reduced to per-variant sums straight from that source's per-unit rows: units without
events add 0 to every sum and product, and the unit count comes from the units. Sources then meet
only at their per-variant rows. Other metrics (segments, winsorizing, variables from two sources,
caps that move 0) go through ``per_unit``, one row per analysed unit with every measure. Measured
on the 10M-unit benchmark: 1.6x faster and 25% less memory than joining every unit to every
source (``benchmarks/sql_shapes/BEST.md``, rule 5).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from itertools import combinations_with_replacement

from sqlglot import exp

from assay.metrics.plan import AnalysisPlan, Measure, MetricPlan, plan_experiment, window_bounds
from assay.spec.models import ExperimentSpec, Source
from assay.spec.project import Project
from assay.spec.sqlcheck import parse_expression, parse_query
from assay.stats.moments import N_COLUMN, cross_column, sum_column

UNIT, VARIANT, TS, ARM = "unit_id", "variant", "ts", "arm"
VARIANT_MAX, T0, T0_US = "variant_max", "t0", "t0_us"
# Dialect differences, as data.
# Engines with a cheap timestamp -> epoch microseconds function: windows become integer
# offsets from t0 (exact durations), measured 2x faster than timestamp + interval comparisons.
_EPOCH_MICROS = {
    "duckdb": "EPOCH_US",
    "spark": "UNIX_MICROS",
    "databricks": "UNIX_MICROS",
    "bigquery": "UNIX_MICROS",
}
# Dialects without ARG_MIN/MIN_BY take the segment value at first exposure another way.
_NO_ARG_MIN = {"postgres"}
# The aggregate that computes a winsorizing cap: an exact, linearly interpolated percentile
# (PERCENTILE_CONT) unless the engine names it otherwise or has none (then approximate).
_QUANTILE: dict[str, type[exp.Expr]] = {
    "spark": exp.Quantile,  # PERCENTILE(x, q): exact, linear interpolation
    "databricks": exp.Quantile,
    "bigquery": exp.ApproxQuantile,  # no aggregate PERCENTILE_CONT: APPROX_QUANTILES
    "trino": exp.ApproxQuantile,  # APPROX_PERCENTILE
}


@dataclass(frozen=True)
class CompiledAnalysis:
    """The SQL of one experiment's analysis, in one dialect."""

    dialect: str
    plan: AnalysisPlan
    exposure_query: exp.Query
    metrics_query: exp.Query | None

    def statements(self) -> dict[str, str]:
        """Readable SQL text of each statement, by name."""
        out = {"exposures": self.exposure_query}
        if self.metrics_query is not None:
            out["metrics"] = self.metrics_query
        return {k: q.sql(dialect=self.dialect, pretty=True) for k, q in out.items()}


def compile_analysis(
    project: Project, experiment_id: str, dialect: str | None = None
) -> CompiledAnalysis:
    """Compile the SQL of ``experiment_id``'s analysis (project already validated)."""
    experiment = project.experiment(experiment_id)
    dialect = dialect or project.dialect
    plan = plan_experiment(project, experiment)
    exposures = exposures_of(project, experiment)
    return CompiledAnalysis(
        dialect=dialect,
        plan=plan,
        exposure_query=_exposure_query(exposures, experiment),
        metrics_query=_metrics_query(project, plan, exposures, dialect) if plan.metrics else None,
    )


def col(name: str, table: str | None = None) -> exp.Column:
    """A quoted column reference."""
    return exp.column(name, table=table, quoted=True)


def _alias(expression: exp.Expr, name: str) -> exp.Expr:
    return exp.alias_(expression, name, quoted=True)


def _relation(table: str | None, sql: str | None, dialect: str, alias: str) -> exp.Expr:
    if sql is not None:
        return parse_query(sql, dialect).subquery(alias)
    ref = exp.to_table(table or "", dialect=dialect)
    for part in ("this", "db", "catalog"):
        ident = ref.args.get(part)
        if isinstance(ident, exp.Identifier):
            ident.set("quoted", True)
    return ref.as_(alias, quoted=True)


def _timestamp(moment: dt.datetime) -> exp.Expr:
    return exp.cast(exp.Literal.string(moment.isoformat(sep=" ")), exp.DataType.Type.TIMESTAMP)


def _in_dates(ts: exp.Expr, experiment: ExperimentSpec) -> exp.Expr | None:
    conditions: list[exp.Expr] = []
    start, end = experiment.start_at(), experiment.end_at()
    if start is not None:
        conditions.append(ts.copy() >= _timestamp(start))
    if end is not None:
        conditions.append(ts.copy() < _timestamp(end))
    return exp.and_(*conditions) if conditions else None


def exposures_of(project: Project, experiment: ExperimentSpec) -> exp.Select:
    """This experiment's exposure rows with canonical column names."""
    src = project.spec.exposures
    select = exp.select(
        _alias(col(src.unit_id, "x"), UNIT),
        _alias(col(src.variant, "x"), VARIANT),
        _alias(col(src.timestamp, "x"), TS),
        *(_alias(col(s, "x"), s) for s in experiment.segments),
    ).from_(_relation(src.table, src.sql, project.dialect, "x"))
    return select.where(col(src.experiment_id, "x").eq(exp.Literal.string(experiment.id)))


def _exposure_query(exposures: exp.Select, experiment: ExperimentSpec) -> exp.Query:
    """One scan of the experiment's exposures: every count the trust checks need.

    Rows grouped by ``kind``: ``arm`` (units whose exposures in the dates all name ``variant``),
    ``multi`` (units seen in several variants), ``outside`` (units exposed only outside the
    dates), ``missing`` (rows without a unit id). ``exposure_rows`` counts rows inside the dates,
    ``outside_rows`` those outside, ``all_rows`` both.
    """
    dates = _in_dates(col(TS), experiment)
    inside = dates if dates is not None else exp.true()

    def within(aggregate: exp.Expr) -> exp.Expr:
        return _filtered(aggregate, inside.copy())

    per_unit = (
        exp.select(
            col(UNIT),
            _alias(within(exp.Min(this=col(VARIANT))), VARIANT),
            _alias(within(exp.Max(this=col(VARIANT))), VARIANT_MAX),
            _alias(within(exp.Count(this=exp.Star())), "rows"),
            _alias(exp.Count(this=exp.Star()), "all_rows"),
        )
        .from_("e")
        .group_by(col(UNIT))
    )
    kind = (
        exp.Case()
        .when(col(UNIT).is_(exp.null()), exp.Literal.string("missing"))
        .when(col("rows").eq(exp.Literal.number(0)), exp.Literal.string("outside"))
        .when(col(VARIANT).eq(col(VARIANT_MAX)), exp.Literal.string("arm"))
        .else_(exp.Literal.string("multi"))
    )
    arm = exp.Case().when(
        exp.and_(col(UNIT).is_(exp.null()).not_(), col(VARIANT).eq(col(VARIANT_MAX))),
        col(VARIANT),
    )
    return (
        exp.select(
            _alias(kind, "kind"),
            _alias(arm, VARIANT),
            _alias(exp.Count(this=exp.Star()), "units"),
            _alias(exp.Sum(this=col("rows")), "exposure_rows"),
            _alias(
                exp.Sum(this=exp.Sub(this=col("all_rows"), expression=col("rows"))), "outside_rows"
            ),
            _alias(exp.Sum(this=col("all_rows")), "all_rows"),
        )
        .from_("u")
        .group_by(exp.Literal.number(1), exp.Literal.number(2))
        .order_by(exp.Literal.number(1), exp.Literal.number(2))
        .with_("e", exposures)
        .with_("u", per_unit)
    )


def per_unit_ctes(
    project: Project, plan: AnalysisPlan, exposures: exp.Select, dialect: str
) -> list[tuple[str, exp.Query]]:
    """The CTEs up to ``per_unit``: one row per analysed unit with every measure (capped).

    Every query over unit-level values (sufficient statistics, rank sums) starts from these.
    """
    names = _source_names(plan)
    return _base_ctes(project, plan, exposures, names, dialect) + _per_unit_ctes(
        plan, plan.measures, names, dialect
    )


def _source_names(plan: AnalysisPlan) -> dict[Source, str]:
    return {source: f"src{i}" for i, source in enumerate(plan.by_source())}


def _base_ctes(
    project: Project,
    plan: AnalysisPlan,
    exposures: exp.Select,
    names: dict[Source, str],
    dialect: str,
) -> list[tuple[str, exp.Query]]:
    """Exposures, units and one per-unit scan per source."""
    experiment = plan.experiment
    ctes: list[tuple[str, exp.Query]] = [("e", exposures), ("units", _units(experiment, dialect))]
    for source, measures in plan.by_source().items():
        scan = _source_scan(project, plan, source, measures, dialect)
        ctes.append((names[source], scan))
    return ctes


def _per_unit_ctes(
    plan: AnalysisPlan,
    measures: dict[Measure, str],
    names: dict[Source, str],
    dialect: str,
) -> list[tuple[str, exp.Query]]:
    raw, capped = _per_unit(plan, measures, names, dialect)
    if capped is None:
        return [("per_unit", raw)]
    return [("per_unit_raw", raw), ("per_unit", capped)]


def _metrics_query(
    project: Project, plan: AnalysisPlan, exposures: exp.Select, dialect: str
) -> exp.Query:
    experiment = plan.experiment
    names = _source_names(plan)
    ctes = _base_ctes(project, plan, exposures, names, dialect)
    local = {} if experiment.segments else _source_local(plan)
    pooled = [m for m in plan.metrics if m.index not in local]
    used = {measure for m in pooled for measure in m.variables.values()}
    pooled_measures = {m: name for m, name in plan.measures.items() if m in used}
    if not local:
        ctes += _per_unit_ctes(plan, pooled_measures, names, dialect)
        query = exp.select(*_statistics(plan, pooled, pooled_measures)).from_("per_unit")
        return _with(_grouped(query, experiment), ctes)
    by_source: dict[Source, list[MetricPlan]] = {}
    for metric in plan.metrics:
        if metric.index in local:
            by_source.setdefault(local[metric.index], []).append(metric)
    for source, metrics in by_source.items():
        ctes.append((f"stats_{names[source]}", _local_statistics(plan, metrics, names[source])))
    if pooled:
        ctes += _per_unit_ctes(plan, pooled_measures, names, dialect)
        query = exp.select(*_statistics(plan, pooled, pooled_measures)).from_("per_unit")
        ctes.append(("stats_pooled", _grouped(query, experiment)))
    ctes.append(("arms", _arms()))
    final = _meet(plan, local, names, pooled=bool(pooled))
    return _with(final, ctes)


def _with(query: exp.Query, ctes: list[tuple[str, exp.Query]]) -> exp.Query:
    for name, cte in ctes:
        query = query.with_(name, cte)
    return query


def _source_local(plan: AnalysisPlan) -> dict[int, Source]:
    """Metrics reducible from their one source's per-unit rows (metric index -> source)."""
    out: dict[int, Source] = {}
    for metric in plan.metrics:
        sources = {measure.source for measure in metric.variables.values()}
        if len(sources) == 1 and all(_zero_stays_zero(m) for m in metric.variables.values()):
            out[metric.index] = sources.pop()
    return out


def _zero_stays_zero(measure: Measure) -> bool:
    """A unit without events adds nothing to this measure's sums (no cap moves its 0)."""
    capping = measure.capping
    if capping is None:
        return True
    return (
        capping.winsorize is None
        and (capping.max is None or capping.max >= 0)
        and (capping.min is None or capping.min <= 0)
    )


def _local_statistics(plan: AnalysisPlan, metrics: list[MetricPlan], alias: str) -> exp.Select:
    """Per-arm sums of ``metrics``' variables over the units that have events in ``alias``."""
    measures = {m: plan.measures[m] for metric in metrics for m in metric.variables.values()}
    values = exp.select(
        col(ARM),
        *(_alias(_unit_value(m, col(name)), name) for m, name in measures.items()),
        *(col(f"{name}__nulls") for m, name in measures.items() if plan.counts_nulls(m)),
    ).from_(alias)
    return (
        exp.select(col(ARM), *_statistics(plan, metrics, measures))
        .from_(values.subquery("v"))
        .group_by(col(ARM))
    )


def _arms() -> exp.Select:
    return (
        exp.select(col(VARIANT), col(ARM), _alias(exp.Count(this=exp.Star()), N_COLUMN))
        .from_("units")
        .group_by(col(VARIANT), col(ARM))
    )


def _meet(
    plan: AnalysisPlan,
    local: dict[int, Source],
    names: dict[Source, str],
    *,
    pooled: bool,
) -> exp.Select:
    """Every arm's statistics side by side: the per-source sums and the pooled ones."""
    query = exp.select(col(VARIANT, "arms")).from_("arms")
    for source in dict.fromkeys(local.values()):
        stats = f"stats_{names[source]}"
        query = query.join(stats, on=col(ARM, stats).eq(col(ARM, "arms")), join_type="left")
    if pooled:
        query = query.join(
            "stats_pooled",
            on=col(VARIANT, "stats_pooled").eq(col(VARIANT, "arms")),
            join_type="left",
        )
    zero = exp.Literal.number(0)
    for metric in plan.metrics:
        home = local.get(metric.index)
        for column in _statistic_names(plan, metric):
            if home is None:
                query = query.select(col(column, "stats_pooled"))
                continue
            value: exp.Expr = exp.Coalesce(
                this=col(column, f"stats_{names[home]}"), expressions=[zero.copy()]
            )
            if column == metric.prefix + N_COLUMN and metric.variables[metric.outcome].fills_zero:
                value = col(N_COLUMN, "arms")
            query = query.select(_alias(value, column))
    local_measures = {
        m for metric in plan.metrics if metric.index in local for m in metric.variables.values()
    }
    for measure, name in plan.measures.items():
        if not plan.counts_nulls(measure):
            continue
        if measure in local_measures:
            stats = f"stats_{names[measure.source]}"
            nulls = exp.Coalesce(this=col(f"{name}__nulls", stats), expressions=[zero.copy()])
            query = query.select(_alias(nulls, f"{name}__nulls"))
        else:
            query = query.select(col(f"{name}__nulls", "stats_pooled"))
    return query.order_by(col(VARIANT, "arms"))


def _units(experiment: ExperimentSpec, dialect: str) -> exp.Query:
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
            _alias(exp.Min(this=col(TS)), T0),
            _alias(exp.Min(this=col(ARM)), ARM),
            _alias(exp.Max(this=col(ARM)), "arm_max"),
            *(_first_value(s, dialect) for s in experiment.segments),
        )
        .from_(coded.subquery("c"))
        .where(col(UNIT).is_(exp.null()).not_())
        .group_by(col(UNIT))
    )
    dates = _in_dates(col(TS), experiment)
    if dates is not None:
        per_unit = per_unit.where(dates)
    micros = _EPOCH_MICROS.get(dialect)
    t0_us = [_alias(exp.func(micros, col(T0)), T0_US)] if micros else []
    return (
        exp.select(
            col(UNIT),
            col(T0),
            *t0_us,
            _alias(_variant_name(names), VARIANT),
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
    return _alias(exp.cast(code.else_(exp.Literal.number(-1)), small), ARM)


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
        return _alias(first, segment)
    return _alias(exp.ArgMin(this=col(segment), expression=col(TS)), segment)


def _interval(delta: dt.timedelta) -> exp.Interval:
    seconds = int(abs(delta).total_seconds())
    count, unit = (seconds // 86400, "DAY") if seconds % 86400 == 0 else (seconds, "SECOND")
    return exp.Interval(this=exp.Literal.string(str(count)), unit=exp.Var(this=unit))


def _shift(moment: exp.Expr, delta: dt.timedelta) -> exp.Expr:
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
        conditions.append(ts.copy() >= _timestamp(start + first))
    if end is not None:
        horizon = end if last is None else max(end, end + last)
        conditions.append(ts.copy() < _timestamp(horizon))
    return exp.and_(*conditions) if conditions else None


def _source_scan(
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
    values: dict[str, str] = {}
    filters: dict[str, str] = {}
    for measure, _ in measures:
        if measure.value is not None:
            values.setdefault(measure.value, f"v{len(values)}")
        if measure.filter is not None:
            filters.setdefault(measure.filter, f"f{len(filters)}")
    rows = exp.select(
        _alias(col(source.unit, "s"), "__unit"),
        _alias(col(source.timestamp, "s"), "__ts"),
        *(_alias(parse_expression(text, dialect), name) for text, name in values.items()),
        *(_alias(parse_expression(text, dialect), name) for text, name in filters.items()),
    ).from_(_relation(source.table, source.sql, dialect, "s"))
    in_range = _scan_range(experiment, [m for m, _ in measures])
    if in_range is not None:
        rows = exp.select("*").from_(rows.subquery("r")).where(in_range)
    micros = _EPOCH_MICROS.get(dialect)
    carried = T0_US if micros else T0
    offset: list[exp.Expr] = []
    if micros:
        rel = exp.Sub(this=exp.func(micros, col("__ts", "ev")), expression=col(T0_US, "u"))
        offset = [_alias(rel, "__rel")]
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
    aggregates: list[exp.Expr] = []
    for measure, name in measures:
        value = col(values[measure.value]) if measure.value is not None else None
        condition = _in_window(measure, filters, experiment, micros is not None)
        aggregates.append(_alias(_aggregate(measure.aggregation, condition, value), name))
        if value is not None and plan.counts_nulls(measure):
            nulls = exp.and_(condition.copy(), value.copy().is_(exp.null()))
            aggregates.append(
                _alias(_filtered(exp.Count(this=exp.Star()), nulls), f"{name}__nulls")
            )
    return (
        exp.select(col(UNIT), col(ARM), *aggregates)
        .from_(joined.subquery("j"))
        .group_by(col(UNIT), col(ARM))
    )


def _in_window(
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
        conditions.append(rel.copy() >= exp.Literal.number(_micros(start)))
        if end is not None:
            conditions.append(rel.copy() < exp.Literal.number(_micros(end)))
    else:
        ts, t0 = col("__ts"), col(T0)
        conditions.append(ts.copy() >= _shift(t0.copy(), start))
        if end is not None:
            conditions.append(ts.copy() < _shift(t0.copy(), end))
    experiment_end = experiment.end_at()
    if measure.window is None and experiment_end is not None:
        conditions.append(col("__ts") < _timestamp(experiment_end))
    return exp.and_(*conditions)


def _micros(delta: dt.timedelta) -> int:
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def _filtered(aggregate: exp.Expr, condition: exp.Expr) -> exp.Expr:
    return exp.Filter(this=aggregate, expression=exp.Where(this=condition))


def _aggregate(aggregation: str, condition: exp.Expr, value: exp.Expr | None) -> exp.Expr:
    counted = _filtered(exp.Count(this=exp.Star()), condition)
    if aggregation == "any":
        # the same aggregate as a count with this filter: the engine computes it once
        return exp.cast(
            exp.GT(this=counted, expression=exp.Literal.number(0)), exp.DataType.Type.INT
        )
    if aggregation == "count" or (value is None and aggregation == "sum"):
        return counted
    functions = {"sum": exp.Sum, "avg": exp.Avg, "max": exp.Max, "min": exp.Min}
    return _filtered(functions[aggregation](this=value or exp.Literal.number(1)), condition)


def _per_unit(
    plan: AnalysisPlan,
    measures: dict[Measure, str],
    sources: dict[Source, str],
    dialect: str,
) -> tuple[exp.Select, exp.Select | None]:
    """``measures`` per unit (0 for units without events where the measure fills zero).

    Returns the per-unit query with absolute caps applied and, when a measure is winsorized,
    a second query over it (``per_unit_raw``) capping at the pooled percentile.
    """
    experiment = plan.experiment
    select = exp.select(
        col(UNIT, "u"), col(VARIANT, "u"), *(col(s, "u") for s in experiment.segments)
    )
    query = select.from_(exp.to_table("units").as_("u", quoted=True))
    for source in dict.fromkeys(m.source for m in measures):
        alias = sources[source]
        query = query.join(
            exp.to_table(alias).as_(alias, quoted=True),
            on=col(UNIT, alias).eq(col(UNIT, "u")),
            join_type="left",
        )
    caps: list[exp.Expr] = []
    for measure, name in measures.items():
        alias = sources[measure.source]
        query = query.select(_alias(_unit_value(measure, col(name, alias)), name))
        if plan.counts_nulls(measure):
            nulls = exp.Coalesce(
                this=col(f"{name}__nulls", alias), expressions=[exp.Literal.number(0)]
            )
            query = query.select(_alias(nulls, f"{name}__nulls"))
        if measure.capping is not None and measure.capping.winsorize is not None:
            caps.append(
                _alias(_quantile(col(name), measure.capping.winsorize, dialect), f"{name}__cap")
            )
    if not caps:
        return query, None
    winsorized = [m for m in measures if m.capping is not None and m.capping.winsorize]
    capped = exp.select(
        *(col(c) for c in (UNIT, VARIANT, *experiment.segments)),
        *(
            _alias(_cap_at(col(name), col(f"{name}__cap", "q")), name)
            if m in winsorized
            else col(name)
            for m, name in measures.items()
        ),
        *(col(f"{name}__nulls") for m, name in measures.items() if plan.counts_nulls(m)),
    )
    quantiles = exp.select(*caps).from_("per_unit_raw").subquery("q")
    return query, capped.from_("per_unit_raw").join(quantiles, join_type="cross")


def _unit_value(measure: Measure, column: exp.Expr) -> exp.Expr:
    """A unit's value of ``measure`` from its aggregate: 0 where it fills zero, capped."""
    value = column
    if measure.fills_zero:
        value = exp.Coalesce(this=value, expressions=[exp.Literal.number(0)])
    return _cap_absolute(exp.cast(value, exp.DataType.Type.DOUBLE), measure)


def _cap_at(value: exp.Expr, bound: exp.Expr, *, upper: bool = True) -> exp.Expr:
    over = value.copy() > bound.copy() if upper else value.copy() < bound.copy()
    return exp.Case().when(over, bound).else_(value)


def _cap_absolute(value: exp.Expr, measure: Measure) -> exp.Expr:
    capping = measure.capping
    if capping is None:
        return value
    if capping.max is not None:
        value = _cap_at(value, exp.Literal.number(capping.max))
    if capping.min is not None:
        value = _cap_at(value, exp.Literal.number(capping.min), upper=False)
    return value


def _quantile(value: exp.Expr, q: float, dialect: str) -> exp.Expr:
    kind = _QUANTILE.get(dialect, exp.PercentileCont)
    if kind is exp.PercentileCont:
        return exp.PercentileCont(this=value, expression=exp.Literal.number(q))
    return kind(this=value, quantile=exp.Literal.number(q))


def _statistics(
    plan: AnalysisPlan, metrics: list[MetricPlan], measures: dict[Measure, str]
) -> list[exp.Expr]:
    """Per metric: unit count, sums and cross-product sums of its variables (the contract);
    then the count of NULL values of each of ``measures``."""
    out: list[exp.Expr] = []
    for metric in metrics:
        out += _metric_statistics(plan, metric)
    for measure, name in measures.items():
        if plan.counts_nulls(measure):
            out.append(_alias(exp.Sum(this=col(f"{name}__nulls")), f"{name}__nulls"))
    return out


def _statistic_names(plan: AnalysisPlan, metric: MetricPlan) -> list[str]:
    return [e.alias for e in _metric_statistics(plan, metric)]


def _metric_statistics(plan: AnalysisPlan, metric: MetricPlan) -> list[exp.Expr]:
    outcome = metric.variables[metric.outcome]
    present = None if outcome.fills_zero else col(plan.measures[outcome]).is_(exp.null()).not_()
    values: dict[str, exp.Expr] = {}
    for var, measure in metric.variables.items():
        value: exp.Expr = col(plan.measures[measure])
        if not measure.fills_zero and var != metric.outcome:
            value = exp.Coalesce(this=value, expressions=[exp.Literal.number(0)])
        if present is not None and var != metric.outcome:
            value = exp.Case().when(present.copy(), value)
        values[var] = value
    prefix = metric.prefix
    count = (
        exp.Count(this=exp.Star())
        if present is None
        else exp.Count(this=col(plan.measures[outcome]))
    )
    out: list[exp.Expr] = [_alias(count, prefix + N_COLUMN)]
    out += [_alias(exp.Sum(this=v.copy()), prefix + sum_column(k)) for k, v in values.items()]
    for a, b in combinations_with_replacement(sorted(values), 2):
        product = exp.Mul(this=_operand(values[a]), expression=_operand(values[b]))
        out.append(_alias(exp.Sum(this=product), prefix + cross_column(a, b)))
    return out


def _operand(value: exp.Expr) -> exp.Expr:
    return value.copy() if isinstance(value, exp.Column) else exp.paren(value.copy())


def _grouped(query: exp.Select, experiment: ExperimentSpec) -> exp.Query:
    keys = [col(VARIANT), *(col(s) for s in experiment.segments)]
    flags = [_alias(exp.Grouping(expressions=[col(s)]), f"g__{s}") for s in experiment.segments]
    statistics = query.expressions
    query = query.select(*keys, *flags, append=False).select(*statistics)
    if not experiment.segments:
        return query.group_by(col(VARIANT)).order_by(col(VARIANT))
    sets = [exp.Tuple(expressions=[col(VARIANT)])] + [
        exp.Tuple(expressions=[col(VARIANT), col(s)]) for s in experiment.segments
    ]
    query.set("group", exp.Group(grouping_sets=[exp.GroupingSets(expressions=sets)]))
    return query.order_by(*(k.copy() for k in keys))


HISTORY_ARM = "history"


def compile_history(
    project: Project,
    metric: str,
    start: dt.datetime,
    end: dt.datetime,
    *,
    population: str | None = None,
    dialect: str | None = None,
) -> tuple[exp.Query, MetricPlan]:
    """SQL for a metric's sufficient statistics over a past period (power from history).

    The population is the units seen during ``[start, end)`` in the exposure log (any
    experiment) or, with ``population``, in that named source (e.g. ``sessions`` for visitors).
    It must not be the metric's own source: units chosen for having orders all "convert".
    Each unit's first appearance plays its first exposure, so windows, caps and the CUPED
    pre-period mean what they will mean in the experiment; the same compiler runs.
    """
    dialect = dialect or project.dialect
    experiment = ExperimentSpec.model_validate(
        {
            "id": "__history__",
            "variants": [{"name": HISTORY_ARM, "weight": 1}, {"name": "__unused__", "weight": 1}],
            "start": start,
            "end": end,
            "metrics": {"primary": [metric]},
            "cuped": True,
        }
    )
    plan = plan_experiment(project, experiment)
    if population is None:
        src = project.spec.exposures
        relation = _relation(src.table, src.sql, dialect, "x")
        unit, ts = src.unit_id, src.timestamp
    else:
        source = project.spec.sources[population]
        relation = _relation(source.table, source.sql, dialect, "x")
        unit, ts = source.unit, source.timestamp
    activity = exp.select(
        _alias(col(unit, "x"), UNIT),
        _alias(exp.Literal.string(HISTORY_ARM), VARIANT),
        _alias(col(ts, "x"), TS),
    ).from_(relation)
    return _metrics_query(project, plan, activity, dialect), plan.metrics[0]
