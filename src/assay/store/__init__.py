"""Results are records: every analysis is written to a table in the warehouse.

One row per analysis: experiment, when, the spec hash, the verdict and the full JSON result
(which carries the SQL and the versions). Reports and dashboards read from here, never recompute.
"""

from __future__ import annotations

import json

from sqlglot import exp

from assay.results import AnalysisResult, decide
from assay.warehouse import Warehouse

RESULTS_TABLE = "assay_results"


def results_table(schema: str | None = None) -> str:
    """Qualified name of the results table."""
    return f"{schema}.{RESULTS_TABLE}" if schema else RESULTS_TABLE


_COLUMNS: dict[str, str] = {
    "experiment": "TEXT",
    "run_at": "TEXT",
    "spec_hash": "TEXT",
    "status": "TEXT",
    "decision": "TEXT",
    "units": "BIGINT",
    "result_json": "TEXT",
}


def save_result(warehouse: Warehouse, result: AnalysisResult, schema: str | None = None) -> str:
    """Append ``result`` to the results table (created on first use); returns the table name.

    One row is written with plain DDL and an ``INSERT ... VALUES`` (built with SQLGlot), which
    every engine runs without a data-frame round trip.
    """
    table = results_table(schema)
    target = exp.to_table(table, dialect=warehouse.dialect)
    if schema is not None:
        warehouse.execute(exp.Create(this=exp.to_identifier(schema, quoted=True), kind="SCHEMA",
                                     exists=True).sql(dialect=warehouse.dialect))
    columns = [exp.ColumnDef(this=exp.to_identifier(name, quoted=True),
                             kind=exp.DataType.build(kind)) for name, kind in _COLUMNS.items()]
    create = exp.Create(this=exp.Schema(this=target.copy(), expressions=columns), kind="TABLE",
                        exists=True)
    warehouse.execute(create.sql(dialect=warehouse.dialect))
    values = [result.experiment, result.run_at, result.spec_hash, result.status(),
              decide(result).verdict, result.units,
              json.dumps(result.to_dict(), ensure_ascii=False)]
    row = exp.Tuple(expressions=[exp.Literal.number(v) if isinstance(v, int)
                                 else exp.Literal.string(str(v)) for v in values])
    insert = exp.Insert(
        this=exp.Schema(this=target, expressions=[exp.to_identifier(c, quoted=True)
                                                  for c in _COLUMNS]),
        expression=exp.Values(expressions=[row]),
    )
    warehouse.execute(insert.sql(dialect=warehouse.dialect))
    return table


def load_results(
    warehouse: Warehouse, experiment: str | None = None, schema: str | None = None
) -> list[dict[str, object]]:
    """Stored analyses, newest first (JSON payloads decoded), optionally for one experiment."""
    query = _select(warehouse, schema, exp.Star(), experiment=experiment)
    if query is None:
        return []
    query = query.order_by(exp.Ordered(this=exp.column("run_at", quoted=True), desc=True))
    rows: list[dict[str, object]] = warehouse.execute(
        query.sql(dialect=warehouse.dialect)
    ).to_pylist()
    for row in rows:
        row["result"] = json.loads(str(row.pop("result_json")))
    return rows


def recorded_units(
    warehouse: Warehouse, experiment: str, spec_hash: str, schema: str | None = None
) -> list[int]:
    """Units analysed at each stored analysis of ``experiment`` under exactly ``spec_hash``.

    The earlier looks of a group sequential design: filtered in the warehouse and read without
    the JSON payloads, so the cost does not grow with the size of past results.
    """
    query = _select(
        warehouse, schema, exp.column("units", quoted=True), experiment=experiment,
        spec_hash=spec_hash,
    )
    if query is None:
        return []
    rows = warehouse.execute(query.sql(dialect=warehouse.dialect)).to_pylist()
    return [int(row["units"]) for row in rows]


def _select(
    warehouse: Warehouse, schema: str | None, column: exp.Expression, **equal: str | None
) -> exp.Select | None:
    """The results table's ``SELECT column WHERE k = v AND ...``; None without the table.

    Filters whose value is None are left out.
    """
    name = results_table(schema)
    if warehouse.columns(name) is None:
        return None
    query = exp.select(column).from_(exp.to_table(name, dialect=warehouse.dialect))
    for key, value in equal.items():
        if value is not None:
            query = query.where(exp.column(key, quoted=True).eq(exp.Literal.string(value)))
    return query
