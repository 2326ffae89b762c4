"""Experiment planning and the ``assay power`` command."""

from __future__ import annotations

import json
import math

import pytest
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import power_proportions_2indep
from typer.testing import CliRunner

from assay.cli import app
from assay.stats.group_sequential import gs_boundaries, inflation_factor
from assay.stats.planning import achieved, plan_experiment


def test_proportion_plan_matches_statsmodels() -> None:
    plan = plan_experiment(metric_kind="proportion", baseline=0.05, mde=0.1)
    assert plan.mde_absolute == pytest.approx(0.005)
    assert power_proportions_2indep(0.005, 0.05, plan.fixed_units_per_arm,
                                    return_results=False) == pytest.approx(0.8, rel=1e-10)
    assert plan.units_per_arm == math.ceil(plan.fixed_units_per_arm)
    assert plan.total_units == 2 * plan.units_per_arm and plan.days is None


def test_mean_plan_with_cuped_arms_and_days() -> None:
    plan = plan_experiment(metric_kind="mean", baseline=40.0, std=20.0, mde=0.5,
                           mde_relative=False, arms=3, cuped_reduction=0.36, daily_units=1000)
    d = 0.5 / (20.0 * math.sqrt(0.64))
    want = NormalIndPower().solve_power(d, alpha=0.025, power=0.8)
    assert plan.fixed_units_per_arm == pytest.approx(want, rel=1e-8)
    assert plan.alpha_per_comparison == 0.025
    assert plan.days == math.ceil(plan.total_units / 1000)


def test_group_sequential_inflation_applied() -> None:
    fixed = plan_experiment(metric_kind="mean", baseline=1.0, std=1.0, mde=0.05)
    seq = plan_experiment(metric_kind="mean", baseline=1.0, std=1.0, mde=0.05,
                          sequential="pocock", looks=4)
    r = inflation_factor(gs_boundaries([0.25, 0.5, 0.75, 1.0], 0.05, "pocock"), 0.8)
    assert seq.inflation == pytest.approx(r, rel=1e-12)
    assert seq.units_per_arm == math.ceil(fixed.fixed_units_per_arm * r - 1e-9)
    msprt = plan_experiment(metric_kind="mean", baseline=1.0, std=1.0, mde=0.05,
                            sequential="msprt")
    assert msprt.inflation > 1.0 and msprt.notes


def test_achieved_power_and_mde() -> None:
    out = achieved(metric_kind="mean", baseline=10.0, std=4.0, units_per_arm=2000, mde=0.04)
    assert out["power"] == pytest.approx(NormalIndPower().power(0.4 / 4.0, 2000, 0.05),
                                         rel=1e-9)
    assert NormalIndPower().power(out["mde_absolute"] / 4.0, 2000, 0.05) == pytest.approx(0.8)


def test_bad_inputs_raise_value_error() -> None:
    with pytest.raises(ValueError, match="standard deviation"):
        plan_experiment(metric_kind="mean", baseline=1.0, mde=0.1)
    with pytest.raises(ValueError, match="rate"):
        plan_experiment(metric_kind="proportion", baseline=1.5, mde=0.1)


def test_cli_json_and_table() -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["power", "--metric-kind", "proportion", "--baseline-rate", "0.05",
                              "--mde", "0.1", "--daily-units", "5000", "--format", "json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    plan = plan_experiment(metric_kind="proportion", baseline=0.05, mde=0.1, daily_units=5000)
    assert data["units_per_arm"] == plan.units_per_arm and data["days"] == plan.days
    table = runner.invoke(app, ["power", "--baseline-mean", "42", "--std", "30", "--mde", "0.02",
                                "--sequential", "obf", "--looks", "5"])
    assert table.exit_code == 0 and "units per arm" in table.output
    bad = runner.invoke(app, ["power", "--baseline-mean", "42", "--mde", "0.02"])
    assert bad.exit_code == 2


def test_plan_from_history_uses_past_variance_and_rho() -> None:
    import numpy as np

    from assay.stats.moments import Moments
    from assay.stats.planning import plan_from_history

    rng = np.random.default_rng(2)
    x = rng.normal(20, 5, 20_000)
    y = 0.8 * x + rng.normal(0, 3, 20_000)
    hist = Moments.from_values({"y": y, "x": x})
    plan = plan_from_history(hist, metric_kind="mean", mde=0.02, x="x")
    rho2 = np.corrcoef(y, x)[0, 1] ** 2
    want = plan_experiment(metric_kind="mean", baseline=y.mean(), std=y.std(ddof=1), mde=0.02,
                           cuped_reduction=rho2)
    assert plan.cuped_reduction == pytest.approx(rho2, rel=1e-9)
    assert plan.units_per_arm == want.units_per_arm
    conv = Moments.from_values({"y": (y > 16).astype(float)})
    prop = plan_from_history(conv, metric_kind="proportion", mde=0.05)
    assert prop.baseline == pytest.approx(np.mean(y > 16), rel=1e-12)
