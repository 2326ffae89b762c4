"""Drive the command line as a user does, and read the store back."""

from __future__ import annotations

import re
from contextlib import closing
from pathlib import Path

from typer.testing import CliRunner, Result

from assay.cli import app
from assay.spec.project import load_project
from assay.store import Store
from assay.store.lifecycle import store_of
from assay.warehouse import Warehouse

runner = CliRunner()


def assay(project: Path, *args: str) -> Result:
    """Run ``assay ARGS -p PROJECT``."""
    return runner.invoke(app, [*args, "-p", str(project)])


def open_store(project: Path) -> tuple[Store, Warehouse]:
    """The project's store and its warehouse (close the latter)."""
    loaded = load_project(project)
    wh = loaded.warehouse()
    return store_of(loaded, wh), wh


def count(project: Path, table: str) -> int:
    """Rows in one of the store's tables."""
    loaded = load_project(project)
    with closing(loaded.warehouse(read_only=True)) as wh:
        name = f"assay_{table}"
        if wh.columns(name) is None:
            return 0
        return int(wh.execute(f'SELECT COUNT(*) AS n FROM "{name}"').to_pylist()[0]["n"])


def set_key(path: Path, key: str, value: str) -> None:
    """Set a top-level ``key: value`` line of a YAML spec (added when absent)."""
    text = path.read_text(encoding="utf-8")
    line = f"{key}: {value}"
    pattern = re.compile(rf"^{re.escape(key)}:.*$", flags=re.M)
    text = pattern.sub(line, text) if pattern.search(text) else text.rstrip("\n") + f"\n{line}\n"
    path.write_text(text, encoding="utf-8")
