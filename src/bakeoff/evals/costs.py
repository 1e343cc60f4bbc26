"""Cost per correct answer, and the volume at which a local machine beats a hosted API.

Cost of a case:
- local models: the machine's $/hour × the time the case's tokens take at the speed measured on
  the fixed workloads (prompt tokens at the prefill rate, output tokens at the decode rate; medians,
  concurrency 1). Without speed measurements, the case's own wall time × $/hour.
- remote endpoints: what the runner recorded per case (the endpoint's token prices, or its $/hour ×
  the request's time).
$ per passing case = the suite's total cost ÷ the cases that passed, with a seeded percentile
bootstrap interval over cases (stats.bootstrap_ci).

Break-even volume (local models, against each hosted list price in data/prices.yaml): a machine
rented for a month costs $/hour × 730 whatever it does; a hosted API charges per token. The break-even
is the monthly number of cases (of this suite's size) at which the machine's bill equals the API's:
$/month ÷ API cost per case, priced with our token counts (another tokenizer counts differently).
It must stay under the machine's capacity (cases/month at the measured speed), else the machine
never breaks even.
"""

from __future__ import annotations

import math
from importlib import resources
from typing import TYPE_CHECKING, Any

import yaml

from ..estimates import MISSING, Estimate, Style, show
from ..freshness import age_days, is_stale, stale_note
from .stats import bootstrap_ci

if TYPE_CHECKING:  # numpy loads only when costs are computed, not for `bakeoff --help`
    import numpy as np

HOURS_PER_MONTH = 730


def reference_prices() -> list[dict[str, Any]]:
    """Hosted-API list prices (data file with source and the date each was checked), with the 3:1
    blended price, the age of the check and whether it is stale (over six months)."""
    text = (resources.files("bakeoff.evals") / "data" / "prices.yaml").read_text()
    rows = yaml.safe_load(text)["prices"]
    return [{**r, "checked": str(r["checked"]), "verified": bool(r.get("verified", False)),
             "blended": (3 * r["input"] + r["output"]) / 4, "age_days": age_days(str(r["checked"])),
             "stale": is_stale(str(r["checked"]))} for r in rows]


def prices_note(prices: list[dict[str, Any]] | None = None) -> str | None:
    """The line a leaderboard shows when the reference prices were checked over six months ago."""
    prices = reference_prices() if prices is None else prices
    note = stale_note("hosted API reference prices", [p["checked"] for p in prices])
    unverified = [p["model"] for p in prices if not p["verified"]]
    if unverified:
        extra = f"not re-read from the provider's page: {', '.join(unverified)}"
        note = f"{note}; {extra}" if note else f"hosted API reference prices {extra}"
    return note


def case_costs(results: list[dict[str, Any]], cost: dict[str, Any], local: bool) -> tuple[np.ndarray, str]:
    """USD per case (in results order) and how it was priced."""
    import numpy as np

    per_m_in, per_m_out = cost.get("input"), cost.get("output")
    if local and per_m_in and per_m_out:
        tokens = np.array([[r["usage"].get("prompt_tokens", 0), r["usage"].get("completion_tokens", 0)]
                           for r in results], dtype=float).reshape(-1, 2)
        usd = (tokens[:, 0] * per_m_in["median"] + tokens[:, 1] * per_m_out["median"]) / 1e6
        return usd, f"machine ${cost['hourly_cost']:g}/h at the measured speed"
    basis = "machine time per case" if local else "the endpoint's prices per case"
    return np.array([float(r["cost_usd"]) for r in results]), basis


def per_pass(usd: np.ndarray, passed: np.ndarray) -> dict[str, Any] | None:
    """$ per passing case with its 95% bootstrap interval; None when nothing passed."""
    import numpy as np

    n_pass = int(passed.sum())
    if n_pass == 0 or len(usd) == 0:
        return None
    rows = np.stack([usd, passed.astype(float)], axis=1)

    def ratio(x: np.ndarray) -> np.ndarray:  # x: (resamples, n, 2) -> total cost / passes
        passes = x[..., 1].sum(axis=1)
        return np.where(passes > 0, x[..., 0].sum(axis=1) / np.maximum(passes, 1), np.inf)

    with np.errstate(invalid="ignore"):   # resamples without a pass have no finite ratio
        low, high = bootstrap_ci(rows, ratio)
    # No finite upper end when some resamples have no pass: None (JSON has no infinity).
    upper = float(high) if np.isfinite(high) else None
    return {"value": float(usd.sum() / n_pass), "low": low, "high": upper, "n": len(usd),
            "n_pass": n_pass}


def break_even(results: list[dict[str, Any]], usd: np.ndarray, hourly: float,
               prices: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per hosted price: cases/month at which the machine's monthly bill equals the API's bill."""
    import numpy as np

    if not len(results) or usd.mean() <= 0:
        return []
    monthly = hourly * HOURS_PER_MONTH
    capacity = monthly / usd.mean()          # cases/month the machine finishes running flat out
    tok_in = np.mean([r["usage"].get("prompt_tokens", 0) for r in results])
    tok_out = np.mean([r["usage"].get("completion_tokens", 0) for r in results])
    out = []
    for p in prices:
        hosted = (tok_in * p["input"] + tok_out * p["output"]) / 1e6   # USD per case
        volume = monthly / hosted if hosted > 0 else None
        out.append({"model": p["model"], "hosted_per_case": float(hosted),
                    "cases_per_month": None if volume is None else float(volume),
                    "capacity_per_month": float(capacity), "monthly_cost": monthly,
                    "breaks_even": bool(volume is not None and volume <= capacity)})
    return out


def summarise(results: list[dict[str, Any]], cost: dict[str, Any], local: bool) -> dict[str, Any]:
    """The cost columns of one leaderboard row."""
    import numpy as np

    usd, basis = case_costs(results, cost, local)
    passed = np.array([r["status"] == "pass" for r in results], dtype=bool)
    hourly = cost["hourly_cost"]
    return {"cost_per_pass": per_pass(usd, passed), "cost_basis": basis,
            "break_even": break_even(results, usd, hourly, reference_prices()) if local else []}


def format_per_pass(c: dict[str, Any] | None) -> str:
    """"$0.00162 (0.00108–0.00250, n=50)"; an unbounded upper end (resamples without a pass) as ∞."""
    if not c:
        return f"{MISSING} (no passing case)"
    style = Style(digits=_digits(c["value"]), prefix="$", with_n=True)
    if c["high"] is None:
        return f"{style.prefix}{style.number(c['value'])} ({style.number(c['low'])}–∞, n={c['n']})"
    return show(Estimate(c["value"], c["n"], low=c["low"], high=c["high"]), style)


def format_break_even(items: list[dict[str, Any]]) -> str:
    """One line for all hosted prices: the volumes where the machine wins, then the APIs it never beats."""
    if not items:
        return ""
    wins = [f"{_count(b['cases_per_month'])} cases/month vs {b['model']}" for b in items if b["breaks_even"]]
    never = [b["model"] for b in items if not b["breaks_even"]]
    first = items[0]
    parts = []
    if wins:
        parts.append(f"cheaper above {', '.join(wins)} (machine ${first['monthly_cost']:.0f}/month, "
                     f"serves up to {_count(first['capacity_per_month'])} cases/month)")
    if never:
        parts.append(f"never cheaper than {', '.join(never)} (the machine costs more per case even "
                     "when fully busy)")
    return "; ".join(parts)


def _digits(v: float) -> int:
    """Enough decimals for three significant digits of a small dollar amount."""
    if v <= 0:
        return 2
    return max(2, min(8, 2 - math.floor(math.log10(v))))


def _count(n: float) -> str:
    for unit, div in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= div:
            return f"{n / div:.1f}{unit}"
    return f"{n:.0f}"
