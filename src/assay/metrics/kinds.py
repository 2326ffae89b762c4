"""Activity kinds (funnel, retention, participation): one statement each, moments out.

Each kind builds, in the warehouse, one row per analysed unit with a few per-unit variables
(:mod:`assay.metrics.funnel`, :mod:`assay.metrics.activity`) and reduces them to per-arm (x
segment) sufficient statistics in the moments contract of :mod:`assay.stats.moments`, under
the column prefixes of *comparison plans*: ordinary ``proportion``, ``ratio`` or ``mean``
:class:`~assay.metrics.plan.MetricPlan` objects that the stats engine reads like any other
metric. So every comparison of a funnel (each step's conversion, each step-to-step ratio) is its
own result: the multiple-comparison family, segments, JSON, the store and reports take them as
they take every metric. Python sees the per-arm rows only.

A comparison plan's column prefix is ``m<1000 * (index + 1) + j>__`` (``index`` the metric's
place in the experiment, ``j`` the comparison's place in the metric), apart from the moments
statement's ``m<index>__``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from itertools import combinations_with_replacement
from typing import Any

from sqlglot import exp

from assay.metrics.compile import grouped
from assay.metrics.plan import ActivityPlan, AnalysisPlan, MetricPlan
from assay.metrics.scan import UNIT, VARIANT, alias, col, exposures_of, units_query, with_ctes
from assay.spec.models import MetricRefs
from assay.spec.project import Project
from assay.stats.moments import N_COLUMN, cross_column, sum_column

Row = dict[str, Any]


def comparison_plans(activity: ActivityPlan) -> list[tuple[MetricPlan, dict[str, str]]]:
    """The comparisons an activity metric reads, each with its variables' per-unit columns.

    A funnel of steps ``s_1 .. s_K`` reads ``name.s_k`` (the share of units reaching step
    ``k``, a proportion) for every step and ``name.s_(k-1)_to_s_k`` (units reaching ``k`` over
    units reaching ``k - 1``, a ratio by the delta method) for ``k >= 2``: ``2K - 1``
    comparisons. Retention is one proportion, participation one mean.
    """
    metric, base = activity.metric, 1000 * (activity.index + 1)
    out: list[tuple[MetricPlan, dict[str, str]]] = []

    def add(name: str, kind: str, variables: dict[str, int], columns: dict[str, str]) -> None:
        spec = metric.model_copy(update={"name": name, "kind": kind})
        steps = {var: activity.steps[i] for var, i in variables.items()}
        plan = MetricPlan(spec, activity.role, base + len(out), steps, cuped=False)
        out.append((plan, columns))

    if metric.kind == "retention":
        add(metric.name, "proportion", {"y": 0}, {"y": "y"})
    elif metric.kind == "participation":
        add(metric.name, "mean", {"y": 0}, {"y": "y"})
    else:
        names = activity.names
        for k, step in enumerate(names):
            add(f"{metric.name}.{step}", "proportion", {"y": k}, {"y": f"r{k}"})
        for k in range(1, len(names)):
            add(f"{metric.name}.{names[k - 1]}_to_{names[k]}", "ratio", {"num": k, "den": k - 1},
                {"num": f"r{k}", "den": f"r{k - 1}"})
    return out


def compile_activity(
    project: Project, experiment_id: str, activity: ActivityPlan, dialect: str | None = None
) -> exp.Query:
    """One activity metric's statement: per arm (x segment), its comparisons' moments."""
    from assay.metrics.activity import participation_ctes, retention_ctes
    from assay.metrics.funnel import funnel_ctes

    dialect = dialect or project.dialect
    experiment = project.experiment(experiment_id).model_copy(
        update={"metrics": MetricRefs(primary=[activity.metric.name])}
    )
    ctes: list[tuple[str, exp.Query]] = [
        ("e", exposures_of(project, experiment)),
        ("units", units_query(experiment, dialect)),
    ]
    build = {"funnel": funnel_ctes, "retention": retention_ctes,
             "participation": participation_ctes}[activity.metric.kind]
    ctes += build(project, experiment, activity, dialect)
    statistics: list[exp.Expr] = []
    for plan, columns in comparison_plans(activity):
        statistics += _moments(plan, columns)
    return with_ctes(grouped(exp.select(*statistics).from_("per_unit"), experiment), ctes)


def _moments(plan: MetricPlan, columns: dict[str, str]) -> list[exp.Expr]:
    """Units with a value (of the outcome), sums and cross-product sums (the contract)."""
    outcome = columns[plan.outcome]
    values = {var: exp.cast(col(c), exp.DataType.Type.DOUBLE) for var, c in columns.items()}
    out = [alias(exp.Count(this=col(outcome)), plan.prefix + N_COLUMN)]
    out += [alias(exp.Sum(this=v), plan.prefix + sum_column(var)) for var, v in values.items()]
    for a, b in combinations_with_replacement(sorted(values), 2):
        product = exp.Mul(this=values[a].copy(), expression=values[b].copy())
        out.append(alias(exp.Sum(this=product), plan.prefix + cross_column(a, b)))
    return out


def unit_columns(experiment_segments: Sequence[str]) -> list[exp.Expr]:
    """The per-unit key columns every kind's ``per_unit`` starts with (from ``units u``)."""
    return [col(UNIT, "u"), col(VARIANT, "u"), *(col(s, "u") for s in experiment_segments)]


def with_activities(plan: AnalysisPlan) -> AnalysisPlan:
    """``plan`` with every activity metric's comparison plans among its metrics (what the
    stats engine compares; the moments statement is compiled from ``plan`` itself)."""
    extra = [p for activity in plan.activities for p, _ in comparison_plans(activity)]
    return replace(plan, metrics=[*plan.metrics, *extra])


def activity_kinds(plan: AnalysisPlan) -> dict[str, str]:
    """Result metric name -> its activity kind (``funnel``, ``retention``, ``participation``)."""
    return {p.metric.name: a.metric.kind for a in plan.activities
            for p, _ in comparison_plans(a)}


def merge_rows(rows: list[Row], extra: list[Row], segments: Sequence[str]) -> list[Row]:
    """``rows`` with each row of ``extra`` merged into the row of the same arm and cell."""

    def key(row: Row) -> tuple[str, ...]:
        flags = [str(row.get(f"g__{s}")) for s in segments]
        values = [str(row.get(s)) for s in segments]
        return (str(row[VARIANT]), *flags, *values)

    merged = {key(r): dict(r) for r in rows}
    for row in extra:
        merged.setdefault(key(row), {}).update(row)
    return list(merged.values())


def relabel(comparisons: list[Any], plan: AnalysisPlan) -> list[Any]:
    """Comparisons with an activity metric's results carrying its kind (``funnel`` ...)
    rather than the statistic's (``proportion``, ``ratio``, ``mean``)."""
    kinds = activity_kinds(plan)
    return [
        replace(c, result=replace(c.result, kind=kinds[c.result.metric]))
        if c.result.metric in kinds else c
        for c in comparisons
    ]
