"""A small demo project whose analyses are in the results store, plus an experiment whose
name, hypothesis and variant are markup (every page must show them as text)."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import duckdb
import yaml

from assay.analysis.run import analyze
from assay.demo import build_demo
from assay.spec import load_project
from assay.store import save_result

SMALL_USERS = 6000
XSS = "<script>alert(1)</script>"
XSS_ID = "xss_probe"
XSS_HYPOTHESIS = "Markup stays text: <img src=x onerror=alert(2)> & \"quotes\""


def build(folder: Path) -> Path:
    """Build the demo in ``folder``, add the markup experiment, analyse and store every one."""
    build_demo(folder, users=SMALL_USERS)
    _add_markup_experiment(folder)
    project = load_project(folder)
    with closing(project.warehouse()) as wh:
        for experiment_id in sorted(project.experiments):
            save_result(wh, analyze(project, experiment_id, warehouse=wh),
                        project.spec.results_schema)
    return folder


def _add_markup_experiment(folder: Path) -> None:
    """A copy of the A/A test whose treatment arm is named ``<script>alert(1)</script>``."""
    spec = yaml.safe_load((folder / "experiments" / "homepage_aa.yml").read_text())
    spec["name"] = XSS
    spec["hypothesis"] = XSS_HYPOTHESIS
    spec["owner"] = XSS
    spec["variants"][1]["name"] = XSS
    (folder / "experiments" / f"{XSS_ID}.yml").write_text(yaml.safe_dump(spec))
    with closing(duckdb.connect(str(folder / "warehouse.duckdb"))) as con:
        con.execute(
            "INSERT INTO exposures SELECT ?, CASE WHEN variant = 'treatment' THEN ? "
            "ELSE variant END, unit_id, timestamp, country, platform FROM exposures "
            "WHERE experiment_id = 'homepage_aa'", [XSS_ID, XSS],
        )
