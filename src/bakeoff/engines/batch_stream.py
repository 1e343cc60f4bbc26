"""Per-request plumbing of the continuous-batching engine: the request's decoding state and
delivery (queued for a caller that iterates, or handed to an attached callback), and the sequence
slot it occupies."""

from __future__ import annotations

import queue
import threading
import time

from .base import Chunk, Deliver, TokenLogprob
from .llamacpp import SeqGen


class Request:
    def __init__(self, tokens: list[int], seq: SeqGen, prompt_logprobs: int | None):
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
