"""Write a trained LoRA as a GGUF adapter that llama.cpp applies at load time.

The layout is llama.cpp's own (what its convert_lora_to_gguf.py writes and llama-adapter.cpp
checks): general.type "adapter", adapter.type "lora", adapter.lora.alpha (f32), and for every adapted
base tensor W (GGUF name, e.g. blk.3.attn_q.weight) two tensors W.lora_a and W.lora_b. gguf-py
writes a numpy array's last axis as ggml's ne[0], so lora_a is stored as [rank, in] and lora_b as
[out, rank]: peft's own nn.Linear layout, no transposition. llama.cpp scales B·A by alpha / rank,
as peft does (lora_alpha / r).

One difference is not a layout but a basis: llama GGUF files hold attn_q/attn_k with their rows
permuted for llama.cpp's rotary embedding, and transformers undoes that permutation when it loads
a GGUF. A LoRA trained on the loaded (un-permuted) weights must have its B rows permuted back, the
way the converter permutes W, so that B·A lands on the same rows as W in the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UnsupportedError

# Architectures whose adapters are exported and proven equal to the PyTorch model
# (tests/integration/test_tune_equivalence.py). Others are refused before training starts.
TUNABLE_ARCHS = ("llama",)


@dataclass(frozen=True)
class LoraPair:
    hf_name: str             # "model.layers.3.self_attn.q_proj"
    a: np.ndarray            # [rank, in]   float32
    b: np.ndarray            # [out, rank]  float32


@dataclass(frozen=True)
class BaseShape:
    arch: str                # GGUF general.architecture
    n_layers: int
    n_head: int
    n_head_kv: int


def check_tunable(arch: str) -> None:
    if arch not in TUNABLE_ARCHS:
        raise UnsupportedError(
            f"bakeoff tune cannot train adapters for the {arch!r} architecture",
            f"supported base architectures: {', '.join(TUNABLE_ARCHS)} "
            "(e.g. SmolLM2, Llama, Mistral, TinyLlama GGUF files)")


def rope_permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """Rows of a q/k projection from Hugging Face order to llama GGUF order.

    Per head, HF keeps the two rotary halves [x0..x(d/2-1) | y0..] apart; GGUF interleaves them.
    Shape [out, ...] -> same shape."""
    out = w.shape[0]
    return (w.reshape(n_head, 2, out // n_head // 2, *w.shape[1:])
             .swapaxes(1, 2)
             .reshape(w.shape))


def gguf_tensor_name(hf_name: str, shape: BaseShape) -> str:
    import gguf

    arch = next(a for a, n in gguf.MODEL_ARCH_NAMES.items() if n == shape.arch)
    name = gguf.get_tensor_name_map(arch, shape.n_layers).get_name(hf_name + ".weight",
                                                                    try_suffixes=(".weight",))
    if name is None:
        raise UnsupportedError(f"no GGUF tensor for {hf_name!r} in {shape.arch}",
                               "choose target modules among the attention and MLP projections")
    return name


def to_gguf_b(pair: LoraPair, gguf_name: str, shape: BaseShape) -> np.ndarray:
    if shape.arch == "llama" and ".attn_q." in gguf_name:
        return rope_permute(pair.b, shape.n_head)
    if shape.arch == "llama" and ".attn_k." in gguf_name:
        return rope_permute(pair.b, shape.n_head_kv)
    return pair.b


def write_adapter(path: Path, pairs: list[LoraPair], shape: BaseShape, alpha: float,
                  name: str = "") -> Path:
    """Write the adapter atomically (a killed export never leaves a half file under `path`)."""
    import gguf

    check_tunable(shape.arch)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    writer = gguf.GGUFWriter(str(tmp), shape.arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    if name:
        writer.add_name(name)
    for pair in pairs:
        base = gguf_tensor_name(pair.hf_name, shape)
        writer.add_tensor(f"{base}.lora_a", np.ascontiguousarray(pair.a, dtype=np.float32))
        writer.add_tensor(f"{base}.lora_b",
                          np.ascontiguousarray(to_gguf_b(pair, base, shape), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(tmp, path)
    return path


def lora_pairs(peft_model) -> list[LoraPair]:
    """(A, B) of every LoRA layer in a peft model, keyed by the base module's HF name."""
    pairs = []
    for name, module in peft_model.named_modules():
        if not hasattr(module, "lora_A") or "default" not in getattr(module, "lora_A", {}):
            continue
        hf_name = name.split("base_model.model.", 1)[-1]
        # Copies: .numpy() shares memory with the live parameters, which may change after export.
        pairs.append(LoraPair(hf_name,
                              module.lora_A["default"].weight.detach().float().cpu().numpy().copy(),
                              module.lora_B["default"].weight.detach().float().cpu().numpy().copy()))
    return pairs
