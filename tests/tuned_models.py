"""A tuned model (BASE+NAME) registered for real in a temp BAKEOFF_HOME: a random LoRA adapter on
SmolLM2, strong enough to change greedy answers, and its lineage, as `bakeoff tune` leaves them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bakeoff.settings import Settings

BASE = "SmolLM2-135M-Instruct-Q4_1"


def register_tuned(settings: Settings, smollm2_path: Path, suffix: str = "x"):
    """Returns (tuned name, its folder, its lineage)."""
    from bakeoff.models.filehash import file_sha256
    from bakeoff.tune.export import BaseShape, LoraPair, write_adapter
    from bakeoff.tune.registry import ADAPTER_FILE, Lineage, tuned_dir, write_lineage

    rng = np.random.default_rng(0)
    pairs = [LoraPair(f"model.layers.{i}.self_attn.{m}", rng.normal(0, 0.05, (8, 576)).astype(np.float32),
                      rng.normal(0, 0.02, (out, 8)).astype(np.float32))
             for i in range(30) for m, out in (("q_proj", 576), ("v_proj", 192))]
    name = f"{BASE}+{suffix}"
    folder = tuned_dir(settings, name)
    folder.mkdir(parents=True)
    write_adapter(folder / ADAPTER_FILE, pairs, BaseShape("llama", 30, 9, 3), 16.0)
    lineage = Lineage(name=name, base=BASE, base_path=str(smollm2_path),
                      base_sha256=file_sha256(str(smollm2_path), settings), adapter_sha256="0" * 64,
                      data_files=["none"], data_sha256="0" * 64, n_train=0, n_eval=0, hyperparameters={},
                      loss_curve=[], steps=0, train_seconds=0.0, train_tokens=0, versions={},
                      created="2026-12-01T00:00:00+00:00")
    write_lineage(folder, lineage)
    return name, folder, lineage
