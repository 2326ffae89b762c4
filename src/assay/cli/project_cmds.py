"""``assay init`` and ``assay validate``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from assay.cli.app import ProjectOption, app, console, err_console
from assay.cli.errors import reported

if TYPE_CHECKING:
    from assay.errors import SpecIssue
    from assay.spec.project import Project


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
    (the default) the tables and columns of every experiment, metric and source (used by an
    experiment or not) are looked up in the warehouse catalogue, and reported together with
    the spec's own problems.

    Exit codes: 0 valid, 2 spec problems, 3 the warehouse could not be reached.

    Example:

        assay validate --project shop --offline
    """
    from assay.errors import SpecError
    from assay.spec.project import read_project
    from assay.spec.validate import salt_issues

    loaded, issues = read_project(project)
    if loaded is not None:
        issues += salt_issues(loaded)
        if warehouse:
            issues += _catalogue_issues(loaded, checked_alone=all(
                i.severity != "error" for i in issues))
    for issue in (i for i in issues if i.severity != "error"):
        err_console.print(
            f"  [yellow]▲[/] {escape(issue.format())}", highlight=False, soft_wrap=True
        )
    errors = [i for i in issues if i.severity == "error"]
    if errors or loaded is None:
        raise SpecError(list(dict.fromkeys(errors)))
    console.print(
        f"[green]✔[/] {len(loaded.metrics)} metrics and {len(loaded.experiments)} "
        f"experiments are valid" + (" (tables and columns checked)" if warehouse else "")
    )


def _catalogue_issues(loaded: Project, *, checked_alone: bool) -> list[SpecIssue]:
    """The project's tables and columns, looked up in the warehouse catalogue.

    When the spec already has errors, a warehouse that cannot be reached is noted and the
    spec's errors are reported on their own; when it has none, it is the error (exit 3).
    """
    from assay.analysis.preflight import catalogue_issues
    from assay.errors import WarehouseError
    from assay.secrets import redact

    try:
        wh = loaded.warehouse(read_only=True)  # a missing DuckDB file is an error, not created
    except WarehouseError as err:
        if checked_alone:
            raise
        err_console.print(f"  [yellow]▲[/] tables and columns not checked: "
                          f"{escape(redact(str(err)))}", highlight=False, soft_wrap=True)
        return []
    try:
        return catalogue_issues(loaded, wh)
    finally:
        wh.close()
