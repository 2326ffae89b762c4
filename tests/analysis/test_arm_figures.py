"""Every result carries the per-arm figures it was built from: the verdict recomputes from JSON."""

from __future__ import annotations

import json
import math

import pytest
from scipy import stats

from assay.analysis import AnalysisResult


@pytest.fixture(scope="module")
def document(segmented_result: AnalysisResult) -> dict:  # type: ignore[type-arg]
    return json.loads(json.dumps(segmented_result.to_dict()))


def test_p_values_and_intervals_recompute_from_the_json_alone(document: dict) -> None:  # type: ignore[type-arg]
    checked = 0
    for r in document["results"] + document["segments"]:
        if r["error"] is not None:
            continue
        c, t = r["arm_figures"][r["control"]], r["arm_figures"][r["variant"]]
        assert c["n"] == r["n_control"] and t["n"] == r["n_treatment"]
        if r["kind"] == "proportion" and r["cuped_variance_reduction"] is None:
            pooled = (c["mean"] * c["n"] + t["mean"] * t["n"]) / (c["n"] + t["n"])
            se0 = math.sqrt(pooled * (1 - pooled) * (1 / c["n"] + 1 / t["n"]))
            p = 2 * stats.norm.sf(abs(t["mean"] - c["mean"]) / se0)
        else:
            diff = t["estimate"] - c["estimate"]
            se = math.sqrt(c["estimate_variance"] + t["estimate_variance"])
            assert r["diff"] == pytest.approx(diff, rel=1e-9)
            assert r["diff_se"] == pytest.approx(se, rel=1e-9)
            assert r["statistic"] == pytest.approx(diff / se, rel=1e-9)
            z = abs(diff / se)
            p = 2 * (stats.t.sf(z, r["df"]) if r["df"] is not None else stats.norm.sf(z))
        assert r["p_value"] == pytest.approx(p, rel=1e-9), r["metric"]
        checked += 1
    assert checked > 10


def test_cuped_theta_and_ratio_parts_are_reported(document: dict) -> None:  # type: ignore[type-arg]
    revenue = next(r for r in document["results"] if r["metric"] == "revenue")
    assert revenue["cuped_theta"] is not None and revenue["df"] is not None
    control = revenue["arm_figures"][revenue["control"]]
    assert {"mean", "variance", "covariate_mean", "covariance", "estimate"} <= set(control)
    aov = next(r for r in document["results"] if r["metric"] == "aov")
    arm = aov["arm_figures"][aov["control"]]
    assert arm["numerator_mean"] / arm["denominator_mean"] == pytest.approx(aov["mean_control"])
    assert aov["df"] is None  # a normal reference distribution
