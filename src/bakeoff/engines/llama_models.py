"""Loaded llama.cpp models, shared by every context that runs the same file.

A base model and its tuned variants (the same GGUF with LoRA adapters on top) differ only in the
adapters set on their context (`llama_set_adapters_lora` is per context), so one loaded model
serves them all: `bakeoff serve` with a base and a tuned model, or a run comparing them, loads the
weights once. An adapter file is loaded onto the model once as well (llama.cpp frees a model's
adapters with it). The model is freed when the last context using it closes.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any

from ..errors import EngineError


@dataclass(eq=False)
class SharedModel:
    key: tuple[str, int]            # (real path, layers offloaded to the GPU)
    ptr: Any                        # llama_model *
    adapters: dict[str, Any] = field(default_factory=dict)   # real path -> llama_adapter_lora *
    users: int = 0


_models: dict[tuple[str, int], SharedModel] = {}
_lock = threading.Lock()


def acquire(ll: Any, path: str, n_gpu_layers: int) -> SharedModel:
    """The loaded model for this file and offload, loaded now if no open context uses it."""
    key = (os.path.realpath(path), n_gpu_layers)
    with _lock:
        shared = _models.get(key)
        if shared is None:
            params = ll.llama_model_default_params()
            params.n_gpu_layers = n_gpu_layers
            params.use_mmap = True
            ptr = ll.llama_model_load_from_file(path.encode(), params)
            if not ptr:
                raise EngineError(f"llama.cpp could not load {path}",
                                  "the file may use an architecture this llama.cpp build does not know")
            shared = _models[key] = SharedModel(key, ptr)
        shared.users += 1
        return shared


def adapter(ll: Any, shared: SharedModel, path: str) -> Any:
    """The LoRA adapter at `path`, loaded onto the shared model once."""
    key = os.path.realpath(path)
    with _lock:
        loaded = shared.adapters.get(key)
        if loaded is None:
            loaded = ll.llama_adapter_lora_init(shared.ptr, path.encode())
            if not loaded:
                raise EngineError(f"llama.cpp could not apply the LoRA adapter {path}",
                                  "it was made for another base model or is not a GGUF LoRA adapter; "
                                  "BAKEOFF_DEBUG=1 shows llama.cpp's reason")
            shared.adapters[key] = loaded
        return loaded


def release(ll: Any, shared: SharedModel) -> None:
    """One context fewer; the last one frees the model (and its adapters)."""
    with _lock:
        shared.users -= 1
        if shared.users == 0:
            del _models[shared.key]
            ll.llama_model_free(shared.ptr)


def users(path: str, n_gpu_layers: int = 0) -> int:
    """Open contexts that share the loaded model of this file (0: it is not loaded)."""
    with _lock:
        shared = _models.get((os.path.realpath(path), n_gpu_layers))
        return shared.users if shared else 0
