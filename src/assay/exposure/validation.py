"""Validation of incoming events: every rejection has a code and a readable reason."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from assay.spec.models import ExperimentSpec

REJECTION_CODES = ("not_an_object", "missing_unit_id", "unknown_experiment", "unknown_variant",
                   "malformed_timestamp", "missing_field")


@dataclass(frozen=True)
class Rejection:
    """One refused event: its position in the batch, a code and the reason."""

    index: int
    code: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        """Wire form."""
        return {"index": self.index, "code": self.code, "reason": self.reason}


_EPOCH = dt.datetime(1970, 1, 1)
_EPOCH_UTC = _EPOCH.replace(tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


def timestamp_micros(value: Any) -> int | None:
    """An ISO 8601 timestamp as integer microseconds since the Unix epoch, UTC (exact)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return (moment - (_EPOCH if moment.tzinfo is None else _EPOCH_UTC)) // _MICROSECOND


def variant_names(experiments: Mapping[str, ExperimentSpec]) -> dict[str, tuple[str, ...]]:
    """Experiment id -> its variant names (what :func:`check_exposure` validates against)."""
    return {k: tuple(v.name for v in spec.variants) for k, spec in experiments.items()}


def _unit(event: Mapping[str, Any]) -> str | None:
    unit = event.get("unit_id")
    if isinstance(unit, int) and not isinstance(unit, bool):
        return str(unit)
    return unit if isinstance(unit, str) and unit != "" else None


def check_exposure(index: int, event: Any, variants: Mapping[str, tuple[str, ...]]
                   ) -> tuple[dict[str, Any] | None, Rejection | None]:
    """A clean exposure row or the reason it is refused.

    Args:
        index: Position of the event in its batch (reported back).
        event: The decoded JSON event.
        variants: Experiment id -> variant names (:func:`variant_names`).

    Returns:
        ``(row, None)`` with ``timestamp`` as microseconds since the epoch (UTC), or
        ``(None, rejection)``.
    """
    if not isinstance(event, Mapping):
        return None, Rejection(index, "not_an_object", "an event is a JSON object")
    unit = _unit(event)
    if unit is None:
        return None, Rejection(index, "missing_unit_id", "`unit_id` is missing or empty")
    exp_id = event.get("experiment_id")
    names = variants.get(exp_id) if isinstance(exp_id, str) else None
    if names is None:
        return None, Rejection(index, "unknown_experiment",
                               f"experiment {exp_id!r} is not in the project")
    variant = event.get("variant")
    if variant not in names:
        return None, Rejection(index, "unknown_variant",
                               f"{variant!r} is not a variant of {exp_id!r} "
                               f"(variants: {', '.join(names)})")
    micros = timestamp_micros(event.get("timestamp"))
    if micros is None:
        return None, Rejection(index, "malformed_timestamp",
                               f"timestamp {event.get('timestamp')!r} is not ISO 8601 "
                               "(e.g. 2026-11-22T08:30:00Z)")
    return {"experiment_id": exp_id, "variant": variant, "unit_id": unit,
            "timestamp": micros}, None


def check_metric_event(index: int, event: Any) -> tuple[dict[str, Any] | None,
                                                        Rejection | None]:
    """A clean metric event (``unit_id``, ``timestamp`` in epoch microseconds, ``event``,
    optional ``value``) or the reason it is refused."""
    if not isinstance(event, Mapping):
        return None, Rejection(index, "not_an_object", "an event is a JSON object")
    unit = _unit(event)
    if unit is None:
        return None, Rejection(index, "missing_unit_id", "`unit_id` is missing or empty")
    name = event.get("event")
    if not isinstance(name, str) or not name:
        return None, Rejection(index, "missing_field", "`event` (the event name) is missing")
    value = event.get("value")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        return None, Rejection(index, "missing_field", f"`value` {value!r} is not a number")
    micros = timestamp_micros(event.get("timestamp"))
    if micros is None:
        return None, Rejection(index, "malformed_timestamp",
                               f"timestamp {event.get('timestamp')!r} is not ISO 8601")
    return {"unit_id": unit, "timestamp": micros, "event": name,
            "value": None if value is None else float(value)}, None
