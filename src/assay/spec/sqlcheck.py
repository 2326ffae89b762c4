"""Parse the SQL fragments a spec carries before anything runs."""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

GENERIC = "sqlglot:"
"""Prefix of a fragment that assay wrote itself (a covariate's column, one-hot level or
experiment filter): the rest is in SQLGlot's own dialect, so it reads the same whichever
warehouse it is compiled for (a quoted ``"col"`` would be a string in Spark's). Without the
prefix handled the text does not parse anywhere: a missed path fails loudly."""


def generic(node: exp.Expr) -> str:
    """``node`` as a :data:`GENERIC` fragment."""
    return GENERIC + node.sql()


def parse_expression(text: str, dialect: str) -> exp.Expr:
    """Parse a per-row SQL expression (a metric's ``value`` or ``filter``).

    A :data:`GENERIC` fragment is read in SQLGlot's own dialect instead of ``dialect``.

    Raises:
        ValueError: It does not parse, holds several statements, is a statement or subquery
            rather than a row-level expression, or aggregates. The message says where.
    """
    if text.startswith(GENERIC):
        text, dialect = text.removeprefix(GENERIC), ""
    statements = _parse(text, dialect)
    if len(statements) != 1 or statements[0] is None:
        raise ValueError("expected one SQL expression")
    node = statements[0]
    # Only row-level value expressions: no statements, no subqueries, no aggregates (the
    # metric's `aggregation` says how events combine per unit).
    if not isinstance(node, exp.Condition):
        raise ValueError(f"expected a per-row SQL expression, got {_kind(node)}")
    inner = node.find(exp.Query, exp.Exists, exp.Window)
    if inner is not None:
        what = "a window function" if isinstance(inner, exp.Window) else "a subquery"
        raise ValueError(f"{what} (`{inner.sql(dialect=dialect)[:60]}`) is not a per-row "
                         "expression; join the data into the source instead")
    aggregate = node.find(exp.AggFunc)
    if aggregate is not None:
        raise ValueError(
            f"aggregate `{aggregate.sql(dialect=dialect)}` is not allowed here; "
            "write the per-event value and set `aggregation:`"
        )
    return node


def parse_query(text: str, dialect: str) -> exp.Query:
    """Parse a ``SELECT`` used as a source (``sql:``); anything else is rejected."""
    statements = _parse(text, dialect)
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise ValueError("expected one SELECT statement")
    if not statements[0].selects:
        raise ValueError("the SELECT lists no columns")
    return statements[0]


def _kind(node: exp.Expr) -> str:
    return "a subquery" if isinstance(node, exp.Query) else f"a statement ({node.key.upper()})"


MAX_NESTING = 100
"""Deepest parenthesis nesting a fragment may have (the parser recurses per level)."""


def _parse(text: str, dialect: str) -> list[exp.Expr | None]:
    depth = deepest = 0
    for char in text:
        depth += (char == "(") - (char == ")")
        deepest = max(deepest, depth)
    if deepest > MAX_NESTING:
        raise ValueError(f"SQL nests parentheses {deepest} deep (at most {MAX_NESTING})")
    try:
        return sqlglot.parse(text, read=dialect)
    except RecursionError as err:
        raise ValueError("SQL nests too deeply to parse") from err
    except ParseError as err:
        first = err.errors[0] if err.errors else {}
        where = f" at line {first.get('line')}, column {first.get('col')}" if first else ""
        desc = first.get("description", str(err)) if first else str(err)
        raise ValueError(f"SQL does not parse{where}: {desc}") from err
    except TokenError as err:
        raise ValueError(f"SQL does not parse: {err}") from err
