"""``aa_replay``: how often an A/A test of a metric on this warehouse's own history is
"significant", from many re-splits of past units computed in one warehouse pass."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from assay.analysis.compute import Cell, compare_metrics
from assay.checks.replay import replay_verdict
from assay.metrics.replay import SPLIT, compile_replay
from assay.results import Check
from assay.spec.errors import unknown_name
from assay.spec.project import Project
from assay.warehouse import Warehouse

Step = Callable[[str], None]


@dataclass(frozen=True)
class ReplayResult:
    """What an A/A replay found.

    Attributes:
        metric: The metric replayed.
        start: First day of the period (inclusive), ISO date.
        end: Day after the period (exclusive), ISO date.
        units: Units in the population.
        splits: Salts hashed (``aa-replay:0 .. splits-1``); splits that repeat an earlier
            partition of the units (few clusters) are tested once.
        alpha: Significance level of each A/A test.
        cluster: Column hashed instead of the unit id, or None.
        p_values: Each split's p-value (NaN where it could not be computed).
        check: The verdict: false-positive rate within simulation error of alpha, or not.
        sql: The query that ran.
    """

    metric: str
    start: str
    end: str
    units: int
    splits: int
    alpha: float
    cluster: str | None
    p_values: list[float]
    check: Check
    sql: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN p-values become null)."""
        data = asdict(self)
        data["p_values"] = [p if p == p else None for p in self.p_values]
        return data


def aa_replay(
    project: Project,
    metric: str,
    start: dt.datetime,
    end: dt.datetime,
    *,
    splits: int = 200,
    alpha: float = 0.05,
    population: str | None = None,
    cluster: str | None = None,
    warehouse: Warehouse | None = None,
    on_step: Step | None = None,
) -> ReplayResult:
    """Re-split the units seen in ``[start, end)`` by ``splits`` salts and test each split.

    Each split is analysed as assay analyses an experiment (Welch, CUPED when the metric has a
    pre-period, the delta method for ratios). Under a valid test about ``alpha`` of them are
    significant; a skewed or clustered metric shows more.

    Raises:
        SpecError: Unknown metric or population source (with a hint).
    """
    if metric not in project.metrics:
        raise unknown_name(str(project.root), "metric", metric, list(project.metrics))
    if population is not None and population not in project.spec.sources:
        raise unknown_name(str(project.root), "source", population, list(project.spec.sources))
    step = on_step or (lambda _: None)
    own = warehouse is None
    wh = warehouse if warehouse is not None else project.warehouse()
    try:
        query, plan = compile_replay(project, metric, start, end, splits, population=population,
                                     cluster=cluster, dialect=wh.dialect)
        sql = query.sql(dialect=wh.dialect, pretty=True)
        step(f"re-splitting the units {splits} times in the warehouse")
        rows = wh.execute(sql).to_pylist()
    finally:
        if own:
            wh.close()
    step("testing every split")
    by_split: dict[int, dict[str, Mapping[str, Any]]] = {}
    for row in rows:
        by_split.setdefault(int(row[SPLIT]), {})[str(row["variant"])] = row
    plan = replace(plan, experiment=plan.experiment.model_copy(update={"alpha": alpha}))
    p_values, seen = [], set()
    units = 0
    for k in range(splits):
        arms = by_split.get(k, {})
        # Few clusters allow few distinct splits: a repeat of a split is not a new A/A test.
        key = _partition(arms)
        if key in seen:
            continue
        seen.add(key)
        comparison = compare_metrics(plan, Cell(None, None, arms), {})[0]
        p_values.append(float(comparison.result.p_value))
        units = max(units, int(comparison.result.n_control + comparison.result.n_treatment))
    return ReplayResult(
        metric=metric, start=start.date().isoformat(), end=end.date().isoformat(), units=units,
        splits=splits, alpha=alpha, cluster=cluster, p_values=p_values,
        check=replay_verdict(np.array(p_values), alpha, metric, cluster), sql=sql)


def _partition(arms: Mapping[str, Mapping[str, Any]]) -> tuple[Any, ...]:
    """A split's identity: its arms' statistics (the same partition gives the same sums)."""
    return tuple(sorted((v, tuple(sorted((k, round(float(x or 0), 6)) for k, x in row.items()
                                         if k not in (SPLIT, "variant"))))
                        for v, row in arms.items()))
