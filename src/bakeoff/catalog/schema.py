"""The catalog's schema: licences, families with openness records, and model entries.

Every fact carries a source URL: an entry's `sources.card` backs identity, size, context, licence
and tasks; `sources.config` backs architecture numbers; each openness component and benchmark names
its own evidence. Unknown licences, families or base models fail validation.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Url = Annotated[str, StringConstraints(pattern=r"^https?://\S+$")]
Id = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9.\-]*$")]
Status = Literal["open", "partial", "closed"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Licence(Strict):
    id: str
    name: str
    category: Literal["permissive", "copyleft", "responsible-ai", "community", "proprietary"]
    osi_approved: bool
    commercial: Literal["yes", "conditional", "no"]
    restrictions: list[str] = []
    source: Url


class Component(Strict):
    status: Status
    evidence: Url | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _evidence(self) -> "Component":
        if self.status != "closed" and not self.evidence:
            raise ValueError(f"a {self.status} component needs an evidence URL")
        return self


class Openness(Strict):
    # The five criteria of a fully open model.
    datasets: Component
    weights: Component
    eval_code: Component
    training_code: Component
    checkpoints: Component
    # Documentation, counted by the Model Openness Framework.
    model_card: Component
    data_card: Component
    tech_report: Component
    paper: Component


class Family(Strict):
    id: Id
    name: str
    org: str
    source: Url
    openness: Openness


class Arch(Strict):
    gguf: str                                  # general.architecture in GGUF files
    type: Literal["dense", "moe"]
    attention: str
    layers: int | None = Field(default=None, gt=0)
    hidden: int | None = Field(default=None, gt=0)
    heads: int | None = Field(default=None, gt=0)
    kv_heads: int | None = Field(default=None, gt=0)
    head_dim: int | None = Field(default=None, gt=0)
    vocab: int | None = Field(default=None, gt=0)
    experts: int | None = Field(default=None, gt=0)
    experts_used: int | None = Field(default=None, gt=0)
    sliding_window: int | None = Field(default=None, gt=0)

    @property
    def head_dim_effective(self) -> int | None:
        if self.head_dim:
            return self.head_dim
        return self.hidden // self.heads if self.hidden and self.heads else None

    def has_numbers(self) -> bool:
        return any(v is not None for k, v in self.model_dump().items()
                   if k not in ("gguf", "type", "attention"))


class Benchmark(Strict):
    name: str
    score: float
    shots: int | None = None
    source: Url


class Sources(Strict):
    card: Url
    config: Url | None = None
    params: Url | None = None
    context: Url | None = None
    paper: Url | None = None


class Entry(Strict):
    id: Id
    name: str
    family: Id
    org: str | None = None              # default: the family's org
    size: str
    base: Id | None = None
    relation: Literal["finetune", "continued-pretraining", "block-expansion", "distillation",
                      "merge", "adapter"] | None = None
    hf_repo: str = Field(pattern=r"^[\w.\-]+/[\w.\-]+$")
    gguf_repos: list[Annotated[str, StringConstraints(pattern=r"^[\w.\-]+/[\w.\-]+$")]] = []
    released: str = Field(pattern=r"^\d{4}-\d{2}$")
    tasks: list[Id] = Field(min_length=1)
    languages: list[str] = Field(min_length=1)
    params_b: float = Field(gt=0)
    active_params_b: float | None = Field(default=None, gt=0)
    arch: Arch
    context: int | None = Field(default=None, gt=0)   # null: not stated by a source we could check
    license: str
    openness: Openness | None = None    # default: the family's record
    benchmarks: list[Benchmark] = []
    sources: Sources

    @model_validator(mode="after")
    def _consistent(self) -> "Entry":
        if (self.base is None) != (self.relation is None):
            raise ValueError("base and relation go together: give both or neither")
        if self.arch.has_numbers() and not self.sources.config:
            raise ValueError("architecture numbers need sources.config (the config.json URL)")
        if self.arch.type == "moe" and not (self.arch.experts and self.active_params_b):
            raise ValueError("a mixture of experts needs arch.experts and active_params_b")
        return self

    @property
    def n_params(self) -> float:
        return self.params_b * 1e9

    def label_key(self) -> str:
        """Normalised size label (e.g. '7b', '135m') used to match GGUF general.size_label."""
        return re.sub(r"[^0-9a-z.x]", "", self.size.lower())
