"""Full next-token distributions over a window of text, for comparing a model with a reference
(KL divergence of quantized models), the way llama.cpp's perplexity tool evaluates a chunk."""

from __future__ import annotations

import numpy as np

from .llama_lowlevel import LlamaHandle


def log_softmax_rows(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax of a (positions, n_vocab) float32 array."""
    m = logits.max(axis=1, keepdims=True)
    shifted = logits - m
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def window_logprobs(h: LlamaHandle, tokens: list[int], first: int) -> np.ndarray:
    """Evaluate `tokens` from an empty cache in sequence 0 and return the log-probabilities of the
    next token at positions first .. len(tokens) - 2: shape (len(tokens) - 1 - first, n_vocab),
    float32. Row k predicts tokens[first + k + 1]."""
    if len(tokens) > h.n_ctx:
        from ..errors import ContextOverflowError

        raise ContextOverflowError(len(tokens), h.n_ctx)
    h.clear()
    rows: list[np.ndarray] = []
    last = len(tokens) - 2
    for off in range(0, len(tokens), h.n_batch):
        part = tokens[off: off + h.n_batch]
        positions = range(off, off + len(part))
        want = [first <= p <= last for p in positions]
        h.decode(part, positions, [0] * len(part), want)
        rows.extend(h.logits(i) for i, w in enumerate(want) if w)
    h.clear()
    return log_softmax_rows(np.stack(rows)) if rows else np.zeros((0, h.n_vocab), np.float32)
