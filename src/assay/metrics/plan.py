"""Plan an experiment's metrics: which per-unit measures each needs, deduplicated across metrics.

A *measure* is one per-unit aggregate of one source (``SUM(amount)`` over ``[0d, 14d)`` after the
first exposure, say). Metrics map measures to the variables of their sufficient statistics:
a mean metric's ``y`` (and CUPED's ``x``), a ratio's ``num``/``den`` (and ``num_pre``/``den_pre``).
Two metrics sharing a measure (``revenue`` and the numerator of ``aov``) compute it once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from assay.spec.activity import ACTIVITY_KINDS
from assay.spec.models import Capping, ExperimentSpec, MetricSpec, Source, Window
from assay.spec.project import Project


@dataclass(frozen=True)
class Measure:
    """One per-unit aggregate over one source's events.

    ``window`` None means from the first exposure to the experiment's end.
    ``aggregation`` is ``any`` for proportions (1 if any qualifying event, else 0).
    """

    source: Source
    value: str | None
    filter: str | None
    aggregation: str
    window: Window | None
    capping: Capping | None = None

    @property
    def fills_zero(self) -> bool:
        """Units without events get 0 (sum, count, any) rather than no value (avg, max, min)."""
        return self.aggregation in ("sum", "count", "count_distinct", "approx_count_distinct",
                                    "any")

    @property
    def zero_without_events(self) -> bool:
        """A unit without events adds nothing to this measure's sums: its value is 0 (or none)
        and no cap moves it."""
        capping = self.capping
        if capping is None:
            return True
        return (
            capping.winsorize is None
            and (capping.max is None or capping.max >= 0)
            and (capping.min is None or capping.min <= 0)
        )


@dataclass(frozen=True)
class MetricPlan:
    """How one metric of the experiment is computed.

    Attributes:
        metric: The definition.
        role: ``primary``, ``secondary`` or ``guardrail``.
        index: Position in the experiment; names the metric's SQL columns (``m0__n`` ...).
        variables: Variable name -> measure (``{"y": ..., "x": ...}``).
        cuped: Whether a pre-period covariate is part of the statistics.
        covariates: Variable (``z0`` ...) -> label of each ``covariates:`` entry; when set the
            metric is regression-adjusted on them (and on ``x`` when CUPED is on).
    """

    metric: MetricSpec
    role: str
    index: int
    variables: dict[str, Measure]
    cuped: bool
    covariates: dict[str, str] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        """Column prefix of this metric's sufficient statistics."""
        return f"m{self.index}__"

    @property
    def outcome(self) -> str:
        """The variable whose presence decides whether a unit counts (``y`` or ``num``)."""
        return "num" if self.metric.kind == "ratio" else "y"


@dataclass(frozen=True)
class QuantilePlan:
    """A quantile metric of the experiment: computed by its own statement
    (:mod:`assay.metrics.quantiles`), not from moments.

    Attributes:
        metric: The definition (``kind: quantile``).
        role: ``primary``, ``secondary`` or ``guardrail``.
        index: Position in the experiment (results keep the spec's order).
        measure: The per-unit aggregate (``quantile_of: unit``) or, for event-level quantiles,
            the per-event value and filter in the window (its aggregation is ``event``).
    """

    metric: MetricSpec
    role: str
    index: int
    measure: Measure


@dataclass(frozen=True)
class ActivityPlan:
    """A funnel, retention or participation metric: computed by its own statement
    (:mod:`assay.metrics.kinds`) into the moments of the comparisons it reads.

    Attributes:
        metric: The definition.
        role: ``primary``, ``secondary`` or ``guardrail``.
        index: Position in the experiment.
        steps: The qualifying events (``any`` in the window): a funnel's steps in order, or
            the one activity a retention or participation metric looks for.
        names: A name per step (a funnel's step names; the metric's own otherwise).
    """

    metric: MetricSpec
    role: str
    index: int
    steps: tuple[Measure, ...]
    names: tuple[str, ...]


@dataclass
class AnalysisPlan:
    """Every moment-based metric's plan plus the distinct measures, grouped by source, and
    the quantile metrics (which need order statistics, not sums)."""

    experiment: ExperimentSpec
    metrics: list[MetricPlan]
    measures: dict[Measure, str] = field(default_factory=dict)
    quantiles: list[QuantilePlan] = field(default_factory=list)
    activities: list[ActivityPlan] = field(default_factory=list)
    shifts: dict[Measure, float] = field(default_factory=dict)

    def shift(self, measure: Measure) -> float:
        """The constant ``measure`` is centred on in the moments (0: not shifted)."""
        return self.shifts.get(measure, 0.0)

    def counts_nulls(self, measure: Measure) -> bool:
        """Whether the SQL counts ``measure``'s NULL values (``<column>__nulls``).

        Only in analysis windows (a metric's ``y``, ``num`` or ``den``): the NULL-values check
        reports those, and each counter is an extra aggregate over every event (skipping the
        pre-period ones saved ~7% of the metrics statement's CPU on the 10M-unit benchmark).
        """
        return measure.value is not None and any(
            metric.variables.get(var) == measure
            for metric in self.metrics
            for var in ("y", "num", "den")
        )

    def by_source(self) -> dict[Source, list[tuple[Measure, str]]]:
        """Measures grouped by the source they scan (one scan per source)."""
        out: dict[Source, list[tuple[Measure, str]]] = {}
        for measure, column in self.measures.items():
            out.setdefault(measure.source, []).append((measure, column))
        return out


def plan_experiment(project: Project, experiment: ExperimentSpec) -> AnalysisPlan:
    """Plan the metrics an experiment reads (spec already validated)."""
    plan = AnalysisPlan(experiment, [])
    for index, (name, role) in enumerate(experiment.metrics.all()):
        metric = project.metrics[name]
        if metric.kind == "quantile":
            measure = quantile_measure(project, metric)
            plan.quantiles.append(QuantilePlan(metric, role, index, measure))
            continue
        if metric.kind in ACTIVITY_KINDS:
            plan.activities.append(activity_plan(project, metric, role, index))
            continue
        variables = _variables(project, metric, experiment.cuped)
        labels = _add_covariates(project, experiment, metric, variables)
        for measure in variables.values():
            plan.measures.setdefault(measure, f"a{len(plan.measures)}")
        plan.metrics.append(
            MetricPlan(
                metric, role, index, variables, cuped="x" in variables or "num_pre" in variables,
                covariates=labels,
            )
        )
    return plan


def _variables(project: Project, metric: MetricSpec, cuped: bool) -> dict[str, Measure]:
    if metric.kind != "ratio":
        out = {"y": _measure(project, metric, metric.window)}
        if cuped and metric.pre_window is not None:
            out["x"] = _measure(project, metric, metric.pre_window)
        return out
    num = project.metrics[metric.numerator or ""]
    den = project.metrics[metric.denominator or ""]
    out = {"num": _measure(project, num, num.window), "den": _measure(project, den, den.window)}
    num_pre = metric.pre_window or num.pre_window
    den_pre = metric.pre_window or den.pre_window
    if cuped and num_pre is not None and den_pre is not None:
        out["num_pre"] = _measure(project, num, num_pre)
        out["den_pre"] = _measure(project, den, den_pre)
    return out


def _add_covariates(
    project: Project, experiment: ExperimentSpec, metric: MetricSpec,
    variables: dict[str, Measure],
) -> dict[str, str]:
    """Add the metric's ``covariates:`` to ``variables``; their labels by variable."""
    from assay.metrics.covariates import covariate_measures

    labels = {}
    for var, (label, measure) in covariate_measures(project, experiment, metric).items():
        if measure not in variables.values():  # e.g. CUPED's own pre-period, already ``x``
            variables[var] = measure
            labels[var] = label
    return labels


def pre_period_measure(project: Project, metric: MetricSpec, window: Window | None) -> Measure:
    """A mean or proportion metric's per-unit measure over ``window`` (a pre-period)."""
    return _measure(project, metric, window)


def quantile_measure(project: Project, metric: MetricSpec) -> Measure:
    """What a quantile metric takes the quantile of: a per-unit aggregate, or (aggregation
    ``event``) each qualifying event's value."""
    aggregation = "event" if metric.quantile_of == "event" else metric.aggregation
    value = None if aggregation == "count" else metric.value
    return Measure(
        project.source_of(metric), value, metric.filter, aggregation, metric.window, None
    )


def activity_plan(project: Project, metric: MetricSpec, role: str, index: int) -> ActivityPlan:
    """The events an activity metric looks for: per funnel step (each step's source, or the
    funnel's), or the metric's own source and filter."""
    if metric.kind != "funnel":
        step = Measure(project.source_of(metric), None, metric.filter, "any", metric.window)
        return ActivityPlan(metric, role, index, (step,), (metric.name,))
    steps = []
    for step_spec in metric.steps or []:
        carrier = metric.model_copy(update={"source": step_spec.source or metric.source})
        steps.append(Measure(project.source_of(carrier), None, step_spec.filter, "any",
                             metric.window))
    return ActivityPlan(metric, role, index, tuple(steps),
                        tuple(s.name for s in metric.steps or []))


def _measure(project: Project, metric: MetricSpec, window: Window | None) -> Measure:
    aggregation = "any" if metric.kind == "proportion" else metric.aggregation
    value = None if aggregation in ("count", "any") else metric.value
    return Measure(
        project.source_of(metric),
        value,
        metric.filter,
        aggregation,
        window,
        metric.capping if metric.kind == "mean" else None,
    )


def window_bounds(measures: list[Measure]) -> tuple[dt.timedelta | None, dt.timedelta | None]:
    """Earliest start and latest end, relative to first exposure, over some measures.

    ``None`` for the end means some measure runs to the experiment's end.
    """
    starts = [m.window.start if m.window else dt.timedelta(0) for m in measures]
    ends = [m.window.end if m.window else None for m in measures]
    latest = None if any(e is None for e in ends) else max(e for e in ends if e is not None)
    return (min(starts) if starts else None), latest
