"""The traffic checks as pure functions, against scipy on the same counts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from assay.checks.traffic import (
    Traffic,
    assignment_matches_hash,
    srm_by_day,
    srm_by_dimension,
    stop_criteria,
)
from assay.spec.models import ExperimentSpec


def spec(**extra: object) -> ExperimentSpec:
    return ExperimentSpec.model_validate({
        "id": "x", "variants": [{"name": "control", "weight": 1, "control": True},
                                {"name": "treatment", "weight": 1}],
        "start": "2026-03-01", "end": "2026-03-14", "segments": ["platform"], **extra})


def days(control: list[int], treatment: list[int]) -> dict[str, dict[str, int]]:
    return {f"2026-03-{i + 1:02d}": {"control": c, "treatment": t}
            for i, (c, t) in enumerate(zip(control, treatment, strict=True))}


def test_a_fair_split_passes_everywhere() -> None:
    rng = np.random.default_rng(1)
    n = rng.integers(900, 1100, size=10)
    c = rng.binomial(n, 0.5)
    traffic = Traffic(days=days(list(c), list(n - c)),
                      segments={"platform": {"ios": {"control": 5010, "treatment": 4990},
                                             "android": {"control": 3020, "treatment": 2980}}})
    assert srm_by_dimension(traffic, spec()).status == "pass"
    assert srm_by_day(traffic, spec()).status == "pass"


def test_a_loss_in_one_segment_is_named_with_holm_adjusted_p() -> None:
    segments = {"platform": {"ios": {"control": 5000, "treatment": 5000},
                             "android": {"control": 2700, "treatment": 3300},
                             "web": {"control": 1000, "treatment": 1010}}}
    check = srm_by_dimension(Traffic(segments=segments), spec())
    assert (check.status, check.code) == ("fail", "srm_segment")
    assert "off only in platform = android (control 45.0% of its users vs 50% intended" in \
        check.message
    assert "users in control are being lost" in check.message and "android" in str(check.remedy)
    raw = [stats.chisquare([c["control"], c["treatment"]]).pvalue
           for c in segments["platform"].values()]
    holm = sorted(raw)
    android = min(1.0, 3 * holm[0])  # the smallest of three raw p-values, times 3
    cell = next(c for c in check.figures["cells"] if c["value"] == "android")
    assert cell["p_value_adjusted"] == pytest.approx(android, rel=1e-9)


def test_the_same_gap_in_every_segment_is_not_blamed_on_one() -> None:
    segments = {"platform": {"ios": {"control": 6000, "treatment": 4000},
                             "android": {"control": 6100, "treatment": 3900}}}
    check = srm_by_dimension(Traffic(segments=segments), spec())
    assert (check.status, check.code) == ("fail", "srm_everywhere")
    assert "off in every segment alike" in check.message


def test_no_segments_says_how_to_get_them() -> None:
    check = srm_by_dimension(Traffic(), spec(segments=[]))
    assert check.code == "no_segments" and "segments:" in str(check.remedy)


def test_a_ramp_is_told_apart_from_a_constant_loss() -> None:
    ramp = Traffic(days=days([900, 910, 890, 500, 505, 495, 500], [100, 90, 110, 500, 495, 505,
                                                                     500]))
    check = srm_by_day(ramp, spec())
    assert (check.status, check.code) == ("fail", "ramp_change")
    assert check.figures["change_day"] == "2026-03-04"
    assert "control got 90% of users up to 2026-03-03 and 50% from 2026-03-04" in check.message
    assert "start: 2026-03-04" in str(check.remedy)
    table = np.array([[900, 100], [910, 90], [890, 110], [500, 500], [505, 495], [495, 505],
                      [500, 500]])
    assert check.figures["p_value_change"] == pytest.approx(
        stats.chi2_contingency(table, correction=False)[1], rel=1e-9, abs=1e-300)

    steady = Traffic(days=days([480] * 10, [520] * 10))
    check = srm_by_day(steady, spec())
    assert (check.status, check.code) == ("fail", "constant_imbalance")
    assert "off by the same amount every day (control 48.0% vs 50% intended" in check.message


def test_logged_arms_that_differ_from_the_hash_fail() -> None:
    good = Traffic(assignment={(True, "control", "control"): 5000,
                               (True, "treatment", "treatment"): 5000})
    assert assignment_matches_hash(good, spec()).status == "pass"
    bad = Traffic(assignment={(True, "control", "control"): 5000,
                              (True, "treatment", "treatment"): 4000,
                              (True, "treatment", "control"): 1000})
    check = assignment_matches_hash(bad, spec())
    assert (check.status, check.code) == ("fail", "flag_mismatch")
    assert check.message.startswith("10.0% of exposed users (1,000) were logged in a different "
                                    "arm than assay's hash assigns them (1,000 logged in control "
                                    "whom the hash puts in treatment)")
    elsewhere = Traffic(assignment={(True, "control", "control"): 2500,
                                    (True, "control", "treatment"): 2510,
                                    (True, "treatment", "control"): 2490,
                                    (True, "treatment", "treatment"): 2500})
    check = assignment_matches_hash(elsewhere, spec())
    assert (check.status, check.code) == ("pass", "not_hash_assigned")
    assert "assigned by another system" in check.message
    stray = Traffic(assignment={(True, "control", "control"): 10000, (False, "control",
                                                                     "control"): 3})
    check = assignment_matches_hash(stray, spec())
    assert check.status == "warn" and "traffic gate keeps out" in check.message


def test_running_far_past_the_plan_without_a_decision_warns() -> None:
    traffic = Traffic(days=days([500] * 14, [500] * 14))
    over = stop_criteria(traffic, spec(planned_sample_size=2000), decided=False)
    assert (over.status, over.code) == ("warn", "ran_past_plan")
    assert over.message.startswith("the planned 2,000 users were reached on 2026-03-02, but the "
                                   "experiment kept enrolling for 12 more days (14,000 users)")
    assert stop_criteria(traffic, spec(planned_sample_size=2000), decided=True).status == "pass"
    # reached on day 12 of 14: two more days is not an overrun
    assert stop_criteria(traffic, spec(planned_sample_size=12000), decided=False).status == \
        "pass"


def test_exposures_long_after_the_end_warn() -> None:
    late = Traffic(rows_by_day={"2026-03-01": 10, "2026-03-25": 3})
    check = stop_criteria(late, spec(), decided=False)
    assert (check.status, check.code) == ("warn", "running_past_end")
    assert "still logged 11 days after the planned end (2026-03-14)" in check.message
