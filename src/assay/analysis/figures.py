"""The per-arm figures a result was built from, so that its verdict can be recomputed.

For every arm of a comparison: the units, the observed mean and per-unit variance (for a ratio:
the numerator's and denominator's means, variances and covariance), and the point and variance
of the estimate the test compared (CUPED-adjusted when CUPED is on). With the result's
``statistic``, ``df`` and ``cuped_theta`` that is everything the test used.
"""

from __future__ import annotations

from assay.metrics.plan import MetricPlan
from assay.stats.estimates import ArmEstimate
from assay.stats.moments import Moments


def arm_figures(metric: MetricPlan, moments: Moments, tested: ArmEstimate) -> dict[str, float]:
    """One arm's figures (NaN where undefined: an empty arm, a single unit)."""
    figures: dict[str, float] = {"n": float(moments.n)}
    cov = moments.covariance()
    if metric.metric.kind == "ratio":
        i, j = moments.index("num"), moments.index("den")
        figures |= {
            "numerator_mean": moments.mean("num"),
            "denominator_mean": moments.mean("den"),
            "numerator_variance": float(cov[i, i]),
            "denominator_variance": float(cov[j, j]),
            "covariance": float(cov[i, j]),
        }
    else:
        figures |= {"mean": moments.mean("y"), "variance": moments.variance("y")}
        if "x" in moments.names:
            i, j = moments.index("y"), moments.index("x")
            figures |= {"covariate_mean": moments.mean("x"),
                        "covariate_variance": float(cov[j, j]), "covariance": float(cov[i, j])}
    figures |= {"estimate": tested.point, "estimate_variance": tested.variance,
                "estimate_df": tested.df}
    return figures
