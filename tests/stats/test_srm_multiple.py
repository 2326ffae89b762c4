"""SRM chi-square and p-value adjustments against scipy / statsmodels."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from assay.stats.codes import ErrorCode
from assay.stats.multiple import adjust_pvalues
from assay.stats.srm import srm_test

REL = 1e-9


@pytest.mark.parametrize(
    ("observed", "weights"),
    [([5000, 5210], [1, 1]), ([1000, 2100, 2950], [0.2, 0.4, 0.4]), ([10, 0, 3, 7], [1, 1, 1, 1])],
)
def test_srm_matches_scipy(observed: list[float], weights: list[float]) -> None:
    res = srm_test(observed, weights)
    w = np.asarray(weights, dtype=float)
    expected = sum(observed) * w / w.sum()
    ref = sps.chisquare(observed, expected)
    assert res.statistic == pytest.approx(ref.statistic, rel=REL)
    assert res.p_value == pytest.approx(ref.pvalue, rel=REL)
    assert res.df == len(observed) - 1
    assert res.expected == pytest.approx(tuple(expected), rel=REL)


def test_srm_no_data_and_bad_weights() -> None:
    res = srm_test([0, 0], [1, 1])
    assert res.error is ErrorCode.NO_DATA and math.isnan(res.p_value)
    with pytest.raises(ValueError):
        srm_test([1, 2], [1, 0])
    with pytest.raises(ValueError):
        srm_test([1, 2, 3], [1, 1])


SM = {"bonferroni": "bonferroni", "holm": "holm", "bh": "fdr_bh", "by": "fdr_by"}


@pytest.mark.parametrize("method", list(SM))
@pytest.mark.parametrize("seed", range(5))
def test_adjust_matches_statsmodels(method: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = np.concatenate([rng.uniform(0, 0.05, 7), rng.uniform(0, 1, 20), [0.01, 0.01, 1.0]])
    rng.shuffle(p)
    got = adjust_pvalues(p, method)  # type: ignore[arg-type]
    ref = multipletests(p, method=SM[method])[1]
    np.testing.assert_allclose(got, ref, rtol=REL)


@pytest.mark.parametrize("method", list(SM))
def test_nan_is_outside_the_family(method: str) -> None:
    p = np.array([0.01, np.nan, 0.04, 0.03, np.nan])
    got = adjust_pvalues(p, method)  # type: ignore[arg-type]
    assert np.isnan(got[[1, 4]]).all()
    ref = multipletests(p[[0, 2, 3]], method=SM[method])[1]
    np.testing.assert_allclose(got[[0, 2, 3]], ref, rtol=REL)


def test_none_and_empty() -> None:
    p = [0.2, 0.01]
    np.testing.assert_array_equal(adjust_pvalues(p, "none"), p)
    assert adjust_pvalues([np.nan], "holm").shape == (1,)
    with pytest.raises(ValueError):
        adjust_pvalues([0.1], "sidak")  # type: ignore[arg-type]
