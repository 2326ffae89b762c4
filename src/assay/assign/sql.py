"""The SQL twin of the assignment: hash version 1 and the gates, built with SQLGlot per dialect.

Engines disagree on how to get from a string to MD5 hex and from hex to an integer; those
differences are data (:data:`HASH_DIALECTS`), and one builder turns them into expressions::

    bucket = MOD(hex_to_int(SUBSTRING(md5_hex(salt || ':' || CAST(unit AS TEXT)), 1, 8)), 10000)

``||`` propagates NULL on every engine, so a NULL unit id gets a NULL bucket and no variant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, cast

import sqlglot
from sqlglot import exp

from assay.assign.engine import CompiledExperiment, compile_experiments
from assay.assign.hashing import BUCKETS, SEPARATOR, layer_salt, traffic_salt
from assay.assign.targeting import targeting_sql
from assay.errors import AssayError
from assay.spec.models import ExperimentSpec

if TYPE_CHECKING:
    from assay.spec.project import Project

Md5Kind = Literal["md5_hex", "to_hex_md5", "to_hex_md5_utf8"]
HexKind = Literal["cast_0x", "bit32", "conv", "to_number", "from_base"]


@dataclass(frozen=True)
class HashDialect:
    """How one engine computes the hex MD5 of a string and reads 8 hex digits as an integer.

    Attributes:
        md5: ``md5_hex``: ``MD5(s)`` returns lowercase hex; ``to_hex_md5``: ``MD5`` returns
            bytes, ``TO_HEX`` makes hex; ``to_hex_md5_utf8``: ``MD5`` takes bytes
            (``TO_UTF8(s)`` first).
        hex_to_int: ``cast_0x``: ``CAST('0x' || h AS BIGINT)``; ``bit32``:
            ``CAST(CAST('x' || h AS BIT(32)) AS BIGINT)``; ``conv``: ``CAST(CONV(h, 16, 10) AS
            BIGINT)``; ``to_number``: ``TO_NUMBER(h, 'xxxxxxxx')``; ``from_base``:
            ``FROM_BASE(h, 16)``.
    """

    md5: Md5Kind
    hex_to_int: HexKind


HASH_DIALECTS: dict[str, HashDialect] = {
    "duckdb": HashDialect("md5_hex", "cast_0x"),
    "postgres": HashDialect("md5_hex", "bit32"),
    "spark": HashDialect("md5_hex", "conv"),
    "databricks": HashDialect("md5_hex", "conv"),
    "bigquery": HashDialect("to_hex_md5", "cast_0x"),
    "snowflake": HashDialect("md5_hex", "to_number"),
    "trino": HashDialect("to_hex_md5_utf8", "from_base"),
    "presto": HashDialect("to_hex_md5_utf8", "from_base"),
}


def _fn(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=list(args))


def _num(value: int) -> exp.Expression:
    return exp.Literal.number(value)


def _md5_hex(text: exp.Expression, kind: Md5Kind) -> exp.Expression:
    if kind == "md5_hex":
        return _fn("MD5", text)
    if kind == "to_hex_md5":
        return _fn("TO_HEX", _fn("MD5", text))
    return _fn("TO_HEX", _fn("MD5", _fn("TO_UTF8", text)))


def _hex_to_int(hex8: exp.Expression, kind: HexKind) -> exp.Expression:
    bigint = exp.DataType.build("BIGINT")
    if kind == "cast_0x":
        return exp.cast(exp.DPipe(this=exp.Literal.string("0x"), expression=hex8), bigint)
    if kind == "bit32":
        bits = exp.cast(exp.DPipe(this=exp.Literal.string("x"), expression=hex8),
                        exp.DataType.build("BIT(32)", dialect="postgres"))
        return exp.cast(bits, bigint)
    if kind == "conv":
        return exp.cast(_fn("CONV", hex8, _num(16), _num(10)), bigint)
    if kind == "to_number":
        # lowercase format elements: MD5 hex is lowercase, whatever the engine's parse rules
        return _fn("TO_NUMBER", hex8, exp.Literal.string("x" * 8))
    return _fn("FROM_BASE", hex8, _num(16))


def hash_dialect(dialect: str) -> HashDialect:
    """The hash recipe of ``dialect``; an :class:`AssayError` listing the supported ones."""
    if dialect not in HASH_DIALECTS:
        raise AssayError(f"no hash recipe for dialect '{dialect}'; supported: "
                         + ", ".join(sorted(HASH_DIALECTS)))
    return HASH_DIALECTS[dialect]


def hash32_expression(text: exp.Expression, dialect: str, *, start: int = 1) -> exp.Expression:
    """32 bits of ``MD5(text)`` as an integer: hex digits ``start .. start + 7`` read as base 16.

    ``start=1`` is step 3 of hash version 1 (before the modulo); other offsets give further
    independent 32-bit words of the same digest (e.g. for order-independent row checksums).
    """
    recipe = hash_dialect(dialect)
    hex8 = exp.Substring(this=_md5_hex(text, recipe.md5), start=_num(start), length=_num(8))
    return _hex_to_int(hex8, recipe.hex_to_int)


def bucket_expression(salt: str | exp.Expression, unit: exp.Expression,
                      dialect: str) -> exp.Expression:
    """The bucket in ``[0, 10000)`` of ``unit`` under ``salt`` (hash version 1), as SQL.

    ``salt`` is usually a string (rendered as a literal); an expression (e.g. a column) hashes
    each row with its own salt.

    Example:
        >>> from sqlglot import exp
        >>> print(bucket_expression("s", exp.column("u"), "trino").sql("trino"))
        FROM_BASE(SUBSTR(TO_HEX(MD5(TO_UTF8('s:' || CAST(u AS VARCHAR)))), 1, 8), 16) % 10000
    """
    head = exp.Literal.string(salt + SEPARATOR) if isinstance(salt, str) else \
        exp.DPipe(this=salt, expression=exp.Literal.string(SEPARATOR))
    text = exp.DPipe(this=head, expression=exp.cast(unit, exp.DataType.build("TEXT")))
    return exp.Mod(this=hash32_expression(text, dialect), expression=_num(BUCKETS))


def _between(value: exp.Expression, lo: int, hi: int) -> exp.Expr:
    return exp.and_(exp.GTE(this=value.copy(), expression=_num(lo)),
                    exp.LT(this=value.copy(), expression=_num(hi)))


def variant_expression(compiled: CompiledExperiment, unit: exp.Expression, dialect: str,
                       buckets: Mapping[str, exp.Expression] | None = None,
                       table_alias: str | None = None) -> exp.Case:
    """The experiment's gates and variant split as one ``CASE`` (NULL: not in the experiment).

    Args:
        compiled: The experiment.
        unit: The unit id expression.
        dialect: Target dialect.
        buckets: Precomputed ``variant`` / ``traffic`` / ``layer`` bucket expressions (e.g.
            columns of a CTE); missing ones are computed inline.
        table_alias: Table whose columns hold the targeting attributes.
    """
    spec = compiled.spec
    given = dict(buckets or {})
    variant_b = given.get("variant") or bucket_expression(spec.hash_salt, unit, dialect)
    case = exp.Case()
    for uid, name in sorted(compiled.forced.items()):
        case = case.when(exp.EQ(this=unit.copy(), expression=exp.Literal.string(uid)),
                         exp.Literal.string(name))
    null = exp.Null()
    if compiled.holdout is not None:
        held = variant_expression(compiled.holdout, unit, dialect, table_alias=table_alias)
        case = case.when(exp.EQ(this=held, expression=exp.Literal.string(
            compiled.holdout_control or "")), null.copy())
    if spec.targeting is not None:
        rule = targeting_sql(spec.targeting, table_alias=table_alias)
        case = case.when(exp.not_(exp.Coalesce(this=exp.paren(rule), expressions=[
            exp.false()])), null.copy())
    if compiled.layer_hasher is not None:
        layer_b = given.get("layer") or bucket_expression(layer_salt(spec.layer or ""), unit,
                                                          dialect)
        case = case.when(exp.not_(exp.paren(_between(layer_b, *compiled.layer_range))),
                         null.copy())
    if compiled.traffic_hasher is not None:
        traffic_b = given.get("traffic") or bucket_expression(traffic_salt(spec.hash_salt),
                                                              unit, dialect)
        case = case.when(exp.GTE(this=traffic_b, expression=_num(compiled.threshold)),
                         null.copy())
    for r in compiled.ranges:
        if r.size:
            case = case.when(_between(variant_b, r.start, r.end), exp.Literal.string(r.variant))
    return case.else_(null.copy())


def assignment_query(experiments: Mapping[str, ExperimentSpec], experiment_id: str,
                     dialect: str, *, units: str = "units", unit_column: str = "unit_id"
                     ) -> exp.Select:
    """The query that assigns every unit of ``units`` (a table name or a ``SELECT``).

    Output columns: ``unit_id``, ``bucket`` (variant hash) and ``variant`` (NULL when the unit
    is not in the experiment). Attributes for targeting are columns of ``units``.
    """
    if experiment_id not in experiments:
        raise AssayError(f"unknown experiment '{experiment_id}'; known: "
                         + ", ".join(sorted(experiments)))
    compiled = compile_experiments(experiments)[experiment_id]
    spec = compiled.spec
    source: exp.Expr
    if units.lstrip().lower().startswith(("select", "with")):
        source = exp.paren(cast(exp.Expression, sqlglot.parse_one(units, read=dialect))
                           ).as_("units", quoted=True)
    else:
        source = _quoted(exp.to_table(units, dialect=dialect)).as_("units", quoted=True)
    unit = exp.column(unit_column, table="units", quoted=True)
    hashed = exp.select(exp.Star(), bucket_expression(spec.hash_salt, unit, dialect).as_(
        "_assay_bucket", quoted=True)).from_(source)
    buckets: dict[str, exp.Expression] = {"variant": exp.column("_assay_bucket", quoted=True)}
    if compiled.traffic_hasher is not None:
        hashed = hashed.select(bucket_expression(traffic_salt(spec.hash_salt), unit, dialect)
                               .as_("_assay_traffic_bucket", quoted=True))
        buckets["traffic"] = exp.column("_assay_traffic_bucket", quoted=True)
    if compiled.layer_hasher is not None:
        hashed = hashed.select(bucket_expression(layer_salt(spec.layer or ""), unit, dialect)
                               .as_("_assay_layer_bucket", quoted=True))
        buckets["layer"] = exp.column("_assay_layer_bucket", quoted=True)
    local_unit = exp.column(unit_column, quoted=True)
    variant = variant_expression(compiled, local_unit, dialect, buckets)
    return exp.select(local_unit.as_("unit_id", quoted=True),
                      buckets["variant"].as_("bucket", quoted=True),
                      variant.as_("variant", quoted=True)).from_("hashed").with_(
        "hashed", as_=hashed)


def _quoted(table: exp.Table) -> exp.Table:
    for part in table.parts:
        if isinstance(part, exp.Identifier):
            part.set("quoted", True)
    return table


def assignment_sql(project: Project, experiment_id: str, dialect: str, *,
                   units: str = "units", unit_column: str = "unit_id") -> str:
    """SQL (pretty, in ``dialect``) that materialises the assignment of ``experiment_id``.

    The units come from ``units`` (default: a table ``units`` with a ``unit_id`` column and one
    column per targeting attribute). Wrap it in ``CREATE TABLE ... AS`` to materialise it.

    Example:
        ``assay sql checkout_v2 --assignment --dialect snowflake``
    """
    query = assignment_query(project.experiments, experiment_id, dialect, units=units,
                             unit_column=unit_column)
    return query.sql(dialect=dialect, pretty=True)
