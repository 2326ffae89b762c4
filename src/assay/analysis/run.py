"""Orchestration: spec -> SQL -> sufficient statistics -> statistics + trust checks -> result."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import platform
from collections.abc import Callable
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from assay.analysis.compute import (
    Cell,
    Comparison,
    adjust,
    compare_metrics,
    compare_quantile_metric,
    covariate_balance,
    split_rows,
)
from assay.analysis.readouts import Design, group_design, sequential_significance
from assay.analysis.shifts import compile_for
from assay.analysis.trust import trust_checks
from assay.checks import ExposureCounts, exposure_checks, result_checks
from assay.dbt.provenance import dbt_nodes, drift_checks
from assay.metrics.bootstrap import compile_replicates
from assay.metrics.compile import CompiledAnalysis
from assay.metrics.kinds import compile_activity, merge_rows, relabel, with_activities
from assay.metrics.plan import AnalysisPlan
from assay.metrics.quantiles import compile_quantiles
from assay.metrics.ranks import compile_rank_sums
from assay.results import AnalysisResult, Arm, BootstrapInterval, RankTest
from assay.secrets import redact
from assay.spec.models import ExperimentSpec
from assay.spec.project import Project, load_project
from assay.stats.codes import ErrorCode
from assay.stats.nonparametric import Replicates, mann_whitney, poisson_bootstrap
from assay.warehouse import Warehouse

Step = Callable[[str], None]


def analyze(
    project: Project | str | Path,
    experiment_id: str,
    *,
    warehouse: Warehouse | None = None,
    on_step: Step | None = None,
) -> AnalysisResult:
    """Analyse one experiment end to end.

    Args:
        project: A loaded project or its directory.
        experiment_id: The experiment (its file name under ``experiments/``).
        warehouse: An open warehouse; by default the project's own is opened and closed.
        on_step: Called with a short description before each query (progress display).

    Returns:
        The result: arms, metric comparisons (overall and per segment), trust checks, the SQL
        that ran and the versions used.

    Raises:
        SpecError: The spec is invalid, or names a table or column the warehouse lacks.
        WarehouseError: A query failed (the error carries the SQL).
    """
    if not isinstance(project, Project):
        project = load_project(project)
    step = on_step or (lambda _: None)
    own = warehouse is None
    wh = warehouse if warehouse is not None else project.warehouse()
    try:
        compiled = compile_for(project, experiment_id, wh, step)
        return _run(project, compiled, wh, step)
    finally:
        if own:
            wh.close()


def _run(project: Project, compiled: CompiledAnalysis, wh: Warehouse, step: Step) -> AnalysisResult:
    plan = compiled.plan
    experiment = plan.experiment
    sql = compiled.statements()
    extra = extra_statements(project, compiled, wh.dialect)
    step("counting exposures")
    counts = _exposure_counts(wh.execute(sql["exposures"]))
    declared = [v.name for v in experiment.variants]
    rows: list[dict[str, Any]] = []
    if "metrics" in sql and any(counts.units.get(v, 0) for v in declared):
        step(f"computing {len(plan.metrics)} metrics in the warehouse")
        rows = wh.execute(sql["metrics"]).to_pylist()
    rows = merge_rows(rows, _activity_rows(extra, compiled, counts.units, wh, step, sql),
                      experiment.segments)
    compared = with_activities(plan)  # every comparison the engine reads, activity kinds' too
    step("running statistics")
    cells = split_rows(rows, experiment.segments) if rows else [Cell(None, None, {})]
    overall = next((c for c in cells if c.segment is None), Cell(None, None, {}))
    nulls = _null_counts(plan, overall)
    units = sum(counts.units.get(v, 0) for v in declared)
    spec = spec_hash(project, plan)
    design = group_design(
        experiment,
        units,
        _earlier_looks(project, experiment, spec, wh),
        (len(compared.metrics) + len(plan.quantiles)) * len(experiment.treatments),
    )
    strata = [c for c in cells if c.segment and c.segment == experiment.stratify_by]
    comparisons = relabel(compare_metrics(compared, overall, nulls, design, strata), plan)
    comparisons += _quantile_comparisons(extra, compiled, counts.units, wh, step, sql, design)
    results = adjust(
        _in_spec_order(comparisons, experiment), experiment.correction, experiment.alpha
    )
    results = sequential_significance(results, experiment)
    segment_comparisons = [
        r for c in cells if c.segment is not None
        for r in relabel(compare_metrics(compared, c, {}), plan)
    ]
    segment_comparisons += _quantile_segments(extra, compiled, counts.units, wh, step, sql)
    segment_results = adjust(segment_comparisons, experiment.correction, experiment.alpha)
    rank_tests = _rank_tests(extra, experiment, wh, step, sql) if rows else []
    bootstrap = _bootstrap(extra, experiment, wh, step, sql) if rows else []
    checks = exposure_checks(counts, experiment) + result_checks(
        results, experiment, units, covariate_balance(plan, overall)
    )
    nodes = dbt_nodes(project, plan)
    checks += drift_checks(project, experiment.id, nodes, wh)
    trust = trust_checks(project, plan, wh, results, segment_results, sql, step,
                         spec_hash=spec, units=units)
    return AnalysisResult(
        experiment=experiment.id,
        name=experiment.name,
        hypothesis=experiment.hypothesis,
        spec_hash=spec,
        run_at=dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
        control=experiment.control.name,
        alpha=experiment.alpha,
        correction=experiment.correction,
        cuped=experiment.cuped,
        warehouse=wh.name,
        arms=_arms(counts, experiment.weights()),
        results=results,
        segments=segment_results,
        checks=checks + trust.checks,
        sql={key: redact(text) for key, text in sql.items()},  # never a credential
        versions=versions(wh.name),
        planned_sample_size=experiment.planned_sample_size,
        rank_tests=rank_tests,
        bootstrap=bootstrap,
        dbt_nodes=nodes,
        fingerprint=trust.fingerprint,
    )


def _quantile_comparisons(
    extra: dict[str, Any],
    compiled: CompiledAnalysis,
    units: dict[str, int],
    wh: Warehouse,
    step: Step,
    sql: dict[str, str],
    design: Design | None,
) -> list[Comparison]:
    """Each quantile metric from its own order-statistics statement."""
    experiment = compiled.plan.experiment
    out: list[Comparison] = []
    for quantile in compiled.plan.quantiles:
        name = quantile.metric.name
        rows: list[dict[str, Any]] = []
        if any(units.get(v.name, 0) for v in experiment.variants):
            step(f"ranking {name} for its p{100 * (quantile.metric.quantile or 0):g}")
            rows = _execute(extra, f"quantiles:{name}", wh, sql)
        out += compare_quantile_metric(quantile, experiment, rows, design)
    return out


def extra_statements(
    project: Project, compiled: CompiledAnalysis, dialect: str
) -> dict[str, Any]:
    """The statements an analysis runs besides the exposures and metrics ones (the quantile and
    activity metrics', the rank sums and bootstrap replicates the spec asks for), by the name a
    result keeps each under (``funnel:<metric>``, ``quantiles:<metric>``,
    ``quantiles:<metric>:<segment>``, ``rank_sums:<metric>``, ``bootstrap:<metric>``), in the
    order it runs them; SQLGlot expressions, nothing executed."""
    experiment = compiled.plan.experiment
    out: dict[str, Any] = {}
    for activity in compiled.plan.activities:
        out[f"{activity.metric.kind}:{activity.metric.name}"] = compile_activity(
            project, experiment.id, activity, dialect)
    for quantile in compiled.plan.quantiles:
        name = quantile.metric.name
        out[f"quantiles:{name}"] = compile_quantiles(project, experiment.id, quantile, dialect)
        for segment in experiment.segments:
            out[f"quantiles:{name}:{segment}"] = compile_quantiles(
                project, experiment.id, quantile, dialect, segment)
    for metric in experiment.rank_tests:
        out[f"rank_sums:{metric}"] = compile_rank_sums(project, experiment.id, metric, dialect)
    for metric in experiment.bootstrap:
        out[f"bootstrap:{metric}"] = compile_replicates(
            project, experiment.id, metric, experiment.bootstrap_replicates, dialect)
    return out


def _execute(extra: dict[str, Any], key: str, wh: Warehouse,
             sql: dict[str, str]) -> list[dict[str, Any]]:
    """Run the statement ``extra[key]``, keeping its text under ``key`` in ``sql``."""
    sql[key] = extra[key].sql(dialect=wh.dialect, pretty=True)
    rows: list[dict[str, Any]] = wh.execute(sql[key]).to_pylist()
    return rows


def _activity_rows(
    extra: dict[str, Any],
    compiled: CompiledAnalysis,
    units: dict[str, int],
    wh: Warehouse,
    step: Step,
    sql: dict[str, str],
) -> list[dict[str, Any]]:
    """The per-arm rows of each funnel, retention and participation metric's statement."""
    experiment = compiled.plan.experiment
    rows: list[dict[str, Any]] = []
    if not any(units.get(v.name, 0) for v in experiment.variants):
        return rows
    for activity in compiled.plan.activities:
        name = activity.metric.name
        step(f"following {name} ({activity.metric.kind}) in the warehouse")
        rows = merge_rows(rows, _execute(extra, f"{activity.metric.kind}:{name}", wh, sql),
                          experiment.segments)
    return rows


def _quantile_segments(
    extra: dict[str, Any],
    compiled: CompiledAnalysis,
    units: dict[str, int],
    wh: Warehouse,
    step: Step,
    sql: dict[str, str],
) -> list[Comparison]:
    """Each quantile metric in each segment value: one statement per metric and segment."""
    experiment = compiled.plan.experiment
    out: list[Comparison] = []
    if not any(units.get(v.name, 0) for v in experiment.variants):
        return out
    for quantile in compiled.plan.quantiles:
        name = quantile.metric.name
        for segment in experiment.segments:
            step(f"ranking {name} by {segment}")
            cells: dict[str | None, list[dict[str, Any]]] = {}
            for row in _execute(extra, f"quantiles:{name}:{segment}", wh, sql):
                value = row[segment]
                cells.setdefault(None if value is None else str(value), []).append(row)
            for value, rows in cells.items():
                out += [replace(c, result=replace(c.result, segment=segment,
                                                  segment_value=value))
                        for c in compare_quantile_metric(quantile, experiment, rows)]
    return out


def _in_spec_order(comparisons: list[Comparison], experiment: ExperimentSpec) -> list[Comparison]:
    """Comparisons by the metric's place in the spec (stable within a metric)."""
    order = {name: i for i, (name, _) in enumerate(experiment.metrics.all())}
    # a funnel's comparisons are named `<funnel>.<step>`: they keep the funnel's place
    return sorted(comparisons,
                  key=lambda c: order.get(c.result.metric.partition(".")[0], len(order)))


def _earlier_looks(
    project: Project, experiment: ExperimentSpec, spec: str, wh: Warehouse
) -> list[int]:
    """Units at each earlier recorded analysis of this exact spec (group sequential looks)."""
    if experiment.sequential is None or experiment.sequential.method not in ("obf", "pocock"):
        return []
    from assay.store import recorded_units

    return recorded_units(wh, experiment.id, spec, project.spec.results_schema,
                          prefix=project.spec.results_prefix)


def _rank_tests(
    extra: dict[str, Any], experiment: ExperimentSpec, wh: Warehouse, step: Step,
    sql: dict[str, str],
) -> list[RankTest]:
    """Mann-Whitney per listed metric x treatment, from rank sums computed in the warehouse."""
    out = []
    for metric in experiment.rank_tests:
        step(f"ranking {metric} in the warehouse")
        row = {k: float(v or 0)
               for k, v in _execute(extra, f"rank_sums:{metric}", wh, sql)[0].items()}
        for i, treatment in enumerate(experiment.treatments, start=1):
            test = mann_whitney(row["n0"], row[f"n{i}"], row[f"r{i}"], row[f"t{i}"])
            out.append(
                RankTest(
                    metric=metric,
                    variant=treatment.name,
                    control=experiment.control.name,
                    n_control=row["n0"],
                    n_treatment=row[f"n{i}"],
                    u=test.u,
                    auc=test.auc,
                    p_value=test.p_value,
                    error=None if test.error is None else str(test.error),
                )
            )
    return out


def _bootstrap(
    extra: dict[str, Any], experiment: ExperimentSpec, wh: Warehouse, step: Step,
    sql: dict[str, str],
) -> list[BootstrapInterval]:
    """Percentile intervals per listed metric x treatment from in-warehouse replicate sums."""
    out = []
    reps = experiment.bootstrap_replicates
    for metric in experiment.bootstrap:
        step(f"bootstrapping {metric} ({reps} replicates) in the warehouse")
        arms = _replicates(_execute(extra, f"bootstrap:{metric}", wh, sql), reps)
        control = experiment.control.name
        out += [
            _bootstrap_interval(metric, t.name, control, arms, reps, experiment.alpha)
            for t in experiment.treatments
        ]
    return out


def _bootstrap_interval(
    metric: str,
    treatment: str,
    control: str,
    arms: dict[str, Replicates],
    reps: int,
    alpha: float,
) -> BootstrapInterval:
    """Both percentile intervals of one treatment (an arm without units: NaN and an error)."""
    c, t = arms.get(control), arms.get(treatment)
    if c is None or t is None:
        nan = math.nan
        return BootstrapInterval(
            metric, treatment, control, reps, nan, (nan, nan), nan, (nan, nan),
            str(ErrorCode.ZERO_UNITS),
        )
    diff = poisson_bootstrap(c, t, statistic="diff", alpha=alpha)
    lift = poisson_bootstrap(c, t, statistic="rel_lift", alpha=alpha)
    error = diff.error or lift.error
    return BootstrapInterval(
        metric=metric,
        variant=treatment,
        control=control,
        replicates=min(diff.replicates, lift.replicates),
        diff=diff.point,
        diff_ci=diff.ci,
        rel_lift=lift.point,
        rel_lift_ci=lift.ci,
        error=None if error is None else str(error),
    )


def _replicates(rows: list[dict[str, Any]], reps: int) -> dict[str, Replicates]:
    """Replicate sums per variant, ordered by replicate (a missing replicate sums to 0)."""
    by_variant: dict[str, dict[str, Any]] = {}
    for row in rows:
        arm = by_variant.setdefault(
            str(row["variant"]),
            {
                "num": np.zeros(reps),
                "den": np.zeros(reps),
                "full_num": float(row["full_num"] or 0),
                "full_den": float(row["full_den"] or 0),
            },
        )
        arm["num"][int(row["b"])] = float(row["num"] or 0)
        arm["den"][int(row["b"])] = float(row["den"] or 0)
    return {
        v: Replicates(a["num"], a["den"], a["full_num"], a["full_den"])
        for v, a in by_variant.items()
    }


def _exposure_counts(table: pa.Table) -> ExposureCounts:
    """Read the exposure query's rows (see ``metrics.compile._exposure_query``)."""
    units: dict[str, int] = {}
    rows: dict[str, int] = {}
    multi_units = multi_rows = null_rows = outside = total = 0
    no_variant = (0, 0)
    for row in table.to_pylist():
        kind = row["kind"]
        total += int(row["all_rows"] or 0)
        outside += int(row["outside_rows"] or 0)
        if kind == "arm":
            units[str(row["variant"])] = int(row["units"])
            rows[str(row["variant"])] = int(row["exposure_rows"] or 0)
        elif kind == "multi":
            multi_units, multi_rows = int(row["units"]), int(row["exposure_rows"] or 0)
        elif kind == "no_variant":
            no_variant = (int(row["units"]), int(row["exposure_rows"] or 0))
        elif kind == "missing":
            # rows without a unit id are excluded whatever their date; not counted twice
            null_rows = int(row["all_rows"] or 0)
            outside -= int(row["outside_rows"] or 0)
    return ExposureCounts(
        units=units,
        exposure_rows=rows,
        multi_variant_units=multi_units,
        multi_variant_rows=multi_rows,
        rows=total,
        null_unit_rows=null_rows,
        outside_rows=outside,
        null_variant_units=no_variant[0],
        null_variant_rows=no_variant[1],
    )


def _arms(counts: ExposureCounts, weights: dict[str, float]) -> list[Arm]:
    total = sum(counts.units.get(v, 0) for v in weights)
    return [
        Arm(
            variant=v,
            units=counts.units.get(v, 0),
            expected_share=w,
            observed_share=counts.units.get(v, 0) / total if total else float("nan"),
            exposure_rows=counts.exposure_rows.get(v, 0),
        )
        for v, w in weights.items()
    ]


def _null_counts(plan: AnalysisPlan, cell: Cell) -> dict[str, int]:
    """NULL event values in each metric's analysis window (pre-period covariates not counted)."""
    out: dict[str, int] = {}
    for metric in plan.metrics:
        columns = {
            f"{plan.measures[m]}__nulls"
            for var, m in metric.variables.items()
            if plan.counts_nulls(m) and var in ("y", "num", "den")
        }
        out[metric.metric.name] = int(
            sum(row.get(c) or 0 for row in cell.rows.values() for c in columns)
        )
    return out


def spec_hash(project: Project, plan: AnalysisPlan) -> str:
    """SHA-256 of everything in the spec that shapes this analysis (stable across runs)."""
    names = {m.metric.name for m in plan.metrics} | {q.metric.name for q in plan.quantiles}
    names |= {a.metric.name for a in plan.activities}
    for m in plan.metrics:
        names |= {m.metric.numerator or "", m.metric.denominator or ""} - {""}
    payload = {
        "experiment": plan.experiment.model_dump(mode="json"),
        "metrics": {n: project.metrics[n].model_dump(mode="json") for n in sorted(names)},
        "exposures": project.spec.exposures.model_dump(mode="json"),
        "sources": {k: v.model_dump(mode="json") for k, v in sorted(project.spec.sources.items())},
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# The driver whose version matters for each backend's numbers.
_DRIVERS = {"duckdb": "duckdb", "postgres": "psycopg", "spark": "pyspark"}


def versions(backend: str) -> dict[str, str]:
    """Versions of assay, Python and the libraries that computed the numbers."""
    out = {"python": platform.python_version()}
    packages = ["assay", "sqlglot", "numpy", "scipy", "duckdb", _DRIVERS.get(backend, "")]
    for package in dict.fromkeys(p for p in packages if p):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return out
