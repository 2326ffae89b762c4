"""Jupyter: a small notebook executed by nbclient on a real kernel shows the result's HTML
view, and its tables come back as pandas and Arrow."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.engines import require_module

from assay.demo import build_demo

require_module("nbclient", "dev")
require_module("ipykernel", "dev")

CELLS = [
    "import assay\nresult = assay.analyze(PROJECT, 'checkout_redesign')\nresult",
    "frame = result.to_pandas()\nprint(type(frame).__name__, frame.shape)\n"
    "print(sorted(set(frame['metric'])) == sorted({r.metric for r in result.results}))",
    "checks = result.to_arrow('checks')\nprint(checks.num_rows == len(result.checks))\n"
    "print(result.to_pandas('segments').shape[0] == len(result.segments))",
]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("notebook_demo")
    build_demo(folder, users=3000)
    return folder


def test_notebook_shows_the_result(project: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(f"PROJECT = {str(project)!r}")]
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in CELLS]
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    shown = notebook.cells[1].outputs[0]["data"]
    html = shown["text/html"]
    assert "assay recommends" in html and "<svg" in html and "data-testid=\"checks\"" in html
    assert "<script" not in html
    printed = "".join(o.get("text", "") for cell in notebook.cells[2:] for o in cell.outputs)
    lines = printed.splitlines()
    assert lines[0].startswith("DataFrame (")
    assert lines[1:] == ["True", "True", "True"]
