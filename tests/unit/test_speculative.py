"""The speculative strategy against a fake model: drafts, verification, KV rollback, statistics."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from bakeoff.engines.speculative import MAX_VERIFY, DraftGate, PromptLookup, Speculator


class FakeModel:
    """A 'model' whose greedy next token is a fixed function of the token at a position and of the
    position. It keeps its KV cells as {position: token} so tests can check what is cached."""

    def __init__(self, rule):
        self.rule = rule
        self.cells: dict[int, int] = {}
        self.outputs: list[int] = []
        self.batches: list[int] = []

    def decode(self, tokens: Sequence[int], positions: Sequence[int], seq_ids: Sequence[int],
               want_logits: Sequence[bool]) -> None:
        assert all(p not in self.cells for p in positions), "a cell was written twice"
        assert all(want_logits)
        self.batches.append(len(tokens))
        for t, p in zip(tokens, positions):
            self.cells[p] = t
        self.outputs = [self.rule(t, p) for t, p in zip(tokens, positions)]

    def seq_rm(self, seq_id: int, p0: int = -1, p1: int = -1) -> bool:
        for p in [p for p in self.cells if p >= p0 and (p1 < 0 or p < p1)]:
            del self.cells[p]
        return True


def generate(rule, prompt: list[int], n: int, drafter: PromptLookup | None, limit: int = MAX_VERIFY,
             gate: DraftGate | None = None):
    model = FakeModel(rule)
    for p, t in enumerate(prompt):
        model.cells[p] = t
    out: list[int] = []

    def pick(i: int) -> tuple[int, bool]:
        tok = model.outputs[i]
        out.append(tok)
        return tok, len(out) >= n

    spec = Speculator(drafter)
    spec.limit = limit
    spec.gate = gate
    spec.start(prompt)
    model.outputs = [rule(prompt[-1], len(prompt) - 1)]
    pending, done = pick(-1)
    pos = len(prompt)
    while not done:
        kept, nxt = spec.step(model, 0, pos, pending, pick, n - len(out))
        assert kept[0] == pending
        pos += len(kept)
        # The cache holds exactly the prompt and every token evaluated and kept, nothing beyond.
        assert model.cells == dict(enumerate(prompt + out[:pos - len(prompt)]))
        done, pending = nxt is None, nxt
    generate.spec = spec   # type: ignore[attr-defined]
    return out, spec.stats, model


def copy_rule(source: list[int]):
    """Greedy continuation that copies `source` (from token to its successor), else counts up."""
    succ = {a: b for a, b in zip(source, source[1:])}
    return lambda t, p: succ.get(t, (t * 7 + p) % 50 + 100)


@pytest.mark.parametrize("prompt", [
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2, 3],    # the answer copies the prompt: drafts hit
    [5, 9, 5, 9, 5, 9, 5, 9],                            # repetition: drafts hit, then miss
    [40, 41, 42, 43, 44, 45],                            # nothing repeats: no drafts at first
])
def test_same_tokens_as_one_token_decoding_and_cache_rolled_back(prompt):
    rule = copy_rule(prompt)
    plain, plain_stats, plain_model = generate(rule, prompt, 40, None)
    fast, stats, model = generate(rule, prompt, 40, PromptLookup(max_draft=6))
    assert fast == plain
    assert plain_stats.drafted == 0 and set(plain_model.batches) == {1}
    assert 0 <= stats.accepted <= stats.drafted
    assert max(model.batches) <= 7


def test_copying_answer_is_drafted_and_accepted_in_few_decodes():
    prompt = list(range(1, 31)) + [1, 2]
    out, stats, model = generate(copy_rule(prompt), prompt, 25, PromptLookup(max_draft=8))
    assert out[:5] == [3, 4, 5, 6, 7]
    assert stats.accepted >= 20 and stats.acceptance == 1.0   # no draft runs past the length limit
    assert len(model.batches) <= 6   # 25 tokens in a handful of verification decodes


def test_a_wrong_draft_costs_no_tokens():
    # The prompt says 1 2 3 then 9, but the model counts up: after it says 1 2 3 again, the
    # draft proposes 9 8 7 and is rejected at its first token; the answer is unchanged.
    prompt = [1, 2, 3, 9, 8, 7, 1, 2]
    rule = lambda t, p: t + 1  # noqa: E731
    plain, _, _ = generate(rule, prompt, 12, None)
    fast, stats, _ = generate(rule, prompt, 12, PromptLookup(max_draft=4))
    assert fast == plain == list(range(3, 15))
    assert stats.drafted > 0 and stats.accepted == 0


def test_stop_inside_an_accepted_draft_ends_there():
    prompt = list(range(1, 21)) + [1, 2]
    out, stats, model = generate(copy_rule(prompt), prompt, 5, PromptLookup(max_draft=10))
    assert out == [3, 4, 5, 6, 7]
    assert 0 < stats.accepted == stats.drafted <= 4


def test_prompt_lookup_drafts_from_the_longest_latest_match():
    d = PromptLookup(max_draft=3, ngram_max=3, ngram_min=1)
    d.extend([1, 2, 3, 4, 9, 2, 3, 5, 6, 2, 3])
    assert d.draft() == [5, 6, 2]            # "2 3" most recently continued with 5
    d.extend([4])
    assert d.draft() == [9, 2, 3]             # "2 3 4" beats the shorter "3 4" / "4"
    none = PromptLookup(ngram_min=2)
    none.extend([1, 2, 3])
    assert none.draft() == []


def test_drafts_never_exceed_the_exact_batch_limit():
    d = PromptLookup(max_draft=500, first_draft=500)
    assert d.max_draft == d.limit == MAX_VERIFY - 1
    d.feedback(31, 31)
    assert d.limit == MAX_VERIFY - 1
    d.feedback(31, 0)
    assert d.limit == 1
    with pytest.raises(ValueError):
        PromptLookup(ngram_min=3, ngram_max=2)


@pytest.mark.parametrize("limit", [2, 3, 5])
def test_no_verification_batch_exceeds_the_models_exact_limit(limit):
    """A model whose batches match one-token decoding only up to `limit` tokens (Gemma 3 270M
    Q4_K_M: 3) is verified in batches of at most that many, whatever the drafter offers."""
    prompt = list(range(1, 41)) + [1, 2, 3]
    rule = copy_rule(prompt)
    plain, _, _ = generate(rule, prompt, 30, None)
    fast, stats, model = generate(rule, prompt, 30, PromptLookup(max_draft=16), limit=limit)
    assert fast == plain and max(model.batches) == limit and stats.accepted == stats.drafted >= 10


def test_a_gated_request_holds_to_the_gates_first_choice_and_answers_the_same():
    """A draft model's gate decides once per request (a draft left out must read what it missed
    before proposing again): declined, nothing is drafted all request long and the mode says so;
    taken, every step may draft. The answer is the same either way."""
    prompt = [5, 6, 7, 8, 9, 10, 11, 12] * 3
    rule = copy_rule(prompt)
    plain, _, _ = generate(rule, prompt, 30, None)
    ticks = iter(range(10**6))
    gate = DraftGate(lambda: float(next(ticks)))   # every step takes time
    gate.count[(1, True)] = DraftGate.TRIALS            # drafting measured slower than plain here
    gate.sums = {(1, True): (1.0, 1.0), (1, False): (1.0, 0.5)}
    out, stats, _ = generate(rule, prompt, 30, PromptLookup(), gate=gate)
    assert out == plain and stats.drafted == 0 and "not consulted" in generate.spec.mode
    assert gate.count[(1, False)] > 5                   # its plain steps were measured
    gate.sums = {(1, True): (1.0, 0.5), (1, False): (1.0, 1.0)}
    out, stats, _ = generate(rule, prompt, 30, PromptLookup(), gate=gate)
    assert out == plain and stats.drafted > 0 and "not consulted" not in generate.spec.mode
