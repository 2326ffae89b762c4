"""The relative-lift interval is a spec option (delta, Fieller, log-ratio), named in the output."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from tests.analysis.shop import Shop, write_project

from assay.analysis import analyze
from assay.stats.estimates import ArmEstimate
from assay.stats.multiple import adjust_effects
from assay.stats.tests import compare, fieller_arrays


@pytest.mark.parametrize("method", ["delta", "fieller", "log"])
def test_the_spec_option_reaches_every_result(shop: Shop, tmp_path: Path, method: str) -> None:
    root = write_project(tmp_path, shop, segments=False)
    spec = root / "experiments" / "exp.yml"
    spec.write_text(spec.read_text() + f"lift_interval: {method}\n")
    result = analyze(root, "exp")
    assert {r.rel_lift_method for r in result.results} == {method}
    assert all(r["rel_lift_method"] == method for r in result.to_dict()["results"])
    revenue = next(r for r in result.results if r.metric == "revenue")
    assert revenue.rel_lift_ci[0] < revenue.rel_lift < revenue.rel_lift_ci[1]


def test_log_ratio_interval_matches_its_formula_and_stays_above_minus_one() -> None:
    c, t = ArmEstimate(10.0, 4.0, 100, 99), ArmEstimate(4.0, 3.0, 100, 99)
    effect = compare(c, t, lift_interval="log", test="z")
    z = stats.norm.ppf(0.975)
    se = math.sqrt(3.0 / 16 + 4.0 / 100)
    assert effect.rel_lift_ci == pytest.approx(
        (math.exp(math.log(0.4) - z * se) - 1, math.exp(math.log(0.4) + z * se) - 1), rel=1e-12
    )
    assert effect.rel_lift_ci[0] > -1 and effect.rel_lift_method == "log"
    negative = compare(ArmEstimate(-1.0, 0.1, 50, 49), t, lift_interval="log")
    assert all(math.isnan(v) for v in negative.rel_lift_ci)


@pytest.mark.parametrize("method", ["fieller", "log"])
def test_adjusted_lift_intervals_use_the_same_method(method: str) -> None:
    rng = np.random.default_rng(4)
    effects = [
        compare(ArmEstimate(10.0, 0.5, 200, 199),
                ArmEstimate(10.0 + d, 0.5, 200, 199), lift_interval=method)  # type: ignore[arg-type]
        for d in rng.normal(0, 2, 6)
    ]
    for e, a in zip(effects, adjust_effects(effects, "bonferroni", 0.05), strict=True):
        if method == "fieller":
            lo, hi = fieller_arrays(*(e.arms or ()), e.df, a.interval_alpha)
            assert a.rel_lift_ci == pytest.approx((float(lo), float(hi)))
        assert a.rel_lift_ci[0] <= e.rel_lift_ci[0] and a.rel_lift_ci[1] >= e.rel_lift_ci[1]
