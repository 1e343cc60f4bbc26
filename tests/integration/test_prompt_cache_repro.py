"""A greedy answer does not depend on what the engine's prompt cache held before the request.

llama.cpp computes a token differently in a batch of 64 or more than in a smaller one (and, for
Q4_K files, by how the batch splits into tiles), so a prompt read after a cached prefix of another
length could get another answer: asking SmolLM2 the same copy-edit question twice in a row gave a
different second answer for 3 of 8 cases before prompts were read in fixed GRID chunks."""

from __future__ import annotations

from pathlib import Path

import pytest

from bakeoff.engines import LoadOptions, open_engine
from bakeoff.engines.base import collect
from bakeoff.evals.suite import load_suite
from bakeoff.models.ref import ModelRef
from bakeoff.models.registry import Registry

COPY_EDIT = Path(__file__).parents[2] / "benchmarks" / "suites" / "copy_edit.yaml"


def open_plain(path: Path):
    ref = ModelRef(name=path.stem, engine="llamacpp", source="file", path=str(path))
    return open_engine(ref, LoadOptions(n_ctx=2048, speculative=False))


def answers(engine, cases, max_tokens: int):
    out = {}
    for c in cases:
        params = c.params.model_copy(update={"temperature": 0.0, "max_tokens": max_tokens})
        first = collect(engine.chat(c.messages(), params))
        again = collect(engine.chat(c.messages(), params))    # all but its last token cached
        assert (again.text, again.usage) == (first.text, first.usage), c.id
        out[c.id] = first.text
    return out


@pytest.mark.slow
def test_the_same_question_twice_gets_the_same_answer(smollm2_path):
    engine = open_plain(smollm2_path)
    try:
        answers(engine, load_suite(COPY_EDIT).cases, 60)
    finally:
        engine.close()


@pytest.mark.slow
def test_an_answer_does_not_depend_on_the_request_before_it():
    gemma_path = Path(Registry().resolve("gemma3-270m").path or "")   # assembled from its parts
    cases = load_suite("starter").cases[:12]
    one, other = open_plain(gemma_path), open_plain(gemma_path)
    try:
        in_order = answers(one, cases, 24)
        long_case = load_suite(COPY_EDIT).cases[0]
        collect(other.chat(long_case.messages(), long_case.params))   # a long, unrelated prefix
        assert answers(other, list(reversed(cases)), 24) == in_order
    finally:
        one.close()
        other.close()
