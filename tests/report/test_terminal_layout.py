"""The terminal table fits 80, 120 and 200 columns without cutting a number.

The mixed shop (``tests/analysis/multiplicity.py``) is analysed for real on DuckDB and rendered
at each width; every line must fit, no cell may be cut with an ellipsis, every figure shown
must be the whole formatted figure, and user strings that look like rich markup print as text.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console
from tests.analysis.multiplicity import analyze_with, mixed_project, mixed_shop

from assay.analysis import AnalysisResult
from assay.report import render_terminal
from assay.report.figures import figures


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("layout")
    base = mixed_project(root / "base", mixed_shop())
    analyze_with(base, "holm", root / "holm")
    return root / "holm"


@pytest.fixture(scope="module")
def result(project: Path) -> AnalysisResult:
    from assay.analysis import analyze

    return analyze(project, "exp")


def _render(result: AnalysisResult, width: int, wide: bool = False) -> str:
    console = Console(record=True, width=width, color_system=None)
    render_terminal(result, console, segments=True, wide=wide)
    return console.export_text()


@pytest.mark.parametrize("width", [80, 120, 200])
def test_every_line_fits_and_no_cell_is_cut(result: AnalysisResult, width: int) -> None:
    text = _render(result, width)
    too_long = [line for line in text.splitlines() if cell_len(line) > width]
    assert too_long == []
    assert "…" not in text
    for r in result.results:
        f = figures(r)
        row = next(line for line in text.splitlines()
                   if line.split()[:1] == [r.metric] and r.variant in line.split())
        # the relative lift and its interval are always shown, whole, on the metric's line
        assert f"{f.lift} {f.lift_ci}" in row
        assert f.p_adjusted in row


def test_narrow_terminals_name_the_columns_they_leave_out(result: AnalysisResult) -> None:
    narrow, wide = _render(result, 80), _render(result, 200)
    assert "not shown at this width:" in narrow and "--wide shows all" in narrow
    assert "not shown at this width:" not in wide
    assert "abs. lift [adj. CI]" in wide and "CUPED VR" in wide


def test_wide_shows_every_column_even_at_80(result: AnalysisResult) -> None:
    text = _render(result, 80, wide=True)
    assert "not shown at this width:" not in text
    assert "abs. lift [adj. CI]" in text and "CUPED VR" in text
    r = result.results[0]
    f = figures(r)
    assert f"{f.diff} {f.diff_ci}" in text


def test_numbers_share_one_format(result: AnalysisResult) -> None:
    text = _render(result, 200)
    assert re.search(r"\d[eE][+-]?\d", text) is None  # no scientific notation anywhere
    for r in result.results:
        f = figures(r)
        decimals = {len(s.split(".")[1]) if "." in s else 0
                    for s in (f.control, f.treatment, f.diff)}
        assert len(decimals) == 1, (r.metric, f)  # a row's means and lift share decimals


def test_markup_in_user_strings_prints_as_text(result: AnalysisResult) -> None:
    hostile = "[/]<b>[bold red]x"
    rows = [dataclasses.replace(r, variant=hostile, metric=f"m{hostile}") for r in result.results]
    checks = [dataclasses.replace(c, message=f"{c.message} {hostile}") for c in result.checks]
    odd = dataclasses.replace(result, experiment=f"e{hostile}", name=hostile, results=rows,
                              segments=[], checks=checks)
    text = _render(odd, 200)
    assert f"e{hostile}" in text and f"m{hostile}" in text
    assert text.count(hostile) >= len(rows) + len(checks)


def test_cli_honours_columns_and_wide(project: Path) -> None:
    def run(*args: str, columns: int) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "assay", "analyze", "exp", "-p", str(project),
             "--no-store", *args],
            capture_output=True, text=True, env={"COLUMNS": str(columns), "PATH": "/usr/bin"},
            check=True,
        )
        return done.stdout

    narrow = run(columns=80)
    assert max(cell_len(line) for line in narrow.splitlines()) <= 80
    assert "abs. lift" not in narrow.split("not shown")[0]
    assert "abs. lift [adj. CI]" in run("--wide", columns=80)
