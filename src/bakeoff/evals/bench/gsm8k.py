"""GSM8K: chain-of-thought generation, final-number extraction, exact match."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ...engines.base import Engine, GenParams, collect
from .preprocess import normalise_number as normalise
from .tasks import TaskSpec

# "So the answer is 18." (the exemplars' wording) first; otherwise the last number in the text,
# like the harness's flexible-extract filter.
_STRICT = re.compile(r"answer is \$?(-?[0-9][0-9.,]*)")
_NUMBER = re.compile(r"-?[$0-9.,]{2,}|-?[0-9]+")


def extract_answer(text: str) -> str | None:
    strict = _STRICT.findall(text)
    if strict:
        return normalise(strict[-1])
    numbers = _NUMBER.findall(text)
    return normalise(numbers[-1]) if numbers else None


@dataclass
class GenItem:
    prompt: str
    target: str


def build_item(spec: TaskSpec, docs: list[dict[str, Any]], idx: int, shots: int) -> GenItem:
    doc = docs[idx]
    parts = list(doc["shots"][:shots]) + [f"Question: {doc['question']}\nAnswer:"]
    return GenItem("\n\n".join(parts), doc["target"])


def generation_params(spec: TaskSpec) -> GenParams:
    gen = spec.generation
    return GenParams.build(temperature=0.0, max_tokens=gen.get("max_tokens", 256),
                           stop=list(gen.get("stop", [])), seed=0)


def run_item(spec: TaskSpec, engine: Engine, item: GenItem) -> dict[str, Any]:
    resp = collect(engine.complete(item.prompt, generation_params(spec)))
    got = extract_answer(resp.text)
    return {"response": resp.text, "extracted": got, "target": item.target,
            "exact_match": int(got is not None and got == item.target),
            "completion_tokens": resp.usage.completion_tokens}
