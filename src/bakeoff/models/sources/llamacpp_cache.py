"""llama.cpp's download cache (`llama-cli -hf OWNER/REPO`): `$LLAMA_CACHE`, else
`$XDG_CACHE_HOME/llama.cpp` (default `~/.cache/llama.cpp`; `~/Library/Caches/llama.cpp` on macOS).

Two layouts exist. The flat one stores `OWNER_REPO_FILE.gguf` beside `manifest=OWNER=REPO=TAG.json`
(the Hub's answer, naming the file as `ggufFile.rfilename`): a file a manifest names is listed as
`llamacpp:OWNER/REPO:FILE`, any other as `llamacpp:FILE`. Newer builds use the Hugging Face cache
layout (`models--OWNER--REPO/...`) inside the same folder; those are read like the HF cache.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from ... import jsontext
from ...settings import Settings
from ..ref import ModelRef
from . import Scan, env_or, found, read_small, stem, xdg_dir
from .hf_cache import scan_repos


class LlamaCppCacheSource:
    name = "llamacpp"
    title = "llama.cpp cache"

    def roots(self, settings: Settings) -> list[Path]:
        def defaults() -> list[Path]:
            if sys.platform == "darwin":
                return [settings.user_home / "Library" / "Caches" / "llama.cpp"]
            return [xdg_dir(settings, "XDG_CACHE_HOME", ".cache") / "llama.cpp"]

        return env_or("LLAMA_CACHE", defaults)

    def scan(self, root: Path, scan: Scan) -> Iterator[ModelRef]:
        named = _manifest_names(root, scan)
        for path in scan.walk_gguf(root, max_depth=0):
            repo, file = named.get(path.name, (None, path.name))
            name = f"{self.name}:{repo}:{file}" if repo else f"{self.name}:{file}"
            yield found(self.name, name, path, root, [stem(name)], repo=repo)
        yield from scan_repos(self.name, root, scan)


def _manifest_names(root: Path, scan: Scan) -> dict[str, tuple[str, str]]:
    """Flat file name -> (OWNER/REPO, file name in the repo), from the manifest files."""
    out: dict[str, tuple[str, str]] = {}
    for e in scan.entries(root):
        parts = e.name.removesuffix(".json").split("=")
        if not (e.name.startswith("manifest=") and e.name.endswith(".json") and len(parts) == 4):
            continue
        try:
            rfile = jsontext.loads(read_small(Path(e.path)) or "null")["ggufFile"]["rfilename"]
        except (ValueError, TypeError, KeyError):
            scan.note(e.path, "unreadable llama.cpp manifest")
            continue
        if isinstance(rfile, str):
            owner, repo = parts[1], parts[2]
            out[f"{owner}_{repo}_{rfile.replace('/', '_')}"] = (f"{owner}/{repo}", rfile)
    return out


SOURCE = LlamaCppCacheSource()
