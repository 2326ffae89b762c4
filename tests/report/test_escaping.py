"""User text (experiment names, variant and segment values from the data) is never markup: a
`[/]` in any of them crashed the terminal table with MarkupError; `|` and newlines broke the
Markdown tables."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from rich.console import Console
from tests.analysis.multiplicity import analyze_with, mixed_project, mixed_shop

from assay.analysis import AnalysisResult
from assay.report import render_terminal
from assay.report.markdown import render_markdown

NASTY = "[/]x|y\n<b>*z*</b>[bold]"


@pytest.fixture(scope="module")
def poisoned(tmp_path_factory: pytest.TempPathFactory) -> AnalysisResult:
    root = tmp_path_factory.mktemp("escape")
    result = analyze_with(mixed_project(root / "base", mixed_shop()), "holm", root / "holm")
    rename = {result.control: result.control + NASTY}

    def arm(name: str) -> str:
        return rename.get(name, name + "[/]")

    results = [dataclasses.replace(r, variant=arm(r.variant), control=arm(r.control),
                                   segment="country", segment_value=NASTY)
               for r in result.results]
    return dataclasses.replace(
        result, experiment="exp[/]", name=NASTY, hypothesis=NASTY, control=arm(result.control),
        arms=[dataclasses.replace(a, variant=arm(a.variant)) for a in result.arms],
        results=results, segments=results,
        checks=[dataclasses.replace(c, message=c.message + NASTY) for c in result.checks])


def test_terminal_prints_markup_as_text(poisoned: AnalysisResult) -> None:
    console = Console(record=True, width=250)
    render_terminal(poisoned, console, segments=True)
    text = console.export_text()
    assert "exp[/]" in text and "[/]x|y" in text and "[bold]" in text


def test_markdown_tables_keep_their_shape(poisoned: AnalysisResult, tmp_path: Path) -> None:
    markdown = render_markdown(poisoned)
    rows = [line for line in markdown.splitlines() if line.startswith("| ")]
    header_cells = {}
    for line in markdown.splitlines():
        if line.startswith("|---"):
            header_cells[len(header_cells)] = line.count("|")
    for line in rows:
        cells = line.replace("\\|", "").count("|")
        assert cells in header_cells.values(), line
    assert "<b>" not in markdown and "\\[/\\]" in markdown
