"""How many operations llama.cpp's graph for one decoded token holds, asked of llama.cpp itself.

A tiny model spends most of each token on fixed costs that scale with the number of operations in
the graph llama.cpp builds per token (every operation is dispatched and ends in a barrier the
threads wait at), not with its weights. That number depends on the architecture: Gemma 3 adds four
norms and a scale per layer that a Llama does not have, a mixture of experts adds routing and one
addition per used expert. We ask llama.cpp to build the one-token decode graph
(`llama_graph_reserve`, from its staging header llama-ext.h, exported with C++ linkage) and count
its nodes with ggml's C API, leaving out the ones ggml-cpu skips without work (views, reshapes,
permutes, transposes).

Most operations act on vectors as wide as the model, but a few act on the logits, one value per
vocabulary token: Gemma 2 caps its logits with scale, tanh, scale over all 256k of them, Granite
scales them. ggml-cpu splits an element-wise operation by rows, and the logits of one token are one
row, so one thread computes a tanh per token of the vocabulary while the others wait: for a small
model that costs as much as its weights. Those operations are counted apart (`vocab_ops`).
"""

from __future__ import annotations

import ctypes
from collections import Counter
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from ..errors import EngineError
from .llama_lowlevel import LlamaHandle

# Operations ggml-cpu skips without dispatch or barrier (ggml_op_is_empty).
EMPTY_OPS = frozenset({"NONE", "RESHAPE", "VIEW", "PERMUTE", "TRANSPOSE"})
# The output head's product yields the logits; its cost is the weights' (counted apart), not per logit.
VOCAB_EXEMPT = frozenset({"MUL_MAT"})
_RESERVE = "_Z19llama_graph_reserveP13llama_contextjjj"    # llama_graph_reserve(ctx, u32, u32, u32)


@dataclass(frozen=True)
class DecodeGraph:
    """The one-token decode graph of one model file."""

    nodes: int                   # all nodes, views included
    compute_nodes: int           # nodes ggml-cpu dispatches (the ones that cost time)
    ops: dict[str, int]          # operation name -> count
    vocab_ops: dict[str, int]    # operations (matrix products aside) over the whole vocabulary -> count


@cache
def shared_lib(name: str) -> ctypes.CDLL:
    """One of the shared libraries llama-cpp-python ships ("llama", "ggml-base", "ggml-cpu")."""
    import llama_cpp

    return ctypes.CDLL(str(Path(llama_cpp.__file__).parent / "lib" / f"lib{name}.so"))


@lru_cache(maxsize=1)
def _libs() -> tuple[Any, ctypes.CDLL]:
    """(llama_graph_reserve, libggml-base) with their C signatures declared."""
    llama, ggml = shared_lib("llama"), shared_lib("ggml-base")
    try:
        reserve = llama[_RESERVE]
    except AttributeError as e:
        raise EngineError("this llama.cpp build does not export llama_graph_reserve, so its graphs cannot be counted",
                          "count graphs with the llama-cpp-python version pinned in pyproject.toml") from e
    reserve.restype, reserve.argtypes = ctypes.c_void_p, [ctypes.c_void_p] + [ctypes.c_uint32] * 3
    ggml.ggml_graph_n_nodes.restype, ggml.ggml_graph_n_nodes.argtypes = ctypes.c_int, [ctypes.c_void_p]
    ggml.ggml_graph_node.restype = ctypes.c_void_p
    ggml.ggml_graph_node.argtypes = [ctypes.c_void_p, ctypes.c_int]
    ggml.ggml_op_desc.restype, ggml.ggml_op_desc.argtypes = ctypes.c_char_p, [ctypes.c_void_p]
    for name in ("ggml_nelements", "ggml_nrows"):
        getattr(ggml, name).restype, getattr(ggml, name).argtypes = ctypes.c_int64, [ctypes.c_void_p]
    return reserve, ggml


def decode_graph(path: str | Path) -> DecodeGraph:
    """Count the nodes of the graph llama.cpp builds to decode one token of the model at `path`
    (loaded with a 256-token context on one thread, then freed)."""
    reserve, ggml = _libs()
    handle = LlamaHandle(str(path), n_ctx=256, n_threads=1, n_batch=256)
    try:
        graph = reserve(ctypes.c_void_p(handle.ctx), 1, 1, 1)
        if not graph:
            raise EngineError(f"llama.cpp could not build a decode graph for {path}")
        n, n_vocab = ggml.ggml_graph_n_nodes(graph), handle.n_vocab
        nodes = [ggml.ggml_graph_node(graph, i) for i in range(n)]
        # A row of the vocabulary's width (the KV cache can hold as many values in many rows)
        named = [(ggml.ggml_op_desc(t).decode(), ggml.ggml_nelements(t) if ggml.ggml_nrows(t) == 1 else 0)
                 for t in nodes]
    finally:
        handle.close()
    ops = Counter(op for op, _ in named)
    vocab = Counter(op for op, size in named if size == n_vocab and op not in EMPTY_OPS | VOCAB_EXEMPT)
    compute = sum(c for op, c in ops.items() if op not in EMPTY_OPS)
    return DecodeGraph(nodes=n, compute_nodes=compute, ops=dict(sorted(ops.items())),
                       vocab_ops=dict(sorted(vocab.items())))


__all__ = ["EMPTY_OPS", "VOCAB_EXEMPT", "DecodeGraph", "decode_graph", "shared_lib"]
