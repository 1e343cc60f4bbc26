"""Embeddings from llama.cpp models: a second context with embeddings on, mean-pooled and
L2-normalised unless the model declares its own pooling (embedding models such as BGE or
nomic-embed do; a chat model like SmolLM2 does not, so its hidden states are averaged)."""

from __future__ import annotations

import threading

import numpy as np

from ..errors import ContextOverflowError, InvalidParamsError
from .llama_lowlevel import LlamaHandle

EMBED_CTX = 512  # tokens per text: one ubatch, as non-causal embedding models need


class Embedder:
    def __init__(self, path: str, n_threads: int):
        self.h = LlamaHandle(path, n_ctx=EMBED_CTX, n_threads=n_threads, n_batch=EMBED_CTX, embeddings=True)
        self.n_embd = int(self.h.ll.llama_model_n_embd(self.h.model))
        self._lock = threading.Lock()

    def embed(self, inputs: list[str] | list[list[int]]) -> list[list[float]]:
        """Texts, or token-id lists as OpenAI's API also accepts."""
        with self._lock:
            return [self._one(x) for x in inputs]

    def _one(self, text: str | list[int]) -> list[float]:
        tokens = self.h.tokenize(text, add_special=True) if isinstance(text, str) else list(text)
        if not tokens:
            raise InvalidParamsError("cannot embed an empty input", param="input")
        if any(not 0 <= t < self.h.n_vocab for t in tokens):
            raise InvalidParamsError(f"token ids must lie in 0..{self.h.n_vocab - 1}", param="input")
        if len(tokens) > EMBED_CTX:
            raise ContextOverflowError(len(tokens), EMBED_CTX)
        self.h.clear()
        self.h.decode(tokens, range(len(tokens)), [0] * len(tokens), [True] * len(tokens))
        ll = self.h.ll
        pooled = ll.llama_get_embeddings_seq(self.h.ctx, 0)
        if pooled:
            vec = np.ctypeslib.as_array(pooled, shape=(self.n_embd,)).astype(np.float64)
        else:  # no pooling in the model: average the per-token hidden states
            rows = [np.ctypeslib.as_array(ll.llama_get_embeddings_ith(self.h.ctx, i), shape=(self.n_embd,))
                    for i in range(len(tokens))]
            vec = np.mean(np.stack(rows).astype(np.float64), axis=0)
        norm = float(np.linalg.norm(vec))
        return (vec / norm if norm > 0 else vec).tolist()

    def close(self) -> None:
        self.h.close()
