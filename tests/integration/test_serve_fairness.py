"""One client cannot hold the server: a client that leaves (answer not streamed, or streamed and
still in prompt processing) frees its slot; a huge JSON schema is refused; a chat template that
never ends does not block other requests or /health."""

from __future__ import annotations

import json
import math
import socket
import threading
import time
from urllib.parse import urlsplit

import httpx
import pytest

from serve_helpers import metric, running
from test_serve_openai import MODEL, count_prompt, make_app

SLOT_FREED_S = 60   # a hang guard, not a speed claim: the answers cut short would take minutes


@pytest.fixture(scope="module")
def one_slot(tmp_path_factory: pytest.TempPathFactory):
    app = make_app(tmp_path_factory, models=[MODEL], slots=1, max_queue=4, n_ctx=8192)
    with running(app) as url:
        yield url


def _metric(url: str, name: str) -> float:
    return metric(httpx.get(url + "/metrics", timeout=120).text, name)


def _wait(url: str, name: str, value: float, timeout: float) -> float:
    deadline = time.time() + timeout
    while (got := _metric(url, name)) != value and time.time() < deadline:
        time.sleep(0.05)
    return got


def _send_and_leave(url: str, body: dict, path: str = "/v1/completions") -> None:
    """Send a request on a raw socket, wait until it holds the slot, then close the connection."""
    parts = urlsplit(url)
    payload = json.dumps(body).encode()
    sock = socket.create_connection((parts.hostname, parts.port))
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
    try:
        assert _wait(url, "bakeoff_active_sequences", 1, 60) == 1
    finally:
        sock.close()


def test_a_non_streaming_client_that_leaves_frees_its_slot(one_slot):
    _send_and_leave(one_slot, {"model": MODEL, "prompt": count_prompt(1), "max_tokens": 4000, "temperature": 0})
    assert _wait(one_slot, "bakeoff_active_sequences", 0, SLOT_FREED_S) == 0
    steps = _metric(one_slot, "bakeoff_batch_steps_total")
    time.sleep(0.5)
    assert _metric(one_slot, "bakeoff_batch_steps_total") == steps      # nothing decodes for nobody
    ok = httpx.post(one_slot + "/v1/completions", json={"model": MODEL, "prompt": "Hi", "max_tokens": 2}, timeout=120)
    assert ok.status_code == 200


def test_a_streaming_client_that_leaves_during_prompt_processing_frees_its_slot(one_slot, smollm2_engine):
    prompt = count_prompt(1) * 500
    prefill_steps = math.ceil(len(smollm2_engine.tokenize(prompt)) / 512)   # n_batch tokens per step
    assert prefill_steps >= 12
    steps_before = _metric(one_slot, "bakeoff_batch_steps_total")
    _send_and_leave(one_slot, {"model": MODEL, "prompt": prompt, "max_tokens": 50, "stream": True})
    assert _wait(one_slot, "bakeoff_active_sequences", 0, SLOT_FREED_S) == 0
    # stopped while still reading the prompt, not after its first token
    assert _metric(one_slot, "bakeoff_batch_steps_total") - steps_before < prefill_steps


def test_a_huge_json_schema_is_refused_before_it_reaches_the_batch(one_slot):
    schema = {"type": "object", "properties": {"a": {"enum": [f"value-{i:06d}" for i in range(20_000)]}},
              "required": ["a"]}
    r = httpx.post(one_slot + "/v1/chat/completions", timeout=300, json={
        "model": MODEL, "messages": [{"role": "user", "content": "pick"}], "max_tokens": 4,
        "response_format": {"type": "json_schema", "json_schema": {"name": "big", "schema": schema}}})
    assert r.status_code == 400 and "grammar" in r.json()["error"]["message"]
    assert r.json()["error"]["param"] == "json_schema"


def test_a_chat_template_that_never_ends_blocks_neither_health_nor_others(tmp_path_factory, smollm2_path):
    from bakeoff.server.app import create_app
    from bakeoff.settings import Settings
    from tinygguf import write_tiny

    home = tmp_path_factory.mktemp("looping-template")
    (home / "models").mkdir()
    write_tiny("llama", home / "models" / "looper.gguf", smollm2_path,
               chat_template="{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}")
    result: dict = {}
    with running(create_app(Settings(home=home), ["looper", MODEL])) as url:
        body = {"model": "looper", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
        chat = threading.Thread(target=lambda: result.update(r=httpx.post(url + "/v1/chat/completions",
                                                                          json=body, timeout=120)))
        chat.start()
        answered_meanwhile = 0
        while chat.is_alive() and answered_meanwhile < 3:
            health = httpx.get(url + "/health", timeout=120)
            answered_meanwhile += health.status_code == 200 and chat.is_alive()
            time.sleep(0.2)
        chat.join(120)
    assert answered_meanwhile == 3          # /health answered while the template was still running
    r = result["r"]
    assert r.status_code == 500 and "took longer than" in r.json()["error"]["message"]
