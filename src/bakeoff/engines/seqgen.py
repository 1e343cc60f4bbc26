"""One sequence's generation state, shared by the single-sequence engine (engines/llamacpp.py)
and the continuous-batching scheduler: sampler, text stream, stop matching, counters, logprobs."""

from __future__ import annotations

import time
from typing import Any, Protocol

import numpy as np

from .base import GenParams, Timings, TokenLogprob
from .grammar import schema_to_grammar
from .text import StopMatcher, Utf8Stream


class SeqBackend(Protocol):
    """What one sequence's generation needs from the model runtime (LlamaHandle provides it)."""

    def piece(self, token: int) -> bytes: ...
    def is_eog(self, token: int) -> bool: ...
    def logits(self, i: int) -> np.ndarray: ...
    def new_sampler(self, *, temperature: float, top_k: int, top_p: float, min_p: float,
                    repeat_penalty: float, seed: int | None, grammar: str | None = None,
                    frequency_penalty: float = 0.0, presence_penalty: float = 0.0) -> Any: ...
    def sample(self, sampler: Any, i: int) -> int: ...
    def free_sampler(self, sampler: Any) -> None: ...


def log_softmax(logits: np.ndarray) -> np.ndarray:
    m = logits.max()
    return logits - (m + np.log(np.exp(logits - m).sum()))


class SeqGen:
    """Per-sequence generation state: sampler, text stream, stop matching, counters.

    Shared by the single-sequence loop here and the continuous-batching scheduler. `handle` is a
    LlamaHandle, or anything with its vocabulary, logits and sampler methods (scheduler tests
    use a fake model).
    """

    def __init__(self, handle: SeqBackend, params: GenParams, n_prompt: int, max_new: int):
        self.h = handle
        self.params = params
        grammar = params.grammar or (schema_to_grammar(params.json_schema) if params.json_schema else None)
        self.grammar = grammar
        self.sampler = handle.new_sampler(temperature=params.temperature, top_k=params.top_k,
                                          top_p=params.top_p, min_p=params.min_p,
                                          repeat_penalty=params.repeat_penalty, seed=params.seed,
                                          grammar=grammar, frequency_penalty=params.frequency_penalty,
                                          presence_penalty=params.presence_penalty)
        self.utf8 = Utf8Stream()
        self.stops = StopMatcher(params.stop)
        self.n_prompt = n_prompt
        self.max_new = max_new
        self.n_out = 0
        self.finish_reason: str | None = None if max_new > 0 else "length"
        self.t_first: float | None = None

    def sample(self, batch_index: int) -> tuple[int, list[TokenLogprob] | None]:
        # The distribution is read before sampling: the sampler may change the logits in place.
        lps = self._logprobs(batch_index) if self.params.logprobs is not None else None
        token = self.h.sample(self.sampler, batch_index)
        return token, None if lps is None else [self._token_logprob(token, lps)]

    def logprob_entry(self, batch_index: int, token: int) -> list[TokenLogprob] | None:
        """The logprobs entry for `token` chosen from output batch_index (None: not asked for)."""
        if self.params.logprobs is None:
            return None
        return [self._token_logprob(token, self._logprobs(batch_index))]

    def _logprobs(self, batch_index: int) -> np.ndarray:
        return log_softmax(self.h.logits(batch_index))

    def _token_logprob(self, token: int, lps: np.ndarray) -> TokenLogprob:
        k = self.params.logprobs or 0
        top_ids: list[int] = [int(t) for t in np.argpartition(-lps, k)[:k]] if k else []
        top = {self.h.piece(int(t)).decode("utf-8", "replace"): float(lps[t])
               for t in sorted(top_ids, key=lambda t: -lps[t])}
        return TokenLogprob(self.h.piece(token).decode("utf-8", "replace"), float(lps[token]), top)

    def accept(self, token: int) -> str:
        """Record a sampled token; returns the text that is safe to emit now."""
        if self.t_first is None:
            self.t_first = time.perf_counter()
        if self.h.is_eog(token):
            if not (self.params.ignore_eos or self.n_out < self.params.min_tokens):
                self.finish_reason = "stop"
                return self.stops.flush() + self._tail()
            self.n_out += 1  # an end token that may not end: counted, never shown
            if self.n_out >= self.max_new:
                self.finish_reason = "length"
                return self._tail()
            return ""
        self.n_out += 1
        text, stopped = self.stops.feed(self.utf8.feed(self.h.piece(token)))
        if stopped:
            self.finish_reason = "stop"
        elif self.n_out >= self.max_new:
            self.finish_reason = "length"
            text += self.stops.feed(self.utf8.flush())[0] + self.stops.flush()
        return text

    def _tail(self) -> str:
        return self.stops.feed(self.utf8.flush())[0] + self.stops.flush()

    @property
    def done(self) -> bool:
        return self.finish_reason is not None

    def timings(self, t_start: float, t_prefill_end: float, n_evaluated: int, load_s: float,
                cached: int) -> Timings:
        now = time.perf_counter()
        first = self.t_first or now
        prefill = max(t_prefill_end - t_start, 1e-9)
        after_first = now - first
        return Timings(load_s=load_s, ttft_s=first - t_start,
                       prompt_tps=n_evaluated / prefill if n_evaluated else 0.0,
                       output_tps=(self.n_out - 1) / after_first if self.n_out > 1 and after_first > 0 else 0.0,
                       total_s=now - t_start, cached_prompt_tokens=cached)

    def close(self) -> None:
        self.h.free_sampler(self.sampler)
        self.sampler = None
