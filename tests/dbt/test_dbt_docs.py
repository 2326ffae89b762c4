"""docs/dbt.md's example runs as printed: its shell block in bash (with assay and dbt on PATH),
then its Python block in the same folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.xdist_group("dbt")
DOC = Path(__file__).resolve().parents[2] / "docs" / "dbt.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_the_example_runs_as_printed(dbt_bin: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    shell = next(b for b in _blocks("bash") if "assay demo --dbt" in b)
    (python,) = _blocks("python")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "assay").symlink_to(Path(sys.executable).with_name("assay"))
    (bin_dir / "dbt").symlink_to(dbt_bin)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}",
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "COLUMNS": "80"}
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", shell], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "refused" in done.stdout and "exp_metrics_revenue__checkout_redesign" in done.stdout
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        exec(compile(python, "docs/dbt.md", "exec"), {})  # our own documentation, as written
    finally:
        os.chdir(cwd)
    out = capsys.readouterr().out
    assert "revenue lift +" in out and "model.assay_shop.fct_orders" in out
    assert "pass no dbt node changed" in out
