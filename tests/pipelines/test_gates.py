"""Data-quality gates: each kind against pandas on the same tables; a failed gate blocks."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.pipelines.analysis import pipeline_decision
from assay.pipelines.gates import GateSpec, run_gates
from assay.results import AnalysisResult, Check
from assay.warehouse import Warehouse
from assay.warehouse.duckdb import DuckDBWarehouse

NOW = dt.datetime(2026, 11, 2, 12, 0)


def _orders(n: int, *, shift: int = 0) -> pa.Table:
    return pa.table({
        "order_id": list(range(n)),
        "status": ["paid" if i % 3 else "refunded" for i in range(n)],
        "amount": [None if i % 10 == 0 else float(i + shift) for i in range(n)],
        "event_time": [NOW - dt.timedelta(minutes=n - i) for i in range(n)],
    })


@pytest.fixture
def wh() -> Iterator[Warehouse]:
    warehouse = DuckDBWarehouse(":memory:")
    warehouse.write_table("out_json", _orders(100))
    warehouse.write_table("out_parquet", _orders(100).take(list(reversed(range(100)))))
    yield warehouse
    warehouse.close()


def _verdicts(wh: Warehouse, *gates: GateSpec) -> dict[str, Check]:
    checks = run_gates(wh, gates, {"json": "out_json", "parquet": "out_parquet"}, "json",
                       now=NOW)
    return {c.name: c for c in checks}


def test_identical_rows_in_another_order_pass_every_gate(wh: Warehouse) -> None:
    gates = [GateSpec(kind="row_count", min=50, vs_control=0.01),
             GateSpec(kind="null_rate", column="amount", max=0.1),
             GateSpec(kind="unique", columns=["order_id"]),
             GateSpec(kind="accepted_values", column="status", values=["paid", "refunded"]),
             GateSpec(kind="schema"), GateSpec(kind="freshness", column="event_time",
                                               max_age="1h"),
             GateSpec(kind="checksum")]
    checks = _verdicts(wh, *gates)
    assert len(checks) == 14
    assert {c.status for c in checks.values()} == {"pass"}, [
        c.message for c in checks.values() if c.status != "pass"]
    assert checks["gate:null_rate:amount:parquet"].figures["null_rate"] == pytest.approx(0.1)


def test_a_faster_config_that_changes_the_data_is_caught(wh: Warehouse) -> None:
    changed = _orders(100, shift=1)  # every amount off by one: same count, same schema
    wh.write_table("out_parquet", changed, mode="replace")
    checks = _verdicts(wh, GateSpec(kind="checksum"), GateSpec(kind="row_count",
                                                                vs_control=0.0))
    assert checks["gate:checksum:parquet"].status == "fail"
    assert checks["gate:checksum:json"].status == "pass"
    assert checks["gate:row_count:parquet"].status == "pass"


def test_each_failure_is_named(wh: Warehouse) -> None:
    frame = _orders(100).to_pandas()
    frame.loc[5, "status"] = "lost"
    frame = pd.concat([frame, frame.iloc[:3]])
    wh.write_table("out_parquet", pa.Table.from_pandas(frame, preserve_index=False),
                   mode="replace")
    checks = _verdicts(wh, GateSpec(kind="unique", column="order_id"),
                       GateSpec(kind="accepted_values", column="status",
                                values=["paid", "refunded"]),
                       GateSpec(kind="row_count", vs_control=0.01),
                       GateSpec(kind="freshness", column="event_time",
                                max_age=dt.timedelta(seconds=30)),
                       GateSpec(kind="null_rate", column="amonut"))
    repeated = int(frame["order_id"].value_counts().gt(1).sum())
    assert checks["gate:unique:order_id:parquet"].figures["repeated_keys"] == repeated == 3
    outside = int((~frame["status"].isin(["paid", "refunded"])).sum())
    assert checks["gate:accepted_values:status:parquet"].figures["outside"] == outside
    assert checks["gate:row_count:parquet"].status == "fail"
    assert checks["gate:freshness:event_time:json"].status == "fail"
    missing = checks["gate:null_rate:amonut:json"]
    assert missing.status == "fail" and "did you mean" in missing.message


def test_schema_and_missing_tables(wh: Warehouse) -> None:
    wh.write_table("out_parquet", _orders(10).drop(["amount"]), mode="replace")
    checks = run_gates(wh, [GateSpec(kind="schema")], {"json": "out_json",
                                                       "parquet": "out_parquet",
                                                       "csv": "out_csv"}, "json")
    by_name = {c.name: c for c in checks}
    assert by_name["gate:schema:parquet"].figures["missing"] == ["amount"]
    assert "does not exist" in by_name["gate:schema:csv"].message


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(-5, 5), st.one_of(st.none(), st.text(max_size=3))),
                max_size=30), st.randoms())
def test_checksum_is_order_independent_and_sees_one_changed_row(
        rows: list[tuple[int, str | None]], rnd: object) -> None:
    wh = DuckDBWarehouse(":memory:")
    try:
        shuffled = list(rows)
        rnd.shuffle(shuffled)  # type: ignore[attr-defined]
        table = lambda rs: pa.table({"k": pa.array([r[0] for r in rs], pa.int64()),  # noqa: E731
                                     "s": pa.array([r[1] for r in rs], pa.string())})
        wh.write_table("a", table(rows))
        wh.write_table("b", table(shuffled))
        wh.write_table("c", table([*rows[1:], (99, "x")]))
        checks = {c.name: c.status for c in run_gates(
            wh, [GateSpec(kind="checksum")], {"a": "a", "b": "b", "c": "c"}, "a")}
        assert checks["gate:checksum:b"] == "pass"
        assert checks["gate:checksum:c"] == "fail"
    finally:
        wh.close()


def _winning_result() -> AnalysisResult:
    from assay.results import MetricResult

    win = MetricResult(metric="throughput", role="primary", kind="ratio", variant="parquet",
                       control="json", n_control=100, n_treatment=100, mean_control=1.0,
                       mean_treatment=2.0, diff=1.0, diff_se=0.1, diff_ci=(0.8, 1.2),
                       rel_lift=1.0, rel_lift_ci=(0.8, 1.2), p_value=1e-9,
                       p_value_adjusted=1e-9, significant=True, method="z",
                       cuped_variance_reduction=None, error=None)
    result = AnalysisResult(experiment="e", name=None, hypothesis=None, spec_hash="h",
                            run_at="now", control="json", alpha=0.05, correction="holm",
                            cuped=False, warehouse="duckdb", arms=[], results=[win],
                            segments=[], checks=[], sql={}, versions={})
    return result


def test_a_treatment_failing_a_gate_is_never_shipped() -> None:
    result = _winning_result()
    assert pipeline_decision(result).verdict == "ship"
    gate = Check("gate:checksum:parquet", "fail", "rows differ", {"variant": "parquet"})
    blocked = pipeline_decision(dataclasses.replace(result, checks=[gate]))
    assert blocked.verdict == "do not ship" and "checksum" in blocked.reasons[0]


def test_rollout_climbs_only_while_the_decision_is_ship() -> None:
    from assay.assign.flags import FlagsFile
    from assay.pipelines.rollout import next_rollout

    result = _winning_result()
    step = next_rollout(result, flag="orders_parquet", current=0.05)
    assert step.share == 0.25 and step.flag.value == "parquet" and step.flag.default == "json"
    parsed = FlagsFile.model_validate(__import__("yaml").safe_load(step.yaml()))
    assert parsed.flags[0].rollout == 0.25
    share = sum(step.value_for(f"batch-{i}") == "parquet" for i in range(4000)) / 4000
    assert 0.22 < share < 0.28
    gate = Check("gate:checksum:parquet", "fail", "rows differ", {"variant": "parquet"})
    held = next_rollout(dataclasses.replace(result, checks=[gate]), flag="orders_parquet",
                        current=0.25)
    assert held.share == 0.0 and held.reasons[0] == "held at 0: do not ship"
