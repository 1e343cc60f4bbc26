"""Remote OpenAI-compatible engine (vLLM, SGLang, llama-server, Ollama, Ray Serve, bakeoff serve).

Time to first token and tokens/s are measured here, on the client, so they include the network.
A stream that breaks is retried from the start; text already delivered is skipped when the retry
produces the same prefix (always so at temperature 0) and the request fails loudly otherwise, so a
result is never silently stitched together from two different answers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx

from .. import jsontext
from ..errors import ConfigError, RemoteError, UnsupportedError
from ..models.ref import ModelRef
from ..settings import get_settings
from .base import Chunk, Engine, GenParams, LogLik, LogLikRequest, Message, Timings, Usage
from .remote_client import RETRY_STATUS, TRANSIENT, RetryingClient, http_error, limiter_for, unreachable


def request_body(model: str, params: GenParams) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "temperature": params.temperature, "top_p": params.top_p,
                            "stream": True, "stream_options": {"include_usage": True}}
    if params.max_tokens is not None:
        body["max_tokens"] = params.max_tokens
    if params.seed is not None:
        body["seed"] = params.seed
    if params.stop:
        body["stop"] = params.stop[:4]
    if params.json_schema:
        body["response_format"] = {"type": "json_schema",
                                   "json_schema": {"name": "answer", "schema": params.json_schema}}
    for name in ("frequency_penalty", "presence_penalty", "ignore_eos", "min_tokens"):
        if getattr(params, name):  # set only when asked: OpenAI's own API knows only the first two
            body[name] = getattr(params, name)
    return body


class IncompleteStream(httpx.TransportError):
    """The connection closed before the stream's end marker: retried like a dropped connection."""


def _sse_events(resp: httpx.Response) -> Iterator[dict[str, Any]]:
    finished = False
    for line in resp.iter_lines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            event = jsontext.loads(data)
        except json.JSONDecodeError:
            raise IncompleteStream("malformed event (stream cut?)") from None
        finished = finished or any(c.get("finish_reason") for c in event.get("choices") or [])
        yield event
    if not finished:
        raise IncompleteStream("stream ended without a finish reason or [DONE]")


class _Stream:
    """Client-side bookkeeping for one streamed request."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.t_first: float | None = None
        self.text = ""
        self.pieces = 0
        self.usage: dict[str, Any] = {}
        self.finish: str | None = None

    def timings(self) -> Timings:
        now = time.perf_counter()
        first = self.t_first or now
        n_out = int(self.usage.get("completion_tokens") or self.pieces)
        n_in = int(self.usage.get("prompt_tokens") or 0)
        ttft = first - self.t0
        return Timings(ttft_s=ttft, prompt_tps=n_in / ttft if ttft > 0 and n_in else 0.0,
                       output_tps=(n_out - 1) / (now - first) if n_out > 1 and now > first else 0.0,
                       total_s=now - self.t0)


class RemoteEngine(Engine):
    def __init__(self, ref: ModelRef):
        if ref.endpoint is None:
            raise ConfigError(f"{ref.name} has no endpoint to talk to",
                              "declare it with `bakeoff endpoints add`")
        self.ref = ref
        self.endpoint = ep = ref.endpoint
        self.model_id = ep.model
        self.client = RetryingClient(ref.name, ep.base_url, ep.api_key(), ep.timeout, ep.max_retries,
                                     limiter_for(ref.name, ep.concurrency))
        self._n_ctx: int | None = None
        self._probed = False
        self.concurrency = ep.concurrency

    @property
    def n_ctx(self) -> int:
        return self._n_ctx or get_settings().n_ctx

    def info(self) -> dict[str, Any]:
        return {"engine": "openai-compatible", "base_url": self.client.base_url, "model": self.model_id,
                "n_ctx": self.n_ctx, "quantization": None, "retries": self.client.retries}

    def list_models(self) -> list[str]:
        """The ids the server lists; anything but OpenAI's {"data": [{"id": str}, ...]} is an error."""
        data = self.client.get_json("/models")
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise RemoteError(self.ref.name, f"/models answered {type(data).__name__} without a "
                              "'data' list, not an OpenAI model list",
                              hint="check --base-url: it should end in /v1 of an OpenAI-compatible server")
        return [m["id"] for m in items if isinstance(m, dict) and isinstance(m.get("id"), str)]

    # --- generation -------------------------------------------------------------------------
    def chat(self, messages: list[Message], params: GenParams) -> Iterator[Chunk]:
        body = request_body(self.model_id, params)
        body["messages"] = [m.model_dump() for m in messages]
        return self._stream("/chat/completions", body, lambda ch: (ch.get("delta") or {}).get("content"))

    def complete(self, prompt: str, params: GenParams) -> Iterator[Chunk]:
        body = request_body(self.model_id, params)
        body["prompt"] = prompt
        body.pop("response_format", None)
        return self._stream("/completions", body, lambda ch: ch.get("text"))

    def _stream(self, path: str, body: dict[str, Any], text_of: Any) -> Iterator[Chunk]:
        state = _Stream()
        delivered = ""
        for attempt in self.client.attempts():
            if attempt:  # a fresh stream, but timings still count from the first attempt
                t0, state = state.t0, _Stream()
                state.t0 = t0
            try:
                with self.client.limiter.slot():
                    with self.client.http.stream("POST", path, json=body) as resp:
                        if resp.status_code >= 400:
                            resp.read()
                            if resp.status_code in RETRY_STATUS and self.client.should_retry(
                                    attempt, resp.status_code, resp.headers.get("retry-after")):
                                continue
                            raise http_error(self.ref.name, resp)
                        for piece in self._pieces(resp, state, text_of):
                            new = state.text
                            if len(new) <= len(delivered):
                                if not delivered.startswith(new):
                                    raise RemoteError(self.ref.name, "a retried stream diverged from "
                                                      "the text already delivered", hint="use temperature 0 or a seed")
                                continue
                            if not new.startswith(delivered):
                                raise RemoteError(self.ref.name, "a retried stream diverged from the "
                                                  "text already delivered", hint="use temperature 0 or a seed")
                            out, delivered = new[len(delivered):], new
                            yield Chunk(text=out)
                self.client.limiter.succeeded()
                break
            except (*TRANSIENT, IncompleteStream) as exc:
                if self.client.should_retry(attempt, None, None):
                    continue
                raise unreachable(self.ref.name, self.client.base_url + path, exc) from None
        usage = Usage(int(state.usage.get("prompt_tokens") or 0),
                      int(state.usage.get("completion_tokens") or state.pieces))
        yield Chunk(finish_reason=state.finish or "stop", usage=usage, timings=state.timings())

    @staticmethod
    def _pieces(resp: httpx.Response, state: _Stream, text_of: Any) -> Iterator[str]:
        for event in _sse_events(resp):
            if event.get("usage"):
                state.usage = event["usage"]
            for choice in event.get("choices") or []:
                piece = text_of(choice)
                if choice.get("finish_reason"):
                    state.finish = choice["finish_reason"]
                if piece:
                    if state.t_first is None:
                        state.t_first = time.perf_counter()
                    state.text += piece
                    state.pieces += 1
                    yield piece

    # --- scoring ------------------------------------------------------------------------------
    def tokenize(self, text: str, add_special: bool = True) -> list[int]:
        root = self.client.base_url.removesuffix("/v1")
        for url, body in ((root + "/tokenize", {"content": text, "add_special": add_special}),
                          (root + "/extras/tokenize", {"input": text}),
                          (root + "/tokenize", {"model": self.model_id, "prompt": text}),
                          (self.client.base_url + "/tokenize", {"model": self.model_id, "prompt": text})):
            try:
                resp = self.client.http.post(url, json=body)
            except httpx.HTTPError:
                continue
            tokens = _token_ids(resp) if resp.status_code == 200 else None
            if tokens is not None:
                return tokens
        raise UnsupportedError(f"endpoint {self.ref.name!r} has no /tokenize route",
                               "llama-server and vLLM provide one; other servers do not")

    def loglikelihood(self, requests: list[LogLikRequest]) -> list[LogLik]:
        self._check_prompt_logprobs()
        return [self._loglik_one(r) for r in requests]

    _PROBE = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16"

    def _check_prompt_logprobs(self) -> None:
        """Probe once whether echoed logprobs are aligned with their tokens.

        Some servers (llama-cpp-python's, seen with 0.3.36) return for each prompt token the
        distribution *after* it instead of the one that predicted it. On a counting prompt the
        aligned distribution's top token is the token itself; the shifted one's is the next token.
        """
        if self.endpoint.loglikelihood is not None or self._probed:
            if self.endpoint.loglikelihood is False:
                raise UnsupportedError(f"endpoint {self.ref.name!r} is marked as not returning prompt logprobs")
            return
        body = {"model": self.model_id, "prompt": self._PROBE, "max_tokens": 1, "echo": True,
                "logprobs": 1, "temperature": 0.0}
        lp = (self.client.post_json("/completions", body).get("choices") or [{}])[0].get("logprobs") or {}
        tokens, tops = lp.get("tokens") or [], lp.get("top_logprobs") or []
        if not tokens or len(tops) < len(tokens):
            raise UnsupportedError(
                f"endpoint {self.ref.name!r} does not return prompt logprobs with echo",
                "log-likelihood benchmarks need echo + logprobs on /v1/completions (vLLM, SGLang and "
                "bakeoff serve do; llama-server and Ollama do not)")
        best = [max(t, key=t.get) if t else None for t in tops]
        aligned = sum(best[i] == tokens[i] for i in range(1, len(tokens)))
        shifted = sum(best[i] == tokens[i + 1] for i in range(1, len(tokens) - 1))
        if shifted > aligned:
            raise UnsupportedError(
                f"endpoint {self.ref.name!r} returns prompt logprobs shifted by one token "
                "(a known llama-cpp-python server bug), so log-likelihoods would be wrong",
                "serve the model with `bakeoff serve`, vLLM or SGLang for log-likelihood benchmarks")
        self._probed = True

    def _loglik_one(self, req: LogLikRequest) -> LogLik:
        """lm-evaluation-harness' local-completions method: echo the prompt with its logprobs."""
        body = {"model": self.model_id, "prompt": req.context + req.continuation, "max_tokens": 1,
                "echo": True, "logprobs": 1, "temperature": 0.0}
        data = self.client.post_json("/completions", body)
        try:
            lp = data["choices"][0]["logprobs"]
            offsets, token_lps, tops = lp["text_offset"], lp["token_logprobs"], lp["top_logprobs"]
            tokens = lp["tokens"]
        except (KeyError, IndexError, TypeError):
            raise UnsupportedError(
                f"endpoint {self.ref.name!r} does not return prompt logprobs with echo",
                "log-likelihood benchmarks need echo + logprobs on /v1/completions (vLLM, SGLang, "
                "bakeoff serve and llama-cpp-python's server with logits_all do; llama-server and "
                "Ollama do not)") from None
        n_prompt = _prompt_token_count(offsets, len(req.context + req.continuation))
        start = len(req.context)
        total, greedy, n = 0.0, True, 0
        for i in range(n_prompt):
            if offsets[i] < start or token_lps[i] is None:
                continue
            total += float(token_lps[i])
            n += 1
            top = tops[i] or {}
            if top and max(top, key=top.get) != tokens[i]:
                greedy = False
        return LogLik(total, greedy, n)

    def close(self) -> None:
        self.client.close()


def _prompt_token_count(offsets: list[int], prompt_chars: int) -> int:
    """Echoed tokens are followed by generated ones; generated tokens start at/after the prompt's end."""
    n = len(offsets)
    while n > 0 and offsets[n - 1] >= prompt_chars:
        n -= 1
    return n


def _token_ids(resp: httpx.Response) -> list[int] | None:
    """The ids of a /tokenize answer ({"tokens": [id or {"id": id}, ...]}), else None."""
    try:
        tokens = jsontext.loads(resp.content).get("tokens")
    except (ValueError, AttributeError):
        return None
    if not isinstance(tokens, list):
        return None
    ids = [t.get("id") if isinstance(t, dict) else t for t in tokens]
    ok = all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
    return ids if ok else None
