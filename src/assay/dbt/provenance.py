"""Provenance: which dbt nodes a result's numbers came from, and whether they have drifted.

Every analysis of a project with a dbt project records the manifest checksum of each node it
used (the models and sources behind its tables, their upstream models, the semantic models and
metrics behind its metrics). The drift check compares them with the first stored analysis of
the experiment: a model edited while the experiment runs changes the numbers of every later
look, and the check says which model and file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assay.dbt.artifacts import checksum, relation
from assay.results import Check, DbtNode

if TYPE_CHECKING:
    from assay.metrics.plan import AnalysisPlan
    from assay.spec.project import Project
    from assay.warehouse import Warehouse

CHECK = "dbt_drift"


def dbt_nodes(project: Project, plan: AnalysisPlan) -> list[DbtNode]:
    """The dbt nodes behind ``plan`` (and everything upstream of them), with checksums."""
    context = project.dbt
    if context is None:
        return []
    used: set[str] = set()
    tables = [project.spec.exposures.table]
    for metric in plan.metrics:
        for name in (metric.metric.name, metric.metric.numerator, metric.metric.denominator):
            used.update(context.metric_nodes.get(name or "", ()))
        tables += [measure.source.table for measure in metric.variables.values()]
    used.update(context.tables[t] for t in tables if t is not None and t in context.tables)
    out = []
    for unique_id in context.manifest.upstream(used):
        entry = context.manifest.entry(unique_id)
        if entry is None:
            continue
        holds_data = entry.get("resource_type") in ("model", "seed", "snapshot", "source")
        out.append(DbtNode(
            unique_id=unique_id, resource_type=str(entry.get("resource_type")),
            checksum=checksum(entry), file=str(entry.get("original_file_path")),
            relation=relation(entry, project.dialect) if holds_data else None,
        ))
    return out


def drift_checks(
    project: Project, experiment_id: str, nodes: list[DbtNode], warehouse: Warehouse
) -> list[Check]:
    """``dbt_drift``: warn when a dbt node changed since the experiment's first stored analysis.

    The first stored analysis stands for the experiment's start until the results store keeps
    a start record; with none stored yet, the check passes and this analysis becomes the
    baseline once it is saved.
    """
    if project.dbt is None:
        return []
    baseline = _baseline(warehouse, experiment_id, project.spec.results_schema)
    if baseline is None:
        return [Check(CHECK, "pass", f"{len(nodes)} dbt nodes recorded; no earlier analysis "
                      "to compare them with", {"nodes": len(nodes)})]
    before = {str(n["unique_id"]): str(n["checksum"]) for n in baseline["dbt_nodes"]}
    changed = [n for n in nodes if n.unique_id in before and before[n.unique_id] != n.checksum]
    added = [n.unique_id for n in nodes if n.unique_id not in before]
    figures: dict[str, Any] = {
        "baseline_run_at": baseline.get("run_at"),
        "changed": [{"unique_id": n.unique_id, "file": n.file, "before": before[n.unique_id],
                     "after": n.checksum} for n in changed],
        "added": added,
    }
    if not changed:
        return [Check(CHECK, "pass", f"no dbt node changed since the analysis of "
                      f"{baseline.get('run_at')}", figures)]
    names = ", ".join(f"{n.unique_id.split('.')[-1]} ({n.file})" for n in changed[:4])
    return [Check(CHECK, "warn", f"metric drift: {names} changed since the analysis of "
                  f"{baseline.get('run_at')}; earlier looks used the old definition", figures)]


def _baseline(
    warehouse: Warehouse, experiment_id: str, schema: str | None
) -> dict[str, Any] | None:
    from assay.store import load_results

    recorded = [row["result"] for row in load_results(warehouse, experiment_id, schema)]
    with_nodes = [r for r in recorded if isinstance(r, dict) and r.get("dbt_nodes")]
    return min(with_nodes, key=lambda r: str(r.get("run_at"))) if with_nodes else None
