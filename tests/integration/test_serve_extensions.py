"""Clients written for vLLM and llama-server, unchanged, against `bakeoff serve` with SmolLM2-135M:
their request extensions are honoured; fields Bakeoff cannot honour or does not know get a 400."""

from __future__ import annotations

import json

import httpx
import jsonschema
import openai
import pytest

from bakeoff.settings import Settings
from serve_helpers import running

MODEL = "smollm2-135m"
PERSON = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
          "required": ["name", "age"], "additionalProperties": False}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    from bakeoff.server.app import create_app

    home = tmp_path_factory.mktemp("serve-home")
    (home / "models").mkdir()
    with running(create_app(Settings(home=home), models=[MODEL], slots=4, n_ctx=2048)) as url:
        yield url


@pytest.fixture
def client(server: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=server + "/v1", api_key="unused", max_retries=0)


def chat(client: openai.OpenAI, text: str, **extra) -> openai.types.chat.ChatCompletion:
    return client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": text}],
                                          temperature=0, max_tokens=48, extra_body=extra)


def test_vllm_guided_json_and_choice_are_enforced(client: openai.OpenAI) -> None:
    r = chat(client, "Describe a person.", guided_json=PERSON, guided_decoding_backend="xgrammar",
             top_k=20, min_p=0.05, repetition_penalty=1.1, seed=7)
    jsonschema.validate(json.loads(r.choices[0].message.content), PERSON)
    r = chat(client, "Is the sky green?", guided_choice=["yes", "no", "it depends"])
    assert r.choices[0].message.content in {"yes", "no", "it depends"}
    r = chat(client, "Pick a colour.", guided_grammar='root ::= "red" | "blue"')
    assert r.choices[0].message.content in {"red", "blue"}


def test_llama_server_schema_forms(server: str, client: openai.OpenAI) -> None:
    r = chat(client, "Describe a person.", response_format={"type": "json_object", "schema": PERSON})
    jsonschema.validate(json.loads(r.choices[0].message.content), PERSON)
    body = {"model": MODEL, "prompt": "A person as JSON:", "n_predict": 40, "temperature": 0,
            "json_schema": PERSON, "cache_prompt": True}
    out = httpx.post(server + "/v1/completions", json=body, timeout=120).json()
    jsonschema.validate(json.loads(out["choices"][0]["text"]), PERSON)
    assert out["usage"]["completion_tokens"] <= 40


def test_ignore_eos_and_min_tokens_set_the_length(client: openai.OpenAI) -> None:
    short = chat(client, "Say only the word hi.")
    assert short.choices[0].finish_reason == "stop" and short.usage.completion_tokens < 30
    r = chat(client, "Say only the word hi.", ignore_eos=True)
    assert r.choices[0].finish_reason == "length" and r.usage.completion_tokens == 48
    r = chat(client, "Say only the word hi.", min_tokens=short.usage.completion_tokens + 5)
    assert r.usage.completion_tokens >= short.usage.completion_tokens + 5


def test_penalties_cut_repetition(client: openai.OpenAI) -> None:
    def apples(**kw) -> int:
        r = client.completions.create(model=MODEL, prompt="apple, apple, apple, apple, apple,", max_tokens=24,
                                      temperature=0, **kw)
        return r.choices[0].text.count("apple")

    plain = apples()
    assert plain >= 4  # greedy SmolLM2 keeps listing apples
    assert apples(extra_body={"repetition_penalty": 3.0}) < plain
    assert apples(frequency_penalty=2.0) < plain


@pytest.mark.parametrize("extra, param, words", [
    ({"guided_regex": "[0-9]+"}, "guided_regex", "not supported"),
    ({"best_of": 3}, "best_of", "not supported"),
    ({"guided_json": PERSON, "guided_choice": ["a"]}, "guided_json", "one output constraint"),
    ({"top_n_sigma": 1.0}, None, "top_n_sigma"),
])
def test_what_cannot_be_honoured_is_a_400_naming_it(server: str, extra: dict, param: str | None,
                                                   words: str) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, **extra}
    r = httpx.post(server + "/v1/chat/completions", json=body, timeout=60)
    assert r.status_code == 400
    err = r.json()["error"]
    assert words in err["message"] and (param is None or err["param"] == param)
