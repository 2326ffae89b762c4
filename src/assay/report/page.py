"""The experiment page as data: what the dashboard and the HTML report both show.

:class:`ExperimentPage` gathers one experiment's stored facts (its latest analysis, earlier
analyses, lifecycle and decisions) and :func:`result_view` turns an analysis into rows of
formatted figures and CI bars. Templates only lay these out, so the web page, the offline
report and a notebook cell show the same figures, formatted once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from assay.report import charts
from assay.report.figures import figures
from assay.report.intervals import ci_header, interval_note, shown_intervals
from assay.results import AnalysisResult, Check, Decision, MetricResult, decide

if TYPE_CHECKING:
    from assay.spec.models import ExperimentSpec
    from assay.store.records import DecisionRecord, ExperimentRecord, PlanRecord

#: What to do when a check does not pass, for checks that carry no ``remedy`` of their own
#: (results stored by earlier builds; some put theirs in ``figures["action"]``).
ADVICE = {
    "srm": "Do not read the lifts: find why one arm lost or gained units (assignment, "
    "logging, bots, a redirect) and fix it before analysing again.",
    "empty_arms": "Check that every variant is logged under the name the spec declares.",
    "exposures": "Check the exposure source and the experiment's id and dates.",
    "undeclared_variants": "Declare the variant in the spec or fix the logging that sends it.",
    "multiple_variants": "Find why units switch arms (unstable ids, reassignment) before trusting "
    "the result.",
    "duplicate_exposures": "Dedupe exposures at the source; analysis counts each unit once.",
    "exposure_dates": "Check the spec's start and end against the logged exposures.",
    "missing_unit_ids": "Fix the logger so that every exposure carries a unit id.",
    "missing_variants": "Fix the logger so that every exposure records the variant it served.",
    "unit_match": "Compare the source's unit column with the exposures' unit id (the same id, "
    "its type, case and any prefix).",
    "data_coverage": "Rerun when the sources have caught up, or end the experiment earlier so "
    "that every unit's window is complete.",
    "sample_size": "Let the experiment run to its planned sample size before deciding.",
}


@dataclass(frozen=True)
class Row:
    """One comparison, formatted for a table."""

    metric: str
    role: str
    variant: str
    segment: str | None
    mean_control: str
    mean_treatment: str
    diff: str
    diff_ci: str
    rel_lift: str
    rel_lift_ci: str
    p_value: str
    p_value_adjusted: str
    verdict: str
    tone: str
    method: str
    error: str | None
    bar: Markup


@dataclass(frozen=True)
class CheckRow:
    """A check's verdict with its sentence and what to do about it."""

    name: str
    status: str
    message: str
    action: str | None


@dataclass(frozen=True)
class SegmentGroup:
    """The rows of one segment dimension (``platform``: ios, android, web)."""

    segment: str
    rows: list[Row]


@dataclass(frozen=True)
class ResultView:
    """An analysis, formatted: arms, results, segments and checks."""

    result: AnalysisResult
    recommendation: Decision
    ci_label: str
    interval_note: str | None
    rows: list[Row]
    segments: list[SegmentGroup]
    checks: list[CheckRow]


@dataclass(frozen=True)
class Chart:
    """A titled SVG chart."""

    title: str
    svg: Markup


@dataclass
class ExperimentPage:
    """Everything the experiment page shows; only ``experiment`` is required.

    Attributes:
        experiment: Experiment id.
        view: The latest analysis, formatted (None before the first one).
        name, hypothesis, owner, status, start, end: From the store's lifecycle (or the spec).
        plan: The design as ``(field, value)`` pairs: the frozen plan once started, else the spec.
        plan_note: Where the plan comes from (frozen when, version, why; or "not frozen").
        plan_hash: Its hash, when frozen.
        decisions: Recorded human decisions, oldest first (dicts with at, by, decision,
            variant, note, override).
        charts: Lift over time, units per day ... in the order shown.
        metric_links: Whether metric names link to metric pages (the dashboard only).
    """

    experiment: str
    view: ResultView | None = None
    name: str | None = None
    hypothesis: str | None = None
    owner: str | None = None
    status: str | None = None
    start: str | None = None
    end: str | None = None
    plan: list[tuple[str, str]] = field(default_factory=list)
    plan_note: str | None = None
    plan_hash: str | None = None
    decisions: list[dict[str, Any]] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    metric_links: bool = False

    @property
    def title(self) -> str:
        """The human name, else the id."""
        return self.name or self.experiment


def result_view(result: AnalysisResult) -> ResultView:
    """Format an analysis for the templates (nothing is recomputed: values are the result's)."""
    groups: dict[str, list[MetricResult]] = {}
    for r in result.segments:
        groups.setdefault(str(r.segment), []).append(r)
    return ResultView(
        result=result,
        recommendation=decide(result),
        ci_label=ci_header(result),
        interval_note=interval_note(result),
        rows=rows(result.results),
        segments=[SegmentGroup(name, rows(members)) for name, members in groups.items()],
        checks=[check_row(c) for c in result.checks],
    )


def rows(results: Sequence[MetricResult], bar_width: int = 160) -> list[Row]:
    """Formatted rows whose CI bars share one scale."""
    scale = charts.symmetric_scale(
        [b for r in results if r.error is None for b in (shown_intervals(r)[1], (r.rel_lift,) * 2)],
        bar_width,
    )
    return [_row(r, scale) for r in results]


def _row(r: MetricResult, scale: charts.Scale) -> Row:
    """One comparison's figures, formatted as every renderer formats them (report.figures)."""
    shown = figures(r)
    lift_ci = shown_intervals(r)[1]
    tone = {"better": "better", "worse": "worse"}.get(shown.verdict, "neutral")
    vr = r.cuped_variance_reduction
    covariates = list(r.covariate_coefficients)
    on = f" on {', '.join(covariates)}" if covariates else ""
    method = r.method + on + ("" if vr is None else f", variance −{vr:.0%}")
    segment = None if r.segment is None else f"{r.segment}={r.segment_value}"
    label = f"{r.metric} {r.variant}: {shown.lift} {shown.lift_ci}"
    bar = (
        Markup("")
        if r.error is not None
        else charts.ci_bar(r.rel_lift, lift_ci, scale, tone, label)
    )
    return Row(
        metric=r.metric, role=r.role, variant=r.variant, segment=segment,
        mean_control=shown.control, mean_treatment=shown.treatment, diff=shown.diff,
        diff_ci=shown.diff_ci, rel_lift=shown.lift, rel_lift_ci=shown.lift_ci,
        p_value=shown.p, p_value_adjusted=shown.p_adjusted, verdict=shown.verdict, tone=tone,
        method=method, error=r.error, bar=bar,
    )


def check_row(check: Check) -> CheckRow:
    """A check with what to do about it (nothing when it passed): its own remedy, else the
    advice for its name."""
    action = None
    if check.status != "pass":
        own = check.remedy or check.figures.get("action")
        action = str(own) if own else ADVICE.get(check.name)
    return CheckRow(check.name, check.status, check.message, action)


def lift_charts(history: Sequence[AnalysisResult], *, limit: int = 4) -> list[Chart]:
    """Relative lift and its interval at each stored analysis, per primary comparison.

    ``history`` is oldest first; each point is one stored analysis (cumulative to its date).
    Only primary and guardrail metrics are drawn (at most ``limit`` charts).
    """
    series: dict[tuple[str, str, str], list[charts.Point]] = {}
    for result in history:
        label = _look_label(result)
        for r in result.results:
            if r.role not in ("primary", "guardrail") or r.error is not None:
                continue
            low, high = shown_intervals(r)[1]
            series.setdefault((r.role, r.metric, r.variant), []).append(
                charts.Point(label, r.rel_lift, low, high)
            )
    ordered = sorted(series.items(), key=lambda kv: (kv[0][0] != "primary", kv[0][1], kv[0][2]))
    out = []
    for (role, metric, variant), points in ordered[:limit]:
        title = f"{metric} ({role}), {variant} vs control: relative lift over time"
        out.append(Chart(title, charts.lift_over_time(points, title)))
    return out


def units_chart(history: Sequence[AnalysisResult]) -> Chart:
    """Units analysed per arm at each stored analysis (cumulative: traffic as it arrived).

    ``history`` is oldest first; an arm missing from an analysis counts 0 there.
    """
    title = "Units analysed per arm, at each stored analysis"
    arms = list(dict.fromkeys(a.variant for result in history for a in result.arms))
    by_look = [{a.variant: a.units for a in result.arms} for result in history]
    series = [charts.Series(arm, [look.get(arm, 0) for look in by_look]) for arm in arms]
    return Chart(title, charts.counts([_look_label(r) for r in history], series, title))


def daily_units_chart(result: AnalysisResult) -> Chart | None:
    """Units first exposed per day and arm, from the stored ``srm_by_day`` check's figures.

    None when the analysis recorded fewer than two days (or predates the per-arm counts).
    """
    check = next((c for c in result.checks if c.name == "srm_by_day"), None)
    units = check.figures.get("units") if check is not None else None
    days = check.figures.get("days") if check is not None else None
    if not isinstance(units, dict) or not isinstance(days, list) or len(days) < 2:
        return None
    title = "Units first exposed per day, per arm"
    series = [charts.Series(str(arm), [int(n) for n in counts]) for arm, counts in units.items()]
    return Chart(title, charts.counts([str(d) for d in days], series, title))


def _look_label(result: AnalysisResult) -> str:
    """A short label for one analysis: when it ran."""
    return when(result.run_at)



def experiment_page(
    experiment_id: str,
    history: Sequence[AnalysisResult],
    *,
    spec: ExperimentSpec | None = None,
    record: ExperimentRecord | None = None,
    plan: PlanRecord | None = None,
    decisions: Sequence[DecisionRecord] = (),
    metric_links: bool = False,
) -> ExperimentPage:
    """The experiment page from stored records (``history``: its analyses, oldest first).

    The frozen plan is shown once the experiment started; before that, the spec's design.
    """
    latest = history[-1] if history else None
    design: dict[str, Any] = {}
    note = "not frozen yet: the design as the spec reads now (assay start freezes it)"
    if plan is not None:
        design = dict(plan.plan.get("experiment") or {})
        note = (f"frozen {when(plan.frozen_at)} (version {plan.plan_version}"
                + (f": {plan.reason}" if plan.reason else "") + ")")
    elif spec is not None:
        design = spec.model_dump(mode="json", exclude_defaults=True)
    started = record.started_at if record else None
    ended = record.stopped_at if record else None
    return ExperimentPage(
        experiment=experiment_id,
        view=result_view(latest) if latest else None,
        name=(record.name if record else None) or (spec.name if spec else None)
        or (latest.name if latest else None),
        hypothesis=(spec.hypothesis if spec else None) or design.get("hypothesis")
        or (latest.hypothesis if latest else None),
        owner=(record.owner if record else None) or (spec.owner if spec else None),
        status=record.status if record else "draft",
        start=when(started) if started else text(design.get("start")) or None,
        end=when(ended) if ended else text(design.get("end")) or None,
        plan=plan_pairs(design),
        plan_note=note if design else None,
        plan_hash=plan.plan_hash if plan else None,
        decisions=[decision_dict(d) for d in decisions],
        charts=_charts(history),
        metric_links=metric_links,
    )


def _charts(history: Sequence[AnalysisResult]) -> list[Chart]:
    """Units per day and arm (the latest analysis); lift and units over stored analyses."""
    daily = daily_units_chart(history[-1]) if history else None
    over_time = [*lift_charts(history), units_chart(history)] if len(history) > 1 else []
    return [*([daily] if daily is not None else []), *over_time]


def decision_dict(d: DecisionRecord) -> dict[str, Any]:
    """A stored decision as the templates show it."""
    return {"at": when(d.decided_at), "by": d.decided_by, "decision": d.decision,
            "variant": d.variant, "note": d.rationale, "override": d.override,
            "recommendation": d.recommendation}


_PLAN_KEYS = ("unit", "variants", "traffic", "start", "end", "metrics", "alpha", "correction",
              "cuped", "planned_sample_size", "segments", "sequential", "bayesian", "layer",
              "targeting")


def plan_pairs(design: dict[str, Any]) -> list[tuple[str, str]]:
    """An experiment design's fields as (field, text) pairs for the plan panel."""
    return [(k, text(design[k])) for k in _PLAN_KEYS if design.get(k) not in (None, [], {})]


def text(value: Any) -> str:
    """A spec value as one line of text (variants as ``name (weight, control)``, booleans as
    the spec writes them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(text(v) for v in value)
    if isinstance(value, dict):
        if "name" in value and "weight" in value:
            control = ", control" if value.get("control") else ""
            return f"{value['name']} ({value['weight']:g}{control})"
        return "; ".join(f"{k}: {text(v)}" for k, v in value.items() if v not in (None, [], {}))
    return "" if value is None else str(value)


def when(value: dt.datetime | dt.date | str | None) -> str:
    """A stored time as ``YYYY-MM-DD HH:MM`` (UTC), a date as ``YYYY-MM-DD``."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.replace("T", " ")[:16]
    if not isinstance(value, dt.datetime):
        return value.isoformat()
    return value.strftime("%Y-%m-%d %H:%M")
