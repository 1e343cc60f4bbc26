"""Prompt lookup past position 256 on the real SmolLM2-135M: llama.cpp gives a lone token there
another attention kernel than a verification decode, so drafts stop where batched logits were
measured to differ, and go on where they were measured equal (a BF16 V cache)."""

from __future__ import annotations

from bakeoff.engines import LoadOptions, open_engine
from bakeoff.engines.base import GenParams, Message, collect
from bakeoff.engines.verify_cost import LONG_FROM
from bakeoff.models.ref import ModelRef
from bakeoff.settings import reset_settings
from spec_cases import draft_eagerly

TEXT = ("The harbour office opens at nine. Boats that arrive before noon report to the east quay, "
        "boats that arrive later report to the west quay, and every crew signs the arrival book. ")
LONG = [Message(role="user", content="Repeat this text exactly:\n\n" + TEXT * 4)]


def answers(path: str) -> tuple:
    ref = ModelRef(name="smol", engine="llamacpp", source="packaged", path=path)
    plain = open_engine(ref, LoadOptions(n_ctx=2048, speculative=False))
    fast = draft_eagerly(open_engine(ref, LoadOptions(n_ctx=2048, speculative=True)))
    try:
        p = GenParams(temperature=0, max_tokens=200)
        a, b = collect(plain.chat(LONG, p)), collect(fast.chat(LONG, p))
        assert a.usage.prompt_tokens + a.usage.completion_tokens > LONG_FROM + 40   # well past it
        return a, b, fast.costs.cost
    finally:
        plain.close()
        fast.close()


def test_drafts_stop_at_position_256_where_lone_tokens_take_another_kernel(smollm2_path):
    a, b, cost = answers(str(smollm2_path))
    assert (b.text, b.usage) == (a.text, a.usage)
    assert cost.exact_long == 1   # a lone token's logits there depend on the thread count
    assert b.timings.speculation.startswith("prompt-lookup until position")
    assert "thread count" in b.timings.speculation
    assert 0 < b.timings.accepted_tokens <= b.timings.draft_tokens


def test_a_bf16_v_cache_keeps_drafting_past_256_with_the_same_answers(smollm2_path, monkeypatch):
    _, short, _ = answers(str(smollm2_path))
    monkeypatch.setenv("BAKEOFF_EXACT_BATCHES", "1")
    reset_settings()
    try:
        a, b, cost = answers(str(smollm2_path))
    finally:
        monkeypatch.delenv("BAKEOFF_EXACT_BATCHES")
        reset_settings()
    assert (b.text, b.usage) == (a.text, a.usage)
    assert cost.exact_long is not None and cost.exact_long >= 16
    assert b.timings.speculation == "prompt-lookup"
    assert b.timings.accepted_tokens > short.timings.accepted_tokens
