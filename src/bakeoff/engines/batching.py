"""Continuous batching for llama.cpp models: many concurrent streams, one llama_decode per step.

`BatchedEngine` keeps the Engine contract (chat/complete -> Iterator[Chunk]), so every surface uses
it unchanged; calls from any thread are safe. One background thread runs the scheduler
(engines/scheduler.py), which owns the model's KV sequences: requests wait in its queue, join and
leave between decode steps, and reuse cached prefixes. A stream that its consumer closes or cancels
(a client that disconnected) is dropped at the next step and its slot is free at once. The KV
cache is one shared pool of cells, or one stream per sequence (see engines/llamacpp.py). Greedy
requests are sped up by prompt lookup inside the scheduler's steps when the engine has speculation
on (the speculative setting, `--no-speculative`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, ClassVar

from ..errors import EngineError
from .base import Chunk, ChunkStream, GenParams, LogLik, LogLikRequest, Message, PromptChunk, TokenEngine
from .batch_stream import Request
from .batching_drafts import speculative_layout
from .embedding import Embedder
from .llamacpp import LlamaCppEngine
from .scheduler import Scheduler


class BatchedEngine(TokenEngine):
    """Wraps a LlamaCppEngine created with n_seq_max = slots; all decoding happens on one thread."""

    supports_prompt_logprobs: ClassVar[bool] = True

    def __init__(self, inner: LlamaCppEngine, *, max_queue: int | None = None):
        self.inner = inner
        self.ref = inner.ref
        # Prompt lookup where the engine's own decoding uses it (on, and on the CPU: batched logits
        # were measured identical to one-token decoding there, not on GPU kernels), with a KV
        # layout where a token's logits do not depend on the other sequences.
        speculative = (inner.speculative and inner.h.n_gpu_layers == 0
                       and speculative_layout(inner.h.kv_unified, inner.h.n_seq_max))
        self.sched = Scheduler(inner.h, self.ref.name, max_queue, speculative=speculative)
        self.concurrency = len(self.sched.slots)
        self._cv = threading.Condition()
        self._stop = False
        self._embedder: Embedder | None = None
        inner.chat_formatter()  # looks up special tokens here, off the scheduler thread (renders nothing)
        self._thread = threading.Thread(target=self._run, name=f"batch-{self.ref.name}", daemon=True)
        self._thread.start()

    # --- Engine contract --------------------------------------------------------------------
    @property
    def n_ctx(self) -> int:
        return self.inner.n_ctx

    def tokenize(self, text: str, add_special: bool = True) -> list[int]:
        return self.inner.tokenize(text, add_special)

    def info(self) -> dict[str, Any]:
        h = self.inner.h
        # Whether a greedy answer is the one the request gets alone: exact attention (CPU) and a KV
        # cache split per slot; in one shared pool a token's attention sums other cells' order too.
        exact = h.exact_attention and speculative_layout(h.kv_unified, h.n_seq_max)
        return {**self.inner.info(), "slots": len(self.sched.slots), "batching": "continuous",
                "batch_invariant": exact}

    def chat_tokens(self, messages: list[Message] | list[dict[str, Any]],
                    tools: list[dict[str, Any]] | None = None) -> list[int]:
        return self.inner.chat_tokens(messages, tools)

    def chat_stops(self) -> list[str]:
        return self.inner.chat_stops()

    def tool_template(self) -> str | None:
        return self.inner.tool_template()

    def generate_tokens(self, tokens: list[int], params: GenParams,
                        prompt_logprobs: int | None = None) -> ChunkStream:
        """Queue a request (raising BusyError/ContextOverflowError now, before any chunk)."""
        tokens = self.sched.check_prompt(tokens)
        max_new = self.inner.check_fits(len(tokens), params)
        req = self.sched.new_request(tokens, params, max_new, prompt_logprobs)
        with self._cv:
            if self._stop:
                req.seq.close()
                raise EngineError(f"{self.ref.name} was unloaded", "retry the request")
            self.sched.submit(req)
            self._cv.notify()
        return ChunkStream(self._drain(req), lambda: self.cancel(req), req.attach)

    def _drain(self, req: Request) -> Iterator[Chunk]:
        try:
            while True:
                item = req.out.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.cancel(req)

    def cancel(self, req: Request) -> None:
        """Drop a request (thread-safe); a consumer that stops early frees its slot at the next step."""
        if not req.cancelled:
            req.cancelled = True
            self.sched.drop(req)
            with self._cv:
                self._cv.notify()

    def loglikelihood(self, requests: list[LogLikRequest]) -> list[LogLik]:
        """Scores all pairs concurrently through the batch, from prompt log-probabilities."""
        streams, n_conts = [], []
        for r in requests:
            ctx = self.tokenize(r.context, add_special=True)
            cont = self.tokenize(r.continuation, add_special=False)
            n_conts.append(len(cont))
            streams.append(self.generate_tokens(ctx + cont, GenParams(max_tokens=0), prompt_logprobs=1))
        out = []
        for stream, n in zip(streams, n_conts):
            lps = next(c for c in stream if isinstance(c, PromptChunk)).logprobs or []
            for _ in stream:
                pass
            tail = lps[len(lps) - n:] if n else []
            out.append(LogLik(float(sum(t.logprob for t in tail)),
                              all(t.logprob >= max(t.top.values()) for t in tail), n))
        return out

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Mean-pooled (or model-pooled), L2-normalised vectors from a second, lazily made context."""
        with self._cv:
            if self._embedder is None:
                self._embedder = Embedder(self.ref.path or "", self.inner.h.n_threads)
            embedder = self._embedder
        return embedder.embed(texts)

    def stats(self) -> dict[str, int]:
        with self._cv:
            return self.sched.stats()

    def close(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify()
        self._thread.join(timeout=30)
        self.inner.close()
        if self._embedder is not None:
            self._embedder.close()

    # --- scheduler thread -------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._stop and not self.sched.pending and not self.sched.busy():
                    self._cv.wait()
                if self._stop:
                    break
                admitted = self.sched.take_admissible()
            self.sched.tick(admitted)
        with self._cv:
            self.sched.shutdown(EngineError(f"{self.ref.name} was unloaded", "retry the request"))
