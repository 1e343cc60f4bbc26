"""Expected tokens/s on this machine, before a model is downloaded.

Output tokens (decoding one token at a time) are bound by whichever is slower: reading every active
weight once per token (plus the KV cache up to the current position) at the memory bandwidth B, or
multiplying them at the rate W that llama.cpp's vector kernels reach on these threads. With few
cores W binds: on the 2-core machine this project targets, SmolLM2-135M reads its 97 MB in about
3.5 ms at numpy's 28 GB/s but takes about 10 ms a token. Prompt tokens (processed 512 at a time) are
bound by arithmetic: about 2 floating-point operations per active weight per token, plus attention
over the positions before it. Output tokens also pay for every operation in the graph llama.cpp
runs per token (dispatching it and a barrier the threads wait at), which dominates for very small
models; how many operations that is depends on the architecture (Gemma 3 runs half as many again per
layer as a Llama), so it is counted per architecture (`models.graph_cost`, measured on tiny files).
A few architectures also run operations over every logit after the output head (Gemma 2 caps its
logits with a tanh): one thread computes those, one value per vocabulary token, after the weights are
read, so their cost adds to the token's whatever bounds the rest, at a cost per logit timed on ggml
here (`engines.op_cost`). Prompt tokens, processed 512 at a time, share those costs, so a cost per
layer stands in for them:

    seconds per output token  = max(s0 + graph ops x s_op + active params / W,
                                    (active weight bytes + KV bytes at position c) / B)
                                + vocabulary x sum over logit ops of s_logit(op)
    seconds per prompt token  = p0 + layers x p_layer + (2 x active params + attention FLOPs) / F

W, F, the per-operation, per-layer, per-logit and fixed costs come from a MachineProfile, fitted on models of
different depth and size (`engines.calibrate`: the embedded models and two tiny llamas of 2 and 16
layers); B is numpy's measured bandwidth. Counting weights rather than bytes for W matters: a float32 tiny model and a
4-bit one of as many weights take about as long per weight, not per byte. A mixture of
experts reads only its active experts. Numbers are predictions: `benchmarks/predict_speed.py` and
`check` say how far off they were against measurements.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .fit import BITS_PER_WEIGHT
from .gguf_parse import parse_header, tensor_nbytes
from .graph_cost import decode_nodes, vocab_ops
from .machine import CalibrationPoint, MachineProfile

KV_BYTES_PER_ELEM = 2        # llama.cpp's default F16 KV cache


@dataclass(frozen=True)
class SpeedShape:
    """What speed depends on, for one model at one quantization."""

    read_bytes: float           # weight bytes read per output token (active experts only)
    active_params: float        # weights used per token
    n_layer: int
    kv_bytes_per_pos: float     # K and V bytes per cached position, all layers
    attn_flops_per_pos: float   # attention FLOPs per token per earlier position, all layers
    graph_nodes: float = 0.0    # operations in llama.cpp's graph per output token (models.graph_cost)
    n_vocab: int = 0            # logits per token (0: unknown, operations over them not charged)
    vocab_ops: dict[str, int] = field(default_factory=dict)   # op -> count run over all logits per token

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _kv_numbers(n_layer: int | None, n_head: int | None, n_head_kv: int | None,
                head_dim: int | None) -> tuple[float, float]:
    if not (n_layer and head_dim):
        return 0.0, 0.0
    kv = 2 * n_layer * (n_head_kv or n_head or 1) * head_dim * KV_BYTES_PER_ELEM
    attn = 4 * n_layer * (n_head or n_head_kv or 1) * head_dim     # Q.K and softmax.V, 2 FLOPs each
    return float(kv), float(attn)


def shape_for(n_params: float, quant: str, *, active_params: float | None = None,
              n_layer: int | None = None, n_head: int | None = None, n_head_kv: int | None = None,
              head_dim: int | None = None, bits: float | None = None, arch: str | None = None,
              experts_used: int = 0, n_vocab: int | None = None) -> SpeedShape:
    """A model we have no file for: parameter counts x the quantization's bits per weight (`bits`
    when the caller measured them, e.g. from a quantization sweep's file sizes); `arch` (llama.cpp's
    name) and `experts_used` size its graph, `n_vocab` its operations over the logits."""
    active = active_params or n_params
    kv, attn = _kv_numbers(n_layer, n_head, n_head_kv, head_dim)
    layers = n_layer or 32
    return SpeedShape(read_bytes=active * (bits or BITS_PER_WEIGHT[quant]) / 8, active_params=active,
                      n_layer=layers, kv_bytes_per_pos=kv, attn_flops_per_pos=attn,
                      graph_nodes=float(decode_nodes(arch, layers, experts_used)[0]),
                      n_vocab=n_vocab or 0, vocab_ops=vocab_ops(arch))


def shape_from_gguf(info: Any) -> SpeedShape:
    """A local GGUF file (a GGUFInfo): the bytes its tensors really take, read per token.

    With separate input and output embeddings, the input table is only looked up (one row per
    token), so it is not read; expert tensors ("*_exps") count only the used share.
    """
    header = parse_header(Path(info.path))
    names = {t.name for t in header.tensors}
    arch = info.architecture
    experts = info.metadata.get(f"{arch}.expert_count") or 0
    used = info.metadata.get(f"{arch}.expert_used_count") or experts
    read = active = 0.0
    for t in header.tensors:
        if t.name == "token_embd.weight" and "output.weight" in names:
            continue
        share = used / experts if "_exps" in t.name and experts else 1.0
        read += float(tensor_nbytes(t)) * share
        active += float(math.prod(t.shape)) * share     # weights multiplied per token
    kv, attn = _kv_numbers(info.n_layer, info.n_head, info.n_head_kv, info.head_dim)
    layers = info.n_layer or 1
    nodes, _ = decode_nodes(arch, layers, int(used) if experts else 0)
    return SpeedShape(read_bytes=read, active_params=active, n_layer=layers,
                      kv_bytes_per_pos=kv, attn_flops_per_pos=attn, graph_nodes=float(nodes),
                      n_vocab=info.n_vocab or 0, vocab_ops=vocab_ops(arch))


@dataclass(frozen=True)
class SpeedPrediction:
    output_tps: float
    prompt_tps: float
    prompt_tokens: int          # the workload predicted: this many prompt tokens ...
    output_tokens: int          # ... then this many output tokens

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def logit_seconds(costs: Mapping[str, float], s: SpeedShape) -> float:
    """What the operations over every logit cost per token (one thread, after the output head), at
    `costs` seconds per logit per operation (a MachineProfile's vocab_op_s)."""
    return s.n_vocab * sum(n * costs.get(op, 0.0) for op, n in s.vocab_ops.items())


def output_seconds(p: MachineProfile, s: SpeedShape, position: float) -> float:
    read = (s.read_bytes + s.kv_bytes_per_pos * position) / p.decode_bytes_per_s
    graph = s.graph_nodes * p.decode_s_per_node if p.decode_s_per_node else s.n_layer * p.decode_s_per_layer
    overhead = p.decode_s_fixed + graph
    if not p.decode_params_per_s:       # a profile saved before the compute roof: bytes alone
        return overhead + read + logit_seconds(p.vocab_op_s, s)
    # Reading overlaps with everything else the token costs up to the logits, so it is a floor on
    # that; the operations over the logits follow the last weight read.
    return max(overhead + s.active_params / p.decode_params_per_s, read) + logit_seconds(p.vocab_op_s, s)


def prompt_seconds(p: MachineProfile, s: SpeedShape, n_prompt: int) -> float:
    """Average seconds per prompt token over a prompt of n_prompt tokens (attention grows along it)."""
    flops = 2 * s.active_params + s.attn_flops_per_pos * n_prompt / 2
    return p.prefill_s_fixed + s.n_layer * p.prefill_s_per_layer + flops / p.prefill_flops_per_s


def predict(profile: MachineProfile, shape: SpeedShape, prompt_tokens: int = 100,
            output_tokens: int = 300) -> SpeedPrediction:
    """Tokens/s for `prompt_tokens` of prompt then `output_tokens` of output (default: the `short`
    workload of `bakeoff run`'s speed runs). Output speed is taken at the middle of the answer."""
    mid = prompt_tokens + output_tokens / 2
    return SpeedPrediction(output_tps=1.0 / output_seconds(profile, shape, mid),
                           prompt_tps=1.0 / prompt_seconds(profile, shape, prompt_tokens),
                           prompt_tokens=prompt_tokens, output_tokens=output_tokens)


def predict_for_params(profile: MachineProfile, n_params: float, quant: str, *,
                       active_params: float | None = None, n_layer: int | None = None,
                       prompt_tokens: int = 100, output_tokens: int = 300,
                       arch: str | None = None) -> SpeedPrediction:
    """Tokens/s for a model known only by its parameter count (a Hub search result, say): what
    `bakeoff search` shows before anything is downloaded. Pass active_params for a mixture of experts
    and n_layer when known (default 32); the KV cache is left out without the attention shape."""
    shape = shape_for(n_params, quant, active_params=active_params, n_layer=n_layer, arch=arch)
    return predict(profile, shape, prompt_tokens, output_tokens)


def _fit_costs(layers: list[float], work: list[float], seconds: list[float]) -> tuple[float, float, float]:
    """Non-negative (fixed s, s per unit, work per s) for t = fixed + a x units + work / rate (units:
    layers for prompts, graph operations for output tokens).

    Least squares on relative error (each row divided by its t, so a 2 ms model counts as much as a
    20 ms one). Terms the points cannot support (a negative fit, or fewer points than terms) are
    dropped: first the fixed cost, then the per-layer cost; work alone always fits."""
    import numpy as np

    t = np.asarray(seconds)
    cols = {"fixed": np.ones_like(t), "layer": np.asarray(layers, float), "work": np.asarray(work, float)}
    for keep in (("fixed", "layer", "work"), ("layer", "work"), ("work",)):
        if len(t) < len(keep):
            continue
        A = np.stack([cols[k] / t for k in keep], axis=1)
        coef, *_ = np.linalg.lstsq(A, np.ones_like(t), rcond=None)
        if np.all(coef >= 0) and coef[-1] > 0:
            got = dict(zip(keep, coef))
            return float(got.get("fixed", 0.0)), float(got.get("layer", 0.0)), float(1 / got["work"])
    return 0.0, 0.0, float(sum(work) / sum(seconds))


def fit_profile(base: MachineProfile, points: Iterable[CalibrationPoint]) -> MachineProfile:
    """The profile with its effective rates and fixed costs fitted to calibration measurements."""
    from dataclasses import replace

    pts = list(points)
    layers = [float(p.n_layer) for p in pts]
    by_node = all(p.graph_nodes for p in pts)     # points saved before graph counts: per layer
    units = [p.graph_nodes for p in pts] if by_node else layers
    # What a point paid for operations over its logits is charged apart, so it is not fitted.
    s0, s_unit, w = _fit_costs(units, [p.decode_params for p in pts], [1 / p.output_tps - p.logit_s for p in pts])
    p0, p_layer, flops = _fit_costs(layers, [p.prefill_flops for p in pts], [1 / p.prompt_tps for p in pts])
    # The calibration models are small enough to be compute-bound here; their fit gives W, and the
    # memory roof for bigger models is the bandwidth numpy measured.
    return replace(base, decode_params_per_s=w, decode_bytes_per_s=base.bandwidth_gbs * 1e9,
                   decode_s_per_layer=0.0 if by_node else s_unit, decode_s_per_node=s_unit if by_node else 0.0,
                   decode_s_fixed=s0,
                   prefill_flops_per_s=flops, prefill_s_per_layer=p_layer, prefill_s_fixed=p0,
                   calibration=pts)


def fmt_tps(x: float) -> str:
    """Tokens/s for display, formatted once: two significant digits below 10 (0.042, 3.1), whole above."""
    return f"{x:.0f}" if x >= 100 else f"{x:.1f}" if x >= 1 else f"{x:.2g}"


def relative_error(predicted: float, measured: float) -> float:
    """(predicted - measured) / measured: +0.25 means predicted 25% too fast."""
    return (predicted - measured) / measured


__all__ = ["SpeedPrediction", "SpeedShape", "fit_profile", "fmt_tps", "logit_seconds", "predict", "predict_for_params",
           "relative_error", "shape_for", "shape_from_gguf"]
