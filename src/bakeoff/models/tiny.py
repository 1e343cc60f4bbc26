"""Tiny random-weight GGUF models for architectures we have no real weights for.

Tests load them through llama.cpp for every architecture the catalog lists; the speed model's
calibration times two llamas (2 and 12 layers: per-token cost almost all fixed overhead), and
`engines.graph_table` counts the decode graph of every architecture here at 1, 2 and 3 layers.

Tensor names come from gguf.constants.MODEL_TENSORS[arch] / TENSOR_NAMES, hyperparameters use the
arch's GGUF keys, weights are random F32 (2 layers, width 64), and the tokenizer.ggml.* keys are
copied from SmolLM2's GGUF (a gpt2-style BPE vocabulary) so llama.cpp can tokenize and detokenize.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from gguf import GGUFReader, GGUFValueType, GGUFWriter
from gguf.constants import MODEL_ARCH, MODEL_ARCH_NAMES, MODEL_TENSORS, TENSOR_NAMES
from gguf.constants import MODEL_TENSOR as T

N_EMBD, N_FF, N_LAYER, N_HEAD, N_CTX = 64, 128, 2, 4, 256
HEAD_DIM = N_EMBD // N_HEAD

Shape = Callable[[int, int], tuple[int, ...]]   # (n_vocab, n_kv_heads) -> numpy shape (ggml ne reversed)

_E, _F = N_EMBD, N_FF


def _VEC(v: int, kv: int) -> tuple[int, ...]:
    return (_E,)


def _EMB(v: int, kv: int) -> tuple[int, ...]:
    return (v, _E)


def _SQ(v: int, kv: int) -> tuple[int, ...]:
    return (_E, _E)


def _KV(v: int, kv: int) -> tuple[int, ...]:
    return (kv * HEAD_DIM, _E)


def _UP(v: int, kv: int) -> tuple[int, ...]:
    return (_F, _E)


def _DOWN(v: int, kv: int) -> tuple[int, ...]:
    return (_E, _F)


def _HEAD(v: int, kv: int) -> tuple[int, ...]:
    return (HEAD_DIM,)

_ATTN = [(T.ATTN_Q, _SQ), (T.ATTN_K, _KV), (T.ATTN_V, _KV), (T.ATTN_OUT, _SQ)]
_FFN = [(T.FFN_GATE, _UP), (T.FFN_UP, _UP), (T.FFN_DOWN, _DOWN)]


def _moe(n_expert: int) -> list[tuple[T, Shape]]:
    return [(T.FFN_GATE_INP, lambda v, kv: (n_expert, _E)),
            (T.FFN_GATE_EXP, lambda v, kv: (n_expert, _F, _E)),
            (T.FFN_UP_EXP, lambda v, kv: (n_expert, _F, _E)),
            (T.FFN_DOWN_EXP, lambda v, kv: (n_expert, _E, _F))]


# name -> (gguf arch, KV heads, extra hparams, global tensors, per-block tensors, tensors with a bias)
SPECS: dict[str, dict[str, Any]] = {
    "llama": dict(arch="LLAMA", kv=2, hp={"attention.layer_norm_rms_epsilon": 1e-5},
                  glob=[(T.TOKEN_EMBD, _EMB), (T.OUTPUT_NORM, _VEC), (T.OUTPUT, _EMB)],
                  blk=[(T.ATTN_NORM, _VEC), *_ATTN, (T.FFN_NORM, _VEC), *_FFN]),
    "mixtral": dict(arch="LLAMA", kv=2, hp={"attention.layer_norm_rms_epsilon": 1e-5,
                                            "expert_count": 4, "expert_used_count": 2},
                    glob=[(T.TOKEN_EMBD, _EMB), (T.OUTPUT_NORM, _VEC), (T.OUTPUT, _EMB)],
                    blk=[(T.ATTN_NORM, _VEC), *_ATTN, (T.FFN_NORM, _VEC), *_moe(4)]),
    # Falcon-7B layout: one fused QKV with a single KV head (multi-query), layer norms with biases.
    "falcon": dict(arch="FALCON", kv=1, hp={"attention.layer_norm_epsilon": 1e-5},
                   glob=[(T.TOKEN_EMBD, _EMB), (T.OUTPUT_NORM, _VEC), (T.OUTPUT, _EMB)],
                   blk=[(T.ATTN_NORM, _VEC), (T.ATTN_QKV, lambda v, kv: (_E + 2 * kv * HEAD_DIM, _E)),
                        (T.ATTN_OUT, _SQ), (T.FFN_UP, _UP), (T.FFN_DOWN, _DOWN)],
                   bias=[T.OUTPUT_NORM, T.ATTN_NORM]),
    # OLMo: non-parametric layer norm, so no norm tensors at all.
    "olmo": dict(arch="OLMO", kv=N_HEAD, hp={"attention.layer_norm_epsilon": 1e-5},
                 glob=[(T.TOKEN_EMBD, _EMB), (T.OUTPUT, _EMB)], blk=[*_ATTN, *_FFN]),
    "gemma": dict(arch="GEMMA", kv=1, hp={"attention.layer_norm_rms_epsilon": 1e-6,
                                          "attention.key_length": HEAD_DIM,
                                          "attention.value_length": HEAD_DIM},
                  glob=[(T.TOKEN_EMBD, _EMB), (T.OUTPUT_NORM, _VEC)],
                  blk=[(T.ATTN_NORM, _VEC), *_ATTN, (T.FFN_NORM, _VEC), *_FFN]),
}

# More layouts, as the catalog's newer families have them (the tensors and keys llama.cpp requires,
# found by loading): used for the speed model's graph table and the predict_speed benchmark.
_RMS = {"attention.layer_norm_rms_epsilon": 1e-6}
_QK_NORM = [(T.ATTN_Q_NORM, _HEAD), (T.ATTN_K_NORM, _HEAD)]
_LLAMA_GLOB = [(T.TOKEN_EMBD, _EMB), (T.OUTPUT_NORM, _VEC), (T.OUTPUT, _EMB)]
_GEMMA2_BLK = [(T.ATTN_NORM, _VEC), *_ATTN, (T.ATTN_POST_NORM, _VEC), (T.FFN_PRE_NORM, _VEC), *_FFN,
               (T.FFN_POST_NORM, _VEC)]
SPECS.update({
    # Qwen2 / Qwen2.5: the llama layout with biases on Q, K and V.
    "qwen2": dict(arch="QWEN2", kv=2, hp=_RMS, glob=_LLAMA_GLOB,
                  blk=[(T.ATTN_NORM, _VEC), *_ATTN, (T.FFN_NORM, _VEC), *_FFN],
                  bias=[T.ATTN_Q, T.ATTN_K, T.ATTN_V]),
    # Qwen3: RMS norms on each head's Q and K.
    "qwen3": dict(arch="QWEN3", kv=2, hp=_RMS, glob=_LLAMA_GLOB,
                  blk=[(T.ATTN_NORM, _VEC), *_ATTN, *_QK_NORM, (T.FFN_NORM, _VEC), *_FFN]),
    # OLMo 2 / Olmo 3: norms after attention and the MLP instead of before, Q and K normed whole.
    "olmo2": dict(arch="OLMO2", kv=2, hp=_RMS, glob=_LLAMA_GLOB,
                  blk=[*_ATTN, (T.ATTN_Q_NORM, _VEC), (T.ATTN_K_NORM, lambda v, kv: (kv * HEAD_DIM,)),
                       (T.ATTN_POST_NORM, _VEC), *_FFN, (T.FFN_POST_NORM, _VEC)]),
    "gemma2": dict(arch="GEMMA2", kv=2, hp={**_RMS, "attention.sliding_window": 64}, glob=_LLAMA_GLOB[:2],
                   blk=_GEMMA2_BLK),
    "gemma3": dict(arch="GEMMA3", kv=2, hp={**_RMS, "attention.sliding_window": 64}, glob=_LLAMA_GLOB[:2],
                   blk=[*_GEMMA2_BLK, *_QK_NORM]),
    # SmolLM3: the llama layout, RoPE left out of every 4th layer (files of 1-3 layers, as the graph
    # table counts them, never reach one: it overcounts SmolLM3 by 2 of ~80 ops per 4 layers).
    "smollm3": dict(arch="SMOLLM3", kv=2, hp=_RMS, glob=_LLAMA_GLOB,
                    blk=[(T.ATTN_NORM, _VEC), *_ATTN, (T.FFN_NORM, _VEC), *_FFN]),
    # Granite 3: the llama layout with scaled embeddings, residuals, attention and logits.
    "granite": dict(arch="GRANITE", kv=2, hp={**_RMS, "logit_scale": 8.0, "residual_scale": 0.22,
                                              "embedding_scale": 12.0, "attention.scale": 0.0078125},
                    glob=_LLAMA_GLOB, blk=[(T.ATTN_NORM, _VEC), *_ATTN, (T.FFN_NORM, _VEC), *_FFN]),
    # BLOOM: fused QKV, layer norms with biases everywhere, ALiBi instead of RoPE.
    "bloom": dict(arch="BLOOM", kv=N_HEAD, hp={"attention.layer_norm_epsilon": 1e-5},
                  glob=[(T.TOKEN_EMBD, _EMB), (T.TOKEN_EMBD_NORM, _VEC), (T.OUTPUT_NORM, _VEC)],
                  blk=[(T.ATTN_NORM, _VEC), (T.ATTN_QKV, lambda v, kv: (3 * _E, _E)), (T.ATTN_OUT, _SQ),
                       (T.FFN_NORM, _VEC), (T.FFN_UP, _UP), (T.FFN_DOWN, _DOWN)],
                  bias=[T.TOKEN_EMBD_NORM, T.OUTPUT_NORM, T.ATTN_NORM, T.ATTN_QKV, T.ATTN_OUT, T.FFN_NORM,
                        T.FFN_UP, T.FFN_DOWN]),
})


@lru_cache(maxsize=2)   # reading a 49k-token vocabulary is slow; every tiny model shares it
def _tokenizer_fields(source: Path) -> list[tuple[str, GGUFValueType, Any, GGUFValueType | None]]:
    reader = GGUFReader(source, "r")
    out = []
    for key, field in reader.fields.items():
        if not (key.startswith("tokenizer.ggml.") or key == "tokenizer.chat_template"):
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == GGUFValueType.ARRAY else None
        out.append((key, vtype, field.contents(), sub))
    return out


def write_tiny(kind: str, path: Path, tokenizer_from: Path, seed: int = 0,
               chat_template: str | None = None, n_layer: int = N_LAYER,
               hparams: dict[str, Any] | None = None) -> Path:
    """A tiny random model of architecture `kind`; `chat_template` replaces the copied template,
    `hparams` override the spec's (e.g. expert_used_count)."""
    spec = SPECS[kind]
    arch_enum = MODEL_ARCH[spec["arch"]]
    arch = MODEL_ARCH_NAMES[arch_enum]
    allowed = set(MODEL_TENSORS[arch_enum])
    tok = _tokenizer_fields(tokenizer_from)
    n_vocab = len(next(v for k, _, v, _ in tok if k == "tokenizer.ggml.tokens"))
    w = GGUFWriter(str(path), arch)
    w.add_name(f"tiny random {kind}")
    w.add_uint32(f"{arch}.context_length", N_CTX)
    w.add_uint32(f"{arch}.embedding_length", N_EMBD)
    w.add_uint32(f"{arch}.block_count", n_layer)
    w.add_uint32(f"{arch}.feed_forward_length", N_FF)
    w.add_uint32(f"{arch}.attention.head_count", N_HEAD)
    w.add_uint32(f"{arch}.attention.head_count_kv", spec["kv"])
    for key, value in {**spec["hp"], **(hparams or {})}.items():
        add_kv = w.add_bool if isinstance(value, bool) else w.add_float32 if isinstance(value, float) else w.add_uint32
        add_kv(f"{arch}.{key}", value)
    for key, vtype, value, sub in tok:
        if key == "tokenizer.chat_template" and chat_template is not None:
            value = chat_template
        w.add_key_value(key, value, vtype, sub_type=sub)
    rng = np.random.default_rng(seed)

    def add(tensor: T, shape: tuple[int, ...], bid: int | None = None) -> None:
        assert tensor in allowed, f"{TENSOR_NAMES[tensor]} is not a {arch} tensor"
        name = TENSOR_NAMES[tensor].format(bid=bid) if bid is not None else TENSOR_NAMES[tensor]
        # Norm weights near 1 keep activations sane; other weights small and random.
        data = (1.0 + 0.01 * rng.standard_normal(shape) if len(shape) == 1
                else 0.02 * rng.standard_normal(shape)).astype(np.float32)
        w.add_tensor(name + ".weight", data)
        if tensor in spec.get("bias", []):
            w.add_tensor(name + ".bias", np.zeros(shape[:1], np.float32))

    for tensor, shape in spec["glob"]:
        add(tensor, shape(n_vocab, spec["kv"]))
    for bid in range(n_layer):
        for tensor, shape in spec["blk"]:
            add(tensor, shape(n_vocab, spec["kv"]), bid)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
