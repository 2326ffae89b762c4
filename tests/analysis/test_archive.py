"""Power from the archive: past effects read from the store, summarised, and planned for; and the
`assay power --metric ...` examples of the README and `--help` run on the demo."""

from __future__ import annotations

import json
import math
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from assay.analysis import analyze
from assay.analysis.archive import PastEffect, summarize
from assay.cli import app
from assay.cli.power_cmds import power
from assay.demo import build_demo
from assay.spec import load_project
from assay.stats.planning import plan_experiment
from assay.store import save_result

ROOT = Path(__file__).resolve().parents[2]


def effect(lift: float, se: float) -> PastEffect:
    return PastEffect("e", "treatment", lift, se, abs(lift) > 2 * se, 10.0, 30.0)


def test_summary_quantiles_and_the_random_effects_spread() -> None:
    rng = np.random.default_rng(8)
    tau, se = 0.02, 0.01
    lifts = rng.normal(0, tau, 400) + rng.normal(0, se, 400)
    got = summarize("m", [effect(x, se) for x in lifts], {})
    assert got.abs_lift_quantiles["q50"] == pytest.approx(np.quantile(np.abs(lifts), 0.5))
    assert got.abs_lift_quantiles["q90"] == pytest.approx(np.quantile(np.abs(lifts), 0.9))
    assert got.true_spread == pytest.approx(math.sqrt(np.mean(lifts**2) - se**2))
    assert got.true_spread == pytest.approx(tau, rel=0.15)  # the noise is taken out
    assert got.shrunk_median_abs_lift < got.abs_lift_quantiles["q50"]
    noise_only = summarize("m", [effect(x, 0.05) for x in [0.01, -0.02, 0.015]], {})
    assert noise_only.true_spread == 0.0 and "only 3 past comparisons" in noise_only.notes[-1]


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("archive")
    build_demo(out, users=6000)
    project = load_project(out)
    wh = project.warehouse()
    try:
        for experiment in ("checkout_redesign", "homepage_aa", "search_ranking_3arm",
                           "recs_carousel"):
            save_result(wh, analyze(project, experiment, warehouse=wh))
    finally:
        wh.close()
    return out


def test_power_from_archive_reads_past_effects(archived: Path) -> None:
    result = CliRunner().invoke(app, ["power", "--from-archive", "revenue", "--mde", "0.5",
                                      "-p", str(archived), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    # checkout (1 treatment), homepage_aa (1), search_ranking_3arm (2): recs_carousel's checks
    # failed, but it does not compare revenue at all
    assert data["past_comparisons"] == 4 and data["skipped"] == {}
    assert 0 < data["abs_lift_q50"] <= data["abs_lift_q90"]
    plan = plan_experiment(metric_kind="mean", baseline=1.0, mde=data["abs_lift_q50"], std=1.0)
    assert plan.units_per_arm > 0 and data["median_units_per_arm"] > 0
    assert any("above the 90th percentile of past effects" in n for n in data["notes"])
    assert any("winner's curse" in n for n in data["notes"])
    skipped = CliRunner().invoke(app, ["power", "--from-archive", "carousel_clicks", "-p",
                                       str(archived), "--format", "json"])
    assert skipped.exit_code != 0
    assert "a trust check failed" in skipped.output and "recs_carousel" in skipped.output


def _power_examples() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = re.findall(r"^(assay power --metric .*?)$", readme, flags=re.M)
    lines += re.findall(r"^\s*(assay power --metric .*?)$", power.__doc__ or "", flags=re.M)
    return [line.split("#")[0].strip() for line in lines]


def test_the_documented_history_examples_run_on_the_demo(archived: Path) -> None:
    examples = _power_examples()
    assert len(examples) >= 3
    for line in examples:
        args = [*shlex.split(line)[1:], "-p", str(archived), "--format", "json"]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, (line, result.output)
        assert json.loads(result.output)["units_per_arm"] > 0


def test_an_empty_history_says_why_and_what_to_do(archived: Path) -> None:
    result = CliRunner().invoke(app, ["power", "--metric", "revenue", "--history-start",
                                      "2026-01-01", "--mde", "0.02", "-p", str(archived)])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "no unit was exposed to any experiment between 2026-01-01 and 2026-01-15" in text
    assert "--population sessions" in text
