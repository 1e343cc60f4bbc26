"""The catalog's schema: licences, families with openness records, and model entries.

Every fact carries a source: `sources.card` backs identity and tasks, `sources.config` the
architecture numbers, and `released`, `params`, `languages` and `context` each name their own
source (with a note where the source contradicts itself or needs reading). An unknown fact is
null, never a guess. Each openness component names its own licence and evidence, following the
Model Openness Framework v1.0 (MOF, arXiv 2403.13784; component list as in the Model Openness
Tool's mof.settings.yml). Unknown licences, families or base models fail validation.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Url = Annotated[str, StringConstraints(pattern=r"^https?://\S+$")]
Id = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9.\-]*$")]
Repo = Annotated[str, StringConstraints(pattern=r"^[\w.\-]+/[\w.\-]+$")]
Status = Literal["open", "partial", "closed", "unknown"]   # unknown: not verified either way


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Licence(Strict):
    id: str
    name: str
    category: Literal["permissive", "copyleft", "open-data", "responsible-ai", "community",
                      "proprietary", "publication", "unknown"]
    osi_approved: bool
    open_data: bool = False            # an open-data licence the MOF accepts (CC-BY, CDLA, ODC)
    commercial: Literal["yes", "conditional", "no", "unknown"]
    restrictions: list[str] = []
    source: Url | None = None          # required for every real licence; only UNKNOWN_LICENCE has none

    @model_validator(mode="after")
    def _sourced(self) -> Licence:
        if self.category != "unknown" and not self.source:
            raise ValueError("source: a licence needs the URL of its text")
        return self

    @property
    def mof_open(self) -> bool:
        """Counts as an open licence under the MOF: OSI-approved, or an open-data licence."""
        return self.osi_approved or self.open_data


# What an entry whose licence no stored source states carries (its `license` is null): not open, and
# no commercial use can be promised; displays read "unknown".
UNKNOWN_LICENCE = Licence(id="unknown", name="unknown (not verified)", category="unknown", osi_approved=False,
                          commercial="unknown",
                          restrictions=["licence not verified: read the repository's own licence before use"])


@dataclass(frozen=True)
class MofComponent:
    key: str
    name: str                 # as the framework names it
    kind: Literal["code", "data", "document"]
    mof_class: int            # the class that first requires (or lists) it
    required: bool


# MOF v1.0: 17 components, 14 required (the technical report may be omitted when a research
# paper is provided). Order: class III, II, I, as the framework builds them up.
MOF_COMPONENTS: tuple[MofComponent, ...] = (
    MofComponent("architecture", "Model architecture", "code", 3, True),
    MofComponent("weights", "Model parameters (Final)", "data", 3, True),
    MofComponent("model_card", "Model card", "document", 3, True),
    MofComponent("data_card", "Data card", "document", 3, True),
    MofComponent("tech_report", "Technical report", "document", 3, True),
    MofComponent("eval_results", "Evaluation results", "document", 3, True),
    MofComponent("sample_outputs", "Sample model outputs", "document", 3, False),
    MofComponent("training_code", "Training code", "code", 2, True),
    MofComponent("inference_code", "Inference code", "code", 2, True),
    MofComponent("eval_code", "Evaluation code", "code", 2, True),
    MofComponent("eval_data", "Evaluation data", "data", 2, True),
    MofComponent("libraries", "Supporting libraries and tools", "code", 2, False),
    MofComponent("datasets", "Datasets", "data", 1, True),
    MofComponent("preprocessing_code", "Data preprocessing code", "code", 1, True),
    MofComponent("checkpoints", "Model parameters (Intermediate)", "data", 1, True),
    MofComponent("paper", "Research paper", "document", 1, True),
    MofComponent("metadata", "Model metadata", "data", 1, False),
)
COMPONENTS = {c.key: c for c in MOF_COMPONENTS}


class Component(Strict):
    status: Status = "closed"
    license: str | None = None          # this component's own licence id; null: none stated
    evidence: Url | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _evidence(self) -> Component:
        if self.status in ("open", "partial") and not self.evidence:
            raise ValueError(f"a {self.status} component needs an evidence URL")
        return self


_CLOSED = Component()


class Openness(Strict):
    """One record per MOF component. A component left out takes the status `unlisted` says: closed
    (not published; the default, for records checked against everything the producer published) or
    unknown (for records checked only in part)."""
    unlisted: Literal["closed", "unknown"] = "closed"
    architecture: Component = _CLOSED
    weights: Component = _CLOSED        # its licence is the entry's `license` (and its ancestors')
    model_card: Component = _CLOSED
    data_card: Component = _CLOSED
    tech_report: Component = _CLOSED
    eval_results: Component = _CLOSED
    sample_outputs: Component = _CLOSED
    training_code: Component = _CLOSED
    inference_code: Component = _CLOSED
    eval_code: Component = _CLOSED
    eval_data: Component = _CLOSED
    libraries: Component = _CLOSED
    datasets: Component = _CLOSED
    preprocessing_code: Component = _CLOSED
    checkpoints: Component = _CLOSED
    paper: Component = _CLOSED
    metadata: Component = _CLOSED

    @model_validator(mode="before")
    @classmethod
    def _fill_unlisted(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("unlisted") == "unknown":
            data = {**{c.key: {"status": "unknown"} for c in MOF_COMPONENTS}, **data}
        return data

    @model_validator(mode="after")
    def _weights_licence(self) -> Openness:
        if self.weights.license is not None:
            raise ValueError("weights.license: the weights' licence is the entry's `license`; remove it here")
        return self

    def component(self, key: str) -> Component:
        return getattr(self, key)

    def components(self) -> list[tuple[str, Component]]:
        """(key, component) for every MOF component, in the framework's order."""
        return [(c.key, self.component(c.key)) for c in MOF_COMPONENTS]


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
    """A score the model's maker published (its card or technical report): shown, never ranked, since
    each maker picks its own settings."""

    name: str
    score: float
    shots: int | None = None
    source: Url
    # the source's own date, where it states one
    date: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}(-\d{2})?$")
    note: str | None = None          # where it was read (a copy of the card), which table, which mode


# Facts that must each name their own source when known (the entry field, the sources field).
SOURCED_FACTS: dict[str, str] = {"released": "released", "params_b": "params",
                                 "languages": "languages", "context": "context"}
Fact = Literal["released", "params", "languages", "context", "config", "license", "base", "gguf", "hf_repo"]


class Sources(Strict):
    card: Url
    config: Url | None = None
    released: Url | None = None
    params: Url | None = None
    languages: Url | None = None
    context: Url | None = None
    paper: Url | None = None
    base: Url | None = None             # states the lineage (base model and how it was derived)
    gguf: Url | None = None             # shows the GGUF repositories listed in gguf_repos
    notes: dict[Fact, str] = {}         # what the source says, where it needs reading or contradicts itself

    def urls(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump(exclude={"notes"}).items() if v}


class MotVerdict(Strict):
    """What the Model Openness Tool (mot.isitopen.ai) gives this model, and why we differ if we do."""
    mof_class: int | None = Field(ge=1, le=3)   # null: unclassified
    source: Url                                  # its models/*.yml at a commit
    checked: dt.date
    differs: str | None = None                   # the reason, when the catalog computes another class


class Entry(Strict):
    id: Id
    name: str
    family: Id
    org: str | None = None              # default: the family's org
    size: str
    base: Id | None = None
    relation: Literal["finetune", "continued-pretraining", "block-expansion", "distillation",
                      "merge", "adapter", "quantization"] | None = None
    hf_repo: Repo
    gguf_repos: list[Repo] = []
    released: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}$")   # null: unknown
    tasks: list[Id] = Field(min_length=1)
    languages: list[str] | None = Field(default=None, min_length=1)       # null: unknown
    params_b: float = Field(gt=0)
    active_params_b: float | None = Field(default=None, gt=0)
    arch: Arch
    context: int | None = Field(default=None, gt=0)   # null: not stated by a source we could check
    license: str | None                 # null: no source we could check states it (needs notes.license)
    # False when the base's own licensor released this derivative under other terms (DeepSeek-R1:
    # MIT on DeepSeek-V3-Base), so the base's restrictions do not carry over; needs notes.license.
    inherits_licence: bool = True
    openness: Openness | None = None    # default: the family's record
    mot: MotVerdict | None = None
    benchmarks: list[Benchmark] = []
    sources: Sources
    checked: dt.date                    # when these facts as a whole were last checked against their sources

    @model_validator(mode="after")
    def _consistent(self) -> Entry:
        if (self.base is None) != (self.relation is None):
            raise ValueError("base and relation go together: give both or neither")
        if self.arch.has_numbers() and not self.sources.config:
            raise ValueError("architecture numbers need sources.config (the config.json URL)")
        if self.arch.type == "moe" and not self.active_params_b:
            raise ValueError("a mixture of experts needs active_params_b (the parameters used per token)")
        if not self.inherits_licence and "license" not in self.sources.notes:
            raise ValueError("inherits_licence: false needs sources.notes.license saying who relicensed it")
        if self.license is None and "license" not in self.sources.notes:
            raise ValueError("license: null (unknown) needs sources.notes.license saying what was read")
        for field, src in SOURCED_FACTS.items():
            if getattr(self, field) is not None and getattr(self.sources, src) is None:
                raise ValueError(f"{field} needs sources.{src} (a URL that states it), or set it to null")
        return self

    @property
    def n_params(self) -> float:
        return self.params_b * 1e9

    def label_key(self) -> str:
        """Normalised size label (e.g. '7b', '135m') used to match GGUF general.size_label."""
        return re.sub(r"[^0-9a-z.x]", "", self.size.lower())
