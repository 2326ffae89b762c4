"""Do the metric sources cover the experiment? Unit ids that match, and data that reaches the end.

Two ways a metric reads as "no effect" when the data cannot show one, each caught from the
``source:<label>`` row of each metric source in the checks' statement
(:func:`assay.checks.queries.checks_query`):

* ``unit_match``: not one analysed unit has an event in a source (from the longest window before
  its exposure to the longest window after it), though the source has events in the range the
  analysis reads: the unit ids do not join (another id column, a prefix, a
  type or case difference), and every metric of that source is zero in every arm;
* ``data_coverage``: a source's latest event falls before the end of the metrics' windows (the
  experiment's end plus the longest window; for an experiment without an end, its latest
  exposure): the windows of the last units are cut short and their missing days count as zero.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from assay.checks.queries import COVERAGE_PREFIX, DIMENSION, UNITS
from assay.results import Check
from assay.spec.models import ExperimentSpec

#: How far before the windows' end a source's latest event may fall before the check warns
#: (a sparse source's last event of the day need not be at midnight).
SLACK = dt.timedelta(days=1)


@dataclass(frozen=True)
class SourceCoverage:
    """One metric source's coverage (its ``source:<label>`` row)."""

    source: str
    horizon: dt.timedelta
    units: int
    matched: int
    events: int
    last: dt.datetime | None
    #: ``last`` as the engine wrote it (the fingerprint keeps it verbatim).
    last_text: str | None = None

    @classmethod
    def from_rows(cls, rows: Sequence[Mapping[str, Any]], units: int,
                  horizons: Sequence[dt.timedelta]) -> list[SourceCoverage]:
        """Read the ``source:<label>`` rows of the checks' statement (one per metric source,
        in the plan's order; others ignored), with the analysed units and each source's
        horizon, which the caller knows."""
        sources = [r for r in rows if str(r[DIMENSION]).startswith(COVERAGE_PREFIX)]
        return [cls(str(r[DIMENSION]).removeprefix(COVERAGE_PREFIX), horizon, units,
                    int(r[UNITS] or 0), int(r["events"] or 0), _moment(r["last"]),
                    None if r["last"] is None else str(r["last"]))
                for r, horizon in zip(sources, horizons, strict=True)]


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
