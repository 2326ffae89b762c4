"""Typed records of the results store: what :class:`assay.store.Store`'s readers return.

Plain frozen data, one class per table (``ExperimentRecord`` also carries the latest analysis
and decision, which is what a list of experiments shows). Times are naive UTC datetimes.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any, Literal

ExperimentStatus = Literal["draft", "running", "stopped", "decided", "abandoned"]
STATUSES: tuple[ExperimentStatus, ...] = ("draft", "running", "stopped", "decided", "abandoned")
DecisionKind = Literal["ship", "rollback", "iterate", "no-decision"]
DECISION_KINDS: tuple[DecisionKind, ...] = ("ship", "rollback", "iterate", "no-decision")


@dataclass(frozen=True)
class PlanRecord:
    """One frozen version of an experiment's analysis plan.

    Attributes:
        experiment_id: The experiment.
        plan_version: 1 at ``assay start``, +1 at each ``--amend``.
        frozen_at: When this version was frozen.
        plan_hash: SHA-256 of the canonical JSON of ``plan``.
        plan: The experiment spec and every metric it uses, as JSON data
            (``{"experiment": ..., "metrics": {name: ...}, "metric_hashes": {name: sha}}``).
        spec_text: The experiment file's text at that time.
        reason: Why it was frozen (``start`` or the ``--why`` of an amendment).
    """

    experiment_id: str
    plan_version: int
    frozen_at: dt.datetime
    plan_hash: str
    plan: dict[str, Any]
    spec_text: str | None
    reason: str | None


@dataclass(frozen=True)
class DecisionRecord:
    """A human decision about an experiment, and what it was based on."""

    decision_id: str
    experiment_id: str
    decided_at: dt.datetime
    decision: str
    variant: str | None
    decided_by: str
    rationale: str
    link: str | None
    owner: str | None
    analysis_id: str
    spec_hash: str | None
    recommendation: str
    recommendation_reasons: list[str]
    override: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (times as ISO text)."""
        return _jsonable(self.__dict__)


@dataclass(frozen=True)
class AnalysisRecord:
    """One stored analysis (without its full JSON; see :meth:`Store.result_json`)."""

    analysis_id: str
    experiment_id: str
    run_at: dt.datetime
    fingerprint: str
    spec_hash: str | None
    plan_hash: str | None
    experiment_status: str | None
    window_start: dt.datetime | None
    window_end: dt.datetime | None
    duration_s: float | None
    units: int
    alpha: float | None
    correction: str | None
    check_status: str | None
    recommendation: str | None
    recommendation_reasons: list[str]
    versions: dict[str, str]


@dataclass(frozen=True)
class ResultRecord:
    """One metric x variant (x segment) comparison of a stored analysis.

    ``columns`` holds every typed column of the ``results`` row; the attributes are the figures
    readers use most.
    """

    analysis_id: str
    metric: str
    role: str
    variant: str
    segment: str | None
    segment_value: str | None
    diff: float | None
    diff_ci: tuple[float | None, float | None]
    rel_lift: float | None
    rel_lift_ci: tuple[float | None, float | None]
    rel_lift_ci_adjusted: tuple[float | None, float | None]
    p_value: float | None
    p_value_adjusted: float | None
    significant: bool | None
    error: str | None
    columns: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class CheckRecord:
    """One trust check's verdict in a stored analysis.

    ``code`` (what the check found, e.g. ``srm_segment``) and ``remedy`` (what to do) are None
    for a passing check without them, and for rows stored before schema version 3.
    """

    analysis_id: str
    name: str
    status: str
    message: str
    figures: dict[str, Any]
    code: str | None = None
    remedy: str | None = None


@dataclass(frozen=True)
class ExperimentRecord:
    """An experiment's lifecycle row, with its latest analysis and decision.

    Attributes:
        status: ``draft``, ``running``, ``stopped``, ``decided`` or ``abandoned``.
        latest_run_at: Run time of the newest stored analysis (None: never analysed).
        latest_recommendation: The automatic recommendation of that analysis.
        latest_check_status: Its worst check status (pass, warn, fail).
        latest_decision: The newest human decision (``ship`` ...), or None.
    """

    experiment_id: str
    name: str | None
    owner: str | None
    status: ExperimentStatus
    created_at: dt.datetime | None
    started_at: dt.datetime | None
    stopped_at: dt.datetime | None
    decided_at: dt.datetime | None
    abandoned_at: dt.datetime | None
    plan_version: int | None
    plan_hash: str | None
    latest_analysis_id: str | None = None
    latest_run_at: dt.datetime | None = None
    latest_recommendation: str | None = None
    latest_check_status: str | None = None
    latest_decision: str | None = None

    def lifecycle(self) -> dict[str, Any]:
        """The ``lifecycle`` object of the JSON output (docs/json-schema.md)."""
        return _jsonable({
            "status": self.status, "owner": self.owner, "started_at": self.started_at,
            "stopped_at": self.stopped_at, "decided_at": self.decided_at,
            "abandoned_at": self.abandoned_at, "plan_version": self.plan_version,
            "plan_hash": self.plan_hash,
        })


def loads(text: Any, default: Any) -> Any:
    """Decode a JSON text column (NULL gives ``default``)."""
    return default if text is None else json.loads(str(text))


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat(timespec="seconds") if isinstance(v, dt.datetime) else v
            for k, v in values.items()}
