"""Before any data query: do the tables and columns the spec names exist? (catalogue look-ups)

A missing table or an unknown column is a spec problem: it is reported with the file and line of
the definition that names it and a did-you-mean hint, not as a warehouse stack trace.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from assay.errors import SpecError, SpecIssue
from assay.metrics.plan import AnalysisPlan
from assay.spec.activity import APPROX_DISTINCT_DIALECTS
from assay.spec.errors import did_you_mean
from assay.spec.models import MetricSpec, Source
from assay.spec.project import Project, Where
from assay.spec.sqlcheck import parse_expression
from assay.warehouse import Warehouse


def preflight(project: Project, plan: AnalysisPlan, warehouse: Warehouse) -> None:
    """Raise :class:`SpecError` listing every missing table and unknown column."""
    issues: list[SpecIssue] = []
    cache: dict[str, list[str] | None] = {}

    def columns(table: str) -> list[str] | None:
        if table not in cache:
            cache[table] = warehouse.columns(table)
        return cache[table]

    issues += _sketch_issues(project, plan, warehouse.dialect)
    project_where = project.where[("project", "")]
    exposures = project.spec.exposures
    if exposures.table is not None:
        needed = {
            "experiment_id": exposures.experiment_id,
            "variant": exposures.variant,
            "unit_id": exposures.unit_id,
            "timestamp": exposures.timestamp,
        }
        needed |= {f"segment {s}": s for s in plan.experiment.segments}
        issues += _check_table(
            exposures.table,
            needed,
            columns(exposures.table),
            project_where,
            ("exposures",),
            "the exposure table",
        )
    checked: set[Source] = set()
    quantiles = [(q.metric.name, {"y": q.measure}) for q in plan.quantiles]
    quantiles += [(a.metric.name, {str(i): m for i, m in enumerate(a.steps)})
                  for a in plan.activities]
    for name, variables in [(m.metric.name, m.variables) for m in plan.metrics] + quantiles:
        for measure in variables.values():
            if measure.source in checked or measure.source.table is None:
                continue
            checked.add(measure.source)
            where, loc = _source_location(project, measure.source)
            needed = {"unit": measure.source.unit, "timestamp": measure.source.timestamp}
            issues += _check_table(
                measure.source.table,
                needed,
                columns(measure.source.table),
                where,
                loc,
                "the source",
            )
        issues += _fragment_columns(project, name, columns)
    if issues:
        raise SpecError(issues)


def _check_table(
    table: str,
    needed: dict[str, str],
    found: list[str] | None,
    where: Where,
    loc: tuple[str, ...],
    what: str,
) -> list[SpecIssue]:
    if found is None:
        return [
            where.issue(
                (*loc, "table"),
                f"{what} table `{table}` does not exist in the warehouse",
                hint="check the name and schema (schema.table)",
            )
        ]
    issues = []
    for role, column in needed.items():
        if column not in found:
            field = role.split(" ")[0] if not role.startswith("segment") else "segments"
            issues.append(
                where.issue(
                    (*loc, field),
                    f"column `{column}` ({role}) is not in `{table}`",
                    hint=did_you_mean(column, found) or f"columns: {', '.join(found[:12])}",
                )
            )
    return issues


def _source_location(project: Project, source: Source) -> tuple[Where, tuple[str, ...]]:
    for name, named in project.spec.sources.items():
        if named == source:
            return project.where[("project", "")], ("sources", name)
    for metric_name, metric in project.metrics.items():
        if metric.source == source:
            return project.where[("metric", metric_name)], ("source",)
    return project.where[("project", "")], ()


def _fragment_columns(
    project: Project, name: str, columns: Callable[[str], list[str] | None]
) -> list[SpecIssue]:
    metric = project.metrics[name]
    if metric.kind == "funnel":
        return _step_columns(project, metric, columns)
    parts = (
        [metric]
        if metric.kind != "ratio"
        else [project.metrics[metric.numerator or ""], project.metrics[metric.denominator or ""]]
    )
    issues: list[SpecIssue] = []
    for part in parts:
        source = project.source_of(part)
        if source.table is None:
            continue
        found = columns(source.table)
        if found is None:
            continue
        where = project.where[("metric", part.name)]
        for field in ("value", "filter"):
            text = getattr(part, field)
            if text is None:
                continue
            for column in parse_expression(text, project.dialect).find_all(exp.Column):
                if column.name not in found:
                    issues.append(
                        where.issue(
                            (field,),
                            f"column `{column.name}` is not in `{source.table}`",
                            hint=did_you_mean(column.name, found),
                        )
                    )
    return issues


def _sketch_issues(project: Project, plan: AnalysisPlan, dialect: str) -> list[SpecIssue]:
    """``approx_count_distinct`` metrics on an engine without a built-in sketch."""
    if dialect in APPROX_DISTINCT_DIALECTS:
        return []
    read = [m.metric.name for m in plan.metrics] + [q.metric.name for q in plan.quantiles]
    read += [part for m in plan.metrics for part in (m.metric.numerator, m.metric.denominator)
             if part is not None]
    names = {name for name in read if name in project.metrics
             and project.metrics[name].aggregation == "approx_count_distinct"}
    return [project.where[("metric", name)].issue(
        ("aggregation",), f"the {dialect} warehouse has no built-in approximate distinct count",
        hint="use `count_distinct` (exact); `approx_count_distinct` runs on "
             + ", ".join(APPROX_DISTINCT_DIALECTS)) for name in sorted(names)]


def _step_columns(
    project: Project, metric: MetricSpec, columns: Callable[[str], list[str] | None]
) -> list[SpecIssue]:
    """Columns a funnel step's filter names that its source's table lacks."""
    issues: list[SpecIssue] = []
    where = project.where[("metric", metric.name)]
    for i, step in enumerate(metric.steps or []):
        carrier = metric.model_copy(update={"source": step.source or metric.source})
        source = project.source_of(carrier)
        found = columns(source.table) if source.table is not None else None
        if step.filter is None or found is None:
            continue
        for column in parse_expression(step.filter, project.dialect).find_all(exp.Column):
            if column.name not in found:
                issues.append(where.issue(("steps", i, "filter"),
                                          f"column `{column.name}` is not in `{source.table}`",
                                          hint=did_you_mean(column.name, found)))
    return issues
