"""Fast checks of the server's pieces: error table, Host parsing, metrics text, bind refusal,
and the routes over a fake (non-batched) engine registered through the real registry."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from bakeoff import errors as E
from bakeoff.cli.serve import check_bind
from bakeoff.server.errors import classify
from bakeoff.server.metrics import Metrics
from bakeoff.server.security import host_name, is_loopback


@pytest.mark.parametrize("exc,status,code", [
    (E.ModelNotFoundError("x"), 404, "model_not_found"),
    (E.ContextOverflowError(5000, 2048), 400, "context_length_exceeded"),
    (E.InvalidParamsError("bad", param="top_p"), 400, "invalid_value"),
    (E.UnsupportedError("no"), 400, "unsupported"),
    (E.BusyError(retry_after=2.4), 429, "server_busy"),
    (E.InsufficientMemoryError("this model with its draft model", 3 << 30, 1 << 30, "leave out --draft"),
     507, "insufficient_memory"),
    (RuntimeError("boom /secret/path"), 500, None),
])
def test_error_table(exc: BaseException, status: int, code: str | None) -> None:
    got_status, body, headers = classify(exc)
    assert got_status == status and body["error"]["code"] == code
    assert set(body["error"]) == {"message", "type", "param", "code"}
    if status == 429:
        assert headers["Retry-After"] == "2"
    if status == 500:
        assert "secret" not in body["error"]["message"]  # no internals leak
    if isinstance(exc, E.InvalidParamsError):
        assert body["error"]["param"] == "top_p"


@pytest.mark.parametrize("header,name", [("localhost:8000", "localhost"), ("[::1]:80", "::1"),
                                         ("127.0.0.1", "127.0.0.1"), ("Evil.Example:1", "evil.example"),
                                         ("[::1]evil.example", "[::1]evil.example"),   # not a host: kept whole
                                         ("[::1]:x", "[::1]:x"), ("[::1", "[::1")])
def test_host_name(header: str, name: str) -> None:
    assert host_name(header) == name


def test_loopback_and_bind_refusal() -> None:
    assert is_loopback("127.0.0.5") and is_loopback("::1") and not is_loopback("0.0.0.0")
    check_bind("127.0.0.1", None)
    check_bind("0.0.0.0", "key")
    with pytest.raises(E.ConfigError, match="without an API key"):
        check_bind("192.168.1.10", None)


def test_metrics_text() -> None:
    m = Metrics(lambda: {"m": {"queued": 3, "active": 2, "slots": 8, "steps": 7}})
    m.request("/v1/completions", 200)
    m.finished("m", 10, 5, 0.2, 50.0)
    text = m.render()
    assert 'bakeoff_requests_total{endpoint="/v1/completions",status="200"} 1' in text
    assert 'bakeoff_tokens_total{model="m",kind="completion"} 5' in text
    assert 'bakeoff_time_to_first_token_seconds_bucket{model="m",le="0.25"} 1' in text
    assert 'bakeoff_queue_depth{model="m"} 3' in text and 'bakeoff_active_sequences{model="m"} 2' in text
    assert "bakeoff_draft_tokens_total{" not in text   # nothing drafted yet: no series
    m.finished("m", 10, 20, 0.2, 50.0, drafted=16, accepted=12)
    m.finished("m", 10, 20, 0.2, 50.0, drafted=4, accepted=0)
    text = m.render()
    assert 'bakeoff_draft_tokens_total{model="m"} 20' in text
    assert 'bakeoff_draft_accepted_tokens_total{model="m"} 12' in text
    assert 'bakeoff_draft_acceptance_ratio{model="m"} 0.6000' in text


def test_routes_over_a_fake_engine() -> None:
    import fake_engine
    from bakeoff.server.app import create_app

    undo = fake_engine.install({"parrot": lambda p: "one two three four"})
    try:
        with TestClient(create_app(), base_url="http://127.0.0.1") as client:
            r = client.post("/v1/chat/completions", json={"model": "parrot", "max_tokens": 3,
                                                          "messages": [{"role": "user", "content": "hi"}]})
            assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "one two three"
            r = client.post("/v1/completions", json={"model": "parrot", "prompt": [1, 2], "max_tokens": 2})
            assert r.status_code == 400 and r.json()["error"]["code"] == "unsupported"
            r = client.post("/v1/completions", json={"model": "parrot", "prompt": "x", "bogus": 1})
            assert r.status_code == 400 and r.json()["error"]["param"] == "bogus"
            r = client.post("/v1/completions", json={"model": "/etc/passwd.gguf", "prompt": "x"})
            assert r.status_code == 404  # clients cannot make the server open arbitrary files
            assert client.get("/health", headers={"Host": "evil.example"}).status_code == 421
    finally:
        undo()


def test_the_servers_log_shows_control_characters_from_a_request_as_text(caplog) -> None:
    """The shutdown line printed a request path's escape sequences raw to the server's terminal
    (uvicorn percent-decodes it: "/%1b]0;pwned%07" retitled the terminal); so could the traceback
    of an unexpected error whose message holds client text."""
    import asyncio

    from bakeoff.server.errors import QuietCancel

    async def cancelled(scope, receive, send):
        raise asyncio.CancelledError

    path = "/\x1b]0;pwned\x07\x1b[2J"
    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    asyncio.run(QuietCancel(cancelled)({"type": "http", "method": "GET", "path": path}, None, send))
    assert sent[0]["status"] == 503   # the client hears why, not a bare "Internal Server Error"
    classify(KeyError("\x1b[31mred"))
    err = caplog.text
    assert "\x1b" not in err and "\x07" not in err
    assert "request GET /\\x1b]0;pwned\\x07\\x1b[2J cancelled" in err and "\\x1b[31mred" in err


@pytest.mark.parametrize("script, status", [
    (["start", "last"], 200),
    (["start", "more", "leave"], 499),          # a stream the client cut off had counted as a 200
    (["leave", "start400", "last"], 499),       # left while sending its body: it had counted as a 400
    (["start", "last", "leave"], 200),          # left after the whole answer
])
def test_requests_are_counted_as_they_end(script: list[str], status: int) -> None:
    import asyncio

    from bakeoff.server.metrics import CountRequests

    async def app(scope, receive, send):
        for step in script:
            if step == "leave":
                await receive()
            elif step.startswith("start"):
                await send({"type": "http.response.start", "status": int(step[5:] or 200), "headers": []})
            else:
                await send({"type": "http.response.body", "body": b"x", "more_body": step == "more"})

    async def receive():
        return {"type": "http.disconnect"}

    async def send(message):
        pass

    metrics = Metrics()
    asyncio.run(CountRequests(app, metrics, {"/v1/chat/completions"})(
        {"type": "http", "path": "/v1/chat/completions"}, receive, send))
    assert dict(metrics.requests) == {("/v1/chat/completions", status): 1}
