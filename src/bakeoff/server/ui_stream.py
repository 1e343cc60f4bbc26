"""The UI's answers streamed to the browser as NDJSON, one event per line (the OpenAI routes'
streams are in async_stream.py).

The engine's iterator is blocking, so it runs in a worker thread that hands events to the event
loop. The worker owns the whole generation, including saving the result, so a stopped or
disconnected answer is still recorded with what was written so far. Stopping (the stop button's
POST, or the client going away) sets an event the worker checks between chunks; it then closes the
engine's generator, which frees the engine for the next request.

Events: {"type": "start", "stream": id}, {"type": "delta", "text": ...},
{"type": "done", ...finish payload}, {"type": "error", "message": ..., "hint": ...}.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi.responses import StreamingResponse

from ..engines.base import Chunk, ChunkStream, GenParams, Message
from .errors import public_error
from .pool import ModelPool

Finish = Callable[[str, dict[str, Any]], dict[str, Any]]   # (text, stats) -> payload of "done"

_stops: dict[str, threading.Event] = {}
_stops_lock = threading.Lock()


def request_stop(stream_id: str) -> bool:
    """Ask a running stream to stop; False when no such stream is running."""
    with _stops_lock:
        event = _stops.get(stream_id)
    if event is None:
        return False
    event.set()
    return True


def stats_from(last: Chunk | None, n_chunks: int, t0: float, t_first: float | None,
               stopped: bool) -> dict[str, Any]:
    """Per-answer numbers shown under each message. The engine's own timings are used when the
    stream finished; a stopped stream has none, so they are measured here from the chunks."""
    now = time.perf_counter()
    if last is not None and last.timings is not None and not stopped:
        t, u = last.timings, last.usage
        return {"ttft_s": t.ttft_s, "output_tps": t.output_tps, "total_s": t.total_s,
                "prompt_tokens": u.prompt_tokens if u else None,
                "completion_tokens": u.completion_tokens if u else n_chunks,
                "finish_reason": last.finish_reason}
    ttft = (t_first - t0) if t_first else None
    gen_s = now - t_first if t_first else 0.0
    return {"ttft_s": ttft, "output_tps": (n_chunks - 1) / gen_s if gen_s > 0 and n_chunks > 1 else None,
            "total_s": now - t0, "prompt_tokens": None, "completion_tokens": n_chunks,
            "finish_reason": "stopped" if stopped else (last.finish_reason if last else None)}


def _error_event(exc: BaseException) -> dict[str, Any]:
    message, hint = public_error(exc)
    return {"type": "error", "message": message, "hint": hint}


def _generate(pool: ModelPool, model: str, messages: list[Message], params: GenParams,
              stop: threading.Event, emit: Callable[[dict[str, Any]], None], finish: Finish) -> None:
    text: list[str] = []
    last: Chunk | None = None
    t_first: float | None = None
    try:
        engine = pool.open_engine(model)
        t0 = time.perf_counter()   # after loading: TTFT measures the answer, not the load
        chunks = ChunkStream.of(engine.chat(messages, params))
        try:
            for chunk in chunks:
                if stop.is_set():
                    break
                if chunk.text:
                    t_first = t_first or time.perf_counter()
                    text.append(chunk.text)
                    emit({"type": "delta", "text": chunk.text})
                last = chunk
        finally:
            chunks.close()
        stats = stats_from(last, len(text), t0, t_first, stop.is_set())
        stats["model"] = engine.ref.name
        emit({"type": "done", **finish("".join(text), stats)})
    except Exception as exc:  # noqa: BLE001 - every failure reaches the browser as one event
        emit(_error_event(exc))


def ndjson_stream(pool: ModelPool, model: str, messages: list[Message], params: GenParams,
                  finish: Finish) -> StreamingResponse:
    stream_id = uuid.uuid4().hex
    stop = threading.Event()

    async def events() -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()

        def emit(event: dict[str, Any]) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, event)

        with _stops_lock:
            _stops[stream_id] = stop
        worker = threading.Thread(target=_generate, name=f"ui-stream-{stream_id[:8]}", daemon=True,
                                  args=(pool, model, messages, params, stop, emit, finish))
        try:
            yield _line({"type": "start", "stream": stream_id})
            worker.start()
            while True:
                event = await queue.get()
                yield _line(event)
                if event["type"] in ("done", "error"):
                    break
        finally:
            stop.set()   # the client went away (or we finished): let the worker wind down
            with _stops_lock:
                _stops.pop(stream_id, None)

    return StreamingResponse(events(), media_type="application/x-ndjson",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _line(event: dict[str, Any]) -> bytes:
    return (json.dumps(event) + "\n").encode()
