"""The verdict of an A/A replay: is the false-positive rate within simulation error of alpha?"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from assay.results import Check

#: Below this binomial p-value the observed false-positive rate is not simulation error.
REPLAY_FAIL_P = 0.001


def replay_verdict(p_values: NDArray[np.float64], alpha: float, metric: str,
                   cluster: str | None = None) -> Check:
    """Binomial test of the share of splits with ``p <= alpha`` against ``alpha``, and a
    Kolmogorov-Smirnov test of the p-values against the uniform distribution.

    The splits are independent re-randomisations of the same units (one salt each), so the
    count of false positives is Binomial(splits, alpha) when the test is valid.

    References:
        Kohavi, Tang, Xu, "Trustworthy Online Controlled Experiments" (2020), ch. 19 (A/A tests:
        the p-values of many A/A splits should be uniform).
    """
    tested = p_values[~np.isnan(p_values)]
    name = "aa_replay"
    if tested.size == 0:
        return Check(name, "fail", f"no A/A split of {metric} could be tested", {},
                     code="no_splits", remedy="check the period and the population have units")
    hits = int((tested <= alpha).sum())  # the one significance rule (stats.multiple)
    rate = hits / tested.size
    binom = stats.binomtest(hits, tested.size, alpha)
    low, high = binom.proportion_ci(0.95, method="wilson")
    ks = float(stats.kstest(tested, "uniform").pvalue)
    deciles = np.histogram(tested, bins=10, range=(0, 1))[0].tolist()
    figures = {"splits": int(tested.size), "false_positives": hits, "rate": rate,
               "rate_ci": (float(low), float(high)), "binomial_p_value": float(binom.pvalue),
               "ks_p_value": ks, "p_value_deciles": deciles}
    how = f" with units hashed by {cluster}" if cluster else ""
    said = (f"{hits} of {tested.size} A/A splits of {metric}{how} were significant at "
            f"{alpha:g}: a false-positive rate of {rate:.1%} (95% CI {low:.1%} to {high:.1%})")
    if binom.pvalue < REPLAY_FAIL_P and rate > alpha:
        return Check(
            name, "fail",
            f"{said}, well above the {alpha:.0%} a valid test gives: on this data the test "
            f"calls {rate / alpha:.1f}x too many differences significant",
            figures, code="inflated",
            remedy="analyse at the level units are randomised at (one row per cluster), or "
                   "cap/transform the metric if it is heavy-tailed, before trusting its p-values")
    if binom.pvalue < REPLAY_FAIL_P:
        return Check(name, "warn", f"{said}, well below {alpha:.0%}: the test is conservative "
                     "on this data and misses real effects", figures, code="deflated",
                     remedy="check the metric's variance estimate (CUPED covariate, ratio "
                            "denominator)")
    return Check(name, "pass", f"{said}: within simulation error of {alpha:.0%}", figures)
