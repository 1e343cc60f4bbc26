"""A deterministic fake engine registered through the real engine and model registries."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from bakeoff.engines.base import Chunk, Engine, GenParams, LogLik, LogLikRequest, Message, Timings, Usage
from bakeoff.engines.factory import register_engine
from bakeoff.models.ref import ModelRef
from bakeoff.models.registry import register_source

Responder = Callable[[str], str]


class FakeEngine(Engine):
    """Answers with responder(prompt); words stream one at a time; timings are real clock times."""

    responders: dict[str, Responder] = {}
    drafts: dict[str, tuple[int, int]] = {}   # model -> (drafted, accepted) tokens per answer

    def __init__(self, ref: ModelRef, **_: object):
        self.ref = ref
        self.responder = self.responders.get(ref.name, lambda p: f"echo: {p}")

    @property
    def n_ctx(self) -> int:
        return 2048

    def tokenize(self, text: str, add_special: bool = True) -> list[int]:
        return [hash(w) % 50000 for w in text.split()]

    def chat(self, messages: list[Message], params: GenParams) -> Iterator[Chunk]:
        return self.complete(messages[-1].content, params)

    def complete(self, prompt: str, params: GenParams) -> Iterator[Chunk]:
        t0 = time.perf_counter()
        words = self.responder(prompt).split(" ")
        if params.max_tokens is not None:
            words = words[: params.max_tokens]
        for i, w in enumerate(words):
            yield Chunk(text=w if i == 0 else " " + w)
        total = time.perf_counter() - t0
        drafted, accepted = self.drafts.get(self.ref.name, (0, 0))
        yield Chunk(finish_reason="stop", usage=Usage(len(prompt.split()), len(words)),
                    timings=Timings(ttft_s=total / 2, output_tps=100.0, prompt_tps=1000.0, total_s=total,
                                    draft_tokens=drafted, accepted_tokens=accepted))

    def loglikelihood(self, requests: list[LogLikRequest]) -> list[LogLik]:
        return [LogLik(-float(len(r.continuation)), True, len(r.continuation.split())) for r in requests]

    def info(self) -> dict:
        return {"engine": "fake", "n_ctx": 2048, "quantization": "none"}


def install(names_and_responders: dict[str, Responder]) -> Callable[[], None]:
    """Register fake models by name; returns an undo function."""
    register_engine("fake", FakeEngine)
    FakeEngine.responders.update(names_and_responders)
    refs = [ModelRef(name=n, engine="fake", source="test") for n in names_and_responders]
    return register_source(lambda settings: refs)
