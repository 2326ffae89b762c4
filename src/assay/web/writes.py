"""The dashboard's two writes: record a human decision, re-run an analysis."""

from __future__ import annotations

from contextlib import closing

from assay.web.catalog import Catalog
from assay.web.jobs import Step

DECISION_KINDS = ("ship", "rollback", "iterate", "no-decision")


def record_decision(catalog: Catalog, experiment_id: str, form: dict[str, str]) -> str | None:
    """Record the form's decision; returns what is wrong with it, or None when recorded."""
    decision = form.get("decision", "")
    if decision not in DECISION_KINDS:
        return f"Unknown decision {decision!r}; choose one of {', '.join(DECISION_KINDS)}."
    if not form.get("decided_by", "").strip():
        return "Say who decides."
    if not form.get("rationale", "").strip():
        return "Say why: a decision without a reason cannot be reviewed."
    return catalog.record_decision(
        experiment_id, decision, decided_by=form["decided_by"].strip(),
        rationale=form["rationale"].strip(), variant=form.get("variant") or None,
    )


def rerun(catalog: Catalog, experiment_id: str, step: Step) -> None:
    """Analyse ``experiment_id`` now and store the analysis (run in a job's thread)."""
    from assay.analysis.run import analyze
    from assay.store import save_result

    project = catalog.project
    with closing(project.warehouse()) as wh:
        result = analyze(project, experiment_id, warehouse=wh, on_step=step)
        step("recording the result")
        save_result(wh, result, project.spec.results_schema)
