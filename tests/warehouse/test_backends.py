"""ONE backend suite, run against DuckDB, PostgreSQL and Spark (the ``warehouse`` fixture).

Spark runs three ways: local mode, this process as the driver on a standalone cluster, and a
Spark Connect client (``spark``, ``spark_cluster``, ``spark_connect``).

Each test states the behaviour every backend must have; known gaps of one engine are declared
with strict xfail markers so that fixing the gap turns the suite red until the marker goes.
Oracles are Python's own values (what was written must come back) or numpy on the same data.
"""

from __future__ import annotations

import datetime as dt
import math
import struct
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp
from tests.spark_cluster import SPARK_MODES

from assay.errors import MissingTableError, WarehouseError
from assay.warehouse.base import Warehouse

Rows = Callable[[pa.Table], list[dict[str, Any]]]


def _gap(request: pytest.FixtureRequest, engine: str, reason: str) -> None:
    """Declare a known gap of ``engine`` (a ``warehouse`` parameter: ``spark_connect`` ...) for
    the current parametrized test (strict xfail)."""
    if request.node.callspec.params["warehouse"] == engine:
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))


def test_warehouse_fixture_gives_the_engine_named_in_the_test_id(
        warehouse: Warehouse, request: pytest.FixtureRequest) -> None:
    assert isinstance(warehouse, Warehouse)
    param = request.node.callspec.params["warehouse"]
    assert warehouse.name == param.partition("_")[0]
    assert warehouse.dialect == {"duckdb": "duckdb", "postgres": "postgres",
                                 "spark": "spark"}[warehouse.name]
    if warehouse.name == "spark":  # the mode is real: where the driver and the executors run
        assert warehouse.mode == SPARK_MODES[param]  # type: ignore[attr-defined]


def test_select_literals(warehouse: Warehouse, run_sql: Any, as_rows: Rows) -> None:
    result = run_sql(warehouse, "SELECT 1 AS a, 'x' AS b, CAST(2.5 AS DOUBLE) AS c")
    assert result.column_names == ["a", "b", "c"]
    assert as_rows(result) == [{"a": 1, "b": "x", "c": 2.5}]
    assert pa.types.is_integer(result.schema.field("a").type)
    assert pa.types.is_string(result.schema.field("b").type)
    assert result.schema.field("c").type == pa.float64()


def test_empty_result_keeps_its_columns(warehouse: Warehouse, run_sql: Any) -> None:
    result = run_sql(warehouse, "SELECT 1 AS a, 'x' AS b WHERE 1 = 0")
    assert result.num_rows == 0
    assert result.column_names == ["a", "b"]


def test_statement_without_rows_returns_an_empty_table(warehouse: Warehouse) -> None:
    create = exp.Create(this=exp.Schema(this=exp.to_table("made_by_ddl"), expressions=[
        exp.ColumnDef(this=exp.to_identifier("x"), kind=exp.DataType.build("BIGINT"))]),
        kind="TABLE")
    result = warehouse.execute(create.sql(dialect=warehouse.dialect))
    assert result.num_rows == 0  # DuckDB reports a "Count" column; no engine returns rows
    assert warehouse.columns("made_by_ddl") == ["x"]


def test_nulls_survive_write_and_read(warehouse: Warehouse, load_table: Any,
                                      run_sql: Any, as_rows: Rows) -> None:
    data = pa.table({
        "id": pa.array([1, 2, 3], pa.int64()),
        "i": pa.array([10, None, 30], pa.int64()),
        "f": pa.array([None, 2.5, None], pa.float64()),
        "s": pa.array(["", None, "z"], pa.string()),
        "b": pa.array([True, None, False], pa.bool_()),
    })
    load_table(warehouse, "with_nulls", data)
    back = run_sql(warehouse, "SELECT * FROM with_nulls ORDER BY id")
    assert as_rows(back) == data.to_pylist()  # '' stays '' and NULL stays NULL
    counts = run_sql(warehouse, "SELECT COUNT(*) AS n, COUNT(i) AS n_i, COUNT(f) AS n_f, "
                                "COUNT(s) AS n_s, SUM(CASE WHEN s = '' THEN 1 ELSE 0 END) AS empty "
                                "FROM with_nulls")
    assert as_rows(counts) == [{"n": 3, "n_i": 2, "n_f": 1, "n_s": 2, "empty": 1}]


STRINGS = [
    "plain",
    "é à ü ß",
    "日本語のテキスト",
    "emoji 🙂🚀",
    'quote " and \'single\' and `back`',
    "comma, semicolon; tab\tand\nnewline\r\nCRLF",
    "back\\slash \\N \\.",
    "a\n\\.\nb",  # COPY's end-of-data marker alone on a line inside a value
    "x" * 100_000,
    "ünïcödé " * 20_000,
]


def test_non_ascii_and_long_strings_round_trip(warehouse: Warehouse, load_table: Any,
                                               run_sql: Any) -> None:
    load_table(warehouse, "texts", {"id": list(range(len(STRINGS))), "s": STRINGS})
    back = run_sql(warehouse, "SELECT id, s, LENGTH(s) AS n FROM texts ORDER BY id")
    assert back.column("s").to_pylist() == STRINGS
    assert back.column("n").to_pylist() == [len(s) for s in STRINGS]  # characters, not bytes


def test_floats_round_trip_bit_for_bit(warehouse: Warehouse, load_table: Any,
                                       run_sql: Any) -> None:
    values = [0.1, 1 / 3, math.pi, 1e-300, 5e-324, 1.7976931348623157e308, -2.5, 123456789.123]
    load_table(warehouse, "floats", {"id": list(range(len(values))), "v": values})
    back = run_sql(warehouse, "SELECT v FROM floats ORDER BY id").column("v").to_pylist()
    assert [struct.pack("<d", v) for v in back] == [struct.pack("<d", v) for v in values]


def test_big_integers_round_trip(warehouse: Warehouse, load_table: Any, run_sql: Any) -> None:
    values = [2**53 + 1, -(2**63), 2**63 - 1, 0]
    load_table(warehouse, "ints", {"id": [0, 1, 2, 3], "v": pa.array(values, pa.int64())})
    back = run_sql(warehouse, "SELECT v FROM ints ORDER BY id")
    assert back.column("v").to_pylist() == values
    assert back.schema.field("v").type == pa.int64()


def test_timestamps_round_trip_and_truncate(warehouse: Warehouse, load_table: Any,
                                            run_sql: Any, as_rows: Rows) -> None:
    stamps = [dt.datetime(2024, 2, 29, 23, 59, 59, 999_999), dt.datetime(1999, 12, 31, 0, 0, 1),
              None]
    days = [dt.date(2024, 2, 29), dt.date(1970, 1, 1), None]
    load_table(warehouse, "times", pa.table({
        "id": [1, 2, 3],
        "ts": pa.array(stamps, pa.timestamp("us")),
        "d": pa.array(days, pa.date32()),
    }))
    back = as_rows(run_sql(warehouse, "SELECT ts, d FROM times ORDER BY id"))
    assert [r["ts"] for r in back] == stamps
    assert [r["d"] for r in back] == days
    derived = as_rows(run_sql(
        warehouse,
        "SELECT DATE_TRUNC('day', ts) AS day, EXTRACT(hour FROM ts) AS h, "
        "CAST(ts AS DATE) AS as_date FROM times WHERE ts IS NOT NULL ORDER BY id"))
    assert [r["day"] for r in derived] == [dt.datetime(2024, 2, 29), dt.datetime(1999, 12, 31)]
    assert [int(r["h"]) for r in derived] == [23, 0]
    assert [r["as_date"] for r in derived] == [dt.date(2024, 2, 29), dt.date(1999, 12, 31)]


def test_timestamp_literal(warehouse: Warehouse, run_sql: Any, as_rows: Rows) -> None:
    result = run_sql(warehouse, "SELECT TIMESTAMP '2024-03-10 02:30:00' AS ts")
    assert as_rows(result) == [{"ts": dt.datetime(2024, 3, 10, 2, 30)}]


def test_write_append_then_replace(warehouse: Warehouse, run_sql: Any, as_rows: Rows) -> None:
    first = pa.table({"k": ["a", "b"], "v": [1.0, 2.0]})
    warehouse.write_table("acc", first, mode="append")  # creates the table
    warehouse.write_table("acc", pa.table({"k": ["c"], "v": [3.0]}), mode="append")
    rows = as_rows(run_sql(warehouse, "SELECT k, v FROM acc ORDER BY k"))
    assert rows == [{"k": "a", "v": 1.0}, {"k": "b", "v": 2.0}, {"k": "c", "v": 3.0}]

    warehouse.write_table("acc", pa.table({"k": ["z"], "v": [9.0]}), mode="replace")
    assert as_rows(run_sql(warehouse, "SELECT k, v FROM acc")) == [{"k": "z", "v": 9.0}]

    warehouse.write_table("acc", pa.table({"other": [1, 2]}), mode="replace")
    assert warehouse.columns("acc") == ["other"]
    assert as_rows(run_sql(warehouse, "SELECT COUNT(*) AS n FROM acc")) == [{"n": 2}]


def test_append_matches_columns_by_name(warehouse: Warehouse, run_sql: Any, as_rows: Rows) -> None:
    warehouse.write_table("byname", pa.table({"a": ["x"], "b": ["y"]}))
    warehouse.write_table("byname", pa.table({"b": ["y2"], "a": ["x2"]}))
    rows = as_rows(run_sql(warehouse, "SELECT a, b FROM byname ORDER BY a"))
    assert rows == [{"a": "x", "b": "y"}, {"a": "x2", "b": "y2"}]


def test_write_rejects_an_unknown_mode(warehouse: Warehouse) -> None:
    with pytest.raises(ValueError, match="mode"):
        warehouse.write_table("t_mode", pa.table({"a": [1]}), mode="upsert")


def test_columns_of_existing_and_missing_tables(warehouse: Warehouse, load_table: Any) -> None:
    load_table(warehouse, "shaped", {"b": [1], "a": ["x"], "c": [2.0]})
    assert warehouse.columns("shaped") == ["b", "a", "c"]  # table order, not alphabetical
    assert warehouse.columns("no_such_table") is None
    assert warehouse.columns("no_such_schema.shaped") is None


def test_tables_in_a_schema(warehouse: Warehouse, run_sql: Any, as_rows: Rows) -> None:
    warehouse.write_table("results.metric_values", pa.table({"metric": ["m"], "value": [1.5]}))
    assert warehouse.columns("results.metric_values") == ["metric", "value"]
    rows = as_rows(run_sql(warehouse, "SELECT metric, value FROM results.metric_values"))
    assert rows == [{"metric": "m", "value": 1.5}]


def test_unqualified_columns_look_only_in_the_default_schema(
        warehouse: Warehouse) -> None:
    warehouse.write_table("results.metric_values", pa.table({"metric": ["m"]}))
    assert warehouse.columns("metric_values") is None
    with pytest.raises(MissingTableError):
        warehouse.execute(exp.select("*").from_("metric_values").sql(dialect=warehouse.dialect))


def test_column_names_needing_quotes_round_trip(warehouse: Warehouse) -> None:
    names = ["Revenue USD", "select", 'we"ird']
    warehouse.write_table("quoted_cols", pa.table({n: [1] for n in names}))
    assert warehouse.columns("quoted_cols") == names
    query = exp.select(*(exp.column(n, quoted=True) for n in names)).from_("quoted_cols")
    assert warehouse.execute(query.sql(dialect=warehouse.dialect)).column_names == names


def test_missing_table_raises_missing_table_error(warehouse: Warehouse) -> None:
    sql = exp.select("*").from_("no_such_table").sql(dialect=warehouse.dialect)
    with pytest.raises(MissingTableError) as info:
        warehouse.execute(sql)
    assert info.value.sql == sql
    assert info.value.backend == warehouse.name
    assert "no_such_table" in str(info.value)


def test_syntax_error_is_a_warehouse_error_with_the_sql(warehouse: Warehouse) -> None:
    sql = "SELEC 1 FROM nowhere"
    with pytest.raises(WarehouseError) as info:
        warehouse.execute(sql)
    assert not isinstance(info.value, MissingTableError)
    assert info.value.sql == sql
    assert str(info.value).startswith(f"[{warehouse.name}] ")


def test_missing_column_is_not_a_missing_table(warehouse: Warehouse, load_table: Any) -> None:
    load_table(warehouse, "has_a", {"a": [1]})
    sql = exp.select("nope").from_("has_a").sql(dialect=warehouse.dialect)
    with pytest.raises(WarehouseError) as info:
        warehouse.execute(sql)
    assert not isinstance(info.value, MissingTableError)
    assert info.value.sql == sql


def test_connection_stays_usable_after_an_error(warehouse: Warehouse, run_sql: Any) -> None:
    with pytest.raises(WarehouseError):
        warehouse.execute("SELECT * FROM no_such_table")
    assert run_sql(warehouse, "SELECT 42 AS x").column("x").to_pylist() == [42]


def _events(n: int = 2_000, seed: int = 7) -> pa.Table:
    rng = np.random.default_rng(seed)
    arm = rng.choice(["control", "treatment"], size=n)
    y = rng.normal(10.0, 3.0, size=n) + (arm == "treatment") * 0.5
    y_arr = pa.array(y, mask=rng.random(n) < 0.05)  # some missing outcomes
    return pa.table({"unit_id": np.arange(n), "arm": arm, "y": y_arr})


def test_one_sqlglot_expression_gives_the_same_statistics_everywhere(
        warehouse: Warehouse, load_table: Any, as_rows: Rows) -> None:
    data = _events()
    load_table(warehouse, "events", data)
    y = exp.column("y")
    query = (
        exp.select(
            exp.column("arm"),
            exp.alias_(exp.Count(this=exp.Star()), "n_units"),
            exp.alias_(exp.Count(this=y), "n"),
            exp.alias_(exp.Sum(this=y), "sum_y"),
            exp.alias_(exp.Sum(this=exp.Mul(this=y, expression=y)), "sum_y2"),
        )
        .from_("events")
        .group_by("arm")
        .order_by("arm")
    )
    rows = as_rows(warehouse.execute(query.sql(dialect=warehouse.dialect)))
    frame = data.to_pandas()
    for row, (arm, group) in zip(rows, frame.groupby("arm", sort=True), strict=True):
        values = group["y"].dropna().to_numpy()
        assert row["arm"] == arm
        assert row["n_units"] == len(group)
        assert row["n"] == len(values)
        assert row["sum_y"] == pytest.approx(values.sum(), rel=1e-12)
        assert row["sum_y2"] == pytest.approx((values**2).sum(), rel=1e-12)


def test_division_semantics_survive_transpilation(warehouse: Warehouse, run_sql: Any,
                                                  as_rows: Rows) -> None:
    # DuckDB's '/' is true division; SQLGlot must keep that meaning in every dialect.
    rows = as_rows(run_sql(warehouse, "SELECT 7 / 2 AS q, 7 // 2 AS iq"))
    assert rows == [{"q": 3.5, "iq": 3}]


def test_decimal_cast_keeps_precision_and_scale(warehouse: Warehouse, run_sql: Any) -> None:
    result = run_sql(warehouse, "SELECT CAST(12.345 AS DECIMAL(10, 2)) AS d")
    assert result.schema.field("d").type == pa.decimal128(10, 2)
    assert str(result.column("d")[0].as_py()) == "12.35"  # half away from zero: 12.345 -> 12.35


def test_bulk_load_of_many_rows(warehouse: Warehouse, load_table: Any, run_sql: Any,
                                as_rows: Rows) -> None:
    n = 150_000  # more than one COPY batch in PostgreSQL
    ids = np.arange(n, dtype=np.int64)
    load_table(warehouse, "many", {"id": ids, "half": ids / 2.0, "tag": (ids % 7).astype(str)})
    rows = as_rows(run_sql(warehouse, "SELECT COUNT(*) AS n, SUM(id) AS s, MAX(half) AS m, "
                                      "COUNT(DISTINCT tag) AS tags FROM many"))
    assert rows == [{"n": n, "s": n * (n - 1) // 2, "m": (n - 1) / 2, "tags": 7}]


def test_transpile_of_a_hand_written_query(warehouse: Warehouse, load_table: Any) -> None:
    load_table(warehouse, "kv", {"k": ["a", "b", None], "v": [1, None, 3]})
    sql = ("SELECT COALESCE(k, 'missing') AS k, CASE WHEN v IS NULL THEN 0 ELSE v END AS v "
           "FROM kv ORDER BY k")
    result = warehouse.execute(sqlglot.transpile(sql, read="duckdb", write=warehouse.dialect)[0])
    assert result.column("k").to_pylist() == ["a", "b", "missing"]
    assert result.column("v").to_pylist() == [1, 0, 3]
