"""The results store: typed reads and atomic, idempotent writes of its tables.

Writes of one analysis are all there or not there: on DuckDB and PostgreSQL they run in one
transaction, and the ``analyses`` row (which every reader joins through) is written last, so on
Spark, which has no transactions, a crash half-way leaves only rows no reader sees. An analysis
whose input fingerprint is already stored is not written again; where the engine enforces
constraints, a unique fingerprint also turns a concurrent second writer into a no-op.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from assay.errors import WarehouseError
from assay.store import sql
from assay.store.migrations import LATEST_VERSION, current_version, migrate
from assay.store.records import (
    AnalysisRecord,
    CheckRecord,
    DecisionRecord,
    ExperimentRecord,
    PlanRecord,
    ResultRecord,
    loads,
)
from assay.store.schema import ANALYSES, EXPERIMENTS, TRANSACTIONAL, Layout
from assay.warehouse import Warehouse

Row = dict[str, Any]
# Columns of `analyses` a listing reads: everything but the large JSON payloads.
_LISTED = [c for c in ANALYSES if c not in ("sql_json", "result_json")]


@dataclass(frozen=True)
class SavedAnalysis:
    """The outcome of :meth:`Store.save_analysis`: the id, and whether rows were written."""

    analysis_id: str
    created: bool


class Store:
    """The store's tables in one warehouse.

    Args:
        warehouse: An open warehouse.
        layout: Schema and prefix of the tables.
        read_only: Never create or migrate tables (readers of a warehouse opened read-only);
            reads of a store that does not exist yet return nothing.
    """

    def __init__(self, warehouse: Warehouse, layout: Layout | None = None, *,
                 read_only: bool = False) -> None:
        self.wh = warehouse
        self.layout = layout or Layout()
        self.read_only = read_only
        self._ready = False

    # ------------------------------------------------------------------ set-up

    def ensure(self) -> bool:
        """Create or migrate the tables (unless read-only); True when they are up to date."""
        if self._ready:
            return True
        version = current_version(self.wh, self.layout)
        if version < LATEST_VERSION and not self.read_only:
            version = migrate(self.wh, self.layout)
        self._ready = version >= LATEST_VERSION
        return self._ready

    # ------------------------------------------------------------------ reads

    def experiments(self) -> list[ExperimentRecord]:
        """Every experiment the store knows, by id, with its latest analysis and decision."""
        if not self.ensure():
            return []
        latest = self._latest_analyses()
        decided = {d.experiment_id: d for d in self.decisions()}
        query = sql.select(self.layout, "experiments", order_by=["experiment_id"])
        return [_experiment(row, latest.get(row["experiment_id"]),
                            decided.get(row["experiment_id"]))
                for row in sql.rows(self.wh, query)]

    def experiment(self, experiment_id: str) -> ExperimentRecord | None:
        """One experiment's record, or None if the store does not know it."""
        return next((e for e in self.experiments() if e.experiment_id == experiment_id), None)

    def analyses(self, experiment_id: str) -> list[AnalysisRecord]:
        """Stored analyses of one experiment, oldest first."""
        if not self.ensure():
            return []
        query = (exp.select(*[exp.column(c, quoted=True) for c in _LISTED])
                 .from_(self.layout.ref("analyses"))
                 .where(exp.column("experiment_id", quoted=True)
                        .eq(exp.Literal.string(experiment_id)))
                 .order_by(exp.column("run_at", quoted=True),
                           exp.column("analysis_id", quoted=True)))
        return [_analysis(row) for row in sql.rows(self.wh, query)]

    def latest_analysis(self, experiment_id: str) -> AnalysisRecord | None:
        """The newest stored analysis of an experiment."""
        found = self.analyses(experiment_id)
        return found[-1] if found else None

    def result_json(self, analysis_id: str) -> dict[str, Any] | None:
        """The full JSON result of one analysis (docs/json-schema.md), or None."""
        if not self.ensure():
            return None
        query = (exp.select(exp.column("result_json", quoted=True))
                 .from_(self.layout.ref("analyses"))
                 .where(exp.column("analysis_id", quoted=True).eq(exp.Literal.string(analysis_id))))
        found = sql.rows(self.wh, query)
        return loads(found[0]["result_json"], None) if found else None

    def results(self, analysis_id: str) -> list[ResultRecord]:
        """Every metric comparison of one analysis, in the result's order (overall, segments)."""
        if not self.ensure():
            return []
        query = sql.select(self.layout, "results", {"analysis_id": analysis_id},
                           order_by=["position"])
        return [_result(row) for row in sql.rows(self.wh, query)]

    def checks(self, analysis_id: str) -> list[CheckRecord]:
        """The trust checks of one analysis."""
        if not self.ensure():
            return []
        query = sql.select(self.layout, "checks", {"analysis_id": analysis_id},
                           order_by=["position"])
        return [CheckRecord(r["analysis_id"], r["name"], r["status"], r["message"],
                            loads(r["figures_json"], {}), r.get("code"), r.get("remedy"))
                for r in sql.rows(self.wh, query)]

    def decisions(self, experiment_id: str | None = None) -> list[DecisionRecord]:
        """Human decisions, oldest first (all experiments, or one)."""
        if not self.ensure():
            return []
        where = None if experiment_id is None else {"experiment_id": experiment_id}
        query = sql.select(self.layout, "decisions", where,
                           order_by=["decided_at", "decision_id"])
        return [_decision(row) for row in sql.rows(self.wh, query)]

    def plans(self, experiment_id: str) -> list[PlanRecord]:
        """Every frozen version of an experiment's plan, first to latest."""
        if not self.ensure():
            return []
        query = sql.select(self.layout, "plans", {"experiment_id": experiment_id},
                           order_by=["plan_version"])
        return [PlanRecord(r["experiment_id"], int(r["plan_version"]), r["frozen_at"],
                           r["plan_hash"], loads(r["plan_json"], {}), r["spec_text"], r["reason"])
                for r in sql.rows(self.wh, query)]

    def plan(self, experiment_id: str) -> PlanRecord | None:
        """The plan in force: the latest frozen version (None before ``assay start``)."""
        found = self.plans(experiment_id)
        return found[-1] if found else None

    def recorded_units(self, experiment_id: str, spec_hash: str) -> list[int]:
        """Units at each stored analysis of ``experiment_id`` under exactly ``spec_hash``."""
        if not self.ensure():
            return []
        query = (exp.select(exp.column("units", quoted=True)).from_(self.layout.ref("analyses"))
                 .where(exp.column("experiment_id", quoted=True)
                        .eq(exp.Literal.string(experiment_id)))
                 .where(exp.column("spec_hash", quoted=True).eq(exp.Literal.string(spec_hash))))
        return [int(r["units"]) for r in sql.rows(self.wh, query)]

    # ------------------------------------------------------------------ writes

    def save_analysis(self, tables: dict[str, list[Row]]) -> SavedAnalysis:
        """Write one analysis's rows (see :func:`assay.store.rows.analysis_rows`) atomically.

        Returns the stored analysis with the same fingerprint instead when there is one.
        """
        self._writable()
        analysis = tables["analyses"][0]
        existing = self._by_fingerprint(str(analysis["fingerprint"]))
        if existing is not None:
            return SavedAnalysis(existing, created=False)
        try:
            with sql.transaction(self.wh):
                for table in ("arms", "results", "checks", "analyses"):  # analyses row last
                    sql.insert(self.wh, self.layout, table, tables[table])
        except WarehouseError:
            # A concurrent writer stored the same inputs first (the unique fingerprint).
            existing = self._by_fingerprint(str(analysis["fingerprint"]))
            if existing is None:
                raise
            return SavedAnalysis(existing, created=False)
        return SavedAnalysis(str(analysis["analysis_id"]), created=True)

    def put_experiment(self, row: Row, *, plan: Row | None = None,
                       decision: Row | None = None) -> None:
        """Insert or replace one experiment's row, with a new plan or decision, atomically."""
        self._writable()
        with sql.transaction(self.wh):
            if plan is not None:
                sql.insert(self.wh, self.layout, "plans", [plan])
            if decision is not None:
                sql.insert(self.wh, self.layout, "decisions", [decision])
            if self.wh.dialect in TRANSACTIONAL:
                sql.delete(self.wh, self.layout, "experiments",
                           {"experiment_id": row["experiment_id"]})
                sql.insert(self.wh, self.layout, "experiments", [row])
            else:  # no DELETE on Spark's file tables: rewrite the (small) table whole
                others = [r for r in self.experiment_rows()
                          if r["experiment_id"] != row["experiment_id"]]
                sql.insert(self.wh, self.layout, "experiments", [*others, row], overwrite=True)

    def experiment_rows(self) -> list[Row]:
        """The raw ``experiments`` rows (writers build the next row from these)."""
        if not self.ensure():
            return []
        return sql.rows(self.wh, sql.select(self.layout, "experiments"))

    def experiment_row(self, experiment_id: str) -> Row | None:
        """The raw ``experiments`` row of one experiment, or None."""
        if not self.ensure():
            return None
        query = sql.select(self.layout, "experiments", {"experiment_id": experiment_id})
        found = sql.rows(self.wh, query)
        return found[0] if found else None

    def _writable(self) -> None:
        if self.read_only:
            raise WarehouseError("the results store was opened read-only", backend=self.wh.name)
        self.ensure()

    def _by_fingerprint(self, fingerprint: str) -> str | None:
        query = (exp.select(exp.column("analysis_id", quoted=True))
                 .from_(self.layout.ref("analyses"))
                 .where(exp.column("fingerprint", quoted=True).eq(exp.Literal.string(fingerprint))))
        found = sql.rows(self.wh, query)
        return str(found[0]["analysis_id"]) if found else None

    def _latest_analyses(self) -> dict[str, AnalysisRecord]:
        columns = [exp.column(c, quoted=True) for c in _LISTED]
        query = exp.select(*columns).from_(self.layout.ref("analyses"))
        latest: dict[str, AnalysisRecord] = {}
        for row in sql.rows(self.wh, query):
            record = _analysis(row)
            known = latest.get(record.experiment_id)
            if known is None or (record.run_at, record.analysis_id) > (known.run_at,
                                                                       known.analysis_id):
                latest[record.experiment_id] = record
        return latest


def _experiment(row: Row, latest: AnalysisRecord | None,
                decision: DecisionRecord | None) -> ExperimentRecord:
    values: dict[str, Any] = {k: row.get(k) for k in EXPERIMENTS if k not in (
        "plan_json", "spec_text", "updated_at")}
    return ExperimentRecord(
        **values,
        latest_analysis_id=latest.analysis_id if latest else None,
        latest_run_at=latest.run_at if latest else None,
        latest_recommendation=latest.recommendation if latest else None,
        latest_check_status=latest.check_status if latest else None,
        latest_decision=decision.decision if decision else None,
    )


def _analysis(row: Row) -> AnalysisRecord:
    return AnalysisRecord(
        analysis_id=row["analysis_id"], experiment_id=row["experiment_id"], run_at=row["run_at"],
        fingerprint=row["fingerprint"], spec_hash=row["spec_hash"], plan_hash=row["plan_hash"],
        experiment_status=row["experiment_status"], window_start=row["window_start"],
        window_end=row["window_end"], duration_s=row["duration_s"], units=int(row["units"] or 0),
        alpha=row["alpha"], correction=row["correction"], check_status=row["check_status"],
        recommendation=row["recommendation"],
        recommendation_reasons=loads(row["recommendation_reasons"], []),
        versions=loads(row["versions_json"], {}),
    )


def _pair(row: Row, name: str) -> tuple[float | None, float | None]:
    return row.get(f"{name}_low"), row.get(f"{name}_high")


def _result(row: Row) -> ResultRecord:
    return ResultRecord(
        analysis_id=row["analysis_id"], metric=row["metric"], role=row["role"],
        variant=row["variant"], segment=row["segment"], segment_value=row["segment_value"],
        diff=row["diff"], diff_ci=_pair(row, "diff_ci"), rel_lift=row["rel_lift"],
        rel_lift_ci=_pair(row, "rel_lift_ci"),
        rel_lift_ci_adjusted=_pair(row, "rel_lift_ci_adjusted"), p_value=row["p_value"],
        p_value_adjusted=row["p_value_adjusted"], significant=row["significant"],
        error=row["error"], columns=row,
    )


def _decision(row: Row) -> DecisionRecord:
    values = dict(row)
    values["recommendation_reasons"] = loads(row["recommendation_reasons"], [])
    values["override"] = bool(row["override"])
    return DecisionRecord(**values)
