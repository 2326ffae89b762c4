"""PostgreSQL backend (psycopg 3): a real server, results as Arrow, bulk loads with COPY.

The connection runs in autocommit mode so that one failed statement never leaves the session in
an aborted transaction; :meth:`PostgresWarehouse.write_table` wraps its own statements in one
transaction. The session time zone is UTC, as in the Spark backend, so that date truncation of
``timestamptz`` values agrees across engines.

Identifiers follow PostgreSQL's rules: unquoted names in ``table`` arguments are folded to lower
case (``write_table("Events", ...)`` creates ``events``, which ``FROM Events`` then finds); column
names of written Arrow data are kept exactly, quoted.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import errors as pg_errors
from psycopg.types.string import TextLoader
from sqlglot import exp
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

from assay.errors import MissingTableError, WarehouseError
from assay.warehouse.base import check_write_mode, columns_query, first_line

_DIALECT = "postgres"
CONNECT_TIMEOUT_S = 10
"""Seconds to wait for a server to answer a login (libpq's ``connect_timeout``), unless the URL
sets it: a server that accepts and never answers must not hang an analysis."""
STATEMENT_TIMEOUT_MS = 3_600_000
"""Longest statement, unless configured: one hour, well past any analysis of the benchmarks."""
_COPY_BATCH_ROWS = 65_536

# PostgreSQL type name (pg_type.typname) -> Arrow type of the result column.
_RESULT_TYPES: dict[str, pa.DataType] = {
    "bool": pa.bool_(),
    "int2": pa.int16(),
    "int4": pa.int32(),
    "int8": pa.int64(),
    "oid": pa.int64(),
    "float4": pa.float32(),
    "float8": pa.float64(),
    "text": pa.string(),
    "varchar": pa.string(),
    "bpchar": pa.string(),
    "name": pa.string(),
    "char": pa.string(),
    "json": pa.string(),
    "jsonb": pa.string(),
    "uuid": pa.string(),
    "date": pa.date32(),
    "time": pa.time64("us"),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "interval": pa.duration("us"),
    "bytea": pa.binary(),
}

# Types psycopg would parse into Python objects that Arrow has no column type for: keep the text.
_LOAD_AS_TEXT = ("json", "jsonb", "uuid")


class PostgresWarehouse:
    """A PostgreSQL database reached through a ``postgresql://`` URL (libpq syntax).

    Args:
        url: ``postgresql://user:password@host:port/dbname?options=...`` as libpq accepts it; a
            ``search_path`` can be set with ``options=-csearch_path%3Dmy_schema``.
        connection: An open psycopg connection to use instead of ``url`` (it is switched to
            autocommit).

    Raises:
        WarehouseError: The server cannot be reached or refuses the login.
    """

    dialect = _DIALECT
    name = "postgres"

    def __init__(self, url: str | None = None, *,
                 connection: psycopg.Connection[Any] | None = None) -> None:
        if connection is None:
            if url is None:
                raise ValueError("PostgresWarehouse needs a url or a connection")
            try:
                connection = psycopg.connect(url, autocommit=True, **_default_timeouts(url))
            except psycopg.Error as err:
                raise WarehouseError(first_line(err), backend=self.name) from err
        else:
            connection.autocommit = True
        for type_name in _LOAD_AS_TEXT:
            connection.adapters.register_loader(type_name, TextLoader)
        self.con = connection
        self._run("SET TIME ZONE 'UTC'")
        self._bound_statements()
        self._prefer_hash_joins()

    def execute(self, sql: str) -> pa.Table:
        """Run one statement (or several; the last one's rows are returned) as Arrow."""
        try:
            with self.con.cursor() as cur:
                cur.execute(sql)
                if cur.description is None:
                    return pa.table({})
                rows = cur.fetchall()
                return _rows_to_arrow(cur.description, rows)
        except pg_errors.UndefinedTable as err:
            raise MissingTableError(first_line(err), sql=sql, backend=self.name) from err
        except psycopg.Error as err:
            raise WarehouseError(first_line(err), sql=sql, backend=self.name) from err

    def columns(self, table: str) -> list[str] | None:
        """Column names of ``table`` in table order, or None if it does not exist."""
        query = columns_query(_table_ref(table))
        result = self.execute(query.sql(dialect=_DIALECT))
        names = result.column(0).to_pylist() if result.num_rows else []
        return [str(n) for n in names] or None

    def write_table(self, table: str, data: pa.Table, *, mode: str = "append") -> None:
        """Create ``table`` if needed and append or replace its rows, in one transaction.

        Rows are streamed with ``COPY ... FROM STDIN`` in CSV form written by Arrow, which keeps
        floats exact (shortest round-trip text) and NULLs distinct from empty strings; the table
        is then ``ANALYZE``d so that the planner knows its size.

        Raises:
            ValueError: ``mode`` is neither ``"append"`` nor ``"replace"``.
            WarehouseError: A column type has no PostgreSQL counterpart, or the server refused.
        """
        check_write_mode(mode)
        target = _table_ref(table)
        data = _plain_columns(data)
        statements = _load_statements(target, data, replace=mode == "replace")
        sql = ""
        try:
            with self.con.transaction(), self.con.cursor() as cur:
                for sql in statements[:-1]:
                    cur.execute(sql)
                sql = statements[-1]
                with cur.copy(sql) as copy:
                    for chunk in _csv_chunks(data):
                        copy.write(chunk)
                sql = _analyze_statement(target)
                cur.execute(sql)
        except psycopg.Error as err:
            raise WarehouseError(first_line(err), sql=sql, backend=self.name) from err

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self.con.close()

    def _prefer_hash_joins(self) -> None:
        """Turn nested-loop joins off for this session unless the user configured them.

        assay's queries aggregate whole tables through CTEs whose row counts PostgreSQL cannot
        estimate (it guesses one row), and a nested loop over thousands of units is quadratic:
        on the demo data the metrics query drops from ~30 s to ~3 s. A value given in the URL
        (``options=-cenable_nestloop%3Don``) or by ``ALTER ROLE/DATABASE`` is respected.
        """
        query = (exp.select("source").from_(exp.to_table("pg_catalog.pg_settings"))
                 .where(exp.column("name").eq(exp.Literal.string("enable_nestloop"))))
        source = self.execute(query.sql(dialect=_DIALECT)).column(0).to_pylist()
        if source and source[0] in ("default", "configuration file"):
            self._run("SET enable_nestloop = off")

    def _bound_statements(self) -> None:
        """A statement timeout of :data:`STATEMENT_TIMEOUT_MS` unless one is configured (in the
        URL's ``options`` or by ``ALTER ROLE/DATABASE``): a stuck query ends with an error."""
        query = (exp.select("setting").from_(exp.to_table("pg_catalog.pg_settings"))
                 .where(exp.column("name").eq(exp.Literal.string("statement_timeout"))))
        setting = self.execute(query.sql(dialect=_DIALECT)).column(0).to_pylist()
        if setting and setting[0] == "0":
            self._run("SET statement_timeout = 3600000")  # STATEMENT_TIMEOUT_MS

    def _run(self, sql: str) -> None:
        try:
            self.con.execute(sql)
        except psycopg.Error as err:
            raise WarehouseError(first_line(err), sql=sql, backend=self.name) from err


def _default_timeouts(url: str) -> dict[str, Any]:
    """libpq's ``connect_timeout`` unless ``url`` sets it (TCP keepalives always)."""
    settings: dict[str, Any] = {"keepalives": 1, "keepalives_idle": 30}
    if "connect_timeout" not in url:
        settings["connect_timeout"] = CONNECT_TIMEOUT_S
    return settings


def _table_ref(table: str) -> exp.Table:
    """Parse ``schema.table`` and fold unquoted parts the way PostgreSQL does."""
    ref = exp.to_table(table, dialect=_DIALECT)
    normalized = normalize_identifiers(ref, dialect=_DIALECT)
    assert isinstance(normalized, exp.Table)
    return normalized


def _rows_to_arrow(description: Sequence[psycopg.Column], rows: list[tuple[Any, ...]]) -> pa.Table:
    arrays = [_column_to_arrow(col, [row[i] for row in rows]) for i, col in enumerate(description)]
    return pa.Table.from_arrays(arrays, names=[col.name for col in description])


def _column_to_arrow(col: psycopg.Column, values: list[Any]) -> pa.Array:
    info = psycopg.postgres.types.get(col.type_code)
    # The registry also answers for array OIDs (int4[] -> int4): those go to inference below.
    type_name = info.name if info is not None and info.oid == col.type_code else ""
    if type_name == "numeric":
        if col.precision is not None and col.precision <= 38:
            return pa.array(values, type=pa.decimal128(col.precision, col.scale or 0))
        # Unconstrained numeric (SUM/AVG of integers): statistics want floats.
        return pa.array([None if v is None else float(v) for v in values], type=pa.float64())
    arrow_type = _RESULT_TYPES.get(type_name)
    if arrow_type is not None:
        return pa.array(values, type=arrow_type)
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def _plain_columns(data: pa.Table) -> pa.Table:
    """Decode dictionary columns so that the CSV writer and the type map see value types."""
    columns = [
        col.cast(col.type.value_type) if pa.types.is_dictionary(col.type) else col
        for col in data.columns
    ]
    return pa.Table.from_arrays(columns, names=data.column_names)


def _load_statements(target: exp.Table, data: pa.Table, *, replace: bool) -> list[str]:
    """The DDL that prepares ``target`` for ``data``, then the COPY statement (always last)."""
    statements: list[exp.Expression] = []
    if target.db:
        statements.append(exp.Create(this=exp.Table(this=exp.to_identifier(target.db)),
                                     kind="SCHEMA", exists=True))
    if replace:
        statements.append(exp.Drop(tables=[target.copy()], kind="TABLE", exists=True))
    column_defs = [
        exp.ColumnDef(this=exp.to_identifier(field.name, quoted=True),
                      kind=_pg_type(field))
        for field in data.schema
    ]
    statements.append(exp.Create(this=exp.Schema(this=target.copy(), expressions=column_defs),
                                 kind="TABLE", exists=True))
    statements.append(exp.Copy(
        this=exp.Schema(this=target.copy(), expressions=[
            exp.to_identifier(name, quoted=True) for name in data.column_names
        ]),
        kind=True,
        files=[exp.var("STDIN")],
        params=[exp.CopyParameter(this=exp.var("FORMAT"), expression=exp.var("csv"))],
    ))
    return [s.sql(dialect=_DIALECT, identify=True) for s in statements]


def _analyze_statement(target: exp.Table) -> str:
    """Fresh planner statistics, so the first query after a load is not planned blind."""
    return exp.Analyze(tables=[target.copy()]).sql(dialect=_DIALECT, identify=True)


def _pg_type(field: pa.Field) -> exp.DataType:
    t = field.type
    for predicate, type_name in _ARROW_TO_PG:
        if predicate(t):
            return exp.DataType.build(type_name, dialect=_DIALECT)
    if pa.types.is_decimal(t):
        return exp.DataType.build(f"NUMERIC({t.precision}, {t.scale})", dialect=_DIALECT)
    if pa.types.is_timestamp(t):
        return exp.DataType.build("TIMESTAMPTZ" if t.tz else "TIMESTAMP", dialect=_DIALECT)
    raise WarehouseError(f"column {field.name!r} has Arrow type {t}, which assay cannot write "
                         "to PostgreSQL", backend="postgres")


_ARROW_TO_PG: list[tuple[Callable[[pa.DataType], bool], str]] = [
    (pa.types.is_boolean, "BOOLEAN"),
    (lambda t: t in (pa.int8(), pa.int16(), pa.uint8()), "SMALLINT"),
    (lambda t: t in (pa.int32(), pa.uint16()), "INT"),
    (lambda t: t in (pa.int64(), pa.uint32()), "BIGINT"),
    (lambda t: t == pa.uint64(), "NUMERIC(20, 0)"),
    (lambda t: t in (pa.float16(), pa.float32()), "REAL"),
    (pa.types.is_float64, "DOUBLE PRECISION"),
    (lambda t: pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t),
     "TEXT"),
    (pa.types.is_date, "DATE"),
    (pa.types.is_time, "TIME"),
]


def _csv_chunks(data: pa.Table) -> Iterator[bytes]:
    """CSV text of ``data`` in batches; every non-null value quoted so '' stays an empty string."""
    options = pacsv.WriteOptions(include_header=False, quoting_style="all_valid")
    for batch in data.to_batches(max_chunksize=_COPY_BATCH_ROWS):
        sink = io.BytesIO()
        pacsv.write_csv(batch, sink, write_options=options)
        yield sink.getvalue()


__all__ = ["PostgresWarehouse"]
