"""Cross-reference checks over a loaded project (no warehouse needed).

Models check each file's shape; here we check what spans files: metric names an experiment uses,
named sources, ratio components, SQL fragments that must parse, CUPED without a pre-period.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from assay.errors import SpecIssue
from assay.spec.activity import ACTIVITY_KINDS, APPROX_DISTINCT_DIALECTS
from assay.spec.covariates import covariate_issues
from assay.spec.errors import did_you_mean
from assay.spec.models import ExperimentSpec, MetricSpec, Source
from assay.spec.sqlcheck import parse_expression, parse_query

if TYPE_CHECKING:
    from assay.spec.project import Project, Where


def validate_project(project: Project) -> list[SpecIssue]:
    """Every cross-file problem in ``project``, errors and warnings.

    Salt hygiene (shared or correlated salts) takes a hashing test and runs in
    ``assay validate`` (:func:`salt_issues`), not on every load.
    """
    issues = _check_sources(project)
    issues += _check_metrics(project)
    issues += _check_experiments(project)
    issues += _check_assignment(project)
    issues += covariate_issues(project)
    issues += _unloaded_references(project)
    return issues


def _check_assignment(project: Project) -> list[SpecIssue]:
    """What the SDK would refuse: unknown forced variants, holdout cycles, bad targeting."""
    from assay.assign.engine import compile_experiments
    from assay.errors import SpecError

    try:
        compile_experiments(project.experiments)
    except SpecError as err:
        return [_relocated(project, issue) for issue in err.issues]
    return []


def _relocated(project: Project, issue: SpecIssue) -> SpecIssue:
    """Give an assignment issue the experiment file's real path and the field's line."""
    where = project.where.get(("experiment", issue.file.rsplit("/", 1)[-1].removesuffix(".yml")))
    if where is None:
        return issue
    loc = tuple(issue.field.split(".")) if issue.field else ()
    return where.issue(loc, issue.message, value=issue.value, hint=issue.hint,
                       severity=issue.severity)


def salt_issues(project: Project) -> list[SpecIssue]:
    """Salt hygiene findings, located at the salt of the first experiment involved."""
    from assay.assign.hygiene import check_salts

    issues = []
    for finding in check_salts(project.experiments):
        where = project.where[("experiment", finding.experiments[0])]
        issues.append(where.issue(("salt",), f"{finding.code}: {finding.message}",
                                  severity=finding.severity))
    return issues


def _check_sources(project: Project) -> list[SpecIssue]:
    where = project.where[("project", "")]
    issues: list[SpecIssue] = []
    exposures = project.spec.exposures
    if exposures.sql is not None:
        issues += _sql_issue(
            lambda: parse_query(exposures.sql or "", project.dialect), where, ("exposures", "sql")
        )
    for name, source in project.spec.sources.items():
        issues += _source_issues(project, source, where, ("sources", name))
    return issues


def _source_issues(
    project: Project, source: Source, where: Where, loc: tuple[str | int, ...]
) -> list[SpecIssue]:
    if source.sql is None:
        return []
    return _sql_issue(lambda: parse_query(source.sql or "", project.dialect), where, (*loc, "sql"))


def _check_metrics(project: Project) -> list[SpecIssue]:
    issues: list[SpecIssue] = []
    names = sorted(project.metrics)
    for name, metric in project.metrics.items():
        where = project.where[("metric", name)]
        if isinstance(metric.source, str) and metric.source not in project.spec.sources:
            known = sorted(project.spec.sources)
            issues.append(
                where.issue(
                    ("source",),
                    f"unknown source `{metric.source}`",
                    hint=did_you_mean(metric.source, known)
                    or (
                        f"sources in assay_project.yml: {', '.join(known)}"
                        if known
                        else "declare it under `sources:` in assay_project.yml"
                    ),
                )
            )
        elif isinstance(metric.source, Source):
            issues += _source_issues(project, metric.source, where, ("source",))
        issues += _step_issues(project, metric, where)
        for part in ("value", "filter"):
            text = getattr(metric, part)
            if text is not None:
                issues += _sql_issue(
                    partial(parse_expression, text, project.dialect), where, (part,)
                )
        if (metric.aggregation == "approx_count_distinct"
                and project.dialect not in APPROX_DISTINCT_DIALECTS):
            issues.append(where.issue(
                ("aggregation",),
                f"the {project.dialect} warehouse has no built-in approximate distinct count",
                hint="use `count_distinct` (exact); `approx_count_distinct` runs on "
                     + ", ".join(APPROX_DISTINCT_DIALECTS)))
        if metric.kind == "proportion" and metric.aggregation != "sum":
            issues.append(
                where.issue(
                    ("aggregation",),
                    "a proportion metric has no aggregation: a "
                    "unit converts if any event qualifies",
                    severity="warning",
                )
            )
        if metric.kind == "ratio":
            for part in ("numerator", "denominator"):
                ref = getattr(metric, part)
                if _unverifiable(project, ref):
                    continue
                target = project.metrics.get(ref)
                if target is None:
                    issues.append(
                        where.issue(
                            (part,), f"unknown metric `{ref}`", hint=did_you_mean(ref, names)
                        )
                    )
                elif target.kind in ("ratio", "quantile", *ACTIVITY_KINDS):
                    issues.append(
                        where.issue(
                            (part,),
                            f"`{ref}` is itself a {target.kind}; a ratio's parts "
                            "are mean or proportion metrics",
                        )
                    )
                elif target.aggregation in ("avg", "max", "min") and target.kind == "mean":
                    issues.append(
                        where.issue(
                            (part,),
                            f"`{ref}` aggregates with "
                            f"{target.aggregation}; ratio parts must be sums or "
                            "counts so that units add up",
                        )
                    )
    return issues


def _step_issues(project: Project, metric: MetricSpec, where: Where) -> list[SpecIssue]:
    """A funnel's steps: each names a known source (or inherits the funnel's) and a filter
    that parses."""
    issues: list[SpecIssue] = []
    known = sorted(project.spec.sources)
    for i, step in enumerate(metric.steps or []):
        if isinstance(step.source, str) and step.source not in project.spec.sources:
            issues.append(where.issue(("steps", i, "source"), f"unknown source `{step.source}`",
                                      hint=did_you_mean(step.source, known)))
        elif isinstance(step.source, Source):
            issues += _source_issues(project, step.source, where, ("steps", i, "source"))
        if step.filter is not None:
            issues += _sql_issue(partial(parse_expression, step.filter, project.dialect),
                                 where, ("steps", i, "filter"))
    return issues


def _check_experiments(project: Project) -> list[SpecIssue]:
    issues: list[SpecIssue] = []
    names = sorted(project.metrics)
    for exp_id, experiment in project.experiments.items():
        where = project.where[("experiment", exp_id)]
        issues += _role_issues(project, experiment, where)
        issues += _method_issues(project, experiment, where, names)
        if not experiment.metrics.all():
            issues.append(
                where.issue(
                    ("metrics",),
                    "the experiment lists no metrics; only the health checks will run",
                    severity="warning",
                )
            )
        if experiment.targeting is not None:
            issues += _sql_issue(
                partial(parse_expression, experiment.targeting, project.dialect),
                where,
                ("targeting",),
            )
    return issues


def _role_issues(project: Project, experiment: ExperimentSpec, where: Where) -> list[SpecIssue]:
    """Unknown metrics under ``metrics:``, and CUPED asked of a metric without a pre-period."""
    issues: list[SpecIssue] = []
    for role in ("primary", "secondary", "guardrails"):
        for i, ref in enumerate(getattr(experiment.metrics, role)):
            if _unverifiable(project, ref):
                continue
            if ref not in project.metrics:
                issues.append(unknown_metric(project, where, ("metrics", role, i), ref))
            elif experiment.cuped and not _has_pre_window(project, ref):
                issues.append(
                    where.issue(
                        ("metrics", role, i),
                        f"CUPED is on but `{ref}` has "
                        "no `pre_window`; it is analysed without CUPED",
                        severity="warning",
                    )
                )
    return issues


def _method_issues(
    project: Project, experiment: ExperimentSpec, where: Where, names: list[str]
) -> list[SpecIssue]:
    """Unknown metrics under ``bootstrap:`` and ``rank_tests:``, and ratios given rank tests."""
    issues: list[SpecIssue] = []
    for method in ("bootstrap", "rank_tests"):
        for i, ref in enumerate(getattr(experiment, method)):
            target = project.metrics.get(ref)
            if target is None and not _unverifiable(project, ref):
                issues.append(
                    where.issue(
                        (method, i), f"unknown metric `{ref}`", hint=did_you_mean(ref, names)
                    )
                )
            elif target is not None and target.kind == "quantile":
                issues.append(
                    where.issue(
                        (method, i),
                        f"`{ref}` is a quantile metric; its interval already comes "
                        "from order statistics in the warehouse",
                    )
                )
            elif target is not None and target.kind in ACTIVITY_KINDS:
                issues.append(
                    where.issue(
                        (method, i),
                        f"`{ref}` is a {target.kind} metric; {method.replace('_', ' ')} "
                        "are for mean and proportion metrics",
                    )
                )
            elif method == "rank_tests" and target is not None and target.kind == "ratio":
                issues.append(
                    where.issue(
                        (method, i),
                        f"`{ref}` is a ratio metric; ranks "
                        "compare per-unit values, which a ratio of sums has not",
                    )
                )
    return issues


def unknown_metric(project: Project, where: Where, loc: tuple[str | int, ...],
                   ref: str) -> SpecIssue:
    """``unknown metric `ref```, with a did-you-mean or the metrics there are."""
    names = sorted(project.metrics)
    return where.issue(loc, f"unknown metric `{ref}`", hint=did_you_mean(ref, names)
                       or f"metrics defined: {', '.join(names) or 'none'}")


def _unloaded_references(project: Project) -> list[SpecIssue]:
    """Unknown metrics named by experiment files that failed to validate: under ``metrics:``
    and ``covariates:``, read from the raw mapping (the other problems of those files are
    reported already)."""
    issues: list[SpecIssue] = []
    for where, data in project.unloaded:
        roles = data.get("metrics")
        refs: list[tuple[tuple[str | int, ...], object]] = []
        if isinstance(roles, dict):
            for role in ("primary", "secondary", "guardrails"):
                listed = roles.get(role)
                if isinstance(listed, list):
                    refs += [(("metrics", role, i), ref) for i, ref in enumerate(listed)]
        covariates = data.get("covariates")
        if isinstance(covariates, list):
            for i, entry in enumerate(covariates):
                ref = entry.get("metric") if isinstance(entry, dict) else entry
                refs.append((("covariates", i, "metric"), ref))
        issues += [unknown_metric(project, where, loc, ref) for loc, ref in refs
                   if isinstance(ref, str) and ref not in project.metrics
                   and not _unverifiable(project, ref)]
    return issues


def _unverifiable(project: Project, ref: str) -> bool:
    """A metric reference that cannot be checked: its definition failed to load, or a metrics
    file did not parse so which metrics exist is unknown (both are reported already)."""
    return ref in project.broken or project.metrics_unreadable


def _has_pre_window(project: Project, name: str) -> bool:
    metric = project.metrics[name]
    if metric.pre_window is not None:
        return True
    if metric.kind != "ratio":
        return False
    parts = [
        project.metrics.get(metric.numerator or ""),
        project.metrics.get(metric.denominator or ""),
    ]
    return all(p is not None and p.pre_window is not None for p in parts)


def _sql_issue(
    parse: Callable[[], object], where: Where, loc: tuple[str | int, ...]
) -> list[SpecIssue]:
    try:
        parse()
    except ValueError as err:
        return [where.issue(loc, str(err))]
    return []
