"""Resolve a model name to a ModelRef.

Sources, in order (earlier wins on a name clash): models shipped in PyPI packages, GGUF files under
BAKEOFF_HOME/models and configured model folders, and any source registered by other modules
(remote endpoints, tests). A name can also be a path to a GGUF file.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterable
from pathlib import Path

from ..errors import ModelNotFoundError
from ..settings import Settings, get_settings
from .packaged import Progress, assemble_gemma, packaged_refs
from .ref import ModelRef

Source = Callable[[Settings], Iterable[ModelRef]]

# Built-in sources are "module:function" strings, imported only when listing (lazy, like plugins).
SOURCES: list[str] = [
    "bakeoff.models.registry:local_files",
    "bakeoff.models.endpoints:endpoint_refs",
    "bakeoff.tune.registry:tuned_refs",
]
_extra_sources: list[Source] = []


def register_source(source: Source) -> Callable[[], None]:
    """Add a source of ModelRefs (used by tests and plugins). Returns a function that removes it."""
    _extra_sources.append(source)
    return lambda: _extra_sources.remove(source)


def local_files(settings: Settings) -> Iterable[ModelRef]:
    folders = [settings.models_dir, *settings.model_dirs]
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.gguf")):
            if "packaged" in path.relative_to(folder).parts[:1]:
                continue  # assembled packaged models are listed by their package
            # A pulled file also answers to its Hugging Face repo (`bakeoff pull OWNER/REPO`).
            rel = path.relative_to(folder).parts
            aliases = [rel[1].replace("__", "/", 1)] if len(rel) == 3 and rel[0] == "pulled" else []
            yield ModelRef(name=path.stem, engine="llamacpp", source="local", path=str(path),
                           aliases=aliases)


def _load_source(spec: str) -> Source | None:
    module, _, attr = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except ModuleNotFoundError:
        return None


class Registry:
    def __init__(self, settings: Settings | None = None, progress: Progress | None = None):
        self.settings = settings or get_settings()
        self.progress = progress

    def _materialize(self, ref: ModelRef) -> ModelRef:
        if ref.path is None and ref.assemble == "gemma":
            self.settings.ensure_home()
            path = assemble_gemma(self.settings.models_dir, self.progress)
            ref.path = str(path) if path else None
        return ref

    def list(self) -> list[ModelRef]:
        refs: list[ModelRef] = [self._materialize(r) for r in packaged_refs(self.settings.models_dir)]
        sources: list[Source] = [s for s in map(_load_source, SOURCES) if s] + list(_extra_sources)
        for source in sources:
            refs.extend(source(self.settings))
        seen: set[str] = set()
        unique = []
        for ref in refs:
            if ref.name.lower() in seen:
                continue
            seen.add(ref.name.lower())
            unique.append(ref)
        return unique

    def resolve(self, name: str) -> ModelRef:
        """A registered name or alias (case-insensitive), else a path to a GGUF file."""
        key = name.strip().lower()
        refs = self.list()
        for ref in refs:
            if key == ref.name.lower() or key in (a.lower() for a in ref.aliases):
                return self._materialize(ref)
        path = Path(name).expanduser()
        if name.lower().endswith(".gguf") or path.is_file() or "/" in name:
            return ModelRef(name=path.stem, engine="llamacpp", source="file", path=str(path))
        candidates = [n for r in refs for n in (r.name, *r.aliases)]
        close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.5)
        lowered = {c.lower(): c for c in candidates}
        close += [lowered[c] for c in difflib.get_close_matches(key, list(lowered), n=3, cutoff=0.5)
                  if lowered[c] not in close]
        close += [c for c in candidates if key and key in c.lower() and c not in close]
        raise ModelNotFoundError(name, close[:3])


def resolve(name: str, settings: Settings | None = None, progress: Progress | None = None) -> ModelRef:
    return Registry(settings, progress).resolve(name)
