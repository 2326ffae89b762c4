"""The trust checks on the demo: the trap trips every new check, the SRM names Android, the clean
experiments trip none, and a rerun on unchanged data gives identical figures."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from assay.analysis import AnalysisResult, analyze
from assay.demo import DemoInfo, build_demo
from assay.results import Check
from assay.spec import load_project
from assay.store import save_result

pytestmark = pytest.mark.slow

NEW_CHECKS = ("srm_by_dimension", "srm_by_day", "assignment_vs_hash", "stop_criteria",
              "practical_significance", "segment_claims", "simpsons_paradox", "novelty",
              "diluted_exposure", "salt_reuse", "reproducibility")
CLEAN = ("checkout_redesign", "homepage_aa", "search_ranking_3arm")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoInfo, dict[str, AnalysisResult]]:
    out: Path = tmp_path_factory.mktemp("demo-checks")
    info = build_demo(out)
    project = load_project(out)
    return info, {e: analyze(project, e) for e in project.experiments}


def _differences(a: object, b: object, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{path}: keys {sorted(set(a) ^ set(b))}"]
        return [d for k in a for d in _differences(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} != {len(b)} items"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True))
                for d in _differences(x, y, f"{path}[{i}]")]
    if isinstance(a, float) and isinstance(b, float):
        return [] if math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) else [f"{path}: {a} != {b}"]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def check(result: AnalysisResult, name: str) -> Check:
    return next(c for c in result.checks if c.name == name)


def test_clean_experiments_trip_no_new_check(demo) -> None:  # type: ignore[no-untyped-def]
    _, results = demo
    for experiment in (*CLEAN, "pricing_banner_srm"):
        for name in NEW_CHECKS:
            if experiment == "pricing_banner_srm" and name in ("srm_by_dimension", "srm_by_day"):
                continue
            assert check(results[experiment], name).status == "pass", (experiment, name)


def test_the_srm_names_android_as_a_steady_loss(demo) -> None:  # type: ignore[no-untyped-def]
    _, results = demo
    result = results["pricing_banner_srm"]
    where = check(result, "srm_by_dimension")
    assert (where.status, where.code) == ("fail", "srm_segment")
    assert where.figures["off"] == [{"segment": "platform", "value": "android"}]
    assert where.message.startswith("the traffic split is off only in platform = android "
                                    "(control 4")
    assert "exposures of platform = android users in control are being lost" in where.message
    assert where.remedy is not None and "do not decide" in where.remedy
    when = check(result, "srm_by_day")
    assert (when.status, when.code) == ("fail", "constant_imbalance")
    assert "not a ramp change" in when.message


def test_the_trap_trips_every_new_check(demo) -> None:  # type: ignore[no-untyped-def]
    info, results = demo
    result, truth = results["recs_carousel"], info.experiments["recs_carousel"]
    expected = {
        "srm_by_dimension": ("fail", "srm_everywhere", "off in every segment alike"),
        "srm_by_day": ("fail", "ramp_change", "control got 90% of users up to 2026-03-04 and "
                       "50% from 2026-03-05"),
        "assignment_vs_hash": ("fail", "flag_mismatch", f"({truth.flag_mismatched_units:,} "
                               "logged in control whom the hash puts in treatment)"),
        "stop_criteria": ("warn", "ran_past_plan", "the planned 8,000 users were reached on "
                          "2026-03-02, but the experiment kept enrolling for 13 more days"),
        "practical_significance": ("warn", "below_mde", "carousel_views moved +"),
        "segment_claims": ("warn", "segment_overclaim", "for country = JP"),
        "simpsons_paradox": ("fail", "simpson_phase", "carousel_clicks in treatment looks -"),
        "novelty": ("warn", "novelty_effect", "the effect on carousel_clicks in treatment fades "
                    "with time since exposure"),
        "diluted_exposure": ("warn", "diluted_exposure", "55% of exposed users did nothing"),
        "salt_reuse": ("fail", "salt_reuse", "uses the same salt as onboarding_tips"),
    }
    for name, (status, code, words) in expected.items():
        c = check(result, name)
        assert (c.status, c.code) == (status, code), (name, c)
        assert words in c.message, (name, c.message)
        assert c.remedy, name
    partner = check(results["onboarding_tips"], "salt_reuse")
    assert (partner.status, partner.code) == ("fail", "salt_reuse")
    assert "uses the same salt as recs_carousel" in partner.message
    # the pooled clicks comparison is reversed; within exposure days it has the truth's sign
    found = check(result, "simpsons_paradox").figures["found"][0]
    assert found["pooled_rel"] < 0 < truth.effect("treatment", "carousel_clicks")
    assert found["adjusted_rel"] > 0


def test_checks_are_stored_with_the_result_and_a_rerun_is_identical(demo, tmp_path) -> None:  # type: ignore[no-untyped-def]
    info, results = demo
    project = load_project(info.out_dir)
    wh = project.warehouse()
    try:
        first = analyze(project, "checkout_redesign", warehouse=wh)
        save_result(wh, first)
        again = analyze(project, "checkout_redesign", warehouse=wh)
    finally:
        wh.close()
    assert again.fingerprint == first.fingerprint == results["checkout_redesign"].fingerprint
    assert {"spec_hash", "sql_hash", "exposure_rows", "exposure_watermark", "sources",
            "units"} <= set(first.fingerprint)
    assert check(again, "reproducibility").status == "pass"
    strip = {"run_at"}
    a = {k: v for k, v in first.to_dict().items() if k not in strip}
    b = {k: v for k, v in again.to_dict().items() if k not in strip}
    a["checks"] = [c for c in a["checks"] if c["name"] != "reproducibility"]
    b["checks"] = [c for c in b["checks"] if c["name"] != "reproducibility"]
    # DuckDB sums floats in parallel: figures agree to rounding, not always to the last bit
    assert not _differences(a, b)
    stored = next(c for c in first.to_dict()["checks"] if c["name"] == "srm_by_day")
    assert {"name", "status", "message", "figures", "code", "remedy"} <= set(stored)


def test_no_demo_experiment_trips_the_data_coverage_checks(demo) -> None:  # type: ignore[no-untyped-def]
    _, results = demo
    for experiment, result in results.items():
        for name in ("missing_variants", "unit_match", "data_coverage"):
            assert check(result, name).status == "pass", (experiment, check(result, name))
