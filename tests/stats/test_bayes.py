"""Normal-normal posterior against conjugate formulas and numerical integration."""

from __future__ import annotations

import math

import pytest
from scipy import integrate
from scipy import stats as sps

from assay.stats.bayes import bayes_effect
from assay.stats.codes import ErrorCode
from assay.stats.estimates import ArmEstimate
from assay.stats.tests import compare


def _effect(c: float = 10.0, t: float = 10.4):
    return compare(ArmEstimate(c, 0.04, 1000, math.inf), ArmEstimate(t, 0.05, 1000, math.inf),
                   test="z")


def test_flat_prior_is_the_likelihood() -> None:
    e = _effect()
    b = bayes_effect(e, scale="absolute")
    assert b.posterior_mean == pytest.approx(e.diff, rel=1e-12)
    assert b.posterior_sd == pytest.approx(e.diff_se, rel=1e-12)
    assert b.prob_beat_control == pytest.approx(sps.norm.cdf(e.diff / e.diff_se), rel=1e-12)
    assert b.credible_interval == pytest.approx(e.diff_ci, rel=1e-12)


def test_prior_shrinks_by_precision_weighting() -> None:
    e = _effect()
    b = bayes_effect(e, scale="relative", prior_mean=0.01, prior_sd=0.02)
    prec = 1 / e.rel_lift_se**2 + 1 / 0.02**2
    mean = (e.rel_lift / e.rel_lift_se**2 + 0.01 / 0.02**2) / prec
    assert b.posterior_mean == pytest.approx(mean, rel=1e-12)
    assert b.posterior_sd == pytest.approx(math.sqrt(1 / prec), rel=1e-12)


def test_expected_loss_matches_numerical_integration() -> None:
    b = bayes_effect(_effect(t=10.1), scale="relative", prior_sd=0.05)
    post = sps.norm(b.posterior_mean, b.posterior_sd)
    lo, hi = b.posterior_mean - 12 * b.posterior_sd, b.posterior_mean + 12 * b.posterior_sd
    loss_t = integrate.quad(lambda x: max(0.0, -x) * post.pdf(x), lo, hi, points=[0.0],
                            epsabs=1e-14)[0]
    loss_c = integrate.quad(lambda x: max(0.0, x) * post.pdf(x), lo, hi, points=[0.0],
                            epsabs=1e-14)[0]
    assert b.expected_loss_treatment == pytest.approx(loss_t, rel=1e-7)
    assert b.expected_loss_control == pytest.approx(loss_c, rel=1e-7)
    # E[max(0, x)] - E[max(0, -x)] = E[x]
    assert b.expected_loss_control - b.expected_loss_treatment == pytest.approx(
        b.posterior_mean, rel=1e-9)


def test_zero_control_relative_is_a_code_absolute_works() -> None:
    e = compare(ArmEstimate(0.0, 0.01, 10, 9), ArmEstimate(0.2, 0.01, 10, 9))
    assert bayes_effect(e).error is ErrorCode.CONTROL_MEAN_ZERO
    assert bayes_effect(e, scale="absolute").error is None
