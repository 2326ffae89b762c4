"""Every YAML example in docs/specs.md is a valid spec as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from assay.spec.models import ExperimentSpec, MetricsFile

DOC = Path(__file__).resolve().parents[2] / "docs" / "specs.md"
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_the_doc_has_metric_and_experiment_examples() -> None:
    assert sum("metrics:\n  - name" in b for b in BLOCKS) >= 2
    assert any(b.startswith("# experiments/") for b in BLOCKS)


@pytest.mark.parametrize("block", BLOCKS)
def test_yaml_example_validates(block: str) -> None:
    data = yaml.safe_load(block)
    if block.startswith("# experiments/"):
        spec = ExperimentSpec.model_validate({"id": "checkout_redesign", **data})
        assert spec.sequential is not None and spec.bayesian is not None
        assert spec.lift_interval == "delta"
    else:
        assert MetricsFile.model_validate(data).metrics


def test_the_activity_example_runs(tmp_path: Path) -> None:
    """The funnel, retention and participation example analyses a warehouse as written."""
    from contextlib import closing

    from tests.metrics.activity_data import build_tables, write_project

    from assay.analysis import analyze
    from assay.spec import load_project
    from assay.warehouse.duckdb import DuckDBWarehouse

    [block] = [b for b in BLOCKS if "kind: funnel" in b]
    project = load_project(write_project(tmp_path, block))
    with closing(DuckDBWarehouse(":memory:")) as wh:
        for name, table in build_tables(300).items():
            wh.write_table(name, table, mode="replace")
        result = analyze(project, "exp", warehouse=wh)
    assert [(r.metric, r.kind) for r in result.results] == [
        ("checkout.view", "funnel"), ("checkout.cart", "funnel"), ("checkout.purchase", "funnel"),
        ("checkout.view_to_cart", "funnel"), ("checkout.cart_to_purchase", "funnel"),
        ("returned", "retention"), ("active_days", "participation")]
    assert all(r.p_value is not None and 0 <= r.p_value <= 1 for r in result.results)
