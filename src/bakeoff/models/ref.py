"""ModelRef: what a model name resolves to, a local GGUF file or a remote endpoint.

`Endpoint` is the typed description of a remote OpenAI-compatible server; a remote model's ref
carries it whole, so the engine that talks to the server reads typed fields, never a dict.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Endpoint(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base_url: str = Field(description="Base URL of the OpenAI-compatible API, usually ending in /v1.")
    model: str = Field(description="Model id the server expects in requests.")
    api_key_env: str | None = Field(None, description="Environment variable holding the API key.")
    price_in: float | None = Field(None, ge=0, description="USD per 1M input tokens.")
    price_out: float | None = Field(None, ge=0, description="USD per 1M output tokens.")
    hourly_cost: float | None = Field(None, ge=0, description="USD per hour for the serving machine.")
    concurrency: int = Field(4, ge=1, le=256, description="Most requests in flight at once.")
    timeout: float = Field(120.0, gt=0, description="Seconds to wait for a response.")
    max_retries: int = Field(5, ge=0, le=20, description="Retries on 429, 5xx and connection errors.")
    loglikelihood: bool | None = Field(None, description="Server returns prompt logprobs with echo (None: probe).")

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^https?://", v):
            raise ValueError("base_url must start with http:// or https://")
        return v.rstrip("/")

    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) if self.api_key_env else None


@dataclass(frozen=True)
class Adapter:
    """A LoRA adapter (GGUF) that llama.cpp applies on top of the model file at load time."""

    path: str
    scale: float = 1.0


@dataclass
class Origin:
    """Where a model found in another tool's store came from, as that tool describes it."""

    tool: str                      # "ollama", "lmstudio", "hf", "gpt4all", "llamacpp", "folder"
    root: str                      # the store folder it was found under
    repo: str | None = None        # Hugging Face repo it came from, when the layout says so
    sha256: str | None = None      # digest the layout names the file by (Ollama, HF blobs)
    template: str | None = None    # Ollama's prompt template (Go text/template), if any
    params: dict[str, Any] = field(default_factory=dict)   # Ollama's default parameters
    system: str | None = None      # Ollama's default system prompt, if any


@dataclass
class ModelRef:
    name: str                      # canonical name shown everywhere
    engine: str                    # registered engine name (engines/factory.py: "llamacpp", "openai", ...)
    source: str                    # "packaged", "local", "file", "endpoint", ...
    path: str | None = None        # GGUF path for local engines
    aliases: list[str] = field(default_factory=list)
    license: str | None = None     # licence known from the source when the file does not say
    endpoint: Endpoint | None = None  # remote models: the server and how to reach it
    assemble: str | None = None    # packaged models whose file is put together on first use
    origin: Origin | None = None   # set for files found in place in other tools' stores
    sources: list[str] = field(default_factory=list)  # every source holding this same file
    copies: list[ModelRef] = field(default_factory=list)  # the same file under its other names
    adapters: list[Adapter] = field(default_factory=list)  # LoRA adapters on top of `path`

    @property
    def is_local(self) -> bool:
        return self.path is not None

    @property
    def is_remote(self) -> bool:
        """Served elsewhere, through an OpenAI-compatible endpoint (declared, not guessed)."""
        return self.endpoint is not None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "engine": self.engine, "source": self.source, "path": self.path,
                "aliases": list(self.aliases), "license": self.license,
                "sources": list(self.sources or [self.source]),
                "repo": self.origin.repo if self.origin else None,
                **({"adapters": [a.path for a in self.adapters]} if self.adapters else {})}
