"""``assay monitor`` and the pipelines demo (``assay demo --pipelines``)."""

from __future__ import annotations

import csv
import json
from contextlib import closing
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from assay.cli.analyze_cmds import progress
from assay.cli.app import ProjectOption, app, console
from assay.cli.errors import reported
from assay.errors import AssayError

if TYPE_CHECKING:
    from assay.warehouse import Warehouse


class MonitorFormat(StrEnum):
    """Output formats of ``assay monitor``."""

    table = "table"
    json = "json"


class Grain(StrEnum):
    """Periods a warehouse series is aggregated by."""

    hour = "hour"
    day = "day"


def pipelines_demo(out: Path, seed: int) -> None:
    """Run the JSON-vs-Parquet pipeline demo and print its decision (``assay demo
    --pipelines``)."""
    from rich.table import Table

    from assay.pipelines.demo import run_demo

    with progress(True) as step:
        demo = run_demo(out, seed=seed, step=step)
    result = demo.result
    table = Table(title=f"{result.name}: measured here, {demo.batches} batches",
                  title_justify="left")
    for column in ("KPI", "better", "json", "parquet", "change", "p"):
        table.add_column(column, no_wrap=True)
    for r in result.results:
        change = f"{r.rel_lift:+.1%}" if r.error is None else str(r.error)
        table.add_row(r.metric, "higher" if r.higher_is_better else "lower",
                      f"{r.mean_control:.4g}", f"{r.mean_treatment:.4g}", change,
                      f"{r.p_value:.2g}")
    console.print(table)
    gates = [c for c in result.checks if c.name.startswith("gate:")]
    failed = [c for c in gates if c.status == "fail"]
    console.print(f"gates: {len(gates) - len(failed)} of {len(gates)} passed"
                  + "".join(f"\n  • {c.name}: {c.message}" for c in failed), highlight=False)
    console.print(f"[bold]decision: {demo.decision.verdict}[/] ("
                  f"{'; '.join(demo.decision.reasons)})", highlight=False)
    console.print(f"Written to [bold]{demo.decision_file}[/]; runs are in "
                  f"[bold]{demo.warehouse}[/] (table pipeline_runs).")


def _csv_series(path: Path, column: str) -> dict[str, list[float]]:
    try:
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as err:
        raise AssayError(f"cannot read {path}: {err.strerror}") from err
    if rows and column not in rows[0]:
        raise AssayError(f"{path} has no column `{column}` (columns: {', '.join(rows[0])})")
    try:
        return {"series": [float(r[column]) for r in rows]}
    except ValueError as err:
        raise AssayError(f"{path}: `{column}` holds a value that is not a number: {err}") from err


def _warehouse_series(wh: Warehouse, table: str, time: str, value: str, grain: Grain,
                      where: str | None, by: str | None) -> dict[str, list[float]]:
    from sqlglot import exp

    from assay.spec.sqlcheck import parse_expression

    period = exp.TimestampTrunc(this=exp.column(time, quoted=True), unit=exp.var(grain.upper()))
    group = exp.column(by, quoted=True) if by else exp.Literal.string("series")
    query = (exp.select(exp.alias_(group, "series"), exp.alias_(period, "period"),
                        exp.alias_(exp.Avg(this=exp.column(value, quoted=True)), "value"))
             .from_(exp.to_table(table, dialect=wh.dialect))
             .group_by(exp.column("series"), exp.column("period"))
             .order_by(exp.column("series"), exp.column("period")))
    if where:
        query = query.where(parse_expression(where, wh.dialect))
    out: dict[str, list[float]] = {}
    for row in wh.execute(query.sql(wh.dialect)).to_pylist():
        if row["value"] is not None:
            out.setdefault(str(row["series"]), []).append(float(row["value"]))
    return out


@app.command()
@reported
def monitor(
    csv_file: Annotated[Path | None, typer.Option("--csv", help="A CSV series file.",
                                                  dir_okay=False)] = None,
    column: Annotated[str, typer.Option(help="CSV column holding the values.")] = "value",
    table: Annotated[str | None, typer.Option(help="Warehouse table of events.")] = None,
    time: Annotated[str, typer.Option(help="Timestamp column (with --table).")] = "started_at",
    value: Annotated[str, typer.Option(help="Value column, averaged per period.")] = "duration_s",
    grain: Annotated[Grain, typer.Option(help="Period of the series.")] = Grain.hour,
    where: Annotated[str | None, typer.Option(help="SQL filter on the rows.")] = None,
    by: Annotated[str | None, typer.Option(help="One series per value of this column.")] = None,
    period: Annotated[int | None, typer.Option(help="Season length in points (24 for hourly "
                                                    "data with a daily cycle); enables STL.")
                      ] = None,
    project: ProjectOption = Path("."),
    fmt: Annotated[MonitorFormat, typer.Option("--format", "-f")] = MonitorFormat.table,
    fail_on_anomaly: Annotated[bool, typer.Option(help="Exit 1 when anything is flagged.")
                               ] = False,
) -> None:
    """Flag anomalies in a metric series: robust z, STL residuals, change points.

    Read a CSV column, or average a warehouse column per hour or day (one series per value of
    --by). Defaults: modified z > 3.5 against the 28 points before; STL with --period; PELT
    change points with penalty 3 log(n). Their false-alarm rates are in docs/pipelines.md.

    Example:

        assay monitor --table pipeline_runs --where "phase = 'end'" --by variant --period 24
    """
    from assay.pipelines.monitor import detect

    if (csv_file is None) == (table is None):
        raise AssayError("give exactly one of --csv FILE or --table TABLE")
    if csv_file is not None:
        series = _csv_series(csv_file, column)
    else:
        from assay.spec import load_project

        with closing(load_project(project).warehouse(read_only=True)) as wh:
            series = _warehouse_series(wh, table or "", time, value, grain, where, by)
    report: dict[str, Any] = {}
    for name, values in series.items():
        found = detect(values, period=period if period and len(values) > 2 * period + 1
                       else None)
        report[name] = {"points": len(values), "anomalies": [
            {"index": a.index, "value": a.value, "detector": a.detector, "score": a.score}
            for a in found]}
    _print_monitor(report, fmt)
    if fail_on_anomaly and any(r["anomalies"] for r in report.values()):
        raise typer.Exit(1)


def _print_monitor(report: dict[str, Any], fmt: MonitorFormat) -> None:
    if fmt is MonitorFormat.json:
        typer.echo(json.dumps({"series": report}, indent=2))
        return
    from rich.table import Table

    table = Table(title="anomalies", title_justify="left")
    for name in ("series", "point", "value", "detector", "score"):
        table.add_column(name, no_wrap=True)
    for name, entry in report.items():
        for a in entry["anomalies"]:
            table.add_row(name, str(a["index"]), f"{a['value']:.4g}", a["detector"],
                          f"{a['score']:+.2f}")
    console.print(table)
    flagged = sum(len(e["anomalies"]) for e in report.values())
    points = sum(e["points"] for e in report.values())
    console.print(f"{flagged} anomalies in {points} points over {len(report)} series")
