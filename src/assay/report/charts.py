"""Inline SVG charts drawn on the server: CI bars, lift over time, units per day.

Every chart is a string of SVG markup built from stored numbers (nothing is computed here but
the geometry); every piece of text in it is escaped. No JavaScript, no external file: the same
markup serves the dashboard, the self-contained HTML report and a notebook cell.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

#: Colours by verdict tone (better, worse, not significant) and by arm, colour-blind safe.
TONES = {"better": "#1a7f37", "worse": "#cf222e", "neutral": "#57606a"}
ARM_COLOURS = ("#57606a", "#0969da", "#bf8700", "#8250df", "#1a7f37", "#cf222e")


@dataclass(frozen=True)
class Scale:
    """A linear map from data ``low -> 0`` and ``high -> width`` pixels (``low > high`` flips)."""

    low: float
    high: float
    width: float

    def __call__(self, value: float) -> float:
        span = self.high - self.low
        return 0.0 if span == 0 else (value - self.low) / span * self.width


def symmetric_scale(bounds: Sequence[tuple[float, float]], width: float) -> Scale:
    """A scale around 0 wide enough for every finite interval (with a 10% margin)."""
    extent = max((abs(b) for pair in bounds for b in pair if math.isfinite(b)), default=0.0)
    extent = extent * 1.1 or 0.01
    return Scale(-extent, extent, width)


def ci_bar(
    point: float, bounds: tuple[float, float], scale: Scale, tone: str, label: str
) -> Markup:
    """A one-row forest plot: the interval, the point and a line at 0, on a shared scale."""
    width, height = scale.width, 18
    zero = _fmt(scale(0.0))
    parts = [
        f'<line x1="{zero}" y1="0" x2="{zero}" y2="{height}" stroke="#8c959f" stroke-width="1"/>'
    ]
    low, high = bounds
    if math.isfinite(low) and math.isfinite(high):
        parts.append(
            f'<line x1="{_fmt(scale(low))}" y1="9" x2="{_fmt(scale(high))}" y2="9" '
            f'stroke="{TONES[tone]}" stroke-width="3" stroke-linecap="round"/>'
        )
    if math.isfinite(point):
        parts.append(f'<circle cx="{_fmt(scale(point))}" cy="9" r="4" fill="{TONES[tone]}"/>')
    return _svg(width, height, label, parts, css="ci-bar")


@dataclass(frozen=True)
class Point:
    """One look at an experiment: a date label, an estimate and its interval."""

    label: str
    value: float
    low: float
    high: float


def lift_over_time(points: Sequence[Point], label: str, *, width: int = 640) -> Markup:
    """The estimate and its interval at each stored analysis, with a line at 0.

    Values are fractions (relative lift); the axis is labelled in percent.
    """
    height, pad_left, pad_bottom, pad_top = 200, 56, 28, 10
    inner_w, inner_h = width - pad_left - 12, height - pad_bottom - pad_top
    finite = [p for p in points if math.isfinite(p.value)]
    values = [v for p in finite for v in (p.low, p.high, p.value) if math.isfinite(v)] + [0.0]
    ticks = nice_ticks(min(values), max(values))
    y = Scale(ticks[-1], ticks[0], inner_h)  # top of the plot is the highest value
    step = inner_w / max(len(finite) - 1, 1)

    def x(i: int) -> float:
        return pad_left + (i * step if len(finite) > 1 else inner_w / 2)

    def yy(v: float) -> float:
        return pad_top + y(v)

    parts = _y_axis(ticks, y, pad_left, pad_top, width, as_pct=True)
    band = [(x(i), yy(p.high)) for i, p in enumerate(finite) if math.isfinite(p.high)]
    band += [(x(i), yy(p.low)) for i, p in reversed(list(enumerate(finite)))
             if math.isfinite(p.low)]
    if len(finite) > 1 and band:
        parts.append(f'<polygon points="{_points(band)}" fill="#0969da" fill-opacity="0.15"/>')
    for i, p in enumerate(finite):
        if math.isfinite(p.low) and math.isfinite(p.high):
            parts.append(f'<line x1="{_fmt(x(i))}" y1="{_fmt(yy(p.low))}" x2="{_fmt(x(i))}" '
                         f'y2="{_fmt(yy(p.high))}" stroke="#0969da" stroke-opacity="0.5"/>')
    line = [(x(i), yy(p.value)) for i, p in enumerate(finite)]
    if len(line) > 1:
        parts.append(f'<polyline points="{_points(line)}" fill="none" stroke="#0969da" '
                     'stroke-width="2"/>')
    for (cx, cy), p in zip(line, finite, strict=True):
        parts.append(f'<circle cx="{_fmt(cx)}" cy="{_fmt(cy)}" r="3" fill="#0969da">'
                     f"<title>{escape(p.label)}: {p.value:+.2%}</title></circle>")
    parts += _x_labels([p.label for p in finite], x, height - 8)
    return _svg(width, height, label, parts, css="chart")


@dataclass(frozen=True)
class Series:
    """One arm's counts at each label (a day, or a stored analysis)."""

    name: str
    values: Sequence[float]


def counts(days: Sequence[str], series: Sequence[Series], label: str, *,
           width: int = 640) -> Markup:
    """One line per arm over the labels, with a legend."""
    height, pad_left, pad_bottom, pad_top = 200, 56, 28, 24
    inner_w, inner_h = width - pad_left - 12, height - pad_bottom - pad_top
    top = max((v for s in series for v in s.values if math.isfinite(v)), default=1.0) or 1.0
    ticks = nice_ticks(0.0, top)
    y = Scale(ticks[-1], 0.0, inner_h)
    step = inner_w / max(len(days) - 1, 1)

    def x(i: int) -> float:
        return pad_left + (i * step if len(days) > 1 else inner_w / 2)

    parts = _y_axis(ticks, y, pad_left, pad_top, width, as_pct=False)
    for k, s in enumerate(series):
        colour = ARM_COLOURS[k % len(ARM_COLOURS)]
        pts = [(x(i), pad_top + y(v)) for i, v in enumerate(s.values)]
        parts.append(f'<polyline points="{_points(pts)}" fill="none" stroke="{colour}" '
                     'stroke-width="2"/>')
        lx = pad_left + 8 + 150 * k
        parts.append(f'<rect x="{lx}" y="6" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{lx + 14}" y="15" class="legend">{escape(s.name)}</text>')
    parts += _x_labels(list(days), x, height - 8)
    return _svg(width, height, label, parts, css="chart")


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round gridline values (steps of 1, 2 or 5 x 10^k) covering ``[low, high]``."""
    if not (math.isfinite(low) and math.isfinite(high)):
        low, high = 0.0, 0.01
    if high - low <= 1e-9 * max(abs(low), abs(high)) or high - low < 1e-12:
        high = low + (abs(low) * 0.1 or 0.01)  # one value (or none): a band around it
    raw = (high - low) / count
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks = [first]
    while ticks[-1] < high - 1e-12 * step:
        ticks.append(ticks[-1] + step)
    return [round(t / step) * step for t in ticks]


def _y_axis(ticks: Sequence[float], y: Scale, left: float, top: float, width: float, *,
            as_pct: bool) -> list[str]:
    """A labelled gridline per tick, and a darker line at 0 when 0 is in range."""
    out = []
    for value in ticks:
        py = top + y(value)
        text = _pct_tick(value) if as_pct else f"{value:,.0f}"
        out.append(f'<line x1="{left}" y1="{_fmt(py)}" x2="{width - 12}" y2="{_fmt(py)}" '
                   'stroke="#d0d7de" stroke-width="1"/>'
                   f'<text x="{left - 6}" y="{_fmt(py + 4)}" text-anchor="end" '
                   f'class="tick">{text}</text>')
    if as_pct and ticks[0] <= 0 <= ticks[-1]:
        zero = _fmt(top + y(0.0))
        out.append(f'<line x1="{left}" y1="{zero}" x2="{width - 12}" y2="{zero}" stroke="#57606a" '
                   'stroke-width="1.2"/>')
    return out


def _pct_tick(value: float) -> str:
    """``+5%``, ``-2.5%``, ``0%``: as few decimals as the tick needs."""
    text = f"{100 * value:+.2f}".rstrip("0").rstrip(".")
    return ("0" if text in ("+0", "-0") else text) + "%"


def _x_labels(labels: list[str], x: Callable[[int], float], baseline: float) -> list[str]:
    """At most six evenly spaced labels along the bottom."""
    if not labels:
        return []
    every = max(1, math.ceil(len(labels) / 6))
    last = len(labels) - 1
    anchors = {0: "start", last: "end"} if last else {0: "middle"}
    return [f'<text x="{_fmt(x(i))}" y="{baseline}" '
            f'text-anchor="{anchors.get(i, "middle")}" class="tick">{escape(text)}</text>'
            for i, text in enumerate(labels) if i % every == 0 or i == last]


def _svg(width: float, height: float, label: str, parts: list[str], *, css: str) -> Markup:
    body = "".join(parts)
    # Every dynamic text above went through escape(); numbers are formatted floats.
    return Markup(
        f'<svg class="{css}" width="{_fmt(width)}" '
        f'height="{height}" viewBox="0 0 {_fmt(width)} {height}" role="img" '
        f'aria-label="{escape(label)}"><title>{escape(label)}</title>{body}</svg>'
    )


def _points(pairs: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{_fmt(a)},{_fmt(b)}" for a, b in pairs)


def _fmt(value: float) -> str:
    return f"{value:.1f}"
