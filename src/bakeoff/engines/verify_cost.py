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

import math
import os
import time
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from ..cachefile import VersionedJSON
from ..settings import get_settings

MAX_BATCH = 32
PROBE_SIZES = (1, 2, 4, 8, 16, 32)
EXACT_SIZES = (2, 3, 4, 5, 8, 13, 16, 31, 32)   # checked in order; the first mismatch stops
EMA = 0.2          # weight of the newest observation of a size
CACHE_VERSION = 3  # 3: exactness per region of positions (LONG_FROM)

# Where exactness is kept apart. llama.cpp pads the KV view a decode attends to to 256 cells, and
# from a 512-cell view a lone token takes flash attention's kernel that splits the cells across
# threads (ggml-cpu ops.cpp, use_split_kv_path), while a verification decode (several tokens of
# the sequence) takes the row-by-row one: measured on SmolLM2-135M Q4_1, 2 threads, decodes of 32
# tokens matched one-token decoding at positions 100 and 200, and no decode of 2 did from position
# 255 on; with the V cache in BF16, which only the row-by-row kernel takes, 32 matched at every
# position. So positions below LONG_FROM and from it on are two regions, each with its own limit,
# and a verification decode never reaches into a region that is not exact.
LONG_FROM = 256


class Decoder(Protocol):
    def decode(self, tokens: Sequence[int], positions: Sequence[int], seq_ids: Sequence[int],
               want_logits: Sequence[bool]) -> None: ...
    def seq_rm(self, seq_id: int, p0: int = -1, p1: int = -1) -> bool: ...
    def logits(self, i: int) -> np.ndarray: ...


class VerifyCost:
    """Seconds per decode of n tokens (each with logits), n = 1..MAX_BATCH."""

    def __init__(self, known: dict[int, float], key: str = "", exact: int | None = MAX_BATCH,
                 exact_long: int | None = None):
        self.key = key
        # The largest decode whose logits equal one-token decoding's (measured), below LONG_FROM
        # and from it on; None where not measured yet.
        self.exact = exact
        self.exact_long = exact_long
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


    def limit(self, pos: int) -> int | None:
        """The most tokens a verification decode starting at `pos` may hold and stay exact; None
        when the region of `pos` is not measured yet."""
        if pos >= LONG_FROM:
            return self.exact_long
        if self.exact is None:
            return None
        # Never across LONG_FROM: a decode straddling it is measured in neither region (its tokens
        # below see another KV view than their one-token reference did).
        return max(1, min(self.exact, LONG_FROM - pos))

    def record_exact(self, pos: int, limit: int) -> None:
        if pos >= LONG_FROM:
            self.exact_long = limit
        else:
            self.exact = limit


def probe_region(pos: int) -> bool:
    """Whether a probe at `pos` measures one region (its decodes do not straddle LONG_FROM)."""
    return pos >= LONG_FROM or pos + MAX_BATCH <= LONG_FROM


def probe(model: Decoder, seq_id: int, pos: int, tokens: Sequence[int], key: str = "") -> VerifyCost:
    """Measure at `pos` (then remove what was decoded: the sequence's cache is as it was): the
    time of one decode of each PROBE_SIZES, and the largest of EXACT_SIZES whose logits are
    bit-identical to decoding the same tokens one at a time. `tokens`: recent tokens of the
    sequence, repeated to fill the sizes. Exactness is measured for the region of `pos` unless
    the probe's decodes would straddle LONG_FROM."""
    fill = [tokens[i % len(tokens)] for i in range(MAX_BATCH)]
    known: dict[int, float] = {}
    for n in PROBE_SIZES:
        t0 = time.perf_counter()
        model.decode(fill[:n], range(pos, pos + n), [seq_id] * n, [True] * n)
        known[n] = time.perf_counter() - t0
        model.seq_rm(seq_id, pos, -1)
    cost = VerifyCost(known, key, exact=None)
    if probe_region(pos):
        cost.record_exact(pos, exact_limit(model, seq_id, pos, fill))
    return cost


def exact_limit(model: Decoder, seq_id: int, pos: int, tokens: Sequence[int]) -> int:
    """Exactness is what makes speculation answer-preserving, and it depends on the file's
    quantization and the kernels: SmolLM2 Q4_1/Q8_0 matched one-token decoding at every size under
    64 here, Gemma 3 270M Q4_K_M up to 3 tokens (its batches go through 4-token tiles), its Q8_0
    requantization up to 32 (below LONG_FROM). `tokens`: recent tokens, repeated to decode at pos."""
    fill = [tokens[i % len(tokens)] for i in range(MAX_BATCH)]
    one = []
    for i in range(MAX_BATCH):
        model.decode([fill[i]], [pos + i], [seq_id], [True])
        one.append(model.logits(0))
    model.seq_rm(seq_id, pos, -1)
    exact = 1
    for n in EXACT_SIZES:
        model.decode(fill[:n], range(pos, pos + n), [seq_id] * n, [True] * n)
        same = all(np.array_equal(model.logits(i), one[i]) for i in range(n))
        model.seq_rm(seq_id, pos, -1)
        if not same:
            break
        exact = n
    return exact


def cost_key(path: str, threads: int, build: str) -> str:
    """What the costs belong to: the model file as it is now, the thread count and llama.cpp build."""
    try:
        st = os.stat(path)
        ident = f"{os.path.realpath(path)}:{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        ident = path
    return f"{ident}|threads={threads}|llama.cpp {build}"


def _cache() -> VersionedJSON:
    return VersionedJSON(get_settings().home / "calibration" / "verify-cost.json", CACHE_VERSION)


def _read_cache() -> dict[str, Any]:
    entries = (_cache().read() or {}).get("entries")
    return entries if isinstance(entries, dict) else {}


def cached(key: str) -> VerifyCost | None:
    entry = _read_cache().get(key)
    if not isinstance(entry, dict):
        return None
    try:
        exact = [None if entry.get(k) is None else max(1, min(int(entry[k]), MAX_BATCH))
                 for k in ("exact", "exact_long")]
        known = {int(n): float(s) for n, s in entry.items() if n not in ("exact", "exact_long")}
    except (TypeError, ValueError, OverflowError):   # JSON allows Infinity and 1e999
        return None
    if not all(math.isfinite(s) for s in known.values()):
        return None
    return VerifyCost(known, key, exact[0], exact[1]) if known.get(1, 0) > 0 else None


def save(cost: VerifyCost) -> None:
    """Keep `cost` for the next load of the same model (best effort: a read-only home only loses
    the cache)."""
    entries = _read_cache()
    entries[cost.key] = {"exact": cost.exact, "exact_long": cost.exact_long,
                         **{str(n): round(s, 6) for n, s in sorted(cost.known.items())}}
    try:
        _cache().write({"entries": entries})
    except OSError:
        pass


__all__ = ["LONG_FROM", "MAX_BATCH", "PROBE_SIZES", "VerifyCost", "cached", "cost_key", "exact_limit", "probe",
           "probe_region", "save"]
