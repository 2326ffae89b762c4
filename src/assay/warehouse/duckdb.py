"""DuckDB backend: the embedded default."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp

from assay.errors import MissingTableError, WarehouseError
from assay.warehouse.base import check_write_mode, columns_query, first_line


class DuckDBWarehouse:
    """A DuckDB database file (or ``:memory:``) opened in-process."""

    dialect = "duckdb"
    name = "duckdb"

    def __init__(
        self,
        path: str | Path = ":memory:",
        *,
        read_only: bool = False,
        connection: duckdb.DuckDBPyConnection | None = None,
    ) -> None:
        self.path = str(path)
        if connection is not None:
            self.con = connection
        else:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            try:
                self.con = duckdb.connect(self.path, read_only=read_only)
            except duckdb.Error as err:  # e.g. another process holds the file's lock
                raise WarehouseError(first_line(err), backend=self.name) from err
            # assay draws its own progress; DuckDB's bar would garble the terminal.
            self.con.execute("SET enable_progress_bar = false")

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
            self.con.unregister("__assay_incoming")

    def close(self) -> None:
        self.con.close()
