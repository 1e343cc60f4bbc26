"""OpenAI tools on /v1/chat/completions: request shapes, checks, rendering, answers and streams.

The routes call four hooks: `plan_for(body, engine)` (None when the request has no tools and no
tool history: the plain path is untouched), `ToolPlan.request` (which engine call renders the
conversation: the model's own template when it renders tools, else the generic format),
`message(plan, text, finish)` for a whole answer, and `ToolStream` for a streamed one. Prompt
format, parsing and the forcing grammar are the engine layer's (engines/toolcalls.py): the same on
every engine.

Streaming: content streams as it comes; a tool call is held until it is complete (so only calls
that parse are sent), then sent as OpenAI sends one: a delta with index, id, type and name and
empty arguments, then the arguments in fragments; the last chunk's finish_reason is tool_calls.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..engines.toolcalls import CLOSE, OPEN, ToolCall, ToolPlan, Turn, parse_calls, parse_tools
from ..errors import InvalidParamsError

FRAGMENT = 16   # characters of arguments per streamed delta


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class FunctionDef(Strict):
    name: str = Field(..., pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Function name.")
    description: str | None = Field(None, description="What the function does (shown to the model).")
    parameters: dict[str, Any] | None = Field(None, description="JSON schema of the arguments object.")
    strict: bool | None = Field(None, description="Accepted; forced calls always follow the schema.")


class ToolDef(Strict):
    type: Literal["function"] = "function"
    function: FunctionDef


class ChoiceFunction(Strict):
    name: str


class NamedChoice(Strict):
    type: Literal["function"] = "function"
    function: ChoiceFunction


class FunctionCall(Strict):
    name: str
    arguments: str = Field(..., description="JSON text of the arguments.")


class ToolCallIn(Strict):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


ToolChoice = Literal["none", "auto", "required"] | NamedChoice


def message(plan: ToolPlan, text: str, finish: str | None) -> tuple[dict[str, Any], str | None]:
    """The assistant message for a whole answer, and its finish_reason."""
    content, calls = plan.calls(text)
    if not calls:
        return {"role": "assistant", "content": text}, finish
    return {"role": "assistant", "content": content or None,
            "tool_calls": [call_dict(c) for c in calls]}, "tool_calls"


def call_dict(c: ToolCall) -> dict[str, Any]:
    return {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}


def _turns(messages: list[Any]) -> list[Turn]:
    out = []
    for m in messages:
        calls = [ToolCall(c.function.name, c.function.arguments, c.id) for c in (m.tool_calls or [])]
        role = "system" if m.role == "developer" else m.role
        out.append(Turn(role, m.text(), calls, m.tool_call_id))
    return out


def plan_for(body: Any, engine: Any) -> ToolPlan | None:
    """The request's tool plan, or None when it neither offers tools nor carries tool history."""
    history = any(m.role == "tool" or m.tool_calls for m in body.messages)
    if body.tools is None and body.tool_choice is None and not history:
        return None
    if body.tool_choice is not None and not body.tools:
        raise InvalidParamsError("tool_choice needs tools", param="tool_choice")
    tools = parse_tools([d.model_dump(exclude_none=True) for d in body.tools or []])
    choice = body.tool_choice or "auto"
    if isinstance(choice, NamedChoice) and choice.function.name not in {t.name for t in tools}:
        raise InvalidParamsError(f"tool_choice names {choice.function.name!r}, which is not among the tools "
                                 f"({', '.join(t.name for t in tools)})", param="tool_choice")
    try:
        forced = choice.function.name if isinstance(choice, NamedChoice) else "*" if choice == "required" else None
        return ToolPlan(_turns(body.messages), tools if choice != "none" else [], forced,
                        body.parallel_tool_calls, native=engine.tool_template() is not None)
    except InvalidParamsError as exc:  # the grammar converter refused a schema: say whose
        names = ", ".join(t.name for t in tools)
        raise InvalidParamsError(f"tools ({names}): {exc.message}", param="tools") from None


class ToolStream:
    """Text pieces in, OpenAI chat deltas out (content, or tool_calls once a call is complete)."""

    def __init__(self, plan: ToolPlan):
        self.plan = plan
        self.buf = ""
        self.call: list[str] | None = None      # raw text of the call being read
        self.index = 0
        self.started = False                    # any non-space text seen yet
        self.bare = False                       # the answer opened with JSON: read it whole

    def feed(self, text: str) -> list[dict[str, Any]]:
        if not self.plan.tools:
            return [{"content": text}] if text else []
        self.buf += text
        if not self.started and self.buf.strip():
            self.started = True
            self.bare = self.buf.lstrip()[:1] in ("{", "[")
        if self.bare:
            return []
        out: list[dict[str, Any]] = []
        while True:
            if self.call is None:
                i = self.buf.find(OPEN)
                if i < 0:
                    keep = _partial_suffix(self.buf, OPEN)
                    out += _content(self.buf[:len(self.buf) - keep])
                    self.buf = self.buf[len(self.buf) - keep:]
                    return out
                out += _content(self.buf[:i])
                self.buf, self.call = self.buf[i + len(OPEN):], []
            j = self.buf.find(CLOSE)
            if j < 0:
                keep = _partial_suffix(self.buf, CLOSE)
                self.call.append(self.buf[:len(self.buf) - keep])
                self.buf = self.buf[len(self.buf) - keep:]
                return out
            self.call.append(self.buf[:j])
            self.buf = self.buf[j + len(CLOSE):]
            out += self._finish_call()

    def _finish_call(self) -> list[dict[str, Any]]:
        raw = "".join(self.call or [])
        self.call = None
        _, calls = parse_calls(f"{OPEN}{raw}{CLOSE}", self.plan.names)
        if not calls or (self.index and not self.plan.parallel):
            return _content(f"{OPEN}{raw}{CLOSE}") if not calls else []
        return self._deltas(calls[0])

    def _deltas(self, call: ToolCall) -> list[dict[str, Any]]:
        i, self.index = self.index, self.index + 1
        head = {"index": i, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}
        args = call.arguments
        parts = [args[k:k + FRAGMENT] for k in range(0, len(args), FRAGMENT)]
        return [{"tool_calls": [head]}] + [{"tool_calls": [{"index": i, "function": {"arguments": p}}]}
                                           for p in parts]

    def close(self) -> list[dict[str, Any]]:
        """At the end: what is still held (an unterminated call, a bare-JSON answer, a tail)."""
        if not self.plan.tools:
            return []
        if self.bare:
            content, calls = self.plan.calls(self.buf)
            if calls:
                return [d for c in calls for d in self._deltas(c)]
            return _content(self.buf)
        if self.call is not None:
            self.call.append(self.buf)
            self.buf = ""
            return self._finish_call()
        tail, self.buf = self.buf, ""
        return _content(tail)

    def finish_reason(self, engine_reason: str | None) -> str | None:
        return "tool_calls" if self.index else engine_reason


def _content(text: str) -> list[dict[str, Any]]:
    return [{"content": text}] if text else []


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest end of `text` that could be the start of `tag` (held back)."""
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-n:]):
            return n
    return 0
