"""Number formatting shared by every renderer.

One rule for every figure of a comparison: an estimate is shown to the precision its standard
error supports (two significant digits of the SE), and the means and interval bounds of the
same row use the same number of decimals, so a column never mixes ``174``, ``0.8638`` and
``-4.717e-04``. Percentages always carry two decimals; p-values two significant digits.
"""

from __future__ import annotations

import math

_MAX_DECIMALS = 8
_FALLBACK_DIGITS = 4


def decimals_for(se: float | None) -> int | None:
    """Decimals that show two significant digits of ``se`` (None when ``se`` is unusable)."""
    if se is None or not math.isfinite(se) or se <= 0:
        return None
    return max(0, min(_MAX_DECIMALS, 1 - math.floor(math.log10(se))))


def num(value: float | None, decimals: int | None = None) -> str:
    """A number with thousands separators: ``decimals`` places, or 4 significant digits.

    An em dash for a missing or non-finite value.
    """
    if value is None or not math.isfinite(value):
        return "—"
    if decimals is None:
        if value == 0:
            return "0"
        magnitude = math.floor(math.log10(abs(value)))
        decimals = max(0, min(_MAX_DECIMALS, _FALLBACK_DIGITS - 1 - magnitude))
    text = f"{value:,.{decimals}f}"
    # -0.000 reads as a sign error: a value that rounds to zero is shown unsigned
    return text.lstrip("-") if float(value).__round__(decimals) == 0 else text


def pct(value: float | None, digits: int = 2) -> str:
    """A signed percentage."""
    return "—" if value is None or not math.isfinite(value) else f"{value:+.{digits}%}"


def interval(
    bounds: tuple[float, float], as_pct: bool = False, decimals: int | None = None
) -> str:
    """``[low, high]`` (percentages signed; numbers at ``decimals`` places)."""
    if as_pct:
        return f"[{pct(bounds[0])}, {pct(bounds[1])}]"
    return f"[{num(bounds[0], decimals)}, {num(bounds[1], decimals)}]"


def p(value: float | None) -> str:
    """A p-value: two significant digits, ``<0.0001`` below that."""
    if value is None or not math.isfinite(value):
        return "—"
    if value < 1e-4:
        return "<0.0001"
    return f"{value:.2g}" if value < 0.1 else f"{value:.2f}"
