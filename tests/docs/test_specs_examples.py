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
    if block.startswith("# experiments/checkout_redesign.yml"):
        spec = ExperimentSpec.model_validate({"id": "checkout_redesign", **data})
        assert spec.sequential is not None and spec.bayesian is not None
        assert spec.lift_interval == "delta"
    elif block.startswith("# experiments/"):
        assert ExperimentSpec.model_validate({"id": "exp", **data}).metrics.all()
    else:
        assert MetricsFile.model_validate(data).metrics


def test_the_covariates_example_runs_and_names_its_covariates(tmp_path: Path) -> None:
    from tests.metrics.covariates_data import EXPERIMENT, build_shop, write_project

    from assay.analysis import analyze
    from assay.spec import load_project
    from assay.warehouse.duckdb import DuckDBWarehouse

    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("### Covariates (regression adjustment)"):]
    block = re.search(r"```yaml\n(.*?)```", section, flags=re.S)
    assert block is not None
    experiment = EXPERIMENT.replace("  secondary: [converted]\n", "")
    project = load_project(write_project(tmp_path, block.group(1), experiment))
    shop = build_shop(n_units=600)
    wh = DuckDBWarehouse(":memory:")
    for name in ("exposures", "orders", "sessions", "predictions"):
        wh.write_table(name, getattr(shop, name), mode="replace")
    [revenue] = analyze(project, "exp", warehouse=wh).results
    assert list(revenue.covariate_coefficients) == [
        "revenue (pre)", "sessions (pre)", "tenure_days", "plan=pro", "plan=team",
        "predicted_revenue"]
    assert revenue.cuped_variance_reduction is not None and revenue.cuped_variance_reduction > 0


def test_the_stratify_by_example_runs_post_stratified(tmp_path: Path) -> None:
    from tests.metrics.covariates_data import METRICS, build_shop, write_project

    from assay.analysis import analyze
    from assay.spec import load_project
    from assay.warehouse.duckdb import DuckDBWarehouse

    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("### Post-stratification"):]
    block = re.search(r"```yaml\n(.*?)```", section, flags=re.S)
    assert block is not None
    project = load_project(write_project(tmp_path, METRICS, block.group(1)))
    shop = build_shop(n_units=600)
    wh = DuckDBWarehouse(":memory:")
    for name in ("exposures", "orders", "sessions", "predictions"):
        wh.write_table(name, getattr(shop, name), mode="replace")
    result = analyze(project, "exp", warehouse=wh)
    assert [r.metric for r in result.results] == ["spend", "ordered"]
    assert all("post-stratified on plan (3)" in r.method for r in result.results)


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
