"""What one pipeline run leaves behind: rows of ``pipeline_runs`` and ``pipeline_run_kpis``.

A run writes two rows to ``pipeline_runs``: a ``start`` row when it begins (so a run that never
ends is still counted) and an ``end`` row with its outcome. Custom KPIs (``run.record("cpu_s",
3.2)``) are rows of ``pipeline_run_kpis``. Journal rows are plain JSON (timestamps as integer
microseconds since the epoch, UTC); :func:`runs_table` and :func:`kpis_table` turn them into the
warehouse tables' Arrow form.

Problems with a run's own figures (an end before its start, negative rows) never lose the run:
the bad figure is left NULL and the run carries a problem code, which the analysis reports as a
check (:data:`PROBLEM_CODES`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa

RUNS_TABLE = "pipeline_runs"
KPIS_TABLE = "pipeline_run_kpis"
STATUSES = ("running", "success", "failed")
PROBLEM_CODES = ("clock_skew", "negative_rows", "negative_bytes", "watermark_after_end",
                 "bad_kpi_value")

_EPOCH = dt.datetime(1970, 1, 1)
_MICRO = dt.timedelta(microseconds=1)

RUN_SCHEMA = pa.schema([
    ("run_id", pa.string()),
    ("pipeline", pa.string()),
    ("experiment_id", pa.string()),
    ("variant", pa.string()),
    ("unit_id", pa.string()),
    ("batch_id", pa.string()),
    ("phase", pa.string()),
    ("attempt", pa.int64()),
    ("started_at", pa.timestamp("us")),
    ("ended_at", pa.timestamp("us")),
    ("duration_s", pa.float64()),
    ("rows_in", pa.int64()),
    ("rows_out", pa.int64()),
    ("bytes", pa.int64()),
    ("status", pa.string()),
    ("error", pa.string()),
    ("watermark", pa.timestamp("us")),
    ("freshness_lag_s", pa.float64()),
    ("analysed", pa.bool_()),
    ("problems", pa.string()),
])

KPI_SCHEMA = pa.schema([
    ("run_id", pa.string()),
    ("pipeline", pa.string()),
    ("experiment_id", pa.string()),
    ("variant", pa.string()),
    ("unit_id", pa.string()),
    ("started_at", pa.timestamp("us")),
    ("analysed", pa.bool_()),
    ("name", pa.string()),
    ("value", pa.float64()),
])
_TIMESTAMPS = ("started_at", "ended_at", "watermark")


def micros(moment: dt.datetime | None) -> int | None:
    """A timestamp as integer microseconds since the epoch, UTC (naive means UTC)."""
    if moment is None:
        return None
    naive = moment if moment.tzinfo is None else moment.astimezone(dt.UTC).replace(tzinfo=None)
    return (naive - _EPOCH) // _MICRO


def from_micros(value: int) -> dt.datetime:
    """The inverse of :func:`micros` (naive UTC)."""
    return _EPOCH + value * _MICRO


def end_figures(started: int, ended: int, duration_s: float | None, *,
                rows_in: int | None, rows_out: int | None, nbytes: int | None,
                watermark: int | None) -> dict[str, Any]:
    """The ``end`` row's measured figures, each bad one NULL and named in ``problems``.

    Args:
        started: Start, epoch microseconds.
        ended: End, epoch microseconds.
        duration_s: Measured duration (a monotonic clock); None to derive it from the times.
        rows_in: Rows read.
        rows_out: Rows written.
        nbytes: Bytes written.
        watermark: Max event time written, epoch microseconds.
    """
    problems: list[str] = []
    if ended < started:
        problems.append("clock_skew")
    if duration_s is None and ended >= started:
        duration_s = (ended - started) / 1e6
    figures: dict[str, Any] = {"duration_s": duration_s, "rows_in": rows_in,
                               "rows_out": rows_out, "bytes": nbytes, "watermark": watermark,
                               "freshness_lag_s": None}
    for name in ("rows_in", "rows_out"):
        if figures[name] is not None and figures[name] < 0:
            figures[name] = None
            if "negative_rows" not in problems:
                problems.append("negative_rows")
    if nbytes is not None and nbytes < 0:
        figures["bytes"] = None
        problems.append("negative_bytes")
    if watermark is not None:
        if watermark > ended:
            problems.append("watermark_after_end")
        figures["freshness_lag_s"] = max(ended - watermark, 0) / 1e6
    figures["problems"] = ",".join(problems) or None
    return figures


def runs_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Journal rows of ``pipeline_runs`` as Arrow (missing fields are NULL)."""
    return _table(rows, RUN_SCHEMA)


def kpis_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Journal rows of ``pipeline_run_kpis`` as Arrow."""
    return _table(rows, KPI_SCHEMA)


def _table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    columns = {}
    for field in schema:
        values = [row.get(field.name) for row in rows]
        if field.name in _TIMESTAMPS:
            columns[field.name] = pa.array(values, pa.int64()).cast(field.type)
        else:
            columns[field.name] = pa.array(values, field.type)
    return pa.table(columns, schema=schema)
