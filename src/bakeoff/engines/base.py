"""The engine contract. Every surface (CLI, server, evaluator, arena) consumes these types.

An engine streams `Chunk`s; the last chunk has `finish_reason`, `usage` and `timings` set.
Timings follow Artificial Analysis' definitions: time to first token includes prompt processing;
output tokens/s is measured after the first token.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import InvalidParamsError, UnsupportedError
from ..models.ref import ModelRef


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["system", "user", "assistant"]
    content: str


class GenParams(BaseModel):
    """Generation parameters, declared once; CLI flags, request schemas and UI forms derive from it."""

    model_config = ConfigDict(extra="forbid")
    max_tokens: int | None = Field(512, ge=0, description="Most tokens to generate (None: until the context is full).")
    temperature: float = Field(0.8, ge=0.0, le=5.0, description="Sampling temperature; 0 is greedy.")
    top_p: float = Field(0.95, gt=0.0, le=1.0, description="Nucleus sampling threshold.")
    top_k: int = Field(40, ge=0, description="Keep the k most likely tokens (0: all).")
    min_p: float = Field(0.05, ge=0.0, le=1.0, description="Drop tokens below min_p x the top probability.")
    repeat_penalty: float = Field(1.0, gt=0.0, le=5.0, description="Penalty for repeating recent tokens (1: off).")
    seed: int | None = Field(None, description="Random seed for reproducible sampling.")
    stop: list[str] = Field(default_factory=list, description="Stop when any of these strings appears.")
    json_schema: dict[str, Any] | None = Field(None, description="Constrain output to this JSON schema.")
    logprobs: int | None = Field(None, ge=0, le=20, description="Return this many top log-probabilities per token.")

    @field_validator("stop")
    @classmethod
    def _no_empty_stop(cls, v: list[str]) -> list[str]:
        if any(s == "" for s in v):
            raise ValueError("stop sequences must not be empty strings")
        return v

    @classmethod
    def build(cls, **kwargs: Any) -> "GenParams":
        """Validate, raising InvalidParamsError (never pydantic's ValidationError) on bad values."""
        from pydantic import ValidationError

        try:
            return cls(**{k: v for k, v in kwargs.items() if v is not None or k == "max_tokens"})
        except ValidationError as exc:
            err = exc.errors()[0]
            param = ".".join(str(p) for p in err["loc"])
            raise InvalidParamsError(f"invalid parameter {param}: {err['msg']}", param=param) from None

    def cache_key(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class Timings:
    load_s: float = 0.0             # model load (0 when it was already loaded)
    ttft_s: float = 0.0             # request start to first token (includes prompt processing)
    prompt_tps: float = 0.0         # prompt tokens evaluated per second
    output_tps: float = 0.0         # output tokens per second after the first token
    total_s: float = 0.0            # request start to last token
    cached_prompt_tokens: int = 0   # prompt tokens reused from the previous request's cache

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass
class TokenLogprob:
    token: str
    logprob: float
    top: dict[str, float] = field(default_factory=dict)


@dataclass
class Chunk:
    text: str = ""
    finish_reason: str | None = None     # "stop" | "length" | None while streaming
    usage: Usage | None = None
    timings: Timings | None = None
    logprobs: list[TokenLogprob] | None = None


@dataclass
class Response:
    """A collected stream."""

    text: str
    finish_reason: str | None
    usage: Usage
    timings: Timings
    logprobs: list[TokenLogprob] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "finish_reason": self.finish_reason,
                "usage": asdict(self.usage), "timings": self.timings.to_dict()}


def collect(chunks: Iterable[Chunk]) -> Response:
    parts: list[str] = []
    logprobs: list[TokenLogprob] = []
    last = Chunk()
    for chunk in chunks:
        parts.append(chunk.text)
        if chunk.logprobs:
            logprobs.extend(chunk.logprobs)
        last = chunk
    return Response("".join(parts), last.finish_reason, last.usage or Usage(),
                    last.timings or Timings(), logprobs)


@dataclass
class LogLikRequest:
    context: str
    continuation: str


@dataclass
class LogLik:
    logprob: float        # sum of the continuation tokens' log-probabilities (natural log)
    is_greedy: bool       # greedy decoding from the context would produce the continuation
    n_tokens: int         # continuation length in tokens


class Engine(ABC):
    """One loaded model. Engines are created through `load_engine`, never directly by surfaces."""

    ref: ModelRef

    @property
    @abstractmethod
    def n_ctx(self) -> int: ...

    @abstractmethod
    def chat(self, messages: list[Message], params: GenParams) -> Iterator[Chunk]: ...

    @abstractmethod
    def complete(self, prompt: str, params: GenParams) -> Iterator[Chunk]: ...

    @abstractmethod
    def tokenize(self, text: str, add_special: bool = True) -> list[int]: ...

    def loglikelihood(self, requests: list[LogLikRequest]) -> list[LogLik]:
        raise UnsupportedError(f"{self.ref.name} does not provide log-likelihoods",
                               "use a local GGUF model or a server that returns prompt logprobs")

    def embed(self, texts: list[str]) -> list[list[float]]:
        raise UnsupportedError(f"{self.ref.name} does not provide embeddings")

    def info(self) -> dict[str, Any]:
        """Settings the numbers were measured under (engine version, threads, context, ...)."""
        return {"engine": type(self).__name__, "n_ctx": self.n_ctx}

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# Engines register by name with lazy import targets, so listing models never loads llama.cpp.
ENGINES: dict[str, str] = {
    "llamacpp": "bakeoff.engines.llamacpp:LlamaCppEngine",
    "openai": "bakeoff.engines.openai_remote:RemoteEngine",
}


def register_engine(name: str, target: str | type) -> None:
    ENGINES[name] = target  # type: ignore[assignment]


def engine_class(name: str) -> type[Engine]:
    target = ENGINES.get(name)
    if target is None:
        raise UnsupportedError(f"no engine named {name!r}", f"known engines: {', '.join(ENGINES)}")
    if isinstance(target, type):
        return target
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def load_engine(ref: ModelRef, **options: Any) -> Engine:
    return engine_class(ref.engine)(ref, **options)
