"""Targeting rules: one SQL boolean over unit attributes, evaluated in Python and in SQL.

The rule is parsed once with SQLGlot. For the SDK it is compiled into nested closures (no
parsing or tree walking on the hot path); for the warehouse the same expression is emitted with
every attribute as a quoted column. Both follow SQL's three-valued logic: a comparison with a
missing (NULL) attribute is unknown, and a unit is eligible only when the rule is TRUE.

Supported: attributes (bare column names), string/number/boolean/NULL literals, ``= != <> < <= >
>=``, ``AND OR NOT``, ``IN (...)``, ``BETWEEN``, ``IS [NOT] NULL``, ``LIKE``, ``+ - * /``,
``LOWER``, ``UPPER``, ``COALESCE``. Comparing values of different types (a string attribute with
a number) is unknown, so the unit is not eligible.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from typing import Any, cast

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from assay.errors import SpecError, SpecIssue

Attributes = Mapping[str, Any]
Evaluator = Callable[[Attributes], Any]
Rule = Callable[[Attributes | None], bool]

_EMPTY: Mapping[str, Any] = {}
_COMPARE: dict[type[exp.Expression], Callable[[Any, Any], Any]] = {
    exp.EQ: operator.eq, exp.NEQ: operator.ne, exp.GT: operator.gt, exp.GTE: operator.ge,
    exp.LT: operator.lt, exp.LTE: operator.le,
}
_ARITH: dict[type[exp.Expression], Callable[[Any, Any], Any]] = {
    exp.Add: operator.add, exp.Sub: operator.sub, exp.Mul: operator.mul, exp.Div: operator.truediv,
}


def parse_targeting(text: str, *, where: str = "targeting") -> exp.Expression:
    """Parse a targeting rule; a :class:`SpecError` naming ``where`` if it is not valid SQL."""
    tree = _parse(text, where)
    _compile(tree, where)  # reject unsupported constructs now, not on the hot path
    return tree


def _parse(text: str, where: str) -> exp.Expression:
    try:
        tree = cast(exp.Expression, sqlglot.parse_one(text))
    except ParseError as err:
        raise SpecError([SpecIssue(file=where, line=None, field="targeting",
                                   message=f"not a valid SQL boolean: {err}", value=text)]) from err
    if tree is None:
        raise SpecError([SpecIssue(where, None, "targeting", "empty targeting rule")])
    return tree


def compile_targeting(text: str | None, *, where: str = "targeting") -> Rule | None:
    """Compile a rule into ``rule(attributes) -> bool`` (True only when the SQL value is TRUE).

    Example:
        >>> rule = compile_targeting("country IN ('DE', 'FR') AND age >= 18")
        >>> rule({"country": "DE", "age": 30}), rule({"country": "DE"}), rule(None)
        (True, False, False)
    """
    if text is None:
        return None
    evaluate = _compile(_parse(text, where), where)  # compiling is the validation

    def rule(attributes: Attributes | None) -> bool:
        return evaluate(attributes if attributes is not None else _EMPTY) is True

    return rule


def targeting_sql(text: str, *, table_alias: str | None = None) -> exp.Expression:
    """The rule as a SQLGlot expression whose attributes are quoted columns of ``table_alias``."""
    tree = parse_targeting(text).copy()

    def quote(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column):
            return exp.column(node.name, table=table_alias, quoted=True)
        return node

    return tree.transform(quote)


def attributes_of(text: str | None) -> list[str]:
    """The attribute names a rule reads, in first-use order."""
    if text is None:
        return []
    names: list[str] = []
    for column in parse_targeting(text).find_all(exp.Column):
        if column.name not in names:
            names.append(column.name)
    return names


def _compile(node: exp.Expression, where: str) -> Evaluator:
    if isinstance(node, exp.Paren):
        return _compile(node.this, where)
    if isinstance(node, exp.Column):
        if node.table:
            _unsupported(node, where, "attributes are bare names (no table prefix)")
        name = node.name
        return lambda a: a.get(name)
    if isinstance(node, exp.Literal | exp.Boolean | exp.Null):
        value = _literal(node)
        return lambda a: value
    if isinstance(node, exp.And | exp.Or | exp.Not):
        return _logic(node, where)
    if type(node) in _COMPARE:
        return _binary(_COMPARE[type(node)], node, where)
    if type(node) in _ARITH:
        return _binary(_ARITH[type(node)], node, where)
    if isinstance(node, exp.Neg):
        inner = _compile(node.this, where)
        return lambda a: None if (v := inner(a)) is None else -v
    return _compile_special(node, where)


def _compile_special(node: exp.Expression, where: str) -> Evaluator:
    if isinstance(node, exp.In) and node.expressions and not node.args.get("query"):
        return _in(node, where)
    if isinstance(node, exp.Between):
        return _between(node, where)
    if isinstance(node, exp.Is) and isinstance(node.expression, exp.Null):
        inner = _compile(node.this, where)
        return lambda a: inner(a) is None
    if isinstance(node, exp.Like):
        return _like(node, where)
    if isinstance(node, exp.Lower | exp.Upper):
        inner = _compile(node.this, where)
        change = str.lower if isinstance(node, exp.Lower) else str.upper
        return lambda a: v if not isinstance(v := inner(a), str) else change(v)
    if isinstance(node, exp.Coalesce):
        parts = [_compile(node.this, where), *(_compile(e, where) for e in node.expressions)]
        return lambda a: next((v for p in parts if (v := p(a)) is not None), None)
    _unsupported(node, where, "not supported in targeting rules")
    raise AssertionError  # unreachable: _unsupported raises


def _literal(node: exp.Expression) -> Any:
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    assert isinstance(node, exp.Literal)
    if node.is_string:
        return node.this
    text = node.this
    return int(text) if re.fullmatch(r"-?\d+", text) else float(text)


def _logic(node: exp.Expression, where: str) -> Evaluator:
    if isinstance(node, exp.Not):
        inner = _compile(node.this, where)
        return lambda a: None if (v := _truth(inner(a))) is None else not v
    left, right = _compile(node.this, where), _compile(node.expression, where)
    decisive = isinstance(node, exp.Or)  # the value that settles the result alone

    def combine(a: Attributes) -> bool | None:
        x = _truth(left(a))
        if x is decisive:
            return decisive
        y = _truth(right(a))
        return decisive if y is decisive else (None if x is None or y is None else not decisive)
    return combine


def _truth(value: Any) -> bool | None:
    return value if value is None or isinstance(value, bool) else None


def _binary(op: Callable[[Any, Any], Any], node: exp.Expression, where: str) -> Evaluator:
    left, right = _compile(node.this, where), _compile(node.expression, where)

    def apply(a: Attributes) -> Any:
        x, y = left(a), right(a)
        if x is None or y is None or not _comparable(x, y):
            return None
        try:
            return op(x, y)
        except (TypeError, ZeroDivisionError):
            return None
    return apply


def _comparable(x: Any, y: Any) -> bool:
    numeric = (int, float)
    if isinstance(x, bool) or isinstance(y, bool):
        return isinstance(x, bool) and isinstance(y, bool)
    return (isinstance(x, numeric) and isinstance(y, numeric)) or type(x) is type(y)


def _in(node: exp.In, where: str) -> Evaluator:
    needle = _compile(node.this, where)
    options = [_compile(e, where) for e in node.expressions]

    def member(a: Attributes) -> bool | None:
        x = needle(a)
        if x is None:
            return None
        unknown = False
        for option in options:
            y = option(a)
            if y is None or not _comparable(x, y):
                unknown = True
            elif x == y:
                return True
        return None if unknown else False
    return member


def _between(node: exp.Between, where: str) -> Evaluator:
    value = _compile(node.this, where)
    low, high = _compile(node.args["low"], where), _compile(node.args["high"], where)

    def inside(a: Attributes) -> bool | None:
        x, lo, hi = value(a), low(a), high(a)
        if None in (x, lo, hi) or not (_comparable(x, lo) and _comparable(x, hi)):
            return None
        return bool(lo <= x <= hi)
    return inside


def _like(node: exp.Like, where: str) -> Evaluator:
    if not isinstance(node.expression, exp.Literal) or not node.expression.is_string:
        _unsupported(node, where, "LIKE needs a string literal pattern")
    pattern = re.compile("".join(
        ".*" if ch == "%" else "." if ch == "_" else re.escape(ch)
        for ch in node.expression.this), re.DOTALL)
    value = _compile(node.this, where)
    return lambda a: None if not isinstance(v := value(a), str) else \
        pattern.fullmatch(v) is not None


def _unsupported(node: exp.Expression, where: str, why: str) -> None:
    raise SpecError([SpecIssue(file=where, line=None, field="targeting",
                               message=f"`{node.sql()}`: {why}",
                               hint="use comparisons, AND/OR/NOT, IN, BETWEEN, IS NULL, LIKE")])
