"""Model files that are already on this machine, in the stores of the tools people use.

Each source is one small module with a `SOURCE` object that follows `ModelSource`: it names the
folders it would look in (`roots`) and lists the GGUF files under one of them (`scan`), in place:
nothing is copied, moved or written in another tool's store. Listing reads folder entries and a
few small JSON files only; it never opens a model with llama.cpp. A folder that cannot be read is
skipped with a note in the `Scan`, never an exception.
"""

from __future__ import annotations

import importlib
import os
import re
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ...errors import ModelFileError
from ...settings import Settings
from ..ref import ModelRef, Origin

# name -> "module:attribute", imported when listed (all light: no llama.cpp, no network).
SOURCES: dict[str, str] = {
    "folder": "bakeoff.models.sources.folders:SOURCE",
    "hf": "bakeoff.models.sources.hf_cache:SOURCE",
    "lmstudio": "bakeoff.models.sources.lmstudio:SOURCE",
    "ollama": "bakeoff.models.sources.ollama:SOURCE",
    "gpt4all": "bakeoff.models.sources.gpt4all:SOURCE",
    "llamacpp": "bakeoff.models.sources.llamacpp_cache:SOURCE",
}

_WATCHING: ContextVar[Scan | None] = ContextVar("bakeoff_scan", default=None)
_SPLIT = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.I)
_HEX64 = re.compile(r"[0-9a-f]{64}")


# A stamp read within this long of the path's last change may miss a change in the same clock
# tick (file systems keep coarse times): it never matches, so the next listing looks again.
RACY_NS = 2_000_000_000
Stamp = tuple[int, int] | None   # (mtime_ns, size), None: missing; (-1, -1): changed just now


def stamp(path: str | os.PathLike[str]) -> Stamp:
    try:
        st = os.stat(path)
    except OSError:
        return None
    if st.st_mtime_ns > time.time_ns() - RACY_NS:
        return (-1, -1)
    return (st.st_mtime_ns, st.st_size)


@dataclass
class Scan:
    """One listing's notes: what was skipped and why (shown under `bakeoff models`), and a stamp of
    every folder listed and small file read, taken before reading it: while they all still match,
    a new listing would find the same models (models/scan_cache.py)."""

    notes: list[str] = field(default_factory=list)
    seen: dict[str, Stamp] = field(default_factory=dict)

    def note(self, path: str | os.PathLike[str], why: str) -> None:
        self.notes.append(f"skipped {path}: {why}")

    def watch(self, path: str | os.PathLike[str]) -> None:
        self.seen.setdefault(os.fspath(path), stamp(path))

    def unchanged(self) -> bool:
        return all(stamp(path) == seen and seen != (-1, -1) for path, seen in self.seen.items())

    def entries(self, folder: Path) -> list[os.DirEntry[str]]:
        """The folder's entries, sorted by name; [] with a note when it cannot be read."""
        self.watch(folder)
        try:
            with os.scandir(folder) as it:
                return sorted(it, key=lambda e: e.name)
        except FileNotFoundError:
            return []
        except OSError as exc:
            self.note(folder, exc.strerror or str(exc))
            return []

    def walk_gguf(self, root: Path, max_depth: int = 8) -> Iterator[Path]:
        """Model files under root (symlinks to files included, linked folders not followed)."""
        stack = [(root, 0)]
        while stack:
            folder, depth = stack.pop()
            subdirs = []
            for e in self.entries(folder):
                try:
                    is_dir = e.is_dir(follow_symlinks=False)
                except OSError:
                    continue
                if is_dir:
                    if depth < max_depth and not e.name.startswith("."):
                        subdirs.append((Path(e.path), depth + 1))
                elif is_model_file(e.name):
                    yield Path(e.path)
            stack.extend(reversed(subdirs))


def is_model_file(name: str) -> bool:
    """A GGUF that is a model on its own: not a vision projector, not a later shard of a split
    file (llama.cpp loads the other shards given the first), not a download in progress."""
    lower = name.lower()
    if not lower.endswith(".gguf") or lower.startswith(("mmproj", "incomplete-", ".")):
        return False
    split = _SPLIT.search(lower)
    return split is None or int(split.group(1)) == 1


def digest_from_name(name: str) -> str | None:
    """The SHA-256 a content-addressed store names a file by (`sha256-<hex>`, `<hex>`)."""
    tail = name.removeprefix("sha256-").removeprefix("sha256:")
    return tail if _HEX64.fullmatch(tail) else None


def found(tool: str, name: str, path: Path, root: Path, aliases: list[str] | None = None,
          **origin: Any) -> ModelRef:
    """A ModelRef for a file found in place in `tool`'s store."""
    return ModelRef(name=name, engine="llamacpp", source=tool, path=str(path),
                    aliases=list(aliases or []), origin=Origin(tool=tool, root=str(root), **origin))


def stem(filename: str) -> str:
    return filename[:-5] if filename.lower().endswith(".gguf") else filename


class ModelSource(Protocol):
    name: str            # the prefix of its model names and the value of `bakeoff models --source`
    title: str           # shown to people ("Ollama", "LM Studio", ...)

    def roots(self, settings: Settings) -> list[Path]:
        """Folders this source would look in on this machine, whether or not they exist."""
        ...

    def scan(self, root: Path, scan: Scan) -> Iterator[ModelRef]:
        """The models under one root, in place."""
        ...


def load_source(name: str) -> ModelSource:
    module, _, attr = SOURCES[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def discover(settings: Settings, scan: Scan) -> list[ModelRef]:
    """Every model in every enabled source's existing roots, in source order."""
    refs: list[ModelRef] = []
    seen_roots: set[str] = set()
    for name in SOURCES:
        if name not in settings.sources:
            continue
        source = load_source(name)
        for root in source.roots(settings):
            key = os.path.realpath(root)
            scan.watch(root)   # a store folder made later is a change
            if key in seen_roots or not _is_dir(root, scan):
                continue
            seen_roots.add(key)
            refs.extend(source.scan(root, scan))
    return refs


def _is_dir(path: Path, scan: Scan) -> bool:
    try:
        return path.is_dir()
    except OSError as exc:
        scan.note(path, exc.strerror or str(exc))
        return False


@contextmanager
def watching(scan: Scan) -> Iterator[Scan]:
    """Files read_small reads meanwhile are stamped in `scan` (sources read them deep in a walk)."""
    token = _WATCHING.set(scan)
    try:
        yield scan
    finally:
        _WATCHING.reset(token)


def env_dir(var: str) -> Path | None:
    value = os.environ.get(var)
    return Path(value).expanduser() if value else None


def env_or(var: str, defaults: Callable[[], list[Path]]) -> list[Path]:
    """The folder $var names when it is set (the tool then looks nowhere else), else the defaults."""
    explicit = env_dir(var)
    return [explicit] if explicit else defaults()


def xdg_dir(settings: Settings, var: str, default: str) -> Path:
    """An XDG base folder ($XDG_CACHE_HOME, $XDG_DATA_HOME...), else its default under the home."""
    return env_dir(var) or settings.user_home / default


def read_small(path: Path, limit: int = 1 << 20) -> str | None:
    """A small text file (manifest, template, settings), or None if it is missing, huge, unreadable
    or not a regular file: opened without blocking and checked before reading, so a FIFO or a link
    to /dev/zero in another tool's store cannot hang or flood a listing. A listing under way
    (`watching`) keeps the file's stamp."""
    scan = _WATCHING.get()
    if scan is not None:
        scan.watch(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            return None
        data = os.read(fd, limit + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    return None if len(data) > limit else data.decode("utf-8", "replace")


def check_present(ref: ModelRef) -> ModelRef:
    """A model whose file vanished after it was listed (`ollama rm`, a cleaned cache) is a clear
    error where it is opened, naming where it was found."""
    if ref.path and not os.path.exists(ref.path) and ref.source != "file":
        where = load_source(ref.source).title if ref.source in SOURCES else ref.source
        raise ModelFileError(ref.path, f"{ref.name} was listed from {where}, but its file is gone",
                             "it was removed or moved since it was listed; run `bakeoff models` "
                             "to see the models there now")
    return ref
