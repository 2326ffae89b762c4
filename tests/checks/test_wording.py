"""A p-value that underflowed is stated as a bound, never as ``p = 0``."""

from __future__ import annotations

from assay.checks.exposure import ExposureCounts, exposure_checks
from assay.checks.wording import p_is
from assay.spec.models import ExperimentSpec


def test_p_is_a_bound_when_it_underflowed() -> None:
    assert p_is(0.0) == "p < 1e-300"
    assert p_is(0.0342) == "p = 0.034"
    assert p_is(3e-12) == "p = 3e-12"


def test_a_gross_srm_does_not_say_p_equals_zero() -> None:
    spec = ExperimentSpec.model_validate({"id": "x", "variants": [
        {"name": "control", "weight": 1, "control": True}, {"name": "treatment", "weight": 1}]})
    units = {"control": 31_000, "treatment": 17_000}
    counts = ExposureCounts(units, dict(units), 0, 0, sum(units.values()), 0, 0)
    srm = next(c for c in exposure_checks(counts, spec) if c.name == "srm")
    assert srm.status == "fail" and srm.figures["p_value"] == 0.0
    assert "(p < 1e-300, below 0.001)" in srm.message and "p = 0" not in srm.message
