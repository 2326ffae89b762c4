"""Retention and daily participation: per-unit rows from a source's activity (SQLGlot).

Both read the *horizon* ``h``: the latest timestamp in the metric's source (all its rows from
the experiment's start plus the window's start on, the filter not applied), i.e. how far the
data reach. A unit's window counts only as far as the
data have observed it:

* **retention** ``y`` = 1 when the unit has a qualifying event in ``[t0 + a, t0 + b)`` strictly
  after ``t0`` (its first exposure: the exposure event itself, or an event at that very
  moment, never counts as a return), else 0; NULL (the unit is left out) while its window is
  not over, ``t0 + b > h``.
* **participation** ``y`` = active days / observed days over the window's day slots
  ``[t0 + d, t0 + d + 1 day)``, ``d`` from ``a`` to ``b - 1`` days (24-hour slots from the
  unit's own first exposure, not calendar days): a slot is observed when it has ended by the
  horizon (``t0 + d + 1 day <= h``) and active when the unit has a qualifying event in it.
  A unit with no observed slot is left out. Slots are one aggregate each (at most
  :data:`assay.spec.activity.MAX_PARTICIPATION_DAYS`).
"""

from __future__ import annotations

import datetime as dt

from sqlglot import exp

from assay.metrics.kinds import unit_columns
from assay.metrics.plan import ActivityPlan, Measure
from assay.metrics.scan import (
    EPOCH_MICROS,
    T0,
    UNIT,
    aggregate,
    alias,
    col,
    in_window,
    joined_events,
    relation,
    shifted,
    timestamp_literal,
)
from assay.spec.models import ExperimentSpec, Window
from assay.spec.project import Project

HORIZON = "h"
_DAY = dt.timedelta(days=1)


def _horizon(step: Measure, experiment: ExperimentSpec, dialect: str) -> exp.Select:
    """The source's latest timestamp, read from the experiment's start plus the window's
    start on: every unit's window ends after that moment, so an earlier row cannot tell
    whether one is over (the answer is unchanged, and the engine skips the old history)."""
    source = step.source
    ts = col(source.timestamp, "s")
    query = exp.select(alias(exp.Max(this=ts), HORIZON)).from_(
        relation(source.table, source.sql, dialect, "s")
    )
    start = experiment.start_at()
    if start is None or step.window is None:
        return query
    earliest = start + step.window.start
    return query.where(ts.copy() >= timestamp_literal(earliest))


def _observed_by(moment: exp.Expr) -> exp.Expr:
    """``moment <= h`` with ``h`` the horizon (a scalar subquery, computed once)."""
    latest = exp.Subquery(this=exp.select(col(HORIZON)).from_("horizon"))
    return exp.LTE(this=moment, expression=latest)


def retention_ctes(
    project: Project, experiment: ExperimentSpec, activity: ActivityPlan, dialect: str
) -> list[tuple[str, exp.Query]]:
    """``horizon``, ``returns`` (qualifying events after exposure per unit), ``per_unit``."""
    step = activity.steps[0]
    window = step.window
    assert window is not None  # the spec requires one
    joined, _, filters = joined_events(experiment, step.source, [(step, "")], dialect)
    relative = dialect in EPOCH_MICROS
    after = col("__rel") > exp.Literal.number(0) if relative else col("__ts") > col(T0)
    returns = (
        exp.select(col(UNIT), alias(exp.Count(this=exp.Star()), "hits"))
        .from_(joined.subquery("j"))
        .where(exp.and_(in_window(step, filters, experiment, relative), after))
        .group_by(col(UNIT))
    )
    returned = exp.Case().when(
        col("hits", "r").is_(exp.null()), exp.Literal.number(0)
    ).else_(exp.Literal.number(1))
    value = exp.Case().when(_observed_by(shifted(col(T0, "u"), window.end)), returned)
    per_unit = (
        exp.select(*unit_columns(experiment.segments), alias(value, "y"))
        .from_(exp.to_table("units").as_("u", quoted=True))
        .join(exp.to_table("returns").as_("r", quoted=True),
              on=col(UNIT, "r").eq(col(UNIT, "u")), join_type="left")
    )
    return [("horizon", _horizon(step, experiment, dialect)), ("returns", returns),
            ("per_unit", per_unit)]


def participation_ctes(
    project: Project, experiment: ExperimentSpec, activity: ActivityPlan, dialect: str
) -> list[tuple[str, exp.Query]]:
    """``horizon``, ``days`` (per unit: active in each day slot), ``unit_days`` (observed and
    active slots) and ``per_unit`` (their ratio)."""
    step = activity.steps[0]
    window = step.window
    assert window is not None  # the spec requires one
    joined, _, filters = joined_events(experiment, step.source, [(step, "")], dialect)
    relative = dialect in EPOCH_MICROS
    slots = range(window.start // _DAY, window.end // _DAY)
    flags = []
    for d in slots:
        day = Window(start=d * _DAY, end=(d + 1) * _DAY)
        slot = Measure(step.source, None, step.filter, "any", day)
        condition = in_window(slot, filters, experiment, relative)
        flags.append(alias(aggregate("any", condition, None), f"d{d}"))
    days = exp.select(col(UNIT), *flags).from_(joined.subquery("j")).group_by(col(UNIT))
    observed: list[exp.Expr] = []
    active: list[exp.Expr] = []
    for d in slots:
        ended = _observed_by(shifted(col(T0, "u"), (d + 1) * _DAY))
        one, zero = exp.Literal.number(1), exp.Literal.number(0)
        observed.append(exp.Case().when(ended, one).else_(zero))
        busy = exp.and_(ended.copy(), col(f"d{d}", "a").eq(one.copy()))
        active.append(exp.Case().when(busy, one.copy()).else_(zero.copy()))
    unit_days = (
        exp.select(*unit_columns(experiment.segments), alias(_total(observed), "observed"),
                   alias(_total(active), "active"))
        .from_(exp.to_table("units").as_("u", quoted=True))
        .join(exp.to_table("days").as_("a", quoted=True),
              on=col(UNIT, "a").eq(col(UNIT, "u")), join_type="left")
    )
    share = exp.Div(this=exp.cast(col("active"), exp.DataType.Type.DOUBLE),
                    expression=col("observed"))
    value = exp.Case().when(col("observed") > exp.Literal.number(0), share)
    per_unit = exp.select(
        *(col(c) for c in (UNIT, "variant", *experiment.segments)), alias(value, "y")
    ).from_("unit_days")
    return [("horizon", _horizon(step, experiment, dialect)), ("days", days),
            ("unit_days", unit_days), ("per_unit", per_unit)]


def _total(terms: list[exp.Expr]) -> exp.Expr:
    """The sum of ``terms`` as a balanced tree (a long chain would nest too deep to print)."""
    if len(terms) == 1:
        return terms[0]
    half = len(terms) // 2
    return exp.Add(this=exp.paren(_total(terms[:half])), expression=exp.paren(_total(terms[half:])))
