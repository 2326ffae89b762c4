"""The SQL the pitfall checks read (SQLGlot expressions; pure, no connection).

Each query starts from the same exposures and units as the analysis (``metrics.scan``), so the
checks count exactly the units the results describe, and returns a few rows per arm:

:func:`checks_query`, one statement: units per arm by day of first exposure, by each segment
value, by the arm assay's hash gives them, and by their arm in overlapping experiments; all
exposure rows per calendar day (the data watermark); per arm and exposure day, units with any
event in the metrics' sources after and before exposure, and the primary metrics' sums over
their window and each of its days; and per source, the analysed units with an event in it, its
events and its latest event (the coverage checks and the fingerprint).

It reads each metric source once joined to the units (the activity pass) and once alone (a count
and a maximum of the timestamp): one joined pass more than the metrics statement
(``benchmarks/README.md``, "Cost of the checks").
"""

from __future__ import annotations

import datetime as dt

from sqlglot import exp

from assay.assign.engine import CompiledExperiment
from assay.assign.hashing import BUCKETS, layer_salt, traffic_salt
from assay.assign.sql import bucket_expression
from assay.metrics.plan import AnalysisPlan, Measure, MetricPlan
from assay.metrics.scan import (
    EPOCH_MICROS,
    T0,
    T0_US,
    TS,
    UNIT,
    VARIANT,
    alias,
    col,
    exposures_of,
    micros,
    relation,
    shifted,
    timestamp_literal,
    units_query,
    with_ctes,
)
from assay.spec.models import ExperimentSpec, Source
from assay.spec.project import Project
from assay.spec.sqlcheck import parse_expression

DIMENSION, VALUE, UNITS = "dimension", "value", "units"
#: Dimension names in :func:`checks_query`'s rows.
DAY, ROWS_DAY, ASSIGNED, GATED_OUT = "day", "rows_day", "assigned", "gated_out"
WATERMARK = "watermark"
ACTIVITY = "activity"
COVERAGE_PREFIX = "source:"
SINCE_PREFIX = "since:"
DAY_SINCE = "day_since"
OVERLAP_PREFIX = "overlap:"
SEGMENT_PREFIX = "segment:"
SECONDS_PER_DAY = 86400


def _text(expression: exp.Expr) -> exp.Expr:
    return exp.cast(expression, exp.DataType.Type.TEXT)


def _date_text(expression: exp.Expr) -> exp.Expr:
    return _text(exp.cast(expression, exp.DataType.Type.DATE))


def _count() -> exp.Expr:
    return exp.Count(this=exp.Star())


def _units() -> exp.Expr:
    """``units``: the rows counted, typed alike in every branch of the union."""
    return alias(exp.cast(_count(), exp.DataType.Type.BIGINT), UNITS)


def _union(selects: list[exp.Select]) -> exp.Query:
    query: exp.Query = selects[0]
    for select in selects[1:]:
        query = exp.union(query, select, distinct=False)
    return query


def _base(
    project: Project, experiment: ExperimentSpec, dialect: str
) -> list[tuple[str, exp.Query]]:
    return [("e", exposures_of(project, experiment)), ("units", units_query(experiment, dialect))]


def traffic_selects(
    project: Project, experiment: ExperimentSpec, compiled: CompiledExperiment, dialect: str,
    others: list[str] | None, ctes: list[tuple[str, exp.Query]],
) -> list[exp.Select]:
    """Rows ``(dimension, value, variant, units)`` for the traffic checks, over the ``e`` and
    ``units`` CTEs (``ctes`` gains the one they need for ``others``).

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
        _units(),
    ).from_("units").group_by(exp.Literal.number(2), col(VARIANT))
    selects = [day]
    for segment in experiment.segments:
        selects.append(
            exp.select(
                alias(exp.Literal.string(SEGMENT_PREFIX + segment), DIMENSION),
                alias(_text(col(segment)), VALUE),
                col(VARIANT),
                _units(),
            ).from_("units").group_by(exp.Literal.number(2), col(VARIANT))
        )
    gate = exp.Case().when(_admitted(compiled, dialect), exp.Literal.string(ASSIGNED))
    selects.append(
        exp.select(
            alias(gate.else_(exp.Literal.string(GATED_OUT)), DIMENSION),
            alias(_hashed_variant(compiled, dialect), VALUE),
            col(VARIANT),
            _units(),
        ).from_("units").group_by(exp.Literal.number(1), exp.Literal.number(2), col(VARIANT))
    )
    selects.append(
        exp.select(
            alias(exp.Literal.string(ROWS_DAY), DIMENSION),
            alias(_date_text(col(TS)), VALUE),
            alias(exp.cast(exp.null(), exp.DataType.Type.TEXT), VARIANT),
            _units(),
        ).from_("e").where(col(TS).is_(exp.null()).not_()).group_by(exp.Literal.number(2))
    )
    selects.append(
        exp.select(
            alias(exp.Literal.string(WATERMARK), DIMENSION),
            alias(_text(exp.Max(this=col(TS))), VALUE),
            alias(exp.cast(exp.null(), exp.DataType.Type.TEXT), VARIANT),
            _units(),
        ).from_("e")
    )
    if others:
        ctes.append(("o", _other_arms(project, others, dialect)))
        selects.append(
            exp.select(
                alias(exp.DPipe(this=exp.Literal.string(OVERLAP_PREFIX),
                                expression=col("other", "o")), DIMENSION),
                alias(col("other_variant", "o"), VALUE),
                col(VARIANT, "u"),
                _units(),
            )
            .from_(exp.to_table("units").as_("u", quoted=True))
            .join(exp.to_table("o").as_("o", quoted=True),
                  on=col(UNIT, "o").eq(col(UNIT, "u")), join_type="inner")
            .group_by(exp.Literal.number(1), exp.Literal.number(2), exp.Literal.number(3))
        )
    return selects


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


def activity_horizon(measures: list[Measure]) -> dt.timedelta:
    """How long after exposure a source's activity counts: its longest analysis window."""
    ends = [m.window.end for m in measures
            if m.window is not None and m.window.start >= dt.timedelta(0)]
    return max(ends, default=dt.timedelta(days=14))


def checks_query(
    project: Project, plan: AnalysisPlan, compiled: CompiledExperiment, daily: list[Measure],
    dialect: str, others: list[str] | None = None,
) -> exp.Query:
    """Every row the pitfall checks read, in one statement (one pass over the exposures and
    each metric source; the units are computed once and shared).

    Rows ``(dimension, value, variant, units, <activity columns>)``: the traffic rows of
    :func:`traffic_selects` (activity columns NULL); one ``activity`` row per arm and day of
    first exposure (``value``: that day, ``units``: its units); and one ``since:<k>`` row per
    arm, day of first exposure and day ``k`` since exposure inside the daily measures' windows
    (``units``: those active on day ``k``); and one ``source:<label>`` row per metric source
    (:func:`_coverage_row`). :func:`activity_columns` says the columns.
    """
    experiment = plan.experiment
    columns = activity_columns(daily)
    ctes = _base(project, experiment, dialect)
    selects = traffic_selects(project, experiment, compiled, dialect, others, ctes)
    rows = [_padded(select, columns, {}) for select in selects]
    names = {m: f"m{i}" for i, m in enumerate(daily)}
    sources = {source: [m for m, _ in measures] for source, measures in plan.by_source().items()}
    for measure in daily:
        sources.setdefault(measure.source, [measure])
    acts = []
    for i, (source, measures) in enumerate(sources.items()):
        mine = {m: names[m] for m in daily if m.source == source}
        ctes += _source_activity(source, experiment, activity_horizon(measures), mine, dialect,
                                 f"act{i}")
        acts.append((f"act{i}", list(mine.values())))
        if mine:
            rows.append(_since_rows(f"act{i}_days", mine, columns))
        rows.append(_coverage_row(source, source_label(source, i), activity_horizon(measures),
                                  f"act{i}", experiment, dialect, columns))
    ctes.append(("per_unit", _per_unit(acts)))
    rows.append(_activity_rows(list(names.values()), columns))
    return with_ctes(_union(rows), ctes)


def source_label(source: Source, index: int) -> str:
    """How the checks and the fingerprint name a source: its table, else ``sql<index>``."""
    return source.table or f"sql{index}"


def _coverage_row(source: Source, label: str, horizon: dt.timedelta, activity: str,
                  experiment: ExperimentSpec, dialect: str, columns: dict[str, str]) -> exp.Select:
    """Row ``source:<label>``: ``units`` the analysed units with an event from ``horizon``
    before to ``horizon`` after their exposure (from the activity pass), ``events`` and
    ``last`` the source's events and latest event time up to the experiment's end plus
    ``horizon`` (the range the analysis reads)."""
    ts = col(source.timestamp, "s")
    totals = exp.select(alias(_count(), "events"), alias(exp.Max(this=ts), "last")).from_(
        relation(source.table, source.sql, dialect, "s"))
    end = experiment.end_at()
    if end is not None:
        totals = totals.where(ts.copy() < timestamp_literal(end + horizon))
    one = exp.Literal.number(1)
    active = exp.or_(col("post", activity).eq(one), col("pre", activity).eq(one.copy()))
    matched = exp.select(alias(_count(), "matched")).from_(activity).where(active)
    select = exp.select(
        alias(exp.Literal.string(COVERAGE_PREFIX + label), DIMENSION),
        alias(exp.cast(exp.null(), exp.DataType.Type.TEXT), VALUE),
        alias(exp.cast(exp.null(), exp.DataType.Type.TEXT), VARIANT),
        alias(exp.cast(col("matched", "m"), exp.DataType.Type.BIGINT), UNITS),
    )
    values: dict[str, exp.Expr] = {"events": col("events", "t"),
                                   "last": _text(col("last", "t"))}
    return (_padded(select, columns, values)
            .from_(matched.subquery("m"))
            .join(totals.subquery("t"), join_type="cross"))


def activity_columns(daily: list[Measure]) -> dict[str, str]:
    """The activity columns of :func:`checks_query`'s rows and their types.

    ``active`` / ``active_pre``: units with any event in a metric source in the window after
    exposure / as long a period before it. ``events``, ``last``: the coverage of one
    source (on its ``source:<label>`` row, :func:`_coverage_row`). Per measure of
    ``daily`` (named ``m0``, ``m1`` ...): the sums of its per-unit window value and its square
    (``<m>_s``, ``<m>_ss``; on a ``since:<k>`` row, of its value on day ``k``), and of the
    trend contrast ``z`` and its square (``<m>_zs``, ``<m>_zss``).

    ``z`` = sum over the window's days ``k`` of ``(k - mean k) y_k / sum (k - mean k)^2``: its
    difference in means between arms is the least-squares slope of the daily effect on the day
    since exposure, and its per-unit variance gives that slope an exact standard error (a
    unit's days are correlated; the per-day variances alone would ignore that).
    """
    out = {"active": "BIGINT", "active_pre": "BIGINT", "events": "BIGINT", "last": "TEXT"}
    for i, _ in enumerate(daily):
        out |= {f"m{i}_{part}": "DOUBLE" for part in ("s", "ss", "zs", "zss")}
    return out


def _padded(select: exp.Select, columns: dict[str, str], values: dict[str, exp.Expr]) -> exp.Select:
    """``select`` with every activity column appended: ``values``' or a typed NULL."""
    return select.select(*(alias(exp.cast(values.get(name, exp.null()), kind), name)
                           for name, kind in columns.items()))


def _days(measure: Measure) -> int:
    assert measure.window is not None
    return measure.window.end.days


def trend_weights(days: int) -> list[float]:
    """Least-squares slope weights over days ``0 .. days - 1``: ``(k - mean) / sum (k -
    mean)^2``."""
    mean = (days - 1) / 2
    sxx = sum((k - mean) ** 2 for k in range(days))
    return [(k - mean) / sxx for k in range(days)]


def _per_unit(acts: list[tuple[str, list[str]]]) -> exp.Select:
    """Each analysed unit's arm, exposure day, activity flags and daily measures' values."""
    zero = exp.Literal.number(0)
    query = exp.select(col(UNIT, "u"), col(VARIANT, "u"),
                       alias(_date_text(col(T0, "u")), "cohort")).from_(
        exp.to_table("units").as_("u", quoted=True))
    post: list[exp.Expr] = []
    pre: list[exp.Expr] = []
    for name, measures in acts:
        query = query.join(exp.to_table(name).as_(name, quoted=True),
                           on=col(UNIT, name).eq(col(UNIT, "u")), join_type="left")
        post.append(exp.Coalesce(this=col("post", name), expressions=[zero.copy()]))
        pre.append(exp.Coalesce(this=col("pre", name), expressions=[zero.copy()]))
        for m in measures:
            for part in ("y", "z"):
                value = exp.Coalesce(this=col(f"{m}_{part}", name), expressions=[zero.copy()])
                query = query.select(alias(value, f"{m}_{part}"))
    for flags, label in ((post, "post"), (pre, "pre")):
        any_flag = _add(flags) if flags else zero.copy()
        query = query.select(alias(exp.Case().when(any_flag > zero.copy(), exp.Literal.number(1))
                                   .else_(zero.copy()), label))
    return query


def _constant(value: float) -> exp.Expr:
    return exp.cast(exp.Literal.number(repr(value)), exp.DataType.Type.DOUBLE)


def _sums(name: str, squared: bool = False) -> exp.Expr:
    this: exp.Expr = col(name)
    if squared:
        this = exp.Mul(this=col(name), expression=col(name))
    return exp.Sum(this=this)


def _activity_rows(measures: list[str], columns: dict[str, str]) -> exp.Select:
    """``per_unit`` summed per arm and exposure day."""
    values: dict[str, exp.Expr] = {"active": _sums("post"), "active_pre": _sums("pre")}
    for m in measures:
        for part, source in (("", "y"), ("z", "z")):
            values[f"{m}_{part}s"] = _sums(f"{m}_{source}")
            values[f"{m}_{part}ss"] = _sums(f"{m}_{source}", squared=True)
    select = exp.select(
        alias(exp.Literal.string(ACTIVITY), DIMENSION), alias(col("cohort"), VALUE),
        col(VARIANT), _units())
    return _padded(select, columns, values).from_("per_unit").group_by(col(VARIANT),
                                                                        col("cohort"))


def _since_rows(table: str, daily: dict[Measure, str], columns: dict[str, str]) -> exp.Select:
    """Per day since exposure, arm and exposure day: the daily measures' sums and squares."""
    days = max(_days(m) for m in daily)
    day = col(DAY_SINCE)
    select = exp.select(
        alias(exp.DPipe(this=exp.Literal.string(SINCE_PREFIX), expression=_text(day)), DIMENSION),
        alias(col("cohort"), VALUE), col(VARIANT), _units())
    values: dict[str, exp.Expr] = {}
    for name in daily.values():
        values[f"{name}_s"] = _sums(f"{name}_y")
        values[f"{name}_ss"] = _sums(f"{name}_y", squared=True)
    select = _padded(select, columns, values)
    in_window = exp.and_(day.copy() >= exp.Literal.number(0),
                         day.copy() < exp.Literal.number(days))
    return (select.from_(table).where(in_window)
            .group_by(exp.Literal.number(1), exp.Literal.number(2), exp.Literal.number(3)))


def _add(values: list[exp.Expr]) -> exp.Expr:
    total = values[0]
    for value in values[1:]:
        total = exp.Add(this=total, expression=value)
    return total


def _source_activity(
    source: Source, experiment: ExperimentSpec, horizon: dt.timedelta,
    daily: dict[Measure, str], dialect: str, name: str,
) -> list[tuple[str, exp.Query]]:
    """CTE ``<name>``: per unit, any event after and before exposure (``post``, ``pre``) and
    each daily measure's window sum (``<m>_y``) and trend contrast (``<m>_z``); with daily
    measures it reads ``<name>_days``: per unit and day since exposure (``-1``: the ``horizon``
    before it; the days of the daily measures' windows; their longest window: the rest of the
    horizon) the daily measures' sums. Without, the flags come straight from the events.

    As in the metrics' source scan, each event's offset from ``t0`` is computed once (integer
    microseconds where the engine has a cheap epoch function) and windows compare offsets.
    """
    ts = col(source.timestamp, "s")
    epoch = EPOCH_MICROS.get(dialect)
    rel: exp.Expr = (exp.Sub(this=exp.func(epoch, ts.copy()), expression=col(T0_US, "u"))
                     if epoch else ts.copy())
    columns: list[exp.Expr] = [col(UNIT, "u"), col(VARIANT, "u"), col(T0, "u"),
                               alias(rel, "__rel")]
    for measure, m in daily.items():
        value: exp.Expr = exp.Literal.number(1)
        if measure.value is not None and measure.aggregation == "sum":
            value = exp.cast(parse_expression(measure.value, dialect), exp.DataType.Type.DOUBLE)
        if measure.filter is not None:
            value = exp.Case().when(exp.paren(parse_expression(measure.filter, dialect)), value)
        columns.append(alias(value, f"{m}__v"))
    events = (
        exp.select(*columns)
        .from_(exp.to_table("units").as_("u", quoted=True))
        .join(relation(source.table, source.sql, dialect, "s"),
              on=col(source.unit, "s").eq(col(UNIT, "u")), join_type="inner")
    )
    start, end = experiment.start_at(), experiment.end_at()
    if start is not None:
        events = events.where(ts.copy() >= timestamp_literal(start - horizon))
    if end is not None:
        events = events.where(ts.copy() < timestamp_literal(end + horizon))

    def before(delta: dt.timedelta) -> exp.Expr:  # the event is less than ``delta`` after t0
        if epoch:
            return col("__rel") < exp.Literal.number(micros(delta))
        return col("__rel") < shifted(col(T0), delta)

    one, zero = exp.Literal.number(1), exp.Literal.number(0)
    if not daily:  # activity flags only: one aggregate per unit, straight from the events
        def flag(lo: dt.timedelta, hi: dt.timedelta) -> exp.Expr:
            inside = exp.and_(exp.not_(before(lo)), before(hi))
            return exp.Max(this=exp.Case().when(inside, one.copy()).else_(zero.copy()))

        return [(name, exp.select(
            col(UNIT), alias(flag(dt.timedelta(0), horizon), "post"),
            alias(flag(-horizon, dt.timedelta(0)), "pre"),
        ).from_(events.subquery("ev")).group_by(col(UNIT)))]
    days = max(_days(m) for m in daily)
    bounds = [-horizon, dt.timedelta(0)]
    bounds += [dt.timedelta(days=k + 1) for k in range(days) if dt.timedelta(days=k + 1) < horizon]
    day = exp.Case().when(before(bounds[0]), exp.null())
    for k, bound in enumerate(bounds[1:]):
        day = day.when(before(bound), exp.Literal.number(k - 1))
    day = day.when(before(horizon), exp.Literal.number(len(bounds) - 2))
    per_day = exp.select(
        col(UNIT), alias(exp.Min(this=col(VARIANT)), VARIANT),
        alias(_date_text(exp.Min(this=col(T0))), "cohort"), col(DAY_SINCE),
        *(alias(exp.Sum(this=col(f"{m}__v")), f"{m}_y") for m in daily.values()),
    ).from_(exp.select("*", alias(day, DAY_SINCE)).from_(events.subquery("ev")).subquery("ev"))
    per_day = per_day.where(col(DAY_SINCE).is_(exp.null()).not_()).group_by(col(UNIT),
                                                                             col(DAY_SINCE))
    on = col(DAY_SINCE)
    per_unit = exp.select(
        col(UNIT),
        alias(exp.Max(this=exp.Case().when(on >= zero, one).else_(zero)), "post"),
        alias(exp.Max(this=exp.Case().when(on.copy() < zero.copy(), one.copy())
                      .else_(zero.copy())), "pre"),
    ).from_(f"{name}_days").group_by(col(UNIT))
    for measure, m in daily.items():
        inside = exp.and_(on.copy() >= zero.copy(),
                          on.copy() < exp.Literal.number(_days(measure)))
        weight = exp.Case()
        for k, w in enumerate(trend_weights(_days(measure))):
            weight = weight.when(on.copy().eq(exp.Literal.number(k)), _constant(w))
        per_unit = per_unit.select(
            alias(exp.Sum(this=exp.Case().when(inside, col(f"{m}_y"))), f"{m}_y"),
            alias(exp.Sum(this=exp.Mul(this=col(f"{m}_y"), expression=weight)), f"{m}_z"))
    return [(f"{name}_days", per_day), (name, per_unit)]


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
