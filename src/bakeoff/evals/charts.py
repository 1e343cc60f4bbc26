"""Inline SVG scatter charts (no JavaScript, no CDN): quality against cost or speed.

Each point is a model: y = pass rate with a ±1 SE bar, x = a measured median with its P5–P95
range as a horizontal bar. Log scale on x, because cost and speed span orders of magnitude.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from html import escape as _html_escape

W, H = 560, 340
LEFT, RIGHT, TOP, BOTTOM = 60, 20, 30, 50
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]


# Characters XML 1.0 forbids: an SVG holding one is rejected whole by an XML parser (the UI parses
# the charts as XML), so they are dropped from untrusted text (model names) before escaping.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def escape(text: str) -> str:
    """Untrusted text (model names, labels) for SVG text and attribute values: quotes included."""
    return _html_escape(_XML_INVALID.sub("", str(text)), quote=True)


@dataclass
class Point:
    label: str
    x: float
    x_lo: float
    x_hi: float
    y: float           # 0..1
    y_se: float


def _log_ticks(lo: float, hi: float) -> list[float]:
    ticks = []
    for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        for m in (1, 2, 5):
            v = m * 10 ** e
            if lo <= v <= hi:
                ticks.append(v)
    return ticks or [lo, hi]


def _fmt(v: float) -> str:
    return f"{v:.3g}" if v < 1000 else f"{v:,.0f}"


def _label_at(x: float, gap: float) -> tuple[float, str]:
    """Labels right of the 60% mark go on the left of their mark, so they stay inside the chart."""
    return (x - gap, "end") if x > LEFT + 0.6 * (W - LEFT - RIGHT) else (x + gap, "start")


def _empty(chart_id: str, title: str, what: str) -> str:
    """A chart with nothing to draw says so in its place."""
    return (f'<svg id="{chart_id}" class="chart" role="img" width="{W}" height="80">'
            f'<text x="10" y="40">{escape(title)}: {what}</text></svg>')


@dataclass(frozen=True)
class _Axes:
    """Pixel positions for a log-scale x in [lo, hi] and a 0..1 y."""

    lo: float
    hi: float

    def sx(self, v: float) -> float:
        span = math.log10(self.hi) - math.log10(self.lo) or 1.0
        return LEFT + (math.log10(max(v, self.lo)) - math.log10(self.lo)) / span * (W - LEFT - RIGHT)

    @staticmethod
    def sy(v: float) -> float:
        return TOP + (1 - max(0.0, min(1.0, v))) * (H - TOP - BOTTOM)


def _grid(ax: _Axes, title: str, x_label: str, chart_id: str) -> list[str]:
    """The frame: title, pass-rate lines every 25%, log ticks on x, axis labels."""
    parts = [f'<svg id="{chart_id}" class="chart" role="img" aria-label="{escape(title)}" '
             f'viewBox="0 0 {W} {H}" width="{W}" height="{H}" xmlns="http://www.w3.org/2000/svg">',
             f'<text x="{W / 2}" y="18" text-anchor="middle" font-weight="bold">{escape(title)}</text>']
    for v in (0, 0.25, 0.5, 0.75, 1.0):
        y = ax.sy(v)
        parts.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                     f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{v:.0%}</text>')
    for t in _log_ticks(ax.lo, ax.hi):
        x = ax.sx(t)
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{H - BOTTOM}" stroke="#eee"/>'
                     f'<text x="{x:.1f}" y="{H - BOTTOM + 16}" text-anchor="middle" '
                     f'font-size="11">{_fmt(t)}</text>')
    parts.append(f'<text x="{W / 2}" y="{H - 12}" text-anchor="middle" '
                 f'font-size="12">{escape(x_label)} (log scale)</text>'
                 f'<text x="14" y="{H / 2}" transform="rotate(-90 14 {H / 2})" text-anchor="middle" '
                 f'font-size="12">pass rate (±1 SE)</text>')
    return parts


def _ref_line(ax: _Axes, k: int, label: str, v: float) -> str:
    """A dashed vertical line at a reference x; labels of neighbours step up in four rows."""
    x = ax.sx(v)
    tx, anchor = _label_at(x, 3)
    return (f'<g class="ref"><line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{H - BOTTOM}" '
            f'stroke="#999" stroke-dasharray="4 3"/><text x="{tx:.1f}" text-anchor="{anchor}" '
            f'y="{H - BOTTOM - 6 - 12 * (k % 4)}" font-size="10" fill="#777">{escape(label)}</text></g>')


def _point(ax: _Axes, p: Point, c: str) -> str:
    """A model: its dot, the P5-P95 bar across and the ±1 SE bar up and down, and its name."""
    x, y = ax.sx(p.x), ax.sy(p.y)
    tx, anchor = _label_at(x, 8)
    return (f'<g class="point" data-model="{escape(p.label)}">'
            f'<line x1="{ax.sx(p.x_lo):.1f}" x2="{ax.sx(p.x_hi):.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="{c}"/>'
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{ax.sy(p.y - p.y_se):.1f}" y2="{ax.sy(p.y + p.y_se):.1f}" '
            f'stroke="{c}"/><circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{c}"><title>{escape(p.label)}: '
            f'{p.y:.0%} ± {p.y_se:.0%}, {_fmt(p.x)}</title></circle>'
            f'<text x="{tx:.1f}" y="{y - 8:.1f}" text-anchor="{anchor}" font-size="11" fill="{c}">'
            f'{escape(p.label)}</text></g>')


def scatter(points: list[Point], title: str, x_label: str, chart_id: str,
            refs: list[tuple[str, float]] | None = None) -> str:
    """refs: (label, x) reference values drawn as dashed vertical lines (e.g. hosted API prices)."""
    pts = [p for p in points if p.x > 0]
    if not pts:
        return _empty(chart_id, title, "no measurements")
    refs = [(label, x) for label, x in (refs or []) if x > 0]
    xs = [v for p in pts for v in (p.x_lo, p.x, p.x_hi) if v > 0] + [x for _, x in refs]
    ax = _Axes(min(xs) / 1.5, max(xs) * 1.5)
    parts = _grid(ax, title, x_label, chart_id)
    parts += [_ref_line(ax, k, label, v) for k, (label, v) in enumerate(refs)]
    parts += [_point(ax, p, COLORS[i % len(COLORS)]) for i, p in enumerate(pts)]
    parts.append("</svg>")
    return "".join(parts)


def line_chart(values: list[float], title: str, x_label: str, y_label: str, chart_id: str) -> str:
    """A series against its index (e.g. training loss per step), linear axes starting at 0."""
    if not values:
        return _empty(chart_id, title, "no values")
    n, top = len(values), max(max(values), 1e-9) * 1.05
    x = lambda i: LEFT + (W - LEFT - RIGHT) * (i / max(1, n - 1))  # noqa: E731
    y = lambda v: TOP + (H - TOP - BOTTOM) * (1 - v / top)        # noqa: E731
    path = " ".join(f"{'M' if i == 0 else 'L'}{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
    ticks = "".join(f'<line x1="{LEFT - 4}" x2="{LEFT}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="#333"/>'
                    f'<text x="{LEFT - 6}" y="{y(t) + 4:.1f}" text-anchor="end" font-size="11">{_fmt(t)}</text>'
                    for t in (0.0, top / 2, top))
    return (f'<svg id="{chart_id}" class="chart" role="img" width="{W}" height="{H}" '
            f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
            f'<text x="{W / 2}" y="18" text-anchor="middle" font-weight="bold">{escape(title)}</text>'
            f'<line x1="{LEFT}" y1="{H - BOTTOM}" x2="{W - RIGHT}" y2="{H - BOTTOM}" stroke="#333"/>'
            f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{H - BOTTOM}" stroke="#333"/>{ticks}'
            f'<text x="{LEFT}" y="{H - BOTTOM + 16}" font-size="11">1</text>'
            f'<text x="{W - RIGHT}" y="{H - BOTTOM + 16}" text-anchor="end" font-size="11">{n}</text>'
            f'<text x="{W / 2}" y="{H - 12}" text-anchor="middle" font-size="12">{escape(x_label)}</text>'
            f'<text x="14" y="{H / 2}" transform="rotate(-90 14 {H / 2})" text-anchor="middle" '
            f'font-size="12">{escape(y_label)}</text>'
            f'<path d="{path}" fill="none" stroke="{COLORS[0]}" stroke-width="1.5"/></svg>')
