"""How the CLI reports errors: located, readable, with a distinct exit code per kind."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from rich.markup import escape

from assay.cli.app import err_console
from assay.errors import AssayError, SpecError, WarehouseError

P = ParamSpec("P")
R = TypeVar("R")

EXIT_SPEC = 2
EXIT_WAREHOUSE = 3
EXIT_OTHER = 1
EXIT_CHECKS = 4  # analyze/run: a trust check failed (or warned, with --fail-on warn)


def reported(command: Callable[P, R]) -> Callable[P, R]:
    """Turn assay's exceptions into a clear message and an exit code (2 spec, 3 warehouse)."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except SpecError as err:
            noun = "problem" if len(err.issues) == 1 else "problems"
            err_console.print(f"[bold red]{len(err.issues)} {noun} in the spec:[/]")
            for issue in err.issues:
                # soft_wrap: a file:line a user copies must never be broken across lines
                err_console.print(
                    f"  [red]✘[/] {escape(issue.format())}", highlight=False, soft_wrap=True
                )
            raise typer.Exit(EXIT_SPEC) from None
        except WarehouseError as err:
            err_console.print(
                f"[bold red]warehouse error:[/] {escape(str(err))}", highlight=False, soft_wrap=True
            )
            if err.sql:
                err_console.print(
                    "[dim]the SQL that failed is shown by `assay sql`; first lines:[/]"
                )
                err_console.print(
                    "\n".join(err.sql.splitlines()[:8]), markup=False, highlight=False
                )
            raise typer.Exit(EXIT_WAREHOUSE) from None
        except AssayError as err:
            err_console.print(
                f"[bold red]error:[/] {escape(str(err))}", highlight=False, soft_wrap=True
            )
            raise typer.Exit(EXIT_OTHER) from None

    return wrapper
