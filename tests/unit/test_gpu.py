"""GPU offload planning: GPUs read from nvidia-smi, the llama.cpp build's backend, how many layers
fit, and `--gpu-layers` on the commands. This machine has no GPU and a CPU build of llama.cpp, so
a GPU is an `nvidia-smi` on PATH that prints what a real one prints."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from bakeoff.models import fit, gpu
from bakeoff.models.gguf_info import read_gguf_info
from cli_run import run, run_json

H200 = "0, NVIDIA H200, 143771, 143000\n"


@pytest.fixture
def nvidia_smi(tmp_path: Path, monkeypatch):
    """An `nvidia-smi` on PATH answering --query-gpu with `text`."""
    def install(text: str) -> None:
        exe = tmp_path / "bin" / "nvidia-smi"
        exe.parent.mkdir(exist_ok=True)
        exe.write_text(f"#!/bin/sh\ncat <<'EOF'\n{text}EOF\n")
        exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
        monkeypatch.setenv("PATH", f"{exe.parent}{os.pathsep}{os.environ['PATH']}")
    return install


@pytest.fixture
def smol(smollm2_path):
    return read_gguf_info(smollm2_path)


def test_gpus_come_from_nvidia_smi(nvidia_smi):
    nvidia_smi(H200 + "1, NVIDIA L4, 23034, 100\nnot a gpu line\n")
    gpus = gpu.detect_gpus()
    assert [(g.index, g.name) for g in gpus] == [(0, "NVIDIA H200"), (1, "NVIDIA L4")]
    assert gpus[0].total_bytes == 143771 << 20 and gpus[1].free_bytes == 100 << 20


def test_no_nvidia_smi_means_no_gpu(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert gpu.detect_gpus() == ()


def test_this_cpu_build_has_no_gpu_backend():
    assert gpu.build_backend() is None


def test_layers_that_fit_grow_with_free_memory(smol):
    n = smol.n_layer
    assert gpu.layers_that_fit(smol, 2048, 80 << 30) == n + 1          # every layer and the output
    assert gpu.layers_that_fit(smol, 2048, 100 << 20) == 0              # less than the reserve
    free = gpu.GPU_RESERVE + fit.compute_bytes(smol, 8192) + (40 << 20)
    some = gpu.layers_that_fit(smol, 2048, free)
    assert 0 < some < n
    assert gpu.layers_that_fit(smol, 8192, free) < some       # a longer context: more KV cache per layer


def test_plan_says_what_runs_where(smol):
    h200 = gpu.Gpu(0, "NVIDIA H200", 140 << 30, 139 << 30)
    none = gpu.plan("auto", smol, 2048, gpus=(), backend="cuda")
    assert none.n_gpu_layers == 0 and none.device == "cpu" and "no NVIDIA GPU" in none.reason
    cpu_build = gpu.plan("auto", smol, 2048, gpus=(h200,), backend=None)
    assert cpu_build.n_gpu_layers == 0 and "LLAMA_BACKEND=cuda make setup" in cpu_build.reason
    auto = gpu.plan("auto", smol, 2048, gpus=(h200,), backend="cuda")
    assert auto.n_gpu_layers == smol.n_layer + 1
    assert auto.device == f"cuda:0 NVIDIA H200 ({smol.n_layer + 1}/{smol.n_layer + 1} layers)"
    assert gpu.plan(7, smol, 2048, gpus=(h200,), backend="cuda").device.endswith(f"(7/{smol.n_layer + 1} layers)")
    assert gpu.plan(0, smol, 2048, gpus=(h200,), backend="cuda").device == "cpu"


def test_show_reports_the_gpu_and_the_cpu_only_build(nvidia_smi, capsys):
    nvidia_smi(H200)
    out = run_json(capsys, "show", "smollm2")
    assert out["gpu"]["gpu"]["name"] == "NVIDIA H200" and out["gpu"]["device"] == "cpu"
    assert out["gpu"]["fit_layers"] == out["gguf"]["n_layer"] + 1
    code, text, _ = run(capsys, "show", "smollm2")
    assert code == 0 and "GPU: NVIDIA H200" in text and "CPU-only" in text


def test_gpu_layers_flag_is_checked_and_recorded(capsys):
    code, _, err = run(capsys, "ask", "smollm2", "hi", "--gpu-layers", "banana")
    assert code == 2 and "banana" in err
    out = run_json(capsys, "ask", "smollm2", "Hi", "--gpu-layers", "12", "--max-tokens", "2")
    # A CPU build of llama.cpp cannot offload: the answer says it ran on the CPU.
    assert out["settings"]["device"] == "cpu" and out["settings"]["gpu_layers"] == 0


def test_apple_and_other_gpus_without_nvml(smol, monkeypatch):
    monkeypatch.setattr(fit, "available_bytes", lambda: 16 << 30)
    metal = gpu.plan("auto", smol, 2048, gpus=(), backend="metal")
    assert metal.n_gpu_layers == smol.n_layer + 1 and metal.device.startswith("metal:0 Apple GPU")
    vulkan_auto = gpu.plan("auto", smol, 2048, gpus=(), backend="vulkan")
    assert vulkan_auto.n_gpu_layers == 0 and "--gpu-layers N" in vulkan_auto.reason
    vulkan_12 = gpu.plan(12, smol, 2048, gpus=(), backend="vulkan")
    assert vulkan_12.n_gpu_layers == 12 and vulkan_12.device.startswith("vulkan:0")
