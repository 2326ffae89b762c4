"""Bayesian read-out: a normal-normal model on the lift.

The likelihood of the lift is normal around its estimate with the delta-method (or plain)
standard error; the prior is normal (or flat). The posterior gives the probability that the
treatment beats control, an equal-tailed credible interval and the expected loss of each choice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from assay.stats import normal
from assay.stats.codes import ErrorCode
from assay.stats.moments import FloatArray
from assay.stats.tests import Effect

Scale = Literal["relative", "absolute"]


@dataclass(frozen=True)
class BayesResult:
    """Posterior summary of the lift.

    Attributes:
        scale: ``"relative"`` (``t / c - 1``) or ``"absolute"`` (``t - c``).
        posterior_mean: Mean of the posterior of the lift.
        posterior_sd: Standard deviation of the posterior.
        prob_beat_control: ``P(lift > 0 | data)``.
        credible_interval: Equal-tailed interval at level ``1 - alpha``.
        expected_loss_treatment: ``E[max(0, -lift)]``: what shipping treatment costs if wrong.
        expected_loss_control: ``E[max(0, lift)]``: what keeping control costs if wrong.
        error: Why the posterior could not be computed (numbers NaN): the effect's error, or
            ``ZERO_VARIANCE``.
    """

    scale: str
    posterior_mean: float
    posterior_sd: float
    prob_beat_control: float
    credible_interval: tuple[float, float]
    expected_loss_treatment: float
    expected_loss_control: float
    error: ErrorCode | None = None


def posterior_arrays(
    estimate: FloatArray | float,
    se: FloatArray | float,
    *,
    prior_mean: float = 0.0,
    prior_sd: float | None = None,
    alpha: float = 0.05,
) -> dict[str, FloatArray]:
    """Vectorised normal-normal posterior (see :func:`bayes_effect`).

    References:
        Gelman, A. et al. (2013). Bayesian Data Analysis, 3rd ed., section 2.5 (normal data with
        known variance: posterior precision is the sum of precisions, eq. 2.12).
        Stucchio, C. (2015). Bayesian A/B testing at VWO, section 3 (expected loss).
    """
    est = np.asarray(estimate, dtype=np.float64)
    prec = 1.0 / np.asarray(se, dtype=np.float64) ** 2
    if prior_sd is None:
        mean, var = est, 1.0 / prec
    else:
        prior_prec = 1.0 / prior_sd**2
        var = 1.0 / (prec + prior_prec)
        mean = (est * prec + prior_mean * prior_prec) * var
    sd = np.sqrt(var)
    z = normal.ppf(1.0 - alpha / 2.0)
    ratio = mean / sd
    pdf, cdf = normal.pdf(ratio), normal.cdf(ratio)
    return {
        "mean": mean, "sd": sd, "prob": cdf, "lo": mean - z * sd, "hi": mean + z * sd,
        "loss_treatment": sd * pdf - mean * (1.0 - cdf),
        "loss_control": sd * pdf + mean * cdf,
    }


def bayes_effect(
    effect: Effect,
    *,
    scale: Scale = "relative",
    prior_mean: float = 0.0,
    prior_sd: float | None = None,
    alpha: float = 0.05,
) -> BayesResult:
    """Posterior of the lift under a normal likelihood and an optional normal prior.

    Args:
        effect: A frequentist effect (its point and standard error are the likelihood).
        scale: Lift on the relative or absolute scale.
        prior_mean: Prior mean of the lift (same scale).
        prior_sd: Prior standard deviation; None for a flat prior (posterior = likelihood).
        alpha: ``1 - alpha`` is the credible level.

    Returns:
        The posterior summary; ``error`` set (numbers NaN) when the effect has no estimate on
        that scale (e.g. relative lift with a zero control mean).

    References:
        Gelman et al. (2013), BDA3, eq. (2.12); Deng, A. (2015). Objective Bayesian two sample
        hypothesis testing for online controlled experiments. WWW 2015 companion.
    """
    point, se = (effect.rel_lift, effect.rel_lift_se) if scale == "relative" else (
        effect.diff, effect.diff_se)
    if not (np.isfinite(point) and se > 0):
        nan = math.nan
        return BayesResult(scale, nan, nan, nan, (nan, nan), nan, nan,
                           effect.error or ErrorCode.ZERO_VARIANCE)
    post = posterior_arrays(point, se, prior_mean=prior_mean, prior_sd=prior_sd, alpha=alpha)
    v = {k: float(a) for k, a in post.items()}
    return BayesResult(scale, v["mean"], v["sd"], v["prob"], (v["lo"], v["hi"]),
                       v["loss_treatment"], v["loss_control"])
