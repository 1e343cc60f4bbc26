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

from .gguf_info import GGUFInfo, ModelShape

MIB = 1 << 20
RUNTIME_OVERHEAD = 60 * MIB       # Python + llama.cpp shared libraries, measured on the embedded models
FITS_FRACTION = 0.7               # "fits" leaves 30% of available memory for everything else

# Sliding-window layer pattern per architecture: (local layers, per group of) — Gemma 3 uses 5 local
# layers for every global one (Gemma 3 technical report, section 2).
_SWA_PATTERN = {"gemma3": (5, 6), "gemma2": (1, 2)}
# llama.cpp's default context keeps a full-size cache on sliding-window layers too
# (llama_context_default_params().swa_full is True) and our engine keeps that default; measured on
# gemma3-270m: RSS grows by ~1 KiB per position per layer on all 18 layers, not just the 3 global ones.
SWA_FULL = True

# Average bits per weight of llama.cpp quantizations, for models we have no file for.
# Q8_0: blocks of 32 int8 weights + one F16 scale = 34 bytes / 32 weights (ggml-common.h block_q8_0).
# Q4_K_M: TheBloke/Llama-2-7B-GGUF lists llama-2-7b.Q4_K_M.gguf at 4.08 GB for 6.74e9 weights.
BITS_PER_WEIGHT = {"Q4_K_M": 4.08e9 * 8 / 6.74e9, "Q8_0": 34 * 8 / 32, "F16": 16.0}
QUANTS = ("Q4_K_M", "Q8_0", "F16")   # ascending quality and size


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


def kv_cache_bytes(info: ModelShape, n_ctx: int, bytes_per_elem: int = 2, swa_full: bool = SWA_FULL) -> int:
    if not (info.n_layer and info.n_head_kv and info.head_dim):
        return 0
    per_layer_pos = 2 * info.n_head_kv * info.head_dim * bytes_per_elem
    local, group = _SWA_PATTERN.get(info.architecture, (0, 1))
    if info.sliding_window and local and not swa_full:
        n_local = info.n_layer * local // group
        n_global = info.n_layer - n_local
        # llama.cpp pads the SWA cache to the window plus one batch of 512.
        swa_cells = min(n_ctx, info.sliding_window + 512)
        return per_layer_pos * (n_global * n_ctx + n_local * swa_cells)
    return per_layer_pos * info.n_layer * n_ctx


def compute_bytes(info: ModelShape, n_ctx: int, n_batch: int = 512) -> int:
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


def available_bytes() -> int:
    return psutil.virtual_memory().available


def _estimate(shape: ModelShape, weights: int, n_ctx: int, available: int | None) -> FitEstimate:
    avail = available if available is not None else available_bytes()
    kv = kv_cache_bytes(shape, n_ctx)
    comp = compute_bytes(shape, n_ctx)
    total = weights + kv + comp + RUNTIME_OVERHEAD
    return FitEstimate(weights, kv, comp, RUNTIME_OVERHEAD, total, n_ctx, avail, verdict(total, avail))


def estimate(info: GGUFInfo, n_ctx: int | None = None, available: int | None = None) -> FitEstimate:
    """Estimate for a GGUF file: its weights are the file itself (memory-mapped, read whole)."""
    return _estimate(info, info.file_size, n_ctx or info.context_length or 4096, available)


def estimate_download(size: int, shape: ModelShape | None = None, n_ctx: int = 4096,
                      available: int | None = None) -> FitEstimate:
    """Estimate for a file on the Hub, not downloaded yet: its size is the weights; the KV cache and
    buffers come from the model's shape when the catalog knows it, else are taken as 25% of the
    weights (llama.cpp's CPU buffers at a 4k context for the small dense models GGUF repos hold)."""
    if shape is not None:
        return _estimate(shape, size, n_ctx, available)
    avail = available if available is not None else available_bytes()
    total = int(size * 1.25) + RUNTIME_OVERHEAD
    return FitEstimate(size, 0, int(size * 0.25), RUNTIME_OVERHEAD, total, n_ctx, avail, verdict(total, avail))


def weights_bytes(n_params: float, quant: str) -> int:
    return int(n_params * BITS_PER_WEIGHT[quant] / 8)


def estimate_quant(shape: ModelShape, n_params: float, quant: str, n_ctx: int,
                   available: int | None = None) -> FitEstimate:
    """Estimate for a model we have no file for: parameter count x the quantization's bits/weight."""
    return _estimate(shape, weights_bytes(n_params, quant), n_ctx, available)


# On a CPU, generating a token reads every weight once, so speed falls in proportion to weight
# bytes: F16 runs about 4x slower than Q4_K_M for a quality gain that llama.cpp's perplexity tables
# show to be small, and Q8_0 is close to lossless. Q8_0 is worth it while its weights stay small.
Q8_MAX_WEIGHTS = 2 << 30


def recommend_quant(estimates: dict[str, FitEstimate]) -> str | None:
    """For CPU inference: Q8_0 for small models, else Q4_K_M, if it fits; F16 only when it is the
    only file there is; else the smallest quantization that is tight; else None."""
    q8 = estimates.get("Q8_0")
    order = ["Q8_0", "Q4_K_M"] if q8 and q8.weights_bytes <= Q8_MAX_WEIGHTS else ["Q4_K_M", "Q8_0"]
    if set(estimates) <= {"F16"}:
        order = ["F16"]
    for quant in order:
        if quant in estimates and estimates[quant].verdict == "fits":
            return quant
    for quant in QUANTS:
        if quant in estimates and estimates[quant].verdict == "tight":
            return quant
    return None
