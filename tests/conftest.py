"""Shared fixtures: the three warehouse engines every backend-facing test can run on.

Fixtures (see docs/warehouses.md):
    duckdb_wh      an in-memory DuckDB warehouse (function scope).
    postgres_url   URL of a real PostgreSQL server this session starts (one per xdist worker).
    postgres_wh    a PostgresWarehouse on that server, every non-system schema dropped first.
    spark_session  a local-mode SparkSession (one per worker; all Spark tests share one worker).
    spark_wh       a SparkWarehouse on that session, every table and database dropped first.
    spark_cluster  a standalone Spark cluster (Master, two Workers) and a Spark Connect server
                   on it, on loopback (``tests/spark_cluster.py``; one per session).
    spark_cluster_wh  a SparkWarehouse whose driver (this process) runs on that cluster.
    spark_connect_wh  a SparkWarehouse talking to the Connect server (``sc://``, with a token).
    warehouse      parametrized over ``duckdb``, ``postgres``, ``spark``, ``spark_cluster``,
                   ``spark_connect`` (ids are those names; ``warehouse.name`` is the engine).
    load_table     ``load_table(wh, name, data)`` writes an Arrow table or a dict of columns.
    run_sql        ``run_sql(wh, query)`` runs a SQLGlot expression or DuckDB SQL, transpiled.
    as_rows        ``as_rows(table)`` -> list of dicts with engine differences smoothed out.

Tests that use the PostgreSQL or Spark fixtures are marked ``postgres`` / ``spark`` here, and Spark
ones are put in the ``xdist_group("spark")`` so that with ``--dist loadgroup`` only one worker pays
for a JVM. A missing PostgreSQL, Java or driver skips those tests locally and fails them under
``CI`` (``tests/engines.py``); each skip says what is missing and how to install it.
Tests on the cluster or over Connect are also marked ``spark_cluster``, and run after every other
Spark test: a process has one classic Spark driver, which moves from local mode to the cluster
once (``SparkDriver`` in ``tests/spark_cluster.py``).
"""

from __future__ import annotations

import atexit
import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp
from tests.engines import require_module, unavailable
from tests.spark_cluster import (
    SPARK_MODES,
    TOKEN_ENV,
    SparkCluster,
    SparkDriver,
    cluster_url,
    spark_marks,
    start_cluster,
)

from assay.warehouse.base import Warehouse
from assay.warehouse.duckdb import DuckDBWarehouse

ENGINES = ("duckdb", "postgres", "spark")
SPARK_URL = "spark://local[2]"
_PG_USER = "assay"
_PG_START_TIMEOUT = 30.0


# --------------------------------------------------------------------------- markers

@pytest.hookimpl(tryfirst=True)  # before xdist's loadgroup renaming and `-m` selection
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark tests by the engines their fixtures need, and keep Spark on one worker."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & {"spark_session", "spark_cluster"}:  # the closure: indirect users count too
            item.add_marker(pytest.mark.spark)
            item.add_marker(pytest.mark.xdist_group("spark"))
        if "spark_cluster" in names:
            item.add_marker(pytest.mark.spark_cluster)
        if "postgres_server" in names:
            item.add_marker(pytest.mark.postgres)
    items.sort(key=_runs_on_the_cluster_driver)  # stable: all else keeps its order
    if getattr(config.option, "loadgroup", False):  # set on xdist workers under loadgroup
        _suffix_xdist_groups(items)


def _runs_on_the_cluster_driver(item: pytest.Item) -> bool:
    """Whether ``item`` needs this process's Spark driver on the cluster (so runs last)."""
    callspec = getattr(item, "callspec", None)
    param = callspec.params.get("warehouse") if callspec is not None else None
    return param == "spark_cluster" or "spark_cluster_wh" in getattr(item, "fixturenames", ())


def _suffix_xdist_groups(items: list[pytest.Item]) -> None:
    """Work around pytest-xdist#1386: with pytest >= 9.2, xdist's ``@group`` suffix is written
    to the legacy ``_nodeid`` field and lost, so ``--dist loadgroup`` stops grouping. Write it to
    the structured id instead (a no-op on older pytest, where xdist still does it)."""
    try:
        from _pytest.nodeid import NodeId
    except ImportError:
        return
    for item in items:
        groups = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                         for m in item.iter_markers("xdist_group")})
        if groups and hasattr(item, "_id") and "@" not in item.nodeid.rpartition("]")[2]:
            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(groups)}")


# --------------------------------------------------------------------------- PostgreSQL

@dataclass
class PostgresServer:
    """A throw-away PostgreSQL cluster in a temporary directory."""

    root: Path
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    started_in: float = 0.0
    stopped: bool = field(default=False)

    @property
    def url(self) -> str:
        return f"postgresql://{_PG_USER}@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        """Fast shutdown (SIGINT), then SIGKILL if needed; remove the directory. Idempotent."""
        if self.stopped:
            return
        self.stopped = True
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


def _postgres_bindir() -> Path | None:
    env = os.environ.get("ASSAY_PG_BINDIR")
    if env:
        return Path(env)
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    if candidates:
        return candidates[-1]
    found = shutil.which("postgres")
    return Path(found).parent if found else None


def _server_account() -> tuple[int, int] | None:
    """(uid, gid) to run the server as when we are root (PostgreSQL refuses root), else None."""
    if os.geteuid() != 0:
        return None
    import pwd

    for name in ("postgres", "assay-pg"):
        try:
            entry = pwd.getpwnam(name)
            return entry.pw_uid, entry.pw_gid
        except KeyError:
            continue
    # Two xdist workers may race here; the loser's useradd fails and the lookup then succeeds.
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                    "assay-pg"], check=False, capture_output=True)
    entry = pwd.getpwnam("assay-pg")
    return entry.pw_uid, entry.pw_gid


def _as_account(cmd: list[str], account: tuple[int, int] | None, *, pdeathsig: bool) -> list[str]:
    """Prefix ``cmd`` so it runs as ``account`` and dies with us (setpriv, util-linux)."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return cmd
    prefix = [setpriv]
    if pdeathsig:
        prefix += ["--pdeathsig", "INT"]
    if account is not None:
        prefix += [f"--reuid={account[0]}", f"--regid={account[1]}", "--init-groups"]
    return [*prefix, "--", *cmd]


def _popen_kwargs(account: tuple[int, int] | None) -> dict[str, Any]:
    if account is None or shutil.which("setpriv"):
        return {}
    return {"user": account[0], "group": account[1], "extra_groups": []}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _temp_root(account: tuple[int, int] | None) -> Path:
    base = tempfile.gettempdir()
    if account is not None and not os.stat(base).st_mode & 0o001:
        base = "/tmp"  # the server account must be able to traverse the parents
    root = Path(tempfile.mkdtemp(prefix="assay-pg-", dir=base))
    if account is not None:
        os.chown(root, *account)
    return root


def start_postgres() -> PostgresServer:
    """initdb + postgres on a free 127.0.0.1 port; the socket lives in the temporary directory."""
    bindir = _postgres_bindir()
    if bindir is None or not (bindir / "initdb").exists():
        unavailable("PostgreSQL server binaries (initdb, postgres) not found: install them "
                    "(Debian: apt-get install postgresql) or set ASSAY_PG_BINDIR to their folder")
    assert bindir is not None
    account = _server_account()
    began = time.perf_counter()
    root = _temp_root(account)
    data = root / "data"
    initdb = [str(bindir / "initdb"), "-D", str(data), "-U", _PG_USER, "--auth=trust",
              "-E", "UTF8", "--no-locale", "--no-sync"]
    done = subprocess.run(_as_account(initdb, account, pdeathsig=False), capture_output=True,
                          check=False, **_popen_kwargs(account))
    if done.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"initdb failed:\n{done.stdout.decode()}\n{done.stderr.decode()}")
    for _attempt in range(3):
        server = _launch(bindir, root, account)
        if _wait_ready(server):
            server.started_in = time.perf_counter() - began
            return server
        text = server.log.read_text(errors="replace")
        server.process.wait(timeout=10)
        if "could not bind" not in text and "already in use" not in text:
            shutil.rmtree(root, ignore_errors=True)
            raise RuntimeError(f"PostgreSQL did not start; its log:\n{text}")
    shutil.rmtree(root, ignore_errors=True)
    raise RuntimeError("PostgreSQL could not find a free port in 3 attempts")


def _launch(bindir: Path, root: Path, account: tuple[int, int] | None) -> PostgresServer:
    port = _free_port()
    log = root / f"server-{port}.log"
    cmd = [str(bindir / "postgres"), "-D", str(root / "data"), "-p", str(port),
           "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={root}",
           "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
           "-c", "max_connections=40", "-c", "shared_buffers=32MB", "-c", "TimeZone=UTC"]
    with log.open("wb") as sink:
        process = subprocess.Popen(_as_account(cmd, account, pdeathsig=True), stdout=sink,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   **_popen_kwargs(account))
    return PostgresServer(root=root, port=port, process=process, log=log)


def _wait_ready(server: PostgresServer) -> bool:
    import psycopg

    deadline = time.monotonic() + _PG_START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        try:
            psycopg.connect(server.url, connect_timeout=2).close()
            return True
        except psycopg.OperationalError:
            time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"PostgreSQL not ready after {_PG_START_TIMEOUT} s:\n"
                       f"{server.log.read_text(errors='replace')}")


def _drop_schema(name: str) -> exp.Drop:
    return exp.Drop(tables=[exp.Table(db=exp.to_identifier(name))], kind="SCHEMA", exists=True,
                    cascade=True)


def reset_postgres(url: str) -> None:
    """Drop every non-system schema (cascading to its tables) and recreate an empty ``public``."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        con.execute("SET lock_timeout = '5s'")
        names = [row[0] for row in con.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
            "AND nspname <> 'information_schema'").fetchall()]
        for name in names:
            con.execute(_drop_schema(name).sql("postgres", identify=True))
        con.execute("CREATE SCHEMA public")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The PostgreSQL server of this worker (started on first use, stopped at session end)."""
    require_module("psycopg", "postgres")
    server = start_postgres()
    atexit.register(server.stop)  # also covers an interrupted session; setpriv covers SIGKILL
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """``postgresql://assay@127.0.0.1:<port>/postgres`` (trust auth). Clean up after yourself,
    or use ``postgres_wh``, which drops every user schema before each test."""
    return postgres_server.url


@pytest.fixture
def postgres_wh(postgres_url: str) -> Iterator[Warehouse]:
    """A PostgresWarehouse on an empty database (all user schemas dropped first)."""
    from assay.warehouse.postgres import PostgresWarehouse

    reset_postgres(postgres_url)
    with closing(PostgresWarehouse(postgres_url)) as wh:
        yield wh


# --------------------------------------------------------------------------- Spark

def _require_spark() -> None:
    require_module("pyspark", "spark")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        unavailable("Java not found: Spark needs a JRE 17 or newer (Debian: apt-get install "
                    "openjdk-17-jre-headless) on PATH or in JAVA_HOME")


@pytest.fixture(scope="session")
def spark_driver() -> Iterator[SparkDriver]:
    """This process's one classic Spark driver, local or on the cluster (see the module doc)."""
    _require_spark()
    driver = SparkDriver()
    try:
        yield driver
    finally:
        driver.stop()


@pytest.fixture(scope="session")
def spark_session(spark_driver: SparkDriver) -> Any:
    """A local-mode SparkSession (``spark://local[2]``, UTC, 4 shuffle partitions, no UI)."""
    return spark_driver.session("local", SPARK_URL)


@pytest.fixture(scope="session")
def spark_cluster() -> Iterator[SparkCluster]:
    """A standalone cluster and a Connect server on it, on 127.0.0.1 (one per session)."""
    _require_spark()
    require_module("grpc", "spark-connect")
    cluster = start_cluster()
    atexit.register(cluster.stop)  # an interrupted session; setpriv's death signal covers SIGKILL
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def spark_cluster_session(spark_driver: SparkDriver, spark_cluster: SparkCluster) -> Iterator[Any]:
    """The SparkSession of this process's driver on the cluster (two executors, 512 MB each)."""
    try:
        yield spark_driver.session("cluster", cluster_url(spark_cluster))
    finally:
        spark_driver.stop("cluster")  # before the cluster goes


@pytest.fixture(scope="session")
def spark_connect_client(spark_cluster: SparkCluster) -> Iterator[Warehouse]:
    """One Spark Connect client session, opened from an ``sc://...;token_env=`` URL."""
    from assay.warehouse.spark import SparkWarehouse

    assert spark_cluster.connect_url is not None and spark_cluster.token is not None
    os.environ[TOKEN_ENV] = spark_cluster.token
    try:
        with closing(SparkWarehouse.from_url(
                f"{spark_cluster.connect_url}/;token_env={TOKEN_ENV}")) as wh:
            yield wh
    finally:
        os.environ.pop(TOKEN_ENV, None)


def reset_spark(spark: Any) -> None:
    """Drop temporary views, every table of ``default`` and every other database."""
    spark.catalog.setCurrentDatabase("default")
    for table in spark.catalog.listTables():
        if table.isTemporary:
            spark.catalog.dropTempView(table.name)
        else:
            ref = exp.Table(this=exp.to_identifier(table.name), db=exp.to_identifier("default"))
            spark.sql(exp.Drop(tables=[ref], kind="TABLE", exists=True).sql("spark", identify=True))
    for database in spark.catalog.listDatabases():
        if database.name != "default":
            spark.sql(_drop_schema(database.name).sql("spark", identify=True))


@pytest.fixture
def spark_wh(spark_session: Any) -> Iterator[Warehouse]:
    """A SparkWarehouse on the shared session with an empty catalog."""
    from assay.warehouse.spark import SparkWarehouse

    reset_spark(spark_session)
    with closing(SparkWarehouse(spark_session)) as wh:  # closing it leaves the session running
        yield wh


@pytest.fixture
def spark_cluster_wh(spark_cluster_session: Any) -> Iterator[Warehouse]:
    """A SparkWarehouse whose driver runs on the test cluster, with an empty catalog."""
    from assay.warehouse.spark import SparkWarehouse

    reset_spark(spark_cluster_session)
    with closing(SparkWarehouse(spark_cluster_session)) as wh:
        yield wh


@pytest.fixture
def spark_connect_wh(spark_connect_client: Any) -> Warehouse:
    """The Spark Connect warehouse of the session, with an empty catalog (server side)."""
    reset_spark(spark_connect_client.spark)
    wh: Warehouse = spark_connect_client
    return wh


# --------------------------------------------------------------------------- DuckDB and all


@pytest.fixture
def duckdb_wh() -> Iterator[Warehouse]:
    """A fresh in-memory DuckDB warehouse."""
    with closing(DuckDBWarehouse(":memory:")) as wh:
        yield wh


@pytest.fixture(params=[
    pytest.param("duckdb", id="duckdb"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    *(pytest.param(mode, id=mode, marks=spark_marks(mode)) for mode in SPARK_MODES),
])
def warehouse(request: pytest.FixtureRequest) -> Warehouse:
    """The same test on DuckDB, PostgreSQL and Spark (local, on the cluster, over Connect);
    ``warehouse.name`` says which engine (``spark`` for all three Spark modes)."""
    wh: Warehouse = request.getfixturevalue(f"{request.param}_wh")
    return wh


def _load_table(wh: Warehouse, name: str,
                data: pa.Table | Mapping[str, Sequence[Any]]) -> None:
    table = data if isinstance(data, pa.Table) else pa.table(dict(data))
    wh.write_table(name, table, mode="replace")


def _run_sql(wh: Warehouse, query: exp.Expression | str, read: str = "duckdb") -> pa.Table:
    if isinstance(query, exp.Expression):
        sql = query.sql(dialect=wh.dialect)
    else:
        sql = sqlglot.transpile(query, read=read, write=wh.dialect)[0]
    return wh.execute(sql)


def _as_rows(table: pa.Table) -> list[dict[str, Any]]:
    """Rows with lower-case keys, decimals as floats and aware timestamps as naive UTC."""
    def plain(value: Any) -> Any:
        if isinstance(value, Decimal):
            return float(value)
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            return value.astimezone(dt.UTC).replace(tzinfo=None)
        return value

    return [{key.lower(): plain(value) for key, value in row.items()}
            for row in table.to_pylist()]


@pytest.fixture
def load_table() -> Callable[..., None]:
    """``load_table(wh, "events", pa_table_or_dict)``: create or replace a table in any engine."""
    return _load_table


@pytest.fixture
def run_sql() -> Callable[..., pa.Table]:
    """``run_sql(wh, expression_or_duckdb_sql, read="duckdb")``: transpile, then execute."""
    return _run_sql


@pytest.fixture
def as_rows() -> Callable[[pa.Table], list[dict[str, Any]]]:
    """``as_rows(arrow_table)``: comparable rows across engines (see ``_as_rows``)."""
    return _as_rows
