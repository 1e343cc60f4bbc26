"""The assertion registry and its shared types: an `Outcome`, the `Context` a check may read, and
`evaluate`, which applies the rules every assertion shares (threshold, `not-` negation).

The checks themselves register from `assertions.py` (text, JSON, python, similarity, latency, cost)
and `rubric.py` (the judge model); both import this module, neither imports the other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..engines.toolcalls import Tool


@dataclass
class Outcome:
    passed: bool
    score: float
    reason: str
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Context:
    """What an assertion may look at besides the output."""

    vars: dict[str, Any]
    prompt: str
    latency_s: float = 0.0
    cost_usd: float = 0.0
    judge: Callable[[str], str] | None = None   # prompt -> judge reply text
    finish_reason: str | None = None
    tools: list[Tool] = field(default_factory=list)   # functions the case offered


Check = Callable[[str, dict[str, Any], Context], Outcome]


@dataclass
class AssertionType:
    check: Check
    prepare: Callable[[dict[str, Any], Path], dict[str, Any]] | None = None
    needs_value: bool = True


REGISTRY: dict[str, AssertionType] = {}


def register(name: str, *, prepare: Callable | None = None, needs_value: bool = True) -> Callable:
    def deco(fn: Check) -> Check:
        REGISTRY[name] = AssertionType(fn, prepare, needs_value)
        return fn

    return deco


def split_type(name: str) -> tuple[str, bool]:
    """'not-contains' -> ('contains', True)."""
    if name.startswith("not-"):
        return name[4:], True
    return name, False


def known_types() -> list[str]:
    return sorted(REGISTRY)


def evaluate(output: str, spec: dict[str, Any], ctx: Context) -> Outcome:
    """Run one assertion spec (already prepared) and apply threshold and negation.

    A spec prepared by another format's reader may carry its own `_evaluate` (same signature),
    which then applies that format's rules for threshold and negation (evals/formats/).
    """
    own = spec.get("_evaluate")
    if own is not None:
        return own(output, spec, ctx)
    base, negated = split_type(spec["type"])
    out = REGISTRY[base].check(output, spec, ctx)
    if out.error:
        return out
    passed = out.passed if spec.get("threshold") is None else out.score >= spec["threshold"]
    if negated:
        reason = f"should not be: {out.reason}" if passed else f"as required not: {out.reason}"
        return Outcome(not passed, 1.0 - out.score, reason, None, out.details)
    return Outcome(passed, out.score, out.reason, None, out.details)
