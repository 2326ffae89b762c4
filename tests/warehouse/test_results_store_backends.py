"""The results store on every engine: typed tables written, read back, migrated, the same.

The analysis runs once on the shop's DuckDB file; its rows are stored in the parametrized
warehouse (DuckDB, a real PostgreSQL server, local Spark) and every figure must read back equal
to the result it came from, under a configured schema and prefix.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

from sqlglot import exp
from tests.analysis.conftest import segmented_result, shop, shop_project

from assay.results import AnalysisResult, Check, decide
from assay.spec.project import load_project
from assay.store import Layout, Store, load_results, save_result
from assay.store.lifecycle import start, stop
from assay.store.migrations import LATEST_VERSION
from assay.store.plan import current_plan
from assay.store.rows import analysis_rows
from assay.store.schema import ADDED_IN, TABLES, create_table
from assay.store.sql import literal
from assay.warehouse.base import Warehouse

__all__ = ["segmented_result", "shop", "shop_project"]  # fixtures used here

T0 = dt.datetime(2026, 5, 4, 9, 30)
T1 = dt.datetime(2026, 5, 18, 17, 0)
_PAIRS = ("diff_ci", "rel_lift_ci", "diff_ci_adjusted", "rel_lift_ci_adjusted")


def _rows(result: AnalysisResult, run_at: str | None = None) -> dict[str, list[dict[str, Any]]]:
    if run_at is not None:
        result = dataclasses.replace(result, run_at=run_at)
    verdict = decide(result)
    return analysis_rows(result.to_dict(), recommendation=(verdict.verdict, verdict.reasons),
                         experiment_status="running", plan_hash="p1", duration_s=1.25,
                         window=(dt.datetime(2026, 1, 1), dt.datetime(2026, 2, 1)))


def _close(a: Any, b: Any) -> bool:
    if isinstance(b, float) and not math.isfinite(b):
        return a is None
    if isinstance(b, float):
        return a is not None and math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-300)
    return bool(a == b)


def test_analysis_round_trips_and_is_stored_once(
    warehouse: Warehouse, segmented_result: AnalysisResult
) -> None:
    store = Store(warehouse, Layout("lab", "x_"))
    saved = store.save_analysis(_rows(segmented_result))
    again = store.save_analysis(_rows(segmented_result, run_at="2026-12-31T23:59:59+00:00"))
    assert saved.created and not again.created and again.analysis_id == saved.analysis_id
    [analysis] = store.analyses("exp")
    assert analysis.units == segmented_result.units and analysis.duration_s == 1.25
    assert analysis.window_end == dt.datetime(2026, 2, 1)
    assert analysis.run_at == dt.datetime.fromisoformat(segmented_result.run_at).replace(
        tzinfo=None)
    assert analysis.recommendation == decide(segmented_result).verdict
    stored = {(r.metric, r.variant, r.segment, r.segment_value): r
              for r in store.results(analysis.analysis_id)}
    expected = [*segmented_result.results, *segmented_result.segments]
    assert len(stored) == len(expected)
    for want in expected:
        got = stored[(want.metric, want.variant, want.segment, want.segment_value)]
        for name, value in dataclasses.asdict(want).items():
            if name in _PAIRS:
                assert _close(got.columns[f"{name}_low"], value[0] if value else None), name
                assert _close(got.columns[f"{name}_high"], value[1] if value else None), name
            elif name in got.columns:
                assert _close(got.columns[name], value), (want.metric, name)
    checks = store.checks(analysis.analysis_id)
    assert [(c.name, c.status, c.figures) for c in checks] == [
        (c.name, c.status, json.loads(json.dumps(c.figures))) for c in segmented_result.checks]
    assert store.result_json(analysis.analysis_id) == segmented_result.to_dict()
    assert warehouse.columns("lab.x_analyses") is not None
    assert warehouse.columns("x_analyses") is None  # the schema was honoured


def test_lifecycle_and_decisions_round_trip(warehouse: Warehouse, shop_project: Path,
                                            segmented_result: AnalysisResult) -> None:
    project = load_project(shop_project)
    store = Store(warehouse)
    started = start(project, store, "exp", at=T0)
    assert (started.status, started.started_at, started.plan_version) == ("running", T0, 1)
    plan = store.plan("exp")
    assert plan is not None and plan.plan == current_plan(project, "exp")
    assert plan.reason == "start" and plan.spec_text and "variants" in plan.spec_text
    saved = store.save_analysis(_rows(segmented_result))
    stopped = stop(project, store, "exp", at=T1)
    assert (stopped.status, stopped.stopped_at, stopped.started_at) == ("stopped", T1, T0)
    row = store.experiment_row("exp")
    assert row is not None
    decision = {"decision_id": "d1", "experiment_id": "exp", "decided_at": T1, "decision": "ship",
                "variant": "treatment", "decided_by": "ana", "rationale": "it's \"good\"",
                "owner": "team", "analysis_id": saved.analysis_id, "spec_hash": "h",
                "recommendation": "ship", "recommendation_reasons": '["x"]', "override": False}
    store.put_experiment({**row, "status": "decided", "decided_at": T1}, decision=decision)
    [record] = store.decisions("exp")
    assert (record.decision, record.rationale, record.override, record.recommendation_reasons) == (
        "ship", "it's \"good\"", False, ["x"])
    [experiment] = store.experiments()
    assert (experiment.status, experiment.latest_decision, experiment.latest_analysis_id) == (
        "decided", "ship", saved.analysis_id)
    assert experiment.latest_recommendation == decide(segmented_result).verdict


def _legacy_save(warehouse: Warehouse, result: AnalysisResult) -> None:
    """What assay 0.1's save_result wrote: one JSON row in assay_results."""
    columns = {"experiment": "TEXT", "run_at": "TEXT", "spec_hash": "TEXT", "status": "TEXT",
               "decision": "TEXT", "units": "BIGINT", "result_json": "TEXT"}
    table = exp.to_table("assay_results")
    warehouse.execute(exp.Create(this=exp.Schema(this=table, expressions=[
        exp.ColumnDef(this=exp.to_identifier(c, quoted=True), kind=exp.DataType.build(k))
        for c, k in columns.items()]), kind="TABLE", exists=True).sql(dialect=warehouse.dialect))
    values = [result.experiment, result.run_at, result.spec_hash, result.status(),
              decide(result).verdict, result.units, json.dumps(result.to_dict())]
    row = exp.Tuple(expressions=[exp.Literal.number(v) if isinstance(v, int)
                                 else exp.Literal.string(str(v)) for v in values])
    warehouse.execute(exp.insert(exp.Values(expressions=[row]), table).sql(
        dialect=warehouse.dialect))


def test_legacy_json_table_is_carried_forward(warehouse: Warehouse,
                                              segmented_result: AnalysisResult) -> None:
    _legacy_save(warehouse, segmented_result)
    store = Store(warehouse)
    assert store.ensure()
    [analysis] = store.analyses("exp")
    assert analysis.units == segmented_result.units
    assert len(store.results(analysis.analysis_id)) == (
        len(segmented_result.results) + len(segmented_result.segments))
    kept = warehouse.execute("SELECT COUNT(*) AS n FROM assay_results_v0").to_pylist()
    assert kept == [{"n": 1}]  # the old table is kept, renamed
    assert Store(warehouse).ensure() and len(Store(warehouse).analyses("exp")) == 1
    versions = warehouse.execute("SELECT version FROM assay_schema_version").to_pylist()
    assert sorted(v["version"] for v in versions) == list(range(1, LATEST_VERSION + 1))


def _create_as_of(warehouse: Warehouse, layout: Layout, version: int) -> None:
    """A store exactly as schema ``version`` left it: its tables without any column a later
    migration adds, and the migrations up to ``version`` recorded."""
    later = {(table, c) for v, tables in ADDED_IN.items() if v > version
             for table, names in tables.items() for c in names}
    for table, columns in TABLES.items():
        kept = {c: kind for c, kind in columns.items() if (table, c) not in later}
        warehouse.execute(create_table(layout, table, warehouse.dialect, kept).sql(
            dialect=warehouse.dialect))
    for v in range(1, version + 1):
        _insert_as_of(warehouse, layout, "schema_version", [{
            "version": v, "applied_at": T0, "description": f"version {v}"}], later)


def _insert_as_of(warehouse: Warehouse, layout: Layout, table: str,
                  rows: list[dict[str, Any]], later: set[tuple[str, str]]) -> None:
    columns = {c: kind for c, kind in TABLES[table].items() if (table, c) not in later}
    values = exp.Values(expressions=[exp.Tuple(expressions=[
        literal(row.get(c), kind) for c, kind in columns.items()]) for row in rows])
    warehouse.execute(exp.Insert(this=exp.Schema(this=layout.ref(table), expressions=[
        exp.to_identifier(c, quoted=True) for c in columns]), expression=values).sql(
        dialect=warehouse.dialect))


def test_a_version_2_store_gains_check_codes_and_remedies(
    warehouse: Warehouse, segmented_result: AnalysisResult
) -> None:
    layout = Layout("lab", "v2_")
    warehouse.execute(exp.Create(this=exp.to_identifier("lab", quoted=True), kind="SCHEMA",
                                 exists=True).sql(dialect=warehouse.dialect))
    _create_as_of(warehouse, layout, 2)
    assert "code" not in (warehouse.columns("lab.v2_checks") or [])
    later = {("checks", "code"), ("checks", "remedy")}
    old = _rows(segmented_result)
    for table in ("arms", "results", "checks", "analyses"):
        _insert_as_of(warehouse, layout, table, old[table], later)
    store = Store(warehouse, layout)
    assert store.ensure()
    assert {"code", "remedy"} <= set(warehouse.columns("lab.v2_checks") or [])
    versions = warehouse.execute(exp.select("version").from_(layout.ref("schema_version")).sql(
        dialect=warehouse.dialect)).to_pylist()
    assert sorted(v["version"] for v in versions) == [1, 2, 3] == list(range(1, LATEST_VERSION + 1))
    [before] = store.analyses("exp")
    kept = store.checks(before.analysis_id)  # rows written by version 2: no code, no remedy
    assert [(c.name, c.status) for c in kept] == [(c.name, c.status)
                                                   for c in segmented_result.checks]
    assert all(c.code is None and c.remedy is None for c in kept)
    # written now, each check carries its code and remedy in their own columns
    latest = dataclasses.replace(segmented_result, run_at="2026-12-31T23:59:59+00:00",
                                 checks=[*segmented_result.checks, Check(
                                     "srm_by_day", "fail", "the split changed", {"days": 3},
                                     code="ramp_change", remedy="analyse from the change")])
    saved = store.save_analysis(_rows(latest))
    assert saved.created
    stored = store.checks(saved.analysis_id)
    assert [(c.name, c.code, c.remedy) for c in stored] == [
        (c.name, c.code, c.remedy) for c in latest.checks]
    assert stored[-1].code == "ramp_change" and stored[-1].remedy == "analyse from the change"
    query = exp.select("code").from_(layout.ref("checks")).where(
        exp.column("code", quoted=True).eq(exp.Literal.string("ramp_change")))
    assert warehouse.execute(query.sql(dialect=warehouse.dialect)).to_pylist() == [
        {"code": "ramp_change"}]


def test_save_result_and_load_results_round_trip(warehouse: Warehouse,
                                                 segmented_result: AnalysisResult) -> None:
    """The one-call API (``save_result`` / ``load_results``), in the default and a named schema
    (was tests/cli/test_result_records.py)."""
    result = segmented_result
    save_result(warehouse, result)
    save_result(warehouse, result, schema="results")
    [record] = load_results(warehouse, "exp")
    assert record["spec_hash"] == result.spec_hash and int(record["units"]) == result.units
    assert record["result"]["results"][0]["metric"] == "revenue"
    assert load_results(warehouse, "exp", schema="results")[0]["decision"] == record["decision"]
