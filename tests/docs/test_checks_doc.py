"""The examples in docs/checks.md run as written against a demo."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assay.cli import app

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "checks.md").read_text(encoding="utf-8")

pytestmark = pytest.mark.slow


def test_the_python_example_names_android(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    (block,) = re.findall(r"```python\n(.*?)```", DOC, flags=re.S)
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        exec(compile(block, "docs/checks.md", "exec"), {})  # our own documentation
        out = capsys.readouterr().out
        assert out.startswith("fail srm_segment | the traffic split is off only in platform = "
                              "android")
        assert "what to do: check how platform = android logs exposures" in out
        for line in re.findall(r"^(assay (?:aa-replay|power --from-archive) .*?)(?:  #.*)?$",
                               DOC, flags=re.M):
            if "--from-archive" in line:
                CliRunner().invoke(app, ["analyze", "checkout_redesign", "-p", "demo",
                                         "-f", "json"])
            result = CliRunner().invoke(app, [*shlex.split(line)[1:], "-p", "demo"])
            assert result.exit_code == 0, (line, result.output)
    finally:
        os.chdir(cwd)
