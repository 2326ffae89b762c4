"""The scipy.stats-free normal distribution, against scipy.stats.norm."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from scipy import stats

from assay.stats import normal


def test_same_numbers_as_scipy_stats_norm() -> None:
    x = np.linspace(-40.0, 40.0, 20_001)
    q = np.linspace(1e-12, 1.0 - 1e-12, 20_001)
    np.testing.assert_array_equal(normal.cdf(x), stats.norm.cdf(x))
    np.testing.assert_array_equal(normal.sf(x), stats.norm.sf(x))
    np.testing.assert_array_equal(normal.pdf(x), stats.norm.pdf(x))
    np.testing.assert_array_equal(normal.ppf(q), stats.norm.ppf(q))
    # The upper tail is computed directly, not as 1 - cdf (which is exactly 0 out here).
    assert 1.0 - float(normal.cdf(30.0)) == 0.0
    assert float(normal.sf(30.0)) > 0.0


def test_readouts_and_planning_do_not_import_scipy_stats() -> None:
    code = (
        "import sys, assay.stats.bayes, assay.stats.group_sequential, assay.stats.planning; "
        "print('scipy.stats' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
