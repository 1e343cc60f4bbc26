"""Bridges an engine's blocking Iterator[Chunk] into asyncio without tying up the event loop.

A dedicated thread pulls chunks and hands them to the loop. When the consumer stops (the client
disconnected), the stream is cancelled at once where the engine supports it, else closed after the
next chunk, so a batching engine frees the sequence's slot.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, AsyncIterator, Iterator

from ..engines.base import Chunk

_END = object()


async def start_stream(fn: Any, *args: Any) -> Iterator[Chunk]:
    """Call engine.chat/complete off the loop: tokenizing and queueing may take a while or raise."""
    return await asyncio.to_thread(fn, *args)


async def aiter_chunks(it: Iterator[Chunk]) -> AsyncIterator[Chunk]:
    loop = asyncio.get_running_loop()
    q: asyncio.Queue = asyncio.Queue()
    stop = threading.Event()

    def pump() -> None:
        try:
            for chunk in it:
                loop.call_soon_threadsafe(q.put_nowait, chunk)
                if stop.is_set():
                    break
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            loop.call_soon_threadsafe(q.put_nowait, exc)
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()
            try:
                loop.call_soon_threadsafe(q.put_nowait, _END)
            except RuntimeError:  # the loop is gone (server shutting down)
                pass

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
