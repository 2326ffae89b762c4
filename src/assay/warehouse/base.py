"""The small protocol every warehouse backend implements.

Compiling is pure (spec -> SQLGlot expression, no connection); a backend only runs SQL text in
its dialect and returns Arrow. Driver errors are wrapped in :class:`assay.errors.WarehouseError`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import pyarrow as pa
from sqlglot import exp


@runtime_checkable
class Warehouse(Protocol):
    """A connection to one warehouse.

    Attributes:
        dialect: The SQLGlot dialect name of the SQL this backend runs (``duckdb``, ``postgres``,
            ``spark`` ...).
        name: Short backend name for messages (``duckdb``, ``postgres``, ``spark``).
    """

    dialect: str
    name: str

    def execute(self, sql: str) -> pa.Table:
        """Run one statement and return its rows (an empty table for statements without rows).

        Raises:
            MissingTableError: A referenced table does not exist.
            WarehouseError: Any other failure; carries the SQL.
        """
        ...

    def columns(self, table: str) -> list[str] | None:
        """Column names of ``table`` (``schema.table`` allowed), or None if it does not exist."""
        ...

    def write_table(self, table: str, data: pa.Table, *, mode: str = "append") -> None:
        """Create ``table`` if needed and append (``mode="append"``) or replace its rows."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


WRITE_MODES = ("append", "replace")


def check_write_mode(mode: str) -> None:
    """Raise ``ValueError`` unless ``mode`` is one :meth:`Warehouse.write_table` accepts."""
    if mode not in WRITE_MODES:
        raise ValueError(f"write mode must be 'append' or 'replace', got {mode!r}")


def columns_query(ref: exp.Table) -> exp.Select:
    """``information_schema`` query for the column names of ``ref``, in table order.

    An unqualified name means the current schema, as it does in a query.
    """
    schema = exp.Literal.string(ref.db) if ref.db else exp.func("current_schema")
    return (
        exp.select("column_name")
        .from_(exp.to_table("information_schema.columns"))
        .where(exp.column("table_name").eq(exp.Literal.string(ref.name)))
        .where(exp.column("table_schema").eq(schema))
        .order_by("ordinal_position")
    )


def first_line(err: BaseException) -> str:
    """The first line of a driver error's message (its type name if it has none), with
    credentials masked (:func:`assay.secrets.redact`)."""
    from assay.secrets import redact

    text = str(err).strip()
    return redact(text.splitlines()[0]) if text else type(err).__name__
