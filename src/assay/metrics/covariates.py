"""Covariates as measures: every covariate becomes per-unit variables of the metric's moments.

A covariate is planned like CUPED's pre-period value, as a :class:`~assay.metrics.plan.Measure`
(one per-unit aggregate of one source), so the compiler needs nothing new: it sums every
variable and every pairwise product per arm (shifted where the values sit far from 0), and
the analysis reads the regression adjustment from those moments. The variables are ``z0``,
``z1`` ... in the order of :func:`assay.spec.covariates.covariates_of`:

* a metric's pre-period value: the metric's measure over its ``pre_window`` (or the
  covariate's ``window``);
* a source column (``attribute`` with ``source``, ``prediction``): the average of the unit's
  rows in the covariate's window, by default every row dated before the first exposure;
* an exposure-table column: the exposure table read as a source, this experiment's rows in
  the first second after the unit's first exposure (its first row; the largest value if
  several share that second);
* a categorical column (``levels``): one 0/1 variable per level but the first (one-hot in SQL).

A unit without a value (no row in the source) counts as 0, as CUPED's pre-period does.
"""

from __future__ import annotations

import datetime as dt

from sqlglot import exp

from assay.metrics.plan import Measure, pre_period_measure
from assay.spec.covariates import covariates_of
from assay.spec.models import MAX_DURATION, Covariate, ExperimentSpec, MetricSpec, Source, Window
from assay.spec.project import Project
from assay.spec.sqlcheck import generic

BEFORE_EXPOSURE = Window(start=-MAX_DURATION, end=dt.timedelta(0))
"""Default window of a source covariate: every row dated before the first exposure."""
FIRST_EXPOSURE = Window(start=dt.timedelta(0), end=dt.timedelta(seconds=1))
"""The exposure rows an exposure attribute is read from: the unit's first second."""


def covariate_measures(
    project: Project, experiment: ExperimentSpec, metric: MetricSpec
) -> dict[str, tuple[str, Measure]]:
    """Variable name (``z0`` ...) -> (label, measure) of every covariate of ``metric``.

    Empty for metrics that are not regression-adjusted (ratios, quantiles: the experiment's
    covariates apply to mean and proportion metrics only).
    """
    if metric.kind not in ("mean", "proportion"):
        return {}
    out: dict[str, tuple[str, Measure]] = {}
    for covariate in covariates_of(experiment, metric):
        for label, measure in _measures(project, experiment, covariate):
            if all(measure != m for _, m in out.values()):
                out[f"z{len(out)}"] = (label, measure)
    return out


def _measures(
    project: Project, experiment: ExperimentSpec, covariate: Covariate
) -> list[tuple[str, Measure]]:
    if covariate.metric is not None:
        target = project.metrics[covariate.metric]
        window = covariate.window or target.pre_window
        return [(covariate.label, pre_period_measure(project, target, window))]
    column = exp.column(str(covariate.attribute or covariate.prediction), quoted=True)
    if covariate.source is not None:
        source = project.spec.sources[covariate.source]
        window, aggregation, where = covariate.window or BEFORE_EXPOSURE, "avg", None
    else:
        source, where = _exposure_source(project, experiment)
        window, aggregation = FIRST_EXPOSURE, "max"
    if covariate.levels is None:
        value = generic(column)
        return [(covariate.label, Measure(source, value, where, aggregation, window))]
    out = []
    for level in covariate.levels[1:]:
        literal = exp.Literal.number(level) if isinstance(level, int) else \
            exp.Literal.string(level)
        one_hot = exp.Case().when(column.copy().eq(literal), exp.Literal.number(1)).else_(
            exp.Literal.number(0))
        out.append((f"{covariate.label}={level}",
                    Measure(source, generic(one_hot), where, "max", window)))
    return out


def _exposure_source(project: Project, experiment: ExperimentSpec) -> tuple[Source, str]:
    """The exposure table as a source, and the filter keeping this experiment's rows."""
    src = project.spec.exposures
    source = Source(table=src.table, sql=src.sql, unit=src.unit_id, timestamp=src.timestamp)
    this = exp.column(src.experiment_id, quoted=True).eq(exp.Literal.string(experiment.id))
    return source, generic(this)


def with_strata(experiment: ExperimentSpec) -> ExperimentSpec:
    """``experiment`` with its ``stratify_by`` column among the segments: the metrics statement
    then returns every arm x stratum's moments (GROUPING SETS), which post-stratification
    reads, and the strata are reported as a segment too."""
    stratum = experiment.stratify_by
    if stratum is None or stratum in experiment.segments:
        return experiment
    return experiment.model_copy(update={"segments": [*experiment.segments, stratum]})
