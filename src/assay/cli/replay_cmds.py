"""``assay aa-replay``: the false-positive rate a metric shows on this warehouse's own history."""

from __future__ import annotations

import datetime as dt
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from assay.cli.analyze_cmds import progress
from assay.cli.app import ProjectOption, app, console
from assay.cli.errors import reported
from assay.errors import AssayError


class ReplayFormat(StrEnum):
    """Output formats of ``assay aa-replay``."""

    table = "table"
    json = "json"


def parse_period(text: str) -> tuple[dt.datetime, dt.datetime]:
    """``START:END`` (ISO dates, END exclusive) or ``START+DAYSd``."""
    try:
        if "+" in text:
            start_text, days = text.split("+", 1)
            start = dt.datetime.fromisoformat(start_text)
            return start, start + dt.timedelta(days=int(days.rstrip("d")))
        start_text, end_text = text.split(":", 1)
        start, end = dt.datetime.fromisoformat(start_text), dt.datetime.fromisoformat(end_text)
    except ValueError:
        raise AssayError(f"--period '{text}': expected START:END or START+DAYSd, e.g. "
                         "2026-02-23:2026-03-09 or 2026-02-23+14d") from None
    if end <= start:
        raise AssayError(f"--period '{text}': the end must come after the start")
    return start, end


@app.command("aa-replay")
@reported
def aa_replay_cmd(
    metric: Annotated[str, typer.Argument(help="Metric to replay (a name in metrics/).")],
    period: Annotated[str, typer.Option(
        help="Past period whose units are re-split: START:END (END exclusive) or "
             "START+DAYSd.")],
    experiments: Annotated[int, typer.Option(
        "--experiments", "-n", min=20, max=2000,
        help="A/A splits to analyse (one salt each; all in one warehouse pass).")] = 200,
    alpha: Annotated[float, typer.Option(help="Significance level of each A/A test.")] = 0.05,
    population: Annotated[str | None, typer.Option(
        help="Named source whose units form the population (default: units in the exposure "
             "log during the period).")] = None,
    cluster: Annotated[str | None, typer.Option(
        help="Hash this column of the population rows instead of the unit id: the split an "
             "experiment randomised by it (account, store, country) would make.")] = None,
    project: ProjectOption = Path("."),
    fmt: Annotated[ReplayFormat, typer.Option("--format", "-f", help="table or json.")
                   ] = ReplayFormat.table,
) -> None:
    """Replay A/A tests on past data: how often does this metric look significant by chance?

    Re-splits the units seen in PERIOD with many salts (assay's own hash), analyses every split
    as an experiment (Welch, CUPED, delta method), and reports the false-positive rate and the
    p-value distribution. A valid test is wrong about alpha of the time; a skewed or clustered
    metric shows more.

    Examples:

        assay aa-replay revenue --period 2026-02-23:2026-03-09

        assay aa-replay revenue --period 2026-02-23+14d --cluster country --format json
    """
    from assay.analysis.replay import aa_replay
    from assay.spec import load_project

    start, end = parse_period(period)
    loaded = load_project(project)
    with progress(fmt == ReplayFormat.table) as step:
        result = aa_replay(loaded, metric, start, end, splits=experiments, alpha=alpha,
                           population=population, cluster=cluster, on_step=step)
    if fmt == ReplayFormat.json:
        typer.echo(json.dumps(result.to_dict(), indent=2, default=str))
        return
    figures = result.check.figures
    table = Table(title=f"A/A replay: {metric}", show_header=False)
    table.add_column("quantity", style="bold")
    table.add_column("value", justify="right")
    rows = [("period", f"{result.start} .. {result.end} (end exclusive)"),
            ("units", f"{result.units:,}"), ("splits", str(figures.get("splits", 0))),
            ("false positives", f"{figures.get('false_positives', 0)} at alpha {alpha:g}")]
    if "rate" in figures:
        low, high = figures["rate_ci"]
        rows += [("false-positive rate", f"{figures['rate']:.1%} ({low:.1%} .. {high:.1%})"),
                 ("p-values uniform (KS p)", f"{figures['ks_p_value']:.3g}"),
                 ("p-values by decile", " ".join(str(c) for c in figures["p_value_deciles"]))]
    for label, value in rows:
        table.add_row(label, value)
    console.print(table)
    style = {"pass": "green", "warn": "yellow", "fail": "red"}[result.check.status]
    console.print(f"[{style}]{result.check.status}[/]: {result.check.message}", highlight=False)
    if result.check.remedy:
        console.print(f"[dim]what to do: {result.check.remedy}[/]", highlight=False)
