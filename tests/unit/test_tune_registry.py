"""Tuned models are listed once their lineage is written, under BASE+NAME and the base's aliases."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bakeoff.models.registry import Registry
from bakeoff.tune.export import BaseShape, LoraPair, rope_permute, write_adapter
from bakeoff.tune.registry import ADAPTER_FILE, HeldOut, Lineage, summary, write_lineage

BASE = "SmolLM2-135M-Instruct-Q4_1"


def _lineage(name: str, base_path: str) -> Lineage:
    return Lineage(name=name, base=BASE, base_path=base_path, base_sha256="ab" * 32, adapter_sha256="cd" * 32,
                   data_files=["train.jsonl"], data_sha256="ef" * 32, n_train=10, n_eval=4,
                   hyperparameters={"rank": 8, "alpha": 16, "lr": 1e-3, "epochs": 3}, loss_curve=[2.0, 0.5],
                   steps=2, train_seconds=12.0, train_tokens=900, versions={}, created="2026-11-30T00:00:00+00:00",
                   held_out=HeldOut(n=4, base_passed=0, tuned_passed=3, wins=3, losses=0, ties=1, mcnemar_p=0.25))


def test_finished_tunes_are_models_and_unfinished_ones_are_not(bakeoff_home: Path, smollm2_path: Path) -> None:
    done = bakeoff_home / "tuned" / f"{BASE}+done"
    running = bakeoff_home / "tuned" / f"{BASE}+running"
    for folder in (done, running):
        folder.mkdir(parents=True)
        (folder / ADAPTER_FILE).write_bytes(b"GGUF")
    (running / "checkpoint.pt").write_bytes(b"")
    write_lineage(done, _lineage(f"{BASE}+done", str(smollm2_path)))
    names = [r.name for r in Registry().list()]
    assert f"{BASE}+done" in names and f"{BASE}+running" not in names
    ref = Registry().resolve("smollm2-135m+done")
    assert ref.name == f"{BASE}+done" and ref.path == str(smollm2_path) and ref.source == "tuned"
    assert [a.path for a in ref.adapters] == [str(done / ADAPTER_FILE)]
    s = summary(_lineage(ref.name, ref.path))
    assert s["loss"] == "2.000 → 0.500" and "McNemar p=0.25" in s["held out"]


def test_rope_permutation_interleaves_the_rotary_halves_of_each_head() -> None:
    # 2 heads of 4 rows: HF order per head is [x0, x1, y0, y1]; GGUF order is [x0, y0, x1, y1].
    rows = np.arange(8, dtype=np.float32)[:, None]
    assert rope_permute(rows, 2)[:, 0].tolist() == [0, 2, 1, 3, 4, 6, 5, 7]


def test_adapter_file_has_llamacpp_layout(tmp_path: Path) -> None:
    import gguf

    rank, n_in, n_out = 4, 64, 32
    pairs = [LoraPair("model.layers.0.self_attn.q_proj", np.ones((rank, n_in), np.float32),
                      np.ones((n_in, rank), np.float32)),
             LoraPair("model.layers.1.mlp.down_proj", np.ones((rank, n_in), np.float32),
                      np.ones((n_out, rank), np.float32))]
    path = write_adapter(tmp_path / "a.gguf", pairs, BaseShape("llama", 2, 4, 2), 8.0)
    reader = gguf.GGUFReader(str(path))
    fields = {k: f.contents() for k, f in reader.fields.items() if not k.startswith("GGUF.")}
    assert fields["general.type"] == "adapter" and fields["adapter.type"] == "lora"
    assert fields["adapter.lora.alpha"] == 8.0 and fields["general.architecture"] == "llama"
    shapes = {t.name: t.shape.tolist() for t in reader.tensors}   # ggml ne order: [in, rank] / [rank, out]
    assert shapes == {"blk.0.attn_q.weight.lora_a": [n_in, rank], "blk.0.attn_q.weight.lora_b": [rank, n_in],
                      "blk.1.ffn_down.weight.lora_a": [n_in, rank], "blk.1.ffn_down.weight.lora_b": [rank, n_out]}


def test_merged_files_are_standalone_models_with_the_tunes_lineage(bakeoff_home: Path, tmp_path: Path) -> None:
    from bakeoff.settings import get_settings
    from bakeoff.tune.registry import MergedFile, lineage_of

    folder = bakeoff_home / "tuned" / f"{BASE}+m"
    folder.mkdir(parents=True)
    (folder / ADAPTER_FILE).write_bytes(b"GGUF")
    (folder / f"{BASE}+m-merged.gguf").write_bytes(b"GGUF")
    lineage = _lineage(f"{BASE}+m", str(tmp_path / "moved-away.gguf"))     # the base is gone
    lineage.merged = [MergedFile(name=f"{BASE}+m-merged", file=f"{BASE}+m-merged.gguf", tensor_type="Q4_1",
                                 sha256="00" * 32, size_bytes=4, created="2026-11-30T00:00:00+00:00"),
                      MergedFile(name=f"{BASE}+m-merged-F16", file="deleted.gguf", tensor_type="F16",
                                 sha256="11" * 32, size_bytes=4, created="2026-11-30T00:00:00+00:00")]
    write_lineage(folder, lineage)
    names = [r.name for r in Registry().list()]
    # The adapter needs its base, so BASE+m is not listed; the merged file runs alone, so it is.
    assert f"{BASE}+m" not in names and f"{BASE}+m-merged" in names and f"{BASE}+m-merged-F16" not in names
    ref = Registry().resolve(f"{BASE}+m-merged")
    assert ref.path == str(folder / f"{BASE}+m-merged.gguf") and not ref.adapters
    found = lineage_of(ref, get_settings())
    assert found is not None and found.name == f"{BASE}+m"
    assert summary(found)["merged (Q4_1)"].startswith(f"{BASE}+m-merged: ")
