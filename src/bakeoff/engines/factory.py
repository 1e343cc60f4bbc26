"""The one way to get an engine: `open_engine(model, LoadOptions(...))`.

Engines register by name with lazy "module:Class" targets, so listing models never imports
llama.cpp. This factory alone decides whether an engine is wrapped by the continuous-batching
scheduler: when the options ask for it (concurrency above 1, or a server) and the engine declares
`can_batch`. Wrappers that come later (speculative decoding, caching) are decided here too.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..errors import UnsupportedError
from ..models.packaged import Progress
from ..models.ref import ModelRef
from ..models.registry import Registry
from ..settings import Settings, get_settings
from .base import Engine
from .options import LoadOptions, LoadPlan

ENGINES: dict[str, str | type[Engine]] = {
    "llamacpp": "bakeoff.engines.llamacpp:LlamaCppEngine",
    "openai": "bakeoff.engines.openai_remote:RemoteEngine",
    "echo": "bakeoff.engines.echo:EchoEngine",
}
SCHEDULER = "bakeoff.engines.batching:BatchedEngine"


def register_engine(name: str, target: str | type[Engine]) -> None:
    """Add an engine (tests and plugins): a class or a lazy "module:Class" string."""
    ENGINES[name] = target


def _import(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def engine_class(name: str) -> type[Engine]:
    target = ENGINES.get(name)
    if target is None:
        raise UnsupportedError(f"no engine named {name!r}", f"known engines: {', '.join(ENGINES)}")
    return target if isinstance(target, type) else _import(target)


def resolve_model(model: ModelRef | str, settings: Settings | None = None,
                  progress: Progress | None = None) -> ModelRef:
    return model if isinstance(model, ModelRef) else Registry(settings, progress).resolve(model)


def plan_load(ref: ModelRef, options: LoadOptions, settings: Settings | None = None) -> LoadPlan:
    """Memory and KV cache layout a load would use, from the model file alone."""
    return engine_class(ref.engine).plan(ref, options, settings or get_settings())


def batched(engine: Engine, options: LoadOptions) -> Engine:
    """Wrap an engine that declares `can_batch` in the continuous-batching scheduler."""
    return _import(SCHEDULER)(engine, max_queue=options.max_queue)


def check_draft_support(ref: ModelRef, cls: type[Engine], options: LoadOptions) -> None:
    """A draft model drives one sequence of an in-process engine; say so before anything loads."""
    if not cls.supports_draft:
        raise UnsupportedError(f"{ref.name} cannot use a draft model (its engine is {ref.engine})",
                               "leave out --draft; a draft runs beside a local GGUF model")
    if cls.can_batch and options.wants_scheduler():
        raise UnsupportedError("a draft model drafts for one request at a time, not in the "
                               "continuous-batching scheduler", "use --concurrency 1, or leave "
                               "out --draft (prompt lookup needs no draft)")


def check_load(model: ModelRef | str, options: LoadOptions, settings: Settings | None = None) -> ModelRef:
    """Raise what `open_engine` would refuse from the files alone, loading nothing: an unknown
    model, and for a draft model an engine that cannot use one, another vocabulary, a draft no
    smaller than the model, or the pair not fitting in memory. A bakeoff or benchmark over several
    models checks them all before the first loads."""
    settings = settings or get_settings()
    ref = resolve_model(model, settings)
    cls = engine_class(ref.engine)
    if options.draft:
        check_draft_support(ref, cls, options)
    cls.check(ref, options, settings)
    return ref


def open_engine(model: ModelRef | str, options: LoadOptions | None = None, *,
                settings: Settings | None = None, progress: Progress | None = None) -> Engine:
    """Resolve a name (or take a ref), load the engine for `options`, and batch it if asked."""
    settings = settings or get_settings()
    options = options or LoadOptions()
    ref = resolve_model(model, settings, progress)
    cls = engine_class(ref.engine)
    if options.draft:
        check_draft_support(ref, cls, options)
    engine = cls.load(ref, options, settings)
    if cls.can_batch and options.wants_scheduler():
        return batched(engine, options)
    return engine
