"""Run one benchmark task on one model: items computed in order, each stored as it finishes, items
already in the store (same model file, task definition and settings) reused, scores aggregated."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...engines.base import Engine
from ...engines.factory import open_engine
from ...engines.options import LoadOptions
from ...errors import InvalidParamsError
from ...models.registry import Registry
from ...runtime import model_fingerprint
from ...settings import Settings, get_settings
from ...store import bench as store
from ...store import connect
from . import gsm8k, humaneval, multiple_choice
from .metrics import Score, mean_stderr
from .tasks import TaskSpec, get_task

# Sequences per context: enough for every choice of the tasks we ship (ARC has up to 5).
BENCH_SEQS = 8
# Tokens per decode (llama.cpp ubatch). Measured with this llama.cpp build: from 64 tokens per
# ubatch on, the CPU flash-attention kernel takes a different (tiled) path whose logits differ from
# one-token decoding by up to several units on some inputs; at 40 tokens or fewer batched logits are
# bit-identical to one-token decoding. 32 keeps scores batch-invariant at a small cost in speed.
BENCH_BATCH = 32

Progress = Callable[[int, int], None]


@dataclass
class BenchResult:
    model: str
    task: str
    n: int
    scores: dict[str, Score]
    settings: dict[str, Any]
    seconds: float
    computed: int          # items evaluated in this run (the rest came from the store)
    items: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "task": self.task, "n": self.n,
                "scores": {k: v.to_dict() for k, v in self.scores.items()},
                "settings": self.settings, "seconds": round(self.seconds, 3),
                "computed": self.computed, "cached": self.n - self.computed}


# How benchmarks open a model: enough parallel sequences for multiple-choice scoring.
BENCH_LOAD = LoadOptions(sequences=BENCH_SEQS, n_batch=BENCH_BATCH)


def settings_key(spec: TaskSpec, shots: int) -> str:
    payload = {"task": spec.digest, "shots": shots, "generation": spec.generation, "v": 1}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def _resolve_shots(spec: TaskSpec, shots: int | None) -> int:
    k = spec.default_shots if shots is None else shots
    if k < 0 or (spec.max_shots is not None and k > spec.max_shots):
        most = "" if spec.max_shots is None else f" (at most {spec.max_shots} for {spec.name})"
        raise InvalidParamsError(f"--shots {k} is not possible{most}", param="shots")
    return k


def _handler(spec: TaskSpec) -> Any:
    """The module that builds and scores items of this kind of task."""
    return {"multiple_choice": multiple_choice, "generate": gsm8k}.get(spec.kind, humaneval)


def evaluate_item(spec: TaskSpec, engine: Engine, docs: list[dict[str, Any]], idx: int,
                  shots: int) -> dict[str, Any]:
    mod = _handler(spec)
    item = mod.build_item(spec, docs, idx, shots)
    if spec.kind == "multiple_choice":
        return mod.score_item(item, engine.loglikelihood(item.requests))
    return mod.run_item(spec, engine, item)


class LazyEngine:
    """Opens the model on first use only (a fully cached run never loads it); closes what it opened."""

    def __init__(self, model: str, settings: Settings, engine: Engine | None,
                 options: LoadOptions = BENCH_LOAD):
        self.model, self.settings, self.engine, self.options = model, settings, engine, options
        self.owned = engine is None

    def open_engine(self) -> Engine:
        if self.engine is None:
            self.engine = open_engine(self.model, self.options, settings=self.settings)
        return self.engine

    def info(self) -> dict[str, Any]:
        return self.engine.info() if self.engine is not None else {}

    def close(self) -> None:
        if self.owned and self.engine is not None:
            self.engine.close()
            self.engine = None


def _fill(spec: TaskSpec, lazy: LazyEngine, docs: list[dict[str, Any]], n: int, k: int,
          done: dict[int, dict[str, Any]], progress: Progress | None,
          save: Callable[[int], None]) -> int:
    """Evaluate the items not yet in `done`, saving each as it finishes; returns how many."""
    computed = 0
    for idx in range(n):
        if idx not in done:
            done[idx] = evaluate_item(spec, lazy.open_engine(), docs, idx, k)
            save(idx)
            computed += 1
        if progress:
            progress(idx + 1, n)
    return computed


def aggregate(spec: TaskSpec, items: list[dict[str, Any]]) -> dict[str, Score]:
    return {m: mean_stderr([float(r[m]) for r in items]) for m in spec.metrics}


def run_benchmark(task: str, model: str, *, limit: int | None = None, shots: int | None = None,
                  engine: Engine | None = None, settings: Settings | None = None,
                  progress: Progress | None = None, lazy: LazyEngine | None = None) -> BenchResult:
    """Score `model` on the first `limit` items of `task` (all when None), reusing stored items.

    Pass an already-open `engine` (opened with BENCH_LOAD), or a `lazy` LazyEngine, to share one
    load across tasks; otherwise the model is opened only if some item is not in the store yet, and
    closed at the end.
    """
    settings = settings or get_settings()
    spec = get_task(task)
    k = _resolve_shots(spec, shots)
    if limit is not None and limit < 1:
        raise InvalidParamsError(f"--limit must be at least 1, got {limit}", param="limit")
    docs = spec.docs()
    n = len(docs) if limit is None else min(limit, len(docs))
    own_lazy = lazy is None
    lazy = lazy or LazyEngine(model, settings, engine)
    ref = lazy.engine.ref if lazy.engine is not None else Registry(settings).resolve(model)
    fp = model_fingerprint(ref, settings) or ref.name
    key = settings_key(spec, k)
    db = connect(settings)
    done = store.cached_items(db, fp, spec.name, key, n)
    t0 = time.perf_counter()
    try:
        computed = _fill(spec, lazy, docs, n, k, done, progress,
                         lambda idx: store.save_item(db, model_sha256=fp, task=spec.name,
                                                     settings_key=key, item=idx, model=ref.name,
                                                     result=done[idx]))
        info = lazy.info()
    finally:
        if own_lazy:
            lazy.close()
    items = [done[i] for i in range(n)]
    scores = aggregate(spec, items)
    run_settings = {"shots": k, "limit": limit, "split_size": len(docs), **info}
    seconds = time.perf_counter() - t0
    store.save_run(db, model=ref.name, model_sha256=fp, task=spec.name, settings=run_settings, n=n,
                   scores={m: s.to_dict() for m, s in scores.items()}, seconds=seconds)
    return BenchResult(ref.name, spec.name, n, scores, run_settings, seconds, computed, items)
