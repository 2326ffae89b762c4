"""DuckDB backend: the embedded default."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp

from assay.errors import MissingTableError, WarehouseError
from assay.warehouse.base import check_write_mode, columns_query, first_line

LOCK_WAIT_SECONDS = 10.0
"""How long opening a file another process holds is retried before a clear error."""


class DuckDBWarehouse:
    """A DuckDB database file (or ``:memory:``) opened in-process.

    The session time zone is UTC, as on PostgreSQL and Spark: ``TIMESTAMPTZ`` exposure times
    cast to dates the same whatever the analyst's ``TZ``. ``read_only`` opens an existing file
    for reading (a missing file is an error, never created). A file another process holds (one
    writer per file) is retried for ``lock_wait`` seconds, then refused with a message that says
    so.
    """

    dialect = "duckdb"
    name = "duckdb"

    def __init__(
        self,
        path: str | Path = ":memory:",
        *,
        read_only: bool = False,
        connection: duckdb.DuckDBPyConnection | None = None,
        lock_wait: float = LOCK_WAIT_SECONDS,
    ) -> None:
        self.path = str(path)
        if connection is not None:
            self.con = connection
        else:
            if self.path != ":memory:":
                if read_only and not Path(self.path).is_file():
                    raise WarehouseError(f"the DuckDB file {self.path} does not exist (build "
                                         "it first, or fix `warehouse:` in assay_project.yml)",
                                         backend=self.name)
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self.con = _connect(self.path, read_only, lock_wait)
            # assay draws its own progress; DuckDB's bar would garble the terminal. Inside
            # Jupyter without ipywidgets DuckDB refuses to change the setting at all (and
            # draws no bar there), so that refusal is not an error.
            with contextlib.suppress(duckdb.InvalidInputException):
                self.con.execute("SET enable_progress_bar = false")
        self.con.execute("SET TimeZone = 'UTC'")

    def execute(self, sql: str) -> pa.Table:
        try:
            relation = self.con.sql(sql)
            if relation is None:  # a statement without rows
                return pa.table({})
            # DuckDB 2 renamed Relation.arrow() to to_arrow_table().
            fetch = getattr(relation, "to_arrow_table", None) or relation.arrow
            table: pa.Table = fetch()
            return table
        except duckdb.CatalogException as err:
            raise MissingTableError(first_line(err), sql=sql, backend=self.name) from err
        except duckdb.Error as err:
            raise WarehouseError(first_line(err), sql=sql, backend=self.name) from err

    def columns(self, table: str) -> list[str] | None:
        query = columns_query(exp.to_table(table, dialect=self.dialect))
        rows = self.con.execute(query.sql(dialect=self.dialect)).fetchall()
        return [r[0] for r in rows] or None

    def write_table(self, table: str, data: pa.Table, *, mode: str = "append") -> None:
        check_write_mode(mode)
        target = exp.to_table(table, dialect=self.dialect)
        self.con.register("__assay_incoming", data)
        try:
            if target.db:
                schema = exp.to_identifier(target.db, quoted=True)
                self.con.execute(
                    exp.Create(this=schema, kind="SCHEMA", exists=True).sql(dialect=self.dialect)
                )
            incoming = sqlglot.select("*").from_("__assay_incoming")
            if mode == "replace" or self.columns(table) is None:
                create = exp.Create(
                    this=target, kind="TABLE", replace=mode == "replace", expression=incoming
                )
                self.con.execute(create.sql(dialect=self.dialect))
            else:
                # BY NAME: columns are matched by name, not position (DuckDB >= 0.10).
                insert = exp.insert(incoming, target)
                insert.set("by_name", True)
                self.con.execute(insert.sql(dialect=self.dialect))
        except duckdb.Error as err:
            raise WarehouseError(first_line(err), backend=self.name) from err
        finally:
            # in a transaction the failure aborted, unregister fails too: keep the first error
            with contextlib.suppress(duckdb.Error):
                self.con.unregister("__assay_incoming")

    def close(self) -> None:
        self.con.close()


def _connect(path: str, read_only: bool, lock_wait: float) -> duckdb.DuckDBPyConnection:
    """Open ``path``, waiting up to ``lock_wait`` seconds for another process's lock."""
    deadline = time.monotonic() + lock_wait
    delay = 0.05
    while True:
        try:
            return duckdb.connect(path, read_only=read_only)
        except duckdb.IOException as err:
            if "lock" not in str(err).lower():
                raise WarehouseError(first_line(err), backend="duckdb") from err
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WarehouseError(
                    f"the DuckDB file {path} is in use by another process (DuckDB allows one "
                    f"writer per file; waited {lock_wait:g} s): stop the other process (a "
                    "collector, an analysis), or point one of them at another file",
                    backend="duckdb") from err
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 1.0)
        except duckdb.Error as err:
            raise WarehouseError(first_line(err), backend="duckdb") from err
