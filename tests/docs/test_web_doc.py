"""The Python example in docs/web.md runs as written (against a freshly built demo)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from assay.demo import build_demo

DOC = Path(__file__).resolve().parents[2] / "docs" / "web.md"


def test_web_doc_python_example_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert blocks
    build_demo(tmp_path / "demo", users=3000)
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        for block in blocks:
            exec(compile(block, "docs/web.md", "exec"), {})  # our own documentation
    finally:
        os.chdir(cwd)
    out = capsys.readouterr().out
    assert "rel_lift_ci_adjusted_low" in out and "'experiment'" in out
