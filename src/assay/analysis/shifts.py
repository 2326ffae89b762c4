"""The SQL an analysis runs: compiled, checked against the catalogue, and centred.

Stable moments centre each measure whose values sit far from 0 on a constant that a cheap
probe per source picks in the warehouse (:func:`assay.metrics.compile.shift_constants`), so the
metrics statement depends on the data. ``assay analyze`` and ``assay sql`` both build it here,
so the SQL printed is the SQL that runs.
"""

from __future__ import annotations

from collections.abc import Callable

from assay.analysis.preflight import preflight
from assay.metrics.compile import CompiledAnalysis, compile_analysis, shift_constants
from assay.metrics.plan import Measure
from assay.spec.project import Project
from assay.warehouse import Warehouse

Step = Callable[[str], None]


def compile_for(
    project: Project,
    experiment_id: str,
    wh: Warehouse,
    step: Step | None = None,
    dialect: str | None = None,
) -> CompiledAnalysis:
    """The analysis's SQL in ``dialect`` (default: the warehouse's), with the constants the
    warehouse's probes choose.

    Raises:
        SpecError: A table or column the spec names is missing (preflight).
        WarehouseError: A probe failed.
    """
    say = step or (lambda _: None)
    compiled = compile_analysis(project, experiment_id, dialect=wh.dialect)
    say("checking tables and columns")
    preflight(project, compiled.plan, wh)
    shifts = probe_shifts(compiled, wh, say)
    if shifts or (dialect or wh.dialect) != wh.dialect:
        compiled = compile_analysis(project, experiment_id, dialect or wh.dialect, shifts)
    return compiled


def probe_shifts(compiled: CompiledAnalysis, wh: Warehouse, step: Step) -> dict[Measure, float]:
    """Run ``compiled``'s probes (one small aggregate per source) and read the constants."""
    if not (compiled.probes and compiled.plan.metrics):
        return {}
    step("choosing the constants that centre the moments")
    probes = {s: wh.execute(q.sql(dialect=wh.dialect)).to_pylist()[0]
              for s, q in compiled.probes.items()}
    return shift_constants(compiled.plan, probes)


def shift_comment(compiled: CompiledAnalysis) -> list[str]:
    """SQL comment lines naming each centred measure's constant (none: no line)."""
    columns = compiled.plan.measures
    return [f"-- {columns[m]} centred on {c!r} (chosen by the probe of its source)"
            for m, c in compiled.plan.shifts.items()]
