"""Requests the speculative-decoding tests share: starter cases where drafts hit and where they
rarely do, and a prompt whose answer copies it."""

from typing import Any

from bakeoff.engines.base import Message, Timings, collect
from bakeoff.engines.llama_lowlevel import engine_version
from bakeoff.engines.speculative import DraftGate
from bakeoff.engines.verify_cost import MAX_BATCH, VerifyCost, cost_key, save
from bakeoff.evals.suite import load_suite
from bakeoff.settings import get_settings

# Extraction and rewriting (drafts hit), and one case from other categories (drafts rarely do).
CASES = ["extract-person-json", "extract-email", "extract-name", "rewrite-spelling",
         "rewrite-polite", "rewrite-expand-nasa", "fact-capital-france", "math-word-problem",
         "format-bullet-list"]
# One case per category, for the slower draft-model pair.
FEW = ["extract-person-json", "rewrite-spelling", "fact-capital-france", "math-word-problem",
       "format-bullet-list"]
COPY = [Message(role="user", content=(
    "Repeat this text exactly: The quick brown fox jumps over the lazy dog. Bakeoff runs open "
    "models on your own cases and reports which one answers best."))]


def same_answers_on_cases(plain: Any, fast: Any, cases: list[str] = CASES) -> list[Timings]:
    """Each case answered by both engines (greedy, as the starter suite asks): the answers
    must be identical; returns the speculative side's timings."""
    suite = {c.id: c for c in load_suite("starter").cases}
    out = []
    for case_id in cases:    # one engine after the other reuses cached prompt prefixes too
        case = suite[case_id]
        params = case.params.model_copy(update={"temperature": 0.0})
        a = collect(plain.chat(case.messages(), params))
        b = collect(fast.chat(case.messages(), params))
        assert (b.text, b.finish_reason, b.usage) == (a.text, a.finish_reason, a.usage), case_id
        assert a.timings.draft_tokens == 0
        out.append(b.timings)
    return out


class _Flat(VerifyCost):
    """Any decode up to 32 tokens costs the same, whatever is measured: prompt lookup then
    drafts every match, so exactness is checked on as many drafted tokens as possible (whether a
    draft pays is the cost model's business, tested in tests/unit/test_verify_cost.py)."""

    def __init__(self) -> None:
        super().__init__({1: 1.0, 32: 1.0})

    def observe(self, n: int, seconds: float) -> None:
        pass


def draft_eagerly(engine: Any) -> Any:
    """Make a prompt-lookup engine draft whenever the history offers a match."""
    engine.costs.cost = _Flat()
    return engine


def seed_eager_costs(model_path: str, exact: int = MAX_BATCH) -> None:
    """The cost cache a fresh engine (or `bakeoff ask --speculative`) will read instead of probing:
    flat, so lookup drafts eagerly, and batches exact up to `exact` tokens (the probe's result as if
    measured here)."""
    threads = get_settings().threads
    save(VerifyCost({1: 1.0, 32: 1.0}, cost_key(model_path, threads, engine_version()), exact=exact))


def record_verify_batches(engine: Any) -> list[int]:
    """From now on, the size of each of the engine's decodes of several tokens with logits at
    every position (a verification batch, or the probe's)."""
    sizes: list[int] = []
    decode = engine.h.decode

    def recording(tokens: Any, positions: Any, seq_ids: Any, want_logits: Any) -> None:
        if len(tokens) > 1 and all(want_logits):
            sizes.append(len(tokens))
        decode(tokens, positions, seq_ids, want_logits)

    engine.h.decode = recording
    return sizes


class _Always(DraftGate):
    def want(self, n_seq: int) -> bool:
        super().want(n_seq)
        return True


def consult_always(engine: Any) -> Any:
    """Make a draft-model engine consult its draft on every request, whatever the draft gate has
    measured (whether consulting pays is the gate's business, tested in test_scheduler_drafts)."""
    engine.draft.gate = _Always()
    return engine
