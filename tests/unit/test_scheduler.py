"""The continuous-batching scheduler against a fake model (tests/fake_backend.py): admission,
prefix reuse, eviction from a full cache, cancellation and failures, step by step, no thread."""

from __future__ import annotations

import math

import pytest

from bakeoff.engines.base import Chunk, GenParams, PromptChunk
from bakeoff.engines.batch_stream import Request
from bakeoff.engines.scheduler import Scheduler
from bakeoff.errors import BusyError, EngineError
from fake_backend import FakeBackend, next_token, reference, text_of

GREEDY = GenParams(temperature=0.0, stop=[])


def submit(sched: Scheduler, prompt: list[int], max_new: int, prompt_logprobs: int | None = None) -> Request:
    req = sched.new_request(sched.check_prompt(prompt), GREEDY, max_new, prompt_logprobs)
    sched.submit(req)
    return req


def tick(sched: Scheduler) -> None:
    sched.tick(sched.take_admissible())


def run(sched: Scheduler) -> None:
    for _ in range(1000):
        if not sched.busy() and not sched.pending:
            return
        tick(sched)
    raise AssertionError("the scheduler did not finish")


def drain(req: Request) -> tuple[list[Chunk], BaseException | None]:
    """Everything the request delivered: its chunks, and the error it ended with (if any)."""
    items = []
    while not req.out.empty():
        items.append(req.out.get_nowait())
    assert items and items[-1] is None, "the request never ended"
    errors = [x for x in items if isinstance(x, BaseException)]
    return [x for x in items[:-1] if isinstance(x, Chunk)], (errors[0] if errors else None)


def answer(req: Request) -> tuple[str, Chunk]:
    chunks, error = drain(req)
    assert error is None, error
    return "".join(c.text for c in chunks if not isinstance(c, PromptChunk)), chunks[-1]


def prompt(seed: int, n: int) -> list[int]:
    return [(seed * 13 + 5 * i) % 60 + 2 for i in range(n)]


def test_concurrent_requests_decode_together_and_match_their_serial_answers() -> None:
    b = FakeBackend(n_seq_max=4, n_batch=16)
    sched = Scheduler(b, "fake")
    prompts = [prompt(1, 5), prompt(2, 20), prompt(3, 9), prompt(4, 33)]  # some longer than a batch
    reqs = [submit(sched, p, 6) for p in prompts]
    run(sched)
    for p, req in zip(prompts, reqs):
        text, last = answer(req)
        assert text == text_of(reference(p, 6))
        assert (last.finish_reason, last.usage.prompt_tokens, last.usage.completion_tokens) == ("length", len(p), 6)
    serial_steps = sum(math.ceil(len(p) / 16) + 5 for p in prompts)
    assert sched.steps < serial_steps


def test_requests_wait_for_a_free_slot_and_the_queue_is_bounded() -> None:
    sched = Scheduler(FakeBackend(n_seq_max=2), "fake", max_queue=2)
    a, b = submit(sched, prompt(1, 4), 3), submit(sched, prompt(2, 4), 3)
    with pytest.raises(BusyError, match="2 requests already queued"):
        submit(sched, prompt(3, 4), 3)
    tick(sched)
    c, d = submit(sched, prompt(3, 4), 3), submit(sched, prompt(4, 4), 3)
    tick(sched)
    assert sched.stats() | {"steps": 0} == {"queued": 2, "active": 2, "slots": 2, "steps": 0}
    run(sched)
    for i, req in enumerate((a, b, c, d), start=1):
        assert answer(req)[0] == text_of(reference(prompt(i, 4), 3))


def test_a_shared_prefix_is_reused_in_place_when_its_slot_is_free() -> None:
    backend = FakeBackend(n_seq_max=2)
    sched = Scheduler(backend, "fake")
    system = prompt(7, 12)
    first = submit(sched, system + [5, 6], 4)
    run(sched)
    answer(first)
    before = backend.evaluated
    second = submit(sched, system + [9], 4)
    run(sched)
    text, last = answer(second)
    assert text == text_of(reference(system + [9], 4))
    assert last.timings.cached_prompt_tokens == 12
    assert backend.evaluated - before == 1 + 3  # the new prompt token, then one per further token
    assert backend.copies == 0


def test_a_shared_prefix_is_copied_from_a_busy_sequence() -> None:
    backend = FakeBackend(n_seq_max=2)
    sched = Scheduler(backend, "fake")
    system = prompt(8, 12)
    long = submit(sched, system + [5, 6], 30)
    for _ in range(3):
        tick(sched)
    short = submit(sched, system + [9], 5)
    run(sched)
    text, last = answer(short)
    assert text == text_of(reference(system + [9], 5))
    assert last.timings.cached_prompt_tokens == 12 and backend.copies == 1
    assert answer(long)[0] == text_of(reference(system + [5, 6], 30))  # the source is untouched


def test_prompt_logprobs_evaluate_every_prompt_position() -> None:
    sched = Scheduler(FakeBackend(n_seq_max=2), "fake")
    p = prompt(9, 10)
    submit(sched, p, 2)
    run(sched)
    req = submit(sched, p, 0, prompt_logprobs=1)  # same prompt, but nothing may be reused
    run(sched)
    chunks, error = drain(req)
    assert error is None and isinstance(chunks[0], PromptChunk)
    lps = chunks[0].logprobs
    assert len(lps) == len(p) and math.isnan(lps[0].logprob) and chunks[-1].timings.cached_prompt_tokens == 0
    for i in range(1, len(p)):  # the logits before token i predict next_token(p[:i])
        assert max(lps[i].top, key=lps[i].top.get) == f"{next_token(p[:i])},"


def test_a_full_cache_stops_only_the_newest_request_then_frees_its_cells() -> None:
    backend = FakeBackend(n_seq_max=2, cells=40)
    sched = Scheduler(backend, "fake")
    older = submit(sched, prompt(1, 10), 20)
    for _ in range(3):
        tick(sched)
    newer = submit(sched, prompt(2, 10), 20)
    run(sched)
    assert answer(older)[0] == text_of(reference(prompt(1, 10), 20))
    _, error = drain(newer)
    assert isinstance(error, BusyError) and "newest request was stopped" in error.message
    # The older request's cells stay cached while idle; a request that needs them gets them.
    again = submit(sched, prompt(3, 15), 10)
    run(sched)
    assert answer(again)[0] == text_of(reference(prompt(3, 15), 10))


def test_cancelled_requests_leave_at_the_next_step() -> None:
    sched = Scheduler(FakeBackend(n_seq_max=1), "fake")
    running = submit(sched, prompt(1, 6), 50)
    waiting, dropped = submit(sched, prompt(2, 6), 4), submit(sched, prompt(3, 6), 4)
    for _ in range(3):
        tick(sched)
    running.cancelled = dropped.cancelled = True
    run(sched)
    chunks, error = drain(running)
    assert error is None and all(c.finish_reason is None for c in chunks) and 0 < len(chunks) < 50
    assert drain(dropped) == ([], None)
    assert answer(waiting)[0] == text_of(reference(prompt(2, 6), 4))


def test_a_failed_decode_ends_its_requests_and_the_next_ones_run() -> None:
    backend = FakeBackend(n_seq_max=2)
    sched = Scheduler(backend, "fake")
    a, b = submit(sched, prompt(1, 6), 8), submit(sched, prompt(2, 6), 8)
    tick(sched)
    backend.fail_next = EngineError("the device went away")
    tick(sched)
    assert [str(drain(r)[1]) for r in (a, b)] == ["the device went away"] * 2
    c = submit(sched, prompt(1, 6), 8)  # its slot's cache was dropped: nothing stale is reused
    run(sched)
    assert answer(c)[0] == text_of(reference(prompt(1, 6), 8))


class _LeavesMidDecode(FakeBackend):
    """A backend whose decode, while it reads `victim`'s prompt, sees that request dropped (its
    client disconnecting on another thread), as a long prompt chunk does on a CPU."""

    victim: Request | None = None
    sched: Scheduler | None = None

    def decode(self, tokens, positions, seq_ids, want_logits) -> None:
        victim = self.victim
        if victim is not None and victim.slot is not None and victim.slot.seq_id in seq_ids and victim.n_eval > 0:
            self.victim = None
            victim.cancelled = True
            self.sched.drop(victim)      # what BatchedEngine.cancel does
        super().decode(tokens, positions, seq_ids, want_logits)


def test_a_request_dropped_while_its_prompt_is_read_stops_that_decode() -> None:
    """A slot was freed only after the prompt chunk being decoded was done: up to n_batch tokens,
    over ten seconds late in a long prompt on this machine with a 135M model, minutes with a 7B."""
    b = _LeavesMidDecode(n_seq_max=2, n_batch=16)
    sched = Scheduler(b, "fake")
    b.sched = sched
    other = submit(sched, prompt(1, 5), 12)
    for _ in range(3):
        tick(sched)                       # `other` is generating
    long = submit(sched, prompt(2, 200), 4)
    tick(sched)                           # the first chunk of the long prompt
    b.victim = long
    cells_before = len(b.kv[long.slot.seq_id])
    tick(sched)                           # this decode is aborted: nothing of it is applied
    assert sched.aborted == 1
    assert long.slot is None or len(b.kv[long.slot.seq_id]) == cells_before
    run(sched)
    assert drain(long) == ([], None)
    assert answer(other)[0] == text_of(reference(prompt(1, 5), 12))   # its step was decoded again
    assert all(s.req is None for s in sched.slots)
