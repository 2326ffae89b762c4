"""A small demo project whose analyses are in the results store, plus an experiment whose
name, hypothesis and variant are markup (every page must show them as text)."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import duckdb
import yaml

from assay.demo import build_demo
from assay.spec import load_project
from assay.store.lifecycle import analyse, start, store_of

SMALL_USERS = 6000
XSS = "<script>alert(1)</script>"
XSS_ID = "xss_probe"
XSS_HYPOTHESIS = "Markup stays text: <img src=x onerror=alert(2)> & \"quotes\""
#: Started (plan frozen, status running) before their analysis; the others stay drafts.
STARTED = ("checkout_redesign", "search_ranking_3arm", XSS_ID)


def build(folder: Path) -> Path:
    """Build the demo in ``folder``, add the markup experiment, analyse and store every one."""
    build_demo(folder, users=SMALL_USERS)
    _add_markup_experiment(folder)
    project = load_project(folder)
    with closing(project.warehouse()) as wh:
        store = store_of(project, wh)
        for experiment_id in sorted(project.experiments):
            if experiment_id in STARTED:
                start(project, store, experiment_id)
            analyse(project, store, experiment_id)
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
