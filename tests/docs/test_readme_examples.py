"""The Python examples in README.md run as written (against a freshly built demo)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from assay.demo import build_demo

ROOT = Path(__file__).resolve().parents[2]


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


def test_readme_has_python_examples() -> None:
    assert _python_blocks(ROOT / "README.md")


@pytest.mark.parametrize("block", _python_blocks(ROOT / "README.md"))
def test_readme_python_example_runs(block: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                    ) -> None:
    build_demo(tmp_path / "demo", users=5000)
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        exec(compile(block, "README.md", "exec"), {})  # our own documentation, run as written
    finally:
        os.chdir(cwd)
    assert capsys.readouterr().out.strip()  # every example shows its user something
