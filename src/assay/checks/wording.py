"""How the checks' sentences state a p-value."""

from __future__ import annotations

#: Below this a p-value prints as a bound: the tail probability underflowed (it is 0.0 in
#: floating point) or is too small to mean anything more.
SMALLEST_P = 1e-300


def p_is(p: float) -> str:
    """``p = 0.034`` or, for a p-value that underflowed to 0, ``p < 1e-300`` (never
    ``p = 0``, which reads as certainty)."""
    if p < SMALLEST_P:
        return f"p < {SMALLEST_P:g}"
    return f"p = {p:.2g}"
