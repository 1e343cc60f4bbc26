"""GPUs on this machine, the GPU backend of the installed llama.cpp build, and how many of a
model's layers to offload (`--gpu-layers N|auto`).

Nothing here loads llama.cpp: the build's backend is read from the shared libraries its package
ships (libggml-cuda.so and friends), and GPUs from NVML (pynvml, when installed) or `nvidia-smi`.
Without either, there is no GPU and every model runs on the CPU.
"""

from __future__ import annotations

import importlib
import importlib.util
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from . import fit
from .gguf_info import GGUFInfo

MIB = 1 << 20
# Kept free on the GPU besides the model: the CUDA context, cuBLAS workspace and llama.cpp's
# compute buffers (about 300-500 MiB on CUDA for small models; measured values vary by driver).
GPU_RESERVE = 512 * MIB
BACKENDS = ("cuda", "vulkan", "metal", "hip", "sycl")


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    total_bytes: int
    free_bytes: int


def _from_nvml() -> list[Gpu] | None:
    if importlib.util.find_spec("pynvml") is None:
        return None
    try:
        pynvml = importlib.import_module("pynvml")   # nvidia-ml-py, where installed
        pynvml.nvmlInit()
        try:
            out = []
            for i in range(pynvml.nvmlDeviceGetCount()):
                h = pynvml.nvmlDeviceGetHandleByIndex(i)
                mem = pynvml.nvmlDeviceGetMemoryInfo(h)
                name = pynvml.nvmlDeviceGetName(h)
                out.append(Gpu(i, name.decode() if isinstance(name, bytes) else str(name),
                               int(mem.total), int(mem.free)))
            return out
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # noqa: BLE001 - NVML present but no driver/device: fall back to nvidia-smi
        return None


def parse_nvidia_smi(text: str) -> list[Gpu]:
    """`nvidia-smi --query-gpu=index,name,memory.total,memory.free --format=csv,noheader,nounits`
    (memory in MiB), one GPU a line."""
    gpus = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 4:
            continue
        try:
            gpus.append(Gpu(int(parts[0]), parts[1], int(float(parts[2]) * MIB), int(float(parts[3]) * MIB)))
        except ValueError:
            continue
    return gpus


def _from_nvidia_smi() -> list[Gpu]:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        done = subprocess.run([exe, "--query-gpu=index,name,memory.total,memory.free",
                               "--format=csv,noheader,nounits"], capture_output=True, text=True,
                              timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return parse_nvidia_smi(done.stdout) if done.returncode == 0 else []


def detect_gpus() -> tuple[Gpu, ...]:
    """NVIDIA GPUs with their free memory now (read at each model load, not cached: a server that
    loads a second model must see what the first one took)."""
    nvml = _from_nvml()
    return tuple(nvml if nvml is not None else _from_nvidia_smi())


def build_backend() -> str | None:
    """The GPU backend the installed llama-cpp-python was built with, or None for a CPU build."""
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        return None
    libs = [p.name.lower() for folder in spec.submodule_search_locations
            for p in Path(folder).glob("lib/*ggml*")]
    return next((b for b in BACKENDS if any(f"ggml-{b}" in name for name in libs)), None)


def layers_that_fit(info: GGUFInfo, n_ctx: int, free_bytes: int) -> int:
    """How many of the model's layers fit in `free_bytes` of GPU memory, counted as llama.cpp's
    n_gpu_layers does: n_layer + 1 means every layer and the output layer.

    A layer holds its share of the weights that repeat per layer plus its KV cache; the token
    embedding and output matrices (2 x vocabulary x width) are the rest of the file."""
    n_layer = info.n_layer or 0
    if n_layer <= 0:
        return 0
    bytes_per_weight = info.file_size / max(info.n_params, 1)
    edges = min(info.file_size // 2, int(2 * (info.n_vocab or 0) * (info.n_embd or 0) * bytes_per_weight))
    per_layer = (info.file_size - edges) / n_layer + fit.kv_cache_bytes(info, n_ctx) / n_layer
    budget = free_bytes - GPU_RESERVE - fit.compute_bytes(info, n_ctx)
    if budget <= 0 or per_layer <= 0:
        return 0
    n = min(int(budget // per_layer), n_layer)
    return n + 1 if n == n_layer and budget - n * per_layer >= edges / 2 else n


@dataclass
class Offload:
    """What `--gpu-layers` comes to for one model on this machine."""

    n_gpu_layers: int            # passed to llama.cpp (0 = CPU only)
    n_layer: int | None
    backend: str | None          # of the installed llama.cpp build
    gpu: Gpu | None
    fit_layers: int | None       # layers that fit in the GPU's free memory (None: no GPU)
    reason: str

    @property
    def device(self) -> str:
        if self.n_gpu_layers <= 0 or self.gpu is None or self.backend is None:
            return "cpu"
        total = (self.n_layer or 0) + 1
        shown = min(self.n_gpu_layers, total)
        return f"{self.backend}:{self.gpu.index} {self.gpu.name} ({shown}/{total} layers)"


def plan(setting: int | str, info: GGUFInfo, n_ctx: int, gpus: tuple[Gpu, ...] | None = None,
         backend: str | None = "detect") -> Offload:
    """`setting` is a layer count or "auto" (every layer that fits on the first GPU)."""
    gpus = detect_gpus() if gpus is None else gpus
    backend = build_backend() if backend == "detect" else backend
    if not gpus and backend == "metal":
        # Apple silicon: the GPU shares the machine's memory, so what is free there is its room.
        gpus = (Gpu(0, "Apple GPU (unified memory)", fit.available_bytes(), fit.available_bytes()),)
    gpu = gpus[0] if gpus else None
    fits = layers_that_fit(info, n_ctx, gpu.free_bytes) if gpu else None
    if gpu is None and backend is not None and setting != "auto":
        # A Vulkan/HIP/SYCL build on a GPU NVML cannot see: the count asked for is passed on.
        return Offload(int(setting), info.n_layer, backend, Gpu(0, f"{backend} device", 0, 0), None,
                       "set with --gpu-layers (GPU memory unknown: not an NVIDIA GPU)")
    if gpu is None:
        why = "no NVIDIA GPU answered NVML or nvidia-smi"
        if backend is not None:
            why += f"; on another {backend} GPU, pass --gpu-layers N (auto needs its free memory)"
        return Offload(0, info.n_layer, backend, None, None, why)
    if backend is None:
        return Offload(0, info.n_layer, None, gpu, fits, "this llama.cpp build is CPU-only; "
                       "rebuild it with `LLAMA_BACKEND=cuda make setup`")
    if setting == "auto":
        return Offload(fits or 0, info.n_layer, backend, gpu, fits,
                       "auto: what fits in its free memory")
    return Offload(int(setting), info.n_layer, backend, gpu, fits, "set with --gpu-layers")
