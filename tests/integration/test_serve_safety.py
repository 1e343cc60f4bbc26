"""Safe defaults of `bakeoff serve`: API key, Host check, body limit, loopback-only without a key,
and no 5xx anywhere in the OpenAPI schema (schemathesis)."""

from __future__ import annotations

import httpx
import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bakeoff.cli.main import main
from serve_helpers import running
from test_serve_openai import MODEL, make_app, server  # noqa: F401 - fixture


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory):
    app = make_app(tmp_path_factory, models=[MODEL], api_key="sekrit", max_body=4096)
    with running(app) as url:
        yield url


def test_api_key_required_except_health(keyed: str) -> None:
    assert httpx.get(keyed + "/health").status_code == 200
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "sekrit"}):
        r = httpx.get(keyed + "/v1/models", headers=headers)
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "invalid_api_key"
    assert httpx.get(keyed + "/metrics").status_code == 401
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=keyed + "/v1", api_key="wrong", max_retries=0).models.list()
    good = openai.OpenAI(base_url=keyed + "/v1", api_key="sekrit", max_retries=0)
    assert [m.id for m in good.models.list().data] == ["SmolLM2-135M-Instruct-Q4_1"]


def test_host_header_checked_against_dns_rebinding(keyed: str) -> None:
    port = keyed.rsplit(":", 1)[1]
    auth = {"Authorization": "Bearer sekrit"}
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"):
        assert httpx.get(keyed + "/v1/models", headers={**auth, "Host": host}).status_code == 200
    r = httpx.get(keyed + "/v1/models", headers={**auth, "Host": f"attacker.example:{port}"})
    assert r.status_code == 421 and r.json()["error"]["code"] == "invalid_host"


def test_request_size_limited(keyed: str) -> None:
    auth = {"Authorization": "Bearer sekrit"}
    body = {"model": MODEL, "prompt": "x" * 5000, "max_tokens": 1}
    r = httpx.post(keyed + "/v1/completions", json=body, headers=auth)
    assert r.status_code == 413
    chunked = httpx.post(keyed + "/v1/completions", headers={**auth, "Content-Type": "application/json"},
                         content=iter([b'{"model": "smollm2-135m", "prompt": "', b"x" * 5000, b'"}']))
    assert chunked.status_code == 413


def test_refuses_public_bind_without_key(capsys: pytest.CaptureFixture) -> None:
    assert main(["serve", "--host", "0.0.0.0", "--port", "1"]) != 0
    err = capsys.readouterr().err
    assert "refusing to listen on 0.0.0.0 without an API key" in err and "Traceback" not in err


OPERATIONS = [("/v1/chat/completions", "POST"), ("/v1/completions", "POST"), ("/v1/embeddings", "POST"),
              ("/v1/models", "GET"), ("/metrics", "GET"), ("/health", "GET")]


def shrink(body: object, use_model: bool) -> object:
    """Keep generated requests cheap: a few tokens, and mostly the real model."""
    if isinstance(body, dict):
        for key in ("max_tokens", "max_completion_tokens"):
            if isinstance(body.get(key), int) and not isinstance(body.get(key), bool):
                body[key] = min(body[key], 3)
            elif key in body and body[key] is None:
                body[key] = 3  # None means "until the context is full": minutes here
        if "messages" in body or "prompt" in body:
            body.setdefault("max_tokens", 3)
        if use_model and "model" in body:
            body["model"] = MODEL
        if isinstance(body.get("prompt"), str):
            body["prompt"] = body["prompt"][:200]
        for m in body.get("messages") or []:
            if isinstance(m, dict) and isinstance(m.get("content"), str):
                m["content"] = m["content"][:200]  # long prompts only cost prefill time here
    return body


@pytest.mark.parametrize("path,method", OPERATIONS)
def test_schemathesis_no_server_errors(server: str, path: str, method: str) -> None:  # noqa: F811
    import schemathesis
    from schemathesis import GenerationMode

    schema = schemathesis.openapi.from_url(server + "/openapi.json")
    op = schema[path][method]
    # Valid requests mostly name the real model so they reach it; invalid ones test validation.
    cases = st.one_of(st.tuples(op.as_strategy(), st.sampled_from([True, True, False])),
                      st.tuples(op.as_strategy(generation_mode=GenerationMode.NEGATIVE), st.booleans()))

    @given(drawn=cases)
    @settings(max_examples=10, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def check(drawn) -> None:
        case, use_model = drawn
        case.body = shrink(case.body, use_model)
        response = case.call(base_url=server, timeout=120)
        assert response.status_code < 500, (case.body, response.text[:500])
        statuses.append(response.status_code)

    statuses: list[int] = []
    check()
    if path in ("/v1/chat/completions", "/v1/completions"):
        assert any(s == 200 for s in statuses)  # some generated requests reached the model
