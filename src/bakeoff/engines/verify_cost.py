"""What a verification decode costs here, by its size, so a draft is only as long as pays.

On a CPU a decode of n tokens is far from free: measured on this 2-core machine (SmolLM2-135M,
2 threads, logits at every position, load 1.0), one token took 8.5 ms (Q8_0) / 7.6 ms (Q4_1), two
15.5 / 14.2, four 19.9 / 30.4, eight 26.9 / 44.2, sixteen 48.0 / 58.6. A one-token draft must then
be kept nine times in ten to break even, while a long draft of a copied span pays several times
over. So the draft length is chosen by expected tokens per second: with p the chance that each
drafted token is kept given the ones before it were, a draft of d tokens yields on average
1 + p + p^2 + ... + p^d tokens for the cost of a decode of 1 + d, and d = 0 (plain decoding) wins
whenever nothing else beats it.

The costs are probed once per model file, thread count and llama.cpp build (a decode of each of
PROBE_SIZES tokens, about 25 single-token decodes' time in all), cached in
BAKEOFF_HOME/calibration/verify-cost.json, and then followed while decoding: every verification
decode's time updates its size's estimate, so a busier machine or fewer threads are tracked.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from ..atomic import write_text_atomic
from ..settings import get_settings

MAX_BATCH = 32
PROBE_SIZES = (1, 2, 4, 8, 16, 32)
EMA = 0.2          # weight of the newest observation of a size
CACHE_VERSION = 1


class Decoder(Protocol):
    def decode(self, tokens: Sequence[int], positions: Sequence[int], seq_ids: Sequence[int],
               want_logits: Sequence[bool]) -> None: ...
    def seq_rm(self, seq_id: int, p0: int = -1, p1: int = -1) -> bool: ...


class VerifyCost:
    """Seconds per decode of n tokens (each with logits), n = 1..MAX_BATCH."""

    def __init__(self, known: dict[int, float], key: str = ""):
        self.key = key
        self.known = {n: s for n, s in known.items() if 1 <= n <= MAX_BATCH and s > 0}
        self._table: list[float] = []
        self._rebuild()

    def _rebuild(self) -> None:
        """Every size's cost, linear between the sizes known (flat beyond them)."""
        pts = sorted(self.known.items())
        table = [0.0] * (MAX_BATCH + 1)
        for n in range(1, MAX_BATCH + 1):
            lo = max(((k, s) for k, s in pts if k <= n), default=pts[0])
            hi = min(((k, s) for k, s in pts if k >= n), default=pts[-1])
            table[n] = lo[1] if hi[0] == lo[0] else lo[1] + (hi[1] - lo[1]) * (n - lo[0]) / (hi[0] - lo[0])
        self._table = table

    def cost(self, n: int) -> float:
        return self._table[max(1, min(n, MAX_BATCH))]

    def observe(self, n: int, seconds: float) -> None:
        """A decode of n tokens took `seconds`: move that size's estimate toward it."""
        if not 1 <= n <= MAX_BATCH or seconds <= 0:
            return
        old = self.known.get(n)
        self.known[n] = seconds if old is None else (1 - EMA) * old + EMA * seconds
        if old is None or abs(self.known[n] - self._table[n]) > 0.02 * self._table[n]:
            self._rebuild()

    def best_draft(self, p: float, available: int) -> int:
        """The draft length (0..available) with the most expected tokens per second when each
        drafted token is kept with probability p given the ones before it were."""
        best_d, best_rate = 0, 1.0 / self.cost(1)
        expected, pj = 1.0, 1.0
        for d in range(1, min(available, MAX_BATCH - 1) + 1):
            pj *= p
            expected += pj
            rate = expected / self.cost(1 + d)
            if rate > best_rate * 1.02:   # a longer draft must clearly pay: noise is not a gain
                best_d, best_rate = d, rate
        return best_d


def probe(model: Decoder, seq_id: int, pos: int, token: int) -> dict[int, float]:
    """Time one decode of each PROBE_SIZES at `pos` (copies of `token`), removing them after: the
    sequence's cache is as it was."""
    out: dict[int, float] = {}
    for n in PROBE_SIZES:
        t0 = time.perf_counter()
        model.decode([token] * n, range(pos, pos + n), [seq_id] * n, [True] * n)
        out[n] = time.perf_counter() - t0
        model.seq_rm(seq_id, pos, -1)
    return out


def cost_key(path: str, threads: int, build: str) -> str:
    """What the costs belong to: the model file as it is now, the thread count and llama.cpp build."""
    try:
        st = os.stat(path)
        ident = f"{os.path.realpath(path)}:{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        ident = path
    return f"{ident}|threads={threads}|llama.cpp {build}"


def _cache_file() -> Path:
    return get_settings().home / "calibration" / "verify-cost.json"


def _read_cache() -> dict[str, dict[str, float]]:
    try:
        data = json.loads(_cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
        return {}
    entries = data.get("entries")
    return entries if isinstance(entries, dict) else {}


def cached(key: str) -> VerifyCost | None:
    entry = _read_cache().get(key)
    if not isinstance(entry, dict):
        return None
    try:
        known = {int(n): float(s) for n, s in entry.items()}
    except (TypeError, ValueError):
        return None
    return VerifyCost(known, key) if known.get(1, 0) > 0 else None


def save(cost: VerifyCost) -> None:
    """Keep `cost` for the next load of the same model (best effort: a read-only home only loses
    the cache)."""
    entries = _read_cache()
    entries[cost.key] = {str(n): round(s, 6) for n, s in sorted(cost.known.items())}
    try:
        path = _cache_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, json.dumps({"version": CACHE_VERSION, "entries": entries}, indent=1))
    except OSError:
        pass


__all__ = ["MAX_BATCH", "PROBE_SIZES", "VerifyCost", "cached", "cost_key", "probe", "save"]
