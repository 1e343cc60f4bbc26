"""Per-request plumbing of the continuous-batching engine: the request's decoding state and
delivery (queued for a caller that iterates, or handed to an attached callback), its prompt-lookup
drafts, and the sequence slot it occupies."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence

from .base import Chunk, Deliver, TokenLogprob
from .llamacpp import SeqGen
from .speculative import PromptLookup, SpecStats


class Request:
    def __init__(self, tokens: list[int], seq: SeqGen, prompt_logprobs: int | None,
                 drafter: PromptLookup | None = None):
        self.tokens = tokens
        self.seq = seq
        self.prompt_logprobs = prompt_logprobs
        self.out: "queue.SimpleQueue[Chunk | BaseException | None]" = queue.SimpleQueue()
        self.deliver: Deliver | None = None  # set by attach: called instead of queueing
        self.lock = threading.Lock()
        self.cancelled = False
        self.t0 = time.perf_counter()
        self.t_prefill = self.t0
        self.slot: Slot | None = None
        self.n_eval = 0          # prompt tokens whose KV entries exist (reused + evaluated)
        self.reused = 0
        self.next_token = -1     # sampled, not yet decoded
        self.prompt_lps: list[TokenLogprob] = []
        self.drafter = drafter   # prompt lookup (greedy requests when speculation is on)
        self.spec = SpecStats()
        self.hit = 1.0           # running share of drafted tokens kept (optimistic until tried)

    def put(self, item: "Chunk | BaseException | None") -> None:
        with self.lock:
            if self.deliver is None:
                self.out.put(item)
                return
        self.deliver(item)

    def attach(self, deliver: Deliver) -> None:
        with self.lock:
            while True:
                try:
                    deliver(self.out.get_nowait())
                except queue.Empty:
                    break
            self.deliver = deliver

    # --- drafts -------------------------------------------------------------------------------
    def draft(self, cap: int, worth: float = 0.0) -> list[int]:
        """Up to `cap` tokens to verify after next_token, never past the length limit; none
        while the share of this request's drafts kept lately is below `worth` (that share then
        creeps back up, so a request whose answer starts copying later gets to try again)."""
        if self.drafter is None or cap <= 0:
            return []
        if self.hit < worth:
            self.hit += (1.0 - self.hit) * 0.1
            return []
        room = self.seq.max_new - self.seq.n_out - 1   # next_token itself is one of the rest
        return self.drafter.draft()[:max(min(cap, room), 0)]

    def grow(self, tokens: Sequence[int]) -> None:
        """Tokens that joined the sequence's history (the prompt, kept drafts, the next token)."""
        if self.drafter is not None:
            self.drafter.extend(tokens)

    def settle(self, drafted: int, accepted: int) -> None:
        """Count a verified draft and let the drafter adapt its length to it."""
        if drafted and self.drafter is not None:
            self.spec.drafted += drafted
            self.spec.accepted += accepted
            self.spec.verify_batches += 1
            self.hit = 0.6 * self.hit + 0.4 * accepted / drafted
            self.drafter.feedback(drafted, accepted)

    @property
    def prefilling(self) -> bool:
        return self.n_eval < len(self.tokens)

    @property
    def needs_prefill(self) -> bool:
        return self.seq.max_new > 0 or self.prompt_logprobs is not None


class Slot:
    def __init__(self, seq_id: int):
        self.seq_id = seq_id
        self.kv: list[int] = []      # tokens whose KV entries this sequence holds, positions 0..n-1
        self.req: Request | None = None
        self.last_used = 0.0
