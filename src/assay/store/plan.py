"""The analysis plan of an experiment: the spec and every metric it uses, as hashable data.

``assay start`` freezes it (:class:`assay.store.records.PlanRecord`); each later analysis builds
the current one and :func:`assay.checks.plan.check_plan` names every difference.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assay.spec.project import Project
from assay.store.rows import sha256


def metric_names(project: Project, experiment_id: str) -> list[str]:
    """Every metric the experiment uses: listed ones and the parts of ratio metrics."""
    refs = project.experiment(experiment_id).metrics
    names = set(refs.primary) | set(refs.secondary) | set(refs.guardrails)
    pending = list(names)
    while pending:
        metric = project.metrics.get(pending.pop())
        for part in (metric.numerator, metric.denominator) if metric else ():
            if part and part not in names:
                names.add(part)
                pending.append(part)
    return sorted(n for n in names if n in project.metrics)


def current_plan(project: Project, experiment_id: str) -> dict[str, Any]:
    """The plan as it stands in the spec files now."""
    experiment = project.experiment(experiment_id)
    metrics = {n: project.metrics[n].model_dump(mode="json")
               for n in metric_names(project, experiment_id)}
    return {
        "experiment": experiment.model_dump(mode="json"),
        "metrics": metrics,
        "metric_hashes": {n: sha256(m) for n, m in metrics.items()},
    }


def plan_hash(plan: dict[str, Any]) -> str:
    """The hash a frozen plan is known by."""
    return sha256(plan)


def spec_text(project: Project, experiment_id: str) -> str | None:
    """The experiment file's text (None if it cannot be found)."""
    where = project.where.get(("experiment", experiment_id))
    candidates = [Path(where.src.file)] if where is not None else []
    candidates += [project.root / "experiments" / f"{experiment_id}{suffix}"
                   for suffix in (".yml", ".yaml")]
    for path in candidates:
        full = path if path.is_absolute() else project.root / path
        for candidate in (path, full):
            if candidate.is_file():
                return candidate.read_text(encoding="utf-8")
    return None
