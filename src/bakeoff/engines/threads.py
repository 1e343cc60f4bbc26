"""How many threads llama.cpp should use, given the CPU that other processes leave free.

llama.cpp splits every matrix product across its threads and waits for the slowest at each of the
hundreds of barriers per token. When another process holds a core, the thread that shares it is
descheduled for whole time slices while the others spin at the barrier: on the 2-core machine this
project targets, a busy loop on one core took SmolLM2-135M from about 120 to 32 output tok/s with 2
threads, while 1 thread kept 85 (benchmarks/busy_machine.py). So the governor measures, between
decodes, how much CPU the rest of the machine used (all CPU time minus this process's own) and
gives llama.cpp only the cores left free, never more than the configured threads and never fewer
than one. It re-reads at most every `interval` seconds; a change costs one llama_set_n_threads call.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil

log = logging.getLogger(__name__)

# Cores counted free must be at least this much more than a whole number to get that thread: with
# 0.3, background noise of up to 0.3 core keeps every thread, and one busy core costs one thread.
SLACK = 0.3


@dataclass(frozen=True)
class CpuSample:
    at: float        # monotonic seconds
    busy: float      # CPU-seconds used by every process, all cores (including VM steal)
    own: float       # CPU-seconds used by this process, all its threads


def read_cpu() -> CpuSample:
    t = psutil.cpu_times()
    busy = t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0) + \
        getattr(t, "steal", 0.0)
    p = psutil.Process().cpu_times()
    return CpuSample(time.monotonic(), busy, p.user + p.system)


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def threads_for(others: float, cores: int, max_threads: int) -> int:
    """Threads to use when other processes keep `others` cores busy on average."""
    free = cores - max(others, 0.0)
    return max(1, min(max_threads, int(free + SLACK)))


class ThreadGovernor:
    """Adaptive (or fixed) thread count for one llama.cpp context; see the module docstring."""

    def __init__(self, max_threads: int, *, adaptive: bool = True, interval: float = 0.5,
                 cores: int | None = None, read: Callable[[], CpuSample] = read_cpu,
                 clock: Callable[[], float] = time.monotonic):
        self.max_threads = max_threads
        self.adaptive = adaptive
        self.interval = interval
        self.cores = cores or usable_cores()
        self.current = max_threads
        self.others = 0.0   # cores busy elsewhere at the last reading
        self.fewest = max_threads   # the lowest count used since the last `take_fewest()`
        self._read, self._clock = read, clock
        self._last = read() if adaptive else None

    def threads(self) -> int:
        """The count to use now (re-measured when `interval` has passed since the last reading)."""
        if not self.adaptive or self._last is None:
            return self.current
        if self._clock() - self._last.at < self.interval:
            return self.current
        sample = self._read()
        wall = sample.at - self._last.at
        if wall > 0:
            self.others = max(0.0, (sample.busy - self._last.busy) - (sample.own - self._last.own)) / wall
            chosen = threads_for(self.others, self.cores, self.max_threads)
            if chosen != self.current:
                log.info("about %.1f of %d cores busy elsewhere: llama.cpp now uses %d thread(s)",
                         self.others, self.cores, chosen)
            self.current = chosen
            self.fewest = min(self.fewest, chosen)
        self._last = sample
        return self.current

    def take_fewest(self) -> int:
        """The fewest threads used since the last call (a request's report), then start over."""
        fewest, self.fewest = self.fewest, self.current
        return fewest
