"""Hyperparameters of a tune, declared once: the CLI flags, the lineage record and the checkpoint
identity all derive from this model."""

from __future__ import annotations

import hashlib
import json

from pydantic import BaseModel, ConfigDict, Field

# The query and value projections: the LoRA paper's choice (Hu et al. 2021, section 7.1) and peft's
# default for Llama-family models. Every adapted projection costs llama.cpp two extra small matrix
# products per layer per token: on SmolLM2-135M (2 threads) an adapter on q and v decodes at 0.96x
# the base alone, on the four attention projections 0.87x, on all seven 0.78x (random rank-8
# adapters, 4 alternating runs of 128 tokens each). `--targets` adapts more when a task needs it.
DEFAULT_TARGETS = ["q_proj", "v_proj"]


class TuneConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rank: int = Field(8, ge=1, le=256, description="LoRA rank r.")
    alpha: float = Field(16.0, gt=0, description="LoRA alpha; the update is scaled by alpha / rank.")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout on the LoRA input.")
    targets: list[str] = Field(default_factory=lambda: list(DEFAULT_TARGETS),
                               description="Module names to adapt (Hugging Face names).")
    lr: float = Field(1e-3, gt=0, le=1.0, description="Peak learning rate (AdamW, linear warm-up and decay).")
    warmup: float = Field(0.05, ge=0.0, lt=1.0, description="Share of steps spent warming up.")
    weight_decay: float = Field(0.0, ge=0.0, description="AdamW weight decay.")
    epochs: int = Field(3, ge=1, le=1000, description="Passes over the training data.")
    max_length: int = Field(256, ge=8, description="Longest example in tokens (longer ones stop the run).")
    batch_size: int = Field(8, ge=1, description="Examples per forward pass.")
    grad_accum: int = Field(1, ge=1, description="Forward passes per optimizer step.")
    max_steps: int | None = Field(None, ge=1, description="Stop after this many optimizer steps.")
    save_steps: int = Field(50, ge=1, description="Also checkpoint every this many steps.")
    seed: int = Field(0, description="Seed for the split, the data order and the LoRA init.")
    eval_fraction: float = Field(0.2, ge=0.0, lt=1.0, description="Held-out share when no --eval file.")

    def identity(self, base_sha256: str, data_sha256: str) -> str:
        """What a checkpoint must match to be resumed: same base, data and hyperparameters."""
        blob = json.dumps([base_sha256, data_sha256, self.model_dump(mode="json")], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()
