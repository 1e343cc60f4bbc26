"""Bridges an engine's blocking Iterator[Chunk] into asyncio without tying up the event loop.

A batching engine's stream hands each chunk to the loop from its scheduler thread (`attach`), and
chunks that arrive while the loop is busy are handed over together; any other engine's iterator is
pulled by a dedicated thread. When the consumer stops (the client disconnected), the stream is
cancelled at once where the engine supports it, else closed after the next chunk, so a batching
engine frees the sequence's slot.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

from ..engines.base import Chunk

_END = object()


async def start_stream(fn: Any, *args: Any) -> Iterator[Chunk]:
    """Call engine.chat/complete off the loop: tokenizing and queueing may take a while or raise."""
    return await asyncio.to_thread(fn, *args)


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


async def aiter_chunks(it: Iterator[Chunk]) -> AsyncIterator[Chunk]:
    loop = asyncio.get_running_loop()
    q: asyncio.Queue = asyncio.Queue()
    stop = threading.Event()
    attach = getattr(it, "attach", None)

    sink = LoopSink(loop, q)

    def pump() -> None:
        try:
            for chunk in it:
                sink(chunk)
                if stop.is_set():
                    break
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            sink(exc)
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()
            sink(None)

    if attach is not None:
        attach(sink)
    else:
        threading.Thread(target=pump, name="chunk-pump", daemon=True).start()
    try:
        while True:
            item = await q.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        cancel = getattr(it, "cancel", None)
        if cancel is not None:
            cancel()
