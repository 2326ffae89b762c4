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


def parse_timestamp(value: Any) -> dt.datetime | None:
    """An ISO 8601 timestamp as naive UTC (no offset: UTC), or None if malformed."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is None else moment.astimezone(dt.UTC).replace(tzinfo=None)


def _unit(event: Mapping[str, Any]) -> str | None:
    unit = event.get("unit_id")
    if isinstance(unit, int) and not isinstance(unit, bool):
        return str(unit)
    return unit if isinstance(unit, str) and unit != "" else None


def check_exposure(index: int, event: Any, experiments: Mapping[str, ExperimentSpec]
                   ) -> tuple[dict[str, Any] | None, Rejection | None]:
    """A clean exposure row (``timestamp`` as ISO naive UTC) or the reason it is refused."""
    if not isinstance(event, Mapping):
        return None, Rejection(index, "not_an_object", "an event is a JSON object")
    unit = _unit(event)
    if unit is None:
        return None, Rejection(index, "missing_unit_id", "`unit_id` is missing or empty")
    exp_id = event.get("experiment_id")
    spec = experiments.get(exp_id) if isinstance(exp_id, str) else None
    if spec is None:
        return None, Rejection(index, "unknown_experiment",
                               f"experiment {exp_id!r} is not in the project")
    variant = event.get("variant")
    names = [v.name for v in spec.variants]
    if variant not in names:
        return None, Rejection(index, "unknown_variant",
                               f"{variant!r} is not a variant of {exp_id!r} "
                               f"(variants: {', '.join(names)})")
    moment = parse_timestamp(event.get("timestamp"))
    if moment is None:
        return None, Rejection(index, "malformed_timestamp",
                               f"timestamp {event.get('timestamp')!r} is not ISO 8601 "
                               "(e.g. 2026-11-22T08:30:00Z)")
    return {"experiment_id": exp_id, "variant": variant, "unit_id": unit,
            "timestamp": moment.isoformat()}, None


def check_metric_event(index: int, event: Any) -> tuple[dict[str, Any] | None,
                                                        Rejection | None]:
    """A clean metric event (``unit_id``, ``timestamp``, ``event``, optional ``value``)."""
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
    moment = parse_timestamp(event.get("timestamp"))
    if moment is None:
        return None, Rejection(index, "malformed_timestamp",
                               f"timestamp {event.get('timestamp')!r} is not ISO 8601")
    return {"unit_id": unit, "timestamp": moment.isoformat(), "event": name,
            "value": None if value is None else float(value)}, None
