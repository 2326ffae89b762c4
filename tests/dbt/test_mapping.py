"""dbt metrics become assay metrics by name; ref()/source() become the relations dbt built."""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assay.cli import app
from assay.spec import Source, load_project
from assay.spec.project import Project

pytestmark = pytest.mark.xdist_group("dbt")


@pytest.fixture(scope="module")
def project(dbt_demo: Path) -> Project:
    return load_project(dbt_demo)


def _source(project: Project, name: str) -> Source:
    source = project.metrics[name].source
    assert isinstance(source, Source)
    return source


def test_semantic_model_measures_become_metrics_by_name(project: Project) -> None:
    fct_orders = '"warehouse"."main"."fct_orders"'
    revenue = project.metrics["revenue"]
    assert (revenue.kind, revenue.aggregation, revenue.value) == ("mean", "sum", "net_amount")
    assert _source(project, "revenue") == Source(table=fct_orders, unit="user_id",
                                                 timestamp="ordered_at")
    orders = project.metrics["orders"]
    assert (orders.kind, orders.aggregation, orders.filter) == (
        "mean", "count", "(order_id) IS NOT NULL")
    assert project.metrics["conversion"].kind == "proportion"  # count_distinct of the unit
    refunds = project.metrics["refunds"]
    assert refunds.filter == "((is_refunded)) AND ((order_id) IS NOT NULL)"
    aov = project.metrics["aov"]
    assert (aov.kind, aov.numerator, aov.denominator) == ("ratio", "revenue", "orders")
    average = project.metrics["avg_order_value"]
    assert (average.numerator, average.denominator) == (
        "avg_order_value__sum", "avg_order_value__count")
    assert project.metrics["avg_order_value__count"].filter == "(net_amount) IS NOT NULL"
    assert _source(project, "sessions").table == '"warehouse"."main"."fct_sessions"'
    # the project's windows apply to every imported dbt metric
    assert revenue.window is not None and revenue.window.end.days == 14
    assert revenue.pre_window is not None and revenue.pre_window.start.days == -28


def test_a_metrics_file_adds_analysis_settings_to_a_dbt_metric(project: Project) -> None:
    capped, revenue = project.metrics["revenue_capped"], project.metrics["revenue"]
    assert capped.dbt == "revenue" and capped.capping is not None
    assert (capped.value, capped.source) == (revenue.value, revenue.source)
    assert project.metrics["refund_rate"].higher_is_better is False
    assert project.where[("metric", "revenue_capped")].src.file.endswith("metrics/analysis.yml")
    assert project.where[("metric", "revenue")].src.file.endswith("models/marts/semantic.yml")


def test_ref_resolves_to_the_relation_dbt_built(project: Project) -> None:
    assert project.spec.exposures.table == '"warehouse"."main"."stg_exposures"'
    assert project.spec.sources["sessions"].table == '"warehouse"."main"."fct_sessions"'
    with closing(project.warehouse(read_only=True)) as wh:
        built = wh.execute('SELECT count(*) AS n FROM "warehouse"."main"."stg_exposures"')
        raw = wh.execute('SELECT count(*) AS n FROM "exposures"')
    assert built.to_pylist() == raw.to_pylist()


@pytest.mark.parametrize(("metric", "text", "why"), [
    ("longest_session", "agg: max", "aggregates with max"),
    ("revenue_mtd", "type: cumulative", "(cumulative) accumulates over calendar time"),
])
def test_what_cannot_be_mapped_exactly_is_refused_at_its_dbt_line(
    project: Project, metric: str, text: str, why: str
) -> None:
    assert project.dbt is not None and metric not in project.metrics
    issue = project.dbt.refused[metric]
    assert issue.file.endswith("dbt/models/marts/semantic.yml") and why in issue.message
    assert issue.line is not None
    lines = (project.dbt.project_dir / "models/marts/semantic.yml").read_text().splitlines()
    assert lines[issue.line - 1].strip() == text


def test_dbt_metrics_command_lists_the_mapping_and_the_refusals(dbt_demo: Path) -> None:
    done = CliRunner().invoke(app, ["dbt", "metrics", "--project", str(dbt_demo),
                                    "--format", "json"])
    assert done.exit_code == 0, done.output
    listed = json.loads(done.output)
    assert listed["mapped"]["revenue"]["value"] == "net_amount"
    assert listed["mapped"]["revenue_capped"]["dbt"] == "revenue"
    assert "semantic.yml:" in listed["refused"]["revenue_mtd"]
    table = CliRunner().invoke(app, ["dbt", "metrics", "--project", str(dbt_demo)])
    assert table.exit_code == 0 and "refused revenue_mtd" in table.output
