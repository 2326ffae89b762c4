"""The demo's project files validate and agree with the warehouse they describe."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import sqlglot
import yaml
from sqlglot import exp

from assay.demo import DemoInfo
from assay.spec.models import ExperimentSpec, MetricsFile, MetricSpec, ProjectSpec, Source


def load(demo: DemoInfo) -> tuple[ProjectSpec, dict[str, MetricSpec], dict[str, ExperimentSpec]]:
    project = ProjectSpec(**yaml.safe_load(demo.project_file.read_text("utf-8")))
    metrics: dict[str, MetricSpec] = {}
    for file in demo.metric_files:
        for metric in MetricsFile(**yaml.safe_load(file.read_text("utf-8"))).metrics:
            assert metric.name not in metrics, metric.name
            metrics[metric.name] = metric
    experiments = {
        file.stem: ExperimentSpec(id=file.stem, **yaml.safe_load(file.read_text("utf-8")))
        for file in demo.experiment_files}
    return project, metrics, experiments


def test_files_written_where_the_info_says(demo: DemoInfo) -> None:
    root = demo.out_dir
    assert demo.project_file == root / "assay_project.yml"
    assert sorted(p.name for p in demo.metric_files) == ["carousel.yml", "commerce.yml",
                                                         "engagement.yml"]
    assert sorted(p.stem for p in demo.experiment_files) == sorted(demo.experiments)
    assert all(p.parent == root / "experiments" for p in demo.experiment_files)
    assert all(p.parent == root / "metrics" for p in demo.metric_files)


def test_files_validate_and_cross_reference(demo: DemoInfo) -> None:
    project, metrics, experiments = load(demo)
    assert project.warehouse == "duckdb:///warehouse.duckdb"
    assert set(project.sources) == {"orders", "sessions"}
    for metric in metrics.values():
        if metric.kind == "ratio":
            parts = [metrics[metric.numerator or ""], metrics[metric.denominator or ""]]
            assert all(p.kind != "ratio" and p.aggregation in ("sum", "count") for p in parts)
        else:  # a named source, or the trap's inline one (assay_project.yml stays as it was)
            assert metric.source in project.sources or isinstance(metric.source, Source), \
                metric.name
    for experiment in experiments.values():
        for name, _role in experiment.metrics.all():
            assert name in metrics, (experiment.id, name)
        assert experiment.segments and experiment.start_at() and experiment.end_at()
        truth = demo.experiments[experiment.id]
        assert tuple(v.name for v in experiment.variants) == truth.variants
        assert experiment.weights() == truth.intended_shares


def test_checkout_spec_is_the_one_asked_for(demo: DemoInfo) -> None:
    _, metrics, experiments = load(demo)
    checkout = experiments["checkout_redesign"]
    assert checkout.cuped and checkout.segments == ["platform"]
    assert checkout.metrics.primary == ["revenue"]
    assert set(checkout.metrics.secondary) >= {"conversion", "orders", "aov"}
    assert checkout.metrics.guardrails == ["refund_rate"]
    assert metrics["revenue"].pre_window is not None
    assert metrics["revenue_capped"].capping is not None
    assert metrics["aov"].kind == "ratio" and metrics["conversion"].kind == "proportion"
    assert metrics["session_duration"].aggregation == "avg"


def test_sources_and_fragments_run_against_the_warehouse(
        demo: DemoInfo, con: duckdb.DuckDBPyConnection) -> None:
    project, metrics, _ = load(demo)
    exposures = project.exposures
    columns = [exposures.experiment_id, exposures.variant, exposures.unit_id, exposures.timestamp]
    _run(con, exp.select(*[exp.column(c, quoted=True) for c in columns]).from_(
        exp.to_table(exposures.table or "")))
    for metric in metrics.values():
        if metric.kind == "ratio":
            continue
        source = (metric.source if isinstance(metric.source, Source)
                  else project.sources[str(metric.source)])
        assert isinstance(source, Source) and source.table is not None
        query = exp.select(exp.column(source.unit, quoted=True),
                           exp.column(source.timestamp, quoted=True)).from_(
            exp.to_table(source.table))
        if metric.value is not None:
            query = query.select(sqlglot.parse_one(metric.value, read="duckdb"))
        if metric.filter is not None:
            query = query.where(sqlglot.parse_one(metric.filter, read="duckdb"))
        assert _run(con, query) > 0, metric.name


def test_load_project_finds_no_issue(demo: DemoInfo) -> None:
    from assay.spec import load_project

    project = load_project(demo.out_dir)
    assert project.warnings == []
    assert set(project.experiments) == set(demo.experiments)
    assert "revenue" in project.metrics and "refund_rate" in project.metrics
    warehouse = project.warehouse(read_only=True)
    try:
        assert Path(getattr(warehouse, "path", "")) == demo.warehouse
    finally:
        warehouse.close()


@pytest.mark.parametrize("file", ["assay_project.yml", "metrics/commerce.yml",
                                  "experiments/checkout_redesign.yml"])
def test_written_files_equal_the_packaged_templates(demo: DemoInfo, file: str) -> None:
    from importlib import resources

    template = resources.files("assay.demo").joinpath("project", *file.split("/"))
    assert (demo.out_dir / file).read_bytes() == template.read_bytes()


def _run(con: duckdb.DuckDBPyConnection, query: exp.Select) -> int:
    sql = exp.select(exp.Count(this=exp.Star())).from_(query.subquery("q"))
    row = con.execute(sql.sql(dialect="duckdb")).fetchone()
    assert row is not None
    return int(row[0])
