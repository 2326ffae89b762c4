"""Results are records on every engine: the same analysis stored and read back."""

from __future__ import annotations

from pathlib import Path

from assay.analysis import analyze
from assay.store import load_results, save_result
from assay.warehouse.base import Warehouse


def test_result_record_round_trips(warehouse: Warehouse, shop_project: Path) -> None:
    result = analyze(shop_project, "exp")
    save_result(warehouse, result)
    save_result(warehouse, result, schema="results")
    [record] = load_results(warehouse, "exp")
    assert record["spec_hash"] == result.spec_hash and int(record["units"]) == result.units
    assert record["result"]["results"][0]["metric"] == "revenue"
    assert load_results(warehouse, "exp", schema="results")[0]["decision"] == record["decision"]
