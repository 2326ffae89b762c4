"""PostgreSQL specifics: result types, COPY edge cases, connection errors, the test server."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assay.errors import MissingTableError, WarehouseError
from assay.warehouse import connect
from assay.warehouse.postgres import PostgresWarehouse

pytestmark = pytest.mark.postgres


def test_connect_routes_postgresql_urls(postgres_url: str) -> None:
    wh = connect(postgres_url)
    try:
        assert isinstance(wh, PostgresWarehouse)
        assert wh.execute("SELECT current_user AS u").column("u").to_pylist() == ["assay"]
    finally:
        wh.close()


def test_unreachable_server_is_a_warehouse_error(postgres_url: str) -> None:
    # Port 1 on localhost refuses connections; the driver error must not leak.
    with pytest.raises(WarehouseError) as info:
        PostgresWarehouse("postgresql://assay@127.0.0.1:1/postgres?connect_timeout=2")
    assert info.value.backend == "postgres"
    assert info.value.sql is None


def test_result_types_map_to_arrow(postgres_wh: PostgresWarehouse) -> None:
    result = postgres_wh.execute(
        "SELECT 1::smallint AS i2, 2::int AS i4, 3::bigint AS i8, 1.5::real AS f4, "
        "2.5::float8 AS f8, 1.25::numeric AS n, 1.25::numeric(6, 3) AS n63, "
        "SUM(x) AS sum_big, AVG(x) AS avg_big, true AS b, 'é'::text AS t, 'ab'::varchar(4) AS v, "
        "DATE '2024-02-29' AS d, TIMESTAMP '2024-02-29 12:00:00.5' AS ts, "
        "TIMESTAMPTZ '2024-02-29 12:00:00+02' AS tstz, INTERVAL '90 minutes' AS iv, "
        "'{\"a\": [1, 2]}'::jsonb AS j, '6f1c0c0e-0000-4000-8000-000000000001'::uuid AS u "
        "FROM (VALUES (1::bigint), (2::bigint)) AS v(x)")
    types = {f.name: f.type for f in result.schema}
    assert types == {
        "i2": pa.int16(), "i4": pa.int32(), "i8": pa.int64(), "f4": pa.float32(),
        "f8": pa.float64(), "n": pa.float64(), "n63": pa.decimal128(6, 3),
        "sum_big": pa.float64(), "avg_big": pa.float64(), "b": pa.bool_(), "t": pa.string(),
        "v": pa.string(), "d": pa.date32(), "ts": pa.timestamp("us"),
        "tstz": pa.timestamp("us", tz="UTC"), "iv": pa.duration("us"), "j": pa.string(),
        "u": pa.string(),
    }
    row = result.to_pylist()[0]
    assert row["n63"] == Decimal("1.250")
    assert row["sum_big"] == 3.0 and row["avg_big"] == 1.5
    assert row["tstz"] == dt.datetime(2024, 2, 29, 10, 0, tzinfo=dt.UTC)
    assert row["iv"] == dt.timedelta(minutes=90)
    assert row["j"] == '{"a": [1, 2]}'
    assert uuid.UUID(row["u"]).version == 4


def test_unmapped_types_fall_back_to_arrow_inference_or_text(
        postgres_wh: PostgresWarehouse) -> None:
    result = postgres_wh.execute(
        "SELECT ARRAY[1, 2, NULL] AS arr, '192.168.0.1'::inet AS ip, NULL::int AS nothing")
    assert result.to_pylist() == [{"arr": [1, 2, None], "ip": "192.168.0.1", "nothing": None}]
    assert result.schema.field("ip").type == pa.string()
    assert result.schema.field("nothing").type == pa.int32()


def test_percent_signs_are_not_placeholders(postgres_wh: PostgresWarehouse) -> None:
    result = postgres_wh.execute("SELECT 7 % 3 AS m, 'a%sb' AS s")
    assert result.to_pylist() == [{"m": 1, "s": "a%sb"}]


def test_unquoted_table_names_fold_to_lower_case(postgres_wh: PostgresWarehouse) -> None:
    postgres_wh.write_table("Events", pa.table({"UnitId": [1, 2]}))
    assert postgres_wh.columns("events") == ["UnitId"]  # column names stay exact
    assert postgres_wh.execute("SELECT COUNT(*) AS n FROM Events").to_pylist() == [{"n": 2}]
    postgres_wh.write_table('"MixedCase"', pa.table({"a": [1]}))
    assert postgres_wh.columns('"MixedCase"') == ["a"]
    assert postgres_wh.columns("mixedcase") is None


def test_table_name_is_never_pasted_into_sql(postgres_wh: PostgresWarehouse) -> None:
    hostile = '"x; DROP TABLE victim; --"'
    postgres_wh.write_table("victim", pa.table({"a": [1]}))
    postgres_wh.write_table(hostile, pa.table({"a": [2]}))
    assert postgres_wh.columns("victim") == ["a"]
    assert postgres_wh.columns(hostile) == ["a"]


def test_nul_characters_are_refused_with_a_warehouse_error(
        postgres_wh: PostgresWarehouse) -> None:
    with pytest.raises(WarehouseError) as info:
        postgres_wh.write_table("nul", pa.table({"s": ["a\x00b"]}))
    assert not isinstance(info.value, MissingTableError)
    assert info.value.sql is not None and info.value.sql.startswith("COPY")
    assert postgres_wh.columns("nul") is None  # the failed load left nothing behind


def test_unsupported_arrow_type_is_a_warehouse_error(postgres_wh: PostgresWarehouse) -> None:
    with pytest.raises(WarehouseError, match="list"):
        postgres_wh.write_table("nested", pa.table({"xs": [[1, 2]]}))


def test_written_types(postgres_wh: PostgresWarehouse) -> None:
    data = pa.table({
        "i8": pa.array([1], pa.int8()), "u32": pa.array([4_000_000_000], pa.uint32()),
        "u64": pa.array([2**64 - 1], pa.uint64()), "f4": pa.array([0.5], pa.float32()),
        "dec": pa.array([Decimal("12.34")], pa.decimal128(5, 2)),
        "tz": pa.array([dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC)], pa.timestamp("us", "UTC")),
        "cat": pa.array(["x"]).dictionary_encode(), "nothing": pa.array([None], pa.null()),
    })
    postgres_wh.write_table("typed", data)
    back = postgres_wh.execute(
        "SELECT i8, u32, u64::text AS u64, f4, dec, tz, cat, nothing FROM typed")
    assert back.to_pylist() == [{
        "i8": 1, "u32": 4_000_000_000, "u64": str(2**64 - 1), "f4": 0.5,
        "dec": Decimal("12.34"), "tz": dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC), "cat": "x",
        "nothing": None}]


_TEXT = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)),
                max_size=40)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.one_of(st.none(), _TEXT), min_size=1, max_size=8))
def test_copy_round_trips_any_text(postgres_wh: PostgresWarehouse,
                                   values: list[str | None]) -> None:
    # Each example replaces the table, so sharing the function-scoped fixture is safe.
    data = pa.table({"id": list(range(len(values))), "s": pa.array(values, pa.string())})
    postgres_wh.write_table("fuzz", data, mode="replace")
    back = postgres_wh.execute("SELECT s FROM fuzz ORDER BY id").column("s").to_pylist()
    assert back == values


def test_server_runs_unprivileged_on_loopback(postgres_server: Any) -> None:
    status = Path(f"/proc/{postgres_server.process.pid}/status")
    if status.exists():  # Linux: the postmaster must not run as root
        uid_line = next(x for x in status.read_text().splitlines() if x.startswith("Uid:"))
        assert uid_line.split()[1] != "0"
    wh = PostgresWarehouse(postgres_server.url)
    try:
        settings_ = wh.execute(
            "SELECT current_setting('listen_addresses') AS l, current_setting('fsync') AS f, "
            "current_setting('data_directory') AS d").to_pylist()[0]
    finally:
        wh.close()
    assert settings_["l"] == "127.0.0.1"
    assert settings_["f"] == "off"
    assert settings_["d"].startswith(str(postgres_server.root))


def test_nested_loops_off_unless_the_url_says_otherwise(postgres_url: str) -> None:
    default = PostgresWarehouse(postgres_url)
    chosen = PostgresWarehouse(postgres_url + "?options=-cenable_nestloop%3Don")
    try:
        assert default.execute("SHOW enable_nestloop").column(0).to_pylist() == ["off"]
        assert chosen.execute("SHOW enable_nestloop").column(0).to_pylist() == ["on"]
    finally:
        default.close()
        chosen.close()


def test_loaded_tables_have_planner_statistics(postgres_wh: PostgresWarehouse) -> None:
    postgres_wh.write_table("counted", pa.table({"a": list(range(1234))}))
    rows = postgres_wh.execute(
        "SELECT reltuples FROM pg_class WHERE relname = 'counted'").to_pylist()
    assert rows == [{"reltuples": 1234.0}]  # -1 (never analysed) without the ANALYZE
