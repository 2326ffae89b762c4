"""Schema versions and forward migrations: an upgrade extends the store, never loses history.

``schema_version`` holds one row per applied migration. :func:`migrate` applies the missing ones
in order; each is idempotent (``IF NOT EXISTS``, copies keyed by fingerprint), so a migration
interrupted half-way is finished by the next run.

Version 1 creates the typed tables and carries forward the single JSON table of assay <= 0.1
(``assay_results``: one row per analysis, the result as JSON): it is renamed to
``<prefix>results_v0`` and kept, and each of its rows becomes a typed analysis.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlglot import exp

from assay.store import sql
from assay.store.rows import analysis_rows
from assay.store.schema import ADDED_IN, TABLES, Layout, create_table
from assay.warehouse import Warehouse

# Any fixed 64-bit number: the advisory lock assay's migrations take on PostgreSQL.
_LOCK_KEY = 0x61737361795F7631  # "assay_v1"
LEGACY_TABLE = "results"
LEGACY_KEPT_AS = "results_v0"


@dataclass(frozen=True)
class Migration:
    """One forward step of the schema."""

    version: int
    description: str
    apply: Callable[[Warehouse, Layout], None]


def current_version(wh: Warehouse, layout: Layout) -> int:
    """The highest applied migration (0 for a warehouse without the store)."""
    if wh.columns(layout.name("schema_version")) is None:
        return 0
    found = sql.rows(wh, exp.select(exp.func("MAX", exp.column("version", quoted=True)).as_("v"))
                     .from_(layout.ref("schema_version")))
    return int(found[0]["v"] or 0) if found else 0


def migrate(wh: Warehouse, layout: Layout) -> int:
    """Bring the store to the latest schema version; returns that version.

    On PostgreSQL a session advisory lock makes concurrent first runs migrate one at a time
    (the second then finds the work done); a DuckDB file admits one writer process anyway.
    """
    with _migration_lock(wh):
        return _migrate(wh, layout)


@contextmanager
def _migration_lock(wh: Warehouse) -> Iterator[None]:
    if wh.dialect != "postgres":
        yield
        return
    key = exp.Literal.number(_LOCK_KEY)
    wh.execute(exp.select(exp.func("pg_advisory_lock", key)).sql(dialect=wh.dialect))
    try:
        yield
    finally:
        wh.execute(exp.select(exp.func("pg_advisory_unlock", key)).sql(dialect=wh.dialect))


def _migrate(wh: Warehouse, layout: Layout) -> int:
    version = current_version(wh, layout)
    for migration in MIGRATIONS:
        if migration.version <= version:
            continue
        migration.apply(wh, layout)
        sql.insert(wh, layout, "schema_version", [{
            "version": migration.version,
            "applied_at": dt.datetime.now(dt.UTC),
            "description": migration.description,
        }])
        version = migration.version
    return version


def _v1_typed_tables(wh: Warehouse, layout: Layout) -> None:
    if layout.schema is not None:
        wh.execute(exp.Create(this=exp.to_identifier(layout.schema, quoted=True), kind="SCHEMA",
                              exists=True).sql(dialect=wh.dialect))
    legacy = wh.columns(layout.name(LEGACY_TABLE))
    if legacy is not None and "result_json" in legacy and "metric" not in legacy:
        rename = exp.Alter(this=layout.ref(LEGACY_TABLE), kind="TABLE", actions=[
            exp.AlterRename(this=exp.Table(this=exp.to_identifier(
                f"{layout.prefix}{LEGACY_KEPT_AS}", quoted=True)))
        ])
        wh.execute(rename.sql(dialect=wh.dialect))
    for table in TABLES:
        wh.execute(create_table(layout, table, wh.dialect).sql(dialect=wh.dialect))
    if wh.columns(layout.name(LEGACY_KEPT_AS)) is not None:
        _carry_forward(wh, layout)


def _carry_forward(wh: Warehouse, layout: Layout) -> None:
    """Each row of the legacy JSON table as a typed analysis (skipping those already copied)."""
    query = exp.select(exp.column("result_json", quoted=True), exp.column("decision", quoted=True)
                       ).from_(layout.ref(LEGACY_KEPT_AS))
    known = {r["fingerprint"] for r in sql.rows(wh, exp.select(
        exp.column("fingerprint", quoted=True)).from_(layout.ref("analyses")))}
    for legacy in sql.rows(wh, query):
        data = json.loads(str(legacy["result_json"]))
        tables = analysis_rows(data, recommendation=(str(legacy["decision"]), []),
                               experiment_status="unknown", plan_hash=None, duration_s=None)
        if tables["analyses"][0]["fingerprint"] in known:
            continue
        known.add(tables["analyses"][0]["fingerprint"])
        with sql.transaction(wh):
            for table in ("arms", "results", "checks", "analyses"):  # the analysis row last
                sql.insert(wh, layout, table, tables[table])


def _add_columns(version: int) -> Callable[[Warehouse, Layout], None]:
    """A migration that adds the columns ``ADDED_IN[version]`` lists (those still missing)."""

    def apply(wh: Warehouse, layout: Layout) -> None:
        for table, names in ADDED_IN[version].items():
            present = set(wh.columns(layout.name(table)) or [])
            for name in (n for n in names if n not in present):
                alter = exp.Alter(this=layout.ref(table), kind="TABLE", actions=[exp.ColumnDef(
                    this=exp.to_identifier(name, quoted=True),
                    kind=exp.DataType.build(TABLES[table][name]))])
                wh.execute(alter.sql(dialect=wh.dialect))

    return apply


MIGRATIONS: list[Migration] = [
    Migration(1, "typed tables; the assay_results JSON table carried forward", _v1_typed_tables),
    Migration(2, "results: rel_lift_method, statistic, df, cuped_theta, arm_figures_json",
              _add_columns(2)),
    Migration(3, "checks: code, remedy", _add_columns(3)),
]
LATEST_VERSION = MIGRATIONS[-1].version
