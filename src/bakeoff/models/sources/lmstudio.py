"""LM Studio's models folder(s): `~/.lmstudio/models` (LM Studio 0.3 and later, or the folder
named by `downloadsFolder` in `~/.lmstudio/settings.json`, or by `~/.lmstudio-home-pointer`) and
the older `~/.cache/lm-studio/models`.

Layout: `PUBLISHER/REPO/FILE.gguf`, where PUBLISHER/REPO is the Hugging Face repo it was
downloaded from. Listed as `lmstudio:PUBLISHER/REPO:FILE`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ... import jsontext
from ...settings import Settings
from ..ref import ModelRef
from . import Scan, found, read_small, stem


class LMStudioSource:
    name = "lmstudio"
    title = "LM Studio"

    def roots(self, settings: Settings) -> list[Path]:
        home = settings.user_home
        lms = home / ".lmstudio"
        pointer = (read_small(home / ".lmstudio-home-pointer") or "").strip()
        if pointer:
            lms = Path(pointer).expanduser()
        roots = []
        configured = _downloads_folder(lms / "settings.json")
        if configured:
            roots.append(configured)
        roots += [lms / "models", home / ".cache" / "lm-studio" / "models"]
        return roots

    def scan(self, root: Path, scan: Scan) -> Iterator[ModelRef]:
        for path in scan.walk_gguf(root, max_depth=4):
            parts = path.relative_to(root).parts
            if len(parts) < 3:
                scan.note(path, "not in LM Studio's PUBLISHER/REPO/FILE layout")
                continue
            repo = f"{parts[0]}/{parts[1]}"
            name = f"{self.name}:{repo}:{'/'.join(parts[2:])}"
            yield found(self.name, name, path, root, [stem(name)], repo=repo)


def _downloads_folder(settings_file: Path) -> Path | None:
    text = read_small(settings_file)
    try:
        value = jsontext.loads(text).get("downloadsFolder") if text else None
    except (ValueError, AttributeError):
        return None
    return Path(value).expanduser() if isinstance(value, str) and value else None


SOURCE = LMStudioSource()
