"""Validation of incoming events: every rejection has a code and a readable reason."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from assay.spec.models import ExperimentSpec

REJECTION_CODES = ("not_an_object", "missing_unit_id", "unknown_experiment", "unknown_variant",
                   "malformed_timestamp", "missing_field", "invalid_text", "too_long",
                   "invalid_number", "timestamp_out_of_range")

MAX_TEXT_CHARS = 512
"""The longest id or name an event may carry (a unit id is a key, not a document)."""
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
"""Timestamps outside ``[EARLIEST, LATEST)`` are refused (year 1 or 9999 is a client bug)."""
MAX_ABS_VALUE = 1e300
"""Numbers beyond this (or NaN, infinity) are refused: sums of squares must stay finite."""


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
_EARLIEST_MICROS = (EARLIEST - _EPOCH_UTC) // _MICROSECOND
_LATEST_MICROS = (LATEST - _EPOCH_UTC) // _MICROSECOND


def timestamp_micros(value: Any) -> int | None:
    """An ISO 8601 timestamp as integer microseconds since the Unix epoch, UTC (exact)."""
    if not isinstance(value, str) or not value or len(value) > 64:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return (moment - (_EPOCH if moment.tzinfo is None else _EPOCH_UTC)) // _MICROSECOND


def shown(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters: a reason never echoes a huge input."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def text_problem(index: int, name: str, value: str) -> Rejection | None:
    """Why every supported sink (DuckDB, PostgreSQL) would refuse ``value``, if it would.

    PostgreSQL stores no NUL character in text, and no sink stores a lone UTF-16 surrogate
    (JSON's ``"\\ud800"``); a longer value than :data:`MAX_TEXT_CHARS` is a client bug.
    """
    if len(value) > MAX_TEXT_CHARS:
        return Rejection(index, "too_long", f"`{name}` has {len(value)} characters "
                         f"(at most {MAX_TEXT_CHARS})")
    if "\x00" in value:
        return Rejection(index, "invalid_text", f"`{name}` contains a NUL character")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return Rejection(index, "invalid_text",
                             f"`{name}` contains a lone surrogate (not valid Unicode)")
    return None


def timestamp_problem(index: int, value: Any) -> tuple[int | None, Rejection | None]:
    """The timestamp as epoch microseconds, or why it is refused."""
    micros = timestamp_micros(value)
    if micros is None:
        return None, Rejection(index, "malformed_timestamp",
                               f"timestamp {shown(value)} is not ISO 8601 "
                               "(e.g. 2026-11-22T08:30:00Z)")
    if not _EARLIEST_MICROS <= micros < _LATEST_MICROS:
        return None, Rejection(index, "timestamp_out_of_range",
                               f"timestamp {shown(value)} is outside "
                               f"[{EARLIEST:%Y-%m-%d}, {LATEST:%Y-%m-%d})")
    return micros, None


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
    unit, rejection = _unit_or_rejection(index, event)
    if rejection is not None:
        return None, rejection
    exp_id = event.get("experiment_id")
    names = variants.get(exp_id) if isinstance(exp_id, str) else None
    if names is None:
        return None, Rejection(index, "unknown_experiment",
                               f"experiment {shown(exp_id)} is not in the project")
    variant = event.get("variant")
    if not isinstance(variant, str) or variant not in names:
        return None, Rejection(index, "unknown_variant",
                               f"{shown(variant)} is not a variant of {exp_id!r} "
                               f"(variants: {', '.join(names)})")
    micros, rejection = timestamp_problem(index, event.get("timestamp"))
    if rejection is not None:
        return None, rejection
    return {"experiment_id": exp_id, "variant": variant, "unit_id": unit,
            "timestamp": micros}, None


def _unit_or_rejection(index: int, event: Mapping[str, Any]
                       ) -> tuple[str | None, Rejection | None]:
    unit = _unit(event)
    if unit is None:
        return None, Rejection(index, "missing_unit_id", "`unit_id` is missing or empty")
    return unit, text_problem(index, "unit_id", unit)


def check_metric_event(index: int, event: Any) -> tuple[dict[str, Any] | None,
                                                        Rejection | None]:
    """A clean metric event (``unit_id``, ``timestamp`` in epoch microseconds, ``event``,
    optional ``value``) or the reason it is refused."""
    if not isinstance(event, Mapping):
        return None, Rejection(index, "not_an_object", "an event is a JSON object")
    unit, rejection = _unit_or_rejection(index, event)
    if rejection is not None:
        return None, rejection
    name = event.get("event")
    if not isinstance(name, str) or not name:
        return None, Rejection(index, "missing_field", "`event` (the event name) is missing")
    rejection = text_problem(index, "event", name)
    if rejection is not None:
        return None, rejection
    value, rejection = number_problem(index, "value", event.get("value"))
    if rejection is not None:
        return None, rejection
    micros, rejection = timestamp_problem(index, event.get("timestamp"))
    if rejection is not None:
        return None, rejection
    return {"unit_id": unit, "timestamp": micros, "event": name, "value": value}, None


def number_problem(index: int, name: str, value: Any) -> tuple[float | None, Rejection | None]:
    """An optional number as a finite float, or why it is refused (NaN, 1e400, text)."""
    if value is None:
        return None, None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, Rejection(index, "missing_field", f"`{name}` {shown(value)} is not a number")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not abs(number) <= MAX_ABS_VALUE:  # also refuses NaN
        return None, Rejection(index, "invalid_number",
                               f"`{name}` {shown(value)} is not a finite number within "
                               f"±{MAX_ABS_VALUE:g}")
    return number, None
