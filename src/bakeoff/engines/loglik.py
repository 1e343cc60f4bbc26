"""Log-likelihood scoring over a LlamaHandle, the way lm-evaluation-harness defines it.

A request (context, continuation) scores sum(log p(continuation token | everything before it)) and
whether greedy decoding would have produced the continuation. Tokenization follows the harness's
`_encode_pair`: trailing whitespace moves from the context to the continuation, the pair is encoded
whole, and the context's share of the tokens is len(encode(context)), so a token that spans the
boundary counts as continuation.

Speed: requests that share a prefix (the N choices of one multiple-choice item, a few-shot preamble)
evaluate that prefix once in sequence 0, copy it to sequences 1..N-1 (`seq_cp` shares KV cells in the
unified cache, nothing is recomputed), then decode all N remainders together in one batch as
parallel sequences, asking for logits only at the positions that predict continuation tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ContextOverflowError
from .base import LogLik
from .llama_lowlevel import LlamaHandle

Tokenize = Callable[[str], list[int]]


@dataclass
class Pair:
    """One request in tokens: context tokens (with BOS if the model wants one) and continuation."""

    context: list[int]
    continuation: list[int]

    @property
    def whole(self) -> list[int]:
        return self.context + self.continuation


def split_pair(tokenize: Tokenize, context: str, continuation: str,
               prefix: Sequence[int] = (), fallback: Sequence[int] = ()) -> Pair:
    """Tokenize like the harness: encode whole, split at len(encode(context)).

    `tokenize` adds no special tokens; `prefix` (BOS for models that want one) is prepended to the
    context tokens; when that leaves the context empty, `fallback` (end-of-text) stands in for it.
    """
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces:
        continuation = context[-n_spaces:] + continuation
        context = context[:-n_spaces]
    whole = tokenize(context + continuation)
    n_ctx = len(tokenize(context)) if context else 0
    ctx_tokens = list(prefix) + whole[:n_ctx]
    return Pair(ctx_tokens or list(fallback), whole[n_ctx:])


def common_prefix(seqs: Sequence[Sequence[int]]) -> int:
    """Length of the longest prefix shared by all token lists."""
    if not seqs:
        return 0
    n = min(len(s) for s in seqs)
    first = seqs[0]
    for i in range(n):
        t = first[i]
        if any(s[i] != t for s in seqs[1:]):
            return i
    return n


def shared_prefix(pairs: Sequence[Pair]) -> int:
    """Tokens evaluated once for the group. The last context token of every pair is decoded in the
    parallel batch (its logits score the first continuation token), so the prefix stops before it."""
    p = min(common_prefix([x.whole for x in pairs]), min(len(x.context) for x in pairs) - 1)
    return max(p, 0)


def cells_needed(pairs: Sequence[Pair]) -> int:
    """KV cells a group occupies: the shared prefix once, then each pair's inputs after it (the last
    continuation token is only a target, never an input)."""
    p = shared_prefix(pairs)
    return p + sum(len(x.whole) - 1 - p for x in pairs)


def log_softmax_rows(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax of [n, n_vocab] float32 logits."""
    m = logits.max(axis=1, keepdims=True)
    shifted = logits - m
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


class LogLikScorer:
    """Scores groups of Pairs on one handle. `cached` mirrors the tokens held in sequence 0.

    The owner (LlamaCppEngine) passes its prompt-prefix cache list in and takes the updated one back,
    so generation after scoring still knows exactly what sequence 0 holds.
    """

    def __init__(self, handle: LlamaHandle, cached: list[int]):
        self.h = handle
        self.cached = cached

    # --- sequence 0 as a prefix cache ------------------------------------------------------
    def _sync_prefix(self, prefix: list[int]) -> None:
        """Make sequence 0 hold exactly `prefix`, reusing what is already there; no logits."""
        keep = common_prefix([self.cached, prefix])
        # Always trim: an empty `cached` means "unknown", not "empty", so sequence 0 is cut anyway.
        if not self.h.seq_rm(0, keep, -1):
            self.h.clear()
            keep = 0
        self.cached = []  # unknown if the decode below fails part-way
        if len(prefix) > keep:
            self.h.decode_sequence(prefix[keep:], keep, seq_id=0, logits_last=False)
        self.cached = list(prefix)

    def _release(self, n_seqs: int, p: int) -> None:
        """Drop everything but the shared prefix: sequences 1.. emptied, sequence 0 cut to p."""
        for s in range(1, n_seqs):
            self.h.seq_rm(s, -1, -1)
        if not self.h.seq_rm(0, p, -1):
            self.h.clear()
            self.cached = []
            return
        self.cached = self.cached[:p]

    # --- scoring ---------------------------------------------------------------------------
    def score_group(self, pairs: Sequence[Pair]) -> list[LogLik]:
        """Score up to n_seq_max pairs together: shared prefix once, remainders in parallel."""
        wholes = [p.whole for p in pairs]
        p = shared_prefix(pairs)
        need = cells_needed(pairs)
        if need > self.h.n_ctx:
            raise ContextOverflowError(need, self.h.n_ctx)
        for s in range(1, len(pairs)):
            self.h.seq_rm(s, -1, -1)
        try:
            self._sync_prefix(wholes[0][:p])
            for s in range(1, len(pairs)):
                self.h.seq_cp(0, s, -1, -1)
            rows = self._decode_remainders(pairs, p)
        except BaseException:
            self.h.clear()
            self.cached = []
            raise
        self._release(len(pairs), p)
        return [self._score(pair, r) for pair, r in zip(pairs, rows)]

    def _decode_remainders(self, pairs: Sequence[Pair], p: int) -> list[np.ndarray]:
        """Decode whole[p:-1] of every pair as sequence i; return each pair's logits rows [k, V]."""
        tokens: list[int] = []
        pos: list[int] = []
        seqs: list[int] = []
        want: list[bool] = []
        owner: list[int] = []  # which pair each logits row belongs to, in output order
        for i, pair in enumerate(pairs):
            inputs = pair.whole[:-1]  # the last token is only ever a target
            first_scored = len(pair.context) - 1
            for j in range(p, len(inputs)):
                tokens.append(inputs[j])
                pos.append(j)
                seqs.append(i)
                want.append(j >= first_scored)
                if j >= first_scored:
                    owner.append(i)
        out: list[list[np.ndarray]] = [[] for _ in pairs]
        done = 0
        n_batch = self.h.n_batch
        for off in range(0, len(tokens), n_batch):
            sl = slice(off, off + n_batch)
            self.h.decode(tokens[sl], pos[sl], seqs[sl], want[sl])
            n_out = sum(want[sl])
            block = self._logits_block(n_out)
            for k in range(n_out):
                out[owner[done + k]].append(block[k])
            done += n_out
        return [np.stack(rows) if rows else np.zeros((0, self.h.n_vocab), np.float32) for rows in out]

    def _logits_block(self, n_out: int) -> np.ndarray:
        """All logits rows of the last decode, [n_out, n_vocab] float32 (llama.cpp's output order)."""
        ptr = self.h.ll.llama_get_logits(self.h.ctx)
        return np.ctypeslib.as_array(ptr, shape=(n_out, self.h.n_vocab)).copy()

    @staticmethod
    def _score(pair: Pair, rows: np.ndarray) -> LogLik:
        if not pair.continuation:
            return LogLik(0.0, True, 0)
        targets = np.asarray(pair.continuation)
        lps = log_softmax_rows(rows)
        picked = lps[np.arange(len(targets)), targets]
        greedy = bool((rows.argmax(axis=1) == targets).all())
        return LogLik(float(picked.sum()), greedy, len(targets))


def plan_groups(pairs: Sequence[Pair], n_seq_max: int, n_ctx: int) -> list[list[int]]:
    """Consecutive request indices grouped so each group fits the sequences and the context.

    A group needs its shared prefix once plus every member's remainder (KV cells are shared).
    """
    groups: list[list[int]] = []
    cur: list[int] = []
    for i in range(len(pairs)):
        trial = cur + [i]
        need = cells_needed([pairs[j] for j in trial])
        if cur and (len(trial) > n_seq_max or need > n_ctx):
            groups.append(cur)
            trial = [i]
        cur = trial
    if cur:
        groups.append(cur)
    return groups


def score_pairs(scorer: LogLikScorer, pairs: Sequence[Pair]) -> list[LogLik]:
    out: list[LogLik | None] = [None] * len(pairs)
    for group in plan_groups(pairs, scorer.h.n_seq_max, scorer.h.n_ctx):
        for i, ll in zip(group, scorer.score_group([pairs[i] for i in group])):
            out[i] = ll
    return out  # type: ignore[return-value]
