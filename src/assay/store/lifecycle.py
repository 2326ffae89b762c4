"""The experiment lifecycle: draft -> running -> stopped -> decided (or abandoned).

``start`` freezes the plan, ``stop`` records the stop time (later analyses read data up to it),
:func:`analyse` runs an analysis, compares it with the frozen plan and records it, and
:func:`decide` (in :mod:`assay.store.decisions`) records the human decision. Every refusal is a
:class:`LifecycleError` raised before anything is written.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from assay.analysis.run import analyze
from assay.checks.plan import check_plan
from assay.errors import AssayError
from assay.results import AnalysisResult, Decision, decide
from assay.spec.project import Project
from assay.store.plan import current_plan, plan_hash, spec_text
from assay.store.records import DecisionRecord, ExperimentRecord, ExperimentStatus
from assay.store.rows import analysis_rows, canonical
from assay.store.schema import Layout
from assay.store.tables import SavedAnalysis, Store
from assay.warehouse import Warehouse

Step = Callable[[str], None]
Row = dict[str, Any]


class LifecycleError(AssayError):
    """A lifecycle command that does not fit the experiment's state (nothing was written)."""


def layout_of(project: Project) -> Layout:
    """Where a project keeps its store (``results_schema`` and ``results_prefix``)."""
    return Layout(project.spec.results_schema, project.spec.results_prefix)


def store_of(project: Project, warehouse: Warehouse, *, read_only: bool = False) -> Store:
    """The project's store in ``warehouse``."""
    return Store(warehouse, layout_of(project), read_only=read_only)


def now() -> dt.datetime:
    """The current time, naive UTC, to the second (the store's clock)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def status_of(store: Store, experiment_id: str) -> ExperimentStatus:
    """An experiment's status (``draft`` when the store does not know it yet)."""
    row = store.experiment_row(experiment_id)
    return "draft" if row is None else row["status"]


def start(project: Project, store: Store, experiment_id: str, *, amend: str | None = None,
          at: dt.datetime | None = None) -> ExperimentRecord:
    """Freeze the plan (``amend``: re-freeze it, recording why) and mark the experiment running.

    Raises:
        LifecycleError: Started already (without ``amend``), not running (with it), or an
            amendment that changes nothing.
    """
    experiment = project.experiment(experiment_id)
    when = at or now()
    row = store.experiment_row(experiment_id) or _new_row(project, experiment_id, when)
    status = row["status"]
    plan = current_plan(project, experiment_id)
    if amend is None:
        if status != "draft":
            raise LifecycleError(f"{experiment_id} is {status} (started {row['started_at']}); "
                                 "to change its plan use `assay start --amend --why TEXT`")
        row.update(status="running", started_at=when)
    else:
        if status not in ("running", "stopped"):
            raise LifecycleError(f"{experiment_id} is {status}: only a running or stopped "
                                 "experiment's plan can be amended")
        if not amend.strip():
            raise LifecycleError("--why must say why the plan changes")
        if plan_hash(plan) == row["plan_hash"]:
            raise LifecycleError(f"{experiment_id}: the spec matches the frozen plan; "
                                 "there is nothing to amend")
    version = int(row["plan_version"] or 0) + 1
    text = spec_text(project, experiment_id)
    row.update(plan_version=version, plan_hash=plan_hash(plan), plan_json=canonical(plan),
               spec_text=text, updated_at=when, name=experiment.name, owner=experiment.owner)
    store.put_experiment(row, plan={
        "experiment_id": experiment_id, "plan_version": version, "frozen_at": when,
        "plan_hash": row["plan_hash"], "plan_json": row["plan_json"], "spec_text": text,
        "reason": amend if amend is not None else "start",
    })
    return _record(store, experiment_id)


def stop(project: Project, store: Store, experiment_id: str, *, abandon: bool = False,
         at: dt.datetime | None = None) -> ExperimentRecord:
    """Record the stop (or, with ``abandon``, that the experiment was given up).

    Raises:
        LifecycleError: Not running (stop), or decided or abandoned already (abandon).
    """
    project.experiment(experiment_id)
    when = at or now()
    row = store.experiment_row(experiment_id) or _new_row(project, experiment_id, when)
    status = row["status"]
    if abandon:
        if status in ("decided", "abandoned"):
            raise LifecycleError(f"{experiment_id} is {status} already")
        row.update(status="abandoned", abandoned_at=when, updated_at=when)
    else:
        if status != "running":
            hint = "; start it with `assay start`" if status == "draft" else ""
            raise LifecycleError(f"{experiment_id} is {status}, not running{hint}")
        row.update(status="stopped", stopped_at=when, updated_at=when)
    store.put_experiment(row)
    return _record(store, experiment_id)


@dataclasses.dataclass(frozen=True)
class Recorded:
    """One analysis with its lifecycle context: what ``analyze`` and ``run`` print."""

    result: AnalysisResult
    recommendation: Decision
    experiment: ExperimentRecord
    decisions: list[DecisionRecord]
    saved: SavedAnalysis | None

    def to_dict(self) -> dict[str, Any]:
        """The JSON output: the result plus ``lifecycle``, ``recommendation``, ``decisions``."""
        data = self.result.to_dict()
        data["analysis_id"] = self.saved.analysis_id if self.saved else None
        data["lifecycle"] = self.experiment.lifecycle()
        data["recommendation"] = {"verdict": self.recommendation.verdict,
                                  "reasons": list(self.recommendation.reasons)}
        data["decisions"] = [d.to_dict() for d in self.decisions]
        return data


def analyse(project: Project, store: Store, experiment_id: str, *, save: bool = True,
            on_step: Step | None = None) -> Recorded:
    """Analyse with the lifecycle applied: data up to the stop, the plan checked, recorded."""
    step = on_step or (lambda _: None)
    row = store.experiment_row(experiment_id)
    windowed = windowed_project(project, experiment_id, row["stopped_at"] if row else None)
    began = time.perf_counter()
    result = analyze(windowed, experiment_id, warehouse=store.wh, on_step=step)
    if row is not None and row["plan_json"] and row["status"] != "draft":
        frozen = store.plan(experiment_id)
        version = frozen.plan_version if frozen else int(row["plan_version"] or 1)
        check = check_plan(frozen.plan if frozen else {}, current_plan(project, experiment_id),
                           version=version)
        result = dataclasses.replace(result, checks=[*result.checks, check])
    recommendation = decide(result)
    saved = None
    if save:
        step("recording the result")
        if row is None:
            store.put_experiment(_new_row(project, experiment_id, now()))
        experiment = windowed.experiment(experiment_id)
        tables = analysis_rows(
            result.to_dict(), recommendation=(recommendation.verdict, recommendation.reasons),
            experiment_status=row["status"] if row else "draft",
            plan_hash=row["plan_hash"] if row else None,
            duration_s=round(time.perf_counter() - began, 3),
            window=(experiment.start_at(), experiment.end_at()),
        )
        saved = store.save_analysis(tables)
    record = store.experiment(experiment_id) or draft_record(project, experiment_id)
    return Recorded(result, recommendation, record, store.decisions(experiment_id), saved)


def windowed_project(project: Project, experiment_id: str,
                     stopped_at: dt.datetime | None) -> Project:
    """The project with the experiment's end moved to its stop time, if that is earlier."""
    experiment = project.experiment(experiment_id)
    if stopped_at is None:
        return project
    end = experiment.end_at()
    if end is not None and end <= stopped_at:
        return project
    capped = experiment.model_copy(update={"end": stopped_at})
    return dataclasses.replace(project, experiments={**project.experiments,
                                                     experiment_id: capped})


def draft_record(project: Project, experiment_id: str) -> ExperimentRecord:
    """The record of an experiment the store does not know yet."""
    experiment = project.experiment(experiment_id)
    return ExperimentRecord(experiment_id, experiment.name, experiment.owner, "draft", None, None,
                            None, None, None, None, None)


def _new_row(project: Project, experiment_id: str, when: dt.datetime) -> Row:
    experiment = project.experiment(experiment_id)
    return {"experiment_id": experiment_id, "name": experiment.name, "owner": experiment.owner,
            "status": "draft", "created_at": when, "updated_at": when, "plan_version": 0}


def _record(store: Store, experiment_id: str) -> ExperimentRecord:
    record = store.experiment(experiment_id)
    assert record is not None  # just written
    return record
