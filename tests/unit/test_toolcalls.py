"""Tool-call parsing and OpenAI-shaped streaming, on fixed model outputs."""

from __future__ import annotations

import json

from bakeoff.engines.toolcalls import (
    Tool,
    ToolCall,
    ToolPlan,
    Turn,
    parse_calls,
    render_generic,
    template_supports_tools,
)
from bakeoff.server.tools import ToolStream

TOOLS = [Tool("get_weather", "Weather", {"type": "object", "properties": {"city": {"type": "string"}}}),
         Tool("get_time", "Time", {"type": "object"})]


def plan(choice="auto", parallel=True) -> ToolPlan:
    forced = {"auto": None, "none": None, "required": "*"}.get(choice, choice)
    return ToolPlan([Turn("user", "hi")], TOOLS if choice != "none" else [], forced, parallel)


def test_parse_forms() -> None:
    known = {"get_weather", "get_time"}
    text = 'Sure. <tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call>'
    content, calls = parse_calls(text, known)
    assert content == "Sure."
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [("get_weather", {"city": "Oslo"})]
    _, calls = parse_calls('[TOOL_CALLS] [{"name": "get_time", "arguments": {"zone": "UTC"}}]', known)
    assert calls[0].name == "get_time"
    _, calls = parse_calls('{"name": "get_weather", "parameters": {"city": "Rome"}}', known)   # Llama 3.1's form
    assert json.loads(calls[0].arguments) == {"city": "Rome"}
    for text in ('<tool_call>{"name": "launch", "arguments": {}}</tool_call>',   # not offered
                 '<tool_call>{"name": "get_time", "arguments": [1]}</tool_call>',  # arguments not an object
                 '{"city": "Oslo"}', "plain words"):
        assert parse_calls(text, known) == (text, []), text


def test_generic_rendering_of_a_tool_conversation() -> None:
    call = ToolCall("get_weather", '{"city": "Oslo"}', "call_1")
    turns = [Turn("system", "Be brief."), Turn("user", "Weather?"), Turn("assistant", "", [call]),
             Turn("tool", '{"t": 3}', tool_call_id="call_1"), Turn("tool", '{"t": 4}', tool_call_id="call_2")]
    msgs = render_generic(turns, TOOLS, None)
    assert [m.role for m in msgs] == ["system", "user", "assistant", "user"]
    assert msgs[0].content.startswith("Be brief.\n\nYou can call these functions")
    assert '"name": "get_time"' in msgs[0].content
    assert msgs[2].content == '<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call>'
    assert msgs[3].content == '<tool_response>\n{"t": 3}\n</tool_response>\n<tool_response>\n{"t": 4}\n</tool_response>'
    assert not template_supports_tools("{% for m in messages %}{{ m.content }}{% endfor %}")
    assert template_supports_tools("{% if tools %}{{ tools | tojson }}{% endif %}")


def stream(p: ToolPlan, pieces: list[str]) -> tuple[list[dict], str | None]:
    s = ToolStream(p)
    out = [d for piece in pieces for d in s.feed(piece)] + s.close()
    return out, s.finish_reason("stop")


def test_stream_sends_content_then_calls_in_openai_deltas() -> None:
    text = 'Checking. <tool_call>{"name": "get_weather", "arguments": {"city": "Reykjavik, Iceland"}}</tool_call>'
    deltas, finish = stream(plan(), [text[i:i + 3] for i in range(0, len(text), 3)])
    content = "".join(d.get("content", "") for d in deltas)
    calls = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    assert content == "Checking. " and finish == "tool_calls"
    assert calls[0]["function"] == {"name": "get_weather", "arguments": ""} and calls[0]["id"].startswith("call_")
    assert len(calls) > 2 and all(set(c) == {"index", "function"} for c in calls[1:])
    assert json.loads("".join(c["function"]["arguments"] for c in calls)) == {"city": "Reykjavik, Iceland"}


def test_stream_edge_cases() -> None:
    # a lone "<" that turns out not to open a call is still sent; text with no call keeps its finish
    deltas, finish = stream(plan(), ["a <", "b", " c"])
    assert "".join(d["content"] for d in deltas) == "a <b c" and finish == "stop"
    # an invalid call is content; with parallel_tool_calls false only the first call is sent
    bad = "<tool_call>{oops}</tool_call>"
    assert stream(plan(), [bad])[0] == [{"content": bad}]
    two = '<tool_call>{"name": "get_time", "arguments": {}}</tool_call>' * 2
    assert sum("id" in d["tool_calls"][0] for d in stream(plan(parallel=False), [two])[0]) == 1
    # a bare JSON answer is read whole; tool_choice none streams plain content
    deltas, finish = stream(plan(), ['{"name": "get_time",', ' "arguments": {}}'])
    assert finish == "tool_calls" and deltas[0]["tool_calls"][0]["function"]["name"] == "get_time"
    assert stream(plan("none"), ["<tool_call>x"])[0] == [{"content": "<tool_call>x"}]


def test_named_choice_builds_a_grammar_for_that_function_only() -> None:
    p = plan("get_time")
    assert p.grammar is not None and "get_time" in p.grammar and "get_weather" not in p.grammar
    assert "Call the function get_time now." in p.messages[0].content
