"""``assay demo --pipelines``: seed 001's example for real: JSON vs Parquet, measured here.

A few hundred batches of generated orders go through one of two real configurations, chosen
per batch by assay's hash: write the batch to a file (JSON lines, or Parquet) with DuckDB, then
read it back into the configuration's output table with an explicit schema. Every run is
recorded through the durable path into the demo warehouse; the analysis, the gates and the
written decision use what this machine measured.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from assay.pipelines.analysis import analyze_pipeline, pipeline_decision
from assay.pipelines.designs import PipelineExperiment
from assay.pipelines.gates import GateSpec, run_gates
from assay.pipelines.monitor import anomaly_checks, run_series
from assay.pipelines.recorder import PipelineRecorder
from assay.pipelines.sinks import JournalRunSink
from assay.results import AnalysisResult, Decision
from assay.spec.models import ExperimentSpec
from assay.warehouse.duckdb import DuckDBWarehouse

PIPELINE = "ingest_orders"
OUTPUTS = {"json": "orders_out_json", "parquet": "orders_out_parquet"}
SHADOW = {"json": "orders_shadow_json", "parquet": "orders_shadow_parquet"}
SHADOW_EVERY = 15
SCHEMA = {"order_id": "BIGINT", "customer_id": "BIGINT", "status": "VARCHAR",
          "amount": "DOUBLE", "event_time": "TIMESTAMP"}
GATES = [GateSpec.model_validate(g) for g in (
    {"kind": "row_count", "min": 1},
    {"kind": "null_rate", "column": "amount", "max": 0.05},
    {"kind": "unique", "column": "order_id"},
    {"kind": "accepted_values", "column": "status", "values": ["paid", "refunded", "open"]},
    {"kind": "schema"})]
# the same sample of batches run through both configurations: their outputs must be equal
SHADOW_GATES = [GateSpec.model_validate(g) for g in (
    {"kind": "checksum", "name": "same_rows"},
    {"kind": "row_count", "name": "same_row_count", "vs_control": 0.0})]
Step = Callable[[str], None]


@dataclass(frozen=True)
class PipelineDemo:
    """What the demo produced: the result, its decision and where things were written."""

    result: AnalysisResult
    decision: Decision
    warehouse: Path
    decision_file: Path
    batches: int
    rows_per_batch: int


def experiment() -> ExperimentSpec:
    """The demo experiment: JSON (the current configuration) vs Parquet."""
    return ExperimentSpec.model_validate({
        "id": "orders_file_format", "name": "Orders ingest: JSON vs Parquet",
        "hypothesis": "Switching from JSON to Parquet improves pipeline throughput.",
        "variants": [{"name": "json", "weight": 1, "control": True},
                     {"name": "parquet", "weight": 1}],
        "metrics": {"primary": ["throughput"],
                    "guardrails": ["error_rate", "unfinished_rate"],
                    "secondary": ["latency_p50", "latency_p95", "mean_duration",
                                  "freshness_p95", "bytes_per_run"]}})


def batch(rng: np.random.Generator, index: int, rows: int, newest: dt.datetime) -> pa.Table:
    """One batch of generated orders of the minute before ``newest`` (ids unique across
    batches)."""
    offsets = np.sort(rng.integers(0, 60_000_000, rows))[::-1].astype("timedelta64[us]")
    times = np.datetime64(newest, "us") - offsets
    amount = np.round(rng.lognormal(3.0, 1.0, rows), 2)
    return pa.table({
        "order_id": pa.array(np.arange(rows) + index * rows, pa.int64()),
        "customer_id": pa.array(rng.integers(1, 50_000, rows), pa.int64()),
        "status": pa.array(rng.choice(["paid", "refunded", "open"], rows, p=[.8, .1, .1])),
        "amount": pa.array(amount, pa.float64()),
        "event_time": pa.array(times.astype("datetime64[us]"), pa.timestamp("us")),
    })


def _write_read(con: duckdb.DuckDBPyConnection, data: pa.Table, variant: str,
                folder: Path, index: int, target: str) -> tuple[int, int]:
    """Run one configuration on one batch: ``(rows read back, bytes of the file)``."""
    con.register("batch", data)
    path = folder / f"batch_{index}.{variant}"
    fmt = "json" if variant == "json" else "parquet"
    con.execute(_copy_to("batch", path, fmt))
    # DuckDB answers an INSERT with the number of rows it inserted
    count = con.execute(_insert_from_file(target, path, fmt)).fetchone()
    con.unregister("batch")
    size = path.stat().st_size
    path.unlink()
    return int(count[0]) if count else 0, size


def _copy_to(table: str, path: Path, fmt: str) -> str:
    """``COPY table TO 'path' (FORMAT fmt)``, the path quoted as a literal."""
    return exp.Copy(this=exp.to_table(table, quoted=True), kind=False,
                    files=[exp.Literal.string(str(path))],
                    params=[exp.CopyParameter(this=exp.var("FORMAT"), expression=exp.var(fmt))],
                    ).sql(dialect="duckdb")


def _insert_from_file(target: str, path: Path, fmt: str) -> str:
    """``INSERT INTO target SELECT * FROM read_json/read_parquet('path')`` (typed columns)."""
    file = exp.Literal.string(str(path))
    if fmt == "json":
        columns = exp.Struct(expressions=[
            exp.PropertyEQ(this=exp.to_identifier(k), expression=exp.Literal.string(v))
            for k, v in SCHEMA.items()])
        read: exp.Expression = exp.Anonymous(this="read_json", expressions=[
            file, exp.EQ(this=exp.column("format"),
                         expression=exp.Literal.string("newline_delimited")),
            exp.EQ(this=exp.column("columns"), expression=columns)])
    else:
        read = exp.ReadParquet(expressions=[file])
    query = exp.select(exp.Star()).from_(exp.Table(this=read))
    return exp.insert(query, exp.to_table(target, quoted=True)).sql(dialect="duckdb")


def _create_output(table: str) -> str:
    """``CREATE TABLE table (...)`` with the demo's order schema."""
    columns = [exp.ColumnDef(this=exp.to_identifier(k, quoted=True),
                             kind=exp.DataType.build(v, dialect="duckdb"))
               for k, v in SCHEMA.items()]
    return exp.Create(this=exp.Schema(this=exp.to_table(table, quoted=True),
                                      expressions=columns), kind="TABLE").sql(dialect="duckdb")


def run_demo(out: Path, *, batches: int = 300, rows: int = 2000, seed: int = 7,
             step: Step | None = None) -> PipelineDemo:
    """Run both configurations over ``batches`` batches, record, gate, analyse, decide."""
    say = step or (lambda _: None)
    out.mkdir(parents=True, exist_ok=True)
    warehouse = out / "pipelines.duckdb"
    warehouse.unlink(missing_ok=True)
    shutil.rmtree(out / "journal", ignore_errors=True)  # a fresh demo, not the last one's runs
    setup = PipelineExperiment(PIPELINE, experiment())
    rng = np.random.default_rng(seed)
    con = duckdb.connect()
    for table in (*OUTPUTS.values(), *SHADOW.values()):
        con.execute(_create_output(table))
    sink = JournalRunSink(out / "journal", lambda: DuckDBWarehouse(str(warehouse)))
    with PipelineRecorder([setup], sink) as recorder, \
            tempfile.TemporaryDirectory() as scratch:
        say(f"running {batches} batches of {rows:,} orders through JSON or Parquet")
        for index in range(batches):
            data = batch(rng, index, rows, dt.datetime.now(dt.UTC).replace(tzinfo=None))
            with recorder.run(PIPELINE, unit=f"batch-{index:05d}") as run:
                variant = run.variant or "json"
                run.rows_in = data.num_rows
                run.rows_out, run.bytes = _write_read(con, data, variant, Path(scratch), index,
                                                      OUTPUTS[variant])
                run.watermark = pc.max(data.column("event_time")).as_py()  # newest written
            if index % SHADOW_EVERY == 0:  # shadow: both configurations, outside the test
                for name, table in SHADOW.items():
                    _write_read(con, data, name, Path(scratch), index, table)
        say("loading the journaled runs into the warehouse")
    wh = DuckDBWarehouse(str(warehouse))
    try:
        for table in (*OUTPUTS.values(), *SHADOW.values()):
            relation = con.table(table)
            fetch = getattr(relation, "to_arrow_table", None) or relation.arrow  # DuckDB 1 / 2
            wh.write_table(table, fetch(), mode="replace")
        say("running the data-quality gates and the analysis")
        gates = run_gates(wh, GATES, OUTPUTS, control="json") + run_gates(
            wh, SHADOW_GATES, SHADOW, control="json")
        series = run_series(wh, "pipeline_runs", setup.experiment.id, "duration_s")
        anomalies = anomaly_checks("duration_s", series, detectors=("robust_z", "change_point"))
        result = analyze_pipeline(wh, setup, gates=gates, extra_checks=anomalies)
    finally:
        wh.close()
        con.close()
    decision = pipeline_decision(result)
    decision_file = out / "pipeline_decision.md"
    decision_file.write_text(decision_markdown(result, decision, batches, rows))
    return PipelineDemo(result, decision, warehouse, decision_file, batches, rows)


def decision_markdown(result: AnalysisResult, decision: Decision, batches: int,
                      rows: int) -> str:
    """The written decision: verdict, reasons, the measured KPIs and the gates."""
    lines = [f"# {result.name or result.experiment}: {decision.verdict}", "",
             f"Measured on this machine: {batches} batches of {rows:,} orders, each run "
             "through the configuration assay's hash gave it.", ""]
    lines += [f"- {reason}" for reason in decision.reasons]
    lines += ["", "| KPI | better | json | parquet | change | 95% CI | p |",
              "|---|---|---|---|---|---|---|"]
    for r in result.results:
        better = "higher" if r.higher_is_better else "lower"
        ci = f"{r.rel_lift_ci[0]:+.1%} .. {r.rel_lift_ci[1]:+.1%}" if r.error is None else "-"
        lift = f"{r.rel_lift:+.1%}" if r.error is None else r.error
        lines.append(f"| {r.metric} | {better} | {r.mean_control:.4g} | {r.mean_treatment:.4g}"
                     f" | {lift} | {ci} | {r.p_value:.2g} |")
    lines += ["", "## Checks and gates", ""]
    lines += [f"- **{c.status}** {c.name}: {c.message}" for c in result.checks]
    return "\n".join(lines) + "\n"
