"""``compute.adjust`` over families of any shape: intervals and verdicts agree as documented.

The integration test (``test_adjusted_intervals.py``) checks numbers against scipy on one
dataset; this one checks the duality between the adjusted interval and ``significant`` over
many random families, including p-values between the BH interval level and ``alpha`` that one
dataset may not contain.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests

from assay.analysis.compute import Comparison, adjust
from assay.results import MetricResult
from assay.stats.estimates import ArmEstimate
from assay.stats.tests import Effect, compare

ALPHA = 0.05


def _comparison(effect: Effect) -> Comparison:
    result = MetricResult(
        metric="m", role="secondary", kind="mean", variant="t", control="c",
        n_control=50, n_treatment=50, mean_control=1.0, mean_treatment=1.0 + effect.diff,
        diff=effect.diff, diff_se=effect.diff_se, diff_ci=effect.diff_ci,
        rel_lift=effect.rel_lift, rel_lift_ci=effect.rel_lift_ci, p_value=effect.p_value,
        p_value_adjusted=effect.p_value, significant=False, method=effect.method,
        cuped_variance_reduction=None, error=None if effect.error is None else str(effect.error),
    )
    return Comparison(result, effect)


cells = st.tuples(
    st.floats(-1.0, 1.0),  # treatment shift
    st.floats(0.001, 0.05),  # treatment variance of the mean
    st.integers(3, 200),  # units per arm - 1 (Welch df)
)


def _family(draws: list[tuple[float, float, int]], test: str) -> list[Comparison]:
    return [
        _comparison(compare(ArmEstimate(1.0, 0.01, df + 1, df), ArmEstimate(1.0 + d, v, df + 1, df),
                            alpha=ALPHA, test=test))  # type: ignore[arg-type]
        for d, v, df in draws
    ]


def _excludes(bounds: tuple[float, float] | None) -> bool:
    assert bounds is not None
    return bounds[0] > 0 or bounds[1] < 0


def _tie(p: float, level: float) -> bool:
    return math.isclose(p, level, rel_tol=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.lists(cells, min_size=1, max_size=25), st.sampled_from(["welch", "z"]))
def test_bonferroni_bh_by_intervals_exclude_zero_exactly_for_rejections(
    draws: list[tuple[float, float, int]], test: str
) -> None:
    family = _family(draws, test)
    p = np.array([c.effect.p_value for c in family])
    m = p.size
    for method, sm in (("bonferroni", "bonferroni"), ("bh", "fdr_bh"), ("by", "fdr_by")):
        out = adjust(family, method, ALPHA)
        rejected = multipletests(p, alpha=ALPHA, method=sm)[0]
        c_m = float(np.sum(1.0 / np.arange(1, m + 1))) if method == "by" else 1.0
        level = ALPHA / m if method == "bonferroni" else max(rejected.sum(), 1) * ALPHA / (m * c_m)
        for r, p_i, rej in zip(out, p, rejected, strict=True):
            if _tie(p_i, level) or _tie(r.p_value_adjusted, ALPHA):
                continue
            assert _excludes(r.diff_ci_adjusted) == r.significant == bool(rej), (method, p_i)


@settings(max_examples=60, deadline=None)
@given(st.lists(cells, min_size=1, max_size=25))
def test_holm_intervals_are_bonferronis_and_never_contradict_a_rejection(
    draws: list[tuple[float, float, int]],
) -> None:
    family = _family(draws, "welch")
    holm, bonferroni = adjust(family, "holm", ALPHA), adjust(family, "bonferroni", ALPHA)
    for h, b in zip(holm, bonferroni, strict=True):
        assert h.diff_ci_adjusted == b.diff_ci_adjusted
        assert h.rel_lift_ci_adjusted == b.rel_lift_ci_adjusted
        if _excludes(h.diff_ci_adjusted):
            assert h.significant


@settings(max_examples=30, deadline=None)
@given(st.lists(cells, min_size=1, max_size=10))
def test_no_correction_reports_the_unadjusted_intervals(
    draws: list[tuple[float, float, int]],
) -> None:
    for r in adjust(_family(draws, "welch"), "none", ALPHA):
        assert r.diff_ci_adjusted == r.diff_ci and r.rel_lift_ci_adjusted == r.rel_lift_ci
