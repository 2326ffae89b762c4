"""The self-contained HTML report: the dashboard's experiment page in one offline file.

Rendered from the same Jinja2 templates as ``assay serve``'s experiment page, with styles and
charts (inline SVG) in the file itself: nothing is loaded from anywhere, so the report opens
offline, prints, and can be attached to a decision record.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from assay import __version__
from assay.report.page import ExperimentPage, experiment_page, result_view, when
from assay.results import AnalysisResult

if TYPE_CHECKING:
    from assay.spec.project import Project
    from assay.store import Store

TEMPLATES = Path(__file__).parent / "templates"


@cache
def environment(*extra: Path) -> jinja2.Environment:
    """The Jinja2 environment: autoescaped, strict about undefined names.

    Args:
        extra: Template folders searched before the report's own (the dashboard's pages).
    """
    loader = jinja2.FileSystemLoader([*extra, TEMPLATES])
    env = jinja2.Environment(
        loader=loader,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    return env


def page_for(result: AnalysisResult, **facts: Any) -> ExperimentPage:
    """An experiment page holding one analysis (``facts``: more :class:`ExperimentPage` fields)."""
    facts.setdefault("name", result.name)
    facts.setdefault("hypothesis", result.hypothesis)
    return ExperimentPage(experiment=result.experiment, view=result_view(result), **facts)


def stored_page(
    project: Project,
    store: Store,
    experiment_id: str,
    *,
    latest: AnalysisResult | None = None,
    metric_links: bool = False,
) -> ExperimentPage | None:
    """The experiment page from the results store (None: neither store nor project knows it).

    Args:
        latest: An analysis to show last if the store does not hold it (``--no-store``).
        metric_links: Link metric names to the dashboard's metric pages.
    """
    from assay.results.decode import result_from_dict

    spec = project.experiments.get(experiment_id)
    record = store.experiment(experiment_id)
    history = [result_from_dict(data) for a in store.analyses(experiment_id)
               if (data := store.result_json(a.analysis_id)) is not None]
    if latest is not None and (not history or history[-1].to_dict() != latest.to_dict()):
        history.append(latest)
    if record is None and spec is None and not history:
        return None
    return experiment_page(
        experiment_id, history, spec=spec, record=record, plan=store.plan(experiment_id),
        decisions=store.decisions(experiment_id), metric_links=metric_links,
    )


def render_html(page: ExperimentPage | AnalysisResult) -> str:
    """The standalone report of an experiment page (or of one analysis)."""
    if isinstance(page, AnalysisResult):
        page = page_for(page)
    template = environment().get_template("experiment.html.j2")
    return template.render(
        page=page, standalone=True, read_only=True, project_name="", version=__version__
    )


def write_html(page: ExperimentPage | AnalysisResult, path: str | Path) -> Path:
    """Write :func:`render_html` to ``path`` (folders created) and return it."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(page), encoding="utf-8")
    return out


def render_notebook(result: AnalysisResult) -> str:
    """An HTML fragment for a notebook cell: the recommendation, results with CI bars, checks."""
    template = environment().get_template("notebook.html.j2")
    return template.render(view=result_view(result))
