"""The pitfall checks of one analysis: run their few queries, hand the rows to the pure checks.

Every query returns a few rows per arm (by day, segment value or arm pair); nothing unit-level
leaves the warehouse. The SQL of each is kept in the result beside the analysis's own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from assay.assign.engine import compile_experiments
from assay.checks.coverage import SourceCoverage, data_coverage, unit_match
from assay.checks.pitfalls import (
    Activity,
    Daily,
    Overlap,
    dilution,
    novelty,
    practical_significance,
    reproducibility,
    salt_reuse,
    segment_claims,
    simpsons_paradox,
)
from assay.checks.queries import (
    ACTIVITY,
    DIMENSION,
    SINCE_PREFIX,
    UNITS,
    VALUE,
    activity_horizon,
    checks_query,
    daily_measure,
    overlapping,
)
from assay.checks.traffic import Traffic, traffic_checks
from assay.metrics.plan import AnalysisPlan
from assay.results import Check, MetricResult
from assay.spec.project import Project
from assay.warehouse import Warehouse

Step = Callable[[str], None]


@dataclass(frozen=True)
class Trust:
    """What the pitfall checks found, and the input fingerprint of the analysis."""

    checks: list[Check]
    fingerprint: dict[str, Any]


def trust_checks(
    project: Project,
    plan: AnalysisPlan,
    wh: Warehouse,
    results: Sequence[MetricResult],
    segments: Sequence[MetricResult],
    sql: dict[str, str],
    step: Step,
    *,
    spec_hash: str,
    units: int,
) -> Trust:
    """Run the pitfall checks of one analysis (``sql`` gains the queries they ran)."""
    experiment = plan.experiment
    dialect = wh.dialect

    def run(key: str, query: Any) -> list[dict[str, Any]]:
        sql[key] = query.sql(dialect=dialect, pretty=True)
        rows: list[dict[str, Any]] = wh.execute(sql[key]).to_pylist()
        return rows

    step("checking the traffic split by day, segment and hash, and breaking the primary metrics "
         "down by day")
    compiled = compile_experiments(project.experiments)[experiment.id]
    others = overlapping(project, experiment)
    primaries = [(m.metric.name, measure) for m in plan.metrics
                 if m.metric.name in experiment.metrics.primary
                 and (measure := daily_measure(m)) is not None]
    daily_measures = list(dict.fromkeys(m for _, m in primaries))  # two metrics, one measure
    rows = run("check:units", checks_query(project, plan, compiled, daily_measures, dialect,
                                           [o.id for o in others]))
    traffic = Traffic.from_rows(rows)
    checks = traffic_checks(traffic, experiment, _decided(project, experiment.id, wh))
    horizons = [activity_horizon([m for m, _ in ms]) for ms in plan.by_source().values()]
    activity_rows = [{**r, "cohort": r[VALUE], "n": r[UNITS]} for r in rows
                     if r[DIMENSION] == ACTIVITY or str(r[DIMENSION]).startswith(SINCE_PREFIX)]
    activity = Activity.from_rows([r for r in activity_rows if r[DIMENSION] == ACTIVITY],
                                  max(horizons).days if horizons else 14)
    daily = [Daily.from_rows(name, activity_rows, f"m{daily_measures.index(measure)}",
                             measure.window.end.days)
             for name, measure in primaries if measure.window is not None]
    coverage = SourceCoverage.from_rows(rows, units, horizons)
    same_salt = {o.id: o.hash_salt == experiment.hash_salt for o in others}
    overlaps = [Overlap(o, same_salt[o], table) for o, table in traffic.overlaps.items()]
    overlaps += [Overlap(o, True, {}) for o, same in same_salt.items()
                 if same and o not in traffic.overlaps]
    checks += [
        practical_significance(results, experiment),
        segment_claims(results, segments),
        simpsons_paradox(results, segments, daily, experiment),
        novelty(daily, experiment),
        dilution(activity, experiment),
        salt_reuse(overlaps),
        unit_match(coverage, project.spec.exposures.unit_id),
        data_coverage(coverage, experiment, traffic.watermark),
    ]
    fingerprint = {"spec_hash": spec_hash, "units": units,
                   **_fingerprint(sql, traffic, coverage)}
    previous = _previous(project, experiment.id, fingerprint, wh)
    checks.append(reproducibility(fingerprint, results, previous))
    return Trust(checks, fingerprint)


def _fingerprint(sql: dict[str, str], traffic: Traffic,
                 coverage: Sequence[SourceCoverage]) -> dict[str, Any]:
    """SQL hash, data watermarks and row counts (the caller adds the spec hash and units)."""
    analysis_sql = {k: v for k, v in sql.items() if not k.startswith("check:")}
    text = json.dumps(analysis_sql, sort_keys=True)
    sources = {c.source: {"rows": c.events, "last": c.last_text} for c in coverage}
    return {
        "sql_hash": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "exposure_rows": traffic.rows,
        "exposure_watermark": traffic.watermark,
        "sources": sources,
    }


def _decided(project: Project, experiment_id: str, wh: Warehouse) -> bool:
    """Whether a human decision is recorded for the experiment in the results store."""
    from assay.store.lifecycle import store_of

    return bool(store_of(project, wh, read_only=True).decisions(experiment_id))


def _previous(
    project: Project, experiment_id: str, fingerprint: dict[str, Any], wh: Warehouse
) -> list[list[dict[str, Any]]]:
    """The results of stored analyses of this experiment with exactly this fingerprint."""
    from assay.store.lifecycle import store_of

    store = store_of(project, wh, read_only=True)
    out = []
    for record in store.analyses(experiment_id):
        if record.spec_hash != fingerprint["spec_hash"]:
            continue
        stored = store.result_json(record.analysis_id)
        if isinstance(stored, dict) and stored.get("fingerprint") == fingerprint:
            out.append(list(stored.get("results") or []))
    return out
