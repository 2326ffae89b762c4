"""The SQL the pitfall checks read (SQLGlot expressions; pure, no connection).

Each query starts from the same exposures and units as the analysis (``metrics.scan``), so the
checks count exactly the units the results describe, and returns a few rows per arm:

* :func:`traffic_query`: units per arm by day of first exposure, by each segment value, and by
  the arm assay's hash gives them; all exposure rows per calendar day (the data watermark);
* :func:`activity_query`: units with any event in the metrics' sources after and before exposure;
* :func:`daily_query`: one metric per arm by exposure-day cohort and by day since exposure;
* :func:`overlap_query`: units shared with other experiments, cross-tabulated by arm.
"""

from __future__ import annotations

import datetime as dt

from sqlglot import exp

from assay.assign.engine import CompiledExperiment
from assay.assign.hashing import BUCKETS, layer_salt, traffic_salt
from assay.assign.sql import bucket_expression
from assay.metrics.plan import AnalysisPlan, Measure, MetricPlan
from assay.metrics.scan import (
    T0,
    TS,
    UNIT,
    VARIANT,
    alias,
    col,
    exposures_of,
    relation,
    units_query,
)
from assay.spec.models import ExperimentSpec, Source
from assay.spec.project import Project
from assay.spec.sqlcheck import parse_expression

DIMENSION, VALUE, UNITS = "dimension", "value", "units"
#: Dimension names in :func:`traffic_query`'s rows.
DAY, ROWS_DAY, ASSIGNED, GATED_OUT = "day", "rows_day", "assigned", "gated_out"
WATERMARK = "watermark"
SEGMENT_PREFIX = "segment:"
SECONDS_PER_DAY = 86400


def _text(expression: exp.Expr) -> exp.Expr:
    return exp.cast(expression, exp.DataType.Type.TEXT)


def _date_text(expression: exp.Expr) -> exp.Expr:
    return _text(exp.cast(expression, exp.DataType.Type.DATE))


def _count() -> exp.Expr:
    return exp.Count(this=exp.Star())


def _with(query: exp.Query, ctes: list[tuple[str, exp.Query]]) -> exp.Query:
    for name, cte in ctes:
        query = query.with_(name, cte)
    return query


def _union(selects: list[exp.Select]) -> exp.Query:
    query: exp.Query = selects[0]
    for select in selects[1:]:
        query = exp.union(query, select, distinct=False)
    return query


def _base(
    project: Project, experiment: ExperimentSpec, dialect: str
) -> list[tuple[str, exp.Query]]:
    return [("e", exposures_of(project, experiment)), ("units", units_query(experiment, dialect))]


def traffic_query(
    project: Project, experiment: ExperimentSpec, compiled: CompiledExperiment, dialect: str
) -> exp.Query:
    """Rows ``(dimension, value, variant, units)`` for the traffic checks.

    ``day``: analysed units by the day of their first exposure; ``segment:<col>``: by segment
    value; ``assigned`` / ``gated_out``: by the variant assay's hash gives the unit (value; NULL
    for a bucket in no arm), split by whether the traffic and layer gates let it in; ``rows_day``:
    every exposure row of the experiment by calendar day, inside the dates or not (variant NULL).
    """
    day = exp.select(
        alias(exp.Literal.string(DAY), DIMENSION),
        alias(_date_text(col(T0)), VALUE),
        col(VARIANT),
        alias(_count(), UNITS),
    ).from_("units").group_by(exp.Literal.number(2), col(VARIANT))
    selects = [day]
    for segment in experiment.segments:
        selects.append(
            exp.select(
                alias(exp.Literal.string(SEGMENT_PREFIX + segment), DIMENSION),
                alias(_text(col(segment)), VALUE),
                col(VARIANT),
                alias(_count(), UNITS),
            ).from_("units").group_by(exp.Literal.number(2), col(VARIANT))
        )
    gate = exp.Case().when(_admitted(compiled, dialect), exp.Literal.string(ASSIGNED))
    selects.append(
        exp.select(
            alias(gate.else_(exp.Literal.string(GATED_OUT)), DIMENSION),
            alias(_hashed_variant(compiled, dialect), VALUE),
            col(VARIANT),
            alias(_count(), UNITS),
        ).from_("units").group_by(exp.Literal.number(1), exp.Literal.number(2), col(VARIANT))
    )
    selects.append(
        exp.select(
            alias(exp.Literal.string(ROWS_DAY), DIMENSION),
            alias(_date_text(col(TS)), VALUE),
            alias(exp.cast(exp.null(), exp.DataType.Type.TEXT), VARIANT),
            alias(_count(), UNITS),
        ).from_("e").where(col(TS).is_(exp.null()).not_()).group_by(exp.Literal.number(2))
    )
    selects.append(
        exp.select(
            alias(exp.Literal.string(WATERMARK), DIMENSION),
            alias(_text(exp.Max(this=col(TS))), VALUE),
            alias(exp.cast(exp.null(), exp.DataType.Type.TEXT), VARIANT),
            alias(_count(), UNITS),
        ).from_("e")
    )
    return _with(_union(selects), _base(project, experiment, dialect))


def sources_query(plan: AnalysisPlan, dialect: str) -> exp.Query | None:
    """Rows ``(source, rows, last)``: each metric source's rows and latest event time (the
    data watermark of the fingerprint), over the time range the analysis can read."""
    selects = []
    experiment = plan.experiment
    for i, (source, measures) in enumerate(plan.by_source().items()):
        ts = col(source.timestamp, "s")
        horizon = activity_horizon([m for m, _ in measures])
        query = exp.select(
            alias(exp.Literal.string(source.table or f"sql{i}"), "source"),
            alias(_count(), "rows"),
            alias(_text(exp.Max(this=ts)), "last"),
        ).from_(relation(source.table, source.sql, dialect, "s"))
        end = experiment.end_at()
        if end is not None:
            query = query.where(ts.copy() < _timestamp(end + horizon))
        selects.append(query)
    return _union(selects) if selects else None


def _hashed_variant(compiled: CompiledExperiment, dialect: str) -> exp.Expr:
    """The arm the variant hash (or a forced assignment) gives ``unit_id``; NULL for none."""
    unit = col(UNIT)
    case = exp.Case()
    for uid, name in sorted(compiled.forced.items()):
        case = case.when(unit.copy().eq(exp.Literal.string(uid)), exp.Literal.string(name))
    bucket = bucket_expression(compiled.spec.hash_salt, unit.copy(), dialect)
    for r in compiled.ranges:
        if r.size:
            inside = exp.and_(bucket.copy() >= exp.Literal.number(r.start),
                              bucket.copy() < exp.Literal.number(r.end))
            case = case.when(inside, exp.Literal.string(r.variant))
    return case.else_(exp.null())


def _admitted(compiled: CompiledExperiment, dialect: str) -> exp.Expr:
    """The traffic and layer gates let ``unit_id`` in (targeting needs attributes: not tested)."""
    spec, unit = compiled.spec, col(UNIT)
    conditions: list[exp.Expr] = [exp.true()]
    if compiled.traffic_hasher is not None:
        traffic = bucket_expression(traffic_salt(spec.hash_salt), unit.copy(), dialect)
        conditions.append(traffic < exp.Literal.number(compiled.threshold))
    if compiled.layer_hasher is not None:
        layer = bucket_expression(layer_salt(spec.layer or ""), unit.copy(), dialect)
        low, high = compiled.layer_range
        conditions.append(exp.and_(layer.copy() >= exp.Literal.number(low),
                                   layer.copy() < exp.Literal.number(min(high, BUCKETS))))
    return exp.and_(*conditions)


def _interval(delta: dt.timedelta) -> exp.Interval:
    seconds = int(abs(delta).total_seconds())
    count, unit = (seconds // 86400, "DAY") if seconds % 86400 == 0 else (seconds, "SECOND")
    return exp.Interval(this=exp.Literal.string(str(count)), unit=exp.Var(this=unit))


def _plus(moment: exp.Expr, delta: dt.timedelta) -> exp.Expr:
    if delta < dt.timedelta(0):
        return exp.Sub(this=moment, expression=_interval(delta))
    return exp.Add(this=moment, expression=_interval(delta))


def activity_horizon(measures: list[Measure]) -> dt.timedelta:
    """How long after exposure a source's activity counts: its longest analysis window."""
    ends = [m.window.end for m in measures
            if m.window is not None and m.window.start >= dt.timedelta(0)]
    return max(ends, default=dt.timedelta(days=14))


def activity_query(project: Project, plan: AnalysisPlan, dialect: str) -> exp.Query:
    """Rows ``(variant, units, active, active_pre)``: units with any event in any of the metrics'
    sources in the window after first exposure, and in as long a period just before it."""
    experiment = plan.experiment
    ctes = _base(project, experiment, dialect)
    parts: list[exp.Select] = []
    for i, (source, measures) in enumerate(plan.by_source().items()):
        horizon = activity_horizon([m for m, _ in measures])
        name = f"act{i}"
        ctes.append((name, _source_activity(source, experiment, horizon, dialect)))
        parts.append(exp.select(col(UNIT), col("post"), col("pre")).from_(name))
    if not parts:
        none = exp.cast(exp.Literal.number(0), exp.DataType.Type.INT)
        parts = [exp.select(col(UNIT), alias(none, "post"), alias(none.copy(), "pre"))
                 .from_("units")]
    active = (
        exp.select(col(UNIT), alias(exp.Max(this=col("post")), "post"),
                   alias(exp.Max(this=col("pre")), "pre"))
        .from_(_union(parts).subquery("p"))
        .group_by(col(UNIT))
    )
    ctes.append(("active", active))
    zero = exp.Literal.number(0)
    query = (
        exp.select(
            col(VARIANT, "u"),
            alias(_count(), UNITS),
            alias(exp.Sum(this=exp.Coalesce(this=col("post", "a"), expressions=[zero])), "active"),
            alias(exp.Sum(this=exp.Coalesce(this=col("pre", "a"), expressions=[zero.copy()])),
                  "active_pre"),
        )
        .from_(exp.to_table("units").as_("u", quoted=True))
        .join(exp.to_table("active").as_("a", quoted=True),
              on=col(UNIT, "a").eq(col(UNIT, "u")), join_type="left")
        .group_by(col(VARIANT, "u"))
    )
    return _with(query, ctes)


def _source_activity(
    source: Source, experiment: ExperimentSpec, horizon: dt.timedelta, dialect: str
) -> exp.Select:
    ts, t0 = col(source.timestamp, "s"), col(T0, "u")
    post = exp.and_(ts.copy() >= t0.copy(), ts.copy() < _plus(t0.copy(), horizon))
    pre = exp.and_(ts.copy() >= _plus(t0.copy(), -horizon), ts.copy() < t0.copy())
    one, zero = exp.Literal.number(1), exp.Literal.number(0)
    query = (
        exp.select(
            col(UNIT, "u"),
            alias(exp.Max(this=exp.Case().when(post, one).else_(zero)), "post"),
            alias(exp.Max(this=exp.Case().when(pre, one.copy()).else_(zero.copy())), "pre"),
        )
        .from_(exp.to_table("units").as_("u", quoted=True))
        .join(relation(source.table, source.sql, dialect, "s"),
              on=col(source.unit, "s").eq(col(UNIT, "u")), join_type="inner")
        .group_by(col(UNIT, "u"))
    )
    start, end = experiment.start_at(), experiment.end_at()
    if start is not None:
        query = query.where(ts.copy() >= _timestamp(start - horizon))
    if end is not None:
        query = query.where(ts.copy() < _timestamp(end + horizon))
    return query


def _timestamp(moment: dt.datetime) -> exp.Expr:
    return exp.cast(exp.Literal.string(moment.isoformat(sep=" ")), exp.DataType.Type.TIMESTAMP)


def daily_measure(metric: MetricPlan) -> Measure | None:
    """The measure a by-day breakdown can split: a plain sum or count over ``[0d, Nd)`` days."""
    if metric.metric.kind != "mean" or metric.metric.capping is not None:
        return None
    measure = metric.variables.get("y")
    window = measure.window if measure is not None else None
    if measure is None or window is None or measure.aggregation not in ("sum", "count"):
        return None
    whole = window.end.total_seconds() % SECONDS_PER_DAY == 0
    if window.start != dt.timedelta(0) or not whole or window.end.days < 2:
        return None
    return measure


def daily_query(
    project: Project, plan: AnalysisPlan, measure: Measure, dialect: str
) -> exp.Query:
    """Rows ``(kind, variant, key, n, s, ss, sd, ssd)`` of one metric for the by-day checks.

    ``kind = 'cohort'``, ``key`` the day of first exposure: units ``n``, sum ``s`` and sum of
    squares ``ss`` of their metric value, and of ``d`` = value in the window's first half minus
    value in its second half (``sd``, ``ssd``). ``kind = 'offset'``, ``key`` the whole days since
    exposure: sum and sum of squares of the units' values that day (``n`` NULL: every unit
    counts, with 0 on a day without events).
    """
    experiment = plan.experiment
    assert measure.window is not None
    days = measure.window.end.days
    half = days // 2
    source = measure.source
    ts = col(source.timestamp, "s")
    value: exp.Expr = exp.Literal.number(1)
    if measure.value is not None and measure.aggregation == "sum":
        value = exp.cast(parse_expression(measure.value, dialect), exp.DataType.Type.DOUBLE)
    seconds = exp.Sub(this=exp.TimeToUnix(this=ts.copy()),
                      expression=exp.TimeToUnix(this=col(T0, "u")))
    offset = exp.Floor(this=exp.Div(this=exp.paren(seconds),
                                    expression=exp.Literal.number(SECONDS_PER_DAY)))
    conditions: list[exp.Expr] = [ts.copy() >= col(T0, "u"),
                                  ts.copy() < _plus(col(T0, "u"), measure.window.end)]
    if measure.filter is not None:
        conditions.append(parse_expression(measure.filter, dialect))
    start, end = experiment.start_at(), experiment.end_at()
    if start is not None:
        conditions.append(ts.copy() >= _timestamp(start))
    if end is not None:
        conditions.append(ts.copy() < _timestamp(end + measure.window.end))
    by_day = (
        exp.select(col(UNIT, "u"), col(VARIANT, "u"),
                   alias(exp.cast(offset, exp.DataType.Type.INT), "d"),
                   alias(exp.Sum(this=value), "y"))
        .from_(exp.to_table("units").as_("u", quoted=True))
        .join(relation(source.table, source.sql, dialect, "s"),
              on=col(source.unit, "s").eq(col(UNIT, "u")), join_type="inner")
        .where(exp.and_(*conditions))
        .group_by(exp.Literal.number(1), exp.Literal.number(2), exp.Literal.number(3))
    )
    zero = exp.Literal.number(0)

    def part(condition: exp.Expr | None) -> exp.Expr:
        y = col("y", "p") if condition is None else exp.Case().when(condition, col("y", "p"))
        return exp.Coalesce(this=exp.Sum(this=y), expressions=[zero.copy()])

    per_unit = (
        exp.select(
            col(UNIT, "u"), col(VARIANT, "u"), alias(_date_text(col(T0, "u")), "cohort"),
            alias(part(None), "total"),
            alias(exp.Sub(this=part(col("d", "p") < exp.Literal.number(half)),
                          expression=part(exp.and_(col("d", "p") >= exp.Literal.number(half),
                                                   col("d", "p") < exp.Literal.number(2 * half)))),
                  "early_late"),
        )
        .from_(exp.to_table("units").as_("u", quoted=True))
        .join(exp.to_table("by_day").as_("p", quoted=True),
              on=col(UNIT, "p").eq(col(UNIT, "u")), join_type="left")
        .group_by(exp.Literal.number(1), exp.Literal.number(2), exp.Literal.number(3))
    )

    def squares(name: str) -> exp.Expr:
        return exp.Sum(this=exp.Mul(this=col(name), expression=col(name)))

    cohorts = exp.select(
        alias(exp.Literal.string("cohort"), "kind"), col(VARIANT), alias(col("cohort"), "key"),
        alias(_count(), "n"), alias(exp.Sum(this=col("total")), "s"), alias(squares("total"), "ss"),
        alias(exp.Sum(this=col("early_late")), "sd"), alias(squares("early_late"), "ssd"),
    ).from_("per_unit").group_by(col(VARIANT), col("cohort"))
    null = exp.cast(exp.null(), exp.DataType.Type.DOUBLE)
    offsets = exp.select(
        alias(exp.Literal.string("offset"), "kind"), col(VARIANT), alias(_text(col("d")), "key"),
        alias(null, "n"), alias(exp.Sum(this=col("y")), "s"), alias(squares("y"), "ss"),
        alias(null.copy(), "sd"), alias(null.copy(), "ssd"),
    ).from_("by_day").group_by(col(VARIANT), col("d"))
    ctes = [*_base(project, experiment, dialect), ("by_day", by_day), ("per_unit", per_unit)]
    return _with(exp.union(cohorts, offsets, distinct=False), ctes)


def overlapping(project: Project, experiment: ExperimentSpec) -> list[ExperimentSpec]:
    """Other experiments of the project whose dates overlap ``experiment``'s (open ends overlap)."""
    start, end = experiment.start_at(), experiment.end_at()
    out = []
    for other in project.experiments.values():
        if other.id == experiment.id:
            continue
        o_start, o_end = other.start_at(), other.end_at()
        before = end is not None and o_start is not None and o_start >= end
        after = start is not None and o_end is not None and o_end <= start
        if not (before or after):
            out.append(other)
    return out


def overlap_query(
    project: Project, experiment: ExperimentSpec, others: list[str], dialect: str
) -> exp.Query:
    """Rows ``(other, variant, other_variant, units)``: analysed units also exposed in ``others``,
    by this experiment's arm and the arm first logged for them in the other one."""
    src = project.spec.exposures
    logged = (
        exp.select(
            alias(col(src.experiment_id, "x"), "other"),
            alias(col(src.unit_id, "x"), UNIT),
            alias(exp.Min(this=col(src.variant, "x")), "other_variant"),
        )
        .from_(relation(src.table, src.sql, dialect, "x"))
        .where(exp.In(this=col(src.experiment_id, "x"),
                      expressions=[exp.Literal.string(o) for o in others]))
        .group_by(exp.Literal.number(1), exp.Literal.number(2))
    )
    query = (
        exp.select(col("other", "o"), col(VARIANT, "u"), col("other_variant", "o"),
                   alias(_count(), UNITS))
        .from_(exp.to_table("units").as_("u", quoted=True))
        .join(exp.to_table("o").as_("o", quoted=True),
              on=col(UNIT, "o").eq(col(UNIT, "u")), join_type="inner")
        .group_by(exp.Literal.number(1), exp.Literal.number(2), exp.Literal.number(3))
    )
    return _with(query, [*_base(project, experiment, dialect), ("o", logged)])
