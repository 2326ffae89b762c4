"""Spark specifics: URL parsing (pure), session reuse through ``connect``, managed tables."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from tests.engines import require_module

require_module("pyspark", "spark")  # assay.warehouse.spark imports it

# After the check, like pytest.importorskip: a missing PySpark is a reasoned skip, not an error.
from assay.errors import WarehouseError  # noqa: E402
from assay.warehouse import connect  # noqa: E402
from assay.warehouse.spark import SparkWarehouse, _parse_url  # noqa: E402


@pytest.mark.parametrize(("url", "master", "settings"), [
    ("spark://local", "local[*]", {}),
    ("spark://local[2]", "local[2]", {}),
    ("spark://local[2]/", "local[2]", {}),
    ("spark://master.example:7077", "spark://master.example:7077", {}),
    ("spark://local[1]?warehouse_dir=/data/wh&spark.driver.memory=2g", "local[1]",
     {"spark.sql.warehouse.dir": "/data/wh", "spark.driver.memory": "2g"}),
])
def test_url_parsing(url: str, master: str, settings: dict[str, str]) -> None:
    assert _parse_url(url) == (master, settings)


@pytest.mark.parametrize("url", ["spark://", "postgresql://x", "spark://local?memory=2g"])
def test_bad_urls_are_warehouse_errors(url: str) -> None:
    with pytest.raises(WarehouseError):
        _parse_url(url)


def test_connect_reuses_the_running_session_and_leaves_it_running(spark_session: Any) -> None:
    wh = connect("spark://local[2]")
    assert isinstance(wh, SparkWarehouse)
    assert wh.spark is spark_session
    wh.close()  # not the owner: must not stop the shared session
    assert spark_session.sql("SELECT 1 AS x").collect()[0]["x"] == 1


def test_session_settings(spark_wh: SparkWarehouse) -> None:
    conf = spark_wh.spark.conf
    assert conf.get("spark.sql.session.timeZone") == "UTC"
    assert conf.get("spark.sql.shuffle.partitions") == "4"
    assert conf.get("spark.ui.enabled") == "false"
    assert "assay-spark-warehouse-" in conf.get("spark.sql.warehouse.dir")


def test_write_table_creates_a_managed_table(spark_wh: SparkWarehouse) -> None:
    spark_wh.write_table("managed", pa.table({"a": [1, 2]}))
    tables = {t.name: t for t in spark_wh.spark.catalog.listTables()}
    assert tables["managed"].tableType == "MANAGED"
    assert not tables["managed"].isTemporary


def test_time_zone_is_utc_for_date_arithmetic(spark_wh: SparkWarehouse) -> None:
    result = spark_wh.execute(
        "SELECT CAST(TIMESTAMP '2024-03-31 00:30:00' AS DATE) AS d, "
        "unix_timestamp(TIMESTAMP '1970-01-02 00:00:00') AS secs")
    row = result.to_pylist()[0]
    assert str(row["d"]) == "2024-03-31"
    assert row["secs"] == 86_400
