"""Memory estimate for running a GGUF model with llama.cpp, and a verdict against this machine.

estimate = weights (the file is memory-mapped and read whole)
         + KV cache: 2 (K and V) x layers x cached positions x KV heads x head dim x 2 bytes (F16)
           (sliding-window layers cache only their window)
         + compute and output buffers: grow with the vocabulary and the batch
         + a fixed runtime overhead (ggml, threads, the Python process with llama.cpp loaded).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import psutil

from .gguf_info import GGUFInfo

MIB = 1 << 20
RUNTIME_OVERHEAD = 60 * MIB       # Python + llama.cpp shared libraries, measured on the embedded models
FITS_FRACTION = 0.7               # "fits" leaves 30% of available memory for everything else

# Sliding-window layer pattern per architecture: (local layers, per group of) — Gemma 3 uses 5 local
# layers for every global one (Gemma 3 technical report, section 2).
_SWA_PATTERN = {"gemma3": (5, 6), "gemma2": (1, 2)}


@dataclass
class FitEstimate:
    weights_bytes: int
    kv_cache_bytes: int
    compute_bytes: int
    overhead_bytes: int
    total_bytes: int
    n_ctx: int
    available_bytes: int
    verdict: str          # "fits" | "tight" | "won't fit"

    def to_dict(self) -> dict:
        return asdict(self)


def kv_cache_bytes(info: GGUFInfo, n_ctx: int, bytes_per_elem: int = 2) -> int:
    if not (info.n_layer and info.n_head_kv and info.head_dim):
        return 0
    per_layer_pos = 2 * info.n_head_kv * info.head_dim * bytes_per_elem
    local, group = _SWA_PATTERN.get(info.architecture, (0, 1))
    if info.sliding_window and local:
        n_local = info.n_layer * local // group
        n_global = info.n_layer - n_local
        # llama.cpp pads the SWA cache to the window plus one batch of 512.
        swa_cells = min(n_ctx, info.sliding_window + 512)
        return per_layer_pos * (n_global * n_ctx + n_local * swa_cells)
    return per_layer_pos * info.n_layer * n_ctx


def compute_bytes(info: GGUFInfo, n_ctx: int, n_batch: int = 512) -> int:
    """Scratch buffers: logits for one sequence plus activations for a batch."""
    vocab = info.n_vocab or 32000
    embd = info.n_embd or 1024
    logits = vocab * 4 * n_batch // 8   # llama.cpp's CPU graph: output rows for a ubatch, amortised
    acts = n_batch * embd * 4 * 8 + n_batch * min(n_ctx, 4096) * 4 * (info.n_head or 8) // 4
    return logits + acts


def verdict(total: int, available: int) -> str:
    if total <= available * FITS_FRACTION:
        return "fits"
    if total <= available:
        return "tight"
    return "won't fit"


def estimate(info: GGUFInfo, n_ctx: int | None = None, available: int | None = None) -> FitEstimate:
    n_ctx = n_ctx or info.context_length or 4096
    avail = available if available is not None else psutil.virtual_memory().available
    kv = kv_cache_bytes(info, n_ctx)
    comp = compute_bytes(info, n_ctx)
    total = info.file_size + kv + comp + RUNTIME_OVERHEAD
    return FitEstimate(info.file_size, kv, comp, RUNTIME_OVERHEAD, total, n_ctx, avail,
                       verdict(total, avail))
