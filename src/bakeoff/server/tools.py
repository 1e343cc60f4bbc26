"""OpenAI tools on /v1/chat/completions: request shapes, checks, rendering, answers and streams.

The routes call four hooks: `plan_for(body, engine)` (None when the request has no tools and no
tool history: the plain path is untouched), `ToolPlan.request` (which engine call renders the
conversation: the model's own template when it renders tools, else the generic format),
`ToolPlan.message(text, finish)` for a whole answer, and `ToolStream` for a streamed one. Prompt format, parsing and the forcing grammar are the engine
layer's (engines/toolcalls.py): the same on every engine.

Streaming: content streams as it comes; a tool call is held until it is complete (so only calls
that parse are sent), then sent as OpenAI sends one: a delta with index, id, type and name and
empty arguments, then the arguments in fragments; the last chunk's finish_reason is tool_calls.
"""

from __future__ import annotations

from typing import Any, Literal

import jsonschema
from pydantic import BaseModel, ConfigDict, Field

from ..engines.base import GenParams, Message
from ..engines.toolcalls import (CLOSE, OPEN, Tool, ToolCall, Turn, call_grammar, parse_calls,
                                 render_generic, template_messages)
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


class ToolPlan:
    """What one request asks of tools: the rendered messages, the forced call, the parser's names."""

    def __init__(self, turns: list[Turn], tools: list[Tool], choice: Any, parallel: bool,
                 native: bool = False):
        self.tools = tools if choice != "none" else []
        self.parallel, self.native, self.turns = parallel, native, turns
        self.forced = (choice.function.name if isinstance(choice, NamedChoice)
                       else "*" if choice == "required" else None)
        offered = [t for t in self.tools if self.forced in (None, "*", t.name)]
        self.messages: list[Message] = render_generic(turns, self.tools, self.forced)
        # A forced answer is one call: small models given room for more repeat the first until the
        # token limit (parallel_tool_calls allows several calls; it does not ask for them).
        self.grammar = call_grammar(offered, False, _schema_to_grammar) if self.forced and offered else None
        self.names = {t.name for t in self.tools}

    def request(self, engine: Any, params: GenParams) -> tuple[Any, tuple]:
        """(engine method, its arguments): through the model's tool-aware template when it has
        one, else the generic format through plain chat."""
        params = self.apply(params)
        if self.native:
            specs = [t.spec() for t in self.tools] or None
            return engine.chat_tools, (template_messages(self.turns), specs, params)
        return engine.chat, (self.messages, params)

    def apply(self, params: GenParams) -> GenParams:
        update: dict[str, Any] = {}
        if self.grammar:
            if params.json_schema or params.grammar:
                raise InvalidParamsError("a forced tool call cannot be combined with response_format or "
                                         "another output constraint", param="tool_choice")
            update["grammar"] = self.grammar
        elif self.tools and not self.parallel:
            update["stop"] = [*params.stop, CLOSE]  # one call, then stop
        return params.model_copy(update=update) if update else params

    def calls(self, text: str) -> tuple[str, list[ToolCall]]:
        if not self.tools:
            return text, []
        content, calls = parse_calls(text, self.names)
        return content, calls if self.parallel else calls[:1]

    def message(self, text: str, finish: str | None) -> tuple[dict[str, Any], str | None]:
        """The assistant message for a whole answer, and its finish_reason."""
        content, calls = self.calls(text)
        if not calls:
            return {"role": "assistant", "content": text}, finish
        return {"role": "assistant", "content": content or None,
                "tool_calls": [call_dict(c) for c in calls]}, "tool_calls"


def call_dict(c: ToolCall) -> dict[str, Any]:
    return {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}


def _schema_to_grammar(schema: dict[str, Any]) -> str:
    from ..engines.llamacpp import schema_to_grammar

    return schema_to_grammar(schema)


def _tools(defs: list[ToolDef]) -> list[Tool]:
    """Tools after the checks: unique names, valid JSON schemas (400s naming the tool)."""
    tools, seen = [], set()
    for i, d in enumerate(defs):
        fn = d.function
        if fn.name in seen:
            raise InvalidParamsError(f"tools[{i}]: a second function named {fn.name!r}", param=f"tools[{i}]")
        seen.add(fn.name)
        params = fn.parameters if fn.parameters is not None else {"type": "object", "properties": {}}
        try:
            jsonschema.validators.validator_for(params).check_schema(params)
        except jsonschema.SchemaError as exc:
            where = "/".join(map(str, exc.path)) or "(root)"
            raise InvalidParamsError(f"tools[{i}] ({fn.name}): invalid JSON schema at {where}: {exc.message}",
                                     param=f"tools[{i}].function.parameters") from None
        tools.append(Tool(fn.name, fn.description or "", params))
    return tools


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
    tools = _tools(body.tools or [])
    choice = body.tool_choice or "auto"
    if isinstance(choice, NamedChoice) and choice.function.name not in {t.name for t in tools}:
        raise InvalidParamsError(f"tool_choice names {choice.function.name!r}, which is not among the tools "
                                 f"({', '.join(t.name for t in tools)})", param="tool_choice")
    try:
        return ToolPlan(_turns(body.messages), tools, choice, body.parallel_tool_calls,
                        native=engine.tool_template() is not None)
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
