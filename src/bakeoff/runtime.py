"""Service glue shared by every surface: a model's identity, and exchanges logged to the store.
(Engines come from `bakeoff.engines.open_engine`.)"""

from __future__ import annotations

from typing import Any

from .engines.base import Engine, GenParams, Message, Response
from .models.filehash import file_sha256
from .models.ref import ModelRef
from .settings import Settings, get_settings
from .store import connect
from .store.logs import log_exchange


def model_fingerprint(ref: ModelRef, settings: Settings | None = None, db=None) -> str | None:
    """SHA-256 of the model file (named by its store, or hashed once and cached), or the endpoint
    identity for remote models."""
    if ref.path:
        settings = settings or get_settings()
        digest = ref.origin.sha256 if ref.origin and ref.origin.sha256 else file_sha256(ref.path, settings)
        for adapter in ref.adapters:  # a tuned model answers differently from its base
            digest += f"+{file_sha256(adapter.path, settings)[:16]}@{adapter.scale:g}"
        return digest
    ep = ref.endpoint
    return f"{ref.engine}:{ep.base_url if ep else ''}:{ep.model if ep else ref.name}"


def engine_label(info: dict[str, Any]) -> str | None:
    """The engine and the device it ran on, as logs record it: `llama-cpp-python 0.3.36 on cpu`."""
    engine, device = info.get("engine"), info.get("device")
    return f"{engine} on {device}" if engine and device else engine


def record_exchange(engine: Engine, kind: str, prompt: list[Message] | str, params: GenParams,
                    response: Response, settings: Settings | None = None) -> int:
    info = engine.info()
    payload = [m.model_dump() for m in prompt] if isinstance(prompt, list) else prompt
    db = connect(settings or get_settings())
    return log_exchange(
        db, kind=kind, model=engine.ref.name,
        model_sha256=model_fingerprint(engine.ref, settings, db), quantization=info.get("quantization"),
        engine_version=engine_label(info), params=params.model_dump(mode="json"), prompt=payload,
        response=response.text, prompt_tokens=response.usage.prompt_tokens,
        completion_tokens=response.usage.completion_tokens, timings=response.timings.to_dict())
