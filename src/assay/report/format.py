"""Number formatting shared by every renderer."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from typing import Any, TypeVar


def num(value: float, digits: int = 4) -> str:
    """A compact number; an em dash for NaN."""
    if value is None or not math.isfinite(value):
        return "—"
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
        return f"{value:.{digits - 1}e}"
    return f"{value:,.{digits}g}" if abs(value) >= 1000 else f"{value:.{digits}g}"


def pct(value: float, digits: int = 2) -> str:
    """A signed percentage."""
    return "—" if value is None or not math.isfinite(value) else f"{value:+.{digits}%}"


def interval(bounds: tuple[float, float], as_pct: bool = False) -> str:
    """``[low, high]``."""
    fmt = pct if as_pct else num
    return f"[{fmt(bounds[0])}, {fmt(bounds[1])}]"


def p(value: float) -> str:
    """A p-value."""
    if value is None or not math.isfinite(value):
        return "—"
    return "<0.0001" if value < 1e-4 else f"{value:.4f}"


T = TypeVar("T")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]|<>])")


def map_strings(value: T, change: Callable[[str], str]) -> T:
    """``value`` with ``change`` applied to every string in it, through nested result objects
    (frozen dataclasses), lists, tuples and dict values: how a renderer escapes all user text
    (names, variant and segment values, messages) in one place."""
    out: Any = value
    if isinstance(value, str):
        out = change(value)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = dataclasses.replace(value, **{f.name: map_strings(getattr(value, f.name), change)
                                            for f in dataclasses.fields(value) if f.init})
    elif isinstance(value, list | tuple):
        out = type(value)(map_strings(v, change) for v in value)
    elif isinstance(value, dict):
        out = {k: map_strings(v, change) for k, v in value.items()}
    return out  # type: ignore[no-any-return]


def markdown_text(text: str) -> str:
    """``text`` safe inside a Markdown paragraph or table cell: one line, and no character
    that would start markup, a table cell, a link or raw HTML."""
    flat = _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.splitlines()))
    return "\\" + flat if flat.startswith("#") else flat
