"""``assay init`` and ``assay validate``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from assay.cli.app import ProjectOption, app, console, err_console
from assay.cli.errors import reported


@app.command()
@reported
def init(
    directory: Annotated[Path, typer.Argument(help="Where to create the project.")] = Path("."),
    force: Annotated[bool, typer.Option(help="Overwrite files that exist.")] = False,
) -> None:
    """Scaffold a project: assay_project.yml, metrics/ and experiments/ with commented examples.

    Example:

        assay init shop && cd shop && assay validate
    """
    from assay.spec.scaffold import scaffold

    written = scaffold(directory, force=force)
    for path in written:
        console.print(f"[green]created[/] {path}")
    console.print(
        "Next: point `warehouse:` in assay_project.yml at your data, then `assay validate`."
    )


@app.command()
@reported
def validate(
    project: ProjectOption = Path("."),
    warehouse: Annotated[
        bool,
        typer.Option(
            "--warehouse/--offline",
            help="Also check that tables and columns exist (catalogue look-ups, no data read).",
        ),
    ] = True,
) -> None:
    """Check a project without running any data query.

    Every problem is reported at once with its file, line and field, and a hint where one
    exists. SQL fragments are parsed; assignment is checked as the SDK would (forced variants,
    holdouts, targeting) and salts for sharing and correlated assignments. With --warehouse
    (the default) each experiment's tables and columns are looked up in the warehouse
    catalogue.

    Exit codes: 0 valid, 2 spec problems, 3 the warehouse could not be reached.

    Example:

        assay validate --project shop --offline
    """
    from assay.analysis.preflight import preflight
    from assay.errors import SpecError
    from assay.metrics.plan import plan_experiment
    from assay.spec import load_project
    from assay.spec.validate import salt_issues

    loaded = load_project(project)
    hygiene = salt_issues(loaded)
    if any(i.severity == "error" for i in hygiene):
        raise SpecError([i for i in hygiene if i.severity == "error"])
    for issue in loaded.warnings + hygiene:
        err_console.print(
            f"  [yellow]▲[/] {escape(issue.format())}", highlight=False, soft_wrap=True
        )
    if warehouse:
        wh = loaded.warehouse(read_only=True)  # a missing DuckDB file is an error, not created
        try:
            for experiment in loaded.experiments.values():
                preflight(loaded, plan_experiment(loaded, experiment), wh)
        finally:
            wh.close()
    console.print(
        f"[green]✔[/] {len(loaded.metrics)} metrics and {len(loaded.experiments)} "
        f"experiments are valid" + (" (tables and columns checked)" if warehouse else "")
    )
