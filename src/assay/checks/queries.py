"""The SQL the pitfall checks read (SQLGlot expressions; pure, no connection).

Each query starts from the same exposures and units as the analysis (``metrics.scan``), so the
checks count exactly the units the results describe, and returns a few rows per arm:

* :func:`traffic_query`: units per arm by day of first exposure, by each segment value, by the
  arm assay's hash gives them, and by their arm in overlapping experiments; all exposure rows
  per calendar day (the data watermark);
* :func:`activity_query`: per arm and exposure day, units with any event in the metrics'
  sources after and before exposure, and the primary metrics' sums over their window and its
  halves: one pass over each source.
"""

from __future__ import annotations

import datetime as dt

from sqlglot import exp

from assay.assign.engine import CompiledExperiment
from assay.assign.hashing import BUCKETS, layer_salt, traffic_salt
from assay.assign.sql import bucket_expression
from assay.metrics.plan import AnalysisPlan, Measure, MetricPlan
from assay.metrics.scan import (
    _EPOCH_MICROS,
    T0,
    T0_US,
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
OVERLAP_PREFIX = "overlap:"
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
    project: Project, experiment: ExperimentSpec, compiled: CompiledExperiment, dialect: str,
    others: list[str] | None = None,
) -> exp.Query:
    """Rows ``(dimension, value, variant, units)`` for the traffic checks.

    ``day``: analysed units by the day of their first exposure; ``segment:<col>``: by segment
    value; ``assigned`` / ``gated_out``: by the variant assay's hash gives the unit (value; NULL
    for a bucket in no arm), split by whether the traffic and layer gates let it in; ``rows_day``:
    every exposure row of the experiment by calendar day, inside the dates or not (variant NULL);
    ``watermark``: the latest exposure (value) and the experiment's exposure rows (units);
    ``overlap:<other>``: units also exposed in each of ``others``, by the arm first logged there.
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
    ctes = _base(project, experiment, dialect)
    if others:
        ctes.append(("o", _other_arms(project, others, dialect)))
        selects.append(
            exp.select(
                alias(exp.DPipe(this=exp.Literal.string(OVERLAP_PREFIX),
                                expression=col("other", "o")), DIMENSION),
                alias(col("other_variant", "o"), VALUE),
                col(VARIANT, "u"),
                alias(_count(), UNITS),
            )
            .from_(exp.to_table("units").as_("u", quoted=True))
            .join(exp.to_table("o").as_("o", quoted=True),
                  on=col(UNIT, "o").eq(col(UNIT, "u")), join_type="inner")
            .group_by(exp.Literal.number(1), exp.Literal.number(2), exp.Literal.number(3))
        )
    return _with(_union(selects), ctes)


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


def activity_query(
    project: Project, plan: AnalysisPlan, daily: list[Measure], dialect: str
) -> exp.Query:
    """Rows ``(variant, cohort, n, active, active_pre, <m>_s, <m>_ss, <m>_sd, <m>_ssd ...)``.

    Per arm and day of first exposure (``cohort``): units, those with any event in any of the
    metrics' sources in the window after exposure (``active``) and in as long a period before
    it (``active_pre``); and for each measure of ``daily`` (named ``m0``, ``m1`` ...) the sum and
    sum of squares of its per-unit value (``s``, ``ss``) and of ``d`` = value in the window's
    first half minus value in its second half (``sd``, ``ssd``). One pass over each source.
    """
    experiment = plan.experiment
    ctes = _base(project, experiment, dialect)
    names = {m: f"m{i}" for i, m in enumerate(daily)}
    sources = {source: [m for m, _ in measures] for source, measures in plan.by_source().items()}
    for measure in daily:
        sources.setdefault(measure.source, [measure])
    zero = exp.Literal.number(0)
    query = exp.select(col(UNIT, "u"), col(VARIANT, "u"),
                       alias(_date_text(col(T0, "u")), "cohort")).from_(
        exp.to_table("units").as_("u", quoted=True))
    post: list[exp.Expr] = []
    pre: list[exp.Expr] = []
    for i, (source, measures) in enumerate(sources.items()):
        name = f"act{i}"
        mine = [m for m in daily if m.source == source]
        ctes.append((name, _source_activity(source, experiment, activity_horizon(measures),
                                            {m: names[m] for m in mine}, dialect)))
        query = query.join(exp.to_table(name).as_(name, quoted=True),
                           on=col(UNIT, name).eq(col(UNIT, "u")), join_type="left")
        post.append(exp.Coalesce(this=col("post", name), expressions=[zero.copy()]))
        pre.append(exp.Coalesce(this=col("pre", name), expressions=[zero.copy()]))
        for m in mine:
            total = exp.Coalesce(this=col(f"{names[m]}_total", name), expressions=[zero.copy()])
            early = exp.Coalesce(this=col(f"{names[m]}_early", name), expressions=[zero.copy()])
            late = exp.Coalesce(this=col(f"{names[m]}_late", name), expressions=[zero.copy()])
            query = query.select(alias(total, f"{names[m]}_y"),
                                 alias(exp.Sub(this=early, expression=late), f"{names[m]}_d"))
    for flags, label in ((post, "post"), (pre, "pre")):
        any_flag = _add(flags) if flags else zero.copy()
        query = query.select(alias(exp.Case().when(any_flag > zero.copy(), exp.Literal.number(1))
                                   .else_(zero.copy()), label))
    ctes.append(("per_unit", query))

    def squares(name: str) -> exp.Expr:
        return exp.Sum(this=exp.Mul(this=col(name), expression=col(name)))

    final = exp.select(
        col(VARIANT), col("cohort"), alias(_count(), "n"),
        alias(exp.Sum(this=col("post")), "active"), alias(exp.Sum(this=col("pre")), "active_pre"),
    ).from_("per_unit").group_by(col(VARIANT), col("cohort")).order_by(col(VARIANT),
                                                                       col("cohort"))
    for m in daily:
        n = names[m]
        final = final.select(
            alias(exp.Sum(this=col(f"{n}_y")), f"{n}_s"), alias(squares(f"{n}_y"), f"{n}_ss"),
            alias(exp.Sum(this=col(f"{n}_d")), f"{n}_sd"), alias(squares(f"{n}_d"), f"{n}_ssd"))
    return _with(final, ctes)


def _add(values: list[exp.Expr]) -> exp.Expr:
    total = values[0]
    for value in values[1:]:
        total = exp.Add(this=total, expression=value)
    return total


def _source_activity(
    source: Source, experiment: ExperimentSpec, horizon: dt.timedelta,
    daily: dict[Measure, str], dialect: str,
) -> exp.Select:
    """Per unit: any event after / before exposure, and each daily measure's window sums.

    As in the metrics' source scan, each event's offset from ``t0`` is computed once (integer
    microseconds where the engine has a cheap epoch function) and windows compare offsets.
    """
    ts = col(source.timestamp, "s")
    micros = _EPOCH_MICROS.get(dialect)
    rel: exp.Expr = (exp.Sub(this=exp.func(micros, ts.copy()), expression=col(T0_US, "u"))
                     if micros else ts.copy())
    columns: list[exp.Expr] = [col(UNIT, "u"), alias(rel, "__rel")]
    if not micros:
        columns.append(col(T0, "u"))
    for measure, name in daily.items():
        value: exp.Expr = exp.Literal.number(1)
        if measure.value is not None and measure.aggregation == "sum":
            value = exp.cast(parse_expression(measure.value, dialect), exp.DataType.Type.DOUBLE)
        if measure.filter is not None:
            value = exp.Case().when(exp.paren(parse_expression(measure.filter, dialect)), value)
        columns.append(alias(value, f"{name}__v"))
    events = (
        exp.select(*columns)
        .from_(exp.to_table("units").as_("u", quoted=True))
        .join(relation(source.table, source.sql, dialect, "s"),
              on=col(source.unit, "s").eq(col(UNIT, "u")), join_type="inner")
    )
    start, end = experiment.start_at(), experiment.end_at()
    if start is not None:
        events = events.where(ts.copy() >= _timestamp(start - horizon))
    if end is not None:
        events = events.where(ts.copy() < _timestamp(end + horizon))

    def since(delta: dt.timedelta) -> exp.Expr:  # the event is at least ``delta`` after t0
        if micros:
            return col("__rel") >= exp.Literal.number(_micros(delta))
        return col("__rel") >= _plus(col(T0), delta)

    one, zero = exp.Literal.number(1), exp.Literal.number(0)
    post = exp.and_(since(dt.timedelta(0)), exp.not_(since(horizon)))
    pre = exp.and_(since(-horizon), exp.not_(since(dt.timedelta(0))))
    query = exp.select(
        col(UNIT),
        alias(exp.Max(this=exp.Case().when(post, one).else_(zero)), "post"),
        alias(exp.Max(this=exp.Case().when(pre, one.copy()).else_(zero.copy())), "pre"),
    ).from_(events.subquery("ev")).group_by(col(UNIT))
    for measure, name in daily.items():
        assert measure.window is not None
        half = dt.timedelta(days=measure.window.end.days // 2)
        parts = {"total": (dt.timedelta(0), measure.window.end),
                 "early": (dt.timedelta(0), half), "late": (half, 2 * half)}
        for part, (lo, hi) in parts.items():
            inside = exp.and_(since(lo), exp.not_(since(hi)))
            query = query.select(alias(exp.Sum(this=exp.Case().when(inside, col(f"{name}__v"))),
                                       f"{name}_{part}"))
    return query


def _micros(delta: dt.timedelta) -> int:
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


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


def _other_arms(project: Project, others: list[str], dialect: str) -> exp.Select:
    """Each unit's first-named arm in each of the ``others`` experiments."""
    src = project.spec.exposures
    return (
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
