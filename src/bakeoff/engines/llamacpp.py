"""In-process llama.cpp engine: chat, completion, streaming, stops, JSON schema, tokenize.

One context per engine; prompt tokens already in the KV cache from the previous request (a chat's
earlier turns, a suite's shared system prompt) are reused rather than evaluated again.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar, Protocol

import numpy as np

from ..errors import ContextOverflowError, InvalidParamsError, ModelFileError, UnsupportedError
from ..models.fit import kv_cache_bytes
from ..models.gguf_info import read_gguf_info
from ..models.ref import ModelRef
from ..settings import Settings, get_settings
from .base import Chunk, GenParams, LogLik, LogLikRequest, Message, Timings, TokenEngine, TokenLogprob, Usage
from .llama_lowlevel import LlamaHandle, Vocab, engine_version
from .logits import window_logprobs as logits_over_window
from .loglik import LogLikScorer, Pair, score_pairs, split_pair
from .options import LoadOptions, LoadPlan
from .text import StopMatcher, Utf8Stream

# A batched model's KV cache is split into one stream per sequence (each request gets its full
# context to itself, attention scans only its own cells, and a long request cannot evict or starve
# the others) when sequences x context costs at most this much memory; above it (large models, many
# slots) the sequences share one pool of context cells. Measured with SmolLM2-135M and 8 streams on
# 2 cores: the split cache decodes about 10% more tokens/s in process (llama-batched-bench: 230 vs
# 206 tok/s).
SPLIT_KV_BYTES = 1 << 30


def schema_to_grammar(schema: dict[str, Any]) -> str:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    try:
        return json_schema_to_gbnf(json.dumps(schema))
    except Exception as exc:  # noqa: BLE001 - the converter raises bare exceptions on bad schemas
        raise InvalidParamsError(f"unsupported JSON schema: {exc}", param="json_schema") from None


class SeqBackend(Protocol):
    """What one sequence's generation needs from the model runtime (LlamaHandle provides it)."""

    def piece(self, token: int) -> bytes: ...
    def is_eog(self, token: int) -> bool: ...
    def logits(self, i: int) -> np.ndarray: ...
    def new_sampler(self, *, temperature: float, top_k: int, top_p: float, min_p: float,
                    repeat_penalty: float, seed: int | None, grammar: str | None = None) -> Any: ...
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
        grammar = schema_to_grammar(params.json_schema) if params.json_schema else None
        self.sampler = handle.new_sampler(temperature=params.temperature, top_k=params.top_k,
                                          top_p=params.top_p, min_p=params.min_p,
                                          repeat_penalty=params.repeat_penalty, seed=params.seed,
                                          grammar=grammar)
        self.utf8 = Utf8Stream()
        self.stops = StopMatcher(params.stop)
        self.n_prompt = n_prompt
        self.max_new = max_new
        self.n_out = 0
        self.finish_reason: str | None = None if max_new > 0 else "length"
        self.t_first: float | None = None

    def sample(self, batch_index: int) -> tuple[int, list[TokenLogprob] | None]:
        lp = None
        if self.params.logprobs is not None:
            lp = self._logprobs(batch_index)
        token = self.h.sample(self.sampler, batch_index)
        if lp is not None:
            lp = [self._token_logprob(token, lp)]
        return token, lp

    def _logprobs(self, batch_index: int) -> np.ndarray:
        return log_softmax(self.h.logits(batch_index))

    def _token_logprob(self, token: int, lps: np.ndarray) -> TokenLogprob:
        k = self.params.logprobs or 0
        top_ids = np.argpartition(-lps, k)[:k] if k else []
        top = {self.h.piece(int(t)).decode("utf-8", "replace"): float(lps[t])
               for t in sorted(top_ids, key=lambda t: -lps[t])}
        return TokenLogprob(self.h.piece(token).decode("utf-8", "replace"), float(lps[token]), top)

    def accept(self, token: int) -> str:
        """Record a sampled token; returns the text that is safe to emit now."""
        if self.t_first is None:
            self.t_first = time.perf_counter()
        if self.h.is_eog(token):
            self.finish_reason = "stop"
            return self.stops.flush() + self._tail()
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


class ChatRenderer:
    """A conversation rendered through the model's own chat template, and its token ids.

    The engine renders prompts with it, and `bakeoff tune` renders training conversations with it,
    so a tuned model is trained on exactly the tokens it is later asked with."""

    def __init__(self, vocab: Vocab, template: str | None = None):
        self.vocab = vocab
        self.template = template or vocab.chat_template()
        self._formatters: dict[bool, Any] = {}

    def render(self, messages: list[Message], add_generation_prompt: bool = True) -> str:
        msgs = [m.model_dump() for m in messages]
        if not self.template:
            lines = [f"{m['role'].capitalize()}: {m['content']}" for m in msgs]
            return "\n".join(lines) + ("\nAssistant:" if add_generation_prompt else "")
        fmt = self._formatters.get(add_generation_prompt)
        if fmt is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            v = self.vocab
            fmt = Jinja2ChatFormatter(self.template, eos_token=v.special_text(v.eos),
                                      bos_token=v.special_text(v.bos),
                                      add_generation_prompt=add_generation_prompt)
            self._formatters[add_generation_prompt] = fmt
        return fmt(messages=msgs).prompt

    def tokens(self, text: str, first: bool = True) -> list[int]:
        """Token ids of rendered text; BOS is added once, at the start, unless the text has it."""
        bos_text = self.vocab.special_text(self.vocab.bos)
        has_bos = bool(bos_text) and text.startswith(bos_text)
        return self.vocab.tokenize(text, add_special=first and not has_bos)


class LlamaCppEngine(TokenEngine):
    can_batch: ClassVar[bool] = True
    supports_window_logprobs: ClassVar[bool] = True

    @classmethod
    def plan(cls, ref: ModelRef, options: LoadOptions, settings: Settings) -> LoadPlan:
        """Context and KV layout for `options` (see SPLIT_KV_BYTES), and the memory they take."""
        if not ref.path:
            raise ModelFileError(ref.name, "has no model file", "run `bakeoff models` to check it")
        info = read_gguf_info(ref.path)
        ctx = options.n_ctx or min(settings.n_ctx, info.context_length or settings.n_ctx)
        batched = options.wants_scheduler()
        n = max(options.concurrency if batched else 1, options.sequences)
        split = batched and n > 1 and options.kv_layout != "shared" and (
            options.kv_layout == "split" or kv_cache_bytes(info, ctx * n) <= SPLIT_KV_BYTES)
        n_ctx = ctx * n if split else ctx
        return LoadPlan(n_ctx=n_ctx, kv_unified=not split, sequences=n,
                        bytes=os.path.getsize(ref.path) + kv_cache_bytes(info, n_ctx))

    @classmethod
    def load(cls, ref: ModelRef, options: LoadOptions, settings: Settings) -> LlamaCppEngine:
        plan = cls.plan(ref, options, settings)
        if options.adapters:  # the engine's ref names every adapter it runs with
            ref = dataclasses.replace(ref, adapters=[*ref.adapters, *options.adapters])
        return cls(ref, n_ctx=plan.n_ctx, n_threads=options.threads or settings.threads,
                   n_seq_max=plan.sequences, n_batch=options.n_batch, kv_unified=plan.kv_unified)

    def __init__(self, ref: ModelRef, *, n_ctx: int | None = None, n_threads: int | None = None,
                 n_seq_max: int = 1, n_batch: int = 512, embeddings: bool = False,
                 kv_unified: bool = True):
        if not ref.path:
            raise ModelFileError(ref.name, "has no model file", "run `bakeoff models` to check it")
        settings = get_settings()
        self.ref = ref
        self.gguf = read_gguf_info(ref.path)  # validates the file before llama.cpp sees it
        train_ctx = self.gguf.context_length or settings.n_ctx
        want = n_ctx or min(settings.n_ctx, train_ctx)
        t0 = time.perf_counter()
        self.h = LlamaHandle(ref.path, n_ctx=want, n_threads=n_threads or settings.threads,
                             n_seq_max=n_seq_max, n_batch=n_batch, embeddings=embeddings,
                             kv_unified=kv_unified,
                             adapters=[(a.path, a.scale) for a in ref.adapters])
        self.load_s = time.perf_counter() - t0
        self._load_pending = self.load_s
        self._lock = threading.RLock()
        self._cached: list[int] = []   # tokens whose KV entries sit in sequence 0
        self._formatter = None

    # --- contract ---------------------------------------------------------------------------
    @property
    def n_ctx(self) -> int:
        """The context one request may use (with a split cache, each sequence's share)."""
        return self.h.n_ctx_seq

    def tokenize(self, text: str, add_special: bool = True) -> list[int]:
        return self.h.tokenize(text, add_special=add_special)

    def detokenize(self, tokens: list[int]) -> str:
        return self.h.detokenize(tokens)

    def info(self) -> dict[str, Any]:
        return {"engine": engine_version(), "n_ctx": self.n_ctx, "threads": self.h.n_threads,
                "quantization": self.gguf.quantization, "architecture": self.gguf.architecture,
                **({"adapters": [a.path for a in self.ref.adapters]} if self.ref.adapters else {})}

    def format_chat(self, messages: list[Message]) -> str:
        if self._formatter is None:
            self._formatter = ChatRenderer(self.h, self.gguf.chat_template)
        return self._formatter.render(messages)

    def chat_tokens(self, messages: list[Message]) -> list[int]:
        text = self.format_chat(messages)
        return self._formatter.tokens(text)

    def chat_stops(self) -> list[str]:
        """Without a chat template the prompt is "User: ...\nAssistant:"; stop at the next turn."""
        return [] if self.gguf.chat_template or self.h.chat_template() else ["\nUser:"]

    # --- generation -------------------------------------------------------------------------
    def check_fits(self, n_prompt: int, params: GenParams) -> int:
        """Raise if the prompt cannot fit one sequence; return how many tokens may be generated."""
        n_ctx = self.n_ctx
        if n_prompt >= n_ctx:
            raise ContextOverflowError(n_prompt, n_ctx)
        room = n_ctx - n_prompt
        return room if params.max_tokens is None else min(params.max_tokens, room)

    def _prefill(self, tokens: list[int]) -> tuple[int, int]:
        """Make sequence 0 hold `tokens`, reusing the cached prefix. Returns (evaluated, reused)."""
        keep = 0
        for a, b in zip(self._cached, tokens):
            if a != b:
                break
            keep += 1
        keep = min(keep, len(tokens) - 1)  # the last prompt token is always evaluated for logits
        if keep == 0 or not self.h.seq_rm(0, keep, -1):
            self.h.clear()
            keep = 0
        self._cached = list(tokens[:keep])
        self.h.decode_sequence(tokens[keep:], keep, seq_id=0)
        self._cached = list(tokens)
        return len(tokens) - keep, keep

    def generate_tokens(self, tokens: list[int], params: GenParams,
                        prompt_logprobs: int | None = None) -> Iterator[Chunk]:
        if prompt_logprobs is not None:
            raise UnsupportedError(f"{self.ref.name} returns prompt logprobs only when batched",
                                   "serve it with `bakeoff serve`")
        max_new = self.check_fits(len(tokens), params)  # raise before the stream starts
        return self._stream(tokens, params, max_new)

    def _stream(self, tokens: list[int], params: GenParams, max_new: int) -> Iterator[Chunk]:
        with self._lock:
            t0 = time.perf_counter()
            load_s, self._load_pending = self._load_pending, 0.0
            seq = SeqGen(self.h, params, len(tokens), max_new)
            try:
                evaluated, reused = 0, 0
                if max_new > 0:
                    try:
                        evaluated, reused = self._prefill(tokens)
                    except BaseException:
                        self._cached = []
                        raise
                t_prefill = time.perf_counter()
                pos = len(tokens)
                while not seq.done:
                    token, lps = seq.sample(-1)
                    text = seq.accept(token)
                    if not seq.done:
                        self.h.decode([token], [pos], [0], [True])
                        self._cached.append(token)
                        pos += 1
                    if text or lps:
                        yield Chunk(text=text, logprobs=lps)
                usage = Usage(len(tokens), seq.n_out)
                yield Chunk(finish_reason=seq.finish_reason, usage=usage,
                            timings=seq.timings(t0, t_prefill, evaluated, load_s, reused))
            finally:
                seq.close()

    # --- log-likelihood (multiple-choice scoring) -------------------------------------------
    def loglik_prefix(self) -> list[int]:
        """Tokens put before every context: BOS when the model wants one (the harness's prefix)."""
        return [self.h.bos] if self.h.add_bos and self.h.bos >= 0 else []

    def loglik_pairs(self, requests: list[LogLikRequest]) -> list[Pair]:
        tok = lambda text: self.h.tokenize(text, add_special=False, parse_special=False)  # noqa: E731
        prefix = self.loglik_prefix()
        # An empty context still needs one token to condition on; the harness uses end-of-text.
        fallback = [self.h.eos if self.h.eos >= 0 else self.h.bos]
        return [split_pair(tok, r.context, r.continuation, prefix, fallback) for r in requests]

    def loglikelihood(self, requests: list[LogLikRequest]) -> list[LogLik]:
        """Requests sharing a context (an item's choices) are scored together as parallel
        sequences; pass them consecutively. Open the engine with n_seq_max >= the choice count."""
        pairs = self.loglik_pairs(requests)
        with self._lock:
            scorer = LogLikScorer(self.h, self._cached)
            try:
                return score_pairs(scorer, pairs)
            finally:
                self._cached = scorer.cached

    # --- full distributions (KL divergence against a reference) -------------------------------
    def window_logprobs(self, tokens: list[int], first: int) -> np.ndarray:
        """Next-token log-probabilities at positions first .. len(tokens) - 2 of a window evaluated
        from an empty cache (engines/logits.py); shape (len(tokens) - 1 - first, n_vocab)."""
        with self._lock:
            self._cached = []
            return logits_over_window(self.h, tokens, first)

    @property
    def bos_token(self) -> int | None:
        """The token llama.cpp's perplexity tool puts first in every chunk (None: the model has none)."""
        return self.h.bos if self.h.add_bos and self.h.bos >= 0 else None

    def close(self) -> None:
        self.h.close()
