"""Spark specifics: URL parsing (pure), session reuse through ``connect``, managed tables, and
that the cluster and Connect modes really run tasks in executor processes of their own."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from tests.engines import require_module
from tests.spark_cluster import WORKERS, SparkCluster

require_module("pyspark", "spark")  # assay.warehouse.spark imports it

# After the check, like pytest.importorskip: a missing PySpark is a reasoned skip, not an error.
from assay.errors import WarehouseError  # noqa: E402
from assay.warehouse import connect, dialect_of  # noqa: E402
from assay.warehouse.spark import (  # noqa: E402
    SparkWarehouse,
    _masked,
    _parse_connect_url,
    _parse_url,
)


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


# --------------------------------------------------------------------------- Spark Connect URLs

@pytest.mark.parametrize(("url", "client", "settings"), [
    ("sc://localhost:15002", "sc://localhost:15002/", {}),
    ("sc://h.example:443/;use_ssl=true;x-databricks-cluster-id=0123-abc",
     "sc://h.example:443/;use_ssl=true;x-databricks-cluster-id=0123-abc", {}),
    ("sc://h:1/;spark.sql.shuffle.partitions=8;user_id=me", "sc://h:1/;user_id=me",
     {"spark.sql.shuffle.partitions": "8"}),
])
def test_connect_url_parsing(url: str, client: str, settings: dict[str, str]) -> None:
    assert _parse_connect_url(url) == (client, settings, None)


def test_connect_token_comes_from_the_named_variable_quoted(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_TOKEN", "dapi=a;b/c")
    client, _, token = _parse_connect_url("sc://h:443/;use_ssl=true;token_env=MY_TOKEN")
    assert token == "dapi=a;b/c"
    assert client == "sc://h:443/;use_ssl=true;token=dapi%3Da%3Bb%2Fc"
    assert _masked(f"failed for {client} and dapi=a;b/c", token) == "failed for " \
        "sc://h:443/;use_ssl=true;token=*** and ***"


@pytest.mark.parametrize(("url", "message"), [
    ("sc://h:1/;token=s3cr3t", "environment variable"),
    ("sc://h:1/;token_env=ASSAY_NOT_SET_ANYWHERE", "ASSAY_NOT_SET_ANYWHERE"),
    ("sc://h:1/;use_ssl", "needs a value"),
    ("sc://", "not a Spark Connect URL"),
    ("sc://h:1/path", "not a Spark Connect URL"),
])
def test_bad_connect_urls_say_why_without_the_secret(url: str, message: str) -> None:
    with pytest.raises(WarehouseError, match=message) as caught:
        _parse_connect_url(url)
    assert "s3cr3t" not in str(caught.value)


def test_sc_urls_are_spark_sql() -> None:
    assert dialect_of("sc://localhost:15002/;token_env=X") == "spark"


def test_a_second_master_in_one_process_is_refused(spark_session: Any) -> None:
    with pytest.raises(WarehouseError, match="one per process"):
        connect("spark://127.0.0.1:7077")
    assert spark_session.sql("SELECT 1 AS x").collect()[0]["x"] == 1


# --------------------------------------------------------------------------- cluster and Connect

_PIDS = ("SELECT DISTINCT reflect('java.lang.ProcessHandle', 'current') AS pid "
         "FROM range(0, 64, 1, 8)")


def _task_pids(wh: SparkWarehouse) -> set[str]:
    return {str(row["pid"]) for row in wh.execute(_PIDS).to_pylist()}


def test_cluster_tasks_run_in_two_executor_processes(spark_cluster_wh: SparkWarehouse,
                                                     spark_cluster: SparkCluster) -> None:
    assert spark_cluster_wh.mode == "cluster"
    assert spark_cluster_wh.spark.sparkContext.master == spark_cluster.master_url
    jvm: Any = spark_cluster_wh.spark.sparkContext._jvm
    driver = str(jvm.java.lang.ProcessHandle.current().pid())
    pids = _task_pids(spark_cluster_wh)
    assert len(pids) == WORKERS and driver not in pids  # one executor on each worker
    daemons = {str(d.process.pid) for d in spark_cluster.daemons}
    assert not pids & daemons  # executors are processes of their own


def test_connect_tasks_run_on_the_cluster_executors(spark_connect_wh: SparkWarehouse,
                                                    spark_cluster: SparkCluster) -> None:
    assert spark_connect_wh.mode == "connect"
    pids = _task_pids(spark_connect_wh)
    server = next(d for d in spark_cluster.daemons if d.name == "connect")
    assert len(pids) == WORKERS and str(server.process.pid) not in pids


def test_connect_refuses_a_wrong_token_without_printing_it(
        spark_cluster: SparkCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_WRONG_TOKEN", "wrong-but-secret-7f3a")
    with pytest.raises(WarehouseError, match=r"UNAUTHENTICATED|authentication") as caught:
        connect(f"{spark_cluster.connect_url}/;token_env=ASSAY_WRONG_TOKEN")
    text = f"{caught.value}\n{caught.value.__cause__}"
    assert "wrong-but-secret-7f3a" not in str(caught.value)
    assert spark_cluster.token is not None and spark_cluster.token not in text


def test_connect_tables_live_in_the_servers_warehouse_dir(spark_connect_wh: SparkWarehouse,
                                                          spark_cluster: SparkCluster) -> None:
    spark_connect_wh.write_table("results.stored", pa.table({"a": [1, 2, 3]}))
    files = list((spark_cluster.warehouse_dir / "connect").rglob("*.parquet"))
    assert files and all("stored" in str(f) for f in files)
    assert spark_connect_wh.execute("SELECT SUM(a) AS s FROM results.stored").to_pylist() == [
        {"s": 6}]
