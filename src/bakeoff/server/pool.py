"""Loaded models shared by every server route (OpenAI API, UI API, arena).

`ModelPool.get(name)` returns a loaded Engine whose chat()/complete() streams are safe to call
from several threads. Models load on first use and the least recently used ones are unloaded to
stay within the memory budget.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import psutil

from ..engines.base import Engine, load_engine
from ..models.registry import Registry
from ..settings import Settings


class ModelPool:
    def __init__(self, settings: Settings, allowed: list[str] | None = None):
        self.settings = settings
        self.allowed = allowed
        self._engines: "OrderedDict[str, Engine]" = OrderedDict()
        self._lock = threading.RLock()

    def budget_bytes(self) -> int:
        if self.settings.memory_budget_gb > 0:
            return int(self.settings.memory_budget_gb * (1 << 30))
        return int(psutil.virtual_memory().total * 0.6)

    def refs(self) -> list:
        refs = Registry(self.settings).list()
        if self.allowed:
            reg = Registry(self.settings)
            refs = [reg.resolve(n) for n in self.allowed]
        return refs

    def get(self, name: str) -> Engine:
        ref = Registry(self.settings).resolve(name)
        with self._lock:
            engine = self._engines.get(ref.name)
            if engine is not None:
                self._engines.move_to_end(ref.name)
                return engine
            self._make_room(ref)
            engine = load_engine(ref)
            self._engines[ref.name] = engine
            return engine

    def _make_room(self, ref) -> None:
        import os

        need = os.path.getsize(ref.path) if ref.path else 0
        used = sum(os.path.getsize(e.ref.path) for e in self._engines.values() if e.ref.path)
        while self._engines and used + need > self.budget_bytes():
            _, old = self._engines.popitem(last=False)
            used -= os.path.getsize(old.ref.path) if old.ref.path else 0
            old.close()

    def loaded(self) -> list[str]:
        with self._lock:
            return list(self._engines)

    def close(self) -> None:
        with self._lock:
            for e in self._engines.values():
                e.close()
            self._engines.clear()
