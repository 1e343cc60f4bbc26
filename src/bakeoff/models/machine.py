"""A model of this machine for predicting tokens/s: measured bandwidth and compute, then calibrated.

The profile is cached in BAKEOFF_HOME/machine.json (cachefile.py) with the machine's identity (CPU model, cores,
the threads Bakeoff uses, memory, llama.cpp build); a different identity means a different machine
and the profile is measured again. The raw measurements here are numpy's: a multi-threaded sum over
a buffer much larger than the caches (memory bandwidth) and a float32 matrix product (compute).
What llama.cpp reaches of them is fitted by `engines.calibrate` on the embedded models.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from ..cachefile import VersionedJSON
from ..settings import Settings, get_settings

PROFILE_VERSION = 4          # 3: output tokens pay per graph operation, not per layer; 4: and per logit
                             # for the operations over the vocabulary
PROFILE_FILE = "machine.json"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _llama_version() -> str:
    try:
        return metadata.version("llama_cpp_python")
    except metadata.PackageNotFoundError:
        return "absent"


def identity(settings: Settings | None = None) -> dict[str, Any]:
    """What makes two machines (for speed) the same: change any of it and the profile is re-measured."""
    settings = settings or get_settings()
    return {"cpu": _cpu_model(), "logical_cpus": os.cpu_count() or 1,
            "physical_cores": psutil.cpu_count(logical=False) or 1, "threads": settings.threads,
            "memory_gib": round(psutil.virtual_memory().total / (1 << 30)), "machine": platform.machine(),
            "llama_cpp_python": _llama_version(), "profile_version": PROFILE_VERSION}


def identity_key(ident: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class CalibrationPoint:
    """One embedded model measured at calibration: its shape numbers and the tokens/s seen."""

    model: str
    n_layer: int
    read_bytes: float          # bytes of weights read per output token
    prefill_flops: float       # floating-point operations per prompt token (2 x active params)
    output_tps: float
    prompt_tps: float
    prompt_tokens: int
    output_tokens: int
    active_params: float = 0.0  # weights multiplied per output token (0 in profiles saved before it)
    graph_nodes: float = 0.0    # operations in llama.cpp's graph per output token (0: not counted)
    logit_s: float = 0.0        # seconds per output token its operations over the logits took (perf.logit_seconds)

    @property
    def decode_params(self) -> float:
        return self.active_params or self.prefill_flops / 2


@dataclass(frozen=True)
class MachineProfile:
    """Effective rates llama.cpp reaches here (fitted), beside the raw ones numpy measured."""

    key: str
    identity: dict[str, Any]
    bandwidth_gbs: float            # raw: multi-threaded numpy sum, GB/s
    compute_gflops: float           # raw: numpy float32 matrix product, GFLOP/s
    decode_bytes_per_s: float       # weight bytes read per second while decoding (the memory roof)
    decode_s_per_layer: float       # fixed cost per layer per output token (graph, sync, kernels)
    prefill_flops_per_s: float      # effective FLOP/s while processing a prompt
    prefill_s_per_layer: float      # fixed cost per layer per prompt token
    decode_s_fixed: float = 0.0     # fixed cost per output token (decode loop, sampling)
    decode_params_per_s: float = 0.0  # weights multiplied per second while decoding (the compute
                                      # roof; 0 in profiles saved before it: bytes alone)
    prefill_s_fixed: float = 0.0    # fixed cost per prompt token
    decode_s_per_node: float = 0.0  # cost per graph operation per output token (0: the per-layer cost stands in)
    vocab_op_s: dict[str, float] = field(default_factory=dict)  # ggml op -> seconds per logit it
                                                                # runs over (engines.op_cost)
    measured_at: str = ""
    load_avg_1m: float | None = None
    seconds: float = 0.0
    calibration: list[CalibrationPoint] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MachineProfile:
        points = [CalibrationPoint(**p) for p in d.get("calibration", [])]
        return cls(**{**d, "calibration": points})

    def busy_warning(self) -> str | None:
        """A note when other work shared the cores while calibrating (every rate then reads low)."""
        cpus = float(self.identity.get("logical_cpus") or 1)
        if self.load_avg_1m is None or self.load_avg_1m <= cpus:
            return None
        return (f"the speed model was calibrated while the machine was busy (load {self.load_avg_1m:.1f} on "
                f"{cpus:g} CPUs): predictions are what it could do then; rerun with --recalibrate when it is quiet")

    def summary(self) -> str:
        """One line for the CLI: what the predictions rest on."""
        models = ", ".join(p.model for p in self.calibration) or "no model"
        ops = f" plus {self.decode_s_per_node * 1e6:.1f} us per graph operation" if self.decode_s_per_node else ""
        ops += "".join(f", {s * 1e9:.1f} ns per logit for a {op.lower()}" for op, s in sorted(self.vocab_op_s.items()))
        return (f"machine model: {self.bandwidth_gbs:.1f} GB/s memory, {self.compute_gflops:.0f} GFLOP/s "
                f"(numpy); llama.cpp decodes {self.decode_params_per_s / 1e9:.1f} G weights/s{ops} and reaches "
                f"{self.prefill_flops_per_s / 1e9:.0f} GFLOP/s on prompts, calibrated on {models} "
                f"({self.identity.get('threads')} threads, load {self.load_avg_1m or 0:.1f}, {self.measured_at})")


def profile_path(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).home / PROFILE_FILE


def _cache(settings: Settings | None) -> VersionedJSON:
    return VersionedJSON(profile_path(settings), PROFILE_VERSION)


def load_profile(settings: Settings | None = None) -> MachineProfile | None:
    """The cached profile if it was measured on this machine (same identity), else None."""
    body = _cache(settings).read()
    try:
        prof = MachineProfile.from_dict(body) if body is not None else None
    except (TypeError, ValueError):   # fields of another shape: measured again
        return None
    return prof if prof is not None and prof.key == identity_key(identity(settings)) else None


def save_profile(profile: MachineProfile, settings: Settings | None = None) -> Path:
    settings = settings or get_settings()
    settings.ensure_home()
    cache = _cache(settings)
    cache.write(profile.to_dict())
    return cache.path


def measure_bandwidth(threads: int, mib: int = 256, repeats: int = 3) -> float:
    """Bytes/s read by `threads` threads summing disjoint parts of a buffer larger than the caches."""
    buf = np.ones(mib << 18, dtype=np.float32)        # mib MiB of float32
    parts = np.array_split(buf, threads)
    best = float("inf")
    with ThreadPoolExecutor(threads) as pool:
        for _ in range(repeats):
            t0 = time.perf_counter()
            list(pool.map(np.add.reduce, parts))       # numpy releases the GIL in reductions
            best = min(best, time.perf_counter() - t0)
    return buf.nbytes / best


def measure_compute(n: int = 768, repeats: int = 3) -> float:
    """FLOP/s of a float32 n x n matrix product (2 n^3 operations), best of `repeats`."""
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best


__all__ = ["CalibrationPoint", "MachineProfile", "identity", "identity_key", "load_profile",
           "measure_bandwidth", "measure_compute", "save_profile"]
