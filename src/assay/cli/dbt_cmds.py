"""``assay dbt metrics`` and ``assay dbt generate``: a dbt project as assay's metrics layer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from assay.cli.app import ProjectOption, app, console
from assay.cli.errors import reported

dbt_app = typer.Typer(
    name="dbt",
    help="Read metrics from a dbt project (docs/dbt.md): list the mapping, generate models.",
    no_args_is_help=True,
)
app.add_typer(dbt_app)


@dbt_app.command("metrics")
@reported
def metrics_cmd(
    project: ProjectOption = Path("."),
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """List every dbt metric: the assay metric it became, or why it was refused (file:line).

    Example:

        assay dbt metrics --project demo
    """
    from assay.spec import load_project

    loaded = load_project(project)
    context = loaded.dbt
    if context is None:
        console.print("this project has no `dbt:` section")
        return
    mapped = {n: m for n, m in loaded.metrics.items() if m.dbt is not None}
    if fmt == "json":
        typer.echo(json.dumps({
            "mapped": {n: m.model_dump(mode="json", exclude_none=True) for n, m in mapped.items()},
            "refused": {n: i.format() for n, i in context.refused.items()},
        }, indent=2, default=str))
        return
    table = Table(title=f"dbt metrics ({context.manifest.path.name})", title_justify="left")
    for column in ("metric", "kind", "assay definition"):
        table.add_column(column, overflow="fold")
    for name, metric in sorted(mapped.items()):
        what = (f"{metric.numerator} / {metric.denominator}" if metric.kind == "ratio"
                else f"{metric.aggregation}({metric.value or '*'})"
                + (f" where {metric.filter}" if metric.filter else ""))
        shown = name if metric.dbt == name else f"{name} (dbt: {metric.dbt})"
        table.add_row(shown, metric.kind, escape(what))
    console.print(table)
    for name, issue in sorted(context.refused.items()):
        console.print(f"[red]refused[/] {name}: {escape(issue.format())}", highlight=False,
                      soft_wrap=True)


@dbt_app.command("generate")
@reported
def generate_cmd(
    experiment: Annotated[str, typer.Argument(help="Experiment id (file name in experiments/).")],
    project: ProjectOption = Path("."),
) -> None:
    """Write the experiment's per-unit dbt models (exp_metrics_*) and their dbt tests.

    Under the dbt project's models/assay/<experiment>/: the deduplicated first exposure of each
    unit, one model per metric with one row per unit (its value over the metric's window), and
    schema.yml with unique / not-null / accepted-values tests. `dbt build` then runs them in
    your DAG.

    Example:

        assay dbt generate checkout_redesign --project demo && (cd demo/dbt && dbt build)
    """
    from assay.dbt.generate import generate_models
    from assay.spec import load_project

    loaded = load_project(project)
    for model in generate_models(loaded, experiment):
        console.print(f"[green]wrote[/] {model.path}", highlight=False, soft_wrap=True)
