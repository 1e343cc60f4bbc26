"""Loaded models shared by every server route (OpenAI API, UI API, arena).

`ModelPool.open_engine(name)` returns a loaded Engine whose chat()/complete() streams are safe to
call from several threads: every model is opened with `slots` concurrent requests, so the factory
puts llama.cpp models behind the continuous-batching scheduler. Models load on first use and the
least recently used ones are unloaded to stay within the memory budget.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import psutil

from ..engines.base import Engine
from ..engines.factory import open_engine, plan_load
from ..engines.options import LoadOptions, LoadPlan
from ..errors import InsufficientMemoryError, ModelNotFoundError
from ..models.ref import ModelRef
from ..models.registry import Registry
from ..settings import Settings


class ModelPool:
    def __init__(self, settings: Settings, allowed: list[str] | None = None, *, slots: int = 8,
                 max_queue: int | None = None, n_ctx: int | None = None):
        self.settings = settings
        self.allowed = allowed
        self.slots = slots            # concurrent sequences per llama.cpp model (continuous batching)
        self.max_queue = max_queue    # requests waiting for a slot before 429 (default 4 x slots)
        self.n_ctx = n_ctx
        self.load_options = LoadOptions(n_ctx=n_ctx, concurrency=max(1, slots), batched=True,
                                        max_queue=max_queue)
        self._engines: "OrderedDict[str, Engine]" = OrderedDict()
        self._names: dict[str, ModelRef] = {}  # lower-cased name or alias -> ModelRef
        self._plans: dict[str, LoadPlan] = {}  # model name -> what loading it allocates
        self._lock = threading.RLock()

    def budget_bytes(self) -> int:
        if self.settings.memory_budget_gb > 0:
            return int(self.settings.memory_budget_gb * (1 << 30))
        return int(psutil.virtual_memory().total * 0.6)

    def refs(self) -> list:
        reg = Registry(self.settings)
        return [reg.resolve(n) for n in self.allowed] if self.allowed else reg.list()

    def open_engine(self, name: str) -> Engine:
        """The shared engine for `name`, loaded on first use (the pool closes it, not the caller)."""
        with self._lock:  # resolution touches BAKEOFF_HOME: one thread at a time
            ref = self._resolve(name)
            engine = self._engines.get(ref.name)
            if engine is not None:
                self._engines.move_to_end(ref.name)
                return engine
            self._make_room(ref)
            engine = open_engine(ref, self.load_options, settings=self.settings)
            self._engines[ref.name] = engine
            return engine

    def _resolve(self, name: str) -> ModelRef:
        """A registered name or alias (cached); never a file path sent by a client."""
        key = name.strip().lower()
        ref = self._names.get(key)
        if ref is not None:
            return ref
        ref = Registry(self.settings).resolve(name, files=False)
        allowed = [r.name for r in self.refs()] if self.allowed else None
        if ref.source == "file" or (allowed is not None and ref.name not in allowed):
            raise ModelNotFoundError(name, allowed or [])
        self._names[key] = ref
        return ref

    def kv_layout(self, ref: ModelRef) -> dict:
        """Context size and KV cache layout a llama.cpp model gets here (engines/llamacpp.py)."""
        return self._plan(ref).kv_layout()

    def footprint(self, ref: ModelRef) -> int:
        """Memory a loaded model takes: its file (memory-mapped, read whole) plus its KV cache."""
        return self._plan(ref).bytes

    def _plan(self, ref: ModelRef) -> LoadPlan:
        """Worked out once per model, from its file."""
        plan = self._plans.get(ref.name)
        if plan is None:
            plan = self._plans[ref.name] = plan_load(ref, self.load_options, self.settings)
        return plan

    def stats(self) -> dict[str, dict[str, int]]:
        """Queue depth and active sequences per loaded batched model (for /metrics)."""
        with self._lock:
            engines = list(self._engines.items())
        stats = {name: e.stats() for name, e in engines}
        return {name: s for name, s in stats.items() if s}

    def _make_room(self, ref: ModelRef) -> None:
        """Unload the least recently used models until `ref` fits the budget; a model that could not
        fit a budget the user set even alone is refused before anything is unloaded."""
        need = self.footprint(ref)
        if self.settings.memory_budget_gb > 0 and need > self.budget_bytes():
            raise InsufficientMemoryError(
                f"{ref.name} with its KV cache for {self.slots} slot(s)", need, self.budget_bytes(),
                "raise BAKEOFF_MEMORY_BUDGET_GB, or serve with fewer --slots or a smaller --ctx",
                limit="the server's memory budget")
        while self._engines and self._in_use([*self._engines.values()], ref) > self.budget_bytes():
            _, old = self._engines.popitem(last=False)
            old.close()

    def _in_use(self, engines: list[Engine], adding: ModelRef) -> int:
        """Memory the loaded engines take with `adding` loaded too: a file's weights count once,
        however many of them share it (a base and its tuned variants, engines/llama_models.py)."""
        plans = [self._plan(e.ref) for e in engines] + [self._plan(adding)]
        weights = {p.weights_file: p.weights_bytes for p in plans if p.weights_file}
        return sum(p.bytes - p.weights_bytes for p in plans) + sum(weights.values())

    def loaded(self) -> list[str]:
        """Without the lock: /health must answer while a model loads (which holds it for long)."""
        while True:
            try:
                return list(self._engines)
            except RuntimeError:  # changed while being read: read again
                continue

    def close(self) -> None:
        with self._lock:
            for e in self._engines.values():
                e.close()
            self._engines.clear()
