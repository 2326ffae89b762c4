"""The small protocol every warehouse backend implements.

Compiling is pure (spec -> SQLGlot expression, no connection); a backend only runs SQL text in
its dialect and returns Arrow. Driver errors are wrapped in :class:`assay.errors.WarehouseError`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import pyarrow as pa


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
