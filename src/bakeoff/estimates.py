"""A number the product reports, with its sample size and how sure it is, and the one place such
numbers become text.

An `Estimate` is a value measured on n samples, with either
- a standard error: a mean or a proportion, shown "67% ± 27% (n=3)" or "0.50 ± 0.35", or
- an interval: a median with its P5–P95 range over n repeats ("12.3 (10.1–14.0)"), or a cost with
  the range that follows from those percentiles ("$0.123 (0.100–0.150)").

A `Style` says how one column shows its estimates (scale, decimals, unit, whether n is written), and
`show(estimate, style)` is the only formatter: the CLI prints its strings, the server hands them to
the web UI, the HTML report renders them, so the three agree character for character. Code that
adds a statistic (a paired difference with its interval, say) builds an Estimate and picks or
declares a Style; it never writes "±" itself.

This module imports nothing from bakeoff: every layer may use it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MISSING = "–"   # what a column shows when nothing was measured


def _finite(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and math.isfinite(x) else None


@dataclass(frozen=True)
class Estimate:
    """`value` measured on `n` samples; `se` is its standard error, `low`–`high` an interval
    around it (P5–P95 for speed). Either, both or neither may be known."""

    value: float
    n: int
    se: float | None = None
    low: float | None = None
    high: float | None = None

    @classmethod
    def from_stat(cls, stat: Mapping[str, Any] | None) -> Estimate | None:
        """From the dicts the store keeps: {value, se | stderr, n} (means, proportions, benchmark
        scores) or {median, p5, p95, n} / {median, low, high, n} (speed, cost). None when `stat` is
        empty or has no finite value; a NaN standard error (n < 2) counts as unknown."""
        if not stat:
            return None
        if "median" in stat:
            value = _finite(stat["median"])
            low = _finite(stat.get("p5", stat.get("low")))
            high = _finite(stat.get("p95", stat.get("high")))
            se = None
        else:
            value = _finite(stat.get("value"))
            se = _finite(stat.get("se", stat.get("stderr")))
            low = high = None
        if value is None:
            return None
        return cls(value, int(stat.get("n") or 0), se, low, high)


@dataclass(frozen=True)
class Style:
    """How a column writes an Estimate: each number times `scale`, with `digits` decimals and
    `unit` after it; `prefix` before the point value only; `with_n` adds the sample size;
    `signed` writes a sign on every number (differences), and then intervals read "LOW to HIGH"."""

    digits: int = 2
    scale: float = 1.0
    unit: str = ""
    prefix: str = ""
    with_n: bool = False
    signed: bool = False

    def number(self, x: float) -> str:
        sign = "+" if self.signed else ""
        return f"{x * self.scale:{sign}.{self.digits}f}{self.unit}"


def show_interval(low: float, high: float, style: Style = Style()) -> str:
    """An interval on its own, "LOW–HIGH" (a rating's 95% interval in its own column), or
    "-0.100 to +0.050" for a signed style, where a dash would read as a minus."""
    sep = " to " if style.signed else "–"
    return f"{style.number(low)}{sep}{style.number(high)}"


def show_p(p: float) -> str:
    """A p-value as people read it: two significant digits, 'p < 0.001' below that."""
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.2g}" if p < 0.1 else f"p = {p:.2f}"


def show(estimate: Estimate | None, style: Style = Style()) -> str:
    """The estimate as every surface shows it: "V ± SE (n=N)", "V (LOW–HIGH)" or "V (LOW–HIGH, n=N)",
    where the parts known and asked for appear; MISSING when nothing was measured."""
    if estimate is None or estimate.n <= 0:
        return MISSING
    text = style.prefix + style.number(estimate.value)
    if estimate.se is not None:
        text += f" ± {style.number(estimate.se)}"
    inside = []
    if estimate.low is not None and estimate.high is not None:
        inside.append(show_interval(estimate.low, estimate.high, style))
    if style.with_n:
        inside.append(f"n={estimate.n}")
    return f"{text} ({', '.join(inside)})" if inside else text


def show_stat(stat: Mapping[str, Any] | None, style: Style = Style()) -> str:
    """`show` for a stored stat dict (see Estimate.from_stat)."""
    return show(Estimate.from_stat(stat), style)


def human_bytes(n: float | None) -> str:
    """1536 -> "1.5 KiB"; whole bytes below 1 KiB; "?" when unknown."""
    if n is None:
        return "?"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)
