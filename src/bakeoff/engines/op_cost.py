"""What one value of a vocabulary-wide operation costs on this machine, timed on ggml itself.

The operations a graph applies to the logits (`engines.graph`, `vocab_ops`) run on one thread over
one value per vocabulary token, after the output head: their cost adds to every token and does not
overlap with reading the weights. How long ggml-cpu takes per value depends on the operation (a
scale is vectorised, a tanh calls the C library once per value) and on the machine, so each is
timed here: a one-row tensor of N values through a one-operation ggml graph, on the threads
decoding uses, minus the same graph over 64 values (the graph's own fixed cost), over N - 64.

A tanh takes longer on larger arguments (about twice as long near 1 as near 0), so it is timed on
what a capped logit is: the logit divided by the cap (30 for Gemma 2), values within about ±0.5.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

import numpy as np

from .graph import shared_lib

N_VALUES = 65536            # within the range of vocabularies (32k to 262k tokens)
N_SMALL = 64
ROUNDS, CALLS = 5, 20       # best of ROUNDS averages over CALLS graph runs
GGML_TYPE_F32 = 0
_P = ctypes.c_void_p


class _InitParams(ctypes.Structure):
    _fields_ = [("mem_size", ctypes.c_size_t), ("mem_buffer", ctypes.c_void_p), ("no_alloc", ctypes.c_bool)]


# ggml operation name -> how to build it on one input tensor
_BUILD: dict[str, Callable[[Any, Any, Any], Any]] = {
    "TANH": lambda g, ctx, a: g.ggml_tanh(ctx, a),
    "SCALE": lambda g, ctx, a: g.ggml_scale(ctx, a, ctypes.c_float(1 / 30)),
}


@lru_cache(maxsize=1)
def _ggml() -> tuple[ctypes.CDLL, ctypes.CDLL]:
    base, cpu = shared_lib("ggml-base"), shared_lib("ggml-cpu")
    base.ggml_init.restype, base.ggml_init.argtypes = _P, [_InitParams]
    base.ggml_free.argtypes = [_P]
    base.ggml_new_tensor_1d.restype, base.ggml_new_tensor_1d.argtypes = _P, [_P, ctypes.c_int, ctypes.c_int64]
    base.ggml_get_data.restype, base.ggml_get_data.argtypes = _P, [_P]
    base.ggml_tanh.restype, base.ggml_tanh.argtypes = _P, [_P, _P]
    base.ggml_scale.restype, base.ggml_scale.argtypes = _P, [_P, _P, ctypes.c_float]
    base.ggml_new_graph.restype, base.ggml_new_graph.argtypes = _P, [_P]
    base.ggml_build_forward_expand.argtypes = [_P, _P]
    cpu.ggml_graph_compute_with_ctx.restype = ctypes.c_int
    cpu.ggml_graph_compute_with_ctx.argtypes = [_P, _P, ctypes.c_int]
    return base, cpu


def _graph_seconds(op: str, n: int, threads: int) -> float:
    """Seconds one run of a graph holding `op` over a row of n values takes (best of ROUNDS)."""
    base, cpu = _ggml()
    ctx = base.ggml_init(_InitParams(3 * n * 4 + (1 << 20), None, False))
    try:
        a = base.ggml_new_tensor_1d(ctx, GGML_TYPE_F32, n)
        values = np.random.default_rng(0).uniform(-0.5, 0.5, n).astype(np.float32)
        ctypes.memmove(base.ggml_get_data(a), values.ctypes.data, values.nbytes)
        graph = base.ggml_new_graph(ctx)
        base.ggml_build_forward_expand(graph, _BUILD[op](base, ctx, a))
        cpu.ggml_graph_compute_with_ctx(ctx, graph, threads)          # warm up
        best = float("inf")
        for _ in range(ROUNDS):
            t0 = time.perf_counter()
            for _ in range(CALLS):
                cpu.ggml_graph_compute_with_ctx(ctx, graph, threads)
            best = min(best, (time.perf_counter() - t0) / CALLS)
        return best
    finally:
        base.ggml_free(ctx)


def seconds_per_value(ops: Iterable[str], threads: int) -> dict[str, float]:
    """Seconds per value of each operation ggml-cpu runs over a one-row tensor here; operations we
    cannot build are left out (a prediction then charges them only as graph operations)."""
    out = {}
    for op in sorted(set(ops) & _BUILD.keys()):
        extra = _graph_seconds(op, N_VALUES, threads) - _graph_seconds(op, N_SMALL, threads)
        out[op] = max(extra, 0.0) / (N_VALUES - N_SMALL)
    return out


MEASURABLE = frozenset(_BUILD)

__all__ = ["MEASURABLE", "seconds_per_value"]
