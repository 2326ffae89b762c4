"""One significance rule, and data codes that leave the difference standing (regressions)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from statsmodels.stats.proportion import proportions_ztest
from tests.analysis.test_adjust_family import _comparison

from assay.analysis.compute import adjust
from assay.analysis.readouts import sequential_significance
from assay.checks.results import result_checks
from assay.spec.models import ExperimentSpec
from assay.stats.codes import ErrorCode
from assay.stats.moments import Moments
from assay.stats.multiple import significant
from assay.stats.tests import proportion_test


def _converted(successes: int, n: int) -> Moments:
    return Moments.from_values({"y": [1.0] * successes + [0.0] * (n - successes)})


def test_zero_control_conversions_still_give_a_significant_difference() -> None:
    """0/300 vs 7/300: p = 0.0078 and a Wald interval; only the relative lift is undefined."""
    effect = proportion_test(_converted(0, 300), _converted(7, 300))
    assert effect.error is ErrorCode.CONTROL_MEAN_ZERO
    _, p = proportions_ztest([7, 0], [300, 300])
    assert effect.p_value == pytest.approx(p, rel=1e-9) and effect.p_value < 0.01
    [result] = adjust([_comparison(effect)], "holm", 0.05)
    assert result.significant
    assert result.diff_ci_adjusted == pytest.approx(effect.diff_ci)
    assert result.rel_lift_ci_adjusted is None


def test_other_codes_are_never_significant() -> None:
    effect = proportion_test(_converted(0, 300), _converted(0, 300))
    assert effect.error is ErrorCode.ZERO_VARIANCE
    [result] = adjust([_comparison(effect)], "none", 0.05)
    assert not result.significant and result.diff_ci_adjusted is None


def test_a_p_value_equal_to_alpha_is_significant_fixed_horizon_and_sequential() -> None:
    effect = proportion_test(_converted(30, 300), _converted(45, 300))
    at_alpha = replace(effect, p_value=0.05)
    [fixed] = adjust([_comparison(at_alpha)], "none", 0.05)
    assert fixed.significant and significant(0.05, 0.05) and not significant(0.0500001, 0.05)
    experiment = ExperimentSpec.model_validate({
        "id": "e", "variants": [{"name": "a", "weight": 1}, {"name": "b", "weight": 1}],
        "sequential": {"method": "msprt"}, "correction": "none",
    })
    [sequential] = sequential_significance([replace(fixed, sequential_p_value=0.05)], experiment)
    assert sequential.significant


def test_metric_errors_says_only_the_relative_lift_is_undefined_at_control_mean_zero() -> None:
    effect = proportion_test(_converted(0, 300), _converted(7, 300))
    [result] = adjust([_comparison(effect)], "holm", 0.05)
    [check] = [c for c in result_checks([result], _experiment(), 600, [])
               if c.name == "metric_errors"]
    assert "could not be computed" not in check.message
    assert "relative lift is undefined" in check.message and "stand" in check.message
    assert check.figures["metrics"] == {f"{result.metric}:{result.variant}": "control_mean_zero"}


def test_metric_errors_still_names_comparisons_that_could_not_be_computed() -> None:
    broken = proportion_test(_converted(0, 300), _converted(0, 300))
    zero = proportion_test(_converted(0, 300), _converted(7, 300))
    results = adjust([_comparison(broken), _comparison(zero)], "none", 0.05)
    [check] = [c for c in result_checks(results, _experiment(), 600, [])
               if c.name == "metric_errors"]
    assert check.status == "warn"
    assert "could not be computed" in check.message and "zero_variance" in check.message
    assert "relative lift is undefined" in check.message


def _experiment() -> ExperimentSpec:
    return ExperimentSpec.model_validate(
        {"id": "e", "variants": [{"name": "a", "weight": 1}, {"name": "b", "weight": 1}]}
    )
