"""Tests build tiny models with the package's own builder (the speed calibration uses it too)."""

from pathlib import Path

import numpy as np
from gguf import GGUFWriter

from bakeoff.models.tiny import N_CTX, N_EMBD, N_LAYER, SPECS, write_tiny

__all__ = ["N_CTX", "N_EMBD", "N_LAYER", "SPECS", "write_minimal", "write_tiny"]


def write_minimal(path: Path, name: str = "tiny", width: int = 32, **meta: str) -> Path:
    """A valid but untokenizable GGUF (a llama header, one F32 tensor): enough for listing, matching
    and validation tests, written in milliseconds. `width` changes the file's size; `name` its bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    w = GGUFWriter(str(path), "llama")
    w.add_name(name)
    w.add_uint32("llama.context_length", N_CTX)
    w.add_uint32("llama.block_count", 1)
    for key, value in meta.items():
        w.add_string(key, value)
    w.add_tensor("token_embd.weight", np.zeros((4, width), np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
