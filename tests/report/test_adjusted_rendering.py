"""Reports show the intervals that go with the verdict, on a real DuckDB analysis.

The shop with a mixed family (``tests/analysis/multiplicity.py``) is analysed under Holm (the
default correction) and without a correction; the Markdown table, its forest plot and the
terminal table are read back and compared with the result's own fields.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console
from tests.analysis.multiplicity import analyze_with, mixed_project, mixed_shop

from assay.analysis import AnalysisResult, MetricResult
from assay.report import render_terminal, write_report
from assay.report.format import decimals_for, interval, num, pct
from assay.report.markdown import forest_figure

Analyses = dict[str, AnalysisResult]


@pytest.fixture(scope="module")
def analyses(tmp_path_factory: pytest.TempPathFactory) -> Analyses:
    """The mixed shop under Holm and under no correction."""
    root = tmp_path_factory.mktemp("render")
    project = mixed_project(root / "base", mixed_shop())
    return {c: analyze_with(project, c, root / c) for c in ("holm", "none")}


def _row(markdown: str, r: MetricResult) -> str:
    return next(line for line in markdown.splitlines() if line.startswith(
        f"| {r.metric} | {r.role} | {r.variant} |"))


def test_markdown_table_and_plot_carry_the_adjusted_intervals(
    analyses: Analyses, tmp_path: Path
) -> None:
    result = analyses["holm"]
    path = write_report(result, tmp_path)
    text = path.read_text(encoding="utf-8")
    assert (tmp_path / "exp_lift.png").stat().st_size > 1000
    assert "![Relative lift, Bonferroni CI, simultaneous 95% (verdict: Holm)](exp_lift.png)" in text
    assert "| abs. lift [adj. CI] | rel. lift [adj. CI] |" in text
    assert "*adj. CI: Bonferroni simultaneous intervals, each at level 1 − α/m" in text
    differs = 0
    for r in result.results:
        assert r.diff_ci_adjusted is not None and r.rel_lift_ci_adjusted is not None
        row = _row(text, r)
        places = decimals_for(r.diff_se)
        assert f"| {num(r.diff, places)} {interval(r.diff_ci_adjusted, decimals=places)} |" in row
        assert f"| {pct(r.rel_lift)} {interval(r.rel_lift_ci_adjusted, as_pct=True)} |" in row
        differs += interval(r.diff_ci, decimals=places) not in row
    assert differs == len(result.results)  # the unadjusted intervals are not shown
    # Holm's verdict on aov goes beyond its Bonferroni interval, and the report says so.
    assert "although an adjusted interval includes 0: aov · treatment." in text
    # the rule is p <= alpha everywhere (assay.stats.multiple.significant)
    assert f"Significant (adjusted p ≤ {result.alpha})" in text and "adjusted p <" not in text


def test_forest_plot_draws_the_adjusted_lift_interval_coloured_by_the_verdict(
    analyses: Analyses,
) -> None:
    result = analyses["holm"]
    fig = forest_figure(result)
    assert fig is not None
    ax = fig.axes[0]
    assert "Bonferroni CI" in ax.get_xlabel()
    # Interval segments are the horizontal two-point lines (the zero line is vertical).
    drawn = {}
    for line in ax.get_lines():
        ys = list(line.get_ydata())  # type: ignore[arg-type]
        if len(ys) == 2 and ys[0] == ys[1]:
            drawn[ys[0]] = line
    assert len(drawn) == len(result.results)
    for i, r in enumerate(reversed(result.results)):
        line = drawn[i]
        assert r.rel_lift_ci_adjusted is not None
        assert list(line.get_xdata()) == pytest.approx([100 * b for b in r.rel_lift_ci_adjusted])
        assert line.get_color() == ("tab:green" if r.significant else "tab:gray")


def test_without_a_correction_the_plain_interval_is_labelled_plainly(
    analyses: Analyses, tmp_path: Path
) -> None:
    result = analyses["none"]
    text = write_report(result, tmp_path).read_text(encoding="utf-8")
    assert "| abs. lift [CI] | rel. lift [CI] |" in text and "adj. CI" not in text
    assert "![Relative lift, 95% CI](exp_lift.png)" in text
    r = result.results[0]
    places = decimals_for(r.diff_se)
    assert f"| {num(r.diff, places)} {interval(r.diff_ci, decimals=places)} |" in _row(text, r)
    fig = forest_figure(result)
    assert fig is not None and fig.axes[0].get_xlabel().endswith(", 95% CI")


def test_terminal_table_names_the_adjusted_interval(analyses: Analyses) -> None:
    result = analyses["holm"]
    console = Console(record=True, width=400)
    render_terminal(result, console, wide=True)
    text = console.export_text()
    assert "abs. lift [adj. CI]" in text and "rel. lift [adj. CI]" in text
    assert "adj. CI: Bonferroni simultaneous intervals" in text
    r = next(r for r in result.results if r.metric == "revenue_capped")
    assert r.diff_ci_adjusted is not None
    places = decimals_for(r.diff_se)
    assert f"{num(r.diff, places)} {interval(r.diff_ci_adjusted, decimals=places)}" in text
