"""The OpenAI-compatible server, end to end: official openai client (sync and async, streaming and
not) against uvicorn on 127.0.0.1 with SmolLM2-135M, continuously batched."""

from __future__ import annotations

import asyncio
import json

import httpx
import jsonschema
import openai
import pytest

from bakeoff.settings import Settings
from serve_helpers import running

MODEL = "smollm2-135m"


def make_app(tmp_path_factory: pytest.TempPathFactory, **kw):
    from bakeoff.server.app import create_app

    home = tmp_path_factory.mktemp("serve-home")
    (home / "models").mkdir()
    return create_app(Settings(home=home), **kw)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """SmolLM2 with 8 slots and room for 16 waiting requests."""
    app = make_app(tmp_path_factory, models=[MODEL], slots=8, max_queue=16, n_ctx=2048)
    with running(app) as url:
        yield url


@pytest.fixture
def client(server: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=server + "/v1", api_key="unused", max_retries=0)


def count_prompt(start: int) -> str:
    return ", ".join(str(start + i) for i in range(5)) + ","


def test_models_and_unknown_model_is_404(client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list().data]
    assert ids == ["SmolLM2-135M-Instruct-Q4_1"]
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    assert err.value.code == "model_not_found"
    assert "unknown model" in err.value.body["message"]


def test_sync_chat_plain_and_streaming(client: openai.OpenAI) -> None:
    msgs = [{"role": "user", "content": "What is the capital of France?"}]
    full = client.chat.completions.create(model=MODEL, messages=msgs, max_tokens=12, temperature=0)
    text = full.choices[0].message.content
    assert text and full.choices[0].finish_reason in ("stop", "length")
    assert full.usage.completion_tokens <= 12 and full.usage.prompt_tokens > 5
    chunks = list(client.chat.completions.create(model=MODEL, messages=msgs, max_tokens=12, temperature=0,
                                                 stream=True, stream_options={"include_usage": True}))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == text  # greedy: the stream carries the same answer
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == full.usage.total_tokens
    # The same conversation again: its prompt's KV entries are reused, all but the last token.
    assert chunks[-1].usage.prompt_tokens_details.cached_tokens == full.usage.prompt_tokens - 1


def test_sse_ends_with_done(server: str) -> None:
    body = {"model": MODEL, "prompt": "Once upon a time", "max_tokens": 4, "stream": True}
    with httpx.stream("POST", server + "/v1/completions", json=body, timeout=60) as r:
        lines = [ln for ln in r.iter_lines() if ln]
    assert r.headers["content-type"].startswith("text/event-stream")
    assert lines[-1] == "data: [DONE]"
    finals = [json.loads(ln[6:]) for ln in lines[:-1] if '"finish_reason":"length"' in ln]
    assert len(finals) == 1


def test_async_client_streams_and_completes(server: str) -> None:
    async def main() -> tuple[str, str]:
        aclient = openai.AsyncOpenAI(base_url=server + "/v1", api_key="unused", max_retries=0)
        stream = await aclient.completions.create(model=MODEL, prompt=count_prompt(1), max_tokens=6,
                                                  temperature=0, stream=True)
        parts = [c.choices[0].text async for c in stream if c.choices]
        plain = await aclient.completions.create(model=MODEL, prompt=count_prompt(1), max_tokens=6,
                                                 temperature=0)
        return "".join(parts), plain.choices[0].text

    streamed, plain = asyncio.run(main())
    assert streamed == plain and plain.startswith(" 6, 7")


def test_stop_max_tokens_seed(client: openai.OpenAI) -> None:
    out = client.completions.create(model=MODEL, prompt=count_prompt(1), max_tokens=12, temperature=0,
                                    stop=[" 8"])
    assert out.choices[0].text == " 6, 7," and out.choices[0].finish_reason == "stop"
    a, b = (client.completions.create(model=MODEL, prompt="My favourite animal is", max_tokens=8,
                                      temperature=1.0, seed=7).choices[0].text for _ in range(2))
    assert a == b


def test_json_schema_response_format(client: openai.OpenAI) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 20}},
              "required": ["city"], "additionalProperties": False}
    out = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Name a city in France as JSON."}], max_tokens=40,
        temperature=0, response_format={"type": "json_schema", "json_schema": {"name": "c", "schema": schema}})
    jsonschema.validate(json.loads(out.choices[0].message.content), schema)


def test_chat_logprobs(client: openai.OpenAI) -> None:
    out = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hi"}],
                                         max_tokens=4, temperature=0, logprobs=True, top_logprobs=3)
    content = out.choices[0].logprobs.content
    assert len(content) == out.usage.completion_tokens
    for tok in content:
        assert len(tok.top_logprobs) == 3
        assert tok.logprob == pytest.approx(tok.top_logprobs[0].logprob)  # greedy picks the top token


def test_prompt_over_context_is_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as err:
        client.completions.create(model=MODEL, prompt="word " * 3000, max_tokens=1)
    assert err.value.code == "context_length_exceeded"


def test_embeddings(client: openai.OpenAI) -> None:
    import numpy as np

    texts = ["The cat sat on the mat.", "A cat was sitting on a rug.", "Quarterly revenue rose 5 percent."]
    out = client.embeddings.create(model=MODEL, input=texts)
    v = np.array([d.embedding for d in sorted(out.data, key=lambda d: d.index)])
    assert v.shape == (3, 576) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2]  # closer in meaning, closer in space
    assert out.usage.prompt_tokens > 10
