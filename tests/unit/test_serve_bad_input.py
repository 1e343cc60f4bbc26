"""Odd input to the server gets a 4xx that says what is wrong, never a 500; the 500s that remain are
counted in /metrics and name no absolute server path."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bakeoff.server.app import create_app  # noqa: E402
from bakeoff.settings import get_settings  # noqa: E402
from fake_engine import install  # noqa: E402

SURROGATE = b'"hi \\ud800 there"'   # valid JSON, not valid text


def _boom(prompt: str) -> str:
    raise RuntimeError("the engine fell over")


@pytest.fixture
def client(bakeoff_home):
    (bakeoff_home / "models" / "broken.gguf").write_bytes(b"not a model at all, " * 4)
    undo = install({"fake-a": lambda p: "alpha answer", "fake-boom": _boom})
    app = create_app(get_settings(), ["fake-a", "fake-boom", "broken"])
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as c:
        yield c
    undo()


def _post_raw(client, path: str, body: bytes):
    return client.post(path, content=body, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("path, body", [
    ("/v1/chat/completions", b'{"model": "fake-a", "messages": [{"role": "user", "content": %s}]}'),
    ("/v1/completions", b'{"model": "fake-a", "prompt": %s}'),
    ("/api/conversations", b'{"model": "fake-a", "title": %s}'),
    ("/api/arena/battles", b'{"prompt": %s}'),
    ("/api/generate", b'{"model": "fake-a", "messages": [{"role": "user", "content": %s}]}'),
])
def test_a_lone_surrogate_is_a_400_that_names_the_field(client, path, body):
    r = _post_raw(client, path, body % SURROGATE)
    assert r.status_code == 400, r.text
    assert "lone UTF-16 surrogate" in r.text


def test_a_whitespace_only_first_message_is_answered(client):
    conv = client.post("/api/conversations", json={"model": "fake-a"}).json()
    r = client.post(f"/api/conversations/{conv['id']}/messages", json={"content": "  \n\t "})
    assert r.status_code == 200 and '"type": "done"' in r.text
    assert client.get(f"/api/conversations/{conv['id']}").json()["title"] == "New chat"


@pytest.mark.parametrize("method, path", [
    ("get", "/api/conversations/99999999999999999999999"),
    ("delete", "/api/conversations/99999999999999999999999"),
    ("get", "/api/arena/battles/99999999999999999999999"),
    ("post", "/api/arena/battles/99999999999999999999999/reveal"),
    ("delete", "/api/presets/99999999999999999999999"),
])
def test_huge_ids_are_a_400(client, method, path):
    r = getattr(client, method)(path)
    assert r.status_code == 400 and "less than or equal to" in r.text


@pytest.mark.parametrize("name", ["/etc/passwd.gguf", "../../x.gguf", "~/models/m.gguf"])
def test_the_ui_api_serves_only_its_models_never_a_path(client, name):
    r = client.post("/api/conversations", json={"model": name})
    assert r.status_code == 404 and "unknown model" in r.json()["error"]["message"]
    conv = client.post("/api/conversations", json={"model": "fake-a"}).json()
    assert client.patch(f"/api/conversations/{conv['id']}", json={"model": name}).status_code == 404


def test_server_errors_name_no_absolute_path_and_are_counted(client, bakeoff_home):
    r = client.post("/v1/chat/completions", json={"model": "broken", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 500 and "broken.gguf" in r.text
    assert str(bakeoff_home) not in r.text and "/models/" not in r.text
    r = client.post("/v1/completions", json={"model": "fake-boom", "prompt": "hi"})
    assert r.status_code == 500 and r.json()["error"]["message"] == "internal error (RuntimeError)"
    metrics = client.get("/metrics").text
    assert 'bakeoff_requests_total{endpoint="/v1/completions",status="500"} 1' in metrics
    assert 'bakeoff_requests_total{endpoint="/v1/chat/completions",status="500"} 1' in metrics


def test_errors_inside_a_ui_stream_name_no_absolute_path_nor_internals(client, bakeoff_home):
    body = {"messages": [{"role": "user", "content": "hi"}]}
    for model, expected in (("broken", "broken.gguf"), ("fake-boom", "internal error (RuntimeError)")):
        r = client.post("/api/generate", json={"model": model, **body})
        events = [json.loads(line) for line in r.text.splitlines() if line.strip()]
        error = next(e for e in events if e["type"] == "error")
        assert expected in error["message"], error
        assert str(bakeoff_home) not in r.text and "fell over" not in r.text


@pytest.mark.parametrize("params, problem", [
    ({"stop": [f"s{i}" for i in range(10_000)]}, "at most 32 stop sequences"),
    ({"stop": ["x" * 100_000]}, "more than 512"),
])
def test_the_ui_api_refuses_stops_that_would_stall_every_request(client, params, problem):
    """Stops are matched on the thread that decodes the whole batch: the UI's free-form params took
    ten thousand stop strings (the OpenAI routes allow 4)."""
    r = client.post("/api/generate", json={"model": "fake-a", "messages": [{"role": "user", "content": "hi"}],
                                           "params": params})
    text = r.text if r.status_code == 400 else "".join(
        json.loads(line).get("message", "") for line in r.text.splitlines() if line.strip())
    assert problem in text, (r.status_code, r.text[:300])
    conv = client.post("/api/conversations", json={"model": "fake-a", "params": params})
    assert conv.status_code == 400 and problem in conv.text


@pytest.mark.parametrize("name", ["a" * 5000, "m\x00odel", "a" * 300 + ".gguf"])
def test_a_model_name_no_file_can_have_is_unknown_not_a_500(client, name):
    """A 5,000-character name reached the filesystem (is it a file?) and gave 500 OSError."""
    r = client.post("/v1/chat/completions", json={"model": name, "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 404 and "unknown model" in r.json()["error"]["message"]
    assert client.post("/api/conversations", json={"model": name}).status_code == 404


def test_embeddings_take_at_most_2048_inputs(client):
    """100,000 one-character inputs (8 MiB allows a million) held the model for minutes."""
    r = client.post("/v1/embeddings", json={"model": "fake-a", "input": ["x"] * 2049})
    assert r.status_code == 400 and "2,049 items, more than the 2,048" in r.json()["error"]["message"]


def test_a_conversation_title_is_at_most_200_characters(client):
    """A 1,000,000-character title was stored and sent with every conversation list."""
    r = client.post("/api/conversations", json={"model": "fake-a", "title": "t" * 1_000_000})
    assert r.status_code == 400 and "at most 200 characters" in r.text
    conv = client.post("/api/conversations", json={"model": "fake-a", "title": "t" * 200}).json()
    assert client.patch(f"/api/conversations/{conv['id']}", json={"title": "t" * 201}).status_code == 400


def _nested(depth: int) -> dict:
    schema: dict = {"type": "string"}
    for _ in range(depth):
        schema = {"anyOf": [schema]}
    return schema


@pytest.mark.parametrize("path, body", [
    ("/v1/chat/completions", {"model": "fake-a", "messages": [{"role": "user", "content": "hi"}],
                              "response_format": {"type": "json_schema",
                                                  "json_schema": {"name": "x", "schema": _nested(300)}}}),
    ("/v1/chat/completions", {"model": "fake-a", "messages": [{"role": "user", "content": "hi"}],
                              "tools": [{"type": "function", "function": {"name": "f", "parameters": _nested(300)}}]}),
    ("/v1/completions", {"model": "fake-a", "prompt": "hi", "guided_json": _nested(300)}),
    ("/api/presets", {"name": "deep", "params": _nested(300)}),
])
def test_a_body_nested_too_deeply_is_a_400(client, path, body):
    """Probe 5: a schema or tool nested 300 deep (600 JSON levels, 8 KiB) passed the JSON parser
    and then overflowed Python's stack while checked: a 500 'internal error (RecursionError)'."""
    r = client.post(path, json=body)
    assert r.status_code == 400, r.text
    assert "nested" in r.text and "deep" in r.text, r.text


def test_a_body_nested_reasonably_deep_is_accepted(client):
    r = client.post("/v1/chat/completions", json={
        "model": "fake-a", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2,
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {
            "type": "object", "properties": {"a": _nested(60)}}}}]})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("prompt", ["   \n ", "\u3000\t"])
def test_an_arena_battle_on_a_blank_prompt_is_a_400(client, prompt):
    """Probe 5: an empty prompt was refused but a blank one started a battle whose votes count
    in the ratings."""
    r = client.post("/api/arena/battles", json={"prompt": prompt})
    assert r.status_code == 400, r.text
    assert "blank" in r.text
