"""What the dashboard reads: the project's specs and the results store, nothing else.

:class:`Catalog` answers the pages' questions (which experiments, the latest analysis of one,
its earlier analyses, decisions, a metric's observed effects) from stored records. It never
recomputes a statistic: figures are the stored ones, and the only arithmetic is for drawing.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass
from typing import Any

from assay.report.page import ExperimentPage, lift_charts, result_view, units_chart
from assay.results import AnalysisResult, MetricResult, decide
from assay.spec.project import Project
from assay.warehouse import Warehouse
from assay.web.decode import result_from_dict


@dataclass(frozen=True)
class Summary:
    """One line of the experiment list."""

    experiment_id: str
    name: str | None
    status: str | None
    owner: str | None
    start: str | None
    end: str | None
    recommendation: str | None
    decision: str | None
    health: str | None
    run_at: str | None
    units: int | None
    in_project: bool


@dataclass(frozen=True)
class Effect:
    """A metric's observed effect in one experiment's latest analysis."""

    experiment_id: str
    result: MetricResult


class Catalog:
    """Reads one project's results store (and specs) for the dashboard."""

    def __init__(self, project: Project, *, read_only: bool = False) -> None:
        self.project = project
        self.read_only = read_only

    def warehouse(self) -> Warehouse:
        """A connection for one request (closed by the caller)."""
        return self.project.warehouse(read_only=self.read_only)

    # ------------------------------------------------------------------ reads

    def summaries(self) -> list[Summary]:
        """Every experiment of the project and the store, with its latest analysis."""
        latest = {e: looks[-1] for e, looks in self._all_analyses().items()}
        ids = sorted(set(self.project.experiments) | set(latest))
        return [self._summary(i, latest.get(i)) for i in ids]

    def analyses(self, experiment_id: str) -> list[AnalysisResult]:
        """Stored analyses of one experiment, oldest first."""
        return self._all_analyses(experiment_id).get(experiment_id, [])

    def page(self, experiment_id: str) -> ExperimentPage | None:
        """The experiment page's facts, or None for an experiment nobody knows."""
        looks = self.analyses(experiment_id)
        spec = self.project.experiments.get(experiment_id)
        if spec is None and not looks:
            return None
        latest = looks[-1] if looks else None
        plan = _plan(spec.model_dump(mode="json", exclude_defaults=True)) if spec else []
        return ExperimentPage(
            experiment=experiment_id,
            view=result_view(latest) if latest else None,
            name=spec.name if spec else latest.name if latest else None,
            hypothesis=spec.hypothesis if spec else latest.hypothesis if latest else None,
            owner=spec.owner if spec else None,
            start=_text(spec.start) if spec else None,
            end=_text(spec.end) if spec else None,
            plan=plan,
            charts=[*lift_charts(looks), units_chart(looks)] if len(looks) > 1 else [],
            metric_links=True,
        )

    def effects(self, metric: str) -> list[Effect]:
        """The metric's comparisons in each experiment's latest analysis."""
        out = []
        for experiment_id, looks in self._all_analyses().items():
            out += [Effect(experiment_id, r) for r in looks[-1].results if r.metric == metric]
        return out

    def variants(self, experiment_id: str) -> list[str]:
        """The experiment's variant names (spec first, else the latest analysis's arms)."""
        spec = self.project.experiments.get(experiment_id)
        if spec is not None:
            return [v.name for v in spec.variants]
        looks = self.analyses(experiment_id)
        return [a.variant for a in looks[-1].arms] if looks else []

    def decisions(self, experiment_id: str) -> list[dict[str, Any]]:
        """Recorded decisions, oldest first."""
        return []

    def record_decision(self, experiment_id: str, decision: str, *, decided_by: str,
                        rationale: str, variant: str | None) -> str | None:
        """Store a human decision; returns a problem sentence, or None when recorded."""
        return "This results store cannot record decisions yet."

    def definition(self, metric: str) -> list[tuple[str, str]]:
        """A metric spec's fields as (field, text) pairs."""
        spec = self.project.metrics[metric].model_dump(mode="json", exclude_none=True)
        return [(k, _text(v)) for k, v in spec.items() if k not in ("name", "description")]

    def used_by(self, metric: str) -> list[tuple[str, str]]:
        """(experiment, role) of every experiment spec that names the metric."""
        out = []
        for experiment_id, spec in sorted(self.project.experiments.items()):
            for role in ("primary", "secondary", "guardrails"):
                if metric in getattr(spec.metrics, role):
                    out.append((experiment_id, role.removesuffix("s")))
        return out

    # ------------------------------------------------------------------ internals

    def _summary(self, experiment_id: str, latest: AnalysisResult | None) -> Summary:
        spec = self.project.experiments.get(experiment_id)
        return Summary(
            experiment_id=experiment_id,
            name=(spec.name if spec else None) or (latest.name if latest else None),
            status=None,
            owner=spec.owner if spec else None,
            start=_text(spec.start) if spec else None,
            end=_text(spec.end) if spec else None,
            recommendation=decide(latest).verdict if latest else None,
            decision=None,
            health=latest.status() if latest else None,
            run_at=latest.run_at if latest else None,
            units=latest.units if latest else None,
            in_project=spec is not None,
        )

    def _all_analyses(self, experiment_id: str | None = None) -> dict[str, list[AnalysisResult]]:
        from assay.store import load_results

        with closing(self.warehouse()) as wh:
            rows = load_results(wh, experiment_id, self.project.spec.results_schema)
        out: dict[str, list[AnalysisResult]] = {}
        for row in reversed(rows):  # newest first -> oldest first
            payload: Any = row["result"]
            result = result_from_dict(payload)
            out.setdefault(result.experiment, []).append(result)
        return out


def _plan(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """The spec's design fields as (field, text) pairs for the plan panel."""
    keys = ("unit", "variants", "traffic", "start", "end", "metrics", "alpha", "correction",
            "cuped", "planned_sample_size", "segments", "sequential", "bayesian", "layer",
            "targeting")
    return [(k, _text(spec[k])) for k in keys if k in spec]


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, dict):
        if "name" in value and "weight" in value:
            control = ", control" if value.get("control") else ""
            return f"{value['name']} ({value['weight']:g}{control})"
        return "; ".join(f"{k}: {_text(v)}" for k, v in value.items() if v not in (None, [], {}))
    return "" if value is None else str(value)
