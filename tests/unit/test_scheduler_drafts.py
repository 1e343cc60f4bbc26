"""Prompt lookup inside the batching scheduler, against a fake model (tests/fake_backend.py) whose
greedy answers mostly repeat the prompt: drafts are kept whole, in part or not at all; answers,
stops, length limits, logprobs and cancellation are what they are without drafts."""

from __future__ import annotations

import pytest

from bakeoff.engines.base import Chunk, GenParams
from bakeoff.engines.batch_stream import Request
from bakeoff.engines.batching_drafts import MAX_DRAFT_BATCH, fit_drafts
from bakeoff.engines.scheduler import Scheduler
from bakeoff.engines.speculative import DraftGate
from fake_backend import FakeBackend, copying, reference, text_of

GREEDY = GenParams(temperature=0.0, stop=[])


def prompt(seed: int, n: int = 12) -> list[int]:
    return [(seed * 11 + 7 * i) % 60 + 2 for i in range(n)]


def serve(prompts: list[list[int]], max_new: int, *, speculative: bool, params: GenParams = GREEDY,
          slots: int = 4, cells: int = 4096, step_cost: tuple[float, float] = (1.0, 0.01),
          ) -> tuple[Scheduler, FakeBackend, list[Request]]:
    backend = FakeBackend(n_seq_max=slots, n_batch=64, cells=cells, rule=copying, step_cost=step_cost)
    sched = Scheduler(backend, "fake", speculative=speculative, clock=backend.now)
    reqs = []
    for p in prompts:
        req = sched.new_request(sched.check_prompt(p), params, max_new)
        sched.submit(req)
        reqs.append(req)
    for _ in range(2000):
        if not sched.busy() and not sched.pending:
            return sched, backend, reqs
        sched.tick(sched.take_admissible())
    raise AssertionError("the scheduler did not finish")


def delivered(req: Request) -> list[Chunk]:
    items = []
    while not req.out.empty():
        items.append(req.out.get_nowait())
    assert items and items[-1] is None, "the request never ended"
    assert not any(isinstance(x, BaseException) for x in items), items
    return [x for x in items[:-1] if isinstance(x, Chunk)]


def text(chunks: list[Chunk]) -> str:
    return "".join(c.text for c in chunks)


PROMPTS = [prompt(1), prompt(2, 20), prompt(3, 7), prompt(4, 30)]


def test_drafts_keep_every_answer_and_take_fewer_steps() -> None:
    off, _, plain = serve(PROMPTS, 40, speculative=False)
    on, backend, spec = serve(PROMPTS, 40, speculative=True)
    for p, a, b in zip(PROMPTS, plain, spec):
        ca, cb = delivered(a), delivered(b)
        assert text(cb) == text(ca) == text_of(reference(p, 40, copying))
        last = cb[-1]
        assert (last.finish_reason, last.usage.completion_tokens) == ("length", 40)
        # Kept drafts are output tokens; some drafts were rejected (the pattern breaks every 7th).
        assert 0 < last.timings.accepted_tokens < last.timings.draft_tokens
    assert on.steps < off.steps * 0.6
    assert on.drafted == sum(r.spec.drafted for r in spec) > on.accepted > 0
    # A decode that verifies drafts (more logits than sequences) stays within the measured bound.
    verifying = [n for n, logits, seqs in backend.batches if logits > seqs]
    assert verifying and max(verifying) <= MAX_DRAFT_BATCH


def test_rejected_positions_leave_only_their_own_sequence() -> None:
    """After the run each sequence holds exactly its prompt and the tokens it decoded (the last
    sampled token is never decoded): rejected draft cells were removed, from no other sequence."""
    _, backend, reqs = serve(PROMPTS, 33, speculative=True)
    for req in reqs:
        out = reference(req.tokens, 33, copying)
        assert req.spec.drafted > req.spec.accepted > 0
        cached = next(kv for kv in backend.kv.values() if kv[:len(req.tokens)] == req.tokens)
        assert cached == req.tokens + out[:-1]


def test_a_stop_string_inside_a_kept_draft_ends_the_answer_there() -> None:
    p = prompt(5)
    out = reference(p, 40, copying)
    full = text_of(out)
    # Two tokens well into the answer (copied from the prompt), seen there for the first time.
    k = next(k for k in range(12, 38) if full.find(text_of(out[k:k + 2])) == len(text_of(out[:k])))
    stop = text_of(out[k:k + 2])
    params = GenParams(temperature=0.0, stop=[stop])
    _, _, [plain] = serve([p], 40, speculative=False, params=params)
    _, _, [spec] = serve([p], 40, speculative=True, params=params)
    ca, cb = delivered(plain), delivered(spec)
    assert text(cb) == text(ca) and stop not in text(cb) and cb[-1].finish_reason == "stop"
    assert cb[-1].usage.completion_tokens == ca[-1].usage.completion_tokens
    assert cb[-1].timings.accepted_tokens > 0


@pytest.mark.parametrize("max_new", [1, 2, 9, 23])
def test_the_length_limit_falls_inside_drafts_and_is_never_passed(max_new: int) -> None:
    _, backend, reqs = serve(PROMPTS, max_new, speculative=True)
    for p, req in zip(PROMPTS, reqs):
        chunks = delivered(req)
        assert text(chunks) == text_of(reference(p, max_new, copying))
        assert (chunks[-1].finish_reason, chunks[-1].usage.completion_tokens) == ("length", max_new)
    # No decode ever wrote a position past prompt + max_new - 1 (drafts are capped by what is left).
    assert all(len(kv) <= max(map(len, PROMPTS)) + max_new - 1 for kv in backend.kv.values())


def test_logprobs_come_for_every_token_in_order() -> None:
    params = GenParams(temperature=0.0, stop=[], logprobs=2)
    _, _, [plain] = serve([prompt(6)], 30, speculative=False, params=params)
    _, _, [spec] = serve([prompt(6)], 30, speculative=True, params=params)
    a, b = ([(t.token, t.logprob) for c in delivered(r) for t in c.logprobs or []] for r in (plain, spec))
    assert a == b and len(a) == 30 and spec.spec.accepted > 0


def test_a_cancelled_request_leaves_at_the_next_step_and_the_others_are_unchanged() -> None:
    backend = FakeBackend(n_seq_max=2, n_batch=64, rule=copying)
    sched = Scheduler(backend, "fake", speculative=True)
    reqs = [sched.new_request(sched.check_prompt(p), GREEDY, 60) for p in (prompt(7), prompt(8))]
    for r in reqs:
        sched.submit(r)
    for _ in range(4):
        sched.tick(sched.take_admissible())
    reqs[0].cancelled = True
    while sched.busy():
        sched.tick(sched.take_admissible())
    gone, kept = delivered(reqs[0]), delivered(reqs[1])
    assert all(c.finish_reason is None for c in gone) and 0 < len(gone) < 60
    assert text(gone) == text_of(reference(prompt(7), 60, copying))[:len(text(gone))]
    assert text(kept) == text_of(reference(prompt(8), 60, copying))


def test_a_full_shared_cache_drops_drafts_before_stopping_anyone() -> None:
    """With just enough cells for both answers, steps whose drafts do not fit run without them."""
    prompts = [prompt(9, 10), prompt(10, 10)]
    _, _, reqs = serve(prompts, 30, speculative=True, slots=2, cells=2 * (10 + 30))
    for p, req in zip(prompts, reqs):
        assert text(delivered(req)) == text_of(reference(p, 30, copying))


def test_sampled_requests_and_speculation_off_never_draft() -> None:
    sampled = GenParams(temperature=0.7, seed=1, stop=[])
    for sched, _, reqs in (serve(PROMPTS, 20, speculative=True, params=sampled),
                           serve(PROMPTS, 20, speculative=False)):
        assert sched.drafted == 0 and all(r.drafter is None for r in reqs)


def test_drafts_fit_the_budget_and_a_split_cache_gets_one_draft_length() -> None:


    drafts = [[1] * 8, [], [2] * 3, [3] * 8, [4] * 5]
    assert fit_drafts(drafts, 12, even=False) == [[1] * 8, [], [2] * 3, [3], []]
    # One stream per sequence: every kept draft has the length that verifies the most tokens
    # within the budget (8 x 2 sequences beats 5 x 3 and 3 x 4; with 15 tokens, 5 x 3 wins).
    assert fit_drafts(drafts, 32, even=True) == [[1] * 8, [], [], [3] * 8, []]
    assert fit_drafts(drafts, 15, even=True) == [[1] * 5, [], [], [3] * 5, [4] * 5]
    assert fit_drafts([[], []], 10, even=True) == [[], []]


def test_a_split_cache_verifies_equal_draft_lengths_with_the_same_answers() -> None:
    backend = FakeBackend(n_seq_max=4, n_batch=64, rule=copying, kv_unified=False)
    sched = Scheduler(backend, "fake", speculative=True)
    reqs = [sched.new_request(sched.check_prompt(p), GREEDY, 40) for p in PROMPTS]
    for r in reqs:
        sched.submit(r)
    while sched.busy() or sched.pending:
        sched.tick(sched.take_admissible())
    for p, req in zip(PROMPTS, reqs):
        assert text(delivered(req)) == text_of(reference(p, 40, copying))
    assert sched.accepted > 0
    # Every verifying decode holds 1 token of some sequences and 1 + L of the others, one L.
    verifying = [shape for shape, (_, logits, seqs) in zip(backend.shapes, backend.batches) if logits > seqs]
    assert verifying and all(len(shape - {1}) == 1 for shape in verifying)


def test_requests_whose_drafts_miss_stop_drafting_in_a_full_batch() -> None:
    """Eight sequences decoding together pay for every drafted token: a request whose drafts were
    mostly rejected drafts only now and then, while alone it keeps trying."""
    p = GenParams(temperature=0.0, stop=[])
    backend = FakeBackend(n_seq_max=8, n_batch=64, rule=copying)
    sched = Scheduler(backend, "fake", speculative=True)
    req = sched.new_request(sched.check_prompt(prompt(1)), p, 10)
    req.hit = 0.3
    assert req.draft(31, worth=8 / (8 + 2.4)) == [] and 0.3 < req.hit < 0.4
    req.grow(req.tokens + req.tokens[:2])   # the history's tail occurred at its start
    assert req.draft(31, worth=1 / (1 + 2.4)) == req.tokens[2:6]   # the drafter's first length: 4



def test_drafts_stop_where_the_machine_pays_a_full_token_for_each() -> None:
    """Where every token of a decode costs as much as the next (a busy CPU), drafting steps that
    keep only some of their tokens deliver fewer tokens a second than plain steps: the scheduler
    measures that and drafts only on its trial steps, so serving takes about as long as without
    lookup, with the same answers. Where extra tokens are nearly free the same requests finish in
    far less (simulated) time."""
    for cost, bound in (((0.0, 1.0), 1.1), ((1.0, 0.01), 0.7)):
        _, plain_backend, plain = serve(PROMPTS, 150, speculative=False, step_cost=cost)
        on, backend, spec = serve(PROMPTS, 150, speculative=True, step_cost=cost)
        for a, b in zip(plain, spec):
            assert text(delivered(b)) == text(delivered(a))
        assert backend.elapsed <= plain_backend.elapsed * bound, cost
        drafting = sum(logits > seqs for _, logits, seqs in backend.batches)
        if bound > 1:
            assert 0 < drafting <= on.steps / 4


def test_the_draft_gate_follows_what_steps_deliver() -> None:
    """Drafting steps that deliver more tokens a second are preferred, the other side is tried
    every EXPLORE-th step, and a change in what pays turns the choice around."""
    t = [0.0]
    gate = DraftGate(lambda: t[0])

    def step(drafts: bool, tokens: int, seconds: float) -> None:
        t[0] += seconds
        gate.observe(8, drafts, tokens)

    choices = []
    for _ in range(64):
        d = gate.want(8)
        choices.append(d)
        step(d, 12 if d else 8, 2.0 if d else 1.0)   # drafting: 6 tokens/s, plain: 8
    trials = DraftGate.TRIALS
    assert choices[:trials + 1] == [True] * trials + [False]   # drafting gets a fair trial first
    assert 1 <= sum(choices[trials + 1:]) <= 64 // DraftGate.EXPLORE + 1
    for _ in range(64):
        d = gate.want(8)
        choices.append(d)
        step(d, 16 if d else 8, 1.2 if d else 1.0)   # now drafting pays: 13 tokens/s
    assert sum(choices[-32:]) >= 32 - 32 // DraftGate.EXPLORE - 1


def test_a_batch_size_never_compared_still_tries_drafting_now_and_then():
    """Trials spent at other sizes, and no size measured both ways: a new size must not stay
    plain for ever."""
    t = [0.0]
    gate = DraftGate(lambda: t[0])
    for _ in range(DraftGate.TRIALS):     # the trials all fell at size 3, drafting
        assert gate.want(3)
        t[0] += 1.0
        gate.observe(3, True, 4)
    choices = []
    for _ in range(4 * DraftGate.EXPLORE):
        choices.append(gate.want(5))
        t[0] += 1.0
        gate.observe(5, choices[-1], 5)
    assert 0 < sum(choices) < len(choices)
