"""The scheduler's view of one decode step (engines/scheduler.py): the model runtime it drives
(`BatchBackend`, which LlamaHandle implements and unit tests fake) and the batch a step builds,
request by request (`Batch`, `Span`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from .batch_stream import Request
from .llamacpp import SeqBackend


class BatchBackend(SeqBackend, Protocol):
    """What the scheduler needs from a model runtime, besides sampling (SeqBackend)."""

    n_seq_max: int      # sequences the KV cache holds
    n_batch: int        # most tokens one decode evaluates
    n_vocab: int
    kv_unified: bool    # one pool of cells, or one stream per sequence

    @property
    def bos(self) -> int: ...   # -1 when the model has none

    def decode(self, tokens: Sequence[int], positions: Sequence[int], seq_ids: Sequence[int],
               want_logits: Sequence[bool]) -> None:
        """Evaluate the tokens; ContextOverflowError (nothing applied) when the KV cache is full;
        DecodeAborted when abort() was called during (or since clear_abort() before) it."""

    def abort(self) -> None: ...         # thread-safe: stop the decode now running
    def clear_abort(self) -> None: ...
    def seq_rm(self, seq_id: int, p0: int = -1, p1: int = -1) -> bool: ...
    def seq_cp(self, src: int, dst: int, p0: int = -1, p1: int = -1) -> None: ...
    def detokenize(self, tokens: Sequence[int]) -> str: ...


@dataclass
class Span:
    """One request's tokens in a batch: batch positions first .. first + n - 1."""

    req: Request
    first: int
    n: int
    tokens: Sequence[int] = ()   # a generating sequence's next token and its draft (to verify)


@dataclass
class Batch:
    """The tokens of one decode call, built request by request."""

    capacity: int
    tokens: list[int] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    seq_ids: list[int] = field(default_factory=list)
    logits: list[bool] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)

    @property
    def room(self) -> int:
        return self.capacity - len(self.tokens)

    @property
    def drafted(self) -> int:
        return sum(max(len(s.tokens) - 1, 0) for s in self.spans)

    def add(self, req: Request, tokens: Sequence[int], start: int, seq_id: int, *,
            all_logits: bool = False, last_logit: bool = True) -> None:
        """Tokens at positions start.. of sequence seq_id; logits for all or only the last."""
        n = len(tokens)
        self.spans.append(Span(req, len(self.tokens), n, () if req.prefilling else list(tokens)))
        self.tokens.extend(tokens)
        self.positions.extend(range(start, start + n))
        self.seq_ids.extend([seq_id] * n)
        self.logits.extend([all_logits] * n)
        if last_logit and n:
            self.logits[-1] = True
