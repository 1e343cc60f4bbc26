"""Merging an adapter into its base (tune/merge.py) on a tiny llama GGUF: the arithmetic, the
refusals before a byte is written, and the requantizer (ggml's own) against gguf-py's reference."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")

from bakeoff.engines.quantize import quantize_rows  # noqa: E402
from bakeoff.errors import DiskSpaceError, InvalidParamsError, ModelFileError  # noqa: E402
from bakeoff.models.tiny import HEAD_DIM, N_EMBD, N_FF, N_HEAD, N_LAYER, write_tiny  # noqa: E402
from bakeoff.tune.export import BaseShape, LoraPair, write_adapter  # noqa: E402
from bakeoff.tune.merge import read_adapter, write_merged  # noqa: E402

RANK, ALPHA = 4, 8.0
SHAPE = BaseShape("llama", N_LAYER, N_HEAD, 2)


def _pairs(seed: int = 0, layer: int = 0) -> list[LoraPair]:
    rng = np.random.default_rng(seed)
    dims = {"self_attn.q_proj": (N_EMBD, N_EMBD), "self_attn.k_proj": (2 * HEAD_DIM, N_EMBD),
            "mlp.down_proj": (N_EMBD, N_FF)}
    return [LoraPair(f"model.layers.{layer}.{m}", rng.normal(0, 0.1, (RANK, n_in)).astype(np.float32),
                     rng.normal(0, 0.1, (n_out, RANK)).astype(np.float32)) for m, (n_out, n_in) in dims.items()]


@pytest.fixture
def files(tmp_path: Path, smollm2_path: Path) -> tuple[Path, Path]:
    base = write_tiny("llama", tmp_path / "tiny.gguf", smollm2_path)
    return base, write_adapter(tmp_path / "adapter.gguf", _pairs(), SHAPE, ALPHA)


def _tensors(path: Path) -> dict[str, np.ndarray]:
    return {t.name: gguf.quants.dequantize(t.data, t.tensor_type).reshape([int(x) for x in reversed(t.shape)])
            for t in gguf.GGUFReader(str(path)).tensors}


def test_merge_adds_scaled_b_times_a_to_the_named_tensors_only(files, tmp_path):
    base, adapter = files
    out = write_merged(base, adapter, tmp_path / "merged.gguf", name="tiny+x-merged")
    before, after, lora = _tensors(base), _tensors(out.path), read_adapter(adapter)
    assert out.merged_tensors == 3 and set(before) == set(after)
    for name in before:
        if name in lora.pairs:
            a, b = lora.pairs[name]
            np.testing.assert_allclose(after[name], before[name] + ALPHA / RANK * b @ a, rtol=0, atol=1e-5)
        else:
            assert np.array_equal(after[name], before[name]), name
    reader = gguf.GGUFReader(str(out.path))
    assert reader.fields["general.name"].contents() == "tiny+x-merged"
    assert reader.fields["tokenizer.ggml.model"].contents() == "gpt2"      # metadata carried over


def test_refusals_write_nothing(files, tmp_path, monkeypatch):
    base, adapter = files
    digest = hashlib.sha256(base.read_bytes()).hexdigest()
    with pytest.raises(InvalidParamsError, match="overwrite its base"):
        write_merged(base, adapter, base)
    with pytest.raises(ModelFileError, match="not a LoRA adapter"):
        write_merged(base, base, tmp_path / "m.gguf")
    far = write_adapter(tmp_path / "far.gguf", _pairs(layer=N_LAYER + 3), BaseShape("llama", 8, N_HEAD, 2), ALPHA)
    with pytest.raises(ModelFileError, match="has no tensor 'blk.5.attn_q.weight'"):
        write_merged(base, far, tmp_path / "m.gguf")
    wide = write_adapter(tmp_path / "wide.gguf", [LoraPair("model.layers.0.self_attn.q_proj",
                                                           np.zeros((RANK, 2 * N_EMBD), np.float32),
                                                           np.zeros((N_EMBD, RANK), np.float32))], SHAPE, ALPHA)
    with pytest.raises(ModelFileError, match="adapter trained on this base"):
        write_merged(base, wide, tmp_path / "m.gguf")
    with pytest.raises(InvalidParamsError, match="unknown merged type"):
        write_merged(base, adapter, tmp_path / "m.gguf", "Q4_K_M")
    import shutil

    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10 << 30, 10 << 30, 1 << 20))
    with pytest.raises(DiskSpaceError, match="GiB free") as err:
        write_merged(base, adapter, tmp_path / "m.gguf")
    assert isinstance(err.value, OSError)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adapter.gguf", "far.gguf", "tiny.gguf", "wide.gguf"]
    assert hashlib.sha256(base.read_bytes()).hexdigest() == digest


def test_adapter_for_another_architecture_is_refused(files, tmp_path, smollm2_path):
    _, adapter = files
    falcon = write_tiny("falcon", tmp_path / "falcon.gguf", smollm2_path)
    with pytest.raises(ModelFileError, match="'falcon' model but the adapter is for 'llama'"):
        write_merged(falcon, adapter, tmp_path / "m.gguf")


@pytest.mark.parametrize("kind", ["Q4_1", "Q8_0", "Q4_0", "Q5_1"])
def test_requantizer_is_the_reference_rounding(kind):
    """ggml's quantizer (used for merged tensors) gives the bytes gguf-py's reference gives."""
    values = np.random.default_rng(1).normal(0, 1, (8, 256)).astype(np.float32)
    qtype = gguf.GGMLQuantizationType[kind]
    assert np.array_equal(quantize_rows(values, int(qtype)), gguf.quants.quantize(values, qtype))
