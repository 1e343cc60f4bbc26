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

# A llama.cpp model's KV cache is split into one stream per slot (each request gets the full --ctx
# to itself, attention scans only its own cells, and a long request cannot evict or starve the
# others) when slots x context costs at most this much memory; above it (large models, many slots)
# the slots share one pool of --ctx cells. Measured with SmolLM2-135M and 8 streams on 2 cores: the
# split cache decodes about 10% more tokens/s in process (llama-batched-bench: 230 vs 206 tok/s).
SPLIT_KV_BYTES = 1 << 30


class ModelPool:
    def __init__(self, settings: Settings, allowed: list[str] | None = None, *, slots: int = 8,
                 max_queue: int | None = None, n_ctx: int | None = None):
        self.settings = settings
        self.allowed = allowed
        self.slots = slots            # concurrent sequences per llama.cpp model (continuous batching)
        self.max_queue = max_queue    # requests waiting for a slot before 429 (default 4 x slots)
        self.n_ctx = n_ctx
        self._engines: "OrderedDict[str, Engine]" = OrderedDict()
        self._names: dict[str, object] = {}  # lower-cased name or alias -> ModelRef
        self._plans: dict[str, tuple[dict, int]] = {}  # model name -> (engine options, bytes)
        self._lock = threading.RLock()

    def budget_bytes(self) -> int:
        if self.settings.memory_budget_gb > 0:
            return int(self.settings.memory_budget_gb * (1 << 30))
        return int(psutil.virtual_memory().total * 0.6)

    def refs(self) -> list:
        reg = Registry(self.settings)
        return [reg.resolve(n) for n in self.allowed] if self.allowed else reg.list()

    def get(self, name: str) -> Engine:
        with self._lock:  # resolution touches BAKEOFF_HOME: one thread at a time
            ref = self._resolve(name)
            engine = self._engines.get(ref.name)
            if engine is not None:
                self._engines.move_to_end(ref.name)
                return engine
            self._make_room(ref)
            engine = self._load(ref)
            self._engines[ref.name] = engine
            return engine

    def _resolve(self, name: str):
        """A registered name or alias (cached); never a file path sent by a client."""
        key = name.strip().lower()
        ref = self._names.get(key)
        if ref is not None:
            return ref
        ref = Registry(self.settings).resolve(name)
        allowed = [r.name for r in self.refs()] if self.allowed else None
        if ref.source == "file" or (allowed is not None and ref.name not in allowed):
            from ..errors import ModelNotFoundError

            raise ModelNotFoundError(name, allowed or [])
        self._names[key] = ref
        return ref

    def _load(self, ref) -> Engine:
        """llama.cpp models get a continuous-batching engine; others are used as they are."""
        if ref.engine != "llamacpp":
            return load_engine(ref)
        from ..engines.batching import BatchedEngine

        inner = load_engine(ref, n_seq_max=max(1, self.slots), **self.kv_layout(ref))
        return BatchedEngine(inner, max_queue=self.max_queue)

    def kv_layout(self, ref) -> dict:
        """Context size and cache layout for a llama.cpp model (see SPLIT_KV_BYTES)."""
        return self._plan(ref)[0]

    def footprint(self, ref) -> int:
        """Memory a loaded model takes: its file (memory-mapped, read whole) plus its KV cache."""
        return self._plan(ref)[1]

    def _plan(self, ref) -> tuple[dict, int]:
        """(engine options, bytes) for a model, worked out once from its file."""
        plan = self._plans.get(ref.name)
        if plan is not None:
            return plan
        import os

        from ..models.fit import kv_cache_bytes
        from ..models.gguf_info import read_gguf_info

        size = os.path.getsize(ref.path) if ref.path else 0
        if ref.engine != "llamacpp" or not ref.path:
            plan = ({}, size)
        else:
            info = read_gguf_info(ref.path)
            ctx = self.n_ctx or min(self.settings.n_ctx, info.context_length or self.settings.n_ctx)
            layout = {"n_ctx": ctx * self.slots, "kv_unified": False}
            if self.slots < 2 or kv_cache_bytes(info, ctx * self.slots) > SPLIT_KV_BYTES:
                layout = {"n_ctx": ctx, "kv_unified": True}
            plan = (layout, size + kv_cache_bytes(info, layout["n_ctx"]))
        self._plans[ref.name] = plan
        return plan

    def stats(self) -> dict[str, dict[str, int]]:
        """Queue depth and active sequences per loaded batched model (for /metrics)."""
        with self._lock:
            engines = list(self._engines.items())
        return {name: e.stats() for name, e in engines if hasattr(e, "stats")}

    def _make_room(self, ref) -> None:
        need = self.footprint(ref)
        used = sum(self.footprint(e.ref) for e in self._engines.values())
        while self._engines and used + need > self.budget_bytes():
            _, old = self._engines.popitem(last=False)
            used -= self.footprint(old.ref)
            old.close()

    def loaded(self) -> list[str]:
        with self._lock:
            return list(self._engines)

    def close(self) -> None:
        with self._lock:
            for e in self._engines.values():
                e.close()
            self._engines.clear()
