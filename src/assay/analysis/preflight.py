"""Before any data query: do the tables and columns the spec names exist? (catalogue look-ups)

A missing table or an unknown column is a spec problem: it is reported with the file and line of
the definition that names it and a did-you-mean hint, not as a warehouse stack trace. Each table
is looked up once however many metrics, sources and experiments name it, and each problem is
reported once, at the definition that has it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlglot import exp

from assay.errors import SpecError, SpecIssue
from assay.metrics.plan import AnalysisPlan
from assay.spec.activity import APPROX_DISTINCT_DIALECTS
from assay.spec.errors import did_you_mean
from assay.spec.models import ExperimentSpec, MetricSpec, Source
from assay.spec.project import Project, Where
from assay.spec.sqlcheck import parse_expression
from assay.warehouse import Warehouse


class Catalogue:
    """The warehouse's column lists, each table looked up once."""

    def __init__(self, warehouse: Warehouse) -> None:
        self._warehouse = warehouse
        self._columns: dict[str, list[str] | None] = {}

    def columns(self, table: str) -> list[str] | None:
        """The columns of ``table``, or None if it does not exist."""
        if table not in self._columns:
            self._columns[table] = self._warehouse.columns(table)
        return self._columns[table]


def preflight(project: Project, plan: AnalysisPlan, warehouse: Warehouse) -> None:
    """Raise :class:`SpecError` listing every missing table and unknown column ``plan`` uses."""
    catalogue = Catalogue(warehouse)
    measures = [m for metric in plan.metrics for m in metric.variables.values()]
    measures += [q.measure for q in plan.quantiles]
    measures += [step for a in plan.activities for step in a.steps]
    metrics = [project.metrics[m.metric.name] for m in plan.metrics]
    metrics += [project.metrics[q.metric.name] for q in plan.quantiles]
    metrics += [project.metrics[a.metric.name] for a in plan.activities]
    issues = _sketch_issues(project, plan, warehouse.dialect)
    issues += _exposure_issues(project, [plan.experiment], catalogue)
    issues += _sources_issues(project, [m.source for m in measures], catalogue)
    issues += _metrics_issues(project, metrics, catalogue)
    issues += _covariate_columns(project, [plan.experiment],
                                 [m.metric for m in plan.metrics], catalogue.columns)
    if issues:
        raise SpecError(list(dict.fromkeys(issues)))


def catalogue_issues(project: Project, warehouse: Warehouse) -> list[SpecIssue]:
    """Every missing table and unknown column of the whole project, each reported once.

    Unlike :func:`preflight` (one experiment's plan), this covers every experiment, every metric
    and every source in ``assay_project.yml``, whether or not an experiment uses it: a source
    that names a missing table is an error before the day an experiment first needs it. It
    works on a partly loaded project too (what failed to load is already reported).
    """
    catalogue = Catalogue(warehouse)
    sources = list(project.spec.sources.values())
    sources += [m.source for m in project.metrics.values() if isinstance(m.source, Source)]
    sources += [s.source for m in project.metrics.values() for s in m.steps or []
                if isinstance(s.source, Source)]
    issues = _exposure_issues(project, list(project.experiments.values()), catalogue)
    issues += _sources_issues(project, sources, catalogue)
    issues += _metrics_issues(project, list(project.metrics.values()), catalogue)
    issues += _covariate_columns(project, project.experiments.values(),
                                 project.metrics.values(), catalogue.columns)
    return list(dict.fromkeys(issues))


def _exposure_issues(
    project: Project, experiments: list[ExperimentSpec], catalogue: Catalogue
) -> list[SpecIssue]:
    exposures = project.spec.exposures
    if exposures.table is None:
        return []
    found = catalogue.columns(exposures.table)
    needed = {
        "experiment_id": exposures.experiment_id,
        "variant": exposures.variant,
        "unit_id": exposures.unit_id,
        "timestamp": exposures.timestamp,
    }
    where = project.where[("project", "")]
    issues = _check_table(exposures.table, needed, found, where, ("exposures",),
                          "the exposure table")
    if found is None:
        return issues
    for experiment in experiments:
        here = project.where[("experiment", experiment.id)]
        for i, segment in enumerate(experiment.segments):
            if segment not in found:
                issues.append(here.issue(
                    ("segments", i),
                    f"column `{segment}` (segment) is not in `{exposures.table}`",
                    hint=did_you_mean(segment, found) or _listed(found),
                ))
    return issues


def _sources_issues(
    project: Project, sources: Iterable[Source], catalogue: Catalogue
) -> list[SpecIssue]:
    issues: list[SpecIssue] = []
    for source in dict.fromkeys(sources):
        if source.table is None:
            continue
        where, loc = _source_location(project, source)
        needed = {"unit": source.unit, "timestamp": source.timestamp}
        issues += _check_table(source.table, needed, catalogue.columns(source.table), where,
                               loc, "the source")
    return issues


def _covariate_columns(
    project: Project, experiments: Iterable[ExperimentSpec], metrics: Iterable[MetricSpec],
    columns: Callable[[str], list[str] | None],
) -> list[SpecIssue]:
    """Each ``attribute``/``prediction`` covariate of ``experiments`` and ``metrics`` names a
    column of its table (the exposure table, or its source's), located at the covariate."""
    places = [(project.where[("experiment", e.id)], e.covariates) for e in experiments]
    places += [(project.where[("metric", m.name)], m.covariates)
               for m in metrics if m.name in project.metrics]
    issues: list[SpecIssue] = []
    for where, covariates in places:
        for i, covariate in enumerate(covariates):
            column = covariate.attribute or covariate.prediction
            if column is None:
                continue
            field = "attribute" if covariate.attribute else "prediction"
            source = (project.spec.sources.get(covariate.source) if covariate.source
                      else None)
            table = project.spec.exposures.table if source is None else source.table
            found = columns(table) if table is not None else None
            if found is not None and column not in found:
                issues.append(where.issue(
                    ("covariates", i, field), f"column `{column}` is not in `{table}`",
                    hint=did_you_mean(column, found) or f"columns: {', '.join(found[:12])}"))
    return issues


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
    return [
        where.issue(
            (*loc, role),
            f"column `{column}` ({role}) is not in `{table}`",
            hint=did_you_mean(column, found) or _listed(found),
        )
        for role, column in needed.items()
        if column not in found
    ]


def _listed(columns: list[str]) -> str:
    return f"columns: {', '.join(columns[:12])}"


def _source_location(project: Project, source: Source) -> tuple[Where, tuple[str, ...]]:
    for name, named in project.spec.sources.items():
        if named == source:
            return project.where[("project", "")], ("sources", name)
    for metric_name, metric in project.metrics.items():
        if metric.source == source:
            return project.where[("metric", metric_name)], ("source",)
    return project.where[("project", "")], ()


def _metrics_issues(
    project: Project, metrics: Iterable[MetricSpec], catalogue: Catalogue
) -> list[SpecIssue]:
    """Columns of ``value`` and ``filter`` missing from the source, once per definition (a
    ratio's parts are checked as the metrics they are)."""
    parts: dict[str, MetricSpec] = {}
    issues: list[SpecIssue] = []
    for metric in metrics:
        if metric.kind == "funnel":
            issues += _step_issues(project, metric, catalogue)
            continue
        if metric.kind != "ratio":
            parts[metric.name] = metric
            continue
        for name in (metric.numerator, metric.denominator):
            if name in project.metrics:
                parts[name] = project.metrics[name]
    for part in parts.values():
        if isinstance(part.source, str) and part.source not in project.spec.sources:
            continue  # an unknown source is reported by the spec checks
        source = project.source_of(part)
        found = None if source.table is None else catalogue.columns(source.table)
        if found is None:
            continue
        where = project.where[("metric", part.name)]
        for field in ("value", "filter"):
            text = getattr(part, field)
            if text is None:
                continue
            try:
                columns = parse_expression(text, project.dialect).find_all(exp.Column)
            except ValueError:
                continue  # reported by the spec checks
            for name in dict.fromkeys(c.name for c in columns):
                if name not in found:
                    issues.append(where.issue(
                        (field,),
                        f"column `{name}` is not in `{source.table}`",
                        hint=did_you_mean(name, found),
                    ))
    return issues


def _step_issues(project: Project, metric: MetricSpec, catalogue: Catalogue) -> list[SpecIssue]:
    """Columns a funnel step's filter names that its source's table lacks."""
    issues: list[SpecIssue] = []
    where = project.where[("metric", metric.name)]
    for i, step in enumerate(metric.steps or []):
        named = step.source or metric.source
        if named is None or (isinstance(named, str) and named not in project.spec.sources):
            continue  # an unknown source is reported by the spec checks
        source = project.source_of(metric.model_copy(update={"source": named}))
        found = None if source.table is None else catalogue.columns(source.table)
        if step.filter is None or found is None:
            continue
        try:
            columns = parse_expression(step.filter, project.dialect).find_all(exp.Column)
        except ValueError:
            continue  # reported by the spec checks
        for name in dict.fromkeys(c.name for c in columns):
            if name not in found:
                issues.append(where.issue(("steps", i, "filter"),
                                          f"column `{name}` is not in `{source.table}`",
                                          hint=did_you_mean(name, found)))
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
