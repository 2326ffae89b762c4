"""Small samples: Fisher's exact test for two proportions, chosen below a documented threshold.

The two-proportion z-test leans on the normal approximation, which is poor when a cell of the
2x2 table (converted / not converted x arm) is expected to hold few units. Below
:data:`MIN_EXPECTED` expected units in any cell (Cochran's rule), :func:`small_sample_test`
replaces the p-value by Fisher's exact (conditional) test, two-sided, and names it in
``method``. Fisher's test costs O(n) and stays cheap for rare events in large arms (where
Barnard's or Boschloo's unconditional tests, which maximise over a nuisance parameter on the
whole table, do not). The difference, its Wald interval and the relative lift are unchanged.

References:
    Fisher, R. A. (1935). The logic of inductive inference. JRSS 98(1), 39-82.
    Cochran, W. G. (1954). Some methods for strengthening the common chi-squared tests.
    Biometrics 10(4), 417-451 (expected counts of at least 5).
"""

from __future__ import annotations

from dataclasses import replace

from scipy import stats

from assay.stats.codes import ErrorCode
from assay.stats.moments import Moments
from assay.stats.tests import Effect

MIN_EXPECTED = 5.0
"""Fisher's exact test is used when any expected cell count is below this."""

FISHER = "fisher exact (expected count < 5)"


def expected_counts(n_c: float, s_c: float, n_t: float, s_t: float) -> list[float]:
    """Expected counts of the 2x2 table under independence (pooled rate)."""
    total = n_c + n_t
    rate = (s_c + s_t) / total if total > 0 else 0.0
    return [n_c * rate, n_c * (1 - rate), n_t * rate, n_t * (1 - rate)]


def small_sample_test(effect: Effect, control: Moments, treatment: Moments,
                      var: str = "y") -> Effect:
    """``effect`` (a two-proportion z-test) with Fisher's exact p-value when counts are small.

    Only two-sided tests are switched; an effect with an error other than
    ``control_mean_zero`` (whose difference stands) is returned as is.
    """
    if effect.alternative != "two-sided" or control.n <= 0 or treatment.n <= 0:
        return effect
    if effect.error is not None and effect.error != ErrorCode.CONTROL_MEAN_ZERO:
        return effect
    s_c = round(float(control.totals()[control.index(var)]))
    s_t = round(float(treatment.totals()[treatment.index(var)]))
    n_c, n_t = round(control.n), round(treatment.n)
    if min(expected_counts(n_c, s_c, n_t, s_t)) >= MIN_EXPECTED:
        return effect
    table = [[s_t, n_t - s_t], [s_c, n_c - s_c]]
    p_value = float(stats.fisher_exact(table, alternative="two-sided").pvalue)
    return replace(effect, p_value=p_value, method=FISHER)
