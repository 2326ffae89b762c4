"""``assay start``, ``assay stop``, ``assay list`` and ``assay decide``: the lifecycle."""

from __future__ import annotations

import json
from contextlib import closing
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from assay.cli.app import ProjectOption, app, console
from assay.cli.errors import reported

if TYPE_CHECKING:
    from assay.store import ExperimentRecord


class ListFormat(StrEnum):
    """Output formats of ``assay list`` and ``assay history``."""

    table = "table"
    json = "json"


ExperimentArg = Annotated[str, typer.Argument(help="Experiment id (file name in experiments/).")]


@app.command()
@reported
def start(
    experiment: ExperimentArg,
    project: ProjectOption = Path("."),
    amend: Annotated[
        bool, typer.Option("--amend", help="Re-freeze the plan of a started experiment.")
    ] = False,
    why: Annotated[
        str | None, typer.Option(help="With --amend: why the plan changes (recorded).")
    ] = None,
) -> None:
    """Start an experiment: freeze its analysis plan (pre-registration) and mark it running.

    The experiment spec and every metric it uses (primary, secondary, guardrails, alpha,
    correction, sequential design, CUPED, planned sample size, segments) are stored with their
    hash. Each later analysis is compared with them: the `plan_changed` check names every
    field that differs. A deliberate change is recorded with --amend --why.

    Examples:

        assay start checkout_redesign

        assay start checkout_redesign --amend --why "guardrail added at the privacy review"
    """
    from assay.spec import load_project
    from assay.store.lifecycle import LifecycleError, store_of
    from assay.store.lifecycle import start as start_experiment

    if amend and not why:
        raise LifecycleError("--amend needs --why TEXT: the reason is part of the record")
    if why and not amend:
        raise LifecycleError("--why goes with --amend")
    loaded = load_project(project)
    with closing(loaded.warehouse()) as wh:
        record = start_experiment(loaded, store_of(loaded, wh), experiment,
                                  amend=why if amend else None)
    verb = "amended" if amend else "started"
    console.print(f"{experiment} {verb}: plan v{record.plan_version} frozen "
                  f"({(record.plan_hash or '')[:12]}), status {record.status}", highlight=False)


@app.command()
@reported
def stop(
    experiment: ExperimentArg,
    project: ProjectOption = Path("."),
    abandon: Annotated[
        bool, typer.Option("--abandon", help="Give the experiment up instead (no decision).")
    ] = False,
) -> None:
    """Stop a running experiment: later analyses use data up to the stop time.

    Examples:

        assay stop checkout_redesign

        assay stop pricing_banner_srm --abandon
    """
    from assay.spec import load_project
    from assay.store.lifecycle import stop as stop_experiment
    from assay.store.lifecycle import store_of

    loaded = load_project(project)
    with closing(loaded.warehouse()) as wh:
        record = stop_experiment(loaded, store_of(loaded, wh), experiment, abandon=abandon)
    when = record.abandoned_at if abandon else record.stopped_at
    console.print(f"{experiment} {record.status} at {when:%Y-%m-%d %H:%M} UTC", highlight=False)


@app.command("list")
@reported
def list_cmd(
    project: ProjectOption = Path("."),
    fmt: Annotated[ListFormat, typer.Option("--format", "-f", help="table or json.")] = (
        ListFormat.table
    ),
) -> None:
    """List the project's experiments: status, owner, dates, latest recommendation and decision.

    Example:

        assay list --format json
    """
    from assay.spec import load_project
    from assay.store.lifecycle import draft_record, store_of

    loaded = load_project(project)
    with closing(loaded.warehouse()) as wh:
        known = {r.experiment_id: r for r in store_of(loaded, wh).experiments()}
    records = [known.get(e) or draft_record(loaded, e) for e in sorted(loaded.experiments)]
    records += [r for e, r in sorted(known.items()) if e not in loaded.experiments]
    if fmt == ListFormat.json:
        typer.echo(json.dumps([_listed(r) for r in records], indent=2, ensure_ascii=False))
        return
    console.print(_list_table(records))


def _listed(record: ExperimentRecord) -> dict[str, object]:
    return {"experiment": record.experiment_id, "name": record.name, **record.lifecycle(),
            "latest_run_at": record.latest_run_at.isoformat() if record.latest_run_at else None,
            "latest_recommendation": record.latest_recommendation,
            "latest_check_status": record.latest_check_status,
            "latest_decision": record.latest_decision}


def _list_table(records: list[ExperimentRecord]) -> object:
    from rich.table import Table

    table = Table(title="Experiments", title_justify="left", pad_edge=False)
    for column in ("experiment", "status", "owner", "started", "recommendation", "decision"):
        table.add_column(column, overflow="fold")
    for r in records:
        table.add_row(r.experiment_id, r.status, r.owner or "",
                      f"{r.started_at:%Y-%m-%d}" if r.started_at else "",
                      r.latest_recommendation or "", r.latest_decision or "")
    return table


@app.command("decide")
@reported
def decide_cmd(
    experiment: ExperimentArg,
    decision: Annotated[str, typer.Argument(help="ship, rollback, iterate or no-decision.")],
    by: Annotated[str, typer.Option("--by", help="Who decides (name or handle).")],
    why: Annotated[str, typer.Option("--why", help="The rationale, in a sentence or two.")],
    project: ProjectOption = Path("."),
    variant: Annotated[
        str | None, typer.Option(help="The variant the decision is about (ship: required).")
    ] = None,
    link: Annotated[str | None, typer.Option(help="A link to the discussion or doc.")] = None,
    override: Annotated[
        bool, typer.Option("--override", help="Record a decision that contradicts the "
                           "automatic recommendation (it is marked as an override).")
    ] = False,
    analysis: Annotated[
        str | None, typer.Option(help="The analysis id it rests on (default: the latest).")
    ] = None,
) -> None:
    """Record a human decision on the latest analysis: who, when, why, on which result.

    Refused without a write when the experiment was never analysed, the variant is unknown,
    the experiment is decided already, or the analysis is stale (spec or data changed since).
    Shipping against the recommendation needs --override.

    Example:

        assay decide checkout_redesign ship --variant treatment --by ana \\
            --why "revenue +4%, guardrails flat" --link https://wiki/checkout
    """
    from assay.spec import load_project
    from assay.store.decisions import DecisionRequest, record_decision
    from assay.store.lifecycle import store_of

    loaded = load_project(project)
    request = DecisionRequest(experiment, decision, by, why, variant, link, override, analysis)
    with closing(loaded.warehouse()) as wh:
        record = record_decision(loaded, store_of(loaded, wh), request)
    marked = " (override)" if record.override else ""
    console.print(f"{experiment}: {record.decision}{marked}"
                  f"{' ' + record.variant if record.variant else ''} recorded by "
                  f"{record.decided_by} on analysis {record.analysis_id[:12]} "
                  f"(recommendation: {record.recommendation})", highlight=False)
