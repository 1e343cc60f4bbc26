"""Request bodies of the OpenAI-compatible API, as pydantic models with descriptions.

Fields OpenAI defines keep OpenAI's names, ranges and defaults; unknown fields are refused with a
clear 400 rather than silently ignored.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..jsontext import lone_surrogate, nesting_depth
from .extensions import Extensions
from .tools import ToolCallIn, ToolChoice, ToolDef

TokenIds = list[int]
MAX_NESTING = 128  # levels of lists and objects in a request body


class Strict(BaseModel):
    """Request bodies: unknown fields refused; every string must be encodable text."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _text_only(cls, data: Any) -> Any:
        # Checked first: deeper values overflow the stack of every recursive check after this one
        # (a schema nested 300 deep was a 500 RecursionError).
        if nesting_depth(data, MAX_NESTING) > MAX_NESTING:
            raise ValueError(f"the body is nested more than {MAX_NESTING} levels deep (lists and objects "
                             "inside each other); flatten the schema or value")
        where = lone_surrogate(data)
        if where:
            raise ValueError(f"{where} holds a lone UTF-16 surrogate, which is not text; send valid "
                             "Unicode (escape pairs like \\ud83d\\ude00 are fine)")
        return data


class StreamOptions(Strict):
    include_usage: bool = Field(False, description="Send a last chunk with token usage before [DONE].")


class Sampling(Extensions, Strict):
    """Fields shared by chat and text completions (with vLLM's and llama-server's extensions)."""

    model: str = Field(..., description="Model name or alias (see GET /v1/models).")
    max_tokens: int | None = Field(None, ge=0, description="Most tokens to generate; capped by the context window.")
    temperature: float = Field(1.0, ge=0.0, le=2.0, description="Sampling temperature; 0 is greedy.")
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="Nucleus sampling threshold.")
    top_k: int = Field(0, ge=0, le=1000, description="Extension: keep the k most likely tokens (0: all).")
    min_p: float = Field(0.0, ge=0.0, le=1.0, description="Extension: drop tokens below min_p x the top probability.")
    repeat_penalty: float = Field(1.0, gt=0.0, le=5.0, description="Extension: penalty for recent tokens (1: off).")
    seed: int | None = Field(None, description="Random seed for reproducible sampling.")
    stop: str | list[str] | None = Field(None, description="Up to 4 strings that end the output (not included).")
    stream: bool = Field(False, description="Stream chunks as server-sent events ending with `data: [DONE]`.")
    stream_options: StreamOptions | None = Field(None, description="Streaming options.")
    n: int = Field(1, ge=1, le=1, description="Number of choices; only 1 is supported.")
    frequency_penalty: float = Field(0.0, ge=-2.0, le=2.0, description="Lower a token's logit by this x its count.")
    presence_penalty: float = Field(0.0, ge=-2.0, le=2.0, description="Lower a token's logit once it appeared.")
    user: str | None = Field(None, max_length=256, description="End-user id (ignored).")

    def stops(self) -> list[str]:
        return [self.stop] if isinstance(self.stop, str) else list(self.stop or [])


class ContentPart(Strict):
    type: Literal["text"] = Field(..., description="Only text parts are supported.")
    text: str


class ChatMessageIn(Strict):
    role: Literal["system", "developer", "user", "assistant", "tool"] = Field(..., description="Author of the message.")
    content: str | list[ContentPart] | None = Field(None, description="Text, or a list of text parts.")
    name: str | None = Field(None, description="Participant name (ignored).")
    tool_calls: list[ToolCallIn] | None = Field(None, description="An assistant turn's function calls.")
    tool_call_id: str | None = Field(None, description="A tool turn: the call it answers.")

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text for p in self.content)
        return self.content or ""


class ChatCompletionRequest(Sampling):
    messages: list[ChatMessageIn] = Field(..., min_length=1, description="The conversation so far.")
    max_completion_tokens: int | None = Field(None, ge=0, description="Alias of max_tokens.")
    logprobs: bool = Field(False, description="Return log-probabilities of the output tokens.")
    tools: list[ToolDef] | None = Field(None, description="Functions the model may call.")
    tool_choice: ToolChoice | None = Field(None, description="none, auto, required, or a named function.")
    parallel_tool_calls: bool = Field(True, description="Allow several calls in one answer.")
    top_logprobs: int | None = Field(None, ge=0, le=20,
                                     description="Most likely alternatives per token (needs logprobs).")


class CompletionRequest(Sampling):
    prompt: str | list[str] | TokenIds | list[TokenIds] = Field(
        ..., description="A prompt, several prompts, or prompts as token ids.")
    max_tokens: int | None = Field(16, ge=0, description="Most tokens to generate (OpenAI's default: 16).")
    echo: bool = Field(False, description="Prepend the prompt to the output (with its logprobs if asked).")
    logprobs: int | None = Field(None, ge=0, le=20, description="Return this many top log-probabilities per token.")
    suffix: None = Field(None, description="Not supported; must be absent.")


class EmbeddingRequest(Strict):
    model: str = Field(..., description="Model name or alias.")
    input: str | list[str] | TokenIds | list[TokenIds] = Field(..., description="Text(s) or token ids to embed.")
    encoding_format: Literal["float", "base64"] = Field(
        "float", description="float: JSON numbers; base64: little-endian float32 bytes, base64-encoded.")
    user: str | None = Field(None, max_length=256, description="End-user id (ignored).")
