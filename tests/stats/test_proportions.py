"""Two-proportion z-test against statsmodels."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from assay.stats.codes import ErrorCode
from assay.stats.moments import Moments
from assay.stats.tests import proportion_test

REL = 1e-9
SM_ALT = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}


def _arm(n: int, k: int) -> Moments:
    return Moments.from_values({"y": np.r_[np.ones(k), np.zeros(n - k)]})


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
@pytest.mark.parametrize("margin", [0.0, -0.01, 0.02])
def test_matches_statsmodels(alternative: str, margin: float) -> None:
    n_c, k_c, n_t, k_t = 5000, 500, 5200, 580
    effect = proportion_test(_arm(n_c, k_c), _arm(n_t, k_t), alternative=alternative,  # type: ignore[arg-type]
                             margin=margin)
    stat, p = proportions_ztest([k_t, k_c], [n_t, n_c], value=margin,
                                alternative=SM_ALT[alternative])
    assert effect.statistic == pytest.approx(stat, rel=REL)
    assert effect.p_value == pytest.approx(p, rel=REL)
    # statsmodels' Wald interval is two-sided; a one-sided bound at alpha is its 2*alpha end.
    level = 0.05 if alternative == "two-sided" else 0.10
    lo, hi = confint_proportions_2indep(k_t, n_t, k_c, n_c, method="wald", compare="diff",
                                        alpha=level)
    if alternative != "less":
        assert effect.diff_ci[0] == pytest.approx(lo, rel=REL)
    if alternative != "greater":
        assert effect.diff_ci[1] == pytest.approx(hi, rel=REL)
    assert effect.diff == pytest.approx(k_t / n_t - k_c / n_c, rel=REL)


def test_rel_lift_uses_unpooled_variances() -> None:
    effect = proportion_test(_arm(1000, 100), _arm(1000, 120))
    pc, pt = 0.1, 0.12
    se = math.sqrt(pt * (1 - pt) / 1000 / pc**2 + pt**2 * pc * (1 - pc) / 1000 / pc**4)
    assert effect.rel_lift == pytest.approx(0.2, rel=REL)
    assert effect.rel_lift_se == pytest.approx(se, rel=REL)


def test_codes() -> None:
    assert proportion_test(Moments.zero(["y"]), _arm(10, 1)).error is ErrorCode.ZERO_UNITS
    all_zero = proportion_test(_arm(100, 0), _arm(100, 0))
    assert all_zero.error is ErrorCode.ZERO_VARIANCE and math.isnan(all_zero.p_value)
    bad = Moments.from_values({"y": [2.0, 3.0]})
    assert proportion_test(bad, _arm(10, 1)).error is ErrorCode.INVALID_PROPORTION
