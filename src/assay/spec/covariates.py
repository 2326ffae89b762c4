"""``covariates:``: the variables a metric's regression adjustment uses, and their checks.

A covariate is one of

* ``metric: sessions``: another metric's value before exposure (over its ``pre_window``, or
  the covariate's own ``window``); a bare name is short for this;
* ``attribute: tenure_days``: a column of the exposure table (the unit's first exposure row)
  or, with ``source:``, of a declared source (the unit's rows dated before its first exposure);
  with ``levels:`` a categorical column, one-hot encoded in SQL (the first level is the
  baseline, any other value counts as the baseline too);
* ``prediction: predicted_revenue`` with ``source: predictions``: a model's prediction per unit
  (CUPAC), read like a source attribute.

Every covariate must be fixed before exposure, or the treatment could move it and bias the
adjusted effect: windows end at or before the first exposure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from assay.errors import SpecIssue
from assay.spec.errors import did_you_mean
from assay.spec.models import Covariate, ExperimentSpec, MetricSpec

if TYPE_CHECKING:
    from assay.spec.project import Project, Where

__all__ = ["Covariate", "covariate_issues", "covariates_of"]


def covariates_of(experiment: ExperimentSpec, metric: MetricSpec) -> list[Covariate]:
    """The experiment's covariates then the metric's own, each once."""
    out: list[Covariate] = []
    for covariate in [*experiment.covariates, *metric.covariates]:
        if covariate not in out:
            out.append(covariate)
    return out


def covariate_issues(project: Project) -> list[SpecIssue]:
    """Unknown metrics or sources, metrics without a pre-period, and metrics that cannot be
    regression-adjusted, located at the covariate."""
    issues: list[SpecIssue] = []
    for name, metric in project.metrics.items():
        where = project.where[("metric", name)]
        if metric.covariates and metric.kind not in ("mean", "proportion"):
            issues.append(where.issue(("covariates",), f"a {metric.kind} metric takes no "
                                      "covariates: regression adjustment here is for mean and "
                                      "proportion metrics"))
            continue
        for i, covariate in enumerate(metric.covariates):
            issues += _issues(project, covariate, where, ("covariates", i))
    for exp_id, experiment in project.experiments.items():
        where = project.where[("experiment", exp_id)]
        for i, covariate in enumerate(experiment.covariates):
            issues += _issues(project, covariate, where, ("covariates", i))
    return issues


def _issues(project: Project, covariate: Covariate, where: Where, loc: tuple[str | int, ...]
            ) -> list[SpecIssue]:
    if covariate.metric is not None:
        return _metric_issues(project, covariate, where, loc)
    if covariate.source is not None and covariate.source not in project.spec.sources:
        known = sorted(project.spec.sources)
        return [where.issue((*loc, "source"), f"unknown source `{covariate.source}`",
                            hint=did_you_mean(covariate.source, known)
                            or "declare it under `sources:` in assay_project.yml")]
    return []


def _metric_issues(project: Project, covariate: Covariate, where: Where,
                   loc: tuple[str | int, ...]) -> list[SpecIssue]:
    ref = covariate.metric or ""
    if ref in project.broken or project.metrics_unreadable:
        return []
    target = project.metrics.get(ref)
    if target is None:
        from assay.spec.validate import unknown_metric

        return [unknown_metric(project, where, (*loc, "metric"), ref)]
    if target.kind not in ("mean", "proportion"):
        return [where.issue((*loc, "metric"), f"`{ref}` is a {target.kind} metric; a "
                            "covariate is a per-unit value (a mean or proportion metric)")]
    if target.pre_window is None and covariate.window is None:
        return [where.issue((*loc, "metric"), f"`{ref}` has no `pre_window`, so it has no "
                            "value before exposure", hint="give the covariate a `window`, "
                            "e.g. {metric: " + ref + ", window: [-28d, 0d]}")]
    return []
