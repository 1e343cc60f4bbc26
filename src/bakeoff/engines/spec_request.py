"""How one request of the single-sequence llama.cpp engine decodes: the speculation it gets and
the two ways its tokens are chosen.

Greedy requests (temperature 0) are verified by token equality: the request's own sampler chain
picks at each position, and a drafted token stays when it is the one picked, so the answer is
token for token plain decoding's. Sampled requests are verified by the rejection rule
(engines/sampling.py): every token of the request, drafted or not, comes from the distribution
the request's sampler defines, drawn with a generator seeded by the request's seed.

`mode` says in the request's timings what ran: "prompt-lookup", "draft:NAME", or "off" with the
reason when speculation was asked for and could not be exact.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..notices import notice
from .draft import DraftRunner, ModelDrafter
from .sampling import TargetDist, draw
from .speculative import MAX_VERIFY, LookupStats, PromptLookup, Speculator
from .verify_cost import LONG_FROM, VerifyCost, cached, exact_limit, probe, probe_region, save

# emit(text, logprobs) passes what a token produced to the stream.
Emit = Callable[[str, Any], None]
OFF_GPU = "off: layers on the GPU (verification is exact on the CPU backend only)"
OFF_INEXACT = ("off: this model's batched logits differ from one-token decoding here (measured), so "
               "drafts could change answers")
OFF_LONG = ("off from position 256: llama.cpp's attention for a lone token there depends on the "
            "thread count, so drafts could change answers (BAKEOFF_EXACT_BATCHES=1 keeps them exact)")
OFF_NO_ROOM = "off: no room left in the context to measure what drafts cost"
OFF_SAMPLED = "off: sampled request (prompt lookup drafts sampled answers with speculative_sampled)"


class SampledPicker:
    """A sampled request's token choices through its sampler as a distribution (SampledSeq)."""

    def __init__(self, seq: Any, dist: TargetDist, emit: Emit):
        self.seq, self.dist, self.emit = seq, dist, emit
        self.rng = np.random.default_rng(seq.params.seed)

    def probs(self, i: int) -> np.ndarray:
        return self.dist.probs(self.seq.h.logits(i))

    def commit(self, i: int, token: int) -> bool:
        lps = self.seq.logprob_entry(i, token)
        self.dist.accept(token)
        self.emit(self.seq.accept(token), lps)
        return self.seq.done

    def pick(self, i: int) -> tuple[int, bool]:
        token = draw(self.probs(i), self.rng)
        return token, self.commit(i, token)


class CostBook:
    """An engine's verification costs (probed at its first greedy speculative request, or read from
    the cache) and its prompt-lookup statistics, kept across its requests. `key` names the model
    file, threads and llama.cpp build the costs belong to; `name` is the model as users know it."""

    def __init__(self, key: str, name: str = "the model", exact_attention: bool = False):
        self.key, self.name = key, name
        # From LONG_FROM llama.cpp splits a lone token's attention across threads, so there its
        # logits depend on the thread count (SmolLM2 Q4_1, 1 vs 2 threads: bit-identical below
        # position 256, up to 1.03 apart from it) and no verification decode can match them for
        # every count the thread governor may pick: drafts stop there, unless every decode takes
        # the row-by-row kernel (a BF16 V cache), where that region is measured like the first.
        self.exact_attention = exact_attention
        self.cost: VerifyCost | None = None
        self.stats = LookupStats()

    def ready(self, model: Any, pos: int, tokens: list[int]) -> VerifyCost | None:
        """The costs, probed at `pos` if need be; None when the context has no room left there to
        probe (the request then decodes plainly)."""
        if self.cost is None:
            self.cost = cached(self.key)
        if self.cost is None:
            if not self._room(model, pos):
                return None
            notice(f"speculative decoding: measuring {self.name}'s exact batch size and decode costs "
                   "(once per model file, threads and llama.cpp build)…")
            self.cost = probe(model, 0, pos, tokens, self.key)
            if pos >= LONG_FROM and not self.exact_attention:
                self.cost.exact_long = 1   # whatever this thread count measured (see __init__)
            save(self.cost)
        return self.cost

    def limit(self, model: Any, pos: int, tokens: list[int]) -> int | None:
        """The most tokens a verification decode at `pos` may hold (1: no draft), measuring the
        exactness of this region of positions if need be; None when there is no room to measure
        the costs at all."""
        cost = self.ready(model, pos, tokens)
        if cost is None:
            return None
        if pos >= LONG_FROM and not self.exact_attention:
            cost.record_exact(pos, 1)   # by construction, whatever a cache file says
            return 1
        limit = cost.limit(pos)
        if limit is None and probe_region(pos) and self._room(model, pos):
            cost.record_exact(pos, exact_limit(model, 0, pos, tokens))
            save(cost)
            limit = cost.limit(pos)
        return limit or 1

    @staticmethod
    def _room(model: Any, pos: int) -> bool:
        return pos + MAX_VERIFY <= getattr(model, "n_ctx_seq", pos + MAX_VERIFY)

    def keep(self) -> None:
        """Cache the costs as followed while decoding, for the next load of this model."""
        if self.cost is not None:
            save(self.cost)


class SpecRequest:
    """The speculator for one request and the pick/step functions the decode loop calls.

    A greedy request's start checks the model's measured exact limit (`book`, probed once
    per model if need be): it bounds every verification batch, whoever drafts, and a model exact
    at no batch size decodes plainly. Greedy prompt lookup also takes its draft lengths from the
    costs. A sampled request needs neither: the rejection rule keeps the target's distribution
    whatever the last bits of batched logits, and its seeded sample under speculation is not plain
    decoding's anyway; it verifies up to MAX_VERIFY tokens, and lookup keeps fixed lengths so a
    seeded sample never depends on what earlier requests taught the costs."""

    def __init__(self, seq: Any, emit: Emit, drafter: Any = None, mode: str = "off",
                 sampled: SampledPicker | None = None, book: CostBook | None = None):
        self.seq, self.emit, self.sampled = seq, emit, sampled
        self.spec = Speculator(drafter, mode)
        self.book = book if drafter is not None and sampled is None else None

    def pick(self, i: int) -> tuple[int, bool]:
        if self.sampled is not None:
            return self.sampled.pick(i)
        token, lps = self.seq.sample(i)
        self.emit(self.seq.accept(token), lps)
        return token, self.seq.done

    def start(self, model: Any, history: list[int]) -> None:
        """The prompt is in the cache and its next token picked (not yet shown): take the history,
        and bound verification now, so a first measurement is announced before any answer text."""
        self.spec.start(history)
        if self.book is not None:
            self._bound(model, len(history))

    def step(self, model: Any, pos: int, token: int, room: int) -> tuple[list[int], int | None]:
        if self.book is not None and self.spec.drafter is not None:
            self._region(model, pos)
        if self.sampled is not None:
            return self.spec.step_sampled(model, 0, pos, token, self.sampled, room)
        return self.spec.step(model, 0, pos, token, self.pick, room)

    def _bound(self, model: Any, pos: int) -> None:
        """Bound verification by the model's exact limit where the first draft goes (`pos`,
        measured there if need be), or turn drafting off with the reason."""
        drafter = self.spec.drafter
        limit = self._region(model, pos)
        cost = self.spec.cost
        if limit is None or (limit < 2 and cost is not None and cost.exact is not None and cost.exact < 2):
            self.spec.drafter, self.book = None, None
            self.spec.mode = OFF_NO_ROOM if limit is None else OFF_INEXACT
        elif isinstance(drafter, PromptLookup) and self.spec.drafter is not None:
            drafter.cost = cost   # lookup drafts as long as pays

    def _region(self, model: Any, pos: int) -> int | None:
        """The exact limit at `pos` (its region's, measured once per model), set on the
        speculator; from LONG_FROM, where drafts cannot be exact by default, drafting ends and the
        request's mode says where."""
        assert self.book is not None and self.spec.drafter is not None
        limit = self.book.limit(model, pos, self.spec.drafter.history[-MAX_VERIFY:])
        if limit is None:
            return None
        self.spec.limit = limit
        self.spec.cost = self.book.cost   # every verification decode's time keeps the costs current
        if limit < 2 and pos >= LONG_FROM:   # every later position is in the same region
            drafted = self.spec.stats.drafted > 0
            self.spec.mode = f"{self.spec.mode} until position {pos}, then {OFF_LONG}" if drafted else OFF_LONG
            self.spec.drafter, self.book = None, None
        return limit

    def close(self) -> None:
        if self.sampled is not None:
            self.sampled.dist.close()


def open_request(h: Any, seq: Any, emit: Emit, *, speculative: bool,
                 draft: DraftRunner | None, lookup_sampled: bool = False,
                 book: CostBook | None = None) -> SpecRequest:
    """Prompt lookup, or the draft model when the engine has one; off when not asked, on a GPU,
    and for sampled requests without a draft unless `lookup_sampled` (the setting)."""
    if not speculative:
        return SpecRequest(seq, emit)
    if h.n_gpu_layers > 0:
        return SpecRequest(seq, emit, mode=OFF_GPU)
    if seq.params.temperature > 0 and draft is None and not lookup_sampled:
        return SpecRequest(seq, emit, mode=OFF_SAMPLED)
    sampled = None
    if seq.params.temperature > 0:
        sampled = SampledPicker(seq, TargetDist.build(h, seq.params, seq.grammar), emit)
    if draft is None:
        if sampled is not None:   # fixed lengths (see SpecRequest)
            return SpecRequest(seq, emit, PromptLookup(), "prompt-lookup", sampled)
        lookup = PromptLookup(max_draft=MAX_VERIFY - 1, stats=book.stats) if book else PromptLookup()
        return SpecRequest(seq, emit, lookup, "prompt-lookup", None, book)
    guide = sampled.dist if sampled is not None else seq.sampler
    drafter = ModelDrafter(draft, guide, sampled is not None, sampled.rng if sampled else None)
    req = SpecRequest(seq, emit, drafter, f"draft:{draft.ref.name}", sampled, book)
    if sampled is None:   # a seeded sample must not depend on what earlier requests taught the gate
        req.spec.gate = draft.gate
    return req
