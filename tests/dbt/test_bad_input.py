"""Every bad dbt input is a located error that names the dbt file (never a traceback)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assay.cli import app
from assay.errors import SpecError, SpecIssue
from assay.spec import load_project

pytestmark = pytest.mark.xdist_group("dbt")
SEMANTIC = "dbt/models/marts/semantic.yml"


def _issues(shop: Path) -> list[SpecIssue]:
    with pytest.raises(SpecError) as caught:
        load_project(shop)
    return caught.value.issues


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def _line_of(path: Path, text: str, after: str = "") -> int:
    lines = path.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if after in line) if after else 0
    return next(i for i, line in enumerate(lines) if i >= start and text in line) + 1


def _use(shop: Path, metric: str) -> None:
    _edit(shop / "experiments" / "checkout_redesign.yml", "primary: [revenue]",
          f"primary: [{metric}]")


def test_missing_manifest(shop: Path) -> None:
    (shop / "dbt" / "target" / "manifest.json").unlink()
    (issue,) = _issues(shop)
    assert issue.file.endswith("dbt/target/manifest.json") and "no dbt manifest" in issue.message
    assert issue.hint is not None and "dbt parse" in issue.hint


def test_stale_manifest(shop: Path) -> None:
    model = shop / "dbt" / "models" / "marts" / "fct_orders.sql"
    model.write_text(model.read_text() + "where amount > 0\n")
    (issue,) = _issues(shop)
    assert issue.file.endswith("dbt/target/manifest.json") and "stale" in issue.message
    assert "models/marts/fct_orders.sql" in issue.message


def test_ref_to_a_model_that_does_not_exist(shop: Path) -> None:
    project_file = shop / "assay_project.yml"
    _edit(project_file, "table: ref('fct_sessions')", "table: ref('fct_session')")
    (issue,) = _issues(shop)
    assert issue.file.endswith("assay_project.yml")
    assert issue.line == _line_of(project_file, "ref('fct_session')")
    assert "no dbt model `fct_session`" in issue.message and "manifest.json" in issue.message
    assert "did you mean `fct_sessions`?" in issue.message


def test_semantic_model_without_primary_entity(shop: Path) -> None:
    manifest = shop / "dbt" / "target" / "manifest.json"
    data = json.loads(manifest.read_text())
    model = data["semantic_models"]["semantic_model.assay_shop.sessions"]
    model["entities"] = [e for e in model["entities"] if e["type"] != "primary"]
    manifest.write_text(json.dumps(data))
    _use(shop, "sessions")
    issues = _issues(shop)
    issue = next(i for i in issues if "primary entity" in i.message)
    assert issue.file.endswith(SEMANTIC)
    assert issue.line == _line_of(shop / SEMANTIC, "entities:", after="- name: sessions")
    assert issue.hint is not None and "experiments/checkout_redesign.yml:" in issue.hint


def test_measure_assay_cannot_analyse_per_unit(shop: Path) -> None:
    _use(shop, "dbt:longest_session")
    (issue,) = _issues(shop)
    assert issue.file.endswith(SEMANTIC) and "aggregates with max" in issue.message
    assert issue.line == _line_of(shop / SEMANTIC, "agg: max")
    assert issue.hint is not None and "experiments/checkout_redesign.yml:18" in issue.hint


def test_cumulative_metric_with_grain_to_date_is_refused(shop: Path) -> None:
    _use(shop, "revenue_mtd")
    (issue,) = _issues(shop)
    assert issue.file.endswith(SEMANTIC) and "grain-to-date" in issue.message
    assert issue.line == _line_of(shop / SEMANTIC, "type: cumulative")


def test_dbt_project_that_does_not_parse(shop: Path) -> None:
    _edit(shop / "assay_project.yml", "project_dir: dbt ", "parse: true\n  project_dir: dbt ")
    (shop / SEMANTIC).write_text((shop / SEMANTIC).read_text() + "  - name: [broken\n")
    (issue,) = _issues(shop)
    assert issue.file.endswith("models/marts/semantic.yml") and "dbt parse failed" in issue.message
    assert issue.line is not None and issue.line >= _line_of(shop / SEMANTIC, "[broken")


def test_dbt_refusing_a_semantic_model_is_located_at_it(shop: Path) -> None:
    _edit(shop / "assay_project.yml", "project_dir: dbt ", "parse: true\n  project_dir: dbt ")
    _edit(shop / SEMANTIC, "      - name: session\n        type: primary",
          "      - name: session\n        type: unique")
    (issue,) = _issues(shop)
    assert issue.file.endswith("models/marts/semantic.yml") and "primary entity" in issue.message
    assert issue.line == _line_of(shop / SEMANTIC, "- name: sessions")


def test_unknown_dbt_metric_names(shop: Path) -> None:
    _use(shop, "dbt:revnue")
    _edit(shop / "metrics" / "analysis.yml", "dbt: refunds", "dbt: refund")
    issues = {i.file.rsplit("/", 1)[-1]: i for i in _issues(shop)}
    assert "no dbt metric `revnue`" in issues["checkout_redesign.yml"].message
    assert issues["checkout_redesign.yml"].hint == "did you mean `revenue`?"
    assert issues["analysis.yml"].hint == "did you mean `refunds`?"


def test_a_yaml_metric_may_not_shadow_a_dbt_metric(shop: Path) -> None:
    _edit(shop / "metrics" / "analysis.yml", "  - name: session_duration",
          "  - name: pages\n    source: sessions\n    value: pages\n\n"
          "  - name: session_duration")
    (issue,) = _issues(shop)
    assert "also a dbt metric" in issue.message and issue.file.endswith("analysis.yml")
    assert issue.hint is not None and re.search(r"semantic\.yml:\d+", issue.hint)


def test_cli_reports_a_located_error_without_a_traceback(shop: Path) -> None:
    (shop / "dbt" / "target" / "manifest.json").unlink()
    done = CliRunner().invoke(app, ["validate", "--project", str(shop), "--offline"])
    assert done.exit_code == 2
    assert "manifest.json: no dbt manifest" in done.output and "Traceback" not in done.output
