"""The results store's tables: names, typed columns and the DDL that creates them.

Seven tables live in the project's warehouse, under ``results_schema`` (if set) with the name
prefix ``results_prefix`` (default ``assay_``): ``schema_version``, ``experiments``, ``plans``,
``analyses``, ``arms``, ``results``, ``checks`` and ``decisions``. ``docs/store.md`` documents
every column. Times are UTC timestamps without a time zone; lists and free-form figures are JSON
text; every other figure is a typed column a BI tool can filter and aggregate.

A change to a column list here is a schema change: it needs a new migration in
:mod:`assay.store.migrations` (tables are only ever extended, never rewritten).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

# Column name -> SQL type (SQLGlot transpiles each to the warehouse's own type name).
Columns = dict[str, str]

SCHEMA_VERSION: Columns = {
    "version": "INT",
    "applied_at": "TIMESTAMP",
    "description": "TEXT",
}

EXPERIMENTS: Columns = {
    "experiment_id": "TEXT",
    "name": "TEXT",
    "owner": "TEXT",
    "status": "TEXT",
    "created_at": "TIMESTAMP",
    "started_at": "TIMESTAMP",
    "stopped_at": "TIMESTAMP",
    "decided_at": "TIMESTAMP",
    "abandoned_at": "TIMESTAMP",
    "updated_at": "TIMESTAMP",
    "plan_version": "INT",
    "plan_hash": "TEXT",
    "plan_json": "TEXT",
    "spec_text": "TEXT",
}

PLANS: Columns = {
    "experiment_id": "TEXT",
    "plan_version": "INT",
    "frozen_at": "TIMESTAMP",
    "plan_hash": "TEXT",
    "plan_json": "TEXT",
    "spec_text": "TEXT",
    "reason": "TEXT",
}

ANALYSES: Columns = {
    "analysis_id": "TEXT",
    "experiment_id": "TEXT",
    "run_at": "TIMESTAMP",
    "fingerprint": "TEXT",
    "spec_hash": "TEXT",
    "plan_hash": "TEXT",
    "experiment_status": "TEXT",
    "window_start": "TIMESTAMP",
    "window_end": "TIMESTAMP",
    "duration_s": "DOUBLE",
    "units": "BIGINT",
    "control": "TEXT",
    "alpha": "DOUBLE",
    "correction": "TEXT",
    "cuped": "BOOLEAN",
    "warehouse": "TEXT",
    "check_status": "TEXT",
    "recommendation": "TEXT",
    "recommendation_reasons": "TEXT",
    "assay_version": "TEXT",
    "versions_json": "TEXT",
    "sql_json": "TEXT",
    "result_json": "TEXT",
}

ARMS: Columns = {
    "analysis_id": "TEXT",
    "experiment_id": "TEXT",
    "position": "INT",
    "variant": "TEXT",
    "units": "BIGINT",
    "expected_share": "DOUBLE",
    "observed_share": "DOUBLE",
    "exposure_rows": "BIGINT",
}

# One row per analysis x metric x variant x segment (segment NULL: the overall comparison).
# Intervals are split into _low/_high columns.
RESULTS: Columns = {
    "analysis_id": "TEXT",
    "experiment_id": "TEXT",
    "position": "INT",
    "metric": "TEXT",
    "role": "TEXT",
    "kind": "TEXT",
    "variant": "TEXT",
    "control": "TEXT",
    "segment": "TEXT",
    "segment_value": "TEXT",
    "n_control": "DOUBLE",
    "n_treatment": "DOUBLE",
    "mean_control": "DOUBLE",
    "mean_treatment": "DOUBLE",
    "diff": "DOUBLE",
    "diff_se": "DOUBLE",
    "diff_ci_low": "DOUBLE",
    "diff_ci_high": "DOUBLE",
    "rel_lift": "DOUBLE",
    "rel_lift_ci_low": "DOUBLE",
    "rel_lift_ci_high": "DOUBLE",
    "diff_ci_adjusted_low": "DOUBLE",
    "diff_ci_adjusted_high": "DOUBLE",
    "rel_lift_ci_adjusted_low": "DOUBLE",
    "rel_lift_ci_adjusted_high": "DOUBLE",
    "p_value": "DOUBLE",
    "p_value_adjusted": "DOUBLE",
    "significant": "BOOLEAN",
    "method": "TEXT",
    "cuped_variance_reduction": "DOUBLE",
    "error": "TEXT",
    "higher_is_better": "BOOLEAN",
    "null_values": "BIGINT",
    "sequential_method": "TEXT",
    "sequential_p_value": "DOUBLE",
    "sequential_p_value_adjusted": "DOUBLE",
    "sequential_ci_low": "DOUBLE",
    "sequential_ci_high": "DOUBLE",
    "sequential_boundary": "DOUBLE",
    "sequential_crossed": "BOOLEAN",
    "prob_beat_control": "DOUBLE",
    "credible_interval_low": "DOUBLE",
    "credible_interval_high": "DOUBLE",
    "expected_loss": "DOUBLE",
    # schema version 2
    "rel_lift_method": "TEXT",
    "statistic": "DOUBLE",
    "df": "DOUBLE",
    "cuped_theta": "DOUBLE",
    "arm_figures_json": "TEXT",
}
# Columns each migration after the first adds (table -> columns); version 1 creates the rest.
ADDED_IN: dict[int, dict[str, tuple[str, ...]]] = {
    2: {"results": ("rel_lift_method", "statistic", "df", "cuped_theta", "arm_figures_json")},
    3: {"checks": ("code", "remedy")},
}

CHECKS: Columns = {
    "analysis_id": "TEXT",
    "experiment_id": "TEXT",
    "position": "INT",
    "name": "TEXT",
    "status": "TEXT",
    "message": "TEXT",
    "figures_json": "TEXT",
    # schema version 3
    "code": "TEXT",
    "remedy": "TEXT",
}

DECISIONS: Columns = {
    "decision_id": "TEXT",
    "experiment_id": "TEXT",
    "decided_at": "TIMESTAMP",
    "decision": "TEXT",
    "variant": "TEXT",
    "decided_by": "TEXT",
    "rationale": "TEXT",
    "link": "TEXT",
    "owner": "TEXT",
    "analysis_id": "TEXT",
    "spec_hash": "TEXT",
    "recommendation": "TEXT",
    "recommendation_reasons": "TEXT",
    "override": "BOOLEAN",
}

# Table (without prefix) -> columns, in creation order.
TABLES: dict[str, Columns] = {
    "schema_version": SCHEMA_VERSION,
    "experiments": EXPERIMENTS,
    "plans": PLANS,
    "analyses": ANALYSES,
    "arms": ARMS,
    "results": RESULTS,
    "checks": CHECKS,
    "decisions": DECISIONS,
}

# Unique keys, enforced where the engine enforces constraints (DuckDB, PostgreSQL); they are
# what makes two concurrent writers of one analysis safe there.
UNIQUE: dict[str, tuple[str, ...]] = {
    "analyses": ("fingerprint",),
    "decisions": ("decision_id",),
    "plans": ("experiment_id", "plan_version"),
}

# Engines whose tables take UNIQUE constraints and whose statements run in transactions.
TRANSACTIONAL = frozenset({"duckdb", "postgres"})


@dataclass(frozen=True)
class Layout:
    """Where the store's tables are: an optional schema and a name prefix.

    Attributes:
        schema: Schema (database) holding the tables, or None for the current one.
        prefix: Prefix of every table name (``assay_`` gives ``assay_analyses`` ...).
    """

    schema: str | None = None
    prefix: str = "assay_"

    def name(self, table: str) -> str:
        """The qualified name of ``table`` (``results`` -> ``schema.assay_results``)."""
        return f"{self.schema}.{self.prefix}{table}" if self.schema else f"{self.prefix}{table}"

    def ref(self, table: str) -> exp.Table:
        """``table`` as a quoted SQLGlot table reference."""
        return exp.Table(
            this=exp.to_identifier(f"{self.prefix}{table}", quoted=True),
            db=exp.to_identifier(self.schema, quoted=True) if self.schema else None,
        )


def create_table(layout: Layout, table: str, dialect: str,
                 columns: Columns | None = None) -> exp.Create:
    """``CREATE TABLE IF NOT EXISTS`` for ``table`` with its typed columns (and unique key)."""
    columns = TABLES[table] if columns is None else columns
    defs: list[exp.Expression] = [
        exp.ColumnDef(this=exp.to_identifier(name, quoted=True), kind=exp.DataType.build(kind))
        for name, kind in columns.items()
    ]
    if dialect in TRANSACTIONAL and table in UNIQUE:
        defs.append(exp.UniqueColumnConstraint(this=exp.Schema(expressions=[
            exp.to_identifier(c, quoted=True) for c in UNIQUE[table]
        ])))
    return exp.Create(this=exp.Schema(this=layout.ref(table), expressions=defs), kind="TABLE",
                      exists=True)
