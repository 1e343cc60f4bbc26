"""How a model is loaded: one typed value every surface hands to `open_engine`.

Engines read the fields that apply to them (a remote endpoint has no threads or KV cache). What
comes next belongs here as fields too, read by the engines that support them (GPU layers to
offload, LoRA adapters applied at load time, and a draft model for speculative decoding).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..models.ref import Adapter


class LoadOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    n_ctx: int | None = Field(None, ge=1, description="Tokens of context one request may use "
                              "(None: the n_ctx setting, capped at the model's training context).")
    threads: int | None = Field(None, ge=1, description="CPU threads (None: the threads setting).")
    gpu_layers: Literal["auto"] | Annotated[int, Field(ge=0)] | None = Field(
        None, description="Model layers offloaded to the GPU: a count, or auto (every layer that fits "
        "in the GPU's free memory); None: the gpu_layers setting. A CPU-only llama.cpp build runs "
        "everything on the CPU.")
    adapters: tuple[Adapter, ...] = Field((), description="LoRA adapters (GGUF) applied at load "
                                          "time, after those the model's reference carries (a "
                                          "tuned model's own adapter).")
    concurrency: int = Field(1, ge=1, description="Requests served at once. Above 1, a model the "
                             "batching scheduler can drive gets one KV sequence per request.")
    batched: bool | None = Field(None, description="Use the continuous-batching scheduler even at "
                                 "concurrency 1 (a server: thread-safe streams, prompt logprobs), "
                                 "or never; None: when concurrency > 1.")
    max_queue: int | None = Field(None, ge=0, description="Requests that may wait for a free "
                                  "sequence before a busy error (None: 4 x concurrency).")
    sequences: int = Field(1, ge=1, description="KV sequences for scoring several continuations "
                           "of one context together (log-likelihood), without the scheduler.")
    n_batch: int = Field(512, ge=1, description="Tokens evaluated per decode call.")
    speculative: bool | None = Field(None, description="Speculative decoding: prompt lookup, or "
                                     "the draft model when one is given; exact for greedy answers "
                                     "and in distribution for sampled ones (None: the speculative "
                                     "setting).")
    draft: str | None = Field(None, description="A smaller model with the same tokenizer that drafts "
                              "tokens for the target to verify (a model name or GGUF path); checked "
                              "for vocabulary, size and memory before anything loads.")
    kv_layout: Literal["auto", "split", "shared"] = Field(
        "auto", description="Batched KV cache: split gives each sequence its own n_ctx cells; shared "
        "is one pool of n_ctx cells (a full pool stops the newest request); auto splits when that "
        "costs little memory.")

    def wants_scheduler(self) -> bool:
        return self.batched if self.batched is not None else self.concurrency > 1


@dataclass(frozen=True)
class LoadPlan:
    """What a load will allocate, worked out from the model file before loading it."""

    n_ctx: int | None = None          # context cells in all (None: not a local KV cache)
    kv_unified: bool = True           # one pool of cells for every sequence, or one per sequence
    sequences: int = 1                # llama.cpp n_seq_max
    bytes: int = 0                    # memory the loaded model takes: file plus KV cache
    weights_file: str | None = None   # the file whose loaded weights every load of it shares
    weights_bytes: int = 0            # the part of `bytes` those shared weights take

    def kv_layout(self) -> dict[str, object]:
        return {"n_ctx": self.n_ctx, "kv_unified": self.kv_unified}
