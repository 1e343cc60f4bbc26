"""`bakeoff search` against a loopback server in the Hub's layout, and `bakeoff pull N`."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bakeoff.models import fit
from cli_run import run, run_json
from hubserver import Hub
from tinygguf import write_minimal

QWEN = "Qwen/Qwen2.5-0.5B-Instruct-GGUF"     # in the catalog


@pytest.fixture
def hub(tmp_path: Path, monkeypatch):
    small = write_minimal(tmp_path / "small.gguf", "small", 32)
    big = write_minimal(tmp_path / "big.gguf", "big", 4096)
    shard2 = tmp_path / "shard2"
    shard2.write_bytes(b"\0" * 1000)
    repos = {
        QWEN: {"qwen2.5-0.5b-instruct-q4_k_m.gguf": small, "qwen2.5-0.5b-instruct-q8_0.gguf": big,
               "README.md": shard2},
        "someone/Tiny-Llama-GGUF": {"tiny-Q4_K_M.gguf": small, "mmproj-tiny-f16.gguf": small,
                                    "tiny-F16-00001-of-00002.gguf": big,
                                    "tiny-F16-00002-of-00002.gguf": shard2},
        "someone/Tiny-Llama-safetensors": {"model.safetensors": small},
        "other/Tiny-Coder-GGUF": {"coder-Q8_0.gguf": big},
    }
    meta = {QWEN: {"downloads": 900, "license": "apache-2.0", "pipeline_tag": "text-generation"},
            "someone/Tiny-Llama-GGUF": {"downloads": 500, "license": "llama3.2",
                                        "pipeline_tag": "text-generation"},
            "someone/Tiny-Llama-safetensors": {"downloads": 9999},
            "other/Tiny-Coder-GGUF": {"downloads": 10, "license": "mit", "pipeline_tag": "fill-mask"}}
    with Hub(repos, meta=meta) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield server


def test_search_lists_gguf_repos_with_quantizations_sizes_fit_and_catalog_facts(hub, capsys):
    rows = run_json(capsys, "search", "tiny")
    assert [r["repo"] for r in rows] == ["someone/Tiny-Llama-GGUF", "other/Tiny-Coder-GGUF"]
    tiny = rows[0]
    offers = {o["quant"]: o for o in tiny["offers"]}
    assert set(offers) == {"Q4_K_M", "F16"}            # no projector; the split file is one offer
    assert offers["F16"]["files"] == ["tiny-F16-00001-of-00002.gguf", "tiny-F16-00002-of-00002.gguf"]
    assert offers["F16"]["size"] == (Path(hub.repos[tiny["repo"]]["tiny-F16-00001-of-00002.gguf"])
                                     .stat().st_size + 1000)
    assert offers["Q4_K_M"]["fit"]["verdict"] == "fits" and tiny["license"] == "llama3.2"
    assert tiny["catalog_id"] is None
    qwen = run_json(capsys, "search", "qwen2.5")[0]
    assert qwen["catalog_id"] and qwen["openness"] and qwen["commercial"] == "yes"
    code, out, _ = run(capsys, "search", "qwen2.5")
    assert code == 0 and "Q4_K_M" in out and "fits" in out and "bakeoff pull N" in out
    assert "tok/s" in out and "predicted for this machine before download" in out


def test_search_predicts_speed_here_from_the_catalog_or_the_file_size(hub, capsys):
    qwen = {o["quant"]: o for o in run_json(capsys, "search", "qwen2.5")[0]["offers"]}
    q4, q8 = qwen["Q4_K_M"]["expected_speed"], qwen["Q8_0"]["expected_speed"]
    assert q4["basis"] == "catalog shape" and q4["output_tps"] > q8["output_tps"] > 0   # fewer bytes, faster
    tiny = {o["quant"]: o for o in run_json(capsys, "search", "tiny")[0]["offers"]}
    small, big = tiny["Q4_K_M"]["expected_speed"], tiny["F16"]["expected_speed"]
    assert small["basis"] == "file size, dense assumed" and small["output_tps"] > big["output_tps"]


def test_task_licence_and_fit_filters(hub, capsys, monkeypatch):
    assert [r["repo"] for r in run_json(capsys, "search", "tiny", "--task", "fill-mask")] == \
        ["other/Tiny-Coder-GGUF"]
    assert [r["repo"] for r in run_json(capsys, "search", "", "--license", "apache-2.0")] == [QWEN]
    small = Path(hub.repos[QWEN]["qwen2.5-0.5b-instruct-q4_k_m.gguf"]).stat().st_size
    # A machine with room for the small files only: the repo with nothing small drops out.
    room = fit.estimate_download(small, available=0).total_bytes / fit.FITS_FRACTION
    monkeypatch.setattr(fit, "available_bytes", lambda: int(room) + 1)
    assert [r["repo"] for r in run_json(capsys, "search", "tiny", "--fits")] == ["someone/Tiny-Llama-GGUF"]


def test_pull_takes_a_search_result(hub, capsys):
    run_json(capsys, "search", "tiny")
    out = run_json(capsys, "pull", "1:F16")
    assert out["repo"] == "someone/Tiny-Llama-GGUF"
    assert out["files"] == ["tiny-F16-00001-of-00002.gguf", "tiny-F16-00002-of-00002.gguf"]
    assert all((Path(out["path"]).parent / f).exists() for f in out["files"])
    out = run_json(capsys, "pull", "1")
    assert out["file"] == "tiny-Q4_K_M.gguf" and "recommended" in out["reason"]
    code, _, err = run(capsys, "pull", "7")
    assert code == 3 and "search result" in err


def test_offline_search_says_so_in_one_line(monkeypatch, capsys):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    t0 = time.monotonic()
    code, out, err = run(capsys, "search", "llama")
    assert code == 6 and err.count("\n") == 1 and "cannot reach the Hugging Face Hub" in err
    assert time.monotonic() - t0 < 30


def test_a_gpu_build_counts_the_gpus_memory(hub, capsys, monkeypatch):
    from bakeoff.models import gpu

    monkeypatch.setattr(fit, "available_bytes", lambda: 1 << 20)          # no room in RAM
    monkeypatch.setattr(gpu, "build_backend", lambda: "cuda")
    monkeypatch.setattr(gpu, "detect_gpus", lambda: (gpu.Gpu(0, "NVIDIA H200", 141 << 30, 140 << 30),))
    rows = run_json(capsys, "search", "tiny", "--fits")
    assert [r["repo"] for r in rows] == ["someone/Tiny-Llama-GGUF", "other/Tiny-Coder-GGUF"]
    assert {o["fit"]["verdict"] for o in rows[0]["offers"]} == {"won't fit"}
    assert {o["gpu_verdict"] for o in rows[0]["offers"]} == {"fits"}
    monkeypatch.setattr(gpu, "build_backend", lambda: None)               # a CPU build: RAM only
    assert run_json(capsys, "search", "tiny", "--fits") == []
