"""Invariants under widely varying inputs (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.stats.estimates import cuped_estimates, mean_estimate, ratio_estimate
from assay.stats.moments import Moments
from assay.stats.multiple import adjust_pvalues
from assay.stats.srm import srm_test
from assay.stats.tests import compare

FAST = settings(max_examples=60, deadline=None)
value = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)
rows = st.lists(st.tuples(value, value), min_size=0, max_size=30)


def _moments(data: list[tuple[float, float]]) -> Moments:
    if not data:
        return Moments.zero(["y", "x"])
    arr = np.array(data)
    return Moments.from_values({"y": arr[:, 0], "x": arr[:, 1]})


def _close(a: Moments, b: Moments) -> bool:
    a = a.recentred(b.shift)  # the same moments may be centred on different constants
    scale = 1.0 + np.abs(b.cross).max(initial=0.0)
    return (a.names == b.names and a.n == b.n
            and np.allclose(a.sums, b.sums, rtol=1e-9, atol=1e-9 * scale)
            and np.allclose(a.cross, b.cross, rtol=1e-9, atol=1e-9 * scale))


@FAST
@given(rows, rows, rows)
def test_merging_is_associative_and_equals_concatenation(a: list, b: list, c: list) -> None:
    ma, mb, mc = _moments(a), _moments(b), _moments(c)
    assert _close((ma + mb) + mc, ma + (mb + mc))
    assert _close(ma + mb + mc, _moments(a + b + c))
    assert _close(ma + mb, mb + ma)


@FAST
@given(st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=40),
       st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=40))
def test_estimate_of_merged_moments_equals_estimate_of_concatenated_data(a: list, b: list) -> None:
    merged = mean_estimate(Moments.from_values({"y": a}) + Moments.from_values({"y": b}))
    direct = mean_estimate(Moments.from_values({"y": a + b}))
    assert math.isclose(merged.point, direct.point, rel_tol=1e-9, abs_tol=1e-9)
    assert math.isclose(merged.variance, direct.variance, rel_tol=1e-7, abs_tol=1e-9)


@FAST
@given(st.lists(st.floats(0.5, 1e3), min_size=3, max_size=40),
       st.lists(st.floats(0.5, 1e3), min_size=3, max_size=40))
def test_swapping_arms_negates_the_difference(a: list, b: list) -> None:
    ea, eb = mean_estimate(Moments.from_values({"y": a})), mean_estimate(
        Moments.from_values({"y": b}))
    ab, ba = compare(ea, eb), compare(eb, ea)
    if ab.error is not None:
        assert ab.error == ba.error
        return
    assert math.isclose(ab.diff, -ba.diff, rel_tol=1e-12, abs_tol=1e-12)
    assert math.isclose(ab.p_value, ba.p_value, rel_tol=1e-9, abs_tol=1e-15)
    assert math.isclose(ab.df, ba.df, rel_tol=1e-12)


@FAST
@given(st.lists(rows.filter(lambda r: len(r) >= 2), min_size=2, max_size=4), st.randoms())
def test_cuped_is_invariant_to_arm_order(arms: list, rnd) -> None:  # type: ignore[no-untyped-def]
    named = {f"arm{i}": _moments(r) for i, r in enumerate(arms)}
    keys = list(named)
    rnd.shuffle(keys)
    first = cuped_estimates(named)
    second = cuped_estimates({k: named[k] for k in keys})
    assert math.isclose(first.theta, second.theta, rel_tol=1e-9, abs_tol=1e-12)
    for k in named:
        p1, p2 = first.estimates[k].point, second.estimates[k].point
        assert (math.isnan(p1) and math.isnan(p2)) or math.isclose(p1, p2, rel_tol=1e-9,
                                                                   abs_tol=1e-6)


@FAST
@given(st.lists(st.tuples(st.integers(0, 10_000), st.floats(0.1, 10)), min_size=2, max_size=6),
       st.randoms())
def test_srm_is_invariant_to_arm_order(arms: list, rnd) -> None:  # type: ignore[no-untyped-def]
    obs, w = zip(*arms, strict=True)
    order = list(range(len(arms)))
    rnd.shuffle(order)
    a = srm_test(obs, w)
    b = srm_test([obs[i] for i in order], [w[i] for i in order])
    if math.isnan(a.statistic):
        assert math.isnan(b.statistic)
        return
    assert math.isclose(a.statistic, b.statistic, rel_tol=1e-9, abs_tol=1e-12)


@FAST
@given(st.lists(st.one_of(st.floats(0, 1), st.just(math.nan)), min_size=1, max_size=30),
       st.sampled_from(["bonferroni", "holm", "bh", "by"]), st.randoms())
def test_adjustment_is_permutation_equivariant_and_monotone(p: list, method: str, rnd) -> None:  # type: ignore[no-untyped-def]
    arr = np.array(p)
    order = np.arange(arr.size)
    rnd.shuffle(order)
    adj = adjust_pvalues(arr, method)  # type: ignore[arg-type]
    np.testing.assert_allclose(adjust_pvalues(arr[order], method)[np.argsort(order)], adj,  # type: ignore[arg-type]
                               rtol=1e-12)
    ok = ~np.isnan(arr)
    assert np.all(adj[ok] >= arr[ok] - 1e-15) and np.all(adj[ok] <= 1.0)
    srt = np.argsort(arr[ok], kind="stable")
    assert np.all(np.diff(adj[ok][srt]) >= -1e-12)


@FAST
@given(st.lists(st.tuples(st.floats(0, 100), st.floats(0.1, 50)), min_size=2, max_size=40))
def test_ratio_of_merged_equals_ratio_of_sums(data: list) -> None:
    arr = np.array(data)
    half = len(data) // 2
    parts = [Moments.from_values({"num": arr[s, 0], "den": arr[s, 1]})
             for s in (slice(0, half), slice(half, None)) if arr[s].size]
    merged = parts[0] if len(parts) == 1 else parts[0] + parts[1]
    est = ratio_estimate(merged)
    assert math.isclose(est.point, arr[:, 0].sum() / arr[:, 1].sum(), rel_tol=1e-9)
