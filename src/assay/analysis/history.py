"""A metric's sufficient statistics over a past period, for power analysis from real data."""

from __future__ import annotations

import datetime as dt

from assay.analysis.compute import metric_moments
from assay.metrics.compile import HISTORY_ARM, compile_history
from assay.spec.errors import unknown_name
from assay.spec.project import Project
from assay.stats.moments import Moments
from assay.warehouse import Warehouse


def metric_history(
    project: Project,
    metric: str,
    start: dt.datetime,
    days: int,
    *,
    population: str | None = None,
    warehouse: Warehouse | None = None,
) -> Moments:
    """Moments of ``metric``'s variables over the units seen in ``[start, start + days)``.

    The population is the exposure log's units in that period, or a named source's
    (see :func:`assay.metrics.compile.compile_history`). Variables are those of the metric's
    plan: ``y`` (and ``x``, its pre-period value, when the metric has a ``pre_window``) or
    ``num``/``den`` (and ``num_pre``/``den_pre``).

    Raises:
        SpecError: Unknown metric or population source (with a hint).
    """
    if metric not in project.metrics:
        raise unknown_name(str(project.root), "metric", metric, list(project.metrics))
    if population is not None and population not in project.spec.sources:
        raise unknown_name(str(project.root), "source", population, list(project.spec.sources))
    own = warehouse is None
    wh = warehouse if warehouse is not None else project.warehouse()
    try:
        end = start + dt.timedelta(days=days)
        query, plan = compile_history(
            project, metric, start, end, population=population, dialect=wh.dialect
        )
        rows = wh.execute(query.sql(dialect=wh.dialect)).to_pylist()
    finally:
        if own:
            wh.close()
    by_variant = {str(r["variant"]): r for r in rows}
    return metric_moments(plan, by_variant, [HISTORY_ARM])[HISTORY_ARM]
