"""The bucket distribution is uniform and independent across salts (chi-square, scipy oracle)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from assay.assign.hashing import BUCKETS, buckets
from assay.assign.hygiene import bucket_independence

N = 1_000_000


@pytest.mark.slow
def test_uniform_over_a_million_ids() -> None:
    b = buckets("uniformity_v1", [f"user-{i}" for i in range(N)])
    counts = np.bincount(b, minlength=BUCKETS)
    result = stats.chisquare(counts)  # H0: every bucket has probability 1 / 10000
    assert result.pvalue > 1e-3
    # and coarser: 100 bins of 100 buckets
    assert stats.chisquare(counts.reshape(100, 100).sum(axis=1)).pvalue > 1e-3


def test_uniform_over_numeric_ids() -> None:
    # sequential integer ids are the classic trap for weak hashes
    b = buckets("numeric", list(range(200_000)))
    assert stats.chisquare(np.bincount(b // 100, minlength=100)).pvalue > 1e-3


def test_independent_across_salts() -> None:
    ids = [f"user-{i}" for i in range(200_000)]
    first, second = buckets("exp_a", ids), buckets("exp_b", ids)
    _, p_value, df = bucket_independence(first * 20 // BUCKETS, second * 20 // BUCKETS, bins=20)
    assert df == 19 * 19
    assert p_value > 1e-3
    # the test has power: one salt against a shifted copy of itself is flagged
    _, p_same, _ = bucket_independence(first * 20 // BUCKETS, (first * 20 // BUCKETS + 3) % 20,
                                       bins=20)
    assert p_same < 1e-100


def test_variant_split_independent_of_traffic_hash() -> None:
    ids = [f"user-{i}" for i in range(100_000)]
    variant = buckets("exp", ids) * 10 // BUCKETS
    traffic = buckets("exp:traffic", ids) * 10 // BUCKETS
    assert bucket_independence(variant, traffic)[1] > 1e-3
