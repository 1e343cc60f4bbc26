"""A model whose chat template renders tools gets them through that template (not the generic
format): a tiny random-weight llama with a Hermes-style tool template, served over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from bakeoff.engines import LoadOptions, open_engine
from bakeoff.models.ref import ModelRef
from bakeoff.settings import Settings
from serve_helpers import running
from tinygguf import write_tiny

TEMPLATE = """{%- if tools %}<|im_start|>system
TOOLS:{% for t in tools %} {{ t.function.name }}={{ t.function.parameters | tojson }}{% endfor %}<|im_end|>
{% endif %}{%- for m in messages %}<|im_start|>{{ m.role }}
{% if m.tool_calls %}{% for c in m.tool_calls %}<tool_call>{{ c.function | tojson }}</tool_call>{% endfor %}\
{% else %}{{ m.content }}{% endif %}<|im_end|>
{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant
{% endif %}"""
TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {
    "type": "object", "properties": {"term": {"type": "string"}}, "required": ["term"]}}}


@pytest.fixture(scope="module")
def tiny_tools(tmp_path_factory: pytest.TempPathFactory, smollm2_path: Path) -> Path:
    return write_tiny("llama", tmp_path_factory.mktemp("tiny") / "tiny-tools.gguf", smollm2_path,
                      chat_template=TEMPLATE)


def test_template_renders_tools_and_history(tiny_tools: Path) -> None:
    ref = ModelRef(name="tiny-tools", engine="llamacpp", source="file", path=str(tiny_tools))
    engine = open_engine(ref, LoadOptions(n_ctx=512))
    try:
        assert engine.tool_template() == TEMPLATE
        msgs = [{"role": "user", "content": "define cat"},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"id": "call_1", "type": "function",
                     "function": {"name": "lookup", "arguments": {"term": "cat"}}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "a small feline"}]
        text = engine.format_chat(msgs, [TOOL])
    finally:
        engine.close()
    assert 'TOOLS: lookup={"type": "object", "properties": {"term": {"type": "string"}}' in text
    assert '<tool_call>{"name": "lookup", "arguments": {"term": "cat"}}</tool_call>' in text
    assert "<|im_start|>tool\na small feline" in text and "You can call these functions" not in text


def test_forced_call_through_the_native_template_over_http(tiny_tools: Path, tmp_path: Path) -> None:
    from bakeoff.server.app import create_app

    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "tiny-tools.gguf").symlink_to(tiny_tools)
    # an enum keeps the forced call short: random weights would otherwise write a long string
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {
        "type": "object", "properties": {"term": {"enum": ["cat", "dog"]}}, "required": ["term"]}}}
    body = {"model": "tiny-tools", "messages": [{"role": "user", "content": "define cat"}], "tools": [tool],
            "tool_choice": "required", "max_tokens": 40, "temperature": 0}
    with running(create_app(Settings(home=tmp_path), models=["tiny-tools"], slots=1, n_ctx=512)) as url:
        out = httpx.post(url + "/v1/chat/completions", json=body, timeout=120).json()
    assert "choices" in out, out
    choice = out["choices"][0]
    # random weights, but the grammar makes the call well-formed whatever the model prefers
    assert choice["finish_reason"] == "tool_calls", out
    call = choice["message"]["tool_calls"][0]["function"]
    assert call["name"] == "lookup" and json.loads(call["arguments"])["term"] in ("cat", "dog")
