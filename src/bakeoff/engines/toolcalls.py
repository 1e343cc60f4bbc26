"""Function calling on any engine: the prompt format, the parser, and the grammar that forces a call.

A model whose chat template renders `tools` gets them through that template (`native`). Every other
model gets the generic format, stated here once and shown by `bakeoff show`: the tools are listed
as JSON in the system message, and a call is written as

    <tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>

(the Hermes/Qwen convention, which many fine-tunes already follow). Earlier calls are shown back to
the model in that form, and tool results as `<tool_response>` blocks in a user turn.

The parser reads that form, Mistral's `[TOOL_CALLS] [...]`, and an answer that is a bare
`{"name": ..., "arguments"|"parameters": ...}` object (Llama 3.1's form). A forced call
(`tool_choice` required or a named function) is decoded under a GBNF grammar built from the
functions' JSON schemas, so its arguments always validate.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from .. import jsontext
from ..errors import InvalidParamsError
from .base import GenParams, Message
from .grammar import schema_to_grammar

OPEN, CLOSE = "<tool_call>", "</tool_call>"
GENERIC_FORMAT = ("generic: tools listed as JSON in the system message, calls written as "
                  "<tool_call>{\"name\": ..., \"arguments\": {...}}</tool_call>")


@dataclass
class Tool:
    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})

    def spec(self) -> dict[str, Any]:
        return {"type": "function", "function": {"name": self.name, "description": self.description,
                                                 "parameters": self.parameters}}


@dataclass
class ToolCall:
    name: str
    arguments: str                 # JSON text of the arguments object
    id: str = field(default_factory=lambda: f"call_{uuid.uuid4().hex[:24]}")


@dataclass
class Turn:
    """One message of a tool conversation, before rendering."""

    role: str                      # system | user | assistant | tool
    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None


_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ToolSpecError(InvalidParamsError):
    """A tool spec that cannot be used; `index` and `path` say where (path inside tools[index])."""

    def __init__(self, message: str, index: int, path: tuple = ()):
        where = f"tools[{index}]" + "".join(f".{p}" for p in path)
        super().__init__(message, param=where)
        self.index, self.path = index, path


def parse_tools(specs: list[dict[str, Any]]) -> list[Tool]:
    """OpenAI tool specs ({type: function, function: {name, description, parameters}}) as Tools,
    checked: names valid and unique, parameters a valid JSON schema. Errors name the tool."""
    import jsonschema

    tools: list[Tool] = []
    for i, spec in enumerate(specs):
        fn = spec.get("function") if isinstance(spec, dict) else None
        name = fn.get("name") if isinstance(fn, dict) else None
        if not isinstance(fn, dict) or not isinstance(name, str) or not _NAME.match(name):
            raise ToolSpecError(f"tools[{i}]: a tool is {{type: function, function: {{name, description, "
                                "parameters}}}} with a name of letters, digits, _ or - (up to 64)", i)
        if name in {t.name for t in tools}:
            raise ToolSpecError(f"tools[{i}]: a second function named {name!r}", i, ("function", "name"))
        params = fn.get("parameters")
        params = {"type": "object", "properties": {}} if params is None else params
        try:
            jsonschema.validators.validator_for(params).check_schema(params)
        except jsonschema.SchemaError as exc:
            where = "/".join(map(str, exc.path)) or "(root)"
            raise ToolSpecError(f"tools[{i}] ({name}): invalid JSON schema at {where}: {exc.message}", i,
                                ("function", "parameters", *exc.path)) from None
        tools.append(Tool(name, str(fn.get("description") or ""), params))
    return tools


def template_supports_tools(template: str | None) -> bool:
    """A chat template that renders `tools` itself (it reads the variable)."""
    return bool(template) and re.search(r"\btools\b", template or "") is not None


def describe_format(template: str | None) -> str:
    return ("native: the model's chat template renders tools" if template_supports_tools(template)
            else GENERIC_FORMAT + " (the chat template has no tool support)")


# --- the generic prompt format -----------------------------------------------------------------

def tools_prompt(tools: list[Tool], forced: str | None) -> str:
    listing = "\n".join(json.dumps({"name": t.name, "description": t.description, "parameters": t.parameters})
                        for t in tools)
    rule = (f"Call the function {forced} now." if forced and forced != "*"
            else "Call one of the functions now." if forced else
            "When a function would help, call it instead of answering; otherwise answer normally.")
    return ("You can call these functions (JSON schemas of their arguments):\n" + listing +
            f"\nTo call a function, reply with only {OPEN}{{\"name\": NAME, \"arguments\": {{...}}}}{CLOSE} "
            f"(one such line per call). {rule}")


def call_text(call: ToolCall) -> str:
    try:
        args: Any = jsontext.loads(call.arguments or "{}")
    except json.JSONDecodeError:
        args = call.arguments
    return f"{OPEN}{json.dumps({'name': call.name, 'arguments': args})}{CLOSE}"


def render_generic(turns: list[Turn], tools: list[Tool], forced: str | None) -> list[Message]:
    """Plain system/user/assistant messages any engine can take."""
    out: list[Message] = []
    extra = tools_prompt(tools, forced) if tools else ""
    rest = turns
    if turns and turns[0].role == "system":
        out.append(Message(role="system", content="\n\n".join(x for x in (turns[0].content, extra) if x)))
        rest = turns[1:]
    elif extra:
        out.append(Message(role="system", content=extra))
    for t in rest:
        if t.role == "tool":
            block = f"<tool_response>\n{t.content}\n</tool_response>"
            if out and out[-1].role == "user" and out[-1].content.startswith("<tool_response>"):
                out[-1] = Message(role="user", content=out[-1].content + "\n" + block)
            else:
                out.append(Message(role="user", content=block))
        elif t.role == "assistant" and t.tool_calls:
            text = "\n".join([t.content] * bool(t.content) + [call_text(c) for c in t.tool_calls])
            out.append(Message(role="assistant", content=text))
        else:
            out.append(Message(role=t.role, content=t.content))
    return out


def template_messages(turns: list[Turn]) -> list[dict[str, Any]]:
    """The conversation in the shape tool-aware chat templates read (OpenAI's)."""
    out = []
    for t in turns:
        m: dict[str, Any] = {"role": t.role, "content": t.content}
        if t.tool_calls:
            m["tool_calls"] = [{"id": c.id, "type": "function",
                                "function": {"name": c.name, "arguments": _json_or_text(c.arguments)}}
                               for c in t.tool_calls]
        if t.tool_call_id:
            m["tool_call_id"] = t.tool_call_id
        out.append(m)
    return out


def _json_or_text(text: str) -> Any:
    try:
        return jsontext.loads(text)
    except json.JSONDecodeError:
        return text


# --- parsing an answer ----------------------------------------------------------------------------

def _as_call(obj: Any, known: set[str]) -> ToolCall | None:
    if not isinstance(obj, dict):
        return None
    fn: dict[str, Any] = obj["function"] if isinstance(obj.get("function"), dict) else obj
    name = fn.get("name")
    args = fn.get("arguments", fn.get("parameters", {}))
    if not isinstance(name, str) or (known and name not in known):
        return None
    if isinstance(args, str):
        try:
            args = jsontext.loads(args)
        except json.JSONDecodeError:
            return None
    if not isinstance(args, dict):
        return None
    return ToolCall(name, json.dumps(args, ensure_ascii=False))


def parse_calls(text: str, known: set[str]) -> tuple[str, list[ToolCall]]:
    """(content left over, calls) from a model's answer; no valid call leaves the text as content."""
    calls: list[ToolCall] = []
    if OPEN in text:
        pieces = re.split(r"<tool_call>(.*?)(?:</tool_call>|$)", text, flags=re.DOTALL)
        content = "".join(pieces[0::2]).strip()
        for raw in pieces[1::2]:
            call = _as_call(_json_or_text(raw.strip()), known)
            if call is None:
                return text, []
            calls.append(call)
        return content, calls
    stripped = text.strip()
    if stripped.startswith("[TOOL_CALLS]"):
        stripped = stripped[len("[TOOL_CALLS]"):].strip()
    if stripped.startswith(("{", "[")):
        data = _json_or_text(stripped)
        items = data if isinstance(data, list) else [data]
        found = [_as_call(i, known) for i in items]
        if items and all(found):
            return "", [c for c in found if c]
    return text, []


# --- forcing a call ---------------------------------------------------------------------------------

def envelope_schema(tool: Tool) -> dict[str, Any]:
    return {"type": "object", "properties": {"name": {"const": tool.name}, "arguments": tool.parameters},
            "required": ["name", "arguments"], "additionalProperties": False}


def call_grammar(tools: list[Tool], parallel: bool) -> str:
    """GBNF for one call (or several, one per line) to one of `tools`, arguments per its schema."""
    schema = {"anyOf": [envelope_schema(t) for t in tools]} if len(tools) > 1 else envelope_schema(tools[0])
    body = schema_to_grammar(schema)
    body = re.sub(r"^root ::=", "call ::=", body, flags=re.MULTILINE)
    one = f'"{OPEN}" call "{CLOSE}"'
    root = f"root ::= {one}" + (f' ("\\n" {one})*' if parallel else "")
    return root + "\n" + body


# --- one chat with tools -------------------------------------------------------------------------

class ToolPlan:
    """What one chat asks of tools: how to render it, the forcing grammar, and how to read answers.

    `forced`: None (the model may call), "*" (it must call one of the tools) or a function name.
    `native`: the engine's chat template renders tools (Engine.tool_template), else the generic
    format goes through plain chat.
    """

    def __init__(self, turns: list[Turn], tools: list[Tool], forced: str | None, parallel: bool,
                 native: bool = False):
        self.turns, self.tools, self.forced = turns, tools, forced
        self.parallel, self.native = parallel, native
        self.names = {t.name for t in tools}
        offered = [t for t in tools if forced in (None, "*", t.name)]
        self.messages: list[Message] = render_generic(turns, tools, forced)
        # A forced answer is one call: small models given room for more repeat the first until the
        # token limit (parallel calls are allowed, never required).
        self.grammar = call_grammar(offered, False) if forced and offered else None

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

    def request(self, engine: Any, params: GenParams) -> tuple[Any, tuple]:
        """(engine method, its arguments) that start this chat."""
        params = self.apply(params)
        if self.native:
            specs = [t.spec() for t in self.tools] or None
            return engine.chat_tools, (template_messages(self.turns), specs, params)
        return engine.chat, (self.messages, params)

    def calls(self, text: str) -> tuple[str, list[ToolCall]]:
        """(content, calls) of an answer; with parallel calls off, only the first call counts."""
        if not self.tools:
            return text, []
        content, calls = parse_calls(text, self.names)
        return content, calls if self.parallel else calls[:1]
