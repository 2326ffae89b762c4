"""A dbt model changed (edit, ``dbt build``) shows up in the next analysis, in its provenance
and in the ``dbt_drift`` check."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest

from assay.analysis import analyze
from assay.dbt.demo import build_dbt
from assay.results import AnalysisResult
from assay.spec import load_project
from assay.store import save_result

pytestmark = pytest.mark.xdist_group("dbt")
EXPERIMENT = "checkout_redesign"
FCT_ORDERS = "model.assay_shop.fct_orders"


def _analysed(shop: Path) -> AnalysisResult:
    project = load_project(shop)
    with closing(project.warehouse()) as wh:
        result = analyze(project, EXPERIMENT, warehouse=wh)
        save_result(wh, result, project.spec.results_schema)
    return result


def _drift(result: AnalysisResult) -> tuple[str, str]:
    (check,) = [c for c in result.checks if c.name == "dbt_drift"]
    return check.status, check.message


def _row(result: AnalysisResult, metric: str) -> tuple[float, float]:
    row = next(r for r in result.results if r.metric == metric)
    return row.mean_control, row.mean_treatment


def test_a_changed_model_shows_up_in_the_next_analysis_and_the_drift_check(shop: Path) -> None:
    first = _analysed(shop)
    nodes = {n.unique_id: n for n in first.dbt_nodes}
    assert {FCT_ORDERS, "model.assay_shop.stg_orders", "source.assay_shop.shop.orders",
            "semantic_model.assay_shop.orders", "metric.assay_shop.revenue"} <= set(nodes)
    assert nodes[FCT_ORDERS].file == "models/marts/fct_orders.sql"
    assert nodes[FCT_ORDERS].relation == '"warehouse"."main"."fct_orders"'
    assert first.to_dict()["dbt_nodes"][0]["checksum"]
    assert _drift(first)[0] == "pass"

    build_dbt(shop / "dbt")  # rebuilt, unchanged: no drift
    again = _analysed(shop)
    assert _drift(again)[0] == "pass"
    assert {n.unique_id: n.checksum for n in again.dbt_nodes} == {
        n.unique_id: n.checksum for n in first.dbt_nodes}

    model = shop / "dbt" / "models" / "marts" / "fct_orders.sql"
    text = model.read_text()
    edited = text.replace("amount - coalesce(refund_amount, 0) as net_amount",
                          "2 * (amount - coalesce(refund_amount, 0)) as net_amount")
    assert edited != text
    model.write_text(edited)
    build_dbt(shop / "dbt")
    changed = _analysed(shop)
    for metric in ("revenue", "aov"):
        before, after = _row(first, metric), _row(changed, metric)
        assert after == pytest.approx((2 * before[0], 2 * before[1]), rel=1e-9), metric
    assert _row(changed, "conversion") == _row(first, "conversion")
    status, message = _drift(changed)
    assert status == "warn" and "fct_orders (models/marts/fct_orders.sql)" in message
    changed_nodes = {n.unique_id: n.checksum for n in changed.dbt_nodes}
    assert changed_nodes[FCT_ORDERS] != nodes[FCT_ORDERS].checksum
    assert changed_nodes["model.assay_shop.stg_orders"] == nodes[
        "model.assay_shop.stg_orders"].checksum
