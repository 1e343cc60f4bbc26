"""Paired statistics for comparing contestants that answered the same cases.

Two models run on the same cases are compared case by case, not by their separate pass rates:
the unpaired standard errors of two pass rates hide real differences (the cases' shared
difficulty cancels out in a paired test) and suggest false ones.

- `mcnemar_exact(b, c)`: exact McNemar test on pass/fail. Only discordant cases carry evidence
  (b: only A passed, c: only B passed); under "no difference" each discordant case goes either way
  with probability 1/2, so p = two-sided binomial tail of min(b, c) in Binomial(b + c, 1/2).
- `paired_bootstrap_ci(diffs)`: percentile bootstrap interval of the mean per-case score difference,
  resampling cases (seeded, `BOOTSTRAP_RESAMPLES` resamples), so the same inputs give the same interval.
- `holm(pvalues)`: Holm's step-down adjustment, for several pairs tested at once.
- `cases_needed(...)`: how many paired cases a McNemar test needs to detect a given difference in
  pass rate with 80% power (Connor 1987's normal approximation).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING

from ..estimates import Style, show_interval, show_p

if TYPE_CHECKING:  # numpy loads only when a statistic is computed, not for `bakeoff --help`
    import numpy as np


ALPHA = 0.05                 # significance level of every verdict
POWER = 0.80                 # power the case-count estimates aim for
BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 20261130    # fixed: the same run always shows the same interval
DETECT_DIFFERENCE = 0.10     # "a 10-point difference in pass rate", what inconclusive verdicts size for


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for b and c discordant cases (equal to statsmodels'
    `mcnemar(table, exact=True)` and scipy's `binomtest(b, b + c, 0.5)`)."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    # Exact integer arithmetic: P(X <= k) for X ~ Binomial(n, 1/2), doubled, capped at 1.
    tail = sum(math.comb(n, i) for i in range(k + 1))
    return min(1.0, 2 * tail / 2 ** n)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values in the input order (statsmodels `multipletests(method="holm")`):
    the i-th smallest p is multiplied by (m - i), and adjusted values never decrease with rank."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def bootstrap_ci(values: Sequence[float] | np.ndarray, statistic: Callable[[np.ndarray], np.ndarray],
                 *, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED,
                 confidence: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of statistic(values) resampling rows (cases) with replacement.

    `statistic` maps a (resamples, n, ...) array of resampled rows to one value per resample.
    Resamples are drawn in blocks so memory stays bounded for large suites.
    """
    import numpy as np

    data = np.asarray(values, dtype=float)
    n = len(data)
    if n == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    block = max(1, 2_000_000 // max(n, 1))
    stats = []
    for start in range(0, resamples, block):
        idx = rng.integers(0, n, size=(min(block, resamples - start), n))
        stats.append(statistic(data[idx]))
    dist = np.concatenate(stats)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(dist, [tail, 100 - tail])
    return float(low), float(high)


def paired_bootstrap_ci(diffs: Sequence[float], **kw: float) -> tuple[float, float]:
    """Interval of the mean of per-case differences (B's score minus A's on the same case)."""
    return bootstrap_ci(diffs, lambda x: x.mean(axis=1), **kw)  # type: ignore[arg-type]


def cases_needed(discordant_rate: float, difference: float = DETECT_DIFFERENCE, *,
                 alpha: float = ALPHA, power: float = POWER) -> int:
    """Paired cases a two-sided McNemar test needs to detect `difference` in pass rate with `power`.

    Connor (1987): n = (z_{1-α/2} √ψ + z_{power} √(ψ − δ²))² / δ², where ψ is the share of
    discordant cases (expected to be at least δ: a difference needs cases that differ).
    """
    delta = abs(difference)
    if delta <= 0:
        raise ValueError("difference must be non-zero")
    psi = min(1.0, max(discordant_rate, delta))
    z = NormalDist()
    za, zb = z.inv_cdf(1 - alpha / 2), z.inv_cdf(power)
    n = (za * math.sqrt(psi) + zb * math.sqrt(max(psi - delta ** 2, 0.0))) ** 2 / delta ** 2
    return math.ceil(n)


def mcnemar_power(n: int, p_a_only: float, p_b_only: float, alpha: float = ALPHA) -> float:
    """Exact power of the two-sided exact McNemar test at level alpha for n paired cases, where a
    case is 'only A passed' with probability p_a_only and 'only B passed' with p_b_only: sums over
    every number of discordant cases d ~ Binomial(n, ψ) and every split b | d ~ Binomial(d, ·)."""
    psi = p_a_only + p_b_only
    if psi <= 0:
        return 0.0
    share = p_a_only / psi
    total = 0.0
    for d in range(n + 1):
        p_d = _binom_pmf(d, n, psi)
        if p_d < 1e-15:
            continue
        reject = sum(_binom_pmf(b, d, share) for b in range(d + 1) if mcnemar_exact(b, d - b) <= alpha)
        total += p_d * reject
    return total


def _binom_pmf(k: int, n: int, p: float) -> float:
    if p <= 0:
        return float(k == 0)
    if p >= 1:
        return float(k == n)
    log = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
    return math.exp(log + k * math.log(p) + (n - k) * math.log1p(-p))


@dataclass(frozen=True)
class PairedComparison:
    """Contestant A against contestant B on the cases both answered."""

    a: str
    b: str
    n: int                   # cases both answered
    both_pass: int
    a_only: int              # A passed, B did not (a "win" for A)
    b_only: int              # B passed, A did not
    both_fail: int
    p_value: float           # exact McNemar
    p_adjusted: float        # Holm-adjusted across the pairs compared together (= p_value alone)
    score_diff: float        # mean of (B's score - A's score) over the n cases
    ci_low: float            # 95% paired bootstrap interval of score_diff
    ci_high: float
    pass_diff: float         # B's pass rate minus A's on the n cases
    more_cases: int | None   # None when significant; else about how many more cases would detect
                             # a DETECT_DIFFERENCE difference

    @property
    def significant(self) -> bool:
        return self.p_adjusted < ALPHA

    @property
    def better(self) -> str | None:
        """The significantly better contestant, or None."""
        if not self.significant or self.a_only == self.b_only:
            return None
        return self.b if self.b_only > self.a_only else self.a

    @property
    def ties(self) -> int:
        return self.both_pass + self.both_fail

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "significant": self.significant, "better": self.better,
                "verdict": verdict(self), "resamples": BOOTSTRAP_RESAMPLES, "alpha": ALPHA}


def compare(a: str, b: str, a_scores: Sequence[tuple[bool, float]],
            b_scores: Sequence[tuple[bool, float]], p_adjusted: float | None = None) -> PairedComparison:
    """Compare two aligned lists of (passed, score), one entry per common case."""
    if len(a_scores) != len(b_scores):
        raise ValueError("paired lists must have one entry per common case")
    n = len(a_scores)
    pa = [p for p, _ in a_scores]
    pb = [p for p, _ in b_scores]
    a_only = sum(x and not y for x, y in zip(pa, pb))
    b_only = sum(y and not x for x, y in zip(pa, pb))
    both_pass = sum(x and y for x, y in zip(pa, pb))
    p = mcnemar_exact(a_only, b_only)
    diffs = [sb - sa for (_, sa), (_, sb) in zip(a_scores, b_scores)]
    low, high = paired_bootstrap_ci(diffs) if n else (math.nan, math.nan)
    adjusted = p if p_adjusted is None else p_adjusted
    more = None
    if adjusted >= ALPHA and n:
        more = max(0, cases_needed((a_only + b_only) / n) - n)
    return PairedComparison(a, b, n, both_pass, a_only, b_only, n - both_pass - a_only - b_only, p,
                            adjusted, sum(diffs) / n if n else math.nan, low, high,
                            (b_only - a_only) / n if n else math.nan, more)


def with_holm(pairs: list[PairedComparison]) -> list[PairedComparison]:
    """The same comparisons with Holm-adjusted p-values (and case estimates) across all of them."""
    from dataclasses import replace

    adjusted = holm([p.p_value for p in pairs])
    out = []
    for pair, adj in zip(pairs, adjusted):
        more = None
        if adj >= ALPHA and pair.n:
            more = max(0, cases_needed((pair.a_only + pair.b_only) / pair.n) - pair.n)
        out.append(replace(pair, p_adjusted=adj, more_cases=more))
    return out


def arena_ranks(names: Sequence[str], pairs: Sequence[PairedComparison]) -> dict[str, int]:
    """Rank = 1 + the number of contestants significantly better (ties share a rank)."""
    better_than: dict[str, int] = {n: 0 for n in names}
    for pair in pairs:
        winner = pair.better
        if winner is not None:
            loser = pair.a if winner == pair.b else pair.b
            better_than[loser] = better_than.get(loser, 0) + 1
    return {n: 1 + better_than[n] for n in names}


# --- words --------------------------------------------------------------------------------------

format_p = show_p     # one formatter for p-values, in estimates.py

SCORE_DIFF = Style(digits=3, signed=True, with_n=True)     # +0.125 (-0.050 to +0.300, n=28)


def format_interval(low: float, high: float) -> str:
    """A score difference's interval, "-0.050 to +0.300"."""
    return show_interval(low, high, SCORE_DIFF)


def verdict(pair: PairedComparison) -> str:
    """The comparison in words: who is better and how sure, or how many cases would settle it."""
    adj = "" if pair.p_adjusted == pair.p_value else " Holm-adjusted"
    p_text = format_p(pair.p_adjusted) + adj
    if pair.n == 0:
        return "no common cases"
    if pair.better is not None:
        return f"{pair.better} is better, {p_text}"
    text = f"no detectable difference ({p_text})"
    more = more_cases_text(pair)
    return f"{text}; {more}" if more else text


def more_cases_text(pair: PairedComparison) -> str | None:
    """'about N more cases would detect a 10-point difference', when the pair is inconclusive."""
    if not pair.more_cases:
        return None
    return f"about {pair.more_cases} more cases would detect a {DETECT_DIFFERENCE * 100:.0f}-point difference"
