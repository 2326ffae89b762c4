"""The terminal and Markdown reports name each adjusted metric's covariates and variance cut."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console
from tests.metrics.covariates_data import build_shop, write_project

from assay.analysis import AnalysisResult, analyze
from assay.report.markdown import render_markdown
from assay.report.terminal import render_terminal
from assay.spec import load_project
from assay.warehouse.duckdb import DuckDBWarehouse


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> AnalysisResult:
    shop = build_shop(n_units=800)
    wh = DuckDBWarehouse(":memory:")
    for name in ("exposures", "orders", "sessions", "predictions"):
        wh.write_table(name, getattr(shop, name), mode="replace")
    project = load_project(write_project(Path(tmp_path_factory.mktemp("cov"))))
    return analyze(project, "exp", warehouse=wh)


def _line(result: AnalysisResult, metric: str) -> str:
    r = next(x for x in result.results if x.metric == metric)
    assert r.cuped_variance_reduction is not None
    return (f"{metric}: adjusted on {', '.join(r.covariate_coefficients)} "
            f"(variance −{r.cuped_variance_reduction:.0%})")


def test_terminal_names_the_covariates_within_80_columns(result: AnalysisResult) -> None:
    console = Console(record=True, width=80, color_system=None)
    render_terminal(result, console)
    text = console.export_text()
    flat = " ".join(text.split())
    for metric in ("revenue", "converted"):
        assert f"Regression adjustment · {_line(result, metric)}" in flat
    assert max(len(line) for line in text.splitlines()) <= 80


def test_markdown_names_the_covariates(result: AnalysisResult) -> None:
    text = render_markdown(result)
    assert "Regression adjustment (covariates fixed before exposure):" in text
    assert f"- {_line(result, 'revenue')}" in text


def test_the_html_page_names_the_covariates_escaped(result: AnalysisResult) -> None:
    from dataclasses import replace

    from assay.report.html import render_html

    r = next(x for x in result.results if x.metric == "revenue")
    odd = replace(result, results=[replace(r, covariate_coefficients={"plan=<b>team</b>": 1.0})])
    text = render_html(odd)
    assert "regression adjustment (6 covariates) on plan=&lt;b&gt;team&lt;/b&gt;" in text
    assert "<b>team</b>" not in text
