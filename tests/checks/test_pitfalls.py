"""The pitfall checks as pure functions: verdicts, sentences, and their figures against numpy and
scipy on unit-level data."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from assay.checks.pitfalls import (
    Activity,
    Daily,
    Overlap,
    Stratum,
    dilution,
    novelty,
    practical_significance,
    reproducibility,
    salt_reuse,
    segment_claims,
    simpsons_paradox,
    standardized,
)
from assay.results import MetricResult
from assay.spec.models import ExperimentSpec

ARMS = ("control", "treatment")


def spec(**extra: object) -> ExperimentSpec:
    return ExperimentSpec.model_validate({
        "id": "x", "variants": [{"name": "control", "weight": 1, "control": True},
                                {"name": "treatment", "weight": 1}],
        "segments": ["country"], **extra})


def result(metric: str = "m", **fields: Any) -> MetricResult:
    base: dict[str, Any] = dict(
        metric=metric, role="primary", kind="mean", variant="treatment", control="control",
        n_control=5000.0, n_treatment=5000.0, mean_control=10.0, mean_treatment=10.2, diff=0.2,
        diff_se=0.05, diff_ci=(0.1, 0.3), rel_lift=0.02, rel_lift_ci=(0.01, 0.03),
        p_value=1e-4, p_value_adjusted=1e-4, significant=True, method="welch",
        cuped_variance_reduction=None, error=None)
    base.update(fields)
    return MetricResult(**base)


def units_frame(rng: np.random.Generator, cohorts: dict[str, tuple[int, int, float]],
                lift_early: float, lift_late: float) -> pd.DataFrame:
    """Unit-level values: per cohort (n control, n treatment, baseline); 14 days, early/late."""
    frames = []
    for cohort, (nc, nt, base) in cohorts.items():
        for arm, n in zip(ARMS, (nc, nt), strict=True):
            treated = arm == "treatment"
            early = rng.poisson(base * (1 + lift_early * treated), n)
            late = rng.poisson(base * (1 + lift_late * treated), n)
            frames.append(pd.DataFrame({"cohort": cohort, "variant": arm, "early": early,
                                        "late": late}))
    return pd.concat(frames, ignore_index=True)


def daily_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """What activity_query returns for one daily measure (``m0``), computed with pandas."""
    frame = frame.assign(total=frame.early + frame.late, d=frame.early - frame.late)
    return [{"variant": variant, "cohort": cohort, "n": len(g), "active": int((g.total > 0).sum()),
             "active_pre": 0, "m0_s": g.total.sum(), "m0_ss": (g.total**2).sum(),
             "m0_sd": g.d.sum(), "m0_ssd": (g.d**2).sum()}
            for (variant, cohort), g in frame.groupby(["variant", "cohort"])]


def oracle_standardized(frame: pd.DataFrame, column: str) -> tuple[float, float]:
    """Direct standardization by cohort, written out with pandas."""
    est, var, total = 0.0, 0.0, len(frame)
    for _, g in frame.groupby("cohort"):
        c, t = g[g.variant == "control"][column], g[g.variant == "treatment"][column]
        w = len(g) / total
        est += w * (t.mean() - c.mean())
        var += w**2 * (t.var(ddof=1) / len(t) + c.var(ddof=1) / len(c))
    return est, math.sqrt(var)


def test_standardized_matches_the_pandas_oracle() -> None:
    frame = units_frame(np.random.default_rng(3), {"a": (300, 200, 4.0), "b": (100, 400, 2.0)},
                        0.1, 0.1)
    daily = Daily.from_rows("m", daily_rows(frame), "m0", 14)
    frame = frame.assign(total=frame.early + frame.late)
    got = standardized(list(daily.cohorts.values()), "control", "treatment")
    want = oracle_standardized(frame, "total")
    assert (got.diff, got.se) == pytest.approx(want, rel=1e-9)


def test_a_mix_shift_that_reverses_the_effect_is_simpsons_paradox() -> None:
    # the early cohort has a high baseline and mostly control users
    cohorts = {"2026-03-01": (9000, 1000, 8.0), "2026-03-05": (5000, 5000, 2.0)}
    frame = units_frame(np.random.default_rng(4), cohorts, 0.15, 0.15)
    daily = Daily.from_rows("clicks", daily_rows(frame), "m0", 14)
    check = simpsons_paradox([], [], [daily], spec(segments=[]))
    assert (check.status, check.code) == ("fail", "simpson_phase")
    found = check.figures["found"][0]
    assert found["pooled_rel"] < 0 < found["adjusted_rel"]
    assert check.message.startswith(
        f"clicks in treatment looks {found['pooled_rel']:+.1%} overall but "
        f"{found['adjusted_rel']:+.1%} when users are compared within the same exposure day")
    assert "Simpson's paradox" in check.message
    balanced = units_frame(np.random.default_rng(4), {"2026-03-01": (5000, 5000, 8.0),
                                                      "2026-03-05": (5000, 5000, 2.0)}, 0.15,
                           0.15)
    assert simpsons_paradox([], [], [Daily.from_rows("clicks", daily_rows(balanced), "m0", 14)],
                            spec(segments=[])).status == "pass"


def test_segment_effects_against_the_pooled_one() -> None:
    pooled = result(diff=-0.5, diff_se=0.1, rel_lift=-0.05)
    cells = [result(segment="country", segment_value=v, diff=0.4, diff_se=0.1, n_control=2500,
                    n_treatment=2500) for v in ("US", "GB")]
    check = simpsons_paradox([pooled], cells, [], spec())
    assert (check.status, check.code) == ("fail", "simpson_segment")
    agreeing = [replace(c, diff=-0.4) for c in cells]
    assert simpsons_paradox([pooled], agreeing, [], spec()).status == "pass"


def test_a_fading_effect_is_a_novelty_and_the_test_is_calibrated() -> None:
    cohorts = {"2026-03-01": (4000, 4000, 3.0), "2026-03-02": (3000, 3000, 3.0)}
    frame = units_frame(np.random.default_rng(5), cohorts, 0.3, 0.0)
    check = novelty([Daily.from_rows("clicks", daily_rows(frame), "m0", 14)], spec())
    assert (check.status, check.code) == ("warn", "novelty_effect")
    figures = check.figures["clicks:treatment"]
    assert figures["early_rel_lift"] == pytest.approx(0.3, abs=0.05)
    assert figures["late_rel_lift"] == pytest.approx(0.0, abs=0.05)
    frame = frame.assign(d=frame.early - frame.late)
    est, se = oracle_standardized(frame, "d")
    assert figures["p_value"] == pytest.approx(2 * stats.norm.sf(abs(est / se)), rel=1e-6)
    assert check.message.startswith("the effect on clicks in treatment fades with time since "
                                    f"exposure: {figures['early_rel_lift']:+.1%} in users' first "
                                    f"7 days, {figures['late_rel_lift']:+.1%} in the next 7")
    growing = units_frame(np.random.default_rng(5), cohorts, 0.0, 0.3)
    assert novelty([Daily.from_rows("clicks", daily_rows(growing), "m0", 14)], spec()).code == \
        "primacy_effect"


@pytest.mark.slow
def test_the_novelty_z_is_standard_normal_without_a_trend() -> None:
    rng = np.random.default_rng(6)
    p_values = []
    for _ in range(400):
        frame = units_frame(rng, {"a": (300, 200, 2.0), "b": (150, 350, 5.0)}, 0.2, 0.2)
        check = novelty([Daily.from_rows("m", daily_rows(frame), "m0", 14)], spec())
        p_values.append(check.figures["m:treatment"]["p_value"])
    # a constant effect is no trend: p-values uniform (KS), about 5% below 0.05
    assert stats.kstest(p_values, "uniform").pvalue > 0.001
    assert abs(np.mean(np.array(p_values) < 0.05) - 0.05) < 3 * math.sqrt(0.05 * 0.95 / 400)


def test_practical_significance_needs_an_mde_and_flags_small_effects() -> None:
    small = result(metric="views", rel_lift=0.024, rel_lift_ci=(0.017, 0.031))
    assert practical_significance([small], spec()).code == "no_mde"
    check = practical_significance([small], spec(mde=0.05))
    assert (check.status, check.code) == ("warn", "below_mde")
    assert check.message == ("views moved +2.4% in treatment (95% CI +1.7% to +3.1%): "
                             "statistically significant but smaller than the 5% set as worth "
                             "having; the whole interval is below it")
    big = result(rel_lift=0.08, rel_lift_ci=(0.05, 0.11))
    assert practical_significance([big], spec(mde=0.05)).status == "pass"
    assert practical_significance([replace(small, significant=False)],
                                  spec(mde=0.05)).status == "pass"


def test_small_segments_and_segments_without_an_overall_effect_are_flagged() -> None:
    overall = result(metric="saves", significant=False, n_control=10000, n_treatment=10000)
    jp = result(metric="saves", segment="country", segment_value="JP", rel_lift=0.46,
                n_control=250, n_treatment=250)
    check = segment_claims([overall], [jp])
    assert (check.status, check.code) == ("warn", "segment_overclaim")
    assert check.message == ("saves moved +46% in treatment for country = JP, but country = JP "
                             "holds only 2% of users and the overall effect is not significant: "
                             "a result like this is often noise or an instrumentation quirk of "
                             "that segment")
    big = replace(jp, n_control=4000, n_treatment=4000)
    assert segment_claims([replace(overall, significant=True)], [big]).status == "pass"
    assert segment_claims([overall], [big]).status == "warn"  # no overall effect


def test_inactive_exposed_users_suggest_diluted_exposure() -> None:
    rows = [{"variant": "control", "cohort": "2026-03-01", "n": 600, "active": 270,
             "active_pre": 260},
            {"variant": "control", "cohort": "2026-03-02", "n": 400, "active": 180,
             "active_pre": 180},
            {"variant": "treatment", "cohort": "2026-03-01", "n": 1000, "active": 460,
             "active_pre": 450}]
    diluted = Activity.from_rows(rows, 14)
    assert diluted.units == {"control": 1000, "treatment": 1000}
    check = dilution(diluted, spec())
    assert (check.status, check.code) == ("warn", "diluted_exposure")
    assert check.message.startswith("54% of exposed users did nothing any metric counts in the "
                                    "14 days after exposure (control 55%, treatment 54%; 55% "
                                    "were as inactive in the 14 days before)")
    active = Activity({"control": 1000}, {"control": 900}, {"control": 880}, 14)
    assert dilution(active, spec()).status == "pass"


def test_salt_reuse_and_correlated_assignment() -> None:
    independent = Overlap("other", False, {("control", "control"): 2510, ("control", "b"): 2490,
                                           ("treatment", "control"): 2470,
                                           ("treatment", "b"): 2530})
    assert salt_reuse([independent]).status == "pass"
    tied = Overlap("other", False, {("control", "control"): 4000, ("control", "treatment"): 1000,
                                    ("treatment", "control"): 1000,
                                    ("treatment", "treatment"): 4000})
    check = salt_reuse([independent, tied])
    assert (check.status, check.code) == ("fail", "correlated_assignment")
    table = np.array([[4000, 1000], [1000, 4000]])
    p = stats.chi2_contingency(table, correction=False)[1]
    assert check.figures["overlapping"][1]["p_value"] == pytest.approx(p, rel=1e-9, abs=1e-300)
    same = salt_reuse([Overlap("onboarding", True, tied.table)])
    assert same.code == "salt_reuse" and same.message.startswith(
        "this experiment uses the same salt as onboarding, which ran at the same time: of the "
        "10,000 users in both, 80% got the same-named arm")


def test_reproducibility_compares_figures_of_identical_inputs() -> None:
    now = [result()]
    same = [{"metric": "m", "variant": "treatment", "mean_control": 10.0, "mean_treatment": 10.2,
             "diff": 0.2 + 1e-12, "diff_se": 0.05, "p_value": 1e-4}]
    assert reproducibility({}, now, []).status == "pass"
    assert reproducibility({}, now, [same]) == reproducibility({}, now, [])  # a stable record
    changed = [dict(same[0], diff=0.2001)]
    check = reproducibility({}, now, [same, changed])
    assert (check.status, check.code) == ("fail", "not_reproducible")
    assert "gave different figures" in check.message


def test_stratum_weights_ignore_strata_missing_an_arm() -> None:
    strata = [Stratum({"control": 100, "treatment": 100}, {"control": 100, "treatment": 120},
                      {"control": 200, "treatment": 300}),
              Stratum({"control": 50}, {"control": 500}, {"control": 6000})]
    got = standardized(strata, "control", "treatment")
    assert got.diff == pytest.approx(0.2)
