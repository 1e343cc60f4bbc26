"""The echo engine: answers with the prompt itself (promptfoo's `echo` provider).

It makes no tokens; it exists so assertions and suites can be checked on fixed outputs (a test's
vars carry the output, the prompt is `{{output}}`), the way promptfoo users check theirs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from .base import Chunk, Engine, GenParams, Message, Timings, Usage


class EchoEngine(Engine):
    def __init__(self, ref, **_: object):
        self.ref = ref

    @property
    def n_ctx(self) -> int:
        return 1 << 20

    def tokenize(self, text: str, add_special: bool = True) -> list[int]:
        return list(text.encode())

    def chat(self, messages: list[Message], params: GenParams) -> Iterator[Chunk]:
        return self.complete(messages[-1].content if messages else "", params)

    def complete(self, prompt: str, params: GenParams) -> Iterator[Chunk]:
        start = time.perf_counter()
        yield Chunk(text=prompt)
        total = time.perf_counter() - start
        n = len(prompt.split())
        yield Chunk(finish_reason="stop", usage=Usage(n, n), timings=Timings(total_s=total, ttft_s=total))

    def info(self) -> dict:
        return {"engine": "echo", "n_ctx": self.n_ctx}
