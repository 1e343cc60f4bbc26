"""The thread governor gives llama.cpp the cores other processes leave free (engines/threads.py)."""

from __future__ import annotations

from bakeoff.engines.threads import CpuSample, ThreadGovernor, threads_for


class FakeCpu:
    """A clock and CPU counters the test advances: `others` and `own` cores busy per second."""

    def __init__(self) -> None:
        self.at, self.busy, self.own = 0.0, 0.0, 0.0

    def run(self, seconds: float, *, others: float, own: float) -> None:
        self.at += seconds
        self.busy += (others + own) * seconds
        self.own += own * seconds

    def read(self) -> CpuSample:
        return CpuSample(self.at, self.busy, self.own)


def governor(cpu: FakeCpu, max_threads: int = 2, cores: int = 2, **kw) -> ThreadGovernor:
    return ThreadGovernor(max_threads, cores=cores, read=cpu.read, clock=lambda: cpu.at, **kw)


def test_one_busy_core_costs_one_thread_and_it_comes_back() -> None:
    cpu = FakeCpu()
    gov = governor(cpu)
    cpu.run(1.0, others=0.1, own=2.0)      # quiet: a little background noise only
    assert gov.threads() == 2
    cpu.run(1.0, others=1.0, own=1.0)      # a busy loop holds a core
    assert gov.threads() == 1
    assert gov.take_fewest() == 1
    cpu.run(1.0, others=0.05, own=1.0)     # it stopped
    assert gov.threads() == 2
    assert gov.take_fewest() == 1          # this request still began with one thread
    assert gov.take_fewest() == 2


def test_readings_are_spaced_by_the_interval() -> None:
    cpu = FakeCpu()
    gov = governor(cpu, interval=0.5)
    cpu.run(0.2, others=2.0, own=0.0)
    assert gov.threads() == 2              # too soon to judge: keeps the last choice
    cpu.run(0.4, others=2.0, own=0.0)
    assert gov.threads() == 1


def test_fixed_policy_never_changes() -> None:
    cpu = FakeCpu()
    gov = governor(cpu, adaptive=False)
    cpu.run(1.0, others=2.0, own=0.0)
    assert gov.threads() == 2


def test_threads_for_bounds() -> None:
    assert threads_for(0.0, 16, 8) == 8          # never more than configured
    assert threads_for(3.0, 16, 8) == 8          # 13 cores free still allow all 8
    assert threads_for(9.6, 16, 8) == 6          # 6.4 free
    assert threads_for(40.0, 16, 8) == 1         # never fewer than one
    assert threads_for(0.5, 2, 2) == 1           # half a core taken is enough to lose a thread
    assert threads_for(0.3, 2, 2) == 2
