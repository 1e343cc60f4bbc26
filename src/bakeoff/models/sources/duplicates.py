"""One entry per file: the same model reached through several stores is listed once, with every
name it has there as an alias.

Two paths are the same file when they resolve to the same inode (HF snapshot links, hard links),
or when they have the same size and the same SHA-256. Digests come from the store's own naming
where it has one (Ollama and HF blobs) and are otherwise computed once and cached; only files whose
size matches another's are ever hashed, so listing stays fast.
"""

from __future__ import annotations

import os
import stat
from collections import defaultdict

from ...settings import Settings
from ..filehash import file_sha256
from ..ref import ModelRef
from . import Scan


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def _digest(ref: ModelRef, settings: Settings, scan: Scan) -> str | None:
    if ref.origin and ref.origin.sha256:
        return ref.origin.sha256
    try:
        return file_sha256(ref.path, settings)  # type: ignore[arg-type]
    except OSError as exc:
        scan.note(ref.path or ref.name, f"cannot be hashed: {exc.strerror or exc}")
        return None


def _same_file_groups(refs: list[ModelRef], settings: Settings, scan: Scan) -> list[list[int]]:
    by_size: dict[int, list[tuple[int, os.stat_result]]] = defaultdict(list)
    for i, ref in enumerate(refs):
        # A tuned model runs the base file with its adapter on top: another model, never a copy.
        st = _stat(ref.path) if ref.path and not ref.adapters else None
        # Only regular files are compared: two pipes or devices named *.gguf both have size 0,
        # and hashing them blocked (a FIFO) or never ended (/dev/zero), hanging `bakeoff models`.
        if st is not None and stat.S_ISREG(st.st_mode):
            by_size[st.st_size].append((i, st))
    groups = []
    for members in by_size.values():
        if len(members) < 2:
            continue
        by_key: dict[object, list[int]] = defaultdict(list)
        inodes = {(st.st_dev, st.st_ino) for _, st in members}
        for i, st in members:
            key: object = (st.st_dev, st.st_ino)
            if len(inodes) > 1:
                key = _digest(refs[i], settings, scan) or key
            by_key[key].append(i)
        groups += [g for g in by_key.values() if len(g) > 1]
    return groups


def merge_duplicates(refs: list[ModelRef], settings: Settings, scan: Scan) -> list[ModelRef]:
    """refs with each group of same-file entries folded into its first member."""
    drop: set[int] = set()
    for group in _same_file_groups(refs, settings, scan):
        first, *others = sorted(group)
        keep = refs[first]
        keep.sources = keep.sources or [keep.source]
        for i in others:
            other = refs[i]
            keep.aliases += [n for n in (other.name, *other.aliases) if n not in keep.aliases]
            if other.source not in keep.sources:
                keep.sources.append(other.source)
            keep.copies.append(other)
            if keep.origin is None:
                keep.origin = other.origin
            elif keep.origin.repo is None and other.origin is not None:
                keep.origin.repo = other.origin.repo
            drop.add(i)
    return [r for i, r in enumerate(refs) if i not in drop]
