"""`tool-call` and `no-tool-call`: did the model call a function, the right one, with the right
arguments? Answers are read with the parser `bakeoff serve` uses (engines/toolcalls.py).

```yaml
tools: [{type: function, function: {name: get_weather, parameters: {...}}}]
assert:
  - {type: tool-call}                                   # any valid call to an offered function
  - {type: tool-call, value: get_weather}               # that function
  - {type: tool-call, value: {name: get_weather, arguments: {city: Paris}}}   # these argument values
  - {type: tool-call, value: {name: get_weather, schema: {required: [unit]}}} # arguments match a schema
  - {type: no-tool-call}                                # answered without calling
```

A call is valid when it parses, names an offered function and its arguments validate against that
function's parameters schema; every tool-call outcome records whether the answer's calls were all
valid (`details.valid_call`), which the leaderboard reports as the rate of valid tool calls.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from ..engines.toolcalls import OPEN, Tool, ToolCall, parse_calls
from .registry import Context, Outcome, register


def _prepare(spec: dict, base: Path) -> dict:
    value = spec.get("value")
    if value is None or isinstance(value, str):
        return {**spec, "value": {"name": value} if value else {}}
    if not isinstance(value, dict) or set(value) - {"name", "arguments", "schema"}:
        raise ValueError("value is a function name or {name, arguments: {...}, schema: {...}}")
    if value.get("schema") is not None:
        try:
            jsonschema.validators.validator_for(value["schema"]).check_schema(value["schema"])
        except jsonschema.SchemaError as exc:
            raise ValueError(f"invalid JSON schema: {exc.message}") from None
    if value.get("arguments") is not None and not isinstance(value["arguments"], dict):
        raise ValueError("arguments is a mapping of argument names to the values expected")
    return spec


def read_calls(output: str, tools: list[Tool]) -> tuple[bool, list[ToolCall], list[str]]:
    """(attempted, calls, problems): problems name each call that is not valid."""
    _, calls = parse_calls(output, set())
    attempted = bool(calls) or OPEN in output
    if attempted and not calls:
        return True, [], ["a tool call that does not parse"]
    by_name = {t.name: t for t in tools}
    problems = []
    for c in calls:
        tool = by_name.get(c.name)
        if tool is None:
            problems.append(f"{c.name} is not an offered function")
            continue
        err = next(iter(jsonschema.validators.validator_for(tool.parameters)(tool.parameters)
                        .iter_errors(json.loads(c.arguments))), None)
        if err is not None:
            problems.append(f"{c.name} arguments: {err.message}")
    return attempted, calls, problems


def _matches(call: ToolCall, want: dict[str, Any]) -> bool:
    args = json.loads(call.arguments)
    if want.get("name") and call.name != want["name"]:
        return False
    if any(args.get(k) != v for k, v in (want.get("arguments") or {}).items()):
        return False
    schema = want.get("schema")
    return schema is None or jsonschema.validators.validator_for(schema)(schema).is_valid(args)


def _describe(want: dict[str, Any]) -> str:
    parts = [want.get("name") or "a function"]
    if want.get("arguments"):
        parts.append(f"with {json.dumps(want['arguments'])}")
    if want.get("schema"):
        parts.append("with arguments matching the schema")
    return " ".join(parts)


@register("tool-call", prepare=_prepare, needs_value=False)
def _tool_call(output: str, spec: dict, ctx: Context) -> Outcome:
    attempted, calls, problems = read_calls(output, ctx.tools)
    details = {"valid_call": bool(calls) and not problems,
               "calls": [{"name": c.name, "arguments": json.loads(c.arguments)} for c in calls]}
    if not calls:
        return Outcome(False, 0.0, problems[0] if problems else "no tool call", details=details)
    if problems:
        return Outcome(False, 0.0, f"invalid call: {problems[0]}", details=details)
    want = spec["value"]
    hit = next((c for c in calls if _matches(c, want)), None)
    if hit is None:
        got = ", ".join(f"{c.name}({c.arguments})" for c in calls)
        return Outcome(False, 0.0, f"expected a call to {_describe(want)}; got {got}", details=details)
    return Outcome(True, 1.0, f"called {hit.name}({hit.arguments})", details=details)


@register("no-tool-call", needs_value=False)
def _no_tool_call(output: str, spec: dict, ctx: Context) -> Outcome:
    attempted, calls, _ = read_calls(output, ctx.tools)
    if attempted:
        names = ", ".join(c.name for c in calls) or "an unparseable call"
        return Outcome(False, 0.0, f"called {names} instead of answering")
    return Outcome(True, 1.0, "answered without a tool call")
