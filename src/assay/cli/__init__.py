"""The ``assay`` command line. Each command group lives in its own module, registered on ``app``."""

from __future__ import annotations

import importlib

from assay.cli.app import app

# Modules that register commands on `app`, in the order `assay --help` lists their commands
# (imported by name from a list because import sorting would reorder plain imports).
_COMMAND_MODULES = [
    "assay.cli.assign_cmds",
    "assay.cli.project_cmds",
    "assay.cli.analyze_cmds",
    "assay.cli.power_cmds",
    "assay.cli.lifecycle_cmds",
    "assay.cli.run_cmds",
]

for _module in _COMMAND_MODULES:
    importlib.import_module(_module)


def main() -> None:
    """Entry point of the ``assay`` script."""
    app()


__all__ = ["app", "main"]
