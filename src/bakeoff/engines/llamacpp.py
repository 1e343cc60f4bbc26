"""In-process llama.cpp engine: chat, completion, streaming, stops, JSON schema, tokenize.

One context per engine; prompt tokens already in the KV cache from the previous request (a chat's
earlier turns, a suite's shared system prompt) are reused rather than evaluated again.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np

from ..errors import ChatTemplateError, ContextOverflowError, ModelFileError, UnsupportedError
from ..models import gpu
from ..models.fit import kv_cache_bytes
from ..models.gguf_info import read_gguf_info
from ..models.gguf_parse import MAX_STRING_BYTES, Oversized
from ..models.ref import ModelRef
from ..models.sources import check_present
from ..settings import Settings, get_settings
from .base import Chunk, GenParams, LogLik, LogLikRequest, Message, TokenEngine, TokenLogprob, Usage
from .chat_template import ChatTemplate
from .draft import DraftPlan, DraftRunner, plan_draft
from .llama_lowlevel import GRID, LlamaHandle, engine_version
from .logits import window_logprobs as logits_over_window
from .loglik import LogLikScorer, Pair, score_pairs, split_pair
from .options import LoadOptions, LoadPlan
from .seqgen import SeqBackend, SeqGen, log_softmax  # noqa: F401  (SeqBackend, log_softmax: re-exported)
from .spec_request import CostBook, open_request
from .toolcalls import template_supports_tools
from .verify_cost import cost_key

# A batched model's KV cache is split into one stream per sequence (each request gets its full
# context to itself, attention scans only its own cells, and a long request cannot evict or starve
# the others) when sequences x context costs at most this much memory; above it (large models, many
# slots) the sequences share one pool of context cells. Measured with SmolLM2-135M and 8 streams on
# 2 cores: the split cache decodes about 10% more tokens/s in process (llama-batched-bench: 230 vs
# 206 tok/s).
SPLIT_KV_BYTES = 1 << 30


class LlamaCppEngine(TokenEngine):
    can_batch: ClassVar[bool] = True
    supports_draft: ClassVar[bool] = True
    supports_window_logprobs: ClassVar[bool] = True

    @classmethod
    def plan(cls, ref: ModelRef, options: LoadOptions, settings: Settings) -> LoadPlan:
        """Context and KV layout for `options` (see SPLIT_KV_BYTES), and the memory they take."""
        if not ref.path:
            raise ModelFileError(ref.name, "has no model file", "run `bakeoff models` to check it")
        info = read_gguf_info(check_present(ref).path)
        ctx = options.n_ctx or min(settings.n_ctx, info.context_length or settings.n_ctx)
        batched = options.wants_scheduler()
        n = max(options.concurrency if batched else 1, options.sequences)
        split = batched and n > 1 and options.kv_layout != "shared" and (
            options.kv_layout == "split" or kv_cache_bytes(info, ctx * n) <= SPLIT_KV_BYTES)
        n_ctx = ctx * n if split else ctx
        size = os.path.getsize(ref.path)   # one loaded copy serves every context of the file
        return LoadPlan(n_ctx=n_ctx, kv_unified=not split, sequences=n, bytes=size + kv_cache_bytes(info, n_ctx),
                        weights_file=os.path.realpath(ref.path), weights_bytes=size)

    @staticmethod
    def speculates(options: LoadOptions, settings: Settings) -> bool:
        """A draft model named for this load speculates unless told not to; prompt lookup follows the
        setting (off by default: it measured 0.93x plain decoding on the starter suite)."""
        return options.speculative if options.speculative is not None else bool(options.draft) or settings.speculative

    @classmethod
    def draft_plan(cls, ref: ModelRef, options: LoadOptions, settings: Settings,
                   plan: LoadPlan) -> DraftPlan | None:
        """The checked draft model (engines/draft.py), None when this load drafts with none."""
        if not options.draft or not cls.speculates(options, settings):
            return None
        seq_ctx = plan.n_ctx if plan.kv_unified else plan.n_ctx // plan.sequences
        return plan_draft(ref, options.draft, seq_ctx, settings)

    @classmethod
    def check(cls, ref: ModelRef, options: LoadOptions, settings: Settings) -> None:
        cls.draft_plan(ref, options, settings, cls.plan(ref, options, settings))

    @classmethod
    def load(cls, ref: ModelRef, options: LoadOptions, settings: Settings) -> LlamaCppEngine:
        plan = cls.plan(ref, options, settings)
        speculative = cls.speculates(options, settings)
        draft = cls.draft_plan(ref, options, settings, plan)
        if options.adapters:  # the engine's ref names every adapter it runs with
            ref = dataclasses.replace(ref, adapters=[*ref.adapters, *options.adapters])
        return cls(ref, n_ctx=plan.n_ctx, n_threads=options.threads or settings.threads,
                   n_seq_max=plan.sequences, n_batch=options.n_batch, kv_unified=plan.kv_unified,
                   n_gpu_layers=options.gpu_layers, speculative=speculative, draft=draft,
                   exact_batching=settings.exact_batches)

    def __init__(self, ref: ModelRef, *, n_ctx: int | None = None, n_threads: int | None = None,
                 n_seq_max: int = 1, n_batch: int = 512, embeddings: bool = False,
                 kv_unified: bool = True, n_gpu_layers: int | str | None = None,
                 speculative: bool = False, draft: DraftPlan | None = None,
                 exact_batching: bool = False):
        if not ref.path:
            raise ModelFileError(ref.name, "has no model file", "run `bakeoff models` to check it")
        settings = get_settings()
        self.ref = check_present(ref)
        self.gguf = read_gguf_info(ref.path)  # validates the file before llama.cpp sees it
        train_ctx = self.gguf.context_length or settings.n_ctx
        want = n_ctx or min(settings.n_ctx, train_ctx)
        self.offload = gpu.plan(settings.gpu_layers if n_gpu_layers is None else n_gpu_layers,
                                self.gguf, want)
        t0 = time.perf_counter()
        self.h = LlamaHandle(ref.path, n_ctx=want, n_threads=n_threads or settings.threads,
                             n_seq_max=n_seq_max, n_batch=n_batch, embeddings=embeddings,
                             kv_unified=kv_unified, n_gpu_layers=self.offload.n_gpu_layers,
                             adapters=[(a.path, a.scale) for a in ref.adapters],
                             adaptive_threads=settings.adaptive_threads,
                             exact_attention=exact_batching and self.offload.n_gpu_layers == 0)
        self.load_s = time.perf_counter() - t0
        self._load_pending = self.load_s
        self._lock = threading.RLock()
        self._cached: list[int] = []   # tokens whose KV entries sit in sequence 0
        self._grid_end = 0             # of which the first _grid_end were read in whole GRID chunks
        self._formatter = None
        self.speculative = speculative   # prompt lookup or the draft model (spec_request.py)
        self.draft = DraftRunner(draft, self.h.n_threads, settings.adaptive_threads) if draft else None
        # Exactness is measured per attention numerics too (a BF16 V cache takes other kernels).
        self.costs = CostBook(cost_key(ref.path, self.h.n_threads, engine_version()
                                       + (" bf16-v" if self.h.exact_attention else "")),
                              self.ref.name, exact_attention=self.h.exact_attention)

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
        device = self.offload.device if self.h.n_gpu_layers > 0 else "cpu"
        return {"engine": engine_version(), "n_ctx": self.n_ctx, "threads": self.h.n_threads,
                "thread_policy": "adaptive" if self.h.governor.adaptive else "fixed",
                "quantization": self.gguf.quantization, "architecture": self.gguf.architecture,
                "device": device, "gpu_layers": self.h.n_gpu_layers,
                "speculative": self._spec_mode(device),
                **({"adapters": [a.path for a in self.ref.adapters]} if self.ref.adapters else {})}

    def _spec_mode(self, device: str) -> str:
        if not self.speculative or device != "cpu":
            return "off"
        return f"draft:{self.draft.ref.name}" if self.draft else "prompt-lookup"

    def template_source(self) -> str | None:
        """The chat template's Jinja source; one too long to have been read is refused here, before
        llama.cpp is asked for the whole string."""
        listed = self.gguf.metadata.get("tokenizer.chat_template")
        if isinstance(listed, Oversized):
            raise ChatTemplateError(str(self.ref.path), f"{listed.nbytes:,} bytes long, over the "
                                    f"{MAX_STRING_BYTES:,} bytes Bakeoff renders")
        return self.gguf.chat_template or self.h.chat_template()

    def tool_template(self) -> str | None:
        template = self.template_source()
        return template if template_supports_tools(template) else None

    def chat_formatter(self) -> ChatTemplate | None:
        """The model's chat template with its special tokens (built once), None if it has none."""
        template = self.template_source()
        if template and self._formatter is None:
            self._formatter = ChatTemplate(template, eos_token=self.h.special_text(self.h.eos),
                                           bos_token=self.h.special_text(self.h.bos), path=str(self.ref.path))
        return self._formatter

    def format_chat(self, messages: list[Message] | list[dict[str, Any]],
                    tools: list[dict[str, Any]] | None = None) -> str:
        msgs = [m if isinstance(m, dict) else m.model_dump() for m in messages]
        formatter = self.chat_formatter()
        if formatter is None:
            lines = [f"{m['role'].capitalize()}: {m['content']}" for m in msgs]
            return "\n".join(lines) + "\nAssistant:"
        return formatter.render(msgs, tools=tools)

    def chat_tokens(self, messages: list[Message] | list[dict[str, Any]],
                    tools: list[dict[str, Any]] | None = None) -> list[int]:
        text = self.format_chat(messages, tools)
        bos_text = self.h.special_text(self.h.bos)
        has_bos = bool(bos_text) and text.startswith(bos_text)
        return self.h.tokenize(text, add_special=not has_bos)

    def chat_stops(self) -> list[str]:
        """Without a chat template the prompt is "User: ...\nAssistant:"; stop at the next turn."""
        return [] if self.template_source() else ["\nUser:"]

    # --- generation -------------------------------------------------------------------------
    def check_fits(self, n_prompt: int, params: GenParams) -> int:
        """Raise if the prompt cannot fit one sequence; return how many tokens may be generated."""
        n_ctx = self.n_ctx
        if n_prompt >= n_ctx:
            raise ContextOverflowError(n_prompt, n_ctx)
        room = n_ctx - n_prompt
        return room if params.max_tokens is None else min(params.max_tokens, room)

    def _prefill(self, tokens: list[int]) -> tuple[int, int]:
        """Make sequence 0 hold `tokens`, reusing the cached prefix as far as it was computed in
        complete GRID chunks (llama_lowlevel.GRID: so the answer never depends on what the cache
        held). Returns (evaluated, reused)."""
        keep = 0
        for a, b in zip(self._cached[:self._grid_end], tokens):
            if a != b:
                break
            keep += 1
        keep = min(keep, len(tokens) - 1)  # the last prompt token is always evaluated for logits
        keep -= keep % GRID
        if keep == 0 or not self.h.seq_rm(0, keep, -1):
            self.h.clear()
            keep = 0
        self._cached, self._grid_end = list(tokens[:keep]), keep
        self.h.decode_grid(tokens[keep:], keep, seq_id=0)
        self._cached, self._grid_end = list(tokens), len(tokens) - len(tokens) % GRID
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
            out: list[Chunk] = []

            def emit(text: str, lps: list[TokenLogprob] | None) -> None:
                if text or lps:
                    out.append(Chunk(text=text, logprobs=lps))

            req = open_request(self.h, seq, emit, speculative=self.speculative, draft=self.draft,
                               lookup_sampled=get_settings().speculative_sampled, book=self.costs)

            try:
                evaluated, reused = 0, 0
                if max_new > 0:
                    try:
                        evaluated, reused = self._prefill(tokens)
                    except BaseException:
                        self._cached = []
                        raise
                t_prefill = time.perf_counter()
                pending, pos = None, len(tokens)
                if not seq.done:
                    token, done = req.pick(-1)
                    pending = None if done else token
                    req.start(self.h, tokens)
                while True:
                    yield from out
                    out.clear()
                    if pending is None:
                        break
                    try:
                        kept, pending = req.step(self.h, pos, pending, seq.max_new - seq.n_out)
                    except BaseException:
                        self._cached = []   # the KV cache may hold part of a step
                        raise
                    self._cached.extend(kept)
                    pos += len(kept)
                usage = Usage(len(tokens), seq.n_out)
                stats = req.spec.stats
                timings = replace(seq.timings(t0, t_prefill, evaluated, load_s, reused),
                                  draft_tokens=stats.drafted, accepted_tokens=stats.accepted,
                                  speculation=req.spec.mode, threads=self.h.governor.take_fewest())
                yield Chunk(finish_reason=seq.finish_reason, usage=usage, timings=timings)
            finally:
                req.close()
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
                self._cached, self._grid_end = scorer.cached, 0   # read in its own chunks

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
        self.costs.keep()
        if self.draft is not None:
            self.draft.close()
        self.h.close()
