"""`assay demo`'s analysis recovers the truths its data were built with."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from assay.analysis import AnalysisResult, analyze
from assay.demo import DemoInfo, build_demo
from assay.report import decide
from assay.spec import load_project

pytestmark = pytest.mark.slow

#: Truths stated exactly by the generator whose 95% intervals are checked for calibration.
HEADLINES = (("checkout_redesign", "revenue", "treatment"),
             ("checkout_redesign", "conversion", "treatment"),
             ("search_ranking_3arm", "sessions", "ranker_b"),
             ("search_ranking_3arm", "sessions", "ranker_c"))
COVERAGE_SEEDS = range(1, 21)
COVERAGE_USERS = 6000


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


def test_intervals_are_calibrated_around_the_truths(tmp_path: Path) -> None:
    """A 95% interval is a claim about many realizations, so it is checked over 20 seeds.

    At one seed a correct interval misses its truth with probability 0.05, and whether it does can
    hinge on details that do not touch the estimand: with the default demo (seed 7) ranker_b's
    sessions interval ends at +4.009% for its +4% truth (z = -1.94), and a generator that drew
    the out-of-window rows differently, changing only which of the experiment's 45,000 units get
    its 11 injected duplicate or second-arm rows, put it at +3.996% (a miss). Over 20 seeds
    and 4 headline truths, the standardised errors ``(lift - truth) / se`` (``se`` from the
    interval's half-width) of a calibrated interval have mean ~0 (sd ~0.15 for 80 correlated
    draws) and root mean square ~1 (sd ~0.1): a bias of about one standard error, or intervals
    1.5 times too narrow or too wide, fail this test, where one seed would usually catch neither.
    """
    errors = []
    for seed in COVERAGE_SEEDS:
        info = build_demo(tmp_path / str(seed), seed=seed, users=COVERAGE_USERS)
        project = load_project(info.out_dir)
        results = {e: analyze(project, e) for e in sorted({h[0] for h in HEADLINES})}
        for experiment, metric, variant in HEADLINES:
            r = _result(results, experiment, metric, variant)
            low, high = r.rel_lift_ci
            se = (high - low) / (2 * stats.norm.ppf(1 - results[experiment].alpha / 2))
            errors.append((r.rel_lift - info.experiments[experiment].effect(variant, metric)) / se)
    z = np.asarray(errors)
    assert abs(z.mean()) < 0.5, z.round(2)
    assert 0.7 < np.sqrt(np.mean(z**2)) < 1.4, z.round(2)
