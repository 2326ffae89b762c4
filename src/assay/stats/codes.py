"""Data-problem codes carried inside results.

A data problem (an empty arm, a constant metric, a zero denominator) never raises: the estimate or
effect it touches carries one of these codes and NaN numbers, so one bad metric never sinks a
40-metric report. Bugs and bad specs remain exceptions (:mod:`assay.errors`).
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Why a statistical result could not be computed (or was computed only in part)."""

    ZERO_UNITS = "zero_units"
    """An arm has no units at all."""
    TOO_FEW_UNITS = "too_few_units"
    """An arm has fewer units than the method needs (``n < 2`` for a sample variance)."""
    ZERO_VARIANCE = "zero_variance"
    """The standard error of the comparison is zero: every unit has the same value."""
    NON_FINITE = "non_finite"
    """An arm's estimate or its variance is NaN or infinite: the metric's values hold NaN or
    infinity (a float column with NaN, a division by zero in ``value``), not a constant."""
    DENOMINATOR_ZERO = "denominator_zero"
    """The denominator of a ratio metric sums to zero in an arm."""
    CONTROL_MEAN_ZERO = "control_mean_zero"
    """The control point is zero: relative lift is undefined (the absolute difference stands)."""
    INVALID_PROPORTION = "invalid_proportion"
    """A proportion test got a metric whose mean is outside [0, 1]."""
    NO_DATA = "no_data"
    """A test over several groups (e.g. SRM) got no observations at all."""


def difference_stands(error: str | None) -> bool:
    """Whether a comparison's difference, test and interval are valid despite ``error``.

    Only ``CONTROL_MEAN_ZERO`` leaves them valid (the relative lift alone is undefined): such a
    comparison can be significant and has an adjusted difference interval.
    """
    return error is None or error == ErrorCode.CONTROL_MEAN_ZERO
