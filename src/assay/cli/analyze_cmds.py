"""``assay analyze``, ``assay sql`` and ``assay demo``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from assay.cli.app import ProjectOption, app, console, err_console
from assay.cli.errors import reported
from assay.cli.gate import FailOn, FailOnOption, gate

if TYPE_CHECKING:
    from assay.metrics.compile import CompiledAnalysis
    from assay.report.page import ExperimentPage
    from assay.spec.project import Project
    from assay.store.lifecycle import Recorded

Step = Callable[[str], None]


class Format(StrEnum):
    """Output formats of ``assay analyze``."""

    table = "table"
    json = "json"
    markdown = "markdown"
    html = "html"


@contextmanager
def progress(enabled: bool) -> Iterator[Step]:
    """A spinner on stderr that shows the current step (silent when disabled)."""
    if not enabled:
        yield lambda _: None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("starting", total=None)
        yield lambda text: bar.update(task, description=text)


@app.command("analyze")
@reported
def analyze_cmd(
    experiment: Annotated[str, typer.Argument(help="Experiment id (file name in experiments/).")],
    project: ProjectOption = Path("."),
    fmt: Annotated[
        Format,
        typer.Option(
            "--format",
            "-f",
            help="table for people, json for machines, markdown for a decision document, "
            "html for a self-contained report (the dashboard's page, offline).",
        ),
    ] = Format.table,
    segments: Annotated[bool, typer.Option(help="Also show results by segment (table).")] = False,
    wide: Annotated[
        bool,
        typer.Option(
            help="Table: show every column (p, abs. lift, CUPED VR ...) even when the terminal "
            "is too narrow; by default less important columns are left out and named."
        ),
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Write the output to this file instead of "
            "stdout (markdown: also writes the lift chart)."
        ),
    ] = None,
    store: Annotated[
        bool, typer.Option(help="Record the result in the results store (docs/store.md).")
    ] = True,
    fail_on: FailOnOption = FailOn.fail,
) -> None:
    """Analyse an experiment: SQL runs in the warehouse, Python sees only per-arm statistics.

    Prints each metric's control and treatment means, absolute and relative lift with
    confidence intervals, p-value and corrected p-value, then the health checks (SRM, units in
    several arms, duplicates, dates, NULLs, peeking ...) and the decision they support.
    A started experiment is also checked against its frozen plan (`plan_changed`); a stopped
    one is analysed on data up to its stop.

    Exit codes: 0 trustworthy; 4 a check failed (`--fail-on warn`: or warned); 2 spec error;
    3 warehouse error.

    Examples:

        assay analyze checkout_redesign

        assay analyze checkout_redesign --format json > result.json

        assay analyze checkout_redesign --format markdown --out reports/checkout.md

        assay analyze checkout_redesign --format html --out reports/checkout.html
    """
    from assay.spec import load_project
    from assay.store.lifecycle import analyse, store_of

    loaded = load_project(project)
    # One connection for the analysis and its record (a Spark session or a server login is
    # not free).
    # --no-store only reads: open read-only, so analyses can run side by side on one DuckDB file
    with progress(fmt == Format.table or out is not None) as step, closing(
        loaded.warehouse(read_only=not store)
    ) as wh:
        results_store = store_of(loaded, wh, read_only=not store)
        recorded = analyse(loaded, results_store, experiment, save=store, on_step=step)
        page = None
        if fmt == Format.html:
            from assay.report.html import stored_page

            page = stored_page(loaded, results_store, experiment, latest=recorded.result)
    _emit(recorded, fmt, out, segments, wide, page)
    code = gate([recorded.result.status()], fail_on)
    if code:
        raise typer.Exit(code)


def _emit(recorded: Recorded, fmt: Format, out: Path | None, segments: bool,
          wide: bool = False, page: ExperimentPage | None = None) -> None:
    from assay.report import render_markdown, render_terminal, write_report
    from assay.report.format import markdown_text

    result = recorded.result
    if fmt == Format.json:
        text = json.dumps(recorded.to_dict(), indent=2, ensure_ascii=False)
    elif fmt == Format.html:
        from assay.report.html import render_html

        text = render_html(page or recorded.result)
    elif fmt == Format.markdown:
        if out is not None:
            path = write_report(result, out.parent if out.suffix else out,
                                lifecycle=lifecycle_line(recorded))
            if out.suffix and path != out:
                path.replace(out)
            err_console.print(f"report written to {out}")
            return
        text = f"> {markdown_text(lifecycle_line(recorded))}\n\n{render_markdown(result)}"
    else:
        if out is None:
            console.print(lifecycle_line(recorded), highlight=False, markup=False)
            render_terminal(result, console, segments=segments, wide=wide)
            return
        from rich.console import Console

        with out.open("w", encoding="utf-8") as handle:
            file_console = Console(file=handle, width=160)
            file_console.print(lifecycle_line(recorded), highlight=False, markup=False)
            render_terminal(result, file_console, segments=segments, wide=wide)
        return
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")


def lifecycle_line(recorded: Recorded) -> str:
    """``checkout_redesign: running since 2026-03-02 · owner payments-team · plan v1 · ...``."""
    record = recorded.experiment
    parts = [f"{record.experiment_id}: {record.status}"]
    since = {"running": record.started_at, "stopped": record.stopped_at,
             "decided": record.decided_at, "abandoned": record.abandoned_at}.get(record.status)
    if since is not None:
        parts[0] += f" since {since:%Y-%m-%d %H:%M}"
    parts.append(f"owner {record.owner or 'none'}")
    if record.plan_version:
        parts.append(f"plan v{record.plan_version}")
    parts.append(f"recommendation: {recorded.recommendation.verdict}")
    if recorded.decisions:
        last = recorded.decisions[-1]
        parts.append(f"decided {last.decision} by {last.decided_by}")
    return " · ".join(parts)


@app.command("sql")
@reported
def sql_cmd(
    experiment: Annotated[str, typer.Argument(help="Experiment id.")],
    project: ProjectOption = Path("."),
    dialect: Annotated[
        str | None,
        typer.Option(
            help="duckdb, postgres, bigquery, snowflake, spark, trino ... (default: the "
            "project's warehouse)"
        ),
    ] = None,
    units_table: Annotated[
        str, typer.Option(help="With --assignment: the table listing the units to assign.")
    ] = "units",
    unit_column: Annotated[
        str, typer.Option(help="With --assignment: its unit id column.")
    ] = "unit_id",
    assignment: Annotated[
        bool,
        typer.Option(
            "--assignment", help="Print the SQL that materialises the assignment table instead."
        ),
    ] = False,
    offline: Annotated[
        bool,
        typer.Option("--offline", help="Do not connect to the warehouse: the moments are "
                     "printed uncentred (a header comment says so)."),
    ] = False,
) -> None:
    """Print the SQL an analysis runs, exactly as the warehouse will see it.

    Every statement, named as the result keeps it: `exposures`, `metrics`, and those of
    quantile and activity metrics and of the rank tests and bootstrap the spec asks for (the
    trust checks' own `check:*` statements are in `assay analyze --format json`).

    The metrics statement centres measures whose values sit far from 0 (timestamps, cents) on
    constants a small probe per source picks in the warehouse, as `assay analyze` does: the
    probes run when the project's warehouse is reachable, and a header comment names the
    constants. Offline (or unreachable) the moments are printed uncentred and the header says
    that `assay analyze` may centre them.

    Example:

        assay sql checkout_redesign --dialect bigquery
    """
    from assay.spec import load_project
    from assay.warehouse import require_dialect

    loaded = load_project(project)
    target = require_dialect(dialect) if dialect else loaded.dialect
    if assignment:
        from assay.assign.sql import assignment_sql

        typer.echo(
            assignment_sql(loaded, experiment, target, units=units_table, unit_column=unit_column)
        )
        return
    from assay.analysis.run import extra_statements
    from assay.secrets import redact

    compiled, header = _analysis_sql(loaded, experiment, target, offline=offline)
    typer.echo("\n".join(header) + "\n")
    statements = compiled.statements()
    statements |= {name: query.sql(dialect=target, pretty=True)
                   for name, query in extra_statements(loaded, compiled, target).items()}
    for name, text in statements.items():
        typer.echo(f"-- {name}\n{redact(text)};\n")  # a credential in a source's sql: masked


def _analysis_sql(loaded: Project, experiment: str, dialect: str, *, offline: bool
                  ) -> tuple[CompiledAnalysis, list[str]]:
    """The analysis SQL with the probes' constants when the warehouse answers, and the header
    comment that says which it is."""
    from assay.analysis.shifts import compile_for, shift_comment
    from assay.errors import AssayError
    from assay.metrics.compile import compile_analysis

    compiled = compile_analysis(loaded, experiment, dialect=dialect)
    if not compiled.probes or not compiled.plan.metrics:
        return compiled, ["-- no measure to centre: this is the SQL `assay analyze` runs"]
    if offline:
        return compiled, ["-- offline: moments uncentred; `assay analyze` may centre measures "
                          "far from 0 on constants its probes choose"]
    try:
        with closing(loaded.warehouse(read_only=True)) as wh:
            compiled = compile_for(loaded, experiment, wh, dialect=dialect)
    except AssayError as err:  # unreachable, or a table preflight misses: print it anyway
        reason = " ".join(str(err).split())[:120]
        return compiled, [f"-- the warehouse could not be probed ({reason}): moments "
                          "uncentred; `assay analyze` may centre measures far from 0"]
    lines = shift_comment(compiled)
    return compiled, ["-- the probes ran: this is the SQL `assay analyze` runs now", *lines]


@app.command()
@reported
def demo(
    out: Annotated[
        Path, typer.Option(help="Folder for the demo project, warehouse and reports.")
    ] = Path("demo"),
    users: Annotated[int, typer.Option(help="Users in the demo warehouse.", min=1000)] = 60_000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 7,
    dbt: Annotated[
        bool, typer.Option("--dbt", help="Define the metrics in a dbt project and `dbt build` it "
                           "(needs dbt; docs/dbt.md). The results equal the YAML demo's.")
    ] = False,
    pipelines: Annotated[bool, typer.Option(
        "--pipelines", help="Instead: A/B test two real pipeline configurations (JSON vs "
        "Parquet) on this machine, with gates and a written decision.")] = False,
) -> None:
    """Build a demo warehouse with experiments of known truth, analyse them, write reports.

    The demo holds a shop (users, sessions, orders with refunds and heavy-tailed revenue, weeks
    of pre-period history) and four experiments: a real effect on revenue and conversion, an
    A/A test, a sample-ratio mismatch and a three-armed test. Each report says what assay found;
    the table below sets it beside the truth the data were built with.

    Example:

        assay demo --out /tmp/assay-demo && assay analyze checkout_redesign -p /tmp/assay-demo

        assay demo --dbt --out /tmp/assay-dbt-demo   # the same, metrics from dbt/
        assay demo --pipelines --out /tmp/assay-pipelines
    """
    if pipelines:
        from assay.cli.pipelines_cmds import pipelines_demo

        pipelines_demo(out, seed)
        return
    from rich.table import Table

    from assay.demo import build_demo
    from assay.report import decide, write_report
    from assay.report.html import stored_page, write_html
    from assay.spec import load_project
    from assay.store.lifecycle import analyse, store_of

    with progress(True) as step:
        step(f"building the demo warehouse ({users:,} users)")
        if dbt:
            from assay.dbt.demo import build_dbt_demo

            step(f"building the demo warehouse ({users:,} users) and its dbt project")
            info = build_dbt_demo(out, seed=seed, users=users)
        else:
            info = build_demo(out, seed=seed, users=users)
        project = load_project(out)
        recorded = {}
        pages = {}
        with closing(project.warehouse()) as wh:
            for experiment_id in sorted(project.experiments):
                step(f"analysing {experiment_id}")
                recorded[experiment_id] = analyse(project, store_of(project, wh),
                                                  experiment_id)
                pages[experiment_id] = stored_page(project, store_of(project, wh),
                                                   experiment_id)
    reports = out / "reports"
    table = Table(title=f"Demo: {info.warehouse}", title_justify="left")
    for column in ("experiment", "assay's decision", "checks", "report"):
        table.add_column(column, no_wrap=column != "report", overflow="fold")
    results = {experiment_id: r.result for experiment_id, r in recorded.items()}
    for experiment_id, result in results.items():
        path = write_report(result, reports, lifecycle=lifecycle_line(recorded[experiment_id]))
        write_html(pages[experiment_id] or result, path.with_suffix(".html"))
        table.add_row(experiment_id, decide(result).verdict, result.status(), path.name)
    console.print(table)
    console.print("[bold]The truth the data were built with:[/]")
    for experiment_id in results:
        truth = info.experiments.get(experiment_id)
        if truth is not None:
            console.print(f"  • [bold]{experiment_id}[/]: {truth.note}", highlight=False)
    console.print(
        f"Reports (Markdown and HTML) are in [bold]{reports}[/]. Try: [bold]assay analyze "
        f"checkout_redesign --project {out}[/], or the dashboard: [bold]assay serve "
        f"--project {out}[/]"
    )
