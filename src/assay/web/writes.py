"""The dashboard's two writes, through the store's own lifecycle functions: record a human
decision (``assay decide``'s rules) and re-run an analysis (``assay analyze``'s path)."""

from __future__ import annotations

from assay.errors import AssayError
from assay.store import DECISION_KINDS
from assay.store.decisions import DecisionRequest
from assay.store.decisions import record_decision as store_decision
from assay.store.lifecycle import analyse
from assay.web.catalog import Catalog
from assay.web.jobs import Step

__all__ = ["DECISION_KINDS", "record_decision", "rerun"]


def record_decision(catalog: Catalog, experiment_id: str, form: dict[str, str]) -> str | None:
    """Record the form's decision; returns why it was not recorded, or None when it was."""
    if experiment_id not in catalog.project.experiments:
        return f"The project has no spec for {experiment_id!r}."
    request = DecisionRequest(
        experiment_id=experiment_id,
        decision=form.get("decision", ""),
        decided_by=form.get("decided_by", "").strip(),
        rationale=form.get("rationale", "").strip(),
        variant=form.get("variant") or None,
        link=form.get("link", "").strip() or None,
        override=form.get("override") == "yes",
    )
    try:
        with catalog.store(write=True) as store:
            store_decision(catalog.project, store, request)
    except AssayError as err:
        return for_the_form(str(err), experiment_id)
    return None


def for_the_form(message: str, experiment_id: str) -> str:
    """A refusal worded for the dashboard's form rather than for ``assay decide``'s flags
    (the rules, and the rest of the sentence, are the store's own)."""
    analyse = f"`assay analyze {experiment_id}`"
    for cli, form in (
        (f"run {analyse} first", "re-run the analysis first (Re-run analysis, below)"),
        (f"run {analyse} and decide", "re-run the analysis (Re-run analysis, below) and decide"),
        ("pass --override to record it anyway",
         "tick “Record it even if it contradicts assay's recommendation” to record it anyway"),
        ("`ship` needs --variant", "`ship` needs a variant (Variant, for ship)"),
        ("--by and --why must not be empty", "your name and why must not be empty"),
    ):
        message = message.replace(cli, form)
    return message


def rerun(catalog: Catalog, experiment_id: str, step: Step) -> None:
    """Analyse ``experiment_id`` now and store the analysis (run in a job's thread)."""
    with catalog.store(write=True) as store:
        recorded = analyse(catalog.project, store, experiment_id, on_step=step)
    if recorded.saved is not None and not recorded.saved.created:
        step("the data have not changed since the stored analysis: nothing new to store")
    else:
        step("stored as a new analysis")
