"""Function calling through `bakeoff serve` with the official openai client and SmolLM2-135M: a full
call -> tool result -> answer loop, streamed calls, and 400s for bad tools."""

from __future__ import annotations

import json

import jsonschema
import openai
import pytest

from bakeoff.settings import Settings
from serve_helpers import running

MODEL = "smollm2-135m"
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                    "unit": {"enum": ["celsius", "fahrenheit"]}},
                   "required": ["city", "unit"], "additionalProperties": False}}}
TIME = {"type": "function", "function": {
    "name": "get_time", "description": "Current time in a time zone",
    "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}}}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    from bakeoff.server.app import create_app

    home = tmp_path_factory.mktemp("serve-home")
    (home / "models").mkdir()
    with running(create_app(Settings(home=home), models=[MODEL], slots=2, n_ctx=2048)) as url:
        yield openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)


def test_call_tool_result_answer_loop(client: openai.OpenAI) -> None:
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER, TIME],
                                           tool_choice="required", temperature=0, max_tokens=60)
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.id.startswith("call_") and call.function.name in {"get_weather", "get_time"}
    schema = {"get_weather": WEATHER, "get_time": TIME}[call.function.name]["function"]["parameters"]
    jsonschema.validate(json.loads(call.function.arguments), schema)   # the grammar guarantees it
    messages += [choice.message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": '{"temperature": 21, "sky": "clear"}'}]
    answer = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER, TIME],
                                            tool_choice="none", temperature=0, max_tokens=40)
    assert answer.choices[0].finish_reason in ("stop", "length")
    assert answer.choices[0].message.content and not answer.choices[0].message.tool_calls


def test_named_function_streams_like_openai(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Weather in Oslo, in celsius?"}], tools=[WEATHER, TIME],
        tool_choice={"type": "function", "function": {"name": "get_weather"}}, temperature=0, max_tokens=60,
        stream=True)
    deltas, finish = [], None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.tool_calls:
            deltas += chunk.choices[0].delta.tool_calls
        if chunk.choices and chunk.choices[0].finish_reason:
            finish = chunk.choices[0].finish_reason
    assert finish == "tool_calls" and len(deltas) >= 2
    head, rest = deltas[0], deltas[1:]
    assert head.index == 0 and head.id.startswith("call_") and head.function.name == "get_weather"
    assert all(d.index == 0 and d.id is None and d.function.name is None for d in rest)
    args = json.loads("".join(d.function.arguments for d in deltas))
    jsonschema.validate(args, WEATHER["function"]["parameters"])


@pytest.mark.parametrize("tools, choice, words", [
    ([{"type": "function", "function": {"name": "bad", "parameters": {"type": "objekt"}}}], "auto",
     "tools[0] (bad): invalid JSON schema"),
    ([WEATHER], {"type": "function", "function": {"name": "get_time"}}, "not among the tools"),
    ([WEATHER, WEATHER], "auto", "a second function named 'get_weather'"),
])
def test_bad_tools_are_400s(client: openai.OpenAI, tools: list, choice, words: str) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}], tools=tools,
                                       tool_choice=choice, max_tokens=4)
    assert words in str(exc.value)
