"""One Settings object; the environment is read once (BAKEOFF_* variables)."""

from __future__ import annotations

import json
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

import psutil
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from .errors import ConfigError, HomeNotWritableError


def physical_cores() -> int:
    return psutil.cpu_count(logical=False) or os.cpu_count() or 1


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BAKEOFF_", extra="ignore")

    home: Path = Field(default=Path.home() / ".bakeoff",
                       description="Where the store, assembled and pulled models live.")
    threads: int = Field(default_factory=physical_cores,
                         description="CPU threads for llama.cpp (default: physical cores).")
    adaptive_threads: bool = Field(default=True, description="Use fewer llama.cpp threads while "
                                   "other processes keep cores busy (see engines/threads.py); "
                                   "false: always the threads setting.")
    n_ctx: int = Field(default=4096, description="Default context window for local models.")
    exact_batches: bool = Field(default=False, description="llama.cpp models on the CPU attend with "
                                "flash attention and a BF16 V cache, so a greedy answer never depends "
                                "on what shares its batch (serve, run --concurrency), and prompt "
                                "lookup stays exact past position 256 (engines/"
                                "llama_lowlevel.py, engines/verify_cost.py). Off by default: BF16 "
                                "moves log-likelihoods by up to 0.07 nats from llama.cpp's own.")
    speculative: bool = Field(default=False, description="Prompt-lookup speculative decoding for "
                              "greedy generation (same answers, fewer decode calls). Off by default: "
                              "on the starter suite it measured 0.93x plain decoding on this project's "
                              "2-core machine (benchmarks/speculative_speed.py); it pays on prompts the "
                              "answer copies at length.")
    speculative_sampled: bool = Field(default=False, description="Prompt lookup for sampled "
                                      "requests too (the rejection rule keeps the distribution, "
                                      "but a seed gives other draws than plain decoding); off until "
                                      "benchmarks/speculative_speed.py --temperature shows it pays. "
                                      "A --draft model always drafts for sampled requests.")
    # Default hourly cost: AWS on-demand c7i.large (2 vCPU, 4 GiB), us-east-1, $0.08925/h
    # (https://aws.amazon.com/ec2/pricing/on-demand/, read 2026-11). It is the closest cloud
    # equivalent of the 2-core machine Bakeoff targets; set BAKEOFF_HOURLY_COST for your own.
    hourly_cost: float = Field(default=0.08925, description="Cost of this machine in USD per hour.")
    model_dirs: Annotated[list[Path], NoDecode] = Field(
        default_factory=list, description="Extra folders searched for GGUF files (separated by "
                                          f"'{os.pathsep}' as in PATH, or a JSON list).")
    sources: Annotated[list[str], NoDecode] = Field(
        default=["folder", "hf", "lmstudio", "ollama", "gpt4all", "llamacpp"],
        description="Other tools' model stores listed in place, none copied (comma-separated or a JSON list).")
    user_home: Path = Field(default_factory=Path.home,
                            description="Home folder whose tool stores (~/.ollama, ~/.lmstudio, "
                                        "~/.cache/...) are searched.")
    memory_budget_gb: float = Field(default=0.0,
                                    description="Server memory budget for loaded models (0 = 60% of RAM; "
                                                "set, a model larger than it is refused).")
    api_key: str | None = Field(default=None, description="API key required by `bakeoff serve`.")
    gpu_layers: Literal["auto"] | Annotated[int, Field(ge=0)] = Field(
        default="auto", description="Model layers offloaded to the GPU: a count, or auto (all that "
                                    "fit in free GPU memory; 0 on a CPU-only llama.cpp build).")

    @field_validator("model_dirs", "sources", mode="before")
    @classmethod
    def _split_list(cls, value: object, info: object) -> object:
        """An environment variable holds a JSON list or, as people write PATH, separated items."""
        if not isinstance(value, str):
            return value
        if value.lstrip().startswith("["):
            try:
                return json.loads(value)
            except ValueError as exc:
                raise ValueError(f"not a JSON list: {exc}") from None
        sep = os.pathsep if getattr(info, "field_name", "") == "model_dirs" else ","
        return [item.strip() for item in value.split(sep) if item.strip()]

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def db_path(self) -> Path:
        return self.home / "bakeoff.db"

    def ensure_home(self) -> Path:
        """Create BAKEOFF_HOME (and models/) or raise a clear error."""
        try:
            self.models_dir.mkdir(parents=True, exist_ok=True)
            # A probe name per process and thread: server threads open the store concurrently,
            # and a shared name let one thread delete another's probe (ENOENT on unlink).
            probe = self.home / f".write-test-{os.getpid()}-{threading.get_ident()}"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise HomeNotWritableError(str(self.home), exc.strerror or str(exc)) from None
        return self.home


class SettingsValueError(ConfigError):
    """A BAKEOFF_* environment variable holds a value its setting cannot take."""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = f"BAKEOFF_{str(first['loc'][0]).upper()}" if first["loc"] else "a BAKEOFF_ variable"
        raise SettingsValueError(f"{name}={str(first.get('input'))[:80]!r} is invalid: {first['msg']}",
                                 _fix(name)) from None
    except SettingsError as exc:   # a value pydantic-settings could not even parse
        raise SettingsValueError(f"a BAKEOFF_ environment variable is invalid: {exc}",
                                 _fix("the variable")) from None


def _fix(name: str) -> str:
    return f"correct or unset {name} (the README's sections name each setting and its format)"


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment)."""
    get_settings.cache_clear()
