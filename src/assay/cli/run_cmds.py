"""``assay run`` (the scheduled command) and ``assay history``."""

from __future__ import annotations

import json
import time
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from assay.cli.app import ProjectOption, app, console, err_console
from assay.cli.errors import EXIT_OTHER, EXIT_SPEC, EXIT_WAREHOUSE, reported
from assay.cli.gate import FailOn, FailOnOption, gate
from assay.cli.lifecycle_cmds import ExperimentArg, ListFormat
from assay.errors import AssayError, SpecError, WarehouseError

if TYPE_CHECKING:
    from assay.spec.project import Project
    from assay.store.lifecycle import Recorded
    from assay.warehouse import Warehouse


@app.command("run")
@reported
def run_cmd(
    experiments: Annotated[
        list[str] | None, typer.Argument(help="Experiments to analyse (default: none).")
    ] = None,
    project: ProjectOption = Path("."),
    all_running: Annotated[
        bool, typer.Option("--all-running", help="Analyse every running experiment.")
    ] = False,
    fail_on: FailOnOption = FailOn.fail,
    fmt: Annotated[ListFormat, typer.Option("--format", "-f", help="table or json.")] = (
        ListFormat.table
    ),
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for a DuckDB file another run holds.", min=0)
    ] = 600.0,
) -> None:
    """Analyse and record experiments, one summary line each: the command cron calls daily.

    Exit codes: 0 every analysis passed the gate; 4 a check failed (with `--fail-on warn`,
    also warned); 2 a spec error; 3 a warehouse error (errors win over check results).
    Rerunning on unchanged data records nothing new.

    Examples:

        assay run --all-running

        assay run checkout_redesign homepage_aa --fail-on warn
    """
    from assay.spec import load_project
    from assay.store.lifecycle import store_of

    if not experiments and not all_running:
        raise typer.BadParameter("name experiments or pass --all-running")
    loaded = load_project(project)
    for name in experiments or []:
        loaded.experiment(name)  # an unknown name is a spec error before anything runs
    with closing(_open(loaded, wait)) as wh:
        store = store_of(loaded, wh)
        names = list(dict.fromkeys(experiments or []))
        if all_running:
            running = [r.experiment_id for r in store.experiments() if r.status == "running"]
            names += [n for n in running if n not in names and n in loaded.experiments]
        if not names:
            err_console.print("no running experiments (start one with `assay start EXP`)")
        outcomes = [_run_one(loaded, wh, name) for name in names]
    if fmt == ListFormat.json:
        typer.echo(json.dumps([o for o, _ in outcomes], indent=2, ensure_ascii=False))
    errors = [code for _, code in outcomes if code]
    if errors:
        raise typer.Exit(max(errors, key=[EXIT_OTHER, EXIT_SPEC, EXIT_WAREHOUSE].index))
    code = gate([str(o["check_status"]) for o, _ in outcomes], fail_on)
    if code:
        raise typer.Exit(code)


def _open(project: Project, wait: float) -> Warehouse:
    """The project's warehouse, waiting while another process holds a DuckDB file's lock."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return project.warehouse()
        except WarehouseError as err:
            if "lock" not in str(err).lower() or time.monotonic() >= deadline:
                raise
            time.sleep(0.5)


def _run_one(project: Project, wh: Warehouse, name: str) -> tuple[dict[str, object], int]:
    """Analyse and record one experiment; prints its summary line (errors do not stop the run)."""
    from assay.store.lifecycle import analyse, store_of

    try:
        recorded = analyse(project, store_of(project, wh), name)
    except AssayError as err:
        code = (EXIT_SPEC if isinstance(err, SpecError)
                else EXIT_WAREHOUSE if isinstance(err, WarehouseError) else EXIT_OTHER)
        console.print(f"{name:<24} [bold red]error[/] {escape(str(err).splitlines()[0])}",
                      highlight=False, soft_wrap=True)
        return {"experiment": name, "error": str(err), "check_status": None}, code
    console.print(summary_line(recorded), highlight=False, markup=False, soft_wrap=True)
    saved = recorded.saved
    return {
        "experiment": name, "status": recorded.experiment.status,
        "check_status": recorded.result.status(),
        "recommendation": recorded.recommendation.verdict,
        "failed_checks": [c.name for c in recorded.result.checks if c.status == "fail"],
        "warned_checks": [c.name for c in recorded.result.checks if c.status == "warn"],
        "analysis_id": saved.analysis_id if saved else None,
        "new": saved.created if saved else False, "units": recorded.result.units,
    }, 0


def summary_line(recorded: Recorded) -> str:
    """``pricing_banner_srm  running  new 1a2b3c4d  untrustworthy; fail: srm``."""
    result = recorded.result
    worst = result.status()
    named = [c.name for c in result.checks if c.status == worst]
    checks = ("pass" if worst == "pass" else f"fail: {', '.join(named)}" if worst == "fail"
              else f"warn: {len(named)} check{'s' if len(named) > 1 else ''}")
    saved = recorded.saved
    stored = "not stored" if saved is None else (
        f"{'new' if saved.created else 'same'} {saved.analysis_id[:8]}")
    return (f"{result.experiment:<22} {recorded.experiment.status:<8} {stored:<13} "
            f"{recorded.recommendation.verdict}; {checks}")


@app.command()
@reported
def history(
    experiment: ExperimentArg,
    project: ProjectOption = Path("."),
    fmt: Annotated[ListFormat, typer.Option("--format", "-f", help="table or json.")] = (
        ListFormat.table
    ),
) -> None:
    """Show the stored analyses of an experiment over time: lift and CI of each metric per run.

    Example:

        assay history checkout_redesign
    """
    from assay.spec import load_project
    from assay.store.lifecycle import store_of

    loaded = load_project(project)
    with closing(loaded.warehouse()) as wh:
        store = store_of(loaded, wh)
        runs = [(a, [r for r in store.results(a.analysis_id) if r.segment is None])
                for a in store.analyses(experiment)]
    if not runs:
        loaded.experiment(experiment)  # unknown: a spec error with a hint
        err_console.print(f"{experiment} has no stored analyses yet (`assay analyze {experiment}`)")
    if fmt == ListFormat.json:
        typer.echo(json.dumps([{
            "analysis_id": a.analysis_id, "run_at": a.run_at.isoformat(), "units": a.units,
            "check_status": a.check_status, "recommendation": a.recommendation,
            "results": [{"metric": r.metric, "variant": r.variant, "rel_lift": r.rel_lift,
                         "rel_lift_ci": list(r.rel_lift_ci),
                         "p_value_adjusted": r.p_value_adjusted} for r in results],
        } for a, results in runs], indent=2, ensure_ascii=False))
        return
    from rich.table import Table

    table = Table(title=f"{experiment}: stored analyses", title_justify="left", pad_edge=False)
    for column in ("run (UTC)", "units", "metric", "variant", "lift", "CI", "checks"):
        table.add_column(column, overflow="fold")
    for a, results in runs:
        for i, r in enumerate(results):
            table.add_row(f"{a.run_at:%Y-%m-%d %H:%M}" if i == 0 else "",
                          f"{a.units:,}" if i == 0 else "", r.metric, r.variant,
                          _pct(r.rel_lift), f"[{_pct(r.rel_lift_ci[0])}, {_pct(r.rel_lift_ci[1])}]",
                          (a.check_status or "") if i == 0 else "")
    console.print(table)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.2%}"
