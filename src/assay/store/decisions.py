"""Deciding is a recorded human act: who decided what, when, why, on which analysis.

A decision is refused (nothing written) for an unknown or never-analysed experiment, an unknown
variant, an experiment decided or abandoned already, and a stale analysis: one that is not the
latest, was made under another spec, or saw fewer exposures than the warehouse holds now. A
``ship`` that contradicts the automatic recommendation (on an untrustworthy, plan-deviating or
harmful result, or of a variant that did not win) needs ``override`` and is marked as such.
"""

from __future__ import annotations

import difflib
import uuid
from dataclasses import dataclass
from typing import Any

from assay.analysis.run import spec_hash
from assay.metrics.compile import compile_analysis
from assay.spec.project import Project
from assay.store.lifecycle import LifecycleError, now, windowed_project
from assay.store.records import DECISION_KINDS, AnalysisRecord, DecisionRecord
from assay.store.rows import canonical
from assay.store.tables import Store

# Recommendations a `ship` contradicts.
_NOT_SHIPPABLE = frozenset({"untrustworthy", "do not ship",
                            "deviates from the pre-registered plan"})


@dataclass(frozen=True)
class DecisionRequest:
    """What ``assay decide`` asks to record."""

    experiment_id: str
    decision: str
    decided_by: str
    rationale: str
    variant: str | None = None
    link: str | None = None
    override: bool = False
    analysis_id: str | None = None


def record_decision(project: Project, store: Store, request: DecisionRequest) -> DecisionRecord:
    """Check ``request`` against the experiment and its latest analysis, then record it.

    Raises:
        LifecycleError: The decision cannot be recorded (see the module docstring).
    """
    experiment = project.experiment(request.experiment_id)
    _check_request(project, request)
    row = store.experiment_row(request.experiment_id)
    status = row["status"] if row else "draft"
    if status in ("decided", "abandoned"):
        earlier = store.decisions(request.experiment_id)
        said = f": {earlier[-1].decision} by {earlier[-1].decided_by}" if earlier else ""
        raise LifecycleError(f"{request.experiment_id} is {status} already{said}; "
                             "a decision is recorded once")
    analysis = _basis(project, store, request)
    contradicts = _contradicts(store, request, analysis)
    if contradicts and not request.override:
        raise LifecycleError(
            f"deciding `{request.decision}` contradicts the recommendation "
            f"({analysis.recommendation}: {'; '.join(analysis.recommendation_reasons)}); "
            "pass --override to record it anyway")
    when = now()
    decision: dict[str, Any] = {
        "decision_id": uuid.uuid4().hex, "experiment_id": request.experiment_id,
        "decided_at": when, "decision": request.decision, "variant": request.variant,
        "decided_by": request.decided_by, "rationale": request.rationale, "link": request.link,
        "owner": experiment.owner, "analysis_id": analysis.analysis_id,
        "spec_hash": analysis.spec_hash, "recommendation": analysis.recommendation,
        "recommendation_reasons": canonical(analysis.recommendation_reasons),
        "override": contradicts,
    }
    assert row is not None  # an analysed experiment has a row
    row.update(status="decided", decided_at=when, updated_at=when, owner=experiment.owner)
    store.put_experiment(row, decision=decision)
    return store.decisions(request.experiment_id)[-1]


def _check_request(project: Project, request: DecisionRequest) -> None:
    if request.decision not in DECISION_KINDS:
        raise LifecycleError(f"unknown decision {request.decision!r}; use one of "
                             f"{', '.join(DECISION_KINDS)}")
    variants = [v.name for v in project.experiment(request.experiment_id).variants]
    if request.variant is None and request.decision == "ship":
        raise LifecycleError("`ship` needs --variant: the variant that ships")
    if request.variant is not None and request.variant not in variants:
        close = difflib.get_close_matches(request.variant, variants, n=1)
        hint = f"; did you mean `{close[0]}`?" if close else ""
        raise LifecycleError(f"{request.experiment_id} has no variant {request.variant!r} "
                             f"(variants: {', '.join(variants)}){hint}")
    if not request.decided_by.strip() or not request.rationale.strip():
        raise LifecycleError("--by and --why must not be empty")


def _basis(project: Project, store: Store, request: DecisionRequest) -> AnalysisRecord:
    """The analysis the decision rests on: the latest, if it is still current."""
    analyses = store.analyses(request.experiment_id)
    if not analyses:
        raise LifecycleError(f"{request.experiment_id} was never analysed; run "
                             f"`assay analyze {request.experiment_id}` first")
    latest = analyses[-1]
    if request.analysis_id is not None and request.analysis_id != latest.analysis_id:
        if request.analysis_id not in {a.analysis_id for a in analyses}:
            raise LifecycleError(f"{request.experiment_id} has no analysis {request.analysis_id}")
        raise LifecycleError(f"analysis {request.analysis_id} is stale: {latest.analysis_id} "
                             f"({latest.run_at}) is newer")
    row = store.experiment_row(request.experiment_id)
    windowed = windowed_project(project, request.experiment_id, row["stopped_at"] if row else None)
    compiled = compile_analysis(windowed, request.experiment_id, dialect=store.wh.dialect)
    rerun = f"; run `assay analyze {request.experiment_id}` and decide on the fresh result"
    if spec_hash(windowed, compiled.plan) != latest.spec_hash:
        raise LifecycleError(f"the latest analysis ({latest.run_at}) was made under another "
                             f"version of the spec{rerun}")
    declared = {v.name for v in windowed.experiment(request.experiment_id).variants}
    units = _units_now(store, compiled.statements()["exposures"], declared)
    if units != latest.units:
        raise LifecycleError(f"the latest analysis ({latest.run_at}) is stale: it saw "
                             f"{latest.units:,} units, the warehouse now holds {units:,}{rerun}")
    return latest


def _units_now(store: Store, exposures_sql: str, variants: set[str]) -> int:
    """Units in the declared arms now (the figure an analysis's ``units`` counts)."""
    rows = store.wh.execute(exposures_sql).to_pylist()
    return sum(int(r["units"] or 0) for r in rows
               if r["kind"] == "arm" and r["variant"] in variants)


def _contradicts(store: Store, request: DecisionRequest, analysis: AnalysisRecord) -> bool:
    if request.decision != "ship":
        return False
    if analysis.recommendation in _NOT_SHIPPABLE:
        return True
    if analysis.recommendation != "ship":
        return False  # shipping on an inconclusive result is a judgement, not a contradiction
    winners = {r.variant for r in store.results(analysis.analysis_id)
               if r.role == "primary" and r.segment is None and r.significant
               and ((r.diff or 0) > 0) == bool(r.columns.get("higher_is_better", True))}
    return request.variant not in winners
