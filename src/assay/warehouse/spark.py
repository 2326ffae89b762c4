"""Spark backend (PySpark): local mode for development and tests, a cluster in production.

URLs: ``spark://local`` (all cores), ``spark://local[2]`` (two threads), ``spark://host:7077``
(a standalone cluster master). Query parameters that start with ``spark.`` become session
settings (``spark://local[2]?spark.driver.memory=2g``); ``warehouse_dir`` sets where managed
tables are stored (a fresh temporary directory by default in local mode).

:meth:`SparkWarehouse.write_table` writes a *managed table* (Parquet under the warehouse
directory) with ``saveAsTable``, so later SQL finds it with ``FROM tbl`` like in the other
backends, appends match columns by name, and ``DROP TABLE`` removes its files. Without Hive
support the catalog lives in the session: tables outlive a query but not the session.

Every session this module builds uses the UTC session time zone, so timestamps agree with the
DuckDB and PostgreSQL backends.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from typing import Any
from urllib.parse import parse_qsl

import pyarrow as pa
import pyspark
from py4j.protocol import Py4JError
from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, SparkSession
from sqlglot import exp

from assay.errors import MissingTableError, WarehouseError
from assay.warehouse.base import check_write_mode, first_line

_DIALECT = "spark"
_PYSPARK_MAJOR = int(pyspark.__version__.split(".")[0])
_MISSING_TABLE_CONDITIONS = frozenset({"TABLE_OR_VIEW_NOT_FOUND", "SCHEMA_NOT_FOUND"})

# Small and quiet: local mode is for development and tests; a cluster overrides these.
_LOCAL_DEFAULTS: dict[str, str] = {
    "spark.driver.memory": "1g",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
}
_SESSION_SETTINGS: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}


class SparkWarehouse:
    """A Spark session that runs Spark SQL and returns Arrow.

    Args:
        spark: The session to use.
        owns_session: Stop the session (and remove ``warehouse_dir``) on :meth:`close`.
        warehouse_dir: A temporary warehouse directory this object created and must remove.
    """

    dialect = _DIALECT
    name = "spark"

    def __init__(self, spark: SparkSession, *, owns_session: bool = False,
                 warehouse_dir: str | None = None) -> None:
        self.spark = spark
        self._owns_session = owns_session
        self._warehouse_dir = warehouse_dir
        _quiet_query_context_logs()

    @classmethod
    def from_url(cls, url: str) -> SparkWarehouse:
        """Build (or reuse) a session from a ``spark://`` URL (see the module docstring).

        Raises:
            WarehouseError: The URL is malformed or the session cannot start.
        """
        master, settings = _parse_url(url)
        local = master.startswith("local")
        temp_dir = None
        if local and "spark.sql.warehouse.dir" not in settings:
            temp_dir = tempfile.mkdtemp(prefix="assay-spark-warehouse-")
            settings["spark.sql.warehouse.dir"] = temp_dir
        defaults = _LOCAL_DEFAULTS if local else {}
        fresh = SparkSession.getActiveSession() is None
        builder = SparkSession.builder.master(master).appName("assay")
        for key, value in {**defaults, **_SESSION_SETTINGS, **settings}.items():
            builder = builder.config(key, value)
        try:
            spark = builder.getOrCreate()
        except (PySparkException, OSError, RuntimeError) as err:
            if temp_dir is not None:
                shutil.rmtree(temp_dir, ignore_errors=True)
            raise WarehouseError(f"cannot start Spark ({master}): {first_line(err)}",
                                 backend=cls.name) from err
        return cls(spark, owns_session=fresh, warehouse_dir=temp_dir if fresh else None)

    def execute(self, sql: str) -> pa.Table:
        """Run one Spark SQL statement and return its rows as Arrow."""
        try:
            frame = self.spark.sql(sql)
            if not frame.columns:
                return pa.table({})
            return _to_arrow(frame)
        except PySparkException as err:
            if _condition(err) in _MISSING_TABLE_CONDITIONS:
                raise MissingTableError(first_line(err), sql=sql, backend=self.name) from err
            raise WarehouseError(first_line(err), sql=sql, backend=self.name) from err
        except Py4JError as err:
            raise WarehouseError(first_line(err), sql=sql, backend=self.name) from err

    def columns(self, table: str) -> list[str] | None:
        """Column names of ``table`` (``db.table`` allowed), or None if it does not exist."""
        name = _table_name(table)
        try:
            return list(self.spark.table(name).columns)
        except PySparkException as err:
            if _condition(err) in _MISSING_TABLE_CONDITIONS:
                return None
            raise WarehouseError(first_line(err), backend=self.name) from err
        except Py4JError as err:
            raise WarehouseError(first_line(err), backend=self.name) from err

    def write_table(self, table: str, data: pa.Table, *, mode: str = "append") -> None:
        """Create the managed table ``table`` if needed and append or replace its rows.

        Raises:
            ValueError: ``mode`` is neither ``"append"`` nor ``"replace"``.
            WarehouseError: Spark refused the data or the table.
        """
        check_write_mode(mode)
        ref = exp.to_table(table, dialect=_DIALECT)
        sql = None
        try:
            if ref.db:
                sql = exp.Create(this=exp.Table(this=exp.to_identifier(ref.db)), kind="SCHEMA",
                                 exists=True).sql(dialect=_DIALECT, identify=True)
                self.spark.sql(sql)
            sql = None
            frame = _from_arrow(self.spark, data)
            writer = frame.write.mode("overwrite" if mode == "replace" else "append")
            writer.saveAsTable(_table_name(table))
        except (PySparkException, Py4JError) as err:
            raise WarehouseError(first_line(err), sql=sql, backend=self.name) from err

    def close(self) -> None:
        """Stop the session if this object started it; a shared session is left running."""
        if self._owns_session:
            self.spark.stop()
            self._owns_session = False
        if self._warehouse_dir is not None:
            shutil.rmtree(self._warehouse_dir, ignore_errors=True)
            self._warehouse_dir = None


def _parse_url(url: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = url.partition("://")
    if scheme.lower() != "spark" or not rest:
        raise WarehouseError(f"not a spark:// URL: {url!r}", backend="spark")
    target, _, query = rest.partition("?")
    target = target.rstrip("/")
    settings: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key == "warehouse_dir":
            settings["spark.sql.warehouse.dir"] = value
        elif key.startswith("spark."):
            settings[key] = value
        else:
            raise WarehouseError(f"unknown spark URL parameter {key!r} (use warehouse_dir or "
                                 "spark.* settings)", backend="spark")
    if target == "local":
        return "local[*]", settings
    if target.startswith("local["):
        return target, settings
    return f"spark://{target}", settings


def _table_name(table: str) -> str:
    """``db.table`` with every part backquoted, as Spark's table APIs parse it."""
    return exp.to_table(table, dialect=_DIALECT).sql(dialect=_DIALECT, identify=True)


def _to_arrow(frame: DataFrame) -> pa.Table:
    if _PYSPARK_MAJOR >= 4:
        return frame.toArrow()
    return pa.Table.from_pandas(frame.toPandas(), preserve_index=False)


def _from_arrow(spark: SparkSession, data: pa.Table) -> DataFrame:
    if _PYSPARK_MAJOR >= 4:
        return spark.createDataFrame(data)
    return spark.createDataFrame(data.to_pandas())


def _condition(err: PySparkException) -> str | None:
    getter: Any = getattr(err, "getCondition", None) or getattr(err, "getErrorClass", None)
    return getter() if getter is not None else None


def _quiet_query_context_logs() -> None:
    """PySpark 4 logs every SQL error as JSON on stderr; assay re-raises it, so hush the log."""
    if _PYSPARK_MAJOR < 4:
        return
    from pyspark.logger import PySparkLogger

    PySparkLogger.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)


__all__ = ["SparkWarehouse"]
