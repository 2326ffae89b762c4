"""Stored JSON back into result objects: the dashboard renders what was stored, as stored.

The JSON form (:meth:`AnalysisResult.to_dict`) writes NaN as null and tuples as lists; this
undoes exactly that, so a stored analysis renders with the figures it was written with.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any

from assay.results import AnalysisResult, Arm, BootstrapInterval, Check, MetricResult, RankTest

_ITEMS: dict[str, type[Any]] = {
    "arms": Arm, "results": MetricResult, "segments": MetricResult, "checks": Check,
    "rank_tests": RankTest, "bootstrap": BootstrapInterval,
}


def result_from_dict(data: dict[str, Any]) -> AnalysisResult:
    """Rebuild an :class:`AnalysisResult` from its JSON form (unknown fields are ignored)."""
    values = _fields(AnalysisResult, data)
    for key, cls in _ITEMS.items():
        values[key] = [cls(**_fields(cls, item)) for item in data.get(key) or []]
    return AnalysisResult(**values)


def _fields(cls: type[Any], data: dict[str, Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in data or f.name in _ITEMS:
            continue
        out[f.name] = _value(hints[f.name], data[f.name])
    return out


def _value(hint: Any, value: Any) -> Any:
    """Null back to NaN for float fields, lists back to tuples for interval fields."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if value is None:
        return math.nan if float in options and type(None) not in options else None
    if isinstance(value, list) and any(typing.get_origin(o) is tuple for o in options):
        return tuple(math.nan if v is None else v for v in value)
    return value
