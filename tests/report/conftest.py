"""Fixtures: analyses of the small demo project, for the renderers' tests."""

from __future__ import annotations

from contextlib import closing

import pytest

from assay.analysis.run import analyze
from assay.demo import build_demo
from assay.results import AnalysisResult
from assay.spec import load_project


@pytest.fixture(scope="session")
def demo_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, AnalysisResult]:
    """Every demo experiment analysed (3,000 users: fast, with segments and three arms)."""
    folder = tmp_path_factory.mktemp("report_demo")
    build_demo(folder, users=3000)
    project = load_project(folder)
    with closing(project.warehouse()) as wh:
        return {e: analyze(project, e, warehouse=wh) for e in sorted(project.experiments)}
