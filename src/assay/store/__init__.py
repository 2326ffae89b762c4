"""Results are records: every analysis is written to a table in the warehouse.

One row per analysis: experiment, when, the spec hash, the verdict and the full JSON result
(which carries the SQL and the versions). Reports and dashboards read from here, never recompute.
"""

from __future__ import annotations

import json

import pyarrow as pa
from sqlglot import exp

from assay.analysis.results import AnalysisResult
from assay.report.decision import decide
from assay.warehouse import Warehouse

RESULTS_TABLE = "assay_results"


def results_table(schema: str | None = None) -> str:
    """Qualified name of the results table."""
    return f"{schema}.{RESULTS_TABLE}" if schema else RESULTS_TABLE


def save_result(warehouse: Warehouse, result: AnalysisResult, schema: str | None = None) -> str:
    """Append ``result`` to the results table (created on first use); returns the table name."""
    row = {
        "experiment": [result.experiment],
        "run_at": [result.run_at],
        "spec_hash": [result.spec_hash],
        "status": [result.status()],
        "decision": [decide(result).verdict],
        "units": [result.units],
        "result_json": [json.dumps(result.to_dict(), ensure_ascii=False)],
    }
    table = results_table(schema)
    warehouse.write_table(table, pa.table(row), mode="append")
    return table


def load_results(
    warehouse: Warehouse, experiment: str | None = None, schema: str | None = None
) -> list[dict[str, object]]:
    """Stored analyses, newest first (JSON payloads decoded), optionally for one experiment."""
    name = results_table(schema)
    if warehouse.columns(name) is None:
        return []
    query = (
        exp.select("*")
        .from_(exp.to_table(name, dialect=warehouse.dialect))
        .order_by(exp.Ordered(this=exp.column("run_at", quoted=True), desc=True))
    )
    if experiment is not None:
        query = query.where(
            exp.column("experiment", quoted=True).eq(exp.Literal.string(experiment))
        )
    rows: list[dict[str, object]] = warehouse.execute(
        query.sql(dialect=warehouse.dialect)
    ).to_pylist()
    for row in rows:
        row["result"] = json.loads(str(row.pop("result_json")))
    return rows
