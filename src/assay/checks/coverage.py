"""Do the metric sources cover the experiment? Unit ids that match, and data that reaches the end.

Two ways a metric reads as "no effect" when the data cannot show one, each caught from one row per
source (:func:`coverage_query`):

* ``unit_match``: not one analysed unit has an event in a source, though the source has events
  in the range the analysis reads: the unit ids do not join (another id column, a prefix, a
  type or case difference), and every metric of that source is zero in every arm;
* ``data_coverage``: a source's latest event falls before the end of the metrics' windows (the
  experiment's end plus the longest window; for an experiment without an end, its latest
  exposure): the windows of the last units are cut short and their missing days count as zero.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from assay.checks.queries import activity_horizon
from assay.metrics.plan import AnalysisPlan
from assay.metrics.scan import UNIT, alias, col, exposures_of, relation, units_query
from assay.results import Check
from assay.spec.models import ExperimentSpec, Source
from assay.spec.project import Project

#: How far before the windows' end a source's latest event may fall before the check warns
#: (a sparse source's last event of the day need not be at midnight).
SLACK = dt.timedelta(days=1)


def _timestamp(moment: dt.datetime) -> exp.Expr:
    return exp.cast(exp.Literal.string(moment.isoformat(sep=" ")), exp.DataType.Type.TIMESTAMP)


def coverage_query(project: Project, plan: AnalysisPlan, dialect: str) -> exp.Query | None:
    """Rows ``(source, horizon_days, units, matched, events, last)``, one per metric source.

    ``units``: analysed units; ``matched``: those with an event in the source; ``events`` and
    ``last``: the source's events and latest event time (text), all over the range the
    analysis reads (up to the experiment's end plus the source's longest window).
    """
    experiment = plan.experiment
    selects = [
        _source_row(source, f"sql{i}", activity_horizon([m for m, _ in measures]), experiment,
                    dialect)
        for i, (source, measures) in enumerate(plan.by_source().items())
    ]
    if not selects:
        return None
    query: exp.Query = selects[0]
    for select in selects[1:]:
        query = exp.union(query, select, distinct=False)
    return query.with_("e", exposures_of(project, experiment)).with_(
        "units", units_query(experiment, dialect))


def _source_row(source: Source, label: str, horizon: dt.timedelta, experiment: ExperimentSpec,
                dialect: str) -> exp.Select:
    ts = col(source.timestamp, "s")
    end = experiment.end_at()
    ids = _scan(source, dialect, end, horizon, alias(col(source.unit, "s"), "__unit")).distinct()
    totals = _scan(source, dialect, end, horizon, alias(exp.Count(this=exp.Star()), "events"),
                   alias(exp.Max(this=ts), "last"))
    return (
        exp.select(
            alias(exp.Literal.string(source.table or label), "source"),
            alias(exp.Literal.number(horizon.days), "horizon_days"),
            alias(exp.Count(this=col(UNIT, "u")), "units"),
            alias(exp.Count(this=col("__unit", "m")), "matched"),
            alias(exp.Max(this=col("events", "t")), "events"),
            alias(exp.cast(exp.Max(this=col("last", "t")), exp.DataType.Type.TEXT), "last"),
        )
        .from_(exp.to_table("units").as_("u", quoted=True))
        .join(ids.subquery("m", copy=False), on=col("__unit", "m").eq(col(UNIT, "u")),
              join_type="left")
        .join(totals.subquery("t", copy=False), join_type="cross")
    )


def _scan(source: Source, dialect: str, end: dt.datetime | None, horizon: dt.timedelta,
          *columns: exp.Expr) -> exp.Select:
    """``columns`` of the source's events up to the experiment's end plus ``horizon``."""
    query = exp.select(*columns).from_(relation(source.table, source.sql, dialect, "s"))
    if end is None:
        return query
    return query.where(col(source.timestamp, "s") < _timestamp(end + horizon))


@dataclass(frozen=True)
class SourceCoverage:
    """One row of :func:`coverage_query`."""

    source: str
    horizon: dt.timedelta
    units: int
    matched: int
    events: int
    last: dt.datetime | None

    @classmethod
    def from_rows(cls, rows: Sequence[dict[str, Any]]) -> list[SourceCoverage]:
        """Read the query's rows."""
        return [cls(str(r["source"]), dt.timedelta(days=int(r["horizon_days"])),
                    int(r["units"] or 0), int(r["matched"] or 0), int(r["events"] or 0),
                    _moment(r["last"])) for r in rows]


def _moment(text: object) -> dt.datetime | None:
    """A timestamp's text as naive UTC (None if absent or unreadable)."""
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(str(text).replace(" ", "T", 1))
    except ValueError:
        return None
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment


def unit_match(coverage: Sequence[SourceCoverage], exposure_unit: str) -> Check:
    """Warn for a source with events of which not one belongs to an analysed unit."""
    shares = {c.source: round(c.matched / c.units, 5) for c in coverage if c.units}
    figures: dict[str, Any] = {"matched_share": shares}
    unmatched = [c.source for c in coverage if c.units and c.events and not c.matched]
    if unmatched:
        listed = ", ".join(f"`{s}`" for s in unmatched)
        return Check(
            "unit_match", "warn",
            f"no analysed unit has an event in {listed}, though it has events in the range "
            "read: its unit ids do not match the exposures', so its metrics are zero in "
            "every arm", figures, code="unmatched_units",
            remedy=f"compare the source's `unit:` column with the exposures' `{exposure_unit}` "
                   "(the same id, its type, case and any prefix)",
        )
    return Check("unit_match", "pass", "every metric source has events of analysed units",
                 figures)


def data_coverage(
    coverage: Sequence[SourceCoverage], experiment: ExperimentSpec, watermark: str | None
) -> Check:
    """Warn for a source whose latest event falls before the end of the metrics' windows."""
    end, last_exposure = experiment.end_at(), _moment(watermark)
    short: dict[str, tuple[dt.datetime | None, dt.datetime]] = {}
    for c in coverage:
        needed = end + c.horizon if end is not None else last_exposure
        if needed is not None and c.units and (c.last is None or c.last < needed - SLACK):
            short[c.source] = (c.last, needed)
    figures = {s: {"last_event": None if last is None else last.isoformat(),
                   "windows_end": needed.isoformat()} for s, (last, needed) in short.items()}
    if not short:
        return Check("data_coverage", "pass",
                     "every metric source has data to the end of the metrics' windows", figures)
    parts = [f"`{s}` has no events in the range read" if last is None else
             f"`{s}` ends {last:%Y-%m-%d %H:%M} but the windows run to {needed:%Y-%m-%d %H:%M}"
             for s, (last, needed) in short.items()]
    return Check(
        "data_coverage", "warn",
        "the data ends before the analysis windows do: " + "; ".join(parts)
        + " (units exposed late have their windows cut short, and the missing days count as "
        "zero)", figures, code="data_ends_early",
        remedy="rerun when the source has caught up, or end the experiment earlier (`end:`) "
               "so that every unit's window is complete",
    )
