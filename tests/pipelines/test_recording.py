"""Recording runs: assignment through assay's hash, the rows written, bad figures, durability."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pipeline_helpers import T0, format_experiment

from assay.assign.engine import CompiledExperiment
from assay.errors import AssayError, SpecError
from assay.pipelines import (
    JournalRunSink,
    MemoryRunSink,
    PipelineExperiment,
    PipelineRecorder,
    Switchback,
    configure,
    run,
)
from assay.pipelines.designs import block_id
from assay.pipelines.records import from_micros
from assay.warehouse import connect


def test_a_run_is_assigned_by_the_salted_hash_and_exposed_once(setup: PipelineExperiment
                                                               ) -> None:
    sink = MemoryRunSink()
    recorder = PipelineRecorder([setup], sink)
    compiled = CompiledExperiment(setup.experiment)
    for attempt in (1, 2):
        with recorder.run("ingest_orders", unit="batch-7", attempt=attempt, at=T0) as r:
            r.rows_out = 10
    assert r.variant == compiled.variant("batch-7")
    assert sink.rows["exposures"] == [{"experiment_id": "orders_format", "variant": r.variant,
                                       "unit_id": "batch-7", "timestamp": sink.rows[
                                           "pipeline_runs"][0]["started_at"]}]
    phases = [(row["phase"], row["attempt"]) for row in sink.rows["pipeline_runs"]]
    assert phases == [("start", 1), ("end", 1), ("start", 2), ("end", 2)]
    shares = [compiled.variant(f"b{i}") for i in range(2000)]
    assert 0.45 < shares.count("parquet") / 2000 < 0.55


def test_the_end_row_holds_what_the_run_measured(setup: PipelineExperiment) -> None:
    sink = MemoryRunSink()
    recorder = PipelineRecorder([setup], sink)
    with recorder.run("ingest_orders", unit="b1", at=T0) as r:
        r.rows_in, r.rows_out, r.bytes = 100, 90, 4096
        r.watermark = T0 - dt.timedelta(minutes=5)
        r.record("cpu_s", 3.25)
    end = sink.rows["pipeline_runs"][-1]
    assert (end["rows_in"], end["rows_out"], end["bytes"], end["status"]) == (100, 90, 4096,
                                                                               "success")
    assert 0 <= end["duration_s"] < 5 and end["problems"] is None
    assert end["freshness_lag_s"] == pytest.approx(
        (from_micros(end["ended_at"]) - (T0 - dt.timedelta(minutes=5))).total_seconds())
    assert sink.rows["pipeline_kpis"][0] | {} == {
        "run_id": end["run_id"], "pipeline": "ingest_orders", "experiment_id": "orders_format",
        "variant": r.variant, "unit_id": "b1", "started_at": end["started_at"],
        "analysed": True, "name": "cpu_s", "value": 3.25}


def test_an_exception_marks_the_run_failed_and_is_re_raised(setup: PipelineExperiment) -> None:
    sink = MemoryRunSink()
    recorder = PipelineRecorder([setup], sink)
    with pytest.raises(ZeroDivisionError), recorder.run("ingest_orders", unit="b1"):
        _ = 1 / 0
    end = sink.rows["pipeline_runs"][-1]
    assert end["status"] == "failed" and end["error"].startswith("ZeroDivisionError")


def test_bad_figures_are_kept_as_problems_not_lost(setup: PipelineExperiment) -> None:
    sink = MemoryRunSink()
    recorder = PipelineRecorder([setup], sink)
    r = recorder.run("ingest_orders", unit="b1", at=T0)
    r.rows_out = -5
    r.watermark = T0 + dt.timedelta(hours=2)
    r.end(ended=T0 - dt.timedelta(seconds=3))  # the orchestrator's clock ran behind
    end = sink.rows["pipeline_runs"][-1]
    assert end["duration_s"] is None and end["rows_out"] is None
    assert end["problems"] == "clock_skew,negative_rows,watermark_after_end"
    with pytest.raises(AssayError, match="already ended"):
        r.end()


def test_clear_errors_for_unknown_pipelines_and_attempts(setup: PipelineExperiment) -> None:
    recorder = PipelineRecorder([setup], MemoryRunSink())
    with pytest.raises(SpecError, match="ingest_orders"):
        recorder.run("ingest_order", unit="b1")
    with pytest.raises(AssayError, match="attempt"):
        recorder.run("ingest_orders", unit="b1", attempt=0)
    with pytest.raises(AssayError, match="name"):
        recorder.run("ingest_orders", unit="b1").record("", 1.0)
    configure(None)
    with pytest.raises(AssayError, match="configure"):
        run("ingest_orders", unit="b1")
    configure(recorder)
    try:
        with run("ingest_orders", unit="b2") as r:
            assert r.variant in ("json", "parquet")
    finally:
        configure(None)


def test_switchback_blocks_are_the_units_and_washout_runs_are_flagged() -> None:
    design = Switchback(block=dt.timedelta(hours=1), washout=dt.timedelta(minutes=10))
    setup = PipelineExperiment("ingest_orders", format_experiment(), design)
    sink = MemoryRunSink()
    recorder = PipelineRecorder([setup], sink)
    compiled = CompiledExperiment(setup.experiment)
    for minute in range(0, 180, 5):
        at = T0 + dt.timedelta(minutes=minute)
        with recorder.run("ingest_orders", unit=f"batch-{minute}", at=at) as r:
            index = design.block_index(at)
            assert r.variant == compiled.variant(block_id("ingest_orders", index))
            assert r.analysed == (minute % 60 >= 10)
    assert len(sink.rows["exposures"]) == 3  # one per block
    with pytest.raises(AssayError, match="washout"):
        Switchback(block=dt.timedelta(hours=1), washout=dt.timedelta(hours=1))


def test_runs_reach_the_warehouse_exactly_once_through_the_journal(
        setup: PipelineExperiment, tmp_path: Path, wh_url: str) -> None:
    sink = JournalRunSink(tmp_path / "journal", lambda: connect(wh_url))
    with PipelineRecorder([setup], sink) as recorder:
        for i in range(30):
            with recorder.run("ingest_orders", unit=f"b{i}", at=T0) as r:
                r.rows_out = i
                r.record("cpu_s", 0.5)
    again = JournalRunSink(tmp_path / "journal", lambda: connect(wh_url))  # reopen: no reload
    again.close()
    wh = connect(wh_url)
    try:
        counts = wh.execute("SELECT phase, COUNT(*) AS n, SUM(rows_out) AS s FROM pipeline_runs "
                            "GROUP BY phase ORDER BY phase").to_pylist()
        assert counts == [{"phase": "end", "n": 30, "s": sum(range(30))},
                          {"phase": "start", "n": 30, "s": None}]
        assert wh.execute("SELECT COUNT(*) AS n FROM exposures").to_pylist() == [{"n": 30}]
        assert wh.execute("SELECT COUNT(*) AS n FROM pipeline_run_kpis").to_pylist() == [
            {"n": 30}]
    finally:
        wh.close()


CRASHING_PIPELINE = """
import os, sys
from assay.pipelines import JournalRunSink, PipelineExperiment, PipelineRecorder
from assay.spec.models import ExperimentSpec
from assay.warehouse import connect

class NoWarehouse:  # the loader never gets to load: only the journal holds the runs
    name = dialect = "duckdb"
    def execute(self, sql): raise SystemExit("warehouse down")
    def close(self): pass

spec = ExperimentSpec.model_validate({"id": "orders_format", "variants": [
    {"name": "json", "weight": 1}, {"name": "parquet", "weight": 1}]})
sink = JournalRunSink(sys.argv[1], NoWarehouse)
recorder = PipelineRecorder([PipelineExperiment("ingest_orders", spec)], sink)
for i in range(25):
    with recorder.run("ingest_orders", unit=f"b{i}") as run:
        run.rows_out = 100
recorder.run("ingest_orders", unit="never-ends")
os._exit(9)  # killed: no close, no flush, no atexit
"""


def test_a_crashed_pipeline_loses_no_finished_run(tmp_path: Path, wh_url: str) -> None:
    journal = tmp_path / "journal"
    script = tmp_path / "crash.py"
    script.write_text(textwrap.dedent(CRASHING_PIPELINE))
    done = subprocess.run([sys.executable, str(script), str(journal)], timeout=60)
    assert done.returncode == 9
    JournalRunSink(journal, lambda: connect(wh_url)).close()  # the next start loads them
    wh = connect(wh_url)
    try:
        rows = wh.execute("SELECT phase, COUNT(*) AS n FROM pipeline_runs GROUP BY phase "
                          "ORDER BY phase").to_pylist()
        assert rows == [{"phase": "end", "n": 25}, {"phase": "start", "n": 26}]
    finally:
        wh.close()
