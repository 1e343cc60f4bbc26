"""OpenAI-compatible API: /v1/models, /v1/chat/completions, /v1/completions, /v1/embeddings, /metrics.

Handlers translate between OpenAI's request/response shapes and the engine contract; every engine
comes from app.state.pool, so llama.cpp models are continuously batched.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, StreamingResponse

from ..engines.base import Chunk, ChunkStream, Engine, GenParams, Message, PromptChunk, TokenLogprob, Usage
from ..errors import InvalidParamsError, UnsupportedError
from .async_stream import aiter_chunks, start_stream
from .errors import ClientDisconnected, classify
from .openai_schemas import ChatCompletionRequest, CompletionRequest, EmbeddingRequest, Sampling
from .tools import ToolStream, plan_for
from .tools import message as tool_message

router = APIRouter()
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def open_engine(request: Request, name: str) -> Engine:
    """The pool's shared engine for `name` (loading it may take a while: off the loop)."""
    return await asyncio.to_thread(request.app.state.pool.open_engine, name)


def gen_params(body: Sampling, max_tokens: int | None, *, logprobs: int | None = None) -> GenParams:
    if len(body.stops()) > 4:
        raise InvalidParamsError("at most 4 stop sequences are allowed", param="stop")
    return GenParams.build(**{"temperature": body.temperature, "top_p": body.top_p, "top_k": body.top_k,
                              "min_p": body.min_p, "repeat_penalty": body.repeat_penalty, "seed": body.seed,
                              "stop": body.stops(), "frequency_penalty": body.frequency_penalty,
                              "presence_penalty": body.presence_penalty, "logprobs": logprobs,
                              **body.gen_kwargs(max_tokens)})


def usage_dict(u: Usage | None, cached: int = 0) -> dict[str, Any]:
    """OpenAI's usage; cached_tokens counts prompt tokens whose KV entries were reused."""
    u = u or Usage()
    return {"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
            "total_tokens": u.total_tokens, "prompt_tokens_details": {"cached_tokens": cached}}


def cached_of(last: Chunk) -> int:
    return last.timings.cached_prompt_tokens if last.timings else 0


def record(request: Request, model: str, last: Chunk) -> None:
    t, u = last.timings, last.usage or Usage()
    request.app.state.metrics.finished(model, u.prompt_tokens, u.completion_tokens,
                                       t.ttft_s if t else 0.0, t.output_tps if t else 0.0,
                                       drafted=t.draft_tokens if t else 0,
                                       accepted=t.accepted_tokens if t else 0)


def _finite(x: float) -> float | None:
    return None if math.isnan(x) else x


# --- models -------------------------------------------------------------------------------------
@router.get("/v1/models", summary="List the models this server can serve")
def list_models(request: Request) -> dict[str, Any]:
    refs = request.app.state.pool.refs()
    return {"object": "list", "data": [
        {"id": r.name, "object": "model", "created": 0, "owned_by": r.source, "aliases": list(r.aliases)}
        for r in refs]}


# --- chat -----------------------------------------------------------------------------------------
def chat_logprobs(lps: list[TokenLogprob]) -> dict[str, Any]:
    def entry(tok: str, lp: float) -> dict[str, Any]:
        return {"token": tok, "logprob": lp, "bytes": list(tok.encode("utf-8"))}

    return {"content": [{**entry(t.token, t.logprob),
                         "top_logprobs": [entry(k, v) for k, v in t.top.items()]} for t in lps]}


@router.post("/v1/chat/completions", summary="Chat completion (streams with stream=true)")
async def chat_completions(body: ChatCompletionRequest, request: Request):
    if body.top_logprobs is not None and not body.logprobs:
        raise InvalidParamsError("top_logprobs needs logprobs=true", param="top_logprobs")
    engine = await open_engine(request, body.model)
    max_tokens = body.max_completion_tokens if body.max_completion_tokens is not None else body.max_tokens
    params = gen_params(body, max_tokens, logprobs=(body.top_logprobs or 0) if body.logprobs else None)
    plan = plan_for(body, engine)  # tools offered or tool history: rendered and parsed by server/tools.py
    if plan is not None:
        fn, args = plan.request(engine, params)
    else:
        fn, args = engine.chat, ([Message(role="system" if m.role == "developer" else m.role, content=m.text())
                                  for m in body.messages], params)
    it = await start_stream(fn, *args)
    meta = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "created": int(time.time()), "model": engine.ref.name}
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return StreamingResponse(chat_sse(request, it, meta, include_usage, body.logprobs,
                                          ToolStream(plan) if plan else None),
                                 media_type="text/event-stream", headers=SSE_HEADERS)
    parts, lps, last = await collect_async(request, it)
    record(request, engine.ref.name, last)
    message, finish = (tool_message(plan, "".join(parts), last.finish_reason) if plan else
                       ({"role": "assistant", "content": "".join(parts)}, last.finish_reason))
    choice = {"index": 0, "message": message,
              "logprobs": chat_logprobs(lps) if body.logprobs else None, "finish_reason": finish}
    return {**meta, "object": "chat.completion", "choices": [choice],
            "usage": usage_dict(last.usage, cached_of(last))}


async def collect_async(request: Request, it: Iterator[Chunk]) -> tuple[list[str], list[TokenLogprob], Chunk]:
    parts, lps, last = [], [], Chunk()
    async for chunk in aiter_chunks(it, request.receive):
        parts.append(chunk.text)
        lps.extend(chunk.logprobs or [])
        last = chunk
    return parts, lps, last


def sse(obj: Any) -> str:
    return f"data: {json.dumps(obj, separators=(',', ':'))}\n\n"


async def chat_sse(request: Request, it: Iterator[Chunk], meta: dict, include_usage: bool,
                   want_lps: bool, tools: ToolStream | None = None) -> AsyncIterator[str]:
    head = {**meta, "object": "chat.completion.chunk"}

    def chunk(delta: dict, finish: str | None = None, lps: list | None = None) -> str:
        choice = {"index": 0, "delta": delta, "logprobs": chat_logprobs(lps) if want_lps and lps else None,
                  "finish_reason": finish}
        return sse({**head, "choices": [choice]})

    yield chunk({"role": "assistant", "content": ""})
    try:
        async for c in aiter_chunks(it, request.receive):
            if c.finish_reason is not None:
                record(request, meta["model"], c)
                for delta in tools.close() if tools else []:
                    yield chunk(delta)
                yield chunk({}, tools.finish_reason(c.finish_reason) if tools else c.finish_reason)
                if include_usage:
                    yield sse({**head, "choices": [], "usage": usage_dict(c.usage, cached_of(c))})
            elif tools is not None:
                for delta in tools.feed(c.text):
                    yield chunk(delta)
            elif c.text or c.logprobs:
                yield chunk({"content": c.text}, None, c.logprobs)
    except ClientDisconnected:
        return
    except Exception as exc:  # noqa: BLE001 - headers are sent; report in-band, as OpenAI does
        yield sse(classify(exc)[1])
    yield "data: [DONE]\n\n"


# --- text completions -----------------------------------------------------------------------------
def prompt_list(prompt: Any) -> list[str | list[int]]:
    if isinstance(prompt, str):
        return [prompt]
    if not prompt:
        raise InvalidParamsError("prompt must not be empty", param="prompt")
    if all(isinstance(x, int) for x in prompt):
        return [list(prompt)]
    return list(prompt)


def start_completion(engine: Engine, prompt: str | list[int], params: GenParams,
                     prompt_lps: int | None) -> ChunkStream:
    """Token-id prompts and prompt logprobs need an engine that declares it takes them."""
    if isinstance(prompt, str) and prompt_lps is None:
        return ChunkStream.of(engine.complete(prompt, params))
    able = engine.supports_prompt_logprobs if prompt_lps is not None else engine.supports_token_prompts
    if not able:
        raise UnsupportedError(f"{engine.ref.name} takes neither token-id prompts nor prompt logprobs",
                               "send text prompts without echo+logprobs")
    tokens = engine.tokenize(prompt) if isinstance(prompt, str) else prompt
    return ChunkStream.of(engine.generate_tokens(tokens, params, prompt_logprobs=prompt_lps))


def completion_logprobs(entries: list[TokenLogprob], first_is_prompt: bool) -> dict[str, Any]:
    offsets, pos = [], 0
    for e in entries:
        offsets.append(pos)
        pos += len(e.token)
    tops = [e.top or None for e in entries]
    if first_is_prompt and entries:
        tops[0] = None
    return {"tokens": [e.token for e in entries], "token_logprobs": [_finite(e.logprob) for e in entries],
            "top_logprobs": tops, "text_offset": offsets}


def echo_of(prompt: str | list[int], chunks: list[Chunk]) -> tuple[str, list[TokenLogprob]]:
    pc = next((c for c in chunks if isinstance(c, PromptChunk)), None)
    if pc is not None:
        return (prompt if isinstance(prompt, str) else pc.text), list(pc.logprobs or [])
    return (prompt if isinstance(prompt, str) else ""), []


async def collect_chunks(request: Request, it: Iterator[Chunk]) -> list[Chunk]:
    return [c async for c in aiter_chunks(it, request.receive)]


@router.post("/v1/completions", summary="Text completion; echo + logprobs scores prompts (lm-eval)")
async def completions(body: CompletionRequest, request: Request):
    engine = await open_engine(request, body.model)
    prompts = prompt_list(body.prompt)
    if body.stream and len(prompts) > 1:
        raise InvalidParamsError("streaming takes one prompt", param="prompt")
    params = gen_params(body, body.max_tokens, logprobs=body.logprobs)
    want_prompt = body.echo and (body.logprobs is not None or not isinstance(prompts[0], str))
    prompt_lps = (body.logprobs or 0) if want_prompt else None
    its: list[ChunkStream] = []
    try:
        for p in prompts:
            its.append(await asyncio.to_thread(start_completion, engine, p, params, prompt_lps))
    except BaseException:
        for it in its:
            it.cancel()
        raise
    meta = {"id": f"cmpl-{uuid.uuid4().hex[:24]}", "created": int(time.time()), "model": engine.ref.name}
    if body.stream:
        return StreamingResponse(completion_sse(request, its[0], prompts[0], body, meta),
                                 media_type="text/event-stream", headers=SSE_HEADERS)
    results = await asyncio.gather(*(collect_chunks(request, it) for it in its))
    choices, usage, cached = [], Usage(), 0
    for i, (p, chunks) in enumerate(zip(prompts, results)):
        choice, last = completion_choice(i, p, chunks, body)
        record(request, engine.ref.name, last)
        choices.append(choice)
        u = last.usage or Usage()
        cached += cached_of(last)
        usage = Usage(usage.prompt_tokens + u.prompt_tokens, usage.completion_tokens + u.completion_tokens)
    return {**meta, "object": "text_completion", "choices": choices, "usage": usage_dict(usage, cached)}


def completion_choice(i: int, prompt: str | list[int], chunks: list[Chunk],
                      body: CompletionRequest) -> tuple[dict[str, Any], Chunk]:
    gen = [c for c in chunks if not isinstance(c, PromptChunk)]
    last = gen[-1] if gen else Chunk()
    text = "".join(c.text for c in gen)
    lps = [lp for c in gen for lp in (c.logprobs or [])]
    echo_lps: list[TokenLogprob] = []
    if body.echo:
        echo_text, echo_lps = echo_of(prompt, chunks)
        text = echo_text + text
    logprobs = completion_logprobs(echo_lps + lps, bool(echo_lps)) if body.logprobs is not None else None
    return {"index": i, "text": text, "logprobs": logprobs, "finish_reason": last.finish_reason}, last


async def completion_sse(request: Request, it: Iterator[Chunk], prompt: str | list[int],
                         body: CompletionRequest, meta: dict) -> AsyncIterator[str]:
    head = {**meta, "object": "text_completion"}
    include_usage = bool(body.stream_options and body.stream_options.include_usage)

    def chunk(text: str, finish: str | None = None, lps: list | None = None, prompt_part: bool = False) -> str:
        logprobs = completion_logprobs(lps or [], prompt_part) if body.logprobs is not None and lps else None
        return sse({**head, "choices": [{"index": 0, "text": text, "logprobs": logprobs, "finish_reason": finish}]})

    if body.echo and isinstance(prompt, str) and body.logprobs is None:
        yield chunk(prompt)
    try:
        async for c in aiter_chunks(it, request.receive):
            if isinstance(c, PromptChunk):
                if body.echo:
                    yield chunk(prompt if isinstance(prompt, str) else c.text, None, c.logprobs, True)
            elif c.finish_reason is not None:
                record(request, meta["model"], c)
                yield chunk("", c.finish_reason)
                if include_usage:
                    yield sse({**head, "choices": [], "usage": usage_dict(c.usage, cached_of(c))})
            elif c.text or c.logprobs:
                yield chunk(c.text, None, c.logprobs)
    except ClientDisconnected:
        return
    except Exception as exc:  # noqa: BLE001 - headers are sent; report in-band
        yield sse(classify(exc)[1])
    yield "data: [DONE]\n\n"


# --- embeddings and metrics -------------------------------------------------------------------
EMBED_INPUTS = 2048   # inputs per request, OpenAI's own limit
EMBED_STEP = 16       # inputs embedded between two looks at the client (and at other requests)


@router.post("/v1/embeddings", summary="Embeddings (llama.cpp models: mean-pooled, L2-normalised)")
async def embeddings(body: EmbeddingRequest, request: Request):
    inp = body.input
    texts = [inp] if isinstance(inp, str) or (inp and isinstance(inp[0], int)) else list(inp)
    if not texts:
        raise InvalidParamsError("input must not be empty", param="input")
    if len(texts) > EMBED_INPUTS:
        raise InvalidParamsError(f"input has {len(texts):,} items, more than the {EMBED_INPUTS:,} one request "
                                 "may embed: send them in several requests", param="input")
    engine = await open_engine(request, body.model)
    vectors = await embed_steps(request, engine, texts)
    n_tokens = sum(len(engine.tokenize(t)) if isinstance(t, str) else len(t) for t in texts)
    if body.encoding_format == "base64":
        vectors = [base64.b64encode(np.asarray(v, dtype="<f4").tobytes()).decode() for v in vectors]
    return {"object": "list", "model": engine.ref.name,
            "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)],
            "usage": {"prompt_tokens": n_tokens, "total_tokens": n_tokens}}


async def embed_steps(request: Request, engine: Engine, texts: list) -> list[list[float]]:
    """The embeddings, a few inputs at a time: a client that leaves stops the work (one request's
    100,000 inputs held the model for minutes after its client had gone), and the model's lock
    is let go between steps so other embedding requests take turns."""
    vectors: list[list[float]] = []
    for start in range(0, len(texts), EMBED_STEP):
        if await request.is_disconnected():
            raise ClientDisconnected()
        vectors += await asyncio.to_thread(engine.embed, texts[start:start + EMBED_STEP])
    return vectors


@router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
def metrics(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.app.state.metrics.render(),
                             media_type="text/plain; version=0.0.4; charset=utf-8")


ENDPOINTS = {"/v1/models", "/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/metrics", "/health"}
