"""An OpenFeature provider backed by :class:`assay.client.Client`.

Flag keys are assay flag names; an experiment id can also be resolved as a string flag whose
value is the variant name. The evaluation context's ``targeting_key`` is the unit id and its
attributes feed targeting rules. Evaluating a flag backed by an experiment logs the exposure,
exactly like ``Client.flag``.

Example:
    >>> from openfeature import api
    >>> from assay.client import Client, UnknownExperimentError
    >>> from assay.openfeature import AssayProvider
    >>> from assay.spec.models import ExperimentSpec
    >>> spec = ExperimentSpec(id="checkout_v2", variants=[
    ...     {"name": "control", "weight": 1}, {"name": "treatment", "weight": 1}])
    >>> api.set_provider(AssayProvider(Client([spec])))
    >>> from openfeature.evaluation_context import EvaluationContext
    >>> api.get_client().get_string_value("checkout_v2", "off", EvaluationContext("user-1"))
    'control'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import FlagNotFoundError, TargetingKeyMissingError, TypeMismatchError
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType, Reason
from openfeature.provider import AbstractProvider, Metadata

from assay.client import Client, UnknownExperimentError

T = TypeVar("T")
_REASONS = {"split": Reason.SPLIT, "forced": Reason.TARGETING_MATCH, "default": Reason.DEFAULT}


class AssayProvider(AbstractProvider):
    """OpenFeature provider: resolves flags (and experiment variants) with an assay client."""

    def __init__(self, client: Client) -> None:
        super().__init__()
        self.client = client

    def get_metadata(self) -> Metadata:
        return Metadata(name="assay")

    def shutdown(self) -> None:
        self.client.close()

    def _resolve(self, key: str, default: Any, kinds: tuple[type, ...],
                 context: EvaluationContext | None) -> FlagResolutionDetails[Any]:
        if context is None or not context.targeting_key:
            raise TargetingKeyMissingError("assay needs the unit id as the targeting key")
        unit, attributes = context.targeting_key, dict(context.attributes)
        details = self.client.flag_details(key, unit, attributes)
        if details is None:
            try:
                variant = self.client.variant(key, unit, attributes)
            except UnknownExperimentError:
                raise FlagNotFoundError(f"no flag or experiment named '{key}'") from None
            if variant is None:
                return FlagResolutionDetails(value=default, reason=Reason.DEFAULT)
            value: Any = variant
            reason = Reason.SPLIT
        else:
            if details.reason == "default" and details.value is None:
                return FlagResolutionDetails(value=default, reason=Reason.DEFAULT)
            value, variant, reason = details.value, details.variant, _REASONS[details.reason]
        if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)):
            raise TypeMismatchError(f"flag '{key}' is {type(value).__name__}, "
                                    f"asked for {' or '.join(k.__name__ for k in kinds)}")
        return FlagResolutionDetails(value=value, variant=variant, reason=reason)

    def resolve_boolean_details(self, flag_key: str, default_value: bool,
                                evaluation_context: EvaluationContext | None = None
                                ) -> FlagResolutionDetails[bool]:
        return self._resolve(flag_key, default_value, (bool,), evaluation_context)

    def resolve_string_details(self, flag_key: str, default_value: str,
                               evaluation_context: EvaluationContext | None = None
                               ) -> FlagResolutionDetails[str]:
        return self._resolve(flag_key, default_value, (str,), evaluation_context)

    def resolve_integer_details(self, flag_key: str, default_value: int,
                                evaluation_context: EvaluationContext | None = None
                                ) -> FlagResolutionDetails[int]:
        return self._resolve(flag_key, default_value, (int,), evaluation_context)

    def resolve_float_details(self, flag_key: str, default_value: float,
                              evaluation_context: EvaluationContext | None = None
                              ) -> FlagResolutionDetails[float]:
        return self._resolve(flag_key, default_value, (float, int), evaluation_context)

    def resolve_object_details(
        self, flag_key: str, default_value: Sequence[FlagValueType] | Mapping[str, FlagValueType],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[FlagValueType] | Mapping[str, FlagValueType]]:
        return self._resolve(flag_key, default_value, (dict, list), evaluation_context)
