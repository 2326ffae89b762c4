"""A funnel's per-unit rows: which of its ordered steps each unit reached (SQLGlot).

Step ``k`` is reached when the unit has a qualifying event of step ``k`` in the funnel's window
at or after the time it first reached step ``k - 1`` (step 1: any qualifying event in the
window). ``first<k>`` holds each unit's first such time, built from ``first<k-1>``; ``per_unit``
has ``r<k>`` = 1 for a unit that reached step ``k``, else 0, for every analysed unit (units
without events are 0 on every step). A unit's steps may come from different sources.
"""

from __future__ import annotations

from sqlglot import exp

from assay.metrics.kinds import unit_columns
from assay.metrics.plan import ActivityPlan
from assay.metrics.scan import EPOCH_MICROS, UNIT, alias, col, in_window, joined_events
from assay.spec.models import ExperimentSpec
from assay.spec.project import Project

FIRST = "t"


def funnel_ctes(
    project: Project, experiment: ExperimentSpec, activity: ActivityPlan, dialect: str
) -> list[tuple[str, exp.Query]]:
    """``first0 .. first<K-1>`` (first time each step was reached) and ``per_unit``."""
    ctes: list[tuple[str, exp.Query]] = []
    for k, step in enumerate(activity.steps):
        joined, _, filters = joined_events(experiment, step.source, [(step, "")], dialect)
        relative = dialect in EPOCH_MICROS
        events = (
            exp.select(col(UNIT), alias(col("__ts"), "ts"))
            .from_(joined.subquery("j"))
            .where(in_window(step, filters, experiment, relative))
        )
        first = exp.select(col(UNIT, "s"), alias(exp.Min(this=col("ts", "s")), FIRST)).from_(
            events.subquery("s")
        )
        if k > 0:
            previous = f"first{k - 1}"
            after = exp.and_(
                col(UNIT, "p").eq(col(UNIT, "s")), col("ts", "s") >= col(FIRST, "p")
            )
            first = first.join(exp.to_table(previous).as_("p", quoted=True), on=after,
                               join_type="inner")
        ctes.append((f"first{k}", first.group_by(col(UNIT, "s"))))
    per_unit = exp.select(*unit_columns(experiment.segments)).from_(
        exp.to_table("units").as_("u", quoted=True)
    )
    for k in range(len(activity.steps)):
        name = f"f{k}"
        per_unit = per_unit.join(
            exp.to_table(f"first{k}").as_(name, quoted=True),
            on=col(UNIT, name).eq(col(UNIT, "u")),
            join_type="left",
        )
        reached = exp.Case().when(col(FIRST, name).is_(exp.null()), exp.Literal.number(0))
        per_unit = per_unit.select(alias(reached.else_(exp.Literal.number(1)), f"r{k}"))
    return [*ctes, ("per_unit", per_unit)]
