"""The Typer application and the options every command shares."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(
    name="assay",
    help=(
        "Warehouse-native experimentation: metrics and experiments in YAML, SQL run in your "
        "warehouse, statistics you can audit.\n\n"
        "Start with `assay demo` (builds a demo warehouse and analyses it), or `assay init DIR` "
        "to scaffold a project. Every command takes --project DIR (default: the current directory)."
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
)

console = Console()
err_console = Console(stderr=True)

ProjectOption = Annotated[
    Path,
    typer.Option(
        "--project",
        "-p",
        help="Project directory (holds assay_project.yml).",
        file_okay=False,
        resolve_path=True,
    ),
]
