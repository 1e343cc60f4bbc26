"""An engine's stream as an async iterator, for the OpenAI routes (the UI's NDJSON answers are
in ui_stream.py), without tying up the event loop.

A stream that pushes (the batching scheduler's) hands each chunk to the loop from its own thread,
and chunks that arrive while the loop is busy are handed over together; a pulled stream is
iterated by a dedicated thread. When the consumer stops (the client disconnected), the stream is
cancelled: a batching engine frees the sequence's slot at its next step, a pulled stream is closed
after the chunk in hand.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

from ..engines.base import Chunk, ChunkStream
from .errors import ClientDisconnected

_END = object()
_GONE = object()  # queued when the client disconnects


async def start_stream(fn: Any, *args: Any) -> ChunkStream:
    """Call engine.chat/complete off the loop: tokenizing and queueing may take a while or raise."""
    return ChunkStream.of(await asyncio.to_thread(fn, *args))


class LoopSink:
    """Called from another thread with each item (None: the end); puts items on an asyncio queue,
    waking the loop once per batch of items rather than once per item."""

    def __init__(self, loop: asyncio.AbstractEventLoop, q: asyncio.Queue):
        self.loop, self.q = loop, q
        self.buf: list[Any] = []
        self.lock = threading.Lock()
        self.scheduled = False

    def __call__(self, item: Any) -> None:
        with self.lock:
            self.buf.append(_END if item is None else item)
            if self.scheduled:
                return
            self.scheduled = True
        try:
            self.loop.call_soon_threadsafe(self._flush)
        except RuntimeError:  # the loop is gone (server shutting down)
            pass

    def _flush(self) -> None:
        with self.lock:
            items, self.buf, self.scheduled = self.buf, [], False
        for item in items:
            self.q.put_nowait(item)


async def _until_disconnect(receive: Callable[[], Awaitable[dict]]) -> None:
    """Returns when the ASGI server reports the client gone (the request body was read already)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def aiter_chunks(it: Iterator[Chunk], receive: Callable[[], Awaitable[dict]] | None = None
                       ) -> AsyncIterator[Chunk]:
    """`receive` (the request's ASGI receive): stop and cancel the stream when the client leaves."""
    stream = ChunkStream.of(it)
    q: asyncio.Queue = asyncio.Queue()
    sink = LoopSink(asyncio.get_running_loop(), q)

    def pump() -> None:
        try:
            for chunk in stream:
                sink(chunk)
                if stream.cancelled:
                    break
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            sink(exc)
        finally:
            stream.close()
            sink(None)

    if stream.pushes:
        stream.attach(sink)
    else:
        threading.Thread(target=pump, name="chunk-pump", daemon=True).start()
    # The client may leave while the model still reads the prompt, long before a failed write could
    # reveal it: one watcher per request puts _GONE in the queue then (no race set up per chunk).
    gone = asyncio.ensure_future(_until_disconnect(receive)) if receive is not None else None
    if gone is not None:
        gone.add_done_callback(lambda f: f.cancelled() or q.put_nowait(_GONE))
    try:
        while True:
            item = await q.get()
            if item is _END:
                return
            if item is _GONE:
                raise ClientDisconnected()
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        if gone is not None:
            gone.cancel()
        stream.cancel()
