"""Data-quality gates on each configuration's output table, run in the warehouse as checks.

A gate is declared (``GateSpec``), compiled to a SQLGlot query per arm's output table, and
becomes a :class:`~assay.results.Check` named ``gate:<name>:<variant>``. A treatment that fails
a gate is never recommended (:func:`assay.pipelines.analysis.pipeline_decision`): a faster
configuration that drops rows or changes values is caught here, not shipped.

Kinds: ``row_count`` (bounds, or within ``vs_control`` of the control's count), ``null_rate``,
``unique``, ``accepted_values``, ``schema`` (same columns as the control's output),
``freshness`` (newest ``column`` within ``max_age`` of now) and ``checksum`` (the same multiset
of rows as the control's output: an order-independent sum of a 64-bit hash of each row).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import Field, field_validator
from sqlglot import exp

from assay.assign.sql import hash32_expression
from assay.results import Check
from assay.spec.errors import did_you_mean
from assay.spec.models import Strict, parse_duration
from assay.warehouse import Warehouse

GateKind = Literal["row_count", "null_rate", "unique", "accepted_values", "schema", "freshness",
                   "checksum"]
_NULL_MARK = "\\N"
_FIELD_SEPARATOR = "\x1f"


class GateSpec(Strict):
    """One data-quality gate (the fields a kind uses; the others stay unset)."""

    kind: GateKind
    name: str | None = None
    column: str | None = None
    columns: list[str] = Field(default_factory=list)
    min: float | None = None
    max: float | None = None
    vs_control: float | None = Field(None, ge=0, description="row_count: allowed relative gap")
    values: list[str | int | float] = Field(default_factory=list)
    max_age: dt.timedelta | None = None

    @field_validator("max_age", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        return parse_duration(value) if isinstance(value, str | int) else value

    @property
    def label(self) -> str:
        """The gate's name in check names."""
        return self.name or (f"{self.kind}:{self.column}" if self.column else self.kind)


def run_gates(warehouse: Warehouse, gates: Sequence[GateSpec], outputs: Mapping[str, str],
              control: str, *, now: dt.datetime | None = None) -> list[Check]:
    """Every gate on every arm's output table, as checks.

    Args:
        warehouse: Where the outputs are.
        gates: The gates.
        outputs: Variant -> its output table.
        control: The control variant (``schema``, ``checksum`` and ``vs_control`` compare
            against its output).
        now: The reference time of ``freshness`` gates (default now, UTC).
    """
    catalogue = {v: warehouse.columns(t) for v, t in outputs.items()}
    moment = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    checks = []
    for gate in gates:
        for variant, table in outputs.items():
            context = _Context(warehouse, outputs, catalogue, control, moment)
            checks.append(_gate_check(gate, variant, table, context))
    return checks


class _Context:
    def __init__(self, warehouse: Warehouse, outputs: Mapping[str, str],
                 catalogue: Mapping[str, list[str] | None], control: str,
                 now: dt.datetime) -> None:
        self.warehouse, self.outputs, self.catalogue = warehouse, outputs, catalogue
        self.control, self.now = control, now

    def one_row(self, table: str, *columns: exp.Expr) -> dict[str, Any]:
        query = exp.select(*columns).from_(exp.to_table(table, dialect=self.warehouse.dialect))
        rows: list[dict[str, Any]] = self.warehouse.execute(
            query.sql(self.warehouse.dialect)).to_pylist()
        return rows[0]


def _gate_check(gate: GateSpec, variant: str, table: str, ctx: _Context) -> Check:
    name = f"gate:{gate.label}:{variant}"
    found = ctx.catalogue.get(variant)
    base = {"variant": variant, "table": table, "kind": gate.kind}
    if found is None:
        return Check(name, "fail", f"output table `{table}` does not exist", base)
    needed = [c for c in [gate.column, *gate.columns] if c]
    missing = [c for c in needed if c not in found]
    if missing or (gate.kind in ("null_rate", "accepted_values", "freshness")
                   and gate.column is None):
        if not missing:
            return Check(name, "fail", f"a {gate.kind} gate needs `column`", base)
        hint = did_you_mean(missing[0], found) or f"columns: {', '.join(found[:12])}"
        return Check(name, "fail", f"column `{missing[0]}` is not in `{table}`; {hint}", base)
    status, message, figures = _KINDS[gate.kind](gate, variant, table, ctx)
    return Check(name, status, message, base | figures)


Verdict = tuple[Literal["pass", "warn", "fail"], str, dict[str, Any]]


def _count(table: str, ctx: _Context) -> int:
    return int(ctx.one_row(table, exp.alias_(exp.Count(this=exp.Star()), "n"))["n"])


def _row_count(gate: GateSpec, variant: str, table: str, ctx: _Context) -> Verdict:
    n = _count(table, ctx)
    figures: dict[str, Any] = {"rows": n}
    if gate.min is not None and n < gate.min:
        return "fail", f"{n:,} rows, fewer than the minimum {gate.min:,.0f}", figures
    if gate.max is not None and n > gate.max:
        return "fail", f"{n:,} rows, more than the maximum {gate.max:,.0f}", figures
    if gate.vs_control is not None and variant != ctx.control:
        reference = _count(ctx.outputs[ctx.control], ctx)
        gap = abs(n - reference) / reference if reference else float(n > 0)
        figures |= {"control_rows": reference, "relative_gap": gap}
        if gap > gate.vs_control:
            return "fail", (f"{n:,} rows vs the control's {reference:,} ({gap:.2%} apart, "
                            f"allowed {gate.vs_control:.2%})"), figures
    return "pass", f"{n:,} rows", figures


def _null_rate(gate: GateSpec, variant: str, table: str, ctx: _Context) -> Verdict:
    column = exp.column(gate.column or "", quoted=True)
    row = ctx.one_row(table, exp.alias_(exp.Count(this=exp.Star()), "n"),
                      exp.alias_(exp.Count(this=column), "filled"))
    n, filled = int(row["n"]), int(row["filled"])
    rate = (n - filled) / n if n else 0.0
    limit = gate.max if gate.max is not None else 0.0
    verdict: Literal["pass", "fail"] = "fail" if rate > limit else "pass"
    return verdict, f"{rate:.3%} of `{gate.column}` is NULL (allowed {limit:.3%})", {
        "null_rate": rate, "rows": n}


def _unique(gate: GateSpec, variant: str, table: str, ctx: _Context) -> Verdict:
    columns = [exp.column(c, quoted=True) for c in gate.columns or [gate.column or ""]]
    query = (exp.select(exp.alias_(exp.Count(this=exp.Star()), "n"))
             .from_(exp.select(*columns).from_(exp.to_table(table, dialect=ctx.warehouse.dialect))
                    .group_by(*columns).having(exp.Count(this=exp.Star()) > 1).subquery("d")))
    repeated = int(ctx.warehouse.execute(query.sql(ctx.warehouse.dialect)).to_pylist()[0]["n"])
    keys = ", ".join(gate.columns or [gate.column or ""])
    if repeated:
        return "fail", f"{repeated:,} values of ({keys}) occur more than once", {
            "repeated_keys": repeated}
    return "pass", f"({keys}) is unique", {"repeated_keys": 0}


def _accepted(gate: GateSpec, variant: str, table: str, ctx: _Context) -> Verdict:
    column = exp.column(gate.column or "", quoted=True)
    allowed = [exp.Literal.string(v) if isinstance(v, str) else exp.Literal.number(v)
               for v in gate.values]
    outside = exp.and_(column.is_(exp.null()).not_(), exp.In(this=column, expressions=allowed)
                       .not_())
    row = ctx.one_row(table, exp.alias_(exp.func("SUM", exp.Case(
        ifs=[exp.If(this=outside, true=exp.Literal.number(1))],
        default=exp.Literal.number(0))), "outside"))
    bad = int(row["outside"] or 0)
    if bad:
        return "fail", f"{bad:,} rows have a `{gate.column}` outside the accepted values", {
            "outside": bad}
    return "pass", f"every `{gate.column}` is an accepted value", {"outside": 0}


def _schema(gate: GateSpec, variant: str, table: str, ctx: _Context) -> Verdict:
    mine, reference = ctx.catalogue[variant] or [], ctx.catalogue.get(ctx.control) or []
    if mine == reference:
        return "pass", f"same columns as the control's output ({len(mine)})", {}
    extra, lacking = sorted(set(mine) - set(reference)), sorted(set(reference) - set(mine))
    detail = "; ".join(p for p in (f"extra: {', '.join(extra)}" if extra else "",
                                   f"missing: {', '.join(lacking)}" if lacking else "",
                                   "same columns in another order"
                                   if not extra and not lacking else "") if p)
    return "fail", f"columns differ from the control's output ({detail})", {
        "extra": extra, "missing": lacking}


def _freshness(gate: GateSpec, variant: str, table: str, ctx: _Context) -> Verdict:
    newest = ctx.one_row(table, exp.alias_(exp.Max(this=exp.column(gate.column or "",
                                                                    quoted=True)), "newest"))
    value = newest["newest"]
    limit = gate.max_age or dt.timedelta(days=1)
    if value is None:
        return "fail", f"`{gate.column}` has no value: the output is empty", {}
    stamp = value if value.tzinfo is None else value.astimezone(dt.UTC).replace(tzinfo=None)
    age = ctx.now - stamp
    figures = {"newest": stamp.isoformat(), "age_seconds": age.total_seconds()}
    if age > limit:
        return "fail", f"newest `{gate.column}` is {age} old (allowed {limit})", figures
    return "pass", f"newest `{gate.column}` is {age} old", figures


def row_fingerprint(table: str, columns: Sequence[str], dialect: str) -> exp.Select:
    """Rows, and two sums of 32-bit MD5 words of each row's text: equal multisets of rows give
    equal fingerprints whatever their order (NULL and the field separator are marked)."""
    text: exp.Expression = exp.Literal.string("")
    for i, name in enumerate(columns):
        cell = exp.Coalesce(this=exp.cast(exp.column(name, quoted=True),
                                          exp.DataType.build("TEXT")),
                            expressions=[exp.Literal.string(_NULL_MARK)])
        text = cell if i == 0 else exp.DPipe(
            this=exp.DPipe(this=text, expression=exp.Literal.string(_FIELD_SEPARATOR)),
            expression=cell)
    words = [exp.alias_(exp.func("SUM", hash32_expression(text.copy(), dialect, start=s)),
                        f"h{s}") for s in (1, 9)]
    return exp.select(exp.alias_(exp.Count(this=exp.Star()), "n"), *words).from_(
        exp.to_table(table, dialect=dialect))


def _checksum(gate: GateSpec, variant: str, table: str, ctx: _Context) -> Verdict:
    reference = ctx.catalogue.get(ctx.control) or []
    columns = gate.columns or reference
    if not set(columns) <= set(ctx.catalogue[variant] or []):
        return "fail", "the outputs' columns differ, so their rows cannot match", {}
    dialect = ctx.warehouse.dialect

    def fingerprint(name: str) -> tuple[int, int, int]:
        row = ctx.warehouse.execute(row_fingerprint(name, columns, dialect).sql(dialect)
                                    ).to_pylist()[0]
        return int(row["n"]), int(row["h1"] or 0), int(row["h9"] or 0)

    mine, theirs = fingerprint(table), fingerprint(ctx.outputs[ctx.control])
    figures = {"rows": mine[0], "control_rows": theirs[0], "checksum": f"{mine[1]:x}{mine[2]:x}"}
    if mine != theirs:
        return "fail", (f"rows differ from the control's output ({mine[0]:,} vs {theirs[0]:,} "
                        "rows; order-independent checksums differ)"), figures
    return "pass", f"same {mine[0]:,} rows as the control's output (checksum)", figures


_KINDS = {"row_count": _row_count, "null_rate": _null_rate, "unique": _unique,
          "accepted_values": _accepted, "schema": _schema, "freshness": _freshness,
          "checksum": _checksum}
