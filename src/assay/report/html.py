"""The self-contained HTML report: the dashboard's experiment page in one offline file.

Rendered from the same Jinja2 templates as ``assay serve``'s experiment page, with styles and
charts (inline SVG) in the file itself: nothing is loaded from anywhere, so the report opens
offline, prints, and can be attached to a decision record.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from assay import __version__
from assay.report.page import ExperimentPage, result_view
from assay.results import AnalysisResult

TEMPLATES = Path(__file__).parent / "templates"


@cache
def environment(*extra: Path) -> jinja2.Environment:
    """The Jinja2 environment: autoescaped, strict about undefined names.

    Args:
        extra: Template folders searched before the report's own (the dashboard's pages).
    """
    loader = jinja2.FileSystemLoader([*extra, TEMPLATES])
    return jinja2.Environment(
        loader=loader,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def page_for(result: AnalysisResult, **facts: Any) -> ExperimentPage:
    """An experiment page holding one analysis (``facts``: more :class:`ExperimentPage` fields)."""
    facts.setdefault("name", result.name)
    facts.setdefault("hypothesis", result.hypothesis)
    return ExperimentPage(experiment=result.experiment, view=result_view(result), **facts)


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
