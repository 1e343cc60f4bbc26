"""Continuous batching for llama.cpp models: many concurrent streams, one llama_decode per step.

One background thread owns the LlamaHandle. Requests join and leave between decode steps, each in
its own sequence id of the KV cache (one shared pool of cells, or one stream per sequence; see
server/pool.py); every step evaluates one token for each generating
sequence plus prompt chunks of newly admitted ones, in a single llama_decode. Finished sequences keep
their KV entries, so a later prompt that shares a prefix (a chat's earlier turns, a common system
prompt) reuses them in place or copies them with seq_cp. A stream that its consumer closes (a client
that disconnected) is dropped at the next step and its slot is free at once.

`BatchedEngine` keeps the Engine contract (chat/complete -> Iterator[Chunk]), so every surface uses
it unchanged; calls from any thread are safe.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..errors import BakeoffError, BusyError, ContextOverflowError, EngineError, InvalidParamsError
from .base import Chunk, Engine, GenParams, LogLik, LogLikRequest, Message, TokenLogprob, Usage
from .batch_stream import PromptChunk, Request, Slot, Stream
from .llamacpp import LlamaCppEngine, SeqGen, log_softmax
from .loglik import common_prefix


class BatchedEngine(Engine):
    """Wraps a LlamaCppEngine created with n_seq_max = slots; all decoding happens on one thread."""

    def __init__(self, inner: LlamaCppEngine, *, max_queue: int | None = None):
        self.inner = inner
        self.ref = inner.ref
        self.h = inner.h
        self.slots = [Slot(i) for i in range(self.h.n_seq_max)]
        self.max_queue = max_queue if max_queue is not None else 4 * len(self.slots)
        self._pending: list[Request] = []
        self._cv = threading.Condition()
        self._stop = False
        self.steps = 0
        self._embedder = None
        inner.format_chat([Message(role="user", content="warm-up")])  # caches specials off-thread
        self._thread = threading.Thread(target=self._run, name=f"batch-{self.ref.name}", daemon=True)
        self._thread.start()

    # --- Engine contract --------------------------------------------------------------------
    @property
    def n_ctx(self) -> int:
        return self.inner.n_ctx

    def tokenize(self, text: str, add_special: bool = True) -> list[int]:
        return self.inner.tokenize(text, add_special)

    def info(self) -> dict[str, Any]:
        return {**self.inner.info(), "slots": len(self.slots), "batching": "continuous"}

    def chat(self, messages: list[Message], params: GenParams) -> Iterator[Chunk]:
        if not self.inner.gguf.chat_template and not self.h.chat_template():
            params = params.model_copy(update={"stop": [*params.stop, "\nUser:"]})
        return self.generate_tokens(self.inner.chat_tokens(messages), params)

    def complete(self, prompt: str, params: GenParams) -> Iterator[Chunk]:
        return self.generate_tokens(self.tokenize(prompt), params)

    def generate_tokens(self, tokens: list[int], params: GenParams,
                        prompt_logprobs: int | None = None) -> Iterator[Chunk]:
        """Queue a request (raising BusyError/ContextOverflowError now, before any chunk)."""
        if not tokens:
            tokens = [self.h.bos] if self.h.bos >= 0 else tokens
        bad = next((t for t in tokens if not 0 <= t < self.h.n_vocab), None)
        if bad is not None or not tokens:
            raise InvalidParamsError(f"token id {bad} is outside the vocabulary (0..{self.h.n_vocab - 1})"
                                     if bad is not None else "the prompt is empty", param="prompt")
        max_new = self.inner.check_fits(len(tokens), params)
        req = Request(list(tokens), SeqGen(self.h, params, len(tokens), max_new), prompt_logprobs)
        with self._cv:
            if self._stop:
                req.seq.close()
                raise EngineError(f"{self.ref.name} was unloaded", "retry the request")
            if len(self._pending) >= self.max_queue:
                req.seq.close()
                raise BusyError(f"{self.ref.name}: {len(self._pending)} requests already queued",
                                retry_after=1.0)
            self._pending.append(req)
            self._cv.notify()
        return Stream(self._drain(req), lambda: self.cancel(req), req.attach)

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
                from .embedding import Embedder

                self._embedder = Embedder(self.ref.path or "", self.h.n_threads)
            embedder = self._embedder
        return embedder.embed(texts)

    def stats(self) -> dict[str, int]:
        with self._cv:
            return {"queued": len(self._pending), "active": sum(s.req is not None for s in self.slots),
                    "slots": len(self.slots), "steps": self.steps}

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
                while not self._stop and not self._pending and not self._busy():
                    self._cv.wait()
                if self._stop:
                    break
                admitted = self._take_admissible()
            for req in admitted:
                self._admit(req)
            self._reap()
            if self._busy():
                try:
                    self._step()
                except BakeoffError as exc:
                    self._fail_all(exc)
                except Exception as exc:  # noqa: BLE001 - keep serving; the requests get the error
                    self._fail_all(EngineError(f"decoding failed: {type(exc).__name__}: {exc}"))
        self._fail_all(EngineError(f"{self.ref.name} was unloaded", "retry the request"))
        with self._cv:
            for req in self._pending:
                self._finish(req, EngineError(f"{self.ref.name} was unloaded", "retry the request"))
            self._pending.clear()

    def _busy(self) -> bool:
        return any(s.req is not None for s in self.slots)

    def _take_admissible(self) -> list[Request]:
        """Pop as many pending requests as there are free slots (cancelled ones are dropped)."""
        for req in [r for r in self._pending if r.cancelled]:
            self._pending.remove(req)
            self._finish(req, None)
        free = sum(s.req is None for s in self.slots)
        taken, self._pending = self._pending[:free], self._pending[free:]
        return taken

    def _admit(self, req: Request) -> None:
        """Give the request a free slot, reusing the longest cached prefix of any sequence."""
        free = [s for s in self.slots if s.req is None]
        best_src, best = None, 0
        if req.prompt_logprobs is None:  # prompt logprobs need every position evaluated
            for s in self.slots:
                n = common_prefix([s.kv, req.tokens])
                if n > best:
                    best_src, best = s, n
        keep = min(best, len(req.tokens) - 1)
        if best_src is not None and best_src in free and keep > 0:
            dst = best_src
        else:  # the free slot whose cache is least useful: shortest, then least recently used
            dst = min(free, key=lambda s: (len(s.kv) > 0, s.last_used))
        if dst is not best_src or keep <= 0:
            self.h.seq_rm(dst.seq_id, -1, -1)
            dst.kv = []
            if keep > 0 and best_src is not None:
                self.h.seq_cp(best_src.seq_id, dst.seq_id, 0, keep)
                dst.kv = list(best_src.kv[:keep])
        elif not self.h.seq_rm(dst.seq_id, keep, -1):
            self.h.seq_rm(dst.seq_id, -1, -1)
            keep, dst.kv = 0, []
        dst.kv = dst.kv[:max(keep, 0)]
        req.n_eval = req.reused = max(keep, 0)
        req.slot, dst.req = dst, req
        if not req.needs_prefill:
            self._complete(req)

    def _reap(self) -> None:
        for s in self.slots:
            if s.req is not None and s.req.cancelled:
                self._release(s.req, None)

    def _step(self) -> None:
        """One llama_decode for every active sequence; then sample and stream."""
        toks, pos, seqs, want, owners = [], [], [], [], []
        budget = self.h.n_batch
        for s in self.slots:
            r = s.req
            if r is not None and not r.prefilling and len(toks) < budget:
                toks.append(r.next_token), pos.append(len(s.kv)), seqs.append(s.seq_id)
                want.append(True), owners.append((r, len(toks) - 1, 1))
        for s in self.slots:
            r = s.req
            room = budget - len(toks)
            if r is None or not r.prefilling or room <= 0:
                continue
            start = r.n_eval
            part = r.tokens[start: start + room]
            last = start + len(part) == len(r.tokens)
            all_logits = r.prompt_logprobs is not None
            for i, t in enumerate(part):
                toks.append(t), pos.append(start + i), seqs.append(s.seq_id)
                want.append(all_logits or (last and i == len(part) - 1))
            owners.append((r, len(toks) - len(part), len(part)))
        try:
            self._decode(toks, pos, seqs, want)
        except ContextOverflowError:
            # Even without idle prefixes the shared cache cannot hold this step (llama.cpp applied
            # none of it): stop the newest request so the older ones can finish, and step again.
            if not self._evict_newest():
                raise
            return
        self.steps += 1
        for r, first, n in owners:
            if r.slot is not None:
                self._advance(r, first, n)

    def _decode(self, toks: list[int], pos: list[int], seqs: list[int], want: list[bool]) -> None:
        try:
            self.h.decode(toks, pos, seqs, want)
        except ContextOverflowError:
            # The shared KV cache is full: drop idle sequences' cached prefixes and try once more.
            for s in self.slots:
                if s.req is None and s.kv:
                    self.h.seq_rm(s.seq_id, -1, -1)
                    s.kv = []
            self.h.decode(toks, pos, seqs, want)

    def _evict_newest(self) -> bool:
        active = [s.req for s in self.slots if s.req is not None]
        if len(active) < 2:
            return False
        self._abort(max(active, key=lambda r: r.t0), BusyError(
            f"{self.ref.name}: the KV cache its requests share is full, so the newest request was "
            f"stopped to let the others finish", retry_after=1.0))
        return True

    def _advance(self, r: Request, first: int, n: int) -> None:
        s = r.slot
        assert s is not None
        if r.prefilling:
            part = r.tokens[r.n_eval: r.n_eval + n]
            if r.prompt_logprobs is not None:
                self._record_prompt_logprobs(r, first, r.n_eval, n)
            s.kv.extend(part)
            r.n_eval += n
            if r.prefilling:
                return
            r.t_prefill = time.perf_counter()
            if r.prompt_logprobs is not None:
                r.put(PromptChunk(text=self.h.detokenize(r.tokens), logprobs=r.prompt_lps))
            if r.seq.done:  # max_tokens 0: only the prompt was wanted
                self._complete(r)
                return
            idx = first + n - 1
        else:
            s.kv.append(r.next_token)
            idx = first
        token, lps = r.seq.sample(idx)
        text = r.seq.accept(token)
        if text or lps:
            r.put(Chunk(text=text, logprobs=lps))
        if r.seq.done:
            self._complete(r)
        else:
            r.next_token = token

    def _record_prompt_logprobs(self, r: Request, first: int, start: int, n: int) -> None:
        """Logprob of each prompt token given the tokens before it (OpenAI `echo` + `logprobs`)."""
        if start == 0:
            r.prompt_lps.append(TokenLogprob(self.h.piece(r.tokens[0]).decode("utf-8", "replace"),
                                             float("nan")))
        k = max(r.prompt_logprobs or 0, 1)
        for i in range(n):
            p = start + i + 1  # the token these logits predict
            if p >= len(r.tokens):
                break
            lps = log_softmax(self.h.logits(first + i))
            top_ids = np.argpartition(-lps, k)[:k]
            top = {self.h.piece(int(t)).decode("utf-8", "replace"): float(lps[t])
                   for t in sorted(top_ids, key=lambda t: -lps[t])}
            tok = r.tokens[p]
            r.prompt_lps.append(TokenLogprob(self.h.piece(tok).decode("utf-8", "replace"),
                                             float(lps[tok]), top))

    def _complete(self, r: Request) -> None:
        evaluated = r.n_eval - r.reused
        r.put(Chunk(finish_reason=r.seq.finish_reason, usage=Usage(len(r.tokens), r.seq.n_out),
                        timings=r.seq.timings(r.t0, r.t_prefill, evaluated, 0.0, r.reused)))
        self._release(r, None)

    def _release(self, r: Request, error: BaseException | None) -> None:
        if r.slot is not None:
            r.slot.req = None
            r.slot.last_used = time.perf_counter()
            r.slot = None
        self._finish(r, error)

    @staticmethod
    def _finish(r: Request, error: BaseException | None) -> None:
        if error is not None:
            r.put(error)
        r.put(None)
        r.seq.close()

    def _fail_all(self, exc: BaseException) -> None:
        for s in self.slots:
            if s.req is not None:
                self._abort(s.req, exc)

    def _abort(self, r: Request, exc: BaseException) -> None:
        """End an active request with an error; its sequence's KV state is unknown: forget it."""
        assert r.slot is not None
        self.h.seq_rm(r.slot.seq_id, -1, -1)
        r.slot.kv = []
        self._release(r, exc)
