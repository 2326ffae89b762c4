"""The experiment page's units-per-day chart reads the stored srm_by_day figures, per arm.

Checked on a real DuckDB analysis of the mixed shop: each arm's daily counts add up to the
units the exposure query analysed for that arm (two different queries), and the chart is drawn
from the stored result alone.
"""

from __future__ import annotations

import pytest
from tests.analysis.multiplicity import analyze_with, mixed_project, mixed_shop

from assay.report.page import daily_units_chart, experiment_page
from assay.results import AnalysisResult


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> AnalysisResult:
    root = tmp_path_factory.mktemp("daily")
    return analyze_with(mixed_project(root / "base", mixed_shop()), "holm", root / "holm")


def test_daily_counts_per_arm_add_up_to_the_analysed_units(result: AnalysisResult) -> None:
    check = next(c for c in result.checks if c.name == "srm_by_day")
    units = check.figures["units"]
    assert set(units) == {a.variant for a in result.arms}
    for arm in result.arms:
        assert len(units[arm.variant]) == len(check.figures["days"])
        assert sum(units[arm.variant]) == arm.units


def test_the_page_draws_units_per_day_from_one_stored_analysis(result: AnalysisResult) -> None:
    chart = daily_units_chart(result)
    assert chart is not None
    page = experiment_page(result.experiment, [result])
    assert [c.title for c in page.charts] == ["Units first exposed per day, per arm"]
    svg = str(chart.svg)
    for arm in result.arms:
        assert arm.variant in svg
