"""Resolve a model name to a ModelRef.

Sources, in order (earlier wins on a name clash): models shipped in PyPI packages, GGUF files under
BAKEOFF_HOME/models, files found in place in other tools' stores (models/sources: your folders,
the HF cache, LM Studio, Ollama, GPT4All, llama.cpp's cache), and any source registered by other
modules (remote endpoints, tests). The same file found in several places is one entry with all its
names. A name can be a full name (`ollama:llama3.2:1b`), an alias, a short name that only one model
has (`llama3.2:1b`), or a path to a GGUF file.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterable
from pathlib import Path

from ..errors import AmbiguousModelError, ModelNotFoundError
from ..settings import Settings, get_settings
from .packaged import Progress, assemble_gemma, packaged_refs
from .ref import ModelRef
from .scan_cache import cached_listing
from .sources import SOURCES as STORES
from .sources import Scan, discover, stem
from .sources import load_source as load_store
from .sources.duplicates import merge_duplicates

Source = Callable[[Settings], Iterable[ModelRef]]

# Built-in sources are "module:function" strings, imported only when listing (lazy, like plugins).
SOURCES: list[str] = [
    "bakeoff.models.endpoints:endpoint_refs",
    "bakeoff.tune.registry:tuned_refs",
]
_extra_sources: list[Source] = []


def register_source(source: Source) -> Callable[[], None]:
    """Add a source of ModelRefs (used by tests and plugins). Returns a function that removes it."""
    _extra_sources.append(source)
    return lambda: _extra_sources.remove(source)


def local_files(settings: Settings, scan: Scan) -> Iterable[ModelRef]:
    """GGUF files under BAKEOFF_HOME/models (pulled or copied there), named by their file name."""
    folder = settings.models_dir
    for path in scan.walk_gguf(folder):
        rel = path.relative_to(folder).parts
        if rel[0] in ("packaged", "cache"):
            continue  # assembled packaged models are listed by their package
        # A pulled file also answers to its Hugging Face repo (`bakeoff pull OWNER/REPO`).
        aliases = [rel[1].replace("__", "/", 1)] if len(rel) == 3 and rel[0] == "pulled" else []
        yield ModelRef(name=path.stem, engine="llamacpp", source="local", path=str(path), aliases=aliases)


def store_refs(settings: Settings, scan: Scan) -> list[ModelRef]:
    """Files under BAKEOFF_HOME/models, then every other tool's store, in source order."""
    return [*local_files(settings, scan), *discover(settings, scan)]


def store_key(settings: Settings) -> tuple[object, ...]:
    """What a stores' listing depends on besides the files: the folders it starts from."""
    roots = tuple((n, tuple(map(str, load_store(n).roots(settings))))
                  for n in STORES if n in settings.sources)
    return (str(settings.models_dir), roots)


def _names(ref: ModelRef) -> set[str]:
    return {n.lower() for n in (ref.name, *ref.aliases)}


def short_names(ref: ModelRef) -> set[str]:
    """Lower-cased names a model answers to without its store prefix, when no other model has them:
    `llama3.2:1b` for `ollama:llama3.2:1b`, the file name for `hf:OWNER/REPO:FILE.gguf`."""
    out = set()
    for name in (ref.name, *ref.aliases):
        prefix, sep, rest = name.partition(":")
        if not sep or prefix not in STORES:
            continue
        out.add(rest.lower())
        if rest.lower().endswith(".gguf"):
            file = rest.rsplit(":", 1)[-1].rsplit("/", 1)[-1].lower()
            out |= {file, stem(file)}
    return out


def _short_match(ref: ModelRef, key: str) -> ModelRef | None:
    """The entry's copy (or the entry itself) that answers to the short name `key`."""
    for member in (ref, *ref.copies):
        own = ModelRef(member.name, member.engine, member.source,
                       aliases=[a for a in member.aliases if all(a not in _names(c) for c in ref.copies)]
                       if member is ref else member.aliases)
        if key in short_names(own):
            return member
    return None


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
        self.notes: list[str] = []   # what the last listing skipped, and why

    def _materialize(self, ref: ModelRef) -> ModelRef:
        if ref.path is None and ref.assemble == "gemma":
            self.settings.ensure_home()
            path = assemble_gemma(self.settings.models_dir, self.progress)
            ref.path = str(path) if path else None
        return ref

    def list(self) -> list[ModelRef]:
        refs: list[ModelRef] = [self._materialize(r) for r in packaged_refs(self.settings.models_dir)]
        stores, notes = cached_listing(store_key(self.settings), lambda s: store_refs(self.settings, s))
        refs.extend(stores)
        scan = Scan(notes)
        sources: list[Source] = [s for s in map(_load_source, SOURCES) if s] + list(_extra_sources)
        for source in sources:
            refs.extend(source(self.settings))
        refs = merge_duplicates(refs, self.settings, scan)
        seen: dict[str, ModelRef] = {}
        unique = []
        for ref in refs:
            if ref.name.lower() in seen:
                scan.note(ref.path or ref.name, f"its name {ref.name!r} is taken by "
                          f"{seen[ref.name.lower()].path or 'another model'}; use its path")
                continue
            seen[ref.name.lower()] = ref
            unique.append(ref)
        self.notes = scan.notes
        return unique

    def resolve(self, name: str, files: bool = True) -> ModelRef:
        """A registered name or alias (case-insensitive), else a short name only one model has,
        else (when `files`) a path to a GGUF file. The server passes files=False: a name a client
        sends never reaches the filesystem."""
        key = name.strip().lower()
        refs = self.list()
        for ref in refs:
            if key == ref.name.lower() or key in (a.lower() for a in ref.aliases):
                # A name of another copy of the same file resolves to that copy (its path, source).
                copy = next((c for c in ref.copies if key in _names(c)), ref)
                return self._materialize(copy)
        matches = [m for m in map(lambda r: _short_match(r, key), refs) if m is not None]
        if len(matches) > 1:
            raise AmbiguousModelError(name, [r.name for r in matches])
        if matches:
            return matches[0]
        path = Path(name).expanduser()
        prefix = name.partition(":")[0]
        if files and prefix not in STORES and (name.lower().endswith(".gguf") or "/" in name or _is_file(path)):
            return ModelRef(name=path.stem, engine="llamacpp", source="file", path=str(path))
        candidates = [n for r in refs for n in (r.name, *r.aliases)]
        close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.5)
        lowered = {c.lower(): c for c in candidates}
        close += [lowered[c] for c in difflib.get_close_matches(key, list(lowered), n=3, cutoff=0.5)
                  if lowered[c] not in close]
        close += [c for c in candidates if key and key in c.lower() and c not in close]
        raise ModelNotFoundError(name, close[:3])


def _is_file(path: Path) -> bool:
    """Whether `path` names a file; a name no path can have (too long, a NUL) is not one."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def resolve(name: str, settings: Settings | None = None, progress: Progress | None = None) -> ModelRef:
    return Registry(settings, progress).resolve(name)
