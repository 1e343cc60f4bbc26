"""Per-request plumbing of the continuous-batching engine: the stream a caller iterates (or attaches
a delivery callback to), the request's decoding state, and the sequence slot it occupies."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .base import Chunk, TokenLogprob
from .llamacpp import SeqGen


@dataclass
class PromptChunk(Chunk):
    """First chunk of a stream that asked for prompt log-probabilities (completions `echo`).

    `text` is the prompt as detokenized, `logprobs` one entry per prompt token; the first token
    has no context, so its logprob is None-like (nan)."""


class Stream:
    """An Iterator[Chunk] that can also be cancelled from another thread (a client went away).

    Instead of iterating, a consumer may `attach(deliver)`: from then on the scheduler thread calls
    deliver(item) itself for every chunk, error or end marker (None), in order, starting with those
    already waiting. An asyncio server uses this to get chunks without a thread per stream."""

    def __init__(self, it: Iterator[Chunk], cancel: Any, attach: Any):
        self._it = it
        self.cancel = cancel
        self.attach = attach

    def __iter__(self) -> "Stream":
        return self

    def __next__(self) -> Chunk:
        return next(self._it)

    def close(self) -> None:
        self._it.close()  # type: ignore[attr-defined]


class Request:
    def __init__(self, tokens: list[int], seq: SeqGen, prompt_logprobs: int | None):
        self.tokens = tokens
        self.seq = seq
        self.prompt_logprobs = prompt_logprobs
        self.out: "queue.SimpleQueue[Chunk | BaseException | None]" = queue.SimpleQueue()
        self.deliver: Any = None  # set by Stream.attach: called instead of queueing
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

    def attach(self, deliver: Any) -> None:
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
