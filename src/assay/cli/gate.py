"""Exit codes cron and Airflow gate on: ``--fail-on warn|fail|never`` for analyze and run.

0: every analysis passed the gate; 4 (``EXIT_CHECKS``): a check failed (or, with
``--fail-on warn``, warned); 2: a spec error; 3: a warehouse error; 1: any other error.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated

import typer

from assay.cli.errors import EXIT_CHECKS


class FailOn(StrEnum):
    """Which check status makes ``analyze`` and ``run`` exit non-zero."""

    warn = "warn"
    fail = "fail"
    never = "never"


FailOnOption = Annotated[
    FailOn,
    typer.Option(
        "--fail-on",
        help="Exit 4 when a check fails (fail, the default), also when one warns (warn), or "
        "never. Spec errors exit 2, warehouse errors 3.",
    ),
]


def gate(statuses: Iterable[str], fail_on: FailOn) -> int:
    """The exit code for analyses whose worst check statuses are ``statuses``."""
    blocking = {FailOn.warn: {"warn", "fail"}, FailOn.fail: {"fail"}, FailOn.never: set()}
    return EXIT_CHECKS if any(s in blocking[fail_on] for s in statuses) else 0
