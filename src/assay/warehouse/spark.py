"""Spark backend (PySpark): local mode, a standalone or YARN cluster, or Spark Connect.

URLs:

* ``spark://local`` (all cores), ``spark://local[2]`` (two threads): a driver in this process.
* ``spark://host:7077``: this process is the driver of an application on a standalone cluster.
* ``sc://host:15002/;param=value``: a Spark Connect server (Databricks, EMR, a self-hosted
  ``start-connect-server.sh``); this process is a thin gRPC client and the server is the driver.

On ``spark://`` URLs, query parameters that start with ``spark.`` become session settings
(``spark://local[2]?spark.driver.memory=2g``); ``warehouse_dir`` sets where managed tables are
stored (a fresh temporary directory by default in local mode). On ``sc://`` URLs, parameters
follow Spark Connect's ``;key=value`` syntax and are passed to the client (``use_ssl=true``,
``user_id``, headers such as ``x-databricks-cluster-id``), except: ``spark.*`` are session
settings, and ``token_env=NAME`` reads the bearer token from the environment variable ``NAME``.
A literal ``token=`` is refused: the URL lives in ``assay_project.yml``, which is committed, and
the token is never printed (error messages have it masked).

:meth:`SparkWarehouse.write_table` writes a *managed table* (Parquet under the warehouse
directory) with ``saveAsTable``, so later SQL finds it with ``FROM tbl`` like in the other
backends, appends match columns by name, and ``DROP TABLE`` removes its files. Without Hive
support the catalog lives in the session's driver: tables outlive a query but not the driver (for
Connect, the server).

Every session this module builds uses the UTC session time zone, so timestamps agree with the
DuckDB and PostgreSQL backends.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import tempfile
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

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
_MASK = "***"

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
    """A Spark session (classic or Spark Connect) that runs Spark SQL and returns Arrow.

    Args:
        spark: The session to use: a classic ``SparkSession`` or a Spark Connect one.
        owns_session: Stop the session (and remove ``warehouse_dir``) on :meth:`close`.
        warehouse_dir: A temporary warehouse directory this object created and must remove.
        secret: A token to mask in every error message (Spark Connect).

    Attributes:
        mode: ``local``, ``cluster`` or ``connect``: where the driver runs.
    """

    dialect = _DIALECT
    name = "spark"

    def __init__(self, spark: SparkSession, *, owns_session: bool = False,
                 warehouse_dir: str | None = None, secret: str | None = None) -> None:
        self.spark = spark
        self.mode = _mode_of(spark)
        self._owns_session = owns_session
        self._warehouse_dir = warehouse_dir
        self._secret = secret
        _quiet_query_context_logs()

    @classmethod
    def from_url(cls, url: str) -> SparkWarehouse:
        """Build (or reuse) a session from a ``spark://`` or ``sc://`` URL (module docstring).

        Raises:
            WarehouseError: The URL is malformed, names a token variable that is not set, or
                the session cannot start (the message never contains the token).
        """
        if url.partition("://")[0].lower() == "sc":
            return cls._remote(url)
        master, settings = _parse_url(url)
        local = master.startswith("local")
        active = SparkSession.getActiveSession()
        if active is not None and active.sparkContext.master != master:
            raise WarehouseError(
                f"this process already runs a Spark driver for {active.sparkContext.master}; "
                f"Spark allows one per process, so {master} cannot start here (stop the other "
                "session first, or use an sc:// Spark Connect URL)", backend=cls.name)
        temp_dir = None
        if local and "spark.sql.warehouse.dir" not in settings and active is None:
            temp_dir = tempfile.mkdtemp(prefix="assay-spark-warehouse-")
            settings["spark.sql.warehouse.dir"] = temp_dir
        defaults = _LOCAL_DEFAULTS if local else {}
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
        return cls(spark, owns_session=active is None, warehouse_dir=temp_dir)

    @classmethod
    def _remote(cls, url: str) -> SparkWarehouse:
        """A Spark Connect session (always a new one, owned by the warehouse)."""
        client_url, settings, token = _parse_connect_url(url)
        endpoint = client_url.partition("://")[2].partition("/")[0]
        try:
            from pyspark.sql.connect.session import SparkSession as RemoteSession
        except ImportError as err:  # grpcio and friends come with pyspark[connect]
            raise WarehouseError("Spark Connect needs `pip install 'assay[spark-connect]'` "
                                 f"({err})", backend=cls.name) from err
        try:
            spark: Any = RemoteSession.builder.remote(client_url).create()
        except (PySparkException, ValueError) as err:
            raise WarehouseError(f"cannot reach Spark Connect at {endpoint}: "
                                 f"{_masked(_grpc_line(err), token)}", backend=cls.name) from err
        try:  # the first call to the server: a refused token or a dead server shows here
            for key, value in {**_SESSION_SETTINGS, **settings}.items():
                spark.conf.set(key, value)
        except PySparkException as err:
            with contextlib.suppress(PySparkException):  # releasing it may be refused too
                spark.stop()
            raise WarehouseError(f"cannot use Spark Connect at {endpoint}: "
                                 f"{_masked(_grpc_line(err), token)}", backend=cls.name) from err
        return cls(spark, owns_session=True, secret=token)

    def execute(self, sql: str) -> pa.Table:
        """Run one Spark SQL statement and return its rows as Arrow."""
        try:
            frame = self.spark.sql(sql)
            if not frame.columns:
                return pa.table({})
            return _to_arrow(frame)
        except PySparkException as err:
            if _condition(err) in _MISSING_TABLE_CONDITIONS:
                raise MissingTableError(self._say(err), sql=sql, backend=self.name) from err
            raise WarehouseError(self._say(err), sql=sql, backend=self.name) from err
        except Py4JError as err:
            raise WarehouseError(self._say(err), sql=sql, backend=self.name) from err

    def columns(self, table: str) -> list[str] | None:
        """Column names of ``table`` (``db.table`` allowed), or None if it does not exist."""
        name = _table_name(table)
        try:
            return list(self.spark.table(name).columns)
        except PySparkException as err:
            if _condition(err) in _MISSING_TABLE_CONDITIONS:
                return None
            raise WarehouseError(self._say(err), backend=self.name) from err
        except Py4JError as err:
            raise WarehouseError(self._say(err), backend=self.name) from err

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
                schema = exp.Table(this=exp.to_identifier(ref.db),
                                   db=exp.to_identifier(ref.catalog) if ref.catalog else None)
                sql = exp.Create(this=schema, kind="SCHEMA", exists=True).sql(
                    dialect=_DIALECT, identify=True)
                self.spark.sql(sql)
            sql = None
            frame = _from_arrow(self.spark, data)
            writer = frame.write.mode("overwrite" if mode == "replace" else "append")
            writer.saveAsTable(_table_name(table))
        except (PySparkException, Py4JError) as err:
            raise WarehouseError(self._say(err), sql=sql, backend=self.name) from err

    def close(self) -> None:
        """Stop the session if this object started it; a shared session is left running.

        For Spark Connect, stopping releases this client's session on the server; the server
        and its cluster keep running.
        """
        if self._owns_session:
            self.spark.stop()
            self._owns_session = False
        if self._warehouse_dir is not None:
            shutil.rmtree(self._warehouse_dir, ignore_errors=True)
            self._warehouse_dir = None

    def _say(self, err: BaseException) -> str:
        return _masked(first_line(err), self._secret)


def _mode_of(spark: Any) -> str:
    """``connect`` for a Spark Connect session, else ``local`` or ``cluster`` by its master."""
    if type(spark).__module__.startswith("pyspark.sql.connect"):
        return "connect"
    return "local" if str(spark.sparkContext.master).startswith("local") else "cluster"


def _grpc_line(err: BaseException) -> str:
    """``UNAUTHENTICATED: Invalid authentication token`` from a gRPC error, else its first line."""
    text = str(err)
    status = re.search(r"status = StatusCode\.(\w+)", text)
    details = re.search(r'details = "([^"]*)"', text)
    if status is None:
        return first_line(err)
    return f"{status.group(1)}: {details.group(1)}" if details else status.group(1)


def _masked(text: str, secret: str | None) -> str:
    """``text`` with ``secret`` (as written and as URL-quoted) replaced by ``***``."""
    if not secret:
        return text
    return text.replace(quote(secret, safe=""), _MASK).replace(secret, _MASK)


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


def _parse_connect_url(url: str) -> tuple[str, dict[str, str], str | None]:
    """``sc://host:port/;k=v;...`` -> (the client's URL, session settings, the token or None).

    ``token_env=NAME`` becomes ``token=<value of $NAME>`` in the client's URL only; ``spark.*``
    parameters become session settings; every other parameter is passed to the client as is.
    """
    scheme, _, rest = url.partition("://")
    location, _, params = rest.partition(";")
    location = location.rstrip("/")
    if scheme.lower() != "sc" or not location or "/" in location:
        raise WarehouseError("not a Spark Connect URL (expected sc://host:port/;key=value...)",
                             backend="spark")
    client: list[str] = []
    settings: dict[str, str] = {}
    token = None
    for part in filter(None, params.split(";")):
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise WarehouseError(f"Spark Connect URL parameter {key!r} needs a value (key=value)",
                                 backend="spark")
        if key == "token":
            raise WarehouseError(
                "a token written in the Spark Connect URL would be committed with "
                "assay_project.yml: put it in an environment variable and name it with "
                "token_env=NAME", backend="spark")
        if key == "token_env":
            token = _token_from(value)
        elif key.startswith("spark."):
            settings[key] = unquote(value)
        else:
            client.append(part)
    if token is not None:
        client.append(f"token={quote(token, safe='')}")  # Spark unquotes parameter values
    return f"sc://{location}/" + "".join(f";{part}" for part in client), settings, token


def _token_from(variable: str) -> str:
    token = os.environ.get(variable)
    if not token:
        raise WarehouseError(f"environment variable {variable} (named by token_env= in the "
                             "Spark Connect URL) is not set or empty", backend="spark")
    return token


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
