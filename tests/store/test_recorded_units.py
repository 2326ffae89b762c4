"""The earlier looks of a group sequential design, read from the results table."""

from __future__ import annotations

from assay.results import AnalysisResult, Arm
from assay.store import load_results, recorded_units, save_result
from assay.warehouse.duckdb import DuckDBWarehouse


def _result(experiment: str, spec_hash: str, units: int) -> AnalysisResult:
    arms = [Arm("control", units - units // 2, 0.5, 0.5, units), Arm("b", units // 2, 0.5, 0.5, 0)]
    return AnalysisResult(experiment, None, None, spec_hash, "2026-01-01T00:00:00", "control",
                          0.05, "none", False, "duckdb", arms, [], [], [], {}, {})


def test_only_this_experiment_and_spec_count() -> None:
    wh = DuckDBWarehouse()
    try:
        assert recorded_units(wh, "exp", "h1") == []  # no results table yet
        for experiment, spec, units in [("exp", "h1", 100), ("exp", "h2", 200),
                                        ("other", "h1", 300), ("exp", "h1", 401)]:
            save_result(wh, _result(experiment, spec, units), schema="results")
        assert sorted(recorded_units(wh, "exp", "h1", schema="results")) == [100, 401]
        assert recorded_units(wh, "exp", "h3", schema="results") == []
        # The same records as the full load, filtered in Python.
        full = load_results(wh, "exp", schema="results")
        assert sorted(recorded_units(wh, "exp", "h2", schema="results")) == sorted(
            int(str(r["units"])) for r in full if r["spec_hash"] == "h2"
        )
    finally:
        wh.close()
