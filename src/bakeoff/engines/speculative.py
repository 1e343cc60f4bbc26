"""Speculative decoding as a strategy: draft a few tokens cheaply, verify them in one decode.

Prompt lookup drafts from n-grams already seen in the prompt and the answer so far (no second
model): when the last n tokens occurred before, the tokens that followed them then are proposed.
Verification evaluates the pending token and the draft in one batch with logits at every
position, then samples position by position with the request's own sampler, keeping draft tokens
while they equal what was sampled. The sampler sees the same logits, in the same order, as in
one-token decoding, so a deterministic chain (greedy, with or without grammar or penalties) gives
the same tokens. Rejected positions are removed from the KV cache.

The exactness rests on llama.cpp giving the same logits for a token whether it is evaluated alone
or in a batch. How large a batch stays bit-identical depends on the model file and the kernels
(SmolLM2-135M: 32 tokens; Gemma 3 270M Q4_K_M: 3), so it is measured per model (verify_cost.py)
and a verification batch never exceeds it (`Speculator.limit`), nor MAX_VERIFY tokens.

Drafters: `PromptLookup` here, and a smaller model with the same vocabulary (engines/draft.py).
A sampled request is verified by the rejection rule in engines/sampling.py instead of token
equality (`step_sampled`), which keeps the output distribution the target's own.

The strategy needs only a narrow model interface (`Verifier`): decode tokens with logits, and
remove a sequence's KV cells. Sampling and stop handling stay with the caller (`pick`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .sampling import SampledSeq, draw, judge
from .verify_cost import VerifyCost

MAX_VERIFY = 32   # tokens per verification batch (see the module docstring)


class Verifier(Protocol):
    def decode(self, tokens: Sequence[int], positions: Sequence[int], seq_ids: Sequence[int],
               want_logits: Sequence[bool]) -> None: ...
    def seq_rm(self, seq_id: int, p0: int = -1, p1: int = -1) -> bool: ...


class Drafter(Protocol):
    """Proposes tokens to follow the history; `q` holds the proposal distributions of the last
    draft, one per token (None: each token was proposed with certainty, a one-hot q)."""

    q: list[np.ndarray] | None
    history: list[int]   # the tokens extended so far (the prompt, then the answer)

    def extend(self, tokens: Sequence[int]) -> None: ...
    def draft(self, cap: int = MAX_VERIFY - 1) -> list[int]: ...
    def feedback(self, drafted: int, accepted: int) -> None: ...


# pick(i) samples from output i of the last decode, records the token, and says whether the
# sequence is finished (end of generation, a stop string, the length limit).
Pick = Callable[[int], tuple[int, bool]]


@dataclass
class SpecStats:
    """Tokens proposed by drafts and tokens of those that verification kept."""

    drafted: int = 0
    accepted: int = 0
    verify_batches: int = 0

    @property
    def acceptance(self) -> float:
        return self.accepted / self.drafted if self.drafted else 0.0


class LookupStats:
    """How often prompt lookup's drafted tokens were kept, by the length of the n-gram matched,
    over an engine's requests: p(n) is the chance a drafted token is kept given the ones before it
    were. Evidence costs nothing to gather: when no draft pays, the match's first token is still
    compared with the token decoded (a "shadow" draft). The prior (1 of 2) drafts nothing until
    such evidence says it pays, and old counts fade (halved past FADE tokens seen) so a new kind of
    text is learnt again."""

    PRIOR_KEPT, PRIOR_SEEN, FADE = 1.0, 2.0, 200.0

    def __init__(self) -> None:
        self.kept: dict[int, float] = {}
        self.seen: dict[int, float] = {}

    def p(self, n: int) -> float:
        return (self.kept.get(n, 0.0) + self.PRIOR_KEPT) / (self.seen.get(n, 0.0) + self.PRIOR_SEEN)

    def record(self, n: int, drafted: int, accepted: int) -> None:
        """A draft of `drafted` tokens from an n-gram match kept `accepted`: each kept token was
        examined, and so was the first rejected one."""
        seen = self.seen.get(n, 0.0) + accepted + (1 if accepted < drafted else 0)
        kept = self.kept.get(n, 0.0) + accepted
        if seen > self.FADE:
            seen, kept = seen / 2, kept / 2
        self.seen[n], self.kept[n] = seen, kept


class PromptLookup:
    """N-gram drafts from the sequence's own history, most recent occurrence first.

    `extend` feeds tokens as they become part of the history (prompt, then accepted tokens);
    an index of each n-gram's latest continuation makes a draft O(ngram_max) to find.

    With a `cost` (engines/verify_cost.py) the draft length is the one with the most expected
    tokens per second, from what a decode of each size costs here and how often drafts from a
    match of that length were kept (`stats`); plain decoding when no length pays. Without one
    (the batching scheduler) the length adapts: it doubles after a fully accepted draft (up to
    max_draft) and falls back to one more than the accepted count after a rejection.
    """

    q = None   # drafts are certain proposals (one-hot) for the rejection rule

    def __init__(self, max_draft: int = 16, ngram_max: int = 4, ngram_min: int = 2,
                 first_draft: int = 4, cost: VerifyCost | None = None, stats: LookupStats | None = None):
        if not 1 <= ngram_min <= ngram_max:
            raise ValueError("need 1 <= ngram_min <= ngram_max")
        self.max_draft = max(0, min(max_draft, MAX_VERIFY - 1))
        self.limit = min(first_draft, self.max_draft)   # the next draft's length (without a cost)
        self.ngram_max = ngram_max
        self.ngram_min = ngram_min
        self.cost = cost
        self.stats = stats if stats is not None else LookupStats()
        self.history: list[int] = []
        self._next: dict[tuple[int, ...], int] = {}   # n-gram -> index of the token after it
        self._matched = 0   # the n-gram length behind the last draft
        self._shadow: int | None = None   # the token a match proposed when no draft was made

    def extend(self, tokens: Sequence[int]) -> None:
        h = self.history
        if self._shadow is not None and tokens:
            self.stats.record(self._matched, 1, int(tokens[0] == self._shadow))
            self._shadow = None
        for tok in tokens:
            end = len(h)   # the gram h[end-n:end] is followed by tok at index end
            for n in range(self.ngram_min, min(self.ngram_max, end) + 1):
                self._next[tuple(h[end - n:end])] = end
            h.append(tok)

    def draft(self, cap: int = MAX_VERIFY - 1) -> list[int]:
        """Tokens that followed the longest earlier match of the history's tail: as many as pay
        (with a cost), else up to the adaptive limit; never more than max_draft or cap."""
        h = self.history
        for n in range(min(self.ngram_max, len(h)), self.ngram_min - 1, -1):
            start = self._next.get(tuple(h[len(h) - n:]))
            if start is not None:
                self._matched = n
                if self.cost is None:
                    return h[start:start + min(self.limit, cap)]
                follow = h[start:start + min(self.max_draft, cap)]
                d = self.cost.best_draft(self.stats.p(n), len(follow))
                self._shadow = follow[0] if d == 0 and follow else None
                return follow[:d]
        return []

    def feedback(self, drafted: int, accepted: int) -> None:
        """Learn from how much of the last draft was kept."""
        self.stats.record(self._matched, drafted, accepted)
        if accepted == drafted:
            self.limit = min(self.max_draft, max(1, self.limit) * 2)
        else:
            self.limit = min(self.max_draft, accepted + 1)


class Speculator:
    """Drives one sequence's decode steps: each step evaluates the pending token plus a draft."""

    def __init__(self, drafter: Drafter | None, mode: str = "", cost: VerifyCost | None = None):
        self.drafter = drafter
        self.cost = cost   # told how long each decode took (it chooses prompt lookup's lengths)
        self.limit = MAX_VERIFY   # the largest verification batch: the model's measured exact limit
        self.gate: DraftGate | None = None   # whether this request consults its drafter (a draft model)
        self._use: bool | None = None           # the gate's choice for this request
        self._consulted = self._gated = False   # this step's
        self.stats = SpecStats()
        self.mode = mode or ("off" if drafter is None else type(drafter).__name__)  # for timings

    def start(self, history: Sequence[int]) -> None:
        """The tokens already in the sequence (the prompt) before the first pending token."""
        if self.drafter is not None:
            self.drafter.extend(history)

    def step(self, model: Verifier, seq_id: int, pos: int, token: int, pick: Pick,
             room: int = MAX_VERIFY) -> tuple[list[int], int | None]:
        """Evaluate `token` at `pos` with a draft after it; sample the following positions.
        `room` is how many more tokens the sequence may produce (a draft never runs past it).

        Returns the tokens now in the KV cache (token and the accepted draft) and the next
        pending token, or None when the sequence finished.
        """
        batch = self._propose(model, seq_id, pos, token, room)
        n = len(batch)
        kept = 1
        while True:
            nxt, done = pick(kept - 1)
            if done or kept == n or nxt != batch[kept]:
                break
            kept += 1
        return self._settle(model, seq_id, pos, batch, kept, nxt, done)

    def step_sampled(self, model: Verifier, seq_id: int, pos: int, token: int, seq: SampledSeq,
                     room: int = MAX_VERIFY) -> tuple[list[int], int | None]:
        """`step` for a sampled request: each drafted token is kept or replaced by the rejection
        rule (engines/sampling.py); when all are kept, one more token is drawn from the target."""
        batch = self._propose(model, seq_id, pos, token, room)
        qs = self.drafter.q if self.drafter is not None else None
        n = len(batch)
        kept = 1
        while True:
            p = seq.probs(kept - 1)
            if kept < n:
                nxt, ok = judge(p, batch[kept], qs[kept - 1] if qs else None, seq.rng)
            else:
                nxt, ok = draw(p, seq.rng), False
            done = seq.commit(kept - 1, nxt)
            if done or not ok:
                break
            kept += 1
        return self._settle(model, seq_id, pos, batch, kept, nxt, done)

    def _propose(self, model: Verifier, seq_id: int, pos: int, token: int, room: int) -> list[int]:
        """Draft after `token` (never past `room`) and evaluate both in one decode."""
        draft: list[int] = []
        self._consulted = self._gated = False
        if self.drafter is not None:
            self.drafter.extend([token])
            cap = max(min(room, self.limit) - 1, 0)
            self._gated = cap > 0 and self.gate is not None
            self._consulted = self._choose() if self._gated else cap > 0
            if self._consulted:
                draft = self.drafter.draft(cap)[:cap]
        batch = [token, *draft]
        n = len(batch)
        t0 = time.perf_counter()
        model.decode(batch, range(pos, pos + n), [seq_id] * n, [True] * n)
        if self.cost is not None:
            self.cost.observe(n, time.perf_counter() - t0)
        if draft:
            self.stats.drafted += len(draft)
            self.stats.verify_batches += 1
        return batch

    def _choose(self) -> bool:
        assert self.gate is not None
        if self._use is None:
            self._use = self.gate.want(1)
            if not self._use:
                self.mode += " (not consulted: consulting it has not measured faster here; tried now and then)"
        else:
            self.gate.tick()
        return self._use

    def _settle(self, model: Verifier, seq_id: int, pos: int, batch: list[int], kept: int,
                nxt: int, done: bool) -> tuple[list[int], int | None]:
        """Drop the rejected cells, count, and tell the drafter what was kept."""
        n = len(batch)
        if kept < n:
            model.seq_rm(seq_id, pos + kept, -1)
        self.stats.accepted += kept - 1
        if self._gated and self.gate is not None:
            self.gate.observe(1, self._consulted, kept)
        if self.drafter is not None and n > 1:
            self.drafter.feedback(n - 1, kept - 1)
            self.drafter.extend(batch[1:kept])
        return batch[:kept], None if done else nxt


class DraftGate:
    """Whether a step carries drafts, decided by what drafting steps delivered here (the
    batching scheduler, per number of sequences decoding; a draft model, whose every proposal
    costs a decode of its own, with n_seq 1).

    What a draft costs is the machine's and the models', not a constant. In a shared batch on this 2-core CPU
    (SmolLM2-135M Q4_1, 8 sequences, split cache, load ~1) a step of one token each took 45.9 ms;
    adding one draft token to each took 83.2 ms (the cache splits the decode in two sub-batches),
    four each 168.9 ms, so a draft pays only when about nine in ten of its tokens are kept, and
    serving rewriting requests with drafts measured 0.83-0.88x plain. A draft model as large as
    its target (SmolLM2 Q4_1 drafting for a Q8_0 copy) costs a decode for every proposal, even
    one it then declines: always consulted it ran at 0.5x plain. And a draft left out for a while
    must read what it missed before it can propose again, so a request holds to one choice (made
    at its first step; the trials are every EXPLORE-th request). On a GPU a batch's extra tokens
    are nearly free, and a small draft for a large target pays. So the gate keeps, per number of
    generating sequences, a running
    tokens-per-second of steps that drafted and of steps that did not, drafts while drafting
    delivers more, and tries the other side every EXPLORE-th step so a change (answers that start
    copying, a busier machine) is noticed; the loss from trying is at most 1/EXPLORE of a step's
    worth."""

    EXPLORE = 16
    EMA = 0.25     # weight of the newest step in the fading means
    TRIALS = 8     # drafting steps measured (over all sizes) before drafting can lose

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        # (sequences, drafted) -> fading means of tokens and of seconds per step
        self.sums: dict[tuple[int, bool], tuple[float, float]] = {}
        self.seen: dict[int, int] = {}
        self.count: dict[tuple[int, bool], int] = {}
        self._t0 = 0.0

    def want(self, n_seq: int) -> bool:
        """Whether the step about to be planned for n_seq generating sequences may draft."""
        self._t0 = self.clock()
        k = self.seen[n_seq] = self.seen.get(n_seq, 0) + 1
        tried = sum(c for (_, d), c in self.count.items() if d)
        if tried < self.TRIALS:   # one unlucky draft is not evidence
            return True
        ratio = self._ratio(n_seq)
        if ratio is None:         # nothing to compare with yet: measure plain steps, try now and then
            return k % self.EXPLORE == 0
        return (ratio > 1.0) != (k % self.EXPLORE == 0)

    def _ratio(self, n_seq: int) -> float | None:
        """Drafting's tokens/s over plain's for n_seq sequences; where that is not measured
        on both sides yet, the mean ratio over the sizes that are (a new size learns from the
        others instead of paying trials of its own)."""
        own = [self.rate(n_seq, d) for d in (True, False)]
        if own[0] is not None and own[1] is not None and self.count.get((n_seq, True), 0) >= 2:
            return own[0] / own[1]
        ratios = [d / p for n in {n for n, _ in self.sums}
                  if (d := self.rate(n, True)) is not None and (p := self.rate(n, False)) is not None]
        return sum(ratios) / len(ratios) if ratios else None

    def tick(self) -> None:
        """A step about to run on a choice already made (a request that holds to one)."""
        self._t0 = self.clock()

    def observe(self, n_seq: int, drafted: bool, tokens: int) -> None:
        """The step planned after want() emitted `tokens` (drafted or not)."""
        seconds = self.clock() - self._t0
        if seconds <= 0 or tokens <= 0:
            return
        key = (n_seq, drafted)
        n = self.count[key] = self.count.get(key, 0) + 1
        w = max(self.EMA, 1 / n)   # the plain mean until there are 1/EMA steps, then a fading one
        tok, sec = self.sums.get(key, (0.0, 0.0))
        self.sums[key] = (tok + w * (tokens - tok), sec + w * (seconds - sec))

    def rate(self, n_seq: int, drafted: bool) -> float | None:
        """Tokens per second of the steps of this kind lately (a ratio of sums: a step that
        kept nothing weighs by its length, not as one rate among many)."""
        tok, sec = self.sums.get((n_seq, drafted), (0.0, 0.0))
        return tok / sec if sec > 0 else None
