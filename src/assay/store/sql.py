"""The few statements the store runs, built with SQLGlot and run through any ``Warehouse``.

Values are typed literals cast to their column's type (so ``NULL`` and integers land in the
right type on every engine); identifiers are quoted. Engines with transactions (DuckDB,
PostgreSQL) run a write in one; Spark writes the rows readers depend on last.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import pyarrow as pa
from sqlglot import exp

from assay.errors import WarehouseError
from assay.store.schema import TABLES, TRANSACTIONAL, Layout
from assay.warehouse import Warehouse

Row = dict[str, Any]
_BATCH_ROWS = 500


def literal(value: Any, kind: str) -> exp.Expression:
    """``value`` as a literal cast to ``kind`` (None, NaN and infinities become NULL)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return exp.cast(exp.Null(), kind)
    if isinstance(value, bool):
        return exp.cast(exp.Boolean(this=value), kind)
    if isinstance(value, int | float):
        return exp.cast(exp.Literal.number(repr(value)), kind)
    if isinstance(value, dt.datetime):
        text = value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
        return exp.cast(exp.Literal.string(text.isoformat(sep=" ")), kind)
    return exp.cast(exp.Literal.string(str(value)), kind)


def insert(wh: Warehouse, layout: Layout, table: str, rows: Sequence[Row], *,
           overwrite: bool = False) -> None:
    """Insert ``rows`` (dicts keyed by column; missing keys are NULL) in batches."""
    columns = TABLES[table]
    if not rows:
        return
    for start in range(0, len(rows), _BATCH_ROWS):
        batch = rows[start:start + _BATCH_ROWS]
        values = exp.Values(expressions=[
            exp.Tuple(expressions=[literal(row.get(c), kind) for c, kind in columns.items()])
            for row in batch
        ])
        statement = exp.Insert(
            this=exp.Schema(this=layout.ref(table),
                            expressions=[exp.to_identifier(c, quoted=True) for c in columns]),
            expression=values,
            overwrite=overwrite and start == 0,
        )
        wh.execute(statement.sql(dialect=wh.dialect))


def select(layout: Layout, table: str, where: Mapping[str, Any] | None = None,
           order_by: Sequence[str] = ()) -> exp.Select:
    """``SELECT * FROM table WHERE k = v AND ...`` (values as string literals) ``ORDER BY``."""
    query = exp.select(*[exp.column(c, quoted=True) for c in TABLES[table]]).from_(
        layout.ref(table))
    for key, value in (where or {}).items():
        query = query.where(exp.column(key, quoted=True).eq(_plain(value)))
    for key in order_by:
        query = query.order_by(exp.Ordered(this=exp.column(key, quoted=True)))
    return query


def delete(wh: Warehouse, layout: Layout, table: str, where: Mapping[str, Any]) -> None:
    """``DELETE FROM table WHERE k = v AND ...`` (only on engines with transactions)."""
    condition = exp.and_(*[exp.column(key, quoted=True).eq(_plain(value))
                           for key, value in where.items()])
    statement = exp.Delete(this=layout.ref(table), where=exp.Where(this=condition))
    wh.execute(statement.sql(dialect=wh.dialect))


def rows(wh: Warehouse, query: exp.Expression) -> list[Row]:
    """Run ``query`` and return its rows as dicts (timestamps as naive UTC datetimes)."""
    table: pa.Table = wh.execute(query.sql(dialect=wh.dialect))
    return [{k: _naive(v) for k, v in row.items()} for row in table.to_pylist()]


@contextmanager
def transaction(wh: Warehouse) -> Iterator[None]:
    """One transaction on DuckDB and PostgreSQL; nothing on Spark (see the module docstring)."""
    if wh.dialect not in TRANSACTIONAL:
        yield
        return
    wh.execute("BEGIN TRANSACTION" if wh.dialect == "duckdb" else "BEGIN")
    try:
        yield
    except BaseException:
        # the original error says more than a failed rollback of an aborted transaction
        with suppress(WarehouseError):
            wh.execute("ROLLBACK")
        raise
    wh.execute("COMMIT")


def _plain(value: Any) -> exp.Expression:
    if isinstance(value, int) and not isinstance(value, bool):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


def _naive(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value
