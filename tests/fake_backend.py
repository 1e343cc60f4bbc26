"""A fake model runtime for the batching scheduler (the BatchBackend protocol), checked the way
llama.cpp checks: each sequence's positions must follow on from the cells it holds, and a KV cache
of `cells` cells that cannot hold a batch applies none of it and says so.

Its greedy next token is a function of *everything* the sequence holds, so a request whose cached
prefix was reused or copied wrongly, or whose tokens landed in another request's sequence, answers
differently from `reference()`. Copies count as cells of their own (llama.cpp shares them), which
only makes the fake's cache fill sooner.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from bakeoff.errors import ContextOverflowError, DecodeAborted

VOCAB = 64
EOG = 0  # never predicted: generation ends by length


def next_token(seq: Sequence[int]) -> int:
    return (7 * sum(seq) + 3 * len(seq)) % (VOCAB - 1) + 1


def copying(seq: Sequence[int]) -> int:
    """A model that mostly repeats its sequence with period 5, and breaks the pattern every 7th
    position: prompt lookup's drafts are then often kept whole, sometimes in part, sometimes not."""
    n = len(seq)
    if n % 7 == 0 or n < 5:
        return next_token(seq)
    return seq[n - 5]


Rule = Callable[[Sequence[int]], int]


def reference(prompt: Sequence[int], n: int, rule: Rule = next_token) -> list[int]:
    """What greedy decoding must produce for this prompt, one token at a time."""
    seq, out = list(prompt), []
    for _ in range(n):
        out.append(rule(seq))
        seq.append(out[-1])
    return out


def text_of(tokens: Sequence[int]) -> str:
    return "".join(f"{t}," for t in tokens)


class FakeBackend:
    n_vocab = VOCAB
    bos = -1

    def __init__(self, n_seq_max: int = 2, n_batch: int = 16, cells: int = 4096, rule: Rule = next_token,
                 kv_unified: bool = True, step_cost: tuple[float, float] = (1.0, 0.01)):
        self.n_seq_max, self.n_batch, self.cells = n_seq_max, n_batch, cells
        self.kv_unified = kv_unified
        self.rule = rule
        self.batches: list[tuple[int, int, int]] = []   # per decode: tokens, logits, sequences
        self.shapes: list[set[int]] = []                # per decode: tokens per sequence
        self.kv: dict[int, list[int]] = {i: [] for i in range(n_seq_max)}
        self.outputs: list[int] = []     # predicted token per batch index of the last decode
        self.evaluated = 0               # tokens decoded, in all
        self.decodes = 0
        self.copies = 0
        self.fail_next: BaseException | None = None
        # Simulated seconds: a decode costs fixed + per_token * tokens (default: extra tokens are
        # nearly free, as on a GPU); `now` is the clock the scheduler's draft gate reads.
        self.step_cost = step_cost
        self.elapsed = 0.0
        self.aborting = False

    # --- BatchBackend -------------------------------------------------------------------------
    def decode(self, tokens: Sequence[int], positions: Sequence[int], seq_ids: Sequence[int],
               want_logits: Sequence[bool]) -> None:
        if self.aborting:   # as llama.cpp: an aborted decode applies nothing
            raise DecodeAborted()
        if self.fail_next is not None:  # a failed decode leaves the cache in an unknown state
            exc, self.fail_next = self.fail_next, None
            for s in set(seq_ids):
                self.kv[s][:1] = [VOCAB - 1]
            raise exc
        assert 0 < len(tokens) <= self.n_batch, f"batch of {len(tokens)} tokens"
        if sum(map(len, self.kv.values())) + len(tokens) > self.cells:
            raise ContextOverflowError(max(positions) + 1, self.cells)
        self.outputs = []
        for t, p, s, want in zip(tokens, positions, seq_ids, want_logits):
            assert p == len(self.kv[s]), f"sequence {s}: position {p} after {len(self.kv[s])} cells"
            self.kv[s].append(t)
            self.outputs.append(self.rule(self.kv[s]) if want else -1)
        self.evaluated += len(tokens)
        self.batches.append((len(tokens), sum(map(bool, want_logits)), len(set(seq_ids))))
        self.shapes.append({seq_ids.count(s) for s in set(seq_ids)})   # tokens per sequence
        self.decodes += 1
        self.elapsed += self.step_cost[0] + self.step_cost[1] * len(tokens)

    def now(self) -> float:
        return self.elapsed

    def abort(self) -> None:
        self.aborting = True

    def clear_abort(self) -> None:
        self.aborting = False

    def seq_rm(self, seq_id: int, p0: int = -1, p1: int = -1) -> bool:
        assert p1 == -1 and p0 <= len(self.kv[seq_id]), f"sequence {seq_id}: no cells from {p0}"
        self.kv[seq_id] = [] if p0 < 0 else self.kv[seq_id][:p0]
        return True

    def seq_cp(self, src: int, dst: int, p0: int = -1, p1: int = -1) -> None:
        assert p0 == 0 and not self.kv[dst], "copies go to an empty sequence, from position 0"
        self.kv[dst] = list(self.kv[src][:p1])
        self.copies += 1

    def logits(self, i: int) -> np.ndarray:
        assert self.outputs[i] >= 0, f"no logits were asked for at batch index {i}"
        out = np.full(VOCAB, -8.0, dtype=np.float32)
        out[self.outputs[i]] = 8.0
        return out

    def detokenize(self, tokens: Sequence[int]) -> str:
        return text_of(tokens)

    # --- SeqBackend: vocabulary and (greedy) sampling -----------------------------------------
    def piece(self, token: int) -> bytes:
        return f"{token},".encode()

    def is_eog(self, token: int) -> bool:
        return token == EOG

    def new_sampler(self, **_: Any) -> object:
        return object()

    def sample(self, sampler: Any, i: int) -> int:
        return int(np.argmax(self.logits(i)))

    def free_sampler(self, sampler: Any) -> None:
        pass
