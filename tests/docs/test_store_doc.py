"""docs/store.md: its Python example runs as written against a stored demo."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assay.cli import app
from assay.demo import build_demo

ROOT = Path(__file__).resolve().parents[2]


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


def test_store_doc_python_example_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    [block] = _python_blocks(ROOT / "docs" / "store.md")
    build_demo(tmp_path / "demo", users=5000)
    result = CliRunner().invoke(app, ["run", "checkout_redesign", "-p", str(tmp_path / "demo"),
                                      "--fail-on", "never"])
    assert result.exit_code == 0, result.output
    capsys.readouterr()
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        exec(compile(block, "docs/store.md", "exec"), {})  # our own documentation, run as written
    finally:
        os.chdir(cwd)
    out = capsys.readouterr().out
    assert "checkout_redesign draft payments-team" in out and "revenue treatment" in out
