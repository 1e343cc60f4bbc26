"""The engine contract. Every surface (CLI, server, evaluator, arena) consumes these types.

An engine streams `Chunk`s; the last chunk has `finish_reason`, `usage` and `timings` set.
Timings follow Artificial Analysis' definitions: time to first token includes prompt processing;
output tokens/s is measured after the first token.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import InvalidParamsError, UnsupportedError
from ..models.ref import ModelRef
from ..settings import Settings
from .grammar import check_grammar
from .options import LoadOptions, LoadPlan


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["system", "user", "assistant"]
    content: str


MAX_STOPS = 32
MAX_STOP_CHARS = 512


class GenParams(BaseModel):
    """Generation parameters, declared once; CLI flags, request schemas and UI forms derive from it."""

    model_config = ConfigDict(extra="forbid")
    max_tokens: int | None = Field(512, ge=0, description="Most tokens to generate (None: until the context is full).")
    temperature: float = Field(0.8, ge=0.0, le=5.0, description="Sampling temperature; 0 is greedy.")
    top_p: float = Field(0.95, gt=0.0, le=1.0, description="Nucleus sampling threshold.")
    top_k: int = Field(40, ge=0, description="Keep the k most likely tokens (0: all).")
    min_p: float = Field(0.05, ge=0.0, le=1.0, description="Drop tokens below min_p x the top probability.")
    repeat_penalty: float = Field(1.0, gt=0.0, le=5.0, description="Penalty for repeating recent tokens (1: off).")
    frequency_penalty: float = Field(0.0, ge=-2.0, le=2.0, description="Lower a token's logit by this x its count.")
    presence_penalty: float = Field(0.0, ge=-2.0, le=2.0, description="Lower a token's logit once it appeared.")
    seed: int | None = Field(None, description="Random seed for reproducible sampling.")
    stop: list[str] = Field(default_factory=list, description="Stop when any of these strings appears.")
    json_schema: dict[str, Any] | None = Field(None, description="Constrain output to this JSON schema.")
    grammar: str | None = Field(None, description="Constrain output to this GBNF grammar (llama.cpp's format).")
    ignore_eos: bool = Field(False, description="Keep generating past end-of-generation tokens (up to max_tokens).")
    min_tokens: int = Field(0, ge=0, description="Generate at least this many tokens before an end token may end.")
    logprobs: int | None = Field(None, ge=0, le=20, description="Return this many top log-probabilities per token.")

    @field_validator("stop")
    @classmethod
    def _no_empty_stop(cls, v: list[str]) -> list[str]:
        # Stop strings are matched after every token on the thread that decodes every request of
        # a batch: a request with a million of them slowed all the others to a token per second.
        if any(s == "" for s in v):
            raise ValueError("stop sequences must not be empty strings")
        if len(v) > MAX_STOPS:
            raise ValueError(f"at most {MAX_STOPS} stop sequences, not {len(v):,}")
        longest = max((len(s) for s in v), default=0)
        if longest > MAX_STOP_CHARS:
            raise ValueError(f"a stop sequence has {longest:,} characters, more than {MAX_STOP_CHARS}")
        return v

    @field_validator("grammar")
    @classmethod
    def _bounded_grammar(cls, v: str | None) -> str | None:
        if v:
            check_grammar(v)   # InvalidParamsError, raised as is: size, nesting and repetition bounds
        return v

    @classmethod
    def build(cls, **kwargs: Any) -> "GenParams":
        """Validate, raising InvalidParamsError (never pydantic's ValidationError) on bad values."""
        try:
            return cls(**{k: v for k, v in kwargs.items() if v is not None or k == "max_tokens"})
        except ValidationError as exc:
            err = exc.errors()[0]
            param = ".".join(str(p) for p in err["loc"])
            raise InvalidParamsError(f"invalid parameter {param}: {err['msg']}", param=param) from None

    def cache_key(self) -> dict[str, Any]:
        """Fields added after answers were first cached drop out at their defaults, so the keys
        of answers stored earlier stay valid."""
        key = self.model_dump(mode="json")
        for name in _LATER_FIELDS:
            if key[name] == type(self).model_fields[name].default:
                del key[name]
        return key


_LATER_FIELDS = ("frequency_penalty", "presence_penalty", "grammar", "ignore_eos", "min_tokens")


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
    draft_tokens: int = 0           # tokens proposed by speculative drafts
    accepted_tokens: int = 0        # drafted tokens that verification kept (output tokens)
    threads: int = 0                # fewest CPU threads llama.cpp used (fewer while cores are busy)
    speculation: str = ""           # what drafted: prompt-lookup, draft:NAME, off (with why)

    @property
    def acceptance(self) -> float | None:
        """Share of drafted tokens kept (None when nothing was drafted)."""
        return self.accepted_tokens / self.draft_tokens if self.draft_tokens else None

    def to_dict(self) -> dict[str, Any]:
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
class PromptChunk(Chunk):
    """First chunk of a stream that asked for prompt log-probabilities (completions `echo`).

    `text` is the prompt as detokenized, `logprobs` one entry per prompt token; the first token
    has no context, so its logprob is nan."""


Deliver = Callable[["Chunk | BaseException | None"], None]


class ChunkStream(Iterator[Chunk]):
    """What a surface consumes: an engine's chunks in order, with the controls every stream has.

    `cancel()` may be called from any thread (a client went away): the engine stops at its next
    step, and a pulled stream stops after the chunk in hand. `close()` ends iteration from the
    consuming thread. A stream whose engine decodes on a thread of its own (the batching scheduler)
    also `pushes`: `attach(deliver)` makes that thread call deliver(item) for every chunk, error and
    end marker (None), in order, starting with those already waiting, so an asyncio server needs no
    thread per stream. `ChunkStream.of` gives any engine's iterator these controls.
    """

    def __init__(self, it: Iterator[Chunk], cancel: Callable[[], None] | None = None,
                 attach: Callable[[Deliver], None] | None = None):
        self._it = it
        self._cancel = cancel
        self._attach = attach
        self.cancelled = False

    @classmethod
    def of(cls, it: Iterator[Chunk]) -> "ChunkStream":
        return it if isinstance(it, ChunkStream) else cls(iter(it))

    @property
    def pushes(self) -> bool:
        return self._attach is not None

    def attach(self, deliver: Deliver) -> None:
        if self._attach is None:
            raise UnsupportedError("this stream is pulled, not pushed", "iterate it instead")
        self._attach(deliver)

    def cancel(self) -> None:
        self.cancelled = True
        if self._cancel is not None:
            self._cancel()

    def close(self) -> None:
        if isinstance(self._it, Generator):
            self._it.close()

    def __iter__(self) -> "ChunkStream":
        return self

    def __next__(self) -> Chunk:
        return next(self._it)


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
    """One loaded model. Engines are created through `open_engine`, never directly by surfaces.

    Capabilities are declared here, as class attributes an engine overrides, and never probed:
    a surface asks `engine.supports_token_prompts`, it does not look for a method. Whether a model
    is remote is its reference's business (`ref.is_remote`).
    """

    ref: ModelRef
    supports_token_prompts: ClassVar[bool] = False   # generate_tokens() takes token-id prompts
    supports_prompt_logprobs: ClassVar[bool] = False  # ... and returns prompt log-probabilities
    can_batch: ClassVar[bool] = False   # the continuous-batching scheduler can drive it (`backend`)
    supports_window_logprobs: ClassVar[bool] = False  # window_logprobs(): whole next-token distributions
    supports_draft: ClassVar[bool] = False   # speculative decoding with a draft model (--draft)
    concurrency: int = 1                # requests it serves at once

    @classmethod
    def plan(cls, ref: ModelRef, options: LoadOptions, settings: Settings) -> LoadPlan:
        """What loading `ref` with `options` will allocate (read from the file, nothing loaded)."""
        return LoadPlan(bytes=os.path.getsize(ref.path) if ref.path else 0)

    @classmethod
    def check(cls, ref: ModelRef, options: LoadOptions, settings: Settings) -> None:
        """Raise what `load` would refuse about `options` that the files alone tell (a bad draft
        model), without loading anything."""
        return None   # nothing to refuse by default

    @classmethod
    def load(cls, ref: ModelRef, options: LoadOptions, settings: Settings) -> "Engine":
        """The factory's hook: build this engine for `options` (see engines/factory.py)."""
        return cls(ref)  # type: ignore[call-arg]

    @property
    @abstractmethod
    def n_ctx(self) -> int: ...

    @abstractmethod
    def chat(self, messages: list[Message], params: GenParams) -> Iterator[Chunk]: ...

    @abstractmethod
    def complete(self, prompt: str, params: GenParams) -> Iterator[Chunk]: ...

    @abstractmethod
    def tokenize(self, text: str, add_special: bool = True) -> list[int]: ...

    def generate_tokens(self, tokens: list[int], params: GenParams,
                        prompt_logprobs: int | None = None) -> Iterator[Chunk]:
        """Generate from token ids (engines with `supports_token_prompts`); with prompt_logprobs,
        the stream starts with a PromptChunk (engines with `supports_prompt_logprobs`)."""
        raise UnsupportedError(f"{self.ref.name} takes neither token-id prompts nor prompt logprobs",
                               "send text prompts without echo+logprobs")

    def loglikelihood(self, requests: list[LogLikRequest]) -> list[LogLik]:
        raise UnsupportedError(f"{self.ref.name} does not provide log-likelihoods",
                               "use a local GGUF model or a server that returns prompt logprobs")

    def embed(self, texts: list[str]) -> list[list[float]]:
        raise UnsupportedError(f"{self.ref.name} does not provide embeddings")

    def window_logprobs(self, tokens: list[int], first: int) -> Any:
        """Next-token log-probabilities over the whole vocabulary at positions first .. len-2 of a
        window evaluated from an empty cache, (positions, n_vocab) float32 (engines with
        `supports_window_logprobs`; KL divergence against a reference, evals/kld.py)."""
        raise UnsupportedError(f"{self.ref.name} does not expose whole next-token distributions",
                               "KL divergence needs a local GGUF model")

    @property
    def bos_token(self) -> int | None:
        """The token llama.cpp's perplexity tool puts first in every chunk (None: none)."""
        return None

    def tool_template(self) -> str | None:
        """The model's chat template when it renders OpenAI `tools` itself; None (the default):
        callers render tools in the generic format (engines/toolcalls.py) and call `chat`."""
        return None

    def chat_tools(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
                   params: GenParams) -> Iterator[Chunk]:
        """Chat through the tool-aware template: OpenAI-shaped messages (tool_calls, role tool)."""
        raise UnsupportedError(f"{self.ref.name} has no tool-aware chat template",
                               "render the tools with engines.toolcalls.render_generic and call chat")

    def info(self) -> dict[str, Any]:
        """Settings the numbers were measured under (engine version, threads, context, ...)."""
        return {"engine": type(self).__name__, "n_ctx": self.n_ctx}

    def stats(self) -> dict[str, int]:
        """Live counters for /metrics (queued and active requests, decode steps); none by default."""
        return {}

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TokenEngine(Engine):
    """The layer for engines that take token ids (lm-evaluation-harness' TemplateLM, in spirit):
    chat and completion are tokenization plus one `generate_tokens`, written once here."""

    supports_token_prompts: ClassVar[bool] = True

    @abstractmethod
    def chat_tokens(self, messages: list[Message] | list[dict[str, Any]],
                    tools: list[dict[str, Any]] | None = None) -> list[int]:
        """The conversation rendered through the model's chat template, as token ids (with OpenAI
        `tools`, and messages in OpenAI's shape, for a template that renders tools)."""

    @abstractmethod
    def generate_tokens(self, tokens: list[int], params: GenParams,
                        prompt_logprobs: int | None = None) -> Iterator[Chunk]: ...

    def chat_stops(self) -> list[str]:
        """Stop strings chat adds to the caller's (a model without a chat template: "\nUser:")."""
        return []

    def chat_tools(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
                   params: GenParams) -> Iterator[Chunk]:
        return self.generate_tokens(self.chat_tokens(messages, tools), params)

    def chat(self, messages: list[Message], params: GenParams) -> Iterator[Chunk]:
        extra = self.chat_stops()
        if extra:
            params = params.model_copy(update={"stop": [*params.stop, *extra]})
        return self.generate_tokens(self.chat_tokens(messages), params)

    def complete(self, prompt: str, params: GenParams) -> Iterator[Chunk]:
        return self.generate_tokens(self.tokenize(prompt), params)
