"""The OpenFeature provider, through the real OpenFeature SDK."""

from __future__ import annotations

import doctest

import pytest
from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

import assay.openfeature
from assay.assign.flags import FlagSpec
from assay.client import Client
from assay.exposure import ExposureLogger, ListSink
from assay.openfeature import AssayProvider
from assay.spec.models import ExperimentSpec

SPEC = ExperimentSpec(id="checkout_v2", variants=[
    {"name": "control", "weight": 1}, {"name": "treatment", "weight": 1}],
    forced={"qa-1": "treatment"})
FLAGS = [FlagSpec(name="new_checkout", experiment="checkout_v2",
                  values={"control": False, "treatment": True}, default=False),
         FlagSpec(name="discount", experiment="checkout_v2",
                  values={"control": 0.0, "treatment": 0.15}, default=0.0),
         FlagSpec(name="theme", rollout=0.5, value="dark", default="light")]


@pytest.fixture
def of_client() -> object:
    sink = ListSink()
    client = Client([SPEC], FLAGS, logger=ExposureLogger(sink, flush_interval=0.05))
    api.set_provider(AssayProvider(client), domain="assay-test")
    yield api.get_client(domain="assay-test"), client, sink
    api.shutdown()


def test_values_match_the_assay_client(of_client: tuple) -> None:  # type: ignore[type-arg]
    ofc, client, sink = of_client
    for i in range(100):
        ctx = EvaluationContext(f"user-{i}")
        variant = client.variant("checkout_v2", f"user-{i}", log=False)
        details = ofc.get_boolean_details("new_checkout", False, ctx)
        assert details.value is (variant == "treatment")
        assert details.variant == variant and details.reason == Reason.SPLIT
        assert ofc.get_float_value("discount", -1.0, ctx) == (0.15 if variant == "treatment"
                                                               else 0.0)
        assert ofc.get_string_value("checkout_v2", "none", ctx) == variant
        assert ofc.get_string_value("theme", "x", ctx) == client.flag("theme", f"user-{i}")
    client.close()
    assert len(sink.events) == 100  # one exposure per unit, however many evaluations


def test_errors_fall_back_to_the_default(of_client: tuple) -> None:  # type: ignore[type-arg]
    ofc, _, _ = of_client
    missing = ofc.get_boolean_details("nope", True, EvaluationContext("u"))
    assert missing.value is True and missing.error_code == ErrorCode.FLAG_NOT_FOUND
    no_key = ofc.get_boolean_details("new_checkout", True, EvaluationContext())
    assert no_key.value is True and no_key.error_code == ErrorCode.TARGETING_KEY_MISSING
    wrong = ofc.get_integer_details("theme", 3, EvaluationContext("u"))
    assert wrong.value == 3 and wrong.error_code == ErrorCode.TYPE_MISMATCH
    forced = ofc.get_boolean_details("new_checkout", False, EvaluationContext("qa-1"))
    assert forced.value is True and forced.reason == Reason.TARGETING_MATCH


def test_docstring_example() -> None:
    assert doctest.testmod(assay.openfeature).failed == 0
