"""Task definitions: YAML files in bakeoff/evals/tasks/, validated into TaskSpec.

A multiple-choice task names its data, a Jinja template for the question (`text`) and Jinja
expressions for the choices and the gold index, as lm-evaluation-harness's task YAML does.
Partial-scoring tasks (WinoGrande) give `contexts` and `continuation` expressions instead of
`choices`. Generation tasks (GSM8K) and code tasks (HumanEval) name their Python scorer by `kind`.
"""

from __future__ import annotations

import hashlib
import random
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ...errors import NotFoundError, SuiteError
from .data import load_rows
from .preprocess import PREPROCESSORS

FEWSHOT_SEED = 1234  # lm-evaluation-harness's default fewshot seed


class DataSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: Literal["olmo_arrow", "olmo_jsonl", "human_eval"]
    path: str


class TaskSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    title: str
    kind: Literal["multiple_choice", "generate", "code"]
    data: DataSpec
    preprocess: str | None = None
    text: str = ""
    choices: str | None = None
    contexts: str | None = None
    continuation: str | None = None
    gold: str | None = None
    target_delimiter: str = " "
    fewshot_delimiter: str = "\n\n"
    default_shots: int = 0
    max_shots: int | None = None
    metrics: list[str] = Field(default_factory=lambda: ["acc"])
    generation: dict[str, Any] = Field(default_factory=dict)
    digest: str = ""  # sha256 of the YAML: results cached under an edited task are not reused

    @property
    def partial(self) -> bool:
        return self.contexts is not None

    def docs(self) -> list[dict[str, Any]]:
        return _docs(self.name)

    def fewshot_indices(self, idx: int, k: int, n_docs: int) -> list[int]:
        """k examples from the same split, never the item itself, the same for every run."""
        if k <= 0:
            return []
        rng = random.Random(FEWSHOT_SEED + idx)
        pool = rng.sample(range(n_docs), min(k + 1, n_docs))
        return [i for i in pool if i != idx][:k]


def _task_files() -> dict[str, str]:
    folder = resources.files("bakeoff.evals") / "tasks"
    return {p.name[:-5]: p.read_text(encoding="utf-8") for p in folder.iterdir()
            if p.name.endswith(".yaml")}


@lru_cache(maxsize=1)
def _specs() -> dict[str, TaskSpec]:
    specs = {}
    for stem, text in sorted(_task_files().items()):
        try:
            raw = yaml.safe_load(text)
            spec = TaskSpec(**raw, digest=hashlib.sha256(text.encode()).hexdigest()[:16])
        except (yaml.YAMLError, ValidationError, TypeError) as exc:
            raise SuiteError(f"invalid task definition: {exc}", file=f"{stem}.yaml") from None
        specs[spec.name] = spec
    return specs


def task_names() -> list[str]:
    return list(_specs())


def get_task(name: str) -> TaskSpec:
    specs = _specs()
    if name not in specs:
        from rapidfuzz import process

        close = [m[0] for m in process.extract(name, list(specs), limit=3, score_cutoff=70)]
        err = NotFoundError("task", name, valid=list(specs))
        if close:
            err.hint = f"did you mean {', '.join(close)}? {err.hint}"
        raise err
    return specs[name]


@lru_cache(maxsize=16)
def _docs_cached(name: str) -> tuple[dict[str, Any], ...]:
    spec = _specs()[name]
    rows = load_rows(spec.data.source, spec.data.path, spec.name)
    fn = PREPROCESSORS.get(spec.preprocess) if spec.preprocess else None
    return tuple(fn(r) for r in rows) if fn else tuple(rows)


def _docs(name: str) -> list[dict[str, Any]]:
    return list(_docs_cached(name))
