"""The continuous-batching scheduler: which requests hold a KV sequence, and one decode per step.

Not thread-safe and owns no thread (engines/batching.py runs it on one); it talks to the model only
through `BatchBackend`, which LlamaHandle implements and unit tests fake. A step reads as its
phases: `plan_batch` (one token for each generating sequence, then prompt chunks while the batch
has room), `decode` (one call for all of them), `advance` (record prompt progress, sample, stream).

Requests join and leave between steps, each in its own sequence id. Finished sequences keep their
KV entries, so a later prompt that shares a prefix (a chat's earlier turns, a common system
prompt) reuses them in place or copies them with seq_cp. A full shared KV cache first drops idle
sequences' prefixes, then drafts, then stops the newest request (a retryable busy error) so the
others finish.

Prompt lookup (engines/speculative.py) runs inside the same step: a greedy sequence's next token
goes into the batch with the n-gram draft that follows it, logits at each position; `advance`
samples them in order with the request's own sampler and keeps the draft while it matches, so each
kept token was sampled from the logits one-token decoding gives (bit-identical within
MAX_DRAFT_BATCH tokens, engines/batching_drafts.py), and rejected cells leave that sequence alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from ..errors import BakeoffError, BusyError, ContextOverflowError, DecodeAborted, EngineError, InvalidParamsError
from .base import Chunk, GenParams, PromptChunk, TokenLogprob, Usage
from .batch_plan import Batch, BatchBackend, Span
from .batch_stream import Request, Slot
from .batching_drafts import DECODE_FIXED_TOKENS, MAX_DRAFT_BATCH, fit_drafts
from .llamacpp import SeqGen, log_softmax
from .loglik import common_prefix
from .speculative import MAX_VERIFY, DraftGate, PromptLookup


class Scheduler:
    def __init__(self, backend: BatchBackend, name: str, max_queue: int | None = None, *,
                 speculative: bool = False, clock: Callable[[], float] = time.perf_counter):
        self.b = backend
        self.name = name
        self.speculative = speculative   # prompt lookup for greedy requests
        self.slots = [Slot(i) for i in range(backend.n_seq_max)]
        self.max_queue = max_queue if max_queue is not None else 4 * len(self.slots)
        self.pending: list[Request] = []
        self.prefilling: frozenset[Request] = frozenset()   # prompts being read by the decode now running
        self.aborted = 0         # decodes stopped midway for a request that was dropped
        self.steps = 0
        self.drafted = self.accepted = 0   # draft tokens verified and kept, all requests
        self.gate = DraftGate(clock)       # whether drafts pay here, measured

    # --- requests -----------------------------------------------------------------------------
    def check_prompt(self, tokens: list[int]) -> list[int]:
        """The prompt's token ids, validated (an empty prompt becomes BOS where the model has one)."""
        if not tokens and self.b.bos >= 0:
            tokens = [self.b.bos]
        bad = next((t for t in tokens if not 0 <= t < self.b.n_vocab), None)
        if bad is not None or not tokens:
            raise InvalidParamsError(f"token id {bad} is outside the vocabulary (0..{self.b.n_vocab - 1})"
                                     if bad is not None else "the prompt is empty", param="prompt")
        return list(tokens)

    def new_request(self, tokens: list[int], params: GenParams, max_new: int,
                    prompt_logprobs: int | None = None) -> Request:
        """A request for checked prompt tokens that may generate up to max_new tokens; greedy ones
        carry a prompt-lookup drafter when speculation is on (sampled answers rarely match)."""
        drafter = PromptLookup() if self.speculative and params.temperature <= 0 else None
        return Request(tokens, SeqGen(self.b, params, len(tokens), max_new), prompt_logprobs, drafter)

    def submit(self, req: Request) -> None:
        if len(self.pending) >= self.max_queue:
            req.seq.close()
            raise BusyError(f"{self.name}: {len(self.pending)} requests already queued", retry_after=1.0)
        self.pending.append(req)

    def busy(self) -> bool:
        return any(s.req is not None for s in self.slots)

    def stats(self) -> dict[str, int]:
        return {"queued": len(self.pending), "active": sum(s.req is not None for s in self.slots),
                "slots": len(self.slots), "steps": self.steps}

    # --- admission ----------------------------------------------------------------------------
    def take_admissible(self) -> list[Request]:
        """Pop as many pending requests as there are free slots (cancelled ones are dropped)."""
        for req in [r for r in self.pending if r.cancelled]:
            self.pending.remove(req)
            self._finish(req, None)
        free = sum(s.req is None for s in self.slots)
        taken, self.pending = self.pending[:free], self.pending[free:]
        return taken

    def tick(self, admitted: list[Request]) -> None:
        """Admit, drop cancelled requests, and decode one step; a failed step fails its requests."""
        for req in admitted:
            self.admit(req)
        self.reap()
        if not self.busy():
            return
        try:
            self.step()
        except BakeoffError as exc:
            self.fail_all(exc)
        except Exception as exc:  # noqa: BLE001 - keep serving; the requests get the error
            self.fail_all(EngineError(f"decoding failed: {type(exc).__name__}: {exc}"))

    def admit(self, req: Request) -> None:
        """Give the request a free slot, reusing the longest cached prefix of any sequence."""
        dst, src, keep = self._choose_slot(req)
        keep = self._reuse_prefix(dst, src, keep)
        req.n_eval = req.reused = keep
        req.slot, dst.req = dst, req
        if not req.needs_prefill:
            self._complete(req)

    def _choose_slot(self, req: Request) -> tuple[Slot, Slot | None, int]:
        """(free slot to use, slot whose cached prefix to reuse, tokens of it to keep)."""
        free = [s for s in self.slots if s.req is None]
        src, best = None, 0
        if req.prompt_logprobs is None:  # prompt logprobs need every position evaluated
            for s in self.slots:
                n = common_prefix([s.kv, req.tokens])
                if n > best:
                    src, best = s, n
        keep = max(min(best, len(req.tokens) - 1), 0)  # the last prompt token is evaluated for logits
        if src is not None and src in free and keep > 0:
            return src, src, keep
        # Otherwise the free slot whose cache is least useful: shortest, then least recently used.
        dst = min(free, key=lambda s: (len(s.kv) > 0, s.last_used))
        return dst, (src if keep > 0 else None), keep

    def _reuse_prefix(self, dst: Slot, src: Slot | None, keep: int) -> int:
        """Make dst's sequence hold src's first `keep` tokens; returns how many it holds."""
        if src is dst and self.b.seq_rm(dst.seq_id, keep, -1):
            dst.kv = dst.kv[:keep]
            return keep
        self.b.seq_rm(dst.seq_id, -1, -1)
        dst.kv = []
        if src is None or src is dst:
            return 0
        self.b.seq_cp(src.seq_id, dst.seq_id, 0, keep)
        dst.kv = list(src.kv[:keep])
        return keep

    def reap(self) -> None:
        for s in self.slots:
            if s.req is not None and s.req.cancelled:
                self._release(s.req, None)

    # --- one step -----------------------------------------------------------------------------
    def step(self) -> None:
        """One decode for every active sequence; then sample and stream."""
        active = [s.req for s in self.slots if s.req is not None]
        # Only steps that are all generation are compared (a prompt chunk has no drafts anyway).
        timed = self.speculative and bool(active) and not any(r.prefilling for r in active)
        accepted = self.accepted
        for drafts in (self.gate.want(len(active)) if timed else True, False):
            batch = self.plan_batch(drafts)
            try:
                self.decode(batch)
            except DecodeAborted:
                self.undo(batch)    # the dropped request leaves at the next tick; the rest go on
                return
            except ContextOverflowError:
                if batch.drafted:   # drafts are optional: first try the step without them
                    timed = False   # the retry's time includes the failed attempt
                    continue
                # Even without idle prefixes the shared cache cannot hold this step (llama.cpp
                # applied none of it): stop the newest request so the older ones can finish.
                if not self.evict_newest():
                    raise
                return
            self.steps += 1
            self.advance(batch)
            if timed:
                self.gate.observe(len(active), batch.drafted > 0,
                                  len(batch.spans) + self.accepted - accepted)
            return

    def plan_batch(self, drafts: bool = True) -> Batch:
        """Each generating sequence's next token (with its draft, within MAX_DRAFT_BATCH), then
        prompt chunks while there is room."""
        batch = Batch(self.b.n_batch)
        gen = [s for s in self.slots if s.req is not None and not s.req.prefilling]
        # A step that evaluates a prompt has no drafts: it runs as it would without speculation
        # (the new request's first token is not delayed, and the decode stays within the bound).
        if len(gen) < sum(s.req is not None for s in self.slots):
            drafts = False
        worth = len(gen) / (len(gen) + DECODE_FIXED_TOKENS)
        wanted = [s.req.draft(MAX_VERIFY - 1, worth) if drafts and s.req else [] for s in gen]
        budget = min(self.b.n_batch, MAX_DRAFT_BATCH) - len(gen)
        for s, draft in zip(gen, fit_drafts(wanted, budget, even=not self.b.kv_unified)):
            r = s.req
            assert r is not None
            if batch.room > 0:
                batch.add(r, [r.next_token, *draft], len(s.kv), s.seq_id, all_logits=bool(draft))
        for s in self.slots:
            r = s.req
            if r is None or not r.prefilling or batch.room <= 0:
                continue
            part = r.tokens[r.n_eval: r.n_eval + batch.room]
            batch.add(r, part, r.n_eval, s.seq_id, all_logits=r.prompt_logprobs is not None,
                      last_logit=r.n_eval + len(part) == len(r.tokens))
        return batch

    def drop(self, req: Request) -> None:
        """A request was cancelled (any thread): a decode reading its prompt stops now. A prompt
        chunk is up to n_batch tokens, seconds to minutes on a CPU late in a long prompt, all
        that time holding the slot and the machine for a client that has gone."""
        if req in self.prefilling:
            self.b.abort()

    def undo(self, batch: Batch) -> None:
        """After an aborted decode: no sequence keeps a cell of it (llama.cpp removes the aborted
        part; this also covers parts of a batch it split and applied before)."""
        self.aborted += 1
        for span in batch.spans:
            self.b.seq_rm(batch.seq_ids[span.first], batch.positions[span.first], -1)

    def decode(self, batch: Batch) -> None:
        self.b.clear_abort()
        self.prefilling = frozenset(s.req for s in batch.spans if s.req.prefilling)
        try:
            if any(r.cancelled for r in self.prefilling):   # dropped since the batch was planned
                raise DecodeAborted()
            self._decode(batch)
        finally:
            self.prefilling = frozenset()

    def _decode(self, batch: Batch) -> None:
        args = (batch.tokens, batch.positions, batch.seq_ids, batch.logits)
        try:
            self.b.decode(*args)
        except ContextOverflowError:
            # The shared KV cache is full: drop idle sequences' cached prefixes and try once more.
            for s in self.slots:
                if s.req is None and s.kv:
                    self.b.seq_rm(s.seq_id, -1, -1)
                    s.kv = []
            self.b.decode(*args)

    def advance(self, batch: Batch) -> None:
        for span in batch.spans:
            if span.req.slot is not None:
                self._advance(span)

    def _advance(self, span: Span) -> None:
        r = span.req
        if r.prefilling:
            if self._prefilled(span):
                token = self._emit(r, span.first + span.n - 1)
                r.grow([*r.tokens, token])
                self._settled(r, token)
            return
        self._verify(span)

    def _verify(self, span: Span) -> None:
        """Sample a generating sequence's positions in order, keeping its draft while it matches;
        the cells of the rejected positions leave that sequence's KV cache."""
        r, s = span.req, span.req.slot
        assert s is not None
        fed = span.tokens
        kept = 0
        while True:
            s.kv.append(fed[kept])
            token = self._emit(r, span.first + kept)
            kept += 1
            if r.seq.done or kept == len(fed) or token != fed[kept]:
                break
        if kept < len(fed) and not self.b.seq_rm(s.seq_id, len(s.kv), -1):
            self._abort(r, EngineError(f"{self.name}: the model cannot roll back rejected draft "
                                       "tokens", "serve it with --no-speculative"))
            return
        r.settle(len(fed) - 1, kept - 1)
        self.drafted += len(fed) - 1
        self.accepted += kept - 1
        r.grow([*fed[1:kept], token])
        self._settled(r, token)

    def _emit(self, r: Request, idx: int) -> int:
        """Sample the token after batch output idx, record it, and stream what it completes."""
        token, lps = r.seq.sample(idx)
        text = r.seq.accept(token)
        if text or lps:
            r.put(Chunk(text=text, logprobs=lps))
        return token

    def _settled(self, r: Request, token: int) -> None:
        if r.seq.done:
            self._complete(r)
        else:
            r.next_token = token

    def _prefilled(self, span: Span) -> bool:
        """Record a prompt chunk's progress; True when the prompt is done and a token is wanted."""
        r, n = span.req, span.n
        assert r.slot is not None
        if r.prompt_logprobs is not None:
            self._record_prompt_logprobs(r, span.first, r.n_eval, n)
        r.slot.kv.extend(r.tokens[r.n_eval: r.n_eval + n])
        r.n_eval += n
        if r.prefilling:
            return False
        r.t_prefill = time.perf_counter()
        if r.prompt_logprobs is not None:
            r.put(PromptChunk(text=self.b.detokenize(r.tokens), logprobs=r.prompt_lps))
        if r.seq.done:  # max_tokens 0: only the prompt was wanted
            self._complete(r)
            return False
        return True

    def _record_prompt_logprobs(self, r: Request, first: int, start: int, n: int) -> None:
        """Logprob of each prompt token given the tokens before it (OpenAI `echo` + `logprobs`)."""
        piece = lambda t: self.b.piece(int(t)).decode("utf-8", "replace")  # noqa: E731
        if start == 0:
            r.prompt_lps.append(TokenLogprob(piece(r.tokens[0]), float("nan")))
        k = max(r.prompt_logprobs or 0, 1)
        for i in range(n):
            p = start + i + 1  # the token these logits predict
            if p >= len(r.tokens):
                break
            lps = log_softmax(self.b.logits(first + i))
            top_ids = np.argpartition(-lps, k)[:k]
            top = {piece(t): float(lps[t]) for t in sorted(top_ids, key=lambda t: -lps[t])}
            r.prompt_lps.append(TokenLogprob(piece(r.tokens[p]), float(lps[r.tokens[p]]), top))

    # --- endings ------------------------------------------------------------------------------
    def evict_newest(self) -> bool:
        active = [s.req for s in self.slots if s.req is not None]
        if len(active) < 2:
            return False
        self._abort(max(active, key=lambda r: r.t0), BusyError(
            f"{self.name}: the KV cache its requests share is full, so the newest request was "
            f"stopped to let the others finish", retry_after=1.0))
        return True

    def _complete(self, r: Request) -> None:
        evaluated = r.n_eval - r.reused
        timings = replace(r.seq.timings(r.t0, r.t_prefill, evaluated, 0.0, r.reused),
                          draft_tokens=r.spec.drafted, accepted_tokens=r.spec.accepted)
        r.put(Chunk(finish_reason=r.seq.finish_reason, usage=Usage(len(r.tokens), r.seq.n_out),
                    timings=timings))
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

    def fail_all(self, exc: BaseException) -> None:
        for s in self.slots:
            if s.req is not None:
                self._abort(s.req, exc)

    def shutdown(self, exc: BaseException) -> None:
        """End every active and waiting request with `exc` (the engine is closing)."""
        self.fail_all(exc)
        for req in self.pending:
            self._finish(req, exc)
        self.pending.clear()

    def _abort(self, r: Request, exc: BaseException) -> None:
        """End an active request with an error; its sequence's KV state is unknown: forget it."""
        assert r.slot is not None
        self.b.seq_rm(r.slot.seq_id, -1, -1)
        r.slot.kv = []
        self._release(r, exc)
