"""The Hugging Face hub cache: `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else
`$XDG_CACHE_HOME/huggingface/hub` (default `~/.cache/huggingface/hub`).

Layout (huggingface_hub's file_download.py):

    models--OWNER--REPO/refs/main                 the commit a branch points to
    models--OWNER--REPO/snapshots/<commit>/FILE   symlinks into blobs/ (plain copies on Windows)
    models--OWNER--REPO/blobs/<sha256 or etag>    the content; LFS files are named by their SHA-256

Listed as `hf:OWNER/REPO:FILE` (FILE may have folders). Where several snapshots hold the same
file name, the one a ref points to wins, else the newest. The snapshot path is kept (not the blob
path) so llama.cpp finds the other shards of a split file beside the first.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from ...settings import Settings
from ..ref import ModelRef
from . import Scan, digest_from_name, env_dir, found, read_small, stem, xdg_dir


class HFCacheSource:
    name = "hf"
    title = "Hugging Face cache"

    def roots(self, settings: Settings) -> list[Path]:
        explicit = env_dir("HF_HUB_CACHE") or env_dir("HUGGINGFACE_HUB_CACHE")
        if explicit:
            return [explicit]
        home = env_dir("HF_HOME") or xdg_dir(settings, "XDG_CACHE_HOME", ".cache") / "huggingface"
        return [home / "hub"]

    def scan(self, root: Path, scan: Scan) -> Iterator[ModelRef]:
        yield from scan_repos(self.name, root, scan)


def scan_repos(tool: str, root: Path, scan: Scan) -> Iterator[ModelRef]:
    """Every GGUF in every `models--*` repo folder under root (shared with llama.cpp's new cache)."""
    for entry in scan.entries(root):
        if entry.name.startswith("models--") and entry.is_dir():
            repo = "/".join(entry.name.removeprefix("models--").split("--"))
            yield from _repo_files(tool, root, Path(entry.path), repo, scan)


def _snapshots(repo_dir: Path, scan: Scan) -> list[Path]:
    """Snapshot folders, the ones refs point to first, then newest first."""
    snaps = [Path(e.path) for e in scan.entries(repo_dir / "snapshots") if e.is_dir()]
    pointed = {(read_small(Path(e.path)) or "").strip() for e in scan.entries(repo_dir / "refs")
               if e.is_file()}

    def order(p: Path) -> tuple[bool, float]:
        try:
            mtime = p.stat().st_mtime
        except OSError:
            mtime = 0.0
        return (p.name not in pointed, -mtime)

    return sorted(snaps, key=order)


def _repo_files(tool: str, root: Path, repo_dir: Path, repo: str, scan: Scan) -> Iterator[ModelRef]:
    seen: set[str] = set()
    for snap in _snapshots(repo_dir, scan):
        for path in scan.walk_gguf(snap):
            rel = path.relative_to(snap).as_posix()
            if rel in seen:
                continue
            target = Path(os.path.realpath(path))
            scan.watch(target)   # a download that completes later fills a missing blob
            if not target.exists():
                scan.note(path, "broken link (its blob is missing: an interrupted download?)")
                continue
            seen.add(rel)
            name = f"{tool}:{repo}:{rel}"
            yield found(tool, name, path, root, [stem(name)], repo=repo,
                        sha256=digest_from_name(target.name))


SOURCE = HFCacheSource()
