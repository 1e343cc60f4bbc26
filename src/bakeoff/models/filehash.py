"""SHA-256 of model files, computed once and cached by (real path, size, mtime).

Hashing a multi-GB file takes a while, so the digest is remembered in BAKEOFF_HOME/cache/sha256.json
and computed again only when the file's size or modification time changes. Stores that name files
by their digest (Ollama blobs, Hugging Face LFS blobs) need no hashing at all: `known` is trusted
for files of that store.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from ..atomic import write_text_atomic
from ..settings import Settings
from .packaged import Progress, sha256_file

_lock = threading.Lock()


def _cache_path(settings: Settings) -> Path:
    return settings.home / "cache" / "sha256.json"


def _load(path: Path) -> dict[str, list]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save(path: Path, data: dict[str, list]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, json.dumps(data))
    except OSError:
        pass  # a cache that cannot be written only costs a re-hash next time


def file_sha256(path: str | os.PathLike[str], settings: Settings, progress: Progress | None = None) -> str:
    """The file's SHA-256, from the cache when its size and mtime are unchanged."""
    real = os.path.realpath(path)
    st = os.stat(real)
    cache = _cache_path(settings)
    with _lock:
        hit = _load(cache).get(real)
    if hit and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
        return str(hit[2])
    digest = sha256_file(Path(real), progress)
    with _lock:
        data = _load(cache)
        data[real] = [st.st_size, st.st_mtime_ns, digest]
        _save(cache, data)
    return digest
