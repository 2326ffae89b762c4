"""Analyse a pipeline experiment with assay's own analysis: KPIs are metrics, gates are checks.

:func:`pipeline_project` builds an ordinary in-memory :class:`~assay.spec.project.Project` (the
KPI metric specs, the ``pipeline_runs`` source, the experiment); :func:`analyze_pipeline` runs
:func:`assay.analysis.run.analyze` on it and adds the pipeline's own checks: how the design was
analysed (blocks as clusters), runs that started and never ended, runs whose figures were
unusable, and the data-quality gates. :func:`pipeline_decision` is the recommendation rule with
one addition: a configuration that fails a gate is never recommended, whatever its speed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlglot import exp

from assay.analysis.run import analyze
from assay.pipelines.designs import PipelineExperiment, Switchback
from assay.pipelines.kpis import BUILT_IN, kpi_metrics, sources
from assay.pipelines.records import KPIS_TABLE, RUNS_TABLE
from assay.results import AnalysisResult, Check, Decision, decide
from assay.spec.models import ExposureSource, MetricRefs, ProjectSpec
from assay.spec.project import Project, Where
from assay.spec.yamlsrc import Located
from assay.warehouse import Warehouse

DEFAULT_PRIMARY = ("throughput",)
DEFAULT_GUARDRAILS = ("error_rate", "unfinished_rate")
GATE_PREFIX = "gate:"
_WHERE = "<assay.pipelines KPIs>"


def pipeline_project(setup: PipelineExperiment, *, warehouse_url: str = "duckdb:///:memory:",
                     exposures: ExposureSource | None = None, runs_table: str = RUNS_TABLE,
                     kpis_table: str = KPIS_TABLE, custom_kpis: Iterable[str] = ()) -> Project:
    """The in-memory project that analyses one pipeline experiment.

    The experiment's own ``metrics:`` are kept when it names any; otherwise throughput is the
    primary metric and error rate and unfinished runs are guardrails.
    """
    custom = list(custom_kpis)
    spec = ProjectSpec.model_validate({"name": f"pipeline {setup.pipeline}",
                                       "warehouse": warehouse_url,
                                       "exposures": exposures or ExposureSource(),
                                       "sources": sources(runs_table, kpis_table)})
    experiment = setup.experiment
    if not experiment.metrics.all():
        experiment = experiment.model_copy(update={"metrics": MetricRefs(
            primary=list(DEFAULT_PRIMARY), guardrails=list(DEFAULT_GUARDRAILS),
            secondary=[m for m in (*BUILT_IN, *(f"{c}_per_run" for c in custom))
                       if m not in DEFAULT_PRIMARY + DEFAULT_GUARDRAILS])})
    project = Project(root=Path.cwd(), spec=spec, metrics=kpi_metrics(custom),
                      experiments={experiment.id: experiment})
    src = Located(_WHERE, None)
    project.where[("project", "")] = Where(src, ())
    for name in project.metrics:
        project.where[("metric", name)] = Where(src, ("metrics", name))
    project.where[("experiment", experiment.id)] = Where(src, ("experiments", experiment.id))
    return project


def analyze_pipeline(warehouse: Warehouse, setup: PipelineExperiment, *,
                     gates: Sequence[Check] = (), extra_checks: Sequence[Check] = (),
                     **project_options: Any) -> AnalysisResult:
    """Analyse a pipeline experiment from ``pipeline_runs`` and add the pipeline checks.

    Args:
        warehouse: The warehouse holding the exposures and the run tables.
        setup: The pipeline experiment.
        gates: Verdicts of data-quality gates (:func:`assay.pipelines.gates.run_gates`).
        extra_checks: Any further checks (anomaly detectors, :mod:`assay.pipelines.monitor`).
        **project_options: Passed to :func:`pipeline_project`.
    """
    project = pipeline_project(setup, **project_options)
    result = analyze(project, setup.experiment.id, warehouse=warehouse)
    runs_table = project_options.get("runs_table", RUNS_TABLE)
    figures = run_figures(warehouse, runs_table, setup.experiment.id)
    checks = [design_check(setup, figures), unfinished_check(figures), problems_check(figures),
              *gates, *extra_checks]
    return dataclasses.replace(result, checks=[*result.checks, *checks])


def run_figures(warehouse: Warehouse, runs_table: str, experiment_id: str
                ) -> dict[str, dict[str, int]]:
    """Per variant: units, runs started, ended, ended with problems, ended in washout."""
    def count_if(condition: str) -> exp.Expr:
        return exp.func("SUM", exp.Case(ifs=[exp.If(this=exp.condition(condition),
                                                    true=exp.Literal.number(1))],
                                        default=exp.Literal.number(0)))

    query = (exp.select(
        exp.column("variant", quoted=True),
        exp.alias_(exp.Count(this=exp.Distinct(expressions=[exp.column("unit_id", quoted=True)])),
                   "units"),
        exp.alias_(count_if("phase = 'start'"), "started"),
        exp.alias_(count_if("phase = 'end'"), "ended"),
        exp.alias_(count_if("phase = 'end' AND problems IS NOT NULL"), "with_problems"),
        exp.alias_(count_if("phase = 'end' AND NOT analysed"), "washout"))
        .from_(exp.to_table(runs_table, dialect=warehouse.dialect))
        .where(exp.column("experiment_id", quoted=True).eq(exp.Literal.string(experiment_id)))
        .group_by(exp.column("variant", quoted=True)))
    rows = warehouse.execute(query.sql(warehouse.dialect)).to_pylist()
    return {str(r.pop("variant")): {k: int(v or 0) for k, v in r.items()} for r in rows}


def design_check(setup: PipelineExperiment, figures: dict[str, dict[str, int]]) -> Check:
    """Says how the design was analysed (a pass: it informs, it does not judge)."""
    design = setup.design
    units = {v: f["units"] for v, f in figures.items()}
    if isinstance(design, Switchback):
        washout = sum(f["washout"] for f in figures.values())
        return Check("pipeline_design", "pass",
                     f"switchback: {sum(units.values())} time blocks of {design.block} are the "
                     "units, analysed as clusters (ratio metrics of block sums, delta method); "
                     f"{washout} runs in the first {design.washout} of a block were dropped as "
                     "washout",
                     {"design": "switchback", "blocks": units, "washout_runs": washout,
                      "block_seconds": design.block.total_seconds(),
                      "washout_seconds": design.washout.total_seconds()})
    return Check("pipeline_design", "pass",
                 f"per run: {sum(units.values())} runs or batches, each its own unit, assigned "
                 "by the salted hash of its id", {"design": "per_run", "units": units})


def unfinished_check(figures: dict[str, dict[str, int]]) -> Check:
    """Runs that started and have no end record (still running, or crashed)."""
    open_runs = {v: f["started"] - f["ended"] for v, f in figures.items()}
    if any(n > 0 for n in open_runs.values()):
        listed = ", ".join(f"{v}: {n}" for v, n in open_runs.items() if n)
        return Check("unfinished_runs", "warn",
                     f"runs started but never ended (running or crashed): {listed}; they are "
                     "counted in unfinished_rate, not dropped", {"unfinished": open_runs})
    return Check("unfinished_runs", "pass", "every started run has ended",
                 {"unfinished": open_runs})


def problems_check(figures: dict[str, dict[str, int]]) -> Check:
    """Runs whose figures were unusable (end before start, negative rows ...)."""
    bad = {v: f["with_problems"] for v, f in figures.items()}
    if any(bad.values()):
        listed = ", ".join(f"{v}: {n}" for v, n in bad.items() if n)
        return Check("run_problems", "warn",
                     f"runs with unusable figures (left NULL, see the `problems` column): "
                     f"{listed}", {"runs": bad})
    return Check("run_problems", "pass", "every run's figures were usable", {"runs": bad})


def pipeline_decision(result: AnalysisResult) -> Decision:
    """:func:`assay.results.decide`, except that a treatment failing a gate is never shipped."""
    failed = [c for c in result.checks
              if c.name.startswith(GATE_PREFIX) and c.status == "fail"
              and c.figures.get("variant") != result.control]
    if failed:
        return Decision("do not ship", [f"{c.name}: {c.message}" for c in failed])
    others = [c for c in result.checks if not c.name.startswith(GATE_PREFIX)]
    return decide(dataclasses.replace(result, checks=others))
