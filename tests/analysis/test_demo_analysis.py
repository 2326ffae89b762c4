"""`assay demo`'s analysis recovers the truths its data were built with."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.analysis import AnalysisResult, analyze
from assay.demo import DemoInfo, build_demo
from assay.report import decide
from assay.spec import load_project

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoInfo, dict[str, AnalysisResult]]:
    out: Path = tmp_path_factory.mktemp("demo")
    info = build_demo(out)
    project = load_project(out)
    return info, {e: analyze(project, e) for e in project.experiments}


def _result(results: dict[str, AnalysisResult], experiment: str, metric: str, variant: str):  # type: ignore[no-untyped-def]
    return next(
        r for r in results[experiment].results if r.metric == metric and r.variant == variant
    )


def test_real_effect_is_found_and_its_interval_covers_the_truth(demo) -> None:  # type: ignore[no-untyped-def]
    info, results = demo
    truth = info.experiments["checkout_redesign"]
    for metric in ("revenue", "conversion"):
        r = _result(results, "checkout_redesign", metric, "treatment")
        assert r.significant and r.rel_lift > 0
        low, high = r.rel_lift_ci
        assert low <= truth.effect("treatment", metric) <= high
    assert decide(results["checkout_redesign"]).verdict == "ship"


def test_aa_test_finds_nothing(demo) -> None:  # type: ignore[no-untyped-def]
    _, results = demo
    assert not any(r.significant for r in results["homepage_aa"].results)
    assert decide(results["homepage_aa"]).verdict == "inconclusive"


def test_srm_is_caught_and_blocks_the_decision(demo) -> None:  # type: ignore[no-untyped-def]
    _, results = demo
    srm = next(c for c in results["pricing_banner_srm"].checks if c.name == "srm")
    assert srm.status == "fail"
    assert decide(results["pricing_banner_srm"]).verdict == "untrustworthy"


def test_three_arms_each_against_control(demo) -> None:  # type: ignore[no-untyped-def]
    info, results = demo
    truth = info.experiments["search_ranking_3arm"]
    arms = {r.variant for r in results["search_ranking_3arm"].results}
    assert arms == set(truth.variants[1:])
    for variant in truth.variants[1:]:
        r = _result(results, "search_ranking_3arm", "sessions", variant)
        low, high = r.rel_lift_ci
        assert low <= truth.effect(variant, "sessions") <= high
        assert r.significant == (truth.effect(variant, "sessions") != 0)
