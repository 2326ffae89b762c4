"""Number formatting shared by every renderer."""

from __future__ import annotations

import math


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
