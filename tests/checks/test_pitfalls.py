"""The pitfall checks as pure functions: verdicts, sentences, and their figures against numpy and
scipy on unit-level data."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from assay.checks.pitfalls import (
    Activity,
    Daily,
    Overlap,
    Stratum,
    daily_trend,
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


DAYS = 14


def units_frame(rng: np.random.Generator, cohorts: dict[str, tuple[int, int, float]],
                lift_early: float, lift_late: float, *, days: int = DAYS,
                lifts: np.ndarray | None = None) -> pd.DataFrame:
    """Unit-level values: per cohort (n control, n treatment, baseline over the window), one
    Poisson count per day since exposure (``d0`` ...) around a persistent per-unit level (a
    heavy user is heavy every day); treatment's lift is ``lift_early`` on the first half of the
    days and ``lift_late`` on the rest (or ``lifts`` per day). ``early``/``late``: the halves."""
    if lifts is None:
        lifts = np.where(np.arange(days) < days // 2, lift_early, lift_late)
    frames = []
    for cohort, (nc, nt, base) in cohorts.items():
        for arm, n in zip(ARMS, (nc, nt), strict=True):
            level = rng.gamma(2.0, 0.5, n)[:, None] * base / days
            treated = arm == "treatment"
            counts = rng.poisson(level * (1 + lifts * treated))
            frame = pd.DataFrame(counts, columns=[f"d{k}" for k in range(days)])
            frames.append(frame.assign(cohort=cohort, variant=arm))
    frame = pd.concat(frames, ignore_index=True)
    day = [f"d{k}" for k in range(days)]
    return frame.assign(early=frame[day[: days // 2]].sum(axis=1),
                        late=frame[day[days // 2: 2 * (days // 2)]].sum(axis=1),
                        total=frame[day].sum(axis=1),
                        z=frame[day].to_numpy() @ slope_weights(days))


def slope_weights(days: int) -> np.ndarray:
    """Least-squares slope weights, written out with numpy."""
    k = np.arange(days, dtype=float)
    return (k - k.mean()) / ((k - k.mean()) ** 2).sum()


def daily_rows(frame: pd.DataFrame, days: int = DAYS) -> list[dict[str, Any]]:
    """What checks_query returns for one daily measure (``m0``), computed with pandas: an
    ``activity`` row per arm and cohort, a ``since:<k>`` row per arm, cohort and day."""
    rows: list[dict[str, Any]] = []
    for (variant, cohort), g in frame.groupby(["variant", "cohort"]):
        day = g[[f"d{k}" for k in range(days)]].to_numpy(dtype=float)
        total, z = g.total.to_numpy(dtype=float), g.z.to_numpy(dtype=float)
        rows.append({"dimension": "activity", "variant": variant, "cohort": cohort,
                     "n": len(g), "active": int((total > 0).sum()), "active_pre": 0,
                     "m0_s": total.sum(), "m0_ss": (total**2).sum(), "m0_zs": z.sum(),
                     "m0_zss": (z**2).sum()})
        s, ss, active = day.sum(axis=0), (day**2).sum(axis=0), (day > 0).sum(axis=0)
        rows += [{"dimension": f"since:{k}", "variant": variant, "cohort": cohort,
                  "n": int(active[k]), "m0_s": s[k], "m0_ss": ss[k]} for k in range(days)]
    return rows


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
    # the slope of the daily effect, standardized over cohorts, against pandas on the units
    est, se = oracle_standardized(frame, "z")
    assert (figures["slope"], figures["slope_se"]) == pytest.approx((est, se), rel=1e-9)
    assert figures["p_value"] == pytest.approx(2 * stats.norm.sf(abs(est / se)), rel=1e-6)
    assert figures["slope"] < 0 and len(figures["daily_effect"]) == 14
    for k in (0, 13):
        want, want_se = oracle_standardized(frame, f"d{k}")
        assert (figures["daily_effect"][k], figures["daily_effect_se"][k]) == \
            pytest.approx((want, want_se), rel=1e-9)
    assert check.message.startswith("the effect on clicks in treatment fades with time since "
                                    f"exposure: {figures['early_rel_lift']:+.1%} in users' first "
                                    f"7 days, {figures['late_rel_lift']:+.1%} in the next 7 "
                                    f"(trend {figures['rel_slope']:+.1%} of a day's mean per day")
    growing = units_frame(np.random.default_rng(5), cohorts, 0.0, 0.3)
    assert novelty([Daily.from_rows("clicks", daily_rows(growing), "m0", 14)], spec()).code == \
        "primacy_effect"


def test_the_trend_is_the_least_squares_slope_of_the_daily_effects() -> None:
    """One cohort: the slope is statsmodels' (equally weighted) WLS slope of the daily effects
    on the day, and its standard error statsmodels' cluster-robust one on the unit x day panel
    (an odd window, 9 days, and a lift that rises linearly)."""
    days = 9
    frame = units_frame(np.random.default_rng(8), {"2026-03-01": (1500, 1200, 4.0)}, 0, 0,
                        days=days, lifts=np.linspace(0.0, 0.4, days))
    trend = daily_trend(Daily.from_rows("m", daily_rows(frame, days), "m0", days),
                        "control", "treatment")
    day = [f"d{k}" for k in range(days)]
    means = frame.groupby("variant")[day].mean()
    effects = (means.loc["treatment"] - means.loc["control"]).to_numpy()
    assert [e.diff for e in trend.effects] == pytest.approx(list(effects), rel=1e-9)
    index = sm.add_constant(np.arange(days, dtype=float))
    wls = sm.WLS(effects, index, weights=np.ones(days)).fit()
    assert trend.slope.diff == pytest.approx(float(wls.params[1]), rel=1e-9)
    long = frame.reset_index(names="unit").melt(["unit", "variant"], day, "day", "y")
    long = long.assign(k=long.day.str[1:].astype(float),
                       t=(long.variant == "treatment").astype(float))
    panel = sm.OLS(long.y, sm.add_constant(np.column_stack([long.t, long.k, long.t * long.k])))
    fit = panel.fit(cov_type="cluster", cov_kwds={"groups": long.unit, "use_correction": False})
    assert trend.slope.diff == pytest.approx(float(fit.params.iloc[3]), rel=1e-9)
    # statsmodels' sandwich divides each arm's variance of the contrast by n, ours by n - 1
    n = frame.variant.value_counts()
    shrink = sum(frame[frame.variant == a].z.var(ddof=1) * (n[a] - 1) / n[a] ** 2 for a in ARMS)
    assert float(fit.bse.iloc[3]) == pytest.approx(math.sqrt(shrink), rel=1e-9)
    exact = math.sqrt(sum(frame[frame.variant == a].z.var(ddof=1) / n[a] for a in ARMS))
    assert trend.slope.se == pytest.approx(exact, rel=1e-9)
    assert trend.slope.z > 4  # the rising lift is found


@pytest.mark.slow
def test_the_trend_test_keeps_its_level_without_a_trend() -> None:
    """A/A-style: a constant effect (no trend) on units with persistent levels, over three
    cohorts of unequal mix: the slope's p-values are uniform and about 5% fall below 0.05.
    Treating the days as independent (the per-day variances alone) would be conservative."""
    rng = np.random.default_rng(6)
    p_values, naive = [], []
    for _ in range(400):
        frame = units_frame(rng, {"a": (300, 200, 2.0), "b": (150, 350, 5.0),
                                  "c": (250, 250, 3.0)}, 0.2, 0.2)
        daily = Daily.from_rows("m", daily_rows(frame), "m0", 14)
        check = novelty([daily], spec())
        p_values.append(check.figures["m:treatment"]["p_value"])
        trend = daily_trend(daily, "control", "treatment")
        w = slope_weights(14)
        se = math.sqrt(sum(wk**2 * e.se**2 for wk, e in zip(w, trend.effects, strict=True)))
        naive.append(2 * stats.norm.sf(abs(trend.slope.diff / se)))
    assert stats.kstest(p_values, "uniform").pvalue > 0.001
    assert abs(np.mean(np.array(p_values) < 0.05) - 0.05) < 3 * math.sqrt(0.05 * 0.95 / 400)
    assert np.mean(np.array(naive) < 0.05) < np.mean(np.array(p_values) < 0.05)


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
