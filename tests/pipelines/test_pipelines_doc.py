"""The Python examples of docs/pipelines.md run as written, in order, in one namespace."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "pipelines.md"


def test_pipeline_doc_examples_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 7
    namespace: dict[str, object] = {}
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        for i, block in enumerate(blocks):
            exec(compile(block, f"{DOC.name} example {i + 1}", "exec"), namespace)
            out = capsys.readouterr().out
            assert out.strip(), f"example {i + 1} shows its reader nothing"
    finally:
        os.chdir(cwd)
