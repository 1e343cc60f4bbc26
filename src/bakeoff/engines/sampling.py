"""Speculative sampling that leaves the output distribution unchanged.

A sampled request draws each token from p, the distribution its sampler defines over the
vocabulary. With speculation a drafter proposes token x drawn from its own distribution q (a draft
model's, or one-hot on the proposal for prompt lookup), and the standard rule decides
(Leviathan et al. 2023, "Fast Inference from Transformers via Speculative Decoding"; Chen et al.
2023): keep x with probability min(1, p(x) / q(x)); on rejection draw from max(0, p - q)
normalised, and stop there; when every drafted token is kept, draw one more from the next p.
Each position's token then has exactly distribution p, so answers differ from plain decoding only
in which random draws were made, not in how they are distributed.

p comes from llama.cpp's own sampler chain with the final draw left out (make_sampler(draw=False)):
grammar, penalties, top-k, top-p, min-p and temperature run the same code as in plain decoding and
leave the candidates and scaled logits the draw would pick from; p is their softmax. The chain's
state (grammar position, recent tokens for penalties) advances only with tokens that are kept.
"""

from __future__ import annotations

import ctypes
from functools import lru_cache
from typing import Any, Protocol

import numpy as np

from ..errors import EngineError
from .llama_lowlevel import free_sampler, make_sampler

# llama_token_data: int32 id, float logit, float p (llama.h), 12 bytes with no padding.
TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)])


class SampledSeq(Protocol):
    """What speculative sampling needs from one sequence (the engine supplies it)."""

    rng: np.random.Generator

    def probs(self, i: int) -> np.ndarray: ...            # p at output i of the last decode
    def commit(self, i: int, token: int) -> bool: ...     # record token from output i; True: done


def chain_probs(handle: Any, chain: Any, logits: np.ndarray) -> np.ndarray:
    """The distribution a draw would sample from after `chain` transforms `logits` ([n_vocab])."""
    ll = handle.ll
    n = len(logits)
    data = _template(n).copy()     # ids 0..n-1 in order; samplers may sort it in place
    data["logit"] = logits
    arr = ll.llama_token_data_array(data.ctypes.data_as(ll.llama_token_data_p), n, -1, False)
    ll.llama_sampler_apply(chain, ctypes.byref(arr))
    if arr.size == 0:
        raise EngineError("the sampler left no candidate token")
    # A sampler may point `data` at a buffer of its own; read what it points at now.
    kept = np.frombuffer((ll.llama_token_data * arr.size).from_address(
        ctypes.addressof(arr.data.contents)), TOKEN_DATA)
    return softmax_into(n, kept["id"], kept["logit"])


@lru_cache(maxsize=4)
def _template(n: int) -> np.ndarray:
    data = np.zeros(n, TOKEN_DATA)
    data["id"] = np.arange(n, dtype=np.int32)
    return data


def softmax_into(n: int, ids: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """A dense [n] distribution with softmax(logits) at ids and 0 elsewhere (-inf logits get 0)."""
    logits = logits.astype(np.float64)
    top = logits.max()
    if not np.isfinite(top):
        raise EngineError("the sampler masked every token (a grammar with no way to continue?)")
    w = np.exp(logits - top)
    p = np.zeros(n)
    p[ids] = w / w.sum()
    return p


class TargetDist:
    """The request's sampler as a distribution: `probs(logits)`, then `accept(token)` per kept token."""

    def __init__(self, handle: Any, chain: Any):
        self.h = handle
        self.chain = chain

    @classmethod
    def build(cls, handle: Any, params: Any, grammar: str | None) -> TargetDist:
        return cls(handle, make_sampler(
            handle, temperature=params.temperature, top_k=params.top_k, top_p=params.top_p,
            min_p=params.min_p, repeat_penalty=params.repeat_penalty, seed=params.seed,
            grammar=grammar, frequency_penalty=params.frequency_penalty,
            presence_penalty=params.presence_penalty, draw=False))

    def probs(self, logits: np.ndarray) -> np.ndarray:
        return chain_probs(self.h, self.chain, logits)

    def accept(self, token: int) -> None:
        self.h.ll.llama_sampler_accept(self.chain, token)

    def clone(self) -> TargetDist:
        """An independent copy in the same state (a drafter runs ahead on it, then drops it)."""
        return TargetDist(self.h, self.h.ll.llama_sampler_clone(self.chain))

    def close(self) -> None:
        free_sampler(self.h, self.chain)
        self.chain = None


def draw(p: np.ndarray, rng: np.random.Generator) -> int:
    """One token from distribution p (inverse CDF; p need not sum exactly to 1)."""
    ids = np.flatnonzero(p)        # usually a few dozen candidates out of the vocabulary
    cdf = np.cumsum(p[ids])
    return int(ids[min(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"), len(ids) - 1)])


def residual(p: np.ndarray, token: int, q: np.ndarray | None) -> np.ndarray:
    """max(0, p - q), where q is one-hot on `token` when None (prompt lookup's proposal)."""
    if q is None:
        r = p.copy()
        r[token] = max(0.0, p[token] - 1.0)
    else:
        r = np.maximum(p - q, 0.0)
    # Zero only when p <= q everywhere, i.e. p == q: then nothing is ever rejected; p stands in.
    return r if r.sum() > 0 else p


def judge(p: np.ndarray, token: int, q: np.ndarray | None, rng: np.random.Generator) -> tuple[int, bool]:
    """The rejection rule at one position: (token to emit, whether it is the drafted one)."""
    qx = 1.0 if q is None else float(q[token])
    if qx > 0 and rng.random() * qx < p[token]:     # probability min(1, p(x) / q(x))
        return token, True
    return draw(residual(p, token, q), rng), False
