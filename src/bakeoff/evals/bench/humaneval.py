"""HumanEval: greedy completion of each prompt, then the problem's tests in the sandbox; pass@1."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...engines.base import Engine, collect
from .gsm8k import generation_params
from .sandbox import Limits, run_program
from .tasks import TaskSpec


@dataclass
class CodeItem:
    task_id: str
    prompt: str
    test: str
    entry_point: str


def build_item(spec: TaskSpec, docs: list[dict[str, Any]], idx: int, shots: int) -> CodeItem:
    doc = docs[idx]
    return CodeItem(doc["task_id"], doc["prompt"], doc["test"], doc["entry_point"])


def program(item: CodeItem, completion: str) -> str:
    """What human-eval executes: prompt + completion, the test module, then check(entry_point)."""
    return f"{item.prompt}{completion}\n\n{item.test}\n\ncheck({item.entry_point})\n"


def check(item: CodeItem, completion: str, timeout_s: float = 10.0) -> dict[str, Any]:
    outcome = run_program(program(item, completion), Limits(timeout_s=timeout_s))
    return {"task_id": item.task_id, "completion": completion, "status": outcome.status,
            "pass_at_1": int(outcome.passed), "output": outcome.output[-500:]}


def run_item(spec: TaskSpec, engine: Engine, item: CodeItem) -> dict[str, Any]:
    resp = collect(engine.complete(item.prompt, generation_params(spec)))
    return check(item, resp.text, float(spec.generation.get("timeout_s", 10)))
