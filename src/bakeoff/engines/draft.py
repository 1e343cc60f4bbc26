"""A draft model for speculative decoding: a smaller model with the target's vocabulary proposes
tokens, the target verifies them in one decode (engines/speculative.py).

Before anything loads, `plan_draft` checks the pair from the GGUF headers alone: the same
tokenizer (model, vocabulary size, the token texts by digest, the special token ids), a draft
smaller than the target (bytes read per token, which is what a CPU pays), and room in memory for
both (models/fit.py's estimate for each, sharing one runtime overhead).

The draft keeps its own KV cache of the sequence so far. Each draft step brings that cache up to
the history (reusing the common prefix, like the target's prompt cache) and then proposes tokens
one at a time, each through a copy of the request's own sampler chain (grammar, penalties), so a
constrained answer gets proposals that obey the constraint. A draft is at most MAX_DRAFT tokens
(for a greedy request, never more than the target's batches stay exact: measured per target file,
engines/verify_cost.py; Gemma 3 270M Q4_K_M verifies at most 3 tokens at once here, and a target
exact at no size is not drafted for) and stops early when the draft's probability for its
proposal falls below P_MIN: 16 and 0.75 are the draft settings llama.cpp's server has long
defaulted to (its newer `llama-speculative` example defaults to 3 and 0;
benchmarks/speculative_speed.py passes ours to it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import DraftModelError, InsufficientMemoryError
from ..models import fit
from ..models.gguf_info import GGUFInfo, read_gguf_info
from ..models.ref import ModelRef
from ..models.registry import Registry
from ..models.sources import check_present
from ..settings import Settings
from .llama_lowlevel import LlamaHandle
from .sampling import TargetDist, chain_probs, draw
from .speculative import MAX_VERIFY, DraftGate

MAX_DRAFT = 16     # most tokens per draft
P_MIN = 0.75       # stop drafting when the draft is less sure than this (see the module doc)
# Metadata that must match for two GGUF files to tokenize alike.
TOKENIZER_KEYS = ("tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.bos_token_id",
                  "tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id",
                  "tokenizer.ggml.padding_token_id", "tokenizer.ggml.unknown_token_id",
                  "tokenizer.ggml.add_bos_token")
TOKENIZER_ARRAYS = ("tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.merges")


@dataclass(frozen=True)
class DraftPlan:
    ref: ModelRef
    n_ctx: int


def tokenizer_difference(target: GGUFInfo, draft: GGUFInfo) -> str | None:
    """What makes the two files tokenize differently (None: they tokenize alike)."""
    if target.n_vocab != draft.n_vocab:
        return f"vocabularies of {draft.n_vocab} and {target.n_vocab} tokens"
    for key in TOKENIZER_KEYS:
        a, b = draft.metadata.get(key), target.metadata.get(key)
        if a != b:
            return f"{key} is {a!r} in the draft and {b!r} in the target"
    for key in TOKENIZER_ARRAYS:
        a, b = draft.array_digests.get(key), target.array_digests.get(key)
        if a != b:
            return f"{key} differs (the token texts or merges are not the same)"
    return None


def check_pair(target_ref: ModelRef, target: GGUFInfo, draft_ref: ModelRef, draft: GGUFInfo) -> None:
    """Raise DraftModelError unless `draft` shares the target's tokenizer and is smaller."""
    names = (draft_ref.name, target_ref.name)
    if target.path == draft.path:
        raise DraftModelError(*names, "it is the same file as the target",
                              "give a smaller model of the same family, e.g. a lower quantization")
    diff = tokenizer_difference(target, draft)
    if diff:
        raise DraftModelError(*names, f"another tokenizer ({diff})",
                              "a draft must come from the target's model family with the same "
                              "vocabulary, e.g. a smaller or lower-bit SmolLM2 for a SmolLM2")
    if draft.file_size >= target.file_size or draft.n_params > target.n_params:
        mib = 1 << 20
        raise DraftModelError(
            *names, f"it is not smaller ({draft.n_params / 1e6:,.0f}M parameters in "
            f"{draft.file_size / mib:,.0f} MiB against {target.n_params / 1e6:,.0f}M in "
            f"{target.file_size / mib:,.0f} MiB)",
            "swap the two, or pick a draft with fewer parameters or fewer bits per weight")


def check_memory(target: GGUFInfo, draft: GGUFInfo, n_ctx: int, target_bytes: int) -> None:
    """Raise InsufficientMemoryError unless target and draft fit in available memory together."""
    est = fit.estimate(draft, n_ctx)
    need = target_bytes + est.total_bytes - est.overhead_bytes   # one process, one runtime
    if need > est.available_bytes:
        raise InsufficientMemoryError(
            "this model with its draft model", need, est.available_bytes,
            "close other programs, lower the context with --ctx, or leave out --draft")


def plan_draft(target_ref: ModelRef, draft_name: str, n_ctx: int, settings: Settings) -> DraftPlan:
    """Resolve and check a draft for `target_ref` before anything loads (see the module doc)."""
    draft_ref = check_present(Registry(settings).resolve(draft_name))
    if draft_ref.endpoint is not None or not draft_ref.path:
        raise DraftModelError(draft_ref.name, target_ref.name, "it is not a local GGUF file",
                              "a draft runs in process beside the target; give a local model")
    target, draft = read_gguf_info(str(target_ref.path)), read_gguf_info(draft_ref.path)
    check_pair(target_ref, target, draft_ref, draft)
    check_memory(target, draft, n_ctx, fit.estimate(target, n_ctx).total_bytes)
    return DraftPlan(draft_ref, n_ctx)


class DraftRunner:
    """The loaded draft model and what its KV cache (sequence 0) holds."""

    def __init__(self, plan: DraftPlan, n_threads: int, adaptive_threads: bool = False):
        self.ref = plan.ref
        self.h = LlamaHandle(str(plan.ref.path), n_ctx=plan.n_ctx, n_threads=n_threads,
                             adaptive_threads=adaptive_threads)
        self.cached: list[int] = []
        # Whether consulting the draft pays here, learnt across greedy requests (each proposal
        # costs a decode of the draft, even one it then declines).
        self.gate = DraftGate()

    def sync(self, tokens: Sequence[int]) -> None:
        """Make the cache hold `tokens`, with logits for the last; reuses the common prefix."""
        keep = 0
        for a, b in zip(self.cached, tokens):
            if a != b:
                break
            keep += 1
        keep = min(keep, len(tokens) - 1)
        if keep == 0 or not self.h.seq_rm(0, keep, -1):
            self.h.clear()
            keep = 0
        self.cached = list(tokens[:keep])
        self.h.decode_sequence(tokens[keep:], keep)
        self.cached = list(tokens)

    def push(self, token: int) -> None:
        self.h.decode([token], [len(self.cached)], [0], [True])
        self.cached.append(token)

    def close(self) -> None:
        self.h.close()


class ModelDrafter:
    """One request's drafter (engines/speculative.Drafter) over a shared DraftRunner.

    `guide` is the request's sampler: for greedy requests its full chain (the draft takes the
    chain's pick on its own logits), for sampled ones the chain without the draw (the draft draws
    from the resulting q with `rng` and records q for the rejection rule).
    """

    def __init__(self, runner: DraftRunner, guide: Any, sampled: bool,
                 rng: np.random.Generator | None = None, max_draft: int = MAX_DRAFT,
                 p_min: float | None = None):
        self.runner = runner
        self.guide = guide
        self.sampled = sampled
        self.rng = rng or np.random.default_rng()
        self.max_draft = min(max_draft, MAX_VERIFY - 1)
        self.p_min = P_MIN if p_min is None else p_min
        self.history: list[int] = []
        self.q: list[np.ndarray] | None = [] if sampled else None

    def extend(self, tokens: Sequence[int]) -> None:
        self.history.extend(tokens)

    def feedback(self, drafted: int, accepted: int) -> None:
        """The draft's own confidence decides each draft's length (P_MIN)."""

    def draft(self, cap: int = MAX_VERIFY - 1) -> list[int]:
        self.q = [] if self.sampled else None
        if cap <= 0:
            return []
        r = self.runner
        r.sync(self.history)
        h = r.h
        chain = self._clone()
        out: list[int] = []
        try:
            for _ in range(min(cap, self.max_draft)):
                token, sure = self._propose(chain)
                if sure < self.p_min:
                    if self.q:
                        self.q.pop()   # q of the token not proposed
                    break
                out.append(token)
                if len(out) < min(cap, self.max_draft):
                    r.push(token)
        finally:
            h.ll.llama_sampler_free(chain.chain if isinstance(chain, TargetDist) else chain)
        return out

    def _clone(self) -> Any:
        ll = self.runner.h.ll
        if self.sampled:
            return TargetDist(self.runner.h, ll.llama_sampler_clone(self.guide.chain))
        return ll.llama_sampler_clone(self.guide)

    def _propose(self, chain: Any) -> tuple[int, float]:
        """One proposed token from the draft's last logits and how sure the draft is of it."""
        h = self.runner.h
        if self.sampled:
            q = chain_probs(h, chain.chain, h.logits(-1))
            token = draw(q, self.rng)
            chain.accept(token)
            if self.q is not None:
                self.q.append(q)
            return token, float(q[token])
        token = int(h.ll.llama_sampler_sample(chain, h.ctx, -1))   # accepts into the clone
        logits = h.logits(-1)
        z = np.exp(logits - logits.max())
        return token, float(z[token] / z.sum())
