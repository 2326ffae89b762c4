"""``assay dbt generate``: per-unit experiment models that dbt builds and tests, and whose rows
give back the analysis's own numbers."""

from __future__ import annotations

import json
import re
from contextlib import closing
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assay.analysis import analyze
from assay.cli import app
from assay.dbt.demo import build_dbt
from assay.results import AnalysisResult
from assay.spec import load_project

pytestmark = pytest.mark.xdist_group("dbt")
EXPERIMENT = "checkout_redesign"


def test_generated_models_build_pass_their_tests_and_match_the_analysis(shop: Path) -> None:
    done = CliRunner().invoke(app, ["dbt", "generate", EXPERIMENT, "--project", str(shop)])
    assert done.exit_code == 0, done.output
    folder = shop / "dbt" / "models" / "assay" / EXPERIMENT
    names = sorted(p.stem for p in folder.glob("*.sql"))
    assert f"exp_exposures__{EXPERIMENT}" in names
    assert f"exp_metrics_revenue__{EXPERIMENT}" in names
    assert "{{ ref('fct_orders') }}" in (folder / f"exp_metrics_revenue__{EXPERIMENT}.sql"
                                         ).read_text()
    build_dbt(shop / "dbt")
    run = json.loads((shop / "dbt" / "target" / "run_results.json").read_text())
    tests = [r for r in run["results"] if r["unique_id"].startswith("test.")
             and EXPERIMENT in r["unique_id"]]
    assert len(tests) >= 3 * len(names)  # unique + not_null unit, not_null + accepted variant
    assert {r["status"] for r in tests} == {"pass"}

    project = load_project(shop)  # the manifest now holds the generated models too
    result = analyze(project, EXPERIMENT)
    with closing(project.warehouse(read_only=True)) as wh:
        for row in result.results:
            table = f'"main"."exp_metrics_{row.metric}__{EXPERIMENT}"'
            ratio = project.metrics[row.metric].kind == "ratio"
            value = 'sum("num") / sum("den")' if ratio else 'avg("value")'
            count = 'count("num")' if ratio else 'count("value")'
            arms = {r["variant"]: r for r in wh.execute(
                f'SELECT "variant", {value} AS mean, {count} AS n FROM {table} GROUP BY 1'
            ).to_pylist()}
            assert arms["control"]["mean"] == pytest.approx(row.mean_control, rel=1e-9)
            assert arms["treatment"]["mean"] == pytest.approx(row.mean_treatment, rel=1e-9)
            assert arms["control"]["n"] == row.n_control, row.metric
        units = wh.execute(f'SELECT count(*) AS n FROM "main"."exp_exposures__{EXPERIMENT}"')
    assert units.to_pylist()[0]["n"] == result.units
    _analysed_from_the_models(shop, result)


FROM_MODELS = """\
name: from_models
warehouse: duckdb:///../shop/warehouse.duckdb
dbt: {project_dir: ../shop/dbt}
exposures:
  table: ref('exp_exposures__checkout_redesign')
  timestamp: first_exposure_at
metrics:
"""


def _analysed_from_the_models(shop: Path, direct: AnalysisResult) -> None:
    """A second assay project that reads only the generated models gives the same numbers."""
    other = shop.parent / "from_models"
    (other / "metrics").mkdir(parents=True)
    (other / "experiments").mkdir()
    (other / "assay_project.yml").write_text(FROM_MODELS.removesuffix("metrics:\n"))
    (other / "metrics" / "unit_level.yml").write_text(
        "metrics:\n  - name: revenue_per_unit\n    source:\n      table: "
        f"ref('exp_metrics_revenue__{EXPERIMENT}')\n      unit: unit_id\n"
        "      timestamp: first_exposure_at\n    value: value\n    window: [0d, 1d]\n")
    spec = (shop / "experiments" / f"{EXPERIMENT}.yml").read_text()
    spec = re.sub(r"(?m)^metrics:\n(  .*\n)+", "metrics:\n  primary: [revenue_per_unit]\n", spec)
    (other / "experiments" / f"{EXPERIMENT}.yml").write_text(
        spec.replace("cuped: true", "cuped: false").replace("segments: [platform]", ""))
    again = analyze(other, EXPERIMENT)
    (mine,) = again.results
    theirs = next(r for r in direct.results if r.metric == "revenue")
    assert (mine.n_control, mine.n_treatment) == (theirs.n_control, theirs.n_treatment)
    assert mine.mean_control == pytest.approx(theirs.mean_control, rel=1e-9)
    assert mine.mean_treatment == pytest.approx(theirs.mean_treatment, rel=1e-9)
    assert [a.units for a in again.arms] == [a.units for a in direct.arms]
